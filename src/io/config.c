/* JSON configuration: schema, overrides, validation, resolved output. */
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "core/suggest.h"
#include "core/units.h"
#include "dynamics/registry.h"
#include "io/config.h"
#include "io/markdown.h"

/* K_DYNAMICS: a name from the dynamics registry, stored as its index */
typedef enum { K_INT, K_I64, K_NUM, K_BOOL, K_ENUM, K_DYNAMICS, K_STR, K_SPECIAL } key_type;

typedef struct {
    const char *path;
    key_type type;
    size_t off;          /* offset of the target in sm_config */
    double min, max;     /* inclusive range for numbers */
    const char *choices; /* K_ENUM: "a|b|c", stored as the index */
    const char *def;     /* default as JSON text; NULL: required or special */
    const char *help;
    const char *unit;    /* physical unit (core/units.h), NULL: a pure number or none */
} config_key;

#define OFF(f) offsetof(sm_config, f)
#define BIG 9007199254740992.0 /* 2^53: the largest integer JSON doubles keep exactly */

static const config_key KEYS[] = {
    {"lattice.Lx", K_INT, OFF(Lx), 1, 65536, NULL, "64", "sites in x (even when periodic)", NULL},
    {"lattice.Ly", K_INT, OFF(Ly), 1, 65536, NULL, "64", "sites in y (even when periodic)", NULL},
    {"lattice.boundary", K_ENUM, OFF(boundary), 0, 0, "periodic|open", "\"periodic\"",
     "boundary conditions", NULL},
    {"model.eps_C", K_NUM, OFF(model.eps_C), -1e6, 1e6, NULL, "0.125", "C-boson energy eps_C", UNIT_ENERGY},
    {"model.g", K_NUM, OFF(model.g), 1e-300, 1e300, NULL, "4", "closed-loop degeneracy g > 0", NULL},
    {"model.eps_step", K_NUM, OFF(model.eps_step), -1e6, 1e6, NULL, "0",
     "contour tension per IE arrow", UNIT_ENERGY},
    {"model.J", K_NUM, OFF(model.J), -1e6, 1e6, NULL, "0.125",
     "MIEV coupling (J > 0 antiparallel)", UNIT_ENERGY},
    {"model.h", K_NUM, OFF(model.h), -1e6, 1e6, NULL, "0", "external z-field (enters as h/16)", UNIT_ENERGY},
    {"model.freeze_levels", K_BOOL, OFF(model.freeze_levels), 0, 0, NULL, "false",
     "keep levels at their initial values (Ising limit)", NULL},
    {"model.N_c", K_NUM, OFF(model.N_c), 1.0, 1e12, NULL, "200",
     "soft-matrix size N_c (HSMs) in n_z = N_c^(-Tg/Tm)", NULL},
    {"model.Tg_over_Tm", K_NUM, OFF(model.Tg_over_Tm), 0.0, 1.0, NULL, "0.625",
     "Tg/Tm in n_z = N_c^(-Tg/Tm)", NULL},
    {"dynamics.kind", K_DYNAMICS, OFF(dynamics), 0, 0, NULL, "\"level\"", "dynamics kind", NULL},
    {"dynamics.trap_barrier", K_NUM, OFF(model.trap_barrier), -1e6, 1e6, NULL, "1",
     "cage: E_trap for jumps into/out of the two-electron trap", UNIT_ENERGY},
    {"dynamics.async_barrier", K_NUM, OFF(model.async_barrier), -1e6, 1e6, NULL, "0.125",
     "cage: E_async for single jumps within a diagonal", UNIT_ENERGY},
    {"temperature", K_SPECIAL, 0, 1e-300, 1e300, NULL, NULL,
     "constant temperature T > 0 (or give schedule)", UNIT_TEMPERATURE},
    {"schedule", K_SPECIAL, 0, 0, 0, NULL, NULL,
     "list of segments {T, sweeps} or {T_from, T_to, sweeps}", UNIT_TEMPERATURE ", " UNIT_TIME},
    {"run.seed", K_I64, OFF(seed), 0, BIG, NULL, "1", "random seed (integer 0..2^53)", NULL},
    {"run.equilibration_sweeps", K_I64, OFF(equilibration_sweeps), 0, BIG, NULL, "100",
     "unmeasured sweeps at the first temperature", UNIT_TIME},
    {"run.equilibration_dynamics", K_ENUM, OFF(equilibration_dynamics), 0, 0, "level|same", "\"level\"",
     "dynamics of run.equilibration_sweeps: level (equilibrium sampling; a cage run then starts "
     "from that state, PCP phases uniform) or same (dynamics.kind throughout)", NULL},
    {"run.equilibrate_each_segment", K_BOOL, OFF(equilibrate_each_segment), 0, 0, NULL, "false",
     "with equilibration_dynamics level: every hold segment's own equilibration sweeps run with the level "
     "dynamics, then dynamics.kind starts afresh as at t = 0 (ramps excluded)", NULL},
    {"run.sweeps", K_I64, OFF(sweeps), 1, BIG, NULL, "1000",
     "measured sweeps (temperature mode only)", UNIT_TIME},
    {"run.measure_every", K_I64, OFF(measure_every), 1, BIG, NULL, "1",
     "sweeps between measurements", UNIT_TIME},
    {"run.snapshot_every", K_I64, OFF(snapshot_every), 0, BIG, NULL, "0",
     "sweeps between snapshots (0: none)", UNIT_TIME},
    {"run.census_every", K_I64, OFF(census_every), 0, BIG, NULL, "0",
     "measured sweeps between cluster censuses (0: none)", UNIT_TIME},
    {"run.threads", K_INT, OFF(threads), 0, 4096, NULL, "0", "OpenMP threads (0: default)", NULL},
    {"run.checkpoint_every", K_I64, OFF(checkpoint_every), 0, BIG, NULL, "0",
     "sweeps between checkpoints <output>.ckpt (0: by wall time only)", UNIT_TIME},
    {"run.checkpoint_seconds", K_NUM, OFF(checkpoint_seconds), 0, 1e9, NULL, "300",
     "wall-clock seconds between checkpoints (0: by sweeps only)", UNIT_SECONDS},
    {"init.level", K_SPECIAL, 0, -1, 8, NULL, NULL,
     "initial level -1..8 everywhere, or \"random\" (uniform in {-1,0})", NULL},
    {"init.sigma", K_ENUM, OFF(init_sigma), 0, 0, "random|up|down|neel", "\"random\"",
     "initial MIEV orientation", NULL},
    {"output.path", K_STR, OFF(output_path), 0, 0, NULL, "\"softmatrix.h5\"",
     "HDF5 output file", NULL},
    {"output.snapshot_fields", K_SPECIAL, 0, 0, 0, NULL, NULL,
     "list from level, sigma, phase, z, pcp (default [\"level\", \"sigma\"])", NULL},
    {"output.compression", K_INT, OFF(compression), 0, 9, NULL, "4",
     "gzip level of snapshot datasets", NULL},
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

static const char *const SECTIONS[] = {"lattice", "model", "dynamics", "run", "init", "output"};
#define NSECTIONS (sizeof SECTIONS / sizeof SECTIONS[0])
const char *const SNAP_FIELD_NAMES[SNAP_NFIELDS] = {"level", "sigma", "phase", "z", "pcp"};

/* Looks a dotted path up in the JSON tree; NULL when absent. */
static cJSON *lookup(cJSON *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *node = root;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && node; tok = strtok_r(NULL, ".", &save))
        node = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, tok) : NULL;
    return node;
}

