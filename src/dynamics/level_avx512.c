/* The AVX-512 interior path of the level kernel (level_kernel.h): 32 sites
 * to a vector. Selected at run time (level.c) on CPUs with AVX-512 F, BW,
 * VL and DQ; compiled with target attributes so that the rest of the build
 * keeps the x86-64-v2 baseline. */
#include "level_kernel.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
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
AVX512_TARGET static void block_scalar(int8_t *restrict lv, int8_t *restrict sg, int left,
                                       int64_t dup, int64_t ddn, const __m512i R0[2],
                                       const __m512i R1[2], const __m512i R2[2],
                                       const level_tables *t, int move_levels, sweep_acc *A)
{
    uint32_t r0[32], r1[32], r2[32];
    _mm512_storeu_si512(r0, R0[0]); _mm512_storeu_si512(r0 + 16, R0[1]);
    _mm512_storeu_si512(r1, R1[0]); _mm512_storeu_si512(r1 + 16, R1[1]);
    _mm512_storeu_si512(r2, R2[0]); _mm512_storeu_si512(r2 + 16, R2[1]);
    for (int j = 0; j < 32 && j < left; j++)
        site_interior(lv + 2 * j, sg + 2 * j, dup, ddn, r0[j], r1[j], r2[j], t, move_levels, A);
}

/* The site update of site_update for the n interior sites lv[0], lv[2], ...,
 * lv[2(n - 1)] of one row (counters ctr, ctr + 2, ...), 32 at a time, the last block masked; same
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
AVX512_TARGET void level_interior_avx512(int8_t *lv, int8_t *sg, uint32_t ctr, int n,
                                         int64_t dup, int64_t ddn, const level_rng *rk,
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
        const int64_t a = 2 * (int64_t)i;
        const int left = n - i;
        const __mmask32 live = left >= 32 ? 0xFFFFFFFFu : (1u << left) - 1;
        /* bytes of the live 16-bit lanes; their low and their high bytes */
        const __mmask64 wb = left >= 32 ? ~0ull : (1ull << (2 * left)) - 1;
        const __mmask64 lob = wb & 0x5555555555555555ull, hib = wb & 0xAAAAAAAAAAAAAAAAull;
        __m512i R0[2], R1[2], R2[2];
        philox32(ctr + 2u * (uint32_t)i, rk->c1, rk->c2, rk->c3, rk->k0, rk->k1, R0, R1, R2);
        const __m512i R0a = R0[0], R1a = R1[0], R2a = R2[0], R0b = R0[1], R1b = R1[1], R2b = R2[1];
        /* A zero word is where the 32-bit thresholds are not exact (see
         * level_thr32): such a block (about one in 2^26) takes the scalar
         * path, which uses the 64-bit tables. */
        const __mmask16 la = (__mmask16)live, lb = (__mmask16)(live >> 16);
        if (__builtin_expect((_mm512_mask_cmpeq_epi32_mask(la, R1a, zero) |
                              _mm512_mask_cmpeq_epi32_mask(la, R2a, zero) |
                              _mm512_mask_cmpeq_epi32_mask(lb, R1b, zero) |
                              _mm512_mask_cmpeq_epi32_mask(lb, R2b, zero)) != 0, 0)) {
            block_scalar(lv + a, sg + a, left, dup, ddn, R0, R1, R2, t, move_levels, A);
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
            block_scalar(lv + a, sg + a, left, dup, ddn, R0, R1, R2, t, move_levels, A);
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
