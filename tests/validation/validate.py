#!/usr/bin/python3
"""Validation of softmatrix against exact results (docs/validation.md).

Every comparison runs the real binary (build/softmatrix run CONFIG) and compares
its raw time series, read back from HDF5, with a number computed at the same time
by the independent exact-results module (build/exact/exact, tests/exact/, which
shares no code with src/):

  ising     levels frozen at 0: the sigma field is the square-lattice Ising model
            (coupling J, field h/16) plus 4 eps_C per site; exact finite-size
            values for periodic 4x4, 6x6, 8x8 (row transfer matrix), J > 0 and
            J < 0, h = 0 and h != 0, T/T_c = 0.7, 0.9, 1.1, 1.5.
  onsager   the same limit on 128x128 against Onsager's energy and specific heat
            and Yang's spontaneous magnetisation (infinite lattice), T below and
            above T_c, away from it.
  enum      the full model (levels and spins) on periodic 4x4 (1,637,288 RSOS
            level configurations), 2x4 and 2x2 (doubled bonds) against exact
            enumeration, level dynamics.
  cage      the same exact averages with cage dynamics (docs/model.md section 6), 4x4 and 2x2.

Statistics (see the README section "Validation"). The mean of each series carries the
standard error sqrt(2 tau_int var / n), tau_int from the Madras-Sokal automatic
window W (c = 6); the binning error with the largest bins that leave >= 128 bins
is a floor. The uncertainty of that error bar is carried by Student's t with
nu = n / (2W + 1) degrees of freedom (Madras-Sokal: var(tau)/tau^2 = 2(2W+1)/n),
or nb - 1 when the binning floor is used. The specific heat N var(e) / T^2 uses a
bias-corrected jackknife over 128 blocks (nu = 127).

Thresholds. A check passes when |measured - exact| <= k * error. The suite is
a family of M checks (M ~ 500 in `make validate`, ~100 in the fast subset) and
should fail for a correct program with probability ALPHA_FAMILY = 1e-3 per run.
By Bonferroni (the union bound, valid however the checks are correlated), each
check gets the two-sided tail p = ALPHA_FAMILY / M (~2e-6 for the full suite,
~1e-5 for the fast one), far below the issue's "once in 10^4 checks"; k is the
matching quantile of N(0,1), or of Student's t for the error's nu (k ~ 4.8-5.1).
Seeds are fixed (crc32 of the case name) and the runs single-threaded, so the
suite is deterministic: a "false failure" is a property of the seed set, met with
probability <= 1e-3 over seeds.

Planted bugs: the same runs are compared with an exact calculation that carries
one of the classic bugs (wrong g, wrong sign of J, doubled bonds counted once,
h instead of h/16, the 4 eps_C constant of level 0 forgotten), and once with a
wrong statistics ingredient (error bars ignoring the autocorrelation time);
every one of them must FAIL.

Usage: validate.py [--fast] [--jobs N] [--markdown FILE]
Exit status 0 when every check passes and every planted bug is caught.
"""
import argparse
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
# SOFTMATRIX_BIN: another build of the simulator (make test-sanitize), as in tests/conftest.py
SM = Path(os.environ.get("SOFTMATRIX_BIN") or ROOT / "build" / "softmatrix").resolve()
EXACT = ROOT / "build" / "exact" / "exact"

ALPHA_FAMILY = 1e-3          # P(a correct program fails one run of the suite)
JACKKNIFE_BLOCKS = 128
DEFAULT_MODEL = {"eps_C": 0.125, "g": 4.0, "eps_step": 0.0, "J": 0.125, "h": 0.0}
ISING_TC_PER_J = 2.0 / math.log(1.0 + math.sqrt(2.0))   # T_c / |J|


# --------------------------------------------------------------------------
# statistics

@dataclass
class Estimate:
    mean: float
    error: float
    tau: float          # integrated autocorrelation time in samples (NaN: jackknife)
    n: int
    dof: float = math.inf   # degrees of freedom of the error estimate


