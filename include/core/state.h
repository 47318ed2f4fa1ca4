/* The simulation state (the "app" in SPPARKS terms): lattice, fields,
 * parameters, incremental energy, move counters and the sweep counter that
 * indexes the random numbers. The run owns one and passes it explicitly;
 * nothing here is global. The configured dynamics (dynamics/dynamics.h)
 * keeps its own tables behind dyn_data; dynamics/dynamics.h sets it up. */
#ifndef SM_STATE_H
#define SM_STATE_H

#include <stdint.h>
#include "core/error.h"
#include "core/lattice.h"
#include "core/model.h"
#include "core/moves.h"

struct dynamics_ops;
struct kinetics;

typedef struct sim_state {
    lattice lat;
    model_state st;
    model_params p;
    uint64_t seed;
    int64_t step;           /* sweeps done so far, equilibration included */
    double T;               /* temperature of the next sweep */
    energy_terms e;         /* incremental H bookkeeping */
    move_stats moves;       /* cumulative proposals / acceptances */
    const char *kind;       /* the dynamics kind's name */
    const struct dynamics_ops *dyn;
    void *dyn_data;         /* the dynamics' tables and bookkeeping */
    /* per-site kinetic bookkeeping (loop completions, soft-matrix jumps):
     * NULL unless the dynamics keeps it; diagnostics that need it decline */
    struct kinetics *kin;
    /* What the configured kind lends the level dynamics that sweeps in its
     * place (dynamics.h: set_aside), so that the state need not move: the
     * blocks of a lattice split over MPI ranks (mpi/lattice_cmd.h); NULL
     * otherwise. */
    void *lent;
} sim_state;

#endif
