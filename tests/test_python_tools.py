"""Python post-processing (scripts/, issue #7): the softmatrix_tools readers,
every plotting script on files the program itself writes, and the clear
one-line errors on bad input. Run with Debian's /usr/bin/python3 -m pytest."""
import importlib.util
import json
import shutil
import struct
import subprocess
import sys

import h5py
import numpy as np
import pytest

from conftest import ROOT, run_sm, small_config, write_config

SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))
import softmatrix_tools as st  # noqa: E402

DPI = 40
# script -> figure size in inches for a standard call (checked against the PNG)
FIGSIZE = {"plot_run": (8.0, 9.0), "plot_sweep": (11.0, 7.0), "hysteresis": (10.0, 6.5)}


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def call(name, *args, capsys):
    """Run a script's main in-process; return (exit code, stdout, stderr)."""
    mod = load_script(name)
    sys.argv = [f"{name}.py"]
    rc = mod.run_main(mod.main, [str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def values(out, key):
    """Numbers after `key` on the stdout line that starts with it."""
    for line in out.splitlines():
        if line.startswith(key + " "):
            return [float(x) for x in line[len(key):].split()]
    raise AssertionError(f"no line '{key} ...' in:\n{out}")


@pytest.fixture(scope="module")
def files(sm_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("pytools")
    run = d / "run.h5"
    cfg = small_config(run, lattice={"Lx": 18, "Ly": 18, "boundary": "periodic"},
                       run={"seed": 5, "equilibration_sweeps": 20, "measure_every": 2,
                            "snapshot_every": 100})
    del cfg["temperature"]
    cfg["schedule"] = [{"T": 0.5, "sweeps": 100}, {"T_from": 0.5, "T_to": 6.5, "sweeps": 300},
                       {"T": 6.5, "sweeps": 100}, {"T_from": 6.5, "T_to": 0.5, "sweeps": 300},
                       {"T": 3.0, "sweeps": 100}]
    cfg["output"]["snapshot_fields"] = ["level", "sigma", "z"]
    rc, out, err = run_sm("run", write_config(d / "run.json", cfg), "--quiet")
    assert rc == 0, err
    rc, t1, err = run_sm("table1", "--json")
    assert rc == 0, err
    (d / "table1.json").write_text(t1)
    return {"dir": d, "run": run, "table1": d / "table1.json"}


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
    shutil.copy(good, d / "inprogress.h5.partial")
    shutil.copy(good, d / "nosummary.h5")
    with h5py.File(d / "nosummary.h5", "a") as f:
        del f["summary"]
    return {"missing": (d / "missing.h5", "no such file"),
            "truncated": (d / "truncated.h5", "not a readable HDF5 file"),
            "empty": (d / "empty.h5", "empty file"),
            "foreign": (d / "foreign.h5", "not a softmatrix file"),
            "partial": (d / "inprogress.h5.partial", "partial file"),
            "incomplete": (d / "nosummary.h5", "incomplete run")}


# ------------------------------------------------------------------ readers

def test_open_run_matches_hdf5(files):
    run = st.open_run(files["run"])
    with h5py.File(files["run"]) as f:
        assert np.array_equal(run.obs("energy").value, f["observables/energy/value"][()])
        assert run.obs("level_histogram").columns == [str(l) for l in range(-1, 9)]
        assert np.array_equal(run.snapshots["level"].value, f["snapshots/level/value"][()])
        assert np.array_equal(run.summary.mean("energy"), f["summary/energy/mean"][()])
        assert np.array_equal(run.summary.segments["T_from"], f["summary/segments/T_from"][()])
    assert run.lattice == (18, 18) and run.n_segments == 5 and run.census == {}
    seg = run.segment_of_sample()
    assert np.array_equal(np.bincount(seg), run.summary.segments["samples"].astype(int))
    br = st.branch_of_sample(run)
    assert set(np.unique(br[seg == 1])) == {1} and set(np.unique(br[seg == 3])) == {-1}
    assert not np.any(br[(seg == 0) | (seg == 2) | (seg == 4)])


def test_sweep_from_run_holds(files):
    sw = st.open_sweep(files["run"])
    assert sw.source == "run-holds" and list(sw.T) == [0.5, 3.0, 6.5]
    with h5py.File(files["run"]) as f:
        assert np.allclose(sw.mean["energy"], f["summary/energy/mean"][()][[0, 4, 2]])
        assert sw.mean["level_histogram"].shape == (3, 10)


def test_sweep_index_assumed_layout(files, capsys):
    """The assumed future index layout: /sweep/T + /sweep/<name>/{mean,error}."""
    run = st.open_run(files["run"])
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
    sw = st.open_sweep(idx)
    assert sw.source == "index" and list(sw.T) == [0.5, 3.0, 6.5]
    assert list(sw.parameters["seed"]) == [3, 1, 2]
    rc, out, err = call("plot_sweep", idx, "-o", files["dir"] / "index.png", "--dpi", DPI,
                        capsys=capsys)
    assert rc == 0, err
    assert np.allclose(values(out, "energy"), run.summary.mean("energy")[[0, 4, 2]], rtol=1e-9)


def test_first_crossing_and_onsets():
    T = np.array([1.0, 2.0, 3.0, 4.0])
    assert st.first_crossing(T, [0, 0.5, 3, 9], 1.0) == pytest.approx(2.2)
    assert st.first_crossing(T, [0, 0.5, 3, 9], 20.0) is None
    g = st.glass_temperatures(T, [0, 2, 4, 6])
    assert g["T_g"] == pytest.approx(1.5) and g["T_m"] == pytest.approx(3.5)
    assert g["ratio"] == pytest.approx(1.5 / 3.5)
    f = np.zeros((4, 10))
    f[:, 1] = [0, 0.01, 0.1, 0.2]
    assert st.onset_temperatures(T, f)[:2] == [2.0, None]


def test_numpy_census_reproduces_table1_json(files):
    """Ideal pyramids with a Neel mosaic: the numpy census equals `softmatrix table1`."""
    entries = json.loads(files["table1"].read_text())["entries"]
    L, c = 24, 12
    y, x = np.mgrid[:L, :L]
    d = np.abs(x - c) + np.abs(y - c)
    for i in range(9):
        res = st.census_snapshot(np.maximum(-1, i - d), np.where(d % 2, -1, 1))
        assert res["n_match"].sum() == res["n_fitting"].sum()
        for e in entries:
            if e["V"] != i:
                continue
            cp = e["counted_plus_z"]
            want = cp["num"] / cp["den"] if isinstance(cp, dict) else cp
            assert res["mean"][e["column"]][i] == pytest.approx(want), (i, e["column"])


@pytest.mark.parametrize("kind", ["missing", "truncated", "empty", "foreign", "partial",
                                  "incomplete"])
def test_reader_errors(bad_files, kind):
    path, msg = bad_files[kind]
    with pytest.raises(st.SoftmatrixFileError, match=msg):
        st.open_run(path)
    with pytest.raises(st.SoftmatrixFileError):
        st.open_sweep(path)


# ------------------------------------------------------------------ scripts

def test_plot_run(files, capsys):
    png = files["dir"] / "run_plot.png"
    rc, out, err = call("plot_run", files["run"], "-o", png, "--dpi", DPI, "--pdf", capsys=capsys)
    assert rc == 0, err
    w, h = FIGSIZE["plot_run"]
    assert png_size(png) == (int(w * DPI), int(h * DPI)) and png.with_suffix(".pdf").stat().st_size > 0
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
    rc, out, err = call("plot_snapshot", files["run"], "--step", steps[1], "-o", png, "--dpi", DPI,
                        capsys=capsys)
    assert rc == 0, err
    w, h = png_size(png)
    assert (w, h) == (int((4.0 * 3 + 0.6) * DPI), int(4.5 * DPI))  # level, sigma, z panels
    assert values(out, "level counts (-1..8)") == [float((lev == l).sum()) for l in range(-1, 9)]
    assert values(out, "mean level") == [pytest.approx(lev.mean())]
    assert values(out, "mean sigma") == [pytest.approx(sig.mean())]
    rc, out, err = call("plot_snapshot", files["run"], "--step", 7, "-o", png, capsys=capsys)
    assert rc == 1 and "no 'level' snapshot at step 7" in err


def test_plot_sweep(files, capsys):
    png = files["dir"] / "sweep.png"
    rc, out, err = call("plot_sweep", files["run"], "-o", png, "--dpi", DPI, capsys=capsys)
    assert rc == 0, err
    w, h = FIGSIZE["plot_sweep"]
    assert png_size(png) == (int(w * DPI), int(h * DPI))
    with h5py.File(files["run"]) as f:
        nsm = f["summary/n_soft_matrix/mean"][()][[0, 4, 2]]
        assert np.allclose(values(out, "n_soft_matrix"), nsm, rtol=1e-9)
    g = st.glass_temperatures([0.5, 3.0, 6.5], nsm)
    tg = out.split("T_g ")[1].split()[0]
    assert (tg == "n/a") if g["T_g"] is None else float(tg) == pytest.approx(g["T_g"])
    assert "paper 5/8" in out and "onset V0=" in out


def test_hysteresis(files, capsys):
    png = files["dir"] / "hyst.png"
    rc, out, err = call("hysteresis", files["run"], "-o", png, "--dpi", DPI, capsys=capsys)
    assert rc == 0, err
    w, h = FIGSIZE["hysteresis"]
    assert png_size(png) == (int(w * DPI), int(h * DPI))
    run = st.open_run(files["run"])
    seg = run.segment_of_sample()
    e = run.obs("energy").value
    heat = [l for l in out.splitlines() if l.startswith("heating ")][0]
    cool = [l for l in out.splitlines() if l.startswith("cooling ")][0]
    assert float(heat.split("energy=")[1].split()[0]) == pytest.approx(e[seg == 1].mean(), rel=1e-9)
    assert float(cool.split("energy=")[1].split()[0]) == pytest.approx(e[seg == 3].mean(), rel=1e-9)
    assert f"n={int((seg == 1).sum())}" in heat


def test_table1_report_json_and_run(files, capsys):
    png = files["dir"] / "t1.png"
    rc, out, err = call("table1_report", "--table1-json", files["table1"], "-o", png, "--dpi", DPI,
                        capsys=capsys)
    assert rc == 0, err
    assert png_size(png) == (int(8.0 * DPI), int(5.5 * DPI))
    data = json.loads(files["table1"].read_text())
    n_entries = len(data["entries"])
    assert f"{n_entries - data['differs']} of {n_entries} entries equal" in out
    # with the run: census of the last snapshot (or /census when the run has one)
    rc, out, err = call("table1_report", files["run"], "--table1-json", files["table1"], "-o", png,
                        "--dpi", DPI, capsys=capsys)
    assert rc == 0, err
    assert png_size(png) == (int(12.0 * DPI), int(5.5 * DPI))
    run = st.open_run(files["run"])
    if not run.census:
        lev = run.snapshots["level"].value[-1]
        for i in range(9):
            line = [l for l in out.splitlines() if l.startswith(f"V{i} ")][-1].split()
            assert int(line[1]) == int((lev == i).sum())


def test_table1_report_from_pipe(files):
    """`softmatrix table1 --json | table1_report.py` in a real subprocess."""
    p = subprocess.run([sys.executable, str(SCRIPTS / "table1_report.py"), "-o",
                        str(files["dir"] / "pipe.png"), "--dpi", str(DPI)],
                       input=files["table1"].read_text(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "entries equal the printed paper value" in p.stdout


@pytest.mark.parametrize("script", ["plot_run", "plot_snapshot", "plot_sweep", "hysteresis",
                                    "table1_report"])
def test_scripts_reject_bad_files(script, bad_files, capsys):
    for kind, (path, msg) in bad_files.items():
        rc, out, err = call(script, path, "-o", path.parent / "bad.png", capsys=capsys)
        assert rc == 1, (script, kind)
        assert err.count("\n") == 1 and msg in err and "Traceback" not in err, (script, kind, err)


def test_bad_file_exit_status_and_help(bad_files, files):
    path, msg = bad_files["truncated"]
    p = subprocess.run([sys.executable, str(SCRIPTS / "plot_run.py"), str(path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.strip().count("\n") == 0 and msg in p.stderr
    p = subprocess.run([sys.executable, str(SCRIPTS / "plot_sweep.py"), "--help"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "--output" in p.stdout and "--pdf" in p.stdout
    bad = files["dir"] / "bad.json"
    bad.write_text("not json")
    p = subprocess.run([sys.executable, str(SCRIPTS / "table1_report.py"), "--table1-json", str(bad)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "not valid JSON" in p.stderr


# ------------------------------------------- simulator census and sweep index

def test_census_group_matches_numpy_census(sm_bin, tmp_path, capsys):
    """/census written during a run equals the numpy census of the snapshot at
    the same step, and table1_report reads it."""
    out = tmp_path / "c.h5"
    cfg = small_config(out, lattice={"Lx": 18, "Ly": 18, "boundary": "periodic"},
                       temperature=2.5,
                       run={"seed": 9, "equilibration_sweeps": 20, "sweeps": 200,
                            "measure_every": 2, "census_every": 50, "snapshot_every": 100})
    rc, _, err = run_sm("run", write_config(tmp_path / "c.json", cfg), "--quiet")
    if rc != 0 and "census_every" in err:
        pytest.skip("this build has no run.census_every")
    assert rc == 0, err
    run = st.open_run(out)
    assert "n_centres/value" in run.census
    step, lev = run.snapshots["level"].at()
    k = list(run.census["n_centres/step"]).index(step)
    res = st.census_snapshot(lev, run.snapshots["sigma"].at(step)[1])
    assert np.array_equal(res["n_centres"], run.census["n_centres/value"][k])
    assert np.allclose(res["match_fraction"], run.census["match_fraction/value"][k], equal_nan=True)
    rc, text, err = call("table1_report", out, "-o", tmp_path / "c.png", "--dpi", DPI, capsys=capsys)
    assert rc == 0, err and "simulator census" in text
    last = run.census["n_centres/value"][-1]
    for i in range(9):
        line = [l for l in text.splitlines() if l.startswith(f"V{i} ")][-1].split()
        assert int(line[1]) == int(last[i])


def test_plot_sweep_on_softmatrix_sweep_index(sm_bin, tmp_path, capsys):
    cfg = small_config(tmp_path / "sw.h5", run={"seed": 1, "equilibration_sweeps": 20,
                                                "sweeps": 60, "measure_every": 2})
    cfg["sweep"] = {"keys": {"temperature": [4.0, 1.0, 6.5], "run.seed": [1, 2]}}
    rc, _, err = run_sm("sweep", write_config(tmp_path / "sw.json", cfg), "--output-dir",
                        tmp_path / "sw", "--quiet")
    assert rc == 0, err
    idx = tmp_path / "sw" / "index.h5"
    rc, out, err = call("plot_sweep", idx, "--where", "run.seed=2", "-o", tmp_path / "sw.png",
                        "--dpi", DPI, capsys=capsys)
    assert rc == 0, err
    assert png_size(tmp_path / "sw.png") == (int(11.0 * DPI), int(7.0 * DPI))
    with h5py.File(idx) as f:
        T = f["segment/T_to"][()]
        seed = f["parameters/run.seed"][()]
        e = f["mean/energy"][()]
    sel = seed == 2
    order = np.argsort(T[sel])
    assert np.allclose(values(out, "energy"), e[sel][order], rtol=1e-9)
    sw = st.open_sweep(idx)  # both seeds, averaged per T
    assert list(sw.T) == [1.0, 4.0, 6.5] and list(sw.parameters["count"]) == [2, 2, 2]
    assert np.allclose(sw.mean["energy"], [e[T == t].mean() for t in (1.0, 4.0, 6.5)])
