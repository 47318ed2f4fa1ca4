"""Fast subset of the validation suite (the full suite is `make validate`).

The statistics machinery is checked on synthetic series with known answers; then a
short version of tests/validation/validate.py runs the simulator against exact
results (Ising limit 4x4/6x6, Onsager on 64x64, exact enumeration on 4x4 and the
doubled-bond 2x2 with level dynamics, 4x4 with cage dynamics) and the planted-bug
controls (wrong g, wrong sign of J, doubled bonds counted once, h instead of h/16,
forgotten 4 eps_C, error bars without the autocorrelation time), which must fail
decisively with the same runs and statistics."""
import math
import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "validation"))
import validate as V  # noqa: E402


# ---------------------------------------------------------------- statistics

def ar1(rho, n, seed):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n)
    e[0] /= math.sqrt(1 - rho * rho)      # start in the stationary distribution
    x = np.empty(n)
    acc = 0.0
    for i in range(n):                     # x[i] = rho x[i-1] + e[i]
        acc = rho * acc + e[i]
        x[i] = acc
    return x


def test_tau_int_of_ar1_process():
    # AR(1): rho(t) = rho^t, tau_int = (1 + rho) / (2 (1 - rho)) = 9.5 for rho = 0.9
    x = ar1(0.9, 200_000, 1)
    tau, w = V.tau_int_window(x)
    assert tau == pytest.approx(9.5, rel=0.1)
    est = V.estimate_mean(x)
    # true standard error of the mean: sqrt(2 tau var / n), var = 1 / (1 - rho^2)
    true_err = math.sqrt(2 * 9.5 / (1 - 0.81) / 200_000)
    assert est.error == pytest.approx(true_err, rel=0.15)
    # an uncorrelated series has tau = 1/2 and the naive error
    y = np.random.default_rng(2).standard_normal(100_000)
    assert V.tau_int_window(y)[0] == pytest.approx(0.5, abs=0.05)
    assert V.estimate_mean(y).error == pytest.approx(1 / math.sqrt(100_000), rel=0.1)


def test_error_bars_cover_the_truth():
    # 200 independent AR(1) runs of mean 0: |mean| / error must behave like |N(0,1)|
    ests = [V.estimate_mean(ar1(0.8, 20_000, 100 + s)) for s in range(200)]
    devs = np.array([e.mean / e.error for e in ests])
    assert 0.8 < devs.std() < 1.2
    assert np.abs(devs).max() < 4.5


def test_jackknife_specific_heat_of_gaussian_energy():
    # e ~ N(0, s^2) iid: C = N s^2 / T^2 exactly
    rng = np.random.default_rng(3)
    N, T, s = 16, 0.5, 0.1
    est = V.specific_heat(rng.normal(1.0, s, 200_000), N, T)
    assert est.dof == V.JACKKNIFE_BLOCKS - 1
    assert abs(est.mean - N * s * s / T / T) < 4.5 * est.error
    # relative error of a variance from n iid Gaussians: sqrt(2 / n)
    assert est.error / est.mean == pytest.approx(math.sqrt(2 / 200_000), rel=0.3)


def test_bonferroni_threshold():
    # family-wise 1e-3 over 300 checks: two-sided p = 3.33e-6 per check
    assert V.threshold(1e-3 / 300) == pytest.approx(4.65, abs=0.01)
    assert V.threshold(1e-3 / 300, dof=127) > V.threshold(1e-3 / 300)


def test_student_t_tail_closed_forms():
    # nu = 1 (Cauchy): P(|t| > k) = 1 - 2 atan(k) / pi; nu = 2: 1 - k / sqrt(2 + k^2)
    for k in (0.3, 1.0, 4.0, 50.0):
        assert V.two_sided_tail(k, 1) == pytest.approx(1 - 2 * math.atan(k) / math.pi, rel=1e-9)
        assert V.two_sided_tail(k, 2) == pytest.approx(1 - k / math.sqrt(2 + k * k), rel=1e-9)
    # large nu: t -> N(0, 1); textbook quantiles t_{0.975}(10) = 2.228, t_{0.9995}(30) = 3.646
    assert V.two_sided_tail(3.0, 5000) == pytest.approx(math.erfc(3 / math.sqrt(2)), rel=1e-2)
    assert V.two_sided_tail(3.0, 5000) > V.two_sided_tail(3.0, 20_000)   # Gaussian above 1e4
    assert V.threshold(0.05, 10) == pytest.approx(2.228, abs=1e-3)
    assert V.threshold(0.001, 30) == pytest.approx(3.646, abs=1e-3)


def test_error_of_the_error_degrees_of_freedom():
    # nu = n / (2W + 1) with W the Madras-Sokal window (~ c tau = 57 for tau = 9.5),
    # or nb - 1 (>= 127) when the binning floor gives the larger error
    x = ar1(0.9, 200_000, 5)
    tau, w = V.tau_int_window(x)
    est = V.estimate_mean(x)
    tau_err = math.sqrt(2 * tau * x.var() / len(x))
    if est.error == pytest.approx(tau_err, rel=1e-12):
        assert est.dof == math.floor(200_000 / (2 * w + 1))
    else:
        assert est.error > tau_err and 127 <= est.dof < 256
    # the naive estimator of the planted statistics bug is too small by sqrt(2 tau)
    assert V.estimate_mean_naive(x).error == pytest.approx(est.error / math.sqrt(2 * tau), rel=0.05)


