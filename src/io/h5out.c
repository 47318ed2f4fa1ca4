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
#include "core/units.h"
#include "core/version.h"
#include "io/h5md.h"
#include "io/xdmf.h"

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
    int64_t rows_measured, rows_snapshots;   /* rows the run will write: chunk sizes */
    int nseries;
    series s[H5OUT_MAX_SERIES];
    snap_field snap[SNAP_NFIELDS];
};

enum { ISTORE_K = 4 };

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

/* Small caches, so that memory does not grow with the length of a run:
 * series are appended a chunk at a time, so a raw-data cache of two chunks
 * serves them (the default keeps 1 MiB per dataset), and the metadata cache
 * only needs the object headers and chunk-index nodes of the series being
 * appended (the default grows to 32 MiB of index nodes). */
static void set_small_caches(hid_t fapl)
{
    H5Pset_cache(fapl, 0, 61, 16 * 1024, 1.0);
    H5AC_cache_config_t mdc = {.version = H5AC__CURR_CACHE_CONFIG_VERSION};
    if (H5Pget_mdc_config(fapl, &mdc) >= 0) {
        mdc.set_initial_size = 1;
        mdc.initial_size = mdc.max_size = 64 * 1024;
        mdc.min_size = 16 * 1024;
        H5Pset_mdc_config(fapl, &mdc);
    }
}

/* File access with the small caches (reopening for --resume). */
static hid_t small_cache_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) set_small_caches(fapl);
    return fapl;
}

/* /h5md, and /parameters: the resolved configuration as attributes (its
 * JSON text, which --resume compares) and as a tree of datasets. */
