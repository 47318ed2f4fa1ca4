"""Command-line behaviour: help, version, validate, config errors, output
file safety, the quick end-to-end run and the HDF5 layout read with h5py."""
import json
import subprocess

import h5py
import numpy as np
import pytest

from conftest import BIN, ROOT, not_under_asan, run_sm, small_config, write_config


def test_help_and_version(sm_bin):
    rc, out, _ = run_sm("--help")
    assert rc == 0 and "softmatrix run CONFIG" in out and "model.eps_C" in out
    rc, out, _ = run_sm("--version")
    assert rc == 0 and out.startswith("softmatrix ")


def test_unknown_command_is_usage_error(sm_bin):
    rc, _, err = run_sm("frobnicate")
    assert rc == 2 and "unknown command" in err


def test_validate_prints_resolved_defaults(sm_bin, tmp_path):
    cfg = write_config(tmp_path / "c.json", {"temperature": 2.0})
    rc, out, _ = run_sm("validate", cfg)
    assert rc == 0
    r = json.loads(out)
    assert r["model"] == {"eps_C": 0.125, "g": 4, "eps_step": 0, "J": 0.125, "h": 0,
                          "freeze_levels": False, "N_c": 200, "Tg_over_Tm": 0.625}
    assert r["lattice"] == {"Lx": 64, "Ly": 64, "boundary": "periodic"}
    assert r["temperature"] == 2.0 and r["run"]["sweeps"] == 1000


def test_set_overrides(sm_bin, tmp_path):
    cfg = write_config(tmp_path / "c.json", {"temperature": 2.0})
    rc, out, _ = run_sm("validate", cfg, "--set", "model.J=-0.5", "--set", "lattice.boundary=open",
                        "--set", 'schedule=[{"T_from":1,"T_to":2,"sweeps":10}]')
    assert rc == 0, out
    r = json.loads(out)
    assert r["model"]["J"] == -0.5 and r["lattice"]["boundary"] == "open"
    assert "temperature" not in r and r["schedule"] == [{"T_from": 1, "T_to": 2, "sweeps": 10}]


BAD = [
    ('{"temperature": 1,}', "malformed JSON at line 1"),
    ('[1, 2]', "must be a JSON object"),
    ('{"temperature": 1, "model": {"gg": 2}}', "model.gg: unknown key"),
    ('{"temperature": 1, "modle": {}}', "modle: unknown key"),
    ('{"temperature": 1, "model": {"g": -1}}', "model.g: must be a number > 0 (got -1)"),
    ('{"temperature": 1, "model": {"g": "four"}}', 'model.g: must be a number > 0 (got "four")'),
    ('{"temperature": 0}', "temperature: must be a number > 0 (got 0)"),
    ('{"temperature": -1}', "temperature: must be a number > 0"),
    ('{"temperature": 1e999}', "temperature: must be a number > 0"),
    ('{}', "temperature: missing"),
    ('{"temperature": 1, "schedule": [{"T": 1, "sweeps": 2}]}', "not both"),
    ('{"schedule": []}', "schedule: must be a list of 1.."),
    ('{"schedule": [{"T": 1}]}', "schedule[0].sweeps: missing"),
    ('{"schedule": [{"T_from": 1, "sweeps": 3}]}', "schedule[0]: needs T"),
    ('{"schedule": [{"T": 1, "sweeps": 3, "x": 1}]}', "schedule[0].x: unknown key"),
    ('{"schedule": [{"T": 1, "sweeps": 3}], "run": {"sweeps": 5}}', "run.sweeps: not allowed"),
    ('{"temperature": 1, "lattice": {"Lx": 0}}', "lattice.Lx: must be an integer in 1..65536 (got 0)"),
    ('{"temperature": 1, "lattice": {"Lx": 7}}', "lattice.Lx: must be even with periodic"),
    ('{"temperature": 1, "lattice": {"Lx": 8.5}}', "lattice.Lx: must be an integer"),
    ('{"temperature": 1, "lattice": {"boundary": "twisted"}}', "lattice.boundary: must be one of periodic|open"),
    ('{"temperature": 1, "init": {"level": 9}}', "init.level: must be an integer in -1..8 (got 9)"),
    ('{"temperature": 1, "init": {"level": "high"}}', "init.level: must be an integer in -1..8 or \"random\""),
    ('{"temperature": 1, "init": {"sigma": "left"}}', "init.sigma: must be one of random|up|down|neel"),
    ('{"temperature": 1, "run": {"measure_every": 0}}', "run.measure_every: must be an integer in 1.."),
    ('{"temperature": 1, "model": {"freeze_levels": 1}}', "model.freeze_levels: must be true or false"),
    ('{"temperature": 1, "output": {"snapshot_fields": ["level", "spin"]}}', "output.snapshot_fields: entries must be"),
    ('{"temperature": 1, "output": {"compression": 10}}', "output.compression: must be an integer in 0..9"),
    ('{"temperature": 1, "dynamics": {"kind": "glauber"}}', "dynamics.kind: must be one of"),
    ('{"temperature": 1, "lattice": {"Lx": 65536, "Ly": 65536}}', "lattice: Lx * Ly must be below"),
]


