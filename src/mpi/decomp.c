/* The block decomposition and its messages (mpi/decomp.h). */
#include <stdlib.h>
#include <string.h>
#include "mpi/decomp.h"

/* Tags say which way a message travels, so that a rank that is its own
 * neighbour (one piece along a periodic side), or both neighbours of
 * another (two pieces), matches each message with the right halo. */
enum { TO_LEFT = 11, TO_RIGHT = 12, TO_DOWN = 13, TO_UP = 14, SCATTER = 21, GATHER = 22 };

/* px x py with px * py = ranks, y cut into more pieces unless the lattice
 * is more than twice as wide as tall. Cuts along y keep a block's rows
 * whole: its edge rows are swept by the vector path and sent as contiguous
 * halos, where a cut along x leaves edge columns, swept and sent a site per
 * row (1024 x 1022 on 2 ranks: 5.48 ns per site-update cut along x, 4.98
 * along y, docs/mpi.md). */
static void grid(int ranks, int Lx, int Ly, int *px, int *py)
{
    int dims[2] = {0, 0};
    MPI_Dims_create(ranks, 2, dims);   /* dims[0] >= dims[1] */
    const int wide = Lx > 2 * (int64_t)Ly;
    *px = wide ? dims[0] : dims[1];
    *py = wide ? dims[1] : dims[0];
}

int decomp_init(decomp *d, MPI_Comm comm, const lattice *lat, int nfields, sm_error *err)
{
    memset(d, 0, sizeof *d);
    d->nfields = nfields;
    int ranks;
    MPI_Comm_size(comm, &ranks);
    grid(ranks, lat->Lx, lat->Ly, &d->px, &d->py);
    if (d->px > lat->Lx || d->py > lat->Ly)
        return sm_fail(err, "%d MPI ranks: a %dx%d lattice cannot be split into their %dx%d grid "
                       "of blocks (a block needs at least one site per side); use fewer ranks",
                       ranks, lat->Lx, lat->Ly, d->px, d->py);
    const int periodic = lat->boundary == BOUNDARY_PERIODIC;
    int dims[2] = {d->py, d->px}, periods[2] = {periodic, periodic}, coords[2], me;
    MPI_Cart_create(comm, 2, dims, periods, 0, &d->cart);
    d->have_cart = 1;
    MPI_Comm_rank(d->cart, &me);
    MPI_Cart_coords(d->cart, me, 2, coords);
    d->cy = coords[0];
    d->cx = coords[1];
    MPI_Cart_shift(d->cart, 1, 1, &d->left, &d->right);
    MPI_Cart_shift(d->cart, 0, 1, &d->down, &d->up);
    d->lat = *lat;
    d->Lx = lat->Lx;
    d->Ly = lat->Ly;
    level_block *b = &d->b;
    b->gx0 = decomp_start(d->cx, d->px, lat->Lx);
    b->gy0 = decomp_start(d->cy, d->py, lat->Ly);
    b->nx = decomp_start(d->cx + 1, d->px, lat->Lx) - b->gx0;
    b->ny = decomp_start(d->cy + 1, d->py, lat->Ly) - b->gy0;
    b->stride = b->nx + 2;
    b->lat = &d->lat;
    const size_t cells = (size_t)b->stride * (size_t)(b->ny + 2);
    int ok = 1, all;
    for (int f = 0; f < nfields; f++) ok &= (d->store[f] = calloc(cells, 1)) != NULL;
    /* all ranks fail together, or one would wait for the others for ever */
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
    if (!all) {
        decomp_free(d);
        return sm_fail(err, "out of memory for the lattice blocks (%dx%d on rank 0)", b->nx, b->ny);
    }
    b->level = d->store[0] + b->stride + 1;
    b->sigma = d->store[1] + b->stride + 1;
    MPI_Type_contiguous(b->nx, MPI_INT8_T, &d->row);
    MPI_Type_vector(b->ny, 1, (int)b->stride, MPI_INT8_T, &d->col);
    MPI_Type_commit(&d->row);
    MPI_Type_commit(&d->col);
    d->have_types = 1;
    return 0;
}

