"""The glass transition of the model and its kinetics at equilibrium.

Readers, fits and figures for:

* transition files of ``softmatrix transition`` (T_g, T_m, T_p and every
  point evaluated; a sweep block gives one point per parameter set, e.g. the
  map of T_g/T_m over (g, eps_step));
* sweep directories of cage runs that start in equilibrium:
  ``configs/cage_relaxation.json`` (tau_i at held temperatures),
  ``configs/tjump.json`` (temperature jumps down and up, averaged over seeds
  and fitted with a Kohlrausch-Williams-Watts function) and
  ``configs/hysteresis.json`` (heating-cooling loops at several ramp rates).

Command line: ``python3 -m softmatrix.glass {transition,tgmap,tau,kww,loops}
...``; each writes a PNG and prints the numbers it shows.  Errors of fitted
quantities are jackknife errors over the independent seeds.
"""
from __future__ import annotations

import argparse
import glob
import math
import os
import sys
from typing import Dict, List, Optional, Tuple

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import analysis as an  # noqa: E402
from . import figures as fg  # noqa: E402
from .io import SoftmatrixFileError, open_run  # noqa: E402

PROG = "python3 -m softmatrix.glass"
PAPER_RATIO = 5.0 / 8.0
TARGETS = (("T_g", "n_SM = 1"), ("T_m", "n_SM = 5"), ("T_p", "P_span = 1/2"))
DERIVED = ("ratio", "n_z", "viscosity_exponent", "N_z_star")


# ---------------------------------------------------------- transition files

def parse_point(desc: str) -> Dict[str, object]:
    """"model.g=2 model.eps_step=-0.3" -> {"model.g": 2.0, ...} (numbers
    where they parse, else the text)."""
    out: Dict[str, object] = {}
    for item in (desc or "").split():
        if "=" not in item:
            continue
        k, v = item.split("=", 1)
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


def _value(g, name) -> Tuple[float, float]:
    if name not in g:
        return (math.nan, math.nan)
    return (float(g[name]["value"][()]), float(g[name]["error"][()]))


def _size(g) -> Dict[str, object]:
    pts = g["points"]
    order = np.argsort(pts["T"][:])
    d: Dict[str, object] = {k: pts[k][:][order] for k in
                            ("T", "n_sm_mean", "n_sm_error", "span_mean", "span_error")}
    d["n_sm_seeds"] = pts["n_sm"][:][order]
    d["tau_int"] = pts["tau_int"][:][order]
    for name in [t for t, _ in TARGETS] + list(DERIVED):
        d[name] = _value(g, name)
    d["seconds"] = float(g["seconds"][()]) if "seconds" in g else math.nan
    return d


def read_transition(path) -> List[Dict[str, object]]:
    """The points of a transition file: a list of {"point": description,
    "overrides": {key: value}, "sizes": {L: {...}}}; one point without a
    sweep block.  Each size holds the temperatures (sorted), the seed means
    and errors of n_SM and of the spanning probability, the per-seed n_SM,
    tau_int, and the crossings and derived numbers as (value, error)."""
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise SoftmatrixFileError(f"{path}: cannot open: {exc}") from None
    with f:
        if "transition" not in f:
            raise SoftmatrixFileError(f"{path}: no /transition group (not a transition file)")
        g = f["transition"]
        groups = [g[k] for k in sorted(g) if k.startswith("point_")] or [g]
        out = []
        for pg in groups:
            desc = pg.attrs.get("point", "")
            desc = desc.decode() if isinstance(desc, bytes) else str(desc)
            sizes = {int(k[1:]): _size(pg[k]) for k in pg if k.startswith("L") and k[1:].isdigit()}
            out.append({"point": desc, "overrides": parse_point(desc), "sizes": sizes})
    return out


