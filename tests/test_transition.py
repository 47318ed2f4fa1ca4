"""softmatrix transition: the crossings it locates by bracketing and
refinement agree with those of a plain fixed-temperature scan run with
`softmatrix run`; its errors come from the seeds; its file holds every point
and `constants --measured` reads it back; a sweep block maps the ratio."""
import json
import math

import h5py
import numpy as np
import pytest

from conftest import run_sm, write_config

L = 16
SEEDS = 4


def base_config(out, **model):
    m = {"eps_C": 0.125, "g": 4, "eps_step": 0, "J": 0.125, "h": 0}
    m.update(model)
    return {"lattice": {"Lx": L, "Ly": L, "boundary": "periodic"}, "model": m,
            "dynamics": {"kind": "level"}, "temperature": 5.0,
            "run": {"seed": 100, "equilibration_sweeps": 500, "sweeps": 1000, "measure_every": 2},
            "init": {"level": -1, "sigma": "random"}, "output": {"path": str(out)}}


@pytest.fixture(scope="module")
def transition(tmp_path_factory):
    d = tmp_path_factory.mktemp("transition")
    cfg = write_config(d / "t.json", base_config(d / "t.h5"))
    rc, out, err = run_sm("transition", cfg, "--seeds", SEEDS, "--sweeps", 1500, "--json", "--quiet",
                          "--output", d / "t.transition.h5")
    assert rc == 0, err
    return d, json.loads(out)


def scan_crossings(d, temps, seeds):
    """T_g and T_m of a plain scan: one run per seed holding every T of a
    fixed grid; n_SM per hold from /summary, averaged over seeds, log-linear
    interpolation between the grid points; jackknife error over seeds."""
    sched = [{"T": float(T), "equilibration": 300, "sweeps": 3000} for T in temps]
    per_seed = []
    for s in seeds:
        c = base_config(d / f"scan{s}.h5")
        del c["temperature"]
        c["run"] = {"seed": s, "equilibration_sweeps": 1500, "measure_every": 2}
        c["schedule"] = sched
        rc, _, err = run_sm("run", write_config(d / f"scan{s}.json", c), "--quiet")
        assert rc == 0, err
        with h5py.File(d / f"scan{s}.h5", "r") as f:
            per_seed.append(f["summary/n_soft_matrix/mean"][:])
    per_seed = np.array(per_seed)

    def cross(n_sm, target):
        y = np.log(n_sm)
        k = int(np.nonzero(n_sm >= target)[0][0])
        return temps[k - 1] + (math.log(target) - y[k - 1]) * (temps[k] - temps[k - 1]) / (y[k] - y[k - 1])

    out = {}
    for name, target in (("T_g", 1.0), ("T_m", 5.0)):
        full = cross(per_seed.mean(axis=0), target)
        jk = np.array([cross(np.delete(per_seed, i, axis=0).mean(axis=0), target) for i in range(len(seeds))])
        out[name] = (full, math.sqrt((len(jk) - 1) / len(jk) * np.sum((jk - jk.mean()) ** 2)))
    return out


def test_agrees_with_a_fixed_temperature_scan(transition):
    d, res = transition
    size = res["sizes"][0]
    assert size["L"] == L
    temps = np.round(np.arange(4.80, 5.45, 0.05), 4)
    scan = scan_crossings(d, temps, seeds=[7, 8, 9, 10])
    for name in ("T_g", "T_m"):
        v, e = size[name]["value"], size[name]["error"]
        sv, se = scan[name]
        assert 0 < e < 0.05 and 0 < se < 0.05, (name, e, se)
        # linear interpolation over a 0.05 grid adds a small bias of its own
        assert abs(v - sv) < 4 * math.hypot(e, se) + 0.01, (name, v, e, sv, se)
    r = size["ratio"]
    assert r["value"] == pytest.approx(size["T_g"]["value"] / size["T_m"]["value"])
    assert 0.9 < r["value"] < 1.0 and 0 < r["error"] < 0.01
    # T_p: level-8 sites span far above T_m (site percolation near f_8 ~ 0.6)
    assert size["T_p"]["value"] > size["T_m"]["value"] + 1
    # the derived numbers follow from the ratio, beside the paper's
    assert size["n_z"]["value"] == pytest.approx(200 ** -r["value"])
    assert size["viscosity_exponent"]["value"] == pytest.approx(9 * (1 - r["value"]))
    assert size["N_z_star"]["error"] == pytest.approx(200 ** (1 - r["value"]) * math.log(200) * r["error"])
    assert res["paper"]["ratio"]["value"] == 0.625
    assert res["local"]["T_g"] == pytest.approx(8 / math.log(4))


