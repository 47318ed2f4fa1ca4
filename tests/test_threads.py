"""The thread count a run chooses and logs, and the wait policy it sets for
itself by re-executing once (run/threads.c): libgomp reads GOMP_SPINCOUNT
only when it loads, so the setting shows in what libgomp reports of its
environment (OMP_DISPLAY_ENV) in the second execution, and a user's own
OMP_WAIT_POLICY is kept. The thread choice itself: tests/unit/test_threads.c."""
import os
import re

import pytest

from conftest import run_sm, small_config, write_config

# the run's own environment, as a user without OpenMP settings has it
BARE = {k: v for k, v in os.environ.items()
        if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "KMP_BLOCKTIME")}


def cores():
    return len(os.sched_getaffinity(0))


def run_cfg(tmp_path, L, *extra, env=BARE):
    cfg = write_config(tmp_path / f"c{L}.json",
                       small_config(tmp_path / f"r{L}.h5", lattice={"Lx": L, "Ly": L, "boundary": "periodic"},
                                    run={"equilibration_sweeps": 0, "sweeps": 2}))
    return run_sm("run", cfg, "--overwrite", "--progress", "never", *extra, env=env)


def threads_line(err):
    lines = [l for l in err.splitlines() if l.startswith("threads: ")]
    assert len(lines) == 1, err
    return lines[0]


def test_small_lattice_runs_on_one_thread(sm_bin, tmp_path):
    c = cores()
    rc, _, err = run_cfg(tmp_path, 32)
    assert rc == 0, err
    assert threads_line(err) == f"threads: 1 (auto: {c} core{'s' if c > 1 else ''} available, 32x32 lattice)"
    assert ", 1 thread," in err


def test_large_lattice_uses_the_cores(sm_bin, tmp_path):
    c = cores()
    rc, _, err = run_cfg(tmp_path, 64)   # 2 x 2048 sites: two threads' worth
    assert rc == 0, err
    n = min(c, 2)
    assert threads_line(err) == f"threads: {n} (auto: {c} core{'s' if c > 1 else ''} available, 64x64 lattice)"


def test_explicit_settings_override(sm_bin, tmp_path):
    rc, _, err = run_cfg(tmp_path, 64, "--threads", 2)
    assert rc == 0 and threads_line(err) == "threads: 2 (--threads)", err
    rc, _, err = run_cfg(tmp_path, 64, "--set", "run.threads=2")
    assert rc == 0 and threads_line(err) == "threads: 2 (run.threads)", err
    rc, _, err = run_cfg(tmp_path, 256, env=dict(BARE, OMP_NUM_THREADS="1"))
    assert rc == 0 and threads_line(err) == "threads: 1 (OMP_NUM_THREADS=1)", err
    rc, _, err = run_cfg(tmp_path, 64, "--quiet")
    assert rc == 0 and "threads:" not in err, err


def spincounts(err):
    """GOMP_SPINCOUNT as each libgomp initialisation reported it."""
    return re.findall(r"GOMP_SPINCOUNT = '(\d+)'", err)


def test_idle_threads_spin_briefly(sm_bin, tmp_path):
    rc, _, err = run_cfg(tmp_path, 8, env=dict(BARE, OMP_DISPLAY_ENV="verbose"))
    assert rc == 0, err
    seen = spincounts(err)
    if not seen:
        pytest.skip("not libgomp (no GOMP_SPINCOUNT in OMP_DISPLAY_ENV)")
    # the first execution with libgomp's default (300000), the second with ours
    assert len(seen) == 2 and int(seen[0]) == 300000 and int(seen[1]) <= 1000, seen


def test_user_wait_policy_kept(sm_bin, tmp_path):
    for policy, spins in (("active", "30000000000"), ("passive", "0")):
        rc, _, err = run_cfg(tmp_path, 8, env=dict(BARE, OMP_DISPLAY_ENV="verbose", OMP_WAIT_POLICY=policy))
        assert rc == 0, err
        seen = spincounts(err)
        if not seen:
            pytest.skip("not libgomp")
        assert seen == [spins], seen   # no second execution
    rc, _, err = run_cfg(tmp_path, 8, env=dict(BARE, OMP_DISPLAY_ENV="verbose", GOMP_SPINCOUNT="12345"))
    assert rc == 0 and spincounts(err) == ["12345"], err
