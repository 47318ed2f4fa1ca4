/* The census of a lattice split over MPI ranks, taken on the blocks
 * (diag/census_blocks.h): every rank fetches a margin of the sites round
 * its block (from its neighbours, and from theirs, hop by hop, when the
 * blocks are narrower than the margin), counts the clusters it owns and
 * labels its block's sets {level >= i}; the cluster sums are reduced to
 * rank 0, and the blocks' edge pieces are joined along a tree over the
 * rank grid, so that rank 0 merges O(log ranks) records and ends with
 * O(perimeter of the lattice) numbers, never the lattice. Compiled only
 * into the MPI build. */
#ifndef SM_MPI_CENSUS_MPI_H
#define SM_MPI_CENSUS_MPI_H

#include <stdbool.h>
#include "core/error.h"
#include "diag/census.h"
#include "mpi/decomp.h"

/* Whether d's blocks can take the census: any grid of an open lattice, a
 * periodic lattice at least 16 x 16 (else the caller gathers the lattice
 * and takes the serial census). The same on every rank. */
bool census_mpi_blocks_ok(const decomp *d);

/* Collective over d's ranks: the census of the blocks' state into *r on
 * rank 0 (r is NULL elsewhere), equal to census_compute on the gathered
 * lattice. Out of memory for a block's window fails every rank together;
 * later (its pieces, a merge of the join) it fails rank 0's census. */
int census_mpi_take(decomp *d, census_result *r, sm_error *err);

#endif
