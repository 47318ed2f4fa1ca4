/* The relaxation diagnostic of a dynamics with kinetic bookkeeping (the
 * cage dynamics): loop completions, undos, soft-matrix jumps and the times
 * tau_i between completions of successive loops, counted over each
 * segment's measured sweeps, written under /kinetics and reported as a
 * table. */
#include <math.h>
#include <stdlib.h>
#include "diag/diag.h"
#include "dynamics/kinetics.h"

typedef struct {
    kin_counters start;   /* counters before the segment's first measured sweep */
    kin_counters *seg;    /* [nseg], over each segment's measured sweeps */
    int nseg;
} relaxation;

/* What the diagnostic writes, one row per schedule segment: the one list
 * behind the writer and docs/output.md. width 0: one value per segment;
 * counts are stored as int64. */
typedef struct { const char *path; int width; const char *unit; int count; const char *desc; } kin_dataset;
enum { KIN_NDATASETS = 6 };
static const kin_dataset KIN_DATASETS[KIN_NDATASETS] = {
    {"/kinetics/tau/mean", KIN_NTAU, UNIT_TIME, 0,
     "tau_i, i = 0..7: mean sweeps between a site's completion of loop i (phi 63->0 reaching level i) "
     "and its next completion, of loop i+1; rows: schedule segments (measured sweeps only)"},
    {"/kinetics/tau/error", KIN_NTAU, UNIT_TIME, 0, "standard error of tau_i"},
    {"/kinetics/tau/count", KIN_NTAU, UNIT_NONE, 1, "intervals counted for tau_i"},
    {"/kinetics/loop_completions", KIN_NLOOPS, UNIT_NONE, 1,
     "loop completions (phi 63->0) per segment by the level reached, 0..8"},
    {"/kinetics/loop_undos", KIN_NLOOPS, UNIT_NONE, 1, "undone loops (phi 0->63) per segment by the level left, 0..8"},
    {"/kinetics/soft_matrix_jumps", 0, UNIT_NONE, 1, "soft-matrix jumps (arrivals at level 8) per segment"},
};

static void print_table(FILE *out, const kin_counters *seg, const sm_config *cfg)
{
    fprintf(out, "\ncage kinetics: tau_i = mean sweeps from completing loop i (reaching level i)"
                 " to completing loop i+1, [events]\n%-4s %-9s", "seg", "T");
    for (int i = 0; i < KIN_NTAU; i++) {
        char lab[16];
        snprintf(lab, sizeof lab, "tau_%d", i);
        fprintf(out, " %-21s", lab);
    }
    fprintf(out, " %s\n", "SM jumps");
    for (int s = 0; s < cfg->nseg; s++) {
        char T[32];
        if (cfg->seg[s].T_from == cfg->seg[s].T_to) snprintf(T, sizeof T, "%.4g", cfg->seg[s].T_from);
        else snprintf(T, sizeof T, "%.3g->%.3g", cfg->seg[s].T_from, cfg->seg[s].T_to);
        fprintf(out, "%-4d %-9s", s, T);
        for (int i = 0; i < KIN_NTAU; i++) {
            double m, e;
            kinetics_tau(&seg[s], i, &m, &e);
            char cell[64];
            if (isnan(m)) snprintf(cell, sizeof cell, "-");
            else if (isnan(e)) snprintf(cell, sizeof cell, "%.0f [%lld]", m, (long long)seg[s].tau_count[i]);
            else snprintf(cell, sizeof cell, "%.0f+-%.0f [%lld]", m, e, (long long)seg[s].tau_count[i]);
            fprintf(out, " %-21s", cell);
        }
        fprintf(out, " %lld\n", (long long)seg[s].sm_jumps);
    }
}

