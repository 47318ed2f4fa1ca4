"""Generated references and installation: docs/config.md and docs/output.md
must equal what the binary generates now (`make docs` regenerates them);
`make install` puts the binary, the man page and the Python tools under a
prefix; `make help` lists every target the README names."""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, ROOT, run_sm


@pytest.mark.parametrize("what", ["config", "output"])
def test_generated_reference_is_current(sm_bin, what):
    rc, out, err = run_sm("doc", what)
    assert rc == 0, err
    committed = (ROOT / "docs" / f"{what}.md").read_text()
    assert committed == out, f"docs/{what}.md is stale: run `make docs` and commit it"


def test_config_reference_lists_every_key(sm_bin):
    """Every key `--help` prints is in docs/config.md, and only those."""
    rc, help_text, _ = run_sm("--help")
    keys = {line.split()[0] for line in help_text.split("configuration keys")[1].splitlines()[1:]
            if line.startswith("  ") and "." in line.split()[0] or line.strip().startswith(("temperature", "schedule"))}
    _, md, _ = run_sm("doc", "config")
    documented = {line.split("`")[1] for line in md.splitlines() if line.startswith("| `")}
    assert keys <= documented and {"dynamics.kind", "temperature", "run.seed"} <= documented


def test_output_reference_names_what_a_run_writes(sm_bin, tmp_path):
    """Every dataset a cage run with census and snapshots writes is a row of
    docs/output.md (by path, with <name>/<field> patterns for step and time)."""
    h5py = pytest.importorskip("h5py")
    import json
    out = tmp_path / "r.h5"
    cfg = {"lattice": {"Lx": 8, "Ly": 8}, "dynamics": {"kind": "cage"}, "temperature": 3,
           "run": {"sweeps": 20, "equilibration_sweeps": 0, "census_every": 10, "snapshot_every": 10},
           "output": {"path": str(out), "snapshot_fields": ["level", "sigma", "phase", "z", "pcp"]}}
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    rc, _, err = run_sm("run", tmp_path / "c.json", "--quiet")
    assert rc == 0, err
    md = (ROOT / "docs" / "output.md").read_text()
    missing = []

    def visit(name, obj):
        if not isinstance(obj, h5py.Dataset):
            return
        path = "/" + name
        head, leaf = path.rsplit("/", 1)
        group = head.rsplit("/", 1)[0]
        candidates = [f"`{path}`", f"`{head}/{leaf}`"]
        if leaf in ("step", "time"):
            candidates += [f"`{group}/<name>/step`", f"`{group}/<field>/step`"]
        if head.startswith("/summary/") and leaf in ("mean", "error", "tau_int"):
            candidates += [f"`{head}/mean`", "`/summary/<name>/mean`"]
        if head == "/summary/segments":
            candidates += ["`/summary/segments/T_from`", "`/summary/segments/sweeps`"]
        if head.startswith("/parameters/") and head.count("/") == 2:
            candidates += ["`/parameters/<section>/<key>`"]
        if head.startswith("/xdmf/") and head != "/xdmf/mesh":
            candidates += ["`/xdmf/<field>/<k>`"]
        if head == "/summary/timing":
            candidates += ["`/summary/timing/ns_per_site_update`"]
        if not any(c in md for c in candidates):
            missing.append(path)

    with h5py.File(out, "r") as f:
        f.visititems(visit)
    assert not missing, f"not in docs/output.md: {missing}"


def test_make_help_lists_targets():
    p = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    for target in ("run", "test", "bench", "docs", "install", "figures", "validate", "man"):
        assert f"make {target} " in p.stdout, target


def test_make_install(sm_bin, tmp_path):
    prefix = tmp_path / "prefix"
    p = subprocess.run(["make", "-s", "install", f"PREFIX={prefix}"], cwd=ROOT, capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    binary = prefix / "bin" / "softmatrix"
    assert os.access(binary, os.X_OK)
    v = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("softmatrix ")
    man = (prefix / "share" / "man" / "man1" / "softmatrix.1").read_text()
    assert ".TH SOFTMATRIX" in man and "validate" in man
    completion = prefix / "share" / "bash-completion" / "completions" / "softmatrix"
    assert "complete -F _softmatrix softmatrix" in completion.read_text()
    plot = prefix / "bin" / "softmatrix-plot"
    h = subprocess.run([str(plot), "--help"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": ""})
    assert h.returncode == 0, h.stderr
    assert "run" in h.stdout and "snapshot" in h.stdout
