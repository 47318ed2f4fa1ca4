/* softmatrix constants: what the program derives, kept apart by where it
 * comes from - the Lennard-Jones form (derived), numbers the paper takes as
 * given and what follows from them alone (paper), the config's model
 * parameters (the local temperatures of docs/model.md section 14), and
 * measurements (a transition file). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "analysis/transition_io.h"
#include "analysis/transition_report.h"
#include "cli/cli.h"
#include "core/constants.h"
#include "core/error.h"

static const char *const SOURCE_TITLE[2] = {
    "derived from the Lennard-Jones form f = -4 chi (1 - chi): cage geometry and angles",
    "paper: numbers the paper takes as given (k_B T_g = 20/3, T_m = T_g + 4, N_c = 200, the "
    "materials' temperatures, eps_C = eps0/8) and what follows from them alone; inputs, not "
    "results of the model",
};

static void write_rows(FILE *f, constant_source src)
{
    constant_entry tab[CONSTANTS_MAX];
    size_t n = constants_table(tab, CONSTANTS_MAX);
    fprintf(f, "%s\n", SOURCE_TITLE[src]);
    fprintf(f, "  %-22s %-19s %-13s %-5s %-10s %10s %10s %s\n", "name", "symbol", "value", "unit",
            "paper", "abs diff", "rel diff", "formula");
    for (size_t i = 0; i < n; i++) {
        const constant_entry *e = &tab[i];
        if (e->source != src) continue;
        /* 10 significant digits resolve the paper's longest number (d_L*). */
        fprintf(f, "  %-22s %-19s %-13.10g %-5s %-10s ", e->name, e->symbol, e->value, e->unit,
                e->paper_text[0] ? e->paper_text : "-");
        if (isnan(e->paper))
            fprintf(f, "%10s %10s ", "-", "-");
        else
            fprintf(f, "%+10.2e %+10.2e ", constant_abs_diff(e), constant_rel_diff(e));
        fprintf(f, "%s\n", e->formula);
    }
}

static void write_model(FILE *f, const constants_view *v)
{
    const model_params *p = v->model;
    fprintf(f, "from the model's parameters (%s: eps_C = %g, g = %.10g, eps_step = %.10g)\n",
            v->model_source, p->eps_C, p->g, p->eps_step);
    fprintf(f, "  local temperature T_k^(i) = [eps_C (C(i+1) - C(i)) + (4 - 2k) eps_step] / ln g: a\n"
               "  site at level i with k neighbours at i + 1 (the rest at i) has even odds of i + 1\n");
    fprintf(f, "  %3s", "i");
    for (int k = 0; k <= 4; k++) fprintf(f, "  %10s%d", "k = ", k);
    fprintf(f, "\n");
    for (int i = 0; i <= 7; i++) {
        fprintf(f, "  %3d", i);
        for (int k = 0; k <= 4; k++) fprintf(f, "  %11.6g", constants_local_T(p, i, k));
        fprintf(f, "\n");
    }
    const double tg = constants_local_T(p, 7, 0), tm = constants_local_T(p, 7, 4);
    /* %-Ns pads by bytes, and each ° takes two */
    fprintf(f, "  %-23s %-12.7g paper %.7g (20/3)\n", "T_g° = T_0^(7)", tg, 20.0 / 3.0);
    fprintf(f, "  %-23s %-12.7g paper %.7g (32/3)\n", "T_m° = T_4^(7)", tm, 32.0 / 3.0);
    fprintf(f, "  %-24s %-12.7g paper %.7g (5/8)\n", "T_g°/T_m°", tg / tm, 0.625);
}

static void write_measured(FILE *f, const constants_view *v)
{
    if (!v->measured_path) {
        fprintf(f, "measured: none given (--measured FILE, a file of softmatrix transition)\n");
        return;
    }
    fprintf(f, "measured (%s: level dynamics at equilibrium, errors from independent seeds)\n",
            v->measured_path);
    static const char *const names[] = {"T_g (n_SM = 1)", "T_m (n_SM = 5)", "T_p (P_span = 1/2)",
                                        "T_g/T_m", "n_z = 200^(-T_g/T_m)", "9(1 - T_g/T_m)",
                                        "N_z* = 200^(1 - T_g/T_m)"};
    static const char *const paper[] = {"20/3 (flexible chains)", "32/3", "-", "5/8", "<= 0.036",
                                        "~ 3.4", "~ 7.2"};
    for (int s = 0; s < v->nmeasured; s++) {
        const tr_measured *m = &v->sizes[s];
        const tr_value vals[] = {m->T[TR_TG], m->T[TR_TM], m->T[TR_TP], m->ratio, m->n_z, m->exponent, m->N_z_star};
        fprintf(f, "  L = %d\n", m->L);
        for (int i = 0; i < 7; i++) {
            char buf[64];
            tr_format(buf, sizeof buf, vals[i]);
            fprintf(f, "    %-26s %-24s paper %s\n", names[i], buf, paper[i]);
        }
    }
}

