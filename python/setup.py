"""Build script beside pyproject.toml: only the run-time requirements are
computed here, everything else is declared in pyproject.toml.

The package needs numpy, h5py, matplotlib and xarray.  Debian's
python3-h5py registers its distribution under another name
("h5py.-debian-h5py-serial" or "...-mpi"), so pip finds no "h5py" among
the system packages, and an offline install (--no-index) into a venv made
with --system-site-packages would fail on it.  When h5py is importable only
under such a renamed distribution, the requirement is left to the Debian
package; everywhere else "h5py" is required as usual."""
import importlib.metadata

from setuptools import setup


def _provided_under_other_name(module, name):
    dists = importlib.metadata.packages_distributions().get(module, [])
    norm = [d.lower().replace("_", "-").replace(".", "-") for d in dists]
    return bool(dists) and name not in norm


REQUIRES = ["numpy", "h5py", "matplotlib", "xarray"]
setup(install_requires=[r for r in REQUIRES if not _provided_under_other_name(r, r)])
