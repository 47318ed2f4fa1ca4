/* The transition file: every point a `transition` evaluated and the
 * crossings, under a prefix (/transition, or /transition/point_NNNN for a
 * point of a sweep block). Per lattice size L, in PREFIX/L<L>/:
 *   points/T [n]                      temperatures in evaluation order
 *   points/{n_sm,span,mean_level,tau_int} [n][seeds]   per seed
 *   points/{n_sm,span}_{mean,error} [n]   seed mean and its standard error
 *   T_g, T_m, T_p, ratio, n_z, viscosity_exponent, N_z_star: value, error
 *     (T_x also bracket [2], npoints, jackknife [seeds]; NaN when not found)
 *   seconds
 * and `constants --measured` reads the crossings back. */
#ifndef SM_TRANSITION_IO_H
#define SM_TRANSITION_IO_H

#include "analysis/transition.h"
#include "io/h5out.h"

int transition_write(h5out *h, const char *prefix, const tr_result *r, int nseeds, sm_error *err);

/* The crossings of one lattice size, as read back. */
typedef struct {
    int L;
    tr_value T[TR_NTARGETS], ratio, n_z, exponent, N_z_star;
} tr_measured;

/* Reads PREFIX/L<L> of a transition file (prefix "/transition"); returns the
 * number of sizes read (up to max), or -1 with err set. A file written from
 * a sweep block holds several points: then point selects one (0-based). */
int transition_read(const char *path, int point, tr_measured *out, int max, sm_error *err);

#endif
