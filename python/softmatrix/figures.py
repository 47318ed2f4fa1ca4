"""Figures of softmatrix runs, sweeps, Table 1 and the cage kinetics.

Every ``plot_*`` function takes data loaded by :mod:`softmatrix.io` and
returns ``(figure, info)``: a matplotlib Figure (constrained layout, fixed
size ``FIGSIZE[...]`` in inches) and a dict of the numbers it shows.  The
conventions: lines never join measurements across a gap (equilibration
between segments, a jump of the schedule); temperatures go on a log axis
when the schedule or sweep is logarithmic; levels -1..8 have categorical
colours with a legend; sigma is drawn as +z/-z; every axis carries its unit
(energies in eps0, T in eps0/k_B, time in sweeps); titles name what is
plotted, never a file.
"""
from __future__ import annotations

import os
from typing import Dict

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.colors import BoundaryNorm, ListedColormap, to_rgb
from matplotlib.patches import Patch
import numpy as np

from . import analysis as an
from .io import LEVELS, TABLE1_COLUMNS, Run, SoftmatrixFileError, Sweep

DEFAULT_DPI = 100
FIGSIZE = {"run": (9.0, 10.0), "snapshot_panel": (4.2, 4.4), "sweep": (13.0, 7.5),
           "table1": (10.0, 6.5), "table1_run": (15.0, 6.5), "hysteresis": (12.0, 7.0),
           "kinetics": (12.0, 8.0)}

# categorical colours: plain HSM grey, V0..V7 eight distinct hues, V8 (soft matrix) red
LEVEL_COLOURS = ["#9e9e9e", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
                 "#e377c2", "#bcbd22", "#17becf", "#d62728"]
LEVEL_LABELS = ["HSM (ℓ=−1)"] + [f"V{i}" for i in range(8)] + ["V8 (SM)"]
LEVEL_CMAP = ListedColormap(LEVEL_COLOURS, name="softmatrix_levels")
LEVEL_NORM = BoundaryNorm(np.arange(-1.5, 9.5, 1.0), LEVEL_CMAP.N)
SIGMA_COLOURS = {-1: "#5e3c99", 1: "#e66101"}          # -z purple, +z orange
SIGMA_CMAP = ListedColormap([SIGMA_COLOURS[-1], SIGMA_COLOURS[1]], name="softmatrix_sigma")
SIGMA_NORM = BoundaryNorm([-2, 0, 2], 2)
STATUS_COLOUR = {"equal": "#7fc97f", "base": "#fdc086", "differs": "#f4a582", "absent": "#d9d9d9"}

T_LABEL = "T (ε₀/k_B)"
TIME_LABEL = "time (sweeps)"
E_LABEL = "energy per site (ε₀)"


def level_colour(level):
    """Colour of level `level` in -1..8."""
    return LEVEL_COLOURS[int(level) + 1]


def level_handles(levels=LEVELS):
    """Legend patches for the given levels."""
    return [Patch(color=level_colour(v), label=LEVEL_LABELS[int(v) + 1]) for v in levels]


def style():
    """Matplotlib defaults shared by every figure."""
    plt.rcParams.update({
        "font.size": 9.5, "axes.titlesize": 10, "axes.labelsize": 9.5, "legend.fontsize": 8,
        "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": DEFAULT_DPI,
        "axes.spines.top": False, "axes.spines.right": False, "figure.titlesize": 11,
    })


def fmt(x, spec=".4g"):
    """x formatted with spec, or "n/a" for None and non-finite floats."""
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def _times(n):
    return "×".join(str(v) for v in n)


def describe(config) -> str:
    """"32×32 periodic, level dynamics" from a resolved configuration."""
    lat = config.get("lattice", {}) if config else {}
    parts = []
    if lat.get("Lx"):
        parts.append(f"{lat['Lx']}×{lat['Ly']}" + (f" {lat['boundary']}" if lat.get("boundary") else ""))
    kind = (config or {}).get("dynamics", {}).get("kind")
    if kind:
        parts.append(f"{kind} dynamics")
    return ", ".join(parts)


def _title(what, config, extra=""):
    d = describe(config)
    return what + (f", {d}" if d else "") + (f" {extra}" if extra else "")


# ----------------------------------------------------------------- gaps

