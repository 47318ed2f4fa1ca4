/* The census on the blocks of a split lattice (mpi/census_mpi.h). */
#include <stdlib.h>
#include <string.h>
#include "diag/census_blocks.h"
#include "mpi/census_mpi.h"

/* Tags of the margin exchange (which way a message travels: a rank may be
 * its own neighbour, or both neighbours of another; see decomp.c) and of
 * the join's records. */
enum { WIDE_TO_LOW = 31, WIDE_TO_HIGH = 32, JOIN_RECORD = 35 };

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

/* One axis of the grid as the margin exchange sees it: n blocks over L
 * sites, this rank's block c, its neighbours lo and hi (MPI_PROC_NULL at
 * an open edge), and the window's sites along the axis as units of a
 * datatype (a column of the block's rows, or a whole window row), unit k
 * at base + k * step bytes. */
typedef struct {
    MPI_Comm comm;
    int n, L, c, lo, hi;
    bool periodic;
    MPI_Datatype unit;
    int64_t step;
} margin_axis;

static int block_width(const margin_axis *a, int j)
{
    j = (j % a->n + a->n) % a->n;
    return census_grid_start(j + 1, a->n, a->L) - census_grid_start(j, a->n, a->L);
}

/* How far (in sites, at most the margin) the h blocks next to block r on
 * side dir (-1 below, +1 above) reach; blocks off an open lattice add
 * nothing. */
static int reach(const margin_axis *a, int r, int h, int dir)
{
    int s = 0;
    for (int k = 1; k <= h && s < CENSUS_WINDOW_MARGIN; k++) {
        const int j = r + dir * k;
        if (!a->periodic && (j < 0 || j >= a->n)) break;
        s += block_width(a, j);
    }
    return s < CENSUS_WINDOW_MARGIN ? s : CENSUS_WINDOW_MARGIN;
}

/* Hop h along an axis: every rank gets block c - h's part of its low
 * margin from its low neighbour, which got it at hop h - 1 (or owns it),
 * and block c + h's part of its high margin from its high neighbour. The
 * window's units along the axis: margin [0, M), block [M, M + w), margin
 * [M + w, 2 M + w). */
static void margin_hop(const margin_axis *a, int8_t *base, int h)
{
    const int M = CENSUS_WINDOW_MARGIN, c = a->c, w = block_width(a, c);
    const int hi_far = reach(a, c + 1, h, -1), hi_near = reach(a, c + 1, h - 1, -1);
    const int my_far = reach(a, c, h, -1), my_near = reach(a, c, h - 1, -1);
    MPI_Sendrecv(base + (M + w - hi_far) * a->step, hi_far - hi_near, a->unit, a->hi, WIDE_TO_HIGH,
                 base + (M - my_far) * a->step, my_far - my_near, a->unit, a->lo, WIDE_TO_HIGH, a->comm,
                 MPI_STATUS_IGNORE);
    const int lo_far = reach(a, c - 1, h, 1), lo_near = reach(a, c - 1, h - 1, 1);
    const int up_far = reach(a, c, h, 1), up_near = reach(a, c, h - 1, 1);
    MPI_Sendrecv(base + (M + lo_near) * a->step, lo_far - lo_near, a->unit, a->lo, WIDE_TO_LOW,
                 base + (M + w + up_near) * a->step, up_far - up_near, a->unit, a->hi, WIDE_TO_LOW, a->comm,
                 MPI_STATUS_IGNORE);
}

/* Both margins along an axis: as many hops as the narrowest blocks need to
 * cover the margin (the same on every rank, so that every message has
 * its partner). */
static void margin_axis_exchange(const margin_axis *a, int8_t *win[2], int64_t offset)
{
    const int narrowest = a->L / a->n;
    const int hops = (CENSUS_WINDOW_MARGIN + narrowest - 1) / narrowest;
    for (int h = 1; h <= hops; h++)
        for (int f = 0; f < 2; f++) margin_hop(a, win[f] + offset, h);
}

/* The margin from the neighbours and, for blocks narrower than the margin,
 * from theirs, forwarded hop by hop: columns first (the block's rows),
 * then whole window rows, which carry the corners the columns brought.
 * Open edges: MPI_PROC_NULL, the margin stays as filled. */
static void window_exchange(const decomp *d, int8_t *win[2], int ww)
{
    const int M = CENSUS_WINDOW_MARGIN;
    const bool periodic = d->lat.boundary == BOUNDARY_PERIODIC;
    MPI_Datatype col, cols, rows;
    MPI_Type_vector(d->b.ny, 1, ww, MPI_INT8_T, &col);
    MPI_Type_create_resized(col, 0, 1, &cols);
    MPI_Type_contiguous(ww, MPI_INT8_T, &rows);
    MPI_Type_commit(&cols);
    MPI_Type_commit(&rows);
    const margin_axis x = {d->cart, d->px, d->Lx, d->cx, d->left, d->right, periodic, cols, 1};
    const margin_axis y = {d->cart, d->py, d->Ly, d->cy, d->down, d->up, periodic, rows, ww};
    margin_axis_exchange(&x, win, (int64_t)M * ww);
    margin_axis_exchange(&y, win, 0);
    MPI_Type_free(&col);
    MPI_Type_free(&cols);
    MPI_Type_free(&rows);
}

/* This rank's part: its window filled and exchanged, its clusters and
 * the record of its block's component pieces (*rec NULL, err set, when
 * out of memory for them: the join then carries the failure to rank 0).
 * *buf gets room for the records it takes in along the join's tree (cap
 * numbers). Returns 1, on every rank, when a rank has no room for its
 * window or that buffer: nothing was exchanged. */
