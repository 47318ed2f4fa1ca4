/* Counts of the per-site fields that the observables need: how many sites
 * are at each level and the staggered sum of n_a s_a. Integers only, so a
 * lattice counted in pieces (row bands on threads, blocks on MPI ranks)
 * sums to exactly the count of the whole. */
#ifndef SM_COUNTS_H
#define SM_COUNTS_H

#include <stdint.h>
#include "core/lattice.h"
#include "core/model.h"

typedef struct {
    int64_t hist[NLEVELS];   /* sites at level l, indexed l + 1 (l = -1..8) */
    int64_t stag;            /* sum_a n_a s_a (-1)^(x+y) */
} field_counts;

/* Adds the counts of an nx x ny block to *t: level and sigma point at its
 * site (0, 0), rows stride bytes apart; parity is (x + y) & 1 of that site
 * in the whole lattice. Row bands run on the OpenMP threads when the block
 * is large enough to pay for waking them. */
void field_counts_block(const int8_t *level, const int8_t *sigma, int64_t stride, int nx, int ny,
                        int parity, field_counts *t);

/* The counts of the whole lattice. */
void field_counts_lattice(const lattice *lat, const model_state *s, field_counts *t);

static inline void field_counts_add(field_counts *o, const field_counts *i)
{
    for (int k = 0; k < NLEVELS; k++) o->hist[k] += i->hist[k];
    o->stag += i->stag;
}

#endif
