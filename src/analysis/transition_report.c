/* Text and JSON forms of a transition result (transition_report.h). */
#include <math.h>
#include <string.h>
#include "analysis/transition_report.h"
#include "core/constants.h"

/* The paper's numbers, as printed, beside the ones derived from the
 * measured ratio; the exact values follow from T_g/T_m = 5/8, N_c = 200. */
typedef struct {
    const char *key, *label, *printed;
} paper_row;

static const paper_row PAPER[] = {
    {"ratio", "T_g/T_m", "5/8"},
    {"n_z", "n_z = 200^(-T_g/T_m)", "<= 0.036"},
    {"viscosity_exponent", "9(1 - T_g/T_m)", "~ 3.4"},
    {"N_z_star", "N_z* = 200^(1 - T_g/T_m)", "~ 7.2"},
};

void tr_format(char *buf, size_t n, tr_value v)
{
    if (!isfinite(v.value)) {
        snprintf(buf, n, "not found");
        return;
    }
    if (!isfinite(v.error) || v.error <= 0) {
        snprintf(buf, n, "%.6g", v.value);
        return;
    }
    int dec = 1 - (int)floor(log10(v.error));
    if (dec < 0) dec = 0;
    if (dec > 12) dec = 12;
    snprintf(buf, n, "%.*f ± %.*f", dec, v.value, dec, v.error);
}

static tr_value size_value(const tr_size *sz, int t)
{
    if (!sz->found[t]) return (tr_value){NAN, NAN};
    return (tr_value){sz->est[t].value, sz->est[t].error};
}

static void paper_values(tr_value out[4])
{
    const tr_value r = {TR_PAPER_RATIO, 0.0};
    out[0] = r;
    tr_derived(r, &out[1], &out[2], &out[3]);
}

static void print_size(FILE *f, const tr_size *sz)
{
    static const char *const what[TR_NTARGETS] = {"n_SM = 1", "n_SM = 5", "P_span = 1/2"};
    char a[64], b[32];
    fprintf(f, "L = %d: %d temperatures, %.1f s\n", sz->L, sz->pts.n, sz->seconds);
    fprintf(f, "  %-28s %-24s %s\n", "quantity", "measured", "paper");
    for (int t = 0; t < TR_NTARGETS; t++) {
        char name[40];
        snprintf(name, sizeof name, "%s (%s)", TR_TARGETS[t].name, what[t]);
        tr_format(a, sizeof a, size_value(sz, t));
        fprintf(f, "  %-28s %-24s %s\n", name, sz->searched[t] ? a : "not searched", "-");
    }
    const tr_value meas[4] = {sz->ratio, sz->n_z, sz->exponent, sz->N_z_star};
    tr_value pap[4];
    paper_values(pap);
    for (int i = 0; i < 4; i++) {
        tr_format(a, sizeof a, meas[i]);
        snprintf(b, sizeof b, "%.4g", pap[i].value);
        fprintf(f, "  %-28s %-24s %s (printed %s)\n", PAPER[i].label, a, b, PAPER[i].printed);
    }
}

void transition_print(FILE *f, const tr_result *r, const model_params *p)
{
    const double tg = constants_local_T(p, 7, 0), tm = constants_local_T(p, 7, 4);
    fprintf(f, "local (from the model's parameters): T_g° = T_0^(7) = %.6g, T_m° = T_4^(7) = %.6g, "
               "T_g°/T_m° = %.6g\n", tg, tm, tg / tm);
    fprintf(f, "measured (level dynamics at equilibrium, error: jackknife over seeds):\n");
    for (int i = 0; i < r->nsizes; i++) print_size(f, &r->size[i]);
}

static cJSON *num(double x)
{
    return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull();
}

static void add_value(cJSON *o, const char *key, tr_value v)
{
    cJSON *e = cJSON_AddObjectToObject(o, key);
    if (!e) return;
    cJSON_AddItemToObject(e, "value", num(v.value));
    cJSON_AddItemToObject(e, "error", num(v.error));
}

static cJSON *size_json(const tr_size *sz)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "L", sz->L);
    for (int t = 0; t < TR_NTARGETS; t++) add_value(o, TR_TARGETS[t].name, size_value(sz, t));
    add_value(o, "ratio", sz->ratio);
    add_value(o, "n_z", sz->n_z);
    add_value(o, "viscosity_exponent", sz->exponent);
    add_value(o, "N_z_star", sz->N_z_star);
    cJSON_AddNumberToObject(o, "points", sz->pts.n);
    cJSON_AddNumberToObject(o, "seconds", sz->seconds);
    return o;
}

cJSON *transition_json(const tr_result *r, const model_params *p)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *sizes = cJSON_AddArrayToObject(root, "sizes");
    for (int i = 0; sizes && i < r->nsizes; i++) cJSON_AddItemToArray(sizes, size_json(&r->size[i]));
    cJSON *local = cJSON_AddObjectToObject(root, "local");
    const double tg = constants_local_T(p, 7, 0), tm = constants_local_T(p, 7, 4);
    cJSON_AddItemToObject(local, "T_g", num(tg));
    cJSON_AddItemToObject(local, "T_m", num(tm));
    cJSON_AddItemToObject(local, "ratio", num(tg / tm));
    cJSON *paper = cJSON_AddObjectToObject(root, "paper");
    tr_value pap[4];
    paper_values(pap);
    for (int i = 0; i < 4; i++) {
        cJSON *e = cJSON_AddObjectToObject(paper, PAPER[i].key);
        cJSON_AddItemToObject(e, "value", num(pap[i].value));
        cJSON_AddStringToObject(e, "printed", PAPER[i].printed);
    }
    return root;
}
