/* Soft-matrix events to the blocks they reach (mpi/cage_events.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dynamics/kinetics.h"
#include "mpi/cage_events.h"

/* Tags of their own: the halos travel on the same grid communicator. */
enum { EVENT_COUNT = 41, EVENT_WORDS = 42 };

/* Whether [a0, a1), widened by the footprint's reach on both sides, meets
 * [b0, b1) on a side of L sites. Periodic: a box narrower than L meets
 * b's images one period away at most, since the reach is then under L. */
static int meets(int a0, int a1, int b0, int b1, int L, int periodic)
{
    const int lo = a0 - KIN_SM_RADIUS, hi = a1 + KIN_SM_RADIUS;
    if (!periodic) return lo < b1 && b0 < hi;
    if (hi - lo >= L) return 1;
    for (int k = -1; k <= 1; k++)
        if (lo + k * L < b1 && b0 < hi + k * L) return 1;
    return 0;
}

static int reaches(const decomp *d, int x0, int x1, int y0, int y1, const int *rect)
{
    const int periodic = d->lat.boundary == BOUNDARY_PERIODIC;
    return meets(x0, x1, rect[0], rect[1], d->Lx, periodic) && meets(y0, y1, rect[2], rect[3], d->Ly, periodic);
}

void event_routes_free(event_routes *r)
{
    free(r->rank);
    free(r->rect);
    free(r->n_out);
    free(r->n_in);
    free(r->out);
    free(r->in);
    free(r->rq);
    memset(r, 0, sizeof *r);
}

int event_routes_init(event_routes *r, const decomp *d, sm_error *err)
{
    memset(r, 0, sizeof *r);
    int ranks, me;
    MPI_Comm_size(d->cart, &ranks);
    MPI_Comm_rank(d->cart, &me);
    r->rank = malloc(sizeof *r->rank * (size_t)ranks);
    r->rect = malloc(sizeof *r->rect * 4 * (size_t)ranks);
    r->n_out = calloc((size_t)ranks, sizeof *r->n_out);
    r->n_in = calloc((size_t)ranks, sizeof *r->n_in);
    r->rq = malloc(sizeof *r->rq * 2 * (size_t)ranks);
    if (!r->rank || !r->rect || !r->n_out || !r->n_in || !r->rq) {
        event_routes_free(r);
        return sm_fail(err, "out of memory for the soft-matrix event routes of %d ranks", ranks);
    }
    const level_block *b = &d->b;
    for (int q = 0; q < ranks; q++) {
        int c[2];
        MPI_Cart_coords(d->cart, q, 2, c);   /* (cy, cx) */
        int *rect = r->rect + 4 * r->n;
        rect[0] = decomp_start(c[1], d->px, d->Lx);
        rect[1] = decomp_start(c[1] + 1, d->px, d->Lx);
        rect[2] = decomp_start(c[0], d->py, d->Ly);
        rect[3] = decomp_start(c[0] + 1, d->py, d->Ly);
        if (q != me && reaches(d, b->gx0, b->gx0 + b->nx, b->gy0, b->gy0 + b->ny, rect)) r->rank[r->n++] = q;
    }
    return 0;
}

static int32_t *grown(int32_t **buf, int64_t *cap, int64_t n)
{
    if (n <= *cap) return *buf;
    int32_t *g = realloc(*buf, sizeof *g * (size_t)n);
    if (!g) {
        fprintf(stderr, "softmatrix: out of memory for %lld soft-matrix events\n", (long long)n / 3);
        MPI_Abort(MPI_COMM_WORLD, SM_EXIT_RUNTIME);
    }
    *cap = n;
    return *buf = g;
}

/* Each route's events back to back in r->out, r->n_out[j] words each. */
static void sort_out(event_routes *r, const decomp *d, const int32_t *ev, int n)
{
    int32_t *out = grown(&r->out, &r->out_cap, (int64_t)n * r->n + 1);
    for (int j = 0; j < r->n; j++) {
        const int *rect = r->rect + 4 * j;
        r->n_out[j] = 0;
        for (int i = 0; i < n; i += 3)
            if (reaches(d, ev[i], ev[i] + 1, ev[i + 1], ev[i + 1] + 1, rect)) {
                memcpy(out, ev + i, 3 * sizeof *ev);
                out += 3;
                r->n_out[j] += 3;
            }
    }
}

int64_t event_routes_exchange(event_routes *r, const decomp *d, const int32_t *ev, int n)
{
    sort_out(r, d, ev, n);
    for (int j = 0; j < r->n; j++) {
        MPI_Irecv(&r->n_in[j], 1, MPI_INT, r->rank[j], EVENT_COUNT, d->cart, &r->rq[j]);
        MPI_Isend(&r->n_out[j], 1, MPI_INT, r->rank[j], EVENT_COUNT, d->cart, &r->rq[r->n + j]);
    }
    MPI_Waitall(2 * r->n, r->rq, MPI_STATUSES_IGNORE);
    int64_t total = n;
    for (int j = 0; j < r->n; j++) total += r->n_in[j];
    int32_t *in = grown(&r->in, &r->in_cap, total + 1);
    memcpy(in, ev, sizeof *ev * (size_t)n);
    int nrq = 0;
    int64_t at = n, from = 0;
    for (int j = 0; j < r->n; j++) {
        if (r->n_in[j]) MPI_Irecv(in + at, r->n_in[j], MPI_INT32_T, r->rank[j], EVENT_WORDS, d->cart, &r->rq[nrq++]);
        if (r->n_out[j])
            MPI_Isend(r->out + from, r->n_out[j], MPI_INT32_T, r->rank[j], EVENT_WORDS, d->cart, &r->rq[nrq++]);
        at += r->n_in[j];
        from += r->n_out[j];
    }
    MPI_Waitall(nrq, r->rq, MPI_STATUSES_IGNORE);
    return total;
}
