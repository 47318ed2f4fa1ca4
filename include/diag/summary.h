/* Per-segment summary of a run: mean, error and autocorrelation time of every
 * summarised observable column, plus fluctuation quantities (specific heat,
 * susceptibilities) with jackknife errors. */
#ifndef SM_SUMMARY_H
#define SM_SUMMARY_H

#include <stdint.h>
#include <stdio.h>
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
    double *mean, *error, *tau;  /* [nseg * width] */
} summary_item;

typedef struct {
    int nseg;
    int nitems;
    summary_item item[SUMMARY_MAX_ITEMS];
    int64_t *samples;            /* [nseg] */
} run_summary;

/* rows: nrows x L->total, row_segment[i] the schedule segment of row i
 * (non-decreasing). N is the number of sites. */
int summary_compute(run_summary *S, const obs_layout *L, const double *rows,
                    const int *row_segment, int64_t nrows, const sm_config *cfg, int64_t N);
const summary_item *summary_find(const run_summary *S, const char *name);
void summary_free(run_summary *S);

/* The human-readable summary: one table row per segment. */
void summary_print(FILE *out, const run_summary *S, const sm_config *cfg);

#endif