def plot_transition(files: List[Tuple[str, str]], title=None):
    """n_SM(T) (log scale, error bands) and the level-8 spanning probability
    against T for each transition file (one row per file, e.g. the defaults
    and paper_local) and each lattice size in it, with T_g, T_m and T_p
    marked by their error bands."""
    fg.style()
    fig, ax = plt.subplots(len(files), 2, figsize=(12.0, 4.2 * len(files)), layout="constrained",
                           squeeze=False)
    info: Dict[str, object] = {}
    for row, (path, label) in enumerate(files):
        pt = read_transition(path)[0]
        a_n, a_p = ax[row]
        for j, (L, d) in enumerate(sorted(pt["sizes"].items())):
            col = f"C{j}"
            T = d["T"]
            for a, m, e in ((a_n, d["n_sm_mean"], d["n_sm_error"]), (a_p, d["span_mean"], d["span_error"])):
                a.plot(T, m, "o-", ms=2.5, lw=1, color=col, label=f"L = {L}")
                a.fill_between(T, m - e, m + e, color=col, alpha=0.25, lw=0)
            for (name, _), a in zip(TARGETS, (a_n, a_n, a_p)):
                v, e = d[name]
                if np.isfinite(v):
                    a.axvspan(v - e, v + e, color=col, alpha=0.35, lw=0)
                    a.axvline(v, color=col, lw=0.8, ls="--")
            info[f"{label} L={L}"] = {k: d[k] for k in ("T_g", "T_m", "T_p", "ratio")}
        a_n.set_yscale("log")
        a_n.set_ylim(1e-2, 250)
        # n_SM rises within a few tenths of T_g: zoom on it (T_p is on the right)
        tg = [d["T_g"][0] for d in pt["sizes"].values() if np.isfinite(d["T_g"][0])]
        tm = [d["T_m"][0] for d in pt["sizes"].values() if np.isfinite(d["T_m"][0])]
        if tg and tm:
            a_n.set_xlim(min(tg) * 0.9, max(tm) * 1.1)
        for y in (1, 5):
            a_n.axhline(y, color="k", lw=0.6, ls=":")
        a_p.axhline(0.5, color="k", lw=0.6, ls=":")
        a_n.set_ylabel("n_SM = 200 f₈")
        a_p.set_ylabel("level-8 spanning probability")
        for a in (a_n, a_p):
            a.set_xlabel(fg.T_LABEL)
            a.legend(loc="best")
        big = max(pt["sizes"])
        d = pt["sizes"][big]
        txt = ", ".join(f"{n} = {fg.fmt(d[n][0], '.4f')}" for n, _ in TARGETS)
        a_n.set_title(f"{label}: n_SM at equilibrium; T_g (n_SM = 1), T_m (n_SM = 5)\n"
                      f"L = {big}: {txt}, T_g/T_m = {fg.fmt(d['ratio'][0], '.4f')} ± "
                      f"{fg.fmt(d['ratio'][1], '.1g')}")
        a_p.set_title(f"{label}: T_p, where level-8 clusters span (probability 1/2)")
    fig.suptitle(title or "Collective ordering temperatures at equilibrium (level dynamics, "
                          "bands: errors over independent seeds)")
    return fig, info


def tgmap(path) -> Dict[str, object]:
    """The map of a transition file over two swept keys: their values, and
    T_g/T_m, its error and T_g°/T_m° (local, from the parameters) on the grid."""
    pts = read_transition(path)
    keys = [k for k in pts[0]["overrides"]]
    if len(keys) != 2:
        raise SoftmatrixFileError(f"{path}: a map needs a sweep over two keys (got {keys})")
    xs = sorted({p["overrides"][keys[0]] for p in pts})
    ys = sorted({p["overrides"][keys[1]] for p in pts})
    R = np.full((len(ys), len(xs)), np.nan)
    E = np.full_like(R, np.nan)
    loc = np.full_like(R, np.nan)
    L = None
    for p in pts:
        i, j = ys.index(p["overrides"][keys[1]]), xs.index(p["overrides"][keys[0]])
        L = max(p["sizes"])
        R[i, j], E[i, j] = p["sizes"][L]["ratio"]
        loc[i, j] = local_ratio(p["overrides"])
    return {"x_key": keys[0], "y_key": keys[1], "x": np.array(xs), "y": np.array(ys),
            "ratio": R, "error": E, "local": loc, "L": L}


