/* Diagnostics: everything a run measures or writes besides the sweep
 * itself. Each is one file that fills one ops table and one line of the
 * registry (registry.c); the run loop calls them through a diag_set and
 * names none of them (LAMMPS computes and fixes, SPPARKS diags).
 *
 * A diagnostic is due after a sweep when its interval divides the sweep's
 * index: among the segment's measured sweeps (DIAG_MEASURED), or among all
 * schedule sweeps (DIAG_SCHEDULE). Hooks it does not need are NULL. */
#ifndef SM_DIAG_H
#define SM_DIAG_H

#include <stdint.h>
#include <stdio.h>
#include "core/state.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "io/h5out.h"

/* What a diagnostic sees: the run's configuration, its state (read only),
 * the output file and where to print its report (NULL when quiet). */
typedef struct {
    const sm_config *cfg;
    const sim_state *sim;
    h5out *h;
    FILE *report;
} diag_ctx;

typedef enum { DIAG_MEASURED = 0, DIAG_SCHEDULE = 1 } diag_clock;

/* What a due diagnostic reads of the state (in measure, and in its
 * segment_begin and segment_end): the per-site fields (the default), or
 * only the energy sums, the move and kinetic counters, sim_field_counts,
 * the dynamics' cage_counts and sim_census, which a lattice split over MPI
 * ranks gives without gathering its blocks, or nothing the run must bring
 * up to date: it goes through the dynamics to the state where it is
 * (sim_snapshot). */
typedef enum { DIAG_READS_FIELDS = 0, DIAG_READS_SUMS = 1, DIAG_READS_IN_PLACE = 2 } diag_reads;

typedef struct diag {
    const struct diag_ops *ops;
    void *data;         /* the diagnostic's own state */
    int64_t every;      /* interval in sweeps of its clock; 0: never due */
    diag_clock clock;
    diag_reads reads;   /* set by init */
} diag;

/* init returns DIAG_DECLINED when the diagnostic has nothing to do in this
 * run (its interval is 0, or the dynamics lacks what it needs). */
enum { DIAG_OK = 0, DIAG_FAILED = 1, DIAG_DECLINED = 2 };

typedef struct diag_ops {
    const char *name;
    /* Sets every, clock and data, or declines. */
    int (*init)(diag *d, const diag_ctx *c, sm_error *err);
    /* Rows of docs/output.md for what it writes ("| path | type and shape |
     * meaning |"); ctx holds one 4x4 state of each dynamics kind. */
    void (*describe)(FILE *md, const diag_ctx *const *ctx, int nctx);
    /* The measured sweeps begin (after the run's equilibration). */
    void (*begin)(diag *d, const diag_ctx *c);
    /* Before the first and after the last measured sweep of a segment. */
    void (*segment_begin)(diag *d, const diag_ctx *c, int segment);
    void (*segment_end)(diag *d, const diag_ctx *c, int segment);
    /* After a sweep at which the diagnostic is due. */
    int (*measure)(diag *d, const diag_ctx *c, const schedule_point *sp, sm_error *err);
    /* Pending data to the file (before a flush or a checkpoint). */
    int (*flush)(diag *d, const diag_ctx *c, sm_error *err);
    /* After the last sweep: final results to the file and the report. */
    int (*finish)(diag *d, const diag_ctx *c, sm_error *err);
    /* Its state in a checkpoint (records named "<name>.*"). */
    void (*save)(const diag *d, ckpt_writer *w);
    int (*restore)(diag *d, const ckpt_reader *r, sm_error *err);
    void (*free)(diag *d);
} diag_ops;

/* The registry, NULL-terminated, in the order they run and report. */
extern const diag_ops *const DIAG_REGISTRY[];

enum { DIAG_MAX = 32 };

/* The diagnostics of one run: those of a registry that did not decline. */
typedef struct {
    int n;
    diag d[DIAG_MAX];
} diag_set;

int diag_set_init(diag_set *set, const diag_ops *const *registry, const diag_ctx *c, sm_error *err);
void diag_set_free(diag_set *set);
void diag_set_begin(diag_set *set, const diag_ctx *c);
/* Called before sweep k of the schedule (segment hooks). */
void diag_set_before(diag_set *set, const diag_ctx *c, const schedule_point *sp);
/* What diag_set_before or diag_set_after at schedule point sp (sweep k)
 * will read: DIAG_NEEDS_NOTHING when it calls no diagnostic, else the most
 * any of them reads (DIAG_NEEDS_IN_PLACE: nothing brought up to date), so that the run brings that much of the state up to
 * date first (sim_sync_sums, sim_sync) and no more. */
enum { DIAG_NEEDS_NOTHING = 0, DIAG_NEEDS_IN_PLACE = 1, DIAG_NEEDS_SUMS = 2, DIAG_NEEDS_FIELDS = 3 };
int diag_set_needs_before(const diag_set *set, const schedule_point *sp);
int diag_set_needs_after(const diag_set *set, const diag_ctx *c, const schedule_point *sp, int64_t k);
/* Called after sweep k: segment hooks, then every diagnostic that is due. */
int diag_set_after(diag_set *set, const diag_ctx *c, const schedule_point *sp, int64_t k,
                   sm_error *err);
int diag_set_flush(diag_set *set, const diag_ctx *c, sm_error *err);
int diag_set_finish(diag_set *set, const diag_ctx *c, sm_error *err);
void diag_set_save(const diag_set *set, ckpt_writer *w);
int diag_set_restore(diag_set *set, const ckpt_reader *r, sm_error *err);

#endif
