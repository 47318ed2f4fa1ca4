#!/usr/bin/python3
"""Cluster census against Table 1 of the paper, as a table (stdout) and a figure.

Sources, any combination:
  RUN.h5                 a run file: its /census group when the simulator
                         wrote one, else a census computed here (numpy, MODEL.md
                         5.2) of the level/sigma snapshot (--step, default last);
  --table1-json FILE     output of `softmatrix table1 --json` (ideal clusters);
                         FILE '-' (or no RUN.h5 and piped input) reads stdin.

Table 1 reference values come from data/table1.json.  Entries the footprint
geometry does not reproduce (V7 jamming, V8 jamming, the '+4'/'+8' of V8) are
shown as 'paper differs' / 'no paper value' / 'base only', not forced to match."""
import os
import sys

import numpy as np

from softmatrix_tools import (TABLE1_COLUMNS, SoftmatrixFileError, census_snapshot, open_run,
                              read_table1_json, table1_paper)
from softmatrix_tools.plotting import fmt, parser, plt, run_main, save, style

STATUS_COLOUR = {"equal": "#7fc97f", "base": "#fdc086", "differs": "#f4a582", "absent": "#cccccc"}


def _num(v):
    if isinstance(v, dict):
        if "num" in v:
            return v["num"] / v["den"]
        return v.get("base", 0) + v.get("extra", 0)
    return v


def ideal_from_json(data):
    """(V, column) -> counted value (+z centre), and the JSON's own verdicts."""
    out = {}
    for e in data["entries"]:
        out[(int(e["V"]), e["column"])] = {"counted": _num(e.get("counted_plus_z")),
                                          "counted_minus": _num(e.get("counted_minus_z")),
                                          "equal": bool(e.get("equal")),
                                          "status": e.get("status"), "note": e.get("note")}
    return out


def census_from_group(census):
    """The run's /census (README "Cluster census"): /census/<name>/{step,time,value},
    value [n][9] per level, names n_centres, n_truncated, match_fraction, mean_N,
    mean_arrows, mean_cbosons, mean_hscl, mean_cavity, mean_jamming, mean_co,
    mean_counter, mean_density, ... The last census (row -1) is used.
    Returns None when the group does not have that shape."""
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


def _verdict(p, value):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "absent"
    if p["status"] == "paper_absent":
        return "absent"
    if np.isclose(value, p["paper_value"], rtol=0, atol=5e-3 if isinstance(value, float) else 0):
        return "equal"
    if p["status"] == "base_reproduced" and p["ref"] is not None and np.isclose(value, p["ref"]):
        return "base"
    return "differs"


