#include <math.h>
#include <string.h>
#include "diag/stats.h"

/* Wolff's S: the window ends where the estimated truncation bias
 * exp(-W / tau_W) falls below the statistical error tau_W / sqrt(W m) of the
 * sum; 1.5 is his recommended value. */
#define STATS_WOLFF_S 1.5

void stats_stream_reset(stats_stream *s)
{
    memset(s, 0, sizeof *s);
    s->bsize = 1;
}

void stats_stream_add(stats_stream *s, double x)
{
    if (s->n == 0) s->shift = x;
    const double d = x - s->shift;
    s->n++;
    s->sum += x;
    s->dsum += d;
    s->dsum2 += d * d;
    s->pend += d;
    if (++s->inblk < s->bsize) return;
    if (s->nblk == STATS_BLOCKS) {
        /* full: pairs of blocks become one block of twice the size, and the
         * block just completed is the first half of the next one */
        for (int64_t i = 0; i < STATS_BLOCKS / 2; i++)
            s->blk[i] = 0.5 * (s->blk[2 * i] + s->blk[2 * i + 1]);
        memset(s->blk + STATS_BLOCKS / 2, 0, sizeof s->blk / 2);
        s->nblk = STATS_BLOCKS / 2;
        s->bsize *= 2;
        return;
    }
    s->blk[s->nblk++] = s->pend / (double)s->bsize;
    s->pend = 0.0;
    s->inblk = 0;
}

/* Wolff's stopping rule at window w for a series of m values, applied to
 * tau = (Gamma(0) + 2 sum_{t<=w} |Gamma(t)|) / (2 Gamma(0)): the absolute
 * values keep an oscillating autocorrelation (the magnetisations) from
 * closing the window at its first negative lag. */
static int window_closes(double tau, int64_t w, int64_t m)
{
    if (!(tau > 0.5)) return 1;
    const double tw = STATS_WOLFF_S / log((2.0 * tau + 1.0) / (2.0 * tau - 1.0));
    return exp(-(double)w / tw) - tw / sqrt((double)w * (double)m) < 0.0;
}

double stats_gamma(const double *y, int64_t m, int64_t *window)
{
    if (window) *window = 0;
    if (m < 2) return NAN;
    double mean = 0.0;
    for (int64_t i = 0; i < m; i++) mean += y[i];
    mean /= (double)m;
    double g0 = 0.0;
    for (int64_t i = 0; i < m; i++) g0 += (y[i] - mean) * (y[i] - mean);
    g0 /= (double)m;
    if (!(g0 > 0.0)) return 0.0;
    double cf = g0, ca = g0;
    int64_t w = 0;
    while (w < m / 2) {
        w++;
        double g = 0.0;
        for (int64_t i = 0; i + w < m; i++) g += (y[i] - mean) * (y[i + w] - mean);
        g /= (double)(m - w);
        cf += 2.0 * g;
        ca += 2.0 * fabs(g);
        if (window_closes(ca / (2.0 * g0), w, m)) break;
    }
    if (window) *window = w;
    /* each autocovariance is low by about the variance of the mean, cf / m,
     * because it is taken about the sample mean */
    cf *= 1.0 + (2.0 * (double)w + 1.0) / (double)m;
    return cf > g0 / (double)m ? cf : g0 / (double)m;
}

static int is_reliable(int64_t n, double tau)
{
    return isfinite(tau) && (double)n >= STATS_RELIABLE_TAUS * (tau > 0.5 ? tau : 0.5);
}

stats_estimate stats_stream_estimate(const stats_stream *s)
{
    stats_estimate r = {NAN, NAN, NAN, s->n, 0};
    if (s->n == 0) return r;
    const double n = (double)s->n;
    r.mean = s->sum / n;
    if (s->n < 2) return r;
    const double dm = s->dsum / n;
    const double var = s->dsum2 / n - dm * dm;
    if (!(var > 0.0)) {
        r.error = 0.0;
        r.tau_int = 0.5;
    } else {
        /* cf / nblk is the variance of the mean of the complete blocks; the
         * samples of the block being filled scale it by nblk bsize / n */
        const double cf = stats_gamma(s->blk, s->nblk, NULL);
        r.error = sqrt(cf * (double)s->bsize / n);
        r.tau_int = cf * (double)s->bsize / (2.0 * var);
    }
    r.reliable = is_reliable(s->n, r.tau_int);
    return r;
}

stats_estimate stats_jackknife(const stats_stream *const *s, int nvar, stats_fn f, void *ctx)
{
    stats_estimate r = {NAN, NAN, NAN, nvar > 0 ? s[0]->n : 0, 0};
    if (nvar < 1 || nvar > STATS_MAXVAR || s[0]->n == 0) return r;
    const int64_t m = s[0]->nblk;
    double all[STATS_MAXVAR], tot[STATS_MAXVAR] = {0}, part[STATS_MAXVAR];
    for (int v = 0; v < nvar; v++)
        if (s[v]->n != r.n || s[v]->nblk != m) return r; /* not fed in lockstep */
    r.reliable = 1;
    for (int v = 0; v < nvar; v++) {
        all[v] = s[v]->dsum / (double)r.n;
        for (int64_t j = 0; j < m; j++) tot[v] += s[v]->blk[j];
        r.reliable &= stats_stream_estimate(s[v]).reliable;
    }
    r.mean = f(all, ctx);
    if (m < 2) return r;
    for (int v = 0; v < nvar; v++) part[v] = tot[v] / (double)m;
    const double fm = f(part, ctx);
    double pseudo[STATS_BLOCKS];
    for (int64_t j = 0; j < m; j++) {
        for (int v = 0; v < nvar; v++) part[v] = (tot[v] - s[v]->blk[j]) / (double)(m - 1);
        pseudo[j] = (double)m * fm - (double)(m - 1) * f(part, ctx);
    }
    r.error = sqrt(stats_gamma(pseudo, m, NULL) * (double)s[0]->bsize / (double)r.n);
    return r;
}
