#!/usr/bin/python3
"""Time series of one softmatrix run: energy, level histogram (stacked over
levels -1..8), soft-matrix density n_SM, staggered magnetisation and the
temperature schedule, against Monte Carlo time (sweeps).

Prints a short summary (means over all measurements) to stdout."""
import sys

import numpy as np

from softmatrix_tools import open_run
from softmatrix_tools.plotting import (LEVEL_LABELS, level_colour, parser, plt, run_main, save,
                                       style)

FIGSIZE = (8.0, 9.0)


def main(argv=None):
    p = parser(__doc__.splitlines()[0] + "\n\n" + __doc__, "_run")
    p.add_argument("run", metavar="RUN.h5", help="softmatrix run file")
    args = p.parse_args(argv)
    run = open_run(args.run)
    style()
    E = run.obs("energy")
    t = E.time
    hist = run.obs("level_histogram").value
    nsm = run.obs("n_soft_matrix").value
    ms = run.obs("staggered_magnetization").value
    T = run.obs("temperature").value

    fig, ax = plt.subplots(5, 1, figsize=FIGSIZE, sharex=True,
                           gridspec_kw={"height_ratios": [1.2, 1.6, 1, 1, 0.8]})
    ax[0].plot(t, E.value, lw=1.0, color="k", label="H/N", zorder=3)
    for part, c in (("energy_C", "tab:orange"), ("energy_J", "tab:blue"),
                    ("energy_step", "tab:green"), ("energy_h", "tab:purple")):
        if part in run.observables and np.any(run.observables[part].value != 0):
            ax[0].plot(run.observables[part].time, run.observables[part].value, lw=0.6,
                       color=c, alpha=0.8, label=part.replace("energy_", "part "))
    ax[0].set_ylabel("energy / site")
    ax[0].legend(loc="best", ncol=3)

    ax[1].stackplot(t, hist.T, colors=[level_colour(l) for l in range(-1, 9)],
                    labels=LEVEL_LABELS, lw=0)
    ax[1].set_ylim(0, 1)
    ax[1].set_ylabel("level fraction $f_\\ell$")
    ax[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)

    ax[2].plot(t, nsm, lw=0.8, color=level_colour(8))
    ax[2].set_ylabel("$n_{SM} = 200 f_8$")

    ax[3].plot(t, ms, lw=0.5, color="tab:blue", alpha=0.6, label="$m_s$")
    ax[3].plot(t, np.abs(ms), lw=0.8, color="navy", label="$|m_s|$")
    ax[3].set_ylabel("staggered mag.")
    ax[3].legend(loc="best", ncol=2)

    ax[4].plot(run.obs("temperature").time, T, lw=1.2, color="tab:red")
    ax[4].set_ylabel("T")
    ax[4].set_xlabel("Monte Carlo time (sweeps)")
    # segment boundaries
    seg = run.segment_of_sample()
    edges = np.nonzero(np.diff(seg))[0]
    for a in ax:
        for k in edges:
            a.axvline(0.5 * (t[k] + t[k + 1]), color="0.6", lw=0.4, ls=":")
    Lx, Ly = run.lattice
    fig.suptitle(args.title or f"{run.path}: {Lx}x{Ly}, {run.n_segments} segment(s)", fontsize=10)
    fig.subplots_adjust(left=0.1, right=0.86, top=0.95, bottom=0.06, hspace=0.12)
    save(fig, args, args.run)

    print(f"run {run.path}: {Lx}x{Ly}, {len(t)} measurements, {run.n_segments} segments, "
          f"steps {int(E.step[0])}..{int(E.step[-1])}")
    print(f"mean energy {np.mean(E.value):.10g}")
    print(f"mean n_soft_matrix {np.mean(nsm):.10g}")
    print(f"mean staggered_magnetization {np.mean(ms):.10g}")
    print(f"mean abs_staggered_magnetization {np.mean(np.abs(ms)):.10g}")
    print(f"mean temperature {np.mean(T):.10g}")
    print("final level_histogram " + " ".join(f"{x:.6g}" for x in hist[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
