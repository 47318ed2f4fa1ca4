#!/usr/bin/python3
"""Peak memory (VmHWM) and checkpoint size of a run against its number of
measurements: both must stay flat, because the observables diagnostic
writes its rows through to the file and keeps only bounded accumulators
(docs/performance.md, "Memory and checkpoint size").

For each count n the run measures every sweep of one long segment; when the
checkpoint written after exactly n measured sweeps appears, the script
records its size and the process's peak resident set, and kills the run.

    tests/bench/memory_flat.py [--bin build/softmatrix] [--L 8] [--counts 1e4,1e5,1e6]
                               [--kind level] [--out table.md]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUILIBRATION = 100

sys.path.insert(0, str(ROOT / "tests"))
from conftest import ckpt_step  # noqa: E402  (the checkpoint header, as the tests read it)


def status_kib(pid, key):
    """A "key: N kB" line of /proc/pid/status: VmHWM is the peak resident set,
    RssAnon the part that is the process's own data (the rest are mapped
    libraries and vary a little from run to run)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def measure(binary, workdir, L, kind, n):
    out = Path(workdir) / f"run_{kind}_{L}_{n}.h5"
    cfg = {
        "lattice": {"Lx": L, "Ly": L, "boundary": "periodic"},
        "dynamics": {"kind": kind},
        "temperature": 5.0,
        "run": {"seed": 1, "equilibration_sweeps": EQUILIBRATION, "sweeps": 4 * n,
                "measure_every": 1, "checkpoint_every": EQUILIBRATION + n,
                "checkpoint_seconds": 0},
        "init": {"level": 6, "sigma": "random"},
        "output": {"path": str(out)},
    }
    cpath = Path(workdir) / f"run_{kind}_{L}_{n}.json"
    cpath.write_text(json.dumps(cfg))
    ckpt = Path(f"{out}.ckpt")
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    p = subprocess.Popen([str(binary), "run", str(cpath), "--threads", "1", "--quiet", "--overwrite"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    try:
        while ckpt_step(ckpt) < EQUILIBRATION + n:
            if p.poll() is not None:
                raise RuntimeError(f"run ended before its checkpoint: {p.stderr.read().decode()}")
            time.sleep(0.02)
        p.send_signal(signal.SIGSTOP)   # hold still while we read
        size = ckpt.stat().st_size
        hwm, anon = status_kib(p.pid, "VmHWM"), status_kib(p.pid, "RssAnon")
    finally:
        p.kill()
        p.wait()
    for f in (out, Path(f"{out}.partial"), ckpt, cpath):
        f.unlink(missing_ok=True)
    return {"n": n, "peak_rss_kib": hwm, "anon_kib": anon, "checkpoint_bytes": size,
            "seconds": time.time() - t0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "build" / "softmatrix"))
    ap.add_argument("--L", type=int, default=8)
    ap.add_argument("--kind", default="level")
    ap.add_argument("--counts", default="1e4,1e5,1e6")
    ap.add_argument("--out", help="also write the Markdown table here")
    a = ap.parse_args()
    counts = [int(float(c)) for c in a.counts.split(",")]
    with tempfile.TemporaryDirectory() as d:
        rows = [measure(a.bin, d, a.L, a.kind, n) for n in counts]
    base = rows[0]
    lines = [f"{a.kind} dynamics, {a.L}x{a.L}, measured every sweep; binary {a.bin}", "",
             "| measurements | peak RSS (KiB) | vs first | of it anonymous (KiB) | checkpoint (bytes) | vs first |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['n']:,} | {r['peak_rss_kib']:,} | {r['peak_rss_kib'] / base['peak_rss_kib']:.3f} "
                     f"| {r['anon_kib']:,} "
                     f"| {r['checkpoint_bytes']:,} | {r['checkpoint_bytes'] / base['checkpoint_bytes']:.3f} |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    flat = all(abs(r["peak_rss_kib"] / base["peak_rss_kib"] - 1) <= 0.05 and
               abs(r["checkpoint_bytes"] / base["checkpoint_bytes"] - 1) <= 0.05 for r in rows)
    print("flat within 5 %" if flat else "NOT flat within 5 %")
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
