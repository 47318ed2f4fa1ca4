/* The run: set-up, the schedule loop and the end of a run. The loop knows
 * neither the dynamics nor the diagnostics: after each sweep it calls the
 * diagnostics that are due (diag/diag.h), then flushes, reports progress
 * and checkpoints when those are due. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/units.h"
#include "core/version.h"
#include "io/outfile.h"
#include "run/progress.h"
#include "run/resume.h"
#include "run/run.h"
#include "run/memavail.h"
#include "run/threads.h"

/* Wall-clock bookkeeping of one process; decides when to flush and
 * checkpoint, never what the run computes. */
typedef struct {
    const run_options *opt;
    const char *ckpt;
    double t0, last_flush, last_ckpt;
    progress pr;
    threads_tuner team;
} run_clock;

enum { FLUSH_SECONDS = 2 };

void run_checkpoint_path(char *buf, size_t n, const char *output)
{
    snprintf(buf, n, "%s.ckpt", output);
}

/* The files beside an output that softmatrix writes, and what each holds. */
static int odd_sidecars(const char *path, sm_error *err)
{
    static const char *const side[][2] = {
        {".ckpt", "the checkpoint"}, {".ckpt.tmp", "a checkpoint being written"},
        {".partial", "the output while it is written"}, {".partial.new", "a rebuilt output"},
        {".lock", "the output's lock"}};
    for (size_t i = 0; i < sizeof side / sizeof side[0]; i++) {
        char p[CONFIG_PATH_MAX + 16];
        snprintf(p, sizeof p, "%s%s", path, side[i][0]);
        if (outfile_odd(p, side[i][1], err)) return 1;
    }
    return 0;
}

/* Checks made with the output's lock held, before anything is written: a
 * resumed run must not replace a finished result, and a fresh run must not
 * silently discard the checkpoint of an interrupted one. A checkpoint that
 * only marks a finished run is cleaned away, or, when the rename of that
 * run's result was cut short, --resume completes it (*done = 1). */
static int check_files(const char *path, const char *ckpt, const run_options *opt, int *done,
                       sm_error *err)
{
    struct stat st;
    if (opt->resume || opt->checkpoints) {
        const ckpt_state cs = run_checkpoint_settle(path, ckpt);
        if (cs == CKPT_UNPUBLISHED && opt->resume) {
            if (h5out_publish(path, opt->overwrite, err)) return SM_EXIT_RUNTIME;
            ckpt_remove(ckpt);
            *done = 1;
            return 0;
        }
        if (cs == CKPT_UNPUBLISHED && !opt->overwrite)
            return sm_fail(err, "%s: the run finished, but stopped before its result was renamed into place (add --resume to complete it, or --overwrite to start afresh)",
                           ckpt), SM_EXIT_USAGE;
    }
    if (opt->resume) {
        if (!opt->overwrite && stat(path, &st) == 0)
            return sm_fail(err, "%s: output file exists, the run is finished (nothing to resume; --overwrite replaces it once the resumed run completes)",
                           path), SM_EXIT_USAGE;
        if (stat(ckpt, &st) != 0)
            return sm_fail(err, "%s: no checkpoint to resume from (run without --resume to start afresh)", ckpt),
                   SM_EXIT_USAGE;
        return 0;
    }
    if (opt->checkpoints && !opt->overwrite && stat(ckpt, &st) == 0)
        return sm_fail(err, "%s: checkpoint of an interrupted run exists (add --resume to continue it, or --overwrite to start afresh)",
                       ckpt), SM_EXIT_USAGE;
    return h5out_check_path(path, opt->overwrite, err) ? SM_EXIT_USAGE : 0;
}

/* Takes the output for this process: the checks that need nothing created
 * (a path that cannot name a file, a directory where a file belongs,
 * --resume without a checkpoint), the directories, the lock, then
 * check_files under it. Returns an exit code; on success the lock is held. */
