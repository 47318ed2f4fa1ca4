/* The collective ordering temperatures of docs/model.md section 14 measured
 * at equilibrium (level dynamics), per lattice size:
 *   T_g: n_SM = 1, T_m: n_SM = 5, T_p: level-8 spanning probability 1/2,
 * each located by bracketing and refinement in T (analysis/crossing.h) on
 * the average over independent seeds, with jackknife errors over the seeds;
 * T_g/T_m and what the paper derives from it (n_z, the viscosity exponent,
 * N_z*) with propagated errors. The seeds run in parallel, one per thread. */
#ifndef SM_TRANSITION_H
#define SM_TRANSITION_H

#include <stdio.h>
#include "analysis/crossing.h"
#include "analysis/eqsample.h"
#include "io/config.h"

enum { TR_MAX_SIZES = 16, TR_TG = 0, TR_TM = 1, TR_TP = 2, TR_NTARGETS = 3 };

typedef struct {
    int nseeds;
    int nsizes, sizes[TR_MAX_SIZES];
    eq_schedule sch;
    double tol;           /* bracket width at which refinement stops */
    int max_evals;        /* temperatures per target */
    int threads;          /* 0: all */
    int with_tp;          /* locate T_p too (spanning checks cost a census) */
    int grid;             /* extra evenly spaced points over the crossings, for plots */
    FILE *log;            /* one line per point, or NULL */
} tr_options;

typedef struct {
    double value, error;
} tr_value;

/* One lattice size: the crossings, the ratio and the derived numbers, and
 * every point evaluated (in evaluation order). */
typedef struct {
    int L;
    int searched[TR_NTARGETS];   /* 0: not asked for (T_p with --no-tp) */
    int found[TR_NTARGETS];
    xr_estimate est[TR_NTARGETS];
    double *jk[TR_NTARGETS];   /* [nseeds] leave-one-seed-out crossings */
    tr_value ratio, n_z, exponent, N_z_star;
    xr_points pts;
    double seconds;
} tr_size;

typedef struct {
    int nsizes;
    tr_size size[TR_MAX_SIZES];
} tr_result;

extern const xr_target TR_TARGETS[TR_NTARGETS];

/* The paper's reference numbers beside which the derived ones are printed:
 * T_g/T_m = 5/8 and N_c = 200, so n_z = 200^(-5/8), 9(1 - 5/8), 200^(3/8). */
enum { TR_N_C = 200 };
#define TR_PAPER_RATIO 0.625

/* The search's first temperature: the local T_g° of docs/model.md section
 * 14 when it is positive and finite, else 1. */
double tr_first_guess(const model_params *p);

int transition_run(const sm_config *cfg, const tr_options *o, tr_result *r, sm_error *err);
void transition_free(tr_result *r);

/* n_z, 9(1 - r), N_c^(1 - r) and their errors from r = T_g/T_m. */
void tr_derived(tr_value ratio, tr_value *n_z, tr_value *exponent, tr_value *N_z_star);

#endif
