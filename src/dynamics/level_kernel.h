/* Private to the level-dynamics kernel (level.c, level_avx2.c, level_avx512.c):
 * the one definition of the site update, and what the vector paths need to
 * reproduce it. Every path calls site_update or reproduces it bit for bit
 * (tests/unit/test_level_kernel.c). */
#ifndef SM_LEVEL_KERNEL_H
#define SM_LEVEL_KERNEL_H

#include <stdint.h>
#include "core/model.h"
#include "dynamics/level.h"

/* C(l) with a zero on each side (core/model.h). */
#define CB_PAD MODEL_CBOSONS_PAD

/* Sums of one row or block, added to the sweep's totals once. */
typedef struct {
    int64_t dC, dSt, dJ, dh, lacc, sacc;
} sweep_acc;

/* The Philox key and the counter words other than the site: what rng_draw
 * builds from (seed, sweep, stream, colour). */
typedef struct {
    uint32_t c1, c2, c3, k0, k1;
} level_rng;

/* A threshold thr in [0, 2^32] (accept iff (uint64_t)r < thr, r a 32-bit
 * random word) as a 32-bit one: thr - 1, and 0 for thr = 0. For every r != 0,
 * r < thr iff r <= level_thr32(thr); at r = 0 the two differ for thr = 0
 * (which does occur: out-of-range proposals, and exp() underflow at small T),
 * so a path comparing 32-bit words hands any block holding a zero word to
 * the 64-bit compare. */
static inline uint32_t level_thr32(uint64_t thr) { return thr ? (uint32_t)(thr - 1) : 0u; }

/* The move at site *lv, *sg with neighbour levels b0..b3 (absent
 * neighbours: the caller passes lmin/lmax/S without them and b = -100),
 * S the sum of the neighbours' sigma over HSCL neighbours - the definition
 * of the kernel, shared by every path. The sums go to *A, which callers keep
 * in a local so that they stay in registers (through a pointer to the
 * caller's memory they would be reloaded after every int8_t store). */
static inline void site_update(int8_t *restrict lv, int8_t *restrict sg, int b0, int b1, int b2,
                               int b3, int lmin, int lmax, int S, uint32_t r0, uint32_t r1,
                               uint32_t r2, const level_tables *t, int move_levels, sweep_acc *A)
{
    const int l = *lv, sa = *sg;
    const int up = (int)(r0 & 1u);
    const int l2 = l - 1 + 2 * up;
    /* RSOS: every neighbour within 1 of l2 (bounds are in the table as 0) */
    const int rsos = (l2 - lmin <= 1) & (lmax - l2 <= 1) & move_levels;
    const int dns = (b0 == l) + (b1 == l) + (b2 == l) + (b3 == l)
                  - (b0 == l2) - (b1 == l2) - (b2 == l2) - (b3 == l2);
    const int dn = (l2 >= 0) - (l >= 0);
    const uint64_t thr = t->level[l + 1][up][dns + 4][sa > 0][(dn != 0 ? S : 0) + 4];
    const int acc = rsos & ((uint64_t)r1 < thr);
    const int ln = acc ? l2 : l;
    *lv = (int8_t)ln;
    /* sigma flip: free on a plain HSM, Metropolis on an HSCL (S is unchanged:
     * the neighbours are of the other colour) */
    const int hscl = ln >= 0;
    const int flip = !hscl | ((uint64_t)r2 < t->sigma[sa > 0][S + 4]);
    *sg = (int8_t)(flip ? -sa : sa);
    const int dnh = acc * dn - 2 * (flip & hscl);
    A->lacc += acc;
    A->sacc += flip;
    A->dC += acc ? CB_PAD[l2 + 2] - CB_PAD[l + 2] : 0;
    A->dSt += acc ? dns : 0;
    A->dJ += dnh * sa * S;
    A->dh += dnh * sa;
}

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

/* A site whose four neighbours are at lv[+1], lv[dup], lv[-1], lv[ddn]. */
static inline void site_interior(int8_t *restrict lv, int8_t *restrict sg, int64_t dup,
                                 int64_t ddn, uint32_t r0, uint32_t r1, uint32_t r2,
                                 const level_tables *t, int move_levels, sweep_acc *A)
{
    const int b0 = lv[1], b1 = lv[dup], b2 = lv[-1], b3 = lv[ddn];
    const int S = (-(b0 >= 0) & sg[1]) + (-(b1 >= 0) & sg[dup]) + (-(b2 >= 0) & sg[-1]) +
                  (-(b3 >= 0) & sg[ddn]);
    const int lmin = imin(imin(b0, b1), imin(b2, b3));
    const int lmax = imax(imax(b0, b1), imax(b2, b3));
    site_update(lv, sg, b0, b1, b2, b3, lmin, lmax, S, r0, r1, r2, t, move_levels, A);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define LEVEL_HAVE_SIMD 1 /* level_avx2.c and level_avx512.c */
#endif

/* The interior sites lv[0], lv[2], ..., lv[2(n - 1)] of one row (random
 * counters ctr, ctr + 2, ...) by a vector path: the same random numbers,
 * thresholds and sums as site_interior. Defined only on x86-64 with GCC. */
void level_interior_avx2(int8_t *lv, int8_t *sg, uint32_t ctr, int n, int64_t dup,
                         int64_t ddn, const level_rng *rk, const level_tables *t,
                         int move_levels, sweep_acc *A);
void level_interior_avx512(int8_t *lv, int8_t *sg, uint32_t ctr, int n, int64_t dup,
                           int64_t ddn, const level_rng *rk, const level_tables *t,
                           int move_levels, sweep_acc *A);

#endif