static int enum_index(const char *choices, const char *s)
{
    int i = 0;
    const char *p = choices;
    size_t n = strlen(s);
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0) return i;
        i++;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

static void describe(const cJSON *v, char *out, size_t n)
{
    /* cJSON parses 1e999 to inf and prints it as null, which would make the
     * message claim the file said null */
    if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) {
        snprintf(out, n, "a number beyond the double range");
        return;
    }
    char *s = cJSON_PrintUnformatted(v);
    snprintf(out, n, "%s", s ? s : "?");
    if (strlen(out) > 60) strcpy(out + 57, "...");
    free(s);
}

/* Range text for messages, e.g. "an integer in 1..65536". */
static void allowed(const config_key *k, char *out, size_t n)
{
    const char *what = k->type == K_NUM ? "a number" : "an integer";
    if (k->min <= -1e6 && k->max >= 1e6) snprintf(out, n, "a finite number");
    else if (k->type == K_NUM && k->min == 1e-300) snprintf(out, n, "a number > 0");
    else snprintf(out, n, "%s in %.16g..%.16g", what, k->min, k->max); /* 2^53 exactly */
}

/* The messages describe the value only when it is refused: printing a value
 * costs more than checking it, and a sweep checks every key of every point. */
static int refuse(const config_key *k, const cJSON *v, const char *src, const char *must, sm_error *err)
{
    char got[80];
    describe(v, got, sizeof got);
    return sm_fail(err, "%s: %s: must be %s (got %s)", src, k->path, must, got);
}

static int number_in_range(const config_key *k, const cJSON *v, double *out, const char *src,
                           sm_error *err)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
        ((k->type == K_INT || k->type == K_I64) && floor(v->valuedouble) != v->valuedouble) ||
        v->valuedouble < k->min || v->valuedouble > k->max) {
        char ok[80];
        allowed(k, ok, sizeof ok);
        return refuse(k, v, src, ok, err);
    }
    *out = v->valuedouble;
    return 0;
}

static int set_key(sm_config *c, const config_key *k, const cJSON *v, const char *src,
                   sm_error *err)
{
    char *base = (char *)c + k->off;
    char must[300];
    double x;
    switch (k->type) {
    case K_INT:
        if (number_in_range(k, v, &x, src, err)) return 1;
        *(int *)base = (int)x;
        return 0;
    case K_I64:
        if (number_in_range(k, v, &x, src, err)) return 1;
        *(int64_t *)base = (int64_t)x;
        return 0;
    case K_NUM:
        if (number_in_range(k, v, &x, src, err)) return 1;
        *(double *)base = x;
        return 0;
    case K_BOOL:
        if (!cJSON_IsBool(v)) return refuse(k, v, src, "true or false", err);
        *(bool *)base = cJSON_IsTrue(v);
        return 0;
    case K_ENUM: {
        int i = cJSON_IsString(v) ? enum_index(k->choices, v->valuestring) : -1;
        snprintf(must, sizeof must, "one of %s", k->choices);
        if (i < 0) return refuse(k, v, src, must, err);
        *(int *)base = i;
        return 0;
    }
    case K_DYNAMICS: {
        int i = cJSON_IsString(v) ? dynamics_index(v->valuestring) : -1;
        if (i < 0) {
            char choices[256];
            dynamics_choices(choices, sizeof choices);
            snprintf(must, sizeof must, "one of %s", choices);
            return refuse(k, v, src, must, err);
        }
        *(int *)base = i;
        return 0;
    }
    case K_STR:
        if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= CONFIG_PATH_MAX)
            return refuse(k, v, src, "a non-empty string", err);
        snprintf(base, CONFIG_PATH_MAX, "%s", v->valuestring);
        return 0;
    case K_SPECIAL:
        break;
    }
    return 0;
}

