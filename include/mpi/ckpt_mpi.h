/* Checkpoints of a lattice split over MPI ranks: every rank writes and reads
 * its own block of the site records (io/checkpoint.h: level, sigma and, for
 * the cage dynamics, phase, z jump counts and kinetic stamps) with
 * collective MPI-IO, in the one file that rank 0 writes the rest of, and
 * adds its part to each record's sites checksum. No rank holds the whole
 * lattice, and the file is the OpenMP binary's, byte for byte, so a
 * checkpoint of P ranks resumes with Q or without MPI. Compiled only into
 * the MPI build. */
#ifndef SM_MPI_CKPT_MPI_H
#define SM_MPI_CKPT_MPI_H

#include <stdint.h>
#include "mpi/decomp.h"

/* What rank 0 asks the ranks to move: record `rec` (the kind's numbering)
 * of elem bytes a site, its values at offset of file path; step is the
 * checkpoint's (for checks of what is read). */
typedef struct {
    uint64_t offset;
    int64_t step;
    int rec, elem;
    char path[4200];
} ckpt_mpi_io;

/* Collective over comm: rank 0's *io (NULL elsewhere) into *mine on every
 * rank. */
void ckpt_mpi_io_share(const ckpt_mpi_io *io, ckpt_mpi_io *mine, MPI_Comm comm);

/* Collective over comm, the communicator d's grid was made from (the same
 * ranks in the same order; Open MPI 4.1's MPI-IO given the Cartesian grid
 * itself has left rows of a collective write unwritten, mpi/snapshot_mpi.h):
 * this rank's block of a site record of elem-byte values (1, 2 or 4),
 * packed row by row in values (nx x ny; NULL on a rank that had no memory
 * for them), written into or read from the record's values at byte offset
 * of file path; rank 0 gets the sum of every block's part of the sites
 * checksum, of what the file holds, in *hash. A written block is read back.
 * Returns 1 on every rank when a rank has no values, the file cannot be
 * opened, written or read, or a block did not read back as written. */
int ckpt_mpi_write(const decomp *d, MPI_Comm comm, int elem, const char *path, uint64_t offset,
                   const void *values, uint64_t *hash);
int ckpt_mpi_read(const decomp *d, MPI_Comm comm, int elem, const char *path, uint64_t offset, void *values,
                  uint64_t *hash);

/* How a kind's block turns into the packed values of its record io->rec
 * (nx x ny, io->elem bytes each) and back; unpack returns the number of
 * values out of range. */
typedef struct {
    void (*pack)(const void *part, const ckpt_mpi_io *io, void *values);
    int64_t (*unpack)(void *part, const ckpt_mpi_io *io, const void *values);
    void *part;
} ckpt_mpi_block;

/* What a block transfer tells rank 0: the record's sites checksum and the
 * values out of range on all ranks. */
typedef struct {
    uint64_t hash;
    int64_t invalid;
} ckpt_mpi_result;

/* Collective over comm: rank 0's *io (NULL elsewhere) to every rank, then
 * each block's values of record io->rec written into or read from the file
 * (ckpt_mpi_write, ckpt_mpi_read); 1 on every rank on failure, rank 0's
 * *res (NULL elsewhere) filled. */
int ckpt_mpi_move(const decomp *d, MPI_Comm comm, int write, const ckpt_mpi_io *io, const ckpt_mpi_block *b,
                  ckpt_mpi_result *res);

#endif
