/* Checkpoints of a run: what they hold (the run's timing, the simulation
 * state, every diagnostic's state and the row counts and checksums of the
 * file's series), writing them, restoring a run from one, rebuilding a
 * partial file that does not match, and the order in which a finished run
 * replaces its checkpoint by its result. Because every random number is
 * addressed by (seed, step, ...), a restored run continues exactly as if it
 * had never stopped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
 * on disk: a resumed run keeps exactly these rows. */
int run_checkpoint_write(run_state *rs, const char *ckpt, double wall_now, sm_error *err)
{
    sim_sync_for_save(&rs->sim);
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
    ckpt_put(&w, "run.source", rs->cfg->source, strlen(rs->cfg->source));
    ckpt_put(&w, "run.timing", timing, sizeof timing);
    sim_save(&rs->sim, &w);
    diag_set_save(&rs->diags, &w);
    ckpt_put(&w, "h5.counts", counts, sizeof *counts * (size_t)ncounts);
    free(counts);
    return ckpt_writer_commit(&w, rs->sim.step, err);
}

/* Opens the checkpoint and checks that it is this build's and this
 * configuration's; *usage for a missing one or another build or config. */
static int open_checked(ckpt_reader *r, const char *ckpt, const char *json, int *usage, sm_error *err)
{
    int missing = 0;
    if (ckpt_reader_open(r, ckpt, &missing, err)) {
        if (missing) {
            *usage = 1;
            sm_fail(err, "%s: no checkpoint to resume from (run without --resume to start afresh)", ckpt);
        }
        return 1;
    }
    const ckpt_record *ver = ckpt_find(r, "run.version", err);
    const ckpt_record *cfg = ver ? ckpt_find(r, "run.config", err) : NULL;
    if (!cfg) return ckpt_reader_close(r), 1;
    if (ver->size != strlen(SOFTMATRIX_VERSION) || memcmp(ver->data, SOFTMATRIX_VERSION, ver->size)) {
        *usage = 1;
        sm_fail(err, "%s: checkpoint written by softmatrix %.*s, this is %s", ckpt,
                (int)(ver->size > 32 ? 32 : ver->size), (const char *)ver->data, SOFTMATRIX_VERSION);
        return ckpt_reader_close(r), 1;
    }
    if (cfg->size != strlen(json) || memcmp(cfg->data, json, cfg->size)) {
        char diff[256];
        config_difference(diff, sizeof diff, cfg->data, (size_t)cfg->size, json);
        *usage = 1;
        sm_fail(err, "%s: checkpoint was written with another configuration (%s)", ckpt, diff);
        return ckpt_reader_close(r), 1;
    }
    return 0;
}

/* The recorded series (malloc'd) and the configuration file's name as the
 * run was started (for the rebuilt file header). */
static int read_counts(const ckpt_reader *r, h5out_count **counts, int *ncounts, char *source,
                       size_t nsource, sm_error *err)
{
    const ckpt_record *c = ckpt_find(r, "h5.counts", err);
    const ckpt_record *src = c ? ckpt_find(r, "run.source", err) : NULL;
    if (!src) return 1;
    if (c->size % sizeof(h5out_count) || c->size / sizeof(h5out_count) > H5OUT_MAX_COUNTS ||
        src->size >= nsource)
        return sm_fail(err, "%s: checkpoint record 'h5.counts' or 'run.source' is malformed", r->path);
    *counts = malloc(c->size ? c->size : 1);
    if (!*counts) return sm_fail(err, "out of memory");
    memcpy(*counts, c->data, c->size);
    *ncounts = (int)(c->size / sizeof(h5out_count));
    for (int i = 0; i < *ncounts; i++) (*counts)[i].path[sizeof (*counts)[i].path - 1] = 0;
    memcpy(source, src->data, src->size);
    source[src->size] = 0;
    return 0;
}

static int restore_state(run_state *rs, const ckpt_reader *r, sm_error *err)
{
    double timing[2];
    if (ckpt_get(r, "run.timing", timing, sizeof timing, err) || sim_restore(&rs->sim, r, err) ||
        diag_set_restore(&rs->diags, r, err))
        return 1;
    rs->sweep_time = timing[0];
    rs->wall_before = timing[1];
    return 0;
}

/* Back to the state sim_init and diag_set_init give: sweep 0. */
static int reset_state(run_state *rs, sm_error *err)
{
    diag_set_free(&rs->diags);
    sim_free(&rs->sim);
    rs->sweep_time = rs->wall_before = 0;
    return sim_init(&rs->sim, rs->cfg, err) || diag_set_init(&rs->diags, DIAG_REGISTRY, &rs->ctx, err);
}

