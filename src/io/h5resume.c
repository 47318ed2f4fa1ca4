/* Resuming an interrupted run's output: the series checksums a checkpoint
 * records, the verified copy of a partial file (h5out_resume) and the
 * rebuild's promotion (include/io/h5out.h says why the partial file is
 * copied rather than cut back in place). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "h5out_impl.h"

enum { MAX_WIDTH = 1 << 20, COPY_BLOCK_VALUES = 1 << 20 };

static void count_of(h5out_count *c, const char *path, hsize_t rows, int width, const sm_hash *hash)
{
    memset(c, 0, sizeof *c); /* the padding of path goes into checkpoints */
    snprintf(c->path, sizeof c->path, "%s", path);
    c->rows = (int64_t)rows;
    c->width = width;
    memcpy(c->hash, hash, sizeof c->hash);
}

int h5out_counts(const h5out *h, h5out_count *out)
{
    int n = 0;
    for (int i = 0; i < h->nseries; i++)
        count_of(&out[n++], h->s[i].path, h->s[i].n, h->s[i].width, h->s[i].hash);
    for (int i = 0; i < SNAP_NFIELDS; i++)
        if (h->snap[i].group >= 0) {
            char p[64];
            snprintf(p, sizeof p, "/snapshots/%s", SNAP_FIELD_NAMES[i]);
            count_of(&out[n++], p, h->snap[i].n, 0, h->snap[i].hash);
        }
    return n;
}

static const h5out_count *find_count(const h5out_count *c, int n, const char *path)
{
    for (int i = 0; i < n; i++)
        if (strcmp(c[i].path, path) == 0) return &c[i];
    return NULL;
}

int h5out_counts_differ(const h5out_count *a, int na, const h5out_count *b, int nb,
                        const char *name, sm_error *err)
{
    for (int i = 0; i < na; i++) {
        const h5out_count *x = &a[i], *y = find_count(b, nb, x->path);
        if (!y) return sm_fail(err, "%s: %s is missing", name, x->path);
        if (y->rows != x->rows || y->width != x->width)
            return sm_fail(err, "%s: %s has %lld rows of %lld, the checkpoint recorded %lld of %lld", name,
                           x->path, (long long)y->rows, (long long)y->width, (long long)x->rows,
                           (long long)x->width);
        for (int j = 0; j < 3; j++)
            if (!sm_hash_equal(&x->hash[j], &y->hash[j]))
                return sm_fail(err, "%s: the %s of %s do not match the checkpoint's checksum", name,
                               j == 0 ? "steps (or description)" : j == 1 ? "times" : "values", x->path);
    }
    for (int i = 0; i < nb; i++)
        if (!find_count(a, na, b[i].path))
            return sm_fail(err, "%s: %s is not in the checkpoint", name, b[i].path);
    return 0;
}

/* Index of snapshot field "/snapshots/<name>", or -1 for a series. */
static int snap_index(const char *path)
{
    if (strncmp(path, "/snapshots/", 11) != 0) return -1;
    for (int i = 0; i < SNAP_NFIELDS; i++)
        if (strcmp(path + 11, SNAP_FIELD_NAMES[i]) == 0) return i;
    return -1;
}

/* --- the copy, in a child process ------------------------------------------ */

typedef struct {
    const char *path;
    int overwrite;
    const sm_config *cfg;
    const char *json, *source;
    const h5out_count *keep;
    int nkeep;
    char partial[CONFIG_PATH_MAX + 16];
} resume_args;

/* Reads rows [at, at + n) of dataset d as memtype; inner: the other
 * rank - 1 dimensions. */