def local_ratio(over, eps_C=0.125) -> float:
    """T_g°/T_m° = (64 eps_C + 4 eps_step)/(64 eps_C - 4 eps_step) of a point
    (defaults for keys it does not set); NaN where T_g° <= 0."""
    e = float(over.get("model.eps_step", 0.0))
    c = float(over.get("model.eps_C", eps_C))
    tg, tm = 64 * c + 4 * e, 64 * c - 4 * e
    return tg / tm if tg > 0 and tm > 0 else math.nan


def plot_tgmap(path, title=None):
    """T_g/T_m over the two swept keys as a colour map with every value
    written in, the 5/8 contour if any; beside it the measured ratio against
    the local one T_g°/T_m°."""
    m = tgmap(path)
    fg.style()
    fig, (a, b) = plt.subplots(1, 2, figsize=(13.0, 5.6), layout="constrained",
                               gridspec_kw={"width_ratios": [1.25, 1]})
    R = m["ratio"]
    im = a.imshow(R, origin="lower", cmap="viridis", vmin=min(PAPER_RATIO, np.nanmin(R)), vmax=1.0,
                  aspect="auto")
    for i in range(R.shape[0]):
        for j in range(R.shape[1]):
            a.text(j, i, f"{R[i, j]:.4f}\n±{m['error'][i, j]:.4f}" if np.isfinite(R[i, j]) else "n/a",
                   ha="center", va="center", fontsize=7.5, color="w" if R[i, j] < 0.85 else "k")
    a.set_xticks(range(len(m["x"])), [f"{v:.4g}" for v in m["x"]])
    a.set_yticks(range(len(m["y"])), [f"{v:.4g}" for v in m["y"]])
    a.set_xlabel(m["x_key"])
    a.set_ylabel(m["y_key"])
    a.grid(False)
    fig.colorbar(im, ax=a, label="measured T_g/T_m (5/8 = 0.625 at the bottom of the scale)")
    a.set_title(f"measured T_g/T_m (n_SM = 1 over n_SM = 5), L = {m['L']}")
    ok = np.isfinite(R) & np.isfinite(m["local"])
    b.errorbar(m["local"][ok], R[ok], yerr=m["error"][ok], fmt="o", ms=4, capsize=2)
    lo = np.nanmin(m["local"][ok]) if ok.any() else 0.0
    xx = np.linspace(min(lo, PAPER_RATIO) - 0.05, 1.02, 10)
    b.plot(xx, xx, "k:", lw=0.8, label="measured = local")
    b.axhline(PAPER_RATIO, color="tab:red", lw=1, label="5/8 (paper)")
    b.set_xlabel("local T_g°/T_m° = T_0^(7)/T_4^(7) (from the parameters)")
    b.set_ylabel("measured T_g/T_m")
    b.legend(loc="best")
    reach = bool(np.nanmin(R - m["error"] * 3) <= PAPER_RATIO) if np.isfinite(R).any() else False
    b.set_title(f"lowest measured ratio {np.nanmin(R):.3f}: "
                f"{'some member reaches' if reach else 'no member reaches'} 5/8")
    fig.suptitle(title or "T_g/T_m over the model family (level dynamics at equilibrium)")
    return fig, {"min_ratio": float(np.nanmin(R)), "reaches_5_8": reach, "map": m}


# ----------------------------------------------------------- sweep directories

def _runs(directory) -> List[object]:
    files = sorted(glob.glob(os.path.join(directory, "point_*.h5")))
    if not files:
        raise SoftmatrixFileError(f"{directory}: no point_*.h5 files (run softmatrix sweep first)")
    return [open_run(p) for p in files]


def _seg_start(run, s) -> int:
    """The first measured step of segment s."""
    seg = run.segment_of_sample()
    idx = np.nonzero(seg == s)[0]
    return int(run.obs("energy").step[idx[0]]) if len(idx) else 0


