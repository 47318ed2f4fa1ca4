/* The equilibrium check of a kinetic run (a dynamics with kinetic
 * bookkeeping, the cage dynamics): for every hold segment (T_from == T_to)
 * the means of <level>, n_SM and the energy over its measured sweeps are
 * compared with a level-dynamics reference run at the same temperature,
 * which samples the same weight W fast. The run agrees with equilibrium when
 * every difference is within EQ_Z combined standard errors. Written under
 * /equilibrium_check and reported; it reads the run's state and changes
 * nothing in it (the reference is a separate simulation). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "diag/autocorr.h"
#include "diag/diag.h"
#include "diag/stats.h"
#include "dynamics/dynamics.h"

enum { EQ_NOBS = 3, EQ_MIN_SAMPLES = 16, EQ_REF_EQUILIBRATION = 2000, EQ_REF_EVERY = 2 };
/* Reference sweeps: the hold's own measured sweeps, within these bounds. */
enum { EQ_REF_MIN = 4000, EQ_REF_MAX = 20000 };
static const double EQ_Z = 3.0;
static const char *const EQ_OBS[EQ_NOBS] = {"mean_level", "n_soft_matrix", "energy"};

typedef struct {
    int nseg;
    int64_t *offset, *count, *cap;   /* [nseg]: each hold's slice of the series */
    double *series[EQ_NOBS];         /* samples of every hold, back to back */
    int64_t total;
} eqcheck;

static int is_hold(const sm_config *cfg, int s)
{
    return cfg->seg[s].T_from == cfg->seg[s].T_to && cfg->seg[s].sweeps / cfg->measure_every >= EQ_MIN_SAMPLES;
}

/* From the level histogram, counted where the state is (sim_field_counts):
 * a split lattice is not gathered for it. */
static void observe(const sim_state *s, double v[EQ_NOBS])
{
    field_counts c;
    sim_field_counts(s, &c);
    int64_t lsum = 0;
    for (int l = LEVEL_MIN; l <= LEVEL_MAX; l++) lsum += l * c.hist[l + 1];
    const double N = (double)s->lat.N;
    v[0] = (double)lsum / N;
    v[1] = MODEL_SOFT_MATRIX_HSMS * (double)c.hist[LEVEL_MAX + 1] / N;
    v[2] = energy_from_terms(&s->p, &s->e).total / N;
}

static void eq_free(diag *d)
{
    eqcheck *x = d->data;
    if (x) {
        free(x->offset);
        for (int k = 0; k < EQ_NOBS; k++) free(x->series[k]);
    }
    free(x);
    d->data = NULL;
}

static int eq_init(diag *d, const diag_ctx *c, sm_error *err)
{
    const sm_config *cfg = c->cfg;
    if (!c->sim->kin) return DIAG_DECLINED;
    int holds = 0;
    for (int s = 0; s < cfg->nseg; s++) holds += is_hold(cfg, s);
    if (!holds) return DIAG_DECLINED;
    eqcheck *x = calloc(1, sizeof *x);
    d->data = x;
    if (x) x->offset = calloc(3 * (size_t)cfg->nseg, sizeof *x->offset);
    if (!x || !x->offset) return eq_free(d), sm_fail(err, "out of memory"), DIAG_FAILED;
    x->nseg = cfg->nseg;
    x->count = x->offset + cfg->nseg;
    x->cap = x->count + cfg->nseg;
    for (int s = 0; s < cfg->nseg; s++) {
        x->offset[s] = x->total;
        x->cap[s] = is_hold(cfg, s) ? cfg->seg[s].sweeps / cfg->measure_every + 1 : 0;
        x->total += x->cap[s];
    }
    for (int k = 0; k < EQ_NOBS; k++)
        if (!(x->series[k] = malloc(sizeof(double) * (size_t)x->total)))
            return eq_free(d), sm_fail(err, "out of memory"), DIAG_FAILED;
    d->every = cfg->measure_every;
    d->clock = DIAG_MEASURED;
    d->reads = DIAG_READS_SUMS;   /* the energy and the level histogram (observe) */
    return DIAG_OK;
}

