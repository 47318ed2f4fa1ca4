"""The per-segment summary from streaming accumulators (docs/model.md
section 9): /summary/<name>/error and tau_int are the documented estimator
(Wolff's Gamma method on at most 1024 block means), checked here against an
independent implementation on the /observables series; the checkpoint does
not grow with the number of measurements; fluctuation quantities are NaN on
ramps; series shorter than about 50 tau_int are flagged and warned about."""
import json
import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from conftest import BIN, ckpt_step, run_sm, small_config, write_config

BLOCKS = 1024


def gamma_cf(y, S=1.5):
    """n times the variance of the mean of y: autocovariances about the mean,
    summed up to Wolff's window (chosen on the sum of their absolute values),
    times 1 + (2W + 1) / m, floored at Gamma(0) / m."""
    y = np.asarray(y, float)
    m = len(y)
    d = y - y.mean()
    g0 = d @ d / m
    if g0 <= 0:
        return 0.0
    cf = ca = g0
    w = 0
    while w < m // 2:
        w += 1
        g = d[:-w] @ d[w:] / (m - w)
        cf += 2 * g
        ca += 2 * abs(g)
        tau = ca / (2 * g0)
        if tau <= 0.5:
            break
        tw = S / np.log((2 * tau + 1) / (2 * tau - 1))
        if np.exp(-w / tw) - tw / np.sqrt(w * m) < 0:
            break
    cf *= 1 + (2 * w + 1) / m
    return max(cf, g0 / m)


def blocks(x):
    """Block size and the means of x - x[0] over the complete blocks: the
    smallest power of 2 that leaves at most BLOCKS of them."""
    n, b = len(x), 1
    while n // b > BLOCKS:
        b *= 2
    m = n // b
    return b, (x[:m * b] - x[0]).reshape(m, b).mean(axis=1)


def error_and_tau(x):
    b, y = blocks(x)
    n = len(x)
    var = np.mean((x - x[0]) ** 2) - np.mean(x - x[0]) ** 2
    if var <= 0:
        return 0.0, 0.5
    cf = gamma_cf(y)
    return np.sqrt(cf * b / n), cf * b / (2 * var)


def jackknife(xs, f):
    """Value from all samples, error from the pseudo-values of a
    leave-one-block-out jackknife through gamma_cf; xs are the series minus
    their first samples."""
    n = len(xs[0])
    b = blocks(xs[0])[0]
    m = n // b
    bl = [x[:m * b].reshape(m, b).mean(axis=1) for x in xs]
    tot = [v.sum() for v in bl]
    fm = f(*[t / m for t in tot])
    pseudo = np.array([m * fm - (m - 1) * f(*[(t - v[j]) / (m - 1) for t, v in zip(tot, bl)])
                       for j in range(m)])
    return f(*[x.mean() for x in xs]), np.sqrt(gamma_cf(pseudo) * b / n)


@pytest.fixture(scope="module")
def two_holds(sm_bin, tmp_path_factory):
    """8x8 at T = 5: a hold of 600 measurements (kept raw), a ramp, and a
    hold of 5000 (blocks of 8)."""
    d = tmp_path_factory.mktemp("summary")
    out = d / "holds.h5"
    c = small_config(out, schedule=[{"T": 5.0, "sweeps": 600}, {"T_from": 5.0, "T_to": 4.0, "sweeps": 300},
                                    {"T": 4.0, "sweeps": 5000, "equilibration": 200}],
                     init={"level": 6, "sigma": "random"},
                     run={"seed": 3, "equilibration_sweeps": 200, "measure_every": 1})
    del c["temperature"]
    rc, _, err = run_sm("run", write_config(d / "holds.json", c), "--quiet")
    assert rc == 0, err
    return out


SAMPLES = (600, 300, 5000)


def segment(f, name, seg):
    """The measurements of segment seg: the file holds them in schedule order."""
    lo = sum(SAMPLES[:seg])
    return f[f"observables/{name}/value"][lo:lo + SAMPLES[seg]]


