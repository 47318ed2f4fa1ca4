/* Merging the index files of the shards of one sweep into the index of the
 * unsharded sweep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/index.h"

static void copy_cell(ix_column *dst, int64_t drow, const ix_column *src, int64_t srow)
{
    const int w = dst->width ? dst->width : 1;
    for (int j = 0; j < w; j++) {
        const int64_t a = drow * w + j, b = srow * w + j;
        if (dst->type == IX_F64) dst->f[a] = src->f[b];
        else if (dst->type == IX_I64) dst->i[a] = src->i[b];
        else index_set_string(dst, a, src->s[b]);
    }
}

/* Reads the shards and checks they are the N shards of one sweep, each
 * once; *rows is the total of their rows. */
static int read_shards(sweep_index *in, char **shards, int nshards, int64_t *rows, sm_error *err)
{
    int N = -1;
    int *seen = NULL;
    int rc = 1;
    *rows = 0;
    for (int s = 0; s < nshards; s++) {
        if (index_read(&in[s], shards[s], err)) goto done;
        int k = 1, n = 1;
        if (in[s].shard[0] && (sscanf(in[s].shard, "%d/%d", &k, &n) != 2 || k < 1 || k > n)) {
            sm_fail(err, "%s: shard attribute \"%s\" is not K/N", shards[s], in[s].shard);
            goto done;
        }
        if (s == 0) {
            N = n;
            seen = calloc((size_t)n + 1, sizeof *seen);
            if (!seen) { sm_fail(err, "merge: out of memory"); goto done; }
        } else if (n != N) {
            sm_fail(err, "%s: shard %s does not fit shards of %d (from %s)", shards[s], in[s].shard, N, shards[0]);
            goto done;
        } else if (strcmp(in[s].sweep_json, in[0].sweep_json) || strcmp(in[s].config_json, in[0].config_json) ||
                   in[s].npoints != in[0].npoints) {
            sm_fail(err, "%s: from another sweep than %s (sweep_json or config_json differ)", shards[s], shards[0]);
            goto done;
        }
        if (seen[k]++) {
            sm_fail(err, "%s: shard %d/%d given twice", shards[s], k, N);
            goto done;
        }
        *rows += in[s].n;
    }
    rc = 0;
    for (int k = 1; k <= N && !rc; k++)
        if (!seen[k]) rc = sm_fail(err, "merge: shard %d/%d missing (give all %d shard indexes)", k, N, N);
done:
    free(seen);
    return rc;
}

/* from[p] = shard * 2^32 + row of point p; every point exactly once. */
static int map_points(const sweep_index *in, char **shards, int nshards, int64_t *from, sm_error *err)
{
    const int64_t np = in[0].npoints;
    for (int64_t p = 0; p < np; p++) from[p] = -1;
    for (int s = 0; s < nshards; s++) {
        const ix_column *pc = index_find_column(&in[s], "point");
        if (!pc || pc->type != IX_I64 || pc->width)
            return sm_fail(err, "%s: /point: missing or not int64 [n]", shards[s]);
        for (int64_t r = 0; r < in[s].n; r++) {
            const int64_t p = pc->i[r];
            if (p < 0 || p >= np)
                return sm_fail(err, "%s: /point[%lld] = %lld is outside 0..%lld", shards[s], (long long)r,
                               (long long)p, (long long)np - 1);
            if (from[p] >= 0)
                return sm_fail(err, "%s: point %lld is also in %s", shards[s], (long long)p,
                               shards[from[p] >> 32]);
            from[p] = ((int64_t)s << 32) | r;
        }
    }
    for (int64_t p = 0; p < np; p++)
        if (from[p] < 0)
            return sm_fail(err, "merge: point %lld is in no shard index (was its shard's sweep finished?)", (long long)p);
    return 0;
}

/* The union of the shards' columns, each point's row from its shard.
 * Returns an SM_EXIT_* code. */
static int build_merged(sweep_index *ix, const sweep_index *in, int nshards, int64_t rows,
                        const int64_t *from, sm_error *err)
{
    const int64_t np = in[0].npoints;
    if (index_init(ix, rows, np, "", in[0].sweep_json, in[0].config_json, in[0].source, err))
        return SM_EXIT_RUNTIME;
    for (int s = 0; s < nshards; s++)
        for (int k = 0; k < in[s].ncol; k++) {
            const ix_column *c = in[s].col[k];
            ix_column *d = index_column(ix, c->name, c->type, c->width, err);
            if (!d) return SM_EXIT_USAGE;
            if (!d->columns && c->columns) d->columns = strdup(c->columns);
            if (!d->desc && c->desc) d->desc = strdup(c->desc);
            if (!d->unit && c->unit) d->unit = strdup(c->unit);
        }
    for (int64_t p = 0; p < np; p++) {
        const sweep_index *src = &in[from[p] >> 32];
        const int64_t r = from[p] & 0xffffffff;
        for (int k = 0; k < ix->ncol; k++) {
            const ix_column *c = index_find_column(src, ix->col[k]->name);
            if (c) copy_cell(ix->col[k], p, c, r);
        }
    }
    return SM_EXIT_OK;
}

int index_merge(const char *out, char **shards, int nshards, int replace, sm_error *err)
{
    sweep_index *in = calloc((size_t)nshards, sizeof *in);
    sweep_index ix = {0};
    int64_t *from = NULL, rows = 0;
    if (!in) return sm_fail(err, "merge: out of memory"), SM_EXIT_RUNTIME;
    int code = SM_EXIT_USAGE;
    if (!read_shards(in, shards, nshards, &rows, err)) {
        from = malloc(sizeof *from * (size_t)(in[0].npoints ? in[0].npoints : 1));
        if (!from) code = (sm_fail(err, "merge: out of memory"), SM_EXIT_RUNTIME);
        else if (!map_points(in, shards, nshards, from, err)) {
            code = build_merged(&ix, in, nshards, rows, from, err);
            if (code == SM_EXIT_OK && index_write(&ix, out, replace, err)) code = SM_EXIT_RUNTIME;
        }
    }
    for (int s = 0; s < nshards; s++) index_free(&in[s]);
    free(in);
    free(from);
    index_free(&ix);
    return code;
}
