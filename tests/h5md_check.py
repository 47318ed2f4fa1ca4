"""H5MD 1.1 conformance of the HDF5 files softmatrix writes (run files,
sweep indexes, merged indexes) and of their XDMF sidecars. conftest.py
applies check_file() to every such file a test leaves behind; test_h5md.py
tests it directly. Returns a list of problems, empty when the file conforms.

What is checked (docs/output.md):
  /h5md: version = [1, 1] (integer), author/name, creator/name = softmatrix,
    creator/version, modules/units/version = [1, 0] and its system;
  every `unit` attribute: ASCII text in the H5MD units grammar;
  every time series (a group with step and value) in /observables, /census,
    /snapshots: step integer [n] increasing, time float [n] with unit sweep,
    value [n, ...] with a unit;
  every numeric dataset of the results (/observables, /census, /snapshots,
    /kinetics, /summary; /mean, /error, /tau_int, /segment of an index) has
    a unit, and the counts are stored as integers;
  /parameters of a run file holds every key of its config_json with the
    same value;
  <file>.xmf, when present: every data item names a dataset of the file with
    the shape and type it declares.
"""
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np

# "eps0 kB-1", "sweep-1", "sigma+2", "1", "60 s": an optional leading number,
# then symbols each with an optional signed non-zero power
_NUMBER = r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?"
_FACTOR = r"[A-Za-z_][A-Za-z0-9_]*([+-][1-9][0-9]*)?"
UNIT_RE = re.compile(rf"^(({_NUMBER})|({_FACTOR}))( {_FACTOR})*$")

RESULT_GROUPS = ("observables", "census", "snapshots", "kinetics", "summary")
INDEX_GROUPS = ("mean", "error", "tau_int", "segment")
SERIES_GROUPS = ("observables", "census", "snapshots")

# integer-valued quantities: (path pattern, applies to run files or indexes)
COUNTS = [
    r"^census/(n_centres|n_truncated|n_sites_ge|n_components|largest_component|n_span_x|n_span_y"
    r"|component_size_histogram)/value$",
    r"^kinetics/(tau/count|loop_completions|loop_undos|soft_matrix_jumps)$",
    r"^summary/segments/(sweeps|samples)$",
    r"^summary/timing/threads$",
    r"^segment/(sweeps|samples)$",
    r"^(observables|census|snapshots)/.*/step$",
]


def _text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _text(v[()])
    return v


def is_softmatrix_file(path):
    """A file this program wrote (whatever its version): a run file has
    /parameters with config_json, an index a root sweep_json."""
    try:
        with h5py.File(path, "r") as f:
            return ("parameters" in f and "config_json" in f["parameters"].attrs) or "sweep_json" in f.attrs
    except (OSError, KeyError, ValueError):
        return False


def _check_h5md(f, problems):
    if "h5md" not in f or not isinstance(f["h5md"], h5py.Group):
        return problems.append("no /h5md group")
    h = f["h5md"]
    v = h.attrs.get("version")
    if v is None or np.asarray(v).dtype.kind not in "iu" or list(np.asarray(v)) != [1, 1]:
        problems.append(f"/h5md version is {v!r}, not integer [1, 1]")
    for grp, attrs in (("author", ("name",)), ("creator", ("name", "version"))):
        if not isinstance(h.get(grp), h5py.Group):
            problems.append(f"/h5md/{grp} is not a group")
            continue
        for a in attrs:
            val = _text(h[grp].attrs.get(a))
            if not isinstance(val, str) or not val:
                problems.append(f"/h5md/{grp} lacks a string attribute {a}")
    if isinstance(h.get("creator"), h5py.Group) and _text(h["creator"].attrs.get("name")) != "softmatrix":
        problems.append("/h5md/creator name is not softmatrix")
    u = h.get("modules/units")
    if not isinstance(u, h5py.Group):
        problems.append("no /h5md/modules/units group")
    elif list(np.asarray(u.attrs.get("version", []))) != [1, 0] or not _text(u.attrs.get("system")):
        problems.append("/h5md/modules/units lacks version [1, 0] or system")


def _check_units(f, problems):
    def visit(name, obj):
        if "unit" not in obj.attrs:
            return
        u = _text(obj.attrs["unit"])
        if not isinstance(u, str) or not u.isascii() or not UNIT_RE.match(u):
            problems.append(f"/{name}: unit {u!r} is not an H5MD unit string")
    f.visititems(visit)


