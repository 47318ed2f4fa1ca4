#!/usr/bin/python3
"""Peak memory per site of a run: the peak resident set (VmHWM) of a run on an L x L lattice minus that
of the same run on 16 x 16 (the program, its libraries and HDF5), divided by
L^2, beside what `softmatrix validate` estimates for the lattice
(docs/performance.md, "Memory per site").

The runs measure every sweep and write no snapshot and no census, so what is
left is the state and the dynamics' bookkeeping.

--worst makes every page of every array resident: T = 10 with every site
starting at level 8 and phi = 0, so that in the first sweeps PCPs everywhere
undo and redo their last loop and the soft-matrix jumps of those arrivals
write every page of the z counts. Without it the runs are at T = 1 from
level -1, where no soft-matrix jump happens and z stays zero pages.

    tests/bench/memory_site.py [--bin build/softmatrix] [--sizes 4096]
                               [--kinds level,cage] [--reps 3] [--sweeps 4]
                               [--threads 1] [--worst] [--json out.json]

Prints a Markdown table; median of --reps runs (each run's peak, the
baseline's median). Exits nonzero if a run fails.
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
BASE_L = 16


def config(path, out, kind, L, sweeps, threads, worst=False):
    cfg = {
        "lattice": {"Lx": L, "Ly": L, "boundary": "periodic"},
        "dynamics": {"kind": kind},
        "temperature": 10.0 if worst else 1.0,
        "init": {"level": 8 if worst else -1},
        "run": {"seed": 3, "equilibration_sweeps": 0, "sweeps": sweeps, "measure_every": 1,
                "snapshot_every": 0, "census_every": 0, "threads": threads,
                "checkpoint_every": 0, "checkpoint_seconds": 0},
        "output": {"path": str(out)},
    }
    path.write_text(json.dumps(cfg))
    return path


def vmhwm_kib(pid):
    """VmHWM of a live process (KiB), or None once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_kib(binary, cfg):
    """The peak resident set (KiB) of one run of cfg: its VmHWM, read every
    2 ms until it exits. (ru_maxrss from wait4 would not do: a child that
    execs keeps the peak of the process it was forked from, here Python.)"""
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    p = subprocess.Popen([str(binary), "run", str(cfg), "--overwrite", "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak = 0
    while p.poll() is None:
        v = vmhwm_kib(p.pid)
        peak = max(peak, v or 0)
        time.sleep(0.002)
    err = p.stderr.read().decode()
    if p.returncode:
        sys.exit(f"memory_site: {cfg}: exit {p.returncode}: {err.strip()}")
    return peak


def estimate_bytes(binary, cfg):
    """The total of `softmatrix validate` (stderr: "total at the peak ... MiB")."""
    r = subprocess.run([str(binary), "validate", str(cfg)], capture_output=True, text=True)
    m = re.search(r"total at the peak\s+([0-9.]+) MiB", r.stderr)
    if r.returncode or not m:
        sys.exit(f"memory_site: validate {cfg}: {r.stderr.strip()}")
    return float(m.group(1)) * 1048576.0


def measure(binary, kind, L, reps, sweeps, threads, tmp, worst=False):
    cfg = config(tmp / f"{kind}_{L}.json", tmp / f"{kind}_{L}.h5", kind, L, sweeps, threads, worst)
    base = config(tmp / f"{kind}_base.json", tmp / f"{kind}_base.h5", kind, BASE_L, sweeps, threads,
                  worst)
    peaks = [peak_kib(binary, cfg) for _ in range(reps)]
    bases = [peak_kib(binary, base) for _ in range(reps)]
    N = L * L
    per_site = [(p - statistics.median(bases)) * 1024.0 / N for p in peaks]
    return {"kind": kind, "L": L, "threads": threads, "peak_kib": statistics.median(peaks),
            "baseline_kib": statistics.median(bases), "bytes_per_site": statistics.median(per_site),
            "min": min(per_site), "max": max(per_site),
            "estimate_bytes_per_site": estimate_bytes(binary, cfg) / N}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "build" / "softmatrix"))
    ap.add_argument("--sizes", default="4096")
    ap.add_argument("--kinds", default="level,cage")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sweeps", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--worst", action="store_true",
                    help="T = 10 from level 8: soft-matrix jumps write every page of z")
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as t:
        for L in (int(s) for s in a.sizes.split(",")):
            for kind in a.kinds.split(","):
                rows.append(measure(a.bin, kind, L, a.reps, a.sweeps, a.threads, Path(t), a.worst))
    print("| dynamics | L | peak RSS (KiB) | baseline, 16² (KiB) | B/site, median [min–max] "
          "| validate's estimate (B/site) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['kind']} | {r['L']} | {r['peak_kib']:,.0f} | {r['baseline_kib']:,.0f} | "
              f"{r['bytes_per_site']:.2f} [{r['min']:.2f}–{r['max']:.2f}] | "
              f"{r['estimate_bytes_per_site']:.2f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