def line_breaks(step, segment=None, segments=None) -> np.ndarray:
    """Where a line must not join measurement k to k+1 ([n-1] bool): the step
    jumps by more than 1.5 times the usual spacing (an equilibration, a
    missing stretch), or the segment changes and the schedule is not
    continuous there (T_to of one segment != T_from of the next)."""
    step = np.asarray(step, float)
    if len(step) < 2:
        return np.zeros(0, bool)
    d = np.diff(step)
    brk = d > 1.5 * np.median(d)
    if segment is not None:
        segment = np.asarray(segment)
        change = np.diff(segment) != 0
        if segments is not None and "T_from" in segments:
            Tf, Tt = np.asarray(segments["T_from"], float), np.asarray(segments["T_to"], float)
            a, b = segment[:-1], segment[1:]
            ok = (a < len(Tt)) & (b < len(Tf))
            cont = np.zeros(len(a), bool)
            cont[ok] = np.isclose(Tt[a[ok]], Tf[b[ok]]) & (b[ok] == a[ok] + 1)
            change &= ~cont
        brk |= change
    return brk


def with_gaps(brk, *arrays):
    """Copies of the arrays (float) with a NaN row inserted after every break,
    so that matplotlib draws no line (and fills nothing) across it."""
    idx = np.nonzero(np.asarray(brk))[0] + 1
    return [np.insert(np.asarray(a, float), idx, np.nan, axis=0) for a in arrays]


def set_T_scale(ax, T, scale="auto", axis="x"):
    """Log temperature axis for logarithmic data (an.is_log_spaced), or when
    scale == "log"; returns the scale used."""
    use = scale == "log" or (scale == "auto" and an.is_log_spaced(T))
    if use:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    return "log" if use else "linear"


def save(fig, png, dpi=DEFAULT_DPI, pdf=False):
    """Write the figure as PNG (figsize x dpi pixels) and, with pdf, a PDF
    beside it; close it; return the paths written."""
    d = os.path.dirname(os.path.abspath(png))
    os.makedirs(d, exist_ok=True)
    fig.savefig(png, dpi=dpi)
    written = [png]
    if pdf:
        p = os.path.splitext(png)[0] + ".pdf"
        fig.savefig(p)
        written.append(p)
    plt.close(fig)
    return written


# ------------------------------------------------------------- run figure

def plot_run(run: Run, title=None, T_scale="auto"):
    """Time series of a run against time: energy (and its non-zero parts),
    level fractions stacked over -1..8, n_SM, m_s and |m_s|, temperature."""
    style()
    E = run.obs("energy")
    t = np.asarray(E.time, float)
    seg = run.segment_of_sample()
    brk = line_breaks(E.step, seg, run.segments())
    fig, ax = plt.subplots(5, 1, figsize=FIGSIZE["run"], sharex=True, layout="constrained",
                           gridspec_kw={"height_ratios": [1.2, 1.6, 1, 1, 0.8]})
    tg, e = with_gaps(brk, t, E.value)
    ax[0].plot(tg, e, lw=1.0, color="k", label="H/N", zorder=3)
    for part, c in (("energy_C", "tab:orange"), ("energy_J", "tab:blue"),
                    ("energy_step", "tab:green"), ("energy_h", "tab:purple")):
        if part in run.observables and np.any(run.observables[part].value != 0):
            ax[0].plot(tg, with_gaps(brk, run.observables[part].value)[0], lw=0.7, color=c,
                       alpha=0.85, label=part.replace("energy_", "part "))
    ax[0].set_ylabel(E_LABEL)
    ax[0].legend(loc="upper left", ncol=3)

    hist = run.obs("level_histogram").value
    _, hg = with_gaps(brk, t, hist)
    ax[1].stackplot(tg, hg.T, colors=LEVEL_COLOURS, labels=LEVEL_LABELS, lw=0)
    ax[1].set_ylim(0, 1)
    ax[1].set_ylabel("level fraction f_ℓ\n(fraction of sites)")
    ax[1].legend(handles=level_handles()[::-1], loc="center left", bbox_to_anchor=(1.01, 0.5),
                 frameon=False, title="level")

    ax[2].plot(tg, with_gaps(brk, run.obs("n_soft_matrix").value)[0], lw=0.9, color=level_colour(8))
    ax[2].set_ylabel("n_SM = 200 f₈\n(per 200 sites)")

    ms = with_gaps(brk, run.obs("staggered_magnetization").value)[0]
    ax[3].plot(tg, ms, lw=0.5, color="tab:blue", alpha=0.6, label="m_s")
    ax[3].plot(tg, np.abs(ms), lw=0.8, color="navy", label="|m_s|")
    ax[3].set_ylabel("staggered\nmagnetisation (per site)")
    ax[3].legend(loc="upper left", ncol=2)

    T = run.obs("temperature").value
    ax[4].plot(tg, with_gaps(brk, T)[0], lw=1.4, color="tab:red")
    scale = set_T_scale(ax[4], run.segments()["T_from"], T_scale, axis="y")
    ax[4].set_ylabel(T_LABEL)
    ax[4].set_xlabel(TIME_LABEL)
    edges = np.nonzero(np.diff(seg))[0]
    for a in ax:
        for k in edges:
            a.axvline(0.5 * (t[k] + t[k + 1]), color="0.6", lw=0.4, ls=":")
    what = "Energy, level fractions, n_SM, m_s and T against time"
    if not run.complete:
        what += " (run in progress)"
    fig.suptitle(title or _title(what, run.config))
    return fig, {"T_scale": scale, "breaks": int(brk.sum())}


