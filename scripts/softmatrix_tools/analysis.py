"""Small analyses on top of the readers: crossings and onsets along a sweep,
heating/cooling branches of a ramped run, and a numpy cluster census of a
level/sigma snapshot against Table 1 (MODEL.md section 5.2).

The numpy census is an independent re-implementation used when a run file
has no /census group; it counts fitting clusters on periodic lattices only.
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from .io import SoftmatrixFileError, TABLE1_COLUMNS

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
    """T_g (n_SM = 1), T_m (n_SM = 5) and their ratio, MODEL.md / paper."""
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


# ---------------------------------------------------------------- branches

def branch_of_sample(run) -> np.ndarray:
    """+1 (heating), -1 (cooling), 0 (hold) for every measurement of a run.

    The sign of each sample is that of its schedule segment, T_to - T_from;
    when the segment bookkeeping does not cover the time series, the sign of
    the local temperature change is used instead."""
    T = np.asarray(run.obs("temperature").value, dtype=float)
    seg = run.summary.segments
    samples = np.asarray(seg.get("samples", []), dtype=np.int64)
    if len(samples) and samples.sum() == len(T) and "T_from" in seg and "T_to" in seg:
        s = np.sign(np.asarray(seg["T_to"], float) - np.asarray(seg["T_from"], float))
        return s[run.segment_of_sample()].astype(int)
    if len(T) < 2:
        return np.zeros(len(T), dtype=int)
    return np.sign(np.gradient(T)).astype(int)


def binned(x, y, edges) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard error of y in bins of x: (centres, mean, sem, count)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    k = np.digitize(x, edges) - 1
    nb = len(edges) - 1
    cnt = np.bincount(k[(k >= 0) & (k < nb)], minlength=nb).astype(float)
    sel = (k >= 0) & (k < nb)
    s1 = np.bincount(k[sel], weights=y[sel], minlength=nb)
    s2 = np.bincount(k[sel], weights=y[sel] ** 2, minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = s1 / cnt
        var = s2 / cnt - m ** 2
        sem = np.sqrt(np.maximum(var, 0) / np.maximum(cnt - 1, 1))
    return 0.5 * (edges[1:] + edges[:-1]), m, sem, cnt


# ----------------------------------------------------------------- table 1

def repo_root() -> str:
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


_JSON_COL = {"N_i": "N", "arrows": "arrows", "C-bosons": "cbosons", "HSCLs": "hscl",
             "jamming": "jamming", "+z": "plus_z", "-z": "minus_z", "density": "density"}


def table1_paper(path=None) -> Dict[Tuple[int, str], dict]:
    """Table 1 from data/table1.json: (V, column) -> {"text", "ref", "compared", "status"}.

    ref is the value a census must count (base + extra, base only for
    'base_reproduced'), or None when the entry is not compared."""
    path = path or os.path.join(repo_root(), "data", "table1.json")
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
                out[(v, col)] = {"text": "-", "ref": None, "compared": False, "status": st}
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
    """Census of V0..V8 clusters in one configuration (MODEL.md 5.2).

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
