/* The sweep block: validation and expansion into points. Values are kept as
 * compact JSON text because a point is applied through the same override
 * path as --set; sweep_json_print writes numbers with enough digits to read
 * back the same double, so a point's parameters reach the config bit for
 * bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/config.h"
#include "scan/points.h"

#define BIG 9007199254740992.0 /* 2^53 */

static void describe(const cJSON *v, char *out, size_t n)
{
    char *s = v ? cJSON_PrintUnformatted(v) : NULL;
    snprintf(out, n, "%s", s ? s : "nothing");
    if (strlen(out) > 60) strcpy(out + 57, "...");
    free(s);
}

typedef struct { char *p; size_t n, cap; int bad; } strbuf;

static void put(strbuf *b, const char *s, size_t n)
{
    if (b->bad) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) { b->bad = 1; return; }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void print_value(strbuf *b, const cJSON *v)
{
    if (cJSON_IsNumber(v)) {
        /* the shortest text that reads back as the same double: cJSON's
         * own printer accepts 15 digits within an epsilon, which would
         * move a swept value by one unit in the last place */
        char t[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(t, sizeof t, "%.*g", prec, v->valuedouble);
            if (strtod(t, NULL) == v->valuedouble) break;
        }
        put(b, t, strlen(t));
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        const int obj = cJSON_IsObject(v);
        put(b, obj ? "{" : "[", 1);
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child) put(b, ",", 1);
            if (obj) {
                cJSON *key = cJSON_CreateString(c->string);
                char *k = cJSON_PrintUnformatted(key);
                cJSON_Delete(key);
                if (!k) { b->bad = 1; return; }
                put(b, k, strlen(k));
                put(b, ":", 1);
                free(k);
            }
            print_value(b, c);
        }
        put(b, obj ? "}" : "]", 1);
    } else {
        char *t = cJSON_PrintUnformatted(v); /* strings, booleans, null */
        if (!t) { b->bad = 1; return; }
        put(b, t, strlen(t));
        free(t);
    }
}

char *sweep_json_print(const cJSON *v)
{
    strbuf b = {0};
    print_value(&b, v);
    if (b.bad) { free(b.p); return NULL; }
    return b.p;
}

/* Adds value v (taken over) to key k. */
static int key_push(sweep_key *k, cJSON *v, int cap)
{
    if (k->nvalues == 0) {
        k->json = calloc((size_t)cap, sizeof *k->json);
        k->num = calloc((size_t)cap, sizeof *k->num);
        if (!k->json || !k->num) return 1;
    }
    char *txt = sweep_json_print(v);
    if (!txt) return 1;
    k->json[k->nvalues] = txt;
    k->num[k->nvalues] = cJSON_IsNumber(v) ? v->valuedouble : cJSON_IsBool(v) ? (double)cJSON_IsTrue(v) : NAN;
    k->nvalues++;
    return 0;
}

/* numpy.linspace(start, stop, num) or numpy.geomspace: the same arithmetic,
 * so that a Python script can rebuild the values exactly; the end points
 * are exact in both. */
static double range_value(double a, double b, int num, int i, int logscale)
{
    if (i == 0) return a;
    if (i == num - 1) return b;
    if (!logscale) return (double)i * ((b - a) / (double)(num - 1)) + a;
    const double la = log10(a), lb = log10(b);
    return pow(10.0, (double)i * ((lb - la) / (double)(num - 1)) + la);
}

