/* The census on the blocks of a split lattice (mpi/census_mpi.h). */
#include <stdlib.h>
#include <string.h>
#include "diag/census_blocks.h"
#include "mpi/census_mpi.h"

/* Tags of the margin exchange: which way a message travels (a rank may be
 * its own neighbour, or both neighbours of another; see decomp.c). */
enum { WIDE_TO_LEFT = 31, WIDE_TO_RIGHT = 32, WIDE_TO_DOWN = 33, WIDE_TO_UP = 34 };

static census_grid grid_of(const decomp *d)
{
    return (census_grid){d->Lx, d->Ly, d->lat.boundary, d->px, d->py};
}

bool census_mpi_blocks_ok(const decomp *d)
{
    const census_grid g = grid_of(d);
    return census_grid_blocks_ok(&g);
}

/* The block into the middle of its window (ww wide, margin M), the margin
 * off the lattice (open) level -1. */
static void window_fill(const decomp *d, int8_t *win[2], int ww, int wh)
{
    const int M = CENSUS_WINDOW_MARGIN, nx = d->b.nx, ny = d->b.ny;
    memset(win[0], -1, (size_t)ww * (size_t)wh);
    memset(win[1], 1, (size_t)ww * (size_t)wh);
    for (int f = 0; f < 2; f++) {
        const int8_t *own = d->store[f] + d->b.stride + 1;
        for (int y = 0; y < ny; y++)
            memcpy(win[f] + (int64_t)(y + M) * ww + M, own + (int64_t)y * d->b.stride, (size_t)nx);
    }
}

/* The margin from the neighbours: columns first (the block's rows), then
 * whole window rows, which carry the corners the first pass brought. A
 * block is at least M sites a side, so every margin site is a
 * neighbour's own. Open edges: MPI_PROC_NULL, the margin stays as filled. */
static void window_exchange(const decomp *d, int8_t *win[2], int ww)
{
    const int M = CENSUS_WINDOW_MARGIN, nx = d->b.nx, ny = d->b.ny;
    MPI_Datatype cols, rows;
    MPI_Type_vector(ny, M, ww, MPI_INT8_T, &cols);
    MPI_Type_contiguous(M * ww, MPI_INT8_T, &rows);
    MPI_Type_commit(&cols);
    MPI_Type_commit(&rows);
    for (int f = 0; f < 2; f++) {
        int8_t *o = win[f] + (int64_t)M * ww;   /* row M, column 0 */
        MPI_Sendrecv(o + M, 1, cols, d->left, WIDE_TO_LEFT, o + M + nx, 1, cols, d->right, WIDE_TO_LEFT,
                     d->cart, MPI_STATUS_IGNORE);
        MPI_Sendrecv(o + nx, 1, cols, d->right, WIDE_TO_RIGHT, o, 1, cols, d->left, WIDE_TO_RIGHT,
                     d->cart, MPI_STATUS_IGNORE);
    }
    for (int f = 0; f < 2; f++) {
        int8_t *w = win[f];
        MPI_Sendrecv(w + (int64_t)M * ww, 1, rows, d->down, WIDE_TO_DOWN, w + (int64_t)(M + ny) * ww, 1, rows,
                     d->up, WIDE_TO_DOWN, d->cart, MPI_STATUS_IGNORE);
        MPI_Sendrecv(w + (int64_t)ny * ww, 1, rows, d->up, WIDE_TO_UP, w, 1, rows, d->down, WIDE_TO_UP,
                     d->cart, MPI_STATUS_IGNORE);
    }
    MPI_Type_free(&cols);
    MPI_Type_free(&rows);
}

/* This rank's part: its window filled and exchanged, its clusters and
 * component pieces. */
static int block_part(decomp *d, census_result *part, census_packed **packed, int64_t *len, sm_error *err)
{
    const int M = CENSUS_WINDOW_MARGIN, ww = d->b.nx + 2 * M, wh = d->b.ny + 2 * M;
    int8_t *win[2] = {malloc((size_t)ww * (size_t)wh), malloc((size_t)ww * (size_t)wh)};
    int ok = win[0] && win[1], all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, d->cart);
    int rc = 1;
    if (all) {
        window_fill(d, win, ww, wh);
        window_exchange(d, win, ww);
        const census_grid g = grid_of(d);
        rc = census_block_part(&g, d->cx, d->cy, win[0], win[1], part, packed, len, err);
    } else if (!ok) {
        sm_fail(err, "census: out of memory for a %d x %d block's window", ww, wh);
    }
    free(win[0]);
    free(win[1]);
    return rc;
}

/* Rank 0: every rank's packed part, by_block[b] pointing at block b's;
 * NULL elsewhere, or when out of memory. */
static census_packed *gather_parts(decomp *d, const census_packed *mine, int64_t len,
                                   const census_packed **by_block)
{
    int me, ranks;
    MPI_Comm_rank(d->cart, &me);
    MPI_Comm_size(d->cart, &ranks);
    const int n = (int)len;
    int *counts = me == 0 ? malloc(sizeof *counts * (size_t)ranks) : NULL;
    int *displs = me == 0 ? malloc(sizeof *displs * (size_t)ranks) : NULL;
    MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, d->cart);
    census_packed *all = NULL;
    if (me == 0) {
        int64_t total = 0;
        for (int r = 0; r < ranks; r++) { displs[r] = (int)total; total += counts[r]; }
        all = malloc(sizeof *all * (size_t)total);
    }
    MPI_Gatherv(mine, n, MPI_INT32_T, all, counts, displs, MPI_INT32_T, 0, d->cart);
    for (int r = 0; me == 0 && all && by_block && r < ranks; r++) {
        int c[2];
        MPI_Cart_coords(d->cart, r, 2, c);
        by_block[c[0] * d->px + c[1]] = all + displs[r];
    }
    free(counts);
    free(displs);
    return all;
}

int census_mpi_take(decomp *d, census_result *r, sm_error *err)
{
    census_result part;
    memset(&part, 0, sizeof part);
    census_packed *packed = NULL;
    int64_t len = 0;
    int ok = !block_part(d, &part, &packed, &len, err), all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, d->cart);
    if (!all) {
        free(packed);
        return ok ? sm_fail(err, "census: another rank's block failed (out of memory)") : 1;
    }
    census_result sum;
    MPI_Reduce(&part, &sum, (int)(sizeof part / sizeof(int64_t)), MPI_INT64_T, MPI_SUM, 0, d->cart);
    const int nb = d->px * d->py;
    const census_packed **by_block = r ? calloc((size_t)nb, sizeof *by_block) : NULL;
    census_packed *parts = gather_parts(d, packed, len, by_block);
    free(packed);
    if (!r) return 0;
    int rc = 0;
    if (!by_block || !parts) {
        rc = sm_fail(err, "census: out of memory for the edges of %d blocks", nb);
    } else {
        const census_grid g = grid_of(d);
        rc = census_join_blocks(&g, by_block, &sum, err);
        if (!rc) *r = sum;
    }
    free(parts);
    free((void *)by_block);
    return rc;
}