def autocorrelation(x):
    """Normalised autocorrelation function rho(t), t = 0..n-1 (FFT, biased estimator)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    y = x - x.mean()
    nfft = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(y, nfft)
    acf = np.fft.irfft(f * np.conj(f), nfft)[:n]
    return acf / acf[0]


def tau_int_window(x, c=6.0):
    """Integrated autocorrelation time with the Madras-Sokal automatic window:
    tau(W) = 1/2 + sum_{t=1}^{W} rho(t), W the smallest window with W >= c tau(W).
    Returns (tau, W)."""
    rho = autocorrelation(x)
    n = len(rho)
    tau = 0.5
    for w in range(1, n):
        tau += rho[w]
        if w >= c * tau:
            return max(tau, 0.5), w
    return max(tau, 0.5), n - 1


def blocking_errors(x):
    """Standard error of the mean for bin sizes 1, 2, 4, ...: list of (bin size, nbins, error)."""
    x = np.asarray(x, dtype=float)
    out = []
    bs = 1
    while len(x) // bs >= 2:
        nb = len(x) // bs
        m = x[: nb * bs].reshape(nb, bs).mean(axis=1)
        out.append((bs, nb, float(m.std(ddof=1) / math.sqrt(nb))))
        bs *= 2
    return out


def estimate_mean(x):
    """Mean of a correlated series with its standard error.

    error = max(sqrt(2 tau var / n), blocking error at the largest bin size that
    leaves >= 128 bins): the windowed tau_int is the estimate, the binning error is
    a floor that guards against an underestimated tail of the autocorrelation."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    mean = float(x.mean())
    var = float(x.var())
    if n < 2 or var == 0.0 or not np.isfinite(var):
        return Estimate(mean, 0.0, 0.5, n)
    tau, w = tau_int_window(x)
    err = math.sqrt(2.0 * tau * var / n)
    # error of the error: var(tau)/tau^2 = 2(2W+1)/n (Madras-Sokal), so the
    # relative variance of err is (2W+1)/(2n) = 1/(2 nu) with nu = n/(2W+1)
    dof = max(1.0, math.floor(n / (2 * w + 1)))
    blk = [(nb, e) for (bs, nb, e) in blocking_errors(x) if nb >= 128]
    if blk and blk[-1][1] > err:
        err, dof = blk[-1][1], blk[-1][0] - 1
    return Estimate(mean, err, tau, n, dof=dof)


