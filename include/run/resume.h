/* Checkpoints of a run, and what a run holds between sweeps (shared by the
 * loop, run.c, and the checkpoints, resume.c): a checkpoint saves all of it.
 *
 * The checkpoint is the source of truth of an interrupted run: besides the
 * state it records the row counts and checksums of every series in the
 * partial file, and --resume continues from it only with a partial file
 * that matches them in full. A partial file that does not (cut short by a
 * full disk, torn by a kill during an HDF5 write, damaged bytes) is rebuilt
 * by recomputing the run from sweep 0 to the checkpoint into a new file,
 * which must then match the checkpoint's checksums before it replaces the
 * old one: the rows of census and snapshots exist nowhere but in the file,
 * and the random numbers are addressed by (seed, sweep, ...), so the
 * recomputation is the only faithful copy. It costs the time of the run so
 * far; a resume that can verify its file costs one copy of the file. */
#ifndef SM_RUN_RESUME_H
#define SM_RUN_RESUME_H

#include "diag/diag.h"
#include "dynamics/dynamics.h"
#include "io/checkpoint.h"
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
    /* While rebuilding a partial file: the series the checkpoint recorded,
     * to be matched at its sweep; NULL otherwise. */
    h5out_count *rebuild;
    int nrebuild;
    int64_t rebuild_step;
} run_state;

/* Writes the checkpoint: pending rows are appended and the file flushed
 * first, so that the recorded series row counts are what the .partial
 * holds on disk. */
int run_checkpoint_write(run_state *rs, const char *ckpt, double wall_now, sm_error *err);

/* Continues an interrupted run: restores rs from the checkpoint and opens
 * the verified partial output (h5out_resume), or, when the partial file
 * cannot be verified, starts the rebuild (rs->rebuild set, rs->h writing
 * <path>.partial.new, rs in its initial state). A refusal (*usage: the
 * checkpoint is missing or of another config or build) and a failure
 * change no file. report: where to say that a rebuild starts, or NULL. */
int run_resume(run_state *rs, const char *path, const char *ckpt, int overwrite, FILE *report,
               int *usage, sm_error *err);

/* Called once a rebuild reaches rs->rebuild_step: checks the recomputed
 * file against the checkpoint and puts it in place of the old partial
 * file. */
int run_rebuild_done(run_state *rs, sm_error *err);

/* The end of a run whose .partial is complete and closed: replaces the
 * checkpoint by a small "finished" one that identifies the .partial (inode,
 * size, mtime), renames the .partial to its final name, removes the
 * checkpoint. A stop anywhere in between leaves a pair that
 * run_checkpoint_settle recognises: a checkpoint is never live beside a
 * finished result. */
int run_publish(const char *path, const char *ckpt, const run_state *rs, int overwrite, sm_error *err);

/* What a checkpoint file found before a run starts is, once the run holds
 * the output's lock: */
typedef enum {
    CKPT_NONE,          /* no checkpoint (or a stale "finished" one, now removed) */
    CKPT_LIVE,          /* an interrupted run's (or one that cannot be read) */
    CKPT_UNPUBLISHED    /* a finished run's whose .partial was not yet renamed */
} ckpt_state;
ckpt_state run_checkpoint_settle(const char *path, const char *ckpt);

#endif
