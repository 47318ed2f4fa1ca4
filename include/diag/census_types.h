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
