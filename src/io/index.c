/* Sweep index table, its HDF5 form and the merge command. Everything the
 * index holds comes from the sweep block and the point files, never from the
 * process that ran a point, so a point run yesterday, on another machine or
 * with another thread count gives the same row. */
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/index.h"
#include "core/version.h"
#include "io/config.h"
#include "io/h5md.h"
#include "io/outfile.h"

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int index_init(sweep_index *ix, int64_t n, int64_t npoints, const char *shard,
               const char *sweep_json, const char *config_json, const char *source,
               sm_error *err)
{
    memset(ix, 0, sizeof *ix);
    ix->n = n;
    ix->npoints = npoints;
    snprintf(ix->shard, sizeof ix->shard, "%s", shard ? shard : "");
    ix->sweep_json = dup_or_null(sweep_json ? sweep_json : "");
    ix->config_json = dup_or_null(config_json ? config_json : "");
    ix->source = dup_or_null(source ? source : "");
    if (!ix->sweep_json || !ix->config_json || !ix->source) return sm_fail(err, "index: out of memory");
    return 0;
}

static void column_free(ix_column *c, int64_t n)
{
    if (c->s)
        for (int64_t r = 0; r < n * (c->width ? c->width : 1); r++) free(c->s[r]);
    free(c->f);
    free(c->i);
    free(c->s);
    free(c->columns);
    free(c->desc);
    free(c->unit);
}

void index_free(sweep_index *ix)
{
    for (int k = 0; k < ix->ncol; k++) {
        column_free(ix->col[k], ix->n);
        free(ix->col[k]);
    }
    free(ix->col);
    free(ix->sweep_json);
    free(ix->config_json);
    free(ix->source);
    memset(ix, 0, sizeof *ix);
}

ix_column *index_find_column(const sweep_index *ix, const char *name)
{
    for (int k = 0; k < ix->ncol; k++)
        if (strcmp(ix->col[k]->name, name) == 0) return ix->col[k];
    return NULL;
}

static const char *type_name(ix_type t) { return t == IX_F64 ? "float64" : t == IX_I64 ? "int64" : "string"; }

ix_column *index_column(sweep_index *ix, const char *name, ix_type type, int width, sm_error *err)
{
    ix_column *c = index_find_column(ix, name);
    if (c) {
        if (c->type != type || c->width != width) {
            sm_fail(err, "index: %s: is %s of width %d in one file and %s of width %d in another",
                    name, type_name(c->type), c->width, type_name(type), width);
            return NULL;
        }
        return c;
    }
    if (ix->ncol == ix->capcol) {
        int cap = ix->capcol ? 2 * ix->capcol : 64;
        ix_column **nc = realloc(ix->col, sizeof *nc * (size_t)cap);
        if (!nc) { sm_fail(err, "index: out of memory"); return NULL; }
        ix->col = nc;
        ix->capcol = cap;
    }
    c = calloc(1, sizeof *c);
    if (!c) { sm_fail(err, "index: out of memory"); return NULL; }
    ix->col[ix->ncol] = c;
    snprintf(c->name, sizeof c->name, "%s", name);
    c->type = type;
    c->width = width;
    const size_t cells = (size_t)ix->n * (size_t)(width ? width : 1);
    const size_t alloc = cells ? cells : 1;
    if (type == IX_F64) {
        c->f = malloc(sizeof *c->f * alloc);
        if (c->f)
            for (size_t r = 0; r < cells; r++) c->f[r] = NAN; /* a point without it */
    } else if (type == IX_I64) {
        c->i = calloc(alloc, sizeof *c->i);
    } else {
        c->s = calloc(alloc, sizeof *c->s);
    }
    if (!c->f && !c->i && !c->s) {
        free(c);
        sm_fail(err, "index: out of memory");
        return NULL;
    }
    ix->ncol++;
    return c;
}

int index_set_string(ix_column *c, int64_t row, const char *value)
{
    char *d = strdup(value ? value : "");
    if (!d) return 1;
    free(c->s[row]);
    c->s[row] = d;
    return 0;
}

/* ---- HDF5 helpers ---------------------------------------------------- */

static hid_t vlen_string_type(void)
{
    /* variable-length UTF-8, so that h5py reads str rather than bytes */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static int write_attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t t = vlen_string_type();
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, t, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc < 0;
}

/* A string attribute (variable or fixed length), malloc'd; NULL if absent. */
static char *read_attr_string(hid_t obj, const char *name)
{
    if (H5Aexists(obj, name) <= 0) return NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t ft = H5Aget_type(a);
    char *out = NULL;
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = vlen_string_type();
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0 && v) {
                out = strdup(v);
                H5free_memory(v);
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(ft);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, n + 1);
            out = calloc(n + 2, 1);
            if (out && H5Aread(a, mt, out) < 0) { free(out); out = NULL; }
            H5Tclose(mt);
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return out;
}

