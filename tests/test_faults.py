"""Fault injection: concurrent writers, a full disk at the header, at the
flush and at the checkpoint, damaged bytes in checkpoints and partial files,
and kill -9 at random moments of run, sweep and merge (docs/reliability.md).

Every test asserts the promises of docs/running.md: a second writer is
refused with one line naming the output and the holder's PID, and changes
nothing; a refused resume changes no file; nothing finished is lost; every
result completed after faults is bitwise identical to the undisturbed one
(every dataset and attribute except the wall-clock /summary/timing).

Random trials draw from SM_FAULT_SEED; SM_FAULT_TRIALS (default 1)
multiplies their number. Each test adds its tally (trials, refused,
recovered, lost, ...) to a table printed at the end (pytest -s) and, with
SM_FAULT_REPORT=path, written there as JSON: the figures of
docs/reliability.md come from such a run."""
import collections
import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import BIN, tmpfs, run_sm_passive as run_sm, side, PASSIVE_ENV as ENV, write_config
from conftest import one_line
from conftest import ckpt_step as conftest_ckpt_step

TRIALS = max(1, int(os.environ.get("SM_FAULT_TRIALS", "1")))
RNG = random.Random(int(os.environ.get("SM_FAULT_SEED", "2718")))
TALLY = collections.defaultdict(collections.Counter)