@pytest.mark.parametrize("seg", [0, 2])
@pytest.mark.parametrize("name", ["energy", "mean_level", "magnetization", "staggered_magnetization"])
def test_errors_are_the_documented_estimator(two_holds, name, seg):
    with h5py.File(two_holds, "r") as f:
        assert list(f["summary/segments/samples"][()]) == list(SAMPLES)
        x = segment(f, name, seg)
        err, tau = error_and_tau(x)
        assert f[f"summary/{name}/mean"][seg] == pytest.approx(x.mean(), rel=1e-12, abs=1e-14)
        assert f[f"summary/{name}/error"][seg] == pytest.approx(err, rel=1e-8)
        assert f[f"summary/{name}/tau_int"][seg] == pytest.approx(tau, rel=1e-8)
        reliable = f[f"summary/{name}/error"].attrs["reliable"][seg]
        assert reliable == (len(x) >= 50 * max(tau, 0.5))


@pytest.mark.parametrize("seg", [0, 2])
def test_specific_heat_is_a_jackknife_through_the_gamma_method(two_holds, seg):
    with h5py.File(two_holds, "r") as f:
        e = segment(f, "energy", seg)
        N = 64
        T = f["summary/temperature/mean"][seg]
        d = e - e[0]
        value, err = jackknife([d, d * d], lambda a, b: N * (b - a * a) / T ** 2)
        assert f["summary/specific_heat/mean"][seg] == pytest.approx(value, rel=1e-9)
        assert f["summary/specific_heat/error"][seg] == pytest.approx(err, rel=1e-7)


def test_ramp_segments_have_no_fluctuation_quantities(two_holds):
    with h5py.File(two_holds, "r") as f:
        for name in ("specific_heat", "susceptibility", "staggered_susceptibility"):
            g = f[f"summary/{name}"]
            assert np.isnan(g["mean"][1]) and np.isnan(g["error"][1]), name
            assert np.isfinite(g["mean"][0]) and np.isfinite(g["mean"][2]), name
            assert "ramps" in g.attrs["description"], name
            assert g["error"].attrs["reliable"][1] == 0


def test_short_series_are_flagged_and_warned_about(sm_bin, tmp_path):
    out = tmp_path / "short.h5"
    c = small_config(out, temperature=5.0, init={"level": 6, "sigma": "random"},
                     run={"seed": 3, "equilibration_sweeps": 100, "sweeps": 40, "measure_every": 1})
    rc, stdout, err = run_sm("run", write_config(tmp_path / "short.json", c))
    assert rc == 0, err
    with h5py.File(out, "r") as f:
        assert f["summary/energy/error"].attrs["reliable"][0] == 0
        assert f["summary/level_histogram/error"].attrs["reliable"].shape == (1, 10)
    warnings = [l for l in stdout.splitlines() if l.startswith("warning: segment 0:")]
    assert len(warnings) == 1 and "energy" in warnings[0] and "unreliable" in warnings[0], stdout


def checkpoint_after(tmp_path, n):
    """Size of the checkpoint written after n measured sweeps (8x8, every
    sweep measured); the run is killed once it is there."""
    out = tmp_path / f"ck{n}.h5"
    c = small_config(out, temperature=5.0,
                     run={"seed": 1, "equilibration_sweeps": 10, "sweeps": 2 * n, "measure_every": 1,
                          "checkpoint_every": 10 + n, "checkpoint_seconds": 0})
    cfg = write_config(tmp_path / f"ck{n}.json", c)
    p = subprocess.Popen([str(BIN), "run", str(cfg), "--threads", "1", "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=dict(os.environ, OMP_WAIT_POLICY="passive"))
    ckpt = f"{out}.ckpt"
    try:
        deadline = time.time() + 120
        while ckpt_step(ckpt) < 10 + n:
            assert p.poll() is None, p.stderr.read().decode()
            assert time.time() < deadline, "no checkpoint"
            time.sleep(0.01)
        p.send_signal(signal.SIGSTOP)
        return os.path.getsize(ckpt)
    finally:
        p.kill()
        p.wait()


def test_checkpoint_size_does_not_grow_with_measurements(sm_bin, tmp_path):
    small, large = checkpoint_after(tmp_path, 1000), checkpoint_after(tmp_path, 100000)
    # only the decimal digits of run.sweeps in the stored configuration differ
    assert abs(large - small) <= 16, (small, large)
