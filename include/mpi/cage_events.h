/* The soft-matrix events of a split cage sweep (mpi/cage_part.c) go to the
 * ranks whose blocks their footprints reach, and to no other: a footprint
 * lies within KIN_SM_RADIUS of its site along x and along y, so a block at
 * least that many sites a side hears from its (up to 8) grid neighbours
 * only, and no rank waits on all the others every sweep. Compiled only
 * into the MPI build. */
#ifndef SM_MPI_CAGE_EVENTS_H
#define SM_MPI_CAGE_EVENTS_H

#include <stdint.h>
#include "core/error.h"
#include "mpi/decomp.h"

typedef struct {
    int n;                /* the other ranks an event of this block may reach */
    int *rank;            /* [n]: their ranks in d->cart */
    int *rect;            /* [4n]: their blocks, x0, x1, y0, y1 (half-open) */
    int *n_out, *n_in;    /* [n]: words sent to and received from each */
    int32_t *out, *in;    /* events sent (route by route), events heard */
    int64_t out_cap, in_cap;
    MPI_Request *rq;      /* [2n] */
} event_routes;

/* The routes of d's block, found from the grid alone (no messages). */
int event_routes_init(event_routes *r, const decomp *d, sm_error *err);
void event_routes_free(event_routes *r);

/* Collective over the grid's ranks: this block's events (n words of x, y,
 * sign in global coordinates) to the ranks they reach, and the events
 * that reach this block - its own first, then its routes' - into r->in;
 * returns their number of words. Exits when out of memory, as a sweep
 * cannot report an error. */
int64_t event_routes_exchange(event_routes *r, const decomp *d, const int32_t *ev, int n);

#endif
