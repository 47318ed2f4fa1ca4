"""The Python package python/softmatrix on files the simulator writes: the
readers (numpy and xarray) against h5py, a running run's .partial file, the
analyses and fits, every `python3 -m softmatrix.plot` subcommand with the
figure conventions (no lines across gaps, log T axes, categorical levels,
units, titles), the scripts/*.py wrappers and the one-line errors on bad
input.  Run with Debian's /usr/bin/python3 -m pytest."""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np
import pytest

from conftest import BIN, ROOT, run_sm, small_config, write_config

PYDIR = ROOT / "python"
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(PYDIR))
import softmatrix as sm  # noqa: E402
from softmatrix import analysis, figures  # noqa: E402
from softmatrix import plot as smplot  # noqa: E402

DPI = 40
ENV = dict(os.environ, OMP_WAIT_POLICY="passive", PYTHONPATH=str(PYDIR))


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def px(size):
    return (int(size[0] * DPI), int(size[1] * DPI))


def call(sub, *args, capsys):
    """`python3 -m softmatrix.plot SUB ARGS` in-process: (exit code, stdout, stderr)."""
    rc = smplot.main([sub, *map(str, args)], prog="softmatrix.plot")
    out, err = capsys.readouterr()
    return rc, out, err


def values(out, key):
    """Numbers after `key` on the stdout line that starts with it."""
    for line in out.splitlines():
        if line.startswith(key + " "):
            return [float(x) for x in line[len(key):].split()]
    raise AssertionError(f"no line '{key} ...' in:\n{out}")


def retry(fn, tries=10):
    """fn() again when a partial file was caught between two flushes."""
    for k in range(tries):
        try:
            return fn()
        except sm.SoftmatrixFileError:
            if k == tries - 1:
                raise
            time.sleep(0.2)


def h5(path, name):
    with h5py.File(path, "r") as f:
        return f[name][()]


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def files(sm_bin, tmp_path_factory):
    """A level run (18x18) heated and cooled by ramps between holds, then a
    hold at T = 3 after an equilibration: one discontinuity (a step gap and
    a jump of T); snapshots of level, sigma and z; the census; and the
    table1 JSON."""
    d = tmp_path_factory.mktemp("pytools")
    run = d / "run.h5"
    cfg = small_config(run, lattice={"Lx": 18, "Ly": 18, "boundary": "periodic"},
                       run={"seed": 5, "equilibration_sweeps": 20, "measure_every": 2,
                            "snapshot_every": 100, "census_every": 100})
    del cfg["temperature"]
    cfg["schedule"] = [{"T": 0.5, "sweeps": 100}, {"T_from": 0.5, "T_to": 6.5, "sweeps": 300},
                       {"T": 6.5, "sweeps": 100}, {"T_from": 6.5, "T_to": 0.5, "sweeps": 300},
                       {"T": 3.0, "sweeps": 100, "equilibration": 50}]
    cfg["output"]["snapshot_fields"] = ["level", "sigma", "z"]
    rc, out, err = run_sm("run", write_config(d / "run.json", cfg), "--quiet")
    assert rc == 0, err
    rc, t1, err = run_sm("table1", "--json")
    assert rc == 0, err
    (d / "table1.json").write_text(t1)
    return {"dir": d, "run": run, "table1": d / "table1.json"}


@pytest.fixture(scope="module")
def cage(sm_bin, tmp_path_factory):
    """A cage-dynamics run (16x16, holds at T = 2 and 4) with /kinetics."""
    d = tmp_path_factory.mktemp("cage")
    out = d / "cage.h5"
    cfg = small_config(out, lattice={"Lx": 16, "Ly": 16, "boundary": "periodic"},
                       dynamics={"kind": "cage", "trap_barrier": 1, "async_barrier": 0.125},
                       run={"seed": 404, "equilibration_sweeps": 0, "measure_every": 50,
                            "snapshot_every": 0},
                       init={"level": 0, "sigma": "neel"})
    del cfg["temperature"]
    cfg["schedule"] = [{"T": 2.0, "equilibration": 2000, "sweeps": 6000},
                       {"T": 4.0, "equilibration": 2000, "sweeps": 6000}]
    rc, _, err = run_sm("run", write_config(d / "cage.json", cfg), "--quiet")
    assert rc == 0, err
    return out


@pytest.fixture(scope="module")
def sweep(sm_bin, tmp_path_factory):
    """`softmatrix sweep` over 4 log-spaced temperatures x 2 seeds (8x8)."""
    d = tmp_path_factory.mktemp("sweep")
    cfg = small_config(d / "sw.h5", run={"seed": 1, "equilibration_sweeps": 20, "sweeps": 60,
                                         "measure_every": 2})
    cfg["sweep"] = {"keys": {"temperature": {"start": 0.2, "stop": 6, "num": 4, "scale": "log"},
                             "run.seed": [1, 2]}}
    rc, _, err = run_sm("sweep", write_config(d / "sw.json", cfg), "--output-dir", d / "sw",
                        "--quiet", env=ENV)
    assert rc == 0, err
    return d / "sw" / "index.h5"


