/* The observables diagnostic: one row of every registered observable group
 * per measurement (run.measure_every measured sweeps), written through to
 * /observables in chunks of OBS_CHUNK rows and fed to the per-segment
 * summary's streaming accumulators, which at the end give /summary (means,
 * errors, autocorrelation times, fluctuation quantities). No row is kept
 * once written: memory and checkpoints do not grow with the run. */
#include <stdlib.h>
#include <string.h>
#include "diag/diag.h"
#include "diag/obs_group.h"
#include "diag/summary.h"
#include "dynamics/dynamics.h"
#include "io/markdown.h"

enum { OBS_MAX_GROUPS = 16, OBS_CHUNK = 1024 };

typedef struct {
    obs_layout L;
    int ngroups;
    const obs_group_ops *group[OBS_MAX_GROUPS];
    void *state[OBS_MAX_GROUPS];
    int64_t pending;           /* rows measured and not yet in the file */
    int64_t step[OBS_CHUNK];
    double *rows;              /* [OBS_CHUNK][L.total] */
    run_summary S;
} obs_series;

/* Appends the rows measured since the last write to the file. */
static int write_pending(obs_series *b, h5out *h, sm_error *err)
{
    if (h5out_observables_append(h, &b->L, b->step, b->rows, b->pending, err)) return 1;
    b->pending = 0;
    return 0;
}

static void obs_free(diag *d)
{
    obs_series *b = d->data;
    if (!b) return;
    for (int g = 0; g < b->ngroups; g++) free(b->state[g]);
    free(b->rows);
    summary_free(&b->S);
    free(b);
    d->data = NULL;
}

static int obs_init(diag *d, const diag_ctx *c, sm_error *err)
{
    obs_series *b = calloc(1, sizeof *b);
    if (!b) return sm_fail(err, "out of memory"), DIAG_FAILED;
    d->data = b;
    d->every = c->cfg->measure_every;
    d->clock = DIAG_MEASURED;
    for (int i = 0; OBS_GROUP_REGISTRY[i]; i++) {
        const obs_group_ops *g = OBS_GROUP_REGISTRY[i];
        void *st = calloc(1, g->state_size);
        if (!st || b->ngroups == OBS_MAX_GROUPS) {
            free(st);
            obs_free(d);
            return sm_fail(err, "out of memory for observable group %s", g->name), DIAG_FAILED;
        }
        if (g->layout(st, &b->L, c->sim)) {
            free(st);
            continue;
        }
        b->group[b->ngroups] = g;
        b->state[b->ngroups++] = st;
    }
    d->reads = DIAG_READS_SUMS;
    for (int g = 0; g < b->ngroups; g++)
        if (!b->group[g]->sums_only) d->reads = DIAG_READS_FIELDS;
    b->rows = malloc(sizeof *b->rows * OBS_CHUNK * (size_t)b->L.total);
    if (!b->rows || summary_init(&b->S, &b->L, c->cfg, c->sim->lat.N)) {
        obs_free(d);
        return sm_fail(err, "out of memory for the observables"), DIAG_FAILED;
    }
    return DIAG_OK;
}

static void obs_begin(diag *d, const diag_ctx *c)
{
    obs_series *b = d->data;
    for (int g = 0; g < b->ngroups; g++)
        if (b->group[g]->begin) b->group[g]->begin(b->state[g], c->sim);
}

static int obs_measure(diag *d, const diag_ctx *c, const schedule_point *sp, sm_error *err)
{
    obs_series *b = d->data;
    if (b->pending == OBS_CHUNK && write_pending(b, c->h, err)) return 1;
    double *row = b->rows + b->pending * b->L.total;
    b->step[b->pending++] = c->sim->step;
    for (int g = 0; g < b->ngroups; g++) b->group[g]->measure(b->state[g], c->sim, row);
    summary_add(&b->S, sp->segment, row);
    return 0;
}

static int obs_flush(diag *d, const diag_ctx *c, sm_error *err) { return write_pending(d->data, c->h, err); }

/* /summary/<item>/{mean,error,tau_int} [nseg] or [nseg][width]; error carries
 * the attribute reliable (int8, same shape). */
static int write_items(h5out *h, const run_summary *S, sm_error *err)
{
    static const char *const names[3] = {"mean", "error", "tau_int"};
    for (int i = 0; i < S->nitems; i++) {
        const summary_item *it = &S->item[i];
        const uint64_t dims[2] = {(uint64_t)S->nseg, (uint64_t)it->width};
        const double *data[3] = {it->mean, it->error, it->tau};
        char path[256];
        for (int k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "/summary/%s/%s", it->name, names[k]);
            if (h5out_write_array(h, path, it->width > 1 ? 2 : 1, dims, data[k], err)) return 1;
        }
        snprintf(path, sizeof path, "/summary/%s/error", it->name);
        if (h5out_write_int8_attr(h, path, "reliable", it->width > 1 ? 2 : 1, dims, it->reliable, err))
            return 1;
        snprintf(path, sizeof path, "/summary/%s", it->name);
        if (it->desc && h5out_write_string_attr(h, path, "description", it->desc, err)) return 1;
    }
    return 0;
}

