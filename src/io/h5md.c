/* H5MD metadata, attributes and the /parameters tree. */
#include <math.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "core/units.h"
#include "core/version.h"
#include "io/config.h"
#include "io/h5md.h"

static int attr_write(hid_t obj, const char *name, hid_t type, hid_t space, const void *buf)
{
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, buf);
    if (a >= 0) H5Aclose(a);
    return rc < 0;
}

static hid_t vlen_string(H5T_cset_t cset)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, cset);
    return t;
}

int h5md_attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t t = vlen_string(H5T_CSET_UTF8), sp = H5Screate(H5S_SCALAR);
    int bad = attr_write(obj, name, t, sp, &value);
    H5Sclose(sp);
    H5Tclose(t);
    return bad;
}

int h5md_attr_fixed(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, strlen(value) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    int bad = attr_write(obj, name, t, sp, value);
    H5Sclose(sp);
    H5Tclose(t);
    return bad;
}

int h5md_attr_ints(hid_t obj, const char *name, hid_t type, const void *v, hsize_t n)
{
    hid_t sp = H5Screate_simple(1, &n, NULL);
    int bad = attr_write(obj, name, type, sp, v);
    H5Sclose(sp);
    return bad;
}

int h5md_attr_unit(hid_t obj, const char *unit)
{
    if (!unit) return 0;
    hid_t t = vlen_string(H5T_CSET_ASCII), sp = H5Screate(H5S_SCALAR);
    int bad = attr_write(obj, "unit", t, sp, &unit);
    H5Sclose(sp);
    H5Tclose(t);
    return bad;
}

/* The person responsible for the run: SOFTMATRIX_AUTHOR when set (a batch
 * system's account is rarely the scientist), else the account's full name
 * from the password database, else its login name. */
static void author_name(char *buf, size_t n)
{
    const char *env = getenv("SOFTMATRIX_AUTHOR");
    if (env && env[0]) {
        snprintf(buf, n, "%s", env);
        return;
    }
    const struct passwd *pw = getpwuid(getuid());
    if (pw && pw->pw_gecos && pw->pw_gecos[0] && pw->pw_gecos[0] != ',')
        snprintf(buf, n, "%.*s", (int)strcspn(pw->pw_gecos, ","), pw->pw_gecos);
    else snprintf(buf, n, "%s", pw && pw->pw_name ? pw->pw_name : "unknown");
}

static int subgroup(hid_t parent, const char *name, hid_t *g)
{
    *g = H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    return *g < 0;
}

int h5md_write_metadata(hid_t file)
{
    static const int version[2] = {1, 1}, units_version[2] = {1, 0};
    char author[256];
    author_name(author, sizeof author);
    hid_t h5md = -1, a = -1, c = -1, m = -1, u = -1;
    int bad = subgroup(file, "/h5md", &h5md) ||
              h5md_attr_ints(h5md, "version", H5T_NATIVE_INT, version, 2) ||
              subgroup(h5md, "author", &a) || h5md_attr_fixed(a, "name", author) ||
              subgroup(h5md, "creator", &c) || h5md_attr_fixed(c, "name", "softmatrix") ||
              h5md_attr_fixed(c, "version", SOFTMATRIX_VERSION) ||
              subgroup(h5md, "modules", &m) || subgroup(m, "units", &u) ||
              h5md_attr_ints(u, "version", H5T_NATIVE_INT, units_version, 2) ||
              h5md_attr_string(u, "system", UNIT_SYSTEM);
    const hid_t groups[5] = {u, m, c, a, h5md};
    for (int i = 0; i < 5; i++)
        if (groups[i] >= 0) H5Gclose(groups[i]);
    return bad;
}

/* --- the resolved configuration ------------------------------------------ */

