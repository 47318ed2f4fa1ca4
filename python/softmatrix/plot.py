"""Command line: ``python3 -m softmatrix.plot SUBCOMMAND [options]``.

Subcommands (each writes a PNG, optionally a PDF, and prints a short text
summary of the numbers it plots to stdout):

  run         time series of a run (energy, level fractions, n_SM, m_s, T)
  snapshot    level field, +z/-z (sigma) and z of one snapshot
  sweep       level fractions, n_SM, energy, C, |m_s| and onsets against T
  table1      cluster census against Table 1 of the paper
  hysteresis  heating against cooling branches of a ramped run
  kinetics    cage kinetics: tau_i against i with fits, loop completions,
              relaxation fits of the mean level per hold

A missing, empty, truncated or foreign file, or a run without /summary,
gives one ``error:`` line on stderr and exit status 1.  A ``PATH.partial``
file of a running simulation is read as it stands (with a warning line).
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import numpy as np  # noqa: E402

from . import analysis as an  # noqa: E402
from . import figures as fg  # noqa: E402
from .io import (RunInProgressWarning, SoftmatrixFileError, open_run, open_sweep,  # noqa: E402
                 read_table1_json)

PROG = "python3 -m softmatrix.plot"


# ---------------------------------------------------------------- helpers

def _common(p, suffix):
    p.add_argument("-o", "--output", metavar="PNG",
                   help=f"output PNG path (default: <input stem>{suffix}.png next to the input)")
    p.add_argument("--pdf", action="store_true", help="also write a PDF beside the PNG")
    p.add_argument("--dpi", type=int, default=fg.DEFAULT_DPI,
                   help="PNG resolution (default %(default)s); the size is fixed in inches")
    p.add_argument("--title", help="figure title (default: says what is plotted)")
    p.set_defaults(_suffix=suffix)


def _T_scale(p):
    p.add_argument("--T-scale", choices=("auto", "log", "linear"), default="auto",
                   help="temperature axis: log for logarithmic schedules/sweeps (auto, the "
                        "default), or forced")


def output_path(args, input_path):
    """-o, or <input stem><suffix>.png beside the input (a .partial suffix dropped)."""
    if args.output:
        return args.output
    p = os.fspath(input_path)
    if p.endswith(".partial"):
        p = p[: -len(".partial")]
    stem, _ = os.path.splitext(p)
    return stem + args._suffix + ".png"


def _save(fig, args, input_path):
    for w in fg.save(fig, output_path(args, input_path), dpi=args.dpi, pdf=args.pdf):
        print(f"wrote {w}")


# ----------------------------------------------------------- subcommands

def _add_run(p):
    p.add_argument("run", metavar="RUN.h5", help="run file (or RUN.h5.partial of a running run)")
    _T_scale(p)


def cmd_run(args):
    """Time series figure of one run; prints means over all measurements."""
    run = open_run(args.run)
    fig, _ = fg.plot_run(run, title=args.title, T_scale=args.T_scale)
    _save(fig, args, args.run)
    E = run.obs("energy")
    hist = run.obs("level_histogram").value
    nsm = run.obs("n_soft_matrix").value
    ms = run.obs("staggered_magnetization").value
    T = run.obs("temperature").value
    Lx, Ly = run.lattice
    print(f"run {run.path}: {Lx}x{Ly}, {len(E.time)} measurements, {run.n_segments} segments"
          + (f", steps {int(E.step[0])}..{int(E.step[-1])}" if len(E.step) else "")
          + ("" if run.complete else " (in progress)"))
    if not len(E.step):
        return 0
    print(f"mean energy {np.mean(E.value):.10g}")
    print(f"mean n_soft_matrix {np.mean(nsm):.10g}")
    print(f"mean staggered_magnetization {np.mean(ms):.10g}")
    print(f"mean abs_staggered_magnetization {np.mean(np.abs(ms)):.10g}")
    print(f"mean temperature {np.mean(T):.10g}")
    print("final level_histogram " + " ".join(f"{x:.6g}" for x in hist[-1]))
    return 0


def _add_snapshot(p):
    p.add_argument("run", metavar="RUN.h5", help="run file with snapshots")
    p.add_argument("--step", type=int, help="snapshot step (default: the last snapshot)")
    p.add_argument("--temperature", type=float, metavar="T",
                   help="the snapshot whose temperature is nearest to T (instead of --step)")
    p.add_argument("--crop", type=int, metavar="N",
                   help="show only the N x N corner window (details of large lattices)")
    p.add_argument("--list", action="store_true", help="list the snapshot steps and exit")


def cmd_snapshot(args):
    """Snapshot figure; prints the step and the level counts of the frame."""
    run = open_run(args.run)
    if "level" not in run.snapshots:
        raise SoftmatrixFileError(f"{run.path}: no level snapshots (set run.snapshot_every > 0 "
                                  "and output.snapshot_fields)")
    if args.list:
        for name, s in run.snapshots.items():
            print(f"{name}: " + " ".join(str(int(x)) for x in s.step))
        return 0
    fig, info = fg.plot_snapshot(run, step=args.step, temperature=args.temperature,
                                 crop=args.crop, title=args.title)
    _save(fig, args, args.run)
    step, T = info["step"], info["T"]
    lev = run.snapshots["level"].at(step)[1]
    Ly, Lx = lev.shape
    print(f"snapshot step {step} of {run.path}: {Lx}x{Ly}" + (f", T {T:.10g}" if T is not None else ""))
    print("level counts (-1..8) " + " ".join(str(int((lev == v).sum())) for v in range(-1, 9)))
    print(f"mean level {float(np.mean(lev)):.10g}")
    if "sigma" in info["fields"]:
        print(f"mean sigma {float(np.mean(run.snapshots['sigma'].at(step)[1])):.10g}")
    return 0


def _add_sweep(p):
    p.add_argument("sweep", metavar="INDEX.h5", help="sweep index or run file with holds")
    p.add_argument("--threshold", type=float, default=1e-3,
                   help="onset threshold on f_i (default %(default)g)")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="index only: keep points whose sweep parameter KEY equals VALUE "
                        "(repeatable); points with equal T are averaged")
    p.add_argument("--logy", action="store_true", help="level fractions on a log axis")
    _T_scale(p)


def cmd_sweep(args, parser):
    """Sweep figure; prints the points, n_SM, energy, T_g, T_m and onsets."""
    where = {}
    for w in args.where:
        if "=" not in w:
            parser.error(f"--where needs KEY=VALUE, got '{w}'")
        k, v = w.split("=", 1)
        where[k] = v
    sw = open_sweep(args.sweep, where)
    fig, info = fg.plot_sweep(sw, threshold=args.threshold, logy=args.logy, T_scale=args.T_scale,
                              title=args.title)
    _save(fig, args, args.sweep)
    gt, onsets, T = info["glass"], info["onsets"], sw.T
    src = "sweep index" if sw.source == "index" else "holds of one run"
    print(f"sweep {sw.path}: {len(T)} points ({src}), T = " + " ".join(f"{x:.6g}" for x in T))
    print(f"T axis {info['T_scale']}")
    if "count" in sw.parameters:
        print("points per T " + " ".join(str(int(c)) for c in sw.parameters["count"]))
        if len(sw.parameters.get("varying", [])):
            print("note: parameters other than T vary and were averaged over: "
                  + ", ".join(sw.parameters["varying"]) + " (select with --where KEY=VALUE)")
    print("n_soft_matrix " + " ".join(f"{x:.10g}" for x in sw.mean["n_soft_matrix"]))
    print("energy " + " ".join(f"{x:.10g}" for x in sw.mean["energy"]))
    print(f"T_g {fg.fmt(gt['T_g'], '.10g')}")
    print(f"T_m {fg.fmt(gt['T_m'], '.10g')}")
    print(f"T_g/T_m {fg.fmt(gt['ratio'], '.10g')} (paper 5/8 = 0.625)")
    print("onset " + " ".join(f"V{i}={fg.fmt(x, '.6g')}" for i, x in enumerate(onsets)))
    return 0


def _add_table1(p):
    p.add_argument("run", metavar="RUN.h5", nargs="?", help="run file (optional)")
    p.add_argument("--table1-json", metavar="FILE",
                   help="output of `softmatrix table1 --json` ('-' for stdin)")
    p.add_argument("--step", type=int, help="snapshot step for the census computed here")


def cmd_table1(args, parser):
    """Table 1 figure: ideal clusters (table1 JSON) and/or a run's census."""
    if args.table1_json is None and args.run is None:
        if sys.stdin.isatty():
            parser.error("give RUN.h5 and/or --table1-json FILE (or pipe `softmatrix table1 --json`)")
        args.table1_json = "-"
    paper = an.table1_paper()
    ideal = None
    if args.table1_json is not None:
        text = sys.stdin.read() if args.table1_json == "-" else args.table1_json
        if args.table1_json == "-" and not text.strip():
            raise SoftmatrixFileError("stdin: empty (expected `softmatrix table1 --json` output)")
        ideal = an.ideal_from_json(read_table1_json(text))
    run_res, run_what, config = None, "", None
    if args.run is not None:
        run = open_run(args.run)
        config = run.config
        if run.census:
            run_res = an.census_from_group(run.census)
            if run_res is not None:
                run_what = f"V_i centres and Table 1 matches, simulator census at step {run_res['step']}"
                run_res["source"] += " (simulator census)"
        if run_res is None:
            if "level" not in run.snapshots:
                raise SoftmatrixFileError(f"{run.path}: neither /census nor level snapshots to count")
            step, lev = run.snapshots["level"].at(args.step)
            sig = run.snapshots["sigma"].at(step)[1] if "sigma" in run.snapshots else None
            run_res = an.census_snapshot(lev, sig, run.boundary)
            run_res["source"] = f"snapshot step {step} (census by softmatrix.analysis)"
            run_what = f"V_i centres and Table 1 matches, snapshot at step {step}"
    fig, info = fg.plot_table1(paper, ideal, run_res, run_what, config, title=args.title)
    for line in info["lines"]:
        print(line)
    _save(fig, args, args.run or (args.table1_json if args.table1_json not in (None, "-") else "table1"))
    return 0