/* Reads a float64 dataset of rank 0..2 whole; *rank and dims[] describe it. */
static double *read_doubles(hid_t loc, const char *path, int *rank, hsize_t *dims)
{
    if (H5Lexists(loc, path, H5P_DEFAULT) <= 0) return NULL;
    hid_t d = H5Dopen2(loc, path, H5P_DEFAULT);
    if (d < 0) return NULL;
    hid_t sp = H5Dget_space(d);
    int r = H5Sget_simple_extent_ndims(sp);
    double *buf = NULL;
    if (r >= 0 && r <= 2) {
        dims[0] = dims[1] = 1;
        H5Sget_simple_extent_dims(sp, dims, NULL);
        if (r == 0) dims[0] = dims[1] = 1;
        if (r == 1) dims[1] = 1;
        size_t cells = (size_t)dims[0] * (size_t)dims[1];
        buf = cells ? malloc(sizeof *buf * cells) : NULL;
        if (buf && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            free(buf);
            buf = NULL;
        }
        *rank = r;
    }
    H5Sclose(sp);
    H5Dclose(d);
    return buf;
}

/* ---- from a point file ------------------------------------------------ */

char *index_point_config(const char *point_file)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(point_file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return NULL;
    char *out = NULL;
    if (H5Lexists(f, "/parameters", H5P_DEFAULT) > 0) {
        hid_t g = H5Oopen(f, "/parameters", H5P_DEFAULT);
        if (g >= 0) {
            out = read_attr_string(g, "config_json");
            H5Oclose(g);
        }
    }
    H5Fclose(f);
    return out;
}

static const char *const STATS[3] = {"mean", "error", "tau_int"};

/* One /summary item: the last row of mean, error and tau_int. */
static int add_item(sweep_index *ix, int64_t row, hid_t file, const char *item, sm_error *err)
{
    for (int k = 0; k < 3; k++) {
        char path[300], name[300];
        snprintf(path, sizeof path, "/summary/%s/%s", item, STATS[k]);
        snprintf(name, sizeof name, "%s/%s", STATS[k], item);
        int rank = 0;
        hsize_t dims[2];
        double *v = read_doubles(file, path, &rank, dims);
        if (!v) continue;
        const int width = rank == 2 ? (int)dims[1] : 0;
        ix_column *c = index_find_column(ix, name);
        if (c && c->width != width) {
            /* e.g. acceptance when the sweep changes dynamics.kind: one
             * dataset cannot hold rows of different widths */
            c->conflict = 1;
            free(v);
            continue;
        }
        if (!c) {
            c = index_column(ix, name, IX_F64, width, err);
            if (!c) { free(v); return 1; }
            char obj[300];
            snprintf(obj, sizeof obj, "/summary/%s", item);
            hid_t o = H5Oopen(file, obj, H5P_DEFAULT);
            if (o >= 0) { c->desc = read_attr_string(o, "description"); H5Oclose(o); }
            o = H5Oopen(file, path, H5P_DEFAULT);
            if (o >= 0) { c->unit = read_attr_string(o, "unit"); H5Oclose(o); }
            snprintf(obj, sizeof obj, "/observables/%s/value", item);
            if (width && H5Lexists(file, "/observables", H5P_DEFAULT) > 0 &&
                H5Lexists(file, obj, H5P_DEFAULT) > 0) {
                o = H5Oopen(file, obj, H5P_DEFAULT);
                if (o >= 0) { c->columns = read_attr_string(o, "columns"); H5Oclose(o); }
            }
        }
        const int w = width ? width : 1;
        memcpy(c->f + row * w, v + (dims[0] - 1) * (hsize_t)w, sizeof *v * (size_t)w);
        free(v);
    }
    return 0;
}

