"""Shared fixtures: the built binary, a scratch directory and a helper that
runs softmatrix and returns (exit code, stdout, stderr). Every HDF5 file
softmatrix writes during the suite is checked for H5MD conformance
(h5md_check.py): after each test in its tmp_path, and at the end of the
session in the directories of module and session fixtures."""
import json
import os
import struct
import subprocess
from pathlib import Path

import pytest

import h5md_check

ROOT = Path(__file__).resolve().parent.parent
# SOFTMATRIX_BIN runs the suite against another build, e.g. the sanitized
# build-san/softmatrix of `make test-sanitize`.
BIN = Path(os.environ.get("SOFTMATRIX_BIN") or ROOT / "build" / "softmatrix").resolve()


# The sanitized build of `make test-sanitize` (build-san/): AddressSanitizer
# reserves terabytes of shadow address space when the program starts, so it
# cannot start under an address-space limit (ulimit -v), and it adds its own
# memory to every allocation, so peak-RSS figures are not the program's.
SANITIZED = BIN.parent.name.startswith("build-san")
not_under_asan = pytest.mark.skipif(SANITIZED, reason="AddressSanitizer: no ulimit -v, no RSS figures")

# idle OpenMP threads sleep: the suite runs beside other jobs
PASSIVE_ENV = dict(os.environ, OMP_WAIT_POLICY="passive")


def run_sm(*args, cwd=None, timeout=600, env=None):
    p = subprocess.run([str(BIN), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def run_sm_passive(*args, **kw):
    return run_sm(*args, env=PASSIVE_ENV, **kw)


def side(out, suffix):
    """The file beside output `out`: <out><suffix> (.ckpt, .partial, .lock)."""
    return Path(f"{out}{suffix}")


def ckpt_step(path):
    """The step in the header of checkpoint file `path` (an i64 at byte 16),
    or -1 while there is none (or only part of its header)."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except FileNotFoundError:
        return -1
    return struct.unpack("<q", head[16:24])[0] if len(head) == 24 else -1


def one_line(err):
    """The one non-empty line of stderr (an error message); a second line -
    a sanitizer report, a stray warning - fails the test."""
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    return lines[0]


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


_CHECKED = set()


def _conformance_problems(directory):
    """H5MD problems of the softmatrix files under directory not yet checked
    (finished files only: .partial and .ckpt are work in progress)."""
    problems = []
    for path in sorted(Path(directory).rglob("*.h5")):
        if path in _CHECKED or not path.is_file():
            continue
        _CHECKED.add(path)
        if h5md_check.is_softmatrix_file(path):
            problems += h5md_check.check_file(path)
    return problems


@pytest.fixture(autouse=True)
def h5md_conformance(request):
    """After a test that used tmp_path: every file it left there conforms."""
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp is None:
        return
    problems = _conformance_problems(tmp)
    if problems:
        pytest.fail("H5MD conformance:\n" + "\n".join(problems[:20]), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    """The files of module- and session-scoped fixtures (tmp_path_factory)."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or exitstatus not in (0, 1):
        return
    try:
        base = factory.getbasetemp()
    except (OSError, ValueError):
        return
    problems = _conformance_problems(base)
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line("H5MD conformance:\n" + "\n".join(problems[:20]), red=True)
        session.exitstatus = 1