static int claim_output(const char *path, const char *ckpt, const run_options *opt,
                        outfile_lock *lock, int *done, sm_error *err)
{
    struct stat st;
    if (h5out_check_path(path, 1, err) || odd_sidecars(path, err)) return SM_EXIT_USAGE;
    if (opt->resume && stat(ckpt, &st) != 0 && errno == ENOENT && stat(path, &st) != 0)
        return sm_fail(err, "%s: no checkpoint to resume from (run without --resume to start afresh)", ckpt),
               SM_EXIT_USAGE;
    if (outfile_mkdirs(path, err)) return SM_EXIT_RUNTIME;
    int busy;
    if (outfile_lock_take(lock, path, &busy, err)) return SM_EXIT_RUNTIME;
    const int code = check_files(path, ckpt, opt, done, err);
    if (code) outfile_lock_release(lock);
    return code;
}

/* Refuse a run that cannot fit before allocating any of it (and before
 * the output file is claimed): the estimate of sim_memory_estimate against
 * the memory available now. */
static int check_memory(const sm_config *cfg, sm_error *err)
{
    sim_memory m;
    sim_memory_estimate(cfg, &m);
    const char *what;
    const double have = memory_available(&what);
    if (have >= 0 && m.total > have)
        return sm_fail(err, "%s: lattice: %d x %d needs %.0f MiB (softmatrix validate shows the parts), "
                            "more than the %.0f MiB available (%s)",
                       cfg->source, cfg->Lx, cfg->Ly, m.total / 1048576.0, have / 1048576.0, what);
    return 0;
}

static void timed_sweep(run_state *rs, run_clock *clk)
{
    threads_tuner_next(&clk->team);
    const double t = omp_get_wtime();
    sim_sweep(&rs->sim);
    const double dt = omp_get_wtime() - t;
    rs->sweep_time += dt;
    threads_tuner_record(&clk->team, dt);
}

/* The diagnostics due after sweep k, on a state brought up to date as far
 * as they read it; between them the dynamics may keep it elsewhere
 * (sim_sync). */
static void bring_up_to_date(run_state *rs, int need)
{
    if (need == DIAG_NEEDS_SUMS) sim_sync_sums(&rs->sim);
    else if (need == DIAG_NEEDS_FIELDS) sim_sync(&rs->sim);
}

static int diags_after(run_state *rs, const schedule_point *sp, int64_t k, sm_error *err)
{
    const int need = diag_set_needs_after(&rs->diags, &rs->ctx, sp, k);
    if (need == DIAG_NEEDS_NOTHING) return 0;
    bring_up_to_date(rs, need);
    return diag_set_after(&rs->diags, &rs->ctx, sp, k, err);
}

static int64_t total_steps(const sm_config *cfg)
{
    return cfg->equilibration_sweeps + config_total_sweeps(cfg);
}

static const char *signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

/* While a partial file is rebuilt no checkpoint is written (the existing
 * one is ahead); a stop leaves the old files as they were. */
static int rebuilding(run_state *rs, run_clock *clk, int sig, sm_error *err)
{
    if (sig) {
        sm_fail(err, "%s: interrupted at sweep %lld of %lld by %s while rebuilding the partial output (the checkpoint at sweep %lld is unchanged)",
                h5out_path(rs->h), (long long)rs->sim.step, (long long)total_steps(rs->cfg),
                signal_name(sig), (long long)rs->rebuild_step);
        return SM_EXIT_SIGNAL_BASE + sig;
    }
    if (rs->sim.step < rs->rebuild_step) return 0;
    if (run_rebuild_done(rs, err)) return SM_EXIT_RUNTIME;
    clk->last_ckpt = omp_get_wtime();
    return 0;
}

/* After every sweep: flush, progress, and a checkpoint when one is due
 * (every run.checkpoint_every sweeps, every run.checkpoint_seconds, or on a
 * stop signal). Returns 0 to go on, else an exit code
 * (SM_EXIT_SIGNAL_BASE + signal after a stop). */
