/* Level dynamics (docs/model.md section 5): checkerboard Metropolis sweep of the level
 * field (l -> l +- 1 under RSOS) and of the MIEV spins (s -> -s). */
#ifndef SM_LEVEL_SWEEP_H
#define SM_LEVEL_SWEEP_H

#include "core/lattice.h"
#include "core/model.h"
#include "core/moves.h"

enum { LEVEL_MOVE_LEVEL = 0, LEVEL_MOVE_SIGMA = 1, LEVEL_NMOVES = 2 };
enum { LEVEL16_N = 192 };
extern const char *const LEVEL_MOVE_NAMES[LEVEL_NMOVES];

/* Integer Metropolis thresholds for one temperature, so that the sweep does
 * no exp(). Level move index: [l+1][up][n_same - n_up + 4][s > 0][S + 4]
 * (S is only looked at when the move creates or removes an HSCL, otherwise
 * it is 0); sigma move index: [s > 0][S + 4]. */
typedef struct {
    double T;
    uint64_t level[NLEVELS][2][9][2][9];
    uint64_t sigma[2][9];
    /* The sigma thresholds in 32 bits for the SIMD path, where they fit two
     * vector registers: level_thr32 (level_kernel.h) of sigma flattened as
     * [s > 0] * 9 + S + 4, zero-padded. */
    uint32_t sigma32[32];
    /* The upper 16 bits of level_thr32 of the level entries that a move
     * allowed by RSOS and the bounds can meet, at a compact index
     * (level.c, compact_index), for the SIMD path: its look-ups are
     * register permutes instead of gathers. level16_ok is 0 if two such
     * entries that share an index differ (then the sweep takes the scalar
     * path). */
    uint16_t level16[LEVEL16_N];
    int level16_ok;
} level_tables;

void level_tables_build(level_tables *t, const model_params *p, double T);

/* One sweep (both colours). Adds the energy change to *de and the move counts
 * to *ms. Bitwise identical for any number of OpenMP threads. */
void level_sweep(const lattice *lat, model_state *s, const model_params *p,
                 const level_tables *t, uint64_t seed, uint64_t sweep,
                 energy_terms *de, move_stats *ms);

/* The same sweep with a choice of implementation: AUTO takes the widest
 * vector path this CPU has (AVX-512, else AVX2, else the portable scalar
 * code); the others ask for one path, and a path the CPU lacks runs as
 * SCALAR. Tests run them all; the results are bitwise identical. */
typedef enum {
    LEVEL_KERNEL_AUTO = 0,
    LEVEL_KERNEL_SCALAR = 1,
    LEVEL_KERNEL_AVX2 = 2,
    LEVEL_KERNEL_AVX512 = 3
} level_kernel_kind;
void level_sweep_kernel(const lattice *lat, model_state *s, const model_params *p,
                        const level_tables *t, uint64_t seed, uint64_t sweep, energy_terms *de,
                        move_stats *ms, level_kernel_kind kind);
/* 1 when this build and CPU have the path (AUTO and SCALAR: always). */
int level_kernel_available(level_kernel_kind kind);

/* A rectangular block of the global lattice *lat held in storage with (at
 * least) one halo cell on each side: site (gx0 + x, gy0 + y), 0 <= x < nx,
 * 0 <= y < ny, at level[y * stride + x] (level points at the block's first
 * owned site; stride >= nx + 2), the same for sigma. */
typedef struct {
    int8_t *level, *sigma;
    int64_t stride;
    int gx0, gy0, nx, ny;
    const lattice *lat;
} level_block;

/* One checkerboard colour ((gx + gy) mod 2) of the level sweep of a block:
 * what level_sweep does to those sites, bitwise, with the same random
 * numbers (counter gy * Lx + gx). Neighbours are read from storage, halo
 * cells included: the caller fills the halo with the neighbouring sites'
 * current values before each colour (at a global open boundary the
 * neighbour is absent and the halo is not read). So level_sweep equals, for
 * colour 0 then 1: fill every block's halo, then sweep every block's colour.
 * Adds the block's energy change to *de and its move counts (the sites of
 * this colour as proposals) to *ms; rows in parallel with OpenMP. */
void level_sweep_block_colour(const level_block *b, int colour, const model_params *p,
                              const level_tables *t, uint64_t seed, uint64_t sweep,
                              energy_terms *de, move_stats *ms, level_kernel_kind kind);

/* The kernel's random numbers: words 0..2 of Random123's philox4x32 (10
 * rounds) with key {k0, k1} for the n counters {c0 + 2i, c1, c2, c3},
 * i < n, into o0[i], o1[i], o2[i] - what rng_draw gives for the n sites of
 * one colour in a row. Exposed for the test against Random123. */
void level_philox_lanes(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                        uint32_t k1, int n, uint32_t *restrict o0, uint32_t *restrict o1,
                        uint32_t *restrict o2);

#endif
