/* The census of a lattice split into blocks (diag/census_blocks.h).
 *
 * A block's packed part, per set i = 8 down to 0 (a set equal to the one
 * above in the block, no site of level i there, is a copy of its record
 * rather than labelled again): ncomp, largest, hist[32], nlab,
 * the nlab edge pieces' sizes, then the labels of the sites of its bottom
 * row (nx), top row (nx), left column (ny) and right column (ny), -1 off
 * the set. */
#include <stdlib.h>
#include <string.h>
#include "diag/census_blocks.h"

enum { HEAD = 3 + CENSUS_NBINS };   /* ncomp, largest, hist, nlab */

/* spanning evidence of a root: winds in x, y (periodic); touches the edge
 * x = 0, x = Lx - 1, y = 0, y = Ly - 1 (open) */
enum { FL_WX = 1, FL_WY = 2, FL_L = 4, FL_R = 8, FL_B = 16, FL_T = 32 };

static void block_box(const census_grid *g, int cx, int cy, int *x0, int *y0, int *nx, int *ny)
{
    *x0 = census_grid_start(cx, g->px, g->Lx);
    *y0 = census_grid_start(cy, g->py, g->Ly);
    *nx = census_grid_start(cx + 1, g->px, g->Lx) - *x0;
    *ny = census_grid_start(cy + 1, g->py, g->Ly) - *y0;
}

bool census_grid_blocks_ok(const census_grid *g)
{
    const int M = CENSUS_WINDOW_MARGIN;
    if (g->px < 1 || g->py < 1 || g->Lx / g->px < M || g->Ly / g->py < M) return false;
    return g->boundary != BOUNDARY_PERIODIC || census_fits(g->Lx, g->Ly, BOUNDARY_PERIODIC, 8, 0, 0);
}

void census_result_add(census_result *r, const census_result *b)
{
    int64_t *a = (int64_t *)r;
    const int64_t *c = (const int64_t *)b;
    for (size_t k = 0; k < sizeof *r / sizeof(int64_t); k++) a[k] += c[k];
}

_Static_assert(sizeof(census_result) % sizeof(int64_t) == 0, "census_result is int64 fields only");

/* ------------------------------------------------------------ a block */

/* One set's piece appended at p; returns the numbers written. */
static int64_t pack_piece(const census_comp_piece *pc, int nx, int ny, census_packed *p)
{
    int64_t n = 0;
    p[n++] = (census_packed)pc->ncomp;
    p[n++] = (census_packed)pc->largest;
    for (int k = 0; k < CENSUS_NBINS; k++) p[n++] = (census_packed)pc->hist[k];
    p[n++] = pc->nlab;
    for (int32_t k = 0; k < pc->nlab; k++) p[n++] = pc->size[k];
    const int len[4] = {nx, nx, ny, ny};
    for (int e = 0; e < 4; e++)
        for (int j = 0; j < len[e]; j++) p[n++] = pc->edge[e][j];
    return n;
}

/* The piece of a set that is empty in the block, or the whole block (one
 * component, every edge site on it): nothing to label. */
static void settled_piece(census_comp_piece *pc, int nx, int ny, bool whole)
{
    memset(pc->hist, 0, sizeof pc->hist);
    const int64_t n = (int64_t)nx * ny;
    pc->ncomp = pc->nlab = whole;
    pc->largest = whole ? n : 0;
    if (whole) {
        pc->hist[63 - __builtin_clzll((unsigned long long)n)] = 1;
        pc->size[0] = (int32_t)n;
    }
    const int len[4] = {nx, nx, ny, ny};
    for (int e = 0; e < 4; e++)
        for (int j = 0; j < len[e]; j++) pc->edge[e][j] = whole ? 0 : -1;
}

/* The components of every set of the block (level: its nx x ny sites, ge:
 * its sites with level >= i). */
