/* HDF5 writer. Series are extendible chunked datasets grown by hyperslab
 * writes; the file is renamed into place only when complete. */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "h5out_impl.h"
#include "core/pcp.h"
#include "core/version.h"
#include "io/outfile.h"

const char *h5out_path(const h5out *h) { return h->path; }
const char *h5out_partial(const h5out *h) { return h->partial; }

const char *h5o_io_cause(int e)
{
    return e ? strerror(e) : "HDF5 error (disk full?)";
}

/* Creates every missing group on the way to (not including) the last
 * component of path. */
static int make_groups(hid_t file, const char *fname, const char *path, sm_error *err)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        htri_t ex = H5Lexists(file, buf, H5P_DEFAULT);
        if (ex < 0) return sm_fail(err, "%s: cannot look up %s", fname, buf);
        if (!ex) {
            errno = 0;
            hid_t g = H5Gcreate2(file, buf, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g < 0) return sm_fail(err, "%s: cannot create group %s: %s", fname, buf, h5o_io_cause(errno));
            H5Gclose(g);
        }
        *p = '/';
    }
    return 0;
}

static int attr_string(hid_t obj, const char *name, const char *value)
{
    /* variable-length UTF-8, so that h5py reads a str rather than bytes */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, t, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc < 0;
}

static int attr_ints(hid_t obj, const char *name, hid_t type, const void *v, hsize_t n)
{
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc < 0;
}

int h5out_check_path(const char *path, int overwrite, sm_error *err)
{
    if (strlen(path) >= CONFIG_PATH_MAX - 16)
        return sm_fail(err, "%.60s...: output path too long (%zu bytes, at most %d)", path,
                       strlen(path), CONFIG_PATH_MAX - 17);
    /* "", "dir/" or "dir/." would run the whole simulation into "dir/.partial"
     * and fail only at the final rename */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!base[0] || !strcmp(base, ".") || !strcmp(base, ".."))
        return sm_fail(err, "%s: output path must name a file, not a directory", path[0] ? path : "\"\"");
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return sm_fail(err, "%s: output path exists and is not a regular file", path);
        if (!overwrite)
            return sm_fail(err, "%s: output file exists (use --overwrite to replace it)", path);
    }
    return 0;
}