static int write_table(h5out *h, const kin_counters *seg, int nseg, sm_error *err)
{
    const size_t n = (size_t)nseg * KIN_NTAU;
    double *buf = malloc(sizeof *buf * (n * 3 + (size_t)nseg * (KIN_NLOOPS * 2 + 1)));
    if (!buf) return sm_fail(err, "out of memory");
    double *mean = buf, *error = buf + n, *count = buf + 2 * n;
    double *comp = buf + 3 * n, *undo = comp + (size_t)nseg * KIN_NLOOPS;
    double *jumps = undo + (size_t)nseg * KIN_NLOOPS;
    for (int s = 0; s < nseg; s++) {
        for (int i = 0; i < KIN_NTAU; i++) {
            kinetics_tau(&seg[s], i, &mean[s * KIN_NTAU + i], &error[s * KIN_NTAU + i]);
            count[s * KIN_NTAU + i] = (double)seg[s].tau_count[i];
        }
        for (int i = 0; i < KIN_NLOOPS; i++) {
            comp[s * KIN_NLOOPS + i] = (double)seg[s].completions[i];
            undo[s * KIN_NLOOPS + i] = (double)seg[s].undos[i];
        }
        jumps[s] = (double)seg[s].sm_jumps;
    }
    const double *data[KIN_NDATASETS] = {mean, error, count, comp, undo, jumps};
    int rc = 0;
    for (int k = 0; k < KIN_NDATASETS && !rc; k++) {
        const kin_dataset *ds = &KIN_DATASETS[k];
        const uint64_t dims[2] = {(uint64_t)nseg, (uint64_t)ds->width};
        const h5out_meta m = {ds->desc, ds->unit, ds->count, 0};
        rc = h5out_write_quantity(h, ds->path, ds->width ? 2 : 1, dims, data[k], &m, err);
    }
    free(buf);
    return rc;
}

static void relax_describe(FILE *md, const diag_ctx *const *ctx, int nctx)
{
    (void)ctx, (void)nctx;
    for (int k = 0; k < KIN_NDATASETS; k++) {
        const kin_dataset *ds = &KIN_DATASETS[k];
        const char *type = ds->count ? "int64" : "float64";
        if (ds->width) fprintf(md, "| `%s` | %s [nseg][%d] | `%s` | %s |\n", ds->path, type, ds->width, ds->unit, ds->desc);
        else fprintf(md, "| `%s` | %s [nseg] | `%s` | %s |\n", ds->path, type, ds->unit, ds->desc);
    }
}

static void relax_free(diag *d)
{
    relaxation *x = d->data;
    if (x) free(x->seg);
    free(x);
    d->data = NULL;
}

static int relax_init(diag *d, const diag_ctx *c, sm_error *err)
{
    if (!c->sim->kin) return DIAG_DECLINED;
    relaxation *x = calloc(1, sizeof *x);
    if (x) x->seg = calloc((size_t)c->cfg->nseg, sizeof *x->seg);
    d->data = x;
    if (!x || !x->seg) {
        relax_free(d);
        return sm_fail(err, "out of memory"), DIAG_FAILED;
    }
    x->nseg = c->cfg->nseg;
    d->reads = DIAG_READS_SUMS;   /* the kinetic counters, at segment ends */
    return DIAG_OK;
}

static void relax_segment_begin(diag *d, const diag_ctx *c, int segment)
{
    (void)segment;
    ((relaxation *)d->data)->start = c->sim->kin->c;
}

static void relax_segment_end(diag *d, const diag_ctx *c, int segment)
{
    relaxation *x = d->data;
    x->seg[segment] = kinetics_diff(&c->sim->kin->c, &x->start);
}

static int relax_finish(diag *d, const diag_ctx *c, sm_error *err)
{
    relaxation *x = d->data;
    if (write_table(c->h, x->seg, x->nseg, err)) return 1;
    if (c->report) print_table(c->report, x->seg, c->cfg);
    return 0;
}

static void relax_save(const diag *d, ckpt_writer *w)
{
    const relaxation *x = d->data;
    ckpt_put(w, "relaxation.start", &x->start, sizeof x->start);
    ckpt_put(w, "relaxation.segments", x->seg, sizeof *x->seg * (size_t)x->nseg);
}

static int relax_restore(diag *d, const ckpt_reader *r, sm_error *err)
{
    relaxation *x = d->data;
    return ckpt_get(r, "relaxation.start", &x->start, sizeof x->start, err) ||
           ckpt_get(r, "relaxation.segments", x->seg, sizeof *x->seg * (size_t)x->nseg, err);
}

const diag_ops DIAG_RELAXATION = {
    .name = "relaxation",
    .init = relax_init,
    .describe = relax_describe,
    .segment_begin = relax_segment_begin,
    .segment_end = relax_segment_end,
    .finish = relax_finish,
    .save = relax_save,
    .restore = relax_restore,
    .free = relax_free,
};
