/* Census diagnostic: runs the cluster census (census.h) during a run every
 * run.census_every measured sweeps, streams the per-level results to
 * /census/... in the HDF5 file and prints a census table in the summary.
 * A diagnostic in the SPPARKS sense: it reads the state, never the kernel. */
#ifndef SM_CENSUS_DIAG_H
#define SM_CENSUS_DIAG_H

#include <stdio.h>
#include "diag/census.h"
#include "io/h5out.h"
#include "core/model.h"

typedef struct {
    census_input in;
    census_work work;
    census_result last;
    int64_t n;        /* censuses taken */
    int64_t last_step;
} census_diag;

int census_diag_init(census_diag *d, const lattice *lat, const model_state *s, sm_error *err);
void census_diag_free(census_diag *d);
/* Takes a census of the current state and appends it to /census. */
int census_diag_measure(census_diag *d, h5out *h, int64_t step, sm_error *err);
/* Census table of the last census. */
void census_diag_print(FILE *out, const census_diag *d);

#endif