static int read_rows(hid_t d, hid_t memtype, int rank, const hsize_t *inner, hsize_t at,
                     hsize_t n, void *buf)
{
    hsize_t start[4] = {at, 0, 0, 0}, count[4] = {n, 0, 0, 0};
    for (int i = 1; i < rank; i++) count[i] = inner[i - 1];
    const hid_t fs = H5Dget_space(d);
    if (fs < 0) return 1;
    herr_t rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    const hid_t ms = H5Screate_simple(rank, count, NULL);
    if (rc >= 0) rc = ms < 0 ? -1 : H5Dread(d, memtype, ms, fs, H5P_DEFAULT, buf);
    if (ms >= 0) H5Sclose(ms);
    H5Sclose(fs);
    return rc < 0;
}

/* Dataset path/leaf of the old file, checked to have this rank, these
 * inner dimensions and at least rows rows; -1 (err set) otherwise. */
static hid_t open_checked(hid_t f, const resume_args *a, const char *path, const char *leaf,
                          int rank, const hsize_t *inner, hsize_t rows, sm_error *err)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s", path, leaf);
    const hid_t d = H5Dopen2(f, p, H5P_DEFAULT);
    if (d < 0) return sm_fail(err, "%s: %s is missing", a->partial, p), -1;
    hsize_t dims[4] = {0, 0, 0, 0};
    int ok = h5o_dataset_dims(d, dims) == rank && dims[0] >= rows;
    for (int i = 1; i < rank && ok; i++) ok = dims[i] == inner[i - 1];
    if (ok) return d;
    H5Dclose(d);
    return sm_fail(err, "%s: %s has %llu rows (or another shape), the checkpoint recorded %llu",
                   a->partial, p, (unsigned long long)dims[0], (unsigned long long)rows), -1;
}

/* A string attribute (malloc'd), or NULL when absent or unreadable: the
 * checksum tells the two apart from what was written. */
static char *read_attr(hid_t obj, const char *name)
{
    if (H5Aexists(obj, name) <= 0) return NULL;
    const hid_t at = H5Aopen(obj, name, H5P_DEFAULT);
    /* in the attribute's own character set: units are ASCII, text UTF-8 */
    const hid_t ft = at < 0 ? -1 : H5Aget_type(at);
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, ft < 0 ? H5T_CSET_UTF8 : H5Tget_cset(ft));
    if (ft >= 0) H5Tclose(ft);
    char *v = NULL, *out = NULL;
    if (at >= 0 && H5Aread(at, t, &v) >= 0 && v) out = strdup(v);
    if (v) H5free_memory(v);
    H5Tclose(t);
    if (at >= 0) H5Aclose(at);
    return out;
}

static void close3(hid_t *d)
{
    for (int j = 0; j < 3; j++)
        if (d[j] >= 0) H5Dclose(d[j]);
}

/* Copies rows [0, k->rows) of series k through d[3] into h, in blocks. */
static int copy_series_rows(const resume_args *a, const hid_t *d, h5out *h, series *s,
                            const h5out_count *k, sm_error *err)
{
    const hsize_t w = (hsize_t)k->width, rows = (hsize_t)k->rows;
    const hsize_t block = w >= COPY_BLOCK_VALUES ? 1 : COPY_BLOCK_VALUES / w;
    int64_t *st = malloc(sizeof *st * block);
    double *tm = malloc(sizeof *tm * block), *val = malloc(sizeof *val * block * w);
    int rc = st && tm && val ? 0 : (sm_fail(err, "%s: out of memory", a->partial), H5OUT_FAILED);
    for (hsize_t at = 0; at < rows && !rc; at += block) {
        const hsize_t n = rows - at < block ? rows - at : block;
        if (read_rows(d[0], H5T_NATIVE_INT64, 1, NULL, at, n, st) ||
            read_rows(d[1], H5T_NATIVE_DOUBLE, 1, NULL, at, n, tm) ||
            read_rows(d[2], H5T_NATIVE_DOUBLE, w > 1 ? 2 : 1, &w, at, n, val))
            rc = (sm_fail(err, "%s: cannot read rows of %s", a->partial, k->path), H5OUT_DAMAGED);
        else if (h5o_series_write(h, s, st, tm, val, (int64_t)n, err))
            rc = H5OUT_FAILED;
    }
    free(st);
    free(tm);
    free(val);
    return rc;
}