static const config_key *find_key(const char *path)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(KEYS[i].path, path) == 0) return &KEYS[i];
    return NULL;
}

int config_key_known(const char *path) { return find_key(path) != NULL; }

const char *config_key_unit(const char *path, int *integer)
{
    /* a schedule segment's members: its temperatures and sweep counts */
    static const struct { const char *name, *unit; int integer; } SEGMENT[] = {
        {"T", UNIT_TEMPERATURE, 0}, {"T_from", UNIT_TEMPERATURE, 0}, {"T_to", UNIT_TEMPERATURE, 0},
        {"sweeps", UNIT_TIME, 1}, {"equilibration", UNIT_TIME, 1}};
    *integer = 0;
    if (strncmp(path, "schedule.", 9) == 0) {
        for (size_t i = 0; i < sizeof SEGMENT / sizeof SEGMENT[0]; i++)
            if (strcmp(path + 9, SEGMENT[i].name) == 0) {
                *integer = SEGMENT[i].integer;
                return SEGMENT[i].unit;
            }
        return NULL;
    }
    const config_key *k = find_key(path);
    if (!k) return NULL;
    *integer = k->type == K_INT || k->type == K_I64 || strcmp(path, "init.level") == 0;
    return k->type == K_SPECIAL && strcmp(path, "temperature") != 0 ? NULL : k->unit;
}

/* A key given twice: cJSON keeps both and lookups see the first, so the
 * second would be silently ignored. where is "" at the top level. Quadratic:
 * callers first make sure every key is a known one, so an object holding
 * many keys has duplicates among its first few and this returns early (a
 * file of 100000 distinct unknown keys took 15 s of CPU here before). */
