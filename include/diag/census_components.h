/* Connected components of the nested sets {level >= i}, i = 0..8 (docs/model.md
 * section 5.2, SM3): their number, size histogram, largest, and which span
 * the lattice. Definitions in census.h; this is the part of the census that
 * reads only the level field. */
#ifndef SM_CENSUS_COMPONENTS_H
#define SM_CENSUS_COMPONENTS_H

#include <stdint.h>
#include "core/error.h"

struct census_input;
struct census_result;
struct census_comp_slot;    /* census_components.c */
struct census_comp_level;

/* Work buffers for one lattice size, allocated once. Each set {level >= i}
 * is labelled in horizontal strips of rows (see census_components.c): a
 * thread labels a strip in its slot's scratch and keeps only what the
 * joining of the strips needs, in the set's level buffers. */
typedef struct {
    int Lx, Ly;
    int64_t N;
    /* Strips per set: 0 (what init sets) for min_strips; more (up to
     * max_strips) is allowed, fewer is not. Any number gives the same
     * results; tests vary it. */
    int nstrips;
    int min_strips, max_strips;
    /* Sets labelled at once: 0 (what init sets) for as many as the memory
     * budget allows (census_components.c); more than 0 for that many. Any
     * number gives the same results; tests vary it. */
    int batch;
    int strip_rows;             /* rows of the tallest strip, ceil(Ly / min_strips) */
    int slots;                  /* threads that can work at once (max threads at init) */
    int words;                  /* 64-site mask words per row */
    int32_t row_cap;            /* most runs a row can have, (Lx + 1) / 2 */
    struct census_comp_slot *slot;     /* per thread */
    /* per set i = 0..8: allocated inside census_components for the sets it
     * labels and freed before it returns (NULL between calls) */
    struct census_comp_level *level;
} census_comp_work;

int census_comp_work_init(census_comp_work *w, int Lx, int Ly, sm_error *err);
void census_comp_work_free(census_comp_work *w);

/* Fills the component fields of r (n_sites_ge, n_components, largest,
 * size_hist, n_span_x/y/xy) for i = 0..8 and leaves the others alone. The
 * input has been checked (levels -1..8), n_level[i] is its number of sites
 * of level i, and w is for in's Lx, Ly. Uses up to w->slots OpenMP threads;
 * the results do not depend on how many. Returns 1 when the buffers of the
 * labelled sets cannot be allocated. */
int census_components(const struct census_input *in, const int64_t n_level[9],
                      census_comp_work *w, struct census_result *r);

/* One set {level >= i} of a block of a lattice split over ranks (the
 * whole of in, an open lattice: no bond leaves it), labelled for joining
 * with the other blocks (census_blocks.h): the counts of all its
 * components, and a label for each component with a site on the block's
 * edge. The caller gives out's arrays: size 2 (Lx + Ly), edge[BOTTOM] and
 * edge[TOP] (rows 0 and Ly - 1) Lx, edge[LEFT] and edge[RIGHT] (columns 0
 * and Lx - 1) Ly entries. Returns 1 when out of memory. */
enum { CENSUS_EDGE_BOTTOM, CENSUS_EDGE_TOP, CENSUS_EDGE_LEFT, CENSUS_EDGE_RIGHT };
typedef struct {
    int64_t ncomp, largest, hist[32];   /* every component of the block */
    int32_t nlab;                       /* components on the edge: labels 0..nlab - 1 */
    int32_t *size;                      /* their sizes */
    int32_t *edge[4];                   /* label of each edge site, -1 off the set */
} census_comp_piece;

int census_comp_piece_of(const struct census_input *in, int i, census_comp_work *w,
                         census_comp_piece *out);

#endif
