/* Run driver. Keeps the measured rows in memory (for the summary's error
 * analysis) and streams them to the HDF5 file in batches. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "census_diag.h"
#include "h5out.h"
#include "kinetics.h"
#include "observables.h"
#include "run.h"
#include "sim.h"
#include "summary.h"
#include "version.h"

typedef struct {
    obs_layout L;
    obs_core_columns cc;
    obs_cage_columns kc;   /* used when cage */
    int cage;
    int64_t n, cap, written;
    int64_t *step;
    int *segment;
    double *rows;
} series_buffer;

static int buffer_push(series_buffer *b, sm_error *err)
{
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 1024;
        int64_t *st = realloc(b->step, sizeof *st * (size_t)cap);
        if (st) b->step = st;
        int *sg = realloc(b->segment, sizeof *sg * (size_t)cap);
        if (sg) b->segment = sg;
        double *r = realloc(b->rows, sizeof *r * (size_t)cap * (size_t)b->L.total);
        if (r) b->rows = r;
        if (!st || !sg || !r) return sm_fail(err, "out of memory for %lld measurements", (long long)cap);
        b->cap = cap;
    }
    b->n++;
    return 0;
}

static void buffer_free(series_buffer *b)
{
    free(b->step);
    free(b->segment);
    free(b->rows);
}