static int copy_series(hid_t f, const resume_args *a, h5out *h, const h5out_count *k, sm_error *err)
{
    if (k->width < 1 || k->width > MAX_WIDTH || k->rows < 0)
        return sm_fail(err, "%s: the checkpoint records a bad shape for %s", a->partial, k->path), H5OUT_DAMAGED;
    const hsize_t w = (hsize_t)k->width, rows = (hsize_t)k->rows;
    hid_t d[3] = {-1, -1, -1};
    d[0] = open_checked(f, a, k->path, "step", 1, NULL, rows, err);
    if (d[0] >= 0) d[1] = open_checked(f, a, k->path, "time", 1, NULL, rows, err);
    if (d[1] >= 0) d[2] = open_checked(f, a, k->path, "value", w > 1 ? 2 : 1, &w, rows, err);
    int rc = d[2] < 0 ? H5OUT_DAMAGED : 0;
    char *desc = rc ? NULL : read_attr(d[2], "description");
    char *cols = rc ? NULL : read_attr(d[2], "columns");
    char *unit = rc ? NULL : read_attr(d[2], "unit");
    /* the copy keeps the storage type: counts stay integers */
    const hid_t vt = rc ? -1 : H5Dget_type(d[2]);
    const h5out_meta m = {desc, unit, vt >= 0 && H5Tget_class(vt) == H5T_INTEGER, 0};
    if (vt >= 0) H5Tclose(vt);
    series *s = rc ? NULL : h5o_series(h, k->path, (int)w, cols, &m, err);
    if (!rc && !s) rc = H5OUT_FAILED;
    if (!rc) rc = copy_series_rows(a, d, h, s, k, err);
    free(desc);
    free(cols);
    free(unit);
    close3(d);
    return rc;
}

/* --- snapshots: their chunks as stored, else frame by frame ---------------- */

/* Do creation property lists a and b hold the same filters, in the same
 * order, with the same flags and parameters? */
static int same_filters(hid_t a, hid_t b)
{
    const int n = H5Pget_nfilters(a);
    if (n < 0 || n != H5Pget_nfilters(b)) return 0;
    for (unsigned j = 0; j < (unsigned)n; j++) {
        enum { NCD = 8 };
        unsigned fa, fb, ca[NCD] = {0}, cb[NCD] = {0}, conf;
        size_t na = NCD, nb = NCD;
        const H5Z_filter_t ia = H5Pget_filter2(a, j, &fa, &na, ca, 0, NULL, &conf);
        const H5Z_filter_t ib = H5Pget_filter2(b, j, &fb, &nb, cb, 0, NULL, &conf);
        if (ia < 0 || ia != ib || fa != fb || na != nb || na > NCD || memcmp(ca, cb, sizeof ca))
            return 0;
    }
    return 1;
}

/* Can the chunks of the old file's value dataset d go into the new file's
 * dataset v as they are stored? Only when both hold the same type in
 * chunks of the same shape through the same filters; a partial file that
 * another version of the writer chunked or filtered otherwise has to be
 * decoded and encoded again, frame by frame. */
static int same_storage(hid_t d, hid_t v)
{
    const hid_t td = H5Dget_type(d), tv = H5Dget_type(v);
    const hid_t pd = H5Dget_create_plist(d), pv = H5Dget_create_plist(v);
    hsize_t cd[4] = {0, 0, 0, 0}, cv[4] = {0, 0, 0, 0};
    int same = td >= 0 && tv >= 0 && pd >= 0 && pv >= 0 && H5Tequal(td, tv) > 0 &&
               H5Pget_layout(pd) == H5D_CHUNKED && H5Pget_layout(pv) == H5D_CHUNKED;
    same = same && H5Pget_chunk(pd, 4, cd) == H5Pget_chunk(pv, 4, cv) && !memcmp(cd, cv, sizeof cd) &&
           same_filters(pd, pv);
    if (td >= 0) H5Tclose(td);
    if (tv >= 0) H5Tclose(tv);
    if (pd >= 0) H5Pclose(pd);
    if (pv >= 0) H5Pclose(pv);
    return same;
}

