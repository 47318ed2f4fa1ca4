/* Parameter scans (the `sweep` subcommand): every point of a config's
 * sweep block run as its own process, DIR/point_NNNN.h5 per point and an
 * index with one row per point. Finished points are kept, so an
 * interrupted scan resumes with the same command. */
#ifndef SM_SCAN_RUNNER_H
#define SM_SCAN_RUNNER_H

typedef struct {
    const char *config, *outdir;
    char **sets;
    int nsets;
    int jobs, tpp, budget;   /* 0: automatic */
    int shard_k, shard_n;    /* 0/0: unsharded */
    int quiet, overwrite, list;
    int progress;            /* progress_mode (run/progress.h) */
} sweep_opts;

/* Runs (or, with list, prints) the points; returns an SM_EXIT_* code and
 * reports its own errors on stderr. */
int sweep_execute(const sweep_opts *o);

#endif
