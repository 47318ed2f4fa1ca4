"""Parameter sweeps: expansion of the sweep block, its errors, the index,
sharding + merge, resuming an interrupted sweep and the job split."""
import json
import math
import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from conftest import BIN, ROOT, run_sm as _run_sm, small_config, write_config

# Idle OpenMP threads sleep instead of spinning: points of a sweep run side by
# side on a test machine that may have fewer free cores than threads.
ENV = dict(os.environ, OMP_WAIT_POLICY="passive")


def run_sm(*args):
    return _run_sm(*args, env=ENV)


def sweep_config(tmp_path, sweep, name="s.json", **over):
    cfg = small_config(tmp_path / "out.h5", **over)
    cfg["sweep"] = sweep
    return write_config(tmp_path / name, cfg)


def listed(cfg, *extra):
    """The points of `sweep --list`: [(point, file, {key: value})]."""
    rc, out, err = run_sm("sweep", cfg, "--list", *extra)
    assert rc == 0, err
    rows = []
    for line in out.splitlines():
        p, f, *kv = line.split("\t")
        rows.append((int(p), f, {k: json.loads(v) for k, v in (x.split("=", 1) for x in kv)}))
    return rows


def datasets(path):
    """Every dataset of an HDF5 file as numpy arrays, keyed by path."""
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def assert_same_index(a, b):
    da, db = datasets(a), datasets(b)
    assert sorted(da) == sorted(db)
    for k in da:
        x, y = da[k], db[k]
        assert x.dtype == y.dtype and x.shape == y.shape, k
        if x.dtype.kind == "O":
            assert list(x) == list(y), k
        else:
            assert x.tobytes() == y.tobytes(), k  # bit for bit, NaNs included


# ---- expansion ----------------------------------------------------------

def test_product_order_first_key_slowest(sm_bin, tmp_path):
    cfg = sweep_config(tmp_path, {"keys": {"temperature": [1.0, 2.0, 3.0], "run.seed": [5, 6]}})
    rows = listed(cfg)
    assert [r[0] for r in rows] == list(range(6))
    assert [(r[2]["temperature"], r[2]["run.seed"]) for r in rows] == \
        [(1, 5), (1, 6), (2, 5), (2, 6), (3, 5), (3, 6)]
    assert rows[3][1] == str(tmp_path / "out" / "point_0003.h5")


def test_zip_pairs_values(sm_bin, tmp_path):
    cfg = sweep_config(tmp_path, {"mode": "zip", "keys": {"temperature": [1.0, 2.0, 3.0],
                                                          "model.J": [0.1, 0.2, 0.3]}})
    assert [(r[2]["temperature"], r[2]["model.J"]) for r in listed(cfg)] == \
        [(1, 0.1), (2, 0.2), (3, 0.3)]


def test_ranges_match_numpy_exactly(sm_bin, tmp_path):
    cfg = sweep_config(tmp_path, {"mode": "zip", "keys": {
        "temperature": {"start": 0.1, "stop": 7.3, "num": 9, "scale": "log"},
        "model.J": {"start": -0.25, "stop": 0.4, "num": 9},
        "model.h": {"start": 1, "stop": 1000, "num": 9, "scale": "log"}}})
    rows = listed(cfg)
    T = [r[2]["temperature"] for r in rows]
    J = [r[2]["model.J"] for r in rows]
    h = [r[2]["model.h"] for r in rows]
    # numpy.geomspace's arithmetic with the C library's pow (numpy may use a
    # vectorised pow that differs in the last bit), end points exact
    la, lb = math.log10(0.1), math.log10(7.3)
    assert T == [0.1] + [10.0 ** (i * ((lb - la) / 8) + la) for i in range(1, 8)] + [7.3]
    assert np.allclose(T, np.geomspace(0.1, 7.3, 9), rtol=1e-15, atol=0)
    assert J == list(np.linspace(-0.25, 0.4, 9))
    assert h[::2] == [1.0, 10 ** 0.75, 10 ** 1.5, 10 ** 2.25, 1000.0]
    cfg = sweep_config(tmp_path, {"keys": {"temperature": {"start": 1, "stop": 1000, "num": 4,
                                                           "scale": "log"}}})
    assert [r[2]["temperature"] for r in listed(cfg)] == [1, 10, 100, 1000]
    cfg = sweep_config(tmp_path, {"keys": {"temperature": {"start": 2.5, "stop": 9, "num": 1}}})
    assert [r[2]["temperature"] for r in listed(cfg)] == [2.5]


def test_set_overrides_reach_the_sweep_block(sm_bin, tmp_path):
    cfg = sweep_config(tmp_path, {"keys": {"temperature": [1.0, 2.0]}})
    rows = listed(cfg, "--set", 'sweep.mode="zip"', "--set", "sweep.keys.run.seed=[7,8]",
                  "--output-dir", tmp_path / "d")
    assert [(r[2]["temperature"], r[2]["run.seed"]) for r in rows] == [(1, 7), (2, 8)]
    assert rows[1][1] == str(tmp_path / "d" / "point_0001.h5")


