#!/usr/bin/python3
"""Snapshot of one softmatrix run: the level field as an image with a
discrete colour map for levels -1..8 (V_i clusters appear as diamond
pyramids, soft matrices in red), the MIEV field sigma, and z if present.

Prints the chosen step and the level counts of the frame to stdout."""
import sys

import numpy as np

from softmatrix_tools import SoftmatrixFileError, open_run
from softmatrix_tools.plotting import (LEVEL_CMAP, LEVEL_LABELS, LEVEL_NORM, parser, plt, run_main,
                                       save, style)
from matplotlib.colors import ListedColormap

PANEL = 4.0  # inches per panel


def main(argv=None):
    p = parser(__doc__.splitlines()[0] + "\n\n" + __doc__, "_snapshot")
    p.add_argument("run", metavar="RUN.h5", help="softmatrix run file")
    p.add_argument("--step", type=int, help="snapshot step (default: the last snapshot)")
    p.add_argument("--temperature", type=float, metavar="T",
                   help="the snapshot whose temperature is nearest to T (instead of --step)")
    p.add_argument("--crop", type=int, metavar="N",
                   help="show only the N x N corner window (details of large lattices)")
    p.add_argument("--list", action="store_true", help="list the snapshot steps and exit")
    args = p.parse_args(argv)
    run = open_run(args.run)
    if "level" not in run.snapshots:
        raise SoftmatrixFileError(f"{run.path}: no level snapshots (set run.snapshot_every > 0 "
                                  "and output.snapshot_fields)")
    if args.list:
        for name, s in run.snapshots.items():
            print(f"{name}: " + " ".join(str(int(x)) for x in s.step))
        return 0
    if args.temperature is not None and args.step is None:
        Tobs = run.obs("temperature")
        steps = run.snapshots["level"].step
        Ts = np.array([Tobs.value[np.argmin(np.abs(Tobs.step - s))] for s in steps])
        args.step = int(steps[int(np.argmin(np.abs(Ts - args.temperature)))])
    step, lev = run.snapshots["level"].at(args.step)
    fields = [("level", lev)]
    for name in ("sigma", "z"):
        if name in run.snapshots and step in run.snapshots[name].step:
            fields.append((name, run.snapshots[name].at(step)[1]))
    if args.crop:
        fields = [(name, v[: args.crop, : args.crop]) for name, v in fields]
    style()
    n = len(fields)
    fig, axes = plt.subplots(1, n, figsize=(PANEL * n + 0.6, PANEL + 0.5), squeeze=False)
    axes = axes[0]
    Ly, Lx = lev.shape
    T = None
    Tobs = run.observables.get("temperature")
    if Tobs is not None and len(Tobs.step):
        k = int(np.argmin(np.abs(Tobs.step - step)))
        T = float(Tobs.value[k])
    for a, (name, v) in zip(axes, fields):
        a.grid(False)
        if name == "level":
            im = a.imshow(v, cmap=LEVEL_CMAP, norm=LEVEL_NORM, interpolation="nearest", origin="lower")
            cb = fig.colorbar(im, ax=a, ticks=np.arange(-1, 9), fraction=0.046, pad=0.03)
            cb.ax.set_yticklabels(LEVEL_LABELS, fontsize=7)
            a.set_title("level $\\ell$")
        elif name == "sigma":
            cmap = ListedColormap(["#3b6fb6", "#f2c14e"])
            im = a.imshow(v, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest", origin="lower")
            cb = fig.colorbar(im, ax=a, ticks=[-0.5, 0.5], fraction=0.046, pad=0.03)
            cb.ax.set_yticklabels(["$-z$", "$+z$"])
            a.set_title("MIEV $\\sigma$")
        else:
            lim = float(np.max(np.abs(v))) or 1.0
            im = a.imshow(v, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest", origin="lower")
            fig.colorbar(im, ax=a, fraction=0.046, pad=0.03)
            a.set_title("z displacement")
        a.set_xlabel("x")
        a.set_ylabel("y")
    ttl = f"{run.path}: step {step}" + (f", T = {T:.4g}" if T is not None else "") + f", {Lx}x{Ly}" + (
        f" (window {min(args.crop, Lx)}x{min(args.crop, Ly)})" if args.crop else "")
    fig.suptitle(args.title or ttl, fontsize=10)
    fig.subplots_adjust(left=0.06, right=0.95, top=0.88, bottom=0.1, wspace=0.35)
    save(fig, args, args.run)

    counts = np.array([(lev == l).sum() for l in range(-1, 9)])
    print(f"snapshot step {step} of {run.path}: {Lx}x{Ly}" + (f", T {T:.10g}" if T is not None else ""))
    print("level counts (-1..8) " + " ".join(str(int(c)) for c in counts))
    print(f"mean level {float(np.mean(lev)):.10g}")
    if len(fields) > 1 and fields[1][0] == "sigma":
        print(f"mean sigma {float(np.mean(fields[1][1])):.10g}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
