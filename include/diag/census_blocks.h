/* The census of a lattice split into a grid of blocks (a lattice split over
 * MPI ranks, mpi/census_mpi.h), computed block by block and joined,
 * identical in every field to census_compute on the whole lattice.
 *
 * A block's part: its clusters from a window of the lattice, the block with
 * a margin of CENSUS_WINDOW_MARGIN sites of its neighbours (census_input's
 * window: every footprint of a centre the block owns lies in it), and for
 * each set {level >= i} its components labelled as an open piece
 * (census_comp_piece_of), of which only the pieces touching the block's
 * edge are kept, with a label per edge site: O(block perimeter). Joining:
 * the cluster fields and n_sites_ge are sums over blocks; the components
 * are the blocks' own counts, merged along the bonds across the block
 * seams by a union-find over the edge pieces that tracks displacements in
 * periods, so that a component winding round a periodic lattice is seen as
 * by the serial census.
 *
 * Blocks narrower or lower than the margin (their window would need sites
 * of the neighbours' neighbours) and periodic lattices under 16 x 16 (whose
 * footprints wrap onto themselves) are not done this way:
 * census_grid_blocks_ok says so, and the caller takes the census of the
 * whole lattice instead. */
#ifndef SM_CENSUS_BLOCKS_H
#define SM_CENSUS_BLOCKS_H

#include <stdbool.h>
#include <stdint.h>
#include "core/error.h"
#include "core/lattice.h"
#include "diag/census.h"

/* Block (cx, cy) of a px x py grid holds the sites census_grid_start(cx,
 * px, Lx) <= x < census_grid_start(cx + 1, px, Lx), the same in y (the
 * decomposition of mpi/decomp.h). */
typedef struct {
    int Lx, Ly;
    boundary_kind boundary;
    int px, py;
} census_grid;

static inline int census_grid_start(int i, int n, int L) { return (int)((int64_t)i * L / n); }

/* A number of a block's packed part: every one (counts, sizes, labels) is
 * at most the block's sites, which the component labelling limits to
 * 2^31 - 1, so 32 bits are enough and halve what rank 0 gathers. */
typedef int32_t census_packed;

/* Every block at least CENSUS_WINDOW_MARGIN sites a side, and a periodic
 * lattice at least 16 x 16. */
bool census_grid_blocks_ok(const census_grid *g);

/* Block (cx, cy)'s part. level, sigma: its window, (nx + 2 M) x (ny + 2 M)
 * sites (M = CENSUS_WINDOW_MARGIN; row-major, the block's site (0, 0) at
 * (M, M); open: level -1 off the lattice). r gets its cluster fields and
 * n_sites_ge (the rest 0), *packed (allocated here, the caller frees it)
 * its *len numbers for census_join_blocks. */
int census_block_part(const census_grid *g, int cx, int cy, const int8_t *level, const int8_t *sigma,
                      census_result *r, census_packed **packed, int64_t *len, sm_error *err);

/* r += b, every field (the component fields of block parts are 0). */
void census_result_add(census_result *r, const census_result *b);

/* The component fields of r (n_sites_ge, already summed, is kept) from
 * every block's packed part, packed[cy * px + cx]. */
int census_join_blocks(const census_grid *g, const census_packed *const *packed, census_result *r,
                       sm_error *err);

#endif
