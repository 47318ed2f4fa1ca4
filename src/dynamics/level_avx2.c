/* The AVX2 interior path of the level kernel (level_kernel.h): 16 sites to a
 * vector, for CPUs with AVX2 but not AVX-512 (selected at run time in
 * level.c; compiled with a target attribute so that the rest of the build
 * keeps the x86-64-v2 baseline). Same random numbers, same thresholds, same
 * sums as site_interior, bit for bit.
 *
 * How it differs from the AVX-512 path, and why:
 *  - No mask registers and no vpermt2w: the per-site logic is in 16-bit
 *    lanes with compare results as all-ones lanes, and the two table
 *    look-ups (level move, sigma flip) are done by scalar code on the
 *    integer pipes, which the vector code leaves idle: 16 index loads, 16
 *    64-bit table loads and 16 64-bit compares a table, which also makes the
 *    compare exact (no 16-bit approximation, no zero-word fallback).
 *  - Philox in two passes of two chains of four 64-bit lanes (vpmuludq
 *    multiplies the low halves), with the sites of a chain chosen so that
 *    vpackssdw puts the "up" bits in site order with no permute.
 *  - Levels and spins in the high byte of their 16-bit lanes (block16). */
#include <string.h>
#include "level_kernel.h"

#ifdef LEVEL_HAVE_SIMD
#include <immintrin.h>
#include "philox_avx2.h"
#define AVX2_TARGET __attribute__((target("avx2")))
#define AVX2_INLINE __attribute__((target("avx2"), always_inline)) static inline

/* All-ones in the 16-bit lanes whose bit of m (bits: each lane's) is set. */
AVX2_INLINE __m256i expand16(unsigned m, __m256i bits)
{
    return _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16((short)m), bits), bits);
}

/* *m = 2 *m + (r < thr): gcc writes the compare as setb, movzbl, lea (three
 * uops after the compare); cmp + adc is one. */
static inline __attribute__((always_inline)) void shift_in_below(unsigned *m, uint64_t r,
                                                                  uint64_t thr)
{
    __asm__("cmpq %2, %1\n\tadcl %0, %0" : "+r"(*m) : "r"(r), "rm"(thr) : "cc");
}

/* The sums of a row: 32-bit lanes (a row adds at most 2 x 80 x 256 to a
 * lane of C4 per block of 16 sites), move counts twice over (two mask bytes
 * a lane). */
typedef struct {
    __m256i C4, St, J, h;
    int64_t lacc2, sacc2;
} vsums;

/* Tables and constants of a row, loaded once. */
typedef struct {
    const uint64_t *level, *sigma; /* level_tables' tables, flattened */
    __m256i cb4;                   /* C(l) / 4 at byte l + 1, both halves */
    __m256i mv;                    /* all-ones when levels move */
    __m256i bits;                  /* 1 << (15 - k) in lane k */
} row_consts;

/* 16 sites lv[0], lv[2], ..., lv[30] with their random words from
 * philox16 (R1, R2, up), the lanes of live only. Loads 32 bytes from
 * lv - 1, lv, lv + dup - 1, lv + ddn - 1 (and sg); out: the 32 bytes to
 * store at lv and sg, the odd bytes (the other colour) unchanged.
 *
 * The byte layout does the unpacking: in a load from lv, site 2k is the low
 * byte of 16-bit lane k and its +x neighbour the high byte; a load one byte
 * lower has any other neighbour in the high byte. Levels and spins are
 * kept in the high byte, as 256 v (a shift or an and, where sign-extending
 * a byte takes two shifts, and shifts have one pipe on Zen 1): compares,
 * min, max and differences work on 256 v as on v, and only S and l are
 * brought down. Long on purpose: the hot loop's body, whose values live in
 * registers. */
