/* The snapshots diagnostic: the fields of output.snapshot_fields every
 * run.snapshot_every schedule sweeps (measured or not), under /snapshots,
 * written by the dynamics from where it keeps the state when it can (the
 * blocks of a lattice split over MPI ranks: no gather). */
#include "diag/diag.h"
#include "dynamics/dynamics.h"

static int snap_init(diag *d, const diag_ctx *c, sm_error *err)
{
    (void)err;
    if (c->cfg->snapshot_every <= 0) return DIAG_DECLINED;
    d->every = c->cfg->snapshot_every;
    d->clock = DIAG_SCHEDULE;
    d->reads = sim_snapshot_in_place(c->sim) ? DIAG_READS_IN_PLACE : DIAG_READS_FIELDS;
    return DIAG_OK;
}

static int snap_measure(diag *d, const diag_ctx *c, const schedule_point *sp, sm_error *err)
{
    (void)d, (void)sp;
    const sm_config *cfg = c->cfg;
    return sim_snapshot(c->sim, c->h, cfg->snapshot_fields, cfg->compression, err);
}

static void snap_describe(FILE *md, const diag_ctx *const *ctx, int nctx)
{
    (void)ctx, (void)nctx;
    h5out_describe_snapshots(md);
}

const diag_ops DIAG_SNAPSHOTS = {
    .name = "snapshots",
    .init = snap_init,
    .describe = snap_describe,
    .measure = snap_measure,
};
