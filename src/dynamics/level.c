/* Level dynamics kernel. Sites of one checkerboard colour have no neighbours
 * of that colour, so a colour is updated in parallel with no races; every
 * random number is addressed by (seed, sweep, colour, site) so the result does
 * not depend on which thread visits which site.
 *
 * Why it is written this way (tests/unit/test_level_kernel.c pins its
 * trajectories as checksums, so every path below reproduces a plain
 * site-by-site sweep bit for bit):
 *  - A row's sites of one colour draw their Philox blocks in one pass into a
 *    small stack buffer. The counters of those blocks differ only in the
 *    site index, so the pass is a plain loop over independent lanes that the
 *    compiler vectorises (one clone per ISA level, picked at load time);
 *    per-site scalar Philox would be most of the sweep's time.
 *  - Interior sites read their neighbours through row offsets (periodic
 *    wrap in y is a choice of row), without the boundary rules of
 *    core/lattice.h. Sites next to an edge - the x wrap,
 *    open edges, tiny lattices - take that general path, with the same
 *    random numbers and the same arithmetic.
 *  - Accept/reject is computed, not branched on: the outcomes are random, so
 *    branches on them mispredict about half the time.
 *  - On AVX-512 CPUs the interior sites go 32 to a vector (interior_avx512):
 *    Philox for 32 sites in four independent chains, the per-site logic in
 *    16-bit lanes, the level thresholds from a compact 16-bit table held in
 *    registers (no gathers), the rare undecided block through the scalar
 *    code. */
#include <stdlib.h>
#include <string.h>
#include "dynamics/dynamics.h"
#include "dynamics/level.h"
#include "core/rng.h"

const char *const LEVEL_MOVE_NAMES[LEVEL_NMOVES] = {"level", "sigma"};

/* Sites per Philox pass: 3 x 1 KiB of stack, small against L1. */
enum { CHUNK = 256 };

/* C(l) with a zero on each side (core/model.h). */
#define CB_PAD MODEL_CBOSONS_PAD

/* A threshold thr in [0, 2^32] (accept iff (uint64_t)r < thr, r a 32-bit
 * random word) as a 32-bit one: thr - 1, and 0 for thr = 0. For every r != 0,
 * r < thr iff r <= level_thr32(thr); at r = 0 the two differ for thr = 0
 * (which does occur: out-of-range proposals, and exp() underflow at small T),
 * so the SIMD path hands any vector holding a zero word to the 64-bit path. */
static inline uint32_t level_thr32(uint64_t thr) { return thr ? (uint32_t)(thr - 1) : 0u; }

/* The compact index of level16 (level_tables). It covers the moves that
 * can be accepted at an interior site: l2 = l +- 1 within the bounds, every
 * neighbour at l or at l2 (RSOS, given that the configuration obeys it),
 * n_same of them at l, so that the level table index dns is 2 n_same.
 *  - n unchanged (l and l2 both >= 0): the entry does not look at S;
 *    index 5 p + n_same, p = l (up) or l + LEVEL_MAX - 1 (down), below
 *    10 LEVEL_MAX;
 *  - -1 -> 0 and 0 -> -1: m = 4 - n_same (up) or n_same (down) neighbours
 *    are HSCLs, S in -m..m in steps of 2; index 10 LEVEL_MAX + 30 (l == 0)
 *    + 15 (s > 0) + m (m + 1) / 2 + (S + m) / 2.
 * Whether a threshold depends on s where n does not change is up to the
 * model: level16_build checks that it does not. */
_Static_assert(LEVEL_MIN == -1, "compact index assumes levels from -1");
static int compact_index(int l, int up, int n_same, int sp, int S)
{
    const int l2 = l - 1 + 2 * up;
    if ((l2 >= 0) == (l >= 0)) return 5 * (l + (LEVEL_MAX - 1) * (1 - up)) + n_same;
    const int m = up ? 4 - n_same : n_same;
    return 10 * LEVEL_MAX + 30 * (l == 0) + 15 * sp + m * (m + 1) / 2 + (S + m) / 2;
}
_Static_assert(10 * LEVEL_MAX + 30 + 15 + 15 <= LEVEL16_N, "level16 too small");

static void level16_build(level_tables *t)
{
    unsigned char set[LEVEL16_N] = {0};
    t->level16_ok = 1;
    for (int i = 0; i < LEVEL16_N; i++) t->level16[i] = 0;
    for (int l = LEVEL_MIN; l <= LEVEL_MAX; l++)
        for (int up = 0; up < 2; up++) {
            const int l2 = l - 1 + 2 * up;
            if (l2 < LEVEL_MIN || l2 > LEVEL_MAX) continue;
            const int dn = (l2 >= 0) != (l >= 0);
            for (int ns = 0; ns <= 4; ns++)
                for (int sp = 0; sp < 2; sp++) {
                    const int m = up ? 4 - ns : ns;
                    for (int S = dn ? -m : 0; S <= (dn ? m : 0); S += 2) {
                        const int c = compact_index(l, up, ns, sp, S);
                        const uint16_t v = (uint16_t)(level_thr32(t->level[l + 1][up][2 * ns][sp][S + 4]) >> 16);
                        if (set[c] && t->level16[c] != v) t->level16_ok = 0;
                        t->level16[c] = v;
                        set[c] = 1;
                    }
                }
        }
}