static int between_sweeps(run_state *rs, run_clock *clk, sm_error *err)
{
    const sm_config *cfg = rs->cfg;
    const double now = omp_get_wtime();
    if (now - clk->last_flush > FLUSH_SECONDS) {
        if (diag_set_flush(&rs->diags, &rs->ctx, err) || h5out_flush(rs->h, err)) return SM_EXIT_RUNTIME;
        clk->last_flush = now;
    }
    progress_show(&clk->pr, rs->sim.step, rs->sim.T, 0);
    if (!clk->opt->checkpoints) return 0;
    const int sig = clk->opt->stop ? (int)*clk->opt->stop : 0;
    if (rs->rebuild) return rebuilding(rs, clk, sig, err);
    const int due = sig || (cfg->checkpoint_every > 0 && rs->sim.step % cfg->checkpoint_every == 0) ||
                    (cfg->checkpoint_seconds > 0 && now - clk->last_ckpt >= cfg->checkpoint_seconds);
    if (!due) return 0;
    if (run_checkpoint_write(rs, clk->ckpt, rs->wall_before + now - clk->t0, err)) return SM_EXIT_RUNTIME;
    clk->last_ckpt = omp_get_wtime();
    if (!sig) return 0;
    sm_fail(err, "%s: interrupted at sweep %lld of %lld by %s (checkpoint %s)", h5out_path(rs->h),
            (long long)rs->sim.step, (long long)total_steps(cfg), signal_name(sig), clk->ckpt);
    return SM_EXIT_SIGNAL_BASE + sig;
}

/* The n sweeps of a level block from schedule sweep k (a hold segment's
 * equilibration with run.equilibrate_each_segment, sim_level_block): the
 * level dynamics in place of the configured kind, which then starts afresh.
 * No checkpoint falls inside (it would hold the level dynamics' state in
 * place of the kind's); a stop signal is served right after the block. */
static int level_block(run_state *rs, run_clock *clk, int64_t k, int64_t n, sm_error *err)
{
    sim_state *sim = &rs->sim;
    level_swap sw;
    if (sim_level_swap_in(sim, rs->cfg, &sw, err)) return SM_EXIT_RUNTIME;
    int rc = 0;
    for (int64_t j = k; j < k + n && !rc; j++) {
        const schedule_point sp = config_schedule_point(rs->cfg, j);
        sim_set_temperature(sim, sp.T);
        timed_sweep(rs, clk);
        rc = diags_after(rs, &sp, j, err);   /* snapshots */
        progress_show(&clk->pr, sim->step, sim->T, 0);
    }
    sim_level_swap_out(sim, &sw);
    return rc ? SM_EXIT_RUNTIME : between_sweeps(rs, clk, err);
}

/* The schedule: run.equilibration_sweeps at the first temperature, then
 * every schedule sweep k, each followed by the diagnostics that are due. */
static int run_schedule(run_state *rs, run_clock *clk, sm_error *err)
{
    sim_state *sim = &rs->sim;
    const sm_config *cfg = rs->cfg;
    const int64_t eq = cfg->equilibration_sweeps, total = config_total_sweeps(cfg);
    const int from_start = sim->step <= eq;
    int code = 0;
    const double t_eq = omp_get_wtime();
    if (sim_equilibrate_level(sim, cfg, err)) return SM_EXIT_RUNTIME;
    rs->sweep_time += omp_get_wtime() - t_eq;
    sim_set_temperature(sim, cfg->seg[0].T_from);
    while (sim->step < eq && !code) {
        timed_sweep(rs, clk);
        code = between_sweeps(rs, clk, err);
    }
    if (code) return code;
    if (from_start) {
        sim_sync_sums(sim);   /* the begin hooks mark counters, not fields */
        diag_set_begin(&rs->diags, &rs->ctx);
    }
    for (int64_t k = sim->step - eq; k < total && !code; k++) {
        const int64_t block = sim_level_block(cfg, k);
        if (block) {
            code = level_block(rs, clk, k, block, err);
            k += block - 1;
            continue;
        }
        const schedule_point sp = config_schedule_point(cfg, k);
        sim_set_temperature(sim, sp.T);
        bring_up_to_date(rs, diag_set_needs_before(&rs->diags, &sp));
        diag_set_before(&rs->diags, &rs->ctx, &sp);
        timed_sweep(rs, clk);
        if (diags_after(rs, &sp, k, err)) return SM_EXIT_RUNTIME;
        code = between_sweeps(rs, clk, err);
    }
    return code;
}