@pytest.mark.parametrize("text,msg", BAD)
def test_config_errors(sm_bin, tmp_path, text, msg):
    cfg = tmp_path / "bad.json"
    cfg.write_text(text)
    out = tmp_path / "never.h5"
    rc, so, err = run_sm("run", cfg, "--output", out)
    assert rc == 2, (so, err)
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and str(cfg) in lines[0] and msg in lines[0], err
    assert not out.exists() and not (tmp_path / "never.h5.partial").exists()


def test_set_bad_value_names_key(sm_bin, tmp_path):
    cfg = write_config(tmp_path / "c.json", {"temperature": 1})
    rc, _, err = run_sm("validate", cfg, "--set", "model.J=nan")
    assert rc == 2 and "model.J: must be a finite number (got \"nan\")" in err


def test_missing_config_file(sm_bin, tmp_path):
    rc, _, err = run_sm("run", tmp_path / "nope.json")
    assert rc == 2 and "nope.json: cannot open" in err


@not_under_asan
def test_too_large_lattice_refused_before_allocation(sm_bin, tmp_path):
    # 40000^2 level sites need 3052 MiB: more than 1 GiB of address space
    # (tests/test_memory.py has the other limits and the estimate)
    import resource
    cfg = write_config(tmp_path / "c.json", small_config(tmp_path / "o.h5",
                       lattice={"Lx": 40000, "Ly": 40000}))
    p = subprocess.run([str(BIN), "run", str(cfg)], capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)))
    assert p.returncode == 2 and "needs 3052 MiB" in p.stderr and "available" in p.stderr, p.stderr
    assert not (tmp_path / "o.h5").exists()


def test_existing_output_is_not_overwritten(sm_bin, tmp_path):
    out = tmp_path / "r.h5"
    cfg = write_config(tmp_path / "c.json", small_config(out))
    assert run_sm("run", cfg, "--quiet")[0] == 0
    before = out.read_bytes()
    rc, _, err = run_sm("run", cfg, "--quiet")
    assert rc == 2 and "output file exists" in err
    assert out.read_bytes() == before
    assert run_sm("run", cfg, "--quiet", "--overwrite")[0] == 0
    assert not (tmp_path / "r.h5.partial").exists()


def test_quick_end_to_end_and_h5_layout(sm_bin, tmp_path):
    out = tmp_path / "quick.h5"
    rc, so, err = run_sm("run", ROOT / "configs" / "quick.json", "--output", out)
    assert rc == 0, err
    assert "energy/site" in so and "ns per site-update" in so and f"wrote {out}" in so
    with h5py.File(out, "r") as f:
        assert f["h5md/creator"].attrs["name"] == b"softmatrix"
        assert list(f["h5md"].attrs["version"]) == [1, 1]
        cfg = json.loads(f["parameters"].attrs["config_json"])
        assert cfg["lattice"]["Lx"] == 32 and cfg["run"]["seed"] == 7
        for name in ["energy", "level_histogram", "hscl_fraction", "mean_level", "cbosons",
                     "magnetization", "staggered_magnetization", "n_soft_matrix",
                     "temperature", "acceptance"]:
            g = f["observables"][name]
            assert g["step"].shape[0] == g["value"].shape[0] == 1000
        step = f["observables/energy/step"][:]
        assert step[0] == 202 and np.all(np.diff(step) == 2)
        hist = f["observables/level_histogram/value"][:]
        assert hist.shape == (1000, 10) and np.allclose(hist.sum(axis=1), 1.0)
        assert np.allclose(f["observables/hscl_fraction/value"][:], 1 - hist[:, 0])
        lv = f["snapshots/level/value"]
        assert lv.shape == (4, 32, 32) and lv.dtype == np.int8
        assert list(f["snapshots/level/step"][:]) == [700, 1200, 1700, 2200]
        levels = lv[-1].astype(int)
        # RSOS holds in every stored configuration, periodic bonds included
        for snap in lv[:]:
            s = snap.astype(int)
            assert np.abs(s - np.roll(s, 1, 0)).max() <= 1 and np.abs(s - np.roll(s, 1, 1)).max() <= 1
        # the last snapshot is the configuration of the last measurement
        assert np.isclose(f["observables/mean_level/value"][-1], levels.mean())
        e = f["observables/energy/value"][:]
        assert np.isclose(f["summary/energy/mean"][0], e.mean())
        assert f["summary/energy/error"][0] > 0
        assert f["summary/segments/samples"][0] == 1000


def test_thread_count_does_not_change_output(sm_bin, tmp_path):
    cfg = write_config(tmp_path / "c.json", small_config(tmp_path / "x.h5",
                       lattice={"Lx": 48, "Ly": 32, "boundary": "periodic"},
                       run={"seed": 99, "equilibration_sweeps": 5, "sweeps": 300,
                            "measure_every": 3, "snapshot_every": 100},
                       schedule=[{"T_from": 0.5, "T_to": 4, "sweeps": 300}]))
    data = []
    for t in (1, 2):
        out = tmp_path / f"t{t}.h5"
        rc, _, err = run_sm("run", cfg, "--set", "temperature=1", "--set",
                            'schedule=[{"T_from":0.5,"T_to":4,"sweeps":300}]',
                            "--threads", t, "--output", out, "--quiet")
        assert rc == 0, err
        with h5py.File(out, "r") as f:
            data.append({k: f[f"observables/{k}/value"][:] for k in f["observables"]}
                        | {"snap": f["snapshots/level/value"][:], "sig": f["snapshots/sigma/value"][:]})
    for k in data[0]:
        assert np.array_equal(data[0][k], data[1][k]), k
