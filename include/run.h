/* The run driver: equilibration, the temperature schedule, measurements,
 * snapshots, output and the summary. */
#ifndef SM_RUN_H
#define SM_RUN_H

#include "config.h"
#include "sm_error.h"

typedef struct {
    const char *output;  /* overrides output.path when non-NULL */
    int overwrite;
    int quiet;
    int threads;         /* overrides run.threads when > 0 */
} run_options;

/* Runs cfg; returns an SM_EXIT_* code and fills err on failure. */
int run_main(const sm_config *cfg, const run_options *opt, sm_error *err);

#endif