/* What copying a field chunk by chunk holds: one chunk as stored (at most
 * cap bytes: a frame's strip plus what compression may add) and the same
 * strip decoded, for the checksum. */
typedef struct {
    void *stored, *decoded;
    size_t cap, row_bytes;
    hsize_t strip, Lx, Ly;
    int64_t copied;
} chunk_copy;

/* What became of the snapshot frames, which SOFTMATRIX_RESUME_VERBOSE has
 * the copy print: chunks copied as stored, frames decoded and encoded. */
typedef struct {
    int64_t chunks, frames;
} copy_tally;

/* Rows [y, y + rows) of frame `at` of value dataset d, decoded into buf. */
static int read_strip(hid_t d, int i, hsize_t at, hsize_t y, hsize_t rows, hsize_t Lx, void *buf)
{
    const int rank = h5o_snapshot_rank(i);
    const hsize_t start[4] = {at, y, 0, 0}, count[4] = {1, rows, Lx, 3};
    const hid_t fs = H5Dget_space(d);
    if (fs < 0) return 1;
    herr_t rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    const hid_t ms = H5Screate_simple(rank, count, NULL);
    if (rc >= 0) rc = ms < 0 ? -1 : H5Dread(d, h5o_snapshot_memtype(i), ms, fs, H5P_DEFAULT, buf);
    if (ms >= 0) H5Sclose(ms);
    H5Sclose(fs);
    return rc < 0;
}

/* Frame `at` of field i, from old value dataset d into the new file a
 * chunk (a strip of rows) at a time: its bytes as stored, still
 * compressed, with the mask of the filters its writer skipped. */
static int copy_stored(const resume_args *a, h5out *h, int i, hid_t d, hsize_t at, chunk_copy *c,
                       sm_error *err)
{
    const hsize_t dims[4] = {at + 1, c->Ly, c->Lx, 3};
    errno = 0;
    if (H5Dset_extent(h->snap[i].value, dims) < 0)
        return sm_fail(err, "%s: snapshot write failed: %s", h->path, h5o_io_cause(errno)), H5OUT_FAILED;
    for (hsize_t y = 0; y < c->Ly; y += c->strip) {
        const hsize_t off[4] = {at, y, 0, 0};
        hsize_t bytes = 0;
        uint32_t mask = 0;
        if (H5Dget_chunk_storage_size(d, off, &bytes) < 0 || bytes == 0 || bytes > c->cap ||
            H5Dread_chunk(d, H5P_DEFAULT, off, &mask, c->stored) < 0)
            return sm_fail(err, "%s: cannot read snapshot %llu of /snapshots/%s (rows from %llu)",
                           a->partial, (unsigned long long)at, SNAP_FIELD_NAMES[i],
                           (unsigned long long)y), H5OUT_DAMAGED;
        errno = 0;
        if (H5Dwrite_chunk(h->snap[i].value, H5P_DEFAULT, mask, off, (size_t)bytes, c->stored) < 0)
            return sm_fail(err, "%s: snapshot write failed: %s", h->path, h5o_io_cause(errno)), H5OUT_FAILED;
        c->copied++;
    }
    return 0;
}

/* Frame `at` of field i read back from the new file, a strip at a time,
 * into its value checksum: what the checkpoint's checksum then verifies is
 * the copy itself, decoded as any reader will decode it. */