def _add_hysteresis(p):
    p.add_argument("run", metavar="RUN.h5", help="run file with up and down temperature ramps")
    p.add_argument("--bins", type=int, default=30, help="temperature bins (default %(default)s)")
    _T_scale(p)


def cmd_hysteresis(args):
    """Heating/cooling figure; prints per-branch means and the energy loop area."""
    run = open_run(args.run)
    fig, info = fg.plot_hysteresis(run, bins=args.bins, title=args.title, T_scale=args.T_scale)
    _save(fig, args, args.run)
    print(f"hysteresis {run.path}: {info['n_heating']} heating, {info['n_cooling']} cooling, "
          f"{info['n_hold']} hold measurements")
    for lab in ("heating", "cooling"):
        if lab in info["stats"]:
            st = info["stats"][lab]
            print(f"{lab} n={st['_n']} " + " ".join(
                f"{k}={v:.10g}" for k, v in st.items() if not k.startswith("_")))
    a = info["loop_area"]
    print(f"energy loop area {a:.6g}" if a is not None else "energy loop area n/a")
    return 0


def _add_kinetics(p):
    p.add_argument("run", metavar="RUN.h5", help="complete run file of the cage dynamics")
    p.add_argument("--observable", default="mean_level",
                   help="observable whose relaxation is fitted per hold (default %(default)s)")
    p.add_argument("--min-count", type=int, default=10,
                   help="least intervals for a tau_i to enter the fits (default %(default)s)")
    _T_scale(p)


