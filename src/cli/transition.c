/* softmatrix transition: T_g, T_m, T_p at equilibrium for a config, or for
 * every point of its sweep block (analysis/transition.h). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "analysis/transition_io.h"
#include "io/outfile.h"
#include "analysis/transition_report.h"
#include "cli/cli.h"
#include "scan/points.h"

typedef struct {
    tr_options o;
    const char *config, *output;
    char **sets;
    int nsets, json, overwrite, quiet;
    char sizes_arg[256];
} tr_cli;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: softmatrix transition CONFIG [--json] [--seeds N] [--sizes L1,L2,...]\n"
        "           [--sweeps M] [--equilibration E] [--tol DT] [--grid N] [--no-tp]\n"
        "           [--threads N] [--output PATH] [--overwrite] [--quiet] [--set key.path=value]...\n"
        "  Locates at equilibrium (level dynamics, whatever dynamics.kind says) the collective\n"
        "  ordering temperatures of docs/model.md section 14 on L x L lattices:\n"
        "    T_g: n_SM = 1,  T_m: n_SM = 5,  T_p: level-8 spanning probability 1/2,\n"
        "  by bracketing and refinement in T on the mean over N independent seeds (run.seed,\n"
        "  run.seed + 1, ...; in parallel), with jackknife errors over the seeds. Prints them,\n"
        "  T_g/T_m, and n_z, 9(1 - T_g/T_m), N_z* from the measured ratio beside the paper's\n"
        "  values, and writes every point to PATH (default: output.path with .transition.h5).\n"
        "  A sweep block in CONFIG runs every point of it (e.g. a map over model.g, eps_step).\n"
        "  --seeds N          independent seeds (default 8)\n"
        "  --sizes L1,L2      lattice sizes (default lattice.Lx; the lattice is L x L)\n"
        "  --sweeps M         measured sweeps per temperature and seed (default 2000)\n"
        "  --equilibration E  sweeps at each new temperature before measuring (default 500;\n"
        "                     each seed's first temperature gets 2000 more)\n"
        "  --tol DT           stop refining when the bracket is DT wide (default 0.01)\n"
        "  --grid N           N more evenly spaced temperatures over the crossings (plots)\n"
        "  --no-tp            skip T_p (no spanning checks)\n"
        "  --json             print JSON instead of the table\n");
}

static int parse_num(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "softmatrix transition: %s: must be a number in %g..%g (got %s)\n", opt, lo, hi, s);
        return 1;
    }
    *out = v;
    return 0;
}

static int parse_sizes(tr_cli *c, const char *s)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    c->o.nsizes = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        double v;
        if (c->o.nsizes == TR_MAX_SIZES || parse_num("--sizes", tok, 2, 65536, &v) || v != floor(v))
            return fprintf(stderr, "softmatrix transition: --sizes: up to %d integers 2..65536, "
                                   "comma-separated (got %s)\n", TR_MAX_SIZES, s), 1;
        c->o.sizes[c->o.nsizes++] = (int)v;
    }
    return c->o.nsizes == 0;
}

static int set_option(tr_cli *c, int opt, const char *arg)
{
    double v;
    switch (opt) {
    case 'n': if (parse_num("--seeds", arg, 1, XR_MAX_SEEDS, &v)) return 1; c->o.nseeds = (int)v; break;
    case 'L': return parse_sizes(c, arg);
    case 'm': if (parse_num("--sweeps", arg, 10, 1e9, &v)) return 1; c->o.sch.sweeps = (int64_t)v; break;
    case 'e': if (parse_num("--equilibration", arg, 0, 1e9, &v)) return 1; c->o.sch.equilibration = (int64_t)v; break;
    case 'T': if (parse_num("--tol", arg, 1e-9, 1e6, &v)) return 1; c->o.tol = v; break;
    case 'g': if (parse_num("--grid", arg, 0, 1000, &v)) return 1; c->o.grid = (int)v; break;
    case 't': if (parse_num("--threads", arg, 1, 4096, &v)) return 1; c->o.threads = (int)v; break;
    case 'p': c->o.with_tp = 0; break;
    case 'j': c->json = 1; break;
    case 'o': c->output = arg; break;
    case 'w': c->overwrite = 1; break;
    case 'q': c->quiet = 1; break;
    case 's': c->sets[c->nsets++] = (char *)arg; break;
    default: return 1;
    }
    return 0;
}

/* Returns -1 to go on, else an exit code. */
static int parse_opts(int argc, char **argv, tr_cli *c)
{
    static const struct option longopts[] = {
        {"seeds", required_argument, NULL, 'n'}, {"sizes", required_argument, NULL, 'L'},
        {"sweeps", required_argument, NULL, 'm'}, {"equilibration", required_argument, NULL, 'e'},
        {"tol", required_argument, NULL, 'T'}, {"grid", required_argument, NULL, 'g'},
        {"threads", required_argument, NULL, 't'}, {"no-tp", no_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'}, {"output", required_argument, NULL, 'o'},
        {"overwrite", no_argument, NULL, 'w'}, {"quiet", no_argument, NULL, 'q'},
        {"set", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    c->o = (tr_options){.nseeds = 8, .tol = 0.01, .max_evals = 16, .with_tp = 1,
                        .sch = {.equilibration = 500, .first = 2000, .sweeps = 2000, .every = 2, .span_every = 10}};
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return SM_EXIT_OK;
        }
        if (opt == '?' || opt == ':') {
            sm_option_error("transition", opt, argv[optind - 1], "softmatrix transition --help", longopts);
            return SM_EXIT_USAGE;
        }
        if (set_option(c, opt, optarg)) return SM_EXIT_USAGE;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "softmatrix transition: expected exactly one CONFIG file (see 'softmatrix transition --help')\n");
        return SM_EXIT_USAGE;
    }
    c->config = argv[optind];
    return -1;
}

