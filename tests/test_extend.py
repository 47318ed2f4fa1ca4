"""The worked examples of docs/architecture.md, built as the page says: a new
observable group (examples/extend/obs_hscl_bonds.c) and a new dynamics kind
(examples/extend/dynamics_sigma_only.c), each one file plus the registry
line its header comment gives, linked against the library into a second
binary. The extended binary must accept, run, measure and report them, with
values checked here against an independent count from snapshots."""
import json
import os
import re
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import BIN, ROOT

EXAMPLES = ROOT / "examples" / "extend"
CC_FLAGS = ["-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-fopenmp",
            "-Iinclude", "-I/usr/include/hdf5/serial"]
LIBS = ["-L/usr/lib/x86_64-linux-gnu/hdf5/serial", "-lhdf5", "-lcjson", "-lm"]


def registry_lines(example):
    """The two lines the example's header comment says to add: the extern
    declaration and the registry entry."""
    text = example.read_text()
    lines = [m.group(1) for m in re.finditer(r"^ \*     (\S.*)$", text, re.M)]
    assert len(lines) == 2, f"{example.name}: expected two registry lines in its comment"
    return lines


def add_to_registry(source, array, lines):
    """source with the extern line after its includes and the entry before
    the terminator of `array`."""
    extern, entry = lines
    text = source.read_text()
    last_include = max(m.end() for m in re.finditer(r"^#include .*$", text, re.M))
    text = text[:last_include] + "\n" + extern + text[last_include:]
    start = text.index(array)
    end = re.compile(r"^\s*(NULL|\{NULL, NULL, NULL\}),\s*$", re.M).search(text, start)
    return text[:end.start()] + "    " + entry + "\n" + text[end.start():]


@pytest.fixture(scope="module")
def extended_bin(tmp_path_factory):
    out = tmp_path_factory.mktemp("extend")
    lib = BIN.parent / "libsoftmatrix.a"
    assert lib.exists(), f"{lib} missing: run `make` first"
    san = ["-fsanitize=address,undefined"] if "san" in BIN.parent.name else []
    dyn = out / "dynamics_registry.c"
    dyn.write_text(add_to_registry(ROOT / "src/dynamics/registry.c", "DYNAMICS_REGISTRY[]",
                                   registry_lines(EXAMPLES / "dynamics_sigma_only.c")))
    diag = out / "diag_registry.c"
    diag.write_text(add_to_registry(ROOT / "src/diag/registry.c", "OBS_GROUP_REGISTRY[]",
                                    registry_lines(EXAMPLES / "obs_hscl_bonds.c")))
    exe = out / "softmatrix-extended"
    cmd = ["gcc", *CC_FLAGS, *san, str(dyn), str(diag), str(EXAMPLES / "dynamics_sigma_only.c"),
           str(EXAMPLES / "obs_hscl_bonds.c"), "src/main.c", str(lib), "-o", str(exe), *LIBS]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return exe


def run(exe, *args):
    p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def config(tmp_path, name, kind, threads=1):
    out = tmp_path / f"{name}.h5"
    cfg = {"lattice": {"Lx": 10, "Ly": 8, "boundary": "periodic"},
           "model": {"eps_C": 0.125, "g": 4, "eps_step": 0.25, "J": 0.125, "h": 0.5},
           "dynamics": {"kind": kind}, "temperature": 1.0,
           "run": {"seed": 5, "equilibration_sweeps": 0, "sweeps": 40, "measure_every": 1,
                   "snapshot_every": 1, "threads": threads},
           "init": {"level": "random", "sigma": "random"},
           "output": {"path": str(out), "snapshot_fields": ["level", "sigma"]}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(cfg))
    return path, out


def bonds(level):
    """(a, b) level pairs of every bond of a periodic lattice, each once."""
    return [(level, np.roll(level, -1, axis=1)), (level, np.roll(level, -1, axis=0))]


def energy_per_site(level, sigma, m):
    """H/N from the definition (docs/model.md section 4), independent of src/."""
    C = np.where(level >= 0, 4 * (level + 1) ** 2, 0)
    C = np.where(level == 8, 320, C)
    n = (level >= 0).astype(int)
    ns = n * sigma
    steps = sum(np.abs(a - b).sum() for a, b in bonds(level))
    J = (ns * np.roll(ns, -1, axis=1)).sum() + (ns * np.roll(ns, -1, axis=0)).sum()
    H = m["eps_C"] * C.sum() + m["eps_step"] * steps + m["J"] * J - m["h"] / 16 * ns.sum()
    return H / level.size


def test_help_lists_the_new_kind(extended_bin):
    rc, out, _ = run(extended_bin, "--help")
    assert rc == 0 and "sigma_only: sigma flips only" in out


def test_new_kind_and_observable(extended_bin, tmp_path):
    path, out = config(tmp_path, "so", "sigma_only")
    rc, _, err = run(extended_bin, "run", path, "--quiet")
    assert rc == 0, err
    m = json.loads(path.read_text())["model"]
    with h5py.File(out, "r") as f:
        lv = f["snapshots/level/value"][:].astype(int)
        sg = f["snapshots/sigma/value"][:].astype(int)
        assert np.array_equal(f["snapshots/level/step"][:], f["observables/energy/step"][:])
        frac = f["observables/hscl_bond_fraction/value"][:]
        energy = f["observables/energy/value"][:]
        assert f["observables/acceptance/value"].shape == (40,)
        assert "hscl_bond_fraction" in f["summary"]
    assert (lv == lv[0]).all(), "sigma_only must not move levels"
    assert (sg != sg[0]).any(), "no sigma was flipped"
    for t in range(len(lv)):
        pairs = bonds(lv[t])
        both = sum(((a >= 0) & (b >= 0)).sum() for a, b in pairs)
        assert frac[t] == both / (2 * lv[t].size)
        assert energy[t] == pytest.approx(energy_per_site(lv[t], sg[t], m), abs=1e-12)


def test_new_kind_thread_independent(extended_bin, tmp_path):
    outs = []
    for threads in (1, 2):
        path, out = config(tmp_path, f"t{threads}", "sigma_only", threads)
        rc, _, err = run(extended_bin, "run", path, "--quiet")
        assert rc == 0, err
        with h5py.File(out, "r") as f:
            outs.append(f["snapshots/sigma/value"][:])
    assert np.array_equal(*outs)


def test_new_observable_with_level_dynamics(extended_bin, tmp_path):
    path, out = config(tmp_path, "lv", "level")
    rc, _, err = run(extended_bin, "run", path, "--quiet")
    assert rc == 0, err
    with h5py.File(out, "r") as f:
        lv = f["snapshots/level/value"][:].astype(int)
        frac = f["observables/hscl_bond_fraction/value"][:]
    assert (lv != lv[0]).any()
    for t in range(len(lv)):
        both = sum(((a >= 0) & (b >= 0)).sum() for a, b in bonds(lv[t]))
        assert frac[t] == both / (2 * lv[t].size)


def test_new_observable_in_generated_reference(extended_bin):
    rc, out, _ = run(extended_bin, "doc", "output")
    assert rc == 0 and "`/observables/hscl_bond_fraction/value`" in out
    rc, out, _ = run(extended_bin, "doc", "config")
    assert rc == 0 and "sigma_only" in out
