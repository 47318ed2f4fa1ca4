#!/usr/bin/python3
"""Strong and weak scaling of a level-dynamics run over MPI ranks
(docs/mpi.md, "Measured here"). Takes the binaries as they are (make,
make mpi).

    tests/bench/mpi_scale.py [--ranks 1,2,4] [--L 1024] [--sweeps 400]
                             [--reps 3] [--threads 1]

Strong: one L x L lattice on P ranks. Weak: a block of L x L per rank
(2L x L on 2 ranks, 2L x 2L on 4). Each run measures every 10 sweeps and
writes no snapshot, so the blocks are gathered once, at the end. Reported:
the run's own sweep time per site-update (its timing line: rank 0's wall
time in sweeps, halo waits included) and the whole command's wall time,
median of --reps, with the OpenMP binary on 1 and on P threads beside it.
Rank counts above the available cores are labelled oversubscribed: their
ranks share cores, so they measure the scheduler, not the decomposition.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN, MPI_BIN = ROOT / "build" / "softmatrix", ROOT / "build" / "softmatrix-mpi"
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
TIMING = re.compile(r"timing: ([0-9.]+) ns per site-update")


def config(tmp, Lx, Ly, sweeps):
    cfg = {"lattice": {"Lx": Lx, "Ly": Ly, "boundary": "periodic"},
           "model": {"eps_C": 0.125, "g": 4, "eps_step": 0, "J": 0.125, "h": 0},
           "dynamics": {"kind": "level"}, "temperature": 2.0,
           "run": {"seed": 1, "equilibration_sweeps": 0, "sweeps": sweeps, "measure_every": 10},
           "output": {"path": str(tmp / f"run_{Lx}x{Ly}.h5")}}
    p = tmp / f"c_{Lx}x{Ly}.json"
    p.write_text(json.dumps(cfg))
    return p


def run(cmd, reps):
    ns, wall = [], []
    for _ in range(reps):
        t = time.perf_counter()
        r = subprocess.run(cmd + ["--overwrite", "--progress", "never"], capture_output=True, text=True,
                           env=ENV)
        wall.append(time.perf_counter() - t)
        if r.returncode:
            sys.exit(f"{' '.join(map(str, cmd))}: {r.stderr.strip()}")
        ns.append(float(TIMING.search(r.stdout).group(1)))
    return statistics.median(ns), statistics.median(wall)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--L", type=int, default=1024)
    ap.add_argument("--sweeps", type=int, default=400)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads per rank")
    a = ap.parse_args()
    ranks = [int(x) for x in a.ranks.split(",")]
    cores = len(os.sched_getaffinity(0))
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"commit {commit}, {cores} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"tests/bench/mpi_scale.py --ranks {a.ranks} --L {a.L} --sweeps {a.sweeps} --reps {a.reps} "
          f"--threads {a.threads}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for kind in ("strong", "weak"):
            print(f"\n{kind}: " + (f"{a.L} x {a.L} on P ranks" if kind == "strong"
                                   else f"{a.L} x {a.L} sites per rank"))
            print("| P | lattice | note | MPI ns/site-update | MPI wall s | OpenMP, P threads: ns | "
                  "efficiency |")
            print("|---:|---|---|---:|---:|---:|---:|")
            base = None
            for P in ranks:
                Lx, Ly = (a.L, a.L) if kind == "strong" else (a.L * (2 if P >= 2 else 1), a.L * (2 if P >= 4 else 1))
                if kind == "weak" and P not in (1, 2, 4):
                    continue
                cfg = config(tmp, Lx, Ly, a.sweeps)
                ns, wall = run(["mpirun", "-n", str(P), str(MPI_BIN), "run", str(cfg), "--threads",
                                str(a.threads)], a.reps)
                omp, _ = run([str(BIN), "run", str(cfg), "--threads", str(P * a.threads)], a.reps)
                # per site-update of the whole lattice: strong ideal ns(1)/P, weak ideal ns(1)/P
                base = base or ns
                eff = base / (P * ns)
                note = "oversubscribed" if P * a.threads > cores else ""
                print(f"| {P} | {Lx} x {Ly} | {note} | {ns:.3f} | {wall:.2f} | {omp:.3f} | {eff:.2f} |",
                      flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
