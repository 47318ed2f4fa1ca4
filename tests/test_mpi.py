"""The MPI build (docs/mpi.md): `make mpi` builds build/softmatrix-mpi, which
with one rank (or without a launcher) is the OpenMP binary, file for file;
`sweep` with several ranks farms the points out and writes point files and
an index bitwise equal to a serial sweep's; bad input gives one error line
from rank 0, a non-zero exit on every rank and no hang.

Files are compared with h5diff (values and attributes of every object),
leaving out only /summary/timing, the wall-clock part. Outputs are written
to the same path by both binaries, since the path is part of the file."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from conftest import ROOT, ckpt_step, not_under_asan, run_sm, small_config, tmpfs, write_config
from test_pinned import pinned_config

# make mpi's binary, also when the suite runs against another build of the
# OpenMP one (SOFTMATRIX_BIN: the sanitized build-san/ has no MPI binary)
MPI_BIN = ROOT / "build" / "softmatrix-mpi"
# A job whose rank exits non-zero ends at once: by default mpirun waits a second
# before it sends the ranks still running SIGTERM and another before SIGKILL,
# 2 s of every failing run, the suite's bad-input and interrupt tests many.
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMP_WAIT_POLICY="passive", OMPI_MCA_rmaps_base_oversubscribe="1",
           OMPI_MCA_odls_base_sigkill_timeout="0")
# no test may hang: a hung rank fails the test instead
TIMEOUT = 300


@pytest.fixture(scope="module")
def mpi_bin():
    p = subprocess.run(["make", "-j2", "mpi"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert shutil.which("mpirun"), "mpirun missing: run `make deps`"
    return MPI_BIN


def mpirun(n, *args, timeout=TIMEOUT, verbose=False):
    """verbose: rank 0 says what the split lattice's ranks were commanded
    (SOFTMATRIX_MPI_VERBOSE), and how --resume copied the snapshots
    (SOFTMATRIX_RESUME_VERBOSE)."""
    env = ["-x", "SOFTMATRIX_MPI_VERBOSE=1", "-x", "SOFTMATRIX_RESUME_VERBOSE=1"] if verbose else []
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", *env, str(MPI_BIN), *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV)
    return p.returncode, p.stdout, p.stderr


def same_h5(a, b, *exclude):
    """h5diff finds no difference but in /summary/timing and the paths
    `exclude` names."""
    skip = [x for path in ("/summary/timing", *exclude) for x in ("--exclude-path", path)]
    p = subprocess.run(["h5diff", *skip, str(a), str(b)], capture_output=True, text=True)
    assert p.returncode in (0, 1), p.stderr
    return p.returncode == 0, p.stdout[-1500:]


def mpi_counts(err, kind="level"):
    """The counts of commands in rank 0's SOFTMATRIX_MPI_VERBOSE line of the
    kind's split (the first, when it split more than once)."""
    m = re.search(kind + r" dynamics: (\d+) split sweeps, (\d+) sums, (\d+) counts, (\d+) gathers, "
                  r"(\d+) censuses, (\d+) snapshots, (\d+) block writes, (\d+) block reads", err)
    assert m, err
    keys = ("sweeps", "sums", "counts", "gathers", "censuses", "snapshots", "writes", "reads")
    return dict(zip(keys, map(int, m.groups())))


def softmatrix_lines(err):
    """Lines the program printed (not Open MPI's own banner)."""
    return [l for l in err.splitlines() if l.startswith("softmatrix")]


# ---- one rank: the OpenMP binary ------------------------------------------

@pytest.mark.parametrize("kind,boundary", [("level", "open"), ("cage", "periodic")])
def test_one_rank_run_is_the_openmp_run(sm_bin, mpi_bin, tmp_path, kind, boundary):
    out = tmp_path / "run.h5"
    cfg = write_config(tmp_path / "c.json", pinned_config(out, kind, boundary))
    rc, _, err = run_sm("run", cfg, "--threads", 2, "--quiet")
    assert rc == 0, err
    out.rename(tmp_path / "serial.h5")
    rc, _, err = mpirun(1, "run", cfg, "--threads", 2, "--quiet")
    assert rc == 0, err
    same, diff = same_h5(tmp_path / "serial.h5", out)
    assert same, diff
    # started without mpirun: one rank, no MPI runtime needed
    out.rename(tmp_path / "mpirun.h5")
    p = subprocess.run([str(mpi_bin), "run", str(cfg), "--threads", "1", "--quiet"],
                       capture_output=True, text=True, timeout=TIMEOUT, env=ENV)
    assert p.returncode == 0, p.stderr
    same, diff = same_h5(tmp_path / "serial.h5", out)
    assert same, diff


@pytest.mark.parametrize("args", [
    ["validate", "configs/quick.json", "--set", "model.g=2.5"],
    ["constants"], ["table1"], ["doc", "config"], ["doc", "output"], ["--version"],
    ["validate", "configs/no_such.json"], ["run", "--no-such-option"], ["nosuch"],
])
def test_one_rank_subcommands_print_the_same(sm_bin, mpi_bin, args):
    rc, out, err = run_sm(*args, cwd=ROOT)
    p = subprocess.run(["mpirun", "-n", "1", str(mpi_bin), *args], cwd=ROOT, capture_output=True,
                       text=True, timeout=TIMEOUT, env=ENV)
    assert p.returncode == rc
    assert p.stdout == out
    assert softmatrix_lines(p.stderr) == softmatrix_lines(err)


# ---- the sweep farm -------------------------------------------------------

def sweep_config(tmp_path, out_dir):
    cfg = small_config(tmp_path / "unused.h5", schedule=[{"T": 2.0, "sweeps": 40},
                                                         {"T_from": 2.0, "T_to": 1.0, "sweeps": 40}])
    del cfg["temperature"]
    cfg["run"] = {"seed": 1, "equilibration_sweeps": 10, "measure_every": 2, "snapshot_every": 40}
    cfg["output"] = {"path": str(out_dir), "snapshot_fields": ["level", "sigma"]}
    cfg["sweep"] = {"keys": {"model.J": [-0.125, 0.125], "run.seed": [1, 2, 3],
                             "dynamics.kind": ["level", "cage"]}}
    return write_config(tmp_path / "sweep.json", cfg)


