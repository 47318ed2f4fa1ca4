/* Baseline for the benchmark: the plain checkerboard Metropolis kernel of the
 * 2D Ising model that a user would otherwise write - int8 spins, precomputed
 * integer thresholds, a xoshiro128+ generator per row seeded by splitmix64,
 * row pointers, branch-free accept (setcc, no jump: see ising_site). Written
 * as well as a straightforward scalar kernel goes, so that "level sweep /
 * Ising" is a fair ratio: a per-row batch of random numbers from 8
 * interleaved xoshiro128+ streams, with or without a select-based threshold
 * that lets gcc auto-vectorise the site loop, was tried and was not faster
 * (2.05-2.09 against 1.96 ns/site at L = 1024, one thread). One generator
 * per (sweep, colour, row), so results do not depend on the thread count. */
#ifndef SM_BENCH_ISING_H
#define SM_BENCH_ISING_H

#include <stdint.h>

typedef struct {
    int L;                /* L x L, periodic, L even */
    int8_t *s;            /* +-1 */
    uint32_t thr[9];      /* accept iff r < thr[s_a * sum_nb + 4] */
} ising;

int ising_init(ising *m, int L, double T, uint64_t seed);
void ising_free(ising *m);
void ising_sweep(ising *m, uint64_t seed, uint64_t sweep);
int64_t ising_magnetisation(const ising *m);

#endif
