/* Kinetic bookkeeping of the cage dynamics (docs/model.md sections 6, 9, 10): loop
 * completions per level, the relaxation times tau_i between a site's
 * completion of loop i and loop i + 1, and soft-matrix jumps.
 *
 * Counters are integers so that OpenMP reductions are exact and the numbers
 * do not depend on the thread count. Per-site arrays and the soft-matrix
 * event buffers are allocated once by kinetics_init; the sweep only writes
 * into them. */
#ifndef SM_KINETICS_H
#define SM_KINETICS_H

#include <stdint.h>
#include <stdio.h>
#include "core/lattice.h"
#include "core/model.h"
#include "core/error.h"

/* A completion (phi 63 -> 0 with l -> l + 1) reaches a level 0..8, so there
 * are 9 completion kinds; tau_i needs a completion of loop i + 1 after loop
 * i, so i runs over 0..7 (no loop follows level 8). */
enum { KIN_NLOOPS = NLEVELS - 1, KIN_NTAU = NLEVELS - 2 };
/* The soft-matrix footprint's radius: |dx| + |dy| <= KIN_SM_RADIUS
 * (docs/model.md section 11), so an event reaches no farther along x or y. */
enum { KIN_SM_RADIUS = 8 };

typedef struct {
    int64_t completions[KIN_NLOOPS]; /* upward loop crossings, by the level reached */
    int64_t undos[KIN_NLOOPS];       /* downward crossings, by the level left */
    int64_t tau_sum[KIN_NTAU];       /* sum of intervals (sweeps) ending at loop i + 1 */
    uint64_t tau_sumsq[KIN_NTAU];    /* sum of their squares */
    int64_t tau_count[KIN_NTAU];
    int64_t sm_jumps;                /* soft-matrix jumps (arrivals at level 8) */
} kin_counters;

typedef struct kinetics {
    /* per site: the sweep of its last completion, or none when it has none
     * or has undone a loop since. While a stamp stands the site is still at
     * the level that completion reached (levels change only by completions
     * and undos), so the level need not be kept: a completion to l + 1
     * closes a tau_l interval exactly when the site has a stamp. uint16
     * (stamp16, none = 0xFFFF) while every sweep number is below 0xFFFF,
     * else uint32 (stamp32, none = KIN_NO_STAMP; a cage run has fewer than
     * 2^32 - 1 sweeps, cage_init): exactly one is set, or neither while
     * the per-site arrays are kept elsewhere (kinetics_init_counters: the
     * blocks of a split lattice). Use the accessors below. */
    uint16_t *stamp16;
    uint32_t *stamp32;
    int stamp_wide;    /* the stamps are, or would be, uint32 */
    /* soft-matrix events of one colour pass: bit x / 2 of row y's words in
     * ev_mask marks an arrival of site (x, y) at level 8, the same bit of
     * ev_sign its sigma > 0. Each row is written by one thread and replayed
     * in order afterwards (1/8 byte a site instead of a list of indices). */
    uint64_t *ev_mask, *ev_sign;
    int32_t *nevents;  /* events per row, so that quiet rows are skipped */
    int row_words;
    /* footprint of a soft matrix (diamond of radius 8 without its tips):
     * offsets, wrapped into [0, L) and deduplicated on periodic lattices */
    int32_t *fp_dx, *fp_dy;
    int nfp;
    kin_counters c;
} kinetics;

#define KIN_NO_STAMP UINT32_MAX
/* The sweeps a uint16 stamp can hold: 0 .. KIN_STAMP16_SWEEPS - 1. */
#define KIN_STAMP16_SWEEPS 0xFFFFu

/* stamps: uint16 when sweeps (the number of sweeps the run will do, from 0)
 * is at most KIN_STAMP16_SWEEPS, else uint32. */
int kinetics_init(kinetics *k, const lattice *lat, int64_t sweeps, sm_error *err);
/* kinetics_init in two steps: the counters, the footprint and the stamps'
 * width, for a run whose per-site arrays are kept elsewhere until
 * something here reads them; then the stamps (none set) and the event
 * buffers of the whole lattice (a no-op when allocated). */
int kinetics_init_counters(kinetics *k, const lattice *lat, int64_t sweeps, sm_error *err);
int kinetics_init_sites(kinetics *k, const lattice *lat, sm_error *err);
void kinetics_free(kinetics *k);
/* Per-site bytes kinetics_init allocates for a run of that many sweeps (for
 * the memory estimate). */