static int eq_measure(diag *d, const diag_ctx *c, const schedule_point *sp, sm_error *err)
{
    (void)err;
    eqcheck *x = d->data;
    const int s = sp->segment;
    if (x->count[s] >= x->cap[s]) return 0;
    double v[EQ_NOBS];
    observe(c->sim, v);
    for (int k = 0; k < EQ_NOBS; k++) x->series[k][x->offset[s] + x->count[s]] = v[k];
    x->count[s]++;
    return 0;
}

/* The streamed Gamma-method estimate (diag/stats.h) of a stored series. */
static stats_estimate series_stats(const double *x, int64_t n)
{
    stats_stream *st = malloc(sizeof *st);   /* 8 KiB of blocks: not the stack */
    if (!st) return (stats_estimate){NAN, NAN, NAN, n, 0};
    stats_stream_reset(st);
    for (int64_t i = 0; i < n; i++) stats_stream_add(st, x[i]);
    const stats_estimate e = stats_stream_estimate(st);
    free(st);
    return e;
}

/* Means and errors of the reference: the level dynamics at T from the
 * configured initial state, EQ_REF_EQUILIBRATION sweeps, then n sweeps. */
static int reference(const sm_config *cfg, double T, int64_t n, stats_estimate out[EQ_NOBS],
                     sm_error *err)
{
    sm_config *rc = malloc(sizeof *rc);
    const int64_t ns = n / EQ_REF_EVERY;
    double *buf = malloc(sizeof *buf * (size_t)(EQ_NOBS * ns));
    sim_state sim;
    int bad = !rc || !buf;
    if (!bad) {
        *rc = *cfg;
        rc->dynamics = dynamics_index("level");
        rc->seed = cfg->seed + 0x9e3779b9;   /* a stream of its own */
        bad = sim_init(&sim, rc, err);
    } else sm_fail(err, "out of memory");
    if (!bad) {
        sim_set_temperature(&sim, T);
        for (int64_t k = 0; k < EQ_REF_EQUILIBRATION; k++) sim_sweep(&sim);
        for (int64_t i = 0; i < ns; i++) {
            for (int k = 0; k < EQ_REF_EVERY; k++) sim_sweep(&sim);
            sim_sync_sums(&sim);
            double v[EQ_NOBS];
            observe(&sim, v);
            for (int k = 0; k < EQ_NOBS; k++) buf[k * ns + i] = v[k];
        }
        for (int k = 0; k < EQ_NOBS; k++) out[k] = series_stats(buf + k * ns, ns);
        sim_free(&sim);
    }
    free(rc);
    free(buf);
    return bad;
}

/* Per hold: [cage mean, cage error, level mean, level error, z, cage
 * tau_int in sweeps] x EQ_NOBS. reliable: every series is at least
 * EQ_RELIABLE tau_int long (shorter series give errors that are too small). */
enum { EQ_NF = 6, EQ_RELIABLE = 50 };
typedef struct {
    int seg;
    double T, v[EQ_NOBS][EQ_NF];
    int agree, reliable;
    int start;   /* the hold starts from a level-dynamics equilibration at its T */
} eq_row;

/* The larger of the Gamma-method error and the automatic-window one: each falls
 * short on its own for some series. */
static stats_estimate series_estimate(const double *x, int64_t n, double *tau)
{
    stats_estimate m = series_stats(x, n);
    const double e = autocorr_error(x, n, tau);
    if (e > m.error) m.error = e;
    return m;
}

static int compare(const eqcheck *x, const sm_config *cfg, int s, eq_row *r, sm_error *err)
{
    stats_estimate ref[EQ_NOBS];
    int64_t n = cfg->seg[s].sweeps;
    n = n < EQ_REF_MIN ? EQ_REF_MIN : n > EQ_REF_MAX ? EQ_REF_MAX : n;
    if (reference(cfg, cfg->seg[s].T_from, n, ref, err)) return 1;
    r->seg = s;
    r->T = cfg->seg[s].T_from;
    r->agree = r->reliable = 1;
    r->start = sim_segment_starts_in_equilibrium(cfg, s);
    for (int k = 0; k < EQ_NOBS; k++) {
        double tau;
        const stats_estimate m = series_estimate(x->series[k] + x->offset[s], x->count[s], &tau);
        const double d = fabs(m.mean - ref[k].mean);
        /* identical constants (no soft matrices at all) agree exactly */
        const double z = d == 0 ? 0.0 : d / sqrt(m.error * m.error + ref[k].error * ref[k].error);
        const double row[EQ_NF] = {m.mean, m.error, ref[k].mean, ref[k].error, z,
                                   tau * (double)cfg->measure_every};
        memcpy(r->v[k], row, sizeof row);
        r->agree &= z <= EQ_Z;
        r->reliable &= (double)x->count[s] >= EQ_RELIABLE * tau;
    }
    return 0;
}