static int hash_copied(const resume_args *a, h5out *h, int i, hsize_t at, chunk_copy *c,
                       sm_error *err)
{
    snap_field *f = &h->snap[i];
    /* HDF5 1.10 remembers the last chunk it looked up with the filter mask
     * it had before H5Dwrite_chunk replaced it, and would decode that chunk
     * with the wrong filters; a dataset opened afresh looks it up again */
    char p[96];
    snprintf(p, sizeof p, "/snapshots/%s/value", SNAP_FIELD_NAMES[i]);
    H5Dclose(f->value);
    if ((f->value = H5Dopen2(h->file, p, H5P_DEFAULT)) < 0)
        return sm_fail(err, "%s: cannot reopen %s", h->path, p), H5OUT_FAILED;
    for (hsize_t y = 0; y < c->Ly; y += c->strip) {
        const hsize_t rows = c->Ly - y < c->strip ? c->Ly - y : c->strip;
        /* a chunk that does not decode was damaged in the old file */
        if (read_strip(f->value, i, at, y, rows, c->Lx, c->decoded))
            return sm_fail(err, "%s: snapshot %llu of /snapshots/%s does not decode (rows from %llu)",
                           a->partial, (unsigned long long)at, SNAP_FIELD_NAMES[i],
                           (unsigned long long)y), H5OUT_DAMAGED;
        sm_hash_add(&f->hash[2], c->decoded, c->row_bytes * (size_t)rows);
    }
    return 0;
}

/* Rows [0, rows) of field i, whose old datasets are d[3], chunk by chunk. */
static int copy_chunks(const resume_args *a, h5out *h, int i, const hid_t *d, hsize_t rows,
                       copy_tally *t, sm_error *err)
{
    const sm_config *cfg = a->cfg;
    chunk_copy c = {NULL, NULL, 0, h5o_snapshot_site_bytes(i) * (size_t)cfg->Lx,
                    h5o_snapshot_strip_rows(i, cfg->Lx, cfg->Ly), (hsize_t)cfg->Lx, (hsize_t)cfg->Ly, 0};
    const size_t chunk = c.row_bytes * (size_t)c.strip;
    c.cap = chunk + chunk / 16 + 4096; /* deflate's worst case adds far less */
    c.stored = malloc(c.cap);
    c.decoded = malloc(chunk);
    snap_field *f = &h->snap[i];
    int rc = c.stored && c.decoded ? 0 : (sm_fail(err, "%s: out of memory", a->partial), H5OUT_FAILED);
    for (hsize_t at = 0; at < rows && !rc; at++) {
        int64_t step;
        double time;
        if (read_rows(d[0], H5T_NATIVE_INT64, 1, NULL, at, 1, &step) ||
            read_rows(d[1], H5T_NATIVE_DOUBLE, 1, NULL, at, 1, &time)) {
            rc = (sm_fail(err, "%s: cannot read the step of snapshot %llu of /snapshots/%s", a->partial,
                          (unsigned long long)at, SNAP_FIELD_NAMES[i]), H5OUT_DAMAGED);
            break;
        }
        errno = 0;
        if (h5o_append_rows(f->step, H5T_NATIVE_INT64, 1, NULL, at, 1, &step) ||
            h5o_append_rows(f->time, H5T_NATIVE_DOUBLE, 1, NULL, at, 1, &time))
            rc = (sm_fail(err, "%s: snapshot write failed: %s", h->path, h5o_io_cause(errno)), H5OUT_FAILED);
        else
            rc = copy_stored(a, h, i, d[2], at, &c, err);
        if (!rc) rc = hash_copied(a, h, i, at, &c, err);
        if (rc) break;
        f->n++;
        sm_hash_add(&f->hash[0], &step, sizeof step);
        sm_hash_add(&f->hash[1], &time, sizeof time);
    }
    free(c.stored);
    free(c.decoded);
    t->chunks += c.copied;
    return rc;
}

/* Rows [0, rows) of field i a whole frame at a time, decoded and encoded
 * again: for old datasets stored otherwise than the new ones. */