static int check_duplicates(const cJSON *obj, const char *where, const char *src, sm_error *err)
{
    for (const cJSON *a = obj->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (strcmp(a->string, b->string) == 0)
                return sm_fail(err, "%s: %s%s%s: key given twice", src, where, where[0] ? "." : "",
                               a->string);
    return 0;
}

/* Every key in the file must be known: a typo is an error, never ignored. */
/* "; did you mean 'X'?" for an unknown top-level name, or "". */
static const char *suggest_top(const char *name, char *out, size_t n)
{
    static const char *const OTHER[] = {"temperature", "schedule", "description", "sweep"};
    sm_suggest s;
    sm_suggest_init(&s, name);
    for (size_t i = 0; i < NSECTIONS; i++) sm_suggest_add(&s, SECTIONS[i]);
    for (size_t i = 0; i < sizeof OTHER / sizeof OTHER[0]; i++) sm_suggest_add(&s, OTHER[i]);
    return sm_suggest_text(&s, "", out, n);
}

/* The same for member of section: its nearest key in the section, else a
 * key of that name elsewhere ("run.boundary": "lattice.boundary"). */
static const char *suggest_member(const char *section, const char *member, char *out, size_t n)
{
    sm_suggest s;
    sm_suggest_init(&s, member);
    const size_t len = strlen(section);
    for (size_t i = 0; i < NKEYS; i++)
        if (strncmp(KEYS[i].path, section, len) == 0 && KEYS[i].path[len] == '.')
            sm_suggest_add(&s, KEYS[i].path + len + 1);
    if (s.best) {
        char full[128];
        snprintf(full, sizeof full, "%s.", section);
        return sm_suggest_text(&s, full, out, n);
    }
    for (size_t i = 0; i < NKEYS; i++) {
        const char *dot = strchr(KEYS[i].path, '.');
        if (strcmp(dot ? dot + 1 : KEYS[i].path, member) == 0) {
            snprintf(out, n, "; did you mean '%s'?", KEYS[i].path);
            return out;
        }
    }
    if (n) out[0] = 0;
    return out;
}

const char *config_key_suggest(const char *path, char *out, size_t n)
{
    sm_suggest s;
    sm_suggest_init(&s, path);
    for (size_t i = 0; i < NKEYS; i++) sm_suggest_add(&s, KEYS[i].path);
    if (s.best) return sm_suggest_text(&s, "", out, n);
    const char *dot = strchr(path, '.');
    return dot ? suggest_member("", dot + 1, out, n) : suggest_top(path, out, n);
}

static int check_unknown(cJSON *root, const char *src, sm_error *err)
{
    char hint[160];
    for (cJSON *it = root->child; it; it = it->next) {
        const char *name = it->string;
        if (strcmp(name, "temperature") == 0 || strcmp(name, "schedule") == 0 ||
            strcmp(name, "description") == 0)
            continue;
        /* sweep.c strips the block before it parses a point; reaching here
         * means a sweep config was given to run or validate */
        if (strcmp(name, "sweep") == 0)
            return sm_fail(err, "%s: sweep: a sweep config runs with 'softmatrix sweep CONFIG' "
                           "(run and validate take one point)", src);
        size_t s;
        for (s = 0; s < NSECTIONS; s++)
            if (strcmp(name, SECTIONS[s]) == 0) break;
        if (s == NSECTIONS)
            return sm_fail(err, "%s: %s: unknown key%s (allowed: lattice, model, dynamics, run, "
                           "init, output, temperature, schedule, description)", src, name,
                           suggest_top(name, hint, sizeof hint));
    }
    if (check_duplicates(root, "", src, err)) return 1;
    for (cJSON *it = root->child; it; it = it->next) {
        const char *name = it->string;
        size_t s;
        for (s = 0; s < NSECTIONS; s++)
            if (strcmp(name, SECTIONS[s]) == 0) break;
        if (s == NSECTIONS) continue; /* temperature, schedule, description */
        if (!cJSON_IsObject(it))
            return sm_fail(err, "%s: %s: must be an object", src, name);
        for (cJSON *m = it->child; m; m = m->next) {
            char path[256];
            snprintf(path, sizeof path, "%s.%s", name, m->string);
            if (find_key(path)) continue;
            char list[512] = "";
            size_t n = strlen(name);
            for (size_t i = 0; i < NKEYS; i++)
                if (strncmp(KEYS[i].path, name, n) == 0 && KEYS[i].path[n] == '.') {
                    if (list[0]) strncat(list, ", ", sizeof list - strlen(list) - 1);
                    strncat(list, KEYS[i].path + n + 1, sizeof list - strlen(list) - 1);
                }
            return sm_fail(err, "%s: %s: unknown key%s (allowed in %s: %s)", src, path,
                           suggest_member(name, m->string, hint, sizeof hint), name, list);
        }
        if (check_duplicates(it, name, src, err)) return 1;
    }
    return 0;
}

static int parse_segment(sm_config *c, int i, const cJSON *s, const char *src, sm_error *err)
{
    char where[64];
    snprintf(where, sizeof where, "schedule[%d]", i);
    if (!cJSON_IsObject(s))
        return sm_fail(err, "%s: %s: must be an object {T, sweeps} or {T_from, T_to, sweeps}", src, where);
    static const char *const MEMBERS[] = {"T", "T_from", "T_to", "sweeps", "equilibration"};
    for (const cJSON *m = s->child; m; m = m->next) {
        sm_suggest sg;
        sm_suggest_init(&sg, m->string);
        int known = 0;
        for (int k = 0; k < 5; k++) {
            known |= strcmp(m->string, MEMBERS[k]) == 0;
            sm_suggest_add(&sg, MEMBERS[k]);
        }
        char hint[80];
        if (!known)
            return sm_fail(err, "%s: %s.%s: unknown key%s (allowed: T, T_from, T_to, sweeps, "
                           "equilibration)", src, where, m->string, sm_suggest_text(&sg, "", hint, sizeof hint));
    }
    if (check_duplicates(s, where, src, err)) return 1;
    const cJSON *T = cJSON_GetObjectItemCaseSensitive(s, "T");
    const cJSON *T0 = cJSON_GetObjectItemCaseSensitive(s, "T_from");
    const cJSON *T1 = cJSON_GetObjectItemCaseSensitive(s, "T_to");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(s, "sweeps");
    const cJSON *eq = cJSON_GetObjectItemCaseSensitive(s, "equilibration");
    if (T && (T0 || T1))
        return sm_fail(err, "%s: %s: give either T or T_from and T_to, not both", src, where);
    if (!T && !(T0 && T1))
        return sm_fail(err, "%s: %s: needs T (a hold) or both T_from and T_to (a ramp)", src, where);
    config_key kt = {"", K_NUM, 0, 1e-300, 1e300, NULL, NULL, NULL, NULL};
    config_key kn = {"", K_I64, 0, 1, BIG, NULL, NULL, NULL, NULL};
    char p1[80], p2[80], p3[80], p4[80];
    snprintf(p1, sizeof p1, "%s.%s", where, T ? "T" : "T_from");
    snprintf(p2, sizeof p2, "%s.T_to", where);
    snprintf(p3, sizeof p3, "%s.sweeps", where);
    snprintf(p4, sizeof p4, "%s.equilibration", where);
    double a, b, k, e = 0.0;
    kt.path = p1;
    if (number_in_range(&kt, T ? T : T0, &a, src, err)) return 1;
    kt.path = p2;
    if (T) b = a;
    else if (number_in_range(&kt, T1, &b, src, err)) return 1;
    kn.path = p3;
    if (!n) return sm_fail(err, "%s: %s: missing (an integer >= 1)", src, p3);
    if (number_in_range(&kn, n, &k, src, err)) return 1;
    config_key ke = {p4, K_I64, 0, 0, BIG, NULL, NULL, NULL, NULL};
    if (eq && number_in_range(&ke, eq, &e, src, err)) return 1;
    c->seg[i].equilibration = (int64_t)e;
    c->seg[i].T_from = a;
    c->seg[i].T_to = b;
    c->seg[i].sweeps = (int64_t)k;
    return 0;
}

static int parse_special(sm_config *c, cJSON *root, const char *src, sm_error *err)
{
    cJSON *T = cJSON_GetObjectItemCaseSensitive(root, "temperature");
    cJSON *S = cJSON_GetObjectItemCaseSensitive(root, "schedule");
    cJSON *sw = lookup(root, "run.sweeps");
    if (T && S) return sm_fail(err, "%s: temperature: give either temperature or schedule, not both", src);
    if (!T && !S) return sm_fail(err, "%s: temperature: missing (give temperature, a number > 0, or schedule)", src);
    if (T) {
        config_key k = *find_key("temperature");
        k.type = K_NUM;
        double t;
        if (number_in_range(&k, T, &t, src, err)) return 1;
        c->has_schedule = 0;
        c->nseg = 1;
        c->seg[0].T_from = c->seg[0].T_to = t;
        c->seg[0].sweeps = c->sweeps;
    } else {
        if (sw) return sm_fail(err, "%s: run.sweeps: not allowed with a schedule (each segment sets its sweeps)", src);
        int n = cJSON_IsArray(S) ? cJSON_GetArraySize(S) : -1;
        if (n < 1 || n > CONFIG_MAX_SEGMENTS)
            return sm_fail(err, "%s: schedule: must be a list of 1..%d segments", src, CONFIG_MAX_SEGMENTS);
        c->has_schedule = 1;
        c->nseg = n;
        for (int i = 0; i < n; i++)
            if (parse_segment(c, i, cJSON_GetArrayItem(S, i), src, err)) return 1;
    }
    cJSON *lv = lookup(root, "init.level");
    c->init_level = -1;
    c->init_level_random = 0;
    if (lv) {
        if (cJSON_IsString(lv) && strcmp(lv->valuestring, "random") == 0) {
            c->init_level_random = 1;
        } else {
            config_key k = {"init.level", K_INT, 0, -1, 8, NULL, NULL, NULL, NULL};
            double x;
            if (!cJSON_IsNumber(lv)) {
                char got[80];
                describe(lv, got, sizeof got);
                return sm_fail(err, "%s: init.level: must be an integer in -1..8 or \"random\" (got %s)", src, got);
            }
            if (number_in_range(&k, lv, &x, src, err)) return 1;
            c->init_level = (int)x;
        }
    }
    cJSON *sf = lookup(root, "output.snapshot_fields");
    c->snapshot_fields = SNAP_LEVEL | SNAP_SIGMA;
    if (sf) {
        if (!cJSON_IsArray(sf))
            return sm_fail(err, "%s: output.snapshot_fields: must be a list from level, sigma, phase, z, pcp", src);
        c->snapshot_fields = 0;
        for (cJSON *f = sf->child; f; f = f->next) {
            int i = cJSON_IsString(f) ? enum_index("level|sigma|phase|z|pcp", f->valuestring) : -1;
            if (i < 0) {
                char got[80];
                describe(f, got, sizeof got);
                return sm_fail(err, "%s: output.snapshot_fields: entries must be level, sigma, phase, z or pcp (got %s)", src, got);
            }
            c->snapshot_fields |= 1u << i;
        }
    }
    return 0;
}

/* Hold segments with sweeps of their own equilibration. */
static int segment_equilibrations(const sm_config *c)
{
    int n = 0;
    for (int i = 0; i < c->nseg; i++) n += c->seg[i].T_from == c->seg[i].T_to && c->seg[i].equilibration > 0;
    return n;
}

/* Cross-key rules that no single key can check. */
static int check_consistency(const sm_config *c, const char *src, sm_error *err)
{
    if (c->boundary == BOUNDARY_PERIODIC) {
        if (c->Lx % 2) return sm_fail(err, "%s: lattice.Lx: must be even with periodic boundaries (the checkerboard needs it), got %d", src, c->Lx);
        if (c->Ly % 2) return sm_fail(err, "%s: lattice.Ly: must be even with periodic boundaries (the checkerboard needs it), got %d", src, c->Ly);
    }
    if ((int64_t)c->Lx * c->Ly >= ((int64_t)1 << 31))
        return sm_fail(err, "%s: lattice: Lx * Ly must be below 2^31 sites (got %lld)", src,
                       (long long)c->Lx * c->Ly);
    /* each count is <= 2^53, but 1024 segments of them overflow int64 in
     * config_total_sweeps and in the run's step counter: bound the sum (in
     * double, which cannot overflow here) */
    double total = (double)c->equilibration_sweeps;
    for (int i = 0; i < c->nseg; i++)
        total += (double)c->seg[i].equilibration + (double)c->seg[i].sweeps;
    if (total > BIG)
        return sm_fail(err, "%s: schedule: the sweeps of all segments and equilibrations must add "
                       "up to at most 2^53 (got %.6g)", src, total);
    if (c->equilibrate_each_segment && c->equilibration_dynamics != EQ_DYNAMICS_LEVEL)
        return sm_fail(err, "%s: run.equilibrate_each_segment: needs run.equilibration_dynamics \"level\" "
                       "(got \"same\")", src);
    if (c->equilibrate_each_segment && !segment_equilibrations(c))
        return sm_fail(err, "%s: run.equilibrate_each_segment: no hold segment has equilibration sweeps to run "
                       "with the level dynamics (give schedule[i].equilibration > 0)", src);
    if (c->model.freeze_levels && c->init_level_random)
        return sm_fail(err, "%s: init.level: must be a fixed level with model.freeze_levels (got \"random\")", src);
    return 0;
}

/* cJSON decodes the escape \u0000 inside a string and keeps the text only up
 * to it, so "temperature\u0000x" would be read as the key temperature and
 * "cage\u0000x" as the value cage. Returns where the first such escape starts
 * in text, which must be valid JSON (cJSON parsed it), or NULL. */
static const char *escaped_nul(const char *text)
{
    int in_string = 0;
    for (const char *p = text; *p; p++) {
        if (!in_string) {
            in_string = *p == '"';
        } else if (*p == '"') {
            in_string = 0;
        } else if (*p == '\\') {
            if (p[1] == 'u' && strncmp(p + 2, "0000", 4) == 0) return p;
            p++; /* the escaped character; valid JSON has one */
        }
    }
    return NULL;
}

/* 1-based line and column of position end in text. */
static void line_col(const char *text, const char *end, int *line, int *col)
{
    *line = *col = 1;
    for (const char *p = text; end && p < end && *p; p++) {
        if (*p == '\n') { ++*line; *col = 1; } else ++*col;
    }
}

/* Applies "a.b.c=value": value is JSON when it parses, otherwise a string.
 * Setting temperature removes schedule and the other way round, so one
 * override switches a config between the two modes. */
static int apply_set(cJSON *root, const char *set, const char *src, sm_error *err)
{
    const char *eq = strchr(set, '=');
    if (!eq || eq == set) return sm_fail(err, "%s: --set %s: expected key.path=value", src, set);
    char path[256];
    size_t plen = (size_t)(eq - set);
    if (plen >= sizeof path) return sm_fail(err, "%s: --set %.60s...: key path too long", src, set);
    memcpy(path, set, plen);
    path[plen] = 0;
    cJSON *val = config_set_value(set, src, err);
    if (!val) return 1;
    if (strcmp(path, "temperature") == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "schedule");
    } else if (strcmp(path, "schedule") == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "temperature");
        cJSON *run = cJSON_GetObjectItemCaseSensitive(root, "run");
        if (run) cJSON_DeleteItemFromObjectCaseSensitive(run, "sweeps");
    }
    cJSON *node = root;
    char *save = NULL;
    char *tok = strtok_r(path, ".", &save);
    while (tok) {
        char *next = strtok_r(NULL, ".", &save);
        if (!next) {
            if (cJSON_GetObjectItemCaseSensitive(node, tok))
                cJSON_ReplaceItemInObjectCaseSensitive(node, tok, val);
            else
                cJSON_AddItemToObject(node, tok, val);
            return 0;
        }
        cJSON *child = cJSON_GetObjectItemCaseSensitive(node, tok);
        if (!child) child = cJSON_AddObjectToObject(node, tok);
        if (!cJSON_IsObject(child)) {
            cJSON_Delete(val);
            return sm_fail(err, "%s: --set %s: %s is not an object", src, set, tok);
        }
        node = child;
        tok = next;
    }
    cJSON_Delete(val);
    return sm_fail(err, "%s: --set %s: empty key path", src, set);
}