void level_tables_build(level_tables *t, const model_params *p, double T)
{
    t->T = T;
    double r[NLEVELS][2][9][2][9];
    model_level_ratios(p, T, r);
    for (int l = 0; l < NLEVELS; l++)
        for (int up = 0; up < 2; up++)
            for (int k = 0; k < 9; k++)
                for (int sp = 0; sp < 2; sp++)
                    for (int j = 0; j < 9; j++) t->level[l][up][k][sp][j] = model_threshold(r[l][up][k][sp][j]);
    for (int sp = 0; sp < 2; sp++)
        for (int j = 0; j < 9; j++)
            t->sigma[sp][j] = model_threshold(model_sigma_ratio(p, T, sp ? 1 : -1, j - 4));
    for (int i = 0; i < 32; i++) t->sigma32[i] = i < 18 ? level_thr32(t->sigma[i / 9][i % 9]) : 0;
    level16_build(t);
}

/* Philox4x32-10 exactly as Random123's philox4x32 (checked against it in
 * test_level_kernel), for the n counters {c0 + 2i, c1, c2, c3}, i < n. Only
 * the three words the kernel uses are stored. Written as a loop over
 * independent lanes of 32-bit words with 32x32->64 products so that it
 * vectorises; the clones let AVX2 / AVX-512 machines use their width while
 * the default clone keeps the x86-64-v2 baseline. */
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
void level_philox_lanes(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                        uint32_t k1, int n, uint32_t *restrict o0, uint32_t *restrict o1,
                        uint32_t *restrict o2)
{
    for (int i = 0; i < n; i++) {
        uint32_t x0 = c0 + 2u * (uint32_t)i, x1 = c1, x2 = c2, x3 = c3;
        uint32_t q0 = k0, q1 = k1;
#pragma GCC unroll 10
        for (int r = 0; r < 10; r++) {
            const uint64_t p0 = (uint64_t)0xD2511F53u * x0;
            const uint64_t p1 = (uint64_t)0xCD9E8D57u * x2;
            x0 = (uint32_t)(p1 >> 32) ^ x1 ^ q0;
            x1 = (uint32_t)p1;
            x2 = (uint32_t)(p0 >> 32) ^ x3 ^ q1;
            x3 = (uint32_t)p0;
            q0 += 0x9E3779B9u;
            q1 += 0xBB67AE85u;
        }
        o0[i] = x0;
        o1[i] = x1;
        o2[i] = x2;
    }
}

typedef struct {
    int64_t dC, dSt, dJ, dh, lacc, sacc;
} sweep_acc;

/* The move at one site with neighbour levels b[4] (absent neighbours: the
 * caller passes lmin/lmax/S without them and b = -100) - the definition of
 * the kernel, shared by both paths. */
static inline void site_update(int8_t *restrict lv, int8_t *restrict sg, int64_t a, int b0,
                               int b1, int b2, int b3, int lmin, int lmax, int S, uint32_t r0,
                               uint32_t r1, uint32_t r2, const level_tables *t, int move_levels,
                               sweep_acc *A)
{
    const int l = lv[a], sa = sg[a];
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
    lv[a] = (int8_t)ln;
    /* sigma flip: free on a plain HSM, Metropolis on an HSCL (S is unchanged:
     * the neighbours are of the other colour) */
    const int hscl = ln >= 0;
    const int flip = !hscl | ((uint64_t)r2 < t->sigma[sa > 0][S + 4]);
    sg[a] = (int8_t)(flip ? -sa : sa);
    const int dnh = acc * dn - 2 * (flip & hscl);
    A->lacc += acc;
    A->sacc += flip;
    A->dC += acc ? CB_PAD[l2 + 2] - CB_PAD[l + 2] : 0;
    A->dSt += acc ? dns : 0;
    A->dJ += dnh * sa * S;
    A->dh += dnh * sa;
}

/* A site whose neighbours need the boundary rules: edges, wraps, open
 * boundaries, tiny lattices. */
static inline void site_general(int8_t *restrict lv, int8_t *restrict sg, const lattice *lat,
                                int64_t a, uint32_t r0, uint32_t r1, uint32_t r2,
                                const level_tables *t, int move_levels, sweep_acc *A)
{
    const int x = lattice_x(lat, a), y = lattice_y(lat, a);
    int S = 0, lmin = 99, lmax = -99, b[4];
    for (int d = 0; d < 4; d++) {
        const int64_t nb = lattice_nbr_xy(lat, x, y, d);
        if (nb < 0) { b[d] = -100; continue; }
        const int lb = lv[nb];
        b[d] = lb;
        S += (lb >= 0) * sg[nb];
        lmin = lb < lmin ? lb : lmin;
        lmax = lb > lmax ? lb : lmax;
    }
    site_update(lv, sg, a, b[0], b[1], b[2], b[3], lmin, lmax, S, r0, r1, r2, t, move_levels, A);
}

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

