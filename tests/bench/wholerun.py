#!/usr/bin/python3
"""A whole run against its kernel (docs/performance.md, "Whole runs"):
the wall time per site-update of `softmatrix run` (set-up, measurement,
output and all) beside the time the run itself reports for its sweeps alone
(/summary/timing/ns_per_site_update), for measure_every 1 and 10, on 1 and
2 threads.

    tests/bench/wholerun.py [--bin build/softmatrix] [--L 1024] [--sweeps 400]
                            [--every 1,10] [--threads 1,2] [--reps 3] [--T 5]

Each cell is the median of --reps runs, the runs of all cells interleaved.
The wall time counts from the process start to its exit, so it includes
the program's start, the random initial state, the HDF5 file and its rename.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py

ROOT = Path(__file__).resolve().parents[2]


def config(path, out, L, sweeps, every, threads, T):
    cfg = {
        "lattice": {"Lx": L, "Ly": L, "boundary": "periodic"},
        "dynamics": {"kind": "level"},
        "temperature": T,
        "run": {"seed": 11, "equilibration_sweeps": 0, "sweeps": sweeps, "measure_every": every,
                "snapshot_every": 0, "census_every": 0, "threads": threads,
                "checkpoint_every": 0, "checkpoint_seconds": 0},
        "output": {"path": str(out)},
    }
    path.write_text(json.dumps(cfg))
    return path


def one_run(binary, d, L, sweeps, every, threads, T):
    out = d / f"r_{every}_{threads}.h5"
    cfg = config(d / f"c_{every}_{threads}.json", out, L, sweeps, every, threads, T)
    t0 = time.perf_counter()
    p = subprocess.run([binary, "run", str(cfg), "--overwrite", "--quiet"], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"wholerun: run failed: {p.stderr.strip()}")
    with h5py.File(out, "r") as f:
        kernel = float(f["summary/timing/ns_per_site_update"][()])
    out.unlink()
    return 1e9 * wall / (sweeps * L * L), kernel


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "build/softmatrix"))
    ap.add_argument("--L", type=int, default=1024)
    ap.add_argument("--sweeps", type=int, default=400)
    ap.add_argument("--every", default="1,10")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--T", type=float, default=5.0)
    a = ap.parse_args()
    cells = [(e, t) for t in map(int, a.threads.split(",")) for e in map(int, a.every.split(","))]
    got = {c: [] for c in cells}
    with tempfile.TemporaryDirectory() as td:
        for _ in range(a.reps):
            for c in cells:
                got[c].append(one_run(a.bin, Path(td), a.L, a.sweeps, *c, a.T))
    print(f"L = {a.L}, {a.sweeps} sweeps at T = {a.T}, level dynamics; median of {a.reps}")
    print("| threads | measure_every | whole run, ns/site-update | sweeps alone | whole / sweeps |")
    print("|---:|---:|---:|---:|---:|")
    for e, t in cells:
        whole = statistics.median(w for w, _ in got[(e, t)])
        kern = statistics.median(k for _, k in got[(e, t)])
        print(f"| {t} | {e} | {whole:.3f} | {kern:.3f} | {whole / kern:.3f} |")


if __name__ == "__main__":
    main()
