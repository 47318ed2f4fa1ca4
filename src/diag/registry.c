/* The registries of diagnostics and of observable groups: one line each.
 * Order is the order in which they measure, write and report. */
#include "diag/diag.h"
#include "diag/obs_group.h"

extern const diag_ops DIAG_OBSERVABLES, DIAG_CENSUS, DIAG_SNAPSHOTS, DIAG_RELAXATION, DIAG_EQCHECK;
extern const obs_group_ops OBS_GROUP_CORE, OBS_GROUP_CAGE;

const diag_ops *const DIAG_REGISTRY[] = {
    &DIAG_OBSERVABLES,
    &DIAG_CENSUS,
    &DIAG_SNAPSHOTS,
    &DIAG_RELAXATION,
    &DIAG_EQCHECK,
    NULL,
};

const obs_group_ops *const OBS_GROUP_REGISTRY[] = {
    &OBS_GROUP_CORE,
    &OBS_GROUP_CAGE,
    NULL,
};
