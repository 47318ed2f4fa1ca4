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
#include "io/h5out.h"
#include "core/pcp.h"
#include "core/version.h"

typedef struct {
    char path[256];
    int width;
    hid_t step, time, value;
    hsize_t n;
} series;

typedef struct {
    hid_t group, step, time, value;
    hsize_t n;
} snap_field;

struct h5out {
    char path[CONFIG_PATH_MAX];
    char partial[CONFIG_PATH_MAX + 16];
    hid_t file;
    int overwrite;
    int nseries;
    series s[H5OUT_MAX_SERIES];
    snap_field snap[SNAP_NFIELDS];
};

/* The objects h5out_open writes; everything else is series or end-of-run
 * output (h5out_reopen relies on this list). */
static const char *const HEADER_OBJECTS[] = {"/h5md", "/parameters"};

const char *h5out_path(const h5out *h) { return h->path; }

/* HDF5 reports a failed write(2) only as an error stack; errno still holds
 * the cause (ENOSPC, EFBIG, EIO), which is what the user needs to see. */
static const char *io_cause(int e)
{
    return e ? strerror(e) : "HDF5 error (disk full?)";
}

static int mkdir_parents(const char *path, sm_error *err)
{
    char buf[CONFIG_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return sm_fail(err, "%s: cannot create directory %s: %s", path, buf, strerror(errno));
        *p = '/';
    }
    return 0;
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
            if (g < 0) return sm_fail(err, "%s: cannot create group %s: %s", fname, buf, io_cause(errno));
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

/* File access with small caches, so that memory does not grow with the
 * length of a run: series are appended a chunk at a time, so a raw-data
 * cache of two chunks serves them (the default keeps 1 MiB per dataset), and
 * the metadata cache only needs the object headers and chunk-index nodes of
 * the series being appended (the default grows to 32 MiB of index nodes). */
static hid_t small_cache_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    H5Pset_cache(fapl, 0, 61, 16 * 1024, 1.0);
    H5AC_cache_config_t mdc = {.version = H5AC__CURR_CACHE_CONFIG_VERSION};
    if (H5Pget_mdc_config(fapl, &mdc) >= 0) {
        mdc.set_initial_size = 1;
        mdc.initial_size = mdc.max_size = 64 * 1024;
        mdc.min_size = 16 * 1024;
        H5Pset_mdc_config(fapl, &mdc);
    }
    return fapl;
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

int h5out_open(h5out **hp, const char *path, int overwrite, const sm_config *cfg,
               const char *config_json, int *usage, sm_error *err)
{
    *hp = NULL;
    *usage = 0;
    if (strlen(path) >= CONFIG_PATH_MAX - 16) {
        *usage = 1;
        return sm_fail(err, "%.60s...: output path too long (%zu bytes, at most %d)", path,
                       strlen(path), CONFIG_PATH_MAX - 17);
    }
    /* "", "dir/" or "dir/." would run the whole simulation into "dir/.partial"
     * and fail only at the final rename */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!base[0] || !strcmp(base, ".") || !strcmp(base, "..")) {
        *usage = 1;
        return sm_fail(err, "%s: output path must name a file, not a directory", path[0] ? path : "\"\"");
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            *usage = 1;
            return sm_fail(err, "%s: output path exists and is not a regular file", path);
        }
        if (!overwrite) {
            *usage = 1;
            return sm_fail(err, "%s: output file exists (use --overwrite to replace it)", path);
        }
    }
    if (mkdir_parents(path, err)) return 1;
    h5out *h = calloc(1, sizeof *h);
    if (!h) return sm_fail(err, "%s: out of memory", path);
    snprintf(h->path, sizeof h->path, "%s", path);
    snprintf(h->partial, sizeof h->partial, "%s.partial", path);
    h->overwrite = overwrite;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported through sm_error */
    errno = 0;
    const hid_t fapl = small_cache_fapl();
    h->file = H5Fcreate(h->partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl < 0 ? H5P_DEFAULT : fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (h->file < 0) {
        int e = errno;
        free(h);
        return sm_fail(err, "%s: cannot create output file: %s", path, e ? strerror(e) : "HDF5 error");
    }
    hid_t g = H5Gcreate2(h->file, "/h5md", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const int ver[2] = {1, 1};
    int bad = g < 0 || attr_ints(g, "version", H5T_NATIVE_INT, ver, 2) ||
              attr_string(g, "creator", "softmatrix") ||
              attr_string(g, "creator_version", SOFTMATRIX_VERSION);
    if (g >= 0) H5Gclose(g);
    g = H5Gcreate2(h->file, "/parameters", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const uint64_t seed = (uint64_t)cfg->seed;
    bad = bad || g < 0 || attr_string(g, "config_json", config_json) ||
          attr_ints(g, "seed", H5T_NATIVE_UINT64, &seed, 1) ||
          attr_string(g, "version", SOFTMATRIX_VERSION) ||
          attr_string(g, "source", cfg->source);
    if (g >= 0) H5Gclose(g);
    for (int i = 0; i < SNAP_NFIELDS; i++) h->snap[i].group = -1;
    if (bad || H5Fflush(h->file, H5F_SCOPE_GLOBAL) < 0) {
        /* nothing worth keeping yet (typically a full disk): leave no file */
        int e = errno;
        H5Fclose(h->file);
        unlink(h->partial);
        free(h);
        return sm_fail(err, "%s: cannot write the file header: %s", path,
                       e ? strerror(e) : "HDF5 error");
    }
    *hp = h;
    return 0;
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

static series *find_series(h5out *h, const char *path, int width, const char *const *columns,
                           const char *desc, sm_error *err)
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
    if (desc && attr_string(s->value, "description", desc)) {
        sm_fail(err, "%s: cannot write attribute of %s", h->path, path);
        return NULL;
    }
    if (width > 1 && columns && columns[0]) {
        char list[1024] = "";
        for (int i = 0; i < width && columns[i]; i++) {
            if (i) strncat(list, ",", sizeof list - strlen(list) - 1);
            strncat(list, columns[i], sizeof list - strlen(list) - 1);
        }
        attr_string(s->value, "columns", list);
    }
    h->nseries++;
    return s;
}

int h5out_series_append(h5out *h, const char *path, int width, const char *const *columns,
                        const char *desc, const int64_t *step, const double *time,
                        const double *values, int64_t nrows, sm_error *err)
{
    if (nrows <= 0) return 0;
    series *s = find_series(h, path, width, columns, desc, err);
    if (!s) return 1;
    if (s->width != width) return sm_fail(err, "%s: series %s changed width", h->path, path);
    hsize_t inner = (hsize_t)width;
    errno = 0;
    if (append_rows(s->step, H5T_NATIVE_INT64, 1, NULL, s->n, (hsize_t)nrows, step) ||
        append_rows(s->time, H5T_NATIVE_DOUBLE, 1, NULL, s->n, (hsize_t)nrows, time) ||
        append_rows(s->value, H5T_NATIVE_DOUBLE, width > 1 ? 2 : 1, &inner, s->n,
                    (hsize_t)nrows, values))
        return sm_fail(err, "%s: write to %s failed: %s", h->path, path, io_cause(errno));
    s->n += (hsize_t)nrows;
    return 0;
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
    const hsize_t inner[3] = {(hsize_t)Ly, (hsize_t)Lx, 3};
    const double time = (double)step;
    int rc = 0;
    for (int i = 0; i < SNAP_NFIELDS && !rc; i++) {
        if (!(fields & (1u << i))) continue;
        snap_field *f = &h->snap[i];
        const snap_kind *k = &SNAP_KINDS[i];
        const int rank = k->rank;
        char p[128];
        if (f->group < 0) {
            snprintf(p, sizeof p, "/snapshots/%s/step", SNAP_FIELD_NAMES[i]);
            if (make_groups(h->file, h->path, p, err)) { rc = 1; break; }
            f->step = create_extendible(h->file, p, H5T_STD_I64LE, 1, NULL, 0);
            snprintf(p, sizeof p, "/snapshots/%s/time", SNAP_FIELD_NAMES[i]);
            f->time = create_extendible(h->file, p, H5T_IEEE_F64LE, 1, NULL, 0);
            snprintf(p, sizeof p, "/snapshots/%s/value", SNAP_FIELD_NAMES[i]);
            f->value = create_extendible(h->file, p, k->ftype(), rank, inner, compression);
            f->group = 0;
            if (f->step < 0 || f->time < 0 || f->value < 0) {
                rc = sm_fail(err, "%s: cannot create snapshot datasets for %s", h->path,
                             SNAP_FIELD_NAMES[i]);
                break;
            }
        }
        errno = 0;
        if (append_rows(f->step, H5T_NATIVE_INT64, 1, NULL, f->n, 1, &step) ||
            append_rows(f->time, H5T_NATIVE_DOUBLE, 1, NULL, f->n, 1, &time) ||
            append_rows(f->value, k->mtype(), rank, inner, f->n, 1, data[i])) {
            rc = sm_fail(err, "%s: snapshot write failed: %s", h->path, io_cause(errno));
            break;
        }
        f->n++;
    }
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
    if (rc < 0) return sm_fail(err, "%s: cannot write %s: %s", h->path, path, io_cause(errno));
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

int h5out_write_int8_attr(h5out *h, const char *path, const char *name, int rank,
                          const uint64_t *dims, const int8_t *values, sm_error *err)
{
    hsize_t d[4];
    for (int i = 0; i < rank && i < 4; i++) d[i] = dims[i];
    hid_t o = H5Oopen(h->file, path, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(rank, d, NULL);
    hid_t a = o < 0 ? -1 : H5Acreate2(o, name, H5T_STD_I8LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    const int bad = a < 0 || H5Awrite(a, H5T_NATIVE_INT8, values) < 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    if (o >= 0) H5Oclose(o);
    if (bad) return sm_fail(err, "%s: cannot write attribute %s of %s", h->path, name, path);
    return 0;
}

int h5out_flush(h5out *h, sm_error *err)
{
    errno = 0;
    if (H5Fflush(h->file, H5F_SCOPE_GLOBAL) < 0)
        return sm_fail(err, "%s: flush failed: %s", h->partial, io_cause(errno));
    return 0;
}

/* Moves the finished file into place. Without --overwrite the existence
 * check of h5out_open is repeated atomically (RENAME_NOREPLACE), so a file
 * that appeared at <path> during the run is not replaced either. */
static int publish(const h5out *h, sm_error *err)
{
    if (!h->overwrite) {
        if (renameat2(AT_FDCWD, h->partial, AT_FDCWD, h->path, RENAME_NOREPLACE) == 0) return 0;
        if (errno == EEXIST)
            return sm_fail(err, "%s: output file appeared during the run; the result stays in %s",
                           h->path, h->partial);
        if (errno != EINVAL && errno != ENOSYS)
            return sm_fail(err, "%s: cannot rename %s into place: %s", h->path, h->partial,
                           strerror(errno));
        /* file system without RENAME_NOREPLACE: check, then rename */
        struct stat st;
        if (stat(h->path, &st) == 0)
            return sm_fail(err, "%s: output file appeared during the run; the result stays in %s",
                           h->path, h->partial);
    }
    if (rename(h->partial, h->path) != 0)
        return sm_fail(err, "%s: cannot rename %s into place: %s", h->path, h->partial,
                       strerror(errno));
    return 0;
}

int h5out_close(h5out *h, int complete, sm_error *err)
{
    if (!h) return 0;
    int rc = 0;
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
        rc = sm_fail(err, "%s: closing the file failed: %s", h->partial, io_cause(errno));
    if (!rc && complete) rc = publish(h, err);
    free(h);
    return rc;
}

/* --- resuming an interrupted run ----------------------------------------- */

int h5out_counts(const h5out *h, h5out_count *out)
{
    int n = 0;
    for (int i = 0; i < h->nseries; i++) {
        snprintf(out[n].path, sizeof out[n].path, "%s", h->s[i].path);
        out[n++].rows = (int64_t)h->s[i].n;
    }
    for (int i = 0; i < SNAP_NFIELDS; i++)
        if (h->snap[i].group >= 0) {
            snprintf(out[n].path, sizeof out[n].path, "/snapshots/%s", SNAP_FIELD_NAMES[i]);
            out[n++].rows = (int64_t)h->snap[i].n;
        }
    return n;
}

/* Rank of dataset d (1..4, else -1), its extent in dims. */
static int dataset_dims(hid_t d, hsize_t dims[4])
{
    const hid_t sp = H5Dget_space(d);
    const int rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    const int ok = rank >= 1 && rank <= 4;
    if (ok) H5Sget_simple_extent_dims(sp, dims, NULL);
    if (sp >= 0) H5Sclose(sp);
    return ok ? rank : -1;
}

/* Opens dataset path/leaf and cuts it to rows (it must have at least that
 * many); *width gets the product of the inner dimensions. */
static hid_t open_cut(h5out *h, const char *path, const char *leaf, hsize_t rows, int *width,
                      sm_error *err)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s", path, leaf);
    hid_t d = H5Dopen2(h->file, p, H5P_DEFAULT);
    if (d < 0) {
        sm_fail(err, "%s: %s is missing; the partial file does not match the checkpoint", h->partial, p);
        return -1;
    }
    hsize_t dims[4] = {0, 0, 0, 0};
    const int rank = dataset_dims(d, dims);
    if (rank < 0 || dims[0] < rows) {
        H5Dclose(d);
        sm_fail(err, "%s: %s has %llu rows, the checkpoint needs %llu; the partial file does not match the checkpoint",
                h->partial, p, (unsigned long long)dims[0], (unsigned long long)rows);
        return -1;
    }
    *width = 1;
    for (int i = 1; i < rank; i++) *width *= (int)dims[i];
    dims[0] = rows;
    errno = 0;
    if (H5Dset_extent(d, dims) < 0) {
        H5Dclose(d);
        sm_fail(err, "%s: cannot cut %s back to the checkpoint: %s", h->partial, p, io_cause(errno));
        return -1;
    }
    return d;
}

/* Opens the step, time and value datasets of group path, each cut to rows
 * (open_cut); a dataset not opened is -1. *width: the value's row width. */
static int open_cut3(h5out *h, const char *path, hsize_t rows, hid_t *step, hid_t *time,
                     hid_t *value, int *width, sm_error *err)
{
    int w = 0;
    *step = open_cut(h, path, "step", rows, &w, err);
    *time = *step < 0 ? -1 : open_cut(h, path, "time", rows, &w, err);
    *value = *time < 0 ? -1 : open_cut(h, path, "value", rows, width, err);
    return *value < 0;
}

static int reopen_series(h5out *h, const h5out_count *k, sm_error *err)
{
    const hsize_t rows = (hsize_t)k->rows;
    int wv = 0;
    if (k->rows < 0) return sm_fail(err, "%s: bad row count for %s", h->partial, k->path);
    if (strncmp(k->path, "/snapshots/", 11) == 0) {
        int i = 0;
        while (i < SNAP_NFIELDS && strcmp(k->path + 11, SNAP_FIELD_NAMES[i]) != 0) i++;
        if (i == SNAP_NFIELDS) return sm_fail(err, "%s: unknown snapshot field %s", h->partial, k->path);
        snap_field *f = &h->snap[i];
        f->group = 0; /* opened: closed by h5out_close from here on */
        f->n = rows;
        return open_cut3(h, k->path, rows, &f->step, &f->time, &f->value, &wv, err);
    }
    if (h->nseries == H5OUT_MAX_SERIES)
        return sm_fail(err, "%s: too many series (internal limit %d)", h->path, H5OUT_MAX_SERIES);
    series *s = &h->s[h->nseries++];
    snprintf(s->path, sizeof s->path, "%s", k->path);
    s->n = rows;
    const int bad = open_cut3(h, k->path, rows, &s->step, &s->time, &s->value, &wv, err);
    s->width = wv;
    return bad;
}

typedef struct {
    int n, cap;
    char (*name)[256];
} name_list;

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    (void)g;
    (void)info;
    name_list *l = op;
    if (l->n == l->cap) {
        const int cap = l->cap ? 2 * l->cap : 16;
        void *p = realloc(l->name, sizeof *l->name * (size_t)cap);
        if (!p) return -1;
        l->name = p;
        l->cap = cap;
    }
    snprintf(l->name[l->n++], sizeof l->name[0], "%s", name);
    return 0;
}

/* Removes below group `path` every object that is neither kept, nor on the
 * way to a kept one, nor part of the header. */
static int prune(h5out *h, const char *path, const h5out_count *keep, int nkeep, sm_error *err)
{
    name_list l = {0, 0, NULL};
    hid_t g = H5Gopen2(h->file, path, H5P_DEFAULT);
    herr_t rc = g < 0 ? -1 : H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, collect_name, &l);
    if (g >= 0) H5Gclose(g);
    if (rc < 0) {
        free(l.name);
        return sm_fail(err, "%s: cannot list group %s", h->partial, path);
    }
    int bad = 0;
    for (int i = 0; i < l.n && !bad; i++) {
        char child[600];
        snprintf(child, sizeof child, "%s/%s", strcmp(path, "/") ? path : "", l.name[i]);
        const size_t len = strlen(child);
        int keep_it = 0, descend = 0;
        for (size_t j = 0; j < sizeof HEADER_OBJECTS / sizeof HEADER_OBJECTS[0]; j++)
            keep_it |= strcmp(child, HEADER_OBJECTS[j]) == 0;
        for (int j = 0; j < nkeep; j++) {
            keep_it |= strcmp(child, keep[j].path) == 0;
            descend |= strncmp(keep[j].path, child, len) == 0 && keep[j].path[len] == '/';
        }
        if (keep_it) continue;
        if (descend) bad = prune(h, child, keep, nkeep, err);
        else if (H5Ldelete(h->file, child, H5P_DEFAULT) < 0)
            bad = sm_fail(err, "%s: cannot remove %s written after the checkpoint", h->partial, child);
    }
    free(l.name);
    return bad;
}

/* Does /parameters/config_json equal json? */
static int same_config(hid_t file, const char *json)
{
    hid_t a = H5Aopen_by_name(file, "/parameters", "config_json", H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *v = NULL;
    const int same = H5Aread(a, t, &v) >= 0 && v && strcmp(v, json) == 0;
    if (v) H5free_memory(v);
    H5Tclose(t);
    H5Aclose(a);
    return same;
}

/* Is the partial output the one the checkpoint describes: written with this
 * configuration, and every kept dataset at least as long as recorded? Checked
 * on a read-only handle, so that a refused resume leaves the file as it was:
 * HDF5 opening an empty file read-write turns it into a new, empty HDF5 file
 * (and the refusal then blamed "another configuration"). */
static int reopen_check(const char *partial, const char *config_json, const h5out_count *keep,
                        int nkeep, int *usage, sm_error *err)
{
    errno = 0;
    const hid_t f = H5Fopen(partial, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        const int e = errno;
        return sm_fail(err, "%s: cannot reopen the partial output (damaged by the interruption?): %s",
                       partial, e ? strerror(e) : "not a readable HDF5 file");
    }
    int rc = 0;
    if (!same_config(f, config_json)) {
        *usage = 1;
        rc = sm_fail(err, "%s: the partial output was written with another configuration", partial);
    }
    static const char *const leaves[3] = {"step", "time", "value"};
    for (int i = 0; i < nkeep && !rc; i++)
        for (int j = 0; j < 3 && !rc; j++) {
            char p[300];
            snprintf(p, sizeof p, "%s/%s", keep[i].path, leaves[j]);
            const hid_t d = H5Dopen2(f, p, H5P_DEFAULT);
            hsize_t dims[4] = {0, 0, 0, 0};
            if (d >= 0) {
                dataset_dims(d, dims);
                H5Dclose(d);
            }
            if (d < 0 || keep[i].rows < 0 || dims[0] < (hsize_t)keep[i].rows)
                rc = sm_fail(err, "%s: %s has %llu rows, the checkpoint needs %lld; the partial output does not match the checkpoint",
                             partial, p, (unsigned long long)dims[0], (long long)keep[i].rows);
        }
    if (H5Fclose(f) < 0 && !rc)
        rc = sm_fail(err, "%s: cannot read the partial output", partial);
    return rc;
}

int h5out_reopen(h5out **hp, const char *path, int overwrite, const char *config_json,
                 const h5out_count *keep, int nkeep, int *usage, sm_error *err)
{
    *hp = NULL;
    *usage = 0;
    char partial[CONFIG_PATH_MAX + 16];
    snprintf(partial, sizeof partial, "%s.partial", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct stat st;
    if (stat(partial, &st) != 0) {
        *usage = 1;
        return sm_fail(err, "%s: no partial output to resume (%s)", partial, strerror(errno));
    }
    if (reopen_check(partial, config_json, keep, nkeep, usage, err)) return 1;
    h5out *h = calloc(1, sizeof *h);
    if (!h) return sm_fail(err, "%s: out of memory", path);
    snprintf(h->path, sizeof h->path, "%s", path);
    snprintf(h->partial, sizeof h->partial, "%s", partial);
    h->overwrite = overwrite;
    for (int i = 0; i < SNAP_NFIELDS; i++) h->snap[i].group = -1;
    errno = 0;
    const hid_t fapl = small_cache_fapl();
    h->file = H5Fopen(h->partial, H5F_ACC_RDWR, fapl < 0 ? H5P_DEFAULT : fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (h->file < 0) {
        const int e = errno;
        sm_fail(err, "%s: cannot reopen the partial output for writing: %s", h->partial,
                e ? strerror(e) : "HDF5 error");
        free(h);
        return 1;
    }
    *hp = h; /* from here the caller closes it, whatever happens */
    for (int i = 0; i < nkeep; i++)
        if (reopen_series(h, &keep[i], err)) return 1;
    if (prune(h, "/", keep, nkeep, err)) return 1;
    return h5out_flush(h, err);
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