/* Simulation, diagnostics and the output: a fresh .partial, or the
 * interrupted run's (run_resume: the checkpoint read and verified first, so
 * that a bad checkpoint changes nothing on disk). */
static int run_setup(run_state *rs, const run_options *opt, const char *path, const char *ckpt,
                     sm_error *err)
{
    const sm_config *cfg = rs->cfg;
    if (sim_init(&rs->sim, cfg, err)) return SM_EXIT_RUNTIME;
    rs->ctx = (diag_ctx){cfg, &rs->sim, NULL, opt->quiet ? NULL : stdout};
    if (diag_set_init(&rs->diags, DIAG_REGISTRY, &rs->ctx, err)) return SM_EXIT_RUNTIME;
    int usage = 0, rc;
    if (opt->resume) {
        rc = run_resume(rs, path, ckpt, opt->overwrite, stderr, &usage, err);
        if (!rc && rs->rebuild && rs->sim.step >= rs->rebuild_step) {
            rs->ctx.h = rs->h;
            rc = run_rebuild_done(rs, err);
        }
    } else {
        rc = h5out_create(&rs->h, path, opt->overwrite, cfg, rs->json, cfg->source, err);
        h5out_remove_rebuild(path);
        /* with --overwrite a stale checkpoint is superseded by this run */
        if (!rc && opt->checkpoints && ckpt_remove(ckpt) != 0)
            rc = sm_fail(err, "%s: cannot remove the stale checkpoint: %s", ckpt, strerror(errno));
    }
    rs->ctx.h = rs->h;
    return rc ? (usage ? SM_EXIT_USAGE : SM_EXIT_RUNTIME) : 0;
}

static void announce(const run_state *rs, const run_options *opt, const char *path,
                     const char *ckpt, int threads)
{
    const sm_config *cfg = rs->cfg;
    if (opt->quiet) return;
    fprintf(stderr, "softmatrix %s: %s, %dx%d %s, %s dynamics, %d thread%s, seed %lld -> %s\n",
            SOFTMATRIX_VERSION, cfg->source, cfg->Lx, cfg->Ly,
            cfg->boundary == BOUNDARY_PERIODIC ? "periodic" : "open", rs->sim.kind, threads,
            threads > 1 ? "s" : "", (long long)cfg->seed, path);
    if (opt->resume && rs->rebuild)
        fprintf(stderr, "rebuilding the partial output up to sweep %lld of %s\n", (long long)rs->rebuild_step, ckpt);
    else if (opt->resume)
        fprintf(stderr, "resuming at sweep %lld from %s\n", (long long)rs->sim.step, ckpt);
}

/* The diagnostics' results, the timing, and the .partial renamed into place. */
static int run_finish(run_state *rs, run_clock *clk, const char *path, int threads, sm_error *err)
{
    const sim_state *sim = &rs->sim;
    progress_show(&clk->pr, sim->step, sim->T, 1);
    sim_sync_sums(&rs->sim);   /* no diagnostic reads the fields at the end */
    if (diag_set_finish(&rs->diags, &rs->ctx, err)) return SM_EXIT_RUNTIME;
    const double sweeps = (double)sim->step, th = threads;
    const double ns = sweeps > 0 ? 1e9 * rs->sweep_time / (sweeps * (double)sim_site_updates_per_sweep(sim)) : NAN;
    const double wall = rs->wall_before + omp_get_wtime() - clk->t0;
    const h5out_meta per_update = {NULL, UNIT_NANOSECONDS, 0, 0}, count = {NULL, UNIT_NONE, 1, 0},
                     seconds = {NULL, UNIT_SECONDS, 0, 0};
    if (h5out_write_quantity(rs->h, "/summary/timing/ns_per_site_update", 0, NULL, &ns, &per_update, err) ||
        h5out_write_quantity(rs->h, "/summary/timing/threads", 0, NULL, &th, &count, err) ||
        h5out_write_quantity(rs->h, "/summary/timing/wall_seconds", 0, NULL, &wall, &seconds, err))
        return SM_EXIT_RUNTIME;
    if (rs->ctx.report) {
        /* the sweeps the tuner ran on one thread, as it found that faster */
        const int64_t *sw = clk->team.swept;
        char one[64] = "";
        if (sw[1] > 0 && threads > 1)
            snprintf(one, sizeof one, "; one for %.0f %% of the sweeps",
                     100.0 * (double)sw[1] / (double)(sw[0] + sw[1]));
        printf("timing: %.3f ns per %s (%d thread%s%s), %.2f s wall, %lld sweeps of %lld sites\n", ns,
               sim->dyn->update_unit, threads, threads > 1 ? "s" : "", one, wall, (long long)sim->step,
               (long long)sim->lat.N);
    }
    h5out *h = rs->h;
    rs->h = NULL;
    if (h5out_close(h, H5OUT_SEALED, err)) return SM_EXIT_RUNTIME;
    const int ckpts = clk->opt->checkpoints || clk->opt->resume;
    if (run_publish(path, ckpts ? clk->ckpt : NULL, rs, clk->opt->overwrite, err)) return SM_EXIT_RUNTIME;
    if (rs->ctx.report) printf("wrote %s\n", path);
    return SM_EXIT_OK;
}