@pytest.fixture(scope="module")
def bad_files(files):
    d = files["dir"]
    good = files["run"]
    raw = good.read_bytes()
    (d / "truncated.h5").write_bytes(raw[: len(raw) // 2])
    (d / "empty.h5").write_bytes(b"")
    with h5py.File(d / "foreign.h5", "w") as f:
        f["x"] = np.arange(3)
        f.create_group("h5md").attrs["creator"] = "someone-else"
    shutil.copy(good, d / "nosummary.h5")
    with h5py.File(d / "nosummary.h5", "a") as f:
        del f["summary"]
    return {"missing": (d / "missing.h5", "no such file"),
            "truncated": (d / "truncated.h5", "not a readable HDF5 file"),
            "empty": (d / "empty.h5", "empty file"),
            "foreign": (d / "foreign.h5", "not a softmatrix file"),
            "incomplete": (d / "nosummary.h5", "incomplete run")}


# ------------------------------------------------------- readers = h5py

def test_open_run_matches_hdf5(files):
    run = sm.open_run(files["run"])
    with h5py.File(files["run"]) as f:
        assert np.array_equal(run.obs("energy").value, f["observables/energy/value"][()])
        assert run.obs("level_histogram").columns == [str(v) for v in range(-1, 9)]
        assert np.array_equal(run.snapshots["level"].value, f["snapshots/level/value"][()])
        assert np.array_equal(run.summary.mean("energy"), f["summary/energy/mean"][()])
        assert np.array_equal(run.summary.tau_int("energy"), f["summary/energy/tau_int"][()])
        assert np.array_equal(run.summary.segments["T_from"], f["summary/segments/T_from"][()])
        assert np.array_equal(run.census["n_centres/value"], f["census/n_centres/value"][()])
    assert run.lattice == (18, 18) and run.n_segments == 5 and run.complete and run.kinetics is None
    seg = run.segment_of_sample()
    assert np.array_equal(np.bincount(seg), run.summary.segments["samples"].astype(int))
    # the schedule alone (as for a .partial file) gives the same segments
    assert np.array_equal(sm.io.segment_of_steps(run.obs("energy").step, run.config), seg)
    br = sm.branch_of_sample(run)
    assert set(np.unique(br[seg == 1])) == {1} and set(np.unique(br[seg == 3])) == {-1}
    assert not np.any(br[(seg == 0) | (seg == 2) | (seg == 4)])


def test_observables_xarray_and_numpy(files):
    p = files["run"]
    ds = sm.observables(p)
    with h5py.File(p) as f:
        names = list(f["observables"])
        assert sorted(ds.data_vars) == sorted(names)
        for name in names:
            v = f[f"observables/{name}/value"][()]
            assert ds[name].dtype == v.dtype and np.array_equal(ds[name].values, v), name
        assert np.array_equal(ds["step"].values, f["observables/energy/step"][()])
        assert np.array_equal(ds["time"].values, f["observables/energy/time"][()])
        assert np.array_equal(ds["T"].values, f["observables/temperature/value"][()])
        samples = f["summary/segments/samples"][()].astype(int)
    assert ds.level_histogram.dims == ("step", "level")
    assert list(ds.level.values) == list(range(-1, 9))
    assert np.array_equal(ds.segment.values, np.repeat(np.arange(5), samples))
    assert ds.attrs["Lx"] == 18 and ds.attrs["dynamics"] == "level"
    # selection by label: level 8 is the soft-matrix fraction, 200 f_8 = n_SM
    assert np.allclose(200 * ds.level_histogram.sel(level=8), ds.n_soft_matrix, atol=1e-9)
    npy = sm.observables(p, names=["energy"], as_xarray=False)
    assert list(npy) == ["energy"] and np.array_equal(npy["energy"].value, ds.energy.values)
    one = sm.observables(p, names=["energy"])
    assert list(one.data_vars) == ["energy"] and np.array_equal(one["T"].values, ds["T"].values)
    with pytest.raises(sm.SoftmatrixFileError, match="no observable nonsense"):
        sm.observables(p, names=["nonsense"])


def test_summaries(files):
    p = files["run"]
    s = sm.summaries(p)
    with h5py.File(p) as f:
        for name, g in f["summary"].items():
            if name in ("segments", "timing"):
                continue
            assert np.array_equal(s[name].values, g["mean"][()], equal_nan=True), name
            assert np.array_equal(s[name + "_error"].values, g["error"][()], equal_nan=True), name
            assert np.array_equal(s[name + "_tau_int"].values, g["tau_int"][()], equal_nan=True)
        assert np.array_equal(s.T_from.values, f["summary/segments/T_from"][()])
        assert np.array_equal(s.T_to.values, f["summary/segments/T_to"][()])
        assert s.attrs["timing_threads"] == f["summary/timing/threads"][()]
    assert list(s.T_from.values) == [0.5, 0.5, 6.5, 6.5, 3.0]
    assert list(s.T_to.values) == [0.5, 6.5, 6.5, 0.5, 3.0]
    assert s.level_histogram.dims == ("segment", "level")
    assert isinstance(sm.summaries(p, as_xarray=False), sm.Summary)


def test_census_reader(files):
    p = files["run"]
    c = sm.census(p)
    with h5py.File(p) as f:
        for name, g in f["census"].items():
            v = g["value"][()]
            assert np.array_equal(c[name].values.reshape(v.shape), v, equal_nan=True), name
        steps = f["census/n_centres/step"][()]
        T = dict(zip(f["observables/temperature/step"][()], f["observables/temperature/value"][()]))
    assert c.n_centres.dims == ("step", "V") and list(c.V.values) == list(range(9))
    assert c.component_size_histogram.dims == ("step", "V", "size_bin")
    assert np.array_equal(c.step.values, steps)
    assert list(c["T"].values) == [T[s] for s in steps]
    # where a snapshot was taken at a census step, n_centres counts its levels
    lev = sm.snapshots(p, "level")
    common = np.intersect1d(lev.step.values, c.step.values)
    assert len(common) >= 2
    for s in common:
        frame = lev.sel(step=s).values
        assert list(c.n_centres.sel(step=s).values) == [int((frame == i).sum()) for i in range(9)]
        assert c.n_sites_ge.sel(step=s, V=0).item() == int((frame >= 0).sum())
    assert set(sm.census(p, as_xarray=False)) == set(c.data_vars)


def test_kinetics_reader(cage):
    k = sm.kinetics(cage)
    with h5py.File(cage) as f:
        assert np.array_equal(k.tau.values, f["kinetics/tau/mean"][()], equal_nan=True)
        assert np.array_equal(k.tau_error.values, f["kinetics/tau/error"][()], equal_nan=True)
        assert np.array_equal(k.tau_count.values, f["kinetics/tau/count"][()])
        assert np.array_equal(k.loop_completions.values, f["kinetics/loop_completions"][()])
        assert np.array_equal(k.loop_undos.values, f["kinetics/loop_undos"][()])
        assert np.array_equal(k.soft_matrix_jumps.values, f["kinetics/soft_matrix_jumps"][()])
        sweeps = f["summary/segments/sweeps"][()]
    assert k.tau.dims == ("segment", "i") and list(k.i.values) == list(range(8))
    assert list(k.T_from.values) == [2.0, 4.0] and k.attrs["n_sites"] == 256
    kn = sm.kinetics(cage, as_xarray=False)
    assert kn.n_segments == 2
    assert np.allclose(kn.completion_rate(), kn.loop_completions / (sweeps[:, None] * 256))
    assert (kn.tau_count[:, 0] > 10).all() and np.isfinite(kn.tau_mean[:, 0]).all()


def test_kinetics_reader_refuses_level_run(files):
    with pytest.raises(sm.SoftmatrixFileError, match="level dynamics; only cage"):
        sm.kinetics(files["run"])


def test_snapshots_reader(files):
    p = files["run"]
    da = sm.snapshots(p, "level")
    with h5py.File(p) as f:
        v = f["snapshots/level/value"][()]
        steps = f["snapshots/level/step"][()]
        T = dict(zip(f["observables/temperature/step"][()], f["observables/temperature/value"][()]))
        z = f["snapshots/z/value"][()]
    assert da.dims == ("step", "y", "x") and da.dtype == v.dtype and np.array_equal(da.values, v)
    assert np.array_equal(da.step.values, steps)
    assert list(da["T"].values) == [T[s] for s in steps]
    assert da.sel(step=steps[1]).sel(y=3, x=5).item() == v[1, 3, 5]
    assert np.array_equal(sm.snapshots(p, "z").values, z)
    sn = sm.snapshots(p, "sigma", as_xarray=False)
    assert sn.at(int(steps[0]))[0] == steps[0]
    with pytest.raises(sm.SoftmatrixFileError, match="no 'pcp' snapshots"):
        sm.snapshots(p, "pcp")


def test_sweep_index_reader(sweep):
    ds = sm.sweep_index(sweep)
    with h5py.File(sweep) as f:
        for name, d in f["mean"].items():
            var = name + "_mean" if name in f["parameters"] else name
            assert np.array_equal(ds[var].values, d[()]), name
            assert np.array_equal(ds[name + "_error"].values, f["error"][name][()])
        assert np.array_equal(ds["run.seed"].values, f["parameters/run.seed"][()])
        assert np.array_equal(ds["temperature"].values, f["parameters/temperature"][()])
        assert np.array_equal(ds["T"].values, f["segment/T_to"][()])
        assert list(ds.file.values) == [x.decode() for x in f["file"][()]]
        assert ds.attrs["sweep_json"] == f.attrs["sweep_json"]
    assert ds.sizes["point"] == 8
    # one seed, one row per temperature
    one = ds.where(ds["run.seed"] == 2, drop=True)
    assert np.allclose(one["T"].values, np.geomspace(0.2, 6, 4))
    idx = sm.sweep_index(sweep, as_xarray=False)
    assert np.array_equal(idx.T, ds["T"].values)


# ------------------------------------------------------ partial files

def test_partial_of_a_running_run(sm_bin, tmp_path, capsys):
    """A long run's PATH.partial is read while the run goes on: warning, the
    rows so far (equal to what h5py sees), and the writer is not disturbed."""
    out = tmp_path / "long.h5"
    cfg = small_config(out, lattice={"Lx": 16, "Ly": 16, "boundary": "periodic"},
                       run={"seed": 2, "equilibration_sweeps": 0, "sweeps": 2_000_000_000,
                            "measure_every": 20, "snapshot_every": 2000})
    p = subprocess.Popen([str(BIN), "run", str(write_config(tmp_path / "long.json", cfg)),
                          "--quiet", "--threads", "1"], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    partial = tmp_path / "long.h5.partial"
    try:
        ds = None
        deadline = time.time() + 30
        while time.time() < deadline:
            time.sleep(0.3)
            if not partial.exists():
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    if len(sm.observables(partial, as_xarray=False)["energy"].step):
                        break
                except (sm.SoftmatrixFileError, KeyError):
                    pass
        with pytest.warns(sm.RunInProgressWarning, match="in progress .the writer holds the file"):
            ds = retry(lambda: sm.observables(partial))
        assert p.poll() is None, "reading the partial file stopped the writer"
        n = ds.sizes["step"]
        assert n > 0
        with h5py.File(partial, "r", locking=False) as f:
            e = f["observables/energy/value"][:n]
            steps = f["observables/energy/step"][:n]
        assert np.array_equal(ds.energy.values, e) and np.array_equal(ds.step.values, steps)
        assert np.array_equal(ds.step.values, 20 * np.arange(1, n + 1))
        assert (ds.segment.values == 0).all() and ds.attrs["complete"] == 0
        with pytest.warns(sm.RunInProgressWarning):
            run = retry(lambda: sm.open_run(partial))
        assert not run.complete and run.summary.stats == {}
        for _ in range(10):
            rc, text, err = call("run", partial, "-o", tmp_path / "partial.png", "--dpi", DPI,
                                 capsys=capsys)
            if rc == 0 or "between two flushes" not in err:
                break
        assert rc == 0, err
        assert "warning:" in err and "in progress" in err and "(in progress)" in text
        assert p.poll() is None
        with pytest.raises(sm.SoftmatrixFileError, match="not found, but .*partial exists"):
            sm.open_run(out)
        # the file grows after our reads: the writer kept its lock and went on
        deadline = time.time() + 10
        while time.time() < deadline:
            time.sleep(0.5)
            with pytest.warns(sm.RunInProgressWarning):
                m = len(retry(lambda: sm.observables(partial, as_xarray=False))["energy"].step)
            if m > n:
                break
        assert m > n
    finally:
        p.kill()
        p.wait(timeout=30)


def test_partial_without_writer(files, tmp_path):
    """A .partial nobody writes (a crashed run): read, with the other warning."""
    part = tmp_path / "copy.h5.partial"
    shutil.copy(files["run"], part)
    with pytest.warns(sm.RunInProgressWarning, match="interrupted .no writer holds"):
        run = sm.open_run(part)
    assert np.array_equal(run.obs("energy").value, h5(files["run"], "observables/energy/value"))


# -------------------------------------------------------------- analyses

def test_first_crossing_and_onsets():
    T = np.array([1.0, 2.0, 3.0, 4.0])
    assert sm.first_crossing(T, [0, 0.5, 3, 9], 1.0) == pytest.approx(2.2)
    assert sm.first_crossing(T, [0, 0.5, 3, 9], 20.0) is None
    g = sm.glass_temperatures(T, [0, 2, 4, 6])
    assert g["T_g"] == pytest.approx(1.5) and g["T_m"] == pytest.approx(3.5)
    assert g["ratio"] == pytest.approx(1.5 / 3.5)
    f = np.zeros((4, 10))
    f[:, 1] = [0, 0.01, 0.1, 0.2]
    assert sm.onset_temperatures(T, f)[:2] == [2.0, None]


def test_is_log_spaced():
    assert sm.is_log_spaced(np.geomspace(0.12, 6, 12))
    assert not sm.is_log_spaced(np.linspace(0.5, 6, 12))
    assert not sm.is_log_spaced([0.5, 3.0, 6.5])
    assert not sm.is_log_spaced([1.0, 1.5, 2.25])         # geometric, but a factor 2 only
    assert sm.is_log_spaced([0.1, 0.2, 0.4, 0.8])


def test_fit_tau_levels_recovers_a_power_law():
    i = np.arange(8)
    tau = 1000.0 * 0.6 ** i
    count = np.array([50, 40, 30, 20, 5, 0, 0, 0])
    tau[count == 0] = np.nan
    fit = sm.fit_tau_levels(i, tau, 0.05 * tau, count, min_count=10)
    assert fit["r"] == pytest.approx(0.6, rel=1e-12) and fit["A"] == pytest.approx(1000, rel=1e-12)
    assert fit["levels"] == [0, 1, 2, 3] and fit["chi2"] == pytest.approx(0, abs=1e-18)
    assert sm.fit_tau_levels(i, tau, None, count, min_count=45) is None


def test_fit_relaxation_recovers_tau():
    t = np.arange(100.0, 2000.0, 10.0)
    y = 2.0 + 3.0 * np.exp(-(t - 100.0) / 250.0)
    f = sm.fit_relaxation(t, y)
    assert f["tau"] == pytest.approx(250.0, rel=1e-6) and f["resolved"]
    assert f["y_inf"] == pytest.approx(2.0, rel=1e-6) and f["y_0"] == pytest.approx(5.0, rel=1e-6)
    assert np.allclose(analysis.relaxation_curve(f, t), y, atol=1e-6)
    slow = sm.fit_relaxation(t, 1.0 - np.exp(-(t - 100.0) / 1e5))
    assert not slow["resolved"]


def test_kinetics_fits_on_a_cage_run(cage):
    run = sm.open_run(cage)
    fits = sm.tau_level_fits(run.kinetics, min_count=10)
    k = run.kinetics
    for s, fit in enumerate(fits):
        use = np.isfinite(k.tau_mean[s]) & (k.tau_count[s] >= 10)
        if use.sum() < 2:
            assert fit is None
        else:
            assert fit["levels"] == list(np.nonzero(use)[0])
            if use.sum() == 2:  # two points: the line goes through both
                i0, i1 = np.nonzero(use)[0]
                assert fit["r"] == pytest.approx((k.tau_mean[s, i1] / k.tau_mean[s, i0]) ** (1 / (i1 - i0)))
    rel = sm.relaxation_fits(run, "mean_level")
    assert [r["segment"] for r in rel] == [0, 1] and all(r["fit"] is not None for r in rel)


def test_numpy_census_reproduces_table1_json(files):
    """Ideal pyramids with a Neel mosaic: the numpy census equals `softmatrix table1`."""
    entries = json.loads(files["table1"].read_text())["entries"]
    L, c = 24, 12
    y, x = np.mgrid[:L, :L]
    d = np.abs(x - c) + np.abs(y - c)
    for i in range(9):
        res = sm.census_snapshot(np.maximum(-1, i - d), np.where(d % 2, -1, 1))
        assert res["n_match"].sum() == res["n_fitting"].sum()
        for e in entries:
            if e["V"] != i:
                continue
            cp = e["counted_plus_z"]
            want = cp["num"] / cp["den"] if isinstance(cp, dict) else cp
            assert res["mean"][e["column"]][i] == pytest.approx(want), (i, e["column"])


def test_census_group_matches_numpy_census(files):
    """/census written during the run equals the numpy census of the snapshot
    at the same step."""
    run = sm.open_run(files["run"])
    step = int(np.intersect1d(run.snapshots["level"].step, run.census["n_centres/step"])[-1])
    lev = run.snapshots["level"].at(step)[1]
    k = list(run.census["n_centres/step"]).index(step)
    res = sm.census_snapshot(lev, run.snapshots["sigma"].at(step)[1])
    assert np.array_equal(res["n_centres"], run.census["n_centres/value"][k])
    assert np.allclose(res["match_fraction"], run.census["match_fraction/value"][k], equal_nan=True)


@pytest.mark.parametrize("kind", ["missing", "truncated", "empty", "foreign", "incomplete"])
def test_reader_errors(bad_files, kind):
    path, msg = bad_files[kind]
    with pytest.raises(sm.SoftmatrixFileError, match=msg):
        sm.open_run(path)
    with pytest.raises(sm.SoftmatrixFileError):
        sm.open_sweep(path)
    if kind != "incomplete":
        with pytest.raises(sm.SoftmatrixFileError, match=msg):
            sm.observables(path)


# ------------------------------------------------------ figure conventions

UNIT = re.compile(r"\(.*(ε₀|k_B|sweeps|sites|site|level|fraction|dimensionless).*\)")


def assert_units(axes):
    for a in axes:
        for lab in (a.get_xlabel(), a.get_ylabel()):
            assert UNIT.search(lab), f"no unit in axis label {lab!r}"


def assert_title(fig, *words):
    fig.canvas.draw()
    t = fig._suptitle
    text = t.get_text()
    assert ".h5" not in text and "/" not in text.replace("ε₀/k_B", ""), text
    for w in words:
        assert w in text, (w, text)
    # constrained layout: the title lies inside the figure
    bb, fb = t.get_window_extent(), fig.bbox
    assert bb.x0 >= fb.x0 - 1 and bb.x1 <= fb.x1 + 1 and bb.y1 <= fb.y1 + 1, (bb, fb)
    assert type(fig.get_layout_engine()).__name__ == "ConstrainedLayoutEngine"


def test_run_figure_breaks_lines_at_the_gap(files):
    run = sm.open_run(files["run"])
    fig, info = figures.plot_run(run)
    try:
        ax = fig.axes
        assert_units(ax[:5][-1:])
        for a in ax[:5]:
            assert UNIT.search(a.get_ylabel()), a.get_ylabel()
        assert ax[4].get_xlabel() == "time (sweeps)" and "ε₀/k_B" in ax[4].get_ylabel()
        assert "ε₀" in ax[0].get_ylabel()
        # one discontinuity: the equilibration and jump of T before the last hold
        seg = run.segment_of_sample()
        T_line = ax[4].get_lines()[0]
        y = np.asarray(T_line.get_ydata(), float)
        assert info["breaks"] == 1 and np.isnan(y).sum() == 1
        k = int(np.nonzero(np.isnan(y))[0][0])
        assert k == int(np.sum(seg < 4)), "the NaN must separate segment 3 from segment 4"
        assert ax[4].get_yscale() == "linear"
        # the level legend: every level -1..8, categorical colours
        leg = ax[1].get_legend()
        labels = [t.get_text() for t in leg.get_texts()]
        assert sorted(labels) == sorted(figures.LEVEL_LABELS) and len(labels) == 10
        assert len(set(figures.LEVEL_COLOURS)) == 10
        assert_title(fig, "against time", "18×18", "level dynamics")
    finally:
        figures.plt.close(fig)


def test_snapshot_figure_sigma_as_z(files):
    run = sm.open_run(files["run"])
    fig, info = figures.plot_snapshot(run)
    try:
        lev_ax, sig_ax = fig.axes[0], fig.axes[1]
        assert [t.get_text() for t in sig_ax.get_legend().get_texts()] == ["+z", "-z"]
        lev = run.snapshots["level"].at()[1]
        shown = [t.get_text() for t in lev_ax.get_legend().get_texts()]
        assert shown == [figures.LEVEL_LABELS[v + 1] for v in range(-1, 9) if np.any(lev == v)]
        assert_units(fig.axes[:3])
        assert_title(fig, f"step {info['step']}", "ε₀/k_B", "18×18")
    finally:
        figures.plt.close(fig)


def test_sweep_figure_log_T_axis(sweep, files):
    fig, info = figures.plot_sweep(sm.open_sweep(sweep))
    try:
        assert info["T_scale"] == "log" and all(a.get_xscale() == "log" for a in fig.axes)
        assert_units(fig.axes)
        assert_title(fig, "against T", "8×8", "4 temperatures", "2 runs per T")
    finally:
        figures.plt.close(fig)
    fig, info = figures.plot_sweep(sm.open_sweep(files["run"]))  # holds 0.5, 3, 6.5: linear
    assert info["T_scale"] == "linear" and fig.axes[0].get_xscale() == "linear"
    figures.plt.close(fig)


def test_table1_figure_legible(files):
    paper = analysis.table1_paper()
    ideal = analysis.ideal_from_json(json.loads(files["table1"].read_text()))
    fig, info = figures.plot_table1(paper, ideal)
    try:
        texts = fig.axes[0].texts
        assert len(texts) == 9 * 8 and min(t.get_fontsize() for t in texts) >= 8.5
        assert_units(fig.axes)
        assert_title(fig, "Table 1")
        assert info["marks"][7, 4] == "differs" and info["marks"][8, 0] == "base"
    finally:
        figures.plt.close(fig)


def test_kinetics_figure(cage):
    run = sm.open_run(cage)
    fig, info = figures.plot_kinetics(run)
    try:
        assert_units(fig.axes)
        assert fig.axes[0].get_ylabel() == "τ_i (sweeps)" and fig.axes[0].get_yscale() == "log"
        assert_title(fig, "Cage kinetics", "16×16", "cage dynamics")
        # the relaxation panel: one gap (the equilibration of the second hold)
        y = np.concatenate([np.asarray(l.get_ydata(), float) for l in fig.axes[3].get_lines()
                            if l.get_linestyle() == "-"])
        assert len(y) == run.obs("mean_level").value.size
    finally:
        figures.plt.close(fig)


# ----------------------------------------------------------- subcommands

def test_plot_run(files, capsys):
    png = files["dir"] / "run_plot.png"
    rc, out, err = call("run", files["run"], "-o", png, "--dpi", DPI, "--pdf", capsys=capsys)
    assert rc == 0, err
    assert png_size(png) == px(figures.FIGSIZE["run"]) and png.with_suffix(".pdf").stat().st_size > 0
    with h5py.File(files["run"]) as f:
        e = f["observables/energy/value"][()]
        ms = f["observables/staggered_magnetization/value"][()]
        assert values(out, "mean energy") == [pytest.approx(e.mean(), rel=1e-9)]
        assert values(out, "mean n_soft_matrix") == [
            pytest.approx(f["observables/n_soft_matrix/value"][()].mean(), rel=1e-9, abs=1e-12)]
        assert values(out, "mean abs_staggered_magnetization") == [pytest.approx(np.abs(ms).mean(), rel=1e-9)]
        assert np.allclose(values(out, "final level_histogram"),
                           f["observables/level_histogram/value"][-1], atol=1e-6)


def test_plot_snapshot(files, capsys):
    png = files["dir"] / "snap.png"
    with h5py.File(files["run"]) as f:
        steps = f["snapshots/level/step"][()]
        lev = f["snapshots/level/value"][1]
        sig = f["snapshots/sigma/value"][1]
    rc, out, err = call("snapshot", files["run"], "--step", steps[1], "-o", png, "--dpi", DPI,
                        capsys=capsys)
    assert rc == 0, err
    w, h = figures.FIGSIZE["snapshot_panel"]
    assert png_size(png) == px((w * 3 + 0.8, h))  # level, sigma, z panels
    assert values(out, "level counts (-1..8)") == [float((lev == v).sum()) for v in range(-1, 9)]
    assert values(out, "mean level") == [pytest.approx(lev.mean())]
    assert values(out, "mean sigma") == [pytest.approx(sig.mean())]
    rc, out, err = call("snapshot", files["run"], "--list", capsys=capsys)
    assert rc == 0 and out.startswith("level: " + " ".join(str(s) for s in steps))
    rc, out, err = call("snapshot", files["run"], "--step", 7, "-o", png, capsys=capsys)
    assert rc == 1 and "no 'level' snapshot at step 7" in err


def test_plot_sweep_from_run_holds(files, capsys):
    png = files["dir"] / "sweep.png"
    rc, out, err = call("sweep", files["run"], "-o", png, "--dpi", DPI, capsys=capsys)
    assert rc == 0, err
    assert png_size(png) == px(figures.FIGSIZE["sweep"])
    with h5py.File(files["run"]) as f:
        nsm = f["summary/n_soft_matrix/mean"][()][[0, 4, 2]]
        assert np.allclose(values(out, "n_soft_matrix"), nsm, rtol=1e-9)
    g = sm.glass_temperatures([0.5, 3.0, 6.5], nsm)
    tg = out.split("T_g ")[1].split()[0]
    assert (tg == "n/a") if g["T_g"] is None else float(tg) == pytest.approx(g["T_g"])
    assert "paper 5/8" in out and "onset V0=" in out and "T axis linear" in out


def test_plot_sweep_on_softmatrix_sweep_index(sweep, tmp_path, capsys):
    rc, out, err = call("sweep", sweep, "--where", "run.seed=2", "-o", tmp_path / "sw.png",
                        "--dpi", DPI, capsys=capsys)
    assert rc == 0, err
    assert png_size(tmp_path / "sw.png") == px(figures.FIGSIZE["sweep"])
    assert "T axis log" in out
    with h5py.File(sweep) as f:
        T = f["segment/T_to"][()]
        seed = f["parameters/run.seed"][()]
        e = f["mean/energy"][()]
    sel = seed == 2
    order = np.argsort(T[sel])
    assert np.allclose(values(out, "energy"), e[sel][order], rtol=1e-9)
    sw = sm.open_sweep(sweep)  # both seeds, averaged per T
    assert np.allclose(sw.T, np.geomspace(0.2, 6, 4)) and list(sw.parameters["count"]) == [2] * 4
    assert np.allclose(sw.mean["energy"], [e[T == t].mean() for t in np.unique(T)])


def test_sweep_index_assumed_layout(files, capsys):
    """The older index layout: /sweep/T + /sweep/<name>/{mean,error}."""
    run = sm.open_run(files["run"])
    idx = files["dir"] / "index.h5"
    with h5py.File(idx, "w") as f:
        f.create_group("h5md").attrs["creator"] = "softmatrix"
        g = f.create_group("sweep")
        order = [4, 2, 0]  # deliberately unsorted
        g["T"] = run.summary.segments["T_from"][order]
        for name, s in run.summary.stats.items():
            g[f"{name}/mean"] = s["mean"][order]
            g[f"{name}/error"] = s["error"][order]
        g["parameters/seed"] = np.array([1, 2, 3])
    sw = sm.open_sweep(idx)
    assert sw.source == "index" and list(sw.T) == [0.5, 3.0, 6.5]
    assert list(sw.parameters["seed"]) == [3, 1, 2]
    rc, out, err = call("sweep", idx, "-o", files["dir"] / "index.png", "--dpi", DPI, capsys=capsys)
    assert rc == 0, err
    assert np.allclose(values(out, "energy"), run.summary.mean("energy")[[0, 4, 2]], rtol=1e-9)


def test_plot_hysteresis(files, capsys):
    png = files["dir"] / "hyst.png"
    rc, out, err = call("hysteresis", files["run"], "-o", png, "--dpi", DPI, capsys=capsys)
    assert rc == 0, err
    assert png_size(png) == px(figures.FIGSIZE["hysteresis"])
    run = sm.open_run(files["run"])
    seg = run.segment_of_sample()
    e = run.obs("energy").value
    heat = [ln for ln in out.splitlines() if ln.startswith("heating ")][0]
    cool = [ln for ln in out.splitlines() if ln.startswith("cooling ")][0]
    assert float(heat.split("energy=")[1].split()[0]) == pytest.approx(e[seg == 1].mean(), rel=1e-9)
    assert float(cool.split("energy=")[1].split()[0]) == pytest.approx(e[seg == 3].mean(), rel=1e-9)
    assert f"n={int((seg == 1).sum())}" in heat
    # loop area = trapezoid integral of (cooling - heating) over the bins both fill
    T = run.obs("temperature").value
    edges = np.linspace(T[(seg == 1) | (seg == 3)].min(), T[(seg == 1) | (seg == 3)].max(), 31)
    edges[-1] += 1e-12 * max(1.0, abs(edges[-1]))
    c, mh, _, _ = analysis.binned(T[seg == 1], e[seg == 1], edges)
    _, mc, _, _ = analysis.binned(T[seg == 3], e[seg == 3], edges)
    ok = np.isfinite(mh) & np.isfinite(mc)
    want = np.trapz((mc - mh)[ok], c[ok])
    assert values(out, "energy loop area") == [pytest.approx(want, rel=1e-5)]


def test_plot_table1_json_and_run(files, capsys):
    png = files["dir"] / "t1.png"
    rc, out, err = call("table1", "--table1-json", files["table1"], "-o", png, "--dpi", DPI,
                        capsys=capsys)
    assert rc == 0, err
    assert png_size(png) == px(figures.FIGSIZE["table1"])
    data = json.loads(files["table1"].read_text())
    n_entries = len(data["entries"])
    assert f"{n_entries - data['differs']} of {n_entries} entries equal" in out
    # with the run: its /census (last row)
    rc, out, err = call("table1", files["run"], "--table1-json", files["table1"], "-o", png,
                        "--dpi", DPI, capsys=capsys)
    assert rc == 0, err
    assert png_size(png) == px(figures.FIGSIZE["table1_run"])
    assert "simulator census" in out
    last = h5(files["run"], "census/n_centres/value")[-1]
    for i in range(9):
        line = [ln for ln in out.splitlines() if ln.startswith(f"V{i} ")][-1].split()
        assert int(line[1]) == int(last[i])


def test_plot_table1_numpy_census_without_census_group(files, tmp_path, capsys):
    run = tmp_path / "nocensus.h5"
    shutil.copy(files["run"], run)
    with h5py.File(run, "a") as f:
        del f["census"]
        lev = f["snapshots/level/value"][-1]
    rc, out, err = call("table1", run, "-o", tmp_path / "t.png", "--dpi", DPI, capsys=capsys)
    assert rc == 0, err
    assert "census by softmatrix.analysis" in out
    for i in range(9):
        line = [ln for ln in out.splitlines() if ln.startswith(f"V{i} ")][-1].split()
        assert int(line[1]) == int((lev == i).sum())


def test_plot_kinetics(cage, tmp_path, capsys):
    png = tmp_path / "kin.png"
    rc, out, err = call("kinetics", cage, "-o", png, "--dpi", DPI, capsys=capsys)
    assert rc == 0, err
    assert png_size(png) == px(figures.FIGSIZE["kinetics"])
    with h5py.File(cage) as f:
        for s in range(2):
            assert np.allclose(values(out, f"tau {s}"), f["kinetics/tau/mean"][s], rtol=1e-9,
                               equal_nan=True)
            assert values(out, f"tau_count {s}") == list(f["kinetics/tau/count"][s])
            assert values(out, f"loop_completions {s}") == list(f["kinetics/loop_completions"][s])
    rel = sm.relaxation_fits(sm.open_run(cage))
    for r in rel:
        line = [ln for ln in out.splitlines() if ln.startswith(f"relaxation {r['segment']} ")][0]
        assert float(line.split("tau=")[1].split()[0]) == pytest.approx(r["fit"]["tau"], rel=1e-5)
    rc, out, err = call("kinetics", cage.parent / "missing.h5", capsys=capsys)
    assert rc == 1 and "no such file" in err


def test_plot_kinetics_refuses_level_run(files, capsys):
    rc, out, err = call("kinetics", files["run"], "-o", files["dir"] / "k.png", capsys=capsys)
    assert rc == 1 and "only complete cage-dynamics runs" in err and err.count("\n") == 1


@pytest.mark.parametrize("sub", ["run", "snapshot", "sweep", "hysteresis", "table1", "kinetics"])
def test_subcommands_reject_bad_files(sub, bad_files, capsys):
    for kind, (path, msg) in bad_files.items():
        rc, out, err = call(sub, path, "-o", path.parent / "bad.png", capsys=capsys)
        assert rc == 1, (sub, kind)
        assert err.count("\n") == 1 and msg in err and "Traceback" not in err, (sub, kind, err)


# --------------------------------------------------- wrappers and -m entry

def test_wrappers_and_module_entry(bad_files, files, tmp_path):
    """scripts/*.py (used by `make figures`) and `python3 -m softmatrix.plot`
    in real subprocesses: exit status, one-line errors, help, a pipe."""
    path, msg = bad_files["truncated"]
    p = subprocess.run([sys.executable, str(SCRIPTS / "plot_run.py"), str(path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.strip().count("\n") == 0 and msg in p.stderr
    assert p.stderr.startswith("plot_run.py: error:")
    for script in ("plot_run", "plot_snapshot", "plot_sweep", "table1_report", "hysteresis"):
        text = (SCRIPTS / f"{script}.py").read_text()
        assert len(text.splitlines()) <= 12 and "script_main(" in text, script
    p = subprocess.run([sys.executable, str(SCRIPTS / "plot_sweep.py"), "--help"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "--output" in p.stdout and "--where" in p.stdout
    p = subprocess.run([sys.executable, str(SCRIPTS / "table1_report.py"), "-o",
                        str(tmp_path / "pipe.png"), "--dpi", str(DPI)],
                       input=files["table1"].read_text(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "entries equal the printed paper value" in p.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    p = subprocess.run([sys.executable, "-m", "softmatrix.plot", "table1", "--table1-json", str(bad)],
                       capture_output=True, text=True, timeout=60, env=ENV, cwd=tmp_path)
    assert p.returncode == 1 and "not valid JSON" in p.stderr
    p = subprocess.run([sys.executable, "-m", "softmatrix.plot", "--help"],
                       capture_output=True, text=True, timeout=60, env=ENV, cwd=tmp_path)
    assert p.returncode == 0
    for sub in smplot.SUBCOMMANDS:
        assert sub in p.stdout


def test_softmatrix_tools_reexport():
    """scripts/softmatrix_tools is the package under another name."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        import softmatrix_tools as st
    finally:
        sys.path.remove(str(SCRIPTS))
    assert st.open_run is sm.open_run and st.census_snapshot is sm.census_snapshot
    assert sorted(p.name for p in (SCRIPTS / "softmatrix_tools").iterdir()
                  if p.suffix == ".py") == ["__init__.py"]