# -------------------------------------------------------- snapshot figure

def snapshot_step(run: Run, step=None, temperature=None) -> int:
    """The snapshot step asked for: `step`, else the one whose measured
    temperature is nearest to `temperature`, else the last."""
    if "level" not in run.snapshots:
        raise SoftmatrixFileError(f"{run.path}: no level snapshots (set run.snapshot_every > 0 "
                                  "and output.snapshot_fields)")
    steps = run.snapshots["level"].step
    if step is None and temperature is not None:
        Tobs = run.obs("temperature")
        Ts = np.array([Tobs.value[np.argmin(np.abs(Tobs.step - s))] for s in steps])
        step = int(steps[int(np.argmin(np.abs(Ts - temperature)))])
    return run.snapshots["level"].at(step)[0]


def plot_snapshot(run: Run, step=None, temperature=None, crop=None, title=None):
    """The level field (categorical colours, legend), sigma as +z/-z and z
    (when saved) of one snapshot."""
    step = snapshot_step(run, step, temperature)
    lev = run.snapshots["level"].at(step)[1]
    fields = [("level", lev)]
    for name in ("sigma", "z"):
        if name in run.snapshots and step in run.snapshots[name].step:
            fields.append((name, run.snapshots[name].at(step)[1]))
    if crop:
        fields = [(name, v[:crop, :crop]) for name, v in fields]
    style()
    n = len(fields)
    w, h = FIGSIZE["snapshot_panel"]
    fig, axes = plt.subplots(1, n, figsize=(w * n + 0.8, h), squeeze=False, layout="constrained")
    axes = axes[0]
    Ly, Lx = lev.shape
    T = None
    Tobs = run.observables.get("temperature")
    if Tobs is not None and len(Tobs.step):
        T = float(Tobs.value[int(np.argmin(np.abs(Tobs.step - step)))])
    for a, (name, v) in zip(axes, fields):
        a.grid(False)
        if name == "level":
            a.imshow(v, cmap=LEVEL_CMAP, norm=LEVEL_NORM, interpolation="nearest", origin="lower")
            present = [l for l in LEVELS if np.any(v == l)]
            a.legend(handles=level_handles(present), loc="upper left", bbox_to_anchor=(1.01, 1.0),
                     frameon=False, title="level")
            a.set_title("level ℓ")
        elif name == "sigma":
            a.imshow(v, cmap=SIGMA_CMAP, norm=SIGMA_NORM, interpolation="nearest", origin="lower")
            a.legend(handles=[Patch(color=SIGMA_COLOURS[1], label="+z"),
                              Patch(color=SIGMA_COLOURS[-1], label="-z")],
                     loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="σ")
            a.set_title("MIEV σ (±z)")
        else:
            lim = float(np.max(np.abs(v))) or 1.0
            im = a.imshow(v, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest", origin="lower")
            fig.colorbar(im, ax=a, fraction=0.046, pad=0.03, label="z (dimensionless, jumps of ±n_z)")
            a.set_title("z displacement")
        a.set_xlabel("x (sites)")
        a.set_ylabel("y (sites)")
    names = {"level": "Level", "sigma": "±z (σ)", "z": "z"}
    what = " and ".join([", ".join(names[f] for f, _ in fields[:-1]), names[fields[-1][0]]]
                        if len(fields) > 1 else [names["level"]]) + " fields"
    when = f" at step {step}" + (f" (T = {T:.4g} ε₀/k_B)" if T is not None else "")
    window = f" ({min(crop, Lx)}×{min(crop, Ly)} window)" if crop else ""
    fig.suptitle(title or _title(what + when, run.config, window.strip()))
    return fig, {"step": step, "T": T, "fields": [f for f, _ in fields]}


# ----------------------------------------------------------- sweep figure

def _eb(ax, T, m, e, **kw):
    ax.errorbar(T, m, yerr=e, fmt="o-", ms=3.5, lw=1.0, capsize=2, **kw)


def plot_sweep(sw: Sweep, threshold=1e-3, logy=False, T_scale="auto", title=None):
    """Level fractions, n_SM (with T_g and T_m), energy, specific heat,
    |m_s| and the onset of each V_i against T, with error bars."""
    for need in ("level_histogram", "n_soft_matrix", "energy"):
        if need not in sw.mean:
            raise SoftmatrixFileError(f"{sw.path}: sweep has no '{need}' summary")
    T = sw.T
    f, fe = sw.level_fractions()
    nsm, nsm_e = sw.mean["n_soft_matrix"], sw.error["n_soft_matrix"]
    gt = an.glass_temperatures(T, nsm)
    onsets = an.onset_temperatures(T, f, threshold)
    style()
    fig, ax = plt.subplots(2, 3, figsize=FIGSIZE["sweep"], layout="constrained")
    ax = ax.ravel()
    for lv in LEVELS:
        _eb(ax[0], T, f[:, lv + 1], fe[:, lv + 1], color=level_colour(lv), label=LEVEL_LABELS[lv + 1])
    ax[0].set_ylabel("level fraction f_ℓ (fraction of sites)")
    if logy:
        ax[0].set_yscale("log")
        ax[0].set_ylim(max(threshold / 10, 1e-6), 1.5)
    ax[0].legend(ncol=2, loc="best", title="level")
    ax[0].set_title("level fractions (inverse cascade)")

    _eb(ax[1], T, nsm, nsm_e, color=level_colour(8))
    ax[1].set_yscale("symlog", linthresh=0.1)
    ax[1].set_ylabel("n_SM (soft matrices per 200 sites)")
    ax[1].set_title("soft-matrix density n_SM")
    for key, lev, ls in (("T_g", 1.0, "--"), ("T_m", 5.0, ":")):
        ax[1].axhline(lev, color="0.5", lw=0.7, ls=ls)
        x = gt[key]
        if x is not None:
            for a in ax:
                a.axvline(x, color="0.35", lw=0.8, ls=ls)
            ax[1].annotate(f"{key} = {x:.3g}", (x, lev), xytext=(-4, 4), ha="right",
                           textcoords="offset points", fontsize=8.5)
    txt = (f"T_g/T_m = {fmt(gt['ratio'], '.3f')}   (paper 5/8 = 0.625)"
           if gt["ratio"] is not None else
           f"T_g = {fmt(gt['T_g'])}, T_m = {fmt(gt['T_m'])}: ratio n/a (paper 5/8)")
    ax[1].text(0.02, 0.97, txt, transform=ax[1].transAxes, va="top", fontsize=8.5,
               bbox=dict(fc="white", ec="0.8", alpha=0.9))

    _eb(ax[2], T, sw.mean["energy"], sw.error["energy"], color="k")
    ax[2].set_ylabel(E_LABEL)
    ax[2].set_title("energy")

    if "specific_heat" in sw.mean:
        _eb(ax[3], T, sw.mean["specific_heat"], sw.error["specific_heat"], color="tab:red")
    ax[3].set_ylabel("specific heat C (k_B per site)")
    ax[3].set_title("specific heat")

    name = ("abs_staggered_magnetization" if "abs_staggered_magnetization" in sw.mean
            else "staggered_magnetization")
    if name in sw.mean:
        _eb(ax[4], T, sw.mean[name], sw.error[name], color="navy")
    ax[4].set_ylabel(("⟨|m_s|⟩" if name.startswith("abs") else "m_s") + " (per site)")
    ax[4].set_title("staggered magnetisation")

    ys = np.arange(9)
    xs = np.array([x if x is not None else np.nan for x in onsets])
    ax[5].scatter(xs, ys, c=[level_colour(i) for i in range(9)], s=45, zorder=3, edgecolor="k", lw=0.4)
    ax[5].set_yticks(ys)
    ax[5].set_yticklabels([f"V{i}" for i in range(9)])
    ax[5].set_ylabel("cluster V_i (level i)")
    ax[5].set_title(f"onset: first T with f_i > {threshold:g}")
    for i, x in enumerate(onsets):
        if x is None:
            ax[5].text(0.98, i, "not reached", transform=ax[5].get_yaxis_transform(), ha="right",
                       va="center", fontsize=8, color="0.4")
    scale = "linear"
    for a in ax:
        scale = set_T_scale(a, T, T_scale)
        a.set_xlabel(T_LABEL)
    ax[5].set_xlim(ax[0].get_xlim())
    count = sw.parameters.get("count")
    reps = (f", {int(count.min())}–{int(count.max())} runs per T" if count is not None and
            count.min() != count.max() else
            f", {int(count[0])} runs per T" if count is not None and len(count) and count[0] > 1 else "")
    src = "sweep" if sw.source == "index" else "holds of one run"
    fig.suptitle(title or _title("Level fractions, n_SM, energy, C and |m_s| against T", sw.config,
                                 f"({len(T)} temperatures, {src}{reps})"))
    return fig, {"glass": gt, "onsets": onsets, "T_scale": scale}


# ---------------------------------------------------------- Table 1 figure

def table1_grid(paper, ideal=None, run_res=None):
    """Values and verdicts [9, 8] shown by :func:`plot_table1`: the ideal
    counts when given, else the run's means; and the text table lines."""
    cols = TABLE1_COLUMNS
    lines = ["Table 1 (paper, data/table1.json) vs census"]
    hdr = f"{'V_i':4} {'column':9} {'paper':>10}"
    if ideal:
        hdr += f" {'ideal':>8} {'mark':8}"
    if run_res:
        hdr += f" {'run mean':>10} {'mark':8}"
    lines.append(hdr)
    n_eq = n_cmp = 0
    val = np.full((9, len(cols)), np.nan)
    mark = np.empty((9, len(cols)), dtype=object)
    for i in range(9):
        for j, col in enumerate(cols):
            pp = paper[(i, col)]
            line = f"{('V%d' % i) if j == 0 else '':4} {col:9} {pp['text']:>10}"
            m = None
            if ideal:
                c = ideal.get((i, col), {}).get("counted")
                m = an.table1_verdict(pp, c)
                line += f" {fmt(c, '.4g'):>8} {m:8}"
                n_cmp += 1
                n_eq += m == "equal"
                val[i, j] = np.nan if c is None else c
            if run_res:
                r = float(run_res["mean"].get(col, np.full(9, np.nan))[i])
                rm = an.table1_verdict(pp, r)
                line += f" {fmt(r, '.4g'):>10} {rm:8}"
                if not ideal:
                    m = rm
                    val[i, j] = r
            mark[i, j] = m or "absent"
            lines.append(line.rstrip())
    if ideal:
        lines.append(f"ideal clusters: {n_eq} of {n_cmp} entries equal the printed paper value")
    if run_res:
        lines.append(f"run census ({run_res['source']}):")
        lines.append("level n_centres n_fitting n_match match_fraction")
        for i in range(9):
            lines.append(f"V{i} {int(run_res['n_centres'][i])} {int(run_res['n_fitting'][i])} "
                         f"{int(run_res['n_match'][i])} {fmt(float(run_res['match_fraction'][i]), '.6g')}")
    return val, mark, lines


def plot_table1(paper, ideal=None, run_res=None, run_what="", config=None, title=None):
    """Table 1 as a coloured grid, counted value over the paper's (green:
    equal, orange: base only, red: paper differs, grey: no value), and for
    a run the V_i centres and the fraction of clusters equal to Table 1."""
    val, mark, lines = table1_grid(paper, ideal, run_res)
    cols = TABLE1_COLUMNS
    style()
    with_run = run_res is not None
    fig, axes = plt.subplots(1, 2 if with_run else 1, squeeze=False, layout="constrained",
                             figsize=FIGSIZE["table1_run" if with_run else "table1"],
                             gridspec_kw={"width_ratios": [1.7, 1] if with_run else [1]})
    ax = axes[0][0]
    ax.grid(False)
    rgb = np.array([[to_rgb(STATUS_COLOUR[mark[i, j]]) for j in range(len(cols))] for i in range(9)])
    ax.imshow(rgb, aspect="auto", origin="upper")
    for i in range(9):
        for j, col in enumerate(cols):
            pp = paper[(i, col)]
            v = val[i, j]
            cnt = "–" if not np.isfinite(v) else (f"{v:.3f}" if col == "density" else f"{v:.4g}")
            ptxt = pp["text"] if col != "density" else (
                f"{pp['paper_value']:.3f}" if pp["paper_value"] is not None else "–")
            ax.text(j, i, f"{cnt}\n({ptxt})", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols)
    ax.set_yticks(range(9))
    ax.set_yticklabels([f"V{i}" for i in range(9)])
    ax.set_xlabel("Table 1 column (counts of sites or bonds; density: HSCLs per N_i)")
    ax.set_ylabel("cluster V_i (level i)")
    ax.set_title("counted (paper value)" + (" – ideal clusters" if ideal else " – run census"))
    ax.legend(handles=[Patch(color=STATUS_COLOUR[k], label=lab) for k, lab in
                       (("equal", "= paper"), ("base", "base only (+extra unexplained)"),
                        ("differs", "paper differs"), ("absent", "no value"))],
              loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, frameon=False)
    if with_run:
        a = axes[0][1]
        x = np.arange(9)
        a.bar(x, np.maximum(run_res["n_centres"], 0), color="0.6", label="V_i centres")
        a.set_yscale("symlog", linthresh=1)
        a.set_ylabel("V_i centres (sites)")
        a.set_xticks(x)
        a.set_xticklabels([f"V{i}" for i in range(9)])
        a.set_xlabel("cluster V_i (level i)")
        b = a.twinx()
        b.plot(x, run_res["match_fraction"], "o-", color="tab:green", label="fraction = Table 1")
        b.set_ylim(-0.05, 1.05)
        b.set_ylabel("clusters equal to Table 1 (fraction of fitting V_i)", color="tab:green")
        b.grid(False)
        a.set_title(run_what)
    if title is None:
        if ideal and with_run:
            title = _title("Cluster counts against Table 1: ideal clusters and run census", config)
        elif ideal:
            title = "Cluster counts of ideal V_i clusters (softmatrix table1) against Table 1"
        else:
            title = _title("Cluster counts of a run census against Table 1", config)
    fig.suptitle(title)
    return fig, {"lines": lines, "values": val, "marks": mark}


# ------------------------------------------------------ hysteresis figure

HYSTERESIS_OBS = [("energy", E_LABEL, None, "energy"),
                  ("mean_level", "mean level ⟨ℓ⟩ (level)", None, "mean level"),
                  ("hscl_fraction", "HSCL fraction (fraction of sites)", None, "HSCL fraction"),
                  ("n_soft_matrix", "n_SM (per 200 sites)", None, "soft-matrix density n_SM"),
                  ("staggered_magnetization", "|m_s| (per site)", np.abs,
                   "staggered magnetisation |m_s|"),
                  ("cbosons", "IE arrows (per site)", None, "IE arrows (C-bosons)")]


def plot_hysteresis(run: Run, bins=30, title=None, T_scale="auto"):
    """Heating (T_to > T_from) against cooling (T_to < T_from) branches of a
    run: observables binned in T, raw measurements faint behind."""
    T = np.asarray(run.obs("temperature").value, float)
    br = an.branch_of_sample(run)
    up, down = br > 0, br < 0
    if not up.any() and not down.any():
        raise SoftmatrixFileError(f"{run.path}: schedule has no temperature ramps "
                                  "(T_from != T_to) to split into heating and cooling")
    ramp = up | down
    lo, hi = T[ramp].min(), T[ramp].max()
    log = T_scale == "log" or (T_scale == "auto" and lo > 0 and an.is_log_spaced(
        np.concatenate([run.segments()["T_from"], run.segments()["T_to"]])))
    edges = np.geomspace(lo, hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)
    edges[-1] += 1e-12 * max(1.0, abs(edges[-1]))
    obs = [o for o in HYSTERESIS_OBS if o[0] in run.observables]
    style()
    fig, ax = plt.subplots(2, 3, figsize=FIGSIZE["hysteresis"], layout="constrained")
    ax = ax.ravel()
    stats: Dict[str, Dict[str, float]] = {}
    area = None
    for a, (name, label, fn, what) in zip(ax, obs):
        y = np.asarray(run.obs(name).value, float)
        y = fn(y) if fn else y
        bm = {}
        for mask, col, lab, mk in ((up, "tab:red", "heating", "^"), (down, "tab:blue", "cooling", "v")):
            if not mask.any():
                continue
            a.plot(T[mask], y[mask], ".", ms=1.5, color=col, alpha=0.15, rasterized=True)
            c, m, e, n = an.binned(T[mask], y[mask], edges)
            # empty bins stay NaN: no line across them
            a.errorbar(c, m, yerr=e, fmt="-", lw=1.2, color=col, label=lab, marker=mk, ms=3, capsize=0)
            key = ("abs_" + name) if fn is np.abs else name
            stats.setdefault(lab, {})[key] = float(np.mean(y[mask]))
            stats[lab]["_n"] = int(mask.sum())
            bm[lab] = (c, m)
        if name == "energy" and len(bm) == 2:
            area = an.loop_area(bm["heating"][0], bm["heating"][1], bm["cooling"][1])
        a.set_ylabel(label)
        a.set_xlabel(T_LABEL)
        if log:
            a.set_xscale("log")
        a.set_title(what)
    ax[0].legend(loc="best")
    for a in ax[len(obs):]:
        a.axis("off")
    seg = run.segments()
    lo_T, hi_T = float(np.min(seg["T_from"])), float(np.max(seg["T_from"]))
    fig.suptitle(title or _title("Heating and cooling branches against T", run.config,
                                 f"(T = {min(lo_T, np.min(seg['T_to'])):g}–"
                                 f"{max(hi_T, np.max(seg['T_to'])):g} ε₀/k_B)"))
    return fig, {"stats": stats, "loop_area": area, "n_heating": int(up.sum()),
                 "n_cooling": int(down.sum()), "n_hold": int((br == 0).sum())}


# -------------------------------------------------------- kinetics figure

def _seg_label(Tf, Tt):
    return f"T = {Tf:g}" if np.isclose(Tf, Tt) else f"T = {Tf:g}→{Tt:g}"


def plot_kinetics(run: Run, name="mean_level", min_count=10, title=None, T_scale="auto"):
    """Cage kinetics: tau_i against i per segment with the fits tau_i = A r^i,
    loop completions per site per sweep against the level reached, tau_i
    against T per level, and `name` against time with the exponential
    relaxation fit of every hold."""
    kin = run.kinetics
    if kin is None:
        raise SoftmatrixFileError(
            f"{run.path}: no /kinetics group ({run.dynamics} dynamics; only complete "
            "cage-dynamics runs have kinetics)")
    fits = an.tau_level_fits(kin, min_count)
    relax = an.relaxation_fits(run, name) if name in run.observables else []
    style()
    fig, ax = plt.subplots(2, 2, figsize=FIGSIZE["kinetics"], layout="constrained")
    ax = ax.ravel()
    Tmid = 0.5 * (np.asarray(kin.T_from, float) + np.asarray(kin.T_to, float))
    cmap = matplotlib.colormaps["plasma"]
    Tn = (Tmid - Tmid.min()) / (np.ptp(Tmid) or 1.0)
    colours = [cmap(0.85 * v) for v in Tn]
    i = np.arange(kin.tau_mean.shape[1])
    for s in range(kin.n_segments):
        tau, err, cnt = kin.tau_mean[s], kin.tau_error[s], kin.tau_count[s]
        ok = np.isfinite(tau) & (cnt > 0)
        if not ok.any():
            continue
        good = ok & (cnt >= min_count)
        lab = _seg_label(kin.T_from[s], kin.T_to[s])
        ax[0].errorbar(i[good], tau[good], yerr=np.nan_to_num(err[good]), fmt="o", ms=5,
                       capsize=2, color=colours[s], label=lab)
        few = ok & ~good
        if few.any():
            ax[0].plot(i[few], tau[few], "o", ms=5, mfc="none", color=colours[s])
        if fits[s] is not None:
            lv = np.array(fits[s]["levels"])
            xx = np.linspace(lv.min(), lv.max(), 20)
            ax[0].plot(xx, fits[s]["A"] * fits[s]["r"] ** xx, "--", lw=1, color=colours[s])
    ax[0].set_yscale("log")
    ax[0].set_xlabel("i (level reached by loop i; τ_i runs to loop i+1)")
    ax[0].set_ylabel("τ_i (sweeps)")
    ax[0].set_xticks(i)
    ax[0].set_title(f"τ_i against i; dashed: fit A·r^i (open: < {min_count} intervals)")
    if ax[0].get_legend_handles_labels()[0]:
        ax[0].legend(title="segment (ε₀/k_B)", fontsize=7.5)

    rate = kin.completion_rate()
    lv9 = np.arange(rate.shape[1])
    for s in range(kin.n_segments):
        r = np.where(rate[s] > 0, rate[s], np.nan)
        ax[1].plot(lv9, r, "o-", ms=4, color=colours[s], label=_seg_label(kin.T_from[s], kin.T_to[s]))
    ax[1].set_yscale("log")
    ax[1].set_xticks(lv9)
    ax[1].set_xlabel("ℓ (level reached by the loop completion φ 63→0)")
    ax[1].set_ylabel("loop completions (per site per sweep)")
    ax[1].set_title("loop completions by level")
    ax[1].legend(title="segment (ε₀/k_B)", fontsize=7.5)

    Tax = Tmid
    for lvl in i:
        y = kin.tau_mean[:, lvl]
        ok = np.isfinite(y) & (kin.tau_count[:, lvl] >= min_count)
        if ok.any():
            yy = np.where(ok, y, np.nan)
            order = np.argsort(Tax)
            ax[2].errorbar(Tax[order], yy[order], yerr=np.nan_to_num(kin.tau_error[order, lvl]),
                           fmt="o-", ms=4, capsize=2, color=level_colour(lvl), label=f"τ_{lvl}")
    ax[2].set_yscale("log")
    set_T_scale(ax[2], Tax, T_scale)
    ax[2].set_xlabel(T_LABEL + " (segment mean)")
    ax[2].set_ylabel("τ_i (sweeps)")
    ax[2].set_title(f"τ_i against T (≥ {min_count} intervals)")
    if ax[2].get_legend_handles_labels()[0]:
        ax[2].legend(ncol=2, title="level i")

    if name in run.observables:
        ts = run.obs(name)
        seg = run.segment_of_sample()
        brk = line_breaks(ts.step, seg, run.segments())
        for s in np.unique(seg):
            sel = seg == s
            tg, yg = with_gaps(brk[sel[:-1] & sel[1:]], ts.time[sel], ts.value[sel])
            ax[3].plot(tg, yg, lw=1.0, color=colours[s] if s < len(colours) else "0.3",
                       label=name.replace("_", " ") + " (colour: segment)" if s == seg[0] else None)
        first = True
        for r in relax:
            f = r["fit"]
            if f is None:
                continue
            xx = np.linspace(f["t_0"], f["t_end"], 100)
            ax[3].plot(xx, an.relaxation_curve(f, xx), "--", lw=1.2, color="k",
                       label="fit y∞ + a·e^(−t/τ)" if first else None)
            first = False
        ax[3].set_xlabel(TIME_LABEL)
        ax[3].set_ylabel("mean level ⟨ℓ⟩ (level)" if name == "mean_level" else name)
        ax[3].set_title(f"{name.replace('_', ' ')} against time, relaxation fit per hold")
        ax[3].legend(loc="best")
    else:
        ax[3].axis("off")
    fig.suptitle(title or _title("Cage kinetics: τ_i, loop completions and relaxation", run.config))
    return fig, {"tau_fits": fits, "relaxation": relax}
