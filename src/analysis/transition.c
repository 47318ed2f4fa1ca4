/* Ordering temperatures at equilibrium (transition.h): samplers, one per
 * seed, evaluate the temperatures the crossing search asks for. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/transition.h"

const xr_target TR_TARGETS[TR_NTARGETS] = {
    /* n_SM within a factor e^0.4 ~ 1.5 of the target; P_span within 0.2 of
     * 1/2, where the spanning probability is still close to linear in T */
    {"T_g", XQ_NSM, 1.0, 1, 0.4},
    {"T_m", XQ_NSM, 5.0, 1, 0.4},
    {"T_p", XQ_SPAN, 0.5, 0, 0.2},
};

double tr_first_guess(const model_params *p)
{
    const double T = (64.0 * p->eps_C + 4.0 * p->eps_step) / log(p->g);
    return isfinite(T) && T > 0 ? T : 1.0;
}

void tr_derived(tr_value r, tr_value *n_z, tr_value *exponent, tr_value *N_z_star)
{
    const double lnN = log((double)TR_N_C);
    n_z->value = pow(TR_N_C, -r.value);
    n_z->error = n_z->value * lnN * r.error;
    exponent->value = 9.0 * (1.0 - r.value);
    exponent->error = 9.0 * r.error;
    N_z_star->value = pow(TR_N_C, 1.0 - r.value);
    N_z_star->error = N_z_star->value * lnN * r.error;
}

typedef struct {
    const tr_options *o;
    eq_sampler *smp;
    tr_size *sz;
    int threads;
} tr_ctx;

static void log_point(const tr_ctx *x, int i)
{
    if (!x->o->log) return;
    const xr_points *p = &x->sz->pts;
    fprintf(x->o->log, "  L=%d T=%.5f n_SM=%.4g(%.2g) P_span=%.3f <l>=%.4f tau_int=%.3g sweeps\n",
            x->sz->L, p->T[i], xr_mean(p, i, XQ_NSM, -1), xr_sem(p, i, XQ_NSM),
            xr_mean(p, i, XQ_SPAN, -1), xr_mean(p, i, XQ_LEVEL, -1), xr_mean(p, i, XQ_TAU, -1));
    fflush(x->o->log);
}

/* Every seed at every temperature of Ts, the seeds in parallel. */
static int evaluate(tr_ctx *x, const double *Ts, int nT, sm_error *err)
{
    const int ns = x->o->nseeds;
    double *buf = malloc(sizeof *buf * (size_t)(XQ_N * nT * ns));
    if (!buf) return sm_fail(err, "out of memory");
#pragma omp parallel for schedule(dynamic, 1) num_threads(x->threads)
    for (int s = 0; s < ns; s++)
        for (int j = 0; j < nT; j++) {
            eq_sample e;
            eq_sampler_point(&x->smp[s], Ts[j], &x->o->sch, &e);
            const double v[XQ_N] = {[XQ_NSM] = e.n_sm, [XQ_SPAN] = e.span,
                                    [XQ_LEVEL] = e.mean_level, [XQ_TAU] = e.tau_int};
            for (int k = 0; k < XQ_N; k++) buf[((size_t)k * nT + j) * ns + s] = v[k];
        }
    int rc = 0;
    for (int j = 0; j < nT && !rc; j++) {
        const double *vals[XQ_N];
        for (int k = 0; k < XQ_N; k++) vals[k] = buf + ((size_t)k * nT + j) * ns;
        const int i = xr_points_add(&x->sz->pts, Ts[j], vals, err);
        if (i < 0) rc = 1;
        else log_point(x, i);
    }
    free(buf);
    return rc;
}

static xr_search search_params(const sm_config *cfg, const tr_options *o)
{
    const double guess = tr_first_guess(&cfg->model);
    return (xr_search){.tol = o->tol, .guess = guess, .step = 0.05 * guess,
                       .T_min = guess / 100.0, .T_max = guess * 20.0, .max_evals = o->max_evals};
}

/* One target: evaluate what the search asks for until it is located, fails
 * or has used its evaluations; then the estimate. */
static int locate(tr_ctx *x, int t, const xr_search *s, sm_error *err)
{
    const xr_target *tg = &TR_TARGETS[t];
    int evals = 0, fail = 0;
    double Ts[2];
    while (evals < s->max_evals) {
        const int n = xr_next(&x->sz->pts, tg, s, Ts, &fail);
        if (n == 0) break;
        if (evaluate(x, Ts, n, err)) return 1;
        evals += n;
    }
    x->sz->found[t] = !fail && !xr_locate(&x->sz->pts, tg, s, &x->sz->est[t], x->sz->jk[t]);
    return 0;
}