static const char EQ_COLUMNS[] = "mean_level,n_soft_matrix,energy";
static const char EQ_CRITERION[] =
    "|cage - level| <= 3 sqrt(error_cage^2 + error_level^2) for mean_level, n_soft_matrix and "
    "energy of every hold segment; level: a level-dynamics run at the hold's temperature";

static int write_rows(h5out *h, const eq_row *rows, int n, int all, int reliable, sm_error *err)
{
    static const char *const names[EQ_NF] = {"cage_mean", "cage_error", "level_mean", "level_error", "z",
                                             "cage_tau_int"};
    double *buf = malloc(sizeof *buf * (size_t)n * (EQ_NOBS + 5));
    if (!buf) return sm_fail(err, "out of memory");
    const uint64_t dims[2] = {(uint64_t)n, EQ_NOBS}, dn = (uint64_t)n;
    int rc = 0;
    for (int f = 0; f < EQ_NF && !rc; f++) {
        char path[64];
        snprintf(path, sizeof path, "/equilibrium_check/%s", names[f]);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < EQ_NOBS; k++) buf[i * EQ_NOBS + k] = rows[i].v[k][f];
        rc = h5out_write_array(h, path, 2, dims, buf, err) ||
             h5out_write_string_attr(h, path, "columns", EQ_COLUMNS, err);
    }
    for (int i = 0; i < n; i++) {
        buf[i] = rows[i].T;
        buf[n + i] = rows[i].seg;
        buf[2 * n + i] = rows[i].agree;
        buf[3 * n + i] = rows[i].reliable;
        buf[4 * n + i] = rows[i].start;
    }
    rc = rc || h5out_write_array(h, "/equilibrium_check/T", 1, &dn, buf, err) ||
         h5out_write_array(h, "/equilibrium_check/segment", 1, &dn, buf + n, err) ||
         h5out_write_array(h, "/equilibrium_check/agree", 1, &dn, buf + 2 * n, err) ||
         h5out_write_array(h, "/equilibrium_check/reliable", 1, &dn, buf + 3 * n, err) ||
         h5out_write_array(h, "/equilibrium_check/equilibrated_start", 1, &dn, buf + 4 * n, err) ||
         h5out_write_string_attr(h, "/equilibrium_check", "agrees", all ? "yes" : "no", err) ||
         h5out_write_string_attr(h, "/equilibrium_check", "reliable", reliable ? "yes" : "no", err) ||
         h5out_write_string_attr(h, "/equilibrium_check", "criterion", EQ_CRITERION, err);
    free(buf);
    return rc;
}

static void report(FILE *f, const eq_row *rows, int n, int all, int reliable)
{
    fprintf(f, "\nequilibrium check: hold segments against level-dynamics equilibrium (z: difference in "
               "combined errors)\n%-4s %-8s", "seg", "T");
    for (int k = 0; k < EQ_NOBS; k++) fprintf(f, " %-36s", EQ_OBS[k]);
    fprintf(f, " start    agree\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%-4d %-8.4g", rows[i].seg, rows[i].T);
        for (int k = 0; k < EQ_NOBS; k++) {
            char cell[80];
            snprintf(cell, sizeof cell, "%.4f(%.2g) vs %.4f(%.2g) z=%.1f", rows[i].v[k][0], rows[i].v[k][1],
                     rows[i].v[k][2], rows[i].v[k][3], rows[i].v[k][4]);
            if (!rows[i].reliable) strncat(cell, "*", sizeof cell - strlen(cell) - 1);
            fprintf(f, " %-36s", cell);
        }
        fprintf(f, " %-8s %s\n", rows[i].start ? "level-eq" : "carried", rows[i].agree ? "yes" : "NO");
    }
    fprintf(f, "the run %s level-dynamics equilibrium within errors\n", all ? "agrees with" : "does NOT agree with");
    fprintf(f, "start: level-eq, from a level-dynamics equilibration at the hold's T; carried, from the "
               "state the run carried into it (run.equilibrate_each_segment)\n");
    if (!reliable)
        fprintf(f, "* a hold shorter than %d tau_int of the cage series: its errors, and the verdict, are "
                   "not reliable (hold longer)\n", EQ_RELIABLE);
}