SWEEP_ERRORS = [
    ({"keys": {"model.gg": [1, 2]}}, "sweep.keys.model.gg: unknown key path"),
    ({"keys": {"temperature": {"start": 1, "stop": 2, "num": 0}}},
     "sweep.keys.temperature.num: must be an integer >= 1"),
    ({"keys": {"temperature": {"start": 1, "stop": 2, "num": 2.5}}},
     "sweep.keys.temperature.num: must be an integer >= 1"),
    ({"keys": {"temperature": {"start": 0, "stop": 2, "num": 3, "scale": "log"}}},
     'sweep.keys.temperature.start: must be > 0 with scale "log"'),
    ({"keys": {"temperature": {"start": 1, "stop": "x", "num": 3}}},
     "sweep.keys.temperature.stop: must be a finite number"),
    ({"keys": {"temperature": {"start": 1, "stop": 2, "num": 3, "scale": "sqrt"}}},
     "sweep.keys.temperature.scale: must be one of lin|log"),
    ({"keys": {"temperature": {"start": 1, "stop": 2, "num": 3, "step": 1}}},
     "sweep.keys.temperature.step: unknown key"),
    ({"mode": "zip", "keys": {"temperature": [1, 2, 3], "run.seed": [1, 2]}},
     'sweep.keys: mode "zip" needs one length for every key (temperature has 3 values, run.seed has 2)'),
    ({"mode": "diagonal", "keys": {"temperature": [1]}}, "sweep.mode: must be one of product|zip"),
    ({"keys": {}}, "sweep.keys: must be an object naming at least one key path"),
    ({"mode": "zip"}, "sweep.keys: missing"),
    ({"keys": {"temperature": []}}, "sweep.keys.temperature: must be a non-empty list"),
    ({"keys": {"temperature": 3}}, "sweep.keys.temperature: must be a list of values"),
    ({"keys": {"temperature": [1]}, "extra": 1}, "sweep.extra: unknown key (allowed: mode, keys)"),
    ({"keys": {"output.path": ["a.h5"]}}, "sweep.keys.output.path: cannot be swept"),
    ({"keys": {"temperature": [1], "schedule": [[{"T": 1, "sweeps": 2}]]}},
     "sweep.keys.schedule: cannot be swept together with temperature"),
    ({"keys": {"temperature": {"values": [1, 2], "labels": ["a"]}}},
     "sweep.keys.temperature.labels: must be a list of 2 strings"),
    # values are checked as the points they make, before anything runs
    ({"keys": {"run.seed": [1, 2], "temperature": [1.5, -2]}},
     "sweep.keys.temperature: point 1 (run.seed=1 temperature=-2): must be a number > 0 (got -2)"),
    ({"keys": {"model.g": [4, "x"]}}, 'sweep.keys.model.g: point 1 (model.g="x"): must be a number > 0'),
    ({"keys": {"lattice.Lx": [8, 7]}}, "sweep.keys.lattice.Lx: point 1 (lattice.Lx=7): must be even"),
    ({"keys": {"schedule": [[{"T": 1}]]}}, "sweep.keys.schedule: point 0 (schedule=[{\"T\":1}]): "
                                           "schedule[0].sweeps: missing"),
]


@pytest.mark.parametrize("sweep,msg", SWEEP_ERRORS)
def test_sweep_block_errors(sm_bin, tmp_path, sweep, msg):
    cfg = sweep_config(tmp_path, sweep)
    rc, out, err = run_sm("sweep", cfg)
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2 and len(lines) == 1 and str(cfg) in lines[0] and msg in lines[0], err
    assert not (tmp_path / "out").exists()  # nothing ran


def test_sweep_needs_a_block_and_run_refuses_one(sm_bin, tmp_path):
    plain = write_config(tmp_path / "p.json", small_config(tmp_path / "o.h5"))
    rc, _, err = run_sm("sweep", plain)
    assert rc == 2 and "sweep: missing" in err
    cfg = sweep_config(tmp_path, {"keys": {"temperature": [1.0]}})
    for cmd in ("run", "validate"):
        rc, _, err = run_sm(cmd, cfg)
        assert rc == 2 and "sweep: a sweep config runs with 'softmatrix sweep CONFIG'" in err
    for bad, msg in [(["--shard", "3/2"], "--shard: must be K/N"), (["--jobs", "0"], "--jobs: must be")]:
        rc, _, err = run_sm("sweep", cfg, *bad)
        assert rc == 2 and msg in err


# ---- running, the index, sharding ---------------------------------------

