/* The memory of a census: what one census of a 1024 x 1024 lattice adds to
 * the peak resident set, in its worst case (levels uniform in -1..8, so
 * that every set {level >= i} is labelled), is at most CENSUS_SCRATCH_MAX
 * bytes per site on 1 and 2 threads, and none of it is left once the census
 * returns. The peak is reset through /proc/self/clear_refs (Linux), so the
 * figure is the census's own, whatever ran before it. Memory, unlike time,
 * is nearly deterministic: the census's buffers have fixed sizes and the
 * field is fixed, so the bound is asserted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "../bench/census_memory.h"
#include "check.h"
#include "diag/census.h"

/* What docs/census.md promises and the run's memory estimate
 * (CENSUS_BYTES_PER_SITE in dynamics.c) counts on. */
#define CENSUS_SCRATCH_MAX 5.0
/* What may stay resident after a census: the allocator's own bookkeeping. */
#define CENSUS_LEFT_MAX 0.1

enum { L = 1024 };

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static void test_scratch_worst_case(void)
{
#ifdef UNDER_ASAN
    SKIP("AddressSanitizer keeps freed memory in quarantine: resident sizes are its own");
#endif
    if (!proc_peak_reset()) SKIP("the peak resident set cannot be reset here (/proc/self/clear_refs)");
    const int64_t N = (int64_t)L * L;
    int8_t *level = malloc((size_t)N), *sigma = malloc((size_t)N);
    census_result *r = malloc(sizeof *r);
    CHECK(level && sigma && r, "out of memory");
    if (!level || !sigma || !r) return;
    census_fill_uniform(level, sigma, N);
    const census_input in = {.Lx = L, .Ly = L, .boundary = BOUNDARY_PERIODIC,
                             .level = level, .sigma = sigma};
    const int saved = omp_get_max_threads();
    for (int t = 1; t <= 2; t++) {
        omp_set_num_threads(t);
        /* the first census of a process also moves glibc's mmap threshold:
         * both it and a later one must stay within the bound */
        for (int rep = 0; rep < 2; rep++) {
            sm_error err;
            CHECK(proc_peak_reset(), "peak not reset");
            const long before = proc_status_kb("VmRSS:"), anon = proc_status_kb("RssAnon:");
            CHECK(census_compute(&in, NULL, r, &err) == 0, "%s", err.msg);
            const double added = 1024.0 * (double)(proc_status_kb("VmHWM:") - before) / (double)N;
            /* anonymous memory only: the first census also pages in the
             * census's code (some 200 kB of it), which stays mapped */
            const double left = 1024.0 * (double)(proc_status_kb("RssAnon:") - anon) / (double)N;
            printf("  %d thread(s), census %d: %.2f bytes/site added to the peak, %.3f left after\n",
                   t, rep + 1, added, left);
            CHECK(added <= CENSUS_SCRATCH_MAX, "%d thread(s): %.2f bytes/site > %.1f", t, added,
                  CENSUS_SCRATCH_MAX);
            CHECK(left <= CENSUS_LEFT_MAX, "%d thread(s): %.3f bytes/site still held", t, left);
            /* the worst case indeed: every set labelled (neither empty nor full) */
            for (int i = 0; i < CENSUS_NV; i++)
                CHECK(r->n_sites_ge[i] > 0 && r->n_sites_ge[i] < N && r->n_components[i] > 1,
                      "set %d: %lld sites, %lld components", i, (long long)r->n_sites_ge[i],
                      (long long)r->n_components[i]);
        }
    }
    omp_set_num_threads(saved);
    free(level); free(sigma); free(r);
}

int main(void)
{
    RUN(test_scratch_worst_case);
    return CHECK_REPORT();
}
