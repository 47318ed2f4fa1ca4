/* Run driver. Keeps the measured rows in memory (for the summary's error
 * analysis) and streams them to the HDF5 file in batches. Checkpoints
 * (checkpoint.h) save the simulation and this loop's state between sweeps;
 * --resume restores them and cuts the .partial back to the checkpoint, and
 * because every random number is addressed by (seed, step, ...), the run
 * then continues exactly as if it had never stopped. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "diag/census_diag.h"
#include "io/checkpoint.h"
#include "io/h5out.h"
#include "dynamics/kinetics.h"
#include "diag/observables.h"
#include "run/run.h"
#include "core/state.h"
#include "diag/summary.h"
#include "core/version.h"

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

static int buffer_reserve(series_buffer *b, int64_t cap, sm_error *err)
{
    int64_t *st = realloc(b->step, sizeof *st * (size_t)cap);
    if (st) b->step = st;
    int *sg = realloc(b->segment, sizeof *sg * (size_t)cap);
    if (sg) b->segment = sg;
    double *r = realloc(b->rows, sizeof *r * (size_t)cap * (size_t)b->L.total);
    if (r) b->rows = r;
    if (!st || !sg || !r) return sm_fail(err, "out of memory for %lld measurements", (long long)cap);
    b->cap = cap;
    return 0;
}

/* Appends the rows measured since the last write to the output. */
static int buffer_write(series_buffer *b, h5out *h, sm_error *err)
{
    if (h5out_observables_append(h, &b->L, b->step + b->written, b->rows + b->written * b->L.total,
                                 b->n - b->written, err))
        return 1;
    b->written = b->n;
    return 0;
}

static int buffer_push(series_buffer *b, sm_error *err)
{
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 1024;
        if (buffer_reserve(b, cap, err)) return 1;
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
    int64_t start;  /* sweeps done before this process (a resumed run) */
} progress;

