/* Philox4x32-10 with AVX2, 16 counters {c0 + 2k, c1, c2, c3} (the sites of
 * one colour in a row) at a time: the same words as rng_draw (core/rng.h),
 * bit for bit, for the level kernel's AVX2 path (level_avx2.c) and the cage
 * dynamics' row randoms (cage.c). Private to src/dynamics; every function
 * is inlined into an AVX2-targeted caller, so that the rest of the build
 * keeps the x86-64-v2 baseline.
 *
 * On Zen 1 a 256-bit vpmuludq takes the one multiplier pipe for two cycles:
 * 18 products a site make about 9 cycles, against about 21 for the scalar
 * rng_draw (docs/performance.md). */
#ifndef SM_PHILOX_AVX2_H
#define SM_PHILOX_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#define PHILOX_AVX2_INLINE __attribute__((target("avx2"), always_inline)) static inline

/* The Philox constants of a row (the key and the counter words other than
 * the site), broadcast once: inside the block loop gcc rebuilt each from
 * its scalar at every block, two vector uops apiece. */
typedef struct {
    __m256i r1;         /* round 1: c3 ^ k1 */
    __m256i r2a, r2b;   /* round 2: lo(M1 c2) ^ k0', hi(M0 a0) ^ k1' */
    __m256i r2x3;       /* round 2: lo(M0 a0) */
    __m256i q0[8], q1[8]; /* rounds 3 to 10 */
} philox_keys;

/* Rounds 1 and 2 share their lane-independent products (only c0 differs
 * between lanes), computed once in scalar code, as in the AVX-512 path
 * (level_avx512.c). */
PHILOX_AVX2_INLINE void philox_keys_init(philox_keys *pk, uint32_t c1, uint32_t c2, uint32_t c3,
                                         uint32_t k0, uint32_t k1)
{
    const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    const uint64_t p1c = (uint64_t)0xCD9E8D57u * c2;
    const uint32_t a0 = (uint32_t)(p1c >> 32) ^ c1 ^ k0, a1 = (uint32_t)p1c;
    const uint64_t p0c = (uint64_t)0xD2511F53u * a0;
    pk->r1 = _mm256_set1_epi64x(c3 ^ k1);
    pk->r2a = _mm256_set1_epi64x(a1 ^ (k0 + W0));
    pk->r2b = _mm256_set1_epi64x((uint32_t)(p0c >> 32) ^ (k1 + W1));
    pk->r2x3 = _mm256_set1_epi64x((uint32_t)p0c);
    for (int r = 0; r < 8; r++) {
        pk->q0[r] = _mm256_set1_epi64x((uint32_t)(k0 + (uint32_t)(r + 2) * W0));
        pk->q1[r] = _mm256_set1_epi64x((uint32_t)(k1 + (uint32_t)(r + 2) * W1));
    }
}

/* Philox4x32-10 for 8 of the 16 counters {c0 + 2k, c1, c2, c3}, k < 16, as
 * rng_philox_lanes (core/rng.h): chains h = h0 and h0 + 1. Chain h holds sites 2h,
 * 2h + 1, 2h + 8, 2h + 9 in its four 64-bit lanes, each word in the low half
 * of a lane (the high halves carry junk that vpmuludq never reads). Two
 * chains, not four: on Zen 1 a 256-bit vpmuludq takes the one multiplier
 * pipe for two cycles, so two chains already keep it busy, and four need
 * more than the 16 vector registers. Words 1 and 2 go to r1, r2, and word 0
 * to r0 unless it is NULL (site k at lane philox_lane(k)); bit 0 of word 0
 * comes back as 0 / 1 in 32-bit lanes packed from the two chains. */
PHILOX_AVX2_INLINE __m256i philox8(uint32_t c0, int h0, const philox_keys *pk, uint64_t *r0,
                                   uint64_t *r1, uint64_t *r2)
{
    const __m256i M0 = _mm256_set1_epi64x(0xD2511F53u), M1 = _mm256_set1_epi64x(0xCD9E8D57u);
    const __m256i iota = _mm256_setr_epi64x(0, 2, 16, 18);
    __m256i x0[2], x1[2], x2[2], x3[2];
    for (int h = 0; h < 2; h++) {
        const __m256i c = _mm256_add_epi64(_mm256_set1_epi64x(c0 + 4u * (uint32_t)(h0 + h)), iota);
        /* round 1: x0, x1 do not depend on the lane */
        const __m256i p0 = _mm256_mul_epu32(c, M0);
        x2[h] = _mm256_xor_si256(_mm256_srli_epi64(p0, 32), pk->r1);
        /* round 2: x2, x3 do not depend on the lane */
        const __m256i p1 = _mm256_mul_epu32(x2[h], M1);
        x0[h] = _mm256_xor_si256(_mm256_srli_epi64(p1, 32), pk->r2a);
        x1[h] = p1;
        x2[h] = _mm256_xor_si256(p0, pk->r2b);
        x3[h] = pk->r2x3;
    }
    for (int r = 0; r < 8; r++)
        for (int h = 0; h < 2; h++) {
            const __m256i p0 = _mm256_mul_epu32(x0[h], M0);
            const __m256i p1 = _mm256_mul_epu32(x2[h], M1);
            x0[h] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), x1[h]), pk->q0[r]);
            x2[h] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), x3[h]), pk->q1[r]);
            x1[h] = p1;
            x3[h] = p0;
        }
    for (int h = 0; h < 2; h++) {
        if (r0) _mm256_storeu_si256((__m256i *)(r0 + 4 * (h0 + h)), x0[h]);
        _mm256_storeu_si256((__m256i *)(r1 + 4 * (h0 + h)), x1[h]);
        _mm256_storeu_si256((__m256i *)(r2 + 4 * (h0 + h)), x2[h]);
    }
    const __m256i b64 = _mm256_set1_epi64x(1);
    return _mm256_packs_epi32(_mm256_and_si256(x0[0], b64), _mm256_and_si256(x0[1], b64));
}

/* Philox for the 16 sites of a block: words 1 and 2 to r1[16], r2[16] (and
 * word 0 to r0[16] unless NULL) in philox8's lane order, the "up" bits (bit
 * 0 of word 0) returned as 0 / 1 in 16-bit lanes in site order (the chain
 * layout makes one more pack enough). */
PHILOX_AVX2_INLINE __m256i philox16(uint32_t c0, const philox_keys *pk, uint64_t *r0, uint64_t *r1,
                                    uint64_t *r2)
{
    const __m256i a = philox8(c0, 0, pk, r0, r1, r2);
    return _mm256_packs_epi32(a, philox8(c0, 2, pk, r0, r1, r2));
}

/* Where philox8 and philox16 put site k < 16 of a block. */
static inline int philox_lane(int k) { return 4 * ((k & 7) >> 1) + (k & 1) + 2 * (k >> 3); }

#endif
