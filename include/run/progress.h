/* Progress of a long loop on stderr: done/total, rate, elapsed and ETA. On
 * a terminal one line redrawn in place; elsewhere (a batch job's log, a
 * pipe) a full line every PROGRESS_LINE_SECONDS (SOFTMATRIX_PROGRESS_SECONDS
 * when set), so that a log shows how far a run got while it runs. */
#ifndef SM_PROGRESS_H
#define SM_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* --progress: auto shows it unless --quiet, always even then, never not. */
typedef enum { PROGRESS_AUTO = 0, PROGRESS_ALWAYS, PROGRESS_NEVER } progress_mode;
enum { PROGRESS_LINE_SECONDS = 10 };

typedef struct {
    int enabled;
    int lines;         /* 1: full lines (not a terminal), 0: redraw in place */
    double every;      /* seconds between full lines: PROGRESS_LINE_SECONDS, or
                        * SOFTMATRIX_PROGRESS_SECONDS from the environment */
    double t0, last;   /* omp_get_wtime of the start and of the last line */
    int64_t total;     /* sweeps in the whole run */
    int64_t sites;     /* site-updates per sweep, for the rate */
    int64_t start;     /* sweeps done before this process (a resumed run) */
} progress;

/* "auto", "always", "never"; non-zero for anything else. */
int progress_parse(const char *s, progress_mode *m);
/* Whether progress is shown in this mode, given --quiet. */
int progress_wanted(progress_mode m, int quiet);

/* Starts p at time t0 for a run of total sweeps of which start are done;
 * lines or redraws as stderr is a terminal or not. */
void progress_init(progress *p, progress_mode m, int quiet, double t0, int64_t total,
                   int64_t sites, int64_t start);

/* "mm:ss" or "h:mm:ss"; "--:--" when s is not a finite non-negative time. */
void fmt_duration(char *buf, size_t n, double s);

/* Redraws the line at most twice a second (a full line every
 * PROGRESS_LINE_SECONDS off a terminal); force draws it and ends it. */
void progress_show(progress *p, int64_t done, double T, int force);

#endif