static int pack_components(const int8_t *level, int nx, int ny, const int64_t ge[CENSUS_NV],
                           census_packed *packed, int64_t *len, sm_error *err)
{
    census_comp_work cw;
    if (census_comp_work_init(&cw, nx, ny, err)) return 1;
    const census_input in = {.Lx = nx, .Ly = ny, .boundary = BOUNDARY_OPEN, .level = level};
    int32_t *buf = malloc(sizeof *buf * 4 * ((size_t)nx + (size_t)ny));
    int rc = !buf;
    census_comp_piece pc = {.size = buf};
    if (buf) {
        pc.edge[CENSUS_EDGE_BOTTOM] = buf + 2 * ((size_t)nx + ny);
        pc.edge[CENSUS_EDGE_TOP] = pc.edge[CENSUS_EDGE_BOTTOM] + nx;
        pc.edge[CENSUS_EDGE_LEFT] = pc.edge[CENSUS_EDGE_TOP] + nx;
        pc.edge[CENSUS_EDGE_RIGHT] = pc.edge[CENSUS_EDGE_LEFT] + ny;
    }
    *len = 0;
    int64_t above = 0;   /* where the record of set i + 1 starts */
    for (int i = CENSUS_NV - 1; !rc && i >= 0; i--) {
        const int64_t at = *len;
        int64_t n;
        if (i < CENSUS_NV - 1 && ge[i] == ge[i + 1]) {
            n = at - above;
            memcpy(packed + at, packed + above, sizeof *packed * (size_t)n);
        } else {
            if (ge[i] == 0 || ge[i] == (int64_t)nx * ny) settled_piece(&pc, nx, ny, ge[i] > 0);
            else rc = census_comp_piece_of(&in, i, &cw, &pc);
            n = rc ? 0 : pack_piece(&pc, nx, ny, packed + at);
        }
        *len += n;
        above = at;
    }
    free(buf);
    census_comp_work_free(&cw);
    return rc ? sm_fail(err, "census: out of memory for the components of a %d x %d block", nx, ny) : 0;
}

int census_block_part(const census_grid *g, int cx, int cy, const int8_t *level, const int8_t *sigma,
                      census_result *r, census_packed **packed, int64_t *len, sm_error *err)
{
    const int M = CENSUS_WINDOW_MARGIN;
    int x0, y0, nx, ny;
    block_box(g, cx, cy, &x0, &y0, &nx, &ny);
    *packed = NULL;
    const int ww = nx + 2 * M;
    const census_window win = {g->Lx, g->Ly, x0 - M, y0 - M, M, M + nx, M, M + ny};
    const census_input in = {.Lx = ww, .Ly = ny + 2 * M, .boundary = g->boundary, .level = level,
                             .sigma = sigma, .window = &win};
    if (census_compute(&in, NULL, r, err)) return 1;
    /* the components read the block alone, without margin */
    int8_t *own = malloc((size_t)nx * (size_t)ny);
    *packed = malloc(sizeof **packed * (size_t)CENSUS_NV * (HEAD + 4 * ((size_t)nx + ny)));
    if (!own || !*packed) {
        free(own); free(*packed); *packed = NULL;
        return sm_fail(err, "census: out of memory for a %d x %d block", nx, ny);
    }
    int64_t at[CENSUS_NV + 1] = {0};   /* sites of level i - 1 (index 0: level -1) */
    for (int y = 0; y < ny; y++) {
        const int8_t *row = level + (int64_t)(y + M) * ww + M;
        memcpy(own + (int64_t)y * nx, row, (size_t)nx);
        for (int x = 0; x < nx; x++) at[row[x] + 1]++;
    }
    for (int i = CENSUS_NV - 1; i >= 0; i--)
        r->n_sites_ge[i] = at[i + 1] + (i + 1 < CENSUS_NV ? r->n_sites_ge[i + 1] : 0);
    const int rc = pack_components(own, nx, ny, r->n_sites_ge, *packed, len, err);
    free(own);
    if (rc) { free(*packed); *packed = NULL; }
    return rc;
}

/* ------------------------------------------------------------- joining */

/* The union-find over the edge pieces of one set: node = a block's piece,
 * link_x/y its displacement from its parent in periods. */
typedef struct {
    int64_t *parent, *size;
    int32_t *link_x, *link_y;
    uint8_t *flags;
    int64_t ncomp, largest, hist[CENSUS_NBINS];
} piece_join;

static inline int size_bin(int64_t s) { return 63 - __builtin_clzll((unsigned long long)s); }

static int64_t find_link(const piece_join *J, int64_t a, int32_t *kx, int32_t *ky)
{
    int32_t x = 0, y = 0;
    while (J->parent[a] != a) {
        x += J->link_x[a];
        y += J->link_y[a];
        a = J->parent[a];
    }
    *kx = x;
    *ky = y;
    return a;
}

