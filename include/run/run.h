/* The run driver: equilibration, the temperature schedule, measurements,
 * snapshots, output and the summary. */
#ifndef SM_RUN_H
#define SM_RUN_H

#include <signal.h>
#include "io/config.h"
#include "core/error.h"

typedef struct {
    const char *output;  /* overrides output.path when non-NULL */
    int overwrite;
    int quiet;
    int threads;         /* overrides run.threads when > 0 */
    int progress;        /* progress_mode (run/progress.h) */
    /* Checkpoint/restart (the run command; sweep points leave them 0). */
    int checkpoints;     /* write <output>.ckpt periodically and on a stop signal */
    int resume;          /* continue from <output>.ckpt and <output>.partial */
    /* Read once per sweep; a signal handler sets it to the signal number.
     * The run then writes a checkpoint, leaves the .partial and returns
     * SM_EXIT_SIGNAL_BASE + the signal number. May be NULL. */
    const volatile sig_atomic_t *stop;
} run_options;

/* Runs cfg; returns an SM_EXIT_* code (or SM_EXIT_SIGNAL_BASE + signal
 * after a stop) and fills err on failure or stop. */
int run_main(const sm_config *cfg, const run_options *opt, sm_error *err);



/* The checkpoint file of an output path: <path>.ckpt. */
void run_checkpoint_path(char *buf, size_t n, const char *output);

#endif
