/* Integrated autocorrelation time with an automatic window (autocorr.h). */
#include <math.h>
#include "diag/autocorr.h"

static double mean_of(const double *x, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) m += x[i];
    return m / (double)n;
}

double autocorr_tau_int(const double *x, int64_t n)
{
    if (n < 4) return NAN;
    const double m = mean_of(x, n);
    double c0 = 0.0;
    for (int64_t i = 0; i < n; i++) c0 += (x[i] - m) * (x[i] - m);
    if (c0 <= 0) return 0.5;
    double tau = 0.5;
    for (int64_t t = 1; t < n / 2; t++) {
        double c = 0.0;
        for (int64_t i = 0; i + t < n; i++) c += (x[i] - m) * (x[i + t] - m);
        tau += c / c0 * (double)n / (double)(n - t);
        if ((double)t >= 6.0 * tau) break;
    }
    return tau > 0.5 ? tau : 0.5;
}

double autocorr_error(const double *x, int64_t n, double *tau_int)
{
    const double tau = autocorr_tau_int(x, n);
    if (tau_int) *tau_int = tau;
    if (!(n >= 4)) return NAN;
    const double m = mean_of(x, n);
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    return sqrt(2.0 * tau * ss / (double)(n - 1) / (double)n);
}
