/* Observable groups: the columns of the measurement row that the
 * "observables" diagnostic writes under /observables and summarises per
 * segment. Each group is one file that fills one ops table and one line of
 * OBS_GROUP_REGISTRY (registry.c): adding an observable touches nothing
 * else. A group reads the state only; it never touches the sweep kernels. */
#ifndef SM_OBS_GROUP_H
#define SM_OBS_GROUP_H

#include <stddef.h>
#include "core/state.h"
#include "io/layout.h"

typedef struct obs_group_ops {
    const char *name;
    /* Bytes of the group's own state: its column offsets and the marks it
     * keeps between measurements. Saved whole in checkpoints. */
    size_t state_size;
    /* Adds the group's fields to L and records their columns in st; returns
     * 1 to decline (the dynamics lacks what the group reads). */
    int (*layout)(void *st, obs_layout *L, const sim_state *s);
    /* The measured sweeps begin: marks for "since the last measurement". */
    void (*begin)(void *st, const sim_state *s);
    /* Fills the group's columns of row. */
    void (*measure)(void *st, const sim_state *s, double *row);
    /* 1 when measure reads only the energy sums, the move and kinetic
     * counters, sim_field_counts and the dynamics' cage_counts, not the fields
     * (diag/diag.h, DIAG_READS_SUMS). */
    int sums_only;
} obs_group_ops;

/* NULL-terminated, in column order. */
extern const obs_group_ops *const OBS_GROUP_REGISTRY[];

#endif
