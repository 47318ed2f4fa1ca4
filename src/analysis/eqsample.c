/* Level-dynamics equilibrium sampling (eqsample.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/eqsample.h"
#include "diag/autocorr.h"

int eq_sampler_init(eq_sampler *s, const sm_config *cfg, int L, int64_t seed, int span,
                    const eq_schedule *sch, sm_error *err)
{
    memset(s, 0, sizeof *s);
    /* a copy: the lattice, seed and kind differ from the config's, and
     * sm_config is large (the schedule), so it lives on the heap */
    sm_config *c = malloc(sizeof *c);
    if (!c) return sm_fail(err, "out of memory");
    *c = *cfg;
    c->Lx = c->Ly = L;
    c->seed = seed;
    c->dynamics = dynamics_index("level");
    int rc = sim_init(&s->sim, c, err);
    free(c);
    if (rc) return 1;
    if (span) {
        if (census_comp_work_init(&s->comp, L, L, err)) {
            eq_sampler_free(s);
            return 1;
        }
        s->has_comp = 1;
    }
    s->cap = sch->sweeps / sch->every + 1;
    s->series = malloc(sizeof *s->series * (size_t)s->cap);
    if (!s->series) {
        eq_sampler_free(s);
        return sm_fail(err, "out of memory for %lld samples", (long long)s->cap);
    }
    return 0;
}

void eq_sampler_free(eq_sampler *s)
{
    if (s->has_comp) census_comp_work_free(&s->comp);
    sim_free(&s->sim);
    free(s->series);
    memset(s, 0, sizeof *s);
}

/* Level-8 sites and the level sum. */
static void count(const sim_state *sim, int64_t *n8, int64_t *lsum, int64_t n_level[9])
{
    *n8 = *lsum = 0;
    memset(n_level, 0, sizeof(int64_t) * 9);
    for (int64_t a = 0; a < sim->lat.N; a++) {
        const int l = sim->st.level[a];
        *lsum += l;
        if (l >= 0) n_level[l]++;
    }
    *n8 = n_level[8];
}

/* 0, 1 or 2: does a level-8 component span x, and y. */
static int spanning(eq_sampler *s, const int64_t n_level[9])
{
    census_input in = {.Lx = s->sim.lat.Lx, .Ly = s->sim.lat.Ly, .boundary = s->sim.lat.boundary,
                       .level = s->sim.st.level, .sigma = s->sim.st.sigma};
    census_result r;
    memset(&r, 0, sizeof r);
    census_components(&in, n_level, &s->comp, &r);
    return (r.n_span_x[8] > 0) + (r.n_span_y[8] > 0);
}

void eq_sampler_point(eq_sampler *s, double T, const eq_schedule *sch, eq_sample *out)
{
    sim_state *sim = &s->sim;
    sim_set_temperature(sim, T);
    const int64_t eq = sch->equilibration + (s->started ? 0 : sch->first);
    for (int64_t k = 0; k < eq; k++) sim_sweep(sim);
    s->started = 1;
    const double N = (double)sim->lat.N;
    double lsum_all = 0.0, span_sum = 0.0;
    int64_t n = 0, nspan = 0, n8, lsum, n_level[9];
    for (int64_t k = 1; k <= sch->sweeps; k++) {
        sim_sweep(sim);
        const int due = k % sch->every == 0, span_due = s->has_comp && k % sch->span_every == 0;
        if (!due && !span_due) continue;
        sim_sync(sim);
        count(sim, &n8, &lsum, n_level);
        if (due && n < s->cap) {
            s->series[n++] = MODEL_SOFT_MATRIX_HSMS * (double)n8 / N;
            lsum_all += (double)lsum / N;
        }
        if (span_due) {
            span_sum += 0.5 * spanning(s, n_level);
            nspan++;
        }
    }
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) m += s->series[i];
    out->n_sm = n ? m / (double)n : NAN;
    out->mean_level = n ? lsum_all / (double)n : NAN;
    out->span = nspan ? span_sum / (double)nspan : NAN;
    out->tau_int = autocorr_tau_int(s->series, n) * (double)sch->every;
}