def tau_table(directory) -> List[Dict[str, object]]:
    """tau_i (mean, error, count) of the last (held) segment of every cage
    run in a sweep directory, with its temperature, sorted by T."""
    rows = []
    for r in _runs(directory):
        if r.kinetics is None:
            continue
        s = r.kinetics.n_segments - 1
        rows.append({"T": float(r.kinetics.T_from[s]), "mean": r.kinetics.tau_mean[s],
                     "error": r.kinetics.tau_error[s], "count": r.kinetics.tau_count[s],
                     "agrees": _agrees(r.path)})
    return sorted(rows, key=lambda d: d["T"])


def _agrees(path) -> Optional[str]:
    with h5py.File(path, "r") as f:
        if "equilibrium_check" not in f:
            return None
        v = f["equilibrium_check"].attrs.get("agrees", "")
        return v.decode() if isinstance(v, bytes) else str(v)


def best_tau(rows) -> Dict[str, np.ndarray]:
    """For every i, tau_i at the temperature where it has most intervals."""
    n = len(rows[0]["mean"])
    out = {k: np.full(n, np.nan) for k in ("mean", "error", "count", "T")}
    for i in range(n):
        r = max(rows, key=lambda r: r["count"][i])
        if r["count"][i] > 0:
            out["mean"][i], out["error"][i] = r["mean"][i], r["error"][i]
            out["count"][i], out["T"][i] = r["count"][i], r["T"]
    return out


def plot_tau(directory, min_count=20, title=None):
    """tau_i against i at every held temperature (log scale, errors)."""
    rows = tau_table(directory)
    fg.style()
    fig, ax = plt.subplots(figsize=(8.0, 5.5), layout="constrained")
    cmap = matplotlib.colormaps["plasma"]
    Ts = np.array([r["T"] for r in rows])
    for r in rows:
        ok = r["count"] >= min_count
        c = cmap(0.85 * (r["T"] - Ts.min()) / (np.ptp(Ts) or 1.0))
        i = np.arange(len(r["mean"]))
        ax.errorbar(i[ok], r["mean"][ok], yerr=r["error"][ok], fmt="o-", color=c, ms=4, capsize=2,
                    label=f"T = {r['T']:g}")
    best = best_tau(rows)
    ok = np.isfinite(best["mean"])
    ax.errorbar(np.arange(len(best["mean"]))[ok], best["mean"][ok], yerr=best["error"][ok], fmt="ks",
                ms=7, mfc="none", capsize=3, label="best sampled (most intervals)")
    ax.set_yscale("log")
    good = np.concatenate([r["mean"][r["count"] >= min_count] for r in rows] + [np.zeros(0)])
    good = good[np.isfinite(good) & (good > 0)]
    if len(good):
        ax.set_ylim(good.min() / 3, good.max() * 3)
    ax.set_xlabel("i (loop i completed, then loop i + 1)")
    ax.set_ylabel("τ_i (sweeps)")
    ax.legend(loc="best", ncol=2)
    ax.set_title(title or f"τ_i in steady state (cage dynamics from level-dynamics equilibrium; "
                          f"entries with ≥ {min_count} intervals)")
    return fig, {"rows": rows, "best": best}


def kww(t, A, tau, beta, c):
    """A exp(-(t/tau)^beta) + c."""
    return A * np.exp(-np.power(np.maximum(t, 0) / tau, beta)) + c


def _kww_design(t, tau, beta, fixed_c):
    e = np.exp(-np.power(t / tau, beta))
    return e[:, None] if fixed_c else np.stack([e, np.ones_like(t)], axis=1)


def _kww_sse(t, y, tau, beta, c=None):
    """SSE and the linear coefficients (A, c) at (tau, beta); c fixed when given."""
    X = _kww_design(t, tau, beta, c is not None)
    coef, *_ = np.linalg.lstsq(X, y if c is None else y - c, rcond=None)
    r = (y if c is None else y - c) - X @ coef
    return float(r @ r), (coef[0], coef[1] if c is None else c)