static int parse_range(sweep_key *k, const cJSON *spec, const char *src, sm_error *err)
{
    const char *p = k->path;
    for (const cJSON *m = spec->child; m; m = m->next)
        if (strcmp(m->string, "start") && strcmp(m->string, "stop") && strcmp(m->string, "num") &&
            strcmp(m->string, "scale"))
            return sm_fail(err, "%s: sweep.keys.%s.%s: unknown key (allowed: start, stop, num, "
                           "scale; or values, labels)", src, p, m->string);
    const char *names[2] = {"start", "stop"};
    double ab[2];
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, names[i]);
        char got[80];
        describe(v, got, sizeof got);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return sm_fail(err, "%s: sweep.keys.%s.%s: must be a finite number (got %s)", src, p,
                           names[i], got);
        ab[i] = v->valuedouble;
    }
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(spec, "num");
    char got[80];
    describe(num, got, sizeof got);
    if (!cJSON_IsNumber(num) || floor(num->valuedouble) != num->valuedouble ||
        num->valuedouble < 1 || num->valuedouble > SWEEP_MAX_POINTS)
        return sm_fail(err, "%s: sweep.keys.%s.num: must be an integer >= 1 (at most %d; got %s)",
                       src, p, SWEEP_MAX_POINTS, got);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(spec, "scale");
    int logscale = 0;
    if (sc) {
        describe(sc, got, sizeof got);
        if (!cJSON_IsString(sc) || (strcmp(sc->valuestring, "lin") && strcmp(sc->valuestring, "log")))
            return sm_fail(err, "%s: sweep.keys.%s.scale: must be one of lin|log (got %s)", src, p, got);
        logscale = strcmp(sc->valuestring, "log") == 0;
    }
    if (logscale)
        for (int i = 0; i < 2; i++)
            if (ab[i] <= 0)
                return sm_fail(err, "%s: sweep.keys.%s.%s: must be > 0 with scale \"log\" (got %.17g)",
                               src, p, names[i], ab[i]);
    const int n = (int)num->valuedouble;
    for (int i = 0; i < n; i++) {
        cJSON *v = cJSON_CreateNumber(range_value(ab[0], ab[1], n, i, logscale));
        int bad = !v || key_push(k, v, n);
        cJSON_Delete(v);
        if (bad) return sm_fail(err, "%s: sweep: out of memory", src);
    }
    return 0;
}

static int parse_list(sweep_key *k, const cJSON *list, const char *src, sm_error *err)
{
    const int n = cJSON_GetArraySize(list);
    if (n < 1 || n > SWEEP_MAX_POINTS)
        return sm_fail(err, "%s: sweep.keys.%s: must be a non-empty list of values (at most %d)",
                       src, k->path, SWEEP_MAX_POINTS);
    for (const cJSON *v = list->child; v; v = v->next) {
        cJSON *d = cJSON_Duplicate(v, 1);
        int bad = !d || key_push(k, d, n);
        cJSON_Delete(d);
        if (bad) return sm_fail(err, "%s: sweep: out of memory", src);
    }
    return 0;
}

static int parse_labels(sweep_key *k, const cJSON *labels, const char *src, sm_error *err)
{
    const int n = cJSON_IsArray(labels) ? cJSON_GetArraySize(labels) : -1;
    if (n != k->nvalues)
        return sm_fail(err, "%s: sweep.keys.%s.labels: must be a list of %d strings, one per value",
                       src, k->path, k->nvalues);
    k->label = calloc((size_t)n, sizeof *k->label);
    if (!k->label) return sm_fail(err, "%s: sweep: out of memory", src);
    int i = 0;
    for (const cJSON *v = labels->child; v; v = v->next, i++) {
        if (!cJSON_IsString(v) || !v->valuestring[0])
            return sm_fail(err, "%s: sweep.keys.%s.labels[%d]: must be a non-empty string", src,
                           k->path, i);
        for (int j = 0; j < i; j++)
            if (strcmp(k->label[j], v->valuestring) == 0)
                return sm_fail(err, "%s: sweep.keys.%s.labels[%d]: \"%s\" given twice", src,
                               k->path, i, v->valuestring);
        k->label[i] = strdup(v->valuestring);
        if (!k->label[i]) return sm_fail(err, "%s: sweep: out of memory", src);
    }
    return 0;
}

static sweep_kind common_kind(const sweep_key *k)
{
    int nums = 1, ints = 1, bools = 1, strs = 1;
    for (int i = 0; i < k->nvalues; i++) {
        cJSON *v = cJSON_Parse(k->json[i]);
        nums &= cJSON_IsNumber(v);
        ints &= cJSON_IsNumber(v) && floor(v->valuedouble) == v->valuedouble && fabs(v->valuedouble) < BIG;
        bools &= cJSON_IsBool(v);
        strs &= cJSON_IsString(v);
        cJSON_Delete(v);
    }
    return ints ? SWEEP_INTEGER : nums ? SWEEP_NUMBER : bools ? SWEEP_BOOL : strs ? SWEEP_STRING : SWEEP_JSON;
}