/* An interior site x of row y (1 <= x <= Lx - 2) whose rows y +- 1 exist. */
static inline void site_interior(int8_t *restrict lv, int8_t *restrict sg, int64_t a,
                                 int64_t up, int64_t dn, uint32_t r0, uint32_t r1, uint32_t r2,
                                 const level_tables *t, int move_levels, sweep_acc *A)
{
    const int b0 = lv[a + 1], b1 = lv[up], b2 = lv[a - 1], b3 = lv[dn];
    const int S = (-(b0 >= 0) & sg[a + 1]) + (-(b1 >= 0) & sg[up]) + (-(b2 >= 0) & sg[a - 1]) +
                  (-(b3 >= 0) & sg[dn]);
    const int lmin = imin(imin(b0, b1), imin(b2, b3));
    const int lmax = imax(imax(b0, b1), imax(b2, b3));
    site_update(lv, sg, a, b0, b1, b2, b3, lmin, lmax, S, r0, r1, r2, t, move_levels, A);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LEVEL_HAVE_AVX512 1
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

/* 32 Philox4x32-10 blocks for the counters {c0 + 2i, c1, c2, c3}, i < 32:
 * the arithmetic of level_philox_lanes, arranged for speed.
 *  - Each word lives in four vectors of 8 64-bit lanes (sites 0-7, 8-15,
 *    16-23, 24-31), the word in the low half of its lane: vpmuludq reads
 *    only the low halves, so the 64-bit product is at once the next "lo"
 *    word and, shifted, the "hi" word, and the junk left in the high halves
 *    is never read. The 16-lane form (products of even and odd lanes blended
 *    back) took 16 instructions a round for 16 sites; this one takes 12.
 *  - Only c0 differs between lanes, so round 1's product of x2 = c2 and
 *    round 2's product of x0 (then hi(c2 M1) ^ c1 ^ k0) are the same for all
 *    lanes: computed once in scalar code, as are x0, x1 after round 1 and x3
 *    after round 2.
 *  - Four independent chains: a round is a multiply, a shift and a
 *    ternary xor in sequence, and two chains (16 sites) left the multiplier
 *    idle between rounds; four made the whole sweep 13% faster.
 * The three words come back as two vectors of 16 32-bit lanes each, in site
 * order. */
AVX512_TARGET static inline void philox32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                          uint32_t k0, uint32_t k1, __m512i *o0, __m512i *o1,
                                          __m512i *o2)
{
    const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    const __m512i M0 = _mm512_set1_epi64(0xD2511F53u), M1 = _mm512_set1_epi64(0xCD9E8D57u);
    const __m512i iota = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    __m512i x0[4], x1[4], x2[4], x3[4];
    x0[0] = _mm512_add_epi64(_mm512_set1_epi64(c0), iota);
    for (int h = 1; h < 4; h++) x0[h] = _mm512_add_epi64(x0[0], _mm512_set1_epi64(16 * h));
    /* round 1 (key k0, k1): p1 = M1 c2 is the same in every lane */
    const uint64_t p1c = (uint64_t)0xCD9E8D57u * c2;
    const uint32_t a0 = (uint32_t)(p1c >> 32) ^ c1 ^ k0, a1 = (uint32_t)p1c;
    for (int h = 0; h < 4; h++) {
        const __m512i p0 = _mm512_mul_epu32(x0[h], M0);
        x2[h] = _mm512_xor_si512(_mm512_srli_epi64(p0, 32), _mm512_set1_epi64(c3 ^ k1));
        x3[h] = p0;
    }
    /* round 2 (key k0 + W0, k1 + W1): p0 = M0 a0 is the same in every lane */
    const uint64_t p0c = (uint64_t)0xD2511F53u * a0;
    for (int h = 0; h < 4; h++) {
        const __m512i p1 = _mm512_mul_epu32(x2[h], M1);
        x0[h] = _mm512_xor_si512(_mm512_srli_epi64(p1, 32), _mm512_set1_epi64(a1 ^ (k0 + W0)));
        x1[h] = p1;
        x2[h] = _mm512_xor_si512(x3[h], _mm512_set1_epi64((uint32_t)(p0c >> 32) ^ (k1 + W1)));
        x3[h] = _mm512_set1_epi64((uint32_t)p0c);
    }
    /* rounds 3 to 10 */
    uint32_t q0 = k0 + 2 * W0, q1 = k1 + 2 * W1;
    for (int r = 2; r < 10; r++) {
        const __m512i Q0 = _mm512_set1_epi64(q0), Q1 = _mm512_set1_epi64(q1);
        for (int h = 0; h < 4; h++) {
            const __m512i p0 = _mm512_mul_epu32(x0[h], M0);
            const __m512i p1 = _mm512_mul_epu32(x2[h], M1);
            x0[h] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), x1[h], Q0, 0x96);
            x2[h] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), x3[h], Q1, 0x96);
            x1[h] = p1;
            x3[h] = p0;
        }
        q0 += W0;
        q1 += W1;
    }
    /* the low halves of the 8 + 8 lanes as 16 32-bit lanes */
    const __m512i lows = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int h = 0; h < 2; h++) {
        o0[h] = _mm512_permutex2var_epi32(x0[2 * h], lows, x0[2 * h + 1]);
        o1[h] = _mm512_permutex2var_epi32(x1[2 * h], lows, x1[2 * h + 1]);
        o2[h] = _mm512_permutex2var_epi32(x2[2 * h], lows, x2[2 * h + 1]);
    }
}

