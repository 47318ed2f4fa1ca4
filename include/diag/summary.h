/* Per-segment summary of a run, accumulated as the measurements stream in:
 * mean, error, autocorrelation time and reliability of every summarised
 * observable column, plus fluctuation quantities (specific heat,
 * susceptibilities) with jackknife errors. Only the open segment holds
 * accumulators (stats_stream, bounded), so memory and checkpoints do not
 * grow with the number of measurements. */
#ifndef SM_SUMMARY_H
#define SM_SUMMARY_H

#include <stdint.h>
#include <stdio.h>
#include "diag/stats.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "io/layout.h"

/* Quantities derived from the fluctuations of the observables, after the
 * observables' own items; created in this order. */
enum { SUMMARY_CV, SUMMARY_ABS_MS, SUMMARY_MS_SQ, SUMMARY_CHI_S, SUMMARY_CHI, SUMMARY_NDERIVED };
typedef struct { const char *name, *desc, *unit; } summary_derived;   /* unit: core/units.h */
extern const summary_derived SUMMARY_DERIVED[SUMMARY_NDERIVED];

enum { SUMMARY_MAX_ITEMS = OBS_MAX_FIELDS + SUMMARY_NDERIVED };

typedef struct {
    const char *name;
    const char *desc;
    int width;
    const char *const *columns;  /* may be NULL */
    double *mean, *error, *tau;  /* [nseg * width]; NaN for a segment without data */
    int8_t *reliable;            /* [nseg * width]: series of >= STATS_RELIABLE_TAUS tau_int */
} summary_item;

typedef struct {
    int nseg;
    int nitems;
    summary_item item[SUMMARY_MAX_ITEMS];
    int64_t *samples;            /* [nseg] */
    /* the accumulation: the layout and configuration it was set up with,
     * the open segment (-1: none) and its streams */
    const obs_layout *L;
    const sm_config *cfg;
    double N;                    /* sites */
    int open;
    int ncol;                    /* summarised columns; their row offsets in col[] */
    int *col;
    int nstream;                 /* ncol columns, then the extra series of summary.c */
    stats_stream *acc;
    int energy, magnetization, temperature; /* their streams; -1: not measured */
    int ms_col;                  /* row offset of staggered_magnetization; -1: not measured */
} run_summary;

/* Sets S up for the layout L (kept by pointer) and the schedule of cfg; N is
 * the number of sites. Returns nonzero when out of memory. */
int summary_init(run_summary *S, const obs_layout *L, const sm_config *cfg, int64_t N);
/* One measurement row of schedule segment `segment` (non-decreasing from
 * call to call); a new segment closes the open one. */
void summary_add(run_summary *S, int segment, const double *row);
/* Closes the open segment: its results from its accumulators. */
void summary_close(run_summary *S);
const summary_item *summary_find(const run_summary *S, const char *name);
void summary_free(run_summary *S);

/* Checkpoint records "<prefix>.*": the results of the closed segments and
 * the accumulators of the open one; their sizes depend on the layout and
 * the schedule only. */
void summary_save(const run_summary *S, ckpt_writer *w, const char *prefix);
int summary_restore(run_summary *S, const ckpt_reader *r, const char *prefix, sm_error *err);

/* The human-readable summary: one table row per segment, then a warning for
 * each segment with unreliable errors. */
void summary_print(FILE *out, const run_summary *S, const sm_config *cfg);

#endif