AVX2_INLINE void block16(const int8_t *lv, const int8_t *sg, int64_t dup, int64_t ddn,
                         const uint64_t *R1, const uint64_t *R2, __m256i up, __m256i live,
                         const row_consts *K, vsums *V, __m256i out[2])
{
    const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi16(1),
                  hi = _mm256_set1_epi16((short)0xFF00), m1 = _mm256_set1_epi16(-256);
#define LOAD(p) _mm256_loadu_si256((const __m256i *)(p))
    const __m256i w = LOAD(lv), ws = LOAD(sg);
    const __m256i l = _mm256_slli_epi16(w, 8), sa = _mm256_slli_epi16(ws, 8);
    const __m256i b0 = _mm256_and_si256(w, hi), s0 = _mm256_and_si256(ws, hi);
    const __m256i b2 = _mm256_slli_epi16(LOAD(lv - 1), 8), s2 = _mm256_slli_epi16(LOAD(sg - 1), 8);
    const __m256i b1 = _mm256_and_si256(LOAD(lv + dup - 1), hi);
    const __m256i s1 = _mm256_and_si256(LOAD(sg + dup - 1), hi);
    const __m256i b3 = _mm256_and_si256(LOAD(lv + ddn - 1), hi);
    const __m256i s3 = _mm256_and_si256(LOAD(sg + ddn - 1), hi);
#undef LOAD
    /* S: sigma summed over HSCL neighbours (level > -1) */
    const __m256i S = _mm256_srai_epi16(
        _mm256_add_epi16(_mm256_add_epi16(_mm256_and_si256(_mm256_cmpgt_epi16(b0, m1), s0),
                                          _mm256_and_si256(_mm256_cmpgt_epi16(b1, m1), s1)),
                         _mm256_add_epi16(_mm256_and_si256(_mm256_cmpgt_epi16(b2, m1), s2),
                                          _mm256_and_si256(_mm256_cmpgt_epi16(b3, m1), s3))),
        8);
    const __m256i lmin = _mm256_min_epi16(_mm256_min_epi16(b0, b1), _mm256_min_epi16(b2, b3));
    const __m256i lmax = _mm256_max_epi16(_mm256_max_epi16(b0, b1), _mm256_max_epi16(b2, b3));
    const __m256i d = _mm256_sub_epi16(_mm256_add_epi16(up, up), one); /* l2 - l = +-1 */
    const __m256i l2 = _mm256_add_epi16(l, _mm256_slli_epi16(d, 8));
    const __m256i c2 = _mm256_set1_epi16(512); /* a difference of at most 1 is below 2 */
    const __m256i rsos = _mm256_and_si256(
        _mm256_and_si256(_mm256_cmpgt_epi16(c2, _mm256_sub_epi16(l2, lmin)),
                         _mm256_cmpgt_epi16(c2, _mm256_sub_epi16(lmax, l2))),
        _mm256_and_si256(live, K->mv));
    /* dns = n_same - n_up (the compares give -1) */
    const __m256i nsame = _mm256_add_epi16(
        _mm256_add_epi16(_mm256_cmpeq_epi16(b0, l), _mm256_cmpeq_epi16(b1, l)),
        _mm256_add_epi16(_mm256_cmpeq_epi16(b2, l), _mm256_cmpeq_epi16(b3, l)));
    const __m256i nup = _mm256_add_epi16(
        _mm256_add_epi16(_mm256_cmpeq_epi16(b0, l2), _mm256_cmpeq_epi16(b1, l2)),
        _mm256_add_epi16(_mm256_cmpeq_epi16(b2, l2), _mm256_cmpeq_epi16(b3, l2)));
    const __m256i dns = _mm256_sub_epi16(nup, nsame);
    const __m256i nl = _mm256_cmpgt_epi16(l, m1), nl2 = _mm256_cmpgt_epi16(l2, m1);
    const __m256i dn = _mm256_sub_epi16(nl, nl2); /* (l2 >= 0) - (l >= 0) */
    const __m256i sp9 = _mm256_and_si256(_mm256_cmpgt_epi16(sa, zero), _mm256_set1_epi16(9));
    /* flat index of level[l + 1][up][dns + 4][sa > 0][(dn ? S : 0) + 4] and
     * of sigma[sa > 0][S + 4] */
    const __m256i ix = _mm256_add_epi16(
        _mm256_add_epi16(
            _mm256_add_epi16(_mm256_mullo_epi16(_mm256_srai_epi16(l, 8), _mm256_set1_epi16(324)),
                             _mm256_mullo_epi16(up, _mm256_set1_epi16(162))),
            _mm256_add_epi16(_mm256_mullo_epi16(dns, _mm256_set1_epi16(18)), sp9)),
        _mm256_add_epi16(_mm256_and_si256(_mm256_xor_si256(nl, nl2), S), _mm256_set1_epi16(400)));
    const __m256i sx = _mm256_add_epi16(_mm256_add_epi16(sp9, S), _mm256_set1_epi16(4));
    uint16_t ixs[16], sxs[16];
    _mm256_storeu_si256((__m256i *)ixs, ix);
    _mm256_storeu_si256((__m256i *)sxs, sx);
    /* Through memory on purpose: without the barrier gcc reads the indices
     * back out of the vector registers (vpextrw: two uops each on the
     * vector pipes, which are the bottleneck) instead of by loads. */
    __asm__("" : "+m"(ixs), "+m"(sxs));
    /* am, fm: bit 15 - k for site k (each compare shifted in from the
     * right: cmp sets the carry flag to r < thr, adc doubles and adds it) */
    unsigned am = 0, fm = 0;
#pragma GCC unroll 16
    for (int k = 0; k < 16; k++) {
        const int q = 4 * ((k & 7) >> 1) + (k & 1) + 2 * (k >> 3);
        shift_in_below(&am, (uint32_t)R1[q], K->level[ixs[k]]);
        shift_in_below(&fm, (uint32_t)R2[q], K->sigma[sxs[k]]);
    }
    const __m256i acc = _mm256_and_si256(rsos, expand16(am, K->bits));
    const __m256i dl = _mm256_and_si256(acc, d); /* ln - l */
    const __m256i hsm = _mm256_cmpgt_epi16(zero, _mm256_add_epi16(l, _mm256_slli_epi16(dl, 8)));
    const __m256i flip = _mm256_and_si256(_mm256_or_si256(hsm, expand16(fm, K->bits)), live);
    /* the new bytes: level + dl in the low byte (a byte add: no carry into
     * the neighbour's byte); sigma -1 <-> 1 is xor 0xFE */
    out[0] = _mm256_add_epi8(w, _mm256_and_si256(dl, _mm256_set1_epi16(0x00FF)));
    out[1] = _mm256_xor_si256(ws, _mm256_and_si256(flip, _mm256_set1_epi16(0x00FE)));

    V->lacc2 += __builtin_popcount((unsigned)_mm256_movemask_epi8(acc));
    V->sacc2 += __builtin_popcount((unsigned)_mm256_movemask_epi8(flip));
    /* 256 (C(l2) - C(l)) / 4 by byte shuffles: index l + 1 in the high
     * byte, 0x80 (which gives 0) in the low byte; l2 = -2 gives 0 too */
    const __m256i c1 = _mm256_set1_epi16(0x0180); /* + 256, low byte 0x80 */
    const __m256i dC4 = _mm256_sub_epi16(
        _mm256_shuffle_epi8(K->cb4, _mm256_add_epi16(l2, c1)),
        _mm256_shuffle_epi8(K->cb4, _mm256_add_epi16(l, c1)));
    V->C4 = _mm256_add_epi32(V->C4, _mm256_madd_epi16(_mm256_and_si256(acc, dC4), one));
    V->St = _mm256_add_epi32(V->St, _mm256_madd_epi16(_mm256_and_si256(acc, dns), one));
    /* dnh = acc dn - 2 (flip & hscl), then times sa = +-1 */
    const __m256i fh = _mm256_andnot_si256(hsm, flip);
    const __m256i dnh = _mm256_add_epi16(_mm256_and_si256(acc, dn), _mm256_add_epi16(fh, fh));
    const __m256i dhs = _mm256_sign_epi16(dnh, sa);
    V->h = _mm256_add_epi32(V->h, _mm256_madd_epi16(dhs, one));
    V->J = _mm256_add_epi32(V->J, _mm256_madd_epi16(dhs, S));
}

