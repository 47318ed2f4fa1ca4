/* The census diagnostic: a cluster census (census.h) of the state every
 * run.census_every measured sweeps, appended to /census as one [9]-wide row
 * per quantity, and the table of the last census in the report. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "diag/census.h"
#include "diag/diag.h"
#include "dynamics/dynamics.h"

/* The census's work buffers (about 3 bytes a site at its peak) are
 * allocated by each census and freed when it ends, so that a run holds
 * them only while a census runs (docs/census.md, memory). The census is
 * taken where the state is (sim_census): a lattice split over MPI ranks
 * takes it on its blocks, so the run need not gather the fields for it. */
typedef struct {
    census_result last;
    int64_t n;        /* censuses taken */
    int64_t last_step;
    int64_t rows;     /* censuses the run will take (chunk sizes) */
} census_diag;

static const char *const LEVEL_COLS[CENSUS_NV] = {"0", "1", "2", "3", "4", "5", "6", "7", "8"};



/* One [9]-wide series row per quantity; counts (passed as doubles, exact
 * below 2^53) are stored as int64. */
static int put(h5out *h, const char *name, const h5out_meta *m, const double *v, int64_t step,
               sm_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "/census/%s", name);
    const double t = (double)step;
    return h5out_series_append(h, path, CENSUS_NV, LEVEL_COLS, m, &step, &t, v, 1, err);
}

static const char HIST_DESC[] = "components of {level >= i} with size in [2^b, 2^(b+1)): column 32 i + b";

/* Every census series: name, description, whether it is a count (stored as
 * int64), value for level i of result r. All are pure numbers (unit "1").
 * The one list behind both the writer and docs/output.md. */
#define CENSUS_SERIES(X) \
    X("n_centres", "sites with level == i (V_i centres)", 1, r->n_centres[i]) \
    X("n_truncated", "V_i centres whose footprint does not fit the lattice", 1, r->n_truncated[i]) \
    X("n_sites_ge", "sites with level >= i", 1, r->n_sites_ge[i]) \
    X("match_fraction", "fraction of fitting V_i clusters whose counts all equal Table 1", 0, \
           census_match_fraction(r, i)) \
    X("mean_N", "mean N_i = HSCLs + IE arrows over fitting V_i clusters", 0, census_mean(r, i, r->sum[i].n)) \
    X("mean_arrows", "mean IE arrows (bonds leaving the footprint)", 0, census_mean(r, i, r->sum[i].arrows)) \
    X("mean_cbosons", "mean C-bosons (bonds touching the footprint)", 0, census_mean(r, i, r->sum[i].cbosons)) \
    X("mean_hscl", "mean HSCLs in the footprint (V8: cavity excluded)", 0, census_mean(r, i, r->sum[i].hscl)) \
    X("mean_cavity", "mean HSCLs in the V8 cavity", 0, census_mean(r, i, r->sum[i].cavity)) \
    X("mean_jamming", "mean jamming = 2 x HSCLs on the outermost ring", 0, census_mean(r, i, r->sum[i].jamming)) \
    X("mean_co", "mean HSCLs with sigma equal to the centre's (+z for a +z centre)", 0, \
           census_mean(r, i, r->sum[i].co)) \
    X("mean_counter", "mean HSCLs with sigma opposite to the centre's", 0, census_mean(r, i, r->sum[i].counter)) \
    X("mean_neel", "mean HSCLs following the Neel mosaic around the centre", 0, census_mean(r, i, r->sum[i].neel)) \
    X("mean_density", "mean relative density HSCLs / N_i (V8: / 200)", 0, \
           i == 8 ? census_mean(r, i, r->sum[i].hscl) / MODEL_SOFT_MATRIX_HSMS \
                  : (r->sum[i].n ? (double)r->sum[i].hscl / (double)r->sum[i].n : NAN)) \
    X("n_components", "connected components of {level >= i}", 1, r->n_components[i]) \
    X("largest_component", "sites in the largest component of {level >= i}", 1, r->largest[i]) \
    X("n_span_x", "components of {level >= i} spanning (wrapping) x", 1, r->n_span_x[i]) \
    X("n_span_y", "components of {level >= i} spanning (wrapping) y", 1, r->n_span_y[i])

static int census_take(census_diag *d, const sim_state *sim, h5out *h, sm_error *err)
{
    census_result *r = &d->last;
    const int64_t step = sim->step;
    if (sim_census_in_place(sim) ? sim_census(sim, r, err) : census_of_fields(&sim->lat, &sim->st, r, err))
        return 1;
    d->n++;
    d->last_step = step;
    double v[CENSUS_NV];
#define PUT(name, desc, count, expr)                               \
    do {                                                           \
        const h5out_meta m = {desc, UNIT_NONE, count, d->rows};    \
        for (int i = 0; i < CENSUS_NV; i++) v[i] = (double)(expr); \
        if (put(h, name, &m, v, step, err)) return 1;              \
    } while (0);
    CENSUS_SERIES(PUT)
#undef PUT
    double hist[CENSUS_NV * CENSUS_NBINS];
    for (int i = 0; i < CENSUS_NV; i++)
        for (int b = 0; b < CENSUS_NBINS; b++) hist[i * CENSUS_NBINS + b] = (double)r->size_hist[i][b];
    const double t = (double)step;
    const h5out_meta m = {HIST_DESC, UNIT_NONE, 1, d->rows};
    return h5out_series_append(h, "/census/component_size_histogram", CENSUS_NV * CENSUS_NBINS, NULL, &m,
                               &step, &t, hist, 1, err);
}

