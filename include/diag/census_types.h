/* The census's input and result: shared by the census (census.c) and its
 * component labelling (census_components.c), which census.h joins. */
#ifndef SM_CENSUS_TYPES_H
#define SM_CENSUS_TYPES_H

#include <stdbool.h>
#include <stdint.h>
#include "core/lattice.h"
#include "diag/table1.h"

enum {
    CENSUS_NV = 9,      /* cluster levels 0..8 */
    CENSUS_NBINS = 32   /* component size histogram: bin k = sizes [2^k, 2^(k+1)) */
};

/* The counts of one cluster, or their sum over clusters. */
typedef struct {
    int64_t hscl, cavity, arrows, cbosons, n, jamming, co, counter, neel;
} census_counts;

/* A window of a larger lattice: the array holds sites x0 <= gx < x0 + Lx,
 * y0 <= gy < y0 + Ly of a global Lx x Ly lattice (unwrapped global
 * coordinates; open: sites outside the lattice hold level -1), and only
 * the centres own_x0 <= x < own_x1, own_y0 <= y < own_y1 of the array are
 * counted. Counting a centre reads the sites up to 7 away in x and y (the
 * V8 footprint without its tips; its bonds are known from where it sits),
 * so the owned centres need a margin of CENSUS_WINDOW_MARGIN sites. The
 * clusters of a block of a lattice split over MPI ranks (census_blocks.h). */
enum { CENSUS_WINDOW_MARGIN = 7 };
typedef struct census_window {
    int Lx, Ly;
    int x0, y0;
    int own_x0, own_x1, own_y0, own_y1;
} census_window;

typedef struct census_input {
    int Lx, Ly;
    boundary_kind boundary;
    const int8_t *level;   /* Lx*Ly values in -1..8 */
    const int8_t *sigma;   /* Lx*Ly values +-1 */
    /* Leave out the components (their fields stay 0). */
    bool skip_components;
    /* Vector width of the cluster code in bytes: 0 for the widest this CPU
     * has; 16 or 32 force a narrower version (the results are the same;
     * tests run every version the CPU can). */
    int vector_bytes;
    /* NULL: the array is the whole lattice. Else it is a window of one
     * (above): only the cluster fields are computed (skip_components is
     * implied), and a periodic lattice must fit every footprint
     * (Lx, Ly >= 16). */
    const census_window *window;
} census_input;

typedef struct census_result {
    /* clusters, per level i = 0..8 */
    int64_t n_centres[CENSUS_NV];     /* sites with level == i */
    int64_t n_truncated[CENSUS_NV];   /* of these, footprint does not fit */
    int64_t n_match[CENSUS_NV];       /* fitting clusters equal to Table 1 in every compared entry */
    int64_t n_equal[CENSUS_NV][T1_NCOLS]; /* fitting clusters equal in that entry (compared entries only) */
    census_counts sum[CENSUS_NV];       /* sums over fitting clusters */
    census_counts sum_truncated[CENSUS_NV]; /* sums over truncated clusters */
    /* components of {level >= i}, i = 0..8 */
    int64_t n_sites_ge[CENSUS_NV];
    int64_t n_components[CENSUS_NV];
    int64_t largest[CENSUS_NV];
    int64_t size_hist[CENSUS_NV][CENSUS_NBINS];
    int64_t n_span_x[CENSUS_NV];      /* components spanning x */
    int64_t n_span_y[CENSUS_NV];      /* components spanning y */
    int64_t n_span_xy[CENSUS_NV];     /* components spanning both */
} census_result;

#endif
