/* Parameter scans (the `sweep` subcommand): every point of a config's
 * sweep block run as its own process, DIR/point_NNNN.h5 per point and an
 * index with one row per point. Finished points are kept, so an
 * interrupted scan resumes with the same command. */
#ifndef SM_SCAN_RUNNER_H
#define SM_SCAN_RUNNER_H

#include <stdint.h>
#include "core/error.h"

/* Somewhere else to run the points (the MPI farm, mpi/farm.h): run fills
 * status[r] with the exit code of todo[r] (0: finished) and returns an
 * SM_EXIT_* code that is non-zero only when the farm itself failed. With a
 * farm, a failed point does not stop the others: it is reported in the
 * index (column "status") and the sweep exits 1 once the index is written. */
typedef struct sweep_farm {
    int (*run)(const struct sweep_farm *f, const int64_t *todo, int64_t ntodo, int threads,
               int quiet, int *status);
    void *ctx;
} sweep_farm;

typedef struct {
    const char *config, *outdir;
    char **sets;
    int nsets;
    int jobs, tpp, budget;   /* 0: automatic */
    int shard_k, shard_n;    /* 0/0: unsharded */
    int quiet, overwrite, list;
    int progress;            /* progress_mode (run/progress.h) */
    int rpp;                 /* ranks per point (MPI farm); 0: one */
    const sweep_farm *farm;  /* NULL: forked children on this machine */
} sweep_opts;

/* Runs (or, with list, prints) the points; returns an SM_EXIT_* code and
 * reports its own errors on stderr. */
int sweep_execute(const sweep_opts *o);

/* A farm worker's view of the same sweep: loaded and every point validated
 * exactly as sweep_execute does (NULL with err set when that fails); then
 * single points run in a forked child, as sweep_execute runs them. */
typedef struct sweep_ctx sweep_job;
sweep_job *sweep_job_open(const sweep_opts *o, sm_error *err);
/* The exit code of point p's run (0: its file is finished). */
int sweep_job_run_point(const sweep_job *j, int64_t p, int threads, int overwrite);
/* The same in this process, not a forked child: a group leader's point,
 * whose lattice is split over the group's ranks (MPI forbids a forked
 * child to use them). Messages about the point go to stderr. */
int sweep_job_run_point_here(const sweep_job *j, int64_t p, int threads, int overwrite);
void sweep_job_close(sweep_job *j);

#endif
