/* The integrated autocorrelation time of a series with Sokal's automatic
 * window (the sum of the normalised autocorrelation function up to the
 * first lag W >= c tau, c = 6): the estimate behind error bars of short
 * correlated series, where binning that stops at a fixed number of blocks
 * falls short. */
#ifndef SM_AUTOCORR_H
#define SM_AUTOCORR_H

#include <stdint.h>

/* tau_int of x[0..n-1] in samples; 0.5 for uncorrelated data, NaN for
 * n < 4. O(n W). */
double autocorr_tau_int(const double *x, int64_t n);

/* The standard error of the mean of x[0..n-1] from tau_int:
 * sqrt(2 tau_int var / n); NaN for n < 4. */
double autocorr_error(const double *x, int64_t n, double *tau_int);

#endif