int constants_write_table(FILE *f, const constants_view *v)
{
    write_rows(f, CONST_DERIVED);
    fprintf(f, "\n");
    write_rows(f, CONST_PAPER);
    fprintf(f, "\n");
    write_model(f, v);
    fprintf(f, "\n");
    write_measured(f, v);
    return ferror(f) ? 1 : 0;
}

/* cJSON's own printer accepts a 15-digit form that is only approximately
 * equal, so numbers are written as raw text with the fewest digits (15, 16
 * or 17) that read back to exactly the same double. NaN becomes null. */
static cJSON *json_number_or_null(double x)
{
    if (!isfinite(x)) return cJSON_CreateNull();
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, x);
        if (strtod(buf, NULL) == x) break;
    }
    return cJSON_CreateRaw(buf);
}

static cJSON *rows_json(constant_source src)
{
    constant_entry tab[CONSTANTS_MAX];
    size_t n = constants_table(tab, CONSTANTS_MAX);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        const constant_entry *e = &tab[i];
        if (e->source != src) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", e->name);
        cJSON_AddStringToObject(o, "symbol", e->symbol);
        cJSON_AddItemToObject(o, "value", json_number_or_null(e->value));
        cJSON_AddStringToObject(o, "unit", e->unit);
        cJSON_AddItemToObject(o, "paper", json_number_or_null(e->paper));
        cJSON_AddStringToObject(o, "paper_text", e->paper_text);
        cJSON_AddItemToObject(o, "abs_diff", json_number_or_null(constant_abs_diff(e)));
        cJSON_AddItemToObject(o, "rel_diff", json_number_or_null(constant_rel_diff(e)));
        cJSON_AddStringToObject(o, "formula", e->formula);
    }
    return arr;
}

static cJSON *model_json(const constants_view *v)
{
    const model_params *p = v->model;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "source", v->model_source);
    cJSON *par = cJSON_AddObjectToObject(o, "parameters");
    cJSON_AddItemToObject(par, "eps_C", json_number_or_null(p->eps_C));
    cJSON_AddItemToObject(par, "g", json_number_or_null(p->g));
    cJSON_AddItemToObject(par, "eps_step", json_number_or_null(p->eps_step));
    cJSON *rows = cJSON_AddArrayToObject(o, "local_T");
    for (int i = 0; i <= 7; i++) {
        cJSON *r = cJSON_CreateArray();
        for (int k = 0; k <= 4; k++) cJSON_AddItemToArray(r, json_number_or_null(constants_local_T(p, i, k)));
        cJSON_AddItemToArray(rows, r);
    }
    const double tg = constants_local_T(p, 7, 0), tm = constants_local_T(p, 7, 4);
    cJSON_AddItemToObject(o, "T_g", json_number_or_null(tg));
    cJSON_AddItemToObject(o, "T_m", json_number_or_null(tm));
    cJSON_AddItemToObject(o, "ratio", json_number_or_null(tg / tm));
    return o;
}

static void add_value(cJSON *o, const char *key, tr_value v)
{
    cJSON *e = cJSON_AddObjectToObject(o, key);
    cJSON_AddItemToObject(e, "value", json_number_or_null(v.value));
    cJSON_AddItemToObject(e, "error", json_number_or_null(v.error));
}

static cJSON *measured_json(const constants_view *v)
{
    if (!v->measured_path) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", v->measured_path);
    cJSON *sizes = cJSON_AddArrayToObject(o, "sizes");
    for (int s = 0; s < v->nmeasured; s++) {
        const tr_measured *m = &v->sizes[s];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(sizes, e);
        cJSON_AddNumberToObject(e, "L", m->L);
        for (int t = 0; t < TR_NTARGETS; t++) add_value(e, TR_TARGETS[t].name, m->T[t]);
        add_value(e, "ratio", m->ratio);
        add_value(e, "n_z", m->n_z);
        add_value(e, "viscosity_exponent", m->exponent);
        add_value(e, "N_z_star", m->N_z_star);
    }
    return o;
}