def estimate_mean_naive(x):
    """The planted statistics bug: the error of the mean as if the samples were
    independent, sqrt(var / n) (tau_int = 1/2)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    return Estimate(float(x.mean()), math.sqrt(float(x.var()) / n) if n > 1 else 0.0, 0.5, n)


def jackknife(series, f, nblocks=JACKKNIFE_BLOCKS):
    """Bias-corrected blocked jackknife of f(mean of each series). Returns an
    Estimate with dof = nblocks - 1."""
    series = [np.asarray(s, dtype=float) for s in series]
    n = len(series[0])
    nb = min(nblocks, n)
    bs = n // nb
    used = nb * bs
    blocks = [s[:used].reshape(nb, bs).sum(axis=1) for s in series]
    tot = [b.sum() for b in blocks]
    full = f([t / used for t in tot])
    fj = np.array([f([(t - b[i]) / (used - bs) for t, b in zip(tot, blocks)])
                   for i in range(nb)])
    mj = fj.mean()
    err = math.sqrt((nb - 1) / nb * ((fj - mj) ** 2).sum())
    mean = nb * full - (nb - 1) * mj
    return Estimate(float(mean), float(err), math.nan, n, dof=nb - 1)


def specific_heat(e, N, T):
    """N (<e^2> - <e>^2) / T^2 from the per-site energy series e = H/N."""
    e = np.asarray(e, dtype=float)
    shift = e.mean()   # numerically safer; variance is shift-invariant
    d = e - shift
    return jackknife([d, d * d], lambda m: N * (m[1] - m[0] ** 2) / T ** 2)


def two_sided_tail(k, dof=math.inf):
    """P(|Z| > k) for a standard normal Z, or P(|t| > k) for Student's t with an
    integer number of degrees of freedom (Abramowitz & Stegun 26.7.3-4, a finite
    sum, so no special-function library is needed). Above 10^4 degrees of
    freedom t and N(0,1) quantiles at p >= 1e-9 agree to < 0.3 %: Gaussian."""
    if not math.isfinite(dof) or dof > 10_000:
        return math.erfc(k / math.sqrt(2.0))
    nu = int(dof)
    th = math.atan(k / math.sqrt(nu))
    c2, s = math.cos(th) ** 2, math.sin(th)
    if nu % 2 == 0:
        term, tot = 1.0, 1.0
        for j in range(1, nu // 2):
            term *= c2 * (2 * j - 1) / (2 * j)
            tot += term
        a = s * tot
    else:
        tot = 0.0
        if nu > 1:
            term = math.cos(th)
            tot = term
            for j in range(1, (nu - 1) // 2):
                term *= c2 * (2 * j) / (2 * j + 1)
                tot += term
        a = 2.0 / math.pi * (th + s * tot)
    return 1.0 - a


def threshold(p_two_sided, dof=math.inf):
    """k such that P(|Z| > k) = p (Gaussian) or P(|t_dof| > k) = p, by bisection."""
    lo, hi = 0.0, 1.0
    while two_sided_tail(hi, dof) > p_two_sided:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if two_sided_tail(mid, dof) > p_two_sided:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# --------------------------------------------------------------------------
# exact side

_exact_cache = {}


def exact(args):
    """Runs build/exact/exact with the given argument list; JSON result (cached)."""
    key = tuple(str(a) for a in args)
    if key not in _exact_cache:
        env = dict(os.environ, OMP_NUM_THREADS="1")
        p = subprocess.run([str(EXACT), *key], capture_output=True, text=True, env=env,
                           check=True)
        _exact_cache[key] = json.loads(p.stdout)
    return _exact_cache[key]


def exact_model_args(Lx, Ly, T, m, freeze=None):
    a = ["--Lx", Lx, "--Ly", Ly, "--T", repr(T), "--eps_C", repr(m["eps_C"]), "--g", repr(m["g"]),
         "--eps_step", repr(m["eps_step"]), "--J", repr(m["J"]), "--h", repr(m["h"])]
    if freeze is not None:
        a += ["--freeze-level", freeze]
    return a


def exact_ising_args(Lx, Ly, T, J, h):
    return ["--ising", "--Lx", Lx, "--Ly", Ly, "--T", repr(T), "--J", repr(J), "--h", repr(h)]


def exact_onsager_args(J, T):
    return ["--onsager", "--J", repr(J), "--T", repr(T)]


# --------------------------------------------------------------------------
# cases

@dataclass
class Case:
    group: str                  # ising | onsager | enum | cage
    name: str
    Lx: int
    Ly: int
    T: float
    model: dict
    sweeps: int
    equilibration: int
    measure_every: int = 1
    dynamics: dict = field(default_factory=lambda: {"kind": "level"})
    frozen: bool = False
    init_sigma: str = "random"
    quantities: tuple = ()      # which comparisons (see compare())

    @property
    def seed(self):
        return zlib.crc32(self.name.encode()) & 0x7FFFFFFF

    @property
    def N(self):
        return self.Lx * self.Ly

    def config(self, out):
        m = dict(self.model)
        m["freeze_levels"] = self.frozen
        return {
            "description": f"validation case {self.name}",
            "lattice": {"Lx": self.Lx, "Ly": self.Ly, "boundary": "periodic"},
            "model": m,
            "dynamics": self.dynamics,
            "temperature": self.T,
            # "same": the cage dynamics is validated on its own, equilibration
            # included, not from a level-dynamics start
            "run": {"seed": self.seed, "equilibration_sweeps": self.equilibration,
                    "sweeps": self.sweeps, "measure_every": self.measure_every, "threads": 1,
                    "equilibration_dynamics": "same"},
            "init": {"level": 0 if self.frozen else -1, "sigma": self.init_sigma},
            "output": {"path": str(out)},
        }

    def exact_args(self, model=None):
        m = dict(self.model if model is None else model)
        if self.group == "ising":
            return exact_ising_args(self.Lx, self.Ly, self.T, m["J"], m["h"])
        if self.group == "onsager":
            return exact_onsager_args(m["J"], self.T)
        return exact_model_args(self.Lx, self.Ly, self.T, m)


def model(**kw):
    m = dict(DEFAULT_MODEL)
    m.update(kw)
    return m


ENUM_SETS = [
    # name, lattice, T, model parameters
    ("default T=1", 4, 4, 1.0, model()),
    ("default T=0.5", 4, 4, 0.5, model()),
    ("g=2.5 eps_step=0.1 T=1.5", 4, 4, 1.5, model(g=2.5, eps_step=0.1)),
    ("J<0 h=1.5 T=0.7", 4, 4, 0.7, model(J=-0.2, h=1.5)),
    ("g=6 eps_C=0.2 J=0.3 h=-0.8 eps_step=0.05 T=2", 4, 4, 2.0,
     model(g=6.0, eps_C=0.2, J=0.3, h=-0.8, eps_step=0.05)),
    ("default T=3", 4, 4, 3.0, model()),
    ("J=0.25 h=1 eps_step=0.1 T=1", 2, 4, 1.0, model(J=0.25, h=1.0, eps_step=0.1)),
    ("default T=1", 2, 2, 1.0, model()),
    ("g=3 eps_step=0.2 J=-0.3 h=0.8 T=0.8", 2, 2, 0.8,
     model(g=3.0, eps_step=0.2, J=-0.3, h=0.8)),
    # eps_step < 0 (IE arrows attract), the paper_local parameters
    ("paper_local g=e^(12/13) eps_step=-6/13 T=1.5", 4, 4, 1.5,
     model(g=math.exp(12 / 13), eps_step=-6 / 13)),
]

ENUM_QUANTITIES = ("energy", "energy_C", "energy_step", "energy_J", "energy_h", "specific_heat",
                   "level_histogram", "hscl_fraction", "mean_level", "cbosons",
                   "m", "m2", "abs_m", "ms", "ms2", "abs_ms")
ISING_QUANTITIES = ("energy", "specific_heat", "m", "m2", "abs_m", "ms", "ms2", "abs_ms")


def ising_quantities(J, h, T):
    """Observables that single-spin-flip MC samples ergodically. Below T_c a
    symmetric ordered state is not tunnelled through on the run's time scale, so
    the sign-odd averages (exactly 0 by symmetry) are not compared there: at h = 0
    neither m nor m_s; at h != 0 the field breaks the ferromagnetic symmetry but not
    the staggered one: <m_s> is left out for J > 0, <m> for J < 0 at h = 0."""
    q = list(ISING_QUANTITIES)
    if T < ISING_TC_PER_J * abs(J):
        if J > 0:
            q.remove("ms")
        elif h == 0:
            q.remove("m")
    return tuple(q)


def ising_init(J, h):
    return "neel" if J > 0 else ("down" if h < 0 else "up")


def build_cases(fast=False):
    cases = []
    if fast:
        # the make-test subset: one case of each kind, shorter runs
        for (L, T, J, h) in [(6, 0.25, 0.125, 0.0), (6, 0.35, -0.125, 2.0), (4, 0.2, -0.125, 2.0)]:
            cases.append(Case("ising", f"ising {L}x{L} J={J:+g} h={h:g} T={T:g}", L, L, T,
                              model(J=J, h=h), sweeps=100_000, equilibration=2000, frozen=True,
                              init_sigma=ising_init(J, h), quantities=ising_quantities(J, h, T)))
        cases.append(Case("onsager", "onsager 64x64 J=+0.125 T=0.4", 64, 64, 0.4, model(),
                          sweeps=10_000, equilibration=1000, frozen=True, init_sigma="neel",
                          quantities=("energy", "specific_heat")))
        for (name, Lx, Ly, T, m) in (ENUM_SETS[0], ENUM_SETS[3], ENUM_SETS[8], ENUM_SETS[9]):
            cases.append(Case("enum", f"enum {Lx}x{Ly} {name}", Lx, Ly, T, m, sweeps=300_000,
                              equilibration=2000, measure_every=1, quantities=ENUM_QUANTITIES))
        cases.append(Case("cage", "cage 4x4 default T=1 (E_trap=E_async=0)", 4, 4, 1.0, model(),
                          sweeps=2_000_000, equilibration=50_000, measure_every=20,
                          dynamics={"kind": "cage", "trap_barrier": 0, "async_barrier": 0},
                          quantities=ENUM_QUANTITIES))
        return cases

    # Ising limit, finite periodic lattices: T/T_c = 0.7, 0.9, 1.1, 1.5
    for L in (4, 6, 8):
        for J in (0.125, -0.125):
            for h in (0.0, 2.0):
                if L == 8 and (J > 0) == (h != 0):
                    continue   # 8x8: J > 0 at h = 0 and J < 0 at h != 0 (exact 8x8 is slower)
                Tc = ISING_TC_PER_J * abs(J)
                for r in (0.7, 0.9, 1.1, 1.5):
                    T = round(r * Tc, 4)
                    cases.append(Case("ising", f"ising {L}x{L} J={J:+g} h={h:g} T={T:g}", L, L, T,
                                      model(J=J, h=h), sweeps=200_000, equilibration=5000,
                                      frozen=True, init_sigma=ising_init(J, h),
                                      quantities=ising_quantities(J, h, T)))
    # Ising limit, 128x128 against the infinite lattice (T away from T_c = 0.2836)
    for J, T in ((0.125, 0.15), (0.125, 0.2), (0.125, 0.4), (0.125, 0.6),
                 (-0.125, 0.2), (-0.125, 0.45)):
        q = ("energy", "specific_heat") + (("yang",) if T < ISING_TC_PER_J * abs(J) else ())
        cases.append(Case("onsager", f"onsager 128x128 J={J:+g} T={T:g}", 128, 128, T,
                          model(J=J), sweeps=20_000, equilibration=2000, frozen=True,
                          init_sigma=ising_init(J, 0.0), quantities=q))
    # full model, exact enumeration, level dynamics
    for (name, Lx, Ly, T, m) in ENUM_SETS:
        cases.append(Case("enum", f"enum {Lx}x{Ly} {name}", Lx, Ly, T, m, sweeps=1_000_000,
                          equilibration=5000, measure_every=2, quantities=ENUM_QUANTITIES))
    # full model, cage dynamics (tau_int ~ 5000 sweeps: a level change needs the
    # PCP to walk a whole 64-jump loop)
    cage_sets = [
        ("default T=1 (E_trap=1, E_async=1/8)", ENUM_SETS[0], {"kind": "cage"}),
        ("g=2.5 eps_step=0.1 T=1.5 (E_trap=E_async=0)", ENUM_SETS[2],
         {"kind": "cage", "trap_barrier": 0, "async_barrier": 0}),
        ("J<0 h=1.5 T=0.7 (E_trap=E_async=0)", ENUM_SETS[3],
         {"kind": "cage", "trap_barrier": 0, "async_barrier": 0}),
        ("g=6 eps_C=0.2 J=0.3 h=-0.8 eps_step=0.05 T=2 (E_trap=0.5)", ENUM_SETS[4],
         {"kind": "cage", "trap_barrier": 0.5, "async_barrier": 0}),
        # doubled bonds in both directions: SASC pairs across either copy of a bond
        ("g=3 eps_step=0.2 J=-0.3 h=0.8 T=0.8 (E_trap=1, E_async=1/8)", ENUM_SETS[8],
         {"kind": "cage"}),
        ("paper_local eps_step=-6/13 T=1.5 (E_trap=1, E_async=1/8)", ENUM_SETS[9],
         {"kind": "cage"}),
    ]
    for (label, (_, Lx, Ly, T, m), dyn) in cage_sets:
        cases.append(Case("cage", f"cage {Lx}x{Ly} {label}", Lx, Ly, T, m, sweeps=20_000_000,
                          equilibration=100_000, measure_every=20, dynamics=dyn,
                          quantities=ENUM_QUANTITIES))
    return cases


# --------------------------------------------------------------------------
# running and comparing

def snapshot_binaries(workdir):
    """Copies build/softmatrix and build/exact/exact into workdir and points SM and
    EXACT at the copies, so that a rebuild of build/ while the suite runs (others
    share the tree) neither breaks nor mixes the runs."""
    global SM, EXACT
    for name, src in (("softmatrix", SM), ("exact", EXACT)):
        dst = Path(workdir) / name
        shutil.copy2(src, dst)
        if name == "softmatrix":
            SM = dst
        else:
            EXACT = dst


def run_case(case, workdir):
    """Runs the simulator for one case; returns the raw series needed by compare()."""
    cfg_path = Path(workdir) / f"case_{case.seed}.json"
    out = Path(workdir) / f"case_{case.seed}.h5"
    cfg_path.write_text(json.dumps(case.config(out), indent=1))
    p = subprocess.run([str(SM), "run", str(cfg_path), "--output", str(out), "--overwrite",
                        "--quiet", "--threads", "1"], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{case.name}: softmatrix exited {p.returncode}: {p.stderr.strip()}")
    data = {}
    with h5py.File(out, "r") as f:
        for k in ("energy", "energy_C", "energy_step", "energy_J", "energy_h", "hscl_fraction",
                  "mean_level", "cbosons", "magnetization", "staggered_magnetization",
                  "level_histogram", "temperature"):
            data[k] = f[f"observables/{k}/value"][:]
        data["summary_specific_heat"] = float(f["summary/specific_heat/mean"][0])
    out.unlink()
    cfg_path.unlink()
    return data


@dataclass
class Check:
    group: str
    case: str
    quantity: str
    exact: float
    est: Estimate
    k: float = math.nan

    @property
    def dev(self):
        d = self.est.mean - self.exact
        if self.est.error > 0:
            return d / self.est.error
        return 0.0 if abs(d) <= 1e-12 * max(1.0, abs(self.exact)) else math.copysign(math.inf, d)

    @property
    def passed(self):
        return abs(self.dev) <= self.k


# Level-histogram entries are compared one by one only when they are not rare
# events: exact probability f >= HIST_MIN and at least HIST_MIN_VISITS expected
# site visits in independent samples, f N n / (2 tau_int) (N sites, n samples;
# tau_int the larger of the entry's own and the mean level's, so that an entry
# never visited, whose tau defaults to 1/2, is not mistaken for a fast one).
# With fewer visits the mean of an indicator is Poisson-like rather than
# Gaussian, and it is exactly 0 with a zero error bar when no visit happened,
# so the Gaussian threshold would not mean what it says; 100 site visits leave
# dozens of independent events even when plain HSMs or high levels come in
# clusters of a few sites. The rare entries are compared as one pooled fraction
# when the pool passes the same test; otherwise they are left out (the mean
# level and the C-boson energy still see them). hscl_fraction = 1 - f(-1)
# follows the same rule with f = f(-1).
HIST_MIN = 1e-3
HIST_MIN_VISITS = 100


def _enough_visits(f, N, n, tau):
    """Whether an indicator-like per-site fraction (exact mean f, n samples of N
    sites, integrated autocorrelation time tau) is compared (HIST_MIN_VISITS)."""
    return f >= HIST_MIN and f * N * n / (2.0 * max(tau, 0.5)) >= HIST_MIN_VISITS


def compare(case, data, ex, naive=False, cache=None):
    """Checks (quantity, exact value, estimate) for one case against exact result
    ex. naive: error bars of the planted statistics bug (estimate_mean_naive).
    cache: dict of the case's estimates, shared by the calls for one case (the
    estimates do not depend on ex, only the choice of rare entries does)."""
    cache = {} if cache is None else cache

    def proper(key, x):
        if key not in cache:
            cache[key] = estimate_mean(x)
        return cache[key]

    def est(key, x):
        return estimate_mean_naive(x) if naive else proper(key, x)

    checks = []
    N, T = case.N, case.T
    e = data["energy"]
    const = 0.0
    if case.group in ("ising", "onsager"):
        const = 4.0 * case.model["eps_C"]   # the level-0 C-boson energy per site
    m = data["magnetization"]
    ms = data["staggered_magnetization"]
    series = {
        "energy": e - const, "energy_C": data["energy_C"], "energy_step": data["energy_step"],
        "energy_J": data["energy_J"], "energy_h": data["energy_h"],
        "hscl_fraction": data["hscl_fraction"], "mean_level": data["mean_level"],
        "cbosons": data["cbosons"], "m": m, "m2": m * m, "abs_m": np.abs(m),
        "ms": ms, "ms2": ms * ms, "abs_ms": np.abs(ms),
    }
    n = len(e)
    # slowest level mode: the reference tau of the visit counts (MODEL 5.1 series)
    tau_ref = proper("mean_level", series["mean_level"]).tau if "level_histogram" in \
        case.quantities else 0.5
    for q in case.quantities:
        if case.group == "onsager":
            if q == "energy":
                checks.append(("energy - 4 eps_C  [Onsager u]", ex["energy"],
                               est("energy", series["energy"])))
            elif q == "specific_heat":
                checks.append(("specific heat  [Onsager]", ex["specific_heat"], specific_heat(e, N, T)))
            elif q == "yang":
                key = "abs_ms" if case.model["J"] > 0 else "abs_m"
                name = "<|m_s|>  [Yang]" if case.model["J"] > 0 else "<|m|>  [Yang]"
                checks.append((name, ex["spontaneous_magnetisation"], est(key, series[key])))
            continue
        if q == "specific_heat":
            checks.append(("specific heat", ex["specific_heat"], specific_heat(e, N, T)))
        elif q == "level_histogram":
            hist = data["level_histogram"]
            f = ex["level_histogram"]
            small = []
            for i in range(10):
                key = f"hist{i}"
                if f[i] >= HIST_MIN and _enough_visits(
                        f[i], N, n, max(tau_ref, proper(key, hist[:, i]).tau)):
                    checks.append((f"f(level={i - 1})", f[i], est(key, hist[:, i])))
                else:
                    small.append(i)
            if small:
                fs = sum(f[i] for i in small)
                key = "hist" + ",".join(map(str, small))
                x = hist[:, small].sum(axis=1)
                if fs >= HIST_MIN and _enough_visits(fs, N, n, max(tau_ref, proper(key, x).tau)):
                    lv = ",".join(str(i - 1) for i in small)
                    checks.append((f"f(level in {{{lv}}})", fs, est(key, x)))
        elif (q == "energy_step" and case.model["eps_step"] == 0) or \
                (q == "energy_h" and case.model["h"] == 0):
            continue   # identically 0 in the program and exactly: nothing to compare
        elif q == "hscl_fraction" and not _enough_visits(
                1.0 - ex[q], N, n, max(tau_ref, proper(q, series[q]).tau)):
            # 1 - hscl_fraction is the fraction of plain HSMs, f(level=-1): when
            # they are rare events the same rule as for the histogram applies
            continue
        else:
            label = {"energy": "energy - 4 eps_C" if const else "energy"}.get(q, q)
            label = {"m": "<m>", "m2": "<m^2>", "abs_m": "<|m|>", "ms": "<m_s>",
                     "ms2": "<m_s^2>", "abs_ms": "<|m_s|>"}.get(q, label)
            checks.append((label, ex[q], est(q, series[q])))
    return [Check(case.group, case.name, q, float(x), est) for (q, x, est) in checks]


# Planted bugs: the MC side is the correct program and its runs are the suite's
# own; the exact side carries the bug (or, for NAIVE_ERRORS, the statistics do).
def planted_bugs(cases):
    """(description, case, exact argument list) for each emulated bug, using runs
    that are part of the suite."""

    def find(pred):
        for c in cases:
            if pred(c):
                return c
        return None

    bugs = []
    c = find(lambda c: c.group == "enum" and c.Lx == 4 and c.model == model() and c.T == 1.0)
    if c:
        m = dict(c.model, g=c.model["g"] * 1.1)
        bugs.append(("wrong loop degeneracy: g -> 1.1 g", c, exact_model_args(c.Lx, c.Ly, c.T, m)))
    c = find(lambda c: c.group == "enum" and c.Lx == 4 and c.model["J"] < 0)
    if c:
        m = dict(c.model, J=-c.model["J"])
        bugs.append(("wrong sign of J (full model)", c, exact_model_args(c.Lx, c.Ly, c.T, m)))
    c = find(lambda c: c.group == "ising" and c.model["h"] != 0)
    if c:
        bugs.append(("wrong sign of J (Ising limit, h != 0)", c,
                     exact_ising_args(c.Lx, c.Ly, c.T, -c.model["J"], c.model["h"])))
    c = find(lambda c: c.group == "enum" and c.Lx == 2 and c.Ly == 2 and c.model["eps_step"] != 0)
    if c:
        m = dict(c.model, J=c.model["J"] / 2, eps_step=c.model["eps_step"] / 2)
        bugs.append(("doubled bonds of the 2x2 lattice counted once", c,
                     exact_model_args(c.Lx, c.Ly, c.T, m)))
    c = find(lambda c: c.group == "enum" and c.model["h"] != 0 and c.Lx == 4)
    if c:
        m = dict(c.model, h=c.model["h"] * 16)
        bugs.append(("field h instead of h/16", c, exact_model_args(c.Lx, c.Ly, c.T, m)))
    c = find(lambda c: c.group == "ising" and c.model["h"] == 0)
    if c:
        # exact Ising energy + 4 eps_C compared as if it were the Ising energy
        bugs.append(("4 eps_C constant of level 0 forgotten", c,
                     exact_ising_args(c.Lx, c.Ly, c.T, c.model["J"], c.model["h"])))
    c = find(lambda c: c.group == "cage" and c.Lx == 4)
    if c:
        # the statistics carry the bug: correct exact values, correct runs, error
        # bars of uncorrelated samples; the correct program must then be flagged
        bugs.append((NAIVE_ERRORS, c, c.exact_args()))
    return bugs


NAIVE_ERRORS = "error bars ignore autocorrelation (tau_int = 1/2)"


def planted_checks(desc, case, data, ex, cache=None):
    if desc == NAIVE_ERRORS:
        return compare(case, data, ex, naive=True, cache=cache)
    ch = compare(case, data, ex, cache=cache)
    if desc.startswith("4 eps_C"):
        ch = [x for x in ch if x.quantity.startswith("energy")]
        for x in ch:
            x.est = dataclasses.replace(x.est, mean=x.est.mean + 4 * case.model["eps_C"])
    return ch


# --------------------------------------------------------------------------
# driver

def run_suite(cases, jobs=2, workdir=None, log=None):
    """Runs every case and returns (checks, planted, timings). k is set on each check."""
    log = log or (lambda *a: None)
    own = None
    if workdir is None:
        own = tempfile.TemporaryDirectory(prefix="sm_validate_")
        workdir = own.name
    global SM, EXACT
    orig = (SM, EXACT)
    snapshot_binaries(workdir)
    t0 = time.time()
    bugs = planted_bugs(cases)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        bug_ex = list(pool.map(lambda b: exact(b[2]), bugs))
    results = {}

    def work(case):
        """Simulation, then the case's checks and those of the planted bugs that
        use its run (the series are not kept: the statistics of one case overlap
        with the simulation of the next)."""
        t = time.time()
        ex = exact(case.exact_args())
        data = run_case(case, workdir)
        cache = {}
        ch = compare(case, data, ex, cache=cache)
        pl = {i: planted_checks(desc, case, data, bex, cache=cache)
              for i, ((desc, bcase, _), bex) in enumerate(zip(bugs, bug_ex)) if bcase is case}
        return case, ch, pl, time.time() - t

    order = sorted(cases, key=lambda c: -(c.sweeps * c.N * (8 if c.group == "cage" else 1)))
    planted_by_index = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for case, ch, pl, dt in pool.map(work, order):
            results[case.name] = ch
            planted_by_index.update(pl)
            log(f"  [{time.time() - t0:6.1f} s] {case.name} ({dt:.1f} s)")
    checks = [c for case in cases for c in results[case.name]]
    M = len(checks)
    p = ALPHA_FAMILY / M
    for c in checks:
        c.k = threshold(p, c.est.dof)
    planted = []
    for i, (desc, case, args) in enumerate(bugs):
        ch = planted_by_index[i]
        for c in ch:
            c.k = threshold(p, c.est.dof)
        planted.append((desc, case, ch))
    SM, EXACT = orig
    if own:
        own.cleanup()
    return checks, planted, time.time() - t0


def fmt_val(v, e=None):
    if e is None or e <= 0 or not math.isfinite(e):
        return f"{v:.6g}"
    digits = max(0, min(9, int(math.ceil(-math.log10(e))) + 1))
    return f"{v:.{digits}f} ± {e:.2g}"


def md_cell(x):
    """A Markdown table cell: '|' would end the cell, '<m>' would be an HTML tag."""
    return str(x).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def md_table(hdr, rows):
    lines = ["| " + " | ".join(md_cell(h) for h in hdr) + " |", "|" + "---|" * len(hdr)]
    lines += ["| " + " | ".join(md_cell(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def table(checks, markdown=False):
    hdr = ("group", "case", "quantity", "exact", "measured ± error", "tau_int", "dev/σ", "k", "result")
    rows = []
    for c in checks:
        tau = "jk" if not math.isfinite(c.est.tau) else f"{c.est.tau:.3g}"
        ex = f"{c.exact:.6g}" if abs(c.exact) > 1e-15 else "0"   # odd averages: 0 up to rounding
        rows.append((c.group, c.case, c.quantity, ex, fmt_val(c.est.mean, c.est.error),
                     tau, f"{c.dev:+.2f}", f"{c.k:.2f}", "pass" if c.passed else "FAIL"))
    if markdown:
        return md_table(hdr, rows)
    w = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
    out = ["  ".join(h.ljust(w[i]) for i, h in enumerate(hdr))]
    out.append("  ".join("-" * w[i] for i in range(len(hdr))))
    out += ["  ".join(str(r[i]).ljust(w[i]) for i in range(len(hdr))) for r in rows]
    return "\n".join(line.rstrip() for line in out)


def planted_summary(planted):
    """One row per planted bug: the worst deviation; caught when some check fails."""
    rows = []
    for desc, case, ch in planted:
        worst = max(ch, key=lambda c: abs(c.dev))
        nfail = sum(not c.passed for c in ch)
        rows.append((desc, case.name, worst.quantity, worst.dev, worst.k, nfail, len(ch), nfail > 0))
    return rows


def deviation_summary(checks):
    """How the deviations of the checks with a non-zero error bar are spread. For
    honest error bars dev/sigma is ~N(0, 1): mean dev^2 ~ 1, about 4.6 % beyond
    2 and 0.27 % beyond 3. Error bars inflated by a factor r would give mean
    dev^2 ~ 1/r^2 and pass everything: this is the guard against that."""
    d = np.array([c.dev for c in checks if c.est.error > 0 and math.isfinite(c.dev)])
    if len(d) == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    return (len(d), float(np.mean(d * d)), float(np.mean(np.abs(d) > 2)),
            float(np.mean(np.abs(d) > 3)), float(np.max(np.abs(d))))


def report(checks, planted, elapsed, markdown=False, header=True):
    M = len(checks)
    p = ALPHA_FAMILY / M
    k = threshold(p)
    npass = sum(c.passed for c in checks)
    lines = []
    if header:
        lines.append(f"{M} comparisons. Bonferroni: a correct program fails this run with probability "
                     f"<= {ALPHA_FAMILY:g}, so each check has two-sided p = {ALPHA_FAMILY:g}/{M} = "
                     f"{p:.2e} (once in {1 / p:.2g} checks); threshold k = {k:.2f} for a Gaussian "
                     f"error, Student-t quantile for an error with nu degrees of freedom "
                     f"(jackknife: nu = {JACKKNIFE_BLOCKS - 1}). tau_int in measurements (measure_every "
                     f"sweeps apart); jk: jackknife error.")
        lines.append("")
    lines.append(table(checks, markdown))
    lines.append("")
    lines.append(f"{npass}/{M} comparisons pass.")
    nd, d2, f2, f3, dmax = deviation_summary(checks)
    lines.append(f"Spread of dev/σ over the {nd} checks with a non-zero error bar: mean dev² = {d2:.2f} "
                 f"(1 for honest error bars), |dev| > 2: {100 * f2:.1f} % (Gaussian 4.6 %), "
                 f"|dev| > 3: {100 * f3:.1f} % (0.27 %), max |dev| = {dmax:.2f}.")
    lines.append("")
    prow = planted_summary(planted)
    lines.append("Planted bugs: the same MC runs compared with exact values computed with a "
                 "deliberately wrong ingredient, or (last row, if present) with a wrong "
                 "statistics ingredient. Each must FAIL.")
    lines.append("")
    hdr = ("planted bug", "case", "worst quantity", "dev/σ", "k", "failing checks", "caught")
    r2 = [(d, c, q, f"{dv:+.1f}", f"{kk:.2f}", f"{nf}/{nt}", "yes" if ok else "NO")
          for (d, c, q, dv, kk, nf, nt, ok) in prow]
    if markdown:
        lines.append(md_table(hdr, r2))
    else:
        w = [max(len(str(r[i])) for r in r2 + [hdr]) for i in range(len(hdr))]
        lines.append("  ".join(h.ljust(w[i]) for i, h in enumerate(hdr)).rstrip())
        lines += ["  ".join(str(r[i]).ljust(w[i]) for i in range(len(hdr))).rstrip() for r in r2]
    caught = sum(r[-1] for r in prow)
    lines.append("")
    lines.append(f"{caught}/{len(prow)} planted bugs caught. Wall time {elapsed:.0f} s.")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fast", action="store_true", help="the make-test subset")
    ap.add_argument("--jobs", type=int, default=2, help="simulations run concurrently (default 2)")
    ap.add_argument("--markdown", help="also write the report as Markdown to this file")
    args = ap.parse_args(argv)
    for b in (SM, EXACT):
        if not b.exists():
            sys.exit(f"validate.py: {b} missing (make all build/exact/exact)")
    cases = build_cases(args.fast)
    print(f"validate: {len(cases)} simulations, {args.jobs} at a time", flush=True)
    checks, planted, elapsed = run_suite(cases, jobs=args.jobs,
                                         log=lambda s: print(s, file=sys.stderr, flush=True))
    print(report(checks, planted, elapsed))
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text("# softmatrix validation\n\nCommand: `make validate`\n\n" +
                                       report(checks, planted, elapsed, markdown=True) + "\n")
    ok = all(c.passed for c in checks) and all(r[-1] for r in planted_summary(planted))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