# ------------------------------------------------------ exact-side consistency

def test_exact_frozen_model_is_ising_plus_constant():
    """exact_model with levels frozen at 0 and the transfer-matrix Ising result
    are two independent computations of the same thing (energy offset 4 eps_C)."""
    for J, h, T in [(0.125, 0.0, 0.25), (-0.2, 1.5, 0.4)]:
        m = V.exact(V.exact_model_args(4, 4, T, V.model(J=J, h=h), freeze=0))
        i = V.exact(V.exact_ising_args(4, 4, T, J, h))
        assert m["energy"] == pytest.approx(i["energy"] + 4 * 0.125, abs=1e-12)
        for k in ("specific_heat", "m", "m2", "abs_m", "ms2", "abs_ms"):
            assert m[k] == pytest.approx(i[k], abs=1e-12), k


# ------------------------------------------------------- simulator vs exact

@pytest.fixture(scope="module")
def fast_suite(sm_bin):
    assert V.EXACT.exists(), "build/exact/exact missing: run `make unit`"
    cases = V.build_cases(fast=True)
    checks, planted, elapsed = V.run_suite(cases, jobs=2)
    return cases, checks, planted


def test_fast_suite_covers_every_kind(fast_suite):
    cases, checks, _ = fast_suite
    assert {c.group for c in cases} == {"ising", "onsager", "enum", "cage"}
    assert any(c.Lx == 2 and c.Ly == 2 for c in cases)          # doubled bonds
    assert any(c.model["J"] < 0 for c in cases) and any(c.model["h"] != 0 for c in cases)
    assert any(c.group == "enum" and c.model["eps_step"] < 0 for c in cases)   # IE arrows attract
    assert len(checks) > 80


def test_simulator_agrees_with_exact_results(fast_suite):
    _, checks, planted = fast_suite
    bad = [c for c in checks if not c.passed]
    assert not bad, "\n" + V.table(bad)
    # the error bars are meaningful: not zero where the quantity fluctuates
    for c in checks:
        if c.quantity in ("energy", "specific heat", "<m_s^2>", "hscl_fraction"):
            assert c.est.error > 0, c


def test_error_bars_are_not_inflated(fast_suite):
    # honest error bars give dev/sigma ~ N(0, 1); inflated ones would pass anything
    _, checks, _ = fast_suite
    n, mean_d2, _, _, _ = V.deviation_summary(checks)
    assert n > 60
    assert 0.3 < mean_d2 < 2.5, mean_d2


def test_planted_bugs_fail_decisively(fast_suite):
    _, checks, planted = fast_suite
    assert len(planted) == 7
    assert any(desc == V.NAIVE_ERRORS for desc, _, _ in planted)
    for desc, case, ch in planted:
        worst = max(ch, key=lambda c: abs(c.dev))
        # decisively: far beyond the pass threshold, not a marginal failure
        assert abs(worst.dev) > 3 * worst.k, (desc, case.name, worst.quantity, worst.dev)


def test_simulator_with_a_planted_bug_is_flagged(tmp_path):
    """The other direction: the simulator itself runs with a wrong ingredient and
    is compared with the correct exact values through the suite's own statistics
    and threshold. A factor 1.1 in g is what a wrong loop-degeneracy factor in the
    acceptance g^(l'-l) does; -J is a wrong sign of the MIEV coupling."""
    good = V.model()
    runs = [
        # (simulated model, exact model, lattice, T, frozen)
        (V.model(g=4.4), good, 2, 1.0, False),
        (V.model(J=-0.125, h=2.0), V.model(J=0.125, h=2.0), 4, 0.3, True),
    ]
    k = V.threshold(V.ALPHA_FAMILY / 100)      # the fast suite's k (M ~ 100)
    for sim_model, exact_model, L, T, frozen in runs:
        case = V.Case("ising" if frozen else "enum", f"planted sim g={sim_model['g']:g} J={sim_model['J']:+g}", L, L, T, sim_model,
                      sweeps=100_000, equilibration=2000, frozen=frozen,
                      init_sigma="up" if frozen else "random",
                      quantities=V.ISING_QUANTITIES if frozen else V.ENUM_QUANTITIES)
        data = V.run_case(case, tmp_path)
        ex = V.exact(case.exact_args(model=exact_model))
        checks = V.compare(case, data, ex)
        worst = max(checks, key=lambda c: abs(c.dev))
        assert abs(worst.dev) > 3 * k, (case.name, worst.quantity, worst.dev)
        # and the same run passes against the exact values of what it simulated
        ok = V.compare(case, data, V.exact(case.exact_args()))
        assert all(abs(c.dev) <= V.threshold(V.ALPHA_FAMILY / 100, c.est.dof) for c in ok), \
            "\n" + V.table(ok)
