"""Shared fixtures: the built binary, a scratch directory and a helper that
runs softmatrix and returns (exit code, stdout, stderr)."""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# SOFTMATRIX_BIN runs the suite against another build, e.g. the sanitized
# build-san/softmatrix of `make test-sanitize`.
BIN = Path(os.environ.get("SOFTMATRIX_BIN") or ROOT / "build" / "softmatrix").resolve()


def run_sm(*args, cwd=None, timeout=600, env=None):
    p = subprocess.run([str(BIN), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def write_config(path, cfg):
    Path(path).write_text(json.dumps(cfg, indent=1))
    return path


def small_config(out, **over):
    """A tiny level-dynamics config; keyword arguments override whole sections."""
    cfg = {
        "lattice": {"Lx": 8, "Ly": 8, "boundary": "periodic"},
        "model": {"eps_C": 0.125, "g": 4, "eps_step": 0, "J": 0.125, "h": 0},
        "dynamics": {"kind": "level"},
        "temperature": 1.5,
        "run": {"seed": 3, "equilibration_sweeps": 10, "sweeps": 200, "measure_every": 1},
        "init": {"level": -1, "sigma": "random"},
        "output": {"path": str(out)},
    }
    cfg.update(over)
    return cfg


@pytest.fixture(scope="session")
def sm_bin():
    assert BIN.exists(), f"{BIN} missing: run `make` first"
    return BIN


def tmpfs(tmp_path, name, size):
    """A generator for a fixture: a tmpfs of `size` ("1m", "4m") mounted at
    tmp_path/name, unmounted afterwards. Needs root and mount permission;
    the test is skipped otherwise."""
    d = tmp_path / name
    d.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", str(d)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + p.stderr.strip())
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)