/* The config's text with --set applied and its sweep block split off. */
typedef struct {
    char *base;
    int has_sweep;
    sweep_spec spec;
} tr_input;

static char *read_file(const char *path, sm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return sm_fail(err, "%s: cannot open: %s", path, strerror(errno)), NULL;
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - 1 - len, f);
        if (len < cap - 1 || cap >= ((size_t)64 << 20)) break;
        char *nb = realloc(buf, 2 * cap);
        if (!nb) { free(buf); buf = NULL; break; }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (!buf) return sm_fail(err, "%s: out of memory", path), NULL;
    buf[len] = 0;
    return buf;
}

static int load_input(const tr_cli *c, tr_input *in, sm_error *err)
{
    memset(in, 0, sizeof *in);
    char *text = read_file(c->config, err);
    if (!text) return 1;
    cJSON *root = config_parse_json(text, c->config, err);
    free(text);
    if (!root) return 1;
    int rc = 1;
    for (int i = 0; i < c->nsets; i++)
        if (config_apply_set(root, c->sets[i], c->config, err)) goto done;
    cJSON *block = cJSON_DetachItemFromObjectCaseSensitive(root, "sweep");
    if (block) {
        in->has_sweep = 1;
        const int bad = sweep_parse(&in->spec, block, c->config, err);
        cJSON_Delete(block);
        if (bad) goto done;
    }
    in->base = sweep_json_print(root);
    rc = in->base ? 0 : sm_fail(err, "out of memory");
done:
    cJSON_Delete(root);
    return rc;
}

static int64_t npoints(const tr_input *in) { return in->has_sweep ? in->spec.npoints : 1; }

static int point_config(const tr_cli *c, const tr_input *in, int64_t p, sm_config *cfg, sm_error *err)
{
    char *sets[SWEEP_MAX_KEYS];
    int n = 0, rc = 1;
    for (int k = 0; in->has_sweep && k < in->spec.nkeys; k++)
        if (!(sets[n++] = sweep_point_set(&in->spec, p, k))) goto done;
    rc = config_parse(cfg, in->base, c->config, sets, n, err);
done:
    for (int k = 0; k < n; k++) free(sets[k]);
    return rc;
}

/* Sizes default to the config's lattice; every size must suit its boundary. */
static int check_sizes(tr_cli *c, const sm_config *cfg, sm_error *err)
{
    if (c->o.nsizes == 0) {
        if (cfg->Lx != cfg->Ly)
            return sm_fail(err, "%s: lattice: %d x %d is not square (give --sizes)", c->config, cfg->Lx, cfg->Ly);
        c->o.nsizes = 1;
        c->o.sizes[0] = cfg->Lx;
    }
    for (int i = 0; i < c->o.nsizes; i++)
        if (cfg->boundary == BOUNDARY_PERIODIC && c->o.sizes[i] % 2)
            return sm_fail(err, "--sizes: %d: periodic lattices need an even size", c->o.sizes[i]);
    return 0;
}

static void default_output(const tr_cli *c, const sm_config *cfg, char *out, size_t n)
{
    if (c->output) {
        snprintf(out, n, "%s", c->output);
        return;
    }
    char stem[CONFIG_PATH_MAX];
    snprintf(stem, sizeof stem, "%s", cfg->output_path);
    const size_t len = strlen(stem);
    if (len > 3 && strcmp(stem + len - 3, ".h5") == 0) stem[len - 3] = 0;
    snprintf(out, n, "%s.transition.h5", stem);
}