/* /h5md and /parameters: the objects h5out_create writes before any series. */
static int write_header(hid_t file, const sm_config *cfg, const char *config_json, const char *source)
{
    hid_t g = H5Gcreate2(file, "/h5md", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const int ver[2] = {1, 1};
    int bad = g < 0 || attr_ints(g, "version", H5T_NATIVE_INT, ver, 2) ||
              attr_string(g, "creator", "softmatrix") ||
              attr_string(g, "creator_version", SOFTMATRIX_VERSION);
    if (g >= 0) H5Gclose(g);
    g = H5Gcreate2(file, "/parameters", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const uint64_t seed = (uint64_t)cfg->seed;
    bad = bad || g < 0 || attr_string(g, "config_json", config_json) ||
          attr_ints(g, "seed", H5T_NATIVE_UINT64, &seed, 1) ||
          attr_string(g, "version", SOFTMATRIX_VERSION) || attr_string(g, "source", source);
    if (g >= 0) H5Gclose(g);
    return bad || H5Fflush(file, H5F_SCOPE_GLOBAL) < 0;
}

/* A new file at <path><suffix> with its header. */
static int create_at(h5out **hp, const char *path, const char *suffix, int overwrite,
                     const sm_config *cfg, const char *config_json, const char *source, sm_error *err)
{
    *hp = NULL;
    if (strlen(path) >= CONFIG_PATH_MAX - 16) return sm_fail(err, "%.60s...: output path too long", path);
    h5out *h = calloc(1, sizeof *h);
    if (!h) return sm_fail(err, "%s: out of memory", path);
    snprintf(h->path, sizeof h->path, "%s", path);
    snprintf(h->partial, sizeof h->partial, "%s%s", path, suffix);
    h->overwrite = overwrite;
    for (int i = 0; i < SNAP_NFIELDS; i++) h->snap[i].group = -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported through sm_error */
    errno = 0;
    h->file = H5Fcreate(h->partial, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (h->file < 0) {
        /* HDF5 may have created the file before failing to write to it */
        int e = errno;
        unlink(h->partial);
        free(h);
        return sm_fail(err, "%s: cannot create output file: %s", path, e ? strerror(e) : "HDF5 error");
    }
    errno = 0;
    if (write_header(h->file, cfg, config_json, source)) {
        /* nothing worth keeping yet (typically a full disk): leave no file */
        int e = errno;
        H5Fclose(h->file);
        unlink(h->partial);
        free(h);
        return sm_fail(err, "%s: cannot write the file header: %s", path, e ? strerror(e) : "HDF5 error");
    }
    *hp = h;
    return 0;
}

int h5out_create(h5out **h, const char *path, int overwrite, const sm_config *cfg,
                 const char *config_json, const char *source, sm_error *err)
{
    return create_at(h, path, H5OUT_PARTIAL, overwrite, cfg, config_json, source, err);
}

int h5out_create_rebuild(h5out **h, const char *path, int overwrite, const sm_config *cfg,
                         const char *config_json, const char *source, sm_error *err)
{
    return create_at(h, path, H5OUT_REBUILD, overwrite, cfg, config_json, source, err);
}

static hid_t create_extendible(hid_t file, const char *path, hid_t type, int rank,
                               const hsize_t *inner, int compression)
{
    hsize_t dims[4] = {0, 0, 0, 0}, maxd[4], chunk[4];
    maxd[0] = H5S_UNLIMITED;
    /* series chunks hold many rows; snapshot chunks one frame */
    chunk[0] = rank == 1 ? 1024 : (rank == 2 ? 256 : 1);
    for (int i = 1; i < rank; i++) {
        dims[i] = maxd[i] = chunk[i] = inner[i - 1];
    }
    hid_t sp = H5Screate_simple(rank, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, chunk);
    if (compression > 0) {
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, (unsigned)compression);
    }
    hid_t d = H5Dcreate2(file, path, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return d;
}

/* Appends n rows (each `inner` elements) to an extendible dataset. */
static int append_rows(hid_t d, hid_t memtype, int rank, const hsize_t *inner, hsize_t at,
                       hsize_t n, const void *buf)
{
    hsize_t dims[4], start[4] = {at, 0, 0, 0}, count[4];
    dims[0] = at + n;
    count[0] = n;
    for (int i = 1; i < rank; i++) dims[i] = count[i] = inner[i - 1];
    if (H5Dset_extent(d, dims) < 0) return 1;
    hid_t fs = H5Dget_space(d);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(rank, count, NULL);
    herr_t rc = H5Dwrite(d, memtype, ms, fs, H5P_DEFAULT, buf);
    H5Sclose(ms);
    H5Sclose(fs);
    return rc < 0;
}

/* The description and column names start the step checksum, so that an
 * attribute damaged in a partial file is caught like a damaged row. */
static void hash_attrs(sm_hash *hs, const char *columns, const char *desc)
{
    const unsigned char present[2] = {desc != NULL, columns != NULL};
    sm_hash_add(hs, present, sizeof present);
    if (desc) sm_hash_add(hs, desc, strlen(desc) + 1);
    if (columns) sm_hash_add(hs, columns, strlen(columns) + 1);
}

series *h5o_series(h5out *h, const char *path, int width, const char *columns, const char *desc,
                   sm_error *err)
{
    for (int i = 0; i < h->nseries; i++)
        if (strcmp(h->s[i].path, path) == 0) return &h->s[i];
    if (h->nseries == H5OUT_MAX_SERIES) {
        sm_fail(err, "%s: too many series (internal limit %d)", h->path, H5OUT_MAX_SERIES);
        return NULL;
    }
    series *s = &h->s[h->nseries];
    snprintf(s->path, sizeof s->path, "%s", path);
    s->width = width;
    s->n = 0;
    for (int j = 0; j < 3; j++) sm_hash_init(&s->hash[j]);
    hash_attrs(&s->hash[0], columns, desc);
    char p[300];
    snprintf(p, sizeof p, "%s/step", path);
    if (make_groups(h->file, h->path, p, err)) return NULL;
    hsize_t inner = (hsize_t)width;
    s->step = create_extendible(h->file, p, H5T_STD_I64LE, 1, NULL, 0);
    snprintf(p, sizeof p, "%s/time", path);
    s->time = create_extendible(h->file, p, H5T_IEEE_F64LE, 1, NULL, 0);
    snprintf(p, sizeof p, "%s/value", path);
    s->value = create_extendible(h->file, p, H5T_IEEE_F64LE, width > 1 ? 2 : 1, &inner, 0);
    if (s->step < 0 || s->time < 0 || s->value < 0) {
        sm_fail(err, "%s: cannot create datasets under %s", h->path, path);
        return NULL;
    }
    if ((desc && attr_string(s->value, "description", desc)) ||
        (columns && attr_string(s->value, "columns", columns))) {
        sm_fail(err, "%s: cannot write attribute of %s", h->path, path);
        return NULL;
    }
    h->nseries++;
    return s;
}

int h5o_series_write(h5out *h, series *s, const int64_t *step, const double *time,
                     const double *values, int64_t nrows, sm_error *err)
{
    hsize_t inner = (hsize_t)s->width;
    errno = 0;
    if (append_rows(s->step, H5T_NATIVE_INT64, 1, NULL, s->n, (hsize_t)nrows, step) ||
        append_rows(s->time, H5T_NATIVE_DOUBLE, 1, NULL, s->n, (hsize_t)nrows, time) ||
        append_rows(s->value, H5T_NATIVE_DOUBLE, s->width > 1 ? 2 : 1, &inner, s->n,
                    (hsize_t)nrows, values))
        return sm_fail(err, "%s: write to %s failed: %s", h->path, s->path, h5o_io_cause(errno));
    s->n += (hsize_t)nrows;
    sm_hash_add(&s->hash[0], step, sizeof *step * (size_t)nrows);
    sm_hash_add(&s->hash[1], time, sizeof *time * (size_t)nrows);
    sm_hash_add(&s->hash[2], values, sizeof *values * (size_t)nrows * (size_t)s->width);
    return 0;
}

int h5out_series_append(h5out *h, const char *path, int width, const char *const *columns,
                        const char *desc, const int64_t *step, const double *time,
                        const double *values, int64_t nrows, sm_error *err)
{
    if (nrows <= 0) return 0;
    char list[1024] = "";
    if (width > 1 && columns && columns[0])
        for (int i = 0; i < width && columns[i]; i++) {
            if (i) strncat(list, ",", sizeof list - strlen(list) - 1);
            strncat(list, columns[i], sizeof list - strlen(list) - 1);
        }
    series *s = h5o_series(h, path, width, list[0] ? list : NULL, desc, err);
    if (!s) return 1;
    if (s->width != width) return sm_fail(err, "%s: series %s changed width", h->path, path);
    return h5o_series_write(h, s, step, time, values, nrows, err);
}

int h5out_observables_append(h5out *h, const obs_layout *L, const int64_t *step,
                             const double *rows, int64_t nrows, sm_error *err)
{
    if (nrows <= 0) return 0;
    double *time = malloc(sizeof *time * (size_t)nrows);
    double *buf = malloc(sizeof *buf * (size_t)nrows * OBS_MAX_COLUMNS);
    if (!time || !buf) {
        free(time);
        free(buf);
        return sm_fail(err, "%s: out of memory", h->path);
    }
    for (int64_t i = 0; i < nrows; i++) time[i] = (double)step[i]; /* time in sweeps */
    int rc = 0;
    for (int f = 0; f < L->n && !rc; f++) {
        const int w = L->f[f].width;
        for (int64_t i = 0; i < nrows; i++)
            memcpy(buf + i * w, rows + i * L->total + L->off[f], sizeof *buf * (size_t)w);
        char path[300];
        snprintf(path, sizeof path, "/observables/%s", L->f[f].name);
        rc = h5out_series_append(h, path, w, L->f[f].columns, L->f[f].desc, step, time, buf,
                                 nrows, err);
    }
    free(time);
    free(buf);
    return rc;
}

/* How each snapshot field (SNAP_FIELD_NAMES) is stored. HDF5's type ids are
 * run-time values, hence functions. */
static hid_t t_i8le(void) { return H5T_STD_I8LE; }
static hid_t t_u8le(void) { return H5T_STD_U8LE; }
static hid_t t_f32le(void) { return H5T_IEEE_F32LE; }
static hid_t t_i8(void) { return H5T_NATIVE_INT8; }
static hid_t t_u8(void) { return H5T_NATIVE_UINT8; }
static hid_t t_f32(void) { return H5T_NATIVE_FLOAT; }

typedef struct {
    hid_t (*ftype)(void), (*mtype)(void);
    int rank;              /* 4 for pcp: an (x, y, z) axis */
    const char *dtype, *unit, *desc;
} snap_kind;

static const snap_kind SNAP_KINDS[SNAP_NFIELDS] = {
    {t_i8le, t_i8, 3, "int8", "", "level l = -1..8 of each site"},
    {t_i8le, t_i8, 3, "int8", "", "MIEV orientation sigma = +1 (+z) or -1 (-z)"},
    {t_u8le, t_u8, 3, "uint8", "", "PCP phase phi = 0..63 in the 4 x 16 jump state"},
    {t_f32le, t_f32, 3, "float32", "sigma (HSM diameter)", "accumulated z displacement"},
    {t_f32le, t_f32, 4, "float32", "sigma (HSM diameter)", "PCP position (x, y, z) in its cage"},
};

hid_t h5o_snapshot_memtype(int i) { return SNAP_KINDS[i].mtype(); }
int h5o_snapshot_rank(int i) { return SNAP_KINDS[i].rank; }

static int snapshot_create(h5out *h, int i, const hsize_t *inner, int compression, sm_error *err)
{
    snap_field *f = &h->snap[i];
    const snap_kind *k = &SNAP_KINDS[i];
    char p[128];
    snprintf(p, sizeof p, "/snapshots/%s/step", SNAP_FIELD_NAMES[i]);
    if (make_groups(h->file, h->path, p, err)) return 1;
    f->step = create_extendible(h->file, p, H5T_STD_I64LE, 1, NULL, 0);
    snprintf(p, sizeof p, "/snapshots/%s/time", SNAP_FIELD_NAMES[i]);
    f->time = create_extendible(h->file, p, H5T_IEEE_F64LE, 1, NULL, 0);
    snprintf(p, sizeof p, "/snapshots/%s/value", SNAP_FIELD_NAMES[i]);
    f->value = create_extendible(h->file, p, k->ftype(), k->rank, inner, compression);
    f->group = 0;
    for (int j = 0; j < 3; j++) sm_hash_init(&f->hash[j]);
    if (f->step < 0 || f->time < 0 || f->value < 0)
        return sm_fail(err, "%s: cannot create snapshot datasets for %s", h->path, SNAP_FIELD_NAMES[i]);
    return 0;
}

int h5o_snapshot_write(h5out *h, int i, int Lx, int Ly, int compression, int64_t step,
                       double time, const void *frame, sm_error *err)
{
    snap_field *f = &h->snap[i];
    const snap_kind *k = &SNAP_KINDS[i];
    const hsize_t inner[3] = {(hsize_t)Ly, (hsize_t)Lx, 3};
    if (f->group < 0 && snapshot_create(h, i, inner, compression, err)) return 1;
    errno = 0;
    if (append_rows(f->step, H5T_NATIVE_INT64, 1, NULL, f->n, 1, &step) ||
        append_rows(f->time, H5T_NATIVE_DOUBLE, 1, NULL, f->n, 1, &time) ||
        append_rows(f->value, k->mtype(), k->rank, inner, f->n, 1, frame))
        return sm_fail(err, "%s: snapshot write failed: %s", h->path, h5o_io_cause(errno));
    f->n++;
    const size_t bytes = H5Tget_size(k->mtype()) * (size_t)Lx * (size_t)Ly * (k->rank == 4 ? 3 : 1);
    sm_hash_add(&f->hash[0], &step, sizeof step);
    sm_hash_add(&f->hash[1], &time, sizeof time);
    sm_hash_add(&f->hash[2], frame, bytes);
    return 0;
}

int h5out_snapshot(h5out *h, unsigned fields, int Lx, int Ly, const model_state *s,
                   int64_t step, int compression, sm_error *err)
{
    /* the PCP position is derived from (phase, sigma) only when asked for;
     * a snapshot is I/O, so the buffer is allocated here, not in a sweep */
    float *pcp = NULL;
    if (fields & SNAP_PCP) {
        pcp = malloc(sizeof *pcp * 3 * (size_t)Lx * (size_t)Ly);
        if (!pcp) return sm_fail(err, "%s: out of memory for the pcp snapshot", h->path);
        pcp_positions(s, pcp);
    }
    const void *data[SNAP_NFIELDS] = {s->level, s->sigma, s->phase, s->z, pcp};
    int rc = 0;
    for (int i = 0; i < SNAP_NFIELDS && !rc; i++)
        if (fields & (1u << i))
            rc = h5o_snapshot_write(h, i, Lx, Ly, compression, step, (double)step, data[i], err);
    free(pcp);
    return rc;
}

int h5out_write_array(h5out *h, const char *path, int rank, const uint64_t *dims,
                      const double *data, sm_error *err)
{
    if (make_groups(h->file, h->path, path, err)) return 1;
    hsize_t d[4];
    for (int i = 0; i < rank; i++) d[i] = dims[i];
    hid_t sp = rank ? H5Screate_simple(rank, d, NULL) : H5Screate(H5S_SCALAR);
    errno = 0;
    hid_t ds = H5Dcreate2(h->file, path, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    if (rc < 0) return sm_fail(err, "%s: cannot write %s: %s", h->path, path, h5o_io_cause(errno));
    return 0;
}

int h5out_write_string_attr(h5out *h, const char *path, const char *name, const char *value,
                            sm_error *err)
{
    hid_t o = H5Oopen(h->file, path, H5P_DEFAULT);
    int bad = o < 0 || attr_string(o, name, value);
    if (o >= 0) H5Oclose(o);
    if (bad) return sm_fail(err, "%s: cannot write attribute %s of %s", h->path, name, path);
    return 0;
}

int h5out_flush(h5out *h, sm_error *err)
{
    errno = 0;
    if (H5Fflush(h->file, H5F_SCOPE_GLOBAL) < 0)
        return sm_fail(err, "%s: flush failed: %s", h->partial, h5o_io_cause(errno));
    return 0;
}

int h5out_publish(const char *path, int overwrite, sm_error *err)
{
    char partial[CONFIG_PATH_MAX + 16];
    snprintf(partial, sizeof partial, "%s%s", path, H5OUT_PARTIAL);
    return outfile_publish(partial, path, overwrite, err);
}

/* Closes every dataset and the file. */
static int close_file(h5out *h, sm_error *err)
{
    for (int i = 0; i < h->nseries; i++) {
        H5Dclose(h->s[i].step);
        H5Dclose(h->s[i].time);
        H5Dclose(h->s[i].value);
    }
    for (int i = 0; i < SNAP_NFIELDS; i++)
        if (h->snap[i].group >= 0) {
            H5Dclose(h->snap[i].step);
            H5Dclose(h->snap[i].time);
            H5Dclose(h->snap[i].value);
        }
    errno = 0;
    if (H5Fclose(h->file) < 0)
        return sm_fail(err, "%s: closing the file failed: %s", h->partial, h5o_io_cause(errno));
    return 0;
}

int h5out_close(h5out *h, int complete, sm_error *err)
{
    if (!h) return 0;
    int rc = close_file(h, err);
    if (!rc && complete) rc = h5out_publish(h->path, h->overwrite, err);
    free(h);
    return rc;
}

void h5out_discard(h5out *h)
{
    if (!h) return;
    close_file(h, NULL);
    unlink(h->partial);
    free(h);
}

int h5o_dataset_dims(hid_t d, hsize_t dims[4])
{
    const hid_t sp = H5Dget_space(d);
    const int rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    const int ok = rank >= 1 && rank <= 4;
    if (ok) H5Sget_simple_extent_dims(sp, dims, NULL);
    if (sp >= 0) H5Sclose(sp);
    return ok ? rank : -1;
}

void h5out_write_markdown(FILE *md)
{
    fprintf(md,
            "| path | type and shape | meaning |\n|---|---|---|\n"
            "| `/h5md` | group, attributes `version` [2] int, `creator`, `creator_version` | file format (H5MD-style) and the program that wrote it |\n"
            "| `/parameters` | group, attributes `config_json`, `seed` uint64, `version`, `source` | the resolved configuration (as `softmatrix validate` prints it), its seed and file |\n");
}

void h5out_describe_snapshots(FILE *md)
{
    for (int i = 0; i < SNAP_NFIELDS; i++) {
        const snap_kind *k = &SNAP_KINDS[i];
        fprintf(md, "| `/snapshots/%s/value` | %s [n][Ly][Lx]%s | %s%s%s%s |\n", SNAP_FIELD_NAMES[i], k->dtype,
                k->rank == 4 ? "[3]" : "", k->desc, k->unit[0] ? " (" : "", k->unit, k->unit[0] ? ")" : "");
    }
    fprintf(md, "| `/snapshots/<field>/step`, `time` | int64 [n], float64 [n] | sweep of each snapshot (time in sweeps) |\n");
}
