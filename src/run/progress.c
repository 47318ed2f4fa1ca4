/* Progress lines. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "run/progress.h"

int progress_parse(const char *s, progress_mode *m)
{
    static const char *const NAMES[] = {"auto", "always", "never"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, NAMES[i]) == 0) {
            *m = (progress_mode)i;
            return 0;
        }
    return 1;
}

int progress_wanted(progress_mode m, int quiet)
{
    return m == PROGRESS_ALWAYS || (m == PROGRESS_AUTO && !quiet);
}

void progress_init(progress *p, progress_mode m, int quiet, double t0, int64_t total,
                   int64_t sites, int64_t start)
{
    *p = (progress){progress_wanted(m, quiet), !isatty(2), PROGRESS_LINE_SECONDS, t0, t0, total, sites,
                    start};
    /* a log that wants lines more or less often */
    const char *env = getenv("SOFTMATRIX_PROGRESS_SECONDS");
    char *end;
    const double every = env ? strtod(env, &end) : 0.0;
    if (env && end != env && !*end && every > 0 && every < 1e9) p->every = every;
}

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
    if (!force && now - p->last < (p->lines ? p->every : 0.5)) return;
    p->last = now;
    const double el = now - p->t0;
    const double here = (double)(done - p->start);
    const double rate = el > 0 ? here / el : 0.0;
    char eta[32], elapsed[32];
    fmt_duration(eta, sizeof eta, here > 0 ? el * (double)(p->total - done) / here : NAN);
    fmt_duration(elapsed, sizeof elapsed, el);
    fprintf(stderr, "%s  sweep %lld/%lld (%5.1f%%)  T=%-8.4g %9.3g sweeps/s %9.3g site-updates/s  elapsed %s  ETA %s%s",
            p->lines ? "" : "\r", (long long)done, (long long)p->total,
            100.0 * (double)done / (double)p->total, T, rate, rate * (double)p->sites, elapsed, eta,
            p->lines ? "\n" : " ");
    if (force && !p->lines) fprintf(stderr, "\n");
    if (p->lines) fflush(stderr);
}
