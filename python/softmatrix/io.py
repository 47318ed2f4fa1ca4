"""Readers for softmatrix HDF5 files: run files (complete or ``.partial``)
and the sweep index of ``softmatrix sweep``.

Every reader returns the arrays exactly as h5py reads them (same dtype, same
values), either as numpy containers (``as_xarray=False``) or as xarray
objects with labelled coordinates (the default).  Any failure to read a file
the way these readers need it raises :class:`SoftmatrixFileError` with a
one-line message that names the file.

Run-file layout (``softmatrix run``, H5MD-flavoured)::

    /h5md                    attr version; author/, creator/ (attrs name, version)
    /parameters              attrs config_json, seed, version, source; the
                             resolved config as datasets (<section>/<key>)
    /observables/<name>/{step,time,value}   value [n] or [n, k] (attr "columns")
    /snapshots/<field>/{step,time,value}    value [n, Ly, Lx] (pcp: [n, Ly, Lx, 3])
    /summary/<name>/{mean,error,tau_int}    one entry per schedule segment
    /summary/segments/{T_from,T_to,sweeps,samples}
    /summary/timing/{ns_per_site_update,threads,wall_seconds}
    /census/<name>/{step,time,value}        value [n, 9] per level (optional)
    /kinetics/tau/{mean,error,count}        [segments, 8]   (cage dynamics only)
    /kinetics/{loop_completions,loop_undos} [segments, 9]
    /kinetics/soft_matrix_jumps             [segments]

The simulator writes ``<path>.partial``, flushes it as it goes and renames
it to ``<path>`` when the run is complete; /summary and /kinetics are
written last.  A ``.partial`` file can be read while the run goes on: it is
opened read-only without taking the HDF5 file lock (so the writer is never
blocked) and a :class:`RunInProgressWarning` is issued.

Every dataset that holds a quantity carries a ``unit`` attribute (H5MD
units: ``eps0``, ``eps0 kB-1``, ``sweep``, ``sigma``, ``1``); counts are int64.

Sweep index (``softmatrix sweep``, src/index.c): /h5md as above, root attrs
npoints, sweep_json, config_json; /point, /file, /parameters/<key>,
/parameter_index/<key>, /labels/<key>, /mean/<obs>, /error/<obs>,
/tau_int/<obs>, /segment/{T_from,T_to,sweeps,samples}.  Also accepted by
:func:`open_sweep`: an older layout with ``/sweep/T`` and
``/sweep/<obs>/{mean,error}``, and a run file whose constant-temperature
holds are the points.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

try:
    import h5py
except ImportError as exc:  # pragma: no cover - environment problem
    raise ImportError("softmatrix needs h5py: use Debian's /usr/bin/python3 "
                      "with python3-h5py installed") from exc

LEVELS = np.arange(-1, 9)          # level values -1..8, the columns of level_histogram
V_LEVELS = np.arange(0, 9)         # V_0..V_8: census rows, loops (level reached)
TAU_LEVELS = np.arange(0, 8)       # tau_0..tau_7
CREATOR = "softmatrix"

# dimension name and coordinate of the columns of a multi-column dataset;
# names not listed get "<name>_column" with the column labels
_COLUMN_DIMS = {"level_histogram": ("level", LEVELS),
                "loop_completions": ("loop_level", V_LEVELS),
                "loop_undos": ("loop_level", V_LEVELS),
                "acceptance": ("move", None)}


class SoftmatrixFileError(Exception):
    """A file is missing, incomplete, unreadable or not a softmatrix file."""


class RunInProgressWarning(UserWarning):
    """A ``.partial`` file was read: the run is still going (or was interrupted)."""


# ---------------------------------------------------------------- opening

def _s(x):
    """An HDF5 attribute as a python str when it is text (h5py gives str or bytes)."""
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if isinstance(x, np.ndarray) and x.shape == ():
        return _s(x[()])
    return x


def _creator(f) -> Tuple[Optional[str], str]:
    """(name, version) of the program that wrote f: /h5md/creator (H5MD
    1.1), or the attributes that files of earlier versions carried."""
    h = f["h5md"] if "h5md" in f else None
    if h is not None and isinstance(h.get("creator"), h5py.Group):
        c = h["creator"].attrs
        return _s(c.get("name")), str(_s(c.get("version", "")))
    a = h.attrs if h is not None and "creator" in h.attrs else f.attrs
    return _s(a.get("creator")), str(_s(a.get("creator_version", "")))


def _writer_holds_lock(path) -> bool:
    """True when another process holds an exclusive lock on the file (HDF5
    locks with flock(); the simulator holds it while it writes).  The probe
    takes a shared lock for an instant only and releases it at once."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _h5_open_unlocked(path) -> "h5py.File":
    """Open read-only without HDF5 file locking, so a writer is never blocked."""
    try:
        return h5py.File(path, "r", locking=False)
    except (TypeError, ValueError):  # h5py or HDF5 too old for the locking argument
        old = os.environ.get("HDF5_USE_FILE_LOCKING")
        os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"
        try:
            return h5py.File(path, "r")
        finally:
            if old is None:
                del os.environ["HDF5_USE_FILE_LOCKING"]
            else:
                os.environ["HDF5_USE_FILE_LOCKING"] = old