static int block_part(decomp *d, census_result *part, census_packed **rec, int64_t *len, int64_t cap,
                      census_packed **buf, sm_error *err)
{
    const int M = CENSUS_WINDOW_MARGIN, ww = d->b.nx + 2 * M, wh = d->b.ny + 2 * M;
    int8_t *win[2] = {malloc((size_t)ww * (size_t)wh), malloc((size_t)ww * (size_t)wh)};
    *buf = malloc(sizeof **buf * (size_t)cap);
    int ok = win[0] && win[1] && *buf, all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, d->cart);
    if (all) {
        window_fill(d, win, ww, wh);
        window_exchange(d, win, ww);
        const census_grid g = grid_of(d);
        if (census_block_part(&g, d->cx, d->cy, win[0], win[1], part, rec, len, err)) *rec = NULL;
    } else if (ok) {
        sm_fail(err, "census: another rank is out of memory for its block's window or the join's records");
    } else {
        sm_fail(err, "census: out of memory for a %d x %d block's window or %lld numbers of the join's records",
                ww, wh, (long long)cap);
    }
    free(win[0]);
    free(win[1]);
    if (!all) {
        free(*buf);
        *buf = NULL;
    }
    return !all;
}

static int rank_at(const decomp *d, int cx, int cy)
{
    int r;
    MPI_Cart_rank(d->cart, (int[]){cy, cx}, &r);
    return r;
}

/* Round s along axis of the join's tree (census_tree_step) for this rank,
 * holding *rec: it takes in its partner's record (into buf, room for the
 * largest it will take in) or sends its own. A rank whose record is lost
 * (NULL: out of memory merging) sends an empty one, so that the failure
 * travels to rank 0 instead of leaving a rank waiting. Returns whether
 * this rank takes part in later steps. */
static bool join_step(decomp *d, const census_grid *g, int axis, int s, census_packed **rec, int64_t *len,
                      census_packed *buf, sm_error *err)
{
    census_rect into, from;
    if (census_tree_step(g, axis, s, d->cx, d->cy, &into, &from)) {
        const int src = axis ? rank_at(d, d->cx, d->cy + s) : rank_at(d, d->cx + s, d->cy);
        MPI_Status st;
        int n;
        MPI_Recv(buf, (int)census_record_cap(g, &from), MPI_INT64_T, src, JOIN_RECORD, d->cart, &st);
        MPI_Get_count(&st, MPI_INT64_T, &n);
        census_packed *merged = NULL;
        if (*rec && n == 0)
            sm_fail(err, "census: joining the blocks' components failed on another rank (out of memory)");
        else if (*rec && census_rect_merge(g, &into, *rec, &from, buf, &merged, len, err))
            merged = NULL;
        free(*rec);
        *rec = merged;
        return true;
    }
    if ((axis ? d->cy : d->cx) % (2 * s) == s) {
        const int dst = axis ? rank_at(d, d->cx, d->cy - s) : rank_at(d, d->cx - s, d->cy);
        MPI_Send(*rec, *rec ? (int)*len : 0, MPI_INT64_T, dst, JOIN_RECORD, d->cart);
        free(*rec);
        *rec = NULL;
        return false;
    }
    return true;
}

/* The largest record this rank takes in along the tree. */
static int64_t join_cap(const decomp *d, const census_grid *g)
{
    int64_t cap = 1;
    census_rect into, from;
    for (int s = 1; s < d->px || s < d->py; s *= 2)
        for (int axis = 0; axis < 2; axis++)
            if (census_tree_step(g, axis, s, d->cx, d->cy, &into, &from) && census_record_cap(g, &from) > cap)
                cap = census_record_cap(g, &from);
    return cap;
}

/* The blocks' records joined along the tree: the rank of block (0, 0)
 * ends with the record of the whole lattice in *rec, NULL (err set) when
 * a rank failed on the way; the others end with NULL. */
static void join_tree(decomp *d, const census_grid *g, census_packed **rec, int64_t *len, census_packed *buf,
                      sm_error *err)
{
    bool on = true;
    for (int s = 1; on && (s < d->px || s < d->py); s *= 2) {
        if (s < d->px) on = join_step(d, g, 0, s, rec, len, buf, err);
        if (on && s < d->py) on = join_step(d, g, 1, s, rec, len, buf, err);
    }
}

/* A failure after the window exchange reaches rank 0 along the join's
 * tree and fails its census, whose caller then stops every rank; the
 * other ranks' results are not read. */
int census_mpi_take(decomp *d, census_result *r, sm_error *err)
{
    const census_grid g = grid_of(d);
    census_result part, sum;
    memset(&part, 0, sizeof part);
    census_packed *rec = NULL, *buf = NULL;
    int64_t len = 0;
    if (block_part(d, &part, &rec, &len, join_cap(d, &g), &buf, err)) return 1;
    MPI_Reduce(&part, &sum, (int)(sizeof part / sizeof(int64_t)), MPI_INT64_T, MPI_SUM, 0, d->cart);
    join_tree(d, &g, &rec, &len, buf, err);
    free(buf);
    int rc = 0;
    if (d->cx == 0 && d->cy == 0) rc = rec ? census_join_whole(&g, rec, &sum, err) : 1;
    if (!rc && r) *r = sum;
    free(rec);
    return rc;
}
