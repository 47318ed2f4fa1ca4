#include <math.h>
#include <stdlib.h>
#include "diag/stats.h"

stats_estimate stats_binning(const double *x, size_t n, size_t stride)
{
    stats_estimate r = {NAN, NAN, NAN, n};
    if (n == 0) return r;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += x[i * stride];
    r.mean = sum / (double)n;
    if (n < 2) return r;

    double err0 = NAN, best = 0.0;
    for (size_t bs = 1; n / bs >= 32 || bs == 1; bs *= 2) {
        const size_t nb = n / bs;
        if (nb < 2) break;
        double s = 0.0, s2 = 0.0;
        for (size_t b = 0; b < nb; b++) {
            double m = 0.0;
            for (size_t i = b * bs; i < (b + 1) * bs; i++) m += x[i * stride];
            m /= (double)bs;
            s += m;
            s2 += m * m;
        }
        const double mb = s / (double)nb;
        double var = (s2 / (double)nb - mb * mb);
        if (var < 0.0) var = 0.0;
        const double err = sqrt(var / (double)(nb - 1));
        if (bs == 1) err0 = err;
        if (err > best) best = err;
    }
    r.error = best;
    r.tau_int = err0 > 0.0 ? 0.5 * (best / err0) * (best / err0) : 0.5;
    return r;
}

stats_estimate stats_jackknife(const double *const *x, int nvar, size_t n, size_t stride,
                               stats_fn f, void *ctx)
{
    stats_estimate r = {NAN, NAN, NAN, n};
    enum { MAXVAR = 8 };
    if (n == 0 || nvar > MAXVAR) return r;
    double tot[MAXVAR] = {0}, means[MAXVAR];
    for (int v = 0; v < nvar; v++) {
        for (size_t i = 0; i < n; i++) tot[v] += x[v][i * stride];
        means[v] = tot[v] / (double)n;
    }
    r.mean = f(means, ctx);
    const size_t nb = n < 64 ? n : 64;
    if (nb < 2) return r;
    const size_t bs = n / nb;  /* the tail n - nb*bs samples stay in every jackknife set */
    double s = 0.0, s2 = 0.0;
    for (size_t b = 0; b < nb; b++) {
        double part[MAXVAR];
        for (int v = 0; v < nvar; v++) {
            double blk = 0.0;
            for (size_t i = b * bs; i < (b + 1) * bs; i++) blk += x[v][i * stride];
            part[v] = (tot[v] - blk) / (double)(n - bs);
        }
        const double fj = f(part, ctx);
        s += fj;
        s2 += fj * fj;
    }
    const double mj = s / (double)nb;
    double var = s2 / (double)nb - mj * mj;
    if (var < 0.0) var = 0.0;
    r.error = sqrt((double)(nb - 1) * var);
    r.tau_int = NAN;
    return r;
}