int index_add_point_summary(sweep_index *ix, int64_t row, const char *point_file, sm_error *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported through sm_error */
    hid_t f = H5Fopen(point_file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return sm_fail(err, "%s: cannot open as HDF5", point_file);
    int rc = 0;
    hid_t g = H5Lexists(f, "/summary", H5P_DEFAULT) > 0 ? H5Gopen2(f, "/summary", H5P_DEFAULT) : -1;
    H5G_info_t info;
    if (g < 0 || H5Gget_info(g, &info) < 0) {
        rc = sm_fail(err, "%s: no /summary group (not a finished softmatrix run)", point_file);
        goto done;
    }
    for (hsize_t k = 0; k < info.nlinks && !rc; k++) {
        char item[128];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, k, item, sizeof item, H5P_DEFAULT) < 0)
            continue;
        if (strcmp(item, "timing") == 0) continue; /* differs run to run by nature */
        if (strcmp(item, "segments") == 0) {
            const char *seg[4] = {"T_from", "T_to", "sweeps", "samples"};
            for (int s = 0; s < 4 && !rc; s++) {
                char path[64], name[64];
                snprintf(path, sizeof path, "/summary/segments/%s", seg[s]);
                snprintf(name, sizeof name, "segment/%s", seg[s]);
                int rank = 0;
                hsize_t dims[2];
                double *v = read_doubles(f, path, &rank, dims);
                if (!v) continue;
                /* sweeps and samples are counts */
                ix_column *c = index_column(ix, name, s < 2 ? IX_F64 : IX_I64, 0, err);
                if (!c) rc = 1;
                else if (s < 2) c->f[row] = v[dims[0] - 1];
                else c->i[row] = (int64_t)v[dims[0] - 1];
                if (c && !c->unit) {
                    hid_t o = H5Oopen(f, path, H5P_DEFAULT);
                    if (o >= 0) { c->unit = read_attr_string(o, "unit"); H5Oclose(o); }
                }
                free(v);
            }
            continue;
        }
        rc = add_item(ix, row, f, item, err);
    }
done:
    if (g >= 0) H5Gclose(g);
    H5Fclose(f);
    return rc;
}

/* ---- write and read --------------------------------------------------- */

/* A column's unit: its own (from the point files), else a parameter's from
 * the key table ("parameters/model.J" has eps0); NULL for none. */
static const char *column_unit(const ix_column *c)
{
    if (c->unit) return c->unit;
    int integer;
    return strncmp(c->name, "parameters/", 11) == 0 ? config_key_unit(c->name + 11, &integer) : NULL;
}

static int write_column(hid_t file, hid_t lcpl, const ix_column *c, int64_t n)
{
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)c->width};
    hid_t sp = H5Screate_simple(c->width ? 2 : 1, dims, NULL);
    hid_t ft, mt;
    const void *data;
    char **strs = NULL;
    const size_t cells = (size_t)n * (size_t)(c->width ? c->width : 1);
    if (c->type == IX_F64) { ft = H5Tcopy(H5T_IEEE_F64LE); mt = H5Tcopy(H5T_NATIVE_DOUBLE); data = c->f; }
    else if (c->type == IX_I64) { ft = H5Tcopy(H5T_STD_I64LE); mt = H5Tcopy(H5T_NATIVE_INT64); data = c->i; }
    else {
        ft = vlen_string_type();
        mt = vlen_string_type();
        /* a NULL cell is written as "" so that every row reads back a str */
        strs = malloc(sizeof *strs * (cells ? cells : 1));
        if (!strs) { H5Sclose(sp); H5Tclose(ft); H5Tclose(mt); return 1; }
        for (size_t r = 0; r < cells; r++) strs[r] = c->s[r] ? c->s[r] : "";
        data = strs;
    }
    hid_t d = H5Dcreate2(file, c->name, ft, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int bad = d < 0;
    if (!bad && cells) bad = H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
    if (!bad && c->columns) bad = write_attr_string(d, "columns", c->columns);
    if (!bad && c->desc) bad = write_attr_string(d, "description", c->desc);
    if (!bad) bad = h5md_attr_unit(d, column_unit(c));
    if (d >= 0) H5Dclose(d);
    free(strs);
    H5Sclose(sp);
    H5Tclose(ft);
    H5Tclose(mt);
    return bad;
}

int index_write(const sweep_index *ix, const char *path, int replace, sm_error *err)
{
    char partial[4200];
    if (strlen(path) > sizeof partial - 16) return sm_fail(err, "%s: path too long", path);
    snprintf(partial, sizeof partial, "%s.partial", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    hid_t f = H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) return sm_fail(err, "%s: cannot create the index file: %s", partial, errno ? strerror(errno) : "HDF5 error");
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    int bad = h5md_write_metadata(f) ||
              write_attr_string(f, "sweep_json", ix->sweep_json) ||
              write_attr_string(f, "config_json", ix->config_json) ||
              write_attr_string(f, "source", ix->source) ||
              (ix->shard[0] && write_attr_string(f, "shard", ix->shard));
    if (!bad) {
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "npoints", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        bad = a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &ix->npoints) < 0;
        if (a >= 0) H5Aclose(a);
        H5Sclose(sp);
    }
    for (int k = 0; k < ix->ncol && !bad; k++)
        if (!ix->col[k]->conflict) bad = write_column(f, lcpl, ix->col[k], ix->n);
    H5Pclose(lcpl);
    if (H5Fclose(f) < 0) bad = 1;
    if (bad) return sm_fail(err, "%s: cannot write the index (disk full?)", partial);
    return outfile_publish(partial, path, replace, err);
}

