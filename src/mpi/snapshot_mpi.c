/* Collective snapshots of the blocks (mpi/snapshot_mpi.h). */
#include <stdlib.h>
#include <string.h>
#include "io/h5out_mpio.h"
#include "mpi/snapshot_mpi.h"

/* The block's owned level and sigma without their halo, as a state of
 * nx * ny sites that snapshot frames are built from (phase and z absent:
 * all 0, as in the level dynamics' global state). */
static int block_state(const decomp *d, h5out_block *b)
{
    const level_block *lb = &d->b;
    memset(b, 0, sizeof *b);
    b->x0 = lb->gx0;
    b->y0 = lb->gy0;
    b->nx = lb->nx;
    b->ny = lb->ny;
    b->st.N = (int64_t)lb->nx * lb->ny;
    b->st.level = malloc((size_t)b->st.N);
    b->st.sigma = malloc((size_t)b->st.N);
    if (!b->st.level || !b->st.sigma) return 1;
    for (int y = 0; y < lb->ny; y++) {
        memcpy(b->st.level + (int64_t)y * lb->nx, lb->level + (int64_t)y * lb->stride, (size_t)lb->nx);
        memcpy(b->st.sigma + (int64_t)y * lb->nx, lb->sigma + (int64_t)y * lb->stride, (size_t)lb->nx);
    }
    return 0;
}

/* Every rank: its block of the plan's frames. */
static int write_blocks(const decomp *d, MPI_Comm comm, const h5out_snap_plan *pl,
                        uint64_t sums[SNAP_NFIELDS], sm_error *err)
{
    h5out_block b;
    const int bad = block_state(d, &b);
    int any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm);
    int rc = any ? sm_fail(err, "%s: out of memory for the snapshot blocks", pl->partial)
                 : h5out_snapshot_blocks(pl, comm, &b, sums, err);
    free(b.st.level);
    free(b.st.sigma);
    return rc;
}

int snapshot_mpi_write(const decomp *d, MPI_Comm comm, h5out *h, unsigned fields, int compression,
                       int64_t step, sm_error *err)
{
    h5out_snap_plan pl;
    const int begun = h5out_snapshot_begin(h, fields, d->Lx, d->Ly, compression, step, &pl, err) == 0;
    MPI_Bcast(&pl, (int)sizeof pl, MPI_BYTE, 0, comm);
    if (!begun) return 1;
    uint64_t sums[SNAP_NFIELDS];
    const int rc = write_blocks(d, comm, &pl, sums, err);
    return h5out_snapshot_end(h, &pl, rc ? NULL : sums, rc ? NULL : err) || rc;
}

void snapshot_mpi_serve(const decomp *d, MPI_Comm comm)
{
    h5out_snap_plan pl;
    MPI_Bcast(&pl, (int)sizeof pl, MPI_BYTE, 0, comm);
    sm_error err;   /* rank 0 reports the failure */
    uint64_t sums[SNAP_NFIELDS];   /* rank 0's */
    if (pl.ok) write_blocks(d, comm, &pl, sums, &err);
}
