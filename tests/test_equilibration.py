"""run.equilibration_dynamics: a cage run equilibrates with the level
dynamics first (the default), starts its kinetics from that state with
uniform PCP phases, and records in /equilibrium_check whether its holds
agree with level-dynamics equilibrium."""
import hashlib
import signal
import subprocess
import time

import h5py
import numpy as np

import pytest

from conftest import BIN, ckpt_step, run_sm, write_config


def cage_config(out, **run):
    r = {"seed": 21, "equilibration_sweeps": 2000, "sweeps": 6000, "measure_every": 20}
    r.update(run)
    return {"lattice": {"Lx": 16, "Ly": 16, "boundary": "periodic"},
            "model": {"eps_C": 0.125, "g": 4, "eps_step": 0, "J": 0.125, "h": 0},
            "dynamics": {"kind": "cage"}, "temperature": 4.0, "run": r,
            "init": {"level": -1, "sigma": "random"},
            "output": {"path": str(out), "snapshot_fields": ["level", "phase"]}}


def run_cfg(tmp_path, name, cfg, *args):
    rc, out, err = run_sm("run", write_config(tmp_path / f"{name}.json", cfg), *args)
    assert rc == 0, err
    return out


def test_cage_run_starts_in_level_equilibrium(sm_bin, tmp_path):
    out = run_cfg(tmp_path, "lv", cage_config(tmp_path / "lv.h5", snapshot_every=1000))
    assert "equilibrium check" in out
    with h5py.File(tmp_path / "lv.h5", "r") as f:
        lvl = f["observables/mean_level/value"][:]
        g = f["equilibrium_check"]
        ref = g["level_mean"][0, 0]
        # from the first measurement on, near the T = 4 equilibrium (<l> ~ 4.5);
        # a flat start at -1 would still be near -1 (next test)
        assert abs(lvl[0] - ref) < 0.3 and abs(lvl.mean() - ref) < 0.2
        assert g.attrs["agrees"] in ("yes", "no") and g["T"][0] == 4.0
        assert g["cage_tau_int"].shape == (1, 3)
        # the PCP phases start uniform: no pile-up at phi = 0
        ph = f["snapshots/phase/value"][0].ravel()
        assert (ph == 0).mean() < 0.06 and abs(ph.mean() - 31.5) < 4
        # the kinetics start with the cage dynamics: no negative counts
        assert (f["observables/loop_completions/value"][:] >= 0).all()
        assert f["kinetics/tau/count"][:].sum() > 0
        # the acceptance columns are the cage's own moves
        assert f["observables/acceptance/value"].shape[1] == 5


def test_same_dynamics_is_flagged_out_of_equilibrium(sm_bin, tmp_path):
    cfg = cage_config(tmp_path / "same.h5", equilibration_dynamics="same")
    out = run_cfg(tmp_path, "same", cfg)
    assert "does NOT agree" in out
    with h5py.File(tmp_path / "same.h5", "r") as f:
        g = f["equilibrium_check"]
        assert g.attrs["agrees"] == "no" and g["z"][0, 0] > 10
        assert f["observables/mean_level/value"][0] < 0.5


def digest(path, prefixes=("/observables", "/snapshots", "/kinetics", "/summary", "/equilibrium_check")):
    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        items = []
        f.visititems(lambda n, o: items.append(("/" + n, o[()])) if isinstance(o, h5py.Dataset)
                     and ("/" + n).startswith(prefixes) and not n.startswith("summary/timing") else None)
    for name, v in sorted(items, key=lambda t: t[0]):
        h.update(name.encode() + np.ascontiguousarray(v, dtype="<f8").tobytes())
    return h.hexdigest()


def test_thread_independent(sm_bin, tmp_path):
    d = []
    for th in (1, 2):
        p = tmp_path / f"t{th}.h5"
        run_cfg(tmp_path, f"t{th}", cage_config(p, sweeps=1000, threads=th), "--quiet")
        d.append(digest(p))
    assert d[0] == d[1]


def test_level_runs_do_not_depend_on_it(sm_bin, tmp_path):
    d = []
    for eqd in ("level", "same"):
        cfg = cage_config(tmp_path / f"{eqd}.h5", sweeps=500, equilibration_dynamics=eqd)
        cfg["dynamics"] = {"kind": "level"}
        run_cfg(tmp_path, eqd, cfg, "--quiet")
        d.append(digest(tmp_path / f"{eqd}.h5"))
        with h5py.File(tmp_path / f"{eqd}.h5", "r") as f:
            assert "equilibrium_check" not in f       # nothing kinetic to check
    assert d[0] == d[1]


def test_config_key(sm_bin, tmp_path):
    cfg = cage_config(tmp_path / "k.h5", equilibration_dynamics="cage")
    rc, _, err = run_sm("run", write_config(tmp_path / "k.json", cfg))
    assert rc == 2 and "run.equilibration_dynamics" in err and "level|same" in err
    rc, out, _ = run_sm("validate", write_config(tmp_path / "v.json", cage_config(tmp_path / "v.h5")))
    assert '"equilibration_dynamics":\t"level"' in out


# --- run.equilibrate_each_segment: every hold starts from level equilibrium -----

T_HOLDS = (4.0, 3.0)     # <l> about 4.5 and 3.2: the cage needs ~10^5 sweeps between them


def two_holds(out, on, **run):
    """A cage run holding T = 4, then T = 3 after 2000 equilibration sweeps of
    its own (level sweeps with the key on, cage sweeps with it off)."""
    cfg = cage_config(out, equilibrate_each_segment=on, **run)
    del cfg["temperature"], cfg["run"]["sweeps"]
    cfg["schedule"] = [{"T": T_HOLDS[0], "sweeps": 4000},
                       {"T": T_HOLDS[1], "sweeps": 4000, "equilibration": 2000}]
    return cfg


