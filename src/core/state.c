/* Simulation state set-up and the dispatch to the configured dynamics. */
#include <string.h>
#include "core/rng.h"
#include "core/state.h"

static void init_fields(sim_state *s, const sm_config *cfg)
{
    const lattice *lat = &s->lat;
    for (int64_t a = 0; a < lat->N; a++) {
        const rng_block r = rng_draw(s->seed, 0, RNG_STREAM_INIT, 0, (uint32_t)a);
        const int x = lattice_x(lat, a), y = lattice_y(lat, a);
        s->st.level[a] = (int8_t)(cfg->init_level_random ? -(int)(r.v[0] & 1u) : cfg->init_level);
        int sg = 1;
        switch (cfg->init_sigma) {
        case INIT_SIGMA_RANDOM: sg = (r.v[1] & 1u) ? 1 : -1; break;
        case INIT_SIGMA_UP: sg = 1; break;
        case INIT_SIGMA_DOWN: sg = -1; break;
        case INIT_SIGMA_NEEL: sg = ((x + y) & 1) ? -1 : 1; break;
        }
        s->st.sigma[a] = (int8_t)sg;
        s->st.phase[a] = 0;
        s->st.z[a] = 0.0f;
    }
}

int sim_init(sim_state *s, const sm_config *cfg, sm_error *err)
{
    memset(s, 0, sizeof *s);
    s->p = cfg->model;
    s->kind = (dynamics_kind)cfg->dynamics;
    s->seed = (uint64_t)cfg->seed;
    if (lattice_init(&s->lat, cfg->Lx, cfg->Ly, (boundary_kind)cfg->boundary, err)) return 1;
    if (model_state_init(&s->st, s->lat.N, err)) {
        lattice_free(&s->lat);
        return 1;
    }
    init_fields(s, cfg);
    energy_terms_compute(&s->lat, &s->st, &s->e);
    s->nmoves = LEVEL_NMOVES;
    s->move_names = LEVEL_MOVE_NAMES;
    s->ltab.T = -1.0;
    s->ctab.T = -1.0;
    if (s->kind == DYN_CAGE) {
        if (kinetics_init(&s->kin, &s->lat, &s->p, err)) {
            sim_free(s);
            return 1;
        }
        s->nmoves = CAGE_NMOVES;
        s->move_names = CAGE_MOVE_NAMES;
        s->cage_moves = cage_moves_per_sweep(&s->lat);
    }
    return 0;
}

void sim_free(sim_state *s)
{
    kinetics_free(&s->kin);
    model_state_free(&s->st);
    lattice_free(&s->lat);
}

void sim_set_temperature(sim_state *s, double T)
{
    s->T = T;
    if (s->kind == DYN_CAGE) {
        if (s->ctab.T != T) cage_tables_build(&s->ctab, &s->p, T);
    } else if (s->ltab.T != T) {
        level_tables_build(&s->ltab, &s->p, T);
    }
}

void sim_sweep(sim_state *s)
{
    switch (s->kind) {
    case DYN_CAGE:
        cage_sweep(&s->lat, &s->st, &s->p, &s->ctab, &s->kin, s->seed, (uint64_t)s->step, &s->e,
                   &s->moves);
        break;
    case DYN_LEVEL:
    default:
        level_sweep(&s->lat, &s->st, &s->p, &s->ltab, s->seed, (uint64_t)s->step, &s->e,
                    &s->moves);
        break;
    }
    s->step++;
}

int64_t sim_site_updates_per_sweep(const sim_state *s)
{
    return s->kind == DYN_CAGE ? s->cage_moves : s->lat.N;
}

void sim_save(const sim_state *s, ckpt_writer *w)
{
    const size_t N = (size_t)s->lat.N;
    const int32_t dims[3] = {s->lat.Lx, s->lat.Ly, (int32_t)s->kind};
    ckpt_put(w, "sim.dims", dims, sizeof dims);
    ckpt_put(w, "sim.step", &s->step, sizeof s->step);
    ckpt_put(w, "sim.energy", &s->e, sizeof s->e);
    ckpt_put(w, "sim.moves", &s->moves, sizeof s->moves);
    ckpt_put(w, "sim.level", s->st.level, N);
    ckpt_put(w, "sim.sigma", s->st.sigma, N);
    ckpt_put(w, "sim.phase", s->st.phase, N);
    ckpt_put(w, "sim.z", s->st.z, N * sizeof *s->st.z);
    if (s->kind == DYN_CAGE) {
        ckpt_put(w, "kin.last_sweep", s->kin.last_sweep, N * sizeof *s->kin.last_sweep);
        ckpt_put(w, "kin.last_level", s->kin.last_level, N);
        ckpt_put(w, "kin.counters", &s->kin.c, sizeof s->kin.c);
    }
}

int sim_restore(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    const size_t N = (size_t)s->lat.N;
    int32_t dims[3];
    if (ckpt_get(r, "sim.dims", dims, sizeof dims, err)) return 1;
    if (dims[0] != s->lat.Lx || dims[1] != s->lat.Ly || dims[2] != (int32_t)s->kind)
        return sm_fail(err, "%s: checkpoint is of a %dx%d lattice with dynamics %d, the config has %dx%d and %d",
                       r->path, dims[0], dims[1], dims[2], s->lat.Lx, s->lat.Ly, (int)s->kind);
    if (ckpt_get(r, "sim.step", &s->step, sizeof s->step, err) ||
        ckpt_get(r, "sim.energy", &s->e, sizeof s->e, err) ||
        ckpt_get(r, "sim.moves", &s->moves, sizeof s->moves, err) ||
        ckpt_get(r, "sim.level", s->st.level, N, err) ||
        ckpt_get(r, "sim.sigma", s->st.sigma, N, err) ||
        ckpt_get(r, "sim.phase", s->st.phase, N, err) ||
        ckpt_get(r, "sim.z", s->st.z, N * sizeof *s->st.z, err))
        return 1;
    if (s->kind == DYN_CAGE &&
        (ckpt_get(r, "kin.last_sweep", s->kin.last_sweep, N * sizeof *s->kin.last_sweep, err) ||
         ckpt_get(r, "kin.last_level", s->kin.last_level, N, err) ||
         ckpt_get(r, "kin.counters", &s->kin.c, sizeof s->kin.c, err)))
        return 1;
    if (s->step < 0) return sm_fail(err, "%s: checkpoint has a negative step", r->path);
    for (size_t a = 0; a < N; a++) {
        const int l = s->st.level[a], sg = s->st.sigma[a];
        if (l < LEVEL_MIN || l > LEVEL_MAX || (sg != 1 && sg != -1) || s->st.phase[a] >= NPHASE)
            return sm_fail(err, "%s: checkpoint has an invalid state at site %zu", r->path, a);
    }
    /* the incremental sums must agree with the configuration they describe */
    energy_terms e;
    energy_terms_compute(&s->lat, &s->st, &e);
    if (memcmp(&e, &s->e, sizeof e) != 0)
        return sm_fail(err, "%s: checkpoint energy sums disagree with its configuration", r->path);
    return 0;
}
