"""Analyses on top of the readers: crossings and onsets along a sweep,
heating/cooling branches of a ramped run, relaxation fits of the cage
kinetics, and a numpy cluster census of a level/sigma snapshot compared
with Table 1 (docs/census.md).

The numpy census is an independent re-implementation used when a run file
has no /census group; it counts fitting clusters on periodic lattices only.
"""
from __future__ import annotations

import json
import math
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from .io import Kinetics, SoftmatrixFileError, TABLE1_COLUMNS, segment_of_steps

PAPER_TG_OVER_TM = 5.0 / 8.0

# --------------------------------------------------------------- crossings


def first_crossing(x, y, level) -> Optional[float]:
    """Smallest x where y (sampled at sorted x) first reaches `level` from
    below, by linear interpolation; None if y never reaches it."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) == 0:
        return None
    above = np.nonzero(y >= level)[0]
    if len(above) == 0:
        return None
    k = int(above[0])
    if k == 0:
        return float(x[0]) if y[0] == level else None   # already above at the first point
    x0, x1, y0, y1 = x[k - 1], x[k], y[k - 1], y[k]
    return float(x0 + (level - y0) * (x1 - x0) / (y1 - y0))


def glass_temperatures(T, n_sm) -> Dict[str, Optional[float]]:
    """T_g (n_SM = 1), T_m (n_SM = 5) and their ratio, beside the paper's 5/8."""
    tg = first_crossing(T, n_sm, 1.0)
    tm = first_crossing(T, n_sm, 5.0)
    ratio = tg / tm if (tg is not None and tm is not None and tm > 0) else None
    return {"T_g": tg, "T_m": tm, "ratio": ratio, "paper_ratio": PAPER_TG_OVER_TM}


def onset_temperatures(T, fractions, threshold=1e-3) -> List[Optional[float]]:
    """First T where f_i > threshold, for V_i, i = 0..8 (fractions[:, 1:])."""
    T = np.asarray(T, dtype=float)
    f = np.asarray(fractions, dtype=float)
    out = []
    for i in range(9):
        hit = np.nonzero(f[:, i + 1] > threshold)[0]
        out.append(float(T[hit[0]]) if len(hit) else None)
    return out


def is_log_spaced(T) -> bool:
    """True when the distinct positive temperatures T are closer to a
    geometric than to an arithmetic progression (a logarithmic schedule or
    sweep), spanning at least a factor 4: such data are drawn on a log T axis."""
    T = np.unique(np.asarray(T, dtype=float)[np.isfinite(np.asarray(T, dtype=float))])
    if len(T) < 3 or T[0] <= 0 or T[-1] / T[0] < 4:
        return False
    dlin, dlog = np.diff(T), np.diff(np.log(T))
    return float(np.std(dlog) / np.mean(dlog)) < float(np.std(dlin) / np.mean(dlin))


# ---------------------------------------------------------------- branches

def branch_of_sample(run) -> np.ndarray:
    """+1 (heating), -1 (cooling), 0 (hold) for every measurement of a run.

    The sign of each sample is that of its schedule segment, T_to - T_from;
    without a configuration the sign of the local temperature change is used."""
    T = np.asarray(run.obs("temperature").value, dtype=float)
    seg = run.segments()
    if run.config and "T_from" in seg and "T_to" in seg:
        s = np.sign(np.asarray(seg["T_to"], float) - np.asarray(seg["T_from"], float))
        return s[run.segment_of_sample()].astype(int)
    if len(T) < 2:
        return np.zeros(len(T), dtype=int)
    return np.sign(np.gradient(T)).astype(int)


