"""softmatrix_tools: read softmatrix HDF5 output into numpy and plot it.

    import sys; sys.path.insert(0, "scripts")
    from softmatrix_tools import open_run, open_sweep, SoftmatrixFileError
    run = open_run("out/default.h5")
    e = run.obs("energy").value                 # [n] time series
    f = run.obs("level_histogram").value        # [n, 10], levels -1..8
    step, lev = run.snapshots["level"].at()     # last snapshot [Ly, Lx]
    run.summary.mean("specific_heat")           # one entry per segment
    sw = open_sweep("out/default.h5")           # holds (or a sweep index) as points

Use Debian's interpreter: /usr/bin/python3 (h5py, numpy, matplotlib).
"""
from .io import (LEVELS, Run, Snapshots, SoftmatrixFileError, Summary, Sweep, TimeSeries,
                 TABLE1_COLUMNS, open_run, open_sweep, read_table1_json, sweep_from_run)
from .analysis import (PAPER_TG_OVER_TM, branch_of_sample, census_snapshot, first_crossing,
                       glass_temperatures, onset_temperatures, table1_paper)

__all__ = ["LEVELS", "Run", "Snapshots", "SoftmatrixFileError", "Summary", "Sweep",
           "TimeSeries", "TABLE1_COLUMNS", "open_run", "open_sweep", "read_table1_json",
           "sweep_from_run", "PAPER_TG_OVER_TM", "branch_of_sample", "census_snapshot",
           "first_crossing", "glass_temperatures", "onset_temperatures", "table1_paper"]
__version__ = "0.1.0"