double kinetics_bytes_per_site(int64_t sweeps);
/* Replaces uint16 stamps by uint32 ones of the same meaning, so that sweep
 * numbers from KIN_STAMP16_SWEEPS on can be stamped; a no-op when they are
 * uint32. Returns 0, or -1 when out of memory (the stamps are kept). */
int kinetics_widen_stamps(kinetics *k, int64_t N);

/* Stamps of width uint32 (wide) or uint16 in place of the current ones,
 * whose values are lost unless they already have that width; the new ones
 * are not set. Returns 0, or -1 when out of memory (the stamps are kept). */
int kinetics_stamps_of_width(kinetics *k, int64_t N, int wide);
/* The last completion's sweep of site a, or KIN_NO_STAMP. */
static inline uint32_t kinetics_stamp(const kinetics *k, int64_t a)
{
    if (k->stamp32) return k->stamp32[a];
    return k->stamp16[a] == 0xFFFF ? KIN_NO_STAMP : k->stamp16[a];
}
/* Stamps site a with sweep `now` (below KIN_STAMP16_SWEEPS when uint16), or
 * with none when now = KIN_NO_STAMP. */
static inline void kinetics_set_stamp(kinetics *k, int64_t a, uint32_t now)
{
    if (k->stamp32) k->stamp32[a] = now;
    else k->stamp16[a] = (uint16_t)(now == KIN_NO_STAMP ? 0xFFFF : now);
}
/* Widens the stamps before the first sweep numbered KIN_STAMP16_SWEEPS or
 * later (a run longer than kinetics_init was told, such as a benchmark's);
 * exits with a message when out of memory. */
void kinetics_before_sweep(kinetics *k, int64_t N, uint64_t sweep);
/* No site has a stamp. */
void kinetics_clear_stamps(kinetics *k, int64_t N);

/* Records an arrival at level 8 of site (x, y) with sigma > 0 when up. */
static inline void kinetics_mark_event(kinetics *k, int x, int y, int up)
{
    const int64_t w = (int64_t)y * k->row_words + (x >> 7);
    const uint64_t bit = (uint64_t)1 << ((x >> 1) & 63);
    k->ev_mask[w] |= bit;
    k->ev_sign[w] |= up ? bit : 0;
    k->nevents[y]++;
}

/* Replays the soft-matrix events recorded in the colour pass `colour`
 * (every footprint site's jump count moves by +1 or -1 with the sigma of the
 * arriving site) and clears the buffers. Widens the counts (model.h) when
 * one leaves the int16 range; exits with a message when out of memory. */
void kinetics_apply_jumps(kinetics *k, const lattice *lat, model_state *s, int colour);
/* For a block of the lattice (cage_block): k gets the event buffers of an
 * nx x ny region and lat's footprint, no stamps (the caller sets stamp32
 * and clears it before kinetics_free). */
int kinetics_init_events(kinetics *k, const lattice *lat, int nx, int ny, sm_error *err);
/* The events recorded in rows 0..ny-1 of the buffers. */
int64_t kinetics_event_count(const kinetics *k, int ny);
/* Writes them as (x, y, +1 or -1 for sigma > 0 or not) into ev, row by row
 * and x by x (the order kinetics_apply_jumps applies them in), where the
 * sites of the pass's colour in row y have x = (x0 + y) mod 2 + 2i; clears
 * the buffers. */
void kinetics_take_events(kinetics *k, int ny, int x0, int32_t *ev);
/* The part of the footprint of an event at global (xa, ya) with sign d in
 * the block [gx0, gx0 + nx) x [gy0, gy0 + ny) of lat, added to the block's
 * int32 counts z (row stride nx) as kinetics_apply_jumps adds them. Returns
 * 1 when a count it changed is outside the int16 range (where the whole
 * lattice's counts would have been widened). */
int kinetics_apply_event_block(const kinetics *k, const lattice *lat, int xa, int ya, int d, int32_t *z,
                               int gx0, int gy0, int nx, int ny);
/* now - then, field by field. */
kin_counters kinetics_diff(const kin_counters *now, const kin_counters *then);

/* tau_i statistics from counters: mean interval and its standard error
 * (intervals treated as independent); NaN when there is no event. */
void kinetics_tau(const kin_counters *c, int i, double *mean, double *error);

#endif
