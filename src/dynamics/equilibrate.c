/* Equilibration with the level dynamics before another kind takes over
 * (dynamics.h: sim_equilibrate_level at the first temperature, level blocks
 * at the start of hold segments with run.equilibrate_each_segment). */
#include "core/rng.h"
#include "dynamics/dynamics.h"
#include "dynamics/kinetics.h"

/* One draw per site addressed like every other random number, so the
 * state depends neither on threads nor on where the site is kept. */
uint8_t sim_fresh_phase(uint64_t seed, int64_t step, int64_t a)
{
    const rng_block r = rng_draw(seed, (uint64_t)step, RNG_STREAM_PHASE, 0, (uint32_t)a);
    return (uint8_t)(r.v[0] % NPHASE);
}

static void draw_phases(sim_state *s)
{
    for (int64_t a = 0; a < s->lat.N; a++) s->st.phase[a] = sim_fresh_phase(s->seed, s->step, a);
}

/* Levels changed under the level dynamics without loops: no interval of
 * tau_i may span that, so every site starts without a last completion. The
 * cumulative counters stay (the observables count differences of them). */
static void restart_kinetics(sim_state *s)
{
    if (!s->kin) return;
    kinetics_clear_stamps(s->kin, s->lat.N);
}

static int is_level(const sim_state *s)
{
    const dynamics_kind *level = dynamics_at(dynamics_index("level"));
    return level && s->dyn == level->ops;
}

static void restore_kind(sim_state *s, const level_swap *sw)
{
    s->dyn = sw->dyn;
    s->kind = sw->kind;
    s->dyn_data = sw->data;
    s->kin = sw->kin;
    s->moves = sw->moves;
}

int sim_level_swap_in(sim_state *s, const sm_config *cfg, level_swap *sw, sm_error *err)
{
    const dynamics_kind *level = dynamics_at(dynamics_index("level"));
    if (!level) return sm_fail(err, "%s: the level dynamics is not registered", cfg->source);
    /* what the configured kind keeps elsewhere (a split lattice's blocks)
     * is what the level dynamics starts from, lent or in s->st */
    sim_sync_sums(s);
    if (s->dyn->set_aside) s->dyn->set_aside(s, 1);
    else sim_sync(s);
    *sw = (level_swap){s->dyn, s->kind, s->dyn_data, s->kin, s->moves};
    s->dyn = level->ops;
    s->kind = level->name;
    s->dyn_data = NULL;
    s->kin = NULL;
    if (!s->dyn->init(s, cfg, err)) return 0;
    restore_kind(s, sw);
    if (s->dyn->set_aside) s->dyn->set_aside(s, 0);
    return 1;
}

void sim_level_swap_out(sim_state *s, const level_swap *sw)
{
    const int lent = s->lent != NULL;   /* the blocks stay where they are */
    if (lent) sim_sync_sums(s);
    else sim_sync(s);
    s->dyn->free(s);
    restore_kind(s, sw);
    if (lent) s->dyn->restart_pcp(s);
    else {
        draw_phases(s);
        restart_kinetics(s);
    }
    if (s->dyn->set_aside) s->dyn->set_aside(s, 0);
}

int sim_equilibrate_level(sim_state *s, const sm_config *cfg, sm_error *err)
{
    if (cfg->equilibration_dynamics != EQ_DYNAMICS_LEVEL || cfg->equilibration_sweeps <= 0 || is_level(s) ||
        s->step != 0)
        return 0;
    level_swap sw;
    if (sim_level_swap_in(s, cfg, &sw, err)) return 1;
    sim_set_temperature(s, cfg->seg[0].T_from);
    while (s->step < cfg->equilibration_sweeps) sim_sweep(s);
    sim_level_swap_out(s, &sw);
    return 0;
}

int sim_segment_equilibrates_level(const sm_config *cfg, int seg)
{
    const schedule_segment *g = &cfg->seg[seg];
    return cfg->equilibrate_each_segment && cfg->equilibration_dynamics == EQ_DYNAMICS_LEVEL &&
           cfg->dynamics != dynamics_index("level") && g->T_from == g->T_to && g->equilibration > 0;
}

int sim_segment_starts_in_equilibrium(const sm_config *cfg, int seg)
{
    if (sim_segment_equilibrates_level(cfg, seg)) return 1;
    /* the first segment, from the run's own equilibration at its T_from
     * (sweeps of the configured kind after it keep W stationary) */
    return seg == 0 && cfg->equilibration_dynamics == EQ_DYNAMICS_LEVEL && cfg->equilibration_sweeps > 0;
}

int64_t sim_level_block(const sm_config *cfg, int64_t k)
{
    if (!cfg->equilibrate_each_segment) return 0;   /* called every sweep: nothing more when off */
    const schedule_point p = config_schedule_point(cfg, k);
    if (p.measured || !sim_segment_equilibrates_level(cfg, p.segment)) return 0;
    /* only at the segment's first sweep: a resume never lands inside a block */
    int64_t first = 0;
    for (int i = 0; i < p.segment; i++) first += cfg->seg[i].equilibration + cfg->seg[i].sweeps;
    return k == first ? cfg->seg[p.segment].equilibration : 0;
}