/* The sites of one block of interior_avx512 through site_interior, with the
 * 64-bit tables: the exact path for the rare blocks the vector path does not
 * decide. */
AVX512_TARGET static void block_scalar(int8_t *restrict lv, int8_t *restrict sg, int64_t a,
                                       int left, int64_t dup, int64_t ddn, const __m512i R0[2],
                                       const __m512i R1[2], const __m512i R2[2],
                                       const level_tables *t, int move_levels, sweep_acc *A)
{
    uint32_t r0[32], r1[32], r2[32];
    _mm512_storeu_si512(r0, R0[0]); _mm512_storeu_si512(r0 + 16, R0[1]);
    _mm512_storeu_si512(r1, R1[0]); _mm512_storeu_si512(r1 + 16, R1[1]);
    _mm512_storeu_si512(r2, R2[0]); _mm512_storeu_si512(r2 + 16, R2[1]);
    for (int j = 0; j < 32 && j < left; j++)
        site_interior(lv, sg, a + 2 * j, a + 2 * j + dup, a + 2 * j + ddn, r0[j], r1[j], r2[j], t,
                      move_levels, A);
}

/* The site update of site_update for the n interior sites a0, a0 + 2, ...,
 * a0 + 2(n - 1) of one row, 32 at a time, the last block masked; same
 * random numbers, same thresholds, same sums.
 *
 * The per-site logic runs on 32 sites per vector in 16-bit lanes (levels,
 * spins, sums and the table index all fit), which halves its instruction
 * count against 32-bit lanes. The byte layout makes that cheap: a 64-byte
 * load from lv + a puts site a + 2k in the low byte of 16-bit lane k and its
 * +x neighbour in the high byte, and a load from one byte lower puts any
 * other neighbour in the high byte. Loads and stores are masked to the bytes
 * they need, so nothing outside the row's interior sites and their
 * neighbours is touched. Only Philox and the sigma threshold compare are
 * 32-bit (two vectors of 16).
 *
 * The level move's threshold comes from level16 (level_tables) by register
 * permutes, not from 32-bit tables by two gathers a block, which cost a
 * quarter of the sweep's time. level16 holds only the upper 16 bits of the
 * thresholds, which decide r1 <= thr unless the upper halves are equal; a
 * block where that happens in a lane that could be accepted (at most one
 * block in 2^11) is done by block_scalar, as is one with a zero word.
 *
 * Long on purpose: it is the hot loop, and splitting it would pass a dozen
 * vector registers through memory at every call. */
