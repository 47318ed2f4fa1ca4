/* What the census memory measurements share (`make bench`'s census rows and
 * tests/unit/test_census_memory.c): the process's resident set, the reset
 * of its peak, and the census's worst-case field. Linux only; callers skip
 * where the peak cannot be reset. */
#ifndef SM_BENCH_CENSUS_MEMORY_H
#define SM_BENCH_CENSUS_MEMORY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A "key: N kB" line of /proc/self/status (VmHWM: peak, VmRSS: now,
 * RssAnon: the part of it that is not mapped files), -1 if none. */
static inline long proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    long v = -1;
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key))) v = strtol(line + strlen(key) + 1, NULL, 10);
    if (f) fclose(f);
    return v;
}

/* Resets the peak resident set to the current one (5 to
 * /proc/self/clear_refs); 0 where it cannot. */
static inline int proc_peak_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return 0;
    const int ok = fputs("5", f) >= 0;
    if (fclose(f) != 0 || !ok) return 0;
    const long now = proc_status_kb("VmRSS:"), peak = proc_status_kb("VmHWM:");
    return now >= 0 && peak >= 0 && peak <= now + 64;
}

/* Levels uniform in -1..8 and random sigma (xorshift64*, fixed seed): every
 * set {l >= i} is labelled, the census's largest scratch. */
static inline void census_fill_uniform(int8_t *level, int8_t *sigma, int64_t N)
{
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int64_t a = 0; a < N; a++) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        const uint64_t r = s * 2685821657736338717ull;
        level[a] = (int8_t)((r >> 32) % 10) - 1;
        sigma[a] = (r >> 20) & 1 ? 1 : -1;
    }
}

#endif
