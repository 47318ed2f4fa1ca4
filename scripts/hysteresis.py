#!/usr/bin/python3
"""Heating versus cooling: observables of one run against temperature, the
time series split into a heating branch (segments with T_to > T_from) and a
cooling branch (T_to < T_from); constant-T holds are left out.

Each branch is averaged in temperature bins (--bins); the raw measurements
are drawn faintly behind.  Prints per branch the number of measurements and
the mean of each observable, and the loop area of the energy, the integral
over T of E_cool - E_heat on the common bins."""
import sys

import numpy as np

from softmatrix_tools import SoftmatrixFileError, branch_of_sample, open_run
from softmatrix_tools.analysis import binned
from softmatrix_tools.plotting import parser, plt, run_main, save, style

FIGSIZE = (10.0, 6.5)
OBS = [("energy", "energy / site", None), ("mean_level", "mean level", None),
       ("hscl_fraction", "HSCL fraction", None), ("n_soft_matrix", "$n_{SM}$", None),
       ("staggered_magnetization", "$|m_s|$", np.abs), ("cbosons", "IE arrows / site", None)]


def main(argv=None):
    p = parser(__doc__.splitlines()[0] + "\n\n" + __doc__, "_hysteresis")
    p.add_argument("run", metavar="RUN.h5", help="run file with up and down temperature ramps")
    p.add_argument("--bins", type=int, default=30, help="temperature bins (default %(default)s)")
    args = p.parse_args(argv)
    run = open_run(args.run)
    T = np.asarray(run.obs("temperature").value, float)
    br = branch_of_sample(run)
    up, down = br > 0, br < 0
    if not up.any() and not down.any():
        raise SoftmatrixFileError(f"{run.path}: schedule has no temperature ramps "
                                  "(T_from != T_to) to split into heating and cooling")
    ramp = up | down
    edges = np.linspace(T[ramp].min(), T[ramp].max(), args.bins + 1)
    edges[-1] += 1e-12 * max(1.0, abs(edges[-1]))
    obs = [(n, lab, fn) for n, lab, fn in OBS if n in run.observables]

    style()
    fig, ax = plt.subplots(2, 3, figsize=FIGSIZE)
    ax = ax.ravel()
    stats = {}
    loop_area = None
    for a, (name, label, fn) in zip(ax, obs):
        y = np.asarray(run.obs(name).value, float)
        y = fn(y) if fn else y
        bm = {}
        for mask, col, lab in ((up, "tab:red", "heating"), (down, "tab:blue", "cooling")):
            if not mask.any():
                continue
            a.plot(T[mask], y[mask], ".", ms=1.5, color=col, alpha=0.15, rasterized=True)
            c, m, e, n = binned(T[mask], y[mask], edges)
            ok = n > 0
            a.errorbar(c[ok], m[ok], yerr=e[ok], fmt="-", lw=1.2, color=col, label=lab,
                       marker="^" if lab == "heating" else "v", ms=3, capsize=0)
            key = ("abs_" + name) if fn is np.abs else name
            stats.setdefault(lab, {})[key] = float(np.mean(y[mask]))
            stats[lab]["_n"] = int(mask.sum())
            bm[lab] = (c, m, n)
        if name == "energy" and len(bm) == 2:
            c, mh, nh = bm["heating"]
            _, mc, nc = bm["cooling"]
            ok = (nh > 0) & (nc > 0)
            if ok.sum() >= 2:
                loop_area = float(np.trapz(mc[ok] - mh[ok], c[ok]))
        a.set_ylabel(label)
        a.set_xlabel("T ($\\varepsilon_0/k_B$)")
        a.set_title(name.replace("_", " "))
    ax[0].legend(loc="best")
    for a in ax[len(obs):]:
        a.axis("off")
    seg = run.summary.segments
    sched = ", ".join(f"{a:g}->{b:g}" if a != b else f"{a:g}" for a, b in zip(seg["T_from"], seg["T_to"]))
    fig.suptitle(args.title or f"{run.path}: heating vs cooling (schedule {sched})", fontsize=10)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=0.09, wspace=0.32, hspace=0.42)
    save(fig, args, args.run)

    print(f"hysteresis {run.path}: {int(up.sum())} heating, {int(down.sum())} cooling, "
          f"{int((br == 0).sum())} hold measurements")
    for lab in ("heating", "cooling"):
        if lab in stats:
            print(f"{lab} n={stats[lab]['_n']} " + " ".join(
                f"{k}={v:.10g}" for k, v in stats[lab].items() if not k.startswith("_")))
    print(f"energy loop area {loop_area:.6g}" if loop_area is not None else "energy loop area n/a")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
