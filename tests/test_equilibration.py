"""run.equilibration_dynamics: a cage run equilibrates with the level
dynamics first (the default), starts its kinetics from that state with
uniform PCP phases, and records in /equilibrium_check whether its holds
agree with level-dynamics equilibrium."""
import hashlib

import h5py
import numpy as np

from conftest import run_sm, write_config


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