def second_hold(path):
    """<l> over the first 10 measurements of the second hold, the level-dynamics
    reference there, and the /equilibrium_check record."""
    with h5py.File(path, "r") as f:
        lvl = f["observables/mean_level/value"][:]
        g = f["equilibrium_check"]
        n0 = 4000 // 20   # measurements of the first hold
        return (lvl[n0:n0 + 10].mean(), g["level_mean"][1, 0], g["z"][:, 0], g["equilibrated_start"][:],
                g["T"][:])


def test_each_segment_starts_in_equilibrium(sm_bin, tmp_path):
    on = run_cfg(tmp_path, "on", two_holds(tmp_path / "on.h5", True))
    run_cfg(tmp_path, "off", two_holds(tmp_path / "off.h5", False))
    start_on, ref, z_on, eq_on, T = second_hold(tmp_path / "on.h5")
    start_off, ref_off, z_off, eq_off, _ = second_hold(tmp_path / "off.h5")
    assert list(T) == list(T_HOLDS) and ref == ref_off
    # on: the T = 3 hold starts at the level-dynamics equilibrium (about 3.2);
    # off: it starts from the T = 4 state (about 4.5) and relaxes slowly
    assert abs(start_on - ref) < 0.25, (start_on, ref)
    assert start_off - ref > 0.8, (start_off, ref)
    # the check records which holds started in equilibrium, and tells them apart
    assert list(eq_on) == [1, 1] and list(eq_off) == [1, 0]
    assert z_off[1] > 10 and z_on[1] < z_off[1] / 3, (z_on, z_off)
    assert z_on[0] == z_off[0]   # the first hold is the same run
    assert "level-eq" in on and "carried" not in on.split("equilibrium check")[1].split("the run")[0]


def test_each_segment_leaves_ramps_alone(sm_bin, tmp_path):
    """A ramp's equilibration sweeps keep dynamics.kind: with and without the
    key the run is the same up to the hold after the ramp."""
    lv = []
    for on in (True, False):
        cfg = two_holds(tmp_path / f"r{on}.h5", on)
        cfg["schedule"] = [{"T": 4.0, "sweeps": 1000},
                           {"T_from": 4.0, "T_to": 3.0, "sweeps": 1000, "equilibration": 300},
                           {"T": 3.0, "sweeps": 1000, "equilibration": 300}]
        run_cfg(tmp_path, f"r{on}", cfg, "--quiet")
        with h5py.File(tmp_path / f"r{on}.h5", "r") as f:
            lv.append(f["observables/energy/value"][:])
    n = 2000 // 20     # measurements of the hold and the ramp
    assert np.array_equal(lv[0][:n], lv[1][:n]) and not np.array_equal(lv[0][n:], lv[1][n:])
    cfg["schedule"][2].pop("equilibration")
    cfg["run"]["equilibrate_each_segment"] = True
    rc, _, err = run_sm("run", write_config(tmp_path / "bad.json", cfg))
    assert rc == 2 and err.count("\n") == 1
    assert "run.equilibrate_each_segment" in err and "no hold segment" in err


def test_each_segment_config_errors(sm_bin, tmp_path):
    cfg = two_holds(tmp_path / "e.h5", True, equilibration_dynamics="same")
    rc, _, err = run_sm("run", write_config(tmp_path / "e.json", cfg))
    assert rc == 2 and err.count("\n") == 1
    assert "run.equilibrate_each_segment" in err and 'run.equilibration_dynamics "level"' in err
    rc, out, _ = run_sm("validate", write_config(tmp_path / "v.json", cage_config(tmp_path / "v.h5")))
    assert '"equilibrate_each_segment":\tfalse' in out


BLOCK = (2000 + 20000, 2000 + 20000 + 2000)   # the level block of the second hold: start, end


@pytest.mark.parametrize("kill_after", BLOCK, ids=["block-start", "block-end"])
def test_each_segment_resume_is_bitwise_identical(sm_bin, tmp_path, kill_after):
    """Killed after a checkpoint at or after the start (end) of the level
    block, resumed with another thread count: the same file as an
    uninterrupted run. A checkpoint never falls inside a block, so a resume
    runs it whole or not at all; its random numbers and the phases drawn
    after it are addressed by the step."""
    cfg = two_holds(tmp_path / "x.h5", True, checkpoint_every=500, threads=1)
    cfg["lattice"].update(Lx=8, Ly=8)
    for seg in cfg["schedule"]:
        seg["sweeps"] = 20000      # long enough to be killed mid-run
    path = write_config(tmp_path / "k.json", cfg)
    ref = tmp_path / "ref.h5"
    run_cfg(tmp_path, "ref", dict(cfg, output={"path": str(ref)}), "--quiet")
    out = tmp_path / "k.h5"
    p = subprocess.Popen([str(BIN), "run", str(path), "--output", str(out), "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ckpt = tmp_path / "k.h5.ckpt"
    deadline = time.monotonic() + 120
    while ckpt_step(ckpt) < kill_after and p.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint after the level block"
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert ckpt_step(ckpt) >= kill_after and ckpt_step(ckpt) not in range(BLOCK[0] + 1, BLOCK[1])
    rc, _, err = run_sm("run", path, "--output", out, "--resume", "--quiet", "--threads", 2)
    assert rc == 0, err
    assert digest(out) == digest(ref)
