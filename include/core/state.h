/* The simulation state (the "app" in SPPARKS terms): lattice, model state,
 * parameters, incremental energy, move counters and the sweep counter that
 * indexes the random numbers. The run driver owns one and passes it
 * explicitly; nothing here is global. */
#ifndef SM_SIM_H
#define SM_SIM_H

#include "dynamics/cage.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "dynamics/kinetics.h"
#include "core/lattice.h"
#include "dynamics/level.h"
#include "core/model.h"
#include "core/moves.h"

typedef struct {
    lattice lat;
    model_state st;
    model_params p;
    dynamics_kind kind;
    uint64_t seed;
    int64_t step;           /* sweeps done so far, equilibration included */
    double T;               /* temperature of the next sweep */
    energy_terms e;         /* incremental H bookkeeping */
    move_stats moves;       /* cumulative proposals / acceptances */
    int nmoves;
    const char *const *move_names;
    level_tables ltab;
    /* cage dynamics only (kind == DYN_CAGE): thresholds, per-site kinetic
     * bookkeeping and the PCP move proposals per sweep */
    cage_tables ctab;
    kinetics kin;
    int64_t cage_moves;
} sim_state;

int sim_init(sim_state *s, const sm_config *cfg, sm_error *err);
void sim_free(sim_state *s);
/* Sets the temperature; acceptance tables are rebuilt only when T changes. */
void sim_set_temperature(sim_state *s, double T);
/* One sweep of the configured dynamics at s->T; advances s->step. */
void sim_sweep(sim_state *s);
/* Site-updates per sweep (for rates and ns per site-update): N for the
 * level dynamics, PCP move proposals (N single jumps + one pair check per
 * bond) for the cage dynamics. */
int64_t sim_site_updates_per_sweep(const sim_state *s);

/* Checkpoint records of everything a sweep reads or accumulates: the four
 * fields, the step (which also fixes the random numbers and, through the
 * schedule, the temperature), the energy sums, the move counters and the
 * cage dynamics' per-site kinetic bookkeeping. Acceptance tables are not
 * stored: they are rebuilt from T. */
void sim_save(const sim_state *s, ckpt_writer *w);
/* Restores them into s, set up by sim_init from the same configuration.
 * The fields are range-checked and the energy sums recomputed and compared,
 * so a checkpoint that does not belong to this state is refused. */
int sim_restore(sim_state *s, const ckpt_reader *r, sm_error *err);

#endif