/* Evenly spaced points over the crossings found, widened by a fifth of
 * their spread on each side: the n_SM(T) curve for plots. */
static int add_grid(tr_ctx *x, sm_error *err)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int t = 0; t < TR_NTARGETS; t++)
        if (x->sz->found[t]) {
            lo = fmin(lo, x->sz->est[t].value);
            hi = fmax(hi, x->sz->est[t].value);
        }
    const int n = x->o->grid;
    if (n < 2 || !(hi >= lo)) return 0;
    const double pad = fmax(0.2 * (hi - lo), 0.02 * hi);
    double *Ts = malloc(sizeof *Ts * (size_t)n);
    if (!Ts) return sm_fail(err, "out of memory");
    for (int j = 0; j < n; j++) Ts[j] = lo - pad + (hi - lo + 2 * pad) * j / (n - 1);
    const int rc = evaluate(x, Ts, n, err);
    free(Ts);
    return rc;
}

static void finish_size(tr_size *sz, int nseeds)
{
    if (!sz->found[TR_TG] || !sz->found[TR_TM]) {
        sz->ratio = sz->n_z = sz->exponent = sz->N_z_star = (tr_value){NAN, NAN};
        return;
    }
    double *jr = malloc(sizeof *jr * (size_t)nseeds);
    sz->ratio.value = sz->est[TR_TG].value / sz->est[TR_TM].value;
    sz->ratio.error = NAN;
    if (jr) {
        for (int s = 0; s < nseeds; s++) jr[s] = sz->jk[TR_TG][s] / sz->jk[TR_TM][s];
        sz->ratio.error = xr_jackknife_error(jr, nseeds);
        free(jr);
    }
    tr_derived(sz->ratio, &sz->n_z, &sz->exponent, &sz->N_z_star);
}

static int run_size(const sm_config *cfg, const tr_options *o, tr_size *sz, sm_error *err)
{
    const double t0 = omp_get_wtime();
    tr_ctx x = {o, calloc((size_t)o->nseeds, sizeof(eq_sampler)), sz, o->threads};
    if (!x.smp) return sm_fail(err, "out of memory");
    if (x.threads <= 0) x.threads = omp_get_max_threads();
    if (x.threads > o->nseeds) x.threads = o->nseeds;
    int rc = 0, made = 0;
    for (; made < o->nseeds && !rc; made++)
        rc = eq_sampler_init(&x.smp[made], cfg, sz->L, cfg->seed + made, o->with_tp, &o->sch, err);
    const xr_search s = search_params(cfg, o);
    for (int t = 0; t < TR_NTARGETS && !rc; t++)
        if ((sz->searched[t] = t != TR_TP || o->with_tp)) rc = locate(&x, t, &s, err);
    if (!rc) rc = add_grid(&x, err);
    for (int i = 0; i < made; i++) eq_sampler_free(&x.smp[i]);
    free(x.smp);
    finish_size(sz, o->nseeds);
    sz->seconds = omp_get_wtime() - t0;
    return rc;
}

int transition_run(const sm_config *cfg, const tr_options *o, tr_result *r, sm_error *err)
{
    memset(r, 0, sizeof *r);
    if (o->nsizes < 1 || o->nsizes > TR_MAX_SIZES)
        return sm_fail(err, "sizes: give 1..%d lattice sizes", TR_MAX_SIZES);
    /* the seeds are the parallelism: a sweep inside one runs on one thread */
    omp_set_max_active_levels(1);
    for (int i = 0; i < o->nsizes; i++) {
        tr_size *sz = &r->size[r->nsizes++];
        sz->L = o->sizes[i];
        if (xr_points_init(&sz->pts, o->nseeds, err)) return 1;
        for (int t = 0; t < TR_NTARGETS; t++) {
            sz->est[t] = (xr_estimate){NAN, NAN, 0, NAN, NAN, NAN, NAN};
            if (!(sz->jk[t] = calloc((size_t)o->nseeds, sizeof(double))))
                return sm_fail(err, "out of memory");
        }
        if (run_size(cfg, o, sz, err)) return 1;
    }
    return 0;
}

void transition_free(tr_result *r)
{
    for (int i = 0; i < r->nsizes; i++) {
        xr_points_free(&r->size[i].pts);
        for (int t = 0; t < TR_NTARGETS; t++) free(r->size[i].jk[t]);
    }
    memset(r, 0, sizeof *r);
}
