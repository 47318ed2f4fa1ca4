/* Progress of a long loop on stderr: done/total, rate, elapsed and ETA. */
#ifndef SM_PROGRESS_H
#define SM_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int enabled;
    double t0, last;   /* omp_get_wtime of the start and of the last line */
    int64_t total;     /* sweeps in the whole run */
    int64_t sites;     /* site-updates per sweep, for the rate */
    int64_t start;     /* sweeps done before this process (a resumed run) */
} progress;

/* "mm:ss" or "h:mm:ss"; "--:--" when s is not a finite non-negative time. */
void fmt_duration(char *buf, size_t n, double s);

/* Redraws the line at most twice a second; force draws it and ends it. */
void progress_show(progress *p, int64_t done, double T, int force);

#endif