def _kww_grid(t, y, taus, betas, c=None) -> np.ndarray:
    """SSE of the best A (and c, unless fixed) at every (tau, beta) of the
    grid, all at once: the normal equations of y = A e + c,
    e = exp(-(t/tau)^beta)."""
    e = np.exp(-np.power(t[None, None, :] / taus[:, None, None], betas[None, :, None]))
    see = (e * e).sum(-1)
    if c is not None:
        u = y - c
        with np.errstate(invalid="ignore", divide="ignore"):
            A = (e * u).sum(-1) / see
            r = u[None, None, :] - A[..., None] * e
            sse = (r * r).sum(-1)
        return np.where(see > 1e-300, sse, np.inf)
    n = len(t)
    se, sy, sey = e.sum(-1), y.sum(), (e * y).sum(-1)
    det = n * see - se * se
    with np.errstate(invalid="ignore", divide="ignore"):
        A = (n * sey - se * sy) / det
        cc = (sy - A * se) / n
        r = y[None, None, :] - A[..., None] * e - cc[..., None]
        sse = (r * r).sum(-1)
    return np.where(det > 1e-12 * n * n, sse, np.inf)


def fit_kww(t, y, c=None) -> Optional[Dict[str, float]]:
    """Least-squares KWW fit A exp(-(t/tau)^beta) + c: a grid over (log tau,
    beta) with A (and c) linear at each node, then zoomed twice around the
    best node.  tau from a tenth of the first time to 10 times the window,
    beta in 0.1..2.  With c given (e.g. the equilibrium value at the final
    temperature) only A, tau and beta are fitted: the plateau then no longer
    trades off against tau when the window holds few relaxation times."""
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    ok = np.isfinite(t) & np.isfinite(y) & (t > 0)
    t, y = t[ok], y[ok]
    if len(t) < 6 or (c is not None and not np.isfinite(c)):
        return None
    lt = np.linspace(math.log(t[0] / 10), math.log(10 * t[-1]), 61)
    bb = np.linspace(0.1, 2.0, 39)
    for _ in range(3):
        sse = _kww_grid(t, y, np.exp(lt), bb, c)
        i, j = np.unravel_index(np.argmin(sse), sse.shape)
        da, db = lt[1] - lt[0], bb[1] - bb[0]
        lt = np.linspace(lt[i] - 2 * da, lt[i] + 2 * da, 21)
        bb = np.linspace(max(0.05, bb[j] - 2 * db), bb[j] + 2 * db, 21)
    tau, beta = math.exp(lt[10]), float(bb[10])
    s, (A, c_fit) = _kww_sse(t, y, tau, beta, c)
    return {"A": float(A), "tau": tau, "beta": beta, "c": float(c_fit), "rms": math.sqrt(s / len(t)),
            "c_fixed": c is not None}


_EQ_COLUMNS = {"mean_level": 0, "n_soft_matrix": 1, "energy": 2}


def _equilibrium(path, name) -> float:
    """The level-dynamics equilibrium value of `name` at the last hold of a
    cage run (its /equilibrium_check), NaN when there is none."""
    with h5py.File(path, "r") as f:
        if "equilibrium_check" not in f or name not in _EQ_COLUMNS:
            return math.nan
        return float(f["equilibrium_check/level_mean"][-1, _EQ_COLUMNS[name]])


def tjump_curves(directory, name) -> Dict[str, Dict[str, object]]:
    """Observable `name` after the jump (the last segment) of every run of a
    temperature-jump sweep, grouped into "down" and "up": times since the
    jump t, one row per seed, T1 -> T2, and the level-dynamics equilibrium
    value at T2 (mean over the seeds' references)."""
    out: Dict[str, Dict[str, object]] = {}
    for r in _runs(directory):
        seg = r.segments()
        T1, T2 = float(seg["T_from"][0]), float(seg["T_to"][-1])
        key = "down" if T2 < T1 else "up"
        s = len(seg["T_from"]) - 1
        ts = r.obs(name)
        sel = r.segment_of_sample() == s
        t = ts.step[sel] - _seg_start(r, s) + 1
        d = out.setdefault(key, {"t": t, "rows": [], "T1": T1, "T2": T2, "eq": [], "L": r.lattice[0]})
        d["eq"].append(_equilibrium(r.path, name))
        n = min(len(d["t"]), len(t))
        d["t"] = d["t"][:n]
        d["rows"] = [row[:n] for row in d["rows"]] + [np.asarray(ts.value, float)[sel][:n]]
    for d in out.values():
        d["rows"] = np.array(d["rows"])
        eq = d["eq_seeds"] = np.array(d["eq"], float)
        d["eq"] = float(np.nanmean(eq)) if np.isfinite(eq).any() else math.nan
        d["eq_error"] = float(np.nanstd(eq, ddof=1) / math.sqrt(np.isfinite(eq).sum())) \
            if np.isfinite(eq).sum() > 1 else math.nan
    return out