AVX512_TARGET static void interior_avx512(int8_t *restrict lv, int8_t *restrict sg, int64_t a0,
                                          int n, int64_t dup, int64_t ddn, uint32_t c1,
                                          uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                                          const level_tables *t, int move_levels, sweep_acc *A)
{
    const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi16(1),
                  two = _mm512_set1_epi16(2), four = _mm512_set1_epi16(4),
                  nine = _mm512_set1_epi16(9), one32 = _mm512_set1_epi32(1);
    /* CB_PAD as 16-bit lanes, indexed by l + 2 */
    static const int16_t CB16[32] = {0, 0, 4, 16, 36, 64, 100, 144, 196, 256, 320, 0};
    const __m512i cb = _mm512_loadu_si512(CB16);
    /* level16 in three pairs of registers (64 entries a pair) */
    const __m512i T0 = _mm512_loadu_si512(t->level16), T1 = _mm512_loadu_si512(t->level16 + 32),
                  T2 = _mm512_loadu_si512(t->level16 + 64), T3 = _mm512_loadu_si512(t->level16 + 96),
                  T4 = _mm512_loadu_si512(t->level16 + 128), T5 = _mm512_loadu_si512(t->level16 + 160);
    static const int16_t TRI16[32] = {0, 1, 3, 6, 10};   /* m (m + 1) / 2 */
    static const int16_t HI16[32] = {1,  3,  5,  7,  9,  11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31,
                                     33, 35, 37, 39, 41, 43, 45, 47, 49, 51, 53, 55, 57, 59, 61, 63};
    const __m512i tri = _mm512_loadu_si512(TRI16), hi16 = _mm512_loadu_si512(HI16);
    const __m512i pdown = _mm512_set1_epi16(LEVEL_MAX - 1), cbase = _mm512_set1_epi16(10 * LEVEL_MAX),
                  c30 = _mm512_set1_epi16(30), c15 = _mm512_set1_epi16(15),
                  c64 = _mm512_set1_epi16(64), c128 = _mm512_set1_epi16(128),
                  lmin1 = _mm512_set1_epi16(LEVEL_MIN), span = _mm512_set1_epi16(LEVEL_MAX - LEVEL_MIN);
    const __m512i ts0 = _mm512_loadu_si512(t->sigma32), ts1 = _mm512_loadu_si512(t->sigma32 + 16);
    const __mmask32 mv = move_levels ? 0xFFFFFFFFu : 0;
    __m512i vC = zero, vSt = zero, vJ = zero, vh = zero; /* 32-bit lanes */
    int64_t lacc = 0, sacc = 0;
    for (int i = 0; i < n; i += 32) {
        const int64_t a = a0 + 2 * (int64_t)i;
        const int left = n - i;
        const __mmask32 live = left >= 32 ? 0xFFFFFFFFu : (1u << left) - 1;
        /* bytes of the live 16-bit lanes; their low and their high bytes */
        const __mmask64 wb = left >= 32 ? ~0ull : (1ull << (2 * left)) - 1;
        const __mmask64 lob = wb & 0x5555555555555555ull, hib = wb & 0xAAAAAAAAAAAAAAAAull;
        __m512i R0[2], R1[2], R2[2];
        philox32((uint32_t)a, c1, c2, c3, k0, k1, R0, R1, R2);
        const __m512i R0a = R0[0], R1a = R1[0], R2a = R2[0], R0b = R0[1], R1b = R1[1], R2b = R2[1];
        /* A zero word is where the 32-bit thresholds are not exact (see
         * level_thr32): such a block (about one in 2^26) takes the scalar
         * path, which uses the 64-bit tables. */
        const __mmask16 la = (__mmask16)live, lb = (__mmask16)(live >> 16);
        if (__builtin_expect((_mm512_mask_cmpeq_epi32_mask(la, R1a, zero) |
                              _mm512_mask_cmpeq_epi32_mask(la, R2a, zero) |
                              _mm512_mask_cmpeq_epi32_mask(lb, R1b, zero) |
                              _mm512_mask_cmpeq_epi32_mask(lb, R2b, zero)) != 0, 0)) {
            block_scalar(lv, sg, a, left, dup, ddn, R0, R1, R2, t, move_levels, A);
            continue;
        }
        const __mmask32 upm = (__mmask32)_mm512_test_epi32_mask(R0a, one32) |
                              (__mmask32)_mm512_test_epi32_mask(R0b, one32) << 16;
        /* site in the low byte, +x neighbour in the high byte */
        const __m512i wl = _mm512_maskz_loadu_epi8(wb, lv + a), ws = _mm512_maskz_loadu_epi8(wb, sg + a);
        const __m512i l = _mm512_srai_epi16(_mm512_slli_epi16(wl, 8), 8);
        const __m512i sa = _mm512_srai_epi16(_mm512_slli_epi16(ws, 8), 8);
        const __m512i b0 = _mm512_srai_epi16(wl, 8), s0 = _mm512_srai_epi16(ws, 8);
        /* -x, +y, -y neighbours: high bytes of loads one byte below */
        const __m512i b2 = _mm512_srai_epi16(_mm512_maskz_loadu_epi8(hib, lv + a - 2), 8);
        const __m512i s2 = _mm512_srai_epi16(_mm512_maskz_loadu_epi8(hib, sg + a - 2), 8);
        const __m512i b1 = _mm512_srai_epi16(_mm512_maskz_loadu_epi8(hib, lv + a + dup - 1), 8);
        const __m512i s1 = _mm512_srai_epi16(_mm512_maskz_loadu_epi8(hib, sg + a + dup - 1), 8);
        const __m512i b3 = _mm512_srai_epi16(_mm512_maskz_loadu_epi8(hib, lv + a + ddn - 1), 8);
        const __m512i s3 = _mm512_srai_epi16(_mm512_maskz_loadu_epi8(hib, sg + a + ddn - 1), 8);
        __m512i S = _mm512_maskz_mov_epi16(_mm512_cmpge_epi16_mask(b0, zero), s0);
        S = _mm512_mask_add_epi16(S, _mm512_cmpge_epi16_mask(b1, zero), S, s1);
        S = _mm512_mask_add_epi16(S, _mm512_cmpge_epi16_mask(b2, zero), S, s2);
        S = _mm512_mask_add_epi16(S, _mm512_cmpge_epi16_mask(b3, zero), S, s3);
        const __m512i lmin = _mm512_min_epi16(_mm512_min_epi16(b0, b1), _mm512_min_epi16(b2, b3));
        const __m512i lmax = _mm512_max_epi16(_mm512_max_epi16(b0, b1), _mm512_max_epi16(b2, b3));
        const __m512i lm1 = _mm512_sub_epi16(l, one);
        const __m512i l2 = _mm512_mask_add_epi16(lm1, upm, lm1, two); /* l - 1 + 2 up */
        const __mmask32 rsos = live & mv & _mm512_cmple_epi16_mask(_mm512_sub_epi16(l2, lmin), one) &
                               _mm512_cmple_epi16_mask(_mm512_sub_epi16(lmax, l2), one);
        const __mmask32 e0 = _mm512_cmpeq_epi16_mask(b0, l), e1 = _mm512_cmpeq_epi16_mask(b1, l),
                        e2 = _mm512_cmpeq_epi16_mask(b2, l), e3 = _mm512_cmpeq_epi16_mask(b3, l);
        const __mmask32 u0 = _mm512_cmpeq_epi16_mask(b0, l2), u1 = _mm512_cmpeq_epi16_mask(b1, l2),
                        u2 = _mm512_cmpeq_epi16_mask(b2, l2), u3 = _mm512_cmpeq_epi16_mask(b3, l2);
        __m512i dns = four; /* n_same - n_up + 4 */
        dns = _mm512_mask_add_epi16(dns, e0, dns, one);
        dns = _mm512_mask_add_epi16(dns, e1, dns, one);
        dns = _mm512_mask_add_epi16(dns, e2, dns, one);
        dns = _mm512_mask_add_epi16(dns, e3, dns, one);
        dns = _mm512_mask_sub_epi16(dns, u0, dns, one);
        dns = _mm512_mask_sub_epi16(dns, u1, dns, one);
        dns = _mm512_mask_sub_epi16(dns, u2, dns, one);
        dns = _mm512_mask_sub_epi16(dns, u3, dns, one);
        const __mmask32 n_old = _mm512_cmpge_epi16_mask(l, zero);
        const __mmask32 n_new = _mm512_cmpge_epi16_mask(l2, zero);
        const __mmask32 sp = _mm512_cmpgt_epi16_mask(sa, zero);
        const __m512i S4 = _mm512_add_epi16(S, four);
        /* Threshold compare on the upper 16 bits: r1 <= thr iff r1_hi <
         * thr_hi, or r1_hi == thr_hi and the lower halves decide. Lanes that
         * could be accepted are those RSOS allows with l2 within the bounds
         * (elsewhere thr = 0, and r1 != 0 here); if one of them has r1_hi ==
         * thr_hi (1 in 2^16), or a neighbour at neither l nor l2 (a
         * configuration that breaks RSOS), the block goes the exact scalar
         * way. */
        const __mmask32 inb = _mm512_cmple_epu16_mask(_mm512_sub_epi16(l2, lmin1), span);
        const __mmask32 allin = (e0 | u0) & (e1 | u1) & (e2 | u2) & (e3 | u3);
        const __m512i ns = _mm512_srli_epi16(dns, 1); /* n_same, where allin */
        /* n unchanged: 5 (l + (LEVEL_MAX - 1) down) + n_same */
        __m512i p = _mm512_add_epi16(l, pdown);
        p = _mm512_mask_sub_epi16(p, upm, p, pdown);
        const __m512i cn = _mm512_add_epi16(_mm512_add_epi16(_mm512_slli_epi16(p, 2), p), ns);
        /* -1 <-> 0: 10 LEVEL_MAX + 30 (l == 0) + 15 sp + m (m + 1) / 2 + (S + m) / 2 */
        const __m512i m = _mm512_mask_sub_epi16(ns, upm, four, ns);
        __m512i cc = _mm512_mask_add_epi16(cbase, _mm512_cmpeq_epi16_mask(l, zero), cbase, c30);
        cc = _mm512_mask_add_epi16(cc, sp, cc, c15);
        cc = _mm512_add_epi16(_mm512_add_epi16(cc, _mm512_permutexvar_epi16(m, tri)),
                              _mm512_srli_epi16(_mm512_add_epi16(S, m), 1));
        const __m512i c = _mm512_mask_mov_epi16(cn, n_old ^ n_new, cc);
        __m512i th = _mm512_permutex2var_epi16(T0, c, T1);
        th = _mm512_mask_mov_epi16(th, _mm512_cmpge_epu16_mask(c, c64), _mm512_permutex2var_epi16(T2, c, T3));
        th = _mm512_mask_mov_epi16(th, _mm512_cmpge_epu16_mask(c, c128), _mm512_permutex2var_epi16(T4, c, T5));
        /* the upper halves of R1, in site order */
        const __m512i rh = _mm512_permutex2var_epi16(R1a, hi16, R1b);
        const __mmask32 cand = rsos & inb;
        if (__builtin_expect((cand & (_mm512_cmpeq_epi16_mask(rh, th) | ~allin)) != 0, 0)) {
            block_scalar(lv, sg, a, left, dup, ddn, R0, R1, R2, t, move_levels, A);
            continue;
        }
        const __mmask32 acc = cand & _mm512_cmplt_epu16_mask(rh, th);
        const __m512i ln = _mm512_mask_mov_epi16(l, acc, l2);
        const __mmask32 hscl = _mm512_cmpge_epi16_mask(ln, zero);
        /* sigma threshold [sp][S+4], from two registers */
        const __m512i sidx = _mm512_mask_add_epi16(S4, sp, S4, nine);
        const __m512i tsa = _mm512_permutex2var_epi32(ts0, _mm512_cvtepu16_epi32(_mm512_castsi512_si256(sidx)), ts1);
        const __m512i tsb = _mm512_permutex2var_epi32(ts0, _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(sidx, 1)), ts1);
        const __mmask32 flip = live & (~hscl | (__mmask32)_mm512_cmple_epu32_mask(R2a, tsa) |
                                       (__mmask32)_mm512_cmple_epu32_mask(R2b, tsb) << 16);
        const __m512i sn = _mm512_mask_sub_epi16(sa, flip, zero, sa);
        /* the low bytes of the lanes are the sites */
        _mm512_mask_storeu_epi8(lv + a, lob, ln);
        _mm512_mask_storeu_epi8(sg + a, lob, sn);
        lacc += __builtin_popcount(acc);
        sacc += __builtin_popcount(flip);
        /* sums: 16-bit terms, added in pairs into 32-bit lanes by vpmaddwd */
        const __m512i dC = _mm512_sub_epi16(_mm512_permutexvar_epi16(_mm512_add_epi16(l2, two), cb),
                                            _mm512_permutexvar_epi16(_mm512_add_epi16(l, two), cb));
        vC = _mm512_add_epi32(vC, _mm512_madd_epi16(_mm512_maskz_mov_epi16(acc, dC), one));
        vSt = _mm512_add_epi32(vSt, _mm512_madd_epi16(_mm512_maskz_sub_epi16(acc, dns, four), one));
        /* dnh = acc * dn - 2 * (flip & hscl), then times sa = +-1 */
        __m512i dnh = _mm512_maskz_mov_epi16(acc & n_new & ~n_old, one);
        dnh = _mm512_mask_sub_epi16(dnh, acc & n_old & ~n_new, dnh, one);
        dnh = _mm512_mask_sub_epi16(dnh, flip & hscl, dnh, two);
        dnh = _mm512_mask_sub_epi16(dnh, ~sp, zero, dnh);
        vh = _mm512_add_epi32(vh, _mm512_madd_epi16(dnh, one));
        vJ = _mm512_add_epi32(vJ, _mm512_madd_epi16(dnh, S));
    }
    A->dC += _mm512_reduce_add_epi32(vC);
    A->dSt += _mm512_reduce_add_epi32(vSt);
    A->dJ += _mm512_reduce_add_epi32(vJ);
    A->dh += _mm512_reduce_add_epi32(vh);
    A->lacc += lacc;
    A->sacc += sacc;
}
#endif

