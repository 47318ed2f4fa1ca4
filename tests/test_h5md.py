"""Files that fit the ecosystem: H5MD 1.1 conformance of run files, sweep
indexes and merged indexes (h5md_check.py, which conftest.py also applies to
every file the suite writes), units and integer dtypes, the size of a small
run's file, and the XDMF sidecar read by meshio and by VTK's XDMF readers
(ParaView's)."""
import json

import h5py
import numpy as np
import pytest

import h5md_check
from conftest import ROOT, run_sm, write_config


def cage_config(out, **run):
    cfg = {"lattice": {"Lx": 12, "Ly": 10, "boundary": "open"}, "dynamics": {"kind": "cage"},
           "schedule": [{"T": 3.0, "sweeps": 40}, {"T_from": 3.0, "T_to": 5.0, "sweeps": 20}],
           "run": {"seed": 5, "equilibration_sweeps": 10, "measure_every": 2, "census_every": 10,
                   "snapshot_every": 15, **run},
           "output": {"path": str(out), "snapshot_fields": ["level", "sigma", "phase", "z", "pcp"]}}
    return cfg


@pytest.fixture(scope="module")
def cage_run(sm_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("h5md")
    out = d / "cage.h5"
    rc, _, err = run_sm("run", write_config(d / "c.json", cage_config(out)), "--quiet")
    assert rc == 0, err
    return out


def test_run_file_conforms(cage_run):
    assert h5md_check.check_file(cage_run) == []
    with h5py.File(cage_run, "r") as f:
        assert list(f["h5md"].attrs["version"]) == [1, 1]
        assert f["h5md/creator"].attrs["name"] == b"softmatrix"
        assert f["h5md/author"].attrs["name"]
        assert f["h5md/modules/units"].attrs["version"].tolist() == [1, 0]


def test_units_and_integer_dtypes(cage_run):
    with h5py.File(cage_run, "r") as f:
        unit = lambda p: f[p].attrs["unit"]  # noqa: E731
        assert unit("observables/energy/value") == "eps0"
        assert unit("observables/temperature/value") == "eps0 kB-1"
        assert unit("observables/z_msd/value") == "sigma+2"
        assert unit("observables/soft_matrix_jumps/value") == "sweep-1"
        assert unit("observables/energy/time") == "sweep"
        assert unit("snapshots/z/value") == "sigma" and unit("snapshots/level/value") == "1"
        assert unit("summary/energy/mean") == "eps0" and unit("summary/specific_heat/mean") == "kB"
        assert unit("summary/segments/T_from") == "eps0 kB-1" and unit("kinetics/tau/mean") == "sweep"
        assert unit("parameters/model/J") == "eps0" and unit("parameters/schedule/sweeps") == "sweep"
        for p in ["census/n_centres/value", "census/component_size_histogram/value",
                  "kinetics/tau/count", "kinetics/loop_completions", "summary/segments/samples",
                  "summary/segments/sweeps", "summary/timing/threads", "parameters/lattice/Lx"]:
            assert f[p].dtype == np.int64, p
        assert f["census/mean_N/value"].dtype == np.float64
        assert f["parameters/model/freeze_levels"][()] is np.False_
        assert [s.decode() for s in f["parameters/output/snapshot_fields"][()]] == \
            ["level", "sigma", "phase", "z", "pcp"]
        assert list(f["parameters/schedule/T_to"][()]) == [3.0, 5.0]


def test_checker_finds_what_is_wrong(cage_run, tmp_path):
    """Negative controls: the checker is not vacuous."""
    import shutil
    bad = tmp_path / "bad.h5"
    shutil.copy(cage_run, bad)
    with h5py.File(bad, "a") as f:
        del f["observables/energy/value"].attrs["unit"]
        f["observables/mean_level/value"].attrs["unit"] = "eps0/k_B"
        del f["h5md/author"]
        f["h5md"].attrs["version"] = [1, 0]
        v = f["summary/segments/samples"][()]
        del f["summary/segments/samples"]
        f["summary/segments/samples"] = v.astype(float)
        f["summary/segments/samples"].attrs["unit"] = "1"
        f["parameters/model"]["J"][()] = 7.0
    problems = "\n".join(h5md_check.check_file(bad))
    for what in ["energy/value: no unit", "'eps0/k_B' is not an H5MD unit", "/h5md/author is not a group",
                 "version", "samples: a count stored as float64", "/parameters/model/J"]:
        assert what in problems, what
    bad.unlink()  # not left for the suite-wide check


def test_small_run_file_is_small(sm_bin, tmp_path):
    """16x16, 100 sweeps (configs/quick.json): chunks sized by the run's own
    row counts, not a fixed 1024 rows a series."""
    out = tmp_path / "q.h5"
    rc, _, err = run_sm("run", ROOT / "configs" / "quick.json", "--output", out, "--quiet",
                        "--set", "lattice.Lx=16", "--set", "lattice.Ly=16", "--set", "run.sweeps=100")
    assert rc == 0, err
    assert out.stat().st_size <= 100_000, out.stat().st_size
    with h5py.File(out, "r") as f:
        assert f["observables/energy/value"].chunks == (50,)


def test_sweep_and_merged_index_conform(sm_bin, tmp_path):
    cfg = {"lattice": {"Lx": 8, "Ly": 8}, "temperature": 2.0,
           "run": {"sweeps": 40, "equilibration_sweeps": 5},
           "output": {"path": str(tmp_path / "s")},
           "sweep": {"mode": "product", "keys": {"model.J": [0.1, 0.2], "temperature": [1.0, 2.0]}}}
    path = write_config(tmp_path / "s.json", cfg)
    for k in (1, 2):
        rc, _, err = run_sm("sweep", path, "--shard", f"{k}/2", "--quiet")
        assert rc == 0, err
    merged = tmp_path / "merged.h5"
    shards = sorted((tmp_path / "s").glob("index_shard_*"))
    rc, _, err = run_sm("merge", merged, *shards)
    assert rc == 0, err
    for p in [merged, *shards]:
        assert h5md_check.check_file(p) == [], p
    with h5py.File(merged, "r") as f:
        assert f["mean/energy"].attrs["unit"] == "eps0" and f["tau_int/energy"].attrs["unit"] == "1"
        assert f["parameters/model.J"].attrs["unit"] == "eps0"
        assert f["parameters/temperature"].attrs["unit"] == "eps0 kB-1"
        assert f["segment/samples"].dtype == np.int64 and f["segment/sweeps"].attrs["unit"] == "sweep"
        assert "unit" not in f["point"].attrs


# --- the XDMF sidecar --------------------------------------------------------

def test_sidecar_read_by_meshio(cage_run):
    meshio = pytest.importorskip("meshio")
    xmf = str(cage_run) + ".xmf"
    with meshio.xdmf.TimeSeriesReader(xmf) as r, h5py.File(cage_run, "r") as f:
        points, cells = r.read_points_cells()
        assert cells[0].type == "quad" and cells[0].data.shape == (12 * 10, 4)
        assert points.shape == (13 * 11, 2)
        n = f["snapshots/level/value"].shape[0]
        assert r.num_steps == n == 4
        for k in range(n):
            t, _, cell_data = r.read_data(k)
            assert t == f["snapshots/level/time"][k]
            for name in ["level", "sigma", "phase", "z", "pcp"]:
                want = f[f"snapshots/{name}/value"][k]
                got = cell_data[name][0]
                assert got.dtype == want.dtype and np.array_equal(got.reshape(want.shape), want), name
        # the site at (x, y) is the cell whose corners surround (x + 1/2, y + 1/2)
        centre = points[cells[0].data].mean(axis=1)
        assert np.allclose(centre[12 * 3 + 5], [5.5, 3.5])


def _vtk_reader(module, name):
    """A VTK XDMF reader class, or a skip: Debian's python3-vtk9 is built
    without them; python3-paraview (ParaView's own VTK) has both."""
    try:
        return getattr(__import__(f"vtkmodules.{module}", fromlist=[name]), name)
    except (ImportError, AttributeError):
        pytest.skip(f"this VTK has no {name} (install python3-paraview)")


def _first_grid(obj):
    while obj is not None and not hasattr(obj, "GetCellData"):
        obj = obj.GetBlock(0)
    return obj


@pytest.mark.parametrize("module,name", [("vtkIOXdmf3", "vtkXdmf3Reader"), ("vtkIOXdmf2", "vtkXdmfReader")])
def test_sidecar_read_by_vtk(cage_run, module, name):
    """ParaView's XDMF readers (XDMF 3 and the older XDMF 2 one) see every
    snapshot with its time and the values of the HDF5 file."""
    reader = _vtk_reader(module, name)()
    from vtkmodules.util.numpy_support import vtk_to_numpy
    reader.SetFileName(str(cage_run) + ".xmf")
    reader.UpdateInformation()
    info = reader.GetOutputInformation(0)
    from vtkmodules.vtkCommonExecutionModel import vtkStreamingDemandDrivenPipeline as sddp
    with h5py.File(cage_run, "r") as f:
        times = f["snapshots/level/time"][()]
        assert list(info.Get(sddp.TIME_STEPS())) == list(times)
        for k, t in enumerate(times):
            reader.UpdateTimeStep(t)
            grid = _first_grid(reader.GetOutputDataObject(0))
            assert grid.GetNumberOfCells() == 12 * 10
            for field in ["level", "sigma", "phase", "z", "pcp"]:
                got = vtk_to_numpy(grid.GetCellData().GetArray(field))
                want = f[f"snapshots/{field}/value"][k]
                assert np.array_equal(got.reshape(want.shape), want), (field, k)


def test_sidecar_follows_the_file(sm_bin, tmp_path):
    """Written when the run completes, from its final rows; a rerun without
    snapshots over the same output removes the stale sidecar."""
    out = tmp_path / "r.h5"
    cfg = cage_config(out)
    rc, _, err = run_sm("run", write_config(tmp_path / "c.json", cfg), "--quiet")
    assert rc == 0, err
    xmf = tmp_path / "r.h5.xmf"
    assert xmf.exists() and not (tmp_path / "r.h5.xmf.partial").exists()
    cfg["run"]["snapshot_every"] = 0
    rc, _, err = run_sm("run", write_config(tmp_path / "c.json", cfg), "--quiet", "--overwrite")
    assert rc == 0, err
    assert not xmf.exists()
    with h5py.File(out, "r") as f:
        assert "xdmf" not in f and "snapshots" not in f
    assert json.loads(h5py.File(out, "r")["parameters"].attrs["config_json"])["run"]["snapshot_every"] == 0