static int parse_key(sweep_key *k, const cJSON *spec, const char *src, sm_error *err)
{
    const char *p = k->path;
    if (cJSON_IsArray(spec)) return parse_list(k, spec, src, err);
    if (!cJSON_IsObject(spec))
        return sm_fail(err, "%s: sweep.keys.%s: must be a list of values, {start, stop, num, scale} "
                       "or {values, labels}", src, p);
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(spec, "values");
    if (!values) return parse_range(k, spec, src, err);
    for (const cJSON *m = spec->child; m; m = m->next)
        if (strcmp(m->string, "values") && strcmp(m->string, "labels"))
            return sm_fail(err, "%s: sweep.keys.%s.%s: unknown key (allowed with values: values, "
                           "labels)", src, p, m->string);
    if (!cJSON_IsArray(values))
        return sm_fail(err, "%s: sweep.keys.%s.values: must be a non-empty list of values", src, p);
    if (parse_list(k, values, src, err)) return 1;
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(spec, "labels");
    return labels ? parse_labels(k, labels, src, err) : 0;
}

/* The expanded block, recorded in the index so that merge can tell shards
 * of one sweep from shards of another. */
static char *expanded_json(const sweep_spec *s)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "mode", s->mode == SWEEP_ZIP ? "zip" : "product");
    cJSON *keys = cJSON_AddObjectToObject(root, "keys");
    for (int k = 0; k < s->nkeys; k++) {
        const sweep_key *K = &s->key[k];
        cJSON *o = cJSON_AddObjectToObject(keys, K->path);
        cJSON *vals = cJSON_AddArrayToObject(o, "values");
        for (int i = 0; i < K->nvalues; i++) cJSON_AddItemToArray(vals, cJSON_Parse(K->json[i]));
        if (K->label) {
            cJSON *lab = cJSON_AddArrayToObject(o, "labels");
            for (int i = 0; i < K->nvalues; i++) cJSON_AddItemToArray(lab, cJSON_CreateString(K->label[i]));
        }
    }
    char *txt = sweep_json_print(root);
    cJSON_Delete(root);
    return txt;
}

