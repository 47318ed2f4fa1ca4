/* Error analysis of correlated Monte Carlo time series: binning (blocking)
 * for means, and a blocked jackknife for non-linear functions of means such
 * as the specific heat. */
#ifndef SM_STATS_H
#define SM_STATS_H

#include <stddef.h>

typedef struct {
    double mean;
    double error;   /* standard error of the mean, NaN with fewer than 2 samples */
    double tau_int; /* integrated autocorrelation time in samples, 0.5 (err/err_naive)^2 */
    size_t n;
} stats_estimate;

/* x[i * stride], i = 0..n-1. The error is the largest binned error over bin
 * sizes 1, 2, 4, ... that leave at least 32 bins: conservative at the plateau. */
stats_estimate stats_binning(const double *x, size_t n, size_t stride);

/* f maps nvar means (one per series) to a value. The series are
 * x[v][i * stride]. Jackknife over min(n, 64) contiguous blocks. */
typedef double (*stats_fn)(const double *means, void *ctx);
stats_estimate stats_jackknife(const double *const *x, int nvar, size_t n, size_t stride,
                               stats_fn f, void *ctx);

#endif
