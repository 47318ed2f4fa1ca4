"""The files around an output: odd things where softmatrix keeps its
checkpoint, lock and partial files, a rebuild that is interrupted, the size
limit on configurations, escaped bytes in messages, and a sweep listing that
streams (docs/running.md, docs/reliability.md)."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, run_sm as _run_sm, small_config, write_config
from conftest import one_line

ENV = dict(os.environ, OMP_WAIT_POLICY="passive")


def run_sm(*args, **kw):
    return _run_sm(*args, env=ENV, **kw)


def run_bytes(*args, data=None):
    """softmatrix with arguments as bytes and data (if any) through a pipe on
    its standard input; (exit code, stderr bytes)."""
    p = subprocess.Popen([os.fsencode(str(BIN)), *args], stdin=subprocess.PIPE if data else None,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    _, err = p.communicate(data, timeout=120)  # (a refusal closes the pipe early)
    return p.returncode, err


def config(tmp_path, **run):
    r = {"seed": 3, "equilibration_sweeps": 10, "sweeps": 400, "measure_every": 1,
         "checkpoint_every": 50, "census_every": 20}
    r.update(run)
    return write_config(tmp_path / "c.json", small_config(tmp_path / "unused.h5", run=r))


# --- odd things at the paths softmatrix uses -----------------------------------------

@pytest.mark.parametrize("suffix,what", [(".ckpt", "the checkpoint"),
                                         (".ckpt.tmp", "a checkpoint being written"),
                                         (".partial", "the output while it is written"),
                                         (".lock", "the output's lock")])
@pytest.mark.parametrize("extra", [[], ["--overwrite"], ["--resume"]], ids=["new", "overwrite", "resume"])
def test_a_directory_where_a_file_belongs(sm_bin, tmp_path, suffix, what, extra):
    """Reported as what it is (a directory at the checkpoint's path is not an
    interrupted run), before anything is written."""
    cfg = config(tmp_path)
    out = tmp_path / "r.h5"
    odd = Path(f"{out}{suffix}")
    odd.mkdir()
    if suffix != ".ckpt" and extra == ["--resume"]:
        Path(f"{out}.ckpt").write_bytes(b"")  # so that --resume gets that far
    before = sorted(p.name for p in tmp_path.iterdir())
    rc, _, err = run_sm("run", cfg, "--output", out, "--quiet", *extra)
    line = one_line(err)
    assert rc == 2 and f"{odd}: is a directory, where softmatrix keeps {what}; remove or rename it" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_interrupted_rebuild_changes_nothing(sm_bin, tmp_path):
    """A stop while a damaged partial file is being rebuilt leaves the
    checkpoint and the old partial file as they were (the new one goes);
    the next --resume rebuilds again and completes."""
    cfg = config(tmp_path, sweeps=16000, checkpoint_every=8000)
    ref = tmp_path / "ref.h5"
    assert run_sm("run", cfg, "--output", ref, "--quiet", "--threads", 1)[0] == 0
    out = tmp_path / "r.h5"
    ckpt, partial = Path(f"{out}.ckpt"), Path(f"{out}.partial")
    p = subprocess.Popen([str(BIN), "run", str(cfg), "--output", str(out), "--quiet", "--threads", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    while not ckpt.exists() and p.poll() is None:
        time.sleep(0.005)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=120) == 143
    partial.write_bytes(partial.read_bytes()[:4096])  # cut short, as by a full disk
    before = {f: Path(f).read_bytes() for f in (ckpt, partial)}
    p = subprocess.Popen([str(BIN), "run", str(cfg), "--output", str(out), "--resume", "--threads", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    new = Path(f"{out}.partial.new")
    while not new.exists() and p.poll() is None:
        time.sleep(0.002)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "rebuilding it" in err and "while rebuilding the partial output (the checkpoint at sweep" in err
    assert {f: Path(f).read_bytes() for f in (ckpt, partial)} == before
    assert not new.exists() and not out.exists()
    rc, _, err = run_sm("run", cfg, "--output", out, "--resume", "--quiet")
    assert rc == 0, err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("r.h5")) == ["r.h5"]
    import test_faults
    assert test_faults.identical(out, ref)


def test_stale_rebuild_file_is_removed(sm_bin, tmp_path):
    cfg = config(tmp_path)
    out = tmp_path / "r.h5"
    Path(f"{out}.partial.new").write_bytes(b"left by a kill during a rebuild")
    rc, _, err = run_sm("run", cfg, "--output", out, "--quiet")
    assert rc == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "r.h5"]


# --- bounded inputs, escaped messages --------------------------------------------------

@pytest.mark.parametrize("cmd", ["run", "validate", "sweep"])
def test_large_config_is_refused_before_parsing(sm_bin, tmp_path, cmd):
    """Parsing takes about 40 times a JSON array's size in memory: the size
    is checked first."""
    big = tmp_path / "big.json"
    big.write_text("[" + ",".join(["0"] * (3 << 20)) + "]")
    t0 = time.monotonic()
    rc, _, err = run_sm(cmd, big)
    assert rc == 2 and f"{big}: {big.stat().st_size} bytes, larger than the 4 MiB a configuration may have" \
        in one_line(err), err
    # a pipe has no size: it is read up to the limit
    rc, err = run_bytes(cmd.encode(), b"/dev/stdin", data=big.read_bytes())
    assert rc == 2 and b"/dev/stdin: larger than the 4 MiB a configuration may have" in err, err
    assert time.monotonic() - t0 < 10
    assert not (tmp_path / "softmatrix").exists()


def test_bytes_that_are_not_utf8_are_escaped(sm_bin, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_bytes(b'{"temperature": 1, "model": {"g\xff\xfex": 2, "h": 0}}')
    rc, err = run_bytes(b"validate", os.fsencode(cfg))
    line = one_line(err.decode("utf-8"))  # strictly: valid UTF-8
    assert rc == 2 and "model.g\\xff\\xfex: unknown key" in line, line
    # a file name and a --set value with invalid bytes and a control character
    odd = os.fsencode(tmp_path) + b"/caf\xe9\x01.json"
    rc, err = run_bytes(b"run", odd)
    line = one_line(err.decode("utf-8"))
    assert rc == 2 and "caf\\xe9\\x01.json: cannot open" in line, line
    rc, err = run_bytes(b"validate", os.fsencode(cfg), b"--set", b"model.g\xc3(=1")
    assert rc == 2 and err.decode("utf-8").count("\n") == 1, err
    rc, err = run_bytes(b"run", b"--threads", b"\xff\n2", os.fsencode(cfg))
    assert rc == 2 and "(got \\xff\\x0a2)" in err.decode("utf-8"), err
    rc, err = run_bytes(b"merge", b"o.h5", b"--\xff")
    assert rc == 2 and "unknown option --\\xff" in err.decode("utf-8"), err
    # valid UTF-8 stays as it is
    rc, err = run_bytes(b"run", os.fsencode(tmp_path) + "/größe.json".encode())
    assert rc == 2 and "größe.json: cannot open" in err.decode("utf-8"), err


def test_sweep_listing_streams(sm_bin, tmp_path):
    """A listing of 10^6 points starts at once and needs no memory per
    point; a bad point stops it with the points before it listed."""
    cfg = small_config(tmp_path / "out.h5")
    cfg["sweep"] = {"keys": {"temperature": {"start": 0.5, "stop": 5, "num": 1000},
                             "model.g": {"start": 1, "stop": 5, "num": 1000}}}
    path = write_config(tmp_path / "s.json", cfg)
    p = subprocess.Popen([str(BIN), "sweep", str(path), "--list"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ENV)
    t0 = time.monotonic()
    first = p.stdout.readline()
    elapsed = time.monotonic() - t0
    p.kill()
    p.communicate()
    assert first.startswith(b"0\t") and b"temperature=0.5\tmodel.g=1" in first, first
    assert elapsed < 5, elapsed
    cfg["sweep"] = {"keys": {"model.g": [1, 2, -3, 4]}}
    path = write_config(tmp_path / "s.json", cfg)
    rc, out, err = run_sm("sweep", path, "--list")
    assert rc == 2 and "sweep.keys.model.g: point 2 (model.g=-3)" in one_line(err), err
    assert [l.split("\t")[0] for l in out.splitlines()] == ["0", "1"]