static void census_print(FILE *out, const census_diag *d)
{
    if (d->n == 0) return;
    const census_result *r = &d->last;
    fprintf(out, "\ncluster census at sweep %lld (means over fitting V_i clusters; Table 1 match fraction):\n",
            (long long)d->last_step);
    fprintf(out, "%-3s %9s %9s %7s %7s %7s %7s %7s %6s %6s %7s %7s | %7s %9s %5s\n", "V_i", "centres",
            "sites>=i", "N_i", "arrows", "C-bos", "HSCL", "jam", "+z", "-z", "density", "match",
            "comps", "largest", "span");
    for (int i = 0; i < CENSUS_NV; i++) {
        const census_counts *s = &r->sum[i];
        const double dens = i == 8 ? census_mean(r, i, s->hscl) / MODEL_SOFT_MATRIX_HSMS
                                   : (s->n ? (double)s->hscl / (double)s->n : NAN);
        fprintf(out, "V%-2d %9lld %9lld %7.2f %7.2f %7.2f %7.2f %7.2f %6.2f %6.2f %7.3f %7.3f | %7lld %9lld %2s%-3s\n",
                i, (long long)r->n_centres[i], (long long)r->n_sites_ge[i], census_mean(r, i, s->n),
                census_mean(r, i, s->arrows), census_mean(r, i, s->cbosons),
                census_mean(r, i, s->hscl + s->cavity), census_mean(r, i, s->jamming),
                census_mean(r, i, s->co), census_mean(r, i, s->counter), dens,
                census_match_fraction(r, i), (long long)r->n_components[i],
                (long long)r->largest[i], r->n_span_x[i] ? "x" : "", r->n_span_y[i] ? "y" : "");
    }
}

static void census_describe(FILE *md, const diag_ctx *const *ctx, int nctx)
{
    (void)ctx, (void)nctx;
#define ROW(name, desc, count, expr) \
    fprintf(md, "| `/census/%s/value` | %s [n][9] | `1` | %s, for i = 0..8 |\n", name, \
            (count) ? "int64" : "float64", desc);
    CENSUS_SERIES(ROW)
#undef ROW
    fprintf(md, "| `/census/component_size_histogram/value` | int64 [n][%d] | `1` | %s |\n"
                "| `/census/<name>/step`, `time` | int64 [n], float64 [n] | `%s` (time) | sweep of each census (run.census_every) |\n",
            CENSUS_NV * CENSUS_NBINS, HIST_DESC, UNIT_TIME);
}

static void census_free(diag *d)
{
    free(d->data);
    d->data = NULL;
}

static int census_init(diag *d, const diag_ctx *c, sm_error *err)
{
    if (c->cfg->census_every <= 0) return DIAG_DECLINED;
    census_diag *cd = calloc(1, sizeof *cd);
    if (!cd) return sm_fail(err, "out of memory"), DIAG_FAILED;
    d->data = cd;
    d->every = c->cfg->census_every;
    d->clock = DIAG_MEASURED;
    /* sim_census reads the fields where they are, or s->st after a sync */
    d->reads = sim_census_in_place(c->sim) ? DIAG_READS_SUMS : DIAG_READS_FIELDS;
    cd->last_step = -1;
    cd->rows = config_measured_rows(c->cfg, c->cfg->census_every);
    return DIAG_OK;
}

static int census_measure(diag *d, const diag_ctx *c, const schedule_point *sp, sm_error *err)
{
    (void)sp;
    return census_take(d->data, c->sim, c->h, err);
}

static int census_finish(diag *d, const diag_ctx *c, sm_error *err)
{
    (void)err;
    if (c->report) census_print(c->report, d->data);
    return 0;
}

static void census_save(const diag *d, ckpt_writer *w)
{
    const census_diag *cd = d->data;
    ckpt_put(w, "census.n", &cd->n, sizeof cd->n);
    ckpt_put(w, "census.last_step", &cd->last_step, sizeof cd->last_step);
    ckpt_put(w, "census.last", &cd->last, sizeof cd->last);
}

static int census_restore(diag *d, const ckpt_reader *r, sm_error *err)
{
    census_diag *cd = d->data;
    return ckpt_get(r, "census.n", &cd->n, sizeof cd->n, err) ||
           ckpt_get(r, "census.last_step", &cd->last_step, sizeof cd->last_step, err) ||
           ckpt_get(r, "census.last", &cd->last, sizeof cd->last, err);
}

const diag_ops DIAG_CENSUS = {
    .name = "census",
    .init = census_init,
    .describe = census_describe,
    .measure = census_measure,
    .finish = census_finish,
    .save = census_save,
    .restore = census_restore,
    .free = census_free,
};