/* The unit of a summary item: its observable's, or the derived quantity's. */
static const char *item_unit(const obs_layout *L, const char *name)
{
    const int f = obs_layout_find(L, name);
    if (f >= 0) return L->f[f].unit;
    for (int k = 0; k < SUMMARY_NDERIVED; k++)
        if (strcmp(SUMMARY_DERIVED[k].name, name) == 0) return SUMMARY_DERIVED[k].unit;
    return UNIT_NONE;
}

/* The `unit` of /summary/<item>/{mean,error,tau_int}: the item's, and
 * tau_int counts measurements. */
static int write_units(h5out *h, const run_summary *S, const obs_layout *L, sm_error *err)
{
    for (int i = 0; i < S->nitems; i++) {
        const char *name = S->item[i].name, *unit = item_unit(L, name);
        char path[256];
        snprintf(path, sizeof path, "/summary/%s/mean", name);
        if (h5out_write_unit(h, path, unit, err)) return 1;
        snprintf(path, sizeof path, "/summary/%s/error", name);
        if (h5out_write_unit(h, path, unit, err)) return 1;
        snprintf(path, sizeof path, "/summary/%s/tau_int", name);
        if (h5out_write_unit(h, path, UNIT_NONE, err)) return 1;
    }
    return 0;
}

/* /summary/segments/{T_from,T_to,sweeps,samples} [nseg]. */
static int write_segments(h5out *h, const run_summary *S, const sm_config *cfg, sm_error *err)
{
    static const char *const names[4] = {"T_from", "T_to", "sweeps", "samples"};
    static const h5out_meta meta[4] = {{NULL, UNIT_TEMPERATURE, 0, 0}, {NULL, UNIT_TEMPERATURE, 0, 0},
                                       {NULL, UNIT_TIME, 1, 0}, {NULL, UNIT_NONE, 1, 0}};
    const int n = S->nseg;
    double *buf = malloc(sizeof *buf * (size_t)n * 4);
    if (!buf) return sm_fail(err, "out of memory");
    for (int s = 0; s < n; s++) {
        buf[s] = cfg->seg[s].T_from;
        buf[n + s] = cfg->seg[s].T_to;
        buf[2 * n + s] = (double)cfg->seg[s].sweeps;
        buf[3 * n + s] = (double)S->samples[s];
    }
    const uint64_t dim = (uint64_t)n;
    int rc = 0;
    for (int k = 0; k < 4 && !rc; k++) {
        char path[64];
        snprintf(path, sizeof path, "/summary/segments/%s", names[k]);
        rc = h5out_write_quantity(h, path, 1, &dim, buf + k * n, &meta[k], err);
    }
    free(buf);
    return rc;
}

static int obs_finish(diag *d, const diag_ctx *c, sm_error *err)
{
    obs_series *b = d->data;
    int rc = write_pending(b, c->h, err);
    summary_close(&b->S);
    if (!rc)
        rc = write_items(c->h, &b->S, err) || write_units(c->h, &b->S, &b->L, err) ||
             write_segments(c->h, &b->S, c->cfg, err);
    if (!rc && c->report) summary_print(c->report, &b->S, c->cfg);
    return rc;
}

/* A checkpoint is written after a flush: no pending rows, only the
 * accumulators and the groups' marks. */
static void obs_save(const diag *d, ckpt_writer *w)
{
    const obs_series *b = d->data;
    const int32_t total = b->L.total;
    ckpt_put(w, "observables.total", &total, sizeof total);
    summary_save(&b->S, w, "observables.summary");
    for (int g = 0; g < b->ngroups; g++) {
        char name[64];
        snprintf(name, sizeof name, "observables.group.%s", b->group[g]->name);
        ckpt_put(w, name, b->state[g], b->group[g]->state_size);
    }
}