int sweep_parse(sweep_spec *s, const cJSON *block, const char *src, sm_error *err)
{
    memset(s, 0, sizeof *s);
    if (!cJSON_IsObject(block))
        return sm_fail(err, "%s: sweep: must be an object {\"mode\": \"product\"|\"zip\", \"keys\": {...}}", src);
    for (const cJSON *m = block->child; m; m = m->next)
        if (strcmp(m->string, "mode") && strcmp(m->string, "keys"))
            return sm_fail(err, "%s: sweep.%s: unknown key (allowed: mode, keys)", src, m->string);
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(block, "mode");
    if (mode) {
        char got[80];
        describe(mode, got, sizeof got);
        if (!cJSON_IsString(mode) || (strcmp(mode->valuestring, "product") && strcmp(mode->valuestring, "zip")))
            return sm_fail(err, "%s: sweep.mode: must be one of product|zip (got %s)", src, got);
        s->mode = strcmp(mode->valuestring, "zip") == 0 ? SWEEP_ZIP : SWEEP_PRODUCT;
    }
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(block, "keys");
    if (!keys) return sm_fail(err, "%s: sweep.keys: missing (an object mapping key paths to values)", src);
    if (!cJSON_IsObject(keys) || !keys->child)
        return sm_fail(err, "%s: sweep.keys: must be an object naming at least one key path", src);
    for (const cJSON *m = keys->child; m; m = m->next) {
        const char *p = m->string;
        char hint[160];
        if (!config_key_known(p))
            return sm_fail(err, "%s: sweep.keys.%s: unknown key path%s (see 'softmatrix --help' for "
                           "the keys)", src, p, config_key_suggest(p, hint, sizeof hint));
        if (strcmp(p, "output.path") == 0)
            return sm_fail(err, "%s: sweep.keys.output.path: cannot be swept (the sweep names one "
                           "file per point)", src);
        for (int k = 0; k < s->nkeys; k++) {
            if (strcmp(s->key[k].path, p) == 0)
                return sm_fail(err, "%s: sweep.keys.%s: given twice", src, p);
            /* each replaces the other when applied, so the product is ill-defined */
            if ((!strcmp(p, "temperature") && !strcmp(s->key[k].path, "schedule")) ||
                (!strcmp(p, "schedule") && !strcmp(s->key[k].path, "temperature")))
                return sm_fail(err, "%s: sweep.keys.%s: cannot be swept together with %s (each "
                               "replaces the other)", src, p, s->key[k].path);
        }
        if (s->nkeys == SWEEP_MAX_KEYS)
            return sm_fail(err, "%s: sweep.keys: at most %d key paths", src, SWEEP_MAX_KEYS);
        sweep_key *K = &s->key[s->nkeys++];
        snprintf(K->path, sizeof K->path, "%s", p);
        if (parse_key(K, m, src, err)) return 1;
        K->kind = common_kind(K);
    }
    if (s->mode == SWEEP_ZIP) {
        for (int k = 1; k < s->nkeys; k++)
            if (s->key[k].nvalues != s->key[0].nvalues)
                return sm_fail(err, "%s: sweep.keys: mode \"zip\" needs one length for every key "
                               "(%s has %d values, %s has %d)", src, s->key[0].path,
                               s->key[0].nvalues, s->key[k].path, s->key[k].nvalues);
        s->npoints = s->key[0].nvalues;
    } else {
        s->npoints = 1;
        for (int k = 0; k < s->nkeys; k++) {
            s->npoints *= s->key[k].nvalues;
            if (s->npoints > SWEEP_MAX_POINTS)
                return sm_fail(err, "%s: sweep.keys: the product has more than %d points", src,
                               SWEEP_MAX_POINTS);
        }
    }
    s->json = expanded_json(s);
    if (!s->json) return sm_fail(err, "%s: sweep: out of memory", src);
    return 0;
}

void sweep_free(sweep_spec *s)
{
    for (int k = 0; k < s->nkeys; k++) {
        sweep_key *K = &s->key[k];
        for (int i = 0; i < K->nvalues; i++) {
            free(K->json[i]);
            if (K->label) free(K->label[i]);
        }
        free(K->json);
        free(K->num);
        free(K->label);
    }
    free(s->json);
    memset(s, 0, sizeof *s);
}

void sweep_point_values(const sweep_spec *s, int64_t point, int *vi)
{
    if (s->mode == SWEEP_ZIP) {
        for (int k = 0; k < s->nkeys; k++) vi[k] = (int)point;
        return;
    }
    /* row-major: the last key varies fastest */
    for (int k = s->nkeys - 1; k >= 0; k--) {
        vi[k] = (int)(point % s->key[k].nvalues);
        point /= s->key[k].nvalues;
    }
}

char *sweep_point_set(const sweep_spec *s, int64_t point, int k)
{
    int vi[SWEEP_MAX_KEYS];
    sweep_point_values(s, point, vi);
    const char *v = s->key[k].json[vi[k]];
    size_t n = strlen(s->key[k].path) + strlen(v) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s=%s", s->key[k].path, v);
    return out;
}

void sweep_point_describe(const sweep_spec *s, int64_t point, char *out, size_t n)
{
    int vi[SWEEP_MAX_KEYS];
    sweep_point_values(s, point, vi);
    out[0] = 0;
    for (int k = 0; k < s->nkeys; k++) {
        const sweep_key *K = &s->key[k];
        const char *v = K->label ? K->label[vi[k]] : K->json[vi[k]];
        size_t len = strlen(out);
        snprintf(out + len, n - len, "%s%s=%.40s%s", k ? " " : "", K->path, v,
                 strlen(v) > 40 ? "..." : "");
    }
}