/* The run in the output it has claimed. */
static int run_claimed(const sm_config *cfg, const run_options *opt, const char *path,
                       const char *ckpt, sm_error *err)
{
    char why[128];
    const int threads = threads_choose(opt->threads, cfg->threads, cfg->Lx, cfg->Ly, why, sizeof why);
    if (!opt->quiet && (opt->threads > 0 || cfg->threads > 0))
        threads_warn(opt->threads > 0 ? "--threads" : "run.threads", threads);
    omp_set_num_threads(threads);
    run_state rs = {.cfg = cfg, .json = config_to_json(cfg)};
    if (!rs.json) return sm_fail(err, "out of memory"), SM_EXIT_RUNTIME;
    int code = run_setup(&rs, opt, path, ckpt, err);
    if (!code) {
        if (!opt->quiet) fprintf(stderr, "threads: %d (%s)\n", threads, why);
        announce(&rs, opt, path, ckpt, threads);
        const double t0 = omp_get_wtime();
        run_clock clk = {opt, ckpt, t0, t0, t0, {0}, {0}};
        threads_tuner_init(&clk.team, threads);
        progress_init(&clk.pr, opt->progress, opt->quiet, t0, total_steps(cfg), rs.sim.lat.N, rs.sim.step);
        code = run_schedule(&rs, &clk, err);
        if (!code) code = run_finish(&rs, &clk, path, threads, err);
        else if (code > SM_EXIT_USAGE) progress_show(&clk.pr, rs.sim.step, rs.sim.T, 1);
    }
    /* the .partial stays for --resume (a rebuild's new file goes: the old
     * files are what the checkpoint describes); after a stop, failing to
     * close it is the error to report, after another failure that one is */
    if (rs.h && rs.rebuild) h5out_discard(rs.h);
    else if (rs.h && h5out_close(rs.h, H5OUT_KEEP, code > SM_EXIT_USAGE ? err : NULL) && code > SM_EXIT_USAGE)
        code = SM_EXIT_RUNTIME;
    diag_set_free(&rs.diags);
    sim_free(&rs.sim);
    free(rs.rebuild);
    free((char *)rs.json);
    return code;
}

int run_main(const sm_config *cfg, const run_options *opt, sm_error *err)
{
    const char *path = opt->output ? opt->output : cfg->output_path;
    char ckpt[CONFIG_PATH_MAX + 16];
    run_checkpoint_path(ckpt, sizeof ckpt, path);
    if (check_memory(cfg, err)) return SM_EXIT_USAGE;
    outfile_lock lock = {.fd = -1};
    int done = 0;
    int code = claim_output(path, ckpt, opt, &lock, &done, err);
    if (code) return code;
    if (done) {
        if (!opt->quiet) printf("wrote %s (the finished run's result, renamed into place)\n", path);
    } else {
        code = run_claimed(cfg, opt, path, ckpt, err);
    }
    outfile_lock_release(&lock);
    return code;
}