/* The bond from a site of piece a to one of piece b across a seam; wx, wy:
 * periods the bond crosses (the serial census's join_link). */
static void join_link(piece_join *J, int64_t a, int64_t b, int wx, int wy)
{
    int32_t ax, ay, bx, by;
    const int64_t ra = find_link(J, a, &ax, &ay), rb = find_link(J, b, &bx, &by);
    const int32_t dx = ax + wx - bx, dy = ay + wy - by;
    if (ra == rb) {
        J->flags[ra] |= (uint8_t)((dx ? FL_WX : 0) | (dy ? FL_WY : 0));
        return;
    }
    const int64_t sa = J->size[ra], sb = J->size[rb];
    J->hist[size_bin(sa)]--;
    J->hist[size_bin(sb)]--;
    J->hist[size_bin(sa + sb)]++;
    J->ncomp--;
    if (sa + sb > J->largest) J->largest = sa + sb;
    if (sa < sb) {
        J->parent[ra] = rb; J->link_x[ra] = -dx; J->link_y[ra] = -dy;
        J->size[rb] = sa + sb; J->flags[rb] |= J->flags[ra];
    } else {
        J->parent[rb] = ra; J->link_x[rb] = dx; J->link_y[rb] = dy;
        J->size[ra] = sa + sb; J->flags[ra] |= J->flags[rb];
    }
}

/* One block's record of one set, read from its packed part. */
typedef struct {
    int64_t ncomp, largest, nlab;
    const census_packed *hist, *size, *edge[4];
    int64_t base;   /* its first node */
} piece_view;

static const census_packed *piece_read(const census_packed *p, int nx, int ny, piece_view *v)
{
    v->ncomp = p[0];
    v->largest = p[1];
    v->hist = p + 2;
    v->nlab = p[2 + CENSUS_NBINS];
    v->size = p + HEAD;
    v->edge[CENSUS_EDGE_BOTTOM] = v->size + v->nlab;
    v->edge[CENSUS_EDGE_TOP] = v->edge[CENSUS_EDGE_BOTTOM] + nx;
    v->edge[CENSUS_EDGE_LEFT] = v->edge[CENSUS_EDGE_TOP] + nx;
    v->edge[CENSUS_EDGE_RIGHT] = v->edge[CENSUS_EDGE_LEFT] + ny;
    return v->edge[CENSUS_EDGE_RIGHT] + ny;
}

/* The bonds along a seam of n sites: edge ea of piece a to edge eb of b. */
static void join_seam(piece_join *J, const piece_view *a, int ea, const piece_view *b, int eb, int n,
                      int wx, int wy)
{
    for (int j = 0; j < n; j++)
        if (a->edge[ea][j] >= 0 && b->edge[eb][j] >= 0)
            join_link(J, a->base + a->edge[ea][j], b->base + b->edge[eb][j], wx, wy);
}

/* Flag f on the root of each piece with a site on edge e of block v. */
static void mark_edge(piece_join *J, const piece_view *v, int e, int n, int f)
{
    for (int j = 0; j < n; j++)
        if (v->edge[e][j] >= 0) {
            int32_t kx, ky;
            J->flags[find_link(J, v->base + v->edge[e][j], &kx, &ky)] |= (uint8_t)f;
        }
}

/* The bonds across every seam: each block's to its right and upper
 * neighbours, across the wrap of a periodic lattice one period long. */
static void join_grid(const census_grid *g, piece_join *J, const piece_view *V)
{
    const bool periodic = g->boundary == BOUNDARY_PERIODIC;
    for (int cy = 0; cy < g->py; cy++)
        for (int cx = 0; cx < g->px; cx++) {
            int x0, y0, nx, ny;
            block_box(g, cx, cy, &x0, &y0, &nx, &ny);
            const piece_view *v = &V[cy * g->px + cx];
            const int wx = cx + 1 == g->px, wy = cy + 1 == g->py;
            if (!wx || periodic)
                join_seam(J, v, CENSUS_EDGE_RIGHT, &V[cy * g->px + (wx ? 0 : cx + 1)], CENSUS_EDGE_LEFT, ny, wx, 0);
            if (!wy || periodic)
                join_seam(J, v, CENSUS_EDGE_TOP, &V[(wy ? 0 : cy + 1) * g->px + cx], CENSUS_EDGE_BOTTOM, nx, 0, wy);
        }
}

