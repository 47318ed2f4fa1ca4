"""python/softmatrix/glass.py: the KWW fit on synthetic data, and the tau,
kww and loops figures on tiny cage sweeps of the shipped configs' shape."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, run_sm, write_config

sys.path.insert(0, str(ROOT / "python"))
from softmatrix import glass  # noqa: E402

ENV = dict(os.environ, PYTHONPATH=str(ROOT / "python"), OMP_WAIT_POLICY="passive")


def test_kww_fit_recovers_known_parameters():
    t = np.geomspace(10, 2e5, 300)
    rng = np.random.default_rng(4)
    for tau, beta in ((3e3, 0.55), (4e4, 1.0), (2e4, 1.8)):
        y = 0.7 * np.exp(-(t / tau) ** beta) + 5.6 + rng.normal(0, 0.004, len(t))
        f = glass.fit_kww(t, y)
        assert f["tau"] == pytest.approx(tau, rel=0.05) and f["beta"] == pytest.approx(beta, rel=0.05)
        assert f["A"] == pytest.approx(0.7, rel=0.03) and f["c"] == pytest.approx(5.6, abs=0.01)


def test_kww_fit_with_the_plateau_fixed():
    """A window of one relaxation time: with c free the plateau trades off
    against tau; fixed to its known value, tau and beta come back."""
    t = np.geomspace(100, 1e5, 200)
    rng = np.random.default_rng(6)
    y = -4.4 * np.exp(-(t / 1e5) ** 0.9) + 4.5 + rng.normal(0, 0.05, len(t))
    f = glass.fit_kww(t, y, c=4.5)
    assert f["c"] == 4.5 and f["c_fixed"]
    assert f["tau"] == pytest.approx(1e5, rel=0.1) and f["beta"] == pytest.approx(0.9, rel=0.1)
    assert f["A"] == pytest.approx(-4.4, rel=0.05)
    rows = np.array([y + rng.normal(0, 0.05, len(t)) for _ in range(6)])
    res = glass.kww_jackknife(t, rows, eq=np.full(6, 4.5))
    assert res["fit"]["c_fixed"] and res["error"]["c"] == 0
    assert abs(res["fit"]["tau"] - 1e5) < 4 * res["error"]["tau"] < 0.5e5


def test_kww_jackknife_error_reflects_the_seeds():
    t = np.geomspace(10, 1e5, 200)
    rng = np.random.default_rng(5)
    rows = np.array([np.exp(-(t / 1e4) ** 0.8) + rng.normal(0, 0.02, len(t)) for _ in range(6)])
    res = glass.kww_jackknife(t, rows)
    assert abs(res["fit"]["beta"] - 0.8) < 4 * res["error"]["beta"] < 0.5


def test_parse_point():
    assert glass.parse_point("model.g=2 model.eps_step=-0.3") == {"model.g": 2.0, "model.eps_step": -0.3}
    assert glass.local_ratio({"model.eps_step": -6 / 13}) == pytest.approx(5 / 8)


def tiny(tmp_path, name, edit):
    cfg = json.loads((ROOT / "configs" / f"{name}.json").read_text())
    cfg["lattice"] = {"Lx": 8, "Ly": 8, "boundary": "periodic"}
    cfg["run"]["equilibration_sweeps"] = 500
    cfg["run"]["measure_every"] = 20
    edit(cfg)
    d = tmp_path / name
    rc, _, err = run_sm("sweep", write_config(tmp_path / f"{name}.json", cfg), "--output-dir", d,
                        "--quiet", "--jobs", 2)
    assert rc == 0, err
    return d


def glass_cmd(*args):
    p = subprocess.run([sys.executable, "-m", "softmatrix.glass", *map(str, args)], capture_output=True,
                       text=True, env=ENV, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_tau_figure(sm_bin, tmp_path):
    def edit(c):
        c["run"]["sweeps"] = 6000
        c["sweep"]["keys"]["temperature"] = [2.5, 4.6]
    d = tiny(tmp_path, "cage_relaxation", edit)
    out = glass_cmd("tau", d, "-o", tmp_path / "tau.png")
    assert "T = 2.5 (equilibrium check:" in out and "best sampled: tau_" in out
    assert (tmp_path / "tau.png").stat().st_size > 10000


def test_kww_figure(sm_bin, tmp_path):
    def edit(c):
        keys = c["sweep"]["keys"]
        down, up = keys["schedule"]["values"][0], keys["schedule"]["values"][-1]
        for v in (down, up):
            v[1]["sweeps"] = 6000
        keys["schedule"] = {"values": [down] * 3 + [up] * 3, "labels": ["d1", "d2", "d3", "u1", "u2", "u3"]}
        keys["lattice.Lx"] = keys["lattice.Ly"] = [8] * 3 + [10] * 3
        keys["run.seed"] = [1, 2, 3] * 2
    d = tiny(tmp_path, "tjump", edit)
    out = glass_cmd("kww", d, "-o", tmp_path / "kww.png")
    assert "mean_level down (8x8, 3 seeds): tau =" in out and "mean_level up (10x10, 3 seeds): tau =" in out
    # the plateau is fixed to the runs' level-dynamics equilibrium, and the free fit is printed beside it
    assert "c fixed =" in out and "level-dynamics equilibrium" in out and "c free: tau =" in out


def test_loops_figure(sm_bin, tmp_path):
    def edit(c):
        c["sweep"]["keys"]["schedule"] = {"values": [
            [{"T_from": 4.0, "T_to": 5.6, "sweeps": n}, {"T_from": 5.6, "T_to": 4.0, "sweeps": n}]
            for n in (2000, 8000)], "labels": ["2k", "8k"]}
        c["sweep"]["keys"]["run.seed"] = [1, 2]
    d = tiny(tmp_path, "hysteresis", edit)
    out = glass_cmd("loops", d, "-o", tmp_path / "loops.png")
    lines = [ln for ln in out.splitlines() if ln.startswith("rate ")]
    assert len(lines) == 2 and "loop area" in lines[0]
    # slower first; the area need not fall with the rate (a ramp too fast
    # for the levels to follow leaves no loop either)
    rates = [float(ln.split()[1]) for ln in lines]
    assert rates == pytest.approx([1.6 / 8000, 1.6 / 2000])
    assert all(math.isfinite(float(ln.split("loop area ")[1].split()[0])) for ln in lines)


def test_errors_are_one_line(tmp_path):
    p = subprocess.run([sys.executable, "-m", "softmatrix.glass", "tau", str(tmp_path), "-o",
                        str(tmp_path / "x.png")], capture_output=True, text=True, env=ENV)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "no point_*.h5" in p.stderr
