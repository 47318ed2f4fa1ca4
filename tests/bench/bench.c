/* `make bench`: ns per site-update of the level sweep, the cage sweep (when
 * the library has the cage kind, include/dynamics/cage.h), the census and a snapshot write, next to a
 * plain Ising checkerboard kernel on the same lattice, at several L and
 * thread counts. Each measurement is `reps` timed repetitions, each after
 * one untimed unit that warms the caches; a repetition runs enough units
 * (sweeps, censuses, ...) to last a few milliseconds. At one L the
 * repetitions of all kernels and thread counts are interleaved (repetition
 * 1 of each, then repetition 2 of each, ...), so that the ratios "vs Ising"
 * and "vs 1 thread" compare measurements taken under the same conditions
 * even when the speed of a shared machine drifts. Reported: median, min, max and the interquartile
 * range over repetitions, as a table on stdout and as JSON, with the CPU
 * time per site (all threads) so that a run on a busy machine shows itself:
 * wall > CPU / threads means the threads were not running.
 *
 * The census row also gives its cost in level sweeps (census / level sweep
 * at the same L and threads). The lattice is the level dynamics' state
 * after --presweeps sweeps from a random start at --temperature, on a
 * periodic lattice or, with --boundary open, an open one. The
 * census_uniform row is the census's worst case instead: levels drawn
 * uniformly from -1..8 with no RSOS constraint, so that every row holds
 * every level. The measure row is one measurement row of the observable
 * groups that serve the level dynamics (what measure_every = 1 adds to a
 * sweep); its "level sweeps" column is that cost as a fraction of a sweep.
 *
 *   bench [--sizes 256,1024,4096] [--threads 1,2] [--reps N] [--out FILE]
 *         [--only level,ising,cage,measure,census,census_uniform,snapshot,loaded]
 *         [--temperature T]
 *         [--presweeps N] [--boundary periodic|open]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <omp.h>

#include "diag/census.h"
#include "diag/obs_group.h"
#include "io/config.h"
#include "io/h5out.h"
#include "core/state.h"
#include "dynamics/dynamics.h"
#include "census_memory.h"
#include "core/rng.h"
#include "ising.h"
#include "loaded.h"
#include "run/threads.h"

#if defined(__has_include)
#if __has_include("dynamics/cage.h")
#define BENCH_HAVE_CAGE 1
#endif
#endif
#ifndef BENCH_HAVE_CAGE
#define BENCH_HAVE_CAGE 0
#endif

enum { MAX_LIST = 8, MAX_REPS = 64, MAX_RESULTS = 128 };

typedef struct {
    const char *op;
    int L, threads, reps;
    int64_t units, sites_per_unit;
    double med, min, max, iqr;   /* ns per site-update, wall clock */
    double cpu;                  /* median CPU ns per site-update, all threads summed: on a
                                  * shared machine, compare with med to see contention */
    double ref;                  /* Ising median at the same L and threads, 0 if none */
    double ref_level;            /* census: level-sweep median at the same L and threads, 0 if none */
    double scratch;              /* census: bytes per site one census adds to the peak RSS, 0 if none */
} result;

typedef struct {
    int sizes[MAX_LIST], nsizes;
    int threads[MAX_LIST], nthreads;
    int reps;                    /* 0: by size */
    const char *out;
    const char *only;
    double temperature;          /* of the lattice state */
    int presweeps;               /* sweeps from the random start before measuring */
    boundary_kind boundary;      /* of the level, cage and census lattices */
    result res[MAX_RESULTS];
    int nres;
    double load0[3], load1[3];   /* load averages (1, 5, 15 min) at start and end */
} bench;

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile by linear interpolation on sorted v. */
static double quantile(const double *v, int n, double q)
{
    const double p = q * (n - 1);
    const int i = (int)p;
    return i + 1 < n ? v[i] + (p - i) * (v[i + 1] - v[i]) : v[n - 1];
}

typedef void (*unit_fn)(void *ctx);

/* One kernel at one thread count: `reps` timed repetitions of `units` calls
 * of fn, each unit `sites_per_unit` site-updates. */
typedef struct {
    const char *op;
    int nt, reps;
    int64_t units, sites_per_unit;
    unit_fn fn;
    void *ctx;
    double t[MAX_REPS], c[MAX_REPS];   /* wall and CPU ns per site-update */
} job;