static int copy_frames(const resume_args *a, h5out *h, int i, const hid_t *d, hsize_t rows,
                       copy_tally *t, sm_error *err)
{
    const sm_config *cfg = a->cfg;
    const int rank = h5o_snapshot_rank(i);
    const hsize_t inner[3] = {(hsize_t)cfg->Ly, (hsize_t)cfg->Lx, 3};
    const hid_t mt = h5o_snapshot_memtype(i);
    void *frame = malloc(h5o_snapshot_site_bytes(i) * inner[0] * inner[1]);
    int rc = frame ? 0 : (sm_fail(err, "%s: out of memory", a->partial), H5OUT_FAILED);
    for (hsize_t at = 0; at < rows && !rc; at++) {
        int64_t step;
        double time;
        if (read_rows(d[0], H5T_NATIVE_INT64, 1, NULL, at, 1, &step) ||
            read_rows(d[1], H5T_NATIVE_DOUBLE, 1, NULL, at, 1, &time) ||
            read_rows(d[2], mt, rank, inner, at, 1, frame))
            rc = (sm_fail(err, "%s: cannot read snapshot %llu of /snapshots/%s", a->partial,
                          (unsigned long long)at, SNAP_FIELD_NAMES[i]), H5OUT_DAMAGED);
        else if (h5o_snapshot_write(h, i, cfg->Lx, cfg->Ly, cfg->compression, step, time, frame, err))
            rc = H5OUT_FAILED;
        else
            t->frames++;
    }
    free(frame);
    return rc;
}

static int copy_snapshots(hid_t f, const resume_args *a, h5out *h, int i, const h5out_count *k,
                          copy_tally *t, sm_error *err)
{
    const sm_config *cfg = a->cfg;
    const int rank = h5o_snapshot_rank(i);
    const hsize_t inner[3] = {(hsize_t)cfg->Ly, (hsize_t)cfg->Lx, 3}, rows = (hsize_t)k->rows;
    hid_t d[3] = {-1, -1, -1};
    if (k->rows < 0) return sm_fail(err, "%s: bad row count for %s", a->partial, k->path), H5OUT_DAMAGED;
    d[0] = open_checked(f, a, k->path, "step", 1, NULL, rows, err);
    if (d[0] >= 0) d[1] = open_checked(f, a, k->path, "time", 1, NULL, rows, err);
    if (d[1] >= 0) d[2] = open_checked(f, a, k->path, "value", rank, inner, rows, err);
    int rc = d[2] < 0 ? H5OUT_DAMAGED : 0;
    /* a field the checkpoint holds no frame of is not created, as in the run */
    if (!rc && rows > 0 && h->snap[i].group < 0 &&
        h5o_snapshot_create(h, i, cfg->Lx, cfg->Ly, cfg->compression, err))
        rc = H5OUT_FAILED;
    if (!rc && rows > 0)
        rc = same_storage(d[2], h->snap[i].value) ? copy_chunks(a, h, i, d, rows, t, err)
                                                  : copy_frames(a, h, i, d, rows, t, err);
    close3(d);
    return rc;
}

/* The rows the checkpoint recorded, copied from the old file into
 * <path>.partial.new and checked against their checksums. */
