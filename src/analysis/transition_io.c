/* Writing and reading the transition file (transition_io.h). */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/transition_io.h"

static const char *const TARGET_PATHS[TR_NTARGETS] = {"T_g", "T_m", "T_p"};
static const char *const QTY_NAMES[XQ_N] = {"n_sm", "span", "mean_level", "tau_int"};

/* Paths are short (/transition/point_NNNN/L<L>/T_g/jackknife): a base
 * holds at most PATH_BASE characters, a full path PATH_FULL. */
enum { PATH_BASE = 200, PATH_FULL = 512 };

static int put(h5out *h, const char *base, const char *name, int rank, const uint64_t *dims,
               const double *v, sm_error *err)
{
    char path[PATH_FULL];
    snprintf(path, sizeof path, "%.*s/%.40s", PATH_BASE + 64, base, name);
    return h5out_write_array(h, path, rank, dims, v, err);
}

static int put_value(h5out *h, const char *base, const char *name, tr_value v, sm_error *err)
{
    char b[PATH_BASE + 64];
    snprintf(b, sizeof b, "%.*s/%.40s", PATH_BASE, base, name);
    return put(h, b, "value", 0, NULL, &v.value, err) || put(h, b, "error", 0, NULL, &v.error, err);
}

static int write_points(h5out *h, const char *base, const xr_points *p, sm_error *err)
{
    char b[PATH_BASE + 64];
    snprintf(b, sizeof b, "%.*s/points", PATH_BASE, base);
    const uint64_t n = (uint64_t)p->n, dims[2] = {n, (uint64_t)p->nseeds};
    if (p->n == 0) return 0;
    if (put(h, b, "T", 1, &n, p->T, err)) return 1;
    for (int k = 0; k < XQ_N; k++)
        if (put(h, b, QTY_NAMES[k], 2, dims, p->q[k], err)) return 1;
    double *m = malloc(sizeof *m * 4 * n);
    if (!m) return sm_fail(err, "out of memory");
    for (int i = 0; i < p->n; i++) {
        m[i] = xr_mean(p, i, XQ_NSM, -1);
        m[n + i] = xr_sem(p, i, XQ_NSM);
        m[2 * n + i] = xr_mean(p, i, XQ_SPAN, -1);
        m[3 * n + i] = xr_sem(p, i, XQ_SPAN);
    }
    const int rc = put(h, b, "n_sm_mean", 1, &n, m, err) || put(h, b, "n_sm_error", 1, &n, m + n, err) ||
                   put(h, b, "span_mean", 1, &n, m + 2 * n, err) ||
                   put(h, b, "span_error", 1, &n, m + 3 * n, err);
    free(m);
    return rc;
}

static int write_size(h5out *h, const char *prefix, const tr_size *sz, int nseeds, sm_error *err)
{
    char b[PATH_BASE], t[PATH_BASE + 64];
    snprintf(b, sizeof b, "%.*s/L%d", PATH_BASE - 16, prefix, sz->L);
    if (write_points(h, b, &sz->pts, err)) return 1;
    const uint64_t two = 2, ns = (uint64_t)nseeds;
    for (int k = 0; k < TR_NTARGETS; k++) {
        const xr_estimate *e = &sz->est[k];
        const double br[2] = {e->lo, e->hi}, np = e->npoints;
        snprintf(t, sizeof t, "%s/%.8s", b, TARGET_PATHS[k]);
        if (put_value(h, b, TARGET_PATHS[k], (tr_value){e->value, e->error}, err) ||
            put(h, t, "bracket", 1, &two, br, err) || put(h, t, "npoints", 0, NULL, &np, err) ||
            put(h, t, "jackknife", 1, &ns, sz->jk[k], err))
            return 1;
        char def[128];
        snprintf(def, sizeof def, "%s = %g at equilibrium (level dynamics)", QTY_NAMES[TR_TARGETS[k].qty],
                 TR_TARGETS[k].value);
        if (h5out_write_string_attr(h, t, "definition", def, err)) return 1;
    }
    return put_value(h, b, "ratio", sz->ratio, err) || put_value(h, b, "n_z", sz->n_z, err) ||
           put_value(h, b, "viscosity_exponent", sz->exponent, err) ||
           put_value(h, b, "N_z_star", sz->N_z_star, err) ||
           put(h, b, "seconds", 0, NULL, &sz->seconds, err);
}

int transition_write(h5out *h, const char *prefix, const tr_result *r, int nseeds, sm_error *err)
{
    for (int i = 0; i < r->nsizes; i++)
        if (write_size(h, prefix, &r->size[i], nseeds, err)) return 1;
    return 0;
}

/* ---------------------------------------------------------------- reading */

static double read_scalar(hid_t f, const char *base, const char *name)
{
    char path[PATH_FULL];
    snprintf(path, sizeof path, "%.*s/%.40s", PATH_BASE + 64, base, name);
    double v = NAN;
    if (H5Lexists(f, path, H5P_DEFAULT) <= 0) return NAN;
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0) return NAN;
    if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) < 0) v = NAN;
    H5Dclose(d);
    return v;
}

static tr_value read_value(hid_t f, const char *base, const char *name)
{
    char b[PATH_BASE + 64];
    snprintf(b, sizeof b, "%.*s/%s", PATH_BASE, base, name);
    return (tr_value){read_scalar(f, b, "value"), read_scalar(f, b, "error")};
}

typedef struct {
    hid_t f;
    const char *prefix;
    tr_measured *out;
    int max, n;
} read_ctx;

static void read_one(read_ctx *x, const char *name)
{
    int L;
    char tail;
    if (sscanf(name, "L%d%c", &L, &tail) != 1 || x->n >= x->max) return;
    char b[PATH_BASE];
    snprintf(b, sizeof b, "%.64s/%.64s", x->prefix, name);
    tr_measured *m = &x->out[x->n++];
    m->L = L;
    for (int k = 0; k < TR_NTARGETS; k++) m->T[k] = read_value(x->f, b, TARGET_PATHS[k]);
    m->ratio = read_value(x->f, b, "ratio");
    m->n_z = read_value(x->f, b, "n_z");
    m->exponent = read_value(x->f, b, "viscosity_exponent");
    m->N_z_star = read_value(x->f, b, "N_z_star");
}

/* The links of a group by index (the same in every HDF5 1.10+ API). */
static void read_group(read_ctx *x, hid_t g)
{
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0) return;
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char name[64];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                               H5P_DEFAULT) > 0)
            read_one(x, name);
    }
}

static int by_size(const void *a, const void *b)
{
    return ((const tr_measured *)a)->L - ((const tr_measured *)b)->L;
}

int transition_read(const char *path, int point, tr_measured *out, int max, sm_error *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return sm_fail(err, "%s: cannot open as HDF5", path), -1;
    char prefix[64] = "/transition";
    if (H5Lexists(f, "/transition/point_0000", H5P_DEFAULT) > 0)
        snprintf(prefix, sizeof prefix, "/transition/point_%04d", point);
    read_ctx x = {f, prefix, out, max, 0};
    hid_t g = H5Lexists(f, "/transition", H5P_DEFAULT) > 0 && H5Lexists(f, prefix, H5P_DEFAULT) > 0
                  ? H5Gopen2(f, prefix, H5P_DEFAULT)
                  : -1;
    if (g >= 0) {
        read_group(&x, g);
        H5Gclose(g);
    }
    H5Fclose(f);
    if (x.n == 0) return sm_fail(err, "%s: no %s/L<size> groups (not a transition file)", path, prefix), -1;
    qsort(out, (size_t)x.n, sizeof *out, by_size);
    return x.n;
}
