"""Reported error bars against the scatter of independent seeds (docs/model.md section 9,
8.5): for each observable, the standard deviation of the per-seed means must
match the root-mean-square of the errors the runs report in
/summary/<name>/error.

Set-up: level dynamics, 16x16 periodic, 16000 measured sweeps with
measure_every 1, 64 fixed seeds per temperature. tau_int is about 20 sweeps at
T = 5 and 12 at T = 3, so each series holds several hundred tau_int: the regime
where the reported error has to be right. With 64 seeds the ratio
scatter / rms(error) has a relative statistical spread of about 9 %, so the
window [0.75, 1.33] is about three of those on each side of 1, while error
bars half as large as they should be give a ratio near 2. (A 32x32 lattice
with 8000 sweeps costs the same and gives a ratio near 1.2: the series is then
too short for the binning to reach its plateau at T = 5.)

n_soft_matrix is compared at T = 5 only: at T = 3 no site reaches level 8.

Cage dynamics is not tested here: at T = 5 on 16x16 its tau_int is about 500
sweeps and mean_level still drifts after 1e5 sweeps from a flat start, so a
stationary seed ensemble would cost minutes per seed."""
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
import pytest

from conftest import BIN, write_config

NSEEDS = 64
SEED_BASE = 5000
L = 16
SWEEPS = 16000
EQUILIBRATION = 1000
RATIO_LO, RATIO_HI = 0.75, 1.33

# temperature -> (initial level near the equilibrium mean, compared observables)
CASES = {
    5.0: (6, ("energy", "mean_level", "n_soft_matrix")),
    3.0: (3, ("energy", "mean_level")),
}


def config(out, T, init_level, seed):
    return {
        "lattice": {"Lx": L, "Ly": L, "boundary": "periodic"},
        "model": {"eps_C": 0.125, "g": 4, "eps_step": 0, "J": 0.125, "h": 0},
        "dynamics": {"kind": "level"},
        "temperature": T,
        "run": {"seed": seed, "equilibration_sweeps": EQUILIBRATION, "sweeps": SWEEPS,
                "measure_every": 1},
        "init": {"level": init_level, "sigma": "random"},
        "output": {"path": str(out)},
    }


@pytest.fixture(scope="module")
def seed_results(sm_bin, tmp_path_factory):
    """{T: {name: (means, errors)}} over the seeds, two runs at a time."""
    d = tmp_path_factory.mktemp("error_bars")
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    jobs = [(T, seed) for T in CASES for seed in range(SEED_BASE, SEED_BASE + NSEEDS)]

    def run(job):
        T, seed = job
        init_level, names = CASES[T]
        out = d / f"T{T:g}_s{seed}.h5"
        cfg = write_config(d / f"T{T:g}_s{seed}.json", config(out, T, init_level, seed))
        p = subprocess.run([str(BIN), "run", str(cfg), "--threads", "1", "--quiet"],
                           capture_output=True, text=True, timeout=300, env=env)
        assert p.returncode == 0, p.stderr
        with h5py.File(out, "r") as f:
            assert int(f["summary/segments/samples"][0]) == SWEEPS
            r = {k: (float(f[f"summary/{k}/mean"][0]), float(f[f"summary/{k}/error"][0]))
                 for k in names}
        out.unlink()
        return job, r

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(pool.map(run, jobs))
    res = {}
    for T, (_, names) in CASES.items():
        res[T] = {k: (np.array([done[(T, s)][k][0] for s in range(SEED_BASE, SEED_BASE + NSEEDS)]),
                      np.array([done[(T, s)][k][1] for s in range(SEED_BASE, SEED_BASE + NSEEDS)]))
                  for k in names}
    return res


@pytest.mark.parametrize("T,name", [(T, k) for T, (_, names) in CASES.items() for k in names],
                         ids=[f"T={T:g}-{k}" for T, (_, names) in CASES.items() for k in names])
def test_error_matches_seed_scatter(seed_results, T, name):
    means, errors = seed_results[T][name]
    assert np.all(np.isfinite(means)) and np.all(np.isfinite(errors))
    scatter = means.std(ddof=1)
    rms_error = np.sqrt(np.mean(errors ** 2))
    # a constant observable would make the comparison empty
    assert scatter > 0 and rms_error > 0, f"T={T:g} {name}: no fluctuations to compare"
    ratio = scatter / rms_error
    assert RATIO_LO <= ratio <= RATIO_HI, (
        f"T={T:g} {name}: scatter of {NSEEDS} seed means {scatter:.4g}, rms reported error "
        f"{rms_error:.4g}, ratio {ratio:.3f} outside [{RATIO_LO}, {RATIO_HI}]")