def kww_jackknife(t, rows, eq=None) -> Dict[str, object]:
    """KWW fit of the seed average and jackknife errors over the seeds.
    With eq (one equilibrium value per seed, e.g. each run's level-dynamics
    reference at the final temperature) the plateau c is fixed to their mean,
    and each jackknife sample leaves a seed's curve and its reference out."""
    eq = None if eq is None or not np.all(np.isfinite(eq)) else np.asarray(eq, float)
    fit = fit_kww(t, rows.mean(axis=0), None if eq is None else eq.mean())
    n = len(rows)
    if fit is None or n < 2:
        return {"fit": fit, "error": None}
    jk = [fit_kww(t, np.delete(rows, k, axis=0).mean(axis=0),
                  None if eq is None else np.delete(eq, k).mean()) for k in range(n)]
    err = {}
    for p in ("tau", "beta", "A", "c"):
        v = np.array([f[p] for f in jk if f])
        err[p] = float(math.sqrt((n - 1) / n * np.sum((v - v.mean()) ** 2)))
    return {"fit": fit, "error": err}


def plot_kww(directory, title=None):
    """n_SM(t) and <level>(t) after jumps down and up, averaged over seeds,
    with their KWW fits; tau and beta with jackknife errors in the legend."""
    fg.style()
    fig, ax = plt.subplots(1, 2, figsize=(12.5, 5.0), layout="constrained")
    info: Dict[str, object] = {}
    for a, (name, lab) in zip(ax, (("mean_level", "⟨ℓ⟩"), ("n_soft_matrix", "n_SM"))):
        curves = tjump_curves(directory, name)
        for key, col in (("down", "tab:blue"), ("up", "tab:red")):
            if key not in curves:
                continue
            d = curves[key]
            t, rows = d["t"], d["rows"]
            m = rows.mean(axis=0)
            e = rows.std(axis=0, ddof=1) / math.sqrt(len(rows)) if len(rows) > 1 else 0 * m
            a.fill_between(t, m - e, m + e, color=col, alpha=0.3, lw=0)
            a.plot(t, m, color=col, lw=0.8)
            res = kww_jackknife(t, rows, d["eq_seeds"])
            res["free"] = kww_jackknife(t, rows)
            res["equilibrium"] = (d["eq"], d["eq_error"])
            res["seeds"], res["L"] = len(rows), d["L"]
            if np.isfinite(d["eq"]):
                a.axhline(d["eq"], color=col, lw=0.8, ls=":")
            f, er = res["fit"], res["error"] or {}
            if f:
                tt = np.geomspace(t[0], t[-1], 200)
                a.plot(tt, kww(tt, f["A"], f["tau"], f["beta"], f["c"]), "k--", lw=1)
                lbl = (f"{key}: T = {d['T1']:g} → {d['T2']:g}, {d['L']}², {len(rows)} seeds\n"
                       f"τ = {f['tau']:.4g} ± {er.get('tau', math.nan):.2g}, "
                       f"β = {f['beta']:.3f} ± {er.get('beta', math.nan):.2g}")
                a.plot([], [], color=col, label=lbl)
            info[f"{name} {key}"] = res
        a.set_xscale("log")
        a.set_xlabel("time after the jump (sweeps)")
        a.set_ylabel(lab)
        a.legend(loc="best")
        a.set_title(f"{lab}(t) after temperature jumps, KWW fits A exp(−(t/τ)^β) + c\n"
                    "(c fixed: dotted, the level-dynamics equilibrium at the final temperature)")
    fig.suptitle(title or "Temperature-jump relaxation with the cage dynamics from equilibrium")
    return fig, info


