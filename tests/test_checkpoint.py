"""Checkpoint and restart of single runs: <out>.ckpt written every
run.checkpoint_every sweeps, every run.checkpoint_seconds and on SIGINT /
SIGTERM; `softmatrix run CONFIG --resume` continues from it and <out>.partial.

The promise under test is that an interrupted and resumed run writes the same
file, bit for bit, as one that never stopped (only /summary/timing differs),
whatever the thread counts of its parts; and that no bad or stale file is ever
mixed into a result: a refused resume names the file, exits 2 (missing file,
another configuration) or 1 (damaged file) and changes nothing on disk.

Interruptions are timed by polling the checkpoint's header (the step, an i64
at byte 16) rather than by sleeping, so a slow machine only moves the point of
interruption, which the equality must not depend on."""
import os
import re
import resource
import shlex
import signal
import struct
import subprocess
import time

import h5py
import numpy as np
import pytest

from conftest import BIN, tmpfs, run_sm_passive as run_sm, side, PASSIVE_ENV as ENV, small_config, write_config
from conftest import one_line

# idle OpenMP threads sleep: the suite shares a small machine
CKPT_MAGIC = b"SMCKPT\r\n"
EVERY = 250  # run.checkpoint_every of the main configs


def ckpt_step(out):
    """The step in <out>.ckpt's header, or -1 while there is none."""
    try:
        with open(side(out, ".ckpt"), "rb") as f:
            head = f.read(24)
    except FileNotFoundError:
        return -1
    assert head[:8] == CKPT_MAGIC, head
    return struct.unpack("<q", head[16:24])[0]


def main_config(path, kind):
    """32x32, 3170 sweeps: a ramp between two plateaus, segment equilibrations,
    census, snapshots of four fields. About a second of run."""
    c = small_config(
        path.with_suffix(".unused.h5"), lattice={"Lx": 32, "Ly": 32, "boundary": "periodic"},
        dynamics={"kind": kind},
        schedule=[{"T": 0.8, "sweeps": 400, "equilibration": 50},
                  {"T_from": 0.8, "T_to": 4.0, "sweeps": 2000},
                  {"T": 3.0, "sweeps": 600, "equilibration": 20}],
        run={"seed": 7, "equilibration_sweeps": 100, "measure_every": 2, "snapshot_every": 150,
             "census_every": 40, "checkpoint_every": EVERY},
        output={"path": str(path.with_suffix(".unused.h5")), "compression": 1,
                "snapshot_fields": ["level", "sigma", "phase", "z"]})
    del c["temperature"]
    return write_config(path, c)


TOTAL = 100 + 50 + 400 + 2000 + 20 + 600


def contents(path):
    """Every dataset (except the wall-clock /summary/timing) and every
    attribute of an HDF5 file, keyed by path; the datasets of /parameters
    (the stored config, like its config_json attribute) count as attributes."""
    data, attrs = {}, {}

    def visit(name, obj):
        for k, v in obj.attrs.items():
            attrs[f"{name}@{k}"] = v
        if isinstance(obj, h5py.Dataset) and not name.startswith("summary/timing"):
            (attrs if name.startswith("parameters/") else data)[name] = obj[()]

    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            attrs[f"@{k}"] = v
        f.visititems(visit)
    return data, attrs


def assert_identical(a, b, attributes=True):
    (da, aa), (db, ab) = contents(a), contents(b)
    assert sorted(da) == sorted(db)
    for k in da:
        x, y = np.asarray(da[k]), np.asarray(db[k])
        assert x.dtype == y.dtype and x.shape == y.shape, k
        if x.dtype.kind == "O":
            assert x.tolist() == y.tolist(), k
        else:
            assert x.tobytes() == y.tobytes(), k  # bit for bit, NaNs included
    if attributes:
        assert sorted(aa) == sorted(ab)
        for k in aa:
            assert np.array_equal(np.asarray(aa[k]), np.asarray(ab[k])), k
    return da