static int copy_all(const resume_args *a, sm_error *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    errno = 0;
    const hid_t f = H5Fopen(a->partial, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        const int e = errno;
        return sm_fail(err, "%s: cannot read the partial output: %s", a->partial,
                       e ? strerror(e) : "not a readable HDF5 file"), H5OUT_DAMAGED;
    }
    h5out *h;
    if (h5out_create_rebuild(&h, a->path, a->overwrite, a->cfg, a->json, a->source, err)) {
        H5Fclose(f);
        return H5OUT_FAILED;
    }
    int rc = 0;
    copy_tally tally = {0, 0};
    for (int i = 0; i < a->nkeep && !rc; i++) {
        const int snap = snap_index(a->keep[i].path);
        rc = snap >= 0 ? copy_snapshots(f, a, h, snap, &a->keep[i], &tally, err)
                       : copy_series(f, a, h, &a->keep[i], err);
    }
    H5Fclose(f);
    h5out_count *got = rc ? NULL : malloc(sizeof *got * H5OUT_MAX_COUNTS);
    if (!rc && !got) rc = (sm_fail(err, "out of memory"), H5OUT_FAILED);
    if (!rc && h5out_counts_differ(a->keep, a->nkeep, got, h5out_counts(h, got), a->partial, err))
        rc = H5OUT_DAMAGED;
    free(got);
    if (rc) {
        h5out_discard(h);
        return rc;
    }
    char fresh[CONFIG_PATH_MAX + 16];
    snprintf(fresh, sizeof fresh, "%s", h5out_partial(h));
    if (h5out_close(h, H5OUT_KEEP, err)) return H5OUT_FAILED;
    /* on disk before it replaces the old file */
    const int fd = open(fresh, O_RDONLY);
    const int bad = fd < 0 || fsync(fd) != 0;
    if (fd >= 0) close(fd);
    if (bad) return sm_fail(err, "%s: cannot sync: %s", fresh, strerror(errno)), H5OUT_FAILED;
    if (getenv("SOFTMATRIX_RESUME_VERBOSE"))
        fprintf(stderr, "softmatrix: %s: %lld snapshot chunks copied as stored, %lld frames decoded and encoded again\n",
                a->partial, (long long)tally.chunks, (long long)tally.frames);
    return 0;
}

/* Runs copy_all in a child and returns its result, err its message. */
static int copy_in_child(const resume_args *a, sm_error *err)
{
    int fd[2];
    if (pipe(fd) != 0) return sm_fail(err, "cannot create a pipe: %s", strerror(errno)), H5OUT_FAILED;
    fflush(stdout);
    fflush(stderr);
    const pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return sm_fail(err, "cannot start a process: %s", strerror(errno)), H5OUT_FAILED;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the run holding the lock */
        if (getppid() != parent) _exit(H5OUT_FAILED);
        close(fd[0]);
        sm_error e = {{0}};
        const int rc = copy_all(a, &e);
        if (rc && write(fd[1], e.msg, strlen(e.msg)) < 0) { /* the exit code still tells */ }
        _exit(rc);
    }
    close(fd[1]);
    char msg[sizeof err->msg];
    size_t got = 0;
    for (ssize_t r; got < sizeof msg - 1; got += (size_t)r)
        if ((r = read(fd[0], msg + got, sizeof msg - 1 - got)) <= 0) {
            if (r < 0 && errno == EINTR) r = 0;
            else break;
        }
    msg[got] = 0;
    close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return sm_fail(err, "waitpid: %s", strerror(errno)), H5OUT_FAILED;
    if (WIFSIGNALED(status))
        return sm_fail(err, "%s: reading it crashed the HDF5 library (signal %d)", a->partial,
                       WTERMSIG(status)), H5OUT_DAMAGED;
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : H5OUT_FAILED;
    if (rc == 0) return 0;
    sm_fail(err, "%s", msg[0] ? msg : "copying the partial output failed");
    return rc == H5OUT_DAMAGED ? H5OUT_DAMAGED : H5OUT_FAILED;
}

/* --- the parent: taking over the verified copy ------------------------------ */

/* Opens step, time and value of k (they have exactly k->rows rows). */
static int adopt_one(h5out *h, const h5out_count *k, sm_error *err)
{
    const int snap = snap_index(k->path);
    hid_t *d[3];
    if (snap >= 0) {
        snap_field *f = &h->snap[snap];
        f->group = 0; /* opened: closed by h5out_close from here on */
        f->n = (hsize_t)k->rows;
        memcpy(f->hash, k->hash, sizeof f->hash);
        d[0] = &f->step, d[1] = &f->time, d[2] = &f->value;
    } else {
        if (h->nseries == H5OUT_MAX_SERIES)
            return sm_fail(err, "%s: too many series (internal limit %d)", h->path, H5OUT_MAX_SERIES);
        series *s = &h->s[h->nseries++];
        snprintf(s->path, sizeof s->path, "%s", k->path);
        s->width = (int)k->width;
        s->n = (hsize_t)k->rows;
        memcpy(s->hash, k->hash, sizeof s->hash);
        d[0] = &s->step, d[1] = &s->time, d[2] = &s->value;
    }
    static const char *const leaf[3] = {"step", "time", "value"};
    for (int j = 0; j < 3; j++) {
        char p[300];
        snprintf(p, sizeof p, "%s/%s", k->path, leaf[j]);
        *d[j] = H5Dopen2(h->file, p, H5P_DEFAULT);
        hsize_t dims[4] = {0, 0, 0, 0};
        if (*d[j] < 0 || h5o_dataset_dims(*d[j], dims) < 1 || dims[0] != (hsize_t)k->rows)
            return sm_fail(err, "%s: cannot reopen %s", h->partial, p);
    }
    return 0;
}