static int write_header(hid_t file, const sm_config *cfg, const char *config_json)
{
    if (h5md_write_metadata(file)) return 1;
    hid_t g = H5Gcreate2(file, "/parameters", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const uint64_t seed = (uint64_t)cfg->seed;
    int bad = g < 0 || h5md_attr_string(g, "config_json", config_json) ||
              h5md_attr_ints(g, "seed", H5T_NATIVE_UINT64, &seed, 1) ||
              h5md_attr_string(g, "version", SOFTMATRIX_VERSION) ||
              h5md_attr_string(g, "source", cfg->source) || h5md_write_parameters(g, config_json);
    if (g >= 0) H5Gclose(g);
    return bad;
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
    h->rows_measured = config_measured_rows(cfg, cfg->measure_every);
    h->rows_snapshots = cfg->snapshot_every > 0 ? config_total_sweeps(cfg) / cfg->snapshot_every : 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported through sm_error */
    /* the 1.8 object format: compact groups and attribute storage, yet
     * readable by every HDF5 of the last fifteen years (ParaView, VisIt) */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    set_small_caches(fapl);
    /* B-tree nodes of the chunk index sized for a few chunks, not the
     * default 64 (2 KiB a series); the chunks themselves are large */
    H5Pset_istore_k(fcpl, ISTORE_K);
    errno = 0;
    h->file = H5Fcreate(h->partial, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (h->file < 0) {
        int e = errno;
        free(h);
        return sm_fail(err, "%s: cannot create output file: %s", path, e ? strerror(e) : "HDF5 error");
    }
    for (int i = 0; i < SNAP_NFIELDS; i++) h->snap[i].group = -1;
    if (write_header(h->file, cfg, config_json) || H5Fflush(h->file, H5F_SCOPE_GLOBAL) < 0) {
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

/* Rows per chunk of a series: the rows the run will write (a chunk is
 * stored whole however few of its rows are written, so a short run's file
 * stays small), at most CHUNK_BYTES per chunk, 1024 rows when the count is
 * unknown (a series begun after --resume). */
enum { CHUNK_BYTES = 65536, CHUNK_ROWS_UNKNOWN = 1024 };
static hsize_t chunk_rows(int64_t rows, size_t row_bytes)
{
    const int64_t cap = (int64_t)(CHUNK_BYTES / (row_bytes ? row_bytes : 1));
    int64_t n = rows > 0 ? rows : CHUNK_ROWS_UNKNOWN;
    if (n > cap) n = cap;
    return (hsize_t)(n > 0 ? n : 1);
}

static hid_t create_extendible(hid_t file, const char *path, hid_t type, int rank,
                               const hsize_t *inner, hsize_t rows_per_chunk, int compression)
{
    hsize_t dims[4] = {0, 0, 0, 0}, maxd[4], chunk[4];
    maxd[0] = H5S_UNLIMITED;
    chunk[0] = rows_per_chunk;
    for (int i = 1; i < rank; i++) {
        dims[i] = maxd[i] = chunk[i] = inner[i - 1];
    }
    hid_t sp = H5Screate_simple(rank, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, chunk);
    H5Pset_obj_track_times(dcpl, 0);   /* smaller headers; the file has its own times */
    if (compression > 0) {
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, (unsigned)compression);
    }
    hid_t d = H5Dcreate2(file, path, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return d;
}

/* The step and time datasets of a series group, time in sweeps. */
static int create_clock(hid_t file, const char *group, hsize_t rows_per_chunk, hid_t *step, hid_t *time)
{
    char p[300];
    snprintf(p, sizeof p, "%s/step", group);
    *step = create_extendible(file, p, H5T_STD_I64LE, 1, NULL, rows_per_chunk, 0);
    snprintf(p, sizeof p, "%s/time", group);
    *time = create_extendible(file, p, H5T_IEEE_F64LE, 1, NULL, rows_per_chunk, 0);
    return *step < 0 || *time < 0 || h5md_attr_unit(*time, UNIT_TIME);
}

/* The "unit", "description" and "columns" attributes of a value dataset. */
static int describe_value(hid_t value, const h5out_meta *m, int width, const char *const *columns)
{
    if (h5md_attr_unit(value, m->unit ? m->unit : UNIT_NONE) ||
        (m->desc && h5md_attr_string(value, "description", m->desc)))
        return 1;
    if (width <= 1 || !columns || !columns[0]) return 0;
    char list[1024] = "";
    for (int i = 0; i < width && columns[i]; i++) {
        if (i) strncat(list, ",", sizeof list - strlen(list) - 1);
        strncat(list, columns[i], sizeof list - strlen(list) - 1);
    }
    return h5md_attr_string(value, "columns", list);
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
                           const h5out_meta *m, sm_error *err)
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
    snprintf(p, sizeof p, "%s/value", path);
    if (make_groups(h->file, h->path, p, err)) return NULL;
    const int64_t rows = m->rows > 0 ? m->rows : h->rows_measured;
    const hsize_t inner = (hsize_t)width, crows = chunk_rows(rows, sizeof(double) * (size_t)width);
    const int bad_clock = create_clock(h->file, path, chunk_rows(rows, sizeof(int64_t)), &s->step, &s->time);
    s->value = create_extendible(h->file, p, m->integer ? H5T_STD_I64LE : H5T_IEEE_F64LE,
                                 width > 1 ? 2 : 1, &inner, crows, 0);
    if (bad_clock || s->value < 0 || describe_value(s->value, m, width, columns)) {
        sm_fail(err, "%s: cannot create datasets under %s", h->path, path);
        return NULL;
    }
    h->nseries++;
    return s;
}

int h5out_series_append(h5out *h, const char *path, int width, const char *const *columns,
                        const h5out_meta *m, const int64_t *step, const double *time,
                        const double *values, int64_t nrows, sm_error *err)
{
    if (nrows <= 0) return 0;
    series *s = find_series(h, path, width, columns, m, err);
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
        const h5out_meta m = {L->f[f].desc, L->f[f].unit, L->f[f].integer, 0};
        rc = h5out_series_append(h, path, w, L->f[f].columns, &m, step, time, buf, nrows, err);
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
    const char *xdmf_type; /* XDMF NumberType and Precision of a value */
    int xdmf_precision;
} snap_kind;

static const snap_kind SNAP_KINDS[SNAP_NFIELDS] = {
    {t_i8le, t_i8, 3, "int8", UNIT_NONE, "level l = -1..8 of each site", "Char", 1},
    {t_i8le, t_i8, 3, "int8", UNIT_NONE, "MIEV orientation sigma = +1 (+z) or -1 (-z)", "Char", 1},
    {t_u8le, t_u8, 3, "uint8", UNIT_NONE, "PCP phase phi = 0..63 in the 4 x 16 jump state", "UChar", 1},
    {t_f32le, t_f32, 3, "float32", UNIT_LENGTH, "accumulated z displacement", "Float", 4},
    {t_f32le, t_f32, 4, "float32", UNIT_LENGTH, "PCP position (x, y, z) in its cage", "Float", 4},
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
            snprintf(p, sizeof p, "/snapshots/%s/value", SNAP_FIELD_NAMES[i]);
            if (make_groups(h->file, h->path, p, err)) { rc = 1; break; }
            const h5out_meta m = {k->desc, k->unit, 0, 0};
            char g[96];
            snprintf(g, sizeof g, "/snapshots/%s", SNAP_FIELD_NAMES[i]);
            const int bad_clock = create_clock(h->file, g, chunk_rows(h->rows_snapshots, sizeof(int64_t)),
                                               &f->step, &f->time);
            /* one frame a chunk: a frame is what a reader asks for */
            f->value = create_extendible(h->file, p, k->ftype(), rank, inner, 1, compression);
            f->group = 0;
            if (bad_clock || f->value < 0 || describe_value(f->value, &m, 1, NULL)) {
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

int h5out_write_quantity(h5out *h, const char *path, int rank, const uint64_t *dims,
                         const double *data, const h5out_meta *m, sm_error *err)
{
    if (make_groups(h->file, h->path, path, err)) return 1;
    hsize_t d[4];
    for (int i = 0; i < rank; i++) d[i] = dims[i];
    hid_t sp = rank ? H5Screate_simple(rank, d, NULL) : H5Screate(H5S_SCALAR);
    errno = 0;
    hid_t ds = H5Dcreate2(h->file, path, m->integer ? H5T_STD_I64LE : H5T_IEEE_F64LE, sp, H5P_DEFAULT,
                          H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (rc >= 0 && (h5md_attr_unit(ds, m->unit) || (m->desc && h5md_attr_string(ds, "description", m->desc))))
        rc = -1;
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    if (rc < 0) return sm_fail(err, "%s: cannot write %s: %s", h->path, path, io_cause(errno));
    return 0;
}

int h5out_write_string_attr(h5out *h, const char *path, const char *name, const char *value,
                            sm_error *err)
{
    hid_t o = H5Oopen(h->file, path, H5P_DEFAULT);
    int bad = o < 0 || h5md_attr_string(o, name, value);
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

int h5out_write_unit(h5out *h, const char *path, const char *unit, sm_error *err)
{
    hid_t o = H5Oopen(h->file, path, H5P_DEFAULT);
    int bad = o < 0 || h5md_attr_unit(o, unit);
    if (o >= 0) H5Oclose(o);
    if (bad) return sm_fail(err, "%s: cannot write the unit of %s", h->path, path);
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

/* The snapshot series as xdmf.h describes it, read before the file is
 * closed; x->nfields = 0 when the run wrote no snapshot. x->time is
 * malloc'd. */
static int snapshot_series(h5out *h, xdmf_series *x, xdmf_field *fl, char (*src)[64], sm_error *err)
{
    memset(x, 0, sizeof *x);
    x->field = fl;
    for (int i = 0; i < SNAP_NFIELDS; i++) {
        const snap_field *f = &h->snap[i];
        const snap_kind *k = &SNAP_KINDS[i];
        if (f->group < 0) continue;
        const int n = x->nfields++;
        snprintf(src[n], sizeof src[0], "/snapshots/%s/value", SNAP_FIELD_NAMES[i]);
        fl[n] = (xdmf_field){SNAP_FIELD_NAMES[i], src[n], k->ftype(), k->xdmf_type, k->xdmf_precision,
                             k->rank == 4 ? 3 : 1};
        if (n > 0) continue;
        hsize_t dims[4] = {0, 0, 0, 0};
        const hid_t sp = H5Dget_space(f->value);
        if (sp >= 0) H5Sget_simple_extent_dims(sp, dims, NULL);
        if (sp >= 0) H5Sclose(sp);
        x->Ly = (int)dims[1];
        x->Lx = (int)dims[2];
        x->nframes = (int64_t)f->n;
        double *t = malloc(sizeof *t * (f->n ? f->n : 1));
        x->time = t;
        if (!t || (f->n && H5Dread(f->time, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t) < 0))
            return sm_fail(err, "%s: cannot read the snapshot times", h->partial);
    }
    return 0;
}

/* <path>.xmf for the published file; a stale one goes when there are no
 * snapshots, since it would describe another run. */
static int write_sidecar(const h5out *h, const xdmf_series *x, sm_error *err)
{
    char xmf[CONFIG_PATH_MAX + 16];
    snprintf(xmf, sizeof xmf, "%s.xmf", h->path);
    if (x->nfields) return xdmf_write_sidecar(xmf, h->path, x, err);
    if (unlink(xmf) != 0 && errno != ENOENT)
        return sm_fail(err, "%s: cannot remove the stale XDMF sidecar: %s", xmf, strerror(errno));
    return 0;
}

int h5out_close(h5out *h, int complete, sm_error *err)
{
    if (!h) return 0;
    xdmf_series x = {0};
    xdmf_field fl[SNAP_NFIELDS];
    char src[SNAP_NFIELDS][64];
    int rc = complete ? snapshot_series(h, &x, fl, src, err) : 0;
    if (!rc && x.nfields) rc = xdmf_write_views(h->file, &x, err);
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
    if (!rc && complete) rc = publish(h, err) || write_sidecar(h, &x, err);
    free((double *)x.time);
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
            "| path | type and shape | unit | meaning |\n|---|---|---|---|\n"
            "| `/h5md` | group, attribute `version` int [2] = [1, 1] | | H5MD 1.1 metadata |\n"
            "| `/h5md/author` | group, attribute `name` | | who ran it: `SOFTMATRIX_AUTHOR`, else the account's full or login name |\n"
            "| `/h5md/creator` | group, attributes `name` = \"softmatrix\", `version` | | the program that wrote the file |\n"
            "| `/h5md/modules/units` | group, attributes `version` int [2] = [1, 0], `system` | | the `unit` attributes follow the H5MD units module |\n"
            "| `/parameters` | group, attributes `config_json`, `seed` uint64 [1], `version`, `source` | | the resolved configuration (as `softmatrix validate` prints it), its seed and file |\n"
            "| `/parameters/<section>/<key>` | int64, float64, string or bool scalar; string [k] for lists | the key's (docs/config.md) | each key of the resolved configuration, e.g. `/parameters/model/J` |\n"
            "| `/parameters/temperature` | float64 scalar | `%s` | the constant temperature (a config without schedule) |\n"
            "| `/parameters/schedule/T_from`, `T_to`, `sweeps`, `equilibration` | float64 [nseg], int64 [nseg] | `%s`, `%s` | the schedule, one row per segment (a hold has T_from = T_to) |\n",
            UNIT_TEMPERATURE, UNIT_TEMPERATURE, UNIT_TIME);
}

void h5out_describe_snapshots(FILE *md)
{
    for (int i = 0; i < SNAP_NFIELDS; i++) {
        const snap_kind *k = &SNAP_KINDS[i];
        fprintf(md, "| `/snapshots/%s/value` | %s [n][Ly][Lx]%s | `%s` | %s (chunks of one snapshot) |\n",
                SNAP_FIELD_NAMES[i], k->dtype, k->rank == 4 ? "[3]" : "", k->unit, k->desc);
    }
    fprintf(md, "| `/snapshots/<field>/step`, `time` | int64 [n], float64 [n] | `%s` (time) | sweep of each snapshot (run.snapshot_every schedule sweeps) |\n",
            UNIT_TIME);
}
