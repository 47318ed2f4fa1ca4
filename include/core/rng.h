/* Counter-based random numbers (Philox4x32-10, Random123). A draw is a pure
 * function of (seed, sweep, stream, substep, index), so a trajectory does not
 * depend on the number of threads or on where a run was restarted. */
#ifndef SM_RNG_H
#define SM_RNG_H

#include <stdint.h>
#include <Random123/philox.h>

/* Streams separate independent uses of one sweep index. */
enum {
    RNG_STREAM_INIT = 0,
    RNG_STREAM_LEVEL = 1,
    RNG_STREAM_CAGE_SITE = 2,
    RNG_STREAM_CAGE_BOND = 3,
    RNG_STREAM_PHASE = 4,   /* PCP phases drawn when a kind takes over a state */
};

typedef struct { uint32_t v[4]; } rng_block;

static inline rng_block rng_draw(uint64_t seed, uint64_t sweep, uint32_t stream,
                                 uint32_t substep, uint32_t index)
{
    philox4x32_ctr_t c = {{index, (uint32_t)sweep, (uint32_t)(sweep >> 32),
                           (stream << 16) | (substep & 0xffffu)}};
    philox4x32_key_t k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr_t r = philox4x32(c, k);
    rng_block b = {{r.v[0], r.v[1], r.v[2], r.v[3]}};
    return b;
}

/* Words 0..2 of philox4x32 for the n counters {c0 + 2i, c1, c2, c3}, i < n,
 * and the key {k0, k1}: rng_draw for the sites of one colour in a row,
 * written as a loop over independent lanes of 32-bit words with 32 x 32 ->
 * 64-bit products so that the compiler vectorises it. Always inlined, so
 * that each caller compiles it for the instruction set it targets (the
 * level kernel's clones, the cage's AVX-512 path). */
__attribute__((always_inline)) static inline void
rng_philox_lanes(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1, int n,
                 uint32_t *restrict o0, uint32_t *restrict o1, uint32_t *restrict o2)
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

/* Uniform double in [0,1) from a 32-bit word (for initialisation only). */
static inline double rng_u01(uint32_t w) { return w * (1.0 / 4294967296.0); }

#endif