/* What a row needs besides its sites. */
typedef struct {
    int8_t *restrict lv, *restrict sg;
    const lattice *lat;
    const level_tables *t;
    uint32_t c1, c2, c3, k0, k1;
    int move_levels;
} row_ctx;

/* Sites i in [ifrom, ito) of a row (site i at x0 + 2i, index row + x0 + 2i);
 * [ilo, ihi) are the interior ones. Random numbers in chunks of CHUNK. */
static void row_scalar(const row_ctx *k, int64_t row, int x0, int ifrom, int ito, int ilo,
                       int ihi, int64_t dup, int64_t ddn, sweep_acc *A)
{
    uint32_t r0[CHUNK], r1[CHUNK], r2[CHUNK];
    for (int c = ifrom; c < ito; c += CHUNK) {
        const int m = ito - c < CHUNK ? ito - c : CHUNK;
        level_philox_lanes((uint32_t)(row + x0 + 2 * c), k->c1, k->c2, k->c3, k->k0, k->k1, m, r0,
                           r1, r2);
        const int jlo = imin(imax(ilo - c, 0), m), jhi = imax(imin(ihi - c, m), jlo);
        for (int j = 0; j < jlo; j++)
            site_general(k->lv, k->sg, k->lat, row + x0 + 2 * (c + j), r0[j], r1[j], r2[j], k->t,
                         k->move_levels, A);
        for (int j = jlo; j < jhi; j++) {
            const int64_t a = row + x0 + 2 * (c + j);
            site_interior(k->lv, k->sg, a, a + dup, a + ddn, r0[j], r1[j], r2[j], k->t,
                          k->move_levels, A);
        }
        for (int j = jhi; j < m; j++)
            site_general(k->lv, k->sg, k->lat, row + x0 + 2 * (c + j), r0[j], r1[j], r2[j], k->t,
                         k->move_levels, A);
    }
}

