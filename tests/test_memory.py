"""Memory: what `validate` says a run needs, against the peak resident set
of the run (ru_maxrss of the process minus that of a 16 x 16 run), and the
refusal of a run that would not fit, before any file is made."""
import json
import os
import re
import resource
import subprocess
import sys

import pytest

from conftest import BIN, ROOT, not_under_asan, run_sm, write_config

sys.path.insert(0, str(ROOT / "tests" / "bench"))
import memory_site  # noqa: E402

MIB = 1048576.0


def validate_parts(cfg):
    rc, out, err = run_sm("validate", cfg)
    assert rc == 0, err
    json.loads(out)  # stdout stays the resolved config alone
    parts = {m.group(1).strip(): float(m.group(2))
             for m in re.finditer(r"^  (\S.*?)\s+([0-9.]+) MiB", err, re.M)}
    return parts, err


def test_validate_prints_the_parts(sm_bin, tmp_path):
    base = {"lattice": {"Lx": 1024, "Ly": 512}, "temperature": 1.0,
            "run": {"census_every": 0, "snapshot_every": 0}}
    parts, err = validate_parts(write_config(tmp_path / "l.json", base))
    # level dynamics: level and sigma, one byte each, nothing else
    assert parts == {"level and sigma": 1.0, "total at the peak": 1.0}, err
    cage = dict(base, dynamics={"kind": "cage"})
    parts, err = validate_parts(write_config(tmp_path / "c.json", cage))
    # + phase (1) and the int16 z jump count (2); uint16 stamps (2) and
    # event bits (1/8)
    assert parts == {"level and sigma": 1.0, "PCP phase and z": 1.5, "dynamics bookkeeping": 1.1,
                     "total at the peak": 3.6}, err
    # past sweep 65534 the stamps are uint32 (4)
    long = dict(cage, run={"census_every": 0, "snapshot_every": 0, "sweeps": 65000,
                           "equilibration_sweeps": 536})
    parts, err = validate_parts(write_config(tmp_path / "c2.json", long))
    assert parts["dynamics bookkeeping"] == 2.1 and parts["total at the peak"] == 4.6, err
    long["run"]["equilibration_sweeps"] = 535
    parts, err = validate_parts(write_config(tmp_path / "c3.json", long))
    assert parts["dynamics bookkeeping"] == 1.1, err
    snap = dict(base, run={"census_every": 0, "snapshot_every": 10},
                output={"snapshot_fields": ["level", "z"]})
    parts, err = validate_parts(write_config(tmp_path / "s.json", snap))
    # a z frame of floats while a snapshot is written
    assert parts["snapshot frame"] == 2.0 and parts["total at the peak"] == 3.0, err
    assert "available" in err


@not_under_asan
@pytest.mark.parametrize("kind", ["level", "cage"])
def test_estimate_against_measured_peak(sm_bin, tmp_path, kind):
    """At 2048^2 the measured peak above the baseline is validate's estimate
    within 0.5 B/site, in the worst case: memory_site's --worst run, where
    soft-matrix jumps write every page of the cage dynamics' z counts."""
    r = memory_site.measure(BIN, kind, 2048, 1, 2, 1, tmp_path, worst=True)
    est, got = r["estimate_bytes_per_site"], r["bytes_per_site"]
    assert abs(got - est) <= 0.5, r


def limit_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@not_under_asan
def test_refuses_before_making_anything(sm_bin, tmp_path):
    out = tmp_path / "sub" / "big.h5"
    cfg = write_config(tmp_path / "big.json", {
        "lattice": {"Lx": 16384, "Ly": 16384}, "dynamics": {"kind": "cage"}, "temperature": 1.0,
        "output": {"path": str(out)}})
    p = subprocess.run([str(BIN), "run", str(cfg)], capture_output=True, text=True,
                       preexec_fn=limit_address_space, env=dict(os.environ, OMP_WAIT_POLICY="passive"))
    assert p.returncode == 2, p.stderr
    msg = p.stderr.strip()
    assert "\n" not in msg and "big.json: lattice: 16384 x 16384 needs 1824 MiB" in msg, msg
    assert "more than the" in msg and "ulimit -v" in msg, msg
    assert not (tmp_path / "sub").exists()
    # the same limit leaves room for a small run
    small = write_config(tmp_path / "small.json", {
        "lattice": {"Lx": 16, "Ly": 16}, "temperature": 1.0, "run": {"sweeps": 10},
        "output": {"path": str(tmp_path / "small.h5")}})
    p = subprocess.run([str(BIN), "run", str(small), "--quiet"], capture_output=True, text=True,
                       preexec_fn=limit_address_space, env=dict(os.environ, OMP_WAIT_POLICY="passive"))
    assert p.returncode == 0 and (tmp_path / "small.h5").exists(), p.stderr


def test_level_run_has_no_pcp_fields_but_writes_them(sm_bin, tmp_path):
    """A level run keeps no phase or z; its snapshots of them are the
    constant 0 the fields would hold, and its checkpoint resumes."""
    h5py = pytest.importorskip("h5py")
    out = tmp_path / "l.h5"
    cfg = write_config(tmp_path / "l.json", {
        "lattice": {"Lx": 12, "Ly": 10}, "temperature": 3.0,
        "run": {"sweeps": 20, "snapshot_every": 5, "checkpoint_every": 7},
        "output": {"path": str(out), "snapshot_fields": ["level", "phase", "z", "pcp"]}})
    rc, _, err = run_sm("run", cfg, "--quiet")
    assert rc == 0, err
    with h5py.File(out, "r") as f:
        phase = f["/snapshots/phase/value"][...]
        z = f["/snapshots/z/value"][...]
        pcp = f["/snapshots/pcp/value"][...]
        level = f["/snapshots/level/value"][...]
    assert phase.shape == (4, 10, 12) and not phase.any() and not z.any()
    assert level.any()  # the level field did move
    # phase 0 is the start of diagonal 0: one vertex of the cage for every site
    assert pcp.shape == (4, 10, 12, 3) and len({tuple(v) for v in pcp.reshape(-1, 3)}) <= 2
