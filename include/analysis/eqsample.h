/* Equilibrium sampling with the level dynamics for the analysis commands:
 * one simulation per seed, moved from temperature to temperature. At each
 * temperature it equilibrates, then measures n_SM = 200 f_8, the mean level
 * and, on request, whether the level-8 sites span the lattice (census
 * components, docs/census.md).
 *
 * A sampler keeps its state between temperatures, so that a point close to
 * the last one starts close to equilibrium; the trajectory is a function of
 * the seed and the sequence of temperatures only (not of threads). */
#ifndef SM_EQSAMPLE_H
#define SM_EQSAMPLE_H

#include <stdint.h>
#include "diag/census.h"
#include "dynamics/dynamics.h"

typedef struct {
    int64_t equilibration;  /* sweeps at a new temperature before measuring */
    int64_t first;          /* extra sweeps before a sampler's first point */
    int64_t sweeps;         /* measured sweeps per point */
    int64_t every;          /* sweeps between n_SM samples */
    int64_t span_every;     /* sweeps between spanning checks, 0: none */
} eq_schedule;

typedef struct {
    double n_sm;       /* mean of n_SM = 200 f_8 */
    double span;       /* fraction of checks with a level-8 cluster spanning x, plus
                          the same for y, over 2: the spanning probability in one
                          direction, NaN without checks */
    double mean_level;
    double tau_int;    /* integrated autocorrelation time of n_SM, sweeps */
} eq_sample;

typedef struct {
    sim_state sim;
    census_comp_work comp;
    int has_comp;
    int started;
    double *series;    /* n_SM samples of one point */
    int64_t cap;
} eq_sampler;

/* A level-dynamics simulation of cfg (whatever its dynamics.kind) on an
 * L x L lattice with the given seed. span: set up the spanning checks. */
int eq_sampler_init(eq_sampler *s, const sm_config *cfg, int L, int64_t seed, int span,
                    const eq_schedule *sch, sm_error *err);
void eq_sampler_free(eq_sampler *s);
/* Equilibrates at T and measures (allocates nothing). */
void eq_sampler_point(eq_sampler *s, double T, const eq_schedule *sch, eq_sample *out);

#endif
