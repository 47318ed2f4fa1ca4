/* The census of a lattice split over MPI ranks, taken on the blocks
 * (diag/census_blocks.h): every rank fetches a margin of its neighbours'
 * sites, counts the clusters it owns and labels its block's sets {level >=
 * i}; the cluster sums are reduced to rank 0, which joins the blocks' edge
 * pieces into the components. Rank 0 holds O(ranks x block perimeter)
 * numbers, never the lattice. Compiled only into the MPI build. */
#ifndef SM_MPI_CENSUS_MPI_H
#define SM_MPI_CENSUS_MPI_H

#include <stdbool.h>
#include "core/error.h"
#include "diag/census.h"
#include "mpi/decomp.h"

/* Whether d's blocks can take the census alone: every block at least
 * CENSUS_WINDOW_MARGIN sites a side, a periodic lattice at least 16 x 16
 * (else the caller gathers the lattice and takes the serial census). The
 * same on every rank. */
bool census_mpi_blocks_ok(const decomp *d);

/* Collective over d's ranks: the census of the blocks' state into *r on
 * rank 0 (r is NULL elsewhere), equal to census_compute on the gathered
 * lattice. Fails on every rank together (out of memory on one of them). */
int census_mpi_take(decomp *d, census_result *r, sm_error *err);

#endif
