/* The diagnostics of a run and when each is due. */
#include <string.h>
#include "diag/diag.h"

int diag_set_init(diag_set *set, const diag_ops *const *registry, const diag_ctx *c, sm_error *err)
{
    memset(set, 0, sizeof *set);
    for (int i = 0; registry[i]; i++) {
        if (set->n == DIAG_MAX) return sm_fail(err, "more than %d diagnostics registered", DIAG_MAX);
        diag *d = &set->d[set->n];
        d->ops = registry[i];
        const int rc = d->ops->init(d, c, err);
        if (rc == DIAG_FAILED) return 1;
        if (rc == DIAG_OK) set->n++;
        else memset(d, 0, sizeof *d);
    }
    return 0;
}

void diag_set_free(diag_set *set)
{
    for (int i = set->n - 1; i >= 0; i--)
        if (set->d[i].ops->free) set->d[i].ops->free(&set->d[i]);
    set->n = 0;
}

void diag_set_begin(diag_set *set, const diag_ctx *c)
{
    for (int i = 0; i < set->n; i++)
        if (set->d[i].ops->begin) set->d[i].ops->begin(&set->d[i], c);
}

void diag_set_before(diag_set *set, const diag_ctx *c, const schedule_point *sp)
{
    if (!sp->measured || sp->index != 0) return;
    for (int i = 0; i < set->n; i++)
        if (set->d[i].ops->segment_begin) set->d[i].ops->segment_begin(&set->d[i], c, sp->segment);
}

static int due(const diag *d, const schedule_point *sp, int64_t k)
{
    if (d->every <= 0 || !d->ops->measure) return 0;
    if (d->clock == DIAG_SCHEDULE) return (k + 1) % d->every == 0;
    return sp->measured && (sp->index + 1) % d->every == 0;
}

/* What d reads, as what the run must bring up to date for it. */
static int needs_of(const diag *d)
{
    return d->reads == DIAG_READS_SUMS ? DIAG_NEEDS_SUMS
           : d->reads == DIAG_READS_IN_PLACE ? DIAG_NEEDS_IN_PLACE
                                             : DIAG_NEEDS_FIELDS;
}

int diag_set_needs_before(const diag_set *set, const schedule_point *sp)
{
    int need = DIAG_NEEDS_NOTHING;
    if (!sp->measured || sp->index != 0) return need;
    for (int i = 0; i < set->n; i++)
        if (set->d[i].ops->segment_begin && needs_of(&set->d[i]) > need) need = needs_of(&set->d[i]);
    return need;
}

int diag_set_needs_after(const diag_set *set, const diag_ctx *c, const schedule_point *sp, int64_t k)
{
    const int last = sp->measured && sp->index == c->cfg->seg[sp->segment].sweeps - 1;
    int need = DIAG_NEEDS_NOTHING;
    for (int i = 0; i < set->n; i++) {
        const diag *d = &set->d[i];
        if (((last && d->ops->segment_end) || due(d, sp, k)) && needs_of(d) > need) need = needs_of(d);
    }
    return need;
}

int diag_set_after(diag_set *set, const diag_ctx *c, const schedule_point *sp, int64_t k,
                   sm_error *err)
{
    const int last = sp->measured && sp->index == c->cfg->seg[sp->segment].sweeps - 1;
    for (int i = 0; i < set->n; i++) {
        diag *d = &set->d[i];
        if (last && d->ops->segment_end) d->ops->segment_end(d, c, sp->segment);
        if (due(d, sp, k) && d->ops->measure(d, c, sp, err)) return 1;
    }
    return 0;
}

int diag_set_flush(diag_set *set, const diag_ctx *c, sm_error *err)
{
    for (int i = 0; i < set->n; i++)
        if (set->d[i].ops->flush && set->d[i].ops->flush(&set->d[i], c, err)) return 1;
    return 0;
}

int diag_set_finish(diag_set *set, const diag_ctx *c, sm_error *err)
{
    for (int i = 0; i < set->n; i++)
        if (set->d[i].ops->finish && set->d[i].ops->finish(&set->d[i], c, err)) return 1;
    return 0;
}

void diag_set_save(const diag_set *set, ckpt_writer *w)
{
    for (int i = 0; i < set->n; i++)
        if (set->d[i].ops->save) set->d[i].ops->save(&set->d[i], w);
}

int diag_set_restore(diag_set *set, const ckpt_reader *r, sm_error *err)
{
    for (int i = 0; i < set->n; i++)
        if (set->d[i].ops->restore && set->d[i].ops->restore(&set->d[i], r, err)) return 1;
    return 0;
}