AVX2_INLINE int64_t hsum32(__m256i v)
{
    int32_t x[8];
    _mm256_storeu_si256((__m256i *)x, v);
    int64_t s = 0;
    for (int i = 0; i < 8; i++) s += x[i];
    return s;
}

/* The m < 16 sites of a row shorter than a block: block16 on copies of the bytes it reads
 * (so that it neither reads nor writes past the row's interior), then the
 * m sites copied back. */
AVX2_TARGET static void tail16(int8_t *lv, int8_t *sg, int m, int64_t dup, int64_t ddn,
                               const uint64_t *R1, const uint64_t *R2, __m256i up,
                               const row_consts *K, vsums *V)
{
    enum { ROW = 48 }; /* a copied row: 1 + 32 bytes, rounded up */
    int8_t bl[3 * ROW + 16], bs[3 * ROW + 16];
    memset(bl, 0, sizeof bl);
    memset(bs, 0, sizeof bs);
    int8_t *pl = bl + 1, *ps = bs + 1; /* the first site */
    memcpy(pl - 1, lv - 1, (size_t)(2 * m + 1));
    memcpy(ps - 1, sg - 1, (size_t)(2 * m + 1));
    memcpy(pl + ROW - 1, lv + dup - 1, (size_t)(2 * m));
    memcpy(ps + ROW - 1, sg + dup - 1, (size_t)(2 * m));
    memcpy(pl + 2 * ROW - 1, lv + ddn - 1, (size_t)(2 * m));
    memcpy(ps + 2 * ROW - 1, sg + ddn - 1, (size_t)(2 * m));
    const __m256i live = _mm256_cmpgt_epi16(
        _mm256_set1_epi16((short)m),
        _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __m256i out[2];
    block16(pl, ps, ROW, 2 * ROW, R1, R2, up, live, K, V, out);
    _mm256_storeu_si256((__m256i *)pl, out[0]);
    _mm256_storeu_si256((__m256i *)ps, out[1]);
    /* the odd bytes between the sites go back unchanged (they are of the
     * other colour, which nothing writes meanwhile) */
    memcpy(lv, pl, (size_t)(2 * m - 1));
    memcpy(sg, ps, (size_t)(2 * m - 1));
}

/* The n interior sites of a row, 16 at a time. What bounds it on Zen 1
 * (2.5 GHz, 128-bit vector units, so a 256-bit instruction is two uops):
 * the total of vector uops, about 40 a site for Philox and 30 for the site
 * logic. Philox for a pass of blocks first and then the logic, or the next
 * block's Philox spread through the current block's logic, measured no
 * faster than block by block (the latter slower: spills). */
AVX2_TARGET void level_interior_avx2(int8_t *lv, int8_t *sg, uint32_t ctr, int n, int64_t dup,
                                     int64_t ddn, const level_rng *rk, const level_tables *t,
                                     int move_levels, sweep_acc *A)
{
    int8_t cb4[32] = {0};
    for (int i = 0; i < NLEVELS; i++) cb4[i] = cb4[i + 16] = (int8_t)(CB_PAD[i + 1] / 4);
    const row_consts K = {
        &t->level[0][0][0][0][0], &t->sigma[0][0], _mm256_loadu_si256((const __m256i *)cb4),
        _mm256_set1_epi16(move_levels ? -1 : 0),
        _mm256_setr_epi16((short)0x8000, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16,
                          8, 4, 2, 1)};
    philox_keys pk;
    philox_keys_init(&pk, rk->c1, rk->c2, rk->c3, rk->k0, rk->k1);
    vsums V = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
               _mm256_setzero_si256(), 0, 0};
    const __m256i all = _mm256_set1_epi16(-1);
    uint64_t R1[16], R2[16];
    __m256i prev[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()}, out[2];
    int8_t *pl = NULL, *ps = NULL;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i up = philox16(ctr + 2u * (uint32_t)i, &pk, NULL, R1, R2);
        block16(lv + 2 * i, sg + 2 * i, dup, ddn, R1, R2, up, all, &K, &V, out);
        /* A block's bytes are stored after the next block's loads: the next
         * block's load from lv - 1 takes one byte of this block's store,
         * and a load that overlaps an earlier store in part waits until
         * that store has reached the cache (no store forwarding). */
        if (pl) {
            _mm256_storeu_si256((__m256i *)pl, prev[0]);
            _mm256_storeu_si256((__m256i *)ps, prev[1]);
        }
        pl = lv + 2 * i, ps = sg + 2 * i, prev[0] = out[0], prev[1] = out[1];
    }
    if (pl) {
        _mm256_storeu_si256((__m256i *)pl, prev[0]);
        _mm256_storeu_si256((__m256i *)ps, prev[1]);
    }
    if (i < n && n >= 16) {
        /* the last m < 16 sites as the live lanes of a block that ends at
         * the row's last interior site: its other lanes were done by the
         * previous block, whose store is in memory now, so they write back
         * what they read */
        const int m = n - i, j = n - 16;
        const __m256i up = philox16(ctr + 2u * (uint32_t)j, &pk, NULL, R1, R2);
        const __m256i live = _mm256_cmpgt_epi16(
            _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            _mm256_set1_epi16((short)(15 - m)));
        block16(lv + 2 * j, sg + 2 * j, dup, ddn, R1, R2, up, live, &K, &V, out);
        _mm256_storeu_si256((__m256i *)(lv + 2 * j), out[0]);
        _mm256_storeu_si256((__m256i *)(sg + 2 * j), out[1]);
    } else if (i < n) {
        const __m256i up = philox16(ctr + 2u * (uint32_t)i, &pk, NULL, R1, R2);
        tail16(lv + 2 * i, sg + 2 * i, n - i, dup, ddn, R1, R2, up, &K, &V);
    }
    A->dC += hsum32(V.C4) / 64; /* 4 C / 256 */
    A->dSt += hsum32(V.St);
    A->dJ += hsum32(V.J);
    A->dh += hsum32(V.h);
    A->lacc += V.lacc2 / 2;
    A->sacc += V.sacc2 / 2;
}
#endif