int run_resume(run_state *rs, const char *path, const char *ckpt, int overwrite, FILE *report,
               int *usage, sm_error *err)
{
    ckpt_reader r;
    if (open_checked(&r, ckpt, rs->json, usage, err)) return 1;
    h5out_count *counts = NULL;
    int ncounts = 0, rc = 1;
    char source[CONFIG_PATH_MAX];
    /* everything the checkpoint itself can refuse, before any file changes */
    if (read_counts(&r, &counts, &ncounts, source, sizeof source, err) || restore_state(rs, &r, err))
        goto done;
    sm_error why = {{0}};
    const int got = h5out_resume(&rs->h, path, overwrite, rs->cfg, rs->json, source, counts, ncounts, &why);
    if (got == H5OUT_RESUMED) {
        rc = 0;
    } else if (got == H5OUT_FAILED) {
        rc = sm_fail(err, "%s", why.msg);
    } else {
        if (report)
            fprintf(report, "softmatrix: %s; rebuilding it: sweeps 0 to %lld are recomputed, and the "
                    "checkpoint is kept until the new file matches it\n", why.msg, (long long)r.step);
        rc = reset_state(rs, err) ||
             h5out_create_rebuild(&rs->h, path, overwrite, rs->cfg, rs->json, source, err);
        if (!rc) {
            rs->rebuild = counts, rs->nrebuild = ncounts, rs->rebuild_step = r.step;
            counts = NULL;
        }
    }
done:
    free(counts);
    ckpt_reader_close(&r);
    return rc;
}

int run_rebuild_done(run_state *rs, sm_error *err)
{
    if (diag_set_flush(&rs->diags, &rs->ctx, err) || h5out_flush(rs->h, err)) return 1;
    h5out_count *got = malloc(sizeof *got * H5OUT_MAX_COUNTS);
    if (!got) return sm_fail(err, "out of memory");
    sm_error why;
    const int differ = h5out_counts_differ(rs->rebuild, rs->nrebuild, got, h5out_counts(rs->h, got),
                                           h5out_partial(rs->h), &why);
    free(got);
    if (differ)
        return sm_fail(err, "%s; the recomputed output does not match the checkpoint, which is left as it was",
                       why.msg);
    if (h5out_promote(rs->h, err)) return 1;
    free(rs->rebuild);
    rs->rebuild = NULL;
    rs->nrebuild = 0;
    return 0;
}

/* --- finishing: the checkpoint never outlives the result ------------------- */

/* What identifies a file across a rename. */
typedef struct {
    uint64_t dev, ino, size;
    int64_t mtime_s, mtime_ns;
} file_id;

static int identify(const char *path, file_id *id)
{
    struct stat st;
    memset(id, 0, sizeof *id);
    if (stat(path, &st) != 0) return 1;
    *id = (file_id){(uint64_t)st.st_dev, (uint64_t)st.st_ino, (uint64_t)st.st_size,
                    (int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec};
    return 0;
}

static int is_file(const char *path, const file_id *id)
{
    file_id f;
    return identify(path, &f) == 0 && memcmp(&f, id, sizeof f) == 0;
}

/* Replaces the checkpoint, atomically, by one that records only that the
 * run finished with the file now at `partial`. */
static int mark_finished(const char *ckpt, const char *partial, const run_state *rs, sm_error *err)
{
    file_id id;
    if (identify(partial, &id)) return sm_fail(err, "%s: %s", partial, strerror(errno));
    ckpt_writer w;
    if (ckpt_writer_open(&w, ckpt, err)) return 1;
    ckpt_put(&w, "run.version", SOFTMATRIX_VERSION, strlen(SOFTMATRIX_VERSION));
    ckpt_put(&w, "run.config", rs->json, strlen(rs->json));
    ckpt_put(&w, "run.finished", &id, sizeof id);
    return ckpt_writer_commit(&w, rs->sim.step, err);
}

int run_publish(const char *path, const char *ckpt, const run_state *rs, int overwrite, sm_error *err)
{
    char partial[CONFIG_PATH_MAX + 16];
    snprintf(partial, sizeof partial, "%s.partial", path);
    struct stat st;
    if (ckpt && stat(ckpt, &st) == 0 && mark_finished(ckpt, partial, rs, err)) {
        /* no room for the mark (a full disk): then no checkpoint at all, so
         * that a stop before the rename costs a rerun, never a mixture */
        if (ckpt_remove(ckpt) != 0)
            return sm_fail(err, "%s: cannot remove the checkpoint of the finished run: %s", ckpt,
                           strerror(errno));
    }
    if (h5out_publish(path, overwrite, err)) return 1;
    if (ckpt && ckpt_remove(ckpt) != 0)
        fprintf(stderr, "softmatrix: %s: cannot remove the checkpoint of the finished run: %s\n", ckpt,
                strerror(errno));
    return 0;
}

ckpt_state run_checkpoint_settle(const char *path, const char *ckpt)
{
    ckpt_reader r;
    int missing = 0;
    if (ckpt_reader_open(&r, ckpt, &missing, NULL)) return missing ? CKPT_NONE : CKPT_LIVE;
    file_id id;
    const ckpt_record *fin = ckpt_find(&r, "run.finished", NULL);
    const int marker = fin && fin->size == sizeof id;
    if (marker) memcpy(&id, fin->data, sizeof id);
    ckpt_reader_close(&r);
    if (!marker) return CKPT_LIVE;
    char partial[CONFIG_PATH_MAX + 16];
    snprintf(partial, sizeof partial, "%s.partial", path);
    if (is_file(partial, &id)) return CKPT_UNPUBLISHED;
    /* the result was renamed into place (or is gone): nothing to resume */
    ckpt_remove(ckpt);
    return CKPT_NONE;
}