def binned(x, y, edges) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard error of y in bins of x: (centres, mean, sem, count);
    empty bins have mean NaN."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    k = np.digitize(x, edges) - 1
    nb = len(edges) - 1
    sel = (k >= 0) & (k < nb)
    cnt = np.bincount(k[sel], minlength=nb).astype(float)
    s1 = np.bincount(k[sel], weights=y[sel], minlength=nb)
    s2 = np.bincount(k[sel], weights=y[sel] ** 2, minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = s1 / cnt
        var = s2 / cnt - m ** 2
        sem = np.sqrt(np.maximum(var, 0) / np.maximum(cnt - 1, 1))
    return 0.5 * (edges[1:] + edges[:-1]), m, sem, cnt


def loop_area(centres, heat_mean, cool_mean) -> Optional[float]:
    """Integral over T of (cooling - heating) on the bins both branches fill
    (trapezoid rule); None with fewer than two common bins."""
    ok = np.isfinite(heat_mean) & np.isfinite(cool_mean)
    if ok.sum() < 2:
        return None
    x, d = np.asarray(centres)[ok], (np.asarray(cool_mean) - np.asarray(heat_mean))[ok]
    return float(np.sum(0.5 * (d[1:] + d[:-1]) * np.diff(x)))


# ------------------------------------------------------ kinetics and fits

def fit_tau_levels(i, tau, error=None, count=None, min_count=10) -> Optional[Dict[str, float]]:
    """Fit tau_i = A r**i (ln tau linear in i) by weighted least squares.

    Entries with count < min_count, or tau not finite and positive, are left
    out.  The weight of ln tau_i is 1/(error_i/tau_i)**2, or count_i when
    the error is missing (the relative error of a mean of ~exponential
    intervals is ~1/sqrt(count)).  Returns A, r (= tau_{i+1}/tau_i),
    their standard errors (from the unscaled covariance), chi2, n and the
    levels used, or None when fewer than two entries remain."""
    i = np.asarray(i, float)
    tau = np.asarray(tau, float)
    err = np.full_like(tau, np.nan) if error is None else np.asarray(error, float)
    cnt = np.full_like(tau, np.inf) if count is None else np.asarray(count, float)
    use = np.isfinite(tau) & (tau > 0) & (cnt >= min_count)
    if use.sum() < 2:
        return None
    rel = err[use] / tau[use]
    fallback = 1.0 / np.sqrt(np.where(np.isfinite(cnt[use]), cnt[use], 1.0))
    rel = np.where(np.isfinite(rel) & (rel > 0), rel, fallback)
    w = 1.0 / rel ** 2
    x, y = i[use], np.log(tau[use])
    X = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = cov @ (X.T @ (w * y))
    resid = y - X @ beta
    lnA, lnr = float(beta[0]), float(beta[1])
    return {"A": math.exp(lnA), "r": math.exp(lnr), "ln_A": lnA, "ln_r": lnr,
            "A_error": math.exp(lnA) * math.sqrt(cov[0, 0]),
            "r_error": math.exp(lnr) * math.sqrt(cov[1, 1]),
            "chi2": float(np.sum(w * resid ** 2)), "n": int(use.sum()),
            "levels": [int(v) for v in x]}


def tau_level_fits(kin: Kinetics, min_count=10) -> List[Optional[Dict[str, float]]]:
    """:func:`fit_tau_levels` for every schedule segment of a cage run."""
    i = np.arange(kin.tau_mean.shape[1])
    return [fit_tau_levels(i, kin.tau_mean[s], kin.tau_error[s], kin.tau_count[s], min_count)
            for s in range(kin.n_segments)]


def _exp_sse(t, y, tau):
    """Least-squares (a, b, sse) of y = a + b exp(-t/tau)."""
    X = np.stack([np.ones_like(t), np.exp(-t / tau)], axis=1)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ coef
    return coef[0], coef[1], float(r @ r)


def fit_relaxation(t, y, n_grid=200) -> Optional[Dict[str, float]]:
    """Fit y(t) = y_inf + (y_0 - y_inf) exp(-(t - t_0)/tau) to one segment.

    t_0 is the first time.  tau is found on a log grid from a quarter of the
    sampling interval to 20 times the window, then refined by golden-section
    search; y_inf and the amplitude by linear least squares at that tau.
    ``resolved`` is True when tau lies inside the window and above the
    sampling interval (False: no relaxation seen, or one slower than the
    window, whose tau is an extrapolation).  Returns None for fewer than 4
    finite points."""
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    if len(t) < 4 or np.ptp(t) <= 0:
        return None
    t0 = t[0]
    u = t - t0
    span = float(u[-1])
    dt = float(np.min(np.diff(u)[np.diff(u) > 0]))
    grid = np.geomspace(dt / 4, 20 * span, n_grid)
    sse = np.array([_exp_sse(u, y, g)[2] for g in grid])
    k = int(np.argmin(sse))
    lo, hi = math.log(grid[max(k - 1, 0)]), math.log(grid[min(k + 1, n_grid - 1)])
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = _exp_sse(u, y, math.exp(a))[2], _exp_sse(u, y, math.exp(b))[2]
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = _exp_sse(u, y, math.exp(a))[2]
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = _exp_sse(u, y, math.exp(b))[2]
    tau = math.exp(0.5 * (lo + hi))
    y_inf, amp, s = _exp_sse(u, y, tau)
    resolved = 0 < k < n_grid - 1 and dt <= tau <= span
    return {"tau": tau, "y_inf": float(y_inf), "y_0": float(y_inf + amp), "amplitude": float(amp),
            "t_0": float(t0), "t_end": float(t[-1]), "rms": math.sqrt(s / len(t)),
            "resolved": bool(resolved), "n": int(len(t))}


def relaxation_curve(fit, t) -> np.ndarray:
    """The fitted curve of :func:`fit_relaxation` at times t."""
    t = np.asarray(t, float)
    return fit["y_inf"] + fit["amplitude"] * np.exp(-(t - fit["t_0"]) / fit["tau"])


def relaxation_fits(run, name="mean_level", holds_only=True) -> List[Dict[str, object]]:
    """:func:`fit_relaxation` of observable `name` in every schedule segment
    (constant-temperature holds only, by default): a list of dicts with
    segment, T_from, T_to and the fit (None when the segment is too short)."""
    ts = run.obs(name)
    seg = segment_of_steps(ts.step, run.config, run.summary.segments)
    segs = run.segments()
    out = []
    for s in range(len(segs["T_from"])):
        Tf, Tt = float(segs["T_from"][s]), float(segs["T_to"][s])
        if holds_only and not np.isclose(Tf, Tt):
            continue
        sel = seg == s
        v = np.asarray(ts.value, float)[sel]
        if v.ndim > 1:
            raise ValueError(f"relaxation fit needs a scalar observable, {name} has columns")
        out.append({"segment": s, "T_from": Tf, "T_to": Tt, "name": name,
                    "fit": fit_relaxation(ts.time[sel], v)})
    return out


# ----------------------------------------------------------------- table 1

_JSON_COL = {"N_i": "N", "arrows": "arrows", "C-bosons": "cbosons", "HSCLs": "hscl",
             "jamming": "jamming", "+z": "plus_z", "-z": "minus_z", "density": "density"}


def table1_path() -> str:
    """data/table1.json: the copy installed with the package, else the repository's."""
    here = os.path.dirname(os.path.abspath(__file__))
    for p in (os.path.join(here, "data", "table1.json"),
              os.path.join(here, os.pardir, os.pardir, "data", "table1.json")):
        if os.path.exists(p):
            return p
    return os.path.join(here, "data", "table1.json")


def table1_paper(path=None) -> Dict[Tuple[int, str], dict]:
    """Table 1 from data/table1.json: (V, column) -> {"text", "ref", "compared",
    "status", "paper_value"}.

    ref is the value a census must count (base + extra, base only for
    'base_reproduced'), or None when the entry is not compared."""
    path = path or table1_path()
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise SoftmatrixFileError(f"{path}: cannot read Table 1 data: {exc}") from None
    default = data.get("default_status", "reproduced")
    out = {}
    for row in data["rows"]:
        v = int(row["V"])
        status = row.get("status", {})
        for col in TABLE1_COLUMNS:
            key = _JSON_COL[col]
            val = row.get(key)
            st = status.get(key, default)
            if val is None:
                out[(v, col)] = {"text": "-", "ref": None, "compared": False, "status": st,
                                 "paper_value": None}
                continue
            if col == "density":
                text = f"{val[0]}/{val[1]}"
                ref = val[0] / val[1]
            else:
                base, extra = val
                text = f"{base} + {extra}" if extra else f"{base}"
                ref = base + extra if st == "reproduced" else base
            compared = st in ("reproduced", "base_reproduced")
            out[(v, col)] = {"text": text, "ref": ref if compared else None,
                             "compared": compared, "status": st,
                             "paper_value": (val[0] / val[1]) if col == "density" else sum(val)}
    return out


def _num(v):
    if isinstance(v, dict):
        if "num" in v:
            return v["num"] / v["den"]
        return v.get("base", 0) + v.get("extra", 0)
    return v


def ideal_from_json(data) -> Dict[Tuple[int, str], dict]:
    """`softmatrix table1 --json` entries: (V, column) -> counted value (+z
    centre), the -z centre's value and the JSON's own verdicts."""
    out = {}
    for e in data["entries"]:
        out[(int(e["V"]), e["column"])] = {"counted": _num(e.get("counted_plus_z")),
                                          "counted_minus": _num(e.get("counted_minus_z")),
                                          "equal": bool(e.get("equal")),
                                          "status": e.get("status"), "note": e.get("note")}
    return out


def census_from_group(census) -> Optional[dict]:
    """The last row of a run's /census (flattened as in :class:`Run`.census:
    "<name>/value" [n, 9]) as a census result like :func:`census_snapshot`'s,
    or None when the group does not have that shape."""
    vals = {}
    for k, v in census.items():
        parts = k.split("/")
        if len(parts) == 2 and parts[1] == "value":
            vals[parts[0]] = np.asarray(v)
        elif len(parts) == 1:
            vals[parts[0]] = np.asarray(v)
    steps = census.get("n_centres/step")

    def last(name):
        a = vals.get(name)
        if a is None or a.size == 0:
            return None
        a = a[-1] if a.ndim > 1 else a
        return a.astype(float) if a.shape == (9,) else None
    nc = last("n_centres")
    if nc is None:
        return None
    nt = last("n_truncated")
    nt = np.zeros(9) if nt is None else nt
    res = {"n_centres": nc.astype(int), "n_fitting": (nc - nt).astype(int), "mean": {},
           "step": int(steps[-1]) if steps is not None and len(steps) else None,
           "source": "/census" + (f" step {int(steps[-1])}" if steps is not None and len(steps) else "")}
    mf = last("match_fraction")
    res["match_fraction"] = np.where(res["n_fitting"] > 0, mf, np.nan) if mf is not None else np.full(9, np.nan)
    res["n_match"] = np.rint(np.nan_to_num(res["match_fraction"]) * res["n_fitting"]).astype(int)
    names = {"N_i": "mean_N", "arrows": "mean_arrows", "C-bosons": "mean_cbosons",
             "jamming": "mean_jamming", "+z": "mean_co", "-z": "mean_counter", "density": "mean_density"}
    for col, nm in names.items():
        v = last(nm)
        if v is not None:
            res["mean"][col] = v
    h, cav = last("mean_hscl"), last("mean_cavity")
    if h is not None:
        res["mean"]["HSCLs"] = h + (cav if cav is not None else 0.0)
    return res


def table1_verdict(p, value) -> str:
    """"equal", "base", "differs" or "absent": a counted value against the
    paper entry p of :func:`table1_paper`."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "absent"
    if p["status"] == "paper_absent" or p["paper_value"] is None:
        return "absent"
    if np.isclose(value, p["paper_value"], rtol=0, atol=5e-3 if isinstance(value, float) else 0):
        return "equal"
    if p["status"] == "base_reproduced" and p["ref"] is not None and np.isclose(value, p["ref"]):
        return "base"
    return "differs"


def _offsets(i):
    """(dy, dx, dist) of the footprint F_i: diamond radius i, V8 without tips."""
    offs = []
    for dy in range(-i, i + 1):
        for dx in range(-i, i + 1):
            d = abs(dx) + abs(dy)
            if d > i:
                continue
            if i == 8 and d == 8 and (dx == 0 or dy == 0):
                continue
            offs.append((dy, dx, d))
    return offs


def _bond_counts(offs):
    """IE arrows (bonds leaving the footprint) and C-bosons (bonds touching it)."""
    fp = {(dy, dx) for dy, dx, _ in offs}
    arrows = internal = 0
    for dy, dx in fp:
        for ny, nx in ((dy, dx + 1), (dy + 1, dx), (dy, dx - 1), (dy - 1, dx)):
            if (ny, nx) in fp:
                internal += 1
            else:
                arrows += 1
    return arrows, internal // 2 + arrows


def census_snapshot(level, sigma, boundary="periodic") -> Dict[str, object]:
    """Census of V0..V8 clusters in one configuration (docs/census.md).

    Returns per level i: n_centres, n_fitting, mean counts per Table 1 column
    (NaN when no fitting cluster), n_match (fitting clusters equal to Table 1
    in every compared column) and match_fraction."""
    level = np.asarray(level, dtype=np.int16)
    sigma = np.asarray(sigma, dtype=np.int16) if sigma is not None else np.ones_like(level)
    Ly, Lx = level.shape
    hs = (level >= 0)
    paper = table1_paper()
    res = {"n_centres": np.zeros(9, int), "n_fitting": np.zeros(9, int),
           "n_match": np.zeros(9, int), "mean": {c: np.full(9, np.nan) for c in TABLE1_COLUMNS},
           "boundary": boundary, "Lx": Lx, "Ly": Ly}
    for i in range(9):
        centres = np.nonzero(level == i)
        nc = len(centres[0])
        res["n_centres"][i] = nc
        X = 7 if i == 8 else i
        fits = boundary == "periodic" and Lx >= 2 * X + 2 and Ly >= 2 * X + 2
        if nc == 0 or not fits:
            continue
        offs = _offsets(i)
        arrows, cbosons = _bond_counts(offs)
        cy, cx = centres
        sc = sigma[cy, cx]
        hscl = np.zeros(nc, int)
        cavity = np.zeros(nc, int)
        co = np.zeros(nc, int)
        ring = np.zeros(nc, int)
        for dy, dx, d in offs:
            yy, xx = (cy + dy) % Ly, (cx + dx) % Lx
            h = hs[yy, xx]
            if i == 8 and d <= 1:
                cavity += h
                continue
            hscl += h
            co += h & (sigma[yy, xx] == sc)
            if d == i and i >= 1:
                ring += h
        counter = hscl - co
        n = hscl + arrows
        vals = {"N_i": n.astype(float), "arrows": np.full(nc, float(arrows)),
                "C-bosons": np.full(nc, float(cbosons)), "HSCLs": (hscl + cavity).astype(float),
                "jamming": 2.0 * ring, "+z": co.astype(float), "-z": counter.astype(float),
                "density": hscl / (200.0 if i == 8 else n)}
        match = np.ones(nc, bool)
        for col in TABLE1_COLUMNS:
            res["mean"][col][i] = vals[col].mean()
            p = paper[(i, col)]
            if p["compared"]:
                match &= np.isclose(vals[col], p["ref"], rtol=0, atol=1e-9)
        res["n_fitting"][i] = nc
        res["n_match"][i] = int(match.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        res["match_fraction"] = np.where(res["n_fitting"] > 0,
                                         res["n_match"] / np.maximum(res["n_fitting"], 1), np.nan)
    return res
