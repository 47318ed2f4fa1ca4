"""Cage dynamics (docs/model.md section 6): level and cage dynamics sample the same
equilibrium (energy, level histogram, m_s^2) on a 4x4 lattice, the cage
observables and kinetics are written, the PCP snapshot has its shape, and the
shipped cage sweeps run.

The equilibrium comparison uses fixed seeds, so it is deterministic; the
tolerance is 4 combined standard errors from block averages. The cage
dynamics changes a level only by a 64-jump loop, so it mixes far more slowly
than the level dynamics and gets most of the sweeps."""
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
import pytest

from conftest import BIN, ROOT, run_sm, write_config

NBLOCKS = 20
TOL = 4.0


def eq_config(out, kind, T, sweeps, init_level, barriers, seed):
    return {
        "lattice": {"Lx": 4, "Ly": 4, "boundary": "periodic"},
        "model": {"eps_C": 0.125, "g": 4, "eps_step": 0, "J": 0.125, "h": 0},
        "dynamics": {"kind": kind, "trap_barrier": barriers[0], "async_barrier": barriers[1]},
        "temperature": T,
        "run": {"seed": seed, "equilibration_sweeps": sweeps // 20, "sweeps": sweeps,
                "measure_every": max(1, sweeps // 20000), "threads": 1},
        "init": {"level": init_level, "sigma": "random"},
        "output": {"path": str(out)},
    }


# (T, initial level, cage barriers (E_trap, E_async), level sweeps, cage sweeps).
# At T = 3 the barriers are 0: they do not enter the equilibrium, and the
# cage walk is slow enough without them.
CASES = [
    (1.0, 0, (1.0, 0.125), 1_000_000, 4_000_000),
    (3.0, 3, (0.0, 0.0), 1_000_000, 10_000_000),
]


@pytest.fixture(scope="module")
def equilibrium_runs(sm_bin, tmp_path_factory):
    """Runs every (case, dynamics) pair, two processes at a time."""
    d = tmp_path_factory.mktemp("cage_eq")
    jobs = []
    for i, (T, l0, bar, nl, nc) in enumerate(CASES):
        for kind, n in (("level", nl), ("cage", nc)):
            out = d / f"{i}_{kind}.h5"
            cfg = write_config(d / f"{i}_{kind}.json", eq_config(out, kind, T, n, l0, bar, 100 + i))
            jobs.append(((i, kind), [str(BIN), "run", str(cfg), "--quiet"], out, n))
    def run(job):
        key, cmd, out, _ = job
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        return key, out

    # slowest first, so that the two workers finish at about the same time
    jobs.sort(key=lambda j: -j[3])
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(run, jobs))
    return results


def block_mean(x):
    n = len(x) // NBLOCKS * NBLOCKS
    b = np.asarray(x[:n]).reshape(NBLOCKS, -1).mean(axis=1)
    return b.mean(), b.std(ddof=1) / np.sqrt(NBLOCKS)


def quantities(path):
    with h5py.File(path, "r") as f:
        obs = f["observables"]
        q = {"energy": block_mean(obs["energy/value"][:]),
             "m_s^2": block_mean(obs["staggered_magnetization/value"][:] ** 2)}
        hist = obs["level_histogram/value"][:]
        for l in range(hist.shape[1]):
            q[f"f_{l - 1}"] = block_mean(hist[:, l])
    return q


@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"T={c[0]}" for c in CASES])
def test_level_and_cage_agree(equilibrium_runs, case):
    ql = quantities(equilibrium_runs[(case, "level")])
    qc = quantities(equilibrium_runs[(case, "cage")])
    bad = []
    for k in ql:
        (ml, el), (mc, ec) = ql[k], qc[k]
        sigma = np.hypot(el, ec)
        # bins both dynamics almost never visit carry no error estimate worth testing
        if k.startswith("f_") and max(ml, mc) < 1e-3:
            continue
        if abs(ml - mc) > TOL * sigma + 1e-12:
            bad.append(f"{k}: level {ml:.5f}({el:.5f}) cage {mc:.5f}({ec:.5f})")
    assert not bad, "; ".join(bad)
    # the comparison means something: the histogram has weight on 2+ levels
    assert sum(1 for k in ql if k.startswith("f_") and ql[k][0] > 0.05) >= 2


def test_cage_outputs(sm_bin, tmp_path):
    """Kinetic observables, /kinetics, the pcp snapshot, and the printed table."""
    out = tmp_path / "k.h5"
    cfg = {
        "lattice": {"Lx": 16, "Ly": 16, "boundary": "periodic"},
        "dynamics": {"kind": "cage", "trap_barrier": 0, "async_barrier": 0},
        "schedule": [{"T": 8.0, "sweeps": 3000}, {"T": 10.0, "equilibration": 500, "sweeps": 4000}],
        "run": {"seed": 9, "equilibration_sweeps": 0, "measure_every": 10, "snapshot_every": 3500},
        "init": {"level": 7},
        "output": {"path": str(out), "snapshot_fields": ["level", "phase", "z", "pcp"]},
    }
    rc, stdout, err = run_sm("run", write_config(tmp_path / "k.json", cfg))
    assert rc == 0, err
    assert "tau_0" in stdout and "SM jumps" in stdout
    with h5py.File(out, "r") as f:
        obs = f["observables"]
        for name in ("trap_occupancy", "paired_bonds", "loop_completions", "loop_undos",
                     "soft_matrix_jumps", "z_msd"):
            assert name in obs, name
        assert obs["loop_completions/value"].shape[1] == 9
        assert 0 <= obs["trap_occupancy/value"][:].min() <= obs["trap_occupancy/value"][:].max() <= 1
        assert obs["acceptance/value"].attrs["columns"] == "pair,single,trap,loop,sigma"
        k = f["kinetics"]
        assert k["tau/mean"].shape == (2, 8) == k["tau/count"].shape == k["tau/error"].shape
        assert k["loop_completions"].shape == (2, 9)
        assert k["tau/count"][:].sum() > 0
        # soft matrices form at T = 8..10 from level 7, and each jump moves z
        jumps = k["soft_matrix_jumps"][:].sum()
        assert jumps > 0 and obs["z_msd/value"][-1] > 0
        pcp = f["snapshots/pcp/value"]
        assert pcp.shape == (2, 16, 16, 3)
        dd = 1.177592 - 1.122462
        assert np.abs(pcp[:]).max() <= dd * (1 + 1e-5)
        # phi = 0 sits on a vertex of the tetrahedron: all coordinates +-Delta d
        ph = f["snapshots/phase/value"][0]
        at0 = pcp[0][ph == 0]
        if len(at0):
            assert np.allclose(np.abs(at0), dd, rtol=1e-4)