/* Open lattice: which roots touch which of the lattice's edges. */
static void mark_lattice_edges(const census_grid *g, piece_join *J, const piece_view *V)
{
    for (int cy = 0; cy < g->py; cy++)
        for (int cx = 0; cx < g->px; cx++) {
            int x0, y0, nx, ny;
            block_box(g, cx, cy, &x0, &y0, &nx, &ny);
            const piece_view *v = &V[cy * g->px + cx];
            if (cx == 0) mark_edge(J, v, CENSUS_EDGE_LEFT, ny, FL_L);
            if (cx == g->px - 1) mark_edge(J, v, CENSUS_EDGE_RIGHT, ny, FL_R);
            if (cy == 0) mark_edge(J, v, CENSUS_EDGE_BOTTOM, nx, FL_B);
            if (cy == g->py - 1) mark_edge(J, v, CENSUS_EDGE_TOP, nx, FL_T);
        }
}

/* The component fields of r for set i from the blocks' pieces V (nodes:
 * their edge pieces, numbered from each V[b].base). */
static int join_level(const census_grid *g, const piece_view *V, int64_t nodes, int i, census_result *r)
{
    const int nb = g->px * g->py;
    const size_t n = nodes > 0 ? (size_t)nodes : 1;
    piece_join J = {malloc(n * sizeof *J.parent), malloc(n * sizeof *J.size), calloc(n, sizeof *J.link_x),
                    calloc(n, sizeof *J.link_y), calloc(n, 1), 0, 0, {0}};
    int rc = !J.parent || !J.size || !J.link_x || !J.link_y || !J.flags;
    if (!rc) {
        for (int b = 0; b < nb; b++) {
            J.ncomp += V[b].ncomp;
            if (V[b].largest > J.largest) J.largest = V[b].largest;
            for (int k = 0; k < CENSUS_NBINS; k++) J.hist[k] += V[b].hist[k];
            for (int64_t k = 0; k < V[b].nlab; k++) {
                J.parent[V[b].base + k] = V[b].base + k;
                J.size[V[b].base + k] = V[b].size[k];
            }
        }
        join_grid(g, &J, V);
        const bool periodic = g->boundary == BOUNDARY_PERIODIC;
        if (!periodic) mark_lattice_edges(g, &J, V);
        int64_t nsx = 0, nsy = 0, nsxy = 0;
        for (int64_t a = 0; a < nodes; a++) {
            if (J.parent[a] != a) continue;
            const int f = J.flags[a];
            const int sx = periodic ? (f & FL_WX) != 0 : (f & FL_L) && (f & FL_R);
            const int sy = periodic ? (f & FL_WY) != 0 : (f & FL_B) && (f & FL_T);
            nsx += sx; nsy += sy; nsxy += sx && sy;
        }
        r->n_components[i] = J.ncomp;
        r->largest[i] = J.largest;
        memcpy(r->size_hist[i], J.hist, sizeof J.hist);
        r->n_span_x[i] = nsx;
        r->n_span_y[i] = nsy;
        r->n_span_xy[i] = nsxy;
    }
    free(J.parent); free(J.size); free(J.link_x); free(J.link_y); free(J.flags);
    return rc;
}

int census_join_blocks(const census_grid *g, const census_packed *const *packed, census_result *r,
                       sm_error *err)
{
    const int nb = g->px * g->py;
    const census_packed **cur = malloc(sizeof *cur * (size_t)nb);
    piece_view *V = malloc(sizeof *V * (size_t)nb);
    int rc = !cur || !V;
    for (int b = 0; !rc && b < nb; b++) cur[b] = packed[b];
    for (int i = CENSUS_NV - 1; !rc && i >= 0; i--) {
        int64_t nodes = 0;
        for (int b = 0; b < nb; b++) {
            int x0, y0, nx, ny;
            block_box(g, b % g->px, b / g->px, &x0, &y0, &nx, &ny);
            cur[b] = piece_read(cur[b], nx, ny, &V[b]);
            V[b].base = nodes;
            nodes += V[b].nlab;
        }
        rc = join_level(g, V, nodes, i, r);
    }
    free(cur);
    free(V);
    return rc ? sm_fail(err, "census: out of memory joining the components of %d blocks", nb) : 0;
}
