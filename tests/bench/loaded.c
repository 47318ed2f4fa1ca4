/* The "loaded" rows of `make bench`: level sweeps on 1 thread, on 2
 * threads, on the default choice (threads_auto) and on 2 threads through
 * the run's tuner (threads_tuner: one thread while that is faster, its
 * state kept across repetitions as in a run), first on the machine
 * as it is, then with a competing busy process that the bench forks and
 * kills itself, the way a run meets a workstation where another job is
 * running. Each repetition times the three variants one after the other,
 * so the ratios compare measurements under the same load; reported are
 * the medians and their ratios: 2 threads / 1 thread and default / the
 * better of the two (the aims under load: at most 1.3 and 1.1), tuned 2 /
 * 1, and the CPU time of 2 threads over that of 1 (above 1: threads
 * waiting actively). */
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dynamics/dynamics.h"
#include "io/config.h"
#include "loaded.h"
#include "run/run.h"
#include "run/threads.h"

enum { LOADED_MAX_REPS = 64, LOADED_VARIANTS = 4, LOADED_TUNED = 3 };
static const int LOADED_SIZES[] = {64, 256, 1024};   /* ising_limit.json, default.json, a big one */
static const double REP_SECONDS = 0.06;              /* per variant and repetition, 1 thread idle */

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A busy loop in a child process: the competing job. */
static pid_t start_competitor(void)
{
    const pid_t pid = fork();
    if (pid == 0) {
        for (volatile unsigned long i = 0;; i++) {}
    }
    return pid;
}

static void stop_competitor(pid_t pid)
{
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Wall seconds per sweep of `sweeps` level sweeps on nt threads, after
 * one untimed sweep (it wakes the threads and warms the caches); *cpu gets
 * the process's CPU seconds per sweep (all threads): what exceeds one
 * thread's is time spent waiting actively. */
static double time_sweeps(sim_state *s, int nt, int64_t sweeps, double *cpu)
{
    omp_set_num_threads(nt);
    sim_sweep(s);
    const double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = clock_s(CLOCK_MONOTONIC);
    for (int64_t k = 0; k < sweeps; k++) sim_sweep(s);
    *cpu = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double)sweeps;
    return (clock_s(CLOCK_MONOTONIC) - t0) / (double)sweeps;
}

/* The same through the tuner, each sweep timed as the run times it. */
static double time_tuned(sim_state *s, threads_tuner *tt, int64_t sweeps, double *cpu)
{
    const double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = clock_s(CLOCK_MONOTONIC);
    for (int64_t k = 0; k < sweeps; k++) {
        threads_tuner_next(tt);
        const double t = omp_get_wtime();
        sim_sweep(s);
        threads_tuner_record(tt, omp_get_wtime() - t);
    }
    *cpu = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double)sweeps;
    return (clock_s(CLOCK_MONOTONIC) - t0) / (double)sweeps;
}

static int make_level_sim(sim_state *s, sm_config *cfg, int L)
{
    sm_error err;
    char *sets[] = {"temperature=1"};
    if (config_parse(cfg, "{}", "bench", sets, 1, &err)) return fprintf(stderr, "bench: %s\n", err.msg), 1;
    cfg->Lx = cfg->Ly = L;
    cfg->init_level_random = 1;
    if (sim_init(s, cfg, &err)) return fprintf(stderr, "bench: sim_init: %s\n", err.msg), 1;
    sim_set_temperature(s, 1.0);
    for (int k = 0; k < 20; k++) sim_sweep(s);
    return 0;
}

/* Median wall and CPU seconds per sweep of each variant, repetitions
 * interleaved. */
static void measure(sim_state *s, const int nt[LOADED_VARIANTS], int64_t sweeps, int reps,
                    double med[LOADED_VARIANTS], double cpu[LOADED_VARIANTS])
{
    double t[LOADED_VARIANTS][LOADED_MAX_REPS], c[LOADED_VARIANTS][LOADED_MAX_REPS];
    threads_tuner tt;
    threads_tuner_init(&tt, nt[LOADED_TUNED]);
    /* through its first probes, as a run is after its first 0.06 s; the
     * repetitions then hold its choice (a run probes again after 2 s, then
     * less often while the choice stands) */
    double ignored;
    while (threads_tuner_probing(&tt)) time_tuned(s, &tt, 1, &ignored);
    for (int r = 0; r < reps; r++)
        for (int v = 0; v < LOADED_VARIANTS; v++)
            t[v][r] = v == LOADED_TUNED ? time_tuned(s, &tt, sweeps, &c[v][r])
                                        : time_sweeps(s, nt[v], sweeps, &c[v][r]);
    for (int v = 0; v < LOADED_VARIANTS; v++) {
        qsort(t[v], (size_t)reps, sizeof t[v][0], cmp_double);
        qsort(c[v], (size_t)reps, sizeof c[v][0], cmp_double);
        med[v] = t[v][reps / 2];
        cpu[v] = c[v][reps / 2];
    }
}

static void print_row(int L, const char *load, const int nt[LOADED_VARIANTS],
                      const double med[LOADED_VARIANTS], const double cpu[LOADED_VARIANTS], int64_t sites)
{
    const double best = med[0] < med[1] ? med[0] : med[1];
    printf("| %d | %s | %.2f | %.2f | %.2f (%d) | %.2f | %.2f | %.2f | %.2f | %.2f |\n", L, load,
           1e9 * med[0] / sites, 1e9 * med[1] / sites, 1e9 * med[2] / sites, nt[2],
           1e9 * med[LOADED_TUNED] / sites, med[1] / med[0], med[2] / best, med[LOADED_TUNED] / med[0],
           cpu[1] / cpu[0]);
    fflush(stdout);
}

void bench_loaded(int reps)
{
    reps = reps < 1 ? 7 : reps > LOADED_MAX_REPS ? LOADED_MAX_REPS : reps;
    const int cores = threads_available_cores();
    printf("\nloaded: level sweeps, ns per site-update (median of %d), idle and with one busy "
           "competing process; %d cores available\n", reps, cores);
    printf("| L | load | 1 thread | 2 threads | default (threads) | 2 tuned | 2 / 1 | default / best | "
           "tuned 2 / 1 | CPU 2 / 1 |\n");
    printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < sizeof LOADED_SIZES / sizeof LOADED_SIZES[0]; i++) {
        const int L = LOADED_SIZES[i];
        sm_config *cfg = malloc(sizeof *cfg);
        sim_state s;
        if (!cfg || make_level_sim(&s, cfg, L)) exit(1);
        const int64_t N = (int64_t)L * L;
        const int nt[LOADED_VARIANTS] = {1, 2, threads_auto(N, cores), 2};
        double med[LOADED_VARIANTS], cpu[LOADED_VARIANTS];
        const double one = time_sweeps(&s, 1, 1 + (int64_t)(2e6 / (double)N), cpu);
        const int64_t sweeps = 1 + (int64_t)(REP_SECONDS / one);
        measure(&s, nt, sweeps, reps, med, cpu);
        print_row(L, "idle", nt, med, cpu, N);
        const pid_t pid = start_competitor();
        if (pid < 0) {
            perror("bench: fork");
            exit(1);
        }
        measure(&s, nt, sweeps, reps, med, cpu);
        stop_competitor(pid);
        print_row(L, "1 busy process", nt, med, cpu, N);
        sim_free(&s);
        free(cfg);
    }
}
