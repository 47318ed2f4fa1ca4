"""softmatrix: read the HDF5 output of the softmatrix simulator (Wu's cluster
model of glass states) into numpy or xarray, analyse it and plot it.

    import softmatrix as sm
    ds = sm.observables("out/default.h5")        # xarray Dataset: step, time, T
    ds.n_soft_matrix.plot(x="time")
    s = sm.summaries("out/default.h5")           # per segment mean/error/tau_int
    kin = sm.kinetics("out/cage_relaxation/point_0004.h5")  # tau_i, loop completions
    lev = sm.snapshots("out/default.h5", "level")  # DataArray [step, y, x]
    idx = sm.sweep_index("out/sweep_T/index.h5")   # one row per sweep point
    run = sm.open_run("out/default.h5")          # everything, as numpy

Figures: ``python3 -m softmatrix.plot {run,snapshot,sweep,table1,hysteresis,
kinetics} ...`` or the ``softmatrix.figures.plot_*`` functions.  A running
simulation's ``PATH.partial`` can be read too (RunInProgressWarning).
"""
from .io import (LEVELS, Kinetics, Run, RunInProgressWarning, Snapshots, SoftmatrixFileError,
                 Summary, Sweep, SweepIndex, TABLE1_COLUMNS, TimeSeries, census, kinetics,
                 observables, open_run, open_sweep, read_table1_json, schedule_segments,
                 snapshots, summaries, sweep_from_run, sweep_index)
from .analysis import (PAPER_TG_OVER_TM, binned, branch_of_sample, census_snapshot,
                       first_crossing, fit_relaxation, fit_tau_levels, glass_temperatures,
                       is_log_spaced, onset_temperatures, relaxation_fits, table1_paper,
                       tau_level_fits)

__version__ = "0.1.0"

__all__ = ["LEVELS", "Kinetics", "Run", "RunInProgressWarning", "Snapshots",
           "SoftmatrixFileError", "Summary", "Sweep", "SweepIndex", "TABLE1_COLUMNS",
           "TimeSeries", "census", "kinetics", "observables", "open_run", "open_sweep",
           "read_table1_json", "schedule_segments", "snapshots", "summaries", "sweep_from_run",
           "sweep_index", "PAPER_TG_OVER_TM", "binned", "branch_of_sample", "census_snapshot",
           "first_crossing", "fit_relaxation", "fit_tau_levels", "glass_temperatures",
           "is_log_spaced", "onset_temperatures", "relaxation_fits", "table1_paper",
           "tau_level_fits", "__version__"]