static int obs_restore(diag *d, const ckpt_reader *r, sm_error *err)
{
    obs_series *b = d->data;
    int32_t total;
    if (ckpt_get(r, "observables.total", &total, sizeof total, err)) return 1;
    if (total != b->L.total)
        return sm_fail(err, "%s: checkpoint rows have %d columns, this run measures %d", r->path, total, b->L.total);
    if (summary_restore(&b->S, r, "observables.summary", err)) return 1;
    b->pending = 0;
    for (int g = 0; g < b->ngroups; g++) {
        char name[64];
        snprintf(name, sizeof name, "observables.group.%s", b->group[g]->name);
        if (ckpt_get(r, name, b->state[g], b->group[g]->state_size, err)) return 1;
    }
    return 0;
}

/* The layout a run of ctx's dynamics measures. */
static void layout_of(const diag_ctx *c, obs_layout *L)
{
    memset(L, 0, sizeof *L);
    for (int i = 0; OBS_GROUP_REGISTRY[i]; i++) {
        void *st = calloc(1, OBS_GROUP_REGISTRY[i]->state_size);
        if (st) OBS_GROUP_REGISTRY[i]->layout(st, L, c->sim);
        free(st);
    }
}

static void describe_field(FILE *md, const obs_field *f, const char *kinds)
{
    fprintf(md, "| `/observables/%s/value` | %s [n]", f->name, f->integer ? "int64" : "float64");
    if (f->width > 1) {
        fprintf(md, "[%d] (columns", f->width);
        for (int k = 0; k < f->width; k++) fprintf(md, "%s %s", k ? "," : "", f->columns[k]);
        fprintf(md, ")");
    }
    fprintf(md, " | `%s` | ", f->unit);
    md_cell(md, f->desc);
    fprintf(md, "%s |\n", kinds);
}

/* Fields in the order the first kind measures them, then those only later
 * kinds measure; each says which kinds measure it unless all do. */
static void obs_describe(FILE *md, const diag_ctx *const *ctx, int nctx)
{
    obs_layout *L = calloc((size_t)nctx, sizeof *L);
    if (!L) return;
    for (int k = 0; k < nctx; k++) layout_of(ctx[k], &L[k]);
    for (int k = 0; k < nctx; k++)
        for (int f = 0; f < L[k].n; f++) {
            int first = 1, all = 1;
            for (int j = 0; j < nctx; j++) {
                const int has = obs_layout_find(&L[j], L[k].f[f].name) >= 0;
                if (has && j < k) first = 0;
                all &= has;
            }
            if (!first) continue;
            char kinds[128] = "";
            for (int j = 0; j < nctx && !all; j++)
                if (obs_layout_find(&L[j], L[k].f[f].name) >= 0)
                    snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s",
                             kinds[0] ? ", " : " (dynamics: ", ctx[j]->sim->kind);
            if (!all) strncat(kinds, ")", sizeof kinds - strlen(kinds) - 1);
            describe_field(md, &L[k].f[f], kinds);
        }
    fprintf(md, "| `/observables/<name>/step`, `time` | int64 [n], float64 [n] | `%s` (time) | sweep of each measurement (run.measure_every measured sweeps) |\n"
                "| `/summary/<name>/mean`, `error`, `tau_int` | float64 [nseg] or [nseg][width] | the observable's; `1` (tau_int) | per schedule segment, of every observable above: mean, its standard error (Gamma method, docs/model.md section 9), integrated autocorrelation time (in measurements) |\n"
                "| `/summary/<name>/error` attribute `reliable` | int8 [nseg] or [nseg][width] | `1` | 1 where the segment's series holds at least 50 tau_int, so that its error can be trusted |\n",
            UNIT_TIME);
    for (int k = 0; k < SUMMARY_NDERIVED; k++) {
        const int jack = k != SUMMARY_ABS_MS && k != SUMMARY_MS_SQ;
        fprintf(md, "| `/summary/%s/mean`, `error`, `tau_int` | float64 [nseg] | `%s` | ", SUMMARY_DERIVED[k].name,
                SUMMARY_DERIVED[k].unit);
        md_cell(md, SUMMARY_DERIVED[k].desc);
        fprintf(md, "; per segment, %s |\n", jack ? "blocked jackknife error, tau_int NaN" : "Gamma-method error");
    }
    fprintf(md, "| `/summary/segments/T_from`, `T_to` | float64 [nseg] | `%s` | the schedule segments' temperatures |\n"
                "| `/summary/segments/sweeps`, `samples` | int64 [nseg] | `%s`, `1` | their measured sweeps and the measurements in each |\n",
            UNIT_TEMPERATURE, UNIT_TIME);
    free(L);
}

const diag_ops DIAG_OBSERVABLES = {
    .name = "observables",
    .init = obs_init,
    .describe = obs_describe,
    .begin = obs_begin,
    .measure = obs_measure,
    .flush = obs_flush,
    .finish = obs_finish,
    .save = obs_save,
    .restore = obs_restore,
    .free = obs_free,
};