def hysteresis_loops(directory, name="mean_level", bins=24) -> Dict[str, Dict[str, object]]:
    """Per ramp (the runs' schedule label, or their ramp length): the binned
    heating and cooling branches of `name` of every seed and the loop area
    (integral over T of cooling - heating), with the ramp rate |dT/dt|."""
    out: Dict[str, Dict[str, object]] = {}
    for r in _runs(directory):
        seg = r.segments()
        ramp = [s for s in range(len(seg["T_from"])) if seg["T_from"][s] != seg["T_to"][s]]
        if not ramp:
            continue
        s0 = ramp[0]
        rate = abs(float(seg["T_to"][s0] - seg["T_from"][s0])) / float(seg["sweeps"][s0])
        T = np.asarray(r.obs("temperature").value, float)
        y = np.asarray(r.obs(name).value, float)
        br = an.branch_of_sample(r)
        lo, hi = float(np.min(seg["T_from"][ramp])), float(np.max(seg["T_to"][ramp]))
        edges = np.linspace(lo, hi, bins + 1)
        edges[-1] += 1e-9
        c, mh, _, _ = an.binned(T[br > 0], y[br > 0], edges)
        _, mc, _, _ = an.binned(T[br < 0], y[br < 0], edges)
        d = out.setdefault(f"{rate:.3g}", {"rate": rate, "T": c, "heat": [], "cool": [], "area": []})
        d["heat"].append(mh)
        d["cool"].append(mc)
        d["area"].append(an.loop_area(c, mh, mc))
    for d in out.values():
        a = np.array([v for v in d["area"] if v is not None], float)
        d["area_mean"] = float(a.mean()) if len(a) else math.nan
        d["area_error"] = float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else math.nan
    return dict(sorted(out.items(), key=lambda kv: kv[1]["rate"]))


def plot_loops(directory, name="mean_level", title=None):
    """Hysteresis loops of `name` at each ramp rate (seed averages) and the
    loop area against the rate."""
    loops = hysteresis_loops(directory, name)
    fg.style()
    fig, (a, b) = plt.subplots(1, 2, figsize=(12.5, 5.0), layout="constrained")
    cmap = matplotlib.colormaps["viridis"]
    for k, (key, d) in enumerate(loops.items()):
        col = cmap(0.9 * k / max(1, len(loops) - 1))
        a.plot(d["T"], np.nanmean(d["heat"], axis=0), "-^", ms=3, color=col,
               label=f"rate {d['rate']:.3g} ε₀/k_B per sweep")
        a.plot(d["T"], np.nanmean(d["cool"], axis=0), "-v", ms=3, color=col)
    a.set_xlabel(fg.T_LABEL)
    a.set_ylabel(name)
    a.legend(loc="best")
    a.set_title("heating (▲) and cooling (▼) branches, seed averages")
    r = np.array([d["rate"] for d in loops.values()])
    A = np.array([d["area_mean"] for d in loops.values()])
    E = np.array([d["area_error"] for d in loops.values()])
    b.errorbar(r, A, yerr=E, fmt="o-", capsize=3)
    b.set_xscale("log")
    b.set_xlabel("ramp rate |dT/dt| (ε₀/k_B per sweep)")
    b.set_ylabel(f"loop area ∮ {name} dT (cooling − heating)")
    b.set_title("loop area against ramp rate (errors over seeds)")
    fig.suptitle(title or "Hysteresis of the cascade with the cage dynamics, from equilibrium")
    return fig, {"rates": r.tolist(), "areas": A.tolist(), "errors": E.tolist()}


# ---------------------------------------------------------------- command line

def _pm(v, e, spec=".4g"):
    return f"{v:{spec}} ± {e:.2g}" if np.isfinite(e) else f"{v:{spec}}"


