/* Worked example of a new dynamics kind (docs/architecture.md): Metropolis
 * flips of the MIEV orientation sigma at every HSCL, levels fixed, site by
 * site in index order. One file plus one line in DYNAMICS_REGISTRY
 * (src/dynamics/registry.c):
 *
 *     extern const struct dynamics_ops DYNAMICS_SIGMA_ONLY;
 *     {"sigma_only", "sigma flips only, levels fixed (example)", &DYNAMICS_SIGMA_ONLY},
 *
 * after which `dynamics.kind: "sigma_only"` is accepted by the config,
 * listed by --help, run by the schedule loop, measured by every diagnostic
 * that can serve it, and checkpointed. tests/test_extend.py builds it. */
#include <stdlib.h>
#include "core/rng.h"
#include "dynamics/dynamics.h"

typedef struct {
    double T;
    uint64_t thr[2][9];   /* acceptance threshold by [sigma > 0][S + 4] */
} sigma_only;

static const char *const MOVE_NAMES[1] = {"sigma"};

static int so_init(sim_state *s, const sm_config *cfg, sm_error *err)
{
    (void)cfg;
    sigma_only *d = calloc(1, sizeof *d);
    if (!d) return sm_fail(err, "out of memory");
    d->T = -1.0;
    s->dyn_data = d;
    return 0;
}

static void so_set_temperature(sim_state *s, double T)
{
    sigma_only *d = s->dyn_data;
    if (d->T == T) return;
    d->T = T;
    for (int up = 0; up < 2; up++)
        for (int S = -4; S <= 4; S++)
            d->thr[up][S + 4] = model_threshold(model_sigma_ratio(&s->p, T, up ? 1 : -1, S));
}

/* Serial, so the trajectory cannot depend on threads. The random words come
 * from the level stream's substep 2, which the level kernel (colours 0 and
 * 1) never uses. */
static void so_sweep(sim_state *s)
{
    const sigma_only *d = s->dyn_data;
    const lattice *lat = &s->lat;
    int8_t *lv = s->st.level, *sg = s->st.sigma;
    for (int64_t a = 0; a < lat->N; a++) {
        if (lv[a] < 0) continue;
        int S = 0;
        for (int k = 0; k < NDIR; k++) {
            const int64_t b = lattice_nbr(lat, a, k);
            if (b >= 0 && lv[b] >= 0) S += sg[b];
        }
        const uint32_t r = rng_draw(s->seed, (uint64_t)s->step, RNG_STREAM_LEVEL, 2, (uint32_t)a).v[0];
        s->moves.proposed[0]++;
        if ((uint64_t)r >= d->thr[sg[a] > 0][S + 4]) continue;
        s->moves.accepted[0]++;
        s->e.sum_J -= 2 * sg[a] * S;   /* J sum n_a n_b s_a s_b */
        s->e.sum_h -= 2 * sg[a];       /* sum n_a s_a */
        sg[a] = (int8_t)-sg[a];
    }
}

static int64_t so_updates(const sim_state *s) { return s->lat.N; }

/* The shared fields are all it changes; nothing of its own to save. */
static void so_save(const sim_state *s, ckpt_writer *w) { (void)s, (void)w; }

static int so_restore(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    (void)s, (void)r, (void)err;
    return 0;
}

static void so_free(sim_state *s)
{
    free(s->dyn_data);
    s->dyn_data = NULL;
}

const dynamics_ops DYNAMICS_SIGMA_ONLY = {
    .update_unit = "site-update",
    .nmoves = 1,
    .move_names = MOVE_NAMES,
    .bytes_per_site = 0,
    .init = so_init,
    .set_temperature = so_set_temperature,
    .sweep = so_sweep,
    .updates_per_sweep = so_updates,
    .save = so_save,
    .restore = so_restore,
    .free = so_free,
};
