/* How many OpenMP threads a run uses, and how its idle threads wait, so
 * that a run behaves on a machine shared with other jobs. */
#ifndef SM_THREADS_H
#define SM_THREADS_H

#include <stddef.h>
#include <stdint.h>

/* Below this many sites per thread a second thread costs more (two
 * parallel regions per sweep, a wake-up each) than it can save on any
 * machine measured; above it a run starts with the threads and its tuner
 * (threads_tuner below) keeps one whenever that is faster, as it is for
 * small lattices with the AVX-512 kernel or on a loaded machine
 * (docs/performance.md, "Threads on a shared machine"). */
enum { THREADS_MIN_SITES_PER_THREAD = 1 << 11 };

/* The default thread count of a lattice of `sites` sites on `cores`
 * available cores: one thread per THREADS_MIN_SITES_PER_THREAD sites, at
 * least 1, at most cores. Pure, for the unit test. */
int threads_auto(int64_t sites, int cores);

/* The thread count of a run and why, in order: option (--threads, > 0),
 * config_key (run.threads, > 0), OMP_NUM_THREADS when the environment sets
 * it, else threads_auto over the cores this process may use. `why` gets a
 * line for the log, e.g. "auto: 2 cores available, 1024x1024 lattice". */
int threads_choose(int option, int config_key, int Lx, int Ly, char *why, size_t n);

/* The cores this process may use (its CPU affinity), at least 1. */
int threads_available_cores(void);
/* Warns on stderr when threads exceeds them; what names the setting. */
void threads_warn(const char *what, int threads);

/* The team each sweep of a run uses, re-chosen as the run goes. A result
 * does not depend on the thread count (every random number is addressed
 * by site), so a run given T > 1 threads may sweep with one whenever that
 * is faster: on a machine where another job takes a core, a team of two
 * waits for its descheduled member at every parallel region, and a small
 * lattice is then faster on one thread. The tuner times a few sweeps with
 * T threads and a few with one (at least THREADS_PROBE_SECONDS of each),
 * keeps T unless one thread was faster by THREADS_ONE_MARGIN (a noisy
 * probe must not halve a run's speed for a whole hold), for
 * THREADS_HOLD_SECONDS of sweeps, and probes again. Each probe that
 * confirms the team doubles the next hold, up to THREADS_HOLD_MAX_DOUBLINGS
 * times: on a steady machine the slower team's probes cost next to nothing.
 * Sweeps longer than THREADS_LONG_SWEEP_SECONDS on T threads keep them
 * without a probe of one: a parallel region's wake-up and a partner's time
 * slice are small beside them (1024^2 on 2 threads under one competitor ran
 * as fast as on 1, docs/performance.md), and probing one thread would cost
 * about 1 % of a short run. */
enum { THREADS_PROBE_MIN_SWEEPS = 3, THREADS_HOLD_MAX_DOUBLINGS = 5 };
#define THREADS_LONG_SWEEP_SECONDS 2e-3
#define THREADS_PROBE_SECONDS 0.03
#define THREADS_HOLD_SECONDS 2.0
#define THREADS_ONE_MARGIN 0.9

typedef struct {
    int given;             /* the run's thread count */
    int team;              /* the team of the next sweep */
    int stage;             /* probing `given`, probing 1, holding */
    int doublings;         /* of the hold: probes in a row that kept the team */
    double spent, t[2];    /* seconds in this stage; probe totals (given, 1) */
    int64_t n[2];          /* probe sweeps (given, 1) */
    int64_t swept[2];      /* sweeps run on the given team, on one thread */
} threads_tuner;

void threads_tuner_init(threads_tuner *tt, int given);
/* The team for the next sweep (and sets it with omp_set_num_threads). */
int threads_tuner_next(threads_tuner *tt);
/* The wall seconds of the sweep run on that team. */
void threads_tuner_record(threads_tuner *tt, double seconds);
/* 1 while the tuner is timing the teams, 0 while it holds one. */
int threads_tuner_probing(const threads_tuner *tt);

/* Makes idle OpenMP threads sleep after a short spin instead of spinning
 * for milliseconds, unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT.
 * libgomp reads these only when it is loaded, before main, so this sets
 * them and re-executes the program once (argv as given); it returns only
 * when no re-execution was needed or when it failed. */
void threads_quiet_waits(char **argv);

#endif