def _first_line(exc) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _open_checked(path, stacklevel=3) -> "h5py.File":
    """Open a softmatrix HDF5 file read-only, or raise SoftmatrixFileError.

    A ``*.partial`` file is opened without taking the file lock and a
    RunInProgressWarning says whether a writer still holds it."""
    path = os.fspath(path)
    partial = path.endswith(".partial")
    if not os.path.exists(path):
        if os.path.exists(path + ".partial"):
            raise SoftmatrixFileError(
                f"{path}: not found, but {path}.partial exists (the run is still going or "
                "was interrupted; pass the .partial path to read it as it stands)")
        raise SoftmatrixFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise SoftmatrixFileError(f"{path}: is a directory, not an HDF5 file")
    if os.path.getsize(path) == 0:
        raise SoftmatrixFileError(f"{path}: empty file, not an HDF5 file")
    try:
        if partial:
            running = _writer_holds_lock(path)
            f = _h5_open_unlocked(path)
            state = ("the run is in progress (the writer holds the file)" if running else
                     "the run is in progress or was interrupted (no writer holds the file now)")
            warnings.warn(f"{path}: partial file, {state}; reading the data written so far",
                          RunInProgressWarning, stacklevel=stacklevel)
        else:
            f = h5py.File(path, "r")
    except OSError as exc:
        raise SoftmatrixFileError(
            f"{path}: not a readable HDF5 file (truncated or corrupt?): {_first_line(exc)}") from None
    try:
        creator = _creator(f)[0]
    except Exception:  # noqa: BLE001 - any damage here means foreign or corrupt
        creator = None
    if creator != CREATOR:
        f.close()
        raise SoftmatrixFileError(
            f"{path}: not a softmatrix file (no /h5md group with creator \"softmatrix\")")
    return f


@contextlib.contextmanager
def _reading(path, what="softmatrix file") -> Iterator["h5py.File"]:
    """Context: the checked open file; HDF5/KeyError damage -> SoftmatrixFileError."""
    path = os.fspath(path)
    f = _open_checked(path, stacklevel=5)
    try:
        yield f
    except SoftmatrixFileError:
        raise
    except (KeyError, OSError, ValueError, RuntimeError) as exc:
        hint = (" (a partial file can be caught between two flushes: read it again)"
                if path.endswith(".partial") else "")
        raise SoftmatrixFileError(f"{path}: damaged {what}: {_first_line(exc)}{hint}") from None
    finally:
        f.close()


def _config_of(f) -> Dict[str, object]:
    try:
        return json.loads(_s(f["parameters"].attrs.get("config_json", "{}")) or "{}")
    except (KeyError, json.JSONDecodeError, TypeError):
        return {}


def _columns(d) -> Optional[List[str]]:
    c = _s(d.attrs.get("columns")) if "columns" in d.attrs else None
    return c.split(",") if isinstance(c, str) else None


# ---------------------------------------------------------- numpy containers

@dataclass
class TimeSeries:
    """One observable (or census table): step [n], time [n], value [n] or [n, k]."""
    name: str
    step: np.ndarray
    time: np.ndarray
    value: np.ndarray
    columns: Optional[List[str]] = None
    description: str = ""


@dataclass
class Snapshots:
    """One snapshot field: step [n], time [n], value [n, Ly, Lx] (pcp: [n, Ly, Lx, 3])."""
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
    """Per-segment statistics: name -> {"mean", "error", "tau_int"} arrays."""
    stats: Dict[str, Dict[str, np.ndarray]]
    segments: Dict[str, np.ndarray]
    timing: Dict[str, float]
    descriptions: Dict[str, str] = field(default_factory=dict)
    columns: Dict[str, Optional[List[str]]] = field(default_factory=dict)

    def mean(self, name):
        """Per-segment mean of summary observable `name`."""
        return self.stats[name]["mean"]

    def error(self, name):
        """Per-segment standard error of summary observable `name`."""
        return self.stats[name]["error"]

    def tau_int(self, name):
        """Per-segment integrated autocorrelation time (in measurements) of `name`."""
        return self.stats[name]["tau_int"]


