#!/usr/bin/python3
"""Cost per site-update of the level sweep from 64^2 to 16384^2, 1 and 2
threads, beside the memory-bandwidth floor of this machine
(docs/performance.md, "Scale"). Re-runnable: it rebuilds nothing and takes
the binaries as they are.

    tests/bench/scale.py [--bench build/bench/bench] [--sizes 64,...,16384]
                         [--threads 1,2] [--presweeps 5] [--max-reps 11] [--json F]
                         [--plot data/figures/scale.png] [--from-json F]

For each L, `bench --only level` times the sweep (median [min-max] of its
repetitions: 11 below L = 4096, 5 at 4096, 3 above). The floor: a sweep
reads and writes level and sigma, 4 bytes a site-update at the least; the
bandwidth is the best of 5 in-place updates of a 256 MiB int8 array (numpy:
one read and one write stream, like the sweep), by 1 process and by 2 at
once. Prints a Markdown table labelled with the commit and the command.
"""
import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BYTES_PER_SITE_UPDATE = 4  # level + sigma, read and written
ARRAY_BYTES = 256 << 20


def inplace_gbs(_=None):
    """Best of 5 in-place int8 updates of a 256 MiB array, in GB/s moved."""
    import numpy as np
    a = np.zeros(ARRAY_BYTES, dtype=np.int8)
    np.add(a, 1, out=a)  # touch the pages first
    best = 1e9
    for _ in range(5):
        t = time.perf_counter()
        np.add(a, 1, out=a)
        best = min(best, time.perf_counter() - t)
    return 2 * ARRAY_BYTES / best / 1e9


def bandwidth(procs):
    """Sum of the bandwidth of procs processes updating at the same time."""
    if procs == 1:
        return inplace_gbs()
    with mp.Pool(procs) as pool:
        return sum(pool.map(inplace_gbs, range(procs)))


def bench_rows(bench, L, threads, presweeps, max_reps, out):
    reps = min(11 if L < 4096 else 5 if L == 4096 else 3, max_reps)
    cmd = [str(bench), "--sizes", str(L), "--threads", threads, "--reps", str(reps), "--only", "level",
           "--presweeps", str(presweeps), "--out", str(out)]
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode:
        sys.exit(f"scale: {' '.join(cmd)}: {r.stderr.strip()}")
    return json.loads(Path(out).read_text())["results"]


def plot(rows, floors, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for t, mark in ((1, "o"), (2, "s")):
        sel = sorted((r for r in rows if r["threads"] == t), key=lambda r: r["L"])
        if not sel:
            continue
        N = [r["L"] ** 2 for r in sel]
        eb = ax.errorbar(N, [r["median"] for r in sel],
                         yerr=[[r["median"] - r["min"] for r in sel], [r["max"] - r["median"] for r in sel]],
                         marker=mark, capsize=3, label=f"level sweep, {t} thread{'s' * (t > 1)}, wall")
        colour = eb.lines[0].get_color()
        ax.plot(N, [r["cpu_median"] for r in sel], marker=mark, ls=":", color=colour, mfc="none",
                label=f"level sweep, {t} thread{'s' * (t > 1)}, CPU")
        ax.axhline(floors[t], ls="--", lw=1, color=colour,
                   label=f"bandwidth floor, {t} thread{'s' * (t > 1)}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sites N = L²")
    ax.set_ylabel("ns per site-update")
    ax.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", default=str(ROOT / "build" / "bench" / "bench"))
    ap.add_argument("--sizes", default="64,128,256,512,1024,2048,4096,8192,16384")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--presweeps", type=int, default=5)
    ap.add_argument("--max-reps", type=int, default=11, help="cap on the repetitions of one row")
    ap.add_argument("--json")
    ap.add_argument("--from-json", help="print and plot the results of an earlier --json, run nothing")
    ap.add_argument("--plot", default=str(ROOT / "data" / "figures" / "scale.png"))
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    if a.from_json:
        d = json.loads(Path(a.from_json).read_text())
        commit, rows = d["commit"], d["rows"]
        floors = {int(t): v for t, v in d["floors_ns"].items()}
    else:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip() or "unknown"
        floors = {t: BYTES_PER_SITE_UPDATE / bandwidth(t) for t in threads}  # ns: B / (GB/s)
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for L in (int(s) for s in a.sizes.split(",")):
                rows += bench_rows(a.bench, L, a.threads, a.presweeps, a.max_reps, Path(tmp) / f"{L}.json")
    load = os.getloadavg()
    print(f"commit {commit}; {' '.join(sys.argv)}; load average {load[0]:.2f} at end")
    print(f"bandwidth floor: {BYTES_PER_SITE_UPDATE} B per site-update / in-place update bandwidth = "
          + ", ".join(f"{floors[t]:.3f} ns ({t} thread{'s' * (t > 1)}, "
                      f"{BYTES_PER_SITE_UPDATE / floors[t]:.1f} GB/s)" for t in threads))
    print()
    head = " | ".join(f"{t} thread{'s' * (t > 1)}, ns/site-update [min–max] | CPU ns" for t in threads)
    print(f"| L | N | {head} | × floor ({threads[0]} thread) |")
    print("|---:|---:|" + "---:|---:|" * len(threads) + "---:|")
    for L in sorted({r["L"] for r in rows}):
        cells = []
        for t in threads:
            r = next((r for r in rows if r["L"] == L and r["threads"] == t), None)
            cells.append(f"{r['median']:.3f} [{r['min']:.2f}–{r['max']:.2f}] | {r['cpu_median']:.2f}"
                         if r else " | ")
        r1 = next(r for r in rows if r["L"] == L and r["threads"] == threads[0])
        print(f"| {L} | {L * L:,} | {' | '.join(cells)} | {r1['median'] / floors[threads[0]]:.1f} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"commit": commit, "floors_ns": floors, "rows": rows}, indent=1))
    if a.plot:
        plot(rows, floors, a.plot)


if __name__ == "__main__":
    main()