def main(argv=None):
    p = parser(__doc__.splitlines()[0] + "\n\n" + __doc__, "_table1")
    p.add_argument("run", metavar="RUN.h5", nargs="?", help="run file (optional)")
    p.add_argument("--table1-json", metavar="FILE",
                   help="output of `softmatrix table1 --json` ('-' for stdin)")
    p.add_argument("--step", type=int, help="snapshot step for the census computed here")
    args = p.parse_args(argv)
    if args.table1_json is None and args.run is None:
        if sys.stdin.isatty():
            p.error("give RUN.h5 and/or --table1-json FILE (or pipe `softmatrix table1 --json`)")
        args.table1_json = "-"
    paper = table1_paper()
    ideal = None
    if args.table1_json is not None:
        text = sys.stdin.read() if args.table1_json == "-" else args.table1_json
        if args.table1_json == "-" and not text.strip():
            raise SoftmatrixFileError("stdin: empty (expected `softmatrix table1 --json` output)")
        ideal = ideal_from_json(read_table1_json(text))
    run_res, run_label = None, None
    if args.run is not None:
        run = open_run(args.run)
        if run.census:
            run_res = census_from_group(run.census)
            if run_res is not None:
                run_label = f"{os.path.basename(run.path)} {run_res['source']} (simulator census)"
        if run_res is None:
            if "level" not in run.snapshots:
                raise SoftmatrixFileError(f"{run.path}: neither /census nor level snapshots to count")
            step, lev = run.snapshots["level"].at(args.step)
            sig = run.snapshots["sigma"].at(step)[1] if "sigma" in run.snapshots else None
            boundary = run.config.get("lattice", {}).get("boundary", "periodic")
            run_res = census_snapshot(lev, sig, boundary)
            run_res["source"] = f"snapshot step {step}"
            run_label = f"{os.path.basename(run.path)} snapshot step {step} (census by softmatrix_tools)"

    # ------------------------------------------------------------ the table
    cols = TABLE1_COLUMNS
    print("Table 1 (paper, data/table1.json) vs census")
    hdr = f"{'V_i':4} {'column':9} {'paper':>10}"
    if ideal:
        hdr += f" {'ideal':>8} {'mark':8}"
    if run_res:
        hdr += f" {'run mean':>10} {'mark':8}"
    print(hdr)
    n_eq = n_cmp = 0
    grid_val = np.full((9, len(cols)), np.nan)
    grid_mark = np.empty((9, len(cols)), dtype=object)
    for i in range(9):
        for j, col in enumerate(cols):
            pp = paper[(i, col)]
            line = f"{('V%d' % i) if j == 0 else '':4} {col:9} {pp['text']:>10}"
            mark = None
            if ideal:
                c = ideal.get((i, col), {}).get("counted")
                mark = _verdict(pp, c)
                line += f" {fmt(c, '.4g'):>8} {mark:8}"
                n_cmp += 1
                n_eq += mark == "equal"
                grid_val[i, j] = np.nan if c is None else c
            if run_res:
                m = run_res["mean"].get(col, np.full(9, np.nan))[i]
                rmark = _verdict(pp, float(m))
                line += f" {fmt(float(m), '.4g'):>10} {rmark:8}"
                if not ideal:
                    mark = rmark
                    grid_val[i, j] = m
            grid_mark[i, j] = mark or "absent"
            print(line.rstrip())
    if ideal:
        print(f"ideal clusters: {n_eq} of {n_cmp} entries equal the printed paper value")
    if run_res:
        print(f"run census ({run_res['source']}):")
        print("level n_centres n_fitting n_match match_fraction")
        for i in range(9):
            print(f"V{i} {int(run_res['n_centres'][i])} {int(run_res['n_fitting'][i])} "
                  f"{int(run_res['n_match'][i])} {fmt(float(run_res['match_fraction'][i]), '.6g')}")

    # ----------------------------------------------------------- the figure
    style()
    ncol = 2 if run_res else 1
    fig, axes = plt.subplots(1, ncol, figsize=(12.0 if run_res else 8.0, 5.5), squeeze=False,
                             gridspec_kw={"width_ratios": [1.6, 1] if run_res else [1]})
    ax = axes[0][0]
    ax.grid(False)
    rgb = np.array([[matplotlib_colour(STATUS_COLOUR[grid_mark[i, j]]) for j in range(len(cols))]
                    for i in range(9)])
    ax.imshow(rgb, aspect="auto", origin="upper")
    for i in range(9):
        for j, col in enumerate(cols):
            pp = paper[(i, col)]
            v = grid_val[i, j]
            cnt = "-" if not np.isfinite(v) else (f"{v:.3f}" if col == "density" else f"{v:.4g}")
            ptxt = pp["text"] if col != "density" else f"{pp['paper_value']:.3f}"
            ax.text(j, i, f"{cnt}\n({ptxt})", ha="center", va="center", fontsize=6.5)
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols)
    ax.set_yticks(range(9))
    ax.set_yticklabels([f"V{i}" for i in range(9)])
    what = "ideal clusters (softmatrix table1)" if ideal else run_label
    ax.set_title(f"counted (paper) - {what}", fontsize=9)
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(color=STATUS_COLOUR[k], label=l) for k, l in
                       (("equal", "= paper"), ("base", "base only (+extra unexplained)"),
                        ("differs", "paper differs"), ("absent", "no value"))],
              loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=4, fontsize=7, frameon=False)
    if run_res:
        a = axes[0][1]
        x = np.arange(9)
        a.bar(x, np.maximum(run_res["n_centres"], 0), color="0.6", label="V_i centres")
        a.set_yscale("symlog", linthresh=1)
        a.set_ylabel("number of V_i centres")
        a.set_xticks(x)
        a.set_xticklabels([f"V{i}" for i in range(9)])
        b = a.twinx()
        b.plot(x, run_res["match_fraction"], "o-", color="tab:green", label="fraction = Table 1")
        b.set_ylim(-0.05, 1.05)
        b.set_ylabel("fraction of fitting clusters equal to Table 1", color="tab:green")
        b.grid(False)
        a.set_title(run_label, fontsize=8)
    fig.suptitle(args.title or "Cluster census against Table 1", fontsize=10)
    fig.subplots_adjust(left=0.06, right=0.93 if run_res else 0.98, top=0.88, bottom=0.14, wspace=0.25)
    save(fig, args, args.run or (args.table1_json if args.table1_json not in (None, "-") else "table1"))
    return 0


def matplotlib_colour(c):
    from matplotlib.colors import to_rgb
    return to_rgb(c)


if __name__ == "__main__":
    sys.exit(run_main(main))