def start(cfg, out, *extra, threads=1):
    return subprocess.Popen([str(BIN), "run", str(cfg), "--output", str(out), "--quiet",
                             "--threads", str(threads), *map(str, extra)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)


def wait_for(p, cond, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not cond():
        if p.poll() is not None:
            pytest.fail(f"the run ended (exit {p.returncode}) before {what}: {p.stderr.read()}")
        if time.monotonic() > deadline:
            p.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.002)


def wait_for_ckpt(p, out, min_step):
    wait_for(p, lambda: ckpt_step(out) >= min_step, f"a checkpoint at sweep >= {min_step}")
    return ckpt_step(out)


def stop(p, sig):
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    return p.returncode, err


def finished_cleanly(out):
    assert out.exists()
    for suffix in (".partial", ".partial.new", ".ckpt", ".ckpt.tmp", ".lock"):
        assert not side(out, suffix).exists(), suffix


# --- shared inputs: configs, uninterrupted references, one interrupted run ------

class Work:
    def __init__(self, d):
        self.dir = d
        self.cfg = {k: main_config(d / f"{k}.json", k) for k in ("level", "cage")}
        self._ref = {}

    def reference(self, kind):
        """The uninterrupted run of a config (one thread), computed once:
        (output file, printed summary)."""
        if kind not in self._ref:
            out = self.dir / f"ref_{kind}.h5"
            rc, so, err = run_sm("run", self.cfg[kind], "--output", out, "--threads", 1)
            assert rc == 0, err
            assert not side(out, ".ckpt").exists()
            self._ref[kind] = out, printed_summary(so)
        return self._ref[kind][0]

    def reference_summary(self, kind):
        self.reference(kind)
        return self._ref[kind][1]


def printed_summary(stdout):
    """A run's stdout less the lines that depend on wall time and path."""
    return [l for l in stdout.splitlines() if not l.startswith(("timing:", "wrote "))]


@pytest.fixture(scope="module")
def work(sm_bin, tmp_path_factory):
    return Work(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def interrupted(work):
    """<out>.ckpt and <out>.partial of a level run stopped by SIGTERM after
    its first periodic checkpoint: the material of the bad-input tests."""
    return interrupt_once(work, "level")


def interrupt_once(work, kind):
    out = work.dir / f"base_{kind}" / "r.h5"
    out.parent.mkdir()
    p = start(work.cfg[kind], out)
    wait_for_ckpt(p, out, EVERY)
    rc, err = stop(p, signal.SIGTERM)
    assert rc == 143, err
    return {s: side(out, s).read_bytes() for s in (".ckpt", ".partial")}


def place(interrupted, out):
    for s, b in interrupted.items():
        side(out, s).write_bytes(b)


# --- 1. bitwise identical continuation --------------------------------------------

@pytest.mark.parametrize("kind", ["level", "cage"])
def test_resumed_run_is_bitwise_identical(work, tmp_path, kind):
    """Two interruptions (SIGTERM mid first plateau, SIGINT mid ramp), three
    processes with 2, 1 and 3 threads, the same file as one uninterrupted
    single-thread run: observables, census, snapshots, kinetics, summary."""
    cfg, out = work.cfg[kind], tmp_path / "r.h5"
    p = start(cfg, out, threads=2)
    wait_for_ckpt(p, out, EVERY)
    rc, err = stop(p, signal.SIGTERM)
    s1 = ckpt_step(out)
    assert rc == 143 and f"interrupted at sweep {s1} of {TOTAL} by SIGTERM" in err, err
    assert EVERY <= s1 < TOTAL and not out.exists()

    p = start(cfg, out, "--resume", threads=1)
    wait_for_ckpt(p, out, max(s1 + 1, 1500))  # a checkpoint of this process
    rc, err = stop(p, signal.SIGINT)
    s2 = ckpt_step(out)
    assert rc == 130 and f"interrupted at sweep {s2} of {TOTAL} by SIGINT" in err, err
    assert s1 < s2 < TOTAL

    rc, so, err = run_sm("run", cfg, "--output", out, "--resume", "--threads", 3)
    assert rc == 0, err
    assert f"resuming at sweep {s2} from {out}.ckpt" in err
    finished_cleanly(out)
    data = assert_identical(out, work.reference(kind))
    # the summary table, census and kinetics printed at the end, too
    assert printed_summary(so) == work.reference_summary(kind)
    # the comparison covered every kind of output a resume must carry over
    assert data["observables/energy/value"].shape[0] == 3000 // 2
    assert data["census/n_centres/value"].shape[0] == 3000 // 40
    assert data["snapshots/z/value"].shape[0] == (TOTAL - 100) // 150
    assert ("kinetics/loop_completions" in data) == (kind == "cage")


# --- 2. SIGINT and SIGTERM ---------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_signal_checkpoints_and_prints_resume_command(work, tmp_path, sig):
    out = tmp_path / "r.h5"
    cfg = work.cfg["level"]
    # no periodic checkpoint (for 300 s): the signal must make its own
    p = start(cfg, out, "--set", "run.checkpoint_every=0")
    # the handlers are installed before the output is created
    wait_for(p, lambda: side(out, ".partial").exists(), "the partial output")
    rc, err = stop(p, sig)
    line = one_line(err)
    assert rc == 128 + sig, err
    step = ckpt_step(out)
    name = signal.Signals(sig).name
    assert f"{out}: interrupted at sweep {step} of {TOTAL} by {name} (checkpoint {out}.ckpt)" in line
    assert 1 <= step < TOTAL
    assert side(out, ".ckpt").exists() and side(out, ".partial").exists() and not out.exists()
    assert not side(out, ".ckpt.tmp").exists()
    # the printed command is the one to run
    assert "; resume with: softmatrix run " in line and line.endswith(" --resume")
    argv = shlex.split(line.split("; resume with: ", 1)[1])
    assert argv[:2] == ["softmatrix", "run"]
    q = subprocess.run([str(BIN), *argv[1:]], capture_output=True, text=True, env=ENV, timeout=600)
    assert q.returncode == 0, q.stderr
    finished_cleanly(out)
    # (checkpoint_every is part of the stored config: compare the data)
    assert_identical(out, work.reference("level"), attributes=False)


# --- 3. SIGKILL after a periodic checkpoint ---------------------------------------

@pytest.mark.parametrize("trigger", ["sweeps", "seconds"])
def test_sigkill_then_resume(work, tmp_path, trigger):
    """kill -9 leaves the .partial, the last complete checkpoint (a .tmp of
    one being written may lie beside it) and the lock file, which the kernel
    has unlocked; --resume then completes the run.
    The wall-clock trigger only decides when the state is saved: that run
    (its config differs in run.checkpoint_*) is compared dataset by dataset."""
    out = tmp_path / "r.h5"
    extra = [] if trigger == "sweeps" else ["--set", "run.checkpoint_every=0",
                                            "--set", "run.checkpoint_seconds=0.02"]
    cfg = work.cfg["level"]
    p = start(cfg, out, *extra)
    wait_for_ckpt(p, out, 2 * EVERY if trigger == "sweeps" else 300)
    p.kill()
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL
    left = sorted(x.name for x in tmp_path.iterdir())
    assert left in (["r.h5.ckpt", "r.h5.lock", "r.h5.partial"],
                    ["r.h5.ckpt", "r.h5.ckpt.tmp", "r.h5.lock", "r.h5.partial"]), left
    step = ckpt_step(out)  # the last one completed before the kill
    assert 0 < step < TOTAL
    if trigger == "sweeps":
        assert step % EVERY == 0
    rc, _, err = run_sm("run", cfg, "--output", out, "--resume", "--quiet", "--threads", 2, *extra)
    assert rc == 0, err
    finished_cleanly(out)
    assert_identical(out, work.reference("level"), attributes=trigger == "sweeps")


def test_resume_discards_output_written_after_the_checkpoint(work, interrupted, tmp_path):
    """What a killed run wrote after its last checkpoint (rows, series begun
    later, a half-written summary) is cut away before the run continues."""
    out = tmp_path / "r.h5"
    place(interrupted, out)
    with h5py.File(side(out, ".partial"), "a") as f:
        for leaf in ("step", "time", "value"):
            d = f[f"census/largest_component/{leaf}"]
            d.resize(d.shape[0] + 3, axis=0)
        f["snapshots/pcp/value"] = np.zeros((1, 32, 32, 3), np.float32)
        f["summary/energy/mean"] = np.zeros(3)
        f["kinetics/tau"] = np.zeros(3)
    rc, _, err = run_sm("run", work.cfg["level"], "--output", out, "--resume", "--quiet")
    assert rc == 0, err
    finished_cleanly(out)
    assert_identical(out, work.reference("level"))


# --- 4. bad resume inputs -----------------------------------------------------------

def flip(offset):
    def f(out):
        p = side(out, ".ckpt")
        b = bytearray(p.read_bytes())
        b[offset] ^= 0x01
        p.write_bytes(bytes(b))
    return f


FNV_INIT, FNV_PRIME, M64 = 0xcbf29ce484222325, 0x100000001b3, (1 << 64) - 1


def sm_hash(data):
    """io/hash.h: FNV-1a's step over little-endian 8-byte words, the tail
    zero-padded, then the length mixed in."""
    h, n = FNV_INIT, len(data)
    full = n - n % 8
    for (w,) in struct.iter_unpack("<Q", data[:full]):
        h = ((h ^ w) * FNV_PRIME) & M64
    (tail,) = struct.unpack("<Q", data[full:] + bytes(8 - n % 8))
    h = ((h ^ tail) * FNV_PRIME) & M64
    return ((h ^ n) * FNV_PRIME) & M64


def ckpt_records(b):
    """(name, site record?, record start, values start, values end) of each
    record of checkpoint bytes b (include/io/checkpoint.h)."""
    at, out = 48, []
    while at < len(b):
        (ln,) = struct.unpack_from("<I", b, at)
        sites, ln = ln >> 31, ln & 0x7FFFFFFF
        (size,) = struct.unpack_from("<Q", b, at + 4 + ln)
        start = at + 12 + ln + (20 if sites else 0)
        out.append((b[at + 4:at + 4 + ln].decode(), bool(sites), at, start, start + size))
        at = start + size
    return out


def flip_site(name, index):
    def f(out):
        p = side(out, ".ckpt")
        b = bytearray(p.read_bytes())
        (start,) = [r[3] for r in ckpt_records(b) if r[0] == name and r[1]]
        b[start + index] ^= 0x02  # sigma +1 <-> -1 would be 0xFE
        p.write_bytes(bytes(b))
    return f


def as_format_2(path):
    """Rewrites a checkpoint in format 2: plain records, every payload byte
    under the payload checksum."""
    b = path.read_bytes()
    payload = b""
    for name, sites, at, start, end in ckpt_records(b):
        payload += struct.pack("<I", len(name)) + name.encode() + struct.pack("<Q", end - start) + b[start:end]
    (step,) = struct.unpack_from("<q", b, 16)
    head = CKPT_MAGIC + struct.pack("<IIqQQ", 2, 0x01020304, step, len(payload), sm_hash(payload))
    path.write_bytes(head + struct.pack("<Q", sm_hash(head)) + payload)


def truncate(suffix, size):
    def f(out):
        p = side(out, suffix)
        n = size if size >= 0 else len(p.read_bytes()) // 2
        with open(p, "r+b") as fh:
            fh.truncate(n)
    return f


def remove(suffix):
    return lambda out: side(out, suffix).unlink()


def shorten_series(out):
    # a .partial with fewer rows than its checkpoint recorded
    with h5py.File(side(out, ".partial"), "a") as f:
        d = f["observables/energy/value"]
        d.resize(1, axis=0)


def foreign_partial(out):
    # a .partial that belongs to another configuration
    other = out.parent / "other.h5"
    cfg = write_config(out.parent / "other.json", small_config(other))
    rc, _, err = run_sm("run", cfg, "--quiet")
    assert rc == 0, err
    other.replace(side(out, ".partial"))
    (out.parent / "other.json").unlink()


def finished_output(out):
    out.write_bytes(b"a finished result")


BAD = [
    # (id, damage, extra args, exit code, text that the one stderr line must hold)
    ("no_checkpoint", remove(".ckpt"), [], 2, "r.h5.ckpt: no checkpoint to resume from"),
    ("ckpt_empty", truncate(".ckpt", 0), [], 1, "r.h5.ckpt: checkpoint is damaged (shorter than its header)"),
    ("ckpt_truncated", truncate(".ckpt", -1), [], 1, "r.h5.ckpt: checkpoint is damaged (truncated or extended)"),
    ("ckpt_flipped_payload", flip(5000), [], 1, "r.h5.ckpt: checkpoint is damaged (payload checksum mismatch)"),
    ("ckpt_flipped_step", flip(16), [], 1, "r.h5.ckpt: checkpoint is damaged (header checksum mismatch)"),
    ("ckpt_flipped_magic", flip(0), [], 1, "r.h5.ckpt: checkpoint is damaged (not a softmatrix checkpoint)"),
    ("ckpt_flipped_level", flip_site("sim.level", 517), [], 1,
     "r.h5.ckpt: checkpoint is damaged (record sim.level: checksum mismatch)"),
    ("ckpt_flipped_sigma", flip_site("sim.sigma", 1023), [], 1,
     "r.h5.ckpt: checkpoint is damaged (record sim.sigma: checksum mismatch)"),
    ("other_seed", None, ["--set", "run.seed=8"], 2,
     'r.h5.ckpt: checkpoint was written with another configuration (it has `"seed": 7` where the config has `"seed": 8`)'),
    ("other_lattice", None, ["--set", "lattice.Lx=16"], 2,
     'checkpoint was written with another configuration (it has `"Lx": 32` where the config has `"Lx": 16`)'),
    ("other_dynamics", None, ["--set", "dynamics.kind=cage"], 2,
     'another configuration (it has `"kind": "level"` where the config has `"kind": "cage"`)'),
    ("output_exists", finished_output, [], 2, "r.h5: output file exists, the run is finished"),
]


@pytest.mark.parametrize("damage,extra,code,msg", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_resume_inputs_change_nothing(work, interrupted, tmp_path, damage, extra, code, msg):
    out = tmp_path / "r.h5"
    place(interrupted, out)
    if damage:
        damage(out)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    # without --quiet: a refusal must still be the only line
    rc, so, err = run_sm("run", work.cfg["level"], "--output", out, "--resume", *extra)
    line = one_line(err)
    assert rc == code and msg in line, (rc, line)
    assert str(tmp_path) in line  # the file is named by its full path
    assert so == ""
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # nothing created, removed or changed, <out> included


def test_checkpoint_has_site_records_and_format_2_still_resumes(work, interrupted, tmp_path):
    """Level and sigma are site records (their values outside the payload
    checksum, under their own); a format-2 checkpoint of the same state, all
    of it under the payload checksum, resumes to the same file."""
    out = tmp_path / "r.h5"
    place(interrupted, out)
    b = side(out, ".ckpt").read_bytes()
    assert struct.unpack_from("<I", b, 8) == (3,)
    sites = {r[0]: r[4] - r[3] for r in ckpt_records(b) if r[1]}
    assert sites == {"sim.level": 32 * 32, "sim.sigma": 32 * 32}
    as_format_2(side(out, ".ckpt"))
    assert struct.unpack_from("<I", side(out, ".ckpt").read_bytes(), 8) == (2,)
    rc, _, err = run_sm("run", work.cfg["level"], "--output", out, "--resume", "--quiet")
    assert rc == 0, err
    finished_cleanly(out)
    assert_identical(out, work.reference("level"))


@pytest.fixture(scope="module")
def interrupted_cage(work):
    """The same of a cage run."""
    return interrupt_once(work, "cage")


def test_cage_checkpoint_site_records(work, interrupted_cage, tmp_path):
    """Every per-site array of a cage run is a site record (so that the blocks
    of a split lattice write and read their own): phase, the int16 z jump
    counts and the uint16 kinetic stamps beside level and sigma. A flipped
    value of either is refused by its record's checksum; the same state as a
    format-2 file (plain records) resumes to the uninterrupted run's file."""
    out = tmp_path / "r.h5"
    place(interrupted_cage, out)
    sites = {r[0]: r[4] - r[3] for r in ckpt_records(side(out, ".ckpt").read_bytes()) if r[1]}
    n = 32 * 32
    assert sites == {"sim.level": n, "sim.sigma": n, "sim.phase": n, "sim.zjumps": 2 * n, "kin.stamp": 2 * n}
    for name in ("sim.zjumps", "kin.stamp"):
        place(interrupted_cage, out)
        flip_site(name, 301)(out)
        rc, _, err = run_sm("run", work.cfg["cage"], "--output", out, "--resume", "--quiet")
        assert rc == 1 and f"checkpoint is damaged (record {name}: checksum mismatch)" in one_line(err), err
    place(interrupted_cage, out)
    as_format_2(side(out, ".ckpt"))
    rc, _, err = run_sm("run", work.cfg["cage"], "--output", out, "--resume", "--quiet")
    assert rc == 0, err
    finished_cleanly(out)
    assert_identical(out, work.reference("cage"))


# A partial file that does not match its checkpoint is rebuilt (the run
# recomputed from sweep 0 to the checkpoint into a new file), never refused
# and never carried into the result.
REBUILT = [
    ("no_partial", remove(".partial"), "r.h5.partial: no partial output"),
    ("partial_empty", truncate(".partial", 0), "r.h5.partial: cannot read the partial output"),
    ("partial_truncated", truncate(".partial", -1), "r.h5.partial"),
    ("partial_short_series", shorten_series, "/observables/energy/value has 1 rows"),
    ("partial_of_other_config", foreign_partial, "r.h5.partial: /"),
]


@pytest.mark.parametrize("damage,msg", [b[1:] for b in REBUILT], ids=[b[0] for b in REBUILT])
def test_unverifiable_partial_is_rebuilt(work, interrupted, tmp_path, damage, msg):
    out = tmp_path / "r.h5"
    place(interrupted, out)
    damage(out)
    rc, _, err = run_sm("run", work.cfg["level"], "--output", out, "--resume", "--quiet")
    assert rc == 0, err
    line = one_line(err)
    assert msg in line and "rebuilding it: sweeps 0 to " in line, line
    finished_cleanly(out)
    assert_identical(out, work.reference("level"))


def test_resume_of_a_finished_run_with_overwrite(work, interrupted, tmp_path):
    # --overwrite lets a resumed run replace <out>, at its end only
    out = tmp_path / "r.h5"
    place(interrupted, out)
    out.write_bytes(b"an older result")
    rc, _, err = run_sm("run", work.cfg["level"], "--output", out, "--resume", "--overwrite", "--quiet")
    assert rc == 0, err
    finished_cleanly(out)
    assert_identical(out, work.reference("level"))


# --- 5. a full disk while checkpointing --------------------------------------------------

def big_config(d):
    """The checkpoint (level and sigma, 2 bytes a site: ~1.2 MB) is twice the
    partial output (~0.5 MB, few rows): a write limit between the two fails
    the checkpoint and nothing else."""
    c = small_config(d / "big.unused.h5", lattice={"Lx": 768, "Ly": 768, "boundary": "periodic"},
                     run={"seed": 3, "equilibration_sweeps": 0, "sweeps": 200, "measure_every": 5,
                          "checkpoint_every": 10},
                     output={"path": str(d / "big.unused.h5")})
    return write_config(d / "big.json", c)


@pytest.fixture(scope="module")
def big(work):
    cfg = big_config(work.dir)
    ref = work.dir / "big_ref.h5"
    rc, _, err = run_sm("run", cfg, "--output", ref, "--quiet")
    assert rc == 0, err
    return cfg, ref


def interrupt_early(cfg, out):
    p = start(cfg, out)
    wait_for_ckpt(p, out, 1)
    rc, err = stop(p, signal.SIGTERM)
    assert rc == 143, err
    ckpt = side(out, ".ckpt").read_bytes()
    assert len(ckpt) > 900_000 and side(out, ".partial").stat().st_size < 600_000
    return ckpt


def assert_failed_checkpoint_kept_old(out, rc, err, ckpt, cause):
    line = one_line(err)
    assert rc == 1 and f"{out}.ckpt.tmp: cannot write checkpoint: {cause}" in line, (rc, err)
    assert side(out, ".ckpt").read_bytes() == ckpt  # the previous checkpoint, untouched
    assert not side(out, ".ckpt.tmp").exists() and not out.exists()
    assert side(out, ".partial").exists()


def test_write_failure_while_checkpointing_keeps_previous_checkpoint(big, tmp_path):
    cfg, ref = big
    out = tmp_path / "r.h5"
    ckpt = interrupt_early(cfg, out)

    def limit():
        # write(2) past 768 KiB then fails with EFBIG instead of killing us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (768 << 10, 768 << 10))

    p = subprocess.run([str(BIN), "run", str(cfg), "--output", str(out), "--resume", "--quiet"],
                       capture_output=True, text=True, env=ENV, timeout=600, preexec_fn=limit)
    assert_failed_checkpoint_kept_old(out, p.returncode, p.stderr, ckpt, "File too large")
    rc, _, err = run_sm("run", cfg, "--output", out, "--resume", "--quiet")
    assert rc == 0, err
    finished_cleanly(out)
    assert_identical(out, ref)


@pytest.fixture
def small_fs(tmp_path):
    """A 4 MiB tmpfs (needs root and mount permission; skipped otherwise)."""
    yield from tmpfs(tmp_path, "fs", "4m")


def test_disk_full_while_checkpointing_keeps_previous_checkpoint(big, small_fs):
    cfg, ref = big
    out = small_fs / "r.h5"
    ckpt = interrupt_early(cfg, out)
    # leave room for the partial output's growth, not for a new checkpoint
    st = os.statvfs(small_fs)
    filler = small_fs / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - len(ckpt) // 2))
    rc, _, err = run_sm("run", cfg, "--output", out, "--resume", "--quiet")
    assert_failed_checkpoint_kept_old(out, rc, err, ckpt, "No space left on device")
    filler.unlink()
    rc, _, err = run_sm("run", cfg, "--output", out, "--resume", "--quiet")
    assert rc == 0, err
    finished_cleanly(out)
    assert_identical(out, ref)


# --- 6. a new run over a stale checkpoint -----------------------------------------

def test_new_run_refuses_stale_checkpoint(work, interrupted, tmp_path):
    out = tmp_path / "r.h5"
    place(interrupted, out)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    rc, _, err = run_sm("run", work.cfg["level"], "--output", out)
    line = one_line(err)
    assert rc == 2 and f"{out}.ckpt: checkpoint of an interrupted run exists" in line, line
    assert "--resume" in line and "--overwrite" in line
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_new_run_with_overwrite_discards_stale_checkpoint(work, interrupted, tmp_path):
    """--overwrite starts afresh; the stale checkpoint, and a .tmp that a
    kill during a checkpoint write left, are gone at the end even though this
    run (no periodic checkpoints) never writes one of its own."""
    out = tmp_path / "r.h5"
    place(interrupted, out)
    side(out, ".ckpt.tmp").write_bytes(b"left by a kill during a checkpoint write")
    rc, _, err = run_sm("run", work.cfg["level"], "--output", out, "--overwrite", "--quiet",
                        "--set", "run.checkpoint_every=0")
    assert rc == 0, err
    finished_cleanly(out)
    assert_identical(out, work.reference("level"), attributes=False)


def test_stale_checkpoint_is_gone_once_a_new_run_starts(work, interrupted, tmp_path):
    """A new run killed before its first checkpoint must not leave the old
    run's checkpoint beside its own .partial, where --resume would mix them."""
    out = tmp_path / "r.h5"
    place(interrupted, out)
    extra = ["--set", "run.checkpoint_every=0"]  # no checkpoint of its own for 300 s
    p = start(work.cfg["level"], out, "--overwrite", *extra)
    wait_for(p, lambda: not side(out, ".ckpt").exists(), "the stale checkpoint to be removed")
    p.kill()
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL
    rc, _, err = run_sm("run", work.cfg["level"], "--output", out, "--resume", *extra)
    assert rc == 2 and "r.h5.ckpt: no checkpoint to resume from" in one_line(err)
    assert side(out, ".partial").exists() and not out.exists()


# --- 7. snapshot frames of several chunks, copied as stored ----------------------------

CHUNKS = {"level": 1, "sigma": 1, "pcp": 2}   # chunks of a frame of each field below


def chunked_config(d, compression):
    """1024 x 352 sites: a frame of pcp (12 bytes a site, 4.3 MB) is stored
    in strips of 341 rows, two chunks (the second holds 11 rows), a frame of
    level or sigma in one chunk. A snapshot every 12 sweeps, a checkpoint
    every 25: a stop after the first checkpoint keeps two frames or more.
    Half a second of run."""
    out = d / f"chunked{compression}.unused.h5"
    c = small_config(out, lattice={"Lx": 1024, "Ly": 352, "boundary": "periodic"},
                     run={"seed": 11, "equilibration_sweeps": 0, "sweeps": 84, "measure_every": 5,
                          "snapshot_every": 12, "checkpoint_every": 25},
                     output={"path": str(out), "compression": compression, "snapshot_fields": list(CHUNKS)})
    return write_config(d / f"chunked{compression}.json", c)


def chunked_run(work, compression):
    """(config, uninterrupted output, {.ckpt, .partial} of the run stopped
    after its first checkpoint, frames each field had then), made once."""
    cache = work.__dict__.setdefault("chunked", {})
    if compression not in cache:
        cfg = chunked_config(work.dir, compression)
        ref = work.dir / f"chunked{compression}_ref.h5"
        rc, _, err = run_sm("run", cfg, "--output", ref, "--quiet")
        assert rc == 0, err
        out = work.dir / f"chunked{compression}" / "r.h5"
        out.parent.mkdir()
        p = start(cfg, out)
        wait_for_ckpt(p, out, 25)
        rc, err = stop(p, signal.SIGTERM)
        assert rc == 143, err
        with h5py.File(ref, "r") as f:
            frames = int(np.sum(f["snapshots/pcp/step"][()] <= ckpt_step(out)))
        assert frames >= 1
        cache[compression] = cfg, ref, {s: side(out, s).read_bytes() for s in (".ckpt", ".partial")}, frames
    return cache[compression]


def resume_counting(cfg, out):
    """--resume, which must verify the partial file, not rebuild it: (chunks
    copied as stored, frames decoded and encoded again)."""
    p = subprocess.run([str(BIN), "run", str(cfg), "--output", str(out), "--resume", "--quiet"],
                       capture_output=True, text=True, timeout=600,
                       env=dict(ENV, SOFTMATRIX_RESUME_VERBOSE="1"))
    assert p.returncode == 0 and "rebuilding" not in p.stderr, p.stderr
    m = re.search(r"\.partial: (\d+) snapshot chunks copied as stored, (\d+) frames decoded and encoded again",
                  p.stderr)
    assert m, p.stderr
    finished_cleanly(out)
    return int(m[1]), int(m[2])


def same_h5(a, b):
    """h5diff finds no difference in any object or attribute, but the
    wall-clock /summary/timing and the /xdmf views of the snapshots (slow
    to read, and nothing but the frames compared already)."""
    p = subprocess.run(["h5diff", "--exclude-path", "/summary/timing", "--exclude-path", "/xdmf", str(a), str(b)],
                       capture_output=True, text=True)
    assert p.returncode in (0, 1), p.stderr
    return p.returncode == 0, p.stdout[-1500:]


def stored_chunks(path, frame):
    """(offset, filter mask, bytes as stored) of each chunk of a pcp frame."""
    with h5py.File(path, "r") as f:
        d = f["snapshots/pcp/value"]
        offsets = [(frame, y, 0, 0) for y in range(0, d.shape[1], d.chunks[1])]
        return [(o, *d.id.read_direct_chunk(o)) for o in offsets]


@pytest.mark.parametrize("compression", [0, 1], ids=["uncompressed", "compressed"])
def test_frames_of_several_chunks_are_copied_as_stored(work, tmp_path, compression):
    """Every kept frame goes over a chunk at a time, none decoded and encoded
    again; the result equals the uninterrupted run's bit for bit, its pcp
    chunks byte for byte as stored."""
    cfg, ref, files, frames = chunked_run(work, compression)
    out = tmp_path / "r.h5"
    place(files, out)
    assert resume_counting(cfg, out) == (frames * sum(CHUNKS.values()), 0)
    same, diff = same_h5(out, ref)
    assert same, diff
    with h5py.File(out, "r") as f:
        assert f["snapshots/pcp/value"].shape == (84 // 12, 352, 1024, 3)
    for frame in range(frames):
        assert stored_chunks(out, frame) == stored_chunks(ref, frame)


def test_chunks_stored_without_their_filters_keep_their_mask(work, tmp_path):
    """Chunks that their writer stored with the filters skipped (the mask
    HDF5 records when an optional filter fails) are copied with that mask,
    and the resumed file decodes them as the partial file did: here the
    level frame's one chunk and the pcp frame's last, an edge chunk that
    holds 11 rows of its 341 (HDF5 1.10 mistook the mask of the chunk it
    had written last)."""
    cfg, ref, files, frames = chunked_run(work, 1)
    out = tmp_path / "r.h5"
    place(files, out)
    plain = {}
    with h5py.File(side(out, ".partial"), "r+") as f:
        for name, y in (("level", 0), ("pcp", 341)):
            d = f[f"snapshots/{name}/value"]
            chunk = np.zeros((1, *d.chunks[1:]), d.dtype)   # rows past the frame: never read
            chunk[:, :d.shape[1] - y] = d[0:1, y:y + d.chunks[1]]
            offset = (0, y, 0, 0)[:d.ndim]
            plain[name] = offset, chunk.tobytes()
            d.id.write_direct_chunk(offset, plain[name][1], filter_mask=0b11)   # shuffle and deflate skipped
    with h5py.File(side(out, ".partial"), "r") as f, h5py.File(ref, "r") as r:
        for name in plain:
            assert np.array_equal(f[f"snapshots/{name}/value"][0], r[f"snapshots/{name}/value"][0])
    assert resume_counting(cfg, out) == (frames * sum(CHUNKS.values()), 0)
    with h5py.File(out, "r") as f:
        for name, (offset, data) in plain.items():
            assert f[f"snapshots/{name}/value"].id.read_direct_chunk(offset) == (0b11, data), name
    same, diff = same_h5(out, ref)
    assert same, diff


def test_frames_stored_otherwise_are_copied_frame_by_frame(work, tmp_path):
    """A partial file whose pcp frames another writer chunked otherwise (here
    strips of 64 rows, compressed): those are decoded and encoded again, the
    others still copied as stored; the result is the same."""
    cfg, ref, files, frames = chunked_run(work, 0)
    out = tmp_path / "r.h5"
    place(files, out)
    with h5py.File(side(out, ".partial"), "r+") as f:
        values = f["snapshots/pcp/value"][()]
        del f["snapshots/pcp/value"]
        f.create_dataset("snapshots/pcp/value", data=values, maxshape=(None, 352, 1024, 3),
                         chunks=(1, 64, 1024, 3), compression="gzip")
    assert resume_counting(cfg, out) == (frames * (CHUNKS["level"] + CHUNKS["sigma"]), frames)
    same, diff = same_h5(out, ref)
    assert same, diff