static void fmt_duration(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0) { snprintf(buf, n, "--:--"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

typedef struct {
    int enabled;
    double t0, last;
    int64_t total;
    int64_t sites;
} progress;

static void progress_show(progress *p, int64_t done, double T, int force)
{
    if (!p->enabled) return;
    const double now = omp_get_wtime();
    if (!force && now - p->last < 0.5) return;
    p->last = now;
    const double el = now - p->t0;
    const double rate = el > 0 ? (double)done * (double)p->sites / el : 0.0;
    char eta[32], elapsed[32];
    fmt_duration(eta, sizeof eta, done > 0 ? el * (double)(p->total - done) / (double)done : NAN);
    fmt_duration(elapsed, sizeof elapsed, el);
    fprintf(stderr, "\r  sweep %lld/%lld (%5.1f%%)  T=%-8.4g %9.3g site-updates/s  elapsed %s  ETA %s ",
            (long long)done, (long long)p->total, 100.0 * (double)done / (double)p->total, T, rate,
            elapsed, eta);
    if (force) fprintf(stderr, "\n");
}

static int write_summary(h5out *h, const run_summary *S, const sm_config *cfg, double ns,
                         int threads, double wall, sm_error *err)
{
    for (int i = 0; i < S->nitems; i++) {
        const summary_item *it = &S->item[i];
        uint64_t dims[2] = {(uint64_t)S->nseg, (uint64_t)it->width};
        const int rank = it->width > 1 ? 2 : 1;
        const char *names[3] = {"mean", "error", "tau_int"};
        const double *data[3] = {it->mean, it->error, it->tau};
        for (int k = 0; k < 3; k++) {
            char path[256];
            snprintf(path, sizeof path, "/summary/%s/%s", it->name, names[k]);
            if (h5out_write_array(h, path, rank, dims, data[k], err)) return 1;
        }
        char path[256];
        snprintf(path, sizeof path, "/summary/%s", it->name);
        if (it->desc && h5out_write_string_attr(h, path, "description", it->desc, err)) return 1;
    }
    double *buf = malloc(sizeof *buf * (size_t)S->nseg * 4);
    if (!buf) return sm_fail(err, "out of memory");
    for (int s = 0; s < S->nseg; s++) {
        buf[s] = cfg->seg[s].T_from;
        buf[S->nseg + s] = cfg->seg[s].T_to;
        buf[2 * S->nseg + s] = (double)cfg->seg[s].sweeps;
        buf[3 * S->nseg + s] = (double)S->samples[s];
    }
    uint64_t d = (uint64_t)S->nseg;
    int rc = h5out_write_array(h, "/summary/segments/T_from", 1, &d, buf, err) ||
             h5out_write_array(h, "/summary/segments/T_to", 1, &d, buf + S->nseg, err) ||
             h5out_write_array(h, "/summary/segments/sweeps", 1, &d, buf + 2 * S->nseg, err) ||
             h5out_write_array(h, "/summary/segments/samples", 1, &d, buf + 3 * S->nseg, err);
    free(buf);
    if (rc) return 1;
    double th = threads;
    return h5out_write_array(h, "/summary/timing/ns_per_site_update", 0, NULL, &ns, err) ||
           h5out_write_array(h, "/summary/timing/threads", 0, NULL, &th, err) ||
           h5out_write_array(h, "/summary/timing/wall_seconds", 0, NULL, &wall, err);
}

/* Refuse a lattice that cannot fit before allocating any of it. */
static int check_memory(const sm_config *cfg, sm_error *err)
{
    const double N = (double)cfg->Lx * (double)cfg->Ly;
    /* cage: last completion sweep and level, soft-matrix event buffer */
    const double cage = cfg->dynamics == DYN_CAGE ? 8 + 1 + 4 : 0;
    const double need = N * (1 + 1 + 1 + 4 + 16 + cage) * 1.1;
    const double have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (have > 0 && need > 0.8 * have)
        return sm_fail(err, "%s: lattice: %d x %d needs about %.1f GiB, more than 80%% of this machine's %.1f GiB",
                       cfg->source, cfg->Lx, cfg->Ly, need / 1073741824.0, have / 1073741824.0);
    return 0;
}

int run_main(const sm_config *cfg, const run_options *opt, sm_error *err)
{
    const char *path = opt->output ? opt->output : cfg->output_path;
    if (check_memory(cfg, err)) return SM_EXIT_USAGE;
    const int threads = opt->threads > 0 ? opt->threads : (cfg->threads > 0 ? cfg->threads : omp_get_max_threads());
    omp_set_num_threads(threads);

    char *json = config_to_json(cfg);
    if (!json) return sm_fail(err, "out of memory"), SM_EXIT_RUNTIME;
    h5out *h = NULL;
    int usage = 0;
    if (h5out_open(&h, path, opt->overwrite, cfg, json, &usage, err)) {
        free(json);
        if (h) h5out_close(h, 0, NULL);
        return usage ? SM_EXIT_USAGE : SM_EXIT_RUNTIME;
    }
    free(json);

    sim_state sim;
    series_buffer buf = {0};
    run_summary S = {0};
    int code = SM_EXIT_RUNTIME;
    /* per-segment kinetic counters over each segment's measured sweeps */
    kin_counters *kseg = calloc((size_t)cfg->nseg, sizeof *kseg);
    if (!kseg) {
        sm_fail(err, "out of memory");
        h5out_close(h, 0, NULL);
        return SM_EXIT_RUNTIME;
    }
    if (sim_init(&sim, cfg, err)) {
        free(kseg);
        h5out_close(h, 0, NULL);
        return SM_EXIT_RUNTIME;
    }
    obs_layout_core(&buf.L, &buf.cc, sim.move_names, sim.nmoves);
    buf.cage = sim.kind == DYN_CAGE;
    if (buf.cage) obs_layout_cage(&buf.L, &buf.kc);
    census_diag census = {0};
    const int do_census = cfg->census_every > 0;
    if (do_census && census_diag_init(&census, &sim.lat, &sim.st, err)) goto fail;

    const int quiet = opt->quiet;
    const char *bnd = cfg->boundary == BOUNDARY_PERIODIC ? "periodic" : "open";
    if (!quiet)
        fprintf(stderr, "softmatrix %s: %s, %dx%d %s, %s dynamics, %d thread%s, seed %lld -> %s\n",
                SOFTMATRIX_VERSION, cfg->source, cfg->Lx, cfg->Ly, bnd,
                cfg->dynamics == DYN_LEVEL ? "level" : "cage", threads, threads > 1 ? "s" : "",
                (long long)cfg->seed, path);

    const int64_t total = config_total_sweeps(cfg);
    progress pr = {!quiet && isatty(2), omp_get_wtime(), 0.0, cfg->equilibration_sweeps + total,
                   sim.lat.N};
    double sweep_time = 0.0, t0 = omp_get_wtime(), last_flush = t0;

    sim_set_temperature(&sim, cfg->seg[0].T_from);
    for (int64_t k = 0; k < cfg->equilibration_sweeps; k++) {
        double ts = omp_get_wtime();
        sim_sweep(&sim);
        sweep_time += omp_get_wtime() - ts;
        progress_show(&pr, sim.step, sim.T, 0);
    }
    move_stats mark = sim.moves;
    kin_counters kmark = sim.kin.c, kstart = sim.kin.c;
    int64_t kmark_step = sim.step;
    for (int64_t k = 0; k < total; k++) {
        const schedule_point sp = config_schedule_point(cfg, k);
        sim_set_temperature(&sim, sp.T);
        if (sp.measured && sp.index == 0) kstart = sim.kin.c;
        double ts = omp_get_wtime();
        sim_sweep(&sim);
        sweep_time += omp_get_wtime() - ts;
        if (sp.measured && sp.index == cfg->seg[sp.segment].sweeps - 1)
            kseg[sp.segment] = kinetics_diff(&sim.kin.c, &kstart);
        if (sp.measured && (sp.index + 1) % cfg->measure_every == 0) {
            if (buffer_push(&buf, err)) goto fail;
            move_stats since = sim.moves;
            for (int i = 0; i < MOVES_MAX; i++) {
                since.proposed[i] -= mark.proposed[i];
                since.accepted[i] -= mark.accepted[i];
            }
            mark = sim.moves;
            const int64_t r = buf.n - 1;
            buf.step[r] = sim.step;
            buf.segment[r] = sp.segment;
            obs_measure_core(&buf.cc, &sim.lat, &sim.st, &sim.p, &sim.e, sim.T, &since,
                             sim.nmoves, buf.rows + r * buf.L.total);
            if (buf.cage) {
                const kin_counters ks = kinetics_diff(&sim.kin.c, &kmark);
                obs_measure_cage(&buf.kc, &sim.lat, &sim.st, &ks, sim.step - kmark_step,
                                 buf.rows + r * buf.L.total);
                kmark = sim.kin.c;
                kmark_step = sim.step;
            }
        }
        if (do_census && sp.measured && (sp.index + 1) % cfg->census_every == 0 &&
            census_diag_measure(&census, h, sim.step, err))
            goto fail;
        if (cfg->snapshot_every > 0 && (k + 1) % cfg->snapshot_every == 0)
            if (h5out_snapshot(h, cfg->snapshot_fields, cfg->Lx, cfg->Ly, &sim.st, sim.step,
                               cfg->compression, err))
                goto fail;
        const double now = omp_get_wtime();
        if (now - last_flush > 2.0 || buf.n - buf.written >= 65536) {
            if (h5out_observables_append(h, &buf.L, buf.step + buf.written,
                                         buf.rows + buf.written * buf.L.total,
                                         buf.n - buf.written, err) ||
                h5out_flush(h, err))
                goto fail;
            buf.written = buf.n;
            last_flush = now;
        }
        progress_show(&pr, sim.step, sim.T, 0);
    }
    progress_show(&pr, sim.step, sim.T, 1);
    if (h5out_observables_append(h, &buf.L, buf.step + buf.written,
                                 buf.rows + buf.written * buf.L.total, buf.n - buf.written, err))
        goto fail;
    buf.written = buf.n;

    const double sweeps_done = (double)sim.step;
    const double ns = sweeps_done > 0 ? 1e9 * sweep_time / (sweeps_done * (double)sim_site_updates_per_sweep(&sim)) : NAN;
    const double wall = omp_get_wtime() - t0;
    if (summary_compute(&S, &buf.L, buf.rows, buf.segment, buf.n, cfg, sim.lat.N)) {
        sm_fail(err, "out of memory computing the summary");
        goto fail;
    }
    if (write_summary(h, &S, cfg, ns, threads, wall, err)) goto fail;
    if (buf.cage && kinetics_write(h, kseg, cfg->nseg, err)) goto fail;
    if (!quiet) {
        summary_print(stdout, &S, cfg);
        census_diag_print(stdout, &census);
        if (buf.cage) kinetics_print(stdout, kseg, cfg);
        /* the cage dynamics' unit is one PCP move proposal (sim.h) */
        printf("timing: %.3f ns per %s (%d thread%s), %.2f s wall, %lld sweeps of %lld sites\n",
               ns, buf.cage ? "PCP move" : "site-update", threads, threads > 1 ? "s" : "", wall,
               (long long)sim.step, (long long)sim.lat.N);
    }
    if (h5out_close(h, 1, err)) {
        h = NULL;
        goto fail;
    }
    h = NULL;
    if (!quiet) printf("wrote %s\n", path);
    code = SM_EXIT_OK;
fail:
    if (h) h5out_close(h, 0, NULL);
    summary_free(&S);
    buffer_free(&buf);
    free(kseg);
    if (do_census) census_diag_free(&census);
    sim_free(&sim);
    return code;
}