void decomp_free(decomp *d)
{
    if (d->have_types) {
        MPI_Type_free(&d->row);
        MPI_Type_free(&d->col);
    }
    if (d->have_cart) MPI_Comm_free(&d->cart);
    for (int f = 0; f < DECOMP_MAX_FIELDS; f++) free(d->store[f]);
    memset(d, 0, sizeof *d);
}

/* The block of piece (cx, cy) as a datatype over the global arrays. */
static MPI_Datatype global_block(const decomp *d, int cx, int cy, MPI_Datatype elem)
{
    const int sizes[2] = {d->Ly, d->Lx};
    const int x0 = decomp_start(cx, d->px, d->Lx), y0 = decomp_start(cy, d->py, d->Ly);
    const int sub[2] = {decomp_start(cy + 1, d->py, d->Ly) - y0, decomp_start(cx + 1, d->px, d->Lx) - x0};
    const int start[2] = {y0, x0};
    MPI_Datatype t;
    MPI_Type_create_subarray(2, sizes, sub, start, MPI_ORDER_C, elem, &t);
    MPI_Type_commit(&t);
    return t;
}

/* This rank's owned cells within storage of that row stride. */
static MPI_Datatype own_block(const decomp *d, int64_t stride, MPI_Datatype elem)
{
    MPI_Datatype t;
    MPI_Type_vector(d->b.ny, d->b.nx, (int)stride, elem, &t);
    MPI_Type_commit(&t);
    return t;
}

/* Rank 0 sends (scatter) or receives (gather) every block in turn; the
 * others do the opposite with their own (own: the block's first owned
 * element, rows stride apart). Blocks are bytes or words: a few hundred MB
 * at most per rank even for 10^10 sites over 64 ranks. */
static void move_block(decomp *d, void *own, int64_t stride, void *global, MPI_Datatype elem, int to_blocks)
{
    int me, ranks;
    MPI_Comm_rank(d->cart, &me);
    MPI_Comm_size(d->cart, &ranks);
    MPI_Datatype mine = own_block(d, stride, elem);
    const int tag = to_blocks ? SCATTER : GATHER;
    if (me != 0) {
        if (to_blocks) MPI_Recv(own, 1, mine, 0, tag, d->cart, MPI_STATUS_IGNORE);
        else MPI_Send(own, 1, mine, 0, tag, d->cart);
        MPI_Type_free(&mine);
        return;
    }
    for (int r = 0; r < ranks; r++) {
        int c[2];
        MPI_Cart_coords(d->cart, r, 2, c);
        MPI_Datatype t = global_block(d, c[1], c[0], elem);
        if (r == 0 && to_blocks) MPI_Sendrecv(global, 1, t, 0, tag, own, 1, mine, 0, tag, d->cart, MPI_STATUS_IGNORE);
        else if (r == 0) MPI_Sendrecv(own, 1, mine, 0, tag, global, 1, t, 0, tag, d->cart, MPI_STATUS_IGNORE);
        else if (to_blocks) MPI_Send(global, 1, t, r, tag, d->cart);
        else MPI_Recv(global, 1, t, r, tag, d->cart, MPI_STATUS_IGNORE);
        MPI_Type_free(&t);
    }
    MPI_Type_free(&mine);
}

static void move_blocks(decomp *d, int8_t *const global[], int to_blocks)
{
    for (int f = 0; f < d->nfields; f++)
        move_block(d, d->store[f] + d->b.stride + 1, d->b.stride, global ? global[f] : NULL, MPI_INT8_T,
                   to_blocks);
}

void decomp_scatter(decomp *d, int8_t *const global[]) { move_blocks(d, global, 1); }
void decomp_gather(decomp *d, int8_t *const global[]) { move_blocks(d, global, 0); }

void decomp_scatter_words(decomp *d, uint32_t *own, int64_t stride, const uint32_t *global)
{
    move_block(d, own, stride, (void *)global, MPI_UINT32_T, 1);
}

void decomp_gather_words(decomp *d, const uint32_t *own, int64_t stride, uint32_t *global)
{
    move_block(d, (void *)own, stride, global, MPI_UINT32_T, 0);
}