static job mkjob(const char *op, int nt, int reps, int64_t units, int64_t sites_per_unit,
                 unit_fn fn, void *ctx)
{
    job j;
    memset(&j, 0, sizeof j);
    j.op = op;
    j.nt = nt;
    j.reps = reps > MAX_REPS ? MAX_REPS : reps;
    j.units = units;
    j.sites_per_unit = sites_per_unit;
    j.fn = fn;
    j.ctx = ctx;
    return j;
}

/* Repetition r of j. It starts with one untimed unit: the job before it
 * (interleaved) has filled the caches with its own data. */
static void job_rep(job *j, int r)
{
    /* After a parallel region, libgomp's idle threads spin for a while (some
     * ms with Zen's slow PAUSE) before they sleep: let them settle before
     * timing fewer threads, or they take the other core and show up in the
     * CPU time. */
    static int last_nt = 0;
    if (last_nt > j->nt) {
        const struct timespec d = {0, 30000000};
        nanosleep(&d, NULL);
    }
    last_nt = j->nt;
    omp_set_num_threads(j->nt);
    j->fn(j->ctx);
    const double per = 1e9 / ((double)j->units * (double)j->sites_per_unit);
    const double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = now();
    for (int64_t u = 0; u < j->units; u++) j->fn(j->ctx);
    j->t[r] = (now() - t0) * per;
    j->c[r] = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * per;
}

static result *job_result(bench *b, job *j, int L)
{
    const int reps = j->reps;
    double *t = j->t, *c = j->c;
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    qsort(c, (size_t)reps, sizeof c[0], cmp_double);
    if (b->nres == MAX_RESULTS) {
        fprintf(stderr, "bench: more than %d results\n", MAX_RESULTS);
        exit(2);
    }
    result *res = &b->res[b->nres++];
    *res = (result){j->op, L, j->nt, reps, j->units, j->sites_per_unit, quantile(t, reps, 0.5),
                    t[0], t[reps - 1], quantile(t, reps, 0.75) - quantile(t, reps, 0.25),
                    quantile(c, reps, 0.5), 0.0, 0.0, 0.0};
    printf("%-14s L=%-5d threads=%d  %8.3f ns/site  (min %.3f max %.3f, cpu %.3f, %d reps x %lld)\n",
           j->op, L, j->nt, res->med, res->min, res->max, res->cpu, reps, (long long)j->units);
    fflush(stdout);
    return res;
}

