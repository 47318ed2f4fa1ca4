/* Cage dynamics (docs/model.md section 6): the PCP of every site walks on its 2-Delta-d
 * cage, w = 64 (l + 1) + phi in [0, 640), and the level changes only when the
 * PCP completes (or undoes) a closed loop of 64 jumps.
 *
 * One cage sweep = four SASC bond-class passes (horizontal even, horizontal
 * odd, vertical even, vertical odd; each a set of disjoint bonds) followed by
 * two checkerboard colour passes of single jumps and sigma flips. Every move
 * is an exactly reversible proposal accepted with a probability that obeys
 * detailed balance with respect to W(l, sigma) x uniform(phi), so the
 * (l, sigma) marginal is the W of the level dynamics:
 *  - pair jumps and single jumps inside a loop leave (l, sigma) alone, and
 *    their barrier factors exp(-E/T) are the same in both directions;
 *  - a loop crossing is accepted with c_trap min(1, W'/W), so
 *    W P(x -> y) = c_trap min(W, W') is symmetric;
 *  - a sigma flip happens only at phi = 0 (in both directions) with
 *    Metropolis min(1, W'/W).
 * Barrier factors are capped at 1 (a negative barrier counts as 0): a factor
 * above 1 would be clipped by min(1, .) in one direction only. */
#ifndef SM_CAGE_SWEEP_H
#define SM_CAGE_SWEEP_H

#include "dynamics/kinetics.h"
#include "core/lattice.h"
#include "core/model.h"
#include "core/moves.h"
#include "core/state.h"
#include "io/config.h"

enum {
    CAGE_MOVE_PAIR = 0,   /* SASC pair jump on a paired bond */
    CAGE_MOVE_SINGLE = 1, /* single jump inside a diagonal (E_async) */
    CAGE_MOVE_TRAP = 2,   /* single jump across a diagonal boundary (E_trap) */
    CAGE_MOVE_LOOP = 3,   /* single jump across phi 63 <-> 0: l -> l +- 1 */
    CAGE_MOVE_SIGMA = 4,  /* sigma flip at phi = 0 */
    CAGE_NMOVES = 5
};
extern const char *const CAGE_MOVE_NAMES[CAGE_NMOVES];

enum { CAGE_LINES = 16, CAGE_TRAP_LINE = 15 };

/* Integer Metropolis thresholds for one temperature (no exp() in the sweep).
 * loop[][][][][] is indexed like level_tables.level and already includes
 * the trap factor. */
typedef struct {
    double T;
    uint64_t loop[NLEVELS][2][9][2][9];
    uint64_t sigma[2][9];
    uint64_t async; /* min(1, exp(-E_async/T)) */
    uint64_t trap;  /* min(1, exp(-E_trap/T)) */
} cage_tables;

void cage_tables_build(cage_tables *t, const model_params *p, double T);

/* Direction (0..3) the PCP's current diagonal q = phi / 16 faces. */
static inline int cage_facing(int phase, int sigma)
{
    const int q = phase >> 4;
    return sigma > 0 ? q : (4 - q) & 3;
}

/* SASC pairing of a and its neighbour b in direction d: a's diagonal faces
 * b, b's faces a, and both PCPs are on the same angle line. */
static inline int cage_paired(int phase_a, int sigma_a, int phase_b, int sigma_b, int d)
{
    return (phase_a & 15) == (phase_b & 15) && cage_facing(phase_a, sigma_a) == d &&
           cage_facing(phase_b, sigma_b) == ((d + 2) & 3);
}

/* One cage sweep at t->T. Adds the energy change to *de, the move counts to
 * *ms and the kinetic events to k->c; applies soft-matrix jumps to s->z.
 * Bitwise identical for any number of OpenMP threads. */
void cage_sweep(const lattice *lat, model_state *s, const model_params *p, const cage_tables *t,
                kinetics *k, uint64_t seed, uint64_t sweep, energy_terms *de, move_stats *ms);

/* A rectangular block of the global lattice *lat held in storage with one
 * halo cell on each side: site (gx0 + x, gy0 + y), 0 <= x < nx, 0 <= y <
 * ny, at level[y * stride + x] (level points at the block's first owned
 * site; stride >= nx + 2), the same for sigma and phase; its kinetic stamp
 * at the same index of k's stamps, its soft-matrix events marked in k's
 * buffers at block coordinates (x, y). */
typedef struct {
    int8_t *level, *sigma;
    uint8_t *phase;
    kinetics *k;
    int64_t stride;
    int gx0, gy0, nx, ny;
    const lattice *lat;
} cage_block;

