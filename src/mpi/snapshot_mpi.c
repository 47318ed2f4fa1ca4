/* Collective snapshots of the blocks (mpi/snapshot_mpi.h). */
#include <stdlib.h>
#include <string.h>
#include "io/h5out_mpio.h"
#include "mpi/snapshot_mpi.h"

/* Rows of one field of the block without their halo, as nx * ny values. */
static void *own_rows(const decomp *d, int f)
{
    const level_block *lb = &d->b;
    int8_t *v = malloc((size_t)lb->nx * (size_t)lb->ny);
    const int8_t *own = d->store[f] + lb->stride + 1;
    for (int y = 0; v && y < lb->ny; y++)
        memcpy(v + (int64_t)y * lb->nx, own + (int64_t)y * lb->stride, (size_t)lb->nx);
    return v;
}

/* The block as a state of nx * ny sites that snapshot frames are built
 * from: level and sigma, and with pcp the phase and z (else absent: all 0,
 * as in the level dynamics' global state). */
static int block_state(const decomp *d, const snapshot_pcp *pcp, h5out_block *b)
{
    const level_block *lb = &d->b;
    memset(b, 0, sizeof *b);
    b->x0 = lb->gx0;
    b->y0 = lb->gy0;
    b->nx = lb->nx;
    b->ny = lb->ny;
    b->st.N = (int64_t)lb->nx * lb->ny;
    b->st.level = own_rows(d, 0);
    b->st.sigma = own_rows(d, 1);
    if (!b->st.level || !b->st.sigma) return 1;
    if (!pcp) return 0;
    b->st.phase = own_rows(d, 2);
    b->st.zjumps_wide = malloc(sizeof *b->st.zjumps_wide * (size_t)b->st.N);
    b->st.n_z = pcp->n_z;
    if (!b->st.phase || !b->st.zjumps_wide) return 1;
    memcpy(b->st.zjumps_wide, pcp->z, sizeof *b->st.zjumps_wide * (size_t)b->st.N);
    return 0;
}

/* Every rank: its block of the plan's frames. */
static int write_blocks(const decomp *d, const snapshot_pcp *pcp, MPI_Comm comm, const h5out_snap_plan *pl,
                        uint64_t sums[SNAP_NFIELDS], sm_error *err)
{
    h5out_block b;
    const int bad = block_state(d, pcp, &b);
    int any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm);
    int rc = any ? sm_fail(err, "%s: out of memory for the snapshot blocks", pl->partial)
                 : h5out_snapshot_blocks(pl, comm, &b, sums, err);
    model_state_free(&b.st);
    return rc;
}

int snapshot_mpi_write(const decomp *d, const snapshot_pcp *pcp, MPI_Comm comm, h5out *h, unsigned fields,
                       int compression, int64_t step, sm_error *err)
{
    h5out_snap_plan pl;
    const int begun = h5out_snapshot_begin(h, fields, d->Lx, d->Ly, compression, step, &pl, err) == 0;
    MPI_Bcast(&pl, (int)sizeof pl, MPI_BYTE, 0, comm);
    if (!begun) return 1;
    uint64_t sums[SNAP_NFIELDS];
    const int rc = write_blocks(d, pcp, comm, &pl, sums, err);
    return h5out_snapshot_end(h, &pl, rc ? NULL : sums, rc ? NULL : err) || rc;
}

void snapshot_mpi_serve(const decomp *d, const snapshot_pcp *pcp, MPI_Comm comm)
{
    h5out_snap_plan pl;
    MPI_Bcast(&pl, (int)sizeof pl, MPI_BYTE, 0, comm);
    sm_error err;   /* rank 0 reports the failure */
    uint64_t sums[SNAP_NFIELDS];   /* rank 0's */
    if (pl.ok) write_blocks(d, pcp, comm, &pl, sums, &err);
}