static int eq_finish(diag *d, const diag_ctx *c, sm_error *err)
{
    const eqcheck *x = d->data;
    eq_row *rows = calloc((size_t)x->nseg, sizeof *rows);
    if (!rows) return sm_fail(err, "out of memory");
    int n = 0, all = 1, reliable = 1, rc = 0;
    for (int s = 0; s < x->nseg && !rc; s++) {
        if (x->count[s] < EQ_MIN_SAMPLES) continue;
        rc = compare(x, c->cfg, s, &rows[n], err);
        if (rc) break;
        all &= rows[n].agree;
        reliable &= rows[n++].reliable;
    }
    if (!rc && n) rc = write_rows(c->h, rows, n, all, reliable, err);
    if (!rc && n && c->report) report(c->report, rows, n, all, reliable);
    free(rows);
    return rc;
}

static void eq_describe(FILE *md, const diag_ctx *const *ctx, int nctx)
{
    (void)ctx, (void)nctx;
    static const char *const rows[][3] = {
        {"cage_mean", "[nhold][3]", "kinetic (cage) runs, per hold segment: means of mean_level, n_soft_matrix, "
                                    "energy over its measured sweeps (attribute `columns`)"},
        {"cage_error", "[nhold][3]", "their standard errors (the larger of binning and the automatic-window "
                                     "autocorrelation estimate)"},
        {"cage_tau_int", "[nhold][3]", "integrated autocorrelation times of the cage series (sweeps)"},
        {"level_mean", "[nhold][3]", "the same means from a level-dynamics run at the hold's temperature"},
        {"level_error", "[nhold][3]", "their standard errors"},
        {"z", "[nhold][3]", "|cage - level| in combined standard errors"},
        {"T", "[nhold]", "temperature of the hold"},
        {"segment", "[nhold]", "its schedule segment"},
        {"agree", "[nhold]", "1 when every z <= 3; the group's attribute `agrees` is yes when every hold "
                             "agrees, `criterion` says how"},
        {"reliable", "[nhold]", "1 when every cage series is at least 50 tau_int long (else its errors are "
                                "too small to judge); attribute `reliable` over every hold"},
        {"equilibrated_start", "[nhold]", "1 when the hold starts from a level-dynamics equilibration at its "
                                          "temperature (the run's, for the first segment; its own equilibration "
                                          "sweeps with run.equilibrate_each_segment), 0 when it starts from the "
                                          "state the run carried into it"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        fprintf(md, "| `/equilibrium_check/%s` | float64 %s | %s |\n", rows[i][0], rows[i][1], rows[i][2]);
}

static void eq_save(const diag *d, ckpt_writer *w)
{
    const eqcheck *x = d->data;
    ckpt_put(w, "eqcheck.count", x->count, sizeof *x->count * (size_t)x->nseg);
    for (int k = 0; k < EQ_NOBS; k++) {
        char name[32];
        snprintf(name, sizeof name, "eqcheck.%d", k);
        ckpt_put(w, name, x->series[k], sizeof(double) * (size_t)x->total);
    }
}

static int eq_restore(diag *d, const ckpt_reader *r, sm_error *err)
{
    eqcheck *x = d->data;
    if (ckpt_get(r, "eqcheck.count", x->count, sizeof *x->count * (size_t)x->nseg, err)) return 1;
    for (int k = 0; k < EQ_NOBS; k++) {
        char name[32];
        snprintf(name, sizeof name, "eqcheck.%d", k);
        if (ckpt_get(r, name, x->series[k], sizeof(double) * (size_t)x->total, err)) return 1;
    }
    return 0;
}

const diag_ops DIAG_EQCHECK = {
    .name = "equilibrium_check",
    .init = eq_init,
    .describe = eq_describe,
    .measure = eq_measure,
    .finish = eq_finish,
    .save = eq_save,
    .restore = eq_restore,
    .free = eq_free,
};
