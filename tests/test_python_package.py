"""The softmatrix Python package as a package: it works in place
(sys.path / PYTHONPATH=python), documents every public function, carries the
simulator's version, installs offline into a venv that sees Debian's
numpy/h5py/matplotlib/xarray, and examples/tour.ipynb executes."""
import importlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from conftest import BIN, ROOT, run_sm, small_config, write_config

PYDIR = ROOT / "python"
MODULES = ["softmatrix", "softmatrix.io", "softmatrix.analysis", "softmatrix.figures",
           "softmatrix.plot"]


@pytest.fixture(scope="module")
def small_run(sm_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("pkg")
    out = d / "run.h5"
    rc, _, err = run_sm("run", write_config(d / "run.json", small_config(out)), "--quiet")
    assert rc == 0, err
    return out


def test_in_place_import(small_run):
    """sys.path.insert of python/ and PYTHONPATH=python, from any directory."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import softmatrix as sm; "
            "print(sm.__file__); print(float(sm.observables(sys.argv[2]).energy.sum()))")
    p = subprocess.run([sys.executable, "-c", code, str(PYDIR), str(small_run)],
                       capture_output=True, text=True, timeout=60, cwd=small_run.parent)
    assert p.returncode == 0, p.stderr
    where, total = p.stdout.split()
    assert where == str(PYDIR / "softmatrix" / "__init__.py")
    with h5py.File(small_run) as f:
        assert float(total) == pytest.approx(f["observables/energy/value"][()].sum(), rel=1e-12)
    p = subprocess.run([sys.executable, "-m", "softmatrix.plot", "run", str(small_run), "-o",
                        str(small_run.with_suffix(".png"))], capture_output=True, text=True,
                       timeout=60, cwd=ROOT, env=dict(os.environ, PYTHONPATH="python"))
    assert p.returncode == 0, p.stderr
    assert small_run.with_suffix(".png").stat().st_size > 0


def test_version_matches_the_simulator():
    header = (ROOT / "include" / "core" / "version.h").read_text()
    want = re.search(r'SOFTMATRIX_VERSION\s+"([^"]+)"', header).group(1)
    sys.path.insert(0, str(PYDIR))
    import softmatrix
    assert softmatrix.__version__ == want
    pyproject = (PYDIR / "pyproject.toml").read_text()
    assert 'name = "softmatrix"' in pyproject and 'attr = "softmatrix.__version__"' in pyproject
    assert 'build-backend = "setuptools.build_meta"' in pyproject
    setup = (PYDIR / "setup.py").read_text()
    assert 'REQUIRES = ["numpy", "h5py", "matplotlib", "xarray"]' in setup


def test_every_public_function_has_a_docstring():
    sys.path.insert(0, str(PYDIR))
    missing = []
    for name in MODULES:
        mod = importlib.import_module(name)
        assert mod.__doc__, name
        for attr, obj in vars(mod).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj) and not obj.__doc__:
                missing.append(f"{name}.{attr}")
            if inspect.isclass(obj):
                if not obj.__doc__:
                    missing.append(f"{name}.{attr}")
                for m, f in vars(obj).items():
                    if not m.startswith("_") and (inspect.isfunction(f) or isinstance(f, property)) \
                            and not f.__doc__:
                        missing.append(f"{name}.{attr}.{m}")
    assert not missing, missing


def test_venv_install(small_run, tmp_path):
    """`python3 -m venv --system-site-packages V; V/bin/pip install
    --no-build-isolation --no-index ./python`, then import and read a file
    from outside the repository."""
    venv = tmp_path / "V"
    p = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        pytest.skip("python3 -m venv does not work here (install python3-venv): "
                    + (p.stderr.strip().splitlines() or ["?"])[-1])
    # a copy of python/, so that the build leaves nothing in the work tree
    # (the copy resolves the data/table1.json link)
    src = tmp_path / "src"
    shutil.copytree(PYDIR, src, symlinks=False,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    p = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-index",
                        str(src)], capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    code = ("import json, sys, softmatrix as sm, softmatrix.analysis as an\n"
            "ds = sm.observables(sys.argv[1])\n"
            "print(json.dumps({'file': sm.__file__, 'version': sm.__version__,\n"
            "  'energy': ds.energy.values.tolist(), 'T': ds['T'].values.tolist(),\n"
            "  'table1': len(an.table1_paper())}))\n")
    p = subprocess.run([str(venv / "bin" / "python"), "-c", code, str(small_run)],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["file"].startswith(str(venv)) and got["version"] == "0.1.0"
    assert got["table1"] == 72  # data/table1.json travelled with the package
    with h5py.File(small_run) as f:
        assert got["energy"] == f["observables/energy/value"][()].tolist()
        assert got["T"] == f["observables/temperature/value"][()].tolist()
    p = subprocess.run([str(venv / "bin" / "python"), "-m", "softmatrix.plot", "snapshot", "--help"],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 0 and "--temperature" in p.stdout


def test_tour_notebook_executes(sm_bin, tmp_path):
    """examples/tour.ipynb runs the binary, reads with the package and draws
    the figures, under `jupyter nbconvert --execute`, in less than 60 s."""
    jupyter = shutil.which("jupyter")
    p = subprocess.run([jupyter or "jupyter", "nbconvert", "--version"], capture_output=True,
                       text=True) if jupyter else None
    if p is None or p.returncode != 0:
        pytest.skip("jupyter nbconvert is not installed (Debian: jupyter-nbconvert python3-ipykernel)")
    if importlib.util.find_spec("ipykernel") is None:
        pytest.skip("no Jupyter kernel (Debian: python3-ipykernel)")
    env = dict(os.environ, SOFTMATRIX_BIN=str(BIN), SOFTMATRIX_TOUR_DIR=str(tmp_path),
               OMP_WAIT_POLICY="passive", PYDEVD_DISABLE_FILE_VALIDATION="1")
    t0 = time.time()
    p = subprocess.run([jupyter, "nbconvert", "--to", "notebook", "--execute",
                        str(ROOT / "examples" / "tour.ipynb"), "--output-dir", str(tmp_path),
                        "--output", "tour_executed", "--ExecutePreprocessor.timeout=120"],
                       capture_output=True, text=True, timeout=180, env=env)
    elapsed = time.time() - t0
    assert p.returncode == 0, p.stderr[-3000:]
    assert elapsed < 60, f"the notebook took {elapsed:.0f} s"
    nb = json.loads((tmp_path / "tour_executed.ipynb").read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5, len(images)
    # it ran the binary into SOFTMATRIX_TOUR_DIR, and read what it wrote
    with h5py.File(tmp_path / "cage.h5") as f:
        tau = f["kinetics/tau/mean"][()]
    text = "".join("".join(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert f"{tau[0, 0]:.1f}" in text
    assert np.isfinite(tau[0, 0])