def test_z_beyond_int16_and_stamps_beyond_uint16(sm_bin, tmp_path):
    """A run long enough for uint32 stamps (over 65535 sweeps) whose field
    drives z one way until a count leaves the int16 range: the snapshot of
    z holds the widened counts (the z_msd measured at the same sweep is
    their exact mean square times n_z^2, not a sum of the stored floats),
    and the kinetics still time tau intervals."""
    out = tmp_path / "w.h5"
    cfg = {
        "lattice": {"Lx": 16, "Ly": 16, "boundary": "periodic"},
        "model": {"h": 1000.0},
        "dynamics": {"kind": "cage", "trap_barrier": 0, "async_barrier": 0},
        "temperature": 10.0,
        "run": {"seed": 5, "equilibration_sweeps": 0, "sweeps": 100000, "measure_every": 50000,
                "snapshot_every": 50000},
        "init": {"level": 8},
        "output": {"path": str(out), "snapshot_fields": ["z"]},
    }
    rc, _, err = run_sm("run", write_config(tmp_path / "w.json", cfg), "--quiet")
    assert rc == 0, err
    with h5py.File(out, "r") as f:
        z = f["snapshots/z/value"][-1].astype(np.float64)
        z_msd = f["observables/z_msd/value"][-1]
        assert f["kinetics/tau/count"][:].sum() > 0
    n_z = 200.0 ** -0.625
    counts = np.rint(z / n_z)
    assert np.abs(counts).max() > 32767
    assert z_msd == pytest.approx((counts * counts).mean() * n_z * n_z, rel=1e-14)


def test_level_dynamics_has_no_cage_fields(sm_bin, tmp_path):
    out = tmp_path / "l.h5"
    cfg = {"lattice": {"Lx": 8, "Ly": 8}, "temperature": 1.0,
           "run": {"sweeps": 50, "equilibration_sweeps": 0}, "output": {"path": str(out)}}
    rc, _, err = run_sm("run", write_config(tmp_path / "l.json", cfg), "--quiet")
    assert rc == 0, err
    with h5py.File(out, "r") as f:
        assert "trap_occupancy" not in f["observables"] and "kinetics" not in f


def test_threads_identical_output(sm_bin, tmp_path):
    """Same seed, 1 and 2 threads: the same observables and tau table."""
    vals = []
    for th in (1, 2):
        out = tmp_path / f"t{th}.h5"
        cfg = {"lattice": {"Lx": 64, "Ly": 64}, "dynamics": {"kind": "cage"},
               "temperature": 4.0, "run": {"seed": 31, "sweeps": 400, "equilibration_sweeps": 0,
                                           "threads": th},
               "init": {"level": 3}, "output": {"path": str(out)}}
        rc, _, err = run_sm("run", write_config(tmp_path / f"t{th}.json", cfg), "--quiet")
        assert rc == 0, err
        with h5py.File(out, "r") as f:
            vals.append([f["observables/energy/value"][:], f["observables/loop_completions/value"][:],
                         f["kinetics/tau/count"][:]])
    for a, b in zip(*vals):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("name", ["cage_relaxation", "tjump", "hysteresis"])
def test_shipped_cage_sweeps(sm_bin, tmp_path, name):
    """The shipped cage sweeps validate and start from level-dynamics
    equilibrium; one point, shortened, runs with its kinetics."""
    path = ROOT / "configs" / f"{name}.json"
    cfg = json.loads(path.read_text())
    assert cfg["dynamics"]["kind"] == "cage"
    assert cfg["run"]["equilibration_dynamics"] == "level" and cfg["run"]["equilibration_sweeps"] >= 2000
    rc, out, err = run_sm("sweep", path, "--list")
    assert rc == 0, err
    del cfg["sweep"]
    cfg["output"] = {"path": str(tmp_path / f"{name}.h5")}
    cfg["run"]["measure_every"] = 50
    if "schedule" in cfg:
        for seg in cfg["schedule"]:
            seg["sweeps"] = min(seg["sweeps"], 3000)
    else:
        cfg["run"]["sweeps"] = 3000
    rc, stdout, err = run_sm("run", write_config(tmp_path / "c.json", cfg), timeout=120)
    assert rc == 0, err
    assert "cage kinetics" in stdout
    with h5py.File(tmp_path / f"{name}.h5", "r") as f:
        assert f["kinetics/tau/mean"].shape[1] == 8
        if name != "hysteresis":        # holds only
            assert f["equilibrium_check"].attrs["agrees"] in ("yes", "no")