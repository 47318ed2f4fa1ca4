/* Checkpoints of a run: what they hold (the run's timing, the simulation
 * state, every diagnostic's state and the row counts of the file's series),
 * writing them, and restoring a run from one. Because every random number
 * is addressed by (seed, step, ...), a restored run continues exactly as if
 * it had never stopped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/version.h"
#include "run/resume.h"

/* One line of the resolved config as it reads, for a message: the JSON
 * printer's tab indentation and the trailing comma dropped, tabs made
 * spaces, at most 80 characters. */
static void config_line(char *out, size_t n, const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    if (e > s && e[-1] == ',') e--;
    size_t k = 0;
    for (; s < e && k + 1 < n && k < 80; s++) out[k++] = *s == '\t' ? ' ' : *s;
    out[k] = 0;
}

/* The first line where the checkpoint's config text a differs from b, as
 * `a line` vs `b line`, so that the refusal says what changed. */
static void config_difference(char *out, size_t n, const char *a, size_t alen, const char *b)
{
    const size_t blen = strlen(b);
    size_t i = 0;
    while (i < alen && i < blen && a[i] == b[i]) i++;
    size_t s = i;
    while (s > 0 && a[s - 1] != '\n') s--;
    size_t ea = s, eb = s;
    while (ea < alen && a[ea] != '\n') ea++;
    while (eb < blen && b[eb] != '\n') eb++;
    char la[96], lb[96];
    config_line(la, sizeof la, a + s, a + ea);
    config_line(lb, sizeof lb, b + s, b + eb);
    snprintf(out, n, "it has `%s` where the config has `%s`", la, lb);
}

/* Writes the checkpoint. The pending rows are appended and the file flushed
 * first, so that the recorded series row counts are what the .partial holds
 * on disk: a resumed run cuts the file back to exactly these rows. */
int run_checkpoint_write(run_state *rs, const char *ckpt, double wall_now, sm_error *err)
{
    if (diag_set_flush(&rs->diags, &rs->ctx, err) || h5out_flush(rs->h, err)) return 1;
    h5out_count *counts = malloc(sizeof *counts * H5OUT_MAX_COUNTS);
    if (!counts) return sm_fail(err, "out of memory");
    const int ncounts = h5out_counts(rs->h, counts);
    ckpt_writer w;
    if (ckpt_writer_open(&w, ckpt, err)) {
        free(counts);
        return 1;
    }
    const double timing[2] = {rs->sweep_time, wall_now};
    ckpt_put(&w, "run.version", SOFTMATRIX_VERSION, strlen(SOFTMATRIX_VERSION));
    ckpt_put(&w, "run.config", rs->json, strlen(rs->json));
    ckpt_put(&w, "run.timing", timing, sizeof timing);
    sim_save(&rs->sim, &w);
    diag_set_save(&rs->diags, &w);
    ckpt_put(&w, "h5.counts", counts, sizeof *counts * (size_t)ncounts);
    free(counts);
    return ckpt_writer_commit(&w, rs->sim.step, err);
}

/* Restores rs from the checkpoint and returns the series row counts it
 * recorded (*counts malloc'd); nothing on disk is changed. *usage is set when
 * the checkpoint is missing or belongs to another configuration or build. */
int run_checkpoint_restore(run_state *rs, const char *ckpt, h5out_count **counts, int *ncounts,
                           int *usage, sm_error *err)
{
    ckpt_reader r;
    int missing = 0;
    if (ckpt_reader_open(&r, ckpt, &missing, err)) {
        if (missing) {
            *usage = 1;
            sm_fail(err, "%s: no checkpoint to resume from (run without --resume to start afresh)", ckpt);
        }
        return 1;
    }
    int rc = 1;
    const ckpt_record *ver = ckpt_find(&r, "run.version", err);
    const ckpt_record *cfg = ver ? ckpt_find(&r, "run.config", err) : NULL;
    if (!cfg) goto done;
    if (ver->size != strlen(SOFTMATRIX_VERSION) || memcmp(ver->data, SOFTMATRIX_VERSION, ver->size)) {
        *usage = 1;
        sm_fail(err, "%s: checkpoint written by softmatrix %.*s, this is %s", ckpt,
                (int)(ver->size > 32 ? 32 : ver->size), (const char *)ver->data, SOFTMATRIX_VERSION);
        goto done;
    }
    if (cfg->size != strlen(rs->json) || memcmp(cfg->data, rs->json, cfg->size)) {
        char diff[256];
        config_difference(diff, sizeof diff, cfg->data, (size_t)cfg->size, rs->json);
        *usage = 1;
        sm_fail(err, "%s: checkpoint was written with another configuration (%s)", ckpt, diff);
        goto done;
    }
    double timing[2];
    if (ckpt_get(&r, "run.timing", timing, sizeof timing, err) || sim_restore(&rs->sim, &r, err) ||
        diag_set_restore(&rs->diags, &r, err))
        goto done;
    rs->sweep_time = timing[0];
    rs->wall_before = timing[1];
    const ckpt_record *c = ckpt_find(&r, "h5.counts", err);
    if (!c) goto done;
    if (c->size % sizeof(h5out_count) || c->size / sizeof(h5out_count) > H5OUT_MAX_COUNTS) {
        sm_fail(err, "%s: checkpoint record 'h5.counts' is malformed", ckpt);
        goto done;
    }
    *counts = malloc(c->size ? c->size : 1);
    if (!*counts) {
        sm_fail(err, "out of memory");
        goto done;
    }
    memcpy(*counts, c->data, c->size);
    *ncounts = (int)(c->size / sizeof(h5out_count));
    for (int i = 0; i < *ncounts; i++) (*counts)[i].path[sizeof (*counts)[i].path - 1] = 0;
    rc = 0;
done:
    ckpt_reader_close(&r);
    return rc;
}