SMALL = {"keys": {"temperature": {"start": 0.5, "stop": 4, "num": 3, "scale": "log"},
                  "run.seed": [1, 2]}}


def test_index_rows_and_point_files(sm_bin, tmp_path):
    cfg = sweep_config(tmp_path, SMALL)
    rc, out, err = run_sm("sweep", cfg)
    assert rc == 0, err
    d = tmp_path / "out"
    assert f"wrote {d / 'index.h5'}" in out and "6/6 points done" in err and "ETA" in err
    assert sorted(os.listdir(d)) == ["index.h5"] + [f"point_{i:04d}.h5" for i in range(6)]
    T = np.geomspace(0.5, 4, 3)
    with h5py.File(d / "index.h5", "r") as f:
        assert f.attrs["npoints"] == 6 and "shard" not in f.attrs
        assert json.loads(f.attrs["sweep_json"])["keys"]["run.seed"]["values"] == [1, 2]
        assert list(f["point"][:]) == list(range(6))
        assert list(f["file"].asstr()[:]) == [f"point_{i:04d}.h5" for i in range(6)]
        assert list(f["parameters/temperature"][:]) == list(np.repeat(T, 2))
        assert f["parameters/run.seed"].dtype == np.int64 and list(f["parameters/run.seed"][:]) == [1, 2] * 3
        assert list(f["parameter_index/temperature"][:]) == [0, 0, 1, 1, 2, 2]
        assert f["mean/level_histogram"].shape == (6, 10)
        assert f["mean/level_histogram"].attrs["columns"] == "-1,0,1,2,3,4,5,6,7,8"
        for name in ["specific_heat", "susceptibility", "staggered_susceptibility", "energy"]:
            assert f[f"mean/{name}"].shape == (6,) and f[f"error/{name}"].shape == (6,)
        for i in range(6):
            with h5py.File(d / f"point_{i:04d}.h5", "r") as p:
                c = json.loads(p["parameters"].attrs["config_json"])
                assert c["temperature"] == T[i // 2] and c["run"]["seed"] == 1 + i % 2
                for name in ["energy", "specific_heat", "mean_level"]:
                    assert f[f"mean/{name}"][i] == p[f"summary/{name}/mean"][-1]
                    assert f[f"error/{name}"][i] == p[f"summary/{name}/error"][-1]


def test_last_segment_and_labels(sm_bin, tmp_path):
    hold = [{"T": 3, "sweeps": 50}, {"T": 0.5, "sweeps": 80}]
    ramp = [{"T": 3, "sweeps": 50}, {"T_from": 3, "T_to": 0.5, "sweeps": 60}, {"T": 0.5, "sweeps": 80}]
    cfg = sweep_config(tmp_path, {"keys": {"schedule": {"values": [hold, ramp],
                                                        "labels": ["quench", "slow"]}}})
    rc, _, err = run_sm("sweep", cfg, "--quiet")
    assert rc == 0 and err == ""
    with h5py.File(tmp_path / "out" / "index.h5", "r") as f:
        assert list(f["labels/schedule"].asstr()[:]) == ["quench", "slow"]
        assert [json.loads(s) for s in f["parameters/schedule"].asstr()[:]] == [hold, ramp]
        assert list(f["segment/T_from"][:]) == [0.5, 0.5] and list(f["segment/samples"][:]) == [80, 80]
        assert list(f["mean/temperature"][:]) == [0.5, 0.5]


def test_shards_merge_to_the_unsharded_index(sm_bin, tmp_path):
    cfg = sweep_config(tmp_path, {"keys": {"temperature": [0.5, 1.0, 2.0, 4.0, 6.0]}})
    assert run_sm("sweep", cfg, "--quiet", "--output-dir", tmp_path / "full")[0] == 0
    shards = []
    for k in (1, 2, 3):
        rc, _, err = run_sm("sweep", cfg, "--quiet", "--shard", f"{k}/3", "--output-dir", tmp_path / "sh")
        assert rc == 0, err
        shards.append(tmp_path / "sh" / f"index_shard_{k}_of_3.h5")
        with h5py.File(shards[-1], "r") as f:
            assert f.attrs["shard"] == f"{k}/3" and list(f["point"][:]) == list(range(k - 1, 5, 3))
    merged = tmp_path / "merged.h5"
    rc, _, err = run_sm("merge", merged, shards[2], shards[0], shards[1])
    assert rc == 0, err
    assert_same_index(merged, tmp_path / "full" / "index.h5")
    with h5py.File(merged, "r") as f:
        assert "shard" not in f.attrs and f.attrs["npoints"] == 5
    # refusals: an existing output, a missing shard, a shard twice, another sweep
    rc, _, err = run_sm("merge", merged, *shards)
    assert rc == 2 and "output file exists" in err
    rc, _, err = run_sm("merge", tmp_path / "m2.h5", shards[0], shards[2])
    assert rc == 2 and "shard 2/3 missing" in err
    rc, _, err = run_sm("merge", tmp_path / "m2.h5", shards[0], shards[0], shards[1], shards[2])
    assert rc == 2 and "given twice" in err
    other = sweep_config(tmp_path, {"keys": {"temperature": [0.5, 1.0, 2.0, 4.0, 7.0]}}, name="o.json")
    assert run_sm("sweep", other, "--quiet", "--shard", "2/3", "--output-dir", tmp_path / "o")[0] == 0
    rc, _, err = run_sm("merge", tmp_path / "m2.h5", shards[0], tmp_path / "o" / "index_shard_2_of_3.h5", shards[2])
    assert rc == 2 and "from another sweep" in err
    assert not (tmp_path / "m2.h5").exists()


def test_jobs_and_threads_do_not_change_the_index(sm_bin, tmp_path):
    cfg = sweep_config(tmp_path, SMALL, lattice={"Lx": 16, "Ly": 16, "boundary": "periodic"})
    rc, _, err = run_sm("sweep", cfg, "--jobs", "1", "--output-dir", tmp_path / "a")
    assert rc == 0 and "1 job x" in err, err
    rc, _, err = run_sm("sweep", cfg, "--jobs", "2", "--threads-per-point", "2", "--output-dir", tmp_path / "b")
    assert rc == 0 and "2 jobs x 2 threads" in err, err
    assert_same_index(tmp_path / "a" / "index.h5", tmp_path / "b" / "index.h5")


# ---- resuming -------------------------------------------------------------

def test_resume_keeps_finished_points_and_redoes_partial(sm_bin, tmp_path):
    cfg = sweep_config(tmp_path, SMALL)
    d = tmp_path / "out"
    assert run_sm("sweep", cfg, "--quiet")[0] == 0
    ref = tmp_path / "ref.h5"
    os.rename(d / "index.h5", ref)
    # an interrupted sweep: point 3 half-written, the others finished long ago
    (d / "point_0003.h5").rename(d / "point_0003.h5.partial")
    old = time.time() - 1000
    for i in range(6):
        if i != 3:
            os.utime(d / f"point_{i:04d}.h5", (old, old))
    rc, _, err = run_sm("sweep", cfg)
    assert rc == 0, err
    assert "5 finished earlier and kept, 1 to run (1 interrupted, redone)" in err
    assert "point 3 (" in err and "point 0 (" not in err
    for i in range(6):
        if i != 3:
            assert os.path.getmtime(d / f"point_{i:04d}.h5") == old
    assert (d / "point_0003.h5").exists() and not (d / "point_0003.h5.partial").exists()
    assert_same_index(d / "index.h5", ref)
    # a point file from another configuration is never taken for a finished point
    rc, _, err = run_sm("sweep", cfg, "--set", "model.J=0.2")
    assert rc == 2 and "point_0000.h5: exists but is not point 0 of this sweep" in err


def test_resume_after_sigkill(sm_bin, tmp_path):
    sweep = {"keys": {"temperature": [0.8, 1.6, 3.2, 4.0]}}
    cfg = sweep_config(tmp_path, sweep, lattice={"Lx": 24, "Ly": 24, "boundary": "periodic"},
                       run={"seed": 5, "equilibration_sweeps": 100, "sweeps": 6000, "measure_every": 2})
    d = tmp_path / "out"
    p = subprocess.Popen([str(BIN), "sweep", str(cfg), "--jobs", "1", "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 60
    while not (d / "point_0000.h5").exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    time.sleep(0.3)  # the running point dies with the sweep (PR_SET_PDEATHSIG)
    done = sorted(f for f in os.listdir(d) if f.endswith(".h5"))
    assert "index.h5" not in done and len(done) < 4, done
    mtimes = {f: os.path.getmtime(d / f) for f in done}
    time.sleep(0.5)
    # no orphaned point kept running and finished behind the killed sweep
    assert sorted(f for f in os.listdir(d) if f.endswith(".h5")) == done
    assert {f: os.path.getmtime(d / f) for f in done} == mtimes
    rc, _, err = run_sm("sweep", cfg, "--jobs", "2")
    assert rc == 0, err
    assert f"{len(done)} finished earlier and kept, {4 - len(done)} to run" in err
    assert {f: os.path.getmtime(d / f) for f in done} == mtimes
    assert not any(f.endswith(".partial") for f in os.listdir(d))
    assert run_sm("sweep", cfg, "--quiet", "--output-dir", tmp_path / "ref")[0] == 0
    assert_same_index(d / "index.h5", tmp_path / "ref" / "index.h5")


def test_shipped_sweep_configs_validate(sm_bin):
    for name, n in [("sweep_T.json", 24), ("quench_vs_slow.json", 6)]:
        rows = listed(ROOT / "configs" / name)
        assert len(rows) == n
