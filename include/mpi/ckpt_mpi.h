/* Checkpoints of a lattice split over MPI ranks: every rank writes and reads
 * its own block of the site records of level and sigma (io/checkpoint.h)
 * with collective MPI-IO, in the one file that rank 0 writes the rest of,
 * and adds its part to each record's sites checksum. No rank holds the whole
 * lattice, and the file is the OpenMP binary's, byte for byte, so a
 * checkpoint of P ranks resumes with Q or without MPI. Compiled only into
 * the MPI build. */
#ifndef SM_MPI_CKPT_MPI_H
#define SM_MPI_CKPT_MPI_H

#include <stdint.h>
#include "mpi/decomp.h"

/* Collective over comm, the communicator d's grid was made from (the same
 * ranks in the same order; Open MPI 4.1's MPI-IO given the Cartesian grid
 * itself has left rows of a collective write unwritten, mpi/snapshot_mpi.h):
 * field f (0 level, 1 sigma) of every block into, or out of, the values of
 * a site record at byte offset of file path; rank 0 gets the sum of every
 * block's part of the sites checksum, of what the file holds, in *hash.
 * A written block is read back. Returns 1 on every rank when the file
 * cannot be opened, written or read, or a block did not read back as
 * written. */
int ckpt_mpi_write(decomp *d, MPI_Comm comm, int f, const char *path, uint64_t offset, uint64_t *hash);
int ckpt_mpi_read(decomp *d, MPI_Comm comm, int f, const char *path, uint64_t offset, uint64_t *hash);

#endif