def test_file_holds_every_point(transition):
    d, res = transition
    with h5py.File(d / "t.transition.h5", "r") as f:
        g = f["transition/L16"]
        n = res["sizes"][0]["points"]
        assert g["points/T"].shape == (n,) and g["points/n_sm"].shape == (n, SEEDS)
        # the seed mean is the mean of the per-seed values
        assert np.allclose(g["points/n_sm_mean"][:], g["points/n_sm"][:].mean(axis=1))
        assert g["T_g/value"][()] == pytest.approx(res["sizes"][0]["T_g"]["value"])
        assert g["T_g/jackknife"].shape == (SEEDS,)
        # points are dense around each crossing
        for name in ("T_g", "T_m"):
            lo, hi = g[f"{name}/bracket"][:]
            assert hi - lo <= 0.05 and g[f"{name}/npoints"][()] >= 3


def test_constants_reads_the_measurement(transition, sm_bin):
    d, res = transition
    rc, out, err = run_sm("constants", "--json", "--measured", d / "t.transition.h5")
    assert rc == 0, err
    m = json.loads(out)["measured"]["sizes"][0]
    assert m["L"] == L and m["ratio"]["value"] == pytest.approx(res["sizes"][0]["ratio"]["value"])
    rc, out, _ = run_sm("constants", "--measured", d / "t.transition.h5")
    assert "measured (" in out and "T_g/T_m" in out
    assert run_sm("constants", "--measured", d / "t.json")[0] == 2


def test_sweep_block_maps_the_ratio(tmp_path, sm_bin):
    cfg = base_config(tmp_path / "m.h5")
    cfg["lattice"] = {"Lx": 8, "Ly": 8, "boundary": "periodic"}
    cfg["sweep"] = {"mode": "product", "keys": {"model.g": [3, 4], "model.eps_step": [-0.3, 0]}}
    rc, out, err = run_sm("transition", write_config(tmp_path / "m.json", cfg), "--seeds", 2,
                          "--sweeps", 300, "--no-tp", "--json", "--quiet", "--tol", 0.05)
    assert rc == 0, err
    pts = json.loads(out)["points"]
    assert [p["point"] for p in pts] == ["model.g=3 model.eps_step=-0.3", "model.g=3 model.eps_step=0",
                                         "model.g=4 model.eps_step=-0.3", "model.g=4 model.eps_step=0"]
    for p in pts:
        assert p["sizes"][0]["T_p"]["value"] is None      # --no-tp
        assert 0.5 < p["sizes"][0]["ratio"]["value"] <= 1.0
    # the local ratio T_g°/T_m° follows eps_step; the defaults' is 1
    assert pts[1]["local"]["ratio"] == pytest.approx(1.0)
    assert pts[0]["local"]["ratio"] == pytest.approx((8 - 1.2) / (8 + 1.2))
    with h5py.File(tmp_path / "m.transition.h5", "r") as f:
        assert f["transition/point_0002"].attrs["point"] == "model.g=4 model.eps_step=-0.3"


def test_usage_errors(tmp_path, sm_bin):
    cfg = write_config(tmp_path / "c.json", base_config(tmp_path / "c.h5"))
    assert run_sm("transition", cfg, "--seeds", 0)[0] == 2
    assert run_sm("transition", cfg, "--sizes", "15")[0] == 2        # odd on a periodic lattice
    assert run_sm("transition", cfg, "--bogus")[0] == 2
    assert run_sm("transition")[0] == 2
