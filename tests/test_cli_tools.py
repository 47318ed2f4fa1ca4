"""The command line as a tool among others: progress lines in a batch job's
log, "did you mean" for mistyped keys, subcommands and options, a warning
for more threads than cores, and bash completion."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, ROOT, run_sm, small_config, write_config

COMPLETION = ROOT / "scripts" / "softmatrix.bash-completion"
LINE = re.compile(r"^  sweep (\d+)/(\d+) \( *[0-9.]+%\)  T=\S+ +\S+ sweeps/s +\S+ site-updates/s  "
                  r"elapsed \S+  ETA \S+$")


def progress_lines(err):
    return [l for l in err.splitlines() if l.startswith("  sweep ")]


# long enough for several lines at 0.05 s even with the vector kernel
# (a 32x32 sweep takes about 30 us)
LOGGED_SWEEPS = 30000


def run_logged(tmp_path, *args, seconds="0.05", sweeps=LOGGED_SWEEPS):
    """A run whose stderr is a pipe (as in a batch job), lines every `seconds`."""
    out = tmp_path / "r.h5"
    cfg = write_config(tmp_path / "c.json", small_config(
        out, lattice={"Lx": 32, "Ly": 32}, run={"sweeps": sweeps, "equilibration_sweeps": 0}))
    env = {**os.environ, "SOFTMATRIX_PROGRESS_SECONDS": seconds}
    return run_sm("run", cfg, "--overwrite", *args, env=env)


def test_progress_lines_when_stderr_is_not_a_terminal(sm_bin, tmp_path):
    rc, _, err = run_logged(tmp_path)
    assert rc == 0, err
    assert "\r" not in err
    lines = progress_lines(err)
    assert len(lines) >= 3, err
    done = [int(LINE.match(l).group(1)) for l in lines]
    assert done == sorted(done) and done[-1] == LOGGED_SWEEPS
    assert all(LINE.match(l).group(2) == str(LOGGED_SWEEPS) for l in lines)


def test_progress_default_interval_is_about_ten_seconds(sm_bin, tmp_path):
    """A short run logs only its final line."""
    out = tmp_path / "r.h5"
    cfg = write_config(tmp_path / "c.json", small_config(out))
    env = {k: v for k, v in os.environ.items() if k != "SOFTMATRIX_PROGRESS_SECONDS"}
    rc, _, err = run_sm("run", cfg, env=env)
    assert rc == 0, err
    assert len(progress_lines(err)) == 1 and "210/210 (100.0%)" in err


@pytest.mark.parametrize("args,shown", [([], True), (["--quiet"], False),
                                         (["--progress", "never"], False),
                                         (["--quiet", "--progress", "always"], True),
                                         (["--progress", "auto", "--quiet"], False)])
def test_progress_modes(sm_bin, tmp_path, args, shown):
    rc, _, err = run_logged(tmp_path, *args, sweeps=300)
    assert rc == 0, err
    assert bool(progress_lines(err)) == shown, err


def test_progress_bad_mode(sm_bin, tmp_path):
    rc, _, err = run_logged(tmp_path, "--progress", "sometimes")
    assert rc == 2 and "--progress: must be auto, always or never (got sometimes)" in err
    rc, _, err = run_sm("sweep", tmp_path / "x.json", "--progress", "loud")
    assert rc == 2 and "--progress: must be auto, always or never" in err


def test_sweep_progress_modes(sm_bin, tmp_path):
    cfg = small_config(tmp_path / "s", run={"sweeps": 20, "equilibration_sweeps": 0})
    cfg["sweep"] = {"mode": "product", "keys": {"temperature": [1.0, 2.0]}}
    path = write_config(tmp_path / "s.json", cfg)
    rc, _, err = run_sm("sweep", path, "--progress", "never")
    assert rc == 0 and "/2 points done" not in err and "2 points done (2 run" in err, err
    rc, _, err = run_sm("sweep", path, "--quiet", "--progress", "always", "--overwrite")
    assert rc == 0 and "2/2 points done" in err, err


# --- did you mean -------------------------------------------------------------

@pytest.mark.parametrize("text,msg", [
    ('{"temperature": 1, "model": {"eps_c": 2}}', "model.eps_c: unknown key; did you mean 'model.eps_C'?"),
    ('{"temperature": 1, "modle": {}}', "modle: unknown key; did you mean 'model'?"),
    ('{"tempreature": 1}', "tempreature: unknown key; did you mean 'temperature'?"),
    ('{"temperature": 1, "run": {"boundary": "open"}}', "did you mean 'lattice.boundary'?"),
    ('{"schedule": [{"T": 1, "sweps": 3}]}', "schedule[0].sweps: unknown key; did you mean 'sweeps'?"),
    ('{"temperature": 1, "lattice": {"Lz": 3}}', "did you mean 'lattice.Lx'?"),
    ('{"temperature": 1, "model": {"xyzzy": 3}}', "model.xyzzy: unknown key (allowed in model:"),
])
def test_unknown_key_suggestions(sm_bin, tmp_path, text, msg):
    (tmp_path / "c.json").write_text(text)
    rc, _, err = run_sm("validate", tmp_path / "c.json")
    assert rc == 2 and msg in err, err
    assert len(err.strip().splitlines()) == 1


def test_set_and_sweep_key_suggestions(sm_bin, tmp_path):
    cfg = write_config(tmp_path / "c.json", small_config(tmp_path / "r.h5"))
    rc, _, err = run_sm("validate", cfg, "--set", "run.sweps=3")
    assert rc == 2 and "run.sweps: unknown key; did you mean 'run.sweeps'?" in err
    s = small_config(tmp_path / "s")
    s["sweep"] = {"keys": {"model.j": [1, 2]}}
    rc, _, err = run_sm("sweep", write_config(tmp_path / "s.json", s))
    assert rc == 2 and "sweep.keys.model.j: unknown key path; did you mean 'model.J'?" in err


@pytest.mark.parametrize("args,msg", [
    (["rn"], "unknown command 'rn'; did you mean 'run'?"),
    (["swep"], "unknown command 'swep'; did you mean 'sweep'?"),
    (["--verison"], "unknown command '--verison'; did you mean '--version'?"),
    (["frobnicate"], "unknown command 'frobnicate' (see 'softmatrix --help')"),
    (["run", "c.json", "--overwirte"], "unrecognized option '--overwirte'; did you mean '--overwrite'?"),
    (["validate", "c.json", "--sett", "x=1"], "unrecognized option '--sett'; did you mean '--set'?"),
    (["sweep", "c.json", "--lsit"], "softmatrix sweep: unrecognized option '--lsit'; did you mean '--list'?"),
    (["run", "c.json", "--frobnicate"], "unrecognized option '--frobnicate' (see"),
])
def test_command_and_option_suggestions(sm_bin, args, msg):
    rc, _, err = run_sm(*args)
    assert rc == 2 and msg in err, err


def test_edit_distance_counts_a_swap_once(sm_bin, tmp_path):
    (tmp_path / "c.json").write_text('{"temperature": 1, "output": {"compresison": 3}}')
    rc, _, err = run_sm("validate", tmp_path / "c.json")
    assert "did you mean 'output.compression'?" in err


# --- threads ------------------------------------------------------------------

def available_cores():
    return len(os.sched_getaffinity(0))


def test_threads_beyond_the_cores_warn(sm_bin, tmp_path):
    n = available_cores() + 1
    cfg = write_config(tmp_path / "c.json", small_config(tmp_path / "r.h5", run={"sweeps": 5}))
    rc, _, err = run_sm("run", cfg, "--threads", n, "--progress", "never")
    assert rc == 0, err
    assert (f"warning: --threads {n} exceeds the {available_cores()} available core" in err), err
    rc, _, err = run_sm("run", cfg, "--threads", n, "--quiet", "--overwrite")
    assert rc == 0 and "warning" not in err
    rc, _, err = run_sm("run", cfg, "--set", f"run.threads={n}", "--overwrite", "--progress", "never")
    assert rc == 0 and f"warning: run.threads {n} exceeds" in err, err
    rc, _, err = run_sm("run", cfg, "--threads", 1, "--overwrite", "--progress", "never")
    assert rc == 0 and "warning" not in err, err
    rc, _, err = run_sm("sweep", tmp_path / "missing.json", "--threads", n)
    assert f"warning: --threads {n} exceeds" in err


# --- bash completion ----------------------------------------------------------

def complete(*words):
    """COMPREPLY of the completion function for the command line words
    (the last one being completed), with the built binary as softmatrix."""
    words = [str(BIN), *words]
    script = (f"source {COMPLETION}\nCOMP_WORDS=({' '.join(repr(w) for w in words)})\n"
              f"COMP_CWORD={len(words) - 1}\n_softmatrix\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode == 0, p.stderr
    return [l for l in p.stdout.splitlines() if l]


def script_options(cmd):
    p = subprocess.run(["bash", "-c", f"source {COMPLETION}; _softmatrix_options {cmd}"],
                       capture_output=True, text=True)
    return p.stdout.split()


def test_completion_knows_every_subcommand(sm_bin):
    _, usage, _ = run_sm("--help")
    commands = re.findall(r"^  softmatrix (\w+) ", usage, re.M)
    assert set(complete("")) == set(commands) | {"--help", "--version"}
    assert complete("sw") == ["sweep"]


def test_completion_options_match_the_binary(sm_bin, tmp_path):
    """Every option the usage text names is completed, and every completed
    option is one the subcommand accepts."""
    _, usage, _ = run_sm("--help")
    for cmd in ["run", "validate", "sweep", "merge", "constants", "table1"]:
        synopsis = usage.split(f"softmatrix {cmd} ", 1)[1].split("\n  softmatrix ", 1)[0]
        named = set(re.findall(r"--[a-z-]+", synopsis.split("\n      ")[0] + synopsis))
        offered = set(script_options(cmd))
        assert named - {"--help"} <= offered, (cmd, named - offered)
        for opt in offered - {"--help"}:
            _, _, err = run_sm(cmd, opt, "x")
            assert "unrecognized option" not in err and "unknown" not in err.split(":")[0], (cmd, opt, err)


def test_completion_of_keys_files_and_values(sm_bin):
    keys = complete("run", "c.json", "--set", "lattice.L")
    assert keys == ["lattice.Lx=", "lattice.Ly="]
    _, listed, _ = run_sm("--list-keys")
    assert len(complete("run", "c.json", "--set", "")) == len(listed.split())
    assert complete("run", "c.json", "--progress", "a") == ["auto", "always"]
    assert "configs/sweep_T.json" in complete("sweep", "configs/sweep")
    assert complete("doc", "o") == ["output"]
    assert "--threads-per-point" in complete("sweep", "c.json", "--thr")
