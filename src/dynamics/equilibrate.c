/* Equilibration with the level dynamics before another kind takes over
 * (dynamics.h, sim_equilibrate_level). */
#include "core/rng.h"
#include "dynamics/dynamics.h"

/* Uniform phases, one draw per site addressed like every other random
 * number, so the state does not depend on threads. */
static void draw_phases(sim_state *s)
{
    for (int64_t a = 0; a < s->lat.N; a++) {
        const rng_block r = rng_draw(s->seed, (uint64_t)s->step, RNG_STREAM_PHASE, 0, (uint32_t)a);
        s->st.phase[a] = (uint8_t)(r.v[0] % NPHASE);
    }
}

int sim_equilibrate_level(sim_state *s, const sm_config *cfg, sm_error *err)
{
    const dynamics_kind *level = dynamics_at(dynamics_index("level"));
    if (cfg->equilibration_dynamics != EQ_DYNAMICS_LEVEL || cfg->equilibration_sweeps <= 0 || !level ||
        s->dyn == level->ops || s->step != 0)
        return 0;
    const dynamics_ops *own = s->dyn;
    const char *own_name = s->kind;
    const move_stats moves = s->moves;
    own->free(s);
    s->dyn = level->ops;
    s->kind = level->name;
    if (s->dyn->init(s, cfg, err)) return 1;
    sim_set_temperature(s, cfg->seg[0].T_from);
    while (s->step < cfg->equilibration_sweeps) sim_sweep(s);
    s->dyn->free(s);
    s->dyn = own;
    s->kind = own_name;
    s->moves = moves;
    draw_phases(s);
    return s->dyn->init(s, cfg, err);
}
