/* The model of docs/model.md sections 2-4: per-site state, parameters, the
 * Hamiltonian H and the weight W = prod g^(l+1) exp(-H/T).
 *
 * H is kept as four integer sums so that incremental bookkeeping is exact and
 * independent of the order in which threads add their contributions:
 *   H = eps_C * sum_C + eps_step * n_steps + J * sum_J - (h/16) * sum_h
 * with sum_C = sum_a C(l_a), n_steps = sum_<ab> |l_a - l_b| (IE arrows),
 * sum_J = sum_<ab> n_a n_b s_a s_b, sum_h = sum_a n_a s_a. */
#ifndef SM_MODEL_H
#define SM_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include "core/lattice.h"
#include "core/error.h"

enum { LEVEL_MIN = -1, LEVEL_MAX = 8, NLEVELS = 10, NPHASE = 64 };

/* HSMs in one soft matrix (a V8 cluster): n_SM = 200 f_8. */
enum { MODEL_SOFT_MATRIX_HSMS = 200 };

/* Table 1 "C-bosons in V_i cluster": C(l) for l = -1..8 at MODEL_CBOSONS[l + 1].
 * The one definition is MODEL_CBOSONS_PAD, which adds a zero on each side so
 * that kernels can read C(l2) for the out-of-range proposals l2 = -2 and 9
 * (never accepted) without a branch. */
extern const int MODEL_CBOSONS_PAD[NLEVELS + 2];
#define MODEL_CBOSONS (MODEL_CBOSONS_PAD + 1)

typedef struct {
    double eps_C;     /* C-boson energy (default 1/8) */
    double g;         /* closed-loop degeneracy (default 4) */
    double eps_step;  /* contour tension per IE arrow (default 0) */
    double J;         /* MIEV coupling between adjacent HSCLs (default 1/8) */
    double h;         /* external z-field on the +-1/16 potentials (default 0) */
    bool freeze_levels;
    /* cage dynamics (docs/model.md section 6) */
    double trap_barrier;  /* E_trap, default 1 */
    double async_barrier; /* E_async, default 1/8 */
    /* soft-matrix jumps (docs/model.md section 10): n_z = N_c^(-Tg/Tm) */
    double N_c;           /* default 200 */
    double Tg_over_Tm;    /* default 5/8 */
} model_params;

void model_params_default(model_params *p);

/* Per-site fields. level and sigma are all the level dynamics needs (2
 * bytes a site); phase and the soft-matrix jump counts belong to the PCP
 * picture and are allocated only for a kind that moves them
 * (dynamics_ops.pcp_fields). Without them every PCP stands at phase 0 with z
 * = 0, and that is what snapshots write. */
typedef struct {
    int64_t N;
    int8_t *level;   /* -1..8 */
    int8_t *sigma;   /* +1 / -1 */
    uint8_t *phase;  /* 0..63, or NULL: all 0 */
    /* net soft-matrix jumps that moved the site (+1 for sigma_a = +1, -1
     * otherwise): z = count * n_z, rounded once when read, so z does not
     * drift with float round-off however many jumps there are. Kept as
     * int16 (zjumps) until a count leaves [-32768, 32767], then as int32
     * (zjumps_wide), converted in place once (model_state_widen_z); the
     * int32 count saturates rather than wraps. A site's count moves by at
     * most 141 (its footprint) every two sweeps, so the int16 lasts at
     * least 464 sweeps and in practice the whole run unless a field drives
     * z one way. Both NULL: all 0. Read it with model_zjumps. */
    int16_t *zjumps;
    int32_t *zjumps_wide;
    double n_z;      /* z of one jump, N_c^(-Tg/Tm) */
} model_state;

/* level and sigma (zeroed); phase and zjumps NULL. */
int model_state_init(model_state *s, int64_t N, sm_error *err);
/* Adds phase and zjumps (zeroed, int16) to a state from model_state_init. */
int model_state_init_pcp(model_state *s, const model_params *p, sm_error *err);
/* z of one soft-matrix jump, N_c^(-Tg/Tm). */
double model_n_z(const model_params *p);
/* Bytes a site of the fields allocated above: 2, or 5 with pcp (the int16
 * counts; 2 more once they are widened). */
int model_state_bytes_per_site(int pcp);
/* Replaces the int16 counts by int32 ones of the same values (zjumps NULL,
 * zjumps_wide set); the array grows in place where the allocator can.
 * Returns 0, or -1 when out of memory (the int16 counts are kept). */
int model_state_widen_z(model_state *s);
/* Whether the state keeps jump counts (else every z is 0). */
static inline int model_has_z(const model_state *s) { return s->zjumps || s->zjumps_wide; }
/* The net soft-matrix jump count of site a. */
static inline int32_t model_zjumps(const model_state *s, int64_t a)
{
    return s->zjumps ? s->zjumps[a] : s->zjumps_wide ? s->zjumps_wide[a] : 0;
}
/* The z displacement of site a. */
static inline float model_z(const model_state *s, int64_t a)
{
    return (float)(model_zjumps(s, a) * s->n_z);
}
void model_state_free(model_state *s);

typedef struct {
    int64_t sum_C, n_steps, sum_J, sum_h;
} energy_terms;

/* Full O(N) recomputation of the four sums from the configuration. */
void energy_terms_compute(const lattice *lat, const model_state *s, energy_terms *e);
/* Adds to *e the terms of an nx x ny block of lat whose site (0, 0) is
 * (gx0, gy0) and is at level[0], sigma[0], rows stride apart, with the row
 * above and the column to its right readable (a halo): the blocks of a
 * split lattice sum to the terms of the whole. */
void energy_terms_block(const lattice *lat, const int8_t *level, const int8_t *sigma, int64_t stride,
                        int gx0, int gy0, int nx, int ny, energy_terms *e);
static inline void energy_terms_add(energy_terms *a, const energy_terms *b)
{
    a->sum_C += b->sum_C; a->n_steps += b->n_steps; a->sum_J += b->sum_J; a->sum_h += b->sum_h;
}

/* Energy parts (units of eps0) from the sums. */
typedef struct { double total, C, step, J, h; } energy_parts;
energy_parts energy_from_terms(const model_params *p, const energy_terms *e);

/* Number of bonds that violate the RSOS constraint |l_a - l_b| <= 1. */
int64_t model_rsos_violations(const lattice *lat, const model_state *s);

/* Weight ratio W'/W for changing l -> l2 at a site whose neighbourhood gives
 * n_same neighbours with level l, n_up neighbours with level l2 (l2 = l +- 1,
 * RSOS already checked), and S = sum_b n_b s_b of its neighbours:
 *   g^(l2-l) exp(-dH/T). */
double model_level_ratio(const model_params *p, double T, int l, int l2, int s,
                         int n_same, int n_up, int S);
/* The ratios of every level move, as the kernels' tables index them:
 * r[l + 1][up][k][sp][j] for l -> l + 1 (up = 1) or l - 1 (up = 0) at a site
 * with n_same - n_up = k - 4, sigma = +1 when sp and neighbour sum
 * S = j - 4; 0 where the new level is out of range (never accepted). */
void model_level_ratios(const model_params *p, double T, double r[NLEVELS][2][9][2][9]);
/* Weight ratio for flipping s -> -s at an HSCL (n = 1) with neighbour sum S. */
double model_sigma_ratio(const model_params *p, double T, int s, int S);

/* Metropolis acceptance min(1, ratio) as an integer threshold: a uniform
 * 32-bit r is accepted iff r < threshold (threshold = 2^32 accepts always). */
uint64_t model_threshold(double ratio);

#endif