int decomp_halo_begin(decomp *d, unsigned fields, MPI_Request rq[DECOMP_MAX_REQUESTS])
{
    const int64_t s = d->b.stride;
    const int nx = d->b.nx, ny = d->b.ny;
    int k = 0;
    for (int f = 0; f < d->nfields; f++) {
        if (!(fields >> f & 1)) continue;
        int8_t *o = d->store[f] + s + 1;   /* owned (0, 0) */
        /* receives into the halo: the left halo comes from the left
         * neighbour travelling right, and so on */
        MPI_Irecv(o - 1, 1, d->col, d->left, TO_RIGHT, d->cart, &rq[k++]);
        MPI_Irecv(o + nx, 1, d->col, d->right, TO_LEFT, d->cart, &rq[k++]);
        MPI_Irecv(o - s, 1, d->row, d->down, TO_UP, d->cart, &rq[k++]);
        MPI_Irecv(o + ny * s, 1, d->row, d->up, TO_DOWN, d->cart, &rq[k++]);
        MPI_Isend(o, 1, d->col, d->left, TO_LEFT, d->cart, &rq[k++]);
        MPI_Isend(o + nx - 1, 1, d->col, d->right, TO_RIGHT, d->cart, &rq[k++]);
        MPI_Isend(o, 1, d->row, d->down, TO_DOWN, d->cart, &rq[k++]);
        MPI_Isend(o + (ny - 1) * s, 1, d->row, d->up, TO_UP, d->cart, &rq[k++]);
    }
    return k;
}

void decomp_halo_end(int n, MPI_Request rq[DECOMP_MAX_REQUESTS]) { MPI_Waitall(n, rq, MPI_STATUSES_IGNORE); }

MPI_Datatype decomp_global_block(const decomp *d, int cx, int cy, MPI_Datatype elem)
{
    return global_block(d, cx, cy, elem);
}

void decomp_pack(const decomp *d, int f, int8_t *out)
{
    const level_block *b = &d->b;
    const int8_t *own = d->store[f] + b->stride + 1;
    for (int y = 0; y < b->ny; y++) memcpy(out + (int64_t)y * b->nx, own + (int64_t)y * b->stride, (size_t)b->nx);
}

void decomp_unpack(decomp *d, int f, const int8_t *in)
{
    const level_block *b = &d->b;
    int8_t *own = d->store[f] + b->stride + 1;
    for (int y = 0; y < b->ny; y++) memcpy(own + (int64_t)y * b->stride, in + (int64_t)y * b->nx, (size_t)b->nx);
}

void decomp_init_fields(decomp *d, MPI_Comm comm, const field_init *fi, uint64_t seed)
{
    field_init mine;
    if (fi) mine = *fi;
    MPI_Bcast(&mine, (int)sizeof mine, MPI_BYTE, 0, comm);
    const level_block *b = &d->b;
    for (int y = 0; y < b->ny; y++)
        for (int x = 0; x < b->nx; x++) {
            const int64_t a = (int64_t)y * b->stride + x;
            field_init_site(&mine, seed, d->Lx, b->gx0 + x, b->gy0 + y, &b->level[a], &b->sigma[a]);
        }
}

void decomp_state_terms(decomp *d, int64_t *bad, energy_terms *e)
{
    MPI_Request rq[DECOMP_MAX_REQUESTS];
    decomp_halo_end(decomp_halo_begin(d, DECOMP_LEVEL | DECOMP_SIGMA, rq), rq);
    const level_block *b = &d->b;
    int64_t mine[5] = {0}, all[5];
    for (int y = 0; y < b->ny; y++)
        for (int x = 0; x < b->nx; x++) {
            const int64_t a = (int64_t)y * b->stride + x;
            mine[0] += b->level[a] < LEVEL_MIN || b->level[a] > LEVEL_MAX || (b->sigma[a] != 1 && b->sigma[a] != -1);
        }
    energy_terms t = {0, 0, 0, 0};
    /* only a valid state has terms to compare (levels index the C-boson table) */
    if (!mine[0]) energy_terms_block(b->lat, b->level, b->sigma, b->stride, b->gx0, b->gy0, b->nx, b->ny, &t);
    mine[1] = t.sum_C, mine[2] = t.n_steps, mine[3] = t.sum_J, mine[4] = t.sum_h;
    MPI_Reduce(mine, all, 5, MPI_INT64_T, MPI_SUM, 0, d->cart);
    *bad = all[0];
    *e = (energy_terms){all[1], all[2], all[3], all[4]};
}