/* The passes of cage_sweep on a block, bitwise what cage_sweep does to its
 * sites with the same random numbers. The caller fills the halo with the
 * neighbouring sites' current values before each pass (phase and sigma for
 * a bond pass, level and sigma for a colour pass; at a global open boundary
 * the halo is not read). So cage_sweep equals, for bond class 0 (both x
 * classes), 2 and 3: fill every halo, every block's bond pass; then for
 * colour 0 and 1: fill every halo, every block's colour pass, then the
 * soft-matrix events of all blocks applied in the order of their global
 * index (kinetics_apply_jumps). A bond across a block edge is computed by
 * both blocks, each moving its own end; it is counted by the block of its
 * first (left or lower) site. Adds the move counts to *ms, the energy change
 * to *de and the kinetic counters to *kc; leaves the colour pass's
 * soft-matrix events in b->k (kinetics_take_events).
 *
 * One halo filled at the start of a sweep serves all three bond passes and
 * colour 0: a site faces one neighbour, so it is in at most one paired
 * bond of the four classes, and a pair jump keeps both sites facing as
 * before; so a bond's pairing, and the phase its jump reads, are those at
 * the start of the sweep whatever the other classes did. Bond passes move
 * no level or sigma. Only colour 1 needs a new halo (of level and sigma). */
void cage_block_bonds(const cage_block *b, int cls, uint64_t seed, uint64_t sweep, move_stats *ms);
void cage_block_colour(const cage_block *b, int colour, const model_params *p, const cage_tables *t,
                       uint64_t seed, uint64_t sweep, energy_terms *de, move_stats *ms,
                       kin_counters *kc);

/* A rectangle of block coordinates: x <= x' < x + nx, y <= y' < y + ny
 * (empty when nx or ny <= 0); -1 is the halo cell before the first owned
 * site. */
typedef struct {
    int x, y, nx, ny;
} cage_rect;

/* The same passes on part of a block: the bonds whose first (left or
 * lower) site lies in part, a halo cell included, or the sites of the
 * colour that do. Every random number belongs to a site or a bond, a site
 * is in at most one bond of a pass, the sums are integers and the
 * soft-matrix events bits in k's buffers at block coordinates, so a pass
 * done part by part, in any order, over rectangles that cover
 * cage_block_whole once is the whole pass, bit for bit. */
void cage_block_bonds_part(const cage_block *b, int cls, cage_rect part, uint64_t seed, uint64_t sweep,
                           move_stats *ms);
void cage_block_colour_part(const cage_block *b, int colour, cage_rect part, const model_params *p,
                            const cage_tables *t, uint64_t seed, uint64_t sweep, energy_terms *de,
                            move_stats *ms, kin_counters *kc);

/* The first sites of every bond of a block pass, halo cells included:
 * (-1, -1) to (nx - 1, ny - 1). */
cage_rect cage_block_whole(const cage_block *b);

/* A pass: bond class 0 (both x classes), 2, 3, or a colour pass. */
enum { CAGE_PASS_COLOUR = 4 };

/* The part of a pass that neither reads a halo cell nor changes a site of
 * the block's edge rows and columns (what a halo exchange sends), so that
 * it may run while the halo travels: the bonds with both ends, the sites
 * with all four neighbours, owned and off the edge. Empty for blocks
 * thinner than 3 sites (4 along a bond). */
cage_rect cage_block_interior(const cage_block *b, int pass);

/* The rest of cage_block_whole around inner: up to 4 rectangles into
 * edge (the whole when inner is empty); returns how many. */
int cage_block_edges(const cage_block *b, cage_rect inner, cage_rect edge[4]);

/* Words 0..2 of rng_draw(seed, sweep, RNG_STREAM_CAGE_SITE, colour, a0 +
 * 2i), i < n, into o0..o2 (n <= 64): through the AVX-512 or the AVX2
 * Philox (simd, at most cage_simd_available()), else rng_draw. Exposed for
 * the test that every path gives the same words. */
enum { CAGE_RNG_SCALAR = 0, CAGE_RNG_AVX2 = 1, CAGE_RNG_AVX512 = 2 };
void cage_row_randoms(int simd, uint64_t seed, uint64_t sweep, int colour, int64_t a0, int n,
                      uint32_t *o0, uint32_t *o1, uint32_t *o2);
/* The fastest path the CPU has. */
int cage_simd_available(void);

/* DYNAMICS_CAGE's init for a run whose per-site kinetics are kept
 * elsewhere (the blocks of a split lattice): s->kin has its counters and
 * the stamps' width, and gets its stamps and event buffers from
 * kinetics_init_sites when something here reads them. */
int cage_init_deferred(sim_state *s, const sm_config *cfg, sm_error *err);

/* PCP move proposals per sweep (one single jump per site plus one pair
 * check per bond), the unit of the cage timing. */
int64_t cage_moves_per_sweep(const lattice *lat);

#endif
