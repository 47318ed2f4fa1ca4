"""Robustness: a catalogue of bad inputs, I/O faults, the fuzz
regressions and thread-count determinism.

Every bad input must give exactly one line on stderr that names the file (or
the output path), the documented exit code (2: usage/config, 1: runtime) and
leave neither <path> nor <path>.partial behind. test_cli.py already covers the
basic config error paths; the cases here extend them and are not repeated
there. The suite also runs against the sanitized build (make test-sanitize,
SOFTMATRIX_BIN=build-san/softmatrix), where any ASan/UBSan report fails it."""
import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import BIN, tmpfs, ROOT, run_sm, small_config, write_config
from conftest import one_line

FUZZ_REGRESSIONS = ROOT / "tests" / "fuzz" / "regressions"


def assert_no_output(out):
    out = Path(out)
    assert not out.exists(), out
    assert not Path(str(out) + ".partial").exists(), out


def run_bad(tmp_path, text, *extra, binary=False):
    """Runs `softmatrix run` on a config file holding text; returns (rc, line)."""
    cfg = tmp_path / "bad.json"
    if binary:
        cfg.write_bytes(text)
    else:
        cfg.write_text(text)
    out = tmp_path / "never.h5"
    rc, _, err = run_sm("run", cfg, "--output", out, "--quiet", *extra)
    line = one_line(err)
    assert_no_output(out)
    return rc, line


# --- malformed JSON ---------------------------------------------------------

MALFORMED = [
    ("truncated", b'{"temperature": 1, "lattice": {"Lx": 8', "malformed JSON at line 1"),
    ("truncated_multiline", b'{\n  "temperature": 1,\n  "lattice": {\n', "malformed JSON at line 4"),
    ("empty", b"", "malformed JSON at line 1, column 1"),
    ("whitespace", b"  \n\t\n", "malformed JSON"),
    ("garbage_no_nul", bytes(range(0x80, 0x100)) * 4, "malformed JSON"),
    ("garbage_with_nul", bytes(range(256)) * 4, "contains a NUL byte"),
    ("nul_after_object", b'{"temperature": 1}\x00{"x": 2}', "contains a NUL byte"),
    ("trailing_text", b'{"temperature": 1} {"temperature": 2}', "malformed JSON"),
    ("bare_string", b'"temperature"', "must be a JSON object"),
    ("bare_null", b"null", "must be a JSON object"),
    ("single_quotes", b"{'temperature': 1}", "malformed JSON"),
    ("comment", b'{"temperature": 1 /* hot */}', "malformed JSON"),
    ("nan_literal", b'{"temperature": NaN}', "malformed JSON"),
    # cJSON refuses nesting beyond 1000 levels instead of recursing on
    ("deep_nesting", b'{"description": ' + b"[" * 100000 + b"]" * 100000 + b"}",
     "malformed JSON"),
]