typedef struct {
    sweep_index *ix;
    const char *path;
    sm_error *err;
    int failed;
} read_ctx;

static int read_dataset(hid_t d, const char *name, read_ctx *rc)
{
    sweep_index *ix = rc->ix;
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d);
    hsize_t dims[2] = {0, 0};
    const int rank = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    const H5T_class_t cls = H5Tget_class(ft);
    H5Sclose(sp);
    H5Tclose(ft);
    if (rank < 1 || rank > 2 || (int64_t)dims[0] != ix->n ||
        (cls != H5T_FLOAT && cls != H5T_INTEGER && cls != H5T_STRING))
        return sm_fail(rc->err, "%s: %s: not an index column (%d rows expected)", rc->path, name,
                       (int)ix->n);
    const ix_type type = cls == H5T_FLOAT ? IX_F64 : cls == H5T_INTEGER ? IX_I64 : IX_STR;
    ix_column *c = index_column(ix, name, type, rank == 2 ? (int)dims[1] : 0, rc->err);
    if (!c) return 1;
    c->columns = read_attr_string(d, "columns");
    c->desc = read_attr_string(d, "description");
    c->unit = read_attr_string(d, "unit");
    const size_t cells = (size_t)ix->n * (size_t)(c->width ? c->width : 1);
    if (!cells) return 0;
    herr_t r;
    if (type == IX_F64) r = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->f);
    else if (type == IX_I64) r = H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->i);
    else {
        hid_t mt = vlen_string_type();
        char **tmp = calloc(cells, sizeof *tmp);
        r = tmp ? H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) : -1;
        for (size_t k = 0; r >= 0 && k < cells; k++)
            if (index_set_string(c, (int64_t)k, tmp[k])) r = -1;
        if (tmp) {
            hid_t msp = H5Screate_simple(rank, dims, NULL);
            H5Dvlen_reclaim(mt, msp, H5P_DEFAULT, tmp);
            H5Sclose(msp);
        }
        free(tmp);
        H5Tclose(mt);
    }
    if (r < 0) return sm_fail(rc->err, "%s: cannot read %s", rc->path, name);
    return 0;
}

static herr_t visit_cb(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    (void)info;
    read_ctx *rc = op;
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) return 0;
    int bad = H5Iget_type(o) == H5I_DATASET && read_dataset(o, name, rc);
    H5Oclose(o);
    if (bad) { rc->failed = 1; return 1; }
    return 0;
}

int index_read(sweep_index *ix, const char *path, sm_error *err)
{
    memset(ix, 0, sizeof *ix);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return sm_fail(err, "%s: cannot open as HDF5", path);
    char *sweep = read_attr_string(f, "sweep_json"), *cfg = read_attr_string(f, "config_json"),
         *src = read_attr_string(f, "source"), *shard = read_attr_string(f, "shard");
    int64_t npoints = -1, n = -1;
    if (H5Aexists(f, "npoints") > 0) {
        hid_t a = H5Aopen(f, "npoints", H5P_DEFAULT);
        if (a < 0 || H5Aread(a, H5T_NATIVE_INT64, &npoints) < 0) npoints = -1;
        if (a >= 0) H5Aclose(a);
    }
    if (H5Lexists(f, "point", H5P_DEFAULT) > 0) {
        hid_t d = H5Dopen2(f, "point", H5P_DEFAULT);
        hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
        hsize_t dim = 0;
        if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1) {
            H5Sget_simple_extent_dims(sp, &dim, NULL);
            n = (int64_t)dim;
        }
        if (sp >= 0) H5Sclose(sp);
        if (d >= 0) H5Dclose(d);
    }
    int rc = 0;
    if (!sweep || !cfg || npoints < 0 || n < 0)
        rc = sm_fail(err, "%s: not a softmatrix sweep index (no sweep_json, npoints or /point)", path);
    else if (index_init(ix, n, npoints, shard, sweep, cfg, src, err))
        rc = 1;
    else {
        read_ctx ctx = {ix, path, err, 0};
        if (H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &ctx) < 0 || ctx.failed) {
            if (!ctx.failed) sm_fail(err, "%s: cannot list its datasets", path);
            rc = 1;
        }
    }
    free(sweep);
    free(cfg);
    free(src);
    free(shard);
    H5Fclose(f);
    return rc;
}