int level_kernel_simd_available(void)
{
#ifdef LEVEL_HAVE_AVX512
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}

void level_sweep(const lattice *lat, model_state *s, const model_params *p,
                 const level_tables *t, uint64_t seed, uint64_t sweep,
                 energy_terms *de, move_stats *ms)
{
    level_sweep_kernel(lat, s, p, t, seed, sweep, de, ms, LEVEL_KERNEL_AUTO);
}

void level_sweep_kernel(const lattice *lat, model_state *s, const model_params *p,
                        const level_tables *t, uint64_t seed, uint64_t sweep, energy_terms *de,
                        move_stats *ms, level_kernel_kind kind)
{
    const int Lx = lat->Lx, Ly = lat->Ly;
    const int periodic = lat->boundary == BOUNDARY_PERIODIC;
    /* the AVX-512 path needs the compact table (always there for this model) */
    const int simd = kind == LEVEL_KERNEL_AUTO && t->level16_ok && level_kernel_simd_available();
    row_ctx k = {s->level, s->sigma, lat, t, (uint32_t)sweep, (uint32_t)(sweep >> 32), 0,
                 (uint32_t)seed, (uint32_t)(seed >> 32), !p->freeze_levels};
    int64_t dC = 0, dSt = 0, dJ = 0, dh = 0, lacc = 0, sacc = 0;

    for (int colour = 0; colour < 2; colour++) {
        /* the counter word rng_draw builds from (stream, substep) */
        k.c3 = ((uint32_t)RNG_STREAM_LEVEL << 16) | (uint32_t)colour;
#pragma omp parallel for schedule(static) reduction(+ : dC, dSt, dJ, dh, lacc, sacc)
        for (int y = 0; y < Ly; y++) {
            sweep_acc A = {0, 0, 0, 0, 0, 0};
            const int x0 = (y + colour) & 1;
            const int n = (Lx - x0 + 1) / 2; /* sites of this colour in the row */
            const int64_t row = (int64_t)y * Lx;
            /* offsets of the +y / -y neighbours for the interior path */
            const int rows_ok = periodic ? Ly >= 2 : (y > 0 && y < Ly - 1);
            const int64_t dup = y + 1 < Ly ? Lx : Lx - (int64_t)Ly * Lx;
            const int64_t ddn = y > 0 ? -(int64_t)Lx : (int64_t)Ly * Lx - Lx;
            /* i in [ilo, ihi) are interior in x: 1 <= x0 + 2i <= Lx - 2 */
            int ilo = x0 == 0 ? 1 : 0, ihi = Lx >= 3 ? (Lx - 2 - x0) / 2 + 1 : 0;
            if (!rows_ok || ihi < ilo) ilo = ihi = 0;
            int done = 0;
#ifdef LEVEL_HAVE_AVX512
            if (simd && ihi > ilo) {
                row_scalar(&k, row, x0, 0, ilo, ilo, ihi, dup, ddn, &A);
                interior_avx512(k.lv, k.sg, row + x0 + 2 * ilo, ihi - ilo, dup, ddn, k.c1, k.c2,
                                k.c3, k.k0, k.k1, t, k.move_levels, &A);
                done = ihi;
            }
#endif
            row_scalar(&k, row, x0, done, n, ilo, ihi, dup, ddn, &A);
            dC += A.dC; dSt += A.dSt; dJ += A.dJ; dh += A.dh; lacc += A.lacc; sacc += A.sacc;
        }
    }
    de->sum_C += dC; de->n_steps += dSt; de->sum_J += dJ; de->sum_h += dh;
    ms->proposed[LEVEL_MOVE_LEVEL] += k.move_levels ? lat->N : 0;
    ms->accepted[LEVEL_MOVE_LEVEL] += lacc;
    ms->proposed[LEVEL_MOVE_SIGMA] += lat->N;
    ms->accepted[LEVEL_MOVE_SIGMA] += sacc;
}