def report(cmd, info, out=sys.stdout):
    """The numbers a figure shows, as text."""
    w = lambda *a: print(*a, file=out)  # noqa: E731
    if cmd == "transition":
        for key, d in info.items():
            w(f"{key}: " + ", ".join(f"{n} = {_pm(*d[n])}" for n in ("T_g", "T_m", "T_p", "ratio")))
    elif cmd == "tgmap":
        m = info["map"]
        w(f"T_g/T_m, L = {m['L']}; rows {m['y_key']}, columns {m['x_key']}")
        w(" " * 10 + "".join(f"{x:>18.4g}" for x in m["x"]))
        for i, y in enumerate(m["y"]):
            w(f"{y:>10.4g}" + "".join(f"{_pm(m['ratio'][i, j], m['error'][i, j], '.4f'):>18}"
                                      for j in range(len(m["x"]))))
        w(f"lowest ratio {info['min_ratio']:.4f}; reaches 5/8: {info['reaches_5_8']}")
    elif cmd == "tau":
        for r in info["rows"]:
            cells = [f"{_pm(m, e, '.0f')} [{int(c)}]" if c > 0 else "-"
                     for m, e, c in zip(r["mean"], r["error"], r["count"])]
            w(f"T = {r['T']:g} (equilibrium check: {r['agrees']}): " + "; ".join(
                f"tau_{i} {c}" for i, c in enumerate(cells) if c != "-"))
        b = info["best"]
        w("best sampled: " + "; ".join(f"tau_{i} = {_pm(m, e, '.0f')} (T = {T:g})"
                                        for i, (m, e, T) in enumerate(zip(b["mean"], b["error"], b["T"]))
                                        if np.isfinite(m)))
    elif cmd == "kww":
        for key, res in info.items():
            f, e = res["fit"], res["error"] or {}
            if f:
                eq, eqe = res.get("equilibrium", (math.nan, math.nan))
                cfix = " fixed" if f.get("c_fixed") else ""
                w(f"{key} ({res.get('L')}x{res.get('L')}, {res.get('seeds')} seeds): "
                  f"tau = {_pm(f['tau'], e.get('tau', math.nan))}, beta = "
                  f"{_pm(f['beta'], e.get('beta', math.nan), '.3f')}, A = {_pm(f['A'], e.get('A', math.nan))}, "
                  f"c{cfix} = {_pm(f['c'], e.get('c', math.nan))} (level-dynamics equilibrium {_pm(eq, eqe)})")
                fr = res.get("free") or {}
                if fr.get("fit") and f.get("c_fixed"):
                    ff, fe = fr["fit"], fr["error"] or {}
                    w(f"  c free: tau = {_pm(ff['tau'], fe.get('tau', math.nan))}, beta = "
                      f"{_pm(ff['beta'], fe.get('beta', math.nan), '.3f')}, c = {_pm(ff['c'], fe.get('c', math.nan))}")
    elif cmd == "loops":
        for r, a, e in zip(info["rates"], info["areas"], info["errors"]):
            w(f"rate {r:.3g} per sweep: loop area {_pm(a, e)}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("transition", help="n_SM(T), spanning probability, T_g, T_m, T_p")
    t.add_argument("files", nargs="+", metavar="FILE[:LABEL]")
    m = sub.add_parser("tgmap", help="T_g/T_m over a two-key sweep of transition")
    m.add_argument("file")
    for name, what in (("tau", "tau_i against i (cage_relaxation sweep)"),
                       ("kww", "temperature jumps and KWW fits (tjump sweep)"),
                       ("loops", "hysteresis loops and area against rate (hysteresis sweep)")):
        s = sub.add_parser(name, help=what)
        s.add_argument("directory")
    for s in sub.choices.values():
        s.add_argument("-o", "--output", required=True, metavar="PNG")
        s.add_argument("--dpi", type=int, default=fg.DEFAULT_DPI)
    a = p.parse_args(argv)
    try:
        if a.cmd == "transition":
            files = [(f.rsplit(":", 1)[0], f.rsplit(":", 1)[1]) if ":" in f else (f, os.path.basename(f))
                     for f in a.files]
            fig, info = plot_transition(files)
        elif a.cmd == "tgmap":
            fig, info = plot_tgmap(a.file)
        else:
            fig, info = {"tau": plot_tau, "kww": plot_kww, "loops": plot_loops}[a.cmd](a.directory)
    except SoftmatrixFileError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    for w in fg.save(fig, a.output, dpi=a.dpi):
        print(f"wrote {w}")
    report(a.cmd, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