/* One point: run, write, and print (text) or collect (JSON). */
static int run_point(const tr_cli *c, const tr_input *in, int64_t p, h5out *h, cJSON *jpoints,
                     sm_error *err)
{
    sm_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return sm_fail(err, "out of memory");
    int rc = point_config(c, in, p, cfg, err);
    char desc[512] = "", prefix[64] = "/transition";
    if (in->has_sweep) {
        sweep_point_describe(&in->spec, p, desc, sizeof desc);
        snprintf(prefix, sizeof prefix, "/transition/point_%04lld", (long long)p);
        if (!c->json && !rc) printf("point %lld: %s\n", (long long)p, desc);
    }
    tr_result r;
    memset(&r, 0, sizeof r);
    if (!rc) rc = transition_run(cfg, &c->o, &r, err);
    if (!rc) rc = transition_write(h, prefix, &r, c->o.nseeds, err);
    if (!rc && in->has_sweep) rc = h5out_write_string_attr(h, prefix, "point", desc, err);
    if (!rc && c->json) {
        cJSON *j = transition_json(&r, &cfg->model);
        if (in->has_sweep) cJSON_AddStringToObject(j, "point", desc);
        cJSON_AddItemToArray(jpoints, j);
    } else if (!rc) {
        transition_print(stdout, &r, &cfg->model);
        fflush(stdout);
    }
    transition_free(&r);
    free(cfg);
    return rc;
}

static int run_all(tr_cli *c, const tr_input *in, sm_error *err)
{
    sm_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return sm_fail(err, "out of memory");
    int rc = 0, usage_err = 0;
    for (int64_t p = 0; p < npoints(in) && !rc; p++) rc = point_config(c, in, p, cfg, err);
    if (!rc) rc = point_config(c, in, 0, cfg, err) || check_sizes(c, cfg, err);
    char path[CONFIG_PATH_MAX + 32];
    h5out *h = NULL;
    char *json = rc ? NULL : config_to_json(cfg);
    /* one writer: the lock is taken before the output is looked at */
    outfile_lock lock = {.fd = -1};
    int busy = 0;
    if (!rc) {
        default_output(c, cfg, path, sizeof path);
        rc = outfile_mkdirs(path, err) || outfile_lock_take(&lock, path, &busy, err);
        usage_err = !rc && h5out_check_path(path, c->overwrite, err);
        rc = rc || usage_err ||
             h5out_create(&h, path, c->overwrite, cfg, json ? json : "{}", cfg->source, err);
    }
    free(json);
    free(cfg);
    if (rc) {
        outfile_lock_release(&lock);
        /* an invalid point or an existing output is the user's to fix */
        return busy ? SM_EXIT_RUNTIME : usage_err || !h ? SM_EXIT_USAGE : SM_EXIT_RUNTIME;
    }
    c->o.log = c->quiet ? NULL : stderr;
    cJSON *jroot = cJSON_CreateObject(), *jpoints = cJSON_CreateArray();
    for (int64_t p = 0; p < npoints(in) && !rc; p++) rc = run_point(c, in, p, h, jpoints, err);
    rc = h5out_close(h, rc ? H5OUT_KEEP : H5OUT_PUBLISH, rc ? NULL : err) || rc;
    outfile_lock_release(&lock);
    if (!rc && c->json) {
        if (in->has_sweep) {
            cJSON_AddItemToObject(jroot, "points", jpoints);
        } else {
            cJSON_Delete(jroot);
            jroot = cJSON_DetachItemFromArray(jpoints, 0);
            cJSON_Delete(jpoints);
        }
        jpoints = NULL;
        cJSON_AddNumberToObject(jroot, "seeds", c->o.nseeds);
        cJSON_AddNumberToObject(jroot, "sweeps", (double)c->o.sch.sweeps);
        cJSON_AddStringToObject(jroot, "output", path);
        char *s = cJSON_Print(jroot);
        if (s) printf("%s\n", s);
        free(s);
    } else if (!rc) {
        printf("wrote %s\n", path);
    }
    cJSON_Delete(jpoints);
    cJSON_Delete(jroot);
    return rc ? SM_EXIT_RUNTIME : SM_EXIT_OK;
}

int cmd_transition(int argc, char **argv)
{
    tr_cli c;
    memset(&c, 0, sizeof c);
    c.sets = calloc((size_t)argc, sizeof *c.sets);
    if (!c.sets) return SM_EXIT_RUNTIME;
    int code = parse_opts(argc, argv, &c);
    if (code < 0) {
        sm_error err = {{0}};
        tr_input in;
        if (load_input(&c, &in, &err)) {
            code = SM_EXIT_USAGE;
        } else {
            code = run_all(&c, &in, &err);
        }
        if (code != SM_EXIT_OK) fprintf(stderr, "softmatrix transition: %s\n", err.msg);
        free(in.base);
        if (in.has_sweep) sweep_free(&in.spec);
    }
    free(c.sets);
    return code;
}
