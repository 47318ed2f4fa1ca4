/* Snapshots of a lattice split over MPI ranks, written collectively with
 * parallel HDF5 (MPI build only; docs/mpi.md). Each rank writes its own
 * block as a hyperslab of the serial layout, so no rank ever holds a whole
 * frame and the file is the one h5out_snapshot writes from the whole state.
 *
 * Rank 0 owns the h5out and keeps it open for the whole run; parallel HDF5
 * needs every rank to open the file and to make each change of its
 * metadata together. So a snapshot is three steps:
 *   1. rank 0: h5out_snapshot_begin closes its handles (the file complete
 *      on disk) and fills a plan, which it broadcasts;
 *   2. every rank: h5out_snapshot_blocks opens the file with the MPI-IO
 *      driver, creates the snapshot datasets of a first frame (the serial
 *      writer's code), extends them and writes its block, all
 *      collectively, and closes it;
 *   3. rank 0: h5out_snapshot_end reopens its handles and adds the frame to
 *      the checksums a checkpoint records, reading it back a chunk of rows
 *      at a time (bounded memory; the same bytes a serial snapshot hashes),
 *      and checks that it reads back as the ranks wrote it. */
#ifndef SM_H5OUT_MPIO_H
#define SM_H5OUT_MPIO_H

#include <mpi.h>
#include "io/h5out.h"

/* What every rank needs to know of one snapshot; plain bytes, broadcast. */
typedef struct {
    char partial[CONFIG_PATH_MAX + 16];   /* the file being written */
    int ok;                               /* 0: rank 0 could not start it */
    unsigned fields;                      /* SNAP_* bits */
    int Lx, Ly, compression;
    int64_t step, rows_snapshots;
    int64_t frames[SNAP_NFIELDS];         /* frames each field already has */
    int created[SNAP_NFIELDS];            /* its datasets exist */
} h5out_snap_plan;

/* One rank's block: sites x0 <= x < x0 + nx, y0 <= y < y0 + ny of the
 * lattice, its fields in st (nx * ny sites, row-major). */
typedef struct {
    int x0, y0, nx, ny;
    model_state st;
} h5out_block;

/* Rank 0: the plan of a snapshot of fields at step, h's handles closed. On
 * failure plan->ok is 0 (broadcast it all the same: the others skip). */
int h5out_snapshot_begin(h5out *h, unsigned fields, int Lx, int Ly, int compression, int64_t step,
                         h5out_snap_plan *plan, sm_error *err);
/* Every rank of comm (rank 0 of comm the one that began it): writes b.
 * Returns the same on every rank; a failure anywhere fails all. Rank 0
 * gets in sums the checksums of what the ranks wrote of each field, by
 * position (order free), which h5out_snapshot_end checks the file against. */
int h5out_snapshot_blocks(const h5out_snap_plan *plan, MPI_Comm comm, const h5out_block *b,
                          uint64_t sums[SNAP_NFIELDS], sm_error *err);
/* Rank 0: h's handles reopened, and when written (sums not NULL) the frame
 * read back, checked against sums, counted and hashed. */
int h5out_snapshot_end(h5out *h, const h5out_snap_plan *plan, const uint64_t *sums, sm_error *err);

#endif