static int adopt(h5out **hp, const char *path, int overwrite, const h5out_count *keep, int nkeep,
                 sm_error *err)
{
    h5out *h = calloc(1, sizeof *h);
    if (!h) return sm_fail(err, "%s: out of memory", path);
    snprintf(h->path, sizeof h->path, "%s", path);
    snprintf(h->partial, sizeof h->partial, "%s%s", path, H5OUT_PARTIAL);
    h->overwrite = overwrite;
    for (int i = 0; i < SNAP_NFIELDS; i++) h->snap[i].group = -1;
    errno = 0;
    const hid_t fapl = h5o_file_access();
    h->file = H5Fopen(h->partial, H5F_ACC_RDWR, fapl);
    if (fapl != H5P_DEFAULT) H5Pclose(fapl);
    if (h->file < 0) {
        const int e = errno;
        sm_fail(err, "%s: cannot reopen the partial output for writing: %s", h->partial,
                e ? strerror(e) : "HDF5 error");
        free(h);
        return 1;
    }
    *hp = h; /* from here the caller closes it, whatever happens */
    for (int i = 0; i < nkeep; i++)
        if (adopt_one(h, &keep[i], err)) return 1;
    return 0;
}

int h5out_resume(h5out **hp, const char *path, int overwrite, const sm_config *cfg,
                 const char *config_json, const char *source, const h5out_count *keep, int nkeep,
                 sm_error *err)
{
    *hp = NULL;
    resume_args a = {path, overwrite, cfg, config_json, source, keep, nkeep, ""};
    snprintf(a.partial, sizeof a.partial, "%s%s", path, H5OUT_PARTIAL);
    char fresh[CONFIG_PATH_MAX + 16];
    snprintf(fresh, sizeof fresh, "%s%s", path, H5OUT_REBUILD);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    h5out_remove_rebuild(path);
    struct stat st;
    if (stat(a.partial, &st) != 0)
        return sm_fail(err, "%s: no partial output (%s)", a.partial, strerror(errno)), H5OUT_DAMAGED;
    const int rc = copy_in_child(&a, err);
    if (rc) {
        unlink(fresh);
        return rc;
    }
    if (rename(fresh, a.partial) != 0) {
        sm_fail(err, "%s: cannot rename %s over it: %s", a.partial, fresh, strerror(errno));
        unlink(fresh);
        return H5OUT_FAILED;
    }
    return adopt(hp, path, overwrite, keep, nkeep, err) ? H5OUT_FAILED : H5OUT_RESUMED;
}

int h5out_promote(h5out *h, sm_error *err)
{
    if (h5out_flush(h, err)) return 1;
    char partial[CONFIG_PATH_MAX + 16];
    snprintf(partial, sizeof partial, "%s%s", h->path, H5OUT_PARTIAL);
    if (rename(h->partial, partial) != 0)
        return sm_fail(err, "%s: cannot rename %s over it: %s", partial, h->partial, strerror(errno));
    snprintf(h->partial, sizeof h->partial, "%s", partial);
    return 0;
}

void h5out_remove_rebuild(const char *path)
{
    char fresh[CONFIG_PATH_MAX + 16];
    snprintf(fresh, sizeof fresh, "%s%s", path, H5OUT_REBUILD);
    unlink(fresh);
}
