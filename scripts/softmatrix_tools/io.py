"""Reading softmatrix HDF5 files (run files and sweep indexes) into numpy.

Every failure to read a file the way the scripts need it raises
:class:`SoftmatrixFileError` with a one-line message that names the file.

Run-file layout (written by ``softmatrix run``, H5MD-flavoured)::

    /h5md                    attrs creator = "softmatrix", creator_version, version
    /parameters              attrs config_json, seed, version, source
    /observables/<name>/{step,time,value}   value [n] or [n, k] (attr "columns")
    /snapshots/<field>/{step,time,value}    value [n, Ly, Lx]
    /summary/<name>/{mean,error,tau_int}    one entry per schedule segment
    /summary/segments/{T_from,T_to,sweeps,samples}
    /summary/timing/{ns_per_site_update,threads,wall_seconds}
    /census/...                             (optional, layout read generically)

The file is written as ``<path>.partial`` and renamed when complete, and
/summary is written last: a file without /summary is an incomplete run.

Sweep index written by ``softmatrix sweep`` (src/index.c, read by
:func:`_sweep_from_index`): root attrs creator = "softmatrix", ...;
/mean/<obs>, /error/<obs>, /segment/{T_from,T_to,...}, /parameters/<key>.
Also accepted (the layout assumed before that format existed): /h5md
creator "softmatrix" and one entry per sweep point in a group ``/sweep``
(or ``/summary``) holding

    T or temperature         [npts] temperature of each point
    <name>/{mean,error}      [npts] or [npts, k] per summary observable
    parameters/<key>         [npts] (optional) swept parameters per point

Any other dataset in that group is ignored.  A single run file whose
schedule has constant-temperature holds (T_from == T_to) is read as a sweep
too: each hold's /summary entry is a point at T = T_from.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

try:
    import h5py
except ImportError as exc:  # pragma: no cover - environment problem
    raise ImportError("softmatrix_tools needs h5py: use Debian's /usr/bin/python3 "
                      "with python3-h5py installed") from exc

LEVELS = np.arange(-1, 9)          # level values -1..8, columns of level_histogram
CREATOR = "softmatrix"


class SoftmatrixFileError(Exception):
    """A file is missing, incomplete, unreadable or not a softmatrix file."""


def _s(x):
    """HDF5 attribute -> python str (h5py returns str or bytes)."""
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if isinstance(x, np.ndarray) and x.shape == ():
        return _s(x[()])
    return x


def _open_checked(path) -> "h5py.File":
    """Open a softmatrix HDF5 file read-only, or raise SoftmatrixFileError."""
    path = os.fspath(path)
    if path.endswith(".partial"):
        raise SoftmatrixFileError(
            f"{path}: partial file (the run is still going or did not finish; "
            "softmatrix renames <path>.partial to <path> when complete)")
    if not os.path.exists(path):
        if os.path.exists(path + ".partial"):
            raise SoftmatrixFileError(
                f"{path}: not found, but {path}.partial exists (run still going or crashed)")
        raise SoftmatrixFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise SoftmatrixFileError(f"{path}: is a directory, not an HDF5 file")
    if os.path.getsize(path) == 0:
        raise SoftmatrixFileError(f"{path}: empty file, not an HDF5 file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SoftmatrixFileError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {msg}") from None
    try:
        creator = _s(f["h5md"].attrs.get("creator")) if "h5md" in f else None
        if creator is None:  # sweep index: creator is a root attribute
            creator = _s(f.attrs.get("creator"))
    except Exception:  # noqa: BLE001 - any damage here means foreign/corrupt
        creator = None
    if creator != CREATOR:
        f.close()
        raise SoftmatrixFileError(
            f"{path}: not a softmatrix file (no /h5md group with creator \"softmatrix\")")
    return f


def _read_tree(g) -> Dict[str, np.ndarray]:
    """All datasets under group g as {relative/path: array}."""
    out: Dict[str, np.ndarray] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = obj[()]
    g.visititems(visit)
    return out


@dataclass
class TimeSeries:
    """One observable: step [n], time [n], value [n] or [n, k]."""
    name: str
    step: np.ndarray
    time: np.ndarray
    value: np.ndarray
    columns: Optional[List[str]] = None
    description: str = ""


@dataclass
class Snapshots:
    """One snapshot field: step [n], time [n], value [n, Ly, Lx]."""
    name: str
    step: np.ndarray
    time: np.ndarray
    value: np.ndarray

    def at(self, step: Optional[int] = None) -> Tuple[int, np.ndarray]:
        """(step, frame) for the requested step, or the last frame."""
        if len(self.step) == 0:
            raise SoftmatrixFileError(f"snapshot field '{self.name}' has no frames")
        if step is None:
            k = len(self.step) - 1
        else:
            hits = np.nonzero(self.step == step)[0]
            if len(hits) == 0:
                raise SoftmatrixFileError(
                    f"no '{self.name}' snapshot at step {step}; available steps: "
                    + ", ".join(str(int(s)) for s in self.step))
            k = int(hits[0])
        return int(self.step[k]), self.value[k]


@dataclass
class Summary:
    """Per-segment statistics: name -> {"mean","error","tau_int"} arrays."""
    stats: Dict[str, Dict[str, np.ndarray]]
    segments: Dict[str, np.ndarray]
    timing: Dict[str, float]
    descriptions: Dict[str, str] = field(default_factory=dict)

    def mean(self, name):
        return self.stats[name]["mean"]

    def error(self, name):
        return self.stats[name]["error"]


@dataclass
class Run:
    """Everything in one run file, loaded into memory."""
    path: str
    creator_version: str
    parameters: Dict[str, object]        # attrs of /parameters, config parsed
    config: Dict[str, object]            # the resolved configuration (JSON)
    observables: Dict[str, TimeSeries]
    snapshots: Dict[str, Snapshots]
    summary: Summary
    census: Dict[str, np.ndarray]        # flattened /census tree ({} when absent)
    census_attrs: Dict[str, object] = field(default_factory=dict)

    # -- conveniences -------------------------------------------------------
    def obs(self, name) -> TimeSeries:
        if name not in self.observables:
            raise SoftmatrixFileError(f"{self.path}: no observable '{name}' "
                                      f"(have: {', '.join(sorted(self.observables))})")
        return self.observables[name]

    @property
    def lattice(self) -> Tuple[int, int]:
        lat = self.config.get("lattice", {})
        return int(lat.get("Lx", 0)), int(lat.get("Ly", 0))

    @property
    def n_segments(self) -> int:
        return len(self.summary.segments.get("T_from", []))

    def segment_of_sample(self) -> np.ndarray:
        """Segment index of every measurement, from /summary/segments/samples."""
        n = len(self.obs("energy").step)
        samples = np.asarray(self.summary.segments.get("samples", []), dtype=np.int64)
        if samples.sum() == n and n > 0:
            return np.searchsorted(np.cumsum(samples), np.arange(n), side="right")
        # fall back on one segment, or on the temperature schedule
        return np.zeros(n, dtype=np.int64)


def open_run(path) -> Run:
    """Load a complete softmatrix run file; raise SoftmatrixFileError otherwise."""
    path = os.fspath(path)
    f = _open_checked(path)
    try:
        if "summary" not in f:
            raise SoftmatrixFileError(
                f"{path}: incomplete run (no /summary group: the run did not finish)")
        if "observables" not in f:
            raise SoftmatrixFileError(f"{path}: no /observables group (is this a sweep index?)")
        h5 = f["h5md"].attrs
        params = {k: _s(v) for k, v in f["parameters"].attrs.items()} if "parameters" in f else {}
        for k, v in list(params.items()):
            if isinstance(v, np.ndarray) and v.size == 1:
                params[k] = v.reshape(-1)[0].item()
        try:
            config = json.loads(params.get("config_json", "{}") or "{}")
        except json.JSONDecodeError:
            config = {}
        obs = {}
        for name, g in f["observables"].items():
            if not isinstance(g, h5py.Group) or "value" not in g:
                continue
            v = g["value"]
            cols = _s(v.attrs.get("columns")) if "columns" in v.attrs else None
            obs[name] = TimeSeries(
                name=name,
                step=g["step"][()] if "step" in g else np.arange(v.shape[0]),
                time=g["time"][()] if "time" in g else np.arange(v.shape[0], dtype=float),
                value=v[()],
                columns=cols.split(",") if isinstance(cols, str) else None,
                description=str(_s(v.attrs.get("description", ""))),
            )
        snaps = {}
        for name, g in f.get("snapshots", {}).items():
            if isinstance(g, h5py.Group) and "value" in g:
                snaps[name] = Snapshots(name, g["step"][()], g["time"][()], g["value"][()])
        stats, descr = {}, {}
        segments, timing = {}, {}
        for name, g in f["summary"].items():
            if not isinstance(g, h5py.Group):
                continue
            if name == "segments":
                segments = {k: d[()] for k, d in g.items() if isinstance(d, h5py.Dataset)}
            elif name == "timing":
                timing = {k: np.asarray(d[()]).item() if np.asarray(d[()]).size == 1 else d[()]
                          for k, d in g.items() if isinstance(d, h5py.Dataset)}
            elif "mean" in g:
                stats[name] = {k: d[()] for k, d in g.items() if isinstance(d, h5py.Dataset)}
                descr[name] = str(_s(g.attrs.get("description", "")))
        census, census_attrs = {}, {}
        if "census" in f:
            census = _read_tree(f["census"])

            def visit(name, obj):
                for k, v in obj.attrs.items():
                    census_attrs[(name + "/" if name else "") + k] = _s(v)
            visit("", f["census"])
            f["census"].visititems(visit)
        return Run(path=path, creator_version=str(_s(h5.get("creator_version", ""))),
                   parameters=params, config=config, observables=obs, snapshots=snaps,
                   summary=Summary(stats, segments, timing, descr),
                   census=census, census_attrs=census_attrs)
    except SoftmatrixFileError:
        raise
    except (KeyError, OSError, ValueError) as exc:
        raise SoftmatrixFileError(f"{path}: damaged softmatrix file: {exc}") from None
    finally:
        f.close()


# ------------------------------------------------------------------ sweeps
@dataclass
class Sweep:
    """Points of a temperature sweep, sorted by T."""
    path: str
    source: str                               # "index" or "run-holds"
    T: np.ndarray                             # [npts]
    mean: Dict[str, np.ndarray]               # name -> [npts] or [npts, k]
    error: Dict[str, np.ndarray]
    parameters: Dict[str, np.ndarray] = field(default_factory=dict)
    config: Dict[str, object] = field(default_factory=dict)

    def level_fractions(self) -> Tuple[np.ndarray, np.ndarray]:
        """f_l [npts, 10] for l = -1..8 and its error."""
        return self.mean["level_histogram"], self.error["level_histogram"]


def _sweep_from_group(path, g, T, parameters) -> Sweep:
    mean, err = {}, {}
    for name, sub in g.items():
        if isinstance(sub, h5py.Group) and "mean" in sub:
            m = sub["mean"][()]
            if m.shape[:1] != T.shape:
                continue
            mean[name] = m
            err[name] = sub["error"][()] if "error" in sub else np.zeros_like(m)
    order = np.argsort(T, kind="stable")
    return Sweep(path=path, source="index", T=T[order],
                 mean={k: v[order] for k, v in mean.items()},
                 error={k: v[order] for k, v in err.items()},
                 parameters={k: v[order] for k, v in parameters.items()})


def open_sweep(path, where: Optional[Dict[str, str]] = None) -> Sweep:
    """A sweep index (see module doc) or a run file with constant-T holds.

    where: {parameter key: value as text} keeps only the index points whose
    parameter equals it (e.g. {"model.g": "4"})."""
    path = os.fspath(path)
    f = _open_checked(path)
    try:
        is_run = "observables" in f
    finally:
        f.close()
    if is_run:
        return sweep_from_run(open_run(path))
    f = _open_checked(path)
    try:
        if "mean" in f and "segment" in f:
            return _sweep_from_index(path, f, where)
        for gname in ("sweep", "summary"):
            if gname not in f:
                continue
            g = f[gname]
            T = None
            for tname in ("T", "temperature"):
                if tname in g and isinstance(g[tname], h5py.Dataset):
                    T = np.asarray(g[tname][()], dtype=float).reshape(-1)
            if T is None and "segments" in g and "T_from" in g["segments"]:
                T = np.asarray(g["segments/T_from"][()], dtype=float)
            if T is None:
                continue
            params = {}
            if "parameters" in g and isinstance(g["parameters"], h5py.Group):
                params = {k: d[()] for k, d in g["parameters"].items()
                          if isinstance(d, h5py.Dataset) and d.shape[:1] == T.shape}
            sw = _sweep_from_group(path, g, T, params)
            if not sw.mean:
                raise SoftmatrixFileError(f"{path}: sweep index has temperatures but no "
                                          "<observable>/mean datasets")
            return sw
        raise SoftmatrixFileError(
            f"{path}: incomplete or unknown sweep index (no /sweep or /summary with temperatures)")
    except SoftmatrixFileError:
        raise
    except (KeyError, OSError, ValueError) as exc:
        raise SoftmatrixFileError(f"{path}: damaged sweep index: {exc}") from None
    finally:
        f.close()


def _sweep_from_index(path, f, where) -> Sweep:
    """The index written by `softmatrix sweep` (src/index.c): root attrs creator...,
    /mean/<obs>, /error/<obs> [n] or [n, w], /segment/{T_from,T_to,...} [n] (the
    point's last schedule segment), /parameters/<key path> [n].

    A point's temperature is its last segment's T_to. Points with the same T
    (e.g. replicas over run.seed) are averaged: mean of the means, error
    sqrt(sum error^2) / count."""
    T_all = np.asarray(f["segment/T_to"][()], dtype=float)
    n = len(T_all)
    params = {}
    if "parameters" in f:
        for k, d in f["parameters"].items():
            if isinstance(d, h5py.Dataset) and d.shape[:1] == (n,):
                v = d[()]
                params[k] = np.array([_s(x) for x in v]) if v.dtype.kind in "OS" else v
    keep = np.ones(n, bool)
    for k, want in (where or {}).items():
        if k not in params:
            raise SoftmatrixFileError(f"{path}: no sweep parameter '{k}' (have: {', '.join(params)})")
        vals = params[k]
        if vals.dtype.kind in "fiu":
            keep &= np.isclose(vals.astype(float), float(want))
        else:
            keep &= vals.astype(str) == str(want)
    if not keep.any():
        raise SoftmatrixFileError(f"{path}: no sweep point matches {where}")
    mean_all = {k: d[()] for k, d in f["mean"].items() if isinstance(d, h5py.Dataset) and d.shape[:1] == (n,)}
    err_all = {k: (f["error"][k][()] if "error" in f and k in f["error"] else np.zeros_like(v))
               for k, v in mean_all.items()}
    Tu = np.unique(T_all[keep])
    mean, err = {}, {}
    for k, v in mean_all.items():
        v = np.asarray(v, dtype=float)
        e = np.asarray(err_all[k], dtype=float)
        ms, es = [], []
        for t in Tu:
            sel = keep & (T_all == t)
            c = sel.sum()
            ms.append(v[sel].mean(axis=0))
            es.append(np.sqrt((e[sel] ** 2).sum(axis=0)) / c)
        mean[k], err[k] = np.array(ms), np.array(es)
    count = np.array([(keep & (T_all == t)).sum() for t in Tu])
    varying = [k for k, v in params.items() if k != "temperature" and len(np.unique(v[keep].astype(str))) > 1]
    try:
        config = json.loads(_s(f.attrs.get("config_json", "{}")) or "{}")
    except json.JSONDecodeError:
        config = {}
    return Sweep(path=path, source="index", T=Tu, mean=mean, error=err,
                 parameters={"count": count, "varying": np.array(varying, dtype=object)},
                 config=config)


def sweep_from_run(run: Run) -> Sweep:
    """Each constant-temperature segment (hold) of a run is one sweep point."""
    seg = run.summary.segments
    if "T_from" not in seg:
        raise SoftmatrixFileError(f"{run.path}: /summary/segments/T_from missing")
    T_from = np.asarray(seg["T_from"], dtype=float)
    T_to = np.asarray(seg.get("T_to", T_from), dtype=float)
    holds = np.nonzero(np.isclose(T_from, T_to))[0]
    if len(holds) == 0:
        raise SoftmatrixFileError(f"{run.path}: schedule has no constant-temperature holds "
                                  "to use as sweep points")
    T = T_from[holds]
    order = holds[np.argsort(T, kind="stable")]
    mean = {k: np.asarray(v["mean"])[order] for k, v in run.summary.stats.items()}
    err = {k: np.asarray(v.get("error", np.zeros_like(v["mean"])))[order]
           for k, v in run.summary.stats.items()}
    return Sweep(path=run.path, source="run-holds", T=T_from[order], mean=mean, error=err,
                 parameters={"segment": order}, config=run.config)


# ------------------------------------------------------------------ table 1
TABLE1_COLUMNS = ["N_i", "arrows", "C-bosons", "HSCLs", "jamming", "+z", "-z", "density"]


def read_table1_json(text_or_path) -> dict:
    """Parse the output of ``softmatrix table1 --json`` (a path, '-' for stdin
    already read by the caller, or the JSON text itself)."""
    src = os.fspath(text_or_path) if not isinstance(text_or_path, str) else text_or_path
    label = "table1 JSON"
    if not src.lstrip().startswith("{"):
        label = src
        if not os.path.exists(src):
            raise SoftmatrixFileError(f"{src}: no such file")
        with open(src, encoding="utf-8") as fh:
            src = fh.read()
    try:
        data = json.loads(src)
    except json.JSONDecodeError as exc:
        raise SoftmatrixFileError(f"{label}: not valid JSON from `softmatrix table1 --json`: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise SoftmatrixFileError(f"{label}: no 'entries' list (not `softmatrix table1 --json` output)")
    return data