static int want(const bench *b, const char *op)
{
    if (!b->only) return 1;
    const size_t n = strlen(op);
    for (const char *p = b->only; (p = strstr(p, op)); p += n)
        if ((p == b->only || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) return 1;
    return 0;
}

/* Units per repetition: about 4M site-updates, at least one. */
static int64_t units_for(int64_t sites) { return sites >= (1 << 22) ? 1 : (1 << 22) / sites; }
static int reps_for(const bench *b, int L) { return b->reps ? b->reps : L >= 4096 ? 5 : 11; }

static void unit_sim(void *ctx) { sim_sweep(ctx); }

typedef struct { ising m; uint64_t sweep; } ising_ctx;
static void unit_ising(void *ctx)
{
    ising_ctx *c = ctx;
    ising_sweep(&c->m, 12345, c->sweep++);
}

/* A census as a run takes one: its work buffers allocated and freed by the
 * call (census_diag.c). */
typedef struct { census_input in; census_result *r; } census_ctx;
static void unit_census(void *ctx)
{
    census_ctx *c = ctx;
    sm_error err;
    if (census_compute(&c->in, NULL, c->r, &err)) {
        fprintf(stderr, "bench: census: %s\n", err.msg);
        exit(1);
    }
}

/* Bytes per site a census adds to the peak resident set: the peak is reset
 * (Linux: 5 to /proc/self/clear_refs), one census runs, and the new peak
 * less the resident set before it is its scratch. -1 where unsupported. */
static double census_scratch(census_ctx *c, int64_t N)
{
    if (!proc_peak_reset()) return -1;
    const long before = proc_status_kb("VmRSS:");
    unit_census(c);
    return 1024.0 * (double)(proc_status_kb("VmHWM:") - before) / (double)N;
}

/* One measurement row of every observable group that serves the state: what
 * measure_every = 1 adds to each sweep (the summary's accumulators aside). */
enum { MEASURE_MAX_GROUPS = 16 };
typedef struct {
    const sim_state *sim;
    int ngroups;
    const obs_group_ops *group[MEASURE_MAX_GROUPS];
    void *state[MEASURE_MAX_GROUPS];
    obs_layout L;
    double *row;
} measure_ctx;

static int measure_init(measure_ctx *m, const sim_state *sim)
{
    memset(m, 0, sizeof *m);
    m->sim = sim;
    for (int i = 0; OBS_GROUP_REGISTRY[i] && m->ngroups < MEASURE_MAX_GROUPS; i++) {
        void *st = calloc(1, OBS_GROUP_REGISTRY[i]->state_size);
        if (!st) return 1;
        if (OBS_GROUP_REGISTRY[i]->layout(st, &m->L, sim)) { free(st); continue; }
        if (OBS_GROUP_REGISTRY[i]->begin) OBS_GROUP_REGISTRY[i]->begin(st, sim);
        m->group[m->ngroups] = OBS_GROUP_REGISTRY[i];
        m->state[m->ngroups++] = st;
    }
    m->row = calloc((size_t)m->L.total + 1, sizeof *m->row);
    return !m->row;
}

static void measure_free(measure_ctx *m)
{
    for (int g = 0; g < m->ngroups; g++) free(m->state[g]);
    free(m->row);
}

static void unit_measure(void *ctx)
{
    measure_ctx *m = ctx;
    for (int g = 0; g < m->ngroups; g++) m->group[g]->measure(m->state[g], m->sim, m->row);
}

typedef struct { h5out *h; const sm_config *cfg; const model_state *st; int64_t step; } snap_ctx;
static void unit_snapshot(void *ctx)
{
    snap_ctx *c = ctx;
    sm_error err;
    if (h5out_snapshot(c->h, c->cfg->snapshot_fields, c->cfg->Lx, c->cfg->Ly, c->st, c->step++,
                       c->cfg->compression, &err) ||
        h5out_flush(c->h, &err)) {
        fprintf(stderr, "bench: snapshot: %s\n", err.msg);
        exit(1);
    }
}

static int make_sim(sim_state *s, sm_config *cfg, int L, const char *kind, double T,
                    boundary_kind boundary)
{
    sm_error err;
    char set[64];
    snprintf(set, sizeof set, "temperature=%.17g", T);
    char *sets[] = {set};
    if (config_parse(cfg, "{}", "bench", sets, 1, &err)) {
        fprintf(stderr, "bench: config: %s\n", err.msg);
        return 1;
    }
    cfg->Lx = cfg->Ly = L;
    cfg->boundary = boundary;
    cfg->dynamics = dynamics_index(kind);
    cfg->init_level_random = 1;
    if (sim_init(s, cfg, &err)) {
        fprintf(stderr, "bench: sim_init: %s\n", err.msg);
        return 1;
    }
    sim_set_temperature(s, T);
    return 0;
}

/* The cage lattice from PCP phases drawn uniformly (their equilibrium
 * distribution, as a run hands them over after its level equilibration),
 * not all at phi = 0, where every PCP stands at the loop boundary and reads
 * its neighbours; then the presweeps. */
static void cage_start(sim_state *s, int presweeps)
{
    for (int64_t a = 0; a < s->lat.N; a++)
        s->st.phase[a] = (uint8_t)(rng_draw(s->seed, 0, RNG_STREAM_PHASE, 0, (uint32_t)a).v[0] % NPHASE);
    for (int i = 0; i < presweeps; i++) sim_sweep(s);
}

static void run_size(bench *b, int L, const char *outdir)
{
    const int64_t N = (int64_t)L * L;
    const int reps = reps_for(b, L);
    sm_config *cfg = malloc(sizeof *cfg), *ccfg = malloc(sizeof *ccfg);
    sim_state sim, cs;
    if (!cfg || !ccfg || make_sim(&sim, cfg, L, "level", b->temperature, b->boundary)) exit(1);
    /* sweeps so that the level field is not the initial {-1, 0} one */
    for (int i = 0; i < b->presweeps; i++) sim_sweep(&sim);
    const int cage = want(b, "cage") && BENCH_HAVE_CAGE;
    if (cage && make_sim(&cs, ccfg, L, "cage", b->temperature, b->boundary)) exit(1);
    if (cage) cage_start(&cs, b->presweeps);
    ising_ctx ic = {.sweep = 0};
    if (want(b, "ising") && ising_init(&ic.m, L, 2.5, 99)) exit(1);
    sm_error err;
    census_ctx cc = {.in = {.Lx = L, .Ly = L, .boundary = b->boundary,
                            .level = sim.st.level, .sigma = sim.st.sigma}};
    if (want(b, "census")) {
        cc.r = malloc(sizeof *cc.r);
        if (!cc.r) exit(1);
    }
    int8_t *ulevel = NULL, *usigma = NULL;
    census_ctx cu = {.in = {.Lx = L, .Ly = L, .boundary = b->boundary}};
    if (want(b, "census_uniform")) {
        ulevel = malloc((size_t)N);
        usigma = malloc((size_t)N);
        cu.r = malloc(sizeof *cu.r);
        if (!ulevel || !usigma || !cu.r) exit(1);
        census_fill_uniform(ulevel, usigma, N);
        cu.in.level = ulevel;
        cu.in.sigma = usigma;
    }
    measure_ctx mc;
    if (want(b, "measure") && measure_init(&mc, &sim)) exit(1);
    /* outdir is a 1024-byte buffer of main; the name adds at most 40 */
    char path[1100];
    snprintf(path, sizeof path, "%s/snapshot_%d.h5", outdir, L);
    snap_ctx sc = {NULL, cfg, &sim.st, 0};
    if (want(b, "snapshot")) {
        if (h5out_create(&sc.h, path, 1, cfg, "{}", "bench", &err)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
    }

    /* the jobs, in table order */
    static job jobs[7 * MAX_LIST];
    int nj = 0;
    for (int ti = 0; ti < b->nthreads; ti++) {
        const int nt = b->threads[ti];
        const int64_t u = units_for(N);
        if (want(b, "ising")) jobs[nj++] = mkjob("ising", nt, reps, u, N, unit_ising, &ic);
        if (want(b, "level"))
            jobs[nj++] = mkjob("level", nt, reps, u, sim_site_updates_per_sweep(&sim), unit_sim, &sim);
        if (cage)
            jobs[nj++] = mkjob("cage", nt, reps, u, sim_site_updates_per_sweep(&cs), unit_sim, &cs);
        if (want(b, "measure"))
            jobs[nj++] = mkjob("measure", nt, reps, 8 * u, N, unit_measure, &mc);   /* a short unit */
        if (want(b, "census"))
            jobs[nj++] = mkjob("census", nt, L >= 4096 ? 3 : reps, 1, N, unit_census, &cc);
        if (want(b, "census_uniform"))
            jobs[nj++] = mkjob("census_uniform", nt, L >= 4096 ? 3 : reps, 1, N, unit_census, &cu);
        /* HDF5 writes are serial: measured once, at the first thread count */
        if (want(b, "snapshot") && ti == 0)
            jobs[nj++] = mkjob("snapshot", nt, L >= 4096 ? 3 : 5, 1, N, unit_snapshot, &sc);
    }
    int maxreps = 0;
    for (int k = 0; k < nj; k++) maxreps = jobs[k].reps > maxreps ? jobs[k].reps : maxreps;
    for (int r = 0; r < maxreps; r++)
        for (int k = 0; k < nj; k++)
            if (r < jobs[k].reps) job_rep(&jobs[k], r);

    result *res[7 * MAX_LIST];
    for (int k = 0; k < nj; k++) res[k] = job_result(b, &jobs[k], L);
    for (int k = 0; k < nj; k++)
        if (!strcmp(jobs[k].op, "level") || !strcmp(jobs[k].op, "cage"))
            for (int q = 0; q < nj; q++)
                if (!strcmp(jobs[q].op, "ising") && jobs[q].nt == jobs[k].nt) res[k]->ref = res[q]->med;
    for (int k = 0; k < nj; k++)
        if (!strcmp(jobs[k].op, "census") || !strcmp(jobs[k].op, "census_uniform")) {
            omp_set_num_threads(jobs[k].nt);
            res[k]->scratch = census_scratch(jobs[k].ctx, N);
        }
    for (int k = 0; k < nj; k++)
        if (!strcmp(jobs[k].op, "census") || !strcmp(jobs[k].op, "census_uniform") ||
            !strcmp(jobs[k].op, "measure"))
            for (int q = 0; q < nj; q++)
                if (!strcmp(jobs[q].op, "level") && jobs[q].nt == jobs[k].nt) res[k]->ref_level = res[q]->med;

    if (want(b, "snapshot")) {
        h5out_close(sc.h, H5OUT_KEEP, &err);
        remove(path);
        snprintf(path, sizeof path, "%s/snapshot_%d.h5.partial", outdir, L);
        remove(path);
    }
    if (want(b, "measure")) measure_free(&mc);
    if (want(b, "census")) {
        free(cc.r);
    }
    if (want(b, "census_uniform")) {
        free(cu.r);
        free(ulevel);
        free(usigma);
    }
    if (want(b, "ising")) ising_free(&ic.m);
    if (cage) sim_free(&cs);
    sim_free(&sim);
    free(ccfg);
    free(cfg);
}

static int parse_list(const char *s, int *v, int max)
{
    int n = 0;
    for (char *e; *s && n < max; s = *e ? e + 1 : e) {
        v[n++] = (int)strtol(s, &e, 10);
        if (e == s) return -1;
    }
    return n;
}

static void cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p += 2;
                p[strcspn(p, "\n")] = 0;
                snprintf(buf, n, "%s", p);
            }
            break;
        }
    fclose(f);
}

