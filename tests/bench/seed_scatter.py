#!/usr/bin/python3
"""Reported error bars against the scatter of independent seeds.

Runs one configuration with many seeds; every run holds several schedule
segments at the same temperature, each after its own equilibration, so that
each segment is one more independent series. For every observable the ratio

    sqrt(mean over segments of var over seeds of the segment mean)
    / sqrt(mean over seeds and segments of error^2)

is 1 when the reported errors are right (docs/model.md section 9). With S
seeds and K segments it has a relative statistical spread of about
1 / sqrt(2 K (S - 1)).

    tests/bench/seed_scatter.py --L 32 --T 5 --init 6 --segments 4 --sweeps 1500 \\
        --every 10 --seeds 64 --names energy,mean_level,n_soft_matrix

tests/test_error_bars.py uses run_ensemble() and ratios()."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SOFTMATRIX_BIN") or ROOT / "build" / "softmatrix").resolve()


def config(out, seed, *, L, T, init, segments, sweeps, every, equilibration=500,
           segment_equilibration=500, kind="level", model=None, run=None):
    cfg = {
        "lattice": {"Lx": L, "Ly": L, "boundary": "periodic"},
        "model": {"eps_C": 0.125, "g": 4, "eps_step": 0, "J": 0.125, "h": 0, **(model or {})},
        "dynamics": {"kind": kind},
        "schedule": [{"T": T, "equilibration": segment_equilibration, "sweeps": sweeps}
                     for _ in range(segments)],
        "run": {"seed": seed, "equilibration_sweeps": equilibration, "measure_every": every, **(run or {})},
        "init": {"level": init, "sigma": "random"},
        "output": {"path": str(out)},
    }
    return cfg


def run_ensemble(names, seeds, workdir, workers=2, **kw):
    """{name: (means[S, K], errors[S, K], reliable[S, K])} over the seeds."""
    env = dict(os.environ, OMP_WAIT_POLICY="passive")

    def one(seed):
        out = Path(workdir) / f"s{seed}.h5"
        cpath = Path(workdir) / f"s{seed}.json"
        cpath.write_text(json.dumps(config(out, seed, **kw)))
        p = subprocess.run([str(BIN), "run", str(cpath), "--threads", "1", "--quiet", "--overwrite"],
                           capture_output=True, text=True, timeout=600, env=env)
        if p.returncode != 0:
            raise RuntimeError(f"seed {seed}: {p.stderr}")
        with h5py.File(out, "r") as f:
            r = {k: (f[f"summary/{k}/mean"][()], f[f"summary/{k}/error"][()],
                     f[f"summary/{k}/error"].attrs.get("reliable", np.nan)) for k in names}
        out.unlink()
        cpath.unlink()
        return r

    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = list(pool.map(one, seeds))
    return {k: tuple(np.array([r[k][i] for r in runs]) for i in range(3)) for k in names}


def ratios(means, errors):
    """(scatter / rms error, scatter, rms error), pooled over segments."""
    scatter = np.sqrt(np.mean(means.var(axis=0, ddof=1)))
    rms = np.sqrt(np.mean(errors ** 2))
    return scatter / rms, scatter, rms


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", default="level")
    ap.add_argument("--L", type=int, default=32)
    ap.add_argument("--T", type=float, default=5.0)
    ap.add_argument("--init", type=int, default=6, help="initial level, near the equilibrium mean")
    ap.add_argument("--segments", type=int, default=4)
    ap.add_argument("--sweeps", type=int, default=1500, help="measured sweeps per segment")
    ap.add_argument("--every", type=int, default=10, help="run.measure_every")
    ap.add_argument("--equilibration", type=int, default=500)
    ap.add_argument("--segment-equilibration", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=64)
    ap.add_argument("--seed-base", type=int, default=5000)
    ap.add_argument("--model", default="{}", help='JSON merged into "model", e.g. {"freeze_levels": true}')
    ap.add_argument("--run", default="{}", help='JSON merged into "run", e.g. {"equilibrate_each_segment": true}')
    ap.add_argument("--names", default="energy,mean_level,n_soft_matrix,specific_heat")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    names = a.names.split(",")
    with tempfile.TemporaryDirectory() as d:
        res = run_ensemble(names, range(a.seed_base, a.seed_base + a.seeds), d, workers=a.workers,
                           L=a.L, T=a.T, init=a.init, segments=a.segments, sweeps=a.sweeps,
                           every=a.every, equilibration=a.equilibration,
                           segment_equilibration=a.segment_equilibration, kind=a.kind,
                           model=json.loads(a.model), run=json.loads(a.run))
    n = a.sweeps // a.every
    print(f"{a.kind} {a.L}x{a.L} T={a.T:g}: {a.seeds} seeds x {a.segments} segments of {n} "
          f"measurements (every {a.every} sweeps); spread of a ratio ~ "
          f"{1 / np.sqrt(2 * a.segments * (a.seeds - 1)):.3f}")
    print("| observable | scatter / rms error | scatter | rms error | reliable |")
    print("|---|---:|---:|---:|---:|")
    for k in names:
        m, e, r = res[k]
        q, s, rms = ratios(m, e)
        print(f"| {k} | {q:.3f} | {s:.4g} | {rms:.4g} | {r.mean():.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