cJSON *config_set_value(const char *set, const char *src, sm_error *err)
{
    const char *eq = strchr(set, '=');
    if (!eq) { sm_fail(err, "%s: --set %s: expected key.path=value", src, set); return NULL; }
    /* the whole value must be JSON: "4abc" is the string "4abc", not 4 */
    cJSON *val = cJSON_ParseWithOpts(eq + 1, NULL, 1);
    if (val && escaped_nul(eq + 1)) {
        cJSON_Delete(val);
        sm_fail(err, "%s: --set %s: a string holds \\u0000 (NUL), which is not allowed", src, set);
        return NULL;
    }
    if (!val) val = cJSON_CreateString(eq + 1);
    if (!val) sm_fail(err, "%s: --set %s: out of memory", src, set);
    return val;
}

cJSON *config_parse_json(const char *text, const char *source, sm_error *err)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    int line, col;
    if (!root) {
        line_col(text, end, &line, &col);
        sm_fail(err, "%s: malformed JSON at line %d, column %d", source, line, col);
        return NULL;
    }
    const char *nul = escaped_nul(text);
    if (nul) {
        line_col(text, nul, &line, &col);
        sm_fail(err, "%s: line %d, column %d: a string holds \\u0000 (NUL), which is not allowed",
                source, line, col);
        cJSON_Delete(root);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        sm_fail(err, "%s: the configuration must be a JSON object", source);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* Messages quote key names and --set text from the user; sm_fail escapes
 * what would split the one-line error or is not UTF-8. */
int config_apply_set(cJSON *root, const char *set, const char *src, sm_error *err)
{
    return apply_set(root, set, src, err);
}

int config_parse(sm_config *c, const char *text, const char *source, char *const *sets,
                 int nsets, sm_error *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->source, sizeof c->source, "%s", source);
    model_params_default(&c->model);
    cJSON *root = config_parse_json(text, source, err);
    if (!root) return 1;
    int rc = 1;
    for (int i = 0; i < nsets; i++)
        if (config_apply_set(root, sets[i], source, err)) goto done;
    if (check_unknown(root, source, err)) goto done;
    for (size_t i = 0; i < NKEYS; i++) {
        const config_key *k = &KEYS[i];
        if (k->type == K_SPECIAL) continue;
        cJSON *v = lookup(root, k->path);
        cJSON *def = NULL;
        if (!v) v = def = cJSON_Parse(k->def);
        int bad = set_key(c, k, v, source, err);
        cJSON_Delete(def);
        if (bad) goto done;
    }
    cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (d && !cJSON_IsString(d)) {
        sm_fail(err, "%s: description: must be a string", source);
        goto done;
    }
    if (parse_special(c, root, source, err)) goto done;
    if (check_consistency(c, source, err)) goto done;
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

/* Reads at most limit bytes, and one more to tell that there are more. */
static char *read_limited(FILE *f, size_t limit, size_t *len, int *too_big, int *e)
{
    size_t cap = 16384;
    char *buf = malloc(cap);
    *len = 0;
    *too_big = 0;
    *e = 0;
    while (buf) {
        if (*len + 4096 + 1 > cap) {
            cap = 2 * cap > limit + 4096 + 2 ? limit + 4096 + 2 : 2 * cap;
            char *nb = realloc(buf, cap);
            if (!nb) { free(buf); return NULL; }
            buf = nb;
        }
        errno = 0;
        const size_t r = fread(buf + *len, 1, 4096, f);
        *e = errno;
        *len += r;
        if (*len > limit) { *too_big = 1; break; }
        if (r < 4096) break;
    }
    return buf;
}

char *config_read_text(const char *path, sm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return sm_fail(err, "%s: cannot open: %s", path, strerror(errno)), NULL;
    /* fopen succeeds on a directory and fread then fails with EISDIR; pipes
     * and /dev/stdin stay allowed (softmatrix run <(...)). The size is
     * checked before reading where the file has one: parsing a large JSON
     * array takes 40 times its size in memory. */
    struct stat st;
    const int have = fstat(fileno(f), &st) == 0;
    if (have && S_ISDIR(st.st_mode)) {
        fclose(f);
        return sm_fail(err, "%s: is a directory, not a configuration file", path), NULL;
    }
    if (have && S_ISREG(st.st_mode) && st.st_size > CONFIG_MAX_BYTES) {
        fclose(f);
        return sm_fail(err, "%s: %lld bytes, larger than the %d MiB a configuration may have", path,
                       (long long)st.st_size, CONFIG_MAX_BYTES >> 20), NULL;
    }
    size_t len;
    int too_big, e;
    char *buf = read_limited(f, CONFIG_MAX_BYTES, &len, &too_big, &e);
    const int ioerr = ferror(f);
    fclose(f);
    if (!buf) return sm_fail(err, "%s: out of memory", path), NULL;
    if (too_big || ioerr) {
        free(buf);
        if (too_big)
            return sm_fail(err, "%s: larger than the %d MiB a configuration may have", path,
                           CONFIG_MAX_BYTES >> 20), NULL;
        return sm_fail(err, "%s: read error: %s", path, e ? strerror(e) : "I/O error"), NULL;
    }
    buf[len] = 0;
    if (strlen(buf) != len) {
        free(buf);
        return sm_fail(err, "%s: contains a NUL byte, not JSON text", path), NULL;
    }
    return buf;
}

int config_load(sm_config *c, const char *path, char *const *sets, int nsets, sm_error *err)
{
    char *buf = config_read_text(path, err);
    if (!buf) return 1;
    int rc = config_parse(c, buf, path, sets, nsets, err);
    free(buf);
    return rc;
}

char *config_to_json(const sm_config *c)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *sec[NSECTIONS];
    for (size_t s = 0; s < NSECTIONS; s++) sec[s] = cJSON_AddObjectToObject(root, SECTIONS[s]);
    for (size_t i = 0; i < NKEYS; i++) {
        const config_key *k = &KEYS[i];
        if (k->type == K_SPECIAL) continue;
        if (strcmp(k->path, "run.sweeps") == 0 && c->has_schedule) continue;
        const char *dot = strchr(k->path, '.');
        size_t s;
        for (s = 0; s < NSECTIONS; s++)
            if (strncmp(k->path, SECTIONS[s], (size_t)(dot - k->path)) == 0 &&
                SECTIONS[s][dot - k->path] == 0)
                break;
        const char *base = (const char *)c + k->off;
        const char *name = dot + 1;
        switch (k->type) {
        case K_INT: cJSON_AddNumberToObject(sec[s], name, *(const int *)base); break;
        case K_I64: cJSON_AddNumberToObject(sec[s], name, (double)*(const int64_t *)base); break;
        case K_NUM: cJSON_AddNumberToObject(sec[s], name, *(const double *)base); break;
        case K_BOOL: cJSON_AddBoolToObject(sec[s], name, *(const bool *)base); break;
        case K_STR: cJSON_AddStringToObject(sec[s], name, base); break;
        case K_ENUM: {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", k->choices);
            char *tok = strtok(buf, "|");
            for (int j = 0; j < *(const int *)base && tok; j++) tok = strtok(NULL, "|");
            cJSON_AddStringToObject(sec[s], name, tok ? tok : "?");
            break;
        }
        case K_DYNAMICS: cJSON_AddStringToObject(sec[s], name, dynamics_at(*(const int *)base)->name); break;
        case K_SPECIAL: break;
        }
    }
    cJSON *init = cJSON_GetObjectItemCaseSensitive(root, "init");
    if (c->init_level_random) cJSON_AddStringToObject(init, "level", "random");
    else cJSON_AddNumberToObject(init, "level", c->init_level);
    cJSON *out = cJSON_GetObjectItemCaseSensitive(root, "output");
    cJSON *sf = cJSON_AddArrayToObject(out, "snapshot_fields");
    for (int i = 0; i < SNAP_NFIELDS; i++)
        if (c->snapshot_fields & (1u << i)) cJSON_AddItemToArray(sf, cJSON_CreateString(SNAP_FIELD_NAMES[i]));
    if (c->has_schedule) {
        cJSON *arr = cJSON_AddArrayToObject(root, "schedule");
        for (int i = 0; i < c->nseg; i++) {
            cJSON *s = cJSON_CreateObject();
            if (c->seg[i].T_from == c->seg[i].T_to) {
                cJSON_AddNumberToObject(s, "T", c->seg[i].T_from);
            } else {
                cJSON_AddNumberToObject(s, "T_from", c->seg[i].T_from);
                cJSON_AddNumberToObject(s, "T_to", c->seg[i].T_to);
            }
            cJSON_AddNumberToObject(s, "sweeps", (double)c->seg[i].sweeps);
            if (c->seg[i].equilibration)
                cJSON_AddNumberToObject(s, "equilibration", (double)c->seg[i].equilibration);
            cJSON_AddItemToArray(arr, s);
        }
    } else {
        cJSON_AddNumberToObject(root, "temperature", c->seg[0].T_from);
    }
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    return txt;
}