/* A dataset at g/name of n elements (scalar when n < 0) from buf. */
static int put(hid_t g, const char *name, hid_t ftype, hid_t mtype, hssize_t n, const void *buf,
               const char *unit)
{
    const hsize_t dim = n < 0 ? 0 : (hsize_t)n;
    hid_t sp = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t d = H5Dcreate2(g, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    int bad = d < 0 || (dim + (n < 0) > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) ||
              h5md_attr_unit(d, unit);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return bad;
}

static int put_bool(hid_t g, const char *name, int value)
{
    /* the enum h5py reads as numpy.bool_ */
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    const signed char f = 0, tr = 1, v = (signed char)(value != 0);
    H5Tenum_insert(t, "FALSE", &f);
    H5Tenum_insert(t, "TRUE", &tr);
    int bad = put(g, name, t, t, -1, &v, NULL);
    H5Tclose(t);
    return bad;
}

static int put_strings(hid_t g, const char *name, const char **s, hssize_t n)
{
    hid_t t = vlen_string(H5T_CSET_UTF8);
    int bad = put(g, name, t, t, n, s, NULL);
    H5Tclose(t);
    return bad;
}

/* One key: path is its config path ("model.J"), for its unit and type. */
static int put_value(hid_t g, const char *name, const char *path, const cJSON *v)
{
    int integer = 0;
    const char *unit = config_key_unit(path, &integer);
    if (cJSON_IsBool(v)) return put_bool(g, name, cJSON_IsTrue(v));
    if (cJSON_IsString(v)) return put_strings(g, name, (const char **)&v->valuestring, -1);
    if (cJSON_IsNumber(v)) {
        const double x = v->valuedouble;
        if (integer && x == floor(x) && fabs(x) < 9.3e18) {
            const int64_t i = (int64_t)x;
            return put(g, name, H5T_STD_I64LE, H5T_NATIVE_INT64, -1, &i, unit);
        }
        return put(g, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, -1, &x, unit);
    }
    if (cJSON_IsArray(v)) {
        const int n = cJSON_GetArraySize(v);
        const char **s = calloc((size_t)n + 1, sizeof *s);
        if (!s) return 1;
        int k = 0;
        for (const cJSON *e = v->child; e; e = e->next) s[k++] = cJSON_IsString(e) ? e->valuestring : "";
        int bad = put_strings(g, name, s, n);
        free(s);
        return bad;
    }
    return 0;
}

/* The schedule as columns, one row per segment ({T} is T_from = T_to). */
static int put_schedule(hid_t parent, const cJSON *arr)
{
    const int n = cJSON_GetArraySize(arr);
    double *T = malloc(sizeof *T * 2 * ((size_t)n + 1));
    int64_t *sw = malloc(sizeof *sw * 2 * ((size_t)n + 1));
    hid_t g = H5Gcreate2(parent, "schedule", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = !T || !sw || g < 0, k = 0;
    for (const cJSON *e = arr->child; e && !bad; e = e->next, k++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "T");
        const cJSON *a = t ? t : cJSON_GetObjectItemCaseSensitive(e, "T_from");
        const cJSON *b = t ? t : cJSON_GetObjectItemCaseSensitive(e, "T_to");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "sweeps");
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(e, "equilibration");
        T[k] = a ? a->valuedouble : NAN;
        T[n + k] = b ? b->valuedouble : NAN;
        sw[k] = s ? (int64_t)s->valuedouble : 0;
        sw[n + k] = q ? (int64_t)q->valuedouble : 0;
    }
    bad = bad || put(g, "T_from", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, T, UNIT_TEMPERATURE) ||
          put(g, "T_to", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, T + n, UNIT_TEMPERATURE) ||
          put(g, "sweeps", H5T_STD_I64LE, H5T_NATIVE_INT64, n, sw, UNIT_TIME) ||
          put(g, "equilibration", H5T_STD_I64LE, H5T_NATIVE_INT64, n, sw + n, UNIT_TIME);
    if (g >= 0) H5Gclose(g);
    free(T);
    free(sw);
    return bad;
}

int h5md_write_parameters(hid_t g, const char *config_json)
{
    cJSON *root = cJSON_Parse(config_json);
    if (!root) return 1;
    int bad = 0;
    for (const cJSON *it = root->child; it && !bad; it = it->next) {
        if (cJSON_IsArray(it) && strcmp(it->string, "schedule") == 0) {
            bad = put_schedule(g, it);
        } else if (cJSON_IsObject(it)) {
            hid_t s = H5Gcreate2(g, it->string, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            bad = s < 0;
            for (const cJSON *m = it->child; m && !bad; m = m->next) {
                char path[256];
                snprintf(path, sizeof path, "%s.%s", it->string, m->string);
                bad = put_value(s, m->string, path, m);
            }
            if (s >= 0) H5Gclose(s);
        } else {
            bad = put_value(g, it->string, it->string, it);
        }
    }
    cJSON_Delete(root);
    return bad;
}
