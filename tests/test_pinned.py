"""Pinned checksums of short runs: the content of every dataset a run writes
(observables, snapshots, census, kinetics, summary; not the wall-clock
timing) hashed as float64 values by path. A refactoring must leave these
bitwise unchanged for 1 and 2 threads; a deliberate change of the random
stream or of a measured quantity re-pins them and says so in CHANGELOG.md."""
import hashlib

import h5py
import numpy as np
import pytest

from conftest import run_sm, write_config

# Paths whose values depend on the machine or the moment, not on the model.
UNPINNED = ("/summary/timing",)


def content_digest(path):
    """sha256 over (dataset path, float64 values) of every numeric dataset
    under /observables, /snapshots, /census, /kinetics and /summary."""
    items = []

    def visit(name, obj):
        full = "/" + name
        if not isinstance(obj, h5py.Dataset) or full.startswith(UNPINNED):
            return
        if not full.startswith(("/observables", "/snapshots", "/census", "/kinetics", "/summary")):
            return
        if obj.dtype.kind not in "iufb":
            return
        items.append((full, np.ascontiguousarray(obj[()], dtype="<f8")))

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    h = hashlib.sha256()
    for full, values in sorted(items, key=lambda t: t[0]):
        h.update(full.encode() + b"\0")
        h.update(values.tobytes())
    return h.hexdigest()[:16]


def pinned_config(out, kind, boundary):
    return {
        "lattice": {"Lx": 24, "Ly": 20, "boundary": boundary},
        "model": {"eps_C": 0.125, "g": 4, "eps_step": 0, "J": 0.125, "h": 0},
        "dynamics": {"kind": kind},
        "schedule": [{"T": 3.0, "sweeps": 60}, {"T_from": 3.0, "T_to": 6.0, "sweeps": 40},
                     {"T": 5.0, "sweeps": 60}],
        # "same": the pins predate run.equilibration_dynamics, whose default
        # ("level") equilibrates a cage run with the level dynamics first
        "run": {"seed": 11, "equilibration_sweeps": 20, "measure_every": 2, "snapshot_every": 50,
                "census_every": 20, "equilibration_dynamics": "same"},
        "init": {"level": -1, "sigma": "random"},
        "output": {"path": str(out), "snapshot_fields": ["level", "sigma", "phase", "z"]},
    }


PINNED = {
    ("level", "periodic"): "654ab7c521b00be6",
    ("level", "open"): "7157d4e9086ba1f7",
    ("cage", "periodic"): "5c5cd6f8db43de7c",
    ("cage", "open"): "51f226b25a6d09ba",
}


@pytest.mark.parametrize("kind,boundary", sorted(PINNED))
def test_pinned_checksum(sm_bin, tmp_path, kind, boundary):
    digests = []
    for threads in (1, 2):
        out = tmp_path / f"{kind}_{boundary}_{threads}.h5"
        cfg = write_config(tmp_path / f"{threads}.json", pinned_config(out, kind, boundary))
        rc, _, err = run_sm("run", cfg, "--threads", threads, "--quiet")
        assert rc == 0, err
        digests.append(content_digest(out))
    assert digests[0] == digests[1], "1 and 2 threads differ"
    assert digests[0] == PINNED[(kind, boundary)], f"{kind}/{boundary}: {digests[0]}"