@pytest.mark.parametrize("text,msg", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_json(sm_bin, tmp_path, text, msg):
    rc, line = run_bad(tmp_path, text, binary=True)
    assert rc == 2 and "bad.json" in line and msg in line, line


def test_utf8_bom_is_accepted(sm_bin, tmp_path):
    # editors on Windows add one; cJSON skips it
    cfg = tmp_path / "bom.json"
    cfg.write_bytes(b'\xef\xbb\xbf{"temperature": 1.5}')
    rc, out, err = run_sm("validate", cfg)
    assert rc == 0 and json.loads(out)["temperature"] == 1.5, err


def test_nesting_within_limit_is_a_type_error(sm_bin, tmp_path):
    rc, line = run_bad(tmp_path, '{"temperature": 1, "description": ' + "[" * 500 + "]" * 500 + "}")
    assert rc == 2 and "description: must be a string" in line


def test_directory_as_config(sm_bin, tmp_path):
    d = tmp_path / "conf.json"
    d.mkdir()
    rc, _, err = run_sm("run", d, "--output", tmp_path / "o.h5")
    assert rc == 2 and "conf.json: is a directory" in one_line(err)
    assert_no_output(tmp_path / "o.h5")


def test_config_from_a_pipe_is_allowed(sm_bin, tmp_path):
    # process substitution hands a FIFO; only directories are refused
    r, w = os.pipe()
    os.write(w, json.dumps({"temperature": 1.25}).encode())
    os.close(w)
    p = subprocess.run([str(BIN), "validate", f"/dev/fd/{r}"], pass_fds=(r,),
                       capture_output=True, text=True, timeout=60)
    os.close(r)
    assert p.returncode == 0 and json.loads(p.stdout)["temperature"] == 1.25


# --- types, unknown and duplicate keys, huge numbers --------------------------

TYPES = [
    ('{"temperature": 1, "lattice": {"Lx": "8"}}', 'lattice.Lx: must be an integer in 1..65536 (got "8")'),
    ('{"temperature": 1, "lattice": [8, 8]}', "lattice: must be an object"),
    ('{"temperature": 1, "lattice": {"boundary": 1}}', "lattice.boundary: must be one of periodic|open (got 1)"),
    ('{"temperature": "1"}', 'temperature: must be a number > 0 (got "1")'),
    ('{"temperature": [1]}', "temperature: must be a number > 0 (got [1])"),
    ('{"temperature": true}', "temperature: must be a number > 0 (got true)"),
    ('{"temperature": null}', "temperature: must be a number > 0 (got null)"),
    ('{"temperature": 1, "run": {"seed": true}}', "run.seed: must be an integer in 0..9007199254740992 (got true)"),
    ('{"temperature": 1, "run": {"seed": -1}}', "run.seed: must be an integer in 0..9007199254740992"),
    ('{"temperature": 1, "run": {"seed": 9007199254740994}}', "run.seed: must be an integer in 0..9007199254740992"),
    ('{"temperature": 1, "run": {"threads": 4097}}', "run.threads: must be an integer in 0..4096"),
    ('{"schedule": {"T": 1, "sweeps": 3}}', "schedule: must be a list of 1..1024 segments"),
    ('{"schedule": [3]}', "schedule[0]: must be an object"),
    ('{"schedule": [{"T": 1, "T_from": 1, "T_to": 2, "sweeps": 3}]}', "schedule[0]: give either T or T_from"),
    ('{"schedule": [{"T": 1, "sweeps": 2.5}]}', "schedule[0].sweeps: must be an integer"),
    ('{"schedule": [{"T": 1, "sweeps": 3, "equilibration": -1}]}', "schedule[0].equilibration: must be an integer in 0.."),
    ('{"temperature": 1, "output": {"snapshot_fields": "level"}}', "output.snapshot_fields: must be a list"),
    ('{"temperature": 1, "output": {"path": 5}}', "output.path: must be a non-empty string (got 5)"),
    ('{"temperature": 1, "output": {"path": ""}}', 'output.path: must be a non-empty string (got "")'),
    ('{"temperature": 1, "description": 5}', "description: must be a string"),
    ('{"temperature": 1, "init": {"level": 0.5}}', "init.level: must be an integer in -1..8 (got 0.5)"),
    ('{"temperature": 1, "init": {"level": "random"}, "model": {"freeze_levels": true}}',
     "init.level: must be a fixed level with model.freeze_levels"),
    # duplicate keys: cJSON would keep the first and silently drop the second
    ('{"temperature": 1, "temperature": 2}', "temperature: key given twice"),
    ('{"temperature": 1, "model": {"g": 4, "g": 2}}', "model.g: key given twice"),
    ('{"schedule": [{"T": 1, "sweeps": 3, "T": 2}]}', "schedule[0].T: key given twice"),
    # a control character in a key must not split the one-line message
    ('{"temperature": 1, "model": {"g\\nx": 2}}', "model.g\\x0ax: unknown key"),
    ('{"temperature": 1, "Model": {}}', "Model: unknown key"),
    # huge numbers: 1e400 parses to inf, reported as such (cJSON prints it as null)
    ('{"temperature": 1e400}', "temperature: must be a number > 0 (got a number beyond the double range)"),
    ('{"temperature": 1, "lattice": {"Lx": 1e20}}', "lattice.Lx: must be an integer in 1..65536 (got 1e+20)"),
    ('{"temperature": 1, "model": {"J": -1e300}}', "model.J: must be a finite number"),
    ('{"temperature": 1e-400}', "temperature: must be a number > 0 (got 0)"),
    # 1024 segments of 2^53 sweeps each would overflow the 64-bit sweep counter
    ('{"schedule": [{"T": 1, "sweeps": 9007199254740992}, {"T": 2, "sweeps": 9007199254740992}]}',
     "schedule: the sweeps of all segments and equilibrations must add up to at most 2^53"),
    ('{"temperature": -1e400}', "temperature: must be a number > 0 (got a number beyond the double range)"),
    ('{"temperature": 1, "model": {"g": 1e-400}}', "model.g: must be a number > 0 (got 0)"),
    # out-of-range values in the file itself (test_cli.py has Lx 0 and 7, level 9, g -1)
    ('{"temperature": 1, "lattice": {"Lx": -2}}', "lattice.Lx: must be an integer in 1..65536 (got -2)"),
    ('{"temperature": 1, "lattice": {"Lx": 8, "Ly": 9, "boundary": "periodic"}}',
     "lattice.Ly: must be even with periodic boundaries (the checkerboard needs it), got 9"),
    ('{"temperature": 1, "lattice": {"Lx": 1, "Ly": 1}}', "lattice.Lx: must be even with periodic"),
    ('{"temperature": 1, "model": {"g": 0}}', "model.g: must be a number > 0 (got 0)"),
    ('{"temperature": 1, "init": {"level": -2}}', "init.level: must be an integer in -1..8 (got -2)"),
    # T <= 0 in any segment, at either end of a ramp
    ('{"schedule": [{"T_from": 0, "T_to": 1, "sweeps": 5}]}', "schedule[0].T_from: must be a number > 0 (got 0)"),
    ('{"schedule": [{"T": 1, "sweeps": 5}, {"T": -0.5, "sweeps": 5}]}',
     "schedule[1].T: must be a number > 0 (got -0.5)"),
    ('{"schedule": [{"T": 1, "sweeps": 5}, {"T_from": 1, "T_to": 1e999, "sweeps": 5}]}',
     "schedule[1].T_to: must be a number > 0 (got a number beyond the double range)"),
    # cJSON cuts a string at an escaped NUL: "temperature\u0000x" used to be
    # read as temperature and "cage\u0000x" as cage
    ('{"temperature\\u0000junk": 1}', "bad.json: line 1, column 14: a string holds \\u0000 (NUL)"),
    ('{"temperature": 1,\n "dynamics": {"kind": "cage\\u0000x"}}',
     "bad.json: line 2, column 28: a string holds \\u0000 (NUL)"),
    ('{"temperature": 1, "output": {"path": "r.h5\\u0000.txt"}}', "a string holds \\u0000 (NUL)"),
]


@pytest.mark.parametrize("text,msg", TYPES)
def test_wrong_types_and_values(sm_bin, tmp_path, text, msg):
    rc, line = run_bad(tmp_path, text)
    assert rc == 2 and "bad.json" in line and msg in line, line


# --- out-of-range values through --set ---------------------------------------

SETS = [
    ("lattice.Lx=-8", "lattice.Lx: must be an integer in 1..65536 (got -8)"),
    ("lattice.Ly=0", "lattice.Ly: must be an integer in 1..65536 (got 0)"),
    ("lattice.Ly=65537", "lattice.Ly: must be an integer in 1..65536 (got 65537)"),
    ("lattice.Ly=9", "lattice.Ly: must be even with periodic boundaries"),
    ("temperature=0", "temperature: must be a number > 0 (got 0)"),
    ("temperature=-0.0", "temperature: must be a number > 0"),
    ("temperature=-1e-9", "temperature: must be a number > 0"),
    ("temperature=NaN", 'temperature: must be a number > 0 (got "NaN")'),
    ("temperature=nan", 'temperature: must be a number > 0 (got "nan")'),
    ("temperature=Infinity", 'temperature: must be a number > 0 (got "Infinity")'),
    ("temperature=-Infinity", 'temperature: must be a number > 0 (got "-Infinity")'),
    ("temperature=1e999", "temperature: must be a number > 0 (got a number beyond the double range)"),
    ("temperature=inf", 'temperature: must be a number > 0 (got "inf")'),
    ('schedule=[{"T_from": 1, "T_to": 0, "sweeps": 5}]', "schedule[0].T_to: must be a number > 0 (got 0)"),
    ('schedule=[{"T": -1, "sweeps": 5}]', "schedule[0].T: must be a number > 0 (got -1)"),
    ("init.level=-2", "init.level: must be an integer in -1..8 (got -2)"),
    ("init.level=8.5", "init.level: must be an integer in -1..8 (got 8.5)"),
    ("init.level=NaN", 'init.level: must be an integer in -1..8 or "random" (got "NaN")'),
    ("model.g=0", "model.g: must be a number > 0 (got 0)"),
    ("model.g=-4", "model.g: must be a number > 0 (got -4)"),
    ("model.g=-0.0", "model.g: must be a number > 0"),
    ("model.g=Infinity", 'model.g: must be a number > 0 (got "Infinity")'),
    ("model.g=1e400", "model.g: must be a number > 0 (got a number beyond the double range)"),
    ("model.eps_C=NaN", 'model.eps_C: must be a finite number (got "NaN")'),
    ("model.Tg_over_Tm=1.5", "model.Tg_over_Tm: must be a number in 0..1"),
    ("model.N_c=0.5", "model.N_c: must be a number in 1.."),
    ("output.compression=-1", "output.compression: must be an integer in 0..9 (got -1)"),
    ("run.sweeps=0", "run.sweeps: must be an integer in 1.."),
    ("run.snapshot_every=-1", "run.snapshot_every: must be an integer in 0.."),
    ("lattice=5", "lattice: must be an object"),
    ("lattice.Lx.x=1", "--set lattice.Lx.x=1: Lx is not an object"),
    ("model.gee=1", "model.gee: unknown key"),
    ("=5", "--set =5: expected key.path=value"),
    ("temperature", "--set temperature: expected key.path=value"),
    (".=5", "--set .=5: empty key path"),
    ("model." + "x" * 300 + "=1", "key path too long"),
    ("lattice.Lx=7", "lattice.Lx: must be even with periodic boundaries"),
    ("init.level=9", "init.level: must be an integer in -1..8 (got 9)"),
    ("model.g=-Infinity", 'model.g: must be a number > 0 (got "-Infinity")'),
    ('schedule=[{"T": 1, "sweeps": 5}, {"T_from": 2, "T_to": -1, "sweeps": 5}]',
     "schedule[1].T_to: must be a number > 0 (got -1)"),
    # the whole value must be JSON, else it is a string: these used to be
    # read as their JSON prefix (g = 4, Lx = 8, T = 2) without a word
    ("model.g=4abc", 'model.g: must be a number > 0 (got "4abc")'),
    ("lattice.Lx=8 9", 'lattice.Lx: must be an integer in 1..65536 (got "8 9")'),
    ("temperature=2]", 'temperature: must be a number > 0 (got "2]")'),
    ('output.path="r\\u0000.h5"', "a string holds \\u0000 (NUL), which is not allowed"),
]


@pytest.mark.parametrize("setarg,msg", SETS)
def test_set_out_of_range(sm_bin, tmp_path, setarg, msg):
    out = tmp_path / "o.h5"
    cfg = write_config(tmp_path / "c.json", small_config(out))
    rc, _, err = run_sm("run", cfg, "--set", setarg, "--quiet")
    line = one_line(err)
    assert rc == 2 and "c.json" in line and msg in line, line
    assert_no_output(out)


USAGE = [
    (["--threads", "0"], "--threads: must be an integer in 1..4096 (got 0)"),
    (["--threads", "2x"], "--threads: must be an integer in 1..4096 (got 2x)"),
    (["--threads", "-1"], "--threads: must be an integer in 1..4096 (got -1)"),
    (["EXTRA"], "expected exactly one CONFIG file"),
    (["--set", "--quiet"], "--set --quiet: expected key.path=value"),
]
# options getopt refuses: it prints its own line ("run: unrecognized option
# '--frobnicate'") before softmatrix's ("softmatrix run: see 'softmatrix
# --help'"), two lines instead of one (src/main.c leaves opterr on)
GETOPT = [(["--frobnicate"], "unrecognized option '--frobnicate'"),
          (["--set"], "option '--set' requires an argument"),
          (["--threads"], "option '--threads' requires an argument")]


def run_usage(tmp_path, args):
    out = tmp_path / "o.h5"
    cfg = write_config(tmp_path / "c.json", small_config(out))
    rc, _, err = run_sm("run", cfg, "--quiet", *args)
    assert_no_output(out)
    return rc, err


@pytest.mark.parametrize("args,msg", USAGE, ids=lambda a: " ".join(a) if isinstance(a, list) else "")
def test_usage_errors(sm_bin, tmp_path, args, msg):
    rc, err = run_usage(tmp_path, args)
    line = one_line(err)
    assert rc == 2 and msg in line, line


@pytest.mark.parametrize("args,msg", GETOPT, ids=lambda a: " ".join(a) if isinstance(a, list) else "")
def test_getopt_errors(sm_bin, tmp_path, args, msg):
    rc, err = run_usage(tmp_path, args)
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2 and len(lines) == 1, err
    assert msg in lines[0] and "see 'softmatrix --help'" in lines[0], err


@pytest.mark.parametrize("args,msg", [
    (["--frobnicate"], "softmatrix sweep: unrecognized option '--frobnicate'"),
    (["--jobs"], "softmatrix sweep: option '--jobs' requires an argument"),
    (["--list", "--set", "sweep.keys.model.g=[3, 5]xyz"], "sweep.keys.model.g: must be a list"),
    (["--list", "--set", 'sweep.keys.dynamics.kind=["cage\\u0000x"]'], "\\u0000 (NUL)"),
])
def test_sweep_option_and_set_errors(sm_bin, tmp_path, args, msg):
    cfg = dict(small_config(tmp_path / "o.h5"), sweep={"keys": {"model.g": [3, 5]}})
    path = write_config(tmp_path / "s.json", cfg)
    rc, out, err = run_sm("sweep", path, *args)
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2 and len(lines) == 1 and msg in lines[0], err
    assert out == "" and not (tmp_path / "o").exists()


@pytest.mark.parametrize("text,msg", [
    ('{"temperature": 1, "sweep": {"keys": {"model.g": [3, 5]}}}\ntrailing junk', "malformed JSON at line 2, column 1"),
    ('{"temperature": 1, "sweep": {"keys": {"dynamics.kind": ["cage\\u0000x"]}}}', "line 1, column 62: a string holds"),
])
def test_sweep_config_parsed_strictly(sm_bin, tmp_path, text, msg):
    path = tmp_path / "s.json"
    path.write_text(text)
    rc, out, err = run_sm("sweep", path, "--list")
    assert rc == 2 and msg in one_line(err), err


def test_set_value_that_is_not_json_is_a_string(sm_bin, tmp_path):
    # "1.h5" used to be taken as the number 1 and refused as a path
    cfg = write_config(tmp_path / "c.json", {"temperature": 1})
    rc, out, err = run_sm("validate", cfg, "--set", "output.path=1.h5", "--set", "model.g= 2 ",
                          "--set", 'description="a\\\\u0000b"')
    assert rc == 0, err
    r = json.loads(out)
    assert r["output"]["path"] == "1.h5" and r["model"]["g"] == 2


def test_escaped_backslash_before_u0000_is_not_a_nul(sm_bin, tmp_path):
    # "\\u0000" in JSON is a backslash followed by the text u0000
    cfg = tmp_path / "c.json"
    cfg.write_text('{"temperature": 1, "description": "C:\\\\u0000 \\" \\\\"}')
    rc, out, err = run_sm("validate", cfg)
    assert rc == 0, err


@pytest.mark.parametrize("where", ["top", "section", "segment"])
def test_many_keys_are_refused_quickly(sm_bin, tmp_path, where):
    """The duplicate-key check compared every pair of keys: 100000 distinct
    unknown keys took 15 s of CPU, a 64 MiB config hours. Unknown keys are
    now refused first, and the pairwise check only sees known ones."""
    keys = ", ".join(f'"k{i}": 1' for i in range(200000))
    text = {"top": "{" + keys + "}",
            "section": '{"temperature": 1, "model": {' + keys + "}}",
            "segment": '{"schedule": [{"T": 1, "sweeps": 2, ' + keys + "}]}"}[where]
    t0 = time.monotonic()
    rc, line = run_bad(tmp_path, text)
    assert rc == 2 and "k0: unknown key" in line, line
    assert time.monotonic() - t0 < 20


def test_many_duplicates_of_a_known_key_are_refused_quickly(sm_bin, tmp_path):
    text = '{"temperature": 1, "model": {"eps_C": 1, ' + ", ".join(['"g": 1'] * 200000) + "}}"
    t0 = time.monotonic()
    rc, line = run_bad(tmp_path, text)
    assert rc == 2 and "model.g: key given twice" in line, line
    assert time.monotonic() - t0 < 20


def test_odd_sizes_are_fine_with_open_boundaries(sm_bin, tmp_path):
    cfg = write_config(tmp_path / "c.json", {"temperature": 1})
    rc, out, err = run_sm("validate", cfg, "--set", "lattice.boundary=open", "--set", "lattice.Lx=1",
                          "--set", "lattice.Ly=7")
    assert rc == 0, err
    assert json.loads(out)["lattice"] == {"Lx": 1, "Ly": 7, "boundary": "open"}


def test_resolved_config_round_trips(sm_bin, tmp_path):
    # what a run stores in /parameters/config_json must validate to itself
    cfg = write_config(tmp_path / "c.json", {"schedule": [{"T_from": 0.1, "T_to": 3, "sweeps": 7,
                                                           "equilibration": 2}, {"T": 1e-300, "sweeps": 1}],
                                             "init": {"level": "random"}, "run": {"seed": 2 ** 53}})
    rc, first, err = run_sm("validate", cfg)
    assert rc == 0, err
    (tmp_path / "r.json").write_text(first)
    rc, second, err = run_sm("validate", tmp_path / "r.json")
    assert rc == 0 and second == first, err


def test_ramp_over_many_decades_stays_positive(sm_bin, tmp_path):
    """Found by the fuzzer (regressions/ramp-cancellation-T-zero): T_from +
    (T_to - T_from) * i / (n - 1) cancels to 0 on the last sweep of a ramp from
    3e85 down to 0.5, and the run then simulated and recorded T = 0."""
    out = tmp_path / "r.h5"
    c = small_config(out, schedule=[{"T_from": 3e85, "T_to": 0.5, "sweeps": 3},
                                    {"T_from": 1e-300, "T_to": 1e300, "sweeps": 4}],
                     run={"seed": 1, "equilibration_sweeps": 2})
    del c["temperature"]
    rc, _, err = run_sm("run", write_config(tmp_path / "c.json", c), "--quiet")
    assert rc == 0, err
    with h5py.File(out, "r") as f:
        T = f["observables/temperature/value"][()]
        e = f["observables/energy/value"][()]
    assert T[2] == 0.5 and T[3] == 1e-300 and T[6] == 1e300, T
    assert np.all(T > 0) and np.all(np.isfinite(e)), (T, e)


EXTREMES = ["temperature=1e-300", "temperature=1e300", "model.g=1e300", "model.g=1e-300",
            "model.J=1e6", "model.J=-1e6", "model.h=-1e6", "model.eps_C=-1e6", "model.eps_step=1e6",
            "dynamics.trap_barrier=-1e6", "dynamics.async_barrier=1e6", "model.N_c=1e12",
            "model.Tg_over_Tm=0"]


@pytest.mark.parametrize("kind", ["level", "cage"])
def test_extreme_valid_values_run_cleanly(sm_bin, tmp_path, kind):
    """Every end of every allowed range runs to a finite result; under
    make test-sanitize UBSan also checks the probability tables and float to
    integer conversions on the way (an overflow would fail the run)."""
    shapes = [(8, 6, "periodic"), (1, 1, "open"), (2, 2, "periodic"), (1, 7, "open")]
    for i, setarg in enumerate(EXTREMES):
        Lx, Ly, bc = shapes[i % len(shapes)]
        out = tmp_path / f"x{i}.h5"
        cfg = write_config(tmp_path / "c.json", small_config(
            out, lattice={"Lx": Lx, "Ly": Ly, "boundary": bc}, dynamics={"kind": kind},
            run={"seed": i, "equilibration_sweeps": 5, "sweeps": 20, "snapshot_every": 10,
                 "census_every": 5}))
        rc, _, err = run_sm("run", cfg, "--set", setarg, "--quiet", "--threads", "2")
        assert rc == 0 and not err.strip(), (setarg, err)
        with h5py.File(out, "r") as f:
            for name in ("energy", "mean_level", "hscl_fraction", "temperature"):
                v = f[f"observables/{name}/value"][()]
                assert np.all(np.isfinite(v)), (setarg, name, v)


# --- the lattice too large for memory -----------------------------------------

def test_lattice_too_large_refused_with_size(sm_bin, tmp_path):
    # the largest lattice the config allows (just below 2^31 sites), cage
    # dynamics: 7.125 bytes a site, ~14 GiB; refused before any allocation
    # where MemAvailable is less (tests/test_memory.py refuses under a limit)
    need = (46340 * 46340) * 7.125
    with open("/proc/meminfo") as f:
        have = next(int(l.split()[1]) * 1024 for l in f if l.startswith("MemAvailable:"))
    if need <= have:
        pytest.skip("this machine could hold the largest allowed lattice")
    out = tmp_path / "o.h5"
    cfg = write_config(tmp_path / "c.json", small_config(out, lattice={"Lx": 46340, "Ly": 46340},
                                                         dynamics={"kind": "cage"}))
    t0 = time.monotonic()
    rc, _, err = run_sm("run", cfg)
    line = one_line(err)
    assert rc == 2 and "c.json: lattice: 46340 x 46340 needs 14591 MiB" in line and "available" in line, line
    assert time.monotonic() - t0 < 30  # refused, not swapped into
    assert_no_output(out)


# --- output paths ---------------------------------------------------------------

def run_to(tmp_path, out, *extra):
    cfg = write_config(tmp_path / "c.json", small_config(tmp_path / "unused.h5"))
    rc, _, err = run_sm("run", cfg, "--output", out, "--quiet", *extra)
    return rc, err


def test_output_under_a_regular_file(sm_bin, tmp_path):
    (tmp_path / "plain").write_text("x")
    out = tmp_path / "plain" / "sub" / "r.h5"
    rc, err = run_to(tmp_path, out)
    line = one_line(err)
    assert rc == 1 and str(out) in line and "Not a directory" in line, line
    assert (tmp_path / "plain").read_text() == "x"


def test_output_under_plain_file_directly(sm_bin, tmp_path):
    (tmp_path / "plain").write_text("x")
    out = tmp_path / "plain" / "r.h5"
    rc, err = run_to(tmp_path, out)
    assert rc == 1 and "cannot create output file: Not a directory" in one_line(err)
    assert (tmp_path / "plain").read_text() == "x"


def test_output_under_proc_is_refused(sm_bin, tmp_path):
    # /proc refuses new files even to root (chmod-based read-only would not)
    rc, err = run_to(tmp_path, "/proc/softmatrix-test.h5")
    line = one_line(err)
    assert rc == 1 and "/proc/softmatrix-test.h5: cannot create output file" in line, line
    rc, err = run_to(tmp_path, "/proc/no/such/dir/r.h5")
    assert rc == 1 and "cannot create directory /proc/no" in one_line(err)


@pytest.fixture
def unprivileged(tmp_path):
    """(run, dir): run(args, cwd) runs softmatrix as nobody when we are root,
    so that a mode-0555 directory is really unwritable (root ignores modes);
    dir is a world-readable scratch directory outside pytest's 0700 tmp."""
    import shutil
    import tempfile
    if os.geteuid() == 0:
        for parent in BIN.parents:
            if not os.stat(parent).st_mode & 0o001:
                pytest.skip(f"{parent} is not searchable by nobody")
        kw = {"user": 65534, "group": 65534, "extra_groups": []}
    else:
        kw = {}
    d = Path(tempfile.mkdtemp(prefix="sm-unpriv-"))
    d.chmod(0o755)

    def run(args, cwd):
        p = subprocess.run([str(BIN), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                           timeout=600, **kw)
        return p.returncode, p.stderr

    yield run, d
    for sub in d.rglob("*"):
        if sub.is_dir():
            sub.chmod(0o755)
    shutil.rmtree(d)


@pytest.mark.parametrize("target", ["ro/r.h5", "ro/sub/dir/r.h5"])
def test_unwritable_output_directory(sm_bin, unprivileged, target):
    run, d = unprivileged
    (d / "ro").mkdir()
    (d / "ro").chmod(0o555)
    cfg = write_config(d / "c.json", small_config("unused.h5"))
    cfg.chmod(0o644)
    rc, err = run(["run", "c.json", "--output", target, "--quiet"], d)
    line = one_line(err)
    assert rc == 1 and target in line and "Permission denied" in line, line
    what = "cannot create output file" if target == "ro/r.h5" else "cannot create directory ro/sub"
    assert what in line, line
    assert list((d / "ro").iterdir()) == []


@pytest.mark.parametrize("name", ["", "newdir/", "newdir/.", "newdir/.."])
def test_output_path_naming_a_directory(sm_bin, tmp_path, name):
    # these used to run the whole simulation into "newdir/.partial" and fail
    # only at the final rename
    out = f"{tmp_path}/{name}" if name else ""  # (Path would drop the trailing "/")
    rc, err = run_to(tmp_path, out)
    line = one_line(err)
    assert rc == 2 and "output path must name a file" in line, line
    assert not (tmp_path / "newdir").exists() and not (tmp_path / ".partial").exists()


def test_output_path_is_an_existing_directory(sm_bin, tmp_path):
    d = tmp_path / "d.h5"
    d.mkdir()
    for extra in ((), ("--overwrite",)):
        rc, err = run_to(tmp_path, d, *extra)
        assert rc == 2 and "exists and is not a regular file" in one_line(err)
        assert d.is_dir() and not list(d.iterdir())


def test_output_path_too_long(sm_bin, tmp_path):
    rc, err = run_to(tmp_path, tmp_path / ("x" * 5000))
    assert rc == 2 and "output path too long" in one_line(err)


@pytest.mark.parametrize("content", [b"", b"\x89HDF\r\n\x1a\n" + b"\0" * 100], ids=["empty", "truncated"])
def test_empty_or_truncated_hdf5_as_output(sm_bin, tmp_path, content):
    out = tmp_path / "r.h5"
    out.write_bytes(content)
    rc, err = run_to(tmp_path, out)
    assert rc == 2 and "output file exists" in one_line(err)
    assert out.read_bytes() == content
    rc, err = run_to(tmp_path, out, "--overwrite")
    assert rc == 0, err
    with h5py.File(out, "r") as f:
        assert f["h5md/creator"].attrs["name"] == b"softmatrix"
    assert not Path(str(out) + ".partial").exists()


def test_stale_partial_does_not_block_a_new_run(sm_bin, tmp_path):
    out = tmp_path / "r.h5"
    Path(str(out) + ".partial").write_bytes(b"left by a killed run")
    rc, err = run_to(tmp_path, out)
    assert rc == 0, err
    assert out.exists() and not Path(str(out) + ".partial").exists()


# --- faults: full disk, file-size limit, SIGKILL, a file appearing mid-run -------

def big_config(tmp_path, out):
    """Output of several MB (uncompressed snapshots), a few seconds of run."""
    return write_config(tmp_path / "big.json", small_config(
        out, lattice={"Lx": 64, "Ly": 64, "boundary": "periodic"},
        run={"seed": 1, "equilibration_sweeps": 1, "sweeps": 2000, "measure_every": 1,
             "snapshot_every": 10},
        output={"path": str(out), "compression": 0, "snapshot_fields": ["level", "sigma", "z"]}))


def finished_result(tmp_path, out):
    cfg = write_config(tmp_path / "small.json", small_config(out))
    rc, _, err = run_sm("run", cfg, "--quiet")
    assert rc == 0, err
    return out.read_bytes()


@pytest.fixture
def tiny_fs(tmp_path):
    """A 1 MiB tmpfs (needs root and mount permission; skipped otherwise)."""
    yield from tmpfs(tmp_path, "tiny", "1m")


def test_disk_full_on_tmpfs(sm_bin, tmp_path, tiny_fs):
    out = tiny_fs / "r.h5"
    before = finished_result(tmp_path, out)
    # the new run fills the disk: exit 1, one line, the finished file untouched
    rc, _, err = run_sm("run", big_config(tmp_path, out), "--overwrite", "--quiet")
    line = one_line(err)
    assert rc == 1 and "r.h5" in line and "No space left on device" in line, line
    assert out.read_bytes() == before
    with h5py.File(out, "r") as f:
        assert f["observables/energy/value"].shape[0] == 200
    # and without a previous result, no final file appears
    out2 = tiny_fs / "r2.h5"
    Path(str(out) + ".partial").unlink(missing_ok=True)
    rc, _, err = run_sm("run", big_config(tmp_path, out2), "--quiet")
    assert rc == 1 and "No space left on device" in one_line(err)
    assert not out2.exists()


def fsize_limit(nbytes):
    def pre():
        # write(2) past the limit then fails with EFBIG instead of killing us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return pre


def run_limited(args, nbytes):
    p = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, timeout=600,
                       preexec_fn=fsize_limit(nbytes))
    return p.returncode, p.stderr


def test_write_failure_midway_keeps_finished_result(sm_bin, tmp_path):
    # before the fix, HDF5's atexit handler retried the failed close and the
    # process died with SIGSEGV (exit -11) after printing the message
    out = tmp_path / "r.h5"
    before = finished_result(tmp_path, out)
    rc, err = run_limited(["run", big_config(tmp_path, out), "--overwrite", "--quiet"], 1 << 20)
    line = one_line(err)
    assert rc == 1 and "r.h5" in line and "File too large" in line, line
    assert out.read_bytes() == before


def test_write_failure_midway_without_previous_result(sm_bin, tmp_path):
    out = tmp_path / "r.h5"
    rc, err = run_limited(["run", big_config(tmp_path, out), "--quiet"], 1 << 20)
    assert rc == 1 and "File too large" in one_line(err)
    assert not out.exists()


def test_write_failure_in_header_leaves_no_file(sm_bin, tmp_path):
    out = tmp_path / "r.h5"
    rc, err = run_limited(["run", big_config(tmp_path, out), "--quiet"], 1024)
    line = one_line(err)
    assert rc == 1 and "cannot write the file header: File too large" in line, line
    assert_no_output(out)


def start_long_run(tmp_path, out):
    cfg = write_config(tmp_path / "long.json", small_config(
        out, lattice={"Lx": 64, "Ly": 64, "boundary": "periodic"},
        run={"seed": 1, "equilibration_sweeps": 0, "sweeps": 10 ** 7, "measure_every": 1}))
    p = subprocess.Popen([str(BIN), "run", str(cfg), "--quiet", "--threads", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    partial = Path(str(out) + ".partial")
    for _ in range(600):
        if partial.exists() and partial.stat().st_size > 0:
            break
        time.sleep(0.05)
    assert partial.exists()
    return p, partial


def test_sigkill_leaves_only_partial(sm_bin, tmp_path):
    out = tmp_path / "k.h5"
    p, partial = start_long_run(tmp_path, out)
    time.sleep(0.5)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL
    assert partial.exists() and not out.exists()
    # the lock file stays, unlocked by the kernel, and is reused by the next writer
    assert sorted(x.name for x in tmp_path.iterdir()) == ["k.h5.lock", "k.h5.partial", "long.json"]


def test_output_appearing_during_the_run_is_not_replaced(sm_bin, tmp_path):
    # the existence check at start is repeated atomically at the rename
    out = tmp_path / "r.h5"
    cfg = big_config(tmp_path, out)
    p = subprocess.Popen([str(BIN), "run", str(cfg), "--quiet", "--threads", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    partial = Path(str(out) + ".partial")
    for _ in range(600):
        if partial.exists():
            break
        time.sleep(0.01)
    out.write_bytes(b"someone else's result")
    _, err = p.communicate(timeout=600)
    line = one_line(err)
    assert p.returncode == 1 and "output file appeared during the run" in line, line
    assert out.read_bytes() == b"someone else's result"
    with h5py.File(partial, "r") as f:  # the finished result is kept beside it
        assert f["observables/energy/value"].shape[0] == 2000


# --- the Python tools on empty and truncated HDF5 files ----------------------------
# tests/test_python_tools.py checks the messages of the readers and of every
# script called in-process (test_reader_errors, test_scripts_reject_bad_files)
# for missing, empty, truncated, foreign, .partial and summary-less files; here
# each script runs as a real process, and no figure may appear.

SCRIPTS = ["plot_run", "plot_snapshot", "plot_sweep", "hysteresis", "table1_report"]


@pytest.fixture(scope="module")
def damaged_h5(sm_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("damaged")
    good = d / "good.h5"
    cfg = write_config(d / "c.json", small_config(good, run={"seed": 1, "equilibration_sweeps": 2,
                                                             "sweeps": 20, "snapshot_every": 10}))
    rc, _, err = run_sm("run", cfg, "--quiet")
    assert rc == 0, err
    raw = good.read_bytes()
    (d / "empty.h5").write_bytes(b"")
    (d / "truncated.h5").write_bytes(raw[: len(raw) // 2])
    (d / "header_only.h5").write_bytes(raw[:512])
    return d


@pytest.mark.parametrize("kind,msg", [("empty", "empty file"), ("truncated", "not a readable HDF5 file"),
                                      ("header_only", "not a readable HDF5 file")])
@pytest.mark.parametrize("script", SCRIPTS)
def test_python_tools_on_damaged_hdf5(damaged_h5, script, kind, msg):
    src = damaged_h5 / f"{kind}.h5"
    png = damaged_h5 / f"{script}-{kind}.png"
    p = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts" / f"{script}.py"), str(src),
                        "-o", str(png), "--pdf"], capture_output=True, text=True, timeout=300)
    line = one_line(p.stderr)
    assert p.returncode == 1 and str(src) in line and msg in line and "Traceback" not in p.stderr, line
    assert not png.exists() and not png.with_suffix(".pdf").exists()


# --- fuzz regressions, replayed through the CLI ----------------------------------

def regression_cases():
    return sorted(p for p in FUZZ_REGRESSIONS.iterdir() if p.is_file()) if FUZZ_REGRESSIONS.is_dir() else []


@pytest.mark.parametrize("case", regression_cases(), ids=lambda p: p.name)
def test_fuzz_regression_via_cli(sm_bin, tmp_path, case):
    # the harness's input: JSON text, then NUL-separated --set strings
    data = case.read_bytes()
    text, _, rest = data.partition(b"\0")
    cfg = tmp_path / "fuzz.json"
    cfg.write_bytes(text)
    args = ["validate", str(cfg)]
    for s in [s for s in rest.split(b"\0") if s][:8]:
        args += ["--set=" + s.decode("utf-8", "surrogateescape")]
    p = subprocess.run([str(BIN), *args], capture_output=True, timeout=60)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode in (0, 2), err
    if p.returncode == 2:
        assert "fuzz.json" in one_line(err) or "--set" in one_line(err)
    else:
        # nothing on stderr but validate's memory report
        lines = err.splitlines()
        assert lines[0].startswith("memory of a") and all(l.startswith("  ") for l in lines[1:]), err


# --- determinism over thread counts (the OpenMP data-race argument) ----------------

@pytest.mark.parametrize("kind", ["level", "cage"])
def test_bitwise_equal_over_thread_counts(sm_bin, tmp_path, kind):
    """A data race in the checkerboard kernels would make results depend on the
    schedule; odd open lattices give the colours unequal, ragged rows."""
    results = []
    for threads in (1, 2, 3, 4):
        out = tmp_path / f"t{threads}.h5"
        c = small_config(
            out, lattice={"Lx": 37, "Ly": 23, "boundary": "open"}, dynamics={"kind": kind},
            schedule=[{"T_from": 0.3, "T_to": 5.0, "sweeps": 150}, {"T": 2.0, "sweeps": 50}],
            run={"seed": 11, "equilibration_sweeps": 3, "measure_every": 1, "snapshot_every": 25},
            output={"path": str(out), "snapshot_fields": ["level", "sigma", "phase", "z"]})
        del c["temperature"]
        cfg = write_config(tmp_path / "c.json", c)
        rc, _, err = run_sm("run", cfg, "--threads", threads, "--quiet")
        assert rc == 0, err
        with h5py.File(out, "r") as f:
            d = {}
            # /parameters is the config, which names each run's own output path
            f.visititems(lambda name, obj: d.__setitem__(name, obj[()])
                         if isinstance(obj, h5py.Dataset) and "timing" not in name
                         and not name.startswith("parameters/") else None)
            results.append(d)
    for threads, d in zip((2, 3, 4), results[1:]):
        assert d.keys() == results[0].keys()
        for k in d:
            assert np.array_equal(d[k], results[0][k], equal_nan=True), (kind, threads, k)