/* ---------------------------------------------------- the level dynamics */

static level_tables *level_data(const sim_state *s) { return s->dyn_data; }

static int level_init(sim_state *s, const sm_config *cfg, sm_error *err)
{
    (void)cfg;
    /* 64-byte aligned: the SIMD path loads the compact tables as vectors */
    const size_t size = (sizeof(level_tables) + 63) / 64 * 64;
    level_tables *t = aligned_alloc(64, size);
    if (!t) return sm_fail(err, "out of memory for the level tables");
    memset(t, 0, sizeof *t);
    t->T = -1.0;
    s->dyn_data = t;
    return 0;
}

static void level_set_temperature(sim_state *s, double T)
{
    level_tables *t = level_data(s);
    if (t->T != T) level_tables_build(t, &s->p, T);
}

static void level_do_sweep(sim_state *s)
{
    level_sweep(&s->lat, &s->st, &s->p, level_data(s), s->seed, (uint64_t)s->step, &s->e, &s->moves);
}

static int64_t level_updates(const sim_state *s) { return s->lat.N; }

/* Nothing beyond the shared fields: the tables are rebuilt from T. */
static void level_save(const sim_state *s, ckpt_writer *w) { (void)s, (void)w; }

static int level_restore(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    (void)s, (void)r, (void)err;
    return 0;
}

static void level_free(sim_state *s)
{
    free(s->dyn_data);
    s->dyn_data = NULL;
}

const dynamics_ops DYNAMICS_LEVEL = {
    .update_unit = "site-update",
    .nmoves = LEVEL_NMOVES,
    .move_names = LEVEL_MOVE_NAMES,
    .bytes_per_site = 0,
    .init = level_init,
    .set_temperature = level_set_temperature,
    .sweep = level_do_sweep,
    .updates_per_sweep = level_updates,
    .save = level_save,
    .restore = level_restore,
    .free = level_free,
};