int constants_write_json(FILE *f, const constants_view *v)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return 1;
    cJSON_AddItemToObject(root, "derived", rows_json(CONST_DERIVED));
    cJSON_AddItemToObject(root, "paper", rows_json(CONST_PAPER));
    cJSON_AddItemToObject(root, "model", model_json(v));
    cJSON_AddItemToObject(root, "measured", measured_json(v));
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) return 1;
    fprintf(f, "%s\n", s);
    free(s);
    return ferror(f) ? 1 : 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: softmatrix constants [CONFIG] [--json] [--measured FILE] [--point K]\n"
            "                            [--set key.path=value]...\n"
            "  Prints, each labelled by where it comes from:\n"
            "  - derived: the Lennard-Jones fixed points, cage geometry and angles beside the\n"
            "    paper's printed values, with absolute and relative differences;\n"
            "  - paper: the numbers the paper takes as given (k_B T_g = 20/3, T_m = T_g + 4,\n"
            "    N_c = 200, material temperatures) and what follows from them (5/8, n_z,\n"
            "    3.375, N_z*): inputs, not results of the model;\n"
            "  - from the model's parameters (CONFIG, or the defaults): the local temperatures\n"
            "    T_k^(i) for i = 0..7, k = 0..4, T_g° = T_0^(7), T_m° = T_4^(7) and their ratio;\n"
            "  - measured: T_g, T_m, T_p, T_g/T_m and what follows, with errors, from FILE\n"
            "    (written by softmatrix transition; --point K picks a point of a sweep).\n"
            "  Lengths in sigma, energies in eps0, angles in degrees.\n"
            "  --json   one JSON object: derived, paper (rows: name, symbol, value, unit,\n"
            "           paper, paper_text, abs_diff, rel_diff, formula), model, measured\n");
}

typedef struct {
    const char *config, *measured;
    char **sets;
    int nsets, json, point;
} constants_opts;

static int parse_opts(int argc, char **argv, constants_opts *o)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'}, {"measured", required_argument, NULL, 'm'},
        {"point", required_argument, NULL, 'p'}, {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'j': o->json = 1; break;
        case 'm': o->measured = optarg; break;
        case 's': o->sets[o->nsets++] = optarg; break;
        case 'p':
            o->point = (int)strtol(optarg, &end, 10);
            if (*end || o->point < 0) {
                fprintf(stderr, "softmatrix constants: --point: must be an integer >= 0 (got %s)\n", optarg);
                return SM_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return SM_EXIT_OK;
        default:
            sm_option_error("constants", c, argv[optind - 1], "softmatrix constants --help", longopts);
            usage(stderr);
            return SM_EXIT_USAGE;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "softmatrix constants: at most one CONFIG (see 'softmatrix constants --help')\n");
        return SM_EXIT_USAGE;
    }
    if (optind == argc - 1) o->config = argv[optind];
    return -1;
}

static int run_constants(const constants_opts *o, sm_error *err)
{
    sm_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return sm_fail(err, "out of memory"), SM_EXIT_RUNTIME;
    constants_view v = {.model = &cfg->model, .model_source = "the defaults"};
    model_params_default(&cfg->model);
    tr_measured sizes[TR_MAX_SIZES];
    int code = SM_EXIT_OK;
    if (o->config) {
        if (config_load(cfg, o->config, o->sets, o->nsets, err)) code = SM_EXIT_USAGE;
        v.model_source = o->config;
    }
    if (!code && o->measured) {
        v.nmeasured = transition_read(o->measured, o->point, sizes, TR_MAX_SIZES, err);
        v.sizes = sizes;
        v.measured_path = o->measured;
        if (v.nmeasured < 0) code = SM_EXIT_USAGE;
    }
    if (!code && ((o->json ? constants_write_json(stdout, &v) : constants_write_table(stdout, &v)) ||
                  fflush(stdout) != 0)) {
        sm_fail(err, "cannot write to standard output");
        code = SM_EXIT_RUNTIME;
    }
    free(cfg);
    return code;
}

int cmd_constants(int argc, char **argv)
{
    constants_opts o = {0};
    o.sets = calloc((size_t)argc + 1, sizeof *o.sets);
    if (!o.sets) return SM_EXIT_RUNTIME;
    int code = parse_opts(argc, argv, &o);
    if (code < 0) {
        sm_error err = {{0}};
        code = run_constants(&o, &err);
        if (code) fprintf(stderr, "softmatrix constants: %s\n", err.msg);
    }
    free(o.sets);
    return code;
}
