/* Snapshots of a lattice split over MPI ranks (docs/mpi.md): every rank
 * writes its block of each frame into the output file collectively
 * (io/h5out_mpio.h); nothing is gathered. Rank 0, which drives the run and
 * owns the output, calls snapshot_mpi_write after it has commanded the
 * others to snapshot_mpi_serve (mpi/level_mpi.c's SNAPSHOT). */
#ifndef SM_MPI_SNAPSHOT_MPI_H
#define SM_MPI_SNAPSHOT_MPI_H

#include "io/h5out.h"
#include "mpi/decomp.h"

/* comm is the communicator d's grid was made from (its ranks in the same
 * order), not the grid itself: Open MPI's MPI-IO (OMPIO, 4.1) given a
 * Cartesian communicator sometimes leaves rows of a collective write
 * unwritten (3 runs in 12 of a 2x2 grid here; open-mpi/ompi#12718). */
/* What the blocks of a kind with PCP fields add to their frames: the
 * phase is d's third field, z the block's jump counts (nx x ny) times the
 * z of one jump. NULL for the level dynamics (phase and z all 0). */
typedef struct {
    const int32_t *z;
    double n_z;
} snapshot_pcp;

/* Rank 0 of comm: the snapshot of fields at step into h. */
int snapshot_mpi_write(const decomp *d, const snapshot_pcp *pcp, MPI_Comm comm, h5out *h, unsigned fields,
                       int compression, int64_t step, sm_error *err);
/* The other ranks: their blocks of the snapshot rank 0 writes. */
void snapshot_mpi_serve(const decomp *d, const snapshot_pcp *pcp, MPI_Comm comm);

#endif
