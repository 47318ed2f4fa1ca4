"""Shared plotting helpers: headless matplotlib, the discrete level colour
map, the common command-line options and the error-handling main wrapper."""
from __future__ import annotations

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402
import numpy as np  # noqa: E402

from .io import SoftmatrixFileError  # noqa: E402

DEFAULT_DPI = 100

# level -1 (plain HSM) light grey, V0..V7 along viridis, V8 (soft matrix) red
_LEVEL_COLOURS = ["#d9d9d9"] + [matplotlib.colormaps["viridis"](k / 7.0) for k in range(8)] + ["#d62728"]
LEVEL_CMAP = ListedColormap(_LEVEL_COLOURS, name="softmatrix_levels")
LEVEL_NORM = BoundaryNorm(np.arange(-1.5, 9.5, 1.0), LEVEL_CMAP.N)
LEVEL_LABELS = ["HSM"] + [f"V{i}" for i in range(8)] + ["V8 (SM)"]


def level_colour(l):
    """Colour of level l in -1..8."""
    return _LEVEL_COLOURS[int(l) + 1]


def style():
    plt.rcParams.update({
        "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 7.5,
        "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": DEFAULT_DPI,
        "axes.spines.top": False, "axes.spines.right": False,
    })


def parser(description, default_suffix):
    """ArgumentParser with the options every script shares."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", metavar="PNG",
                   help=f"output PNG path (default: <input stem>{default_suffix}.png next to the input)")
    p.add_argument("--pdf", action="store_true", help="also write a PDF beside the PNG")
    p.add_argument("--dpi", type=int, default=DEFAULT_DPI, help="PNG resolution (default %(default)s)")
    p.add_argument("--title", help="figure title (default: the input file name)")
    p.set_defaults(_suffix=default_suffix)
    return p


def output_path(args, input_path):
    if args.output:
        return args.output
    stem, _ = os.path.splitext(os.fspath(input_path))
    return stem + args._suffix + ".png"


def save(fig, args, input_path):
    """Write PNG (and PDF with --pdf) with a fixed pixel size (figsize x dpi)."""
    png = output_path(args, input_path)
    d = os.path.dirname(os.path.abspath(png))
    os.makedirs(d, exist_ok=True)
    fig.savefig(png, dpi=args.dpi)
    written = [png]
    if args.pdf:
        pdf = os.path.splitext(png)[0] + ".pdf"
        fig.savefig(pdf)
        written.append(pdf)
    plt.close(fig)
    for w in written:
        print(f"wrote {w}")
    return written


def run_main(main, argv=None):
    """Call main(argv); turn SoftmatrixFileError into one line on stderr, exit 1."""
    prog = os.path.basename(sys.argv[0])
    try:
        rc = main(argv)
    except SoftmatrixFileError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # pragma: no cover
        return 1
    return rc or 0


def fmt(x, spec=".4g"):
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)
