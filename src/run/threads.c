/* The thread count of a run and the wait policy of its idle threads.
 *
 * Why a wait policy: by default libgomp lets a thread that reaches the end
 * of a parallel region spin for about 300 000 PAUSE instructions (several
 * ms on Zen, whose PAUSE is slow) before it sleeps. A sweep has two
 * parallel regions of some 0.1 ms each, so on a machine where another job
 * takes a core, the spinning thread holds its core while its partner waits
 * behind that job for a time slice: a 2-thread run of a small lattice can
 * be twenty times slower than a 1-thread one. A short spin keeps the idle cost of a region
 * low and lets the scheduler give the core to the thread that has work. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <omp.h>
#include "run/threads.h"

/* The variables that make idle threads sleep soon: libgomp's spin count
 * (PAUSE loops before a futex wait; 100 is what libgomp itself uses once
 * threads outnumber the CPUs, and another job may take a CPU at any time)
 * and LLVM libomp's equivalent in ms (for a clang build). Measured against
 * 0, 300, 1000 and 10000 in docs/performance.md. */
static const char *const QUIET_WAITS[][2] = {
    {"GOMP_SPINCOUNT", "100"},
    {"KMP_BLOCKTIME", "0"},
};

int threads_auto(int64_t sites, int cores)
{
    if (cores < 1 || sites < 1) return 1;
    const int64_t t = sites / THREADS_MIN_SITES_PER_THREAD;
    return t < 1 ? 1 : t > cores ? cores : (int)t;
}

int threads_choose(int option, int config_key, int Lx, int Ly, char *why, size_t n)
{
    if (option > 0) {
        snprintf(why, n, "--threads");
        return option;
    }
    if (config_key > 0) {
        snprintf(why, n, "run.threads");
        return config_key;
    }
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && *env) {
        snprintf(why, n, "OMP_NUM_THREADS=%s", env);
        return omp_get_max_threads();
    }
    const int cores = threads_available_cores();
    snprintf(why, n, "auto: %d core%s available, %dx%d lattice", cores, cores > 1 ? "s" : "", Lx, Ly);
    return threads_auto((int64_t)Lx * Ly, cores);
}

void threads_quiet_waits(char **argv)
{
    /* an explicit choice of the user (or of our own first execution) */
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    for (size_t i = 0; i < sizeof QUIET_WAITS / sizeof QUIET_WAITS[0]; i++)
        if (setenv(QUIET_WAITS[i][0], QUIET_WAITS[i][1], 0)) return;
    execv("/proc/self/exe", argv);
    /* no /proc: the run goes on with the library's default waits */
}

int threads_available_cores(void)
{
    /* the CPUs this process may run on (taskset, a batch system's cgroup),
     * not those the machine has */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void threads_warn(const char *what, int threads)
{
    const int cores = threads_available_cores();
    if (threads > cores)
        fprintf(stderr, "softmatrix: warning: %s %d exceeds the %d available core%s; the extra threads "
                        "only wait for each other (results do not change)\n",
                what, threads, cores, cores > 1 ? "s" : "");
}

enum { STAGE_GIVEN = 0, STAGE_ONE = 1, STAGE_HOLD = 2 };

void threads_tuner_init(threads_tuner *tt, int given)
{
    *tt = (threads_tuner){.given = given, .team = given, .stage = given > 1 ? STAGE_GIVEN : STAGE_HOLD};
}

int threads_tuner_next(threads_tuner *tt)
{
    const int team = tt->stage == STAGE_GIVEN ? tt->given : tt->stage == STAGE_ONE ? 1 : tt->team;
    omp_set_num_threads(team);
    return team;
}

int threads_tuner_probing(const threads_tuner *tt) { return tt->stage != STAGE_HOLD; }

/* Probes done: one thread if its mean sweep was clearly shorter (no probe
 * of one after long sweeps: n[1] = 0). */
static void settle(threads_tuner *tt)
{
    const double given = tt->t[0] / (double)tt->n[0];
    const double one = tt->n[1] ? tt->t[1] / (double)tt->n[1] : given;
    const int team = one < THREADS_ONE_MARGIN * given ? 1 : tt->given;
    if (team != tt->team) tt->doublings = 0;
    else if (tt->doublings < THREADS_HOLD_MAX_DOUBLINGS) tt->doublings++;
    tt->team = team;
    tt->stage = STAGE_HOLD;
}

void threads_tuner_record(threads_tuner *tt, double seconds)
{
    const int on_one = tt->stage == STAGE_ONE || (tt->stage == STAGE_HOLD && tt->team == 1);
    tt->swept[on_one]++;
    if (tt->given <= 1) return;
    tt->spent += seconds;
    if (tt->stage == STAGE_HOLD) {
        if (tt->spent < THREADS_HOLD_SECONDS * (double)(1 << tt->doublings)) return;
        tt->stage = STAGE_GIVEN;
        tt->spent = tt->t[0] = tt->t[1] = 0;
        tt->n[0] = tt->n[1] = 0;
        return;
    }
    tt->t[tt->stage] += seconds;
    tt->n[tt->stage]++;
    if (tt->spent < THREADS_PROBE_SECONDS || tt->n[tt->stage] < THREADS_PROBE_MIN_SWEEPS) return;
    tt->spent = 0;
    const int long_sweeps = tt->t[0] > THREADS_LONG_SWEEP_SECONDS * (double)tt->n[0];
    if (tt->stage == STAGE_GIVEN && !long_sweeps) tt->stage = STAGE_ONE;
    else settle(tt);
}