def cmd_kinetics(args):
    """Kinetics figure; prints tau_i per segment, the fits and the relaxation times."""
    run = open_run(args.run)
    fig, info = fg.plot_kinetics(run, name=args.observable, min_count=args.min_count,
                                 title=args.title, T_scale=args.T_scale)
    _save(fig, args, args.run)
    kin = run.kinetics
    Lx, Ly = run.lattice
    print(f"kinetics {run.path}: {Lx}x{Ly}, {kin.n_segments} segments")
    for s in range(kin.n_segments):
        print(f"segment {s} T {kin.T_from[s]:.6g} {kin.T_to[s]:.6g}")
        print(f"tau {s} " + " ".join(f"{x:.10g}" for x in kin.tau_mean[s]))
        print(f"tau_error {s} " + " ".join(f"{x:.10g}" for x in kin.tau_error[s]))
        print(f"tau_count {s} " + " ".join(str(int(x)) for x in kin.tau_count[s]))
        print(f"loop_completions {s} " + " ".join(str(int(x)) for x in kin.loop_completions[s]))
        f = info["tau_fits"][s]
        print(f"tau_fit {s} " + ("n/a" if f is None else
                                 f"A={f['A']:.6g} r={f['r']:.6g} r_error={f['r_error']:.3g} "
                                 f"levels={','.join(map(str, f['levels']))}"))
    for r in info["relaxation"]:
        f = r["fit"]
        print(f"relaxation {r['segment']} T {r['T_from']:.6g} " + (
            "n/a" if f is None else
            f"tau={f['tau']:.6g} y_inf={f['y_inf']:.6g} y_0={f['y_0']:.6g} "
            f"resolved={'yes' if f['resolved'] else 'no'}"))
    return 0