static const result *find(const bench *b, const char *op, int L, int nt)
{
    for (int i = 0; i < b->nres; i++)
        if (!strcmp(b->res[i].op, op) && b->res[i].L == L && b->res[i].threads == nt)
            return &b->res[i];
    return NULL;
}

static void write_outputs(const bench *b)
{
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    const int ncpu = omp_get_num_procs();

    printf("\n%s, %d logical CPUs; ns per site-update, median [min, max] of reps\n", cpu, ncpu);
    printf("load average (1/5/15 min): %.2f %.2f %.2f at start, %.2f %.2f %.2f at end\n",
           b->load0[0], b->load0[1], b->load0[2], b->load1[0], b->load1[1], b->load1[2]);
    printf("lattice: %s, level dynamics after %d sweeps at T = %g from a random start\n",
           b->boundary == BOUNDARY_OPEN ? "open" : "periodic", b->presweeps, b->temperature);
    printf("| op | L | threads | ns/site (median) | min | max | IQR | CPU ns/site | vs Ising | speed-up vs 1 thread | level sweeps |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < b->nres; i++) {
        const result *r = &b->res[i];
        const result *one = find(b, r->op, r->L, b->threads[0]);
        char ratio[32] = "", speed[32] = "", sweeps[32] = "";
        if (r->ref > 0) snprintf(ratio, sizeof ratio, "%.2f", r->med / r->ref);
        if (one && one != r) snprintf(speed, sizeof speed, "%.2fx", one->med / r->med);
        if (r->ref_level > 0) snprintf(sweeps, sizeof sweeps, "%.2f", r->med / r->ref_level);
        printf("| %s | %d | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %s | %s |\n", r->op, r->L,
               r->threads, r->med, r->min, r->max, r->iqr, r->cpu, ratio, speed, sweeps);
    }
    if (!BENCH_HAVE_CAGE) printf("(cage sweep: not available - include/dynamics/cage.h not found)\n");
    else printf("cage rows: ns per PCP move proposal (N single jumps + one pair check per bond "
                "per sweep), not per site\n");
    if (want(b, "measure"))
        printf("measure rows: one measurement row of the observable groups (level dynamics); "
               "\"level sweeps\" is its cost as a fraction of a level sweep\n");
    for (int i = 0; i < b->nres; i++)
        if (b->res[i].scratch != 0)
            printf("%s scratch, L = %d, %d thread(s): %.2f bytes/site (peak RSS added by one census)\n",
                   b->res[i].op, b->res[i].L, b->res[i].threads, b->res[i].scratch);
    if (want(b, "census_uniform"))
        printf("census_uniform rows: levels uniform in -1..8 with no RSOS constraint (the census's "
               "worst case), not the level dynamics' state\n");

    FILE *f = fopen(b->out, "w");
    if (!f) {
        fprintf(stderr, "bench: cannot write %s\n", b->out);
        exit(1);
    }
    fprintf(f, "{\n  \"machine\": {\"cpu\": \"%s\", \"logical_cpus\": %d},\n", cpu, ncpu);
    fprintf(f, "  \"compiler\": \"%s\",\n", __VERSION__);
#ifdef BENCH_CFLAGS
    fprintf(f, "  \"cflags\": \"%s\",\n", BENCH_CFLAGS);
#endif
    fprintf(f, "  \"load_average_start\": [%.2f, %.2f, %.2f],\n", b->load0[0], b->load0[1],
            b->load0[2]);
    fprintf(f, "  \"load_average_end\": [%.2f, %.2f, %.2f],\n", b->load1[0], b->load1[1],
            b->load1[2]);
    fprintf(f, "  \"unit\": \"ns per site-update\",\n");
    fprintf(f, "  \"cage_available\": %s,\n", BENCH_HAVE_CAGE ? "true" : "false");
    fprintf(f, "  \"temperature\": %.17g,\n  \"presweeps\": %d,\n  \"boundary\": \"%s\",\n", b->temperature,
            b->presweeps, b->boundary == BOUNDARY_OPEN ? "open" : "periodic");
    fprintf(f, "  \"results\": [\n");
    for (int i = 0; i < b->nres; i++) {
        const result *r = &b->res[i];
        fprintf(f,
                "    {\"op\": \"%s\", \"L\": %d, \"threads\": %d, \"reps\": %d, "
                "\"units_per_rep\": %lld, \"sites_per_unit\": %lld, \"median\": %.4f, "
                "\"min\": %.4f, \"max\": %.4f, \"iqr\": %.4f, \"cpu_median\": %.4f, "
                "\"per\": \"%s\"",
                r->op, r->L, r->threads, r->reps, (long long)r->units,
                (long long)r->sites_per_unit, r->med, r->min, r->max, r->iqr, r->cpu,
                strcmp(r->op, "cage") ? "site-update" : "PCP move");
        if (r->ref > 0) fprintf(f, ", \"ising_median\": %.4f, \"ratio_to_ising\": %.4f", r->ref,
                                r->med / r->ref);
        if (r->ref_level > 0) fprintf(f, ", \"level_median\": %.4f, \"level_sweeps\": %.4f", r->ref_level,
                                      r->med / r->ref_level);
        if (r->scratch != 0) fprintf(f, ", \"scratch_bytes_per_site\": %.3f", r->scratch);
        fprintf(f, "}%s\n", i + 1 < b->nres ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
    printf("\nwritten %s\n", b->out);
}

int main(int argc, char **argv)
{
    threads_quiet_waits(argv);   /* the program's wait policy (run/threads.h) */
    static bench b;
    b.nsizes = parse_list("256,1024,4096", b.sizes, MAX_LIST);
    b.nthreads = parse_list("1,2", b.threads, MAX_LIST);
    b.out = "build/bench/bench.json";
    b.temperature = 1.0;
    b.presweeps = 20;
    b.boundary = BOUNDARY_PERIODIC;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "bench: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--sizes")) b.nsizes = parse_list(v, b.sizes, MAX_LIST);
        else if (!strcmp(a, "--threads")) b.nthreads = parse_list(v, b.threads, MAX_LIST);
        else if (!strcmp(a, "--reps")) b.reps = atoi(v);
        else if (!strcmp(a, "--out")) b.out = v;
        else if (!strcmp(a, "--only")) b.only = v;
        else if (!strcmp(a, "--temperature")) b.temperature = atof(v);
        else if (!strcmp(a, "--presweeps")) b.presweeps = atoi(v);
        else if (!strcmp(a, "--boundary")) {
            if (!strcmp(v, "open")) b.boundary = BOUNDARY_OPEN;
            else if (!strcmp(v, "periodic")) b.boundary = BOUNDARY_PERIODIC;
            else { fprintf(stderr, "bench: --boundary must be periodic or open, not %s\n", v); return 2; }
        }
        else { fprintf(stderr, "bench: unknown option %s\n", a); return 2; }
        i++;
    }
    if (b.nsizes <= 0 || b.nthreads <= 0) { fprintf(stderr, "bench: bad list\n"); return 2; }
    if (!(b.temperature > 0) || b.presweeps < 0) {
        fprintf(stderr, "bench: --temperature must be > 0 and --presweeps >= 0\n");
        return 2;
    }
    for (int i = 0; i < b.nsizes; i++)
        if (b.sizes[i] < 4 || b.sizes[i] % 2) { fprintf(stderr, "bench: L must be even >= 4\n"); return 2; }
    char outdir[1024];
    snprintf(outdir, sizeof outdir, "%s", b.out);
    char *slash = strrchr(outdir, '/');
    if (slash) *slash = 0; else snprintf(outdir, sizeof outdir, ".");
    if (getloadavg(b.load0, 3) != 3) b.load0[0] = b.load0[1] = b.load0[2] = -1;
    for (int i = 0; i < b.nsizes && !(b.only && !strcmp(b.only, "loaded")); i++) run_size(&b, b.sizes[i], outdir);
    if (want(&b, "loaded")) bench_loaded(b.reps);
    if (getloadavg(b.load1, 3) != 3) b.load1[0] = b.load1[1] = b.load1[2] = -1;
    write_outputs(&b);
    return 0;
}
