/* Progress lines. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include "run/progress.h"

void fmt_duration(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0) { snprintf(buf, n, "--:--"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

void progress_show(progress *p, int64_t done, double T, int force)
{
    if (!p->enabled) return;
    const double now = omp_get_wtime();
    if (!force && now - p->last < 0.5) return;
    p->last = now;
    const double el = now - p->t0;
    const double here = (double)(done - p->start);
    const double rate = el > 0 ? here * (double)p->sites / el : 0.0;
    char eta[32], elapsed[32];
    fmt_duration(eta, sizeof eta, here > 0 ? el * (double)(p->total - done) / here : NAN);
    fmt_duration(elapsed, sizeof elapsed, el);
    fprintf(stderr, "\r  sweep %lld/%lld (%5.1f%%)  T=%-8.4g %9.3g site-updates/s  elapsed %s  ETA %s ",
            (long long)done, (long long)p->total, 100.0 * (double)done / (double)p->total, T, rate,
            elapsed, eta);
    if (force) fprintf(stderr, "\n");
}
