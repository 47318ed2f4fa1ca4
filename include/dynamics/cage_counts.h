/* Counts of the PCP fields that the cage observables read (diag/obs_cage.c):
 * sites whose PCP is on the trap line, SASC-paired bonds, and the sum of
 * the squared z jump counts. Integers only (the square sum in 128 bits), so
 * a lattice counted in pieces (the blocks of MPI ranks) sums to exactly the
 * count of the whole, in any order. */
#ifndef SM_CAGE_COUNTS_H
#define SM_CAGE_COUNTS_H

#include <stdint.h>
#include "dynamics/cage.h"

typedef struct cage_counts {
    int64_t trap;              /* sites with phi on the trap line */
    int64_t paired;            /* SASC-paired bonds */
    uint64_t zsq_lo, zsq_hi;   /* sum over sites of zjumps^2, 128 bits */
} cage_counts;

/* The counts of the whole lattice. */
void cage_counts_lattice(const lattice *lat, const model_state *s, cage_counts *c);

/* Adds the counts of block b (cage_block: phase and sigma with a current
 * halo on its upper and right sides, which the bonds of its last column and
 * row reach) with its jump counts z (nx x ny, row stride nx) to *c. A bond
 * is counted by the block of its first (left or lower) site. */
void cage_counts_block(const cage_block *b, const int32_t *z, cage_counts *c);

static inline void cage_counts_add_zsq(cage_counts *c, uint64_t v)
{
    c->zsq_lo += v;
    c->zsq_hi += c->zsq_lo < v;
}

static inline void cage_counts_add(cage_counts *o, const cage_counts *i)
{
    o->trap += i->trap;
    o->paired += i->paired;
    cage_counts_add_zsq(o, i->zsq_lo);
    o->zsq_hi += i->zsq_hi;
}

/* The sum of squared jump counts as a double (one rounding per word). */
static inline double cage_counts_zsq(const cage_counts *c)
{
    return (double)c->zsq_hi * 18446744073709551616.0 + (double)c->zsq_lo;
}

#endif
