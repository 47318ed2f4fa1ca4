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
#include "core/units.h"
#include "core/version.h"
#include "io/h5md.h"
#include "io/outfile.h"
#include "io/xdmf.h"

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

hid_t h5o_file_access(void)
{
    /* the 1.8 object format: compact groups and attribute storage, yet
     * readable by every HDF5 of the last fifteen years (ParaView, VisIt) */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return H5P_DEFAULT;
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    set_small_caches(fapl);
    return fapl;
}

enum { ISTORE_K = 4 };

/* /h5md and /parameters (the resolved configuration as attributes, its
 * JSON text which --resume compares, and as a tree of datasets): the
 * objects h5out_create writes before any series. */
static int write_header(hid_t file, const sm_config *cfg, const char *config_json, const char *source)
{
    if (h5md_write_metadata(file)) return 1;
    hid_t g = H5Gcreate2(file, "/parameters", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const uint64_t seed = (uint64_t)cfg->seed;
    int bad = g < 0 || h5md_attr_string(g, "config_json", config_json) ||
              h5md_attr_ints(g, "seed", H5T_NATIVE_UINT64, &seed, 1) ||
              h5md_attr_string(g, "version", SOFTMATRIX_VERSION) ||
              h5md_attr_string(g, "source", source) || h5md_write_parameters(g, config_json);
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
    h->rows_measured = config_measured_rows(cfg, cfg->measure_every);
    h->rows_snapshots = cfg->snapshot_every > 0 ? config_total_sweeps(cfg) / cfg->snapshot_every : 0;
    for (int i = 0; i < SNAP_NFIELDS; i++) h->snap[i].group = -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported through sm_error */
    /* B-tree nodes of the chunk index sized for a few chunks, not the
     * default 64 (2 KiB a series); the chunks themselves are large */
    const hid_t fapl = h5o_file_access(), fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_istore_k(fcpl, ISTORE_K);
    errno = 0;
    h->file = H5Fcreate(h->partial, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    if (fapl != H5P_DEFAULT) H5Pclose(fapl);
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

/* An extendible dataset of rows of `inner` elements; a chunk holds
 * rows_per_chunk rows, and of a frame (rank >= 3) strip_rows of its rows
 * (0: all of them). Space for the chunks of new rows is allocated when
 * the rows are written, or with early != 0 as they are added (what
 * parallel HDF5 always does, and records in the file). */
static hid_t create_extendible(hid_t file, const char *path, hid_t type, int rank,
                               const hsize_t *inner, hsize_t rows_per_chunk, hsize_t strip_rows,
                               int compression, int early)
{
    hsize_t dims[4] = {0, 0, 0, 0}, maxd[4], chunk[4];
    maxd[0] = H5S_UNLIMITED;
    chunk[0] = rows_per_chunk;
    for (int i = 1; i < rank; i++) {
        dims[i] = maxd[i] = chunk[i] = inner[i - 1];
    }
    if (rank >= 3 && strip_rows > 0 && strip_rows < chunk[1]) chunk[1] = strip_rows;
    hid_t sp = H5Screate_simple(rank, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, chunk);
    H5Pset_obj_track_times(dcpl, 0);   /* smaller headers; the file has its own times */
    if (early) H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
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
static int create_clock(hid_t file, const char *group, hsize_t rows_per_chunk, int early, hid_t *step,
                        hid_t *time)
{
    char p[300];
    snprintf(p, sizeof p, "%s/step", group);
    *step = create_extendible(file, p, H5T_STD_I64LE, 1, NULL, rows_per_chunk, 0, 0, early);
    snprintf(p, sizeof p, "%s/time", group);
    *time = create_extendible(file, p, H5T_IEEE_F64LE, 1, NULL, rows_per_chunk, 0, 0, early);
    return *step < 0 || *time < 0 || h5md_attr_unit(*time, UNIT_TIME);
}

/* The "unit", "description" and "columns" attributes of a value dataset. */
static int describe_value(hid_t value, const h5out_meta *m, const char *columns)
{
    return h5md_attr_unit(value, m->unit ? m->unit : UNIT_NONE) ||
           (m->desc && h5md_attr_string(value, "description", m->desc)) ||
           (columns && h5md_attr_string(value, "columns", columns));
}

int h5o_append_rows(hid_t d, hid_t memtype, int rank, const hsize_t *inner, hsize_t at,
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

series *h5o_series(h5out *h, const char *path, int width, const char *columns, const h5out_meta *m,
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
    hash_attrs(&s->hash[0], columns, m->desc);
    char p[300];
    snprintf(p, sizeof p, "%s/value", path);
    if (make_groups(h->file, h->path, p, err)) return NULL;
    const int64_t rows = m->rows > 0 ? m->rows : h->rows_measured;
    const hsize_t inner = (hsize_t)width, crows = chunk_rows(rows, sizeof(double) * (size_t)width);
    const int bad_clock = create_clock(h->file, path, chunk_rows(rows, sizeof(int64_t)), 0, &s->step, &s->time);
    s->value = create_extendible(h->file, p, m->integer ? H5T_STD_I64LE : H5T_IEEE_F64LE,
                                 width > 1 ? 2 : 1, &inner, crows, 0, 0, 0);
    if (bad_clock || s->value < 0 || describe_value(s->value, m, columns)) {
        sm_fail(err, "%s: cannot create datasets under %s", h->path, path);
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
    if (h5o_append_rows(s->step, H5T_NATIVE_INT64, 1, NULL, s->n, (hsize_t)nrows, step) ||
        h5o_append_rows(s->time, H5T_NATIVE_DOUBLE, 1, NULL, s->n, (hsize_t)nrows, time) ||
        h5o_append_rows(s->value, H5T_NATIVE_DOUBLE, s->width > 1 ? 2 : 1, &inner, s->n,
                            (hsize_t)nrows, values))
        return sm_fail(err, "%s: write to %s failed: %s", h->path, s->path, h5o_io_cause(errno));
    s->n += (hsize_t)nrows;
    sm_hash_add(&s->hash[0], step, sizeof *step * (size_t)nrows);
    sm_hash_add(&s->hash[1], time, sizeof *time * (size_t)nrows);
    sm_hash_add(&s->hash[2], values, sizeof *values * (size_t)nrows * (size_t)s->width);
    return 0;
}

int h5out_series_append(h5out *h, const char *path, int width, const char *const *columns,
                        const h5out_meta *m, const int64_t *step, const double *time,
                        const double *values, int64_t nrows, sm_error *err)
{
    if (nrows <= 0) return 0;
    char list[1024] = "";
    if (width > 1 && columns && columns[0])
        for (int i = 0; i < width && columns[i]; i++) {
            if (i) strncat(list, ",", sizeof list - strlen(list) - 1);
            strncat(list, columns[i], sizeof list - strlen(list) - 1);
        }
    series *s = h5o_series(h, path, width, list[0] ? list : NULL, m, err);
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

hid_t h5o_snapshot_memtype(int i) { return SNAP_KINDS[i].mtype(); }
int h5o_snapshot_rank(int i) { return SNAP_KINDS[i].rank; }

/* Bytes a site of field i in the file and in memory. */
size_t h5o_snapshot_site_bytes(int i)
{
    return H5Tget_size(SNAP_KINDS[i].mtype()) * (SNAP_KINDS[i].rank == 4 ? 3 : 1);
}

/* Rows of a frame per chunk: the whole frame (what a reader asks for) up to
 * SNAP_CHUNK_BYTES, else strips of rows, since HDF5 caps a chunk at 4 GiB
 * and a compressed chunk is written whole by one process. It depends on
 * the lattice alone, so that the file is the same however the lattice is
 * split over MPI ranks. */
enum { SNAP_CHUNK_BYTES = 4 << 20 };
hsize_t h5o_snapshot_strip_rows(int i, int Lx, int Ly)
{
    const size_t row = h5o_snapshot_site_bytes(i) * (size_t)Lx;
    const size_t rows = SNAP_CHUNK_BYTES / row;
    return (hsize_t)(rows < 1 ? 1 : rows > (size_t)Ly ? (size_t)Ly : rows);
}

int h5o_snapshot_create(h5out *h, int i, int Lx, int Ly, int compression, sm_error *err)
{
    const hsize_t inner[3] = {(hsize_t)Ly, (hsize_t)Lx, 3};
    snap_field *f = &h->snap[i];
    const snap_kind *k = &SNAP_KINDS[i];
    char g[96], p[128];
    snprintf(g, sizeof g, "/snapshots/%s", SNAP_FIELD_NAMES[i]);
    snprintf(p, sizeof p, "%s/value", g);
    if (make_groups(h->file, h->path, p, err)) return 1;
    const h5out_meta m = {k->desc, k->unit, 0, 0};
    /* early allocation: the datasets a lattice split over MPI ranks writes
     * collectively (io/h5out_mpio.h) are the same, property for property */
    const int bad_clock = create_clock(h->file, g, chunk_rows(h->rows_snapshots, sizeof(int64_t)), 1,
                                       &f->step, &f->time);
    f->value = create_extendible(h->file, p, k->ftype(), k->rank, inner, 1,
                                 h5o_snapshot_strip_rows(i, Lx, Ly), compression, 1);
    f->group = 0;
    for (int j = 0; j < 3; j++) sm_hash_init(&f->hash[j]);
    if (bad_clock || f->value < 0 || describe_value(f->value, &m, NULL))
        return sm_fail(err, "%s: cannot create snapshot datasets for %s", h->path, SNAP_FIELD_NAMES[i]);
    return 0;
}

int h5o_snapshot_write(h5out *h, int i, int Lx, int Ly, int compression, int64_t step,
                       double time, const void *frame, sm_error *err)
{
    snap_field *f = &h->snap[i];
    const snap_kind *k = &SNAP_KINDS[i];
    const hsize_t inner[3] = {(hsize_t)Ly, (hsize_t)Lx, 3};
    if (f->group < 0 && h5o_snapshot_create(h, i, Lx, Ly, compression, err)) return 1;
    errno = 0;
    if (h5o_append_rows(f->step, H5T_NATIVE_INT64, 1, NULL, f->n, 1, &step) ||
        h5o_append_rows(f->time, H5T_NATIVE_DOUBLE, 1, NULL, f->n, 1, &time) ||
        h5o_append_rows(f->value, k->mtype(), k->rank, inner, f->n, 1, frame))
        return sm_fail(err, "%s: snapshot write failed: %s", h->path, h5o_io_cause(errno));
    f->n++;
    const size_t bytes = h5o_snapshot_site_bytes(i) * (size_t)Lx * (size_t)Ly;
    sm_hash_add(&f->hash[0], &step, sizeof step);
    sm_hash_add(&f->hash[1], &time, sizeof time);
    sm_hash_add(&f->hash[2], frame, bytes);
    return 0;
}

/* The frame of field i as the file stores it: level and sigma in place
 * (*buf stays NULL), the others built into a buffer allocated here (a
 * snapshot is I/O, not a sweep; one frame at a time). Without PCP fields
 * (level dynamics) every phase is 0 and every z 0: zero pages. */
const void *h5o_snapshot_frame(int i, const model_state *s, void **buf)
{
    const size_t N = (size_t)s->N;
    *buf = NULL;
    switch (1u << i) {
    case SNAP_LEVEL: return s->level;
    case SNAP_SIGMA: return s->sigma;
    case SNAP_PHASE: return s->phase ? (const void *)s->phase : (*buf = calloc(N, 1));
    case SNAP_Z: {
        float *z = *buf = (model_has_z(s) ? malloc(N * sizeof *z) : calloc(N, sizeof *z));
        if (z && model_has_z(s))
            for (size_t a = 0; a < N; a++) z[a] = model_z(s, (int64_t)a);
        return z;
    }
    default: {
        float *pcp = *buf = malloc(sizeof *pcp * 3 * N);
        uint8_t *zero = s->phase ? NULL : calloc(N, 1);
        if (pcp && (s->phase || zero)) {
            model_state v = *s;
            v.phase = s->phase ? s->phase : zero;
            pcp_positions(&v, pcp);
        }
        const int ok = pcp && (s->phase || zero);
        free(zero);
        return ok ? pcp : NULL;
    }
    }
}

int h5out_snapshot(h5out *h, unsigned fields, int Lx, int Ly, const model_state *s,
                   int64_t step, int compression, sm_error *err)
{
    int rc = 0;
    for (int i = 0; i < SNAP_NFIELDS && !rc; i++) {
        if (!(fields & (1u << i))) continue;
        void *buf;
        const void *frame = h5o_snapshot_frame(i, s, &buf);
        rc = frame ? h5o_snapshot_write(h, i, Lx, Ly, compression, step, (double)step, frame, err)
                   : sm_fail(err, "%s: out of memory for the %s snapshot", h->path, SNAP_FIELD_NAMES[i]);
        free(buf);
    }
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
    if (rc < 0) return sm_fail(err, "%s: cannot write %s: %s", h->path, path, h5o_io_cause(errno));
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
        return sm_fail(err, "%s: flush failed: %s", h->partial, h5o_io_cause(errno));
    return 0;
}

int h5out_publish(const char *path, int overwrite, sm_error *err)
{
    char partial[CONFIG_PATH_MAX + 16];
    snprintf(partial, sizeof partial, "%s%s", path, H5OUT_PARTIAL);
    return outfile_publish(partial, path, overwrite, err);
}

int h5o_close_file(h5out *h, sm_error *err)
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

int h5out_close(h5out *h, int mode, sm_error *err)
{
    if (!h) return 0;
    xdmf_series x = {0};
    xdmf_field fl[SNAP_NFIELDS];
    char src[SNAP_NFIELDS][64];
    int rc = mode != H5OUT_KEEP ? snapshot_series(h, &x, fl, src, err) : 0;
    if (!rc && x.nfields) rc = xdmf_write_views(h->file, &x, err);
    const int closed = h5o_close_file(h, rc ? NULL : err);
    if (!rc) rc = closed;
    if (!rc && mode == H5OUT_PUBLISH) rc = h5out_publish(h->path, h->overwrite, err);
    /* the sidecar names <path>, which a sealed file becomes when published */
    if (!rc && mode != H5OUT_KEEP) rc = write_sidecar(h, &x, err);
    free((double *)x.time);
    free(h);
    return rc;
}

void h5out_discard(h5out *h)
{
    if (!h) return;
    h5o_close_file(h, NULL);
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
        fprintf(md, "| `/snapshots/%s/value` | %s [n][Ly][Lx]%s | `%s` | %s (chunks of one snapshot, or of strips of its rows past 4 MiB) |\n",
                SNAP_FIELD_NAMES[i], k->dtype, k->rank == 4 ? "[3]" : "", k->unit, k->desc);
    }
    fprintf(md, "| `/snapshots/<field>/step`, `time` | int64 [n], float64 [n] | `%s` (time) | sweep of each snapshot (run.snapshot_every schedule sweeps) |\n",
            UNIT_TIME);
}
