/* Connected components of the nested sets {level >= i}, i = 0..8 (MODEL.md
 * section 5.2, SM3): their number, size histogram, largest, and which span
 * the lattice. Definitions in census.h; this is the part of the census that
 * reads only the level field. */
#ifndef SM_CENSUS_COMPONENTS_H
#define SM_CENSUS_COMPONENTS_H

#include <stdint.h>
#include "sm_error.h"

struct census_input;
struct census_result;

/* One union-find node: parent, and the displacement (ox, oy) from the
 * parent in unwrapped lattice units. A root has no displacement, so there
 * ox holds the component size and oy its wrap/edge flags. */
typedef struct {
    int32_t parent, ox, oy;
} census_node;

/* Work buffers for one lattice size, allocated once. */
typedef struct {
    int Lx, Ly;
    int64_t N;
    census_node *node;     /* union-find */
    int32_t *order;        /* sites sorted by level */
} census_comp_work;

int census_comp_work_init(census_comp_work *w, int Lx, int Ly, sm_error *err);
void census_comp_work_free(census_comp_work *w);

/* Fills the component fields of r (n_sites_ge, n_components, largest,
 * size_hist, n_span_x/y/xy) for i = 0..8 and leaves the others alone. The
 * input has been checked (levels -1..8) and w is for in's Lx, Ly. */
void census_components(const struct census_input *in, census_comp_work *w,
                       struct census_result *r);

#endif