@dataclass
class Kinetics:
    """Cage kinetics, one row per schedule segment (measured sweeps only).

    tau_mean/tau_error/tau_count [nseg, 8]: tau_i, i = 0..7, in sweeps;
    loop_completions/loop_undos [nseg, 9] by level 0..8 (segment totals);
    soft_matrix_jumps [nseg]; T_from/T_to/sweeps/samples [nseg]."""
    tau_mean: np.ndarray
    tau_error: np.ndarray
    tau_count: np.ndarray
    loop_completions: np.ndarray
    loop_undos: np.ndarray
    soft_matrix_jumps: np.ndarray
    T_from: np.ndarray
    T_to: np.ndarray
    sweeps: np.ndarray
    samples: np.ndarray
    n_sites: int = 0
    description: str = ""

    @property
    def n_segments(self) -> int:
        """Number of schedule segments (rows)."""
        return int(self.tau_mean.shape[0])

    def completion_rate(self) -> np.ndarray:
        """Loop completions per site per measured sweep [nseg, 9]."""
        norm = np.asarray(self.sweeps, float)[:, None] * max(self.n_sites, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(self.loop_completions, float) / norm


@dataclass
class Run:
    """Everything in one run file, loaded into memory."""
    path: str
    creator_version: str
    parameters: Dict[str, object]        # attrs of /parameters
    config: Dict[str, object]            # the resolved configuration (JSON)
    observables: Dict[str, TimeSeries]
    snapshots: Dict[str, Snapshots]
    summary: Summary
    census: Dict[str, np.ndarray]        # flattened /census tree ({} when absent)
    census_attrs: Dict[str, object] = field(default_factory=dict)
    kinetics: Optional[Kinetics] = None
    complete: bool = True                # False for a .partial file

    def obs(self, name) -> TimeSeries:
        """The observable `name`, or SoftmatrixFileError listing those present."""
        if name not in self.observables:
            raise SoftmatrixFileError(f"{self.path}: no observable '{name}' "
                                      f"(have: {', '.join(sorted(self.observables))})")
        return self.observables[name]

    @property
    def lattice(self) -> Tuple[int, int]:
        """(Lx, Ly) from the configuration."""
        lat = self.config.get("lattice", {})
        return int(lat.get("Lx", 0)), int(lat.get("Ly", 0))

    @property
    def boundary(self) -> str:
        """"periodic" or "open"."""
        return str(self.config.get("lattice", {}).get("boundary", "periodic"))

    @property
    def dynamics(self) -> str:
        """"level" or "cage"."""
        return str(self.config.get("dynamics", {}).get("kind", "level"))

    @property
    def n_segments(self) -> int:
        """Number of schedule segments (from /summary, else from the config)."""
        if "T_from" in self.summary.segments:
            return len(self.summary.segments["T_from"])
        return len(schedule_segments(self.config)["T_from"])

    def segments(self) -> Dict[str, np.ndarray]:
        """T_from, T_to, sweeps (and samples when complete) per segment."""
        return self.summary.segments if "T_from" in self.summary.segments \
            else schedule_segments(self.config)

    def segment_of_sample(self) -> np.ndarray:
        """Segment index of every measurement.

        From /summary/segments/samples for a complete run, else from the
        schedule in the configuration and the measurement steps."""
        step = self.obs("energy").step if "energy" in self.observables else np.zeros(0)
        return segment_of_steps(step, self.config, self.summary.segments)


# -------------------------------------------------------------- schedule

def schedule_segments(config) -> Dict[str, np.ndarray]:
    """T_from, T_to, sweeps, equilibration per segment of a resolved config,
    and "start": the step at which each segment begins (after the run's
    global equilibration)."""
    sched = config.get("schedule")
    run = config.get("run", {})
    if not sched:
        T = float(config.get("temperature", np.nan))
        sched = [{"T": T, "sweeps": run.get("sweeps", 0)}]
    T_from = np.array([float(s.get("T", s.get("T_from", np.nan))) for s in sched])
    T_to = np.array([float(s.get("T", s.get("T_to", np.nan))) for s in sched])
    sweeps = np.array([int(s.get("sweeps", 0)) for s in sched], dtype=np.int64)
    eq = np.array([int(s.get("equilibration", 0)) for s in sched], dtype=np.int64)
    start = int(run.get("equilibration_sweeps", 0)) + np.concatenate(([0], np.cumsum(eq + sweeps)))
    return {"T_from": T_from, "T_to": T_to, "sweeps": sweeps, "equilibration": eq,
            "start": start[:-1], "end": start[1:]}


def segment_of_steps(step, config, segments=None) -> np.ndarray:
    """Segment index of measurements taken at `step`.

    Uses /summary/segments/samples when it covers exactly these steps,
    otherwise the schedule: a measurement at step s belongs to the segment
    whose sweeps (start, end] contain s."""
    step = np.asarray(step)
    samples = np.asarray((segments or {}).get("samples", []), dtype=np.int64)
    if len(samples) and samples.sum() == len(step):
        return np.repeat(np.arange(len(samples)), samples)
    if not config:
        return np.zeros(len(step), dtype=np.int64)
    sched = schedule_segments(config)
    seg = np.searchsorted(sched["end"], step, side="left")
    return np.clip(seg, 0, len(sched["end"]) - 1).astype(np.int64)


# ------------------------------------------------------------ raw readers

def _read_series(g, name):
    """(step, time, value, columns, description) of a {step,time,value} group;
    in a partial file the three may differ in length: cut to the shortest."""
    v = g["value"]
    n = v.shape[0]
    step = g["step"][()] if "step" in g else np.arange(n)
    time = g["time"][()] if "time" in g else np.arange(n, dtype=float)
    n = min(n, len(step), len(time))
    value = v[:n] if n < v.shape[0] else v[()]
    return TimeSeries(name=name, step=step[:n], time=time[:n], value=value, columns=_columns(v),
                      description=str(_s(v.attrs.get("description", ""))))


def _read_groups(g) -> Dict[str, TimeSeries]:
    out = {}
    for name, sub in g.items():
        if isinstance(sub, h5py.Group) and "value" in sub:
            out[name] = _read_series(sub, name)
    # rows are appended to every dataset together; a partial file can be
    # caught with some one row ahead
    if out:
        n = min(len(ts.step) for ts in out.values())
        for ts in out.values():
            if len(ts.step) > n:
                ts.step, ts.time, ts.value = ts.step[:n], ts.time[:n], ts.value[:n]
    return out


def _temperature_series(f) -> Dict[str, TimeSeries]:
    """{"temperature": TimeSeries} of /observables/temperature, or {}."""
    if "observables" in f and "temperature" in f["observables"]:
        return {"temperature": _read_series(f["observables/temperature"], "temperature")}
    return {}


def _read_summary(f) -> Summary:
    stats, descr, cols, segments, timing = {}, {}, {}, {}, {}
    if "summary" not in f:
        return Summary(stats, segments, timing, descr, cols)
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
            cols[name] = _columns(g["mean"])
            if cols[name] is None and f"observables/{name}/value" in f:
                cols[name] = _columns(f[f"observables/{name}/value"])
    return Summary(stats, segments, timing, descr, cols)


def _read_kinetics(f, config, segments) -> Optional[Kinetics]:
    if "kinetics" not in f:
        return None
    k = f["kinetics"]
    seg = segments if "T_from" in segments else schedule_segments(config)
    lat = config.get("lattice", {})
    n = k["tau/mean"].shape[0]
    samples = segments.get("samples", np.full(n, -1))
    return Kinetics(tau_mean=k["tau/mean"][()], tau_error=k["tau/error"][()],
                    tau_count=k["tau/count"][()], loop_completions=k["loop_completions"][()],
                    loop_undos=k["loop_undos"][()], soft_matrix_jumps=k["soft_matrix_jumps"][()],
                    T_from=np.asarray(seg["T_from"])[:n], T_to=np.asarray(seg["T_to"])[:n],
                    sweeps=np.asarray(seg["sweeps"])[:n], samples=np.asarray(samples)[:n],
                    n_sites=int(lat.get("Lx", 0)) * int(lat.get("Ly", 0)),
                    description=str(_s(k["tau/mean"].attrs.get("description", ""))))


def open_run(path) -> Run:
    """Load a run file into a :class:`Run` (numpy arrays).

    A complete file must have /summary; a ``.partial`` file is read as it
    stands (observables and snapshots written so far, /summary and
    /kinetics usually absent) with a RunInProgressWarning."""
    path = os.fspath(path)
    partial = path.endswith(".partial")
    with _reading(path, "softmatrix run file") as f:
        if "summary" not in f and not partial:
            raise SoftmatrixFileError(
                f"{path}: incomplete run (no /summary group: the run did not finish)")
        if "observables" not in f:
            raise SoftmatrixFileError(f"{path}: no /observables group (is this a sweep index?)")
        params = {k: _s(v) for k, v in f["parameters"].attrs.items()} if "parameters" in f else {}
        for k, v in list(params.items()):
            if isinstance(v, np.ndarray) and v.size == 1:
                params[k] = v.reshape(-1)[0].item()
        config = _config_of(f)
        obs = _read_groups(f["observables"])
        snaps = {name: Snapshots(name, ts.step, ts.time, ts.value)
                 for name, ts in _read_groups(f["snapshots"]).items()} if "snapshots" in f else {}
        summary = _read_summary(f)
        census, census_attrs = {}, {}
        if "census" in f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    census[name] = obj[()]
                for k, v in obj.attrs.items():
                    census_attrs[(name + "/" if name else "") + k] = _s(v)
            visit("", f["census"])
            f["census"].visititems(visit)
        kin = _read_kinetics(f, config, summary.segments)
        return Run(path=path, creator_version=_creator(f)[1],
                   parameters=params, config=config, observables=obs, snapshots=snaps,
                   summary=summary, census=census, census_attrs=census_attrs,
                   kinetics=kin, complete="summary" in f)


# ------------------------------------------------------- xarray builders

def _xr():
    try:
        import xarray as xr
    except ImportError as exc:  # pragma: no cover - environment problem
        raise ImportError("xarray output needs python3-xarray (or pass as_xarray=False)") from exc
    return xr


def _column_dim(name, columns, width):
    """(dimension name, coordinate values) for the columns of `name`."""
    dim, coord = _COLUMN_DIMS.get(name, (f"{name}_column", None))
    if coord is not None and len(coord) == width:
        return dim, coord
    if columns is not None and len(columns) == width:
        try:
            return dim, np.array([int(c) for c in columns])
        except ValueError:
            return dim, np.array(columns)
    return dim, np.arange(width)


def _variable(name, value, row_dim, columns=None, attrs=None):
    """(dims, value, attrs) for an xarray variable with rows along row_dim."""
    value = np.asarray(value)
    attrs = dict(attrs or {})
    if value.ndim == 1:
        return (row_dim,), value, attrs, {}
    dim, coord = _column_dim(name, columns, value.shape[1])
    extra = [f"{name}_dim{k}" for k in range(2, value.ndim)]
    return (row_dim, dim, *extra), value, attrs, {dim: coord}


def _temperature_at(obs: Dict[str, TimeSeries], steps) -> np.ndarray:
    """Temperature at each step: the measurement at that step, or the nearest one."""
    T = obs.get("temperature")
    steps = np.asarray(steps)
    if T is None or len(T.step) == 0:
        return np.full(len(steps), np.nan)
    k = np.clip(np.searchsorted(T.step, steps), 0, len(T.step) - 1)
    k0 = np.clip(k - 1, 0, len(T.step) - 1)
    nearer = np.abs(T.step[k0] - steps) < np.abs(T.step[k] - steps)
    return np.asarray(T.value)[np.where(nearer, k0, k)].astype(float)


def _lattice_attrs(config):
    lat = config.get("lattice", {})
    return {"Lx": int(lat.get("Lx", 0)), "Ly": int(lat.get("Ly", 0)),
            "boundary": str(lat.get("boundary", "")),
            "dynamics": str(config.get("dynamics", {}).get("kind", ""))}


# --------------------------------------------------------- public readers

def observables(path, names=None, as_xarray=True):
    """The time series of a run (complete or ``.partial``).

    Returns an xarray Dataset with dimension ``step`` and coordinates
    ``step``, ``time`` (sweeps), ``T`` (from /observables/temperature) and
    ``segment``; multi-column observables get a second dimension
    (``level`` -1..8 for level_histogram, ``loop_level`` 0..8 for the loop
    counters, ``move`` for acceptance, else ``<name>_column``).  With
    ``as_xarray=False``: a dict name -> :class:`TimeSeries`.  `names`
    selects observables (default: all; the T coordinate is always there)."""
    path = os.fspath(path)
    with _reading(path, "softmatrix run file") as f:
        if "observables" not in f:
            raise SoftmatrixFileError(f"{path}: no /observables group (is this a sweep index?)")
        obs = _read_groups(f["observables"])
        config = _config_of(f)
        segments = _read_summary(f).segments
    if names is not None:
        missing = [n for n in names if n not in obs]
        if missing:
            raise SoftmatrixFileError(f"{path}: no observable {', '.join(missing)} "
                                      f"(have: {', '.join(sorted(obs))})")
    if not as_xarray:
        return {n: ts for n, ts in obs.items() if names is None or n in names}
    xr = _xr()
    if not obs:
        return xr.Dataset(attrs={"path": path})
    ref = obs.get("temperature") or next(iter(obs.values()))
    step = ref.step
    data, coords = {}, {}
    for name, ts in obs.items():
        if names is not None and name not in names:
            continue
        if not np.array_equal(ts.step, step):
            warnings.warn(f"{path}: observable {name} has other steps than the temperature; "
                          "left out", stacklevel=2)
            continue
        dims, value, attrs, c = _variable(name, ts.value, "step", ts.columns,
                                          {"description": ts.description})
        if ts.columns is not None:
            attrs["columns"] = ",".join(ts.columns)
        data[name] = (dims, value, attrs)
        coords.update(c)
    T = obs["temperature"].value if "temperature" in obs else np.full(len(step), np.nan)
    coords.update({"step": step, "time": ("step", ref.time), "T": ("step", T),
                   "segment": ("step", segment_of_steps(step, config, segments))})
    attrs = {"path": path, "complete": int(not path.endswith(".partial")), **_lattice_attrs(config)}
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    ds["time"].attrs["units"] = "sweeps"
    ds["T"].attrs.update(units="eps0/k_B", long_name="temperature")
    return ds


def summaries(path, as_xarray=True):
    """Per-segment statistics of a complete run (/summary).

    Returns an xarray Dataset with dimension ``segment`` and coordinates
    ``T_from``, ``T_to``, ``sweeps``, ``samples``; for every observable
    ``<name>`` (mean), ``<name>_error`` and ``<name>_tau_int`` (in
    measurements); timing in the attributes.  With ``as_xarray=False``: a
    :class:`Summary`."""
    path = os.fspath(path)
    with _reading(path, "softmatrix run file") as f:
        if "summary" not in f:
            raise SoftmatrixFileError(
                f"{path}: no /summary group (the run did not finish; it is written last)")
        s = _read_summary(f)
    if not as_xarray:
        return s
    xr = _xr()
    data, coords = {}, {}
    for name, st in s.stats.items():
        for key, suffix in (("mean", ""), ("error", "_error"), ("tau_int", "_tau_int")):
            if key not in st:
                continue
            dims, value, attrs, c = _variable(name, st[key], "segment", s.columns.get(name),
                                              {"description": s.descriptions.get(name, "")})
            data[name + suffix] = (dims, value, attrs)
            coords.update(c)
    for k, v in s.segments.items():
        coords[k] = ("segment", v)
    n = len(s.segments.get("T_from", []))
    coords["segment"] = np.arange(n)
    attrs = {"path": path, **{f"timing_{k}": v for k, v in s.timing.items()
                              if np.ndim(v) == 0}}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def census(path, as_xarray=True):
    """The cluster census written during a run (/census, ``run.census_every`` > 0).

    Returns an xarray Dataset with dimensions ``step`` (census rows) and
    ``V`` (level i = 0..8 of V_i); component_size_histogram becomes
    [step, V, size_bin] with coordinate ``size_min`` = 2**size_bin.
    Coordinates ``time`` and ``T`` (temperature measured at, or nearest to,
    the census step).  With ``as_xarray=False``: a dict name ->
    :class:`TimeSeries` (value as stored)."""
    path = os.fspath(path)
    with _reading(path, "softmatrix run file") as f:
        if "census" not in f:
            raise SoftmatrixFileError(f"{path}: no /census group (set run.census_every > 0)")
        tabs = _read_groups(f["census"])
        obs_T = _temperature_series(f)
        config = _config_of(f)
    if not as_xarray:
        return tabs
    xr = _xr()
    if not tabs:
        return xr.Dataset(attrs={"path": path})
    ref = tabs.get("n_centres") or next(iter(tabs.values()))
    data, coords = {}, {}
    for name, ts in tabs.items():
        if not np.array_equal(ts.step, ref.step):
            continue
        v = np.asarray(ts.value)
        attrs = {"description": ts.description}
        if v.ndim == 2 and v.shape[1] == 9:
            data[name] = (("step", "V"), v, attrs)
        elif v.ndim == 2 and v.shape[1] % 9 == 0:
            nb = v.shape[1] // 9
            data[name] = (("step", "V", "size_bin"), v.reshape(v.shape[0], 9, nb), attrs)
            coords["size_bin"] = np.arange(nb)
            coords["size_min"] = ("size_bin", 2 ** np.arange(nb))
        else:
            dims, value, a, c = _variable(name, v, "step", ts.columns, attrs)
            data[name] = (dims, value, a)
            coords.update(c)
    coords.update({"step": ref.step, "time": ("step", ref.time),
                   "T": ("step", _temperature_at(obs_T, ref.step)), "V": V_LEVELS})
    return xr.Dataset(data, coords=coords, attrs={"path": path, **_lattice_attrs(config)})


def kinetics(path, as_xarray=True):
    """Cage kinetics of a complete cage-dynamics run (/kinetics).

    Returns an xarray Dataset with dimensions ``segment``, ``i`` (0..7, for
    tau_i) and ``loop_level`` (0..8): ``tau`` (mean sweeps from completing
    loop i to completing loop i+1), ``tau_error``, ``tau_count``,
    ``loop_completions``, ``loop_undos`` (segment totals by level),
    ``soft_matrix_jumps``; coordinates ``T_from``, ``T_to``, ``sweeps``,
    ``samples``; attribute ``n_sites``.  With ``as_xarray=False``: a
    :class:`Kinetics`."""
    path = os.fspath(path)
    with _reading(path, "softmatrix run file") as f:
        config = _config_of(f)
        kin = _read_kinetics(f, config, _read_summary(f).segments)
        if kin is None:
            kind = config.get("dynamics", {}).get("kind", "?")
            why = ("the run has not finished: /kinetics is written last"
                   if path.endswith(".partial") else
                   f"{kind} dynamics; only cage-dynamics runs write kinetics")
            raise SoftmatrixFileError(f"{path}: no /kinetics group ({why})")
    if not as_xarray:
        return kin
    xr = _xr()
    ds = xr.Dataset(
        {"tau": (("segment", "i"), kin.tau_mean, {"units": "sweeps", "description": kin.description}),
         "tau_error": (("segment", "i"), kin.tau_error, {"units": "sweeps"}),
         "tau_count": (("segment", "i"), kin.tau_count),
         "loop_completions": (("segment", "loop_level"), kin.loop_completions),
         "loop_undos": (("segment", "loop_level"), kin.loop_undos),
         "soft_matrix_jumps": ("segment", kin.soft_matrix_jumps)},
        coords={"segment": np.arange(kin.n_segments), "i": TAU_LEVELS, "loop_level": V_LEVELS,
                "T_from": ("segment", kin.T_from), "T_to": ("segment", kin.T_to),
                "sweeps": ("segment", kin.sweeps), "samples": ("segment", kin.samples)},
        attrs={"path": path, "n_sites": kin.n_sites, **_lattice_attrs(config)})
    return ds


def snapshots(path, field="level", as_xarray=True):
    """The frames of one snapshot field (level, sigma, phase, z or pcp).

    Returns an xarray DataArray with dimensions ``step``, ``y``, ``x``
    (pcp: and ``component`` = x, y, z) and coordinates ``time`` (sweeps)
    and ``T`` (temperature measured at, or nearest to, the step).  With
    ``as_xarray=False``: a :class:`Snapshots`."""
    path = os.fspath(path)
    with _reading(path, "softmatrix run file") as f:
        if "snapshots" not in f or field not in f["snapshots"]:
            have = ", ".join(f["snapshots"]) if "snapshots" in f else "none"
            raise SoftmatrixFileError(f"{path}: no '{field}' snapshots (have: {have}; set "
                                      "run.snapshot_every > 0 and output.snapshot_fields)")
        ts = _read_series(f["snapshots"][field], field)
        obs = _temperature_series(f)
        config = _config_of(f)
    snap = Snapshots(field, ts.step, ts.time, ts.value)
    if not as_xarray:
        return snap
    xr = _xr()
    v = snap.value
    dims = ("step", "y", "x") + (("component",) if v.ndim == 4 else ())
    coords = {"step": snap.step, "time": ("step", snap.time),
              "T": ("step", _temperature_at(obs, snap.step)),
              "y": np.arange(v.shape[1]), "x": np.arange(v.shape[2])}
    if v.ndim == 4:
        coords["component"] = np.array(["x", "y", "z"][: v.shape[3]])
    return xr.DataArray(v, dims=dims, coords=coords, name=field,
                        attrs={"path": path, **_lattice_attrs(config)})


# ------------------------------------------------------------ sweep index

@dataclass
class SweepIndex:
    """The index of ``softmatrix sweep``, one row per point, as stored."""
    path: str
    point: np.ndarray
    file: np.ndarray                          # point file names (str)
    parameters: Dict[str, np.ndarray]         # key path -> [n]
    parameter_index: Dict[str, np.ndarray]
    labels: Dict[str, np.ndarray]
    mean: Dict[str, np.ndarray]
    error: Dict[str, np.ndarray]
    tau_int: Dict[str, np.ndarray]
    segment: Dict[str, np.ndarray]            # T_from, T_to, sweeps, samples
    columns: Dict[str, Optional[List[str]]]
    attrs: Dict[str, object]

    @property
    def T(self) -> np.ndarray:
        """Temperature of each point: its last segment's T_to."""
        return self.segment["T_to"]


def _strings(a):
    a = np.asarray(a)
    return np.array([_s(x) for x in a]) if a.dtype.kind in "OS" else a


def sweep_index(path, as_xarray=True):
    """The ``index.h5`` written by ``softmatrix sweep`` (one row per point).

    Returns an xarray Dataset with dimension ``point``: for every summary
    observable ``<name>`` (mean), ``<name>_error``, ``<name>_tau_int``;
    coordinates ``point``, ``file``, each swept key (e.g. ``temperature``,
    ``run.seed``) with ``<key>_index`` and ``<key>_label`` when present,
    ``T`` (last segment's T_to), ``T_from``, ``T_to``, ``sweeps``,
    ``samples``; root attributes as attributes (sweep_json, config_json,
    ...).  With ``as_xarray=False``: a :class:`SweepIndex`."""
    path = os.fspath(path)
    with _reading(path, "sweep index") as f:
        if "mean" not in f or "segment" not in f:
            raise SoftmatrixFileError(f"{path}: not a sweep index (no /mean and /segment groups)")

        def group(name):
            return {k: _strings(d[()]) for k, d in f[name].items()
                    if isinstance(d, h5py.Dataset)} if name in f else {}
        idx = SweepIndex(path=path,
                         point=f["point"][()] if "point" in f else np.arange(f.attrs.get("npoints", 0)),
                         file=_strings(f["file"][()]) if "file" in f else np.array([]),
                         parameters=group("parameters"), parameter_index=group("parameter_index"),
                         labels=group("labels"), mean=group("mean"), error=group("error"),
                         tau_int=group("tau_int"), segment=group("segment"),
                         columns={k: _columns(d) for k, d in f["mean"].items()},
                         attrs={k: _s(v) for k, v in f.attrs.items()})
    if not as_xarray:
        return idx
    xr = _xr()
    data, coords = {}, {}
    for name, v in idx.mean.items():
        # a swept key (a coordinate) may share the observable's name: temperature
        mean_name = f"{name}_mean" if name in idx.parameters else name
        for src, var in ((idx.mean, mean_name), (idx.error, f"{name}_error"),
                         (idx.tau_int, f"{name}_tau_int")):
            if name in src:
                dims, value, attrs, c = _variable(name, src[name], "point", idx.columns.get(name))
                data[var] = (dims, value, attrs)
                coords.update(c)
    coords["point"] = idx.point
    if len(idx.file):
        coords["file"] = ("point", idx.file)
    for k, v in idx.parameters.items():
        coords[k] = ("point", v)
    for k, v in idx.parameter_index.items():
        coords[f"{k}_index"] = ("point", v)
    for k, v in idx.labels.items():
        coords[f"{k}_label"] = ("point", v)
    for k, v in idx.segment.items():
        coords[k] = ("point", v)
    if "T_to" in idx.segment:
        coords["T"] = ("point", idx.segment["T_to"])
    attrs = {"path": path}
    attrs.update({k: (v if not isinstance(v, np.ndarray) else v.tolist()) for k, v in idx.attrs.items()})
    return xr.Dataset(data, coords=coords, attrs=attrs)


# ----------------------------------------------------- sweep (per T, averaged)

@dataclass
class Sweep:
    """Points of a temperature sweep, sorted by T (equal T averaged)."""
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
    """A sweep as points per temperature: a sweep index, the older /sweep
    layout, or a run file whose constant-temperature holds are the points.

    where: {parameter key: value as text} keeps only the index points whose
    parameter equals it (e.g. {"model.g": "4"}).  Index points with equal T
    are averaged: mean of the means, error sqrt(sum error^2) / count."""
    path = os.fspath(path)
    with _reading(path) as f:
        is_run = "observables" in f
    if is_run:
        return sweep_from_run(open_run(path))
    with _reading(path, "sweep index") as f:
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


def _sweep_from_index(path, f, where) -> Sweep:
    """Points of the `softmatrix sweep` index, per T (its last segment's T_to)."""
    T_all = np.asarray(f["segment/T_to"][()], dtype=float)
    n = len(T_all)
    params = {}
    if "parameters" in f:
        for k, d in f["parameters"].items():
            if isinstance(d, h5py.Dataset) and d.shape[:1] == (n,):
                params[k] = _strings(d[()])
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
        raise SoftmatrixFileError(f"{run.path}: /summary/segments/T_from missing (run not finished?)")
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
    """Parse the output of ``softmatrix table1 --json`` (a path, or the JSON
    text itself)."""
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