@pytest.fixture(scope="module", autouse=True)
def tally_report():
    yield
    if not TALLY:
        return
    print("\nfault injection (SM_FAULT_TRIALS=%d):" % TRIALS)
    for test, c in TALLY.items():
        print(f"  {test}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    if os.environ.get("SM_FAULT_REPORT"):
        Path(os.environ["SM_FAULT_REPORT"]).write_text(json.dumps(TALLY, indent=1))


# --- inputs and comparisons ---------------------------------------------------

def fault_config(path, out="unused.h5", every=100):
    """24 x 24, 2070 sweeps (a plateau and a ramp), observables, census and
    snapshots; a checkpoint every 100 sweeps. A few tenths of a second."""
    return write_config(path, {
        "lattice": {"Lx": 24, "Ly": 24, "boundary": "periodic"},
        "model": {"eps_C": 0.125, "g": 4, "eps_step": 0, "J": 0.125, "h": 0},
        "dynamics": {"kind": "level"},
        "schedule": [{"T": 0.8, "sweeps": 600, "equilibration": 20},
                     {"T_from": 0.8, "T_to": 4.0, "sweeps": 1400}],
        "run": {"seed": 5, "equilibration_sweeps": 50, "measure_every": 2, "census_every": 40,
                "snapshot_every": 100, "checkpoint_every": every},
        "init": {"level": -1, "sigma": "random"},
        "output": {"path": str(out), "compression": 1, "snapshot_fields": ["level", "sigma", "z"]}})


def contents(path):
    data, attrs = {}, {}

    def visit(name, obj):
        for k, v in obj.attrs.items():
            attrs[f"{name}@{k}"] = np.asarray(v)
        if isinstance(obj, h5py.Dataset) and not name.startswith("summary/timing"):
            data[name] = obj[()]

    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            attrs[f"@{k}"] = np.asarray(v)
        f.visititems(visit)
    return data, attrs


def identical(a, b, skip=()):
    """Bit for bit, every dataset (but /summary/timing) and attribute (but
    those in skip)."""
    (da, aa), (db, ab) = contents(a), contents(b)
    for k in skip:
        aa.pop(k, None), ab.pop(k, None)
        if k == "parameters@config_json":   # its dataset form names the output too
            da.pop("parameters/output/path", None), db.pop("parameters/output/path", None)
    if sorted(da) != sorted(db) or sorted(aa) != sorted(ab):
        return False
    for k in da:
        x, y = np.asarray(da[k]), np.asarray(db[k])
        if x.dtype != y.dtype or x.shape != y.shape:
            return False
        if (x.tolist() != y.tolist()) if x.dtype.kind == "O" else (x.tobytes() != y.tobytes()):
            return False
    return all(np.array_equal(aa[k], ab[k]) for k in aa)


def files(d):
    """Every file under d (the lock files aside) and its bytes."""
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(Path(d).rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


def ckpt_step(out):
    return conftest_ckpt_step(side(out, ".ckpt"))


class Work:
    def __init__(self, d):
        self.dir = d
        self.cfg = fault_config(d / "f.json")
        self.ref = d / "ref.h5"
        t0 = time.monotonic()
        rc, _, err = run_sm("run", self.cfg, "--output", self.ref, "--quiet", "--threads", 1)
        assert rc == 0, err
        self.seconds = time.monotonic() - t0

    def start(self, out, *extra):
        return subprocess.Popen([str(BIN), "run", str(self.cfg), "--output", str(out), "--quiet",
                                 "--threads", "1", *map(str, extra)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)


@pytest.fixture(scope="module")
def work(sm_bin, tmp_path_factory):
    return Work(tmp_path_factory.mktemp("faults"))


@pytest.fixture(scope="module")
def interrupted(work):
    """<out>.ckpt and <out>.partial of a run stopped by SIGTERM after a
    checkpoint at sweep >= 1000 (of 2070)."""
    out = work.dir / "base" / "r.h5"
    p = work.start(out)
    deadline = time.monotonic() + 120
    while ckpt_step(out) < 1000 and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143, err
    return {s: side(out, s).read_bytes() for s in (".ckpt", ".partial")}


def place(state, out):
    out.parent.mkdir(parents=True, exist_ok=True)
    for s, b in state.items():
        side(out, s).write_bytes(b)


def finished_cleanly(out):
    """The result (and its XDMF sidecar, when the run has snapshots) and
    nothing else of the run: no partial, checkpoint or marker."""
    left = sorted(p.name for p in out.parent.iterdir() if p.name.startswith(out.name))
    assert [n for n in left if n != out.name + ".xmf"] == [out.name], left


class HeldLock:
    """The output lock of `path` taken by this (the test) process, as another
    writer would hold it."""

    def __init__(self, path):
        self.fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self):
        os.close(self.fd)


# --- 1. concurrent writers ------------------------------------------------------

def finished_result(work, out):
    shutil.copy(work.ref, out)


WRITERS = [
    # (id, state before, extra arguments)
    ("run", None, []),
    ("run_overwrite", "finished", ["--overwrite"]),
    ("resume", "interrupted", ["--resume"]),
    ("resume_overwrite", "both", ["--resume", "--overwrite"]),
]


@pytest.mark.parametrize("state,extra", [w[1:] for w in WRITERS], ids=[w[0] for w in WRITERS])
def test_second_writer_is_refused_and_changes_nothing(work, interrupted, tmp_path, state, extra):
    out = tmp_path / "r.h5"
    if state in ("interrupted", "both"):
        place(interrupted, out)
    if state in ("finished", "both"):
        finished_result(work, out)
    before = files(tmp_path)
    lock = HeldLock(out)
    try:
        rc, so, err = run_sm("run", work.cfg, "--output", out, *extra)
    finally:
        lock.release()
    line = one_line(err)
    assert rc == 1 and f"{out}: another softmatrix process (PID {os.getpid()}) is writing this output" in line, line
    assert files(tmp_path) == before
    TALLY["second writer (lock held)"].update(trials=1, refused=1)


def test_second_sweep_and_merge_are_refused(work, tmp_path):
    cfg = sweep_config(tmp_path, 2)
    d = tmp_path / "out"
    d.mkdir()
    lock = HeldLock(d / "index.h5")
    try:
        rc, _, err = run_sm("sweep", cfg, "--quiet")
    finally:
        lock.release()
    assert rc == 1 and f"{d}/index.h5: another softmatrix process (PID {os.getpid()})" in one_line(err)
    assert sorted(p.name for p in d.iterdir()) == ["index.h5.lock"]
    # a sweep point held by another writer: the other points run, the sweep
    # reports the refused one, and a rerun completes it
    lock = HeldLock(d / "point_0001.h5")
    try:
        rc, _, err = run_sm("sweep", cfg, "--quiet", "--jobs", "1")
    finally:
        lock.release()
    assert rc == 1 and "point_0001.h5: another softmatrix process" in err, err
    assert not (d / "point_0001.h5").exists() and (d / "point_0000.h5").exists()
    assert run_sm("sweep", cfg, "--quiet")[0] == 0
    shards = shard_indexes(tmp_path, cfg)
    merged = tmp_path / "m.h5"
    merged.write_bytes(b"an earlier merge")
    lock = HeldLock(merged)
    try:
        rc, _, err = run_sm("merge", merged, *shards, "--overwrite")
    finally:
        lock.release()
    assert rc == 1 and f"{merged}: another softmatrix process (PID {os.getpid()})" in one_line(err)
    assert merged.read_bytes() == b"an earlier merge"
    TALLY["second writer (lock held)"].update(trials=3, refused=3)


def test_second_transition_is_refused(work, tmp_path):
    """`softmatrix transition` writes under the same one-writer lock: an
    earlier result is neither replaced nor touched while another holds it."""
    out = tmp_path / "t.transition.h5"
    out.write_bytes(b"an earlier transition")
    before = files(tmp_path)
    lock = HeldLock(out)
    try:
        rc, _, err = run_sm("transition", work.cfg, "--seeds", 1, "--sweeps", 10, "--quiet",
                            "--output", out, "--overwrite")
    finally:
        lock.release()
    assert rc == 1 and f"{out}: another softmatrix process (PID {os.getpid()})" in one_line(err), err
    assert files(tmp_path) == before and out.read_bytes() == b"an earlier transition"
    TALLY["second writer (lock held)"].update(trials=1, refused=1)


def test_racing_runs_on_one_output(work, tmp_path):
    """Two runs (and an --overwrite and a --resume) on one path: without the
    lock, HDF5's create truncates the first one's .partial before its own
    file lock refuses, and the first then exits 0 with an unreadable file."""
    out = tmp_path / "dup" / "x.h5"
    first = work.start(out)
    deadline = time.monotonic() + 60
    while not side(out, ".partial").exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    refused = 0
    for extra in ([], ["--overwrite"], ["--resume"]):
        # --resume with no checkpoint yet is refused before the lock is
        # asked for (nothing to resume): wait for the first checkpoint
        while extra == ["--resume"] and not side(out, ".ckpt").exists() and first.poll() is None:
            time.sleep(0.002)
        if first.poll() is not None:
            break
        rc, _, err = run_sm("run", work.cfg, "--output", out, "--quiet", *extra)
        line = one_line(err)
        assert rc == 1 and f"another softmatrix process (PID {first.pid})" in line, line
        refused += 1
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    finished_cleanly(out)
    assert identical(out, work.ref)
    assert refused >= 1, "the first run ended before a second one started"
    TALLY["racing runs"].update(trials=refused, refused=refused, lost=0)


def test_racing_sweeps_in_one_directory(work, tmp_path):
    cfg = sweep_config(tmp_path, 4)
    d = tmp_path / "out"
    first = subprocess.Popen([str(BIN), "sweep", str(cfg), "--quiet", "--jobs", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 60
    while not (d / "index.h5.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    rc, _, err = run_sm("sweep", cfg, "--quiet", "--overwrite")
    _, ferr = first.communicate(timeout=300)
    assert first.returncode == 0, ferr
    assert rc == 1 and f"index.h5: another softmatrix process (PID {first.pid})" in one_line(err)
    ref = tmp_path / "ref"
    assert run_sm("sweep", cfg, "--quiet", "--output-dir", ref)[0] == 0
    assert_same_sweep(d, ref, 4)
    TALLY["racing sweeps"].update(trials=1, refused=1, lost=0)


# --- 2. a full disk ------------------------------------------------------------------

@pytest.fixture
def small_fs(tmp_path):
    """An 8 MiB tmpfs (needs root and mount permission; skipped otherwise)."""
    yield from tmpfs(tmp_path, "fs", "8m")


# free space left for the run, KiB: from none (the file header cannot be
# written) to enough for everything but the last checkpoints
FREE_KIB = [0, 8, 24, 96, 384, 640, 1024, 1536, 2048, 3072]


def failed_stage(line):
    if "file header" in line or "cannot create output file" in line:
        return "header"
    if ".ckpt.tmp: cannot write checkpoint" in line:
        return "checkpoint"
    return "flush"


def recover(work, out, extra=()):
    """Repeats the command as docs/running.md says until the run is
    complete: --resume where a checkpoint lies, else afresh. Returns how."""
    how = "restarted"
    if side(out, ".ckpt").exists():
        rc, _, err = run_sm("run", work.cfg, "--output", out, "--quiet", "--resume", *extra)
        how = "rebuilt" if "rebuilding it" in err else "resumed"
    else:
        rc, _, err = run_sm("run", work.cfg, "--output", out, "--quiet", *extra)
    assert rc == 0, err
    return how


def test_full_disk_at_header_flush_and_checkpoint(work, small_fs):
    free = FREE_KIB + [RNG.randrange(0, 3072) for _ in range((TRIALS - 1) * len(FREE_KIB))]
    stages = collections.Counter()
    for i, kib in enumerate(free):
        d = small_fs / f"t{i}"
        d.mkdir()
        out = d / "r.h5"
        st = os.statvfs(small_fs)
        filler = small_fs / "filler"
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - kib * 1024))
        rc, _, err = run_sm("run", work.cfg, "--output", out, "--quiet", "--threads", 1)
        filler.unlink()
        TALLY["full disk"]["trials"] += 1
        if rc == 0:
            TALLY["full disk"]["no fault"] += 1
            assert identical(out, work.ref)
            shutil.rmtree(d)
            continue
        line = one_line(err)
        assert rc == 1 and "No space left on device" in line, line
        assert not out.exists()  # nothing half-written is ever a result
        stage = failed_stage(line)
        stages[stage] += 1
        if stage == "header":
            assert sorted(p.name for p in d.iterdir()) == [], "a failed header leaves no file"
        how = recover(work, out)
        finished_cleanly(out)
        assert identical(out, work.ref)
        TALLY["full disk"].update({f"at the {stage}": 1, how: 1, "recovered": 1})
        shutil.rmtree(d)
    TALLY["full disk"]["lost"] += 0
    assert {"header", "flush", "checkpoint"} <= set(stages), stages


@pytest.fixture
def tiny_fs(tmp_path):
    """A 1 MiB tmpfs (needs root and mount permission; skipped otherwise)."""
    yield from tmpfs(tmp_path, "tiny", "1m")


def test_full_disk_during_a_flush_then_a_larger_disk(work, tiny_fs):
    """The disk fills while HDF5 flushes the partial file, which HDF5 then
    leaves inconsistent (objects half written, so that the file cannot be
    cut back in place); once the file system is larger, --resume completes
    the run from a verified copy."""
    out = tiny_fs / "r.h5"
    rc, _, err = run_sm("run", work.cfg, "--output", out, "--quiet", "--set", "run.checkpoint_every=500",
                        "--set", "run.census_every=500")
    line = one_line(err)
    # which write meets the full disk first, the partial file's flush or the
    # next checkpoint, depends on their sizes; either leaves a run to resume
    assert rc == 1 and ("r.h5.partial: " in line or "r.h5.ckpt" in line) and "No space left on device" in line, line
    assert side(out, ".ckpt").exists() and not out.exists()
    p = subprocess.run(["mount", "-o", "remount,size=16m", str(tiny_fs)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rc, _, err = run_sm("run", work.cfg, "--output", out, "--quiet", "--resume", "--set", "run.checkpoint_every=500",
                        "--set", "run.census_every=500")
    assert rc == 0, err
    finished_cleanly(out)
    ref = tiny_fs / "ref.h5"
    rc, _, err = run_sm("run", work.cfg, "--output", ref, "--quiet", "--set", "run.checkpoint_every=500",
                        "--set", "run.census_every=500")
    assert rc == 0, err
    assert identical(out, ref)
    TALLY["full disk"].update({"trials": 1, "at the flush, then remounted": 1, "recovered": 1})


# --- 3. damaged bytes ------------------------------------------------------------------

def flip(path, offset, rng):
    b = bytearray(path.read_bytes())
    b[offset] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(b))


def test_flipped_checkpoint_byte_is_refused(work, interrupted, tmp_path):
    """Any byte of a checkpoint is covered by one of its two checksums."""
    n = len(interrupted[".ckpt"])
    offsets = [RNG.randrange(48)] + [RNG.randrange(n) for _ in range(10 * TRIALS - 1)]
    for i, off in enumerate(offsets):
        out = tmp_path / f"t{i}" / "r.h5"
        place(interrupted, out)
        flip(side(out, ".ckpt"), off, RNG)
        before = files(out.parent)
        rc, _, err = run_sm("run", work.cfg, "--output", out, "--resume", "--quiet")
        line = one_line(err)
        assert rc == 1 and "r.h5.ckpt: checkpoint is damaged" in line, (off, line)
        assert files(out.parent) == before
        TALLY["checkpoint byte flips"].update(trials=1, refused=1)
    # and the partial file it left is not in the way of a fresh run
    rc, _, err = run_sm("run", work.cfg, "--output", out, "--overwrite", "--quiet")
    assert rc == 0, err
    assert identical(out, work.ref)


def kept_bytes(partial, datasets):
    """(file offset, length) of bytes that hold rows the checkpoint kept: the
    first 16 rows of each (uncompressed) series, the first snapshot."""
    out = []
    with h5py.File(partial, "r") as f:
        for name in datasets:
            d = f[name]
            info = d.id.get_chunk_info(0)
            row = d.dtype.itemsize * int(np.prod(d.shape[1:]))
            out.append((info.byte_offset, info.size if d.compression else 16 * row))
    return out


def test_flipped_partial_byte_never_reaches_the_result(work, interrupted, tmp_path):
    """Random flips anywhere in the .partial, and flips inside rows the
    checkpoint kept (which a resume must not carry into /observables while
    /summary comes from the checkpoint's state): every resume completes,
    bit for bit."""
    base = tmp_path / "base.partial"
    base.write_bytes(interrupted[".partial"])
    targets = kept_bytes(base, ["observables/energy/value", "census/n_centres/value",
                                   "snapshots/level/value", "observables/energy/step"])
    n = len(interrupted[".partial"])
    offsets = [o + RNG.randrange(s) for o, s in targets] + \
              [RNG.randrange(n) for _ in range(4 * TRIALS)]
    for i, off in enumerate(offsets):
        out = tmp_path / f"t{i}" / "r.h5"
        place(interrupted, out)
        flip(side(out, ".partial"), off, RNG)
        rc, _, err = run_sm("run", work.cfg, "--output", out, "--resume", "--quiet")
        assert rc == 0, (off, err)
        finished_cleanly(out)
        assert identical(out, work.ref), off
        targeted = i < len(targets)
        if targeted:
            assert "rebuilding it" in err, (off, err)  # a damaged kept row is caught
        TALLY["partial byte flips"].update(
            {"trials": 1, "recovered": 1, "rebuilt" if "rebuilding it" in err else "copy verified": 1,
             "in kept rows" if targeted else "anywhere": 1})
    TALLY["partial byte flips"]["lost"] += 0


# --- 4. kill -9 at random moments -------------------------------------------------------

def kill_at_random(p, seconds):
    """SIGKILL after a random delay, unless the process ended first; True
    when it was killed."""
    deadline = time.monotonic() + RNG.uniform(0, seconds)
    while time.monotonic() < deadline:
        if p.poll() is not None:
            return False
        time.sleep(0.001)
    if p.poll() is not None:
        return False
    p.kill()
    p.wait(timeout=60)
    return True


TOTAL = 50 + 20 + 600 + 1400  # sweeps of fault_config


def kill_at_sweep(p, out, sweep):
    """SIGKILL a few milliseconds (at random) after the run's checkpoint
    reaches `sweep`, so that kills fall evenly over the run (and anywhere in
    a sweep, a flush or a checkpoint write) whatever the machine's speed;
    False when the run ended first."""
    while ckpt_step(out) < sweep:
        if p.poll() is not None:
            return False
        time.sleep(0.0005)
    time.sleep(RNG.uniform(0, 0.02))
    if p.poll() is not None:
        return False
    p.kill()
    p.wait(timeout=60)
    return True


def test_kill9_run_at_random_moments(work, tmp_path):
    for trial in range(3 * TRIALS):
        out = tmp_path / f"t{trial}" / "r.h5"
        out.parent.mkdir()
        for attempt in range(12):
            if out.exists():
                break
            resume = side(out, ".ckpt").exists()
            p = work.start(out, *(["--resume"] if resume else []))
            # up to three kills, some in the first milliseconds (the header), the last ones
            # possibly after the end
            at = -1 if RNG.random() < 0.15 else RNG.randrange(max(0, ckpt_step(out)), TOTAL + 300)
            killed = attempt < 3 and kill_at_sweep(p, out, at)
            if not killed:
                _, err = p.communicate(timeout=300)
                assert p.returncode == 0, err
            TALLY["kill -9 run"].update({"kills": int(killed), "resumes" if resume else "starts": 1,
                                         "rebuilds": int(resume and not killed and "rebuilding it" in err)})
        # a kill after the rename leaves the finished run's mark, never a live checkpoint
        if side(out, ".ckpt").exists():
            rc, _, err = run_sm("run", work.cfg, "--output", out, "--resume", "--quiet")
            assert rc == 2 and "the run is finished" in err, err
        finished_cleanly(out)
        assert identical(out, work.ref)
        TALLY["kill -9 run"].update(trials=1, recovered=1, lost=0)


def sweep_config(d, npoints):
    cfg = json.loads(Path(fault_config(d / "base.json", d / "out.h5")).read_text())
    cfg["lattice"] = {"Lx": 16, "Ly": 16, "boundary": "periodic"}
    cfg["schedule"] = [{"T": 1.0, "sweeps": 300}, {"T_from": 1.0, "T_to": 3.0, "sweeps": 300}]
    cfg["sweep"] = {"keys": {"run.seed": list(range(1, npoints + 1))}}
    return write_config(d / "sweep.json", cfg)


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def same_index(a, b):
    da, db = datasets(a), datasets(b)
    return sorted(da) == sorted(db) and all(
        (list(da[k]) == list(db[k])) if da[k].dtype.kind == "O" else da[k].tobytes() == db[k].tobytes()
        for k in da)


def assert_same_sweep(d, ref, npoints):
    assert same_index(d / "index.h5", ref / "index.h5")
    for i in range(npoints):
        # (the resolved config names the point's own path)
        assert identical(d / f"point_{i:04d}.h5", ref / f"point_{i:04d}.h5",
                         skip=["parameters@config_json"]), i
    left = sorted(p.name for p in d.iterdir() if not p.name.endswith((".lock", ".xmf")))
    assert left == ["index.h5"] + [f"point_{i:04d}.h5" for i in range(npoints)], left


def sweep_until_done(cfg, *extra):
    """Reruns the sweep (as its message says) until it completes; a point
    whose killed process has not quite died yet is refused once."""
    for _ in range(5):
        rc, _, err = run_sm("sweep", cfg, "--quiet", *extra)
        if rc == 0:
            return
        assert rc == 1 and "another softmatrix process" in err, err
        time.sleep(0.2)
    pytest.fail("the sweep did not complete")


def test_kill9_sweep_at_random_moments(work, tmp_path):
    cfg = sweep_config(tmp_path, 4)
    ref = tmp_path / "ref"
    t0 = time.monotonic()
    assert run_sm("sweep", cfg, "--quiet", "--output-dir", ref, "--jobs", "2")[0] == 0
    seconds = time.monotonic() - t0
    for trial in range(2 * TRIALS):
        d = tmp_path / f"t{trial}"
        for _ in range(2):
            p = subprocess.Popen([str(BIN), "sweep", str(cfg), "--quiet", "--jobs", "2", "--output-dir", str(d)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
            killed = kill_at_random(p, seconds)
            _, err = p.communicate(timeout=300)
            # (a point of the killed sweep may take a moment to die, and its lock with it)
            assert killed or p.returncode == 0 or "another softmatrix process" in err, err
            TALLY["kill -9 sweep"]["kills"] += killed
        sweep_until_done(cfg, "--output-dir", d)
        assert_same_sweep(d, ref, 4)
        TALLY["kill -9 sweep"].update(trials=1, recovered=1, lost=0)


def shard_indexes(tmp_path, cfg):
    d = tmp_path / "shards"
    for k in (1, 2):
        rc, _, err = run_sm("sweep", cfg, "--quiet", "--output-dir", d, "--shard", f"{k}/2")
        assert rc == 0, err
    return [d / "index_shard_1_of_2.h5", d / "index_shard_2_of_2.h5"]


def test_kill9_merge_at_random_moments(work, tmp_path):
    cfg = sweep_config(tmp_path, 2)
    shards = shard_indexes(tmp_path, cfg)
    ref = tmp_path / "ref.h5"
    t0 = time.monotonic()
    assert run_sm("merge", ref, *shards)[0] == 0
    seconds = 2 * (time.monotonic() - t0)
    for trial in range(6 * TRIALS):
        out = tmp_path / f"m{trial}.h5"
        old = trial % 2 == 1  # an earlier result that --overwrite replaces
        if old:
            out.write_bytes(b"an earlier merge")
        p = subprocess.Popen([str(BIN), "merge", str(out), *map(str, shards), "--overwrite"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        killed = kill_at_random(p, seconds)
        if not killed:
            assert p.wait() == 0
        # the result is either the earlier one, untouched, or the new one, complete
        if out.exists() and out.read_bytes() != b"an earlier merge":
            assert same_index(out, ref)
        else:
            assert out.exists() == old
        rc, _, err = run_sm("merge", out, *shards, "--overwrite")
        assert rc == 0, err
        assert same_index(out, ref)
        assert not side(out, ".partial").exists()
        TALLY["kill -9 merge"].update(trials=1, kills=killed, recovered=1, lost=0)


# --- 5. a kill between the finishing steps ----------------------------------------

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* SIGKILL on the rename of a file ending in SM_KILL_RENAME, or the unlink of
 * an existing one ending in SM_KILL_UNLINK: a kill at an exact step of the
 * finishing order */
static int ends(const char *s, const char *env)
{
    const char *t = getenv(env);
    size_t a = strlen(s), b = t ? strlen(t) : 0;
    return t && *t && a >= b && strcmp(s + a - b, t) == 0;
}
int renameat2(int fa, const char *a, int fb, const char *b, unsigned fl)
{
    if (ends(a, "SM_KILL_RENAME")) raise(SIGKILL);
    int (*real)(int, const char *, int, const char *, unsigned) = dlsym(RTLD_NEXT, "renameat2");
    return real(fa, a, fb, b, fl);
}
int rename(const char *a, const char *b)
{
    if (ends(a, "SM_KILL_RENAME")) raise(SIGKILL);
    int (*real)(const char *, const char *) = dlsym(RTLD_NEXT, "rename");
    return real(a, b);
}
int unlink(const char *a)
{
    if (ends(a, "SM_KILL_UNLINK") && access(a, F_OK) == 0) raise(SIGKILL);
    int (*real)(const char *) = dlsym(RTLD_NEXT, "unlink");
    return real(a);
}
"""


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    d = tmp_path_factory.mktemp("shim")
    (d / "shim.c").write_text(SHIM)
    p = subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(d / "shim.so"), str(d / "shim.c"), "-ldl"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("cannot build the LD_PRELOAD shim: " + p.stderr.strip())
    return d / "shim.so"


@pytest.mark.parametrize("where", ["before_rename", "after_rename"])
def test_kill_between_the_finishing_steps(work, shim, tmp_path, where):
    """The run ends: mark the checkpoint finished, rename the .partial, remove
    the checkpoint. A kill before the rename leaves a finished .partial that
    --resume puts in place; a kill after it a result whose stale mark the
    next command removes. Either way a plain rerun does not ask for
    --resume, and --resume does not fail."""
    out = tmp_path / "r.h5"
    env = dict(ENV, LD_PRELOAD=str(shim))
    # (a sanitized build, make test-sanitize, accepts a preloaded library after its runtime)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
    env["SM_KILL_RENAME" if where == "before_rename" else "SM_KILL_UNLINK"] = \
        "r.h5.partial" if where == "before_rename" else "r.h5.ckpt"
    p = subprocess.run([str(BIN), "run", str(work.cfg), "--output", str(out), "--quiet"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert side(out, ".ckpt").stat().st_size < 4096  # the mark, not the state
    if where == "before_rename":
        assert not out.exists() and side(out, ".partial").exists()
        rc, _, err = run_sm("run", work.cfg, "--output", out, "--quiet")
        assert rc == 2 and "stopped before its result was renamed into place" in one_line(err)
        rc, so, err = run_sm("run", work.cfg, "--output", out, "--resume")
        assert rc == 0 and "renamed into place" in so, err
    else:
        assert out.exists() and not side(out, ".partial").exists()
        rc, _, err = run_sm("run", work.cfg, "--output", out, "--quiet")
        assert rc == 2 and "output file exists (use --overwrite" in one_line(err)
        rc, _, err = run_sm("run", work.cfg, "--output", out, "--resume", "--quiet")
        assert rc == 2 and "the run is finished" in one_line(err)
    finished_cleanly(out)
    assert identical(out, work.ref)
    TALLY["kill between finishing steps"].update(trials=1, recovered=1, lost=0)
