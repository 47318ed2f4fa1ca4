/* Checkpoints of a run, and what a run holds between sweeps (shared by the
 * loop, run.c, and the checkpoints, resume.c): a checkpoint saves all of it. */
#ifndef SM_RUN_RESUME_H
#define SM_RUN_RESUME_H

#include "diag/diag.h"
#include "dynamics/dynamics.h"
#include "io/config.h"
#include "io/h5out.h"

typedef struct {
    const sm_config *cfg;
    const char *json;      /* resolved config: a checkpoint is only valid for it */
    sim_state sim;
    diag_set diags;
    diag_ctx ctx;          /* what the diagnostics see */
    h5out *h;
    double sweep_time;     /* seconds in sweeps, and wall seconds, of earlier */
    double wall_before;    /* processes of a resumed run (timing only) */
} run_state;

/* Writes the checkpoint: pending rows are appended and the file flushed
 * first, so that the recorded series row counts are what the .partial
 * holds on disk. */
int run_checkpoint_write(run_state *rs, const char *ckpt, double wall_now, sm_error *err);

/* Restores rs from the checkpoint and returns the series row counts it
 * recorded (*counts malloc'd); nothing on disk is changed. *usage is set
 * when the checkpoint is missing or belongs to another config or build. */
int run_checkpoint_restore(run_state *rs, const char *ckpt, h5out_count **counts, int *ncounts,
                           int *usage, sm_error *err);

#endif