static void progress_show(progress *p, int64_t done, double T, int force)
{
    if (!p->enabled) return;
    const double now = omp_get_wtime();
    if (!force && now - p->last < 0.5) return;
    p->last = now;
    const double el = now - p->t0;
    const double here = (double)(done - p->start);
    const double rate = el > 0 ? here * (double)p->sites / el : 0.0;
    char eta[32], elapsed[32];
    fmt_duration(eta, sizeof eta, here > 0 ? el * (double)(p->total - done) / here : NAN);
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


/* Bookkeeping of the measured sweeps besides the simulation itself. */
typedef struct {
    move_stats mark;     /* move counters at the previous measurement */
    kin_counters kmark;  /* kinetic counters at the previous measurement */
    kin_counters kstart; /* ... at the start of the current segment's measured sweeps */
    int64_t kmark_step;
} run_marks;

/* Everything a checkpoint holds, in one place. */
typedef struct {
    const sm_config *cfg;
    const char *json;      /* resolved config: a checkpoint is only valid for it */
    sim_state sim;
    series_buffer buf;
    run_marks m;
    kin_counters *kseg;    /* [nseg], counters over each segment's measured sweeps */
    census_diag census;
    int do_census;
    h5out *h;
    double sweep_time;     /* seconds in sweeps, and wall seconds, of earlier */
    double wall_before;    /* processes of a resumed run (timing only) */
} run_state;

void run_checkpoint_path(char *buf, size_t n, const char *output)
{
    snprintf(buf, n, "%s.ckpt", output);
}

/* Writes the checkpoint. The pending rows are appended and the file flushed
 * first, so that the recorded series row counts are what the .partial holds
 * on disk: a resumed run cuts the file back to exactly these rows. */
static int checkpoint_write(run_state *rs, const char *ckpt, double wall_now, sm_error *err)
{
    series_buffer *b = &rs->buf;
    if (buffer_write(b, rs->h, err) || h5out_flush(rs->h, err)) return 1;
    h5out_count *counts = malloc(sizeof *counts * H5OUT_MAX_COUNTS);
    if (!counts) return sm_fail(err, "out of memory");
    const int ncounts = h5out_counts(rs->h, counts);
    ckpt_writer w;
    if (ckpt_writer_open(&w, ckpt, err)) {
        free(counts);
        return 1;
    }
    const int32_t total = b->L.total;
    const double timing[2] = {rs->sweep_time, wall_now};
    ckpt_put(&w, "run.version", SOFTMATRIX_VERSION, strlen(SOFTMATRIX_VERSION));
    ckpt_put(&w, "run.config", rs->json, strlen(rs->json));
    sim_save(&rs->sim, &w);
    ckpt_put(&w, "run.marks", &rs->m, sizeof rs->m);
    ckpt_put(&w, "run.kseg", rs->kseg, sizeof *rs->kseg * (size_t)rs->cfg->nseg);
    ckpt_put(&w, "run.timing", timing, sizeof timing);
    ckpt_put(&w, "buf.total", &total, sizeof total);
    ckpt_put(&w, "buf.n", &b->n, sizeof b->n);
    ckpt_put(&w, "buf.step", b->step, sizeof *b->step * (size_t)b->n);
    ckpt_put(&w, "buf.segment", b->segment, sizeof *b->segment * (size_t)b->n);
    ckpt_put(&w, "buf.rows", b->rows, sizeof *b->rows * (size_t)b->n * (size_t)total);
    if (rs->do_census) {
        ckpt_put(&w, "census.n", &rs->census.n, sizeof rs->census.n);
        ckpt_put(&w, "census.last_step", &rs->census.last_step, sizeof rs->census.last_step);
        ckpt_put(&w, "census.last", &rs->census.last, sizeof rs->census.last);
    }
    ckpt_put(&w, "h5.counts", counts, sizeof *counts * (size_t)ncounts);
    free(counts);
    return ckpt_writer_commit(&w, rs->sim.step, err);
}

/* One line of the resolved config as it reads, for a message: the JSON
 * printer's tab indentation and the trailing comma dropped, tabs made
 * spaces, at most 80 characters. */
static void config_line(char *out, size_t n, const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    if (e > s && e[-1] == ',') e--;
    size_t k = 0;
    for (; s < e && k + 1 < n && k < 80; s++) out[k++] = *s == '\t' ? ' ' : *s;
    out[k] = 0;
}

/* The first line where the checkpoint's config text a differs from b, as
 * `a line` vs `b line`, so that the refusal says what changed. */
static void config_difference(char *out, size_t n, const char *a, size_t alen, const char *b)
{
    const size_t blen = strlen(b);
    size_t i = 0;
    while (i < alen && i < blen && a[i] == b[i]) i++;
    size_t s = i;
    while (s > 0 && a[s - 1] != '\n') s--;
    size_t ea = s, eb = s;
    while (ea < alen && a[ea] != '\n') ea++;
    while (eb < blen && b[eb] != '\n') eb++;
    char la[96], lb[96];
    config_line(la, sizeof la, a + s, a + ea);
    config_line(lb, sizeof lb, b + s, b + eb);
    snprintf(out, n, "it has `%s` where the config has `%s`", la, lb);
}

/* Restores rs from the checkpoint and returns the series row counts it
 * recorded (*counts malloc'd); nothing on disk is changed. *usage is set when
 * the checkpoint is missing or belongs to another configuration or build. */
static int checkpoint_restore(run_state *rs, const char *ckpt, h5out_count **counts,
                              int *ncounts, int *usage, sm_error *err)
{
    ckpt_reader r;
    int missing = 0;
    if (ckpt_reader_open(&r, ckpt, &missing, err)) {
        if (missing) {
            *usage = 1;
            sm_fail(err, "%s: no checkpoint to resume from (run without --resume to start afresh)", ckpt);
        }
        return 1;
    }
    int rc = 1;
    const ckpt_record *ver = ckpt_find(&r, "run.version", err);
    const ckpt_record *cfg = ver ? ckpt_find(&r, "run.config", err) : NULL;
    if (!cfg) goto done;
    if (ver->size != strlen(SOFTMATRIX_VERSION) || memcmp(ver->data, SOFTMATRIX_VERSION, ver->size)) {
        *usage = 1;
        sm_fail(err, "%s: checkpoint written by softmatrix %.*s, this is %s", ckpt,
                (int)(ver->size > 32 ? 32 : ver->size), (const char *)ver->data, SOFTMATRIX_VERSION);
        goto done;
    }
    if (cfg->size != strlen(rs->json) || memcmp(cfg->data, rs->json, cfg->size)) {
        char diff[256];
        config_difference(diff, sizeof diff, cfg->data, (size_t)cfg->size, rs->json);
        *usage = 1;
        sm_fail(err, "%s: checkpoint was written with another configuration (%s)", ckpt, diff);
        goto done;
    }
    series_buffer *b = &rs->buf;
    int32_t total;
    double timing[2];
    if (sim_restore(&rs->sim, &r, err) ||
        ckpt_get(&r, "run.marks", &rs->m, sizeof rs->m, err) ||
        ckpt_get(&r, "run.kseg", rs->kseg, sizeof *rs->kseg * (size_t)rs->cfg->nseg, err) ||
        ckpt_get(&r, "run.timing", timing, sizeof timing, err) ||
        ckpt_get(&r, "buf.total", &total, sizeof total, err) ||
        ckpt_get(&r, "buf.n", &b->n, sizeof b->n, err))
        goto done;
    if (total != b->L.total || b->n < 0) {
        sm_fail(err, "%s: checkpoint rows have %d columns, this run measures %d", ckpt, total, b->L.total);
        goto done;
    }
    const int64_t n = b->n;
    if ((n > 0 && buffer_reserve(b, n, err)) ||
        ckpt_get(&r, "buf.step", b->step, sizeof *b->step * (size_t)n, err) ||
        ckpt_get(&r, "buf.segment", b->segment, sizeof *b->segment * (size_t)n, err) ||
        ckpt_get(&r, "buf.rows", b->rows, sizeof *b->rows * (size_t)n * (size_t)total, err))
        goto done;
    b->written = n;
    rs->sweep_time = timing[0];
    rs->wall_before = timing[1];
    if (rs->do_census &&
        (ckpt_get(&r, "census.n", &rs->census.n, sizeof rs->census.n, err) ||
         ckpt_get(&r, "census.last_step", &rs->census.last_step, sizeof rs->census.last_step, err) ||
         ckpt_get(&r, "census.last", &rs->census.last, sizeof rs->census.last, err)))
        goto done;
    const ckpt_record *c = ckpt_find(&r, "h5.counts", err);
    if (!c) goto done;
    if (c->size % sizeof(h5out_count) || c->size / sizeof(h5out_count) > H5OUT_MAX_COUNTS) {
        sm_fail(err, "%s: checkpoint record 'h5.counts' is malformed", ckpt);
        goto done;
    }
    *counts = malloc(c->size ? c->size : 1);
    if (!*counts) {
        sm_fail(err, "out of memory");
        goto done;
    }
    memcpy(*counts, c->data, c->size);
    *ncounts = (int)(c->size / sizeof(h5out_count));
    for (int i = 0; i < *ncounts; i++) (*counts)[i].path[sizeof (*counts)[i].path - 1] = 0;
    rc = 0;
done:
    ckpt_reader_close(&r);
    return rc;
}

/* Called after every sweep: writes a checkpoint when one is due (every
 * run.checkpoint_every sweeps, every run.checkpoint_seconds of wall time, or
 * on a stop signal). The wall-clock trigger only decides when the state is
 * saved, never what the run computes. Returns 0 to go on, else an exit code
 * (SM_EXIT_SIGNAL_BASE + signal after a stop). */
static int between_sweeps(run_state *rs, const run_options *opt, const char *ckpt, double t0,
                          double *last_ckpt, sm_error *err)
{
    if (!opt->checkpoints) return 0;
    const int sig = opt->stop ? (int)*opt->stop : 0;
    const sm_config *cfg = rs->cfg;
    const double now = omp_get_wtime();
    const int due = sig || (cfg->checkpoint_every > 0 && rs->sim.step % cfg->checkpoint_every == 0) ||
                    (cfg->checkpoint_seconds > 0 && now - *last_ckpt >= cfg->checkpoint_seconds);
    if (!due) return 0;
    if (checkpoint_write(rs, ckpt, rs->wall_before + now - t0, err)) return SM_EXIT_RUNTIME;
    *last_ckpt = omp_get_wtime();
    if (!sig) return 0;
    sm_fail(err, "%s: interrupted at sweep %lld of %lld by %s (checkpoint %s)", h5out_path(rs->h),
            (long long)rs->sim.step, (long long)(cfg->equilibration_sweeps + config_total_sweeps(cfg)),
            sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal", ckpt);
    return SM_EXIT_SIGNAL_BASE + sig;
}

/* Checks made before anything is allocated or written: a resumed run must
 * not replace a finished result, and a fresh run must not silently discard
 * the checkpoint of an interrupted one. */
static int check_files(const char *path, const char *ckpt, const run_options *opt, sm_error *err)
{
    struct stat st;
    if (opt->resume) {
        if (!opt->overwrite && stat(path, &st) == 0)
            return sm_fail(err, "%s: output file exists, the run is finished (nothing to resume; --overwrite replaces it once the resumed run completes)",
                           path);
        if (stat(ckpt, &st) != 0)
            return sm_fail(err, "%s: no checkpoint to resume from (run without --resume to start afresh)", ckpt);
    } else if (opt->checkpoints && !opt->overwrite && stat(ckpt, &st) == 0) {
        return sm_fail(err, "%s: checkpoint of an interrupted run exists (add --resume to continue it, or --overwrite to start afresh)",
                       ckpt);
    }
    return 0;
}

int run_main(const sm_config *cfg, const run_options *opt, sm_error *err)
{
    const char *path = opt->output ? opt->output : cfg->output_path;
    char ckpt[CONFIG_PATH_MAX + 16];
    run_checkpoint_path(ckpt, sizeof ckpt, path);
    if (check_memory(cfg, err)) return SM_EXIT_USAGE;
    if ((opt->resume || opt->checkpoints) && check_files(path, ckpt, opt, err)) return SM_EXIT_USAGE;
    const int threads = opt->threads > 0 ? opt->threads : (cfg->threads > 0 ? cfg->threads : omp_get_max_threads());
    omp_set_num_threads(threads);

    run_state rs = {0};
    rs.cfg = cfg;
    char *json = config_to_json(cfg);
    if (!json) return sm_fail(err, "out of memory"), SM_EXIT_RUNTIME;
    rs.json = json;
    int code = SM_EXIT_RUNTIME;
    run_summary S = {0};
    h5out_count *counts = NULL;
    int ncounts = 0, sim_ok = 0;
    rs.kseg = calloc((size_t)cfg->nseg, sizeof *rs.kseg);
    if (!rs.kseg) {
        sm_fail(err, "out of memory");
        goto fail;
    }
    if (sim_init(&rs.sim, cfg, err)) goto fail;
    sim_ok = 1;
    sim_state *const sim = &rs.sim;
    series_buffer *const buf = &rs.buf;
    obs_layout_core(&buf->L, &buf->cc, sim->move_names, sim->nmoves);
    buf->cage = sim->kind == DYN_CAGE;
    if (buf->cage) obs_layout_cage(&buf->L, &buf->kc);
    rs.do_census = cfg->census_every > 0;
    if (rs.do_census && census_diag_init(&rs.census, &sim->lat, &sim->st, err)) goto fail;

    /* the output: a fresh .partial, or the interrupted run's, cut back to
     * its checkpoint (read and verified first, so that a bad checkpoint
     * changes nothing on disk) */
    int usage = 0;
    if (opt->resume) {
        if (checkpoint_restore(&rs, ckpt, &counts, &ncounts, &usage, err) ||
            h5out_reopen(&rs.h, path, opt->overwrite, json, counts, ncounts, &usage, err)) {
            code = usage ? SM_EXIT_USAGE : SM_EXIT_RUNTIME;
            goto fail;
        }
    } else {
        if (h5out_open(&rs.h, path, opt->overwrite, cfg, json, &usage, err)) {
            code = usage ? SM_EXIT_USAGE : SM_EXIT_RUNTIME;
            goto fail;
        }
        /* with --overwrite a stale checkpoint is superseded by this run */
        if (opt->checkpoints && ckpt_remove(ckpt) != 0) {
            sm_fail(err, "%s: cannot remove the stale checkpoint: %s", ckpt, strerror(errno));
            goto fail;
        }
    }
    h5out *const h = rs.h;

    const int quiet = opt->quiet;
    const char *bnd = cfg->boundary == BOUNDARY_PERIODIC ? "periodic" : "open";
    if (!quiet) {
        fprintf(stderr, "softmatrix %s: %s, %dx%d %s, %s dynamics, %d thread%s, seed %lld -> %s\n",
                SOFTMATRIX_VERSION, cfg->source, cfg->Lx, cfg->Ly, bnd,
                cfg->dynamics == DYN_LEVEL ? "level" : "cage", threads, threads > 1 ? "s" : "",
                (long long)cfg->seed, path);
        if (opt->resume)
            fprintf(stderr, "resuming at sweep %lld from %s\n", (long long)sim->step, ckpt);
    }

    const int64_t eq = cfg->equilibration_sweeps, total = config_total_sweeps(cfg);
    const int64_t start = sim->step;
    const double t0 = omp_get_wtime();
    progress pr = {!quiet && isatty(2), t0, 0.0, eq + total, sim->lat.N, start};
    double last_flush = t0, last_ckpt = t0;

    sim_set_temperature(sim, cfg->seg[0].T_from);
    while (sim->step < eq) {
        double ts = omp_get_wtime();
        sim_sweep(sim);
        rs.sweep_time += omp_get_wtime() - ts;
        progress_show(&pr, sim->step, sim->T, 0);
        if ((code = between_sweeps(&rs, opt, ckpt, t0, &last_ckpt, err))) goto stopped;
    }
    /* the marks start after the equilibration; a checkpoint taken later
     * carries them */
    if (start <= eq) {
        rs.m.mark = sim->moves;
        rs.m.kmark = rs.m.kstart = sim->kin.c;
        rs.m.kmark_step = sim->step;
    }
    run_marks *const m = &rs.m;
    for (int64_t k = sim->step - eq; k < total; k++) {
        const schedule_point sp = config_schedule_point(cfg, k);
        sim_set_temperature(sim, sp.T);
        if (sp.measured && sp.index == 0) m->kstart = sim->kin.c;
        double ts = omp_get_wtime();
        sim_sweep(sim);
        rs.sweep_time += omp_get_wtime() - ts;
        if (sp.measured && sp.index == cfg->seg[sp.segment].sweeps - 1)
            rs.kseg[sp.segment] = kinetics_diff(&sim->kin.c, &m->kstart);
        if (sp.measured && (sp.index + 1) % cfg->measure_every == 0) {
            if (buffer_push(buf, err)) goto fail;
            move_stats since = sim->moves;
            for (int i = 0; i < MOVES_MAX; i++) {
                since.proposed[i] -= m->mark.proposed[i];
                since.accepted[i] -= m->mark.accepted[i];
            }
            m->mark = sim->moves;
            const int64_t r = buf->n - 1;
            buf->step[r] = sim->step;
            buf->segment[r] = sp.segment;
            obs_measure_core(&buf->cc, &sim->lat, &sim->st, &sim->p, &sim->e, sim->T, &since,
                             sim->nmoves, buf->rows + r * buf->L.total);
            if (buf->cage) {
                const kin_counters ks = kinetics_diff(&sim->kin.c, &m->kmark);
                obs_measure_cage(&buf->kc, &sim->lat, &sim->st, &ks, sim->step - m->kmark_step,
                                 buf->rows + r * buf->L.total);
                m->kmark = sim->kin.c;
                m->kmark_step = sim->step;
            }
        }
        if (rs.do_census && sp.measured && (sp.index + 1) % cfg->census_every == 0 &&
            census_diag_measure(&rs.census, h, sim->step, err))
            goto fail;
        if (cfg->snapshot_every > 0 && (k + 1) % cfg->snapshot_every == 0)
            if (h5out_snapshot(h, cfg->snapshot_fields, cfg->Lx, cfg->Ly, &sim->st, sim->step,
                               cfg->compression, err))
                goto fail;
        const double now = omp_get_wtime();
        if (now - last_flush > 2.0 || buf->n - buf->written >= 65536) {
            if (buffer_write(buf, h, err) || h5out_flush(h, err)) goto fail;
            last_flush = now;
        }
        progress_show(&pr, sim->step, sim->T, 0);
        if ((code = between_sweeps(&rs, opt, ckpt, t0, &last_ckpt, err))) goto stopped;
    }
    progress_show(&pr, sim->step, sim->T, 1);
    if (buffer_write(buf, h, err)) goto fail;

    const double sweeps_done = (double)sim->step;
    const double ns = sweeps_done > 0 ? 1e9 * rs.sweep_time / (sweeps_done * (double)sim_site_updates_per_sweep(sim)) : NAN;
    const double wall = rs.wall_before + omp_get_wtime() - t0;
    if (summary_compute(&S, &buf->L, buf->rows, buf->segment, buf->n, cfg, sim->lat.N)) {
        sm_fail(err, "out of memory computing the summary");
        goto fail;
    }
    if (write_summary(h, &S, cfg, ns, threads, wall, err)) goto fail;
    if (buf->cage && kinetics_write(h, rs.kseg, cfg->nseg, err)) goto fail;
    if (!quiet) {
        summary_print(stdout, &S, cfg);
        census_diag_print(stdout, &rs.census);
        if (buf->cage) kinetics_print(stdout, rs.kseg, cfg);
        /* the cage dynamics' unit is one PCP move proposal (sim.h) */
        printf("timing: %.3f ns per %s (%d thread%s), %.2f s wall, %lld sweeps of %lld sites\n",
               ns, buf->cage ? "PCP move" : "site-update", threads, threads > 1 ? "s" : "", wall,
               (long long)sim->step, (long long)sim->lat.N);
    }
    rs.h = NULL;
    if (h5out_close(h, 1, err)) goto fail;
    /* the result is in place: the checkpoint has served its purpose */
    if ((opt->checkpoints || opt->resume) && ckpt_remove(ckpt) != 0)
        fprintf(stderr, "softmatrix: %s: cannot remove the checkpoint of the finished run: %s\n",
                ckpt, strerror(errno));
    if (!quiet) printf("wrote %s\n", path);
    code = SM_EXIT_OK;
    goto done;
stopped:
    /* interrupted (code > SM_EXIT_USAGE) or a failed checkpoint write */
    progress_show(&pr, sim->step, sim->T, 1);
    goto done;
fail:
    if (code == SM_EXIT_OK) code = SM_EXIT_RUNTIME;
done:
    /* the .partial stays for --resume; after a stop, failing to close it
     * is the error to report, after another failure that failure is */
    if (rs.h && h5out_close(rs.h, 0, code > SM_EXIT_USAGE ? err : NULL) && code > SM_EXIT_USAGE)
        code = SM_EXIT_RUNTIME;
    summary_free(&S);
    buffer_free(&rs.buf);
    free(rs.kseg);
    free(counts);
    if (rs.do_census) census_diag_free(&rs.census);
    if (sim_ok) sim_free(&rs.sim);
    free(json);
    return code;
}