def _check_series(f, problems):
    for top in SERIES_GROUPS:
        if top not in f:
            continue
        for name, g in f[top].items():
            where = f"/{top}/{name}"
            if not isinstance(g, h5py.Group) or "value" not in g:
                problems.append(f"{where}: not a step/time/value group")
                continue
            step, time, value = g.get("step"), g.get("time"), g["value"]
            if step is None or step.dtype.kind not in "iu" or step.ndim != 1:
                problems.append(f"{where}/step: missing or not integer [n]")
                continue
            if time is None or time.dtype.kind != "f" or time.shape != step.shape:
                problems.append(f"{where}/time: missing, not float or not [n]")
            elif _text(time.attrs.get("unit")) != "sweep":
                problems.append(f"{where}/time: unit is not sweep")
            if value.shape[:1] != step.shape:
                problems.append(f"{where}/value: {value.shape[0]} rows, step has {len(step)}")
            s = step[()]
            if len(s) > 1 and not np.all(np.diff(s) > 0):
                problems.append(f"{where}/step: not increasing")


def _check_results(f, groups, problems):
    counts = [re.compile(p) for p in COUNTS]

    def visit(name, obj):
        if not isinstance(obj, h5py.Dataset) or not name.startswith(groups):
            return
        if obj.dtype.kind not in "iuf" or obj.is_virtual:
            return
        leaf = name.rsplit("/", 1)[-1]
        if leaf != "step" and "unit" not in obj.attrs:
            problems.append(f"/{name}: no unit attribute")
        if any(p.match(name) for p in counts) and obj.dtype.kind not in "iu":
            problems.append(f"/{name}: a count stored as {obj.dtype}")
    f.visititems(visit)


def _check_parameters(f, problems):
    cfg = json.loads(_text(f["parameters"].attrs["config_json"]))
    p = f["parameters"]
    for section, keys in cfg.items():
        if section == "schedule":
            for col, key in (("T_from", "T_from"), ("T_to", "T_to"), ("sweeps", "sweeps")):
                want = [s.get(key, s.get("T")) for s in keys]
                if f"schedule/{col}" not in p or list(p[f"schedule/{col}"][()]) != want:
                    problems.append(f"/parameters/schedule/{col} differs from config_json")
            continue
        items = keys.items() if isinstance(keys, dict) else [(None, keys)]
        for key, want in items:
            path = f"{section}/{key}" if key else section
            if path not in p:
                problems.append(f"/parameters/{path}: missing")
                continue
            got = p[path][()]
            got = [_text(x) for x in got] if isinstance(want, list) else _text(got)
            if isinstance(got, np.generic):
                got = got.item()
            if got != want:
                problems.append(f"/parameters/{path} = {got!r}, config_json has {want!r}")


XDMF_TYPES = {("Char", "1"): "i1", ("UChar", "1"): "u1", ("Int", "4"): "i4", ("Float", "4"): "f4",
              ("Float", "8"): "f8"}


def check_sidecar(h5path, problems):
    """<h5path>.xmf: well-formed, each HDF data item a dataset of h5path of
    the declared shape and type, one grid per snapshot."""
    xmf = Path(str(h5path) + ".xmf")
    if not xmf.exists():
        return
    root = ET.parse(xmf).getroot()
    with h5py.File(h5path, "r") as f:
        grids = root.findall("./Domain/Grid/Grid")
        n = f["snapshots/level/value"].shape[0] if "snapshots/level" in f else None
        if n is not None and len(grids) != n:
            problems.append(f"{xmf.name}: {len(grids)} grids for {n} snapshots")
        for item in root.iter("DataItem"):
            fname, path = item.text.strip().rsplit(":", 1)
            if fname != Path(h5path).name or path not in f:
                problems.append(f"{xmf.name}: {item.text.strip()} is not in the file")
                continue
            d = f[path]
            dims = tuple(int(x) for x in item.get("Dimensions").split())
            want = XDMF_TYPES.get((item.get("NumberType"), item.get("Precision")))
            if d.shape != dims or d.dtype.str[1:] != want:
                problems.append(f"{xmf.name}: {path} is {d.dtype}{d.shape}, declared {want}{dims}")


def check_file(path):
    """Problems of one softmatrix HDF5 file (and its sidecar), [] if none."""
    problems = []
    with h5py.File(path, "r") as f:
        _check_h5md(f, problems)
        _check_units(f, problems)
        if "sweep_json" in f.attrs:
            _check_results(f, INDEX_GROUPS, problems)
        else:
            _check_series(f, problems)
            _check_results(f, RESULT_GROUPS, problems)
            _check_parameters(f, problems)
    check_sidecar(path, problems)
    return [f"{path}: {p}" for p in problems]
