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

/* Uniform double in [0,1) from a 32-bit word (for initialisation only). */
static inline double rng_u01(uint32_t w) { return w * (1.0 / 4294967296.0); }

#endif
