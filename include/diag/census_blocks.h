/* The census of a lattice split into a grid of blocks (a lattice split over
 * MPI ranks, mpi/census_mpi.h), computed block by block and joined,
 * identical in every field to census_compute on the whole lattice.
 *
 * A block's part: its clusters from a window of the lattice, the block with
 * a margin of CENSUS_WINDOW_MARGIN sites of the lattice round it
 * (census_input's window: every footprint of a centre the block owns lies
 * in it; a block narrower than the margin takes sites of its neighbours'
 * neighbours), and for each set {level >= i} its components labelled as an
 * open piece (census_comp_piece_of), of which only the pieces touching the
 * block's edge are kept, with a label per edge site: O(block perimeter).
 *
 * Joining: the cluster fields and n_sites_ge are sums over blocks; the
 * components are joined along a tree over the grid (census_tree_step). Two
 * neighbouring rectangles of blocks that share a whole side merge their
 * records into the record of their union (census_rect_merge): the components that meet
 * across the seam become one, and only those touching the union's outer
 * edge are kept as pieces, so a record stays O(perimeter of its
 * rectangle). Rectangles never wrap, so no displacement is needed until
 * the record of the whole lattice, whose own edges are joined across the
 * periodic wrap by a union-find that tracks displacements in periods
 * (census_join_whole): a component winding round the lattice is seen as by
 * the serial census, and on an open lattice the pieces on its edges say
 * which components touch both.
 *
 * Periodic lattices under 16 x 16 (whose footprints wrap onto themselves,
 * which only the census of the whole lattice enumerates) are not done this
 * way: census_grid_blocks_ok says so, and the caller takes the census of
 * the whole lattice instead. */
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

/* A number of a record: counts, sizes and labels, which in a rectangle of
 * many blocks may pass 2^31. */
typedef int64_t census_packed;

/* The blocks of a rectangle of the grid: bx0 <= cx < bx1, by0 <= cy < by1. */
typedef struct {
    int bx0, bx1, by0, by1;
} census_rect;

/* Whether the blocks can take the census: any grid of an open lattice, a
 * periodic one at least 16 x 16. */
bool census_grid_blocks_ok(const census_grid *g);

/* Block (cx, cy)'s part. level, sigma: its window, (nx + 2 M) x (ny + 2 M)
 * sites (M = CENSUS_WINDOW_MARGIN; row-major, the block's site (0, 0) at
 * (M, M); periodic: the lattice's sites round it, wrapped as often as the
 * window needs; open: level -1 off the lattice). r gets its cluster fields
 * and n_sites_ge (the rest 0), *packed (allocated here, the caller frees
 * it) the block's record, *len numbers. */
int census_block_part(const census_grid *g, int cx, int cy, const int8_t *level, const int8_t *sigma,
                      census_result *r, census_packed **packed, int64_t *len, sm_error *err);

/* r += b, every field (the component fields of block parts are 0). */
void census_result_add(census_result *r, const census_result *b);

/* The most numbers the record of rectangle q can have. */
int64_t census_record_cap(const census_grid *g, const census_rect *q);

/* The record of rectangle ra with a (ra's blocks) merged with the record b
 * of rectangle rb, which lies right of ra (the same rows of blocks) or
 * above it (the same columns): *out (allocated here, the caller frees it),
 * *len numbers, the record of their union. */
int census_rect_merge(const census_grid *g, const census_rect *ra, const census_packed *a,
                      const census_rect *rb, const census_packed *b, census_packed **out, int64_t *len,
                      sm_error *err);

/* The join's tree over the grid, which the MPI census follows too, in
 * rounds s = 1, 2, 4, ... while s < px or s < py: the rectangles of s x s
 * blocks (cut back by the grid's edges), held by their lower left blocks,
 * merge in pairs along x (axis 0) into 2s x s, then in pairs along y
 * (axis 1) into 2s x 2s, so that the records grow in both directions and
 * what rank 0 takes in over all rounds is O(perimeter of the lattice). At
 * round s along axis, block (cx, cy), holding rectangle *into, takes in
 * *from; false when it takes in nothing then (it sends its own, which the
 * holder of *into takes in, or waits, or is done). */
bool census_tree_step(const census_grid *g, int axis, int s, int cx, int cy, census_rect *into,
                      census_rect *from);

/* The component fields of r (n_sites_ge, already summed, is kept) from
 * the record of the whole lattice (the rectangle of every block). */
int census_join_whole(const census_grid *g, const census_packed *whole, census_result *r, sm_error *err);

/* The component fields of r from every block's record, packed[cy * px +
 * cx], joined in one process along the tree: the MPI census's join,
 * without messages. */
int census_join_blocks(const census_grid *g, const census_packed *const *packed, census_result *r,
                       sm_error *err);

#endif
