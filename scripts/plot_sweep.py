#!/usr/bin/python3
"""Temperature sweep: level fractions f_-1..f_8, soft-matrix density n_SM,
energy, specific heat and |m_s| against T with error bars.

Marks the model's T_g (n_SM = 1) and T_m (n_SM = 5), found by linear
interpolation between sweep points, prints T_g/T_m beside the paper's 5/8,
and the onset temperature of each V_i (first T where f_i > --threshold).

Input: a sweep index (softmatrix sweep; layout documented in
softmatrix_tools/io.py) or a single run file whose schedule has
constant-temperature holds, each hold's /summary entry being one point."""
import sys

import numpy as np

from softmatrix_tools import SoftmatrixFileError, glass_temperatures, onset_temperatures, open_sweep
from softmatrix_tools.plotting import (LEVEL_LABELS, fmt, level_colour, parser, plt, run_main, save,
                                       style)

FIGSIZE = (11.0, 7.0)


def _eb(ax, T, m, e, **kw):
    ax.errorbar(T, m, yerr=e, fmt="o-", ms=3.5, lw=1.0, capsize=2, **kw)


def main(argv=None):
    p = parser(__doc__.splitlines()[0] + "\n\n" + __doc__, "_sweep")
    p.add_argument("sweep", metavar="INDEX.h5", help="sweep index or run file with holds")
    p.add_argument("--threshold", type=float, default=1e-3,
                   help="onset threshold on f_i (default %(default)g)")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="index only: keep points whose sweep parameter KEY equals VALUE "
                        "(repeatable); points with equal T are averaged")
    p.add_argument("--logy", action="store_true", help="level fractions on a log axis")
    args = p.parse_args(argv)
    where = {}
    for w in args.where:
        if "=" not in w:
            p.error(f"--where needs KEY=VALUE, got '{w}'")
        k, v = w.split("=", 1)
        where[k] = v
    sw = open_sweep(args.sweep, where)
    for need in ("level_histogram", "n_soft_matrix", "energy"):
        if need not in sw.mean:
            raise SoftmatrixFileError(f"{sw.path}: sweep has no '{need}' summary")
    T = sw.T
    f, fe = sw.level_fractions()
    nsm, nsm_e = sw.mean["n_soft_matrix"], sw.error["n_soft_matrix"]
    gt = glass_temperatures(T, nsm)
    onsets = onset_temperatures(T, f, args.threshold)

    style()
    fig, ax = plt.subplots(2, 3, figsize=FIGSIZE)
    ax = ax.ravel()
    for l in range(-1, 9):
        _eb(ax[0], T, f[:, l + 1], fe[:, l + 1], color=level_colour(l), label=LEVEL_LABELS[l + 1])
    ax[0].set_ylabel("level fraction $f_\\ell$")
    if args.logy:
        ax[0].set_yscale("log")
        ax[0].set_ylim(max(args.threshold / 10, 1e-6), 1.5)
    ax[0].legend(ncol=2, fontsize=6.5, loc="best")
    ax[0].set_title("inverse cascade")

    _eb(ax[1], T, nsm, nsm_e, color=level_colour(8))
    ax[1].set_yscale("symlog", linthresh=0.1)
    ax[1].set_ylabel("$n_{SM}$ (soft matrices / 200 HSM)")
    ax[1].set_title("soft-matrix density")
    for key, lev, ls in (("T_g", 1.0, "--"), ("T_m", 5.0, ":")):
        ax[1].axhline(lev, color="0.5", lw=0.7, ls=ls)
        x = gt[key]
        if x is not None:
            for a in ax:
                a.axvline(x, color="0.35", lw=0.8, ls=ls)
            ax[1].annotate(f"${key[0]}_{key[2]}$ = {x:.3g}", (x, lev), xytext=(-4, 4), ha="right",
                           textcoords="offset points", fontsize=8)
    txt = (f"$T_g/T_m$ = {fmt(gt['ratio'], '.3f')}   (paper 5/8 = 0.625)"
           if gt["ratio"] is not None else
           f"$T_g$ = {fmt(gt['T_g'])}, $T_m$ = {fmt(gt['T_m'])}: ratio n/a (paper 5/8)")
    ax[1].text(0.02, 0.97, txt, transform=ax[1].transAxes, va="top", fontsize=8,
               bbox=dict(fc="white", ec="0.8", alpha=0.9))

    _eb(ax[2], T, sw.mean["energy"], sw.error["energy"], color="k")
    ax[2].set_ylabel("energy / site")
    ax[2].set_title("energy")

    if "specific_heat" in sw.mean:
        _eb(ax[3], T, sw.mean["specific_heat"], sw.error["specific_heat"], color="tab:red")
    ax[3].set_ylabel("$C$ / site")
    ax[3].set_title("specific heat")

    name = "abs_staggered_magnetization" if "abs_staggered_magnetization" in sw.mean else "staggered_magnetization"
    if name in sw.mean:
        _eb(ax[4], T, sw.mean[name], sw.error[name], color="navy")
    ax[4].set_ylabel("$\\langle|m_s|\\rangle$" if name.startswith("abs") else "$m_s$")
    ax[4].set_title("staggered magnetisation")

    on = [(i, x) for i, x in enumerate(onsets)]
    ys = np.arange(9)
    xs = np.array([x if x is not None else np.nan for _, x in on])
    ax[5].scatter(xs, ys, c=[level_colour(i) for i in range(9)], s=40, zorder=3, edgecolor="k", lw=0.4)
    ax[5].set_yticks(ys)
    ax[5].set_yticklabels([f"V{i}" for i in range(9)])
    ax[5].set_title(f"onset: first T with $f_i$ > {args.threshold:g}")
    ax[5].set_xlim(ax[0].get_xlim())
    for i, x in on:
        if x is None:
            ax[5].text(0.98, i, "not reached", transform=ax[5].get_yaxis_transform(), ha="right",
                       va="center", fontsize=7, color="0.4")
    for a in ax:
        a.set_xlabel("T ($\\varepsilon_0/k_B$)")
    src = "sweep index" if sw.source == "index" else "holds of one run"
    fig.suptitle(args.title or f"{sw.path} ({src}, {len(T)} points)", fontsize=10)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.91, bottom=0.08, wspace=0.3, hspace=0.38)
    save(fig, args, args.sweep)

    print(f"sweep {sw.path}: {len(T)} points ({src}), T = " + " ".join(f"{x:.6g}" for x in T))
    if "count" in sw.parameters:
        print("points per T " + " ".join(str(int(c)) for c in sw.parameters["count"]))
        if len(sw.parameters.get("varying", [])):
            print("note: parameters other than T vary and were averaged over: "
                  + ", ".join(sw.parameters["varying"]) + " (select with --where KEY=VALUE)")
    print("n_soft_matrix " + " ".join(f"{x:.10g}" for x in nsm))
    print("energy " + " ".join(f"{x:.10g}" for x in sw.mean["energy"]))
    print(f"T_g {fmt(gt['T_g'], '.10g')}")
    print(f"T_m {fmt(gt['T_m'], '.10g')}")
    print(f"T_g/T_m {fmt(gt['ratio'], '.10g')} (paper 5/8 = 0.625)")
    print("onset " + " ".join(f"V{i}={fmt(x, '.6g')}" for i, x in enumerate(onsets)))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