/* The help text of a key; a registry-backed key lists its entries. */
static void key_help(const config_key *k, char *out, size_t n)
{
    size_t used = (size_t)snprintf(out, n, "%s", k->help);
    if (k->type != K_DYNAMICS) return;
    for (int i = 0; dynamics_at(i) && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s %s: %s", i ? ";" : ":",
                                 dynamics_at(i)->name, dynamics_at(i)->desc);
}

void config_write_markdown(FILE *md)
{
    fprintf(md, "| key | default | unit | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const config_key *k = &KEYS[i];
        char help[512];
        key_help(k, help, sizeof help);
        fprintf(md, "| `%s` | %s%s%s | %s | ", k->path, k->def ? "`" : "", k->def ? k->def : "required or special",
                k->def ? "`" : "", k->unit ? k->unit : "");
        md_cell(md, help);
        fprintf(md, " |\n");
    }
}

void config_print_keys(FILE *out)
{
    for (size_t i = 0; i < NKEYS; i++) fprintf(out, "%s\n", KEYS[i].path);
}

void config_print_reference(FILE *out)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const config_key *k = &KEYS[i];
        char help[512];
        key_help(k, help, sizeof help);
        fprintf(out, "  %-26s %-10s %s\n", k->path, k->def ? k->def : "", help);
    }
}