@pytest.fixture(scope="module")
def serial_sweep(sm_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("serial_sweep")
    cfg = sweep_config(d, d / "out")
    rc, _, err = run_sm("sweep", cfg, "--quiet", "--jobs", 2)
    assert rc == 0, err
    (d / "out").rename(d / "serial")
    return d, cfg


def assert_same_dirs(a, b):
    names = sorted(p.name for p in a.glob("*.h5"))
    assert names == sorted(p.name for p in b.glob("*.h5")) and "index.h5" in names
    for n in names:
        same, diff = same_h5(a / n, b / n)
        assert same, f"{n}: {diff}"


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_sweep_farm_equals_serial_sweep(mpi_bin, serial_sweep, ranks):
    d, cfg = serial_sweep
    shutil.rmtree(d / "out", ignore_errors=True)
    rc, out, err = mpirun(ranks, "sweep", cfg)
    assert rc == 0, err
    assert_same_dirs(d / "serial", d / "out")
    if ranks > 1:
        # rank 0 reports every point, each once, run by a worker
        done = [l for l in err.splitlines() if l.startswith("sweep:")]
        assert len(done) == 12 and all(" on rank " in l and " on rank 0" not in l for l in done)
        assert out.count("wrote ") == 1
    # a second run keeps every point and rebuilds the same index
    rc, _, err = mpirun(ranks, "sweep", cfg, "--quiet")
    assert rc == 0, err
    assert_same_dirs(d / "serial", d / "out")


@pytest.mark.parametrize("ranks,groups", [(3, 1), (6, 2)])
def test_sweep_groups_of_ranks_split_each_point(mpi_bin, serial_sweep, ranks, groups):
    """--ranks-per-point 2: rank 0 hands the points to groups of two ranks,
    whose leader splits each point's lattice over its group; the files are
    the serial sweep's. With 6 ranks: 2 groups, rank 5 idle."""
    d, cfg = serial_sweep
    shutil.rmtree(d / "out", ignore_errors=True)
    p = subprocess.run(["mpirun", "-n", str(ranks), "-x", "SOFTMATRIX_MPI_VERBOSE=1", str(mpi_bin), "sweep",
                        str(cfg), "--ranks-per-point", "2"], capture_output=True, text=True,
                       timeout=TIMEOUT, env=ENV)
    assert p.returncode == 0, p.stderr
    assert_same_dirs(d / "serial", d / "out")
    # split over the group's 2 ranks: the 6 level points, and each of the 6
    # cage points, whose level-dynamics equilibration sweeps the cage
    # dynamics' blocks (lent) and whose equilibrium check's reference splits a
    # lattice of its own over the same ranks
    assert p.stderr.count("level dynamics: 8x8 lattice split over 1x2 ranks") == 18, p.stderr
    assert p.stderr.count(" (lent)\n") == 6, p.stderr
    assert p.stderr.count("cage dynamics: 8x8 lattice split over 1x2 ranks") == 6, p.stderr
    leaders = {int(l.split(" on rank ")[1].split()[0]) for l in p.stderr.splitlines() if l.startswith("sweep:")}
    assert leaders == {1 + 2 * g for g in range(groups)}
    if ranks == 6:
        assert "5 ranks in 2 groups of 2; 1 rank stays idle" in p.stderr


def test_sweep_ranks_per_point_needs_the_ranks(mpi_bin, sm_bin, tmp_path):
    cfg = sweep_config(tmp_path, tmp_path / "out")
    rc, _, err = mpirun(2, "sweep", cfg, "--ranks-per-point", 2, timeout=120)
    assert rc == 2 and softmatrix_lines(err) == [
        "softmatrix: sweep: --ranks-per-point 2: the job has 2 ranks, a group needs 2 beside rank 0 "
        "(use mpirun -n 3 or more)"], err
    rc, _, err = run_sm("sweep", cfg, "--ranks-per-point", 2)
    assert rc == 2 and "--ranks-per-point 2: needs build/softmatrix-mpi started by mpirun with at least 3 " \
        "ranks" in err, err
    assert not (tmp_path / "out").exists()


def test_sweep_failed_point_is_in_the_index(mpi_bin, serial_sweep):
    d, cfg = serial_sweep
    shutil.rmtree(d / "out", ignore_errors=True)
    (d / "out" / "point_0004.h5.partial").mkdir(parents=True)   # point 4 cannot write its file
    rc, _, err = mpirun(3, "sweep", cfg, "--quiet")
    assert rc == 1
    assert [l for l in softmatrix_lines(err) if "failed" in l] == [
        "softmatrix: sweep: 1 of 12 points failed (4); the index reports them in its status "
        "column, rerun the same command to redo them"]
    with h5py.File(d / "out" / "index.h5") as f:
        assert list(f["status"][:]) == [0, 0, 0, 0, 2] + [0] * 7   # the point's exit code
        e = f["mean/energy"][:]
        assert (e[4] != e[4]) and all(e[i] == e[i] for i in range(12) if i != 4)
    for p in range(12):   # the others ran to the end, as in the serial sweep
        if p != 4:
            same, diff = same_h5(d / "serial" / f"point_{p:04d}.h5", d / "out" / f"point_{p:04d}.h5")
            assert same, diff
    # the fault removed, the same command redoes point 4 alone and the index is the serial one
    (d / "out" / "point_0004.h5.partial").rmdir()
    rc, _, err = mpirun(3, "sweep", cfg, "--quiet")
    assert rc == 0, err
    assert_same_dirs(d / "serial", d / "out")


def test_sweep_more_ranks_than_points(mpi_bin, tmp_path):
    cfg = sweep_config(tmp_path, tmp_path / "out")
    rc, _, err = mpirun(4, "sweep", cfg, "--set", "sweep.keys.run.seed=[1]",
                        "--set", 'sweep.keys.dynamics.kind=["level"]')
    assert rc == 0, err
    assert "3 worker ranks for 2 points: 1 of them stay idle" in err
    assert len(list((tmp_path / "out").glob("point_*.h5"))) == 2


# ---- bad input: one line from rank 0, non-zero everywhere, no hang ---------

@pytest.mark.parametrize("args,code,needle", [
    (["sweep", "NOSUCH.json"], 2, "NOSUCH.json"),
    (["sweep", "CFG", "--set", "sweep.keys.model.g=[-1]"], 2, "sweep.keys.model.g"),
    (["sweep", "CFG", "--jobs", "0"], 2, "--jobs"),
    (["sweep", "CFG", "--no-such"], 2, "--no-such"),
    (["validate", "NOSUCH.json"], 2, "NOSUCH.json"),
])
def test_bad_input_one_line_from_rank_0(mpi_bin, tmp_path, args, code, needle):
    cfg = sweep_config(tmp_path, tmp_path / "out")
    args = [str(cfg) if a == "CFG" else a for a in args]
    rc, out, err = mpirun(3, *args, timeout=120)
    assert rc == code, err
    lines = softmatrix_lines(err)
    assert len(lines) == 1 and needle in lines[0], err
    assert not (tmp_path / "out" / "index.h5").exists()


def test_mpi_build_without_open_mpi_says_so_in_one_line(tmp_path):
    """make mpi where mpicc is missing: one line naming it and what installs
    it, a non-zero exit, nothing built."""
    p = subprocess.run(["make", "--no-print-directory", "mpi", "MPICC=no-such-mpicc", f"BUILD={tmp_path / 'b'}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    lines = [l for l in p.stderr.splitlines() if l.startswith("make mpi:")]
    assert len(lines) == 1 and "no-such-mpicc not found" in lines[0] and "make deps" in lines[0], p.stderr
    assert not (tmp_path / "b").exists()


def test_sweep_index_locked_releases_workers(mpi_bin, tmp_path):
    """rank 0 fails after the workers are waiting (index busy): all leave."""
    cfg = sweep_config(tmp_path, tmp_path / "out")
    (tmp_path / "out").mkdir()
    holder = subprocess.Popen(["flock", str(tmp_path / "out" / "index.h5.lock"), "sleep", "60"])
    try:
        import time
        time.sleep(0.5)
        rc, _, err = mpirun(3, "sweep", cfg, timeout=120)
    finally:
        holder.kill()
    assert rc != 0
    assert len(softmatrix_lines(err)) >= 1 and "index.h5" in softmatrix_lines(err)[-1]
    assert not (tmp_path / "out" / "index.h5").exists()


# ---- one lattice over several ranks ---------------------------------------

def lattice_config(tmp_path, kind, boundary, Lx, Ly):
    from test_pinned import pinned_config
    cfg = pinned_config(tmp_path / "run.h5", kind, boundary)
    cfg["lattice"] = {"Lx": Lx, "Ly": Ly, "boundary": boundary}
    if kind == "cage":   # the level dynamics equilibrates, then the cage dynamics, both split
        cfg["run"]["equilibration_dynamics"] = "level"
    return write_config(tmp_path / f"{kind}_{boundary}.json", cfg)


# (kind, boundary, Lx, Ly): odd and uneven sizes, a lattice taller than wide, and one
# more than twice as wide as tall (cut along x: halo columns, edge columns); the cage
# dynamics' own cases are test_split_cage_equals_openmp_run's
CASES = [("level", "open", 23, 17), ("level", "periodic", 24, 20), ("level", "open", 9, 31),
         ("level", "open", 41, 13)]


@pytest.fixture(scope="module")
def openmp_run(sm_bin, tmp_path_factory):
    """openmp_run(key, make_config, *args): the OpenMP run of a config, made
    once for every split run compared with it. make_config(directory) writes
    the config, whose output is directory/run.h5; returns (directory, config,
    stdout) with the OpenMP file in directory/serial.h5 and run.h5 free for
    the split run (the path is part of the file)."""
    runs = {}

    def get(key, make_config, *args):
        if key not in runs:
            d = tmp_path_factory.mktemp("openmp")
            cfg = make_config(d)
            rc, out, err = run_sm("run", cfg, *args)
            assert rc == 0, err
            (d / "run.h5").rename(d / "serial.h5")
            runs[key] = (d, cfg, out)
        d = runs[key][0]
        for f in d.glob("run.h5*"):   # left by an earlier split run that failed
            f.unlink()
        return runs[key]
    return get


def keep_split_output(d, name):
    """The split run's file kept under a name of its own (the suite checks the
    files left for H5MD conformance at its end), run.h5 free for the next."""
    (d / "run.h5").rename(d / f"{name}.h5")


@pytest.mark.parametrize("ranks,threads", [(2, 1), (3, 2), (4, 1)])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "_".join(map(str, c)))
def test_split_lattice_equals_openmp_run(sm_bin, mpi_bin, openmp_run, case, ranks, threads):
    d, cfg, _ = openmp_run(("lattice", *case), lambda d: lattice_config(d, *case), "--threads", 2, "--quiet")
    p = subprocess.run(["mpirun", "-n", str(ranks), "--oversubscribe", "-x", "SOFTMATRIX_MPI_VERBOSE=1",
                        str(mpi_bin), "run", str(cfg), "--threads", str(threads), "--quiet"],
                       capture_output=True, text=True, timeout=TIMEOUT, env=ENV)
    assert p.returncode == 0, p.stderr
    # the lattice was split: more pieces along y, unless it is more than twice as wide as tall
    px, py = {2: (1, 2), 3: (1, 3), 4: (2, 2)}[ranks]
    if case[2] > 2 * case[3]:
        px, py = py, px
    assert f"lattice split over {px}x{py} ranks" in p.stderr
    same, diff = same_h5(d / "serial.h5", d / "run.h5")
    assert same, diff
    keep_split_output(d, f"split_{ranks}_{threads}")


def sparse_config(tmp_path, kind):
    """Diagnostics due at different sweeps, none at most: the split lattice
    is gathered only for them and for the checkpoints, between which every
    rank keeps its block and its own sums (sim_sync)."""
    cfg = small_config(tmp_path / "run.h5", lattice={"Lx": 26, "Ly": 18, "boundary": "periodic"})
    cfg["dynamics"] = {"kind": kind}
    cfg.pop("temperature", None)
    cfg["schedule"] = [{"T": 4.0, "sweeps": 40, "equilibration": 23},
                       {"T_from": 4.0, "T_to": 2.0, "sweeps": 30},
                       {"T": 2.0, "sweeps": 50, "equilibration": 17}]
    cfg["run"] = {"seed": 3, "equilibration_sweeps": 31, "measure_every": 7, "snapshot_every": 9,
                  "census_every": 11, "checkpoint_every": 13, "equilibration_dynamics": "level",
                  "equilibrate_each_segment": kind == "cage"}
    cfg["output"]["snapshot_fields"] = ["level", "sigma"]
    return write_config(tmp_path / f"sparse_{kind}.json", cfg)


@pytest.mark.parametrize("kind", ["level", "cage"])
def test_split_lattice_synced_only_when_read(sm_bin, mpi_bin, tmp_path, kind):
    cfg = sparse_config(tmp_path, kind)
    rc, _, err = run_sm("run", cfg, "--quiet")
    assert rc == 0, err
    (tmp_path / "run.h5").rename(tmp_path / "serial.h5")
    rc, _, err = mpirun(3, "run", cfg, "--quiet", verbose=True)
    assert rc == 0, err
    same, diff = same_h5(tmp_path / "serial.h5", tmp_path / "run.h5")
    assert same, diff
    # a checkpoint every 13 of the 191 sweeps: each writes level and sigma
    # from the blocks; the cage run's level blocks hold no checkpoint, its
    # cage blocks write level, sigma, phase, z counts and stamps for the 9
    # checkpoints they hold the state at (the other 5 come right after a
    # level-dynamics block, from rank 0's arrays)
    assert mpi_counts(err)["writes"] == (2 * (191 // 13) if kind == "level" else 0), err
    if kind == "cage":
        assert mpi_counts(err, "cage")["writes"] == 5 * 9, err


def test_split_lattice_measures_without_gathering(sm_bin, mpi_bin, tmp_path):
    """measure_every 1: the observables come from the blocks (sums and field
    counts reduced over ranks), the 4 snapshots are written by every rank from
    its block: nothing gathers the lattice, and the file is the OpenMP run's."""
    cfg = small_config(tmp_path / "run.h5", lattice={"Lx": 64, "Ly": 48, "boundary": "periodic"})
    cfg["run"] = {"seed": 1, "equilibration_sweeps": 10, "sweeps": 200, "measure_every": 1,
                  "snapshot_every": 50}
    cfg["output"]["snapshot_fields"] = ["level"]
    cfg = write_config(tmp_path / "m1.json", cfg)
    rc, _, err = run_sm("run", cfg, "--quiet")
    assert rc == 0, err
    (tmp_path / "run.h5").rename(tmp_path / "serial.h5")
    p = subprocess.run(["mpirun", "-n", "2", "-x", "SOFTMATRIX_MPI_VERBOSE=1", str(mpi_bin), "run",
                        str(cfg), "--quiet"], capture_output=True, text=True, timeout=TIMEOUT, env=ENV)
    assert p.returncode == 0, p.stderr
    # 200 measurements and the end sum, every count from the blocks
    assert "210 split sweeps, 201 sums, 200 counts, 0 gathers, 0 censuses, 4 snapshots" in p.stderr, p.stderr
    same, diff = same_h5(tmp_path / "serial.h5", tmp_path / "run.h5")
    assert same, diff


def peak_rss_mb(cmd):
    """The largest peak resident set of the processes cmd starts (mpirun's
    ranks are its children), in MB: measured in a process of its own."""
    probe = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True); "
             "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    p = subprocess.run([sys.executable, "-c", probe, *map(str, cmd)], capture_output=True, text=True,
                       timeout=TIMEOUT, env=ENV)
    rc, kb = map(int, p.stdout.split())
    assert rc == 0, p.stderr
    return kb / 1024


@not_under_asan
def test_split_lattice_is_not_held_by_rank_0(mpi_bin, tmp_path):
    """The blocks set up the initial state themselves and nothing reads the
    fields (observables only): no rank ever holds the 4096 x 2048 lattice
    (16.8 MB of level and sigma), each only its half (8.4 MB). Peak RSS of
    the largest rank, against the same run of a 64 x 32 lattice."""
    def cmd(Lx, Ly, name):
        c = small_config(tmp_path / f"{name}.h5", lattice={"Lx": Lx, "Ly": Ly, "boundary": "periodic"})
        c["run"] = {"seed": 2, "equilibration_sweeps": 2, "sweeps": 8, "measure_every": 2}
        cfg = write_config(tmp_path / f"{name}.json", c)
        return ["mpirun", "-n", "2", "-x", "SOFTMATRIX_MPI_VERBOSE=1", MPI_BIN, "run", cfg, "--quiet"]
    per_site = peak_rss_mb(cmd(4096, 2048, "big")) - peak_rss_mb(cmd(64, 32, "small"))
    assert 4 < per_site < 12, per_site   # rank 0 holding the lattice too: about 25


@not_under_asan
def test_split_cage_lattice_is_not_held_by_rank_0(mpi_bin, tmp_path):
    """The cage dynamics: the blocks set up the initial state, lend their
    level and sigma to the level-dynamics equilibration, count the
    observables and keep their stamps and z counts; rank 0 allocates no copy
    of the 4096 x 2048 lattice (7 bytes a site: level, sigma, phase, int16 z,
    uint16 stamps: 60 MB), each rank holds its half in its block (11 bytes a
    site with int32 z counts and stamps: 46 MB). Peak RSS of the largest rank
    against a 64 x 32 run."""
    def cmd(Lx, Ly, name):
        c = small_config(tmp_path / f"{name}.h5", lattice={"Lx": Lx, "Ly": Ly, "boundary": "periodic"})
        c["dynamics"] = {"kind": "cage"}
        c["run"] = {"seed": 2, "equilibration_sweeps": 1, "sweeps": 2, "measure_every": 1,
                    "equilibration_dynamics": "level"}
        cfg = write_config(tmp_path / f"{name}.json", c)
        return ["mpirun", "-n", "2", MPI_BIN, "run", cfg, "--quiet"]
    held = peak_rss_mb(cmd(4096, 2048, "big")) - peak_rss_mb(cmd(64, 32, "small"))
    assert 35 < held < 60, held   # 44 here; rank 0 gathering the lattice once: 130


def test_validate_under_mpirun_gives_one_ranks_memory(sm_bin, mpi_bin, tmp_path):
    """A lattice split over 2 ranks: validate (and the run's check before it
    starts) counts one rank's block, half of the OpenMP binary's figure, also
    for a cage run with a level-dynamics equilibration (which sweeps the cage
    dynamics' blocks where they are)."""
    def level_and_sigma(err):
        (mib,) = re.findall(r"level and sigma +([0-9.]+) MiB", err)
        return float(mib)
    for kind, eq in (("level", "level"), ("cage", "same"), ("cage", "level")):
        c = small_config(tmp_path / "run.h5", lattice={"Lx": 4096, "Ly": 4096, "boundary": "periodic"})
        c["dynamics"] = {"kind": kind}
        c["run"] = {"seed": 1, "equilibration_sweeps": 10, "sweeps": 10, "equilibration_dynamics": eq}
        cfg = write_config(tmp_path / f"{kind}_{eq}.json", c)
        rc, _, serial = run_sm("validate", cfg)
        assert rc == 0 and level_and_sigma(serial) == 32.0, serial
        rc, _, err = mpirun(2, "validate", cfg)
        assert rc == 0, err
        assert "memory of each of 2 MPI ranks of a 4096 x 4096 run" in err, err
        assert level_and_sigma(err) == 16.0, err


def census_config(tmp_path, Lx, Ly, boundary, hot=False):
    """A census every 2nd of 24 measured sweeps and nothing else that reads
    the fields. hot: levels 7 and 8 (from level 8 at T = 9), whose
    footprints read sites up to the window's margin, 7 sites away."""
    cfg = small_config(tmp_path / "run.h5", lattice={"Lx": Lx, "Ly": Ly, "boundary": boundary})
    cfg["temperature"] = 9.0 if hot else 3.0
    if hot:
        cfg["init"] = {"level": 8, "sigma": "random"}
    cfg["run"] = {"seed": 5, "equilibration_sweeps": 5, "sweeps": 24, "measure_every": 3,
                  "census_every": 2}
    return write_config(tmp_path / "census.json", cfg)


def without_timing(out):
    return [l for l in out.splitlines() if not l.startswith("timing:")]


@pytest.mark.parametrize("ranks,Lx,Ly,boundary,threads,hot", [
    (2, 40, 34, "open", 1, False),       # 1x2 blocks
    (3, 38, 34, "periodic", 1, False),   # 1x3, uneven
    (4, 40, 34, "periodic", 2, False),   # 2x2
    (4, 37, 29, "open", 1, False),       # 2x2, uneven both ways
    (3, 64, 20, "open", 1, False),       # 3x1, uneven
    (2, 64, 20, "periodic", 2, False),   # 2x1
    # blocks under the window's margin (7 sites), at levels 7 and 8: the
    # margin comes hop by hop from the neighbours' neighbours (rows and
    # columns of several blocks, round a periodic lattice, corners), and
    # the join's tree has steps with a rectangle left over
    (5, 20, 30, "open", 1, True),       # 1x5, 20 x 6: 2 hops along y
    (3, 16, 18, "periodic", 2, True),   # 1x3, 16 x 6: 2 hops along y, across the wrap
    (9, 16, 16, "periodic", 1, True),   # 3x3, 5 or 6 a side: 2 hops along x and y
])
def test_census_on_the_blocks(sm_bin, mpi_bin, tmp_path, ranks, Lx, Ly, boundary, threads, hot):
    """The census of a split lattice is taken on its blocks, with no gather,
    and is the OpenMP binary's in every field (file and printed table)."""
    cfg = census_config(tmp_path, Lx, Ly, boundary, hot)
    rc, serial_out, err = run_sm("run", cfg, "--threads", threads)
    assert rc == 0, err
    (tmp_path / "run.h5").rename(tmp_path / "serial.h5")
    rc, out, err = mpirun(ranks, "run", cfg, "--threads", threads, verbose=True)
    assert rc == 0, err
    # no gather at all (each census used to add one)
    assert "29 split sweeps, 17 sums, 8 counts, 0 gathers, 12 censuses" in err, err
    assert without_timing(out) == without_timing(serial_out)
    assert "cluster census at sweep" in out
    same, diff = same_h5(tmp_path / "serial.h5", tmp_path / "run.h5")
    assert same, diff


def test_census_of_a_narrow_periodic_lattice_gathers(sm_bin, mpi_bin, tmp_path):
    """A periodic lattice under 16 sites a side wraps footprints onto
    themselves, which only the census of the whole lattice enumerates: it
    is gathered for each census instead, with the same result."""
    cfg = census_config(tmp_path, 12, 30, "periodic")
    rc, serial_out, err = run_sm("run", cfg)
    assert rc == 0, err
    (tmp_path / "run.h5").rename(tmp_path / "serial.h5")
    rc, out, err = mpirun(3, "run", cfg, verbose=True)
    assert rc == 0, err
    assert "split over 1x3 ranks" in err, err
    assert "12 gathers, 0 censuses" in err, err   # one for each census
    assert without_timing(out) == without_timing(serial_out)
    same, diff = same_h5(tmp_path / "serial.h5", tmp_path / "run.h5")
    assert same, diff


def test_more_ranks_than_the_lattice_splits_into(mpi_bin, tmp_path):
    cfg = lattice_config(tmp_path, "level", "periodic", 2, 2)
    rc, _, err = mpirun(6, "run", cfg, "--quiet", timeout=120)   # a 2x3 grid, 2 sites in y
    assert rc != 0
    assert softmatrix_lines(err) == [
        "softmatrix: 6 MPI ranks: a 2x2 lattice cannot be split into their 2x3 grid of blocks "
        "(a block needs at least one site per side); use fewer ranks"]
    assert not list(tmp_path.glob("run.h5*"))


def interrupt_resume_compare(tmp_path, cfg, ready=None, exclude=()):
    """SIGINT to rank 0 of a run of cfg split over 3 ranks, once ready()
    holds (default: the partial file exists): checkpoint, every rank exits
    130; the run resumed with 2 ranks, and with the OpenMP binary, equals
    the uninterrupted run (left in run.h5) but in the paths `exclude` names.
    Returns the stderr of the resume on 2 ranks."""
    import signal
    import time
    p = subprocess.Popen(["mpirun", "-n", "3", "--oversubscribe", str(MPI_BIN), "run", str(cfg), "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    rank0 = None
    deadline = time.time() + 60
    while rank0 is None and time.time() < deadline:
        time.sleep(0.2)
        for pid in Path("/proc").iterdir():
            try:
                if pid.name.isdigit() and b"OMPI_COMM_WORLD_RANK=0\0" in (pid / "environ").read_bytes() \
                        and str(cfg).encode() in (pid / "cmdline").read_bytes():
                    rank0 = int(pid.name)
            except OSError:
                pass
    assert rank0, "rank 0 not found"
    ready = ready or (lambda: (tmp_path / "run.h5.partial").exists())
    while not ready() and time.time() < deadline:
        time.sleep(0.05)   # the run is past its set-up and handles SIGINT
    time.sleep(0.3)
    os.kill(rank0, signal.SIGINT)
    _, err = p.communicate(timeout=TIMEOUT)
    assert p.returncode == 130, err
    assert "interrupted at sweep" in err
    ckpt, partial = tmp_path / "run.h5.ckpt", tmp_path / "run.h5.partial"
    saved = {f: f.read_bytes() for f in (ckpt, partial)}
    # resumed from the verified partial file, not rebuilt: the frames' checksums match;
    # every site record goes straight into the blocks (level, sigma; for the cage
    # dynamics phase, z counts and stamps too)
    rc, _, err = mpirun(2, "run", cfg, "--resume", verbose=True)
    assert rc == 0 and "resuming at sweep" in err and "rebuilding" not in err, err
    resumed = err
    if "cage dynamics:" in err:
        assert mpi_counts(err, "cage")["reads"] == 5, err
    else:
        assert mpi_counts(err)["reads"] == 2, err
    (tmp_path / "run.h5").rename(tmp_path / "resumed_2.h5")
    for f, data in saved.items():
        f.write_bytes(data)
    rc, _, err = run_sm("run", cfg, "--resume")
    assert rc == 0 and "resuming at sweep" in err and "rebuilding" not in err, err
    (tmp_path / "run.h5").rename(tmp_path / "resumed_serial.h5")
    rc, _, err = run_sm("run", cfg, "--quiet")
    assert rc == 0, err
    for f in ("resumed_2.h5", "resumed_serial.h5"):
        same, diff = same_h5(tmp_path / "run.h5", tmp_path / f, *exclude)
        assert same, f"{f}: {diff}"
    return resumed


def test_checkpoint_with_3_ranks_resumes_with_2_and_without_mpi(sm_bin, mpi_bin, tmp_path):
    cfg = small_config(tmp_path / "run.h5", lattice={"Lx": 40, "Ly": 30, "boundary": "open"})
    # long enough that the signal lands mid-run (a split sweep of 40 x 30 takes tens of us)
    cfg["run"] = {"seed": 5, "equilibration_sweeps": 50, "sweeps": 100000, "measure_every": 10,
                  "snapshot_every": 10000}
    cfg["output"]["snapshot_fields"] = ["level", "sigma"]
    interrupt_resume_compare(tmp_path, write_config(tmp_path / "ck.json", cfg))


def test_resume_copies_frames_of_several_chunks_as_stored(sm_bin, mpi_bin, tmp_path):
    """Frames of two chunks (pcp of 1024 x 352 sites: 4.3 MB in strips of
    341 rows) that 3 ranks wrote collectively: resumed on 2 ranks, rank 0
    copies every kept chunk as stored, none decoded and encoded again, and
    the result equals the OpenMP binary's (the /xdmf views of the frames
    left out of the comparison: slow to read, and only the frames again)."""
    cfg = small_config(tmp_path / "run.h5", lattice={"Lx": 1024, "Ly": 352, "boundary": "periodic"})
    # the signal lands some 0.3 s after the first checkpoint: tens of sweeps here
    cfg["run"] = {"seed": 5, "equilibration_sweeps": 0, "sweeps": 300, "measure_every": 10,
                  "snapshot_every": 50, "checkpoint_every": 50}
    cfg["output"].update(compression=1, snapshot_fields=["level", "sigma", "pcp"])
    path = write_config(tmp_path / "ck.json", cfg)
    err = interrupt_resume_compare(tmp_path, path, ready=lambda: ckpt_step(tmp_path / "run.h5.ckpt") >= 50,
                                   exclude=("/xdmf",))
    step = int(re.search(r"resuming at sweep (\d+)", err)[1])
    with h5py.File(tmp_path / "run.h5", "r") as f:
        frames = int(sum(f["snapshots/pcp/step"][()] <= step))
    assert frames >= 1, err
    assert f"{frames * (1 + 1 + 2)} snapshot chunks copied as stored, 0 frames decoded and encoded again" in err, err


def test_resume_from_another_configs_checkpoint_refused_by_every_rank(sm_bin, mpi_bin, tmp_path):
    """A checkpoint of a run with another seed: one line from rank 0, a non-zero
    exit on every rank (mpirun's own code), the checkpoint and the partial
    output unchanged, no result written."""
    import signal
    import time
    cfg = small_config(tmp_path / "run.h5", lattice={"Lx": 40, "Ly": 30, "boundary": "open"})
    cfg["run"] = {"seed": 5, "equilibration_sweeps": 50, "sweeps": 200000, "measure_every": 10}
    path = write_config(tmp_path / "a.json", cfg)
    p = subprocess.Popen([str(sm_bin), "run", str(path), "--quiet"], stderr=subprocess.PIPE, text=True,
                         env=ENV)
    deadline = time.time() + 60
    while not (tmp_path / "run.h5.partial").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=TIMEOUT)
    assert p.returncode == 130, err
    saved = {f: f.read_bytes() for f in tmp_path.glob("run.h5.*") if f.is_file() and f.suffix != ".lock"}
    assert set(f.name for f in saved) == {"run.h5.ckpt", "run.h5.partial"}
    cfg["run"]["seed"] = 6
    path = write_config(tmp_path / "a.json", cfg)
    rc, _, err = mpirun(3, "run", path, "--quiet", "--resume", timeout=120)
    assert rc != 0
    lines = softmatrix_lines(err)
    assert len(lines) == 1 and "checkpoint was written with another configuration" in lines[0] \
        and "seed" in lines[0], err
    assert all(f.read_bytes() == data for f, data in saved.items())
    assert not (tmp_path / "run.h5").exists()


# ---- snapshots of a split lattice: written collectively from the blocks ----

SNAP_FIELDS = ["level", "sigma", "phase", "z", "pcp"]


def snapshot_config(tmp_path, Lx, Ly, boundary, compression, sweeps=20, every=4):
    cfg = small_config(tmp_path / "run.h5", lattice={"Lx": Lx, "Ly": Ly, "boundary": boundary})
    cfg["run"] = {"seed": 2, "equilibration_sweeps": 5, "sweeps": sweeps, "measure_every": 3,
                  "snapshot_every": every}
    cfg["output"]["snapshot_fields"] = SNAP_FIELDS
    cfg["output"]["compression"] = compression
    return write_config(tmp_path / "snap.json", cfg)


def split_run_equals_openmp(tmp_path, cfg, ranks, threads=1):
    """The OpenMP run and the split one, to the same path: same file (h5diff),
    same XDMF sidecar, same report; returns the split run's stderr."""
    rc, out, err = run_sm("run", cfg, "--threads", 2)
    assert rc == 0, err
    (tmp_path / "run.h5").rename(tmp_path / "serial.h5")
    xmf = (tmp_path / "run.h5.xmf").read_text()
    p = subprocess.run(["mpirun", "-n", str(ranks), "--oversubscribe", "-x", "SOFTMATRIX_MPI_VERBOSE=1",
                        str(MPI_BIN), "run", str(cfg), "--threads", str(threads)],
                       capture_output=True, text=True, timeout=TIMEOUT, env=ENV)
    assert p.returncode == 0, p.stderr
    same, diff = same_h5(tmp_path / "serial.h5", tmp_path / "run.h5")
    assert same, diff
    assert (tmp_path / "run.h5.xmf").read_text() == xmf
    assert without_timing(p.stdout) == without_timing(out)
    return p.stderr


# (ranks, Lx, Ly, boundary, compression): odd sizes, uneven blocks, a 2x2 grid,
# a lattice cut along x (blocks of partial rows), compressed and not
@pytest.mark.parametrize("ranks,Lx,Ly,boundary,compression", [
    (2, 23, 17, "open", 0), (3, 24, 20, "periodic", 4), (4, 23, 17, "open", 2),
    (4, 26, 18, "periodic", 0), (4, 41, 13, "open", 3)])
def test_split_snapshots_written_collectively(sm_bin, mpi_bin, tmp_path, ranks, Lx, Ly, boundary,
                                              compression):
    """Every snapshot field every 4 sweeps: each rank writes its block; the
    file is the OpenMP run's, and the lattice is never gathered."""
    err = split_run_equals_openmp(tmp_path, snapshot_config(tmp_path, Lx, Ly, boundary, compression), ranks)
    assert "0 gathers, 0 censuses, 5 snapshots" in err, err


def test_split_snapshots_in_row_strips(sm_bin, mpi_bin, tmp_path):
    """A pcp frame of 4.7 MB is stored in chunks of 116 rows (at most 4 MiB,
    the same for any rank count), compressed, written by 2 ranks whose blocks
    hold half rows (cut along x); the other fields' frames are one chunk."""
    cfg = snapshot_config(tmp_path, 3000, 130, "periodic", 1, sweeps=6, every=3)
    err = split_run_equals_openmp(tmp_path, cfg, 2, threads=2)
    assert "lattice split over 2x1 ranks" in err and "2 snapshots" in err, err
    for f in ("serial.h5", "run.h5"):
        with h5py.File(tmp_path / f) as h:
            assert h["snapshots/pcp/value"].chunks == (1, 116, 3000, 3)
            assert h["snapshots/level/value"].chunks == (1, 130, 3000)


def test_split_run_with_snapshots_resumes_bitwise(sm_bin, mpi_bin, tmp_path):
    """SIGINT to rank 0 of a split run that writes snapshots collectively:
    the checkpoint holds the frames' checksums (read back from the file by
    rank 0), which the partial file matches; resumed split over 2 ranks, and
    by the OpenMP binary, the file equals the uninterrupted OpenMP run's."""
    cfg = snapshot_config(tmp_path, 40, 30, "open", 1, sweeps=6000, every=300)

    def two_frames():   # past the first snapshots
        try:
            with h5py.File(tmp_path / "run.h5.partial", "r", locking=False) as h:
                return h["snapshots/pcp/value"].shape[0] >= 2
        except (OSError, KeyError):
            return False
    interrupt_resume_compare(tmp_path, cfg, ready=two_frames)
    with h5py.File(tmp_path / "run.h5") as h:
        assert h["snapshots/pcp/value"].shape[0] == 20


@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB tmpfs (needs root and mount permission; skipped otherwise)."""
    yield from tmpfs(tmp_path, "small", "2m")


@pytest.mark.parametrize("ranks", [2, 4])
def test_split_snapshot_on_a_full_disk_fails_cleanly(mpi_bin, small_fs, ranks):
    """Uncompressed frames of 0.76 MB on a 2 MiB disk: the first snapshot is
    written, the second does not fit. Rank 0 says so in one line before any
    rank starts writing (parallel HDF5 would leave the others waiting in a
    collective call), every rank exits non-zero, nothing is published."""
    cfg = small_config(small_fs / "run.h5", lattice={"Lx": 200, "Ly": 200, "boundary": "open"})
    cfg["run"] = {"seed": 2, "equilibration_sweeps": 5, "sweeps": 10, "measure_every": 3, "snapshot_every": 2}
    cfg["output"]["snapshot_fields"] = SNAP_FIELDS
    cfg["output"]["compression"] = 0
    path = write_config(small_fs.parent / "full.json", cfg)
    rc, _, err = mpirun(ranks, "run", path, "--quiet", timeout=120)
    assert rc != 0
    lines = softmatrix_lines(err)
    assert len(lines) == 1 and "No space left on device for the snapshot" in lines[0], err
    assert not (small_fs / "run.h5").exists()
    with h5py.File(small_fs / "run.h5.partial", "r") as h:
        assert h["snapshots/pcp/value"].shape[0] == 1


# ---- the cage dynamics of one lattice over several ranks ------------------

def hot_cage_config(tmp_path, boundary, Lx, Ly, schedule=None):
    """Hot enough that soft matrices form at once: level 7 everywhere, phases
    drawn uniformly by a one-sweep level-dynamics equilibration, no
    barriers, so PCPs cross into level 8 (and back) every few sweeps; every
    event's footprint (radius 8) reaches across block edges. Three segments,
    the last with its own level-dynamics equilibration, for which the cage
    dynamics is set aside and taken back."""
    cfg = small_config(tmp_path / "run.h5", lattice={"Lx": Lx, "Ly": Ly, "boundary": boundary})
    cfg.pop("temperature")
    cfg["dynamics"] = {"kind": "cage", "trap_barrier": 0, "async_barrier": 0}
    cfg["schedule"] = schedule or [{"T": 9.0, "sweeps": 60}, {"T_from": 9.0, "T_to": 6.0, "sweeps": 40},
                                   {"T": 8.0, "equilibration": 15, "sweeps": 40}]
    cfg["run"] = {"seed": 11, "equilibration_sweeps": 1, "measure_every": 3, "snapshot_every": 37,
                  "census_every": 50, "equilibration_dynamics": "level", "equilibrate_each_segment": True}
    cfg["init"] = {"level": 7, "sigma": "random"}
    cfg["output"]["snapshot_fields"] = ["level", "sigma", "phase", "z"]
    return write_config(tmp_path / "hot.json", cfg)


# (boundary, Lx, Ly, ranks, threads): odd sizes, uneven blocks, a 2x2 grid,
# lattices more than twice as wide as tall (cut along x: x halos, bonds
# across the periodic x edge between blocks)
CAGE_CASES = [("periodic", 26, 22, 2, 1), ("periodic", 26, 22, 4, 2), ("open", 21, 15, 3, 2),
              ("open", 21, 15, 4, 1), ("open", 45, 13, 2, 2), ("periodic", 40, 12, 3, 1)]


@pytest.mark.parametrize("case", CAGE_CASES, ids=lambda c: "_".join(map(str, c)))
def test_split_cage_equals_openmp_run(sm_bin, mpi_bin, openmp_run, case):
    boundary, Lx, Ly, ranks, threads = case
    d, cfg, out = openmp_run(("hot cage", boundary, Lx, Ly), lambda d: hot_cage_config(d, boundary, Lx, Ly),
                             "--threads", 2)
    with h5py.File(d / "serial.h5", "r") as f:
        assert f["kinetics/soft_matrix_jumps"][:].min() > 0   # in every segment
        censuses = f["census/n_centres/step"].shape[0]
    p = subprocess.run(["mpirun", "-n", str(ranks), "--oversubscribe", "-x", "SOFTMATRIX_MPI_VERBOSE=1",
                        str(mpi_bin), "run", str(cfg), "--threads", str(threads)],
                       capture_output=True, text=True, timeout=TIMEOUT, env=ENV)
    assert p.returncode == 0, p.stderr
    px, py = {2: (1, 2), 3: (1, 3), 4: (2, 2)}[ranks]
    if Lx > 2 * Ly:
        px, py = py, px
    # split once; the level-dynamics equilibrations (the run's and the last
    # segment's) sweep the cage dynamics' blocks where they are, and the
    # equilibrium check's reference run splits a lattice of its own beside them
    assert p.stderr.count(f"cage dynamics: {Lx}x{Ly} lattice split over {px}x{py} ranks") == 1, p.stderr
    level = f"level dynamics: {Lx}x{Ly} lattice split over {px}x{py} ranks"
    assert p.stderr.count(level) == 3 and p.stderr.count(" (lent)\n") == 2, p.stderr
    assert re.findall(r"level dynamics: .* (\d+) gathers", p.stderr) == ["0"] * 3, p.stderr
    # every census taken on the blocks (periodic lattices under 16 sites a
    # side gather instead, census_mpi_blocks_ok)
    taken = sum(int(n) for n in re.findall(r"cage dynamics: .* gathers, (\d+) censuses", p.stderr))
    # snapshots (phase and z included) written by every rank from its block
    assert sum(int(n) for n in re.findall(r"cage dynamics: .* censuses, (\d+) snapshots", p.stderr)) > 0
    on_blocks = boundary == "open" or min(Lx, Ly) >= 16
    assert taken == (censuses if on_blocks else 0) and censuses > 0, p.stderr
    # the blocks set up the initial state and count the observables (trap
    # line, paired bonds, z counts): only narrow periodic lattices gather, for
    # their censuses
    gathers = sum(int(n) for n in re.findall(r"cage dynamics: .* (\d+) gathers", p.stderr))
    assert gathers == 0 if on_blocks else 0 < gathers <= censuses, p.stderr
    same, diff = same_h5(d / "serial.h5", d / "run.h5")
    assert same, diff
    assert without_timing(p.stdout) == without_timing(out)
    keep_split_output(d, f"split_{ranks}_{threads}")


def test_split_cage_checkpoint_resumes_with_2_and_without_mpi(sm_bin, mpi_bin, tmp_path):
    cfg = hot_cage_config(tmp_path, "open", 30, 23, schedule=[{"T": 9.0, "equilibration": 10, "sweeps": 8000}])
    interrupt_resume_compare(tmp_path, cfg)
    with h5py.File(tmp_path / "run.h5", "r") as f:
        assert f["kinetics/soft_matrix_jumps"][:].min() > 0


def test_split_cage_lattice_too_small_for_the_ranks(mpi_bin, tmp_path):
    cfg = lattice_config(tmp_path, "cage", "periodic", 2, 2)
    rc, _, err = mpirun(6, "run", cfg, "--quiet", timeout=120)
    assert rc != 0
    assert softmatrix_lines(err) == [
        "softmatrix: 6 MPI ranks: a 2x2 lattice cannot be split into their 2x3 grid of blocks "
        "(a block needs at least one site per side); use fewer ranks"]
    assert not list(tmp_path.glob("run.h5*"))