SUBCOMMANDS = {
    "run": ("time series of a run: energy, level fractions, n_SM, m_s and T against time",
            "_run", _add_run, cmd_run),
    "snapshot": ("level field, +z/-z (sigma) and z of one snapshot", "_snapshot",
                 _add_snapshot, cmd_snapshot),
    "sweep": ("level fractions, n_SM, energy, C, |m_s| and V_i onsets against T; T_g/T_m",
              "_sweep", _add_sweep, cmd_sweep),
    "table1": ("cluster census against Table 1 of the paper (ideal clusters and/or a run)",
               "_table1", _add_table1, cmd_table1),
    "hysteresis": ("heating against cooling branches of a ramped run, binned in T",
                   "_hysteresis", _add_hysteresis, cmd_hysteresis),
    "kinetics": ("cage kinetics: tau_i against i with fits, loop completions, relaxation fits",
                 "_kinetics", _add_kinetics, cmd_kinetics),
}


def _configure(p, name):
    helptext, suffix, add, _ = SUBCOMMANDS[name]
    add(p)
    _common(p, suffix)
    p.set_defaults(_cmd=name)


def build_parser(prog=PROG, only=None):
    """The argument parser: all subcommands, or the single subcommand `only`
    as a parser of its own (for the scripts/*.py wrappers)."""
    if only is not None:
        p = argparse.ArgumentParser(prog=prog, description=SUBCOMMANDS[only][0],
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        _configure(p, only)
        return p
    p = argparse.ArgumentParser(prog=prog, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="_cmd", metavar="SUBCOMMAND", required=True)
    for name, (helptext, *_rest) in SUBCOMMANDS.items():
        _configure(sub.add_parser(name, help=helptext, description=helptext), name)
    return p


def main(argv=None, prog=PROG, only=None) -> int:
    """Parse argv, draw the figure, return the exit status: 0, or 1 after a
    one-line ``error:`` on stderr for a file that cannot be used.  `only`
    runs one subcommand without naming it in argv (the wrapper scripts)."""
    parser = build_parser(prog, only)
    args = parser.parse_args(argv)
    fn = SUBCOMMANDS[args._cmd][3]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RunInProgressWarning)
        try:
            rc = fn(args, parser) if fn in (cmd_sweep, cmd_table1) else fn(args)
        except SoftmatrixFileError as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 1
        except BrokenPipeError:  # pragma: no cover
            return 1
        finally:
            seen = set()
            for w in caught:
                msg = str(w.message)
                if issubclass(w.category, RunInProgressWarning) and msg not in seen:
                    seen.add(msg)
                    print(f"{prog}: warning: {msg}", file=sys.stderr)
                elif not issubclass(w.category, RunInProgressWarning):
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return rc or 0


def script_main(name) -> int:
    """Entry point of the scripts/*.py wrappers: subcommand `name` with the
    script's own arguments and name."""
    return main(sys.argv[1:], prog=os.path.basename(sys.argv[0]), only=name)


if __name__ == "__main__":
    sys.exit(main())
