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

typedef struct {
    int64_t completions[KIN_NLOOPS]; /* upward loop crossings, by the level reached */
    int64_t undos[KIN_NLOOPS];       /* downward crossings, by the level left */
    int64_t tau_sum[KIN_NTAU];       /* sum of intervals (sweeps) ending at loop i + 1 */
    uint64_t tau_sumsq[KIN_NTAU];    /* sum of their squares */
    int64_t tau_count[KIN_NTAU];
    int64_t sm_jumps;                /* soft-matrix jumps (arrivals at level 8) */
} kin_counters;

typedef struct kinetics {
    /* per site: sweep index of its last completion and the level it reached
     * (KIN_NONE before the first one) */
    int64_t *last_sweep;
    int8_t *last_level;
    /* soft-matrix events of one colour pass, row by row: events[y * row_cap
     * + k] = (a << 1) | (sigma_a > 0); each row is written by one thread and
     * the rows are replayed in order afterwards, so z is thread-independent */
    int64_t *events;
    int32_t *nevents;
    int row_cap;
    /* footprint of a soft matrix (diamond of radius 8 without its tips):
     * offsets, wrapped into [0, L) and deduplicated on periodic lattices */
    int32_t *fp_dx, *fp_dy;
    int nfp;
    float n_z;
    kin_counters c;
} kinetics;

enum { KIN_NONE = -100 };

int kinetics_init(kinetics *k, const lattice *lat, const model_params *p, sm_error *err);
void kinetics_free(kinetics *k);

/* Replays the soft-matrix events recorded in the last colour pass (every
 * footprint site gets z += sigma_a n_z) and clears the buffers. */
void kinetics_apply_jumps(kinetics *k, const lattice *lat, model_state *s);

/* now - then, field by field. */
kin_counters kinetics_diff(const kin_counters *now, const kin_counters *then);

/* tau_i statistics from counters: mean interval and its standard error
 * (intervals treated as independent); NaN when there is no event. */
void kinetics_tau(const kin_counters *c, int i, double *mean, double *error);

#endif
