/* The default thread count (threads_auto), the order of the settings that
 * override it (threads_choose), and that a user's wait policy is left
 * alone (threads_quiet_waits). The re-execution itself: tests/test_threads.py. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "run/run.h"
#include "run/threads.h"

static void test_auto_table(void)
{
    const int64_t S = THREADS_MIN_SITES_PER_THREAD;
    CHECK(S == 2048, "threshold %lld: update docs/performance.md and docs/running.md", (long long)S);
    /* small lattices run on one thread, whatever the cores */
    CHECK(threads_auto(32 * 32, 2) == 1, "32^2");
    CHECK(threads_auto(48 * 48, 16) == 1, "48^2");
    CHECK(threads_auto(2 * S - 1, 2) == 1, "just below two threads' worth");
    /* one thread per S sites, at most the cores */
    CHECK(threads_auto(2 * S, 2) == 2, "64^2 = 2 S");
    CHECK(threads_auto(64 * 64, 2) == 2, "ising_limit.json");
    CHECK(threads_auto(256 * 256, 2) == 2, "default.json");
    CHECK(threads_auto(3 * S, 4) == 3, "3 S on 4 cores");
    CHECK(threads_auto(1024 * 1024, 2) == 2, "1024^2 on 2 cores");
    CHECK(threads_auto(128 * 128, 16) == 8, "128^2 = 8 S on 16 cores");
    CHECK(threads_auto(1024 * 1024, 64) == 64, "1024^2 on 64 cores");
    CHECK(threads_auto(INT64_MAX, 8) == 8, "no overflow");
    /* degenerate inputs give one thread */
    CHECK(threads_auto(1 << 20, 1) == 1, "one core");
    CHECK(threads_auto(1 << 20, 0) == 1, "no cores reported");
    CHECK(threads_auto(0, 4) == 1, "no sites");
}

static void test_choose_order(void)
{
    char why[128];
    char *saved = getenv("OMP_NUM_THREADS") ? strdup(getenv("OMP_NUM_THREADS")) : NULL;
    unsetenv("OMP_NUM_THREADS");
    CHECK(threads_choose(3, 5, 1024, 1024, why, sizeof why) == 3 && !strcmp(why, "--threads"), "%s", why);
    CHECK(threads_choose(0, 5, 1024, 1024, why, sizeof why) == 5 && !strcmp(why, "run.threads"), "%s", why);
    const int cores = threads_available_cores();
    CHECK(threads_choose(0, 0, 1024, 1024, why, sizeof why) == threads_auto(1024 * 1024, cores), "%s", why);
    char expect[128];
    snprintf(expect, sizeof expect, "auto: %d core%s available, 1024x1024 lattice", cores, cores > 1 ? "s" : "");
    CHECK(!strcmp(why, expect), "'%s' vs '%s'", why, expect);
    CHECK(threads_choose(0, 0, 32, 32, why, sizeof why) == 1, "32x32: %s", why);
    /* OMP_NUM_THREADS is read by libgomp when it loads: the explicit
     * setting shows in why, the count is the library's */
    setenv("OMP_NUM_THREADS", "3", 1);
    threads_choose(0, 0, 64, 64, why, sizeof why);
    CHECK(!strcmp(why, "OMP_NUM_THREADS=3"), "%s", why);
    if (saved) setenv("OMP_NUM_THREADS", saved, 1);
    else unsetenv("OMP_NUM_THREADS");
    free(saved);
}

/* Set while threads_quiet_waits runs: a test executed again finds it. */
static const char REEXEC_MARK[] = "SM_TEST_THREADS_REEXECUTED";

static char **test_argv;   /* main's, for a re-execution */

/* With a wait policy set, nothing is set and nothing re-executed. */
static void test_user_wait_policy_kept(void)
{
    char **argv = test_argv;
    setenv("OMP_WAIT_POLICY", "active", 1);
    unsetenv("GOMP_SPINCOUNT");
    setenv(REEXEC_MARK, "1", 1);
    threads_quiet_waits(argv);
    unsetenv(REEXEC_MARK);
    CHECK(getenv("GOMP_SPINCOUNT") == NULL, "GOMP_SPINCOUNT=%s", getenv("GOMP_SPINCOUNT"));
    CHECK(!strcmp(getenv("OMP_WAIT_POLICY"), "active"), "%s", getenv("OMP_WAIT_POLICY"));
}

/* Runs sweeps through the tuner with a sweep costing t_given seconds on
 * the given team and t_one on one thread; returns the team of the last. */
static int tune(threads_tuner *tt, int sweeps, double t_given, double t_one)
{
    int team = 0;
    for (int i = 0; i < sweeps; i++) {
        team = threads_tuner_next(tt);
        threads_tuner_record(tt, team == 1 ? t_one : t_given);
    }
    return team;
}

/* The tuner probes both teams, holds the faster, and follows a change of
 * load at the next probe; a run given one thread never probes. */
static void test_tuner_follows_the_faster_team(void)
{
    threads_tuner tt;
    threads_tuner_init(&tt, 2);
    CHECK(threads_tuner_next(&tt) == 2, "the first sweeps run on the given team");
    /* a loaded machine: one thread faster; 1 ms sweeps, so a probe is 30 sweeps */
    CHECK(tune(&tt, 200, 1.4e-3, 1.0e-3) == 1, "one faster: team %d", tt.team);
    CHECK(tt.swept[1] > tt.swept[0], "sweeps on one %lld, on two %lld", (long long)tt.swept[1],
          (long long)tt.swept[0]);
    /* the load goes: after the hold (2 s) the given team wins again */
    CHECK(tune(&tt, 3000, 0.5e-3, 1.0e-3) == 2, "two faster: team %d", tt.team);
    /* within the margin the given team stays */
    threads_tuner_init(&tt, 2);
    CHECK(tune(&tt, 200, 1.05e-3, 1.0e-3) == 2, "one 5 %% faster: team %d", tt.team);
    /* probes are short, and rarer while they confirm the team: over 50 s on
     * an idle machine, one thread for well under 1 % of the sweeps (a probe
     * every 2 s would be 1.5 %) */
    threads_tuner_init(&tt, 2);
    tune(&tt, 100000, 0.5e-3, 1.0e-3);
    const double one = (double)tt.swept[1] / (double)(tt.swept[0] + tt.swept[1]);
    CHECK(one < 0.005, "%.4f of the sweeps on one thread", one);
    threads_tuner_init(&tt, 1);
    CHECK(tune(&tt, 1000, 1.0, 2.0) == 1 && tt.swept[0] == 0 && tt.swept[1] == 1000, "given 1");
    /* sweeps of 5 ms on the given team: no sweep ever runs on one */
    threads_tuner_init(&tt, 2);
    CHECK(tune(&tt, 20000, 5e-3, 1e-3) == 2 && tt.swept[1] == 0, "long sweeps: %lld on one",
          (long long)tt.swept[1]);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (getenv(REEXEC_MARK)) {
        fprintf(stderr, "  FAIL threads_quiet_waits re-executed the program despite OMP_WAIT_POLICY\n");
        return 1;
    }
    RUN(test_auto_table);
    RUN(test_choose_order);
    RUN(test_tuner_follows_the_faster_team);
    test_argv = argv;
    RUN(test_user_wait_policy_kept);
    return CHECK_REPORT();
}