int64_t config_total_sweeps(const sm_config *c)
{
    int64_t n = 0;
    for (int i = 0; i < c->nseg; i++) n += c->seg[i].equilibration + c->seg[i].sweeps;
    return n;
}

int64_t config_measured_rows(const sm_config *c, int64_t every)
{
    int64_t n = 0;
    for (int i = 0; every > 0 && i < c->nseg; i++) n += c->seg[i].sweeps / every;
    return n;
}

schedule_point config_schedule_point(const sm_config *c, int64_t k)
{
    int i = 0;
    while (i < c->nseg - 1 && k >= c->seg[i].equilibration + c->seg[i].sweeps) {
        k -= c->seg[i].equilibration + c->seg[i].sweeps;
        i++;
    }
    const schedule_segment *s = &c->seg[i];
    schedule_point p = {i, k >= s->equilibration, k - s->equilibration, s->T_from};
    if (!p.measured) p.index = -1;
    else if (s->sweeps > 1 && s->T_from != s->T_to) {
        const double a = s->T_from, b = s->T_to, lo = fmin(a, b), hi = fmax(a, b);
        p.T = a + (b - a) * (double)p.index / (double)(s->sweeps - 1);
        /* Ramps over many orders of magnitude lose the low end to
         * cancellation ({T_from: 3e85, T_to: 0.5} gave T = 0 on the last
         * sweep, found by the fuzzer) and (b - a) * index can overflow: then
         * the convex form, which stays in [lo, hi] and positive. Ordinary
         * ramps keep the first form, bit for bit (existing runs, checkpoints). */
        if (!(p.T >= lo && p.T <= hi)) {
            const double f = (double)p.index / (double)(s->sweeps - 1);
            p.T = fmin(hi, fmax(lo, a * (1.0 - f) + b * f));
        }
    } else p.T = s->T_to;
    return p;
}
