/* The census of a lattice split into blocks (diag/census_blocks.h).
 *
 * The record of a rectangle of blocks (one block's, or the union of
 * several), per set i = 8 down to 0: ncomp, largest, hist[32], nlab, the
 * nlab edge pieces' sizes, then the labels of the sites of its bottom row
 * (its width), top row (width), left column (height) and right column
 * (height), -1 off the set. A block copies the record of the set above
 * for a set equal to it (no site of level i in the block) rather than
 * labelling it again. */
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
    if (g->px < 1 || g->py < 1 || g->px > g->Lx || g->py > g->Ly) return false;
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
    *packed = malloc(sizeof **packed * (size_t)census_record_cap(g, &(census_rect){cx, cx + 1, cy, cy + 1}));
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

/* The union-find over the edge pieces of one set of the whole lattice,
 * link_x/y a piece's displacement from its parent in periods. */
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

/* A rectangle's record of one set, read from its packed numbers. */
typedef struct {
    int64_t ncomp, largest, nlab;
    const census_packed *hist, *size, *edge[4];
    int64_t base;   /* its first node in a union-find */
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

/* Flag f on the root of each piece with a site on edge e of v. */
static void mark_edge(piece_join *J, const piece_view *v, int e, int n, int f)
{
    for (int j = 0; j < n; j++)
        if (v->edge[e][j] >= 0) {
            int32_t kx, ky;
            J->flags[find_link(J, v->base + v->edge[e][j], &kx, &ky)] |= (uint8_t)f;
        }
}

/* The component fields of r for set i from the record v of the whole
 * lattice (nodes: its edge pieces): its edges joined across the wrap of a
 * periodic lattice, one period long, or, open, marked where they touch
 * the lattice's edges. */
static int join_level(const census_grid *g, const piece_view *v, int i, census_result *r)
{
    const size_t n = v->nlab > 0 ? (size_t)v->nlab : 1;
    piece_join J = {malloc(n * sizeof *J.parent), malloc(n * sizeof *J.size), calloc(n, sizeof *J.link_x),
                    calloc(n, sizeof *J.link_y), calloc(n, 1), v->ncomp, v->largest, {0}};
    int rc = !J.parent || !J.size || !J.link_x || !J.link_y || !J.flags;
    if (!rc) {
        for (int k = 0; k < CENSUS_NBINS; k++) J.hist[k] = v->hist[k];
        for (int64_t k = 0; k < v->nlab; k++) {
            J.parent[k] = k;
            J.size[k] = v->size[k];
        }
        const bool periodic = g->boundary == BOUNDARY_PERIODIC;
        if (periodic) {
            join_seam(&J, v, CENSUS_EDGE_RIGHT, v, CENSUS_EDGE_LEFT, g->Ly, 1, 0);
            join_seam(&J, v, CENSUS_EDGE_TOP, v, CENSUS_EDGE_BOTTOM, g->Lx, 0, 1);
        } else {
            mark_edge(&J, v, CENSUS_EDGE_LEFT, g->Ly, FL_L);
            mark_edge(&J, v, CENSUS_EDGE_RIGHT, g->Ly, FL_R);
            mark_edge(&J, v, CENSUS_EDGE_BOTTOM, g->Lx, FL_B);
            mark_edge(&J, v, CENSUS_EDGE_TOP, g->Lx, FL_T);
        }
        int64_t nsx = 0, nsy = 0, nsxy = 0;
        for (int64_t a = 0; a < v->nlab; a++) {
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

int census_join_whole(const census_grid *g, const census_packed *whole, census_result *r, sm_error *err)
{
    int rc = 0;
    for (int i = CENSUS_NV - 1; !rc && i >= 0; i--) {
        piece_view v = {.base = 0};
        whole = piece_read(whole, g->Lx, g->Ly, &v);
        rc = join_level(g, &v, i, r);
    }
    return rc ? sm_fail(err, "census: out of memory joining the components across the %d x %d lattice's edges",
                        g->Lx, g->Ly) : 0;
}

/* --------------------------------------------------- merging rectangles */

static void rect_size(const census_grid *g, const census_rect *q, int *w, int *h)
{
    *w = census_grid_start(q->bx1, g->px, g->Lx) - census_grid_start(q->bx0, g->px, g->Lx);
    *h = census_grid_start(q->by1, g->py, g->Ly) - census_grid_start(q->by0, g->py, g->Ly);
}

int64_t census_record_cap(const census_grid *g, const census_rect *q)
{
    int w, h;
    rect_size(g, q, &w, &h);
    /* per set: at most one piece per edge site, and a label per edge site */
    return (int64_t)CENSUS_NV * (HEAD + 4 * ((int64_t)w + h));
}

/* The union-find of a merge: the pieces of two rectangles (the second's
 * numbered after the first's), which never wrap, so no displacement; label:
 * a root's piece in the union's record, root_of its inverse. */
typedef struct {
    int64_t *parent, *size, *label, *root_of;
    int64_t ncomp, largest, hist[CENSUS_NBINS];
} merge_join;

static int64_t find_root(int64_t *parent, int64_t a)
{
    while (parent[a] != a) {
        parent[a] = parent[parent[a]];
        a = parent[a];
    }
    return a;
}

static void unite(merge_join *U, int64_t a, int64_t b)
{
    a = find_root(U->parent, a);
    b = find_root(U->parent, b);
    if (a == b) return;
    const int64_t sa = U->size[a], sb = U->size[b];
    U->hist[size_bin(sa)]--;
    U->hist[size_bin(sb)]--;
    U->hist[size_bin(sa + sb)]++;
    U->ncomp--;
    if (sa + sb > U->largest) U->largest = sa + sb;
    if (sa < sb) { U->parent[a] = b; U->size[b] = sa + sb; }
    else { U->parent[b] = a; U->size[a] = sa + sb; }
}

/* A stretch of an edge of the union: n labels of one rectangle's edge,
 * whose pieces are nodes base + label. */
typedef struct {
    const census_packed *lab;
    int n;
    int64_t base;
} edge_run;

/* The union's four edges (bottom, top, left, right), each one or two runs
 * of the two rectangles' edges: b beside a (right of it) or above it. */
static void union_edges(const piece_view *a, const piece_view *b, bool beside, int wa, int ha, int wb, int hb,
                        edge_run run[4][2])
{
    const int64_t nb = a->nlab;
    memset(run, 0, sizeof(edge_run) * 8);
    run[CENSUS_EDGE_BOTTOM][0] = (edge_run){a->edge[CENSUS_EDGE_BOTTOM], wa, 0};
    run[CENSUS_EDGE_LEFT][0] = (edge_run){a->edge[CENSUS_EDGE_LEFT], ha, 0};
    if (beside) {
        run[CENSUS_EDGE_BOTTOM][1] = (edge_run){b->edge[CENSUS_EDGE_BOTTOM], wb, nb};
        run[CENSUS_EDGE_TOP][0] = (edge_run){a->edge[CENSUS_EDGE_TOP], wa, 0};
        run[CENSUS_EDGE_TOP][1] = (edge_run){b->edge[CENSUS_EDGE_TOP], wb, nb};
        run[CENSUS_EDGE_RIGHT][0] = (edge_run){b->edge[CENSUS_EDGE_RIGHT], hb, nb};
    } else {
        run[CENSUS_EDGE_TOP][0] = (edge_run){b->edge[CENSUS_EDGE_TOP], wb, nb};
        run[CENSUS_EDGE_LEFT][1] = (edge_run){b->edge[CENSUS_EDGE_LEFT], hb, nb};
        run[CENSUS_EDGE_RIGHT][0] = (edge_run){a->edge[CENSUS_EDGE_RIGHT], ha, 0};
        run[CENSUS_EDGE_RIGHT][1] = (edge_run){b->edge[CENSUS_EDGE_RIGHT], hb, nb};
    }
}

/* The union's record of one set at out, from a's and b's; returns the
 * numbers written. The components that meet across the seam are joined;
 * those not on the union's edge are done (counted, no longer pieces). */
static int64_t merge_set(const piece_view *a, const piece_view *b, bool beside, int wa, int ha, int wb, int hb,
                         merge_join *U, census_packed *out)
{
    const int64_t n = a->nlab + b->nlab;
    U->ncomp = a->ncomp + b->ncomp;
    U->largest = a->largest > b->largest ? a->largest : b->largest;
    for (int k = 0; k < CENSUS_NBINS; k++) U->hist[k] = a->hist[k] + b->hist[k];
    for (int64_t k = 0; k < n; k++) {
        U->parent[k] = k;
        U->size[k] = k < a->nlab ? a->size[k] : b->size[k - a->nlab];
        U->label[k] = -1;
    }
    const census_packed *sa = a->edge[beside ? CENSUS_EDGE_RIGHT : CENSUS_EDGE_TOP];
    const census_packed *sb = b->edge[beside ? CENSUS_EDGE_LEFT : CENSUS_EDGE_BOTTOM];
    for (int j = 0, seam = beside ? ha : wa; j < seam; j++)
        if (sa[j] >= 0 && sb[j] >= 0) unite(U, sa[j], a->nlab + sb[j]);
    edge_run run[4][2];
    union_edges(a, b, beside, wa, ha, wb, hb, run);
    int64_t nlab = 0;
    for (int e = 0; e < 4; e++)
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < run[e][k].n; j++)
                if (run[e][k].lab[j] >= 0) {
                    const int64_t root = find_root(U->parent, run[e][k].base + run[e][k].lab[j]);
                    if (U->label[root] < 0) { U->label[root] = nlab; U->root_of[nlab++] = root; }
                }
    int64_t m = 0;
    out[m++] = U->ncomp;
    out[m++] = U->largest;
    for (int k = 0; k < CENSUS_NBINS; k++) out[m++] = U->hist[k];
    out[m++] = nlab;
    for (int64_t k = 0; k < nlab; k++) out[m++] = U->size[U->root_of[k]];
    for (int e = 0; e < 4; e++)
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < run[e][k].n; j++)
                out[m++] = run[e][k].lab[j] < 0 ? -1
                                                : U->label[find_root(U->parent, run[e][k].base + run[e][k].lab[j])];
    return m;
}

int census_rect_merge(const census_grid *g, const census_rect *ra, const census_packed *a,
                      const census_rect *rb, const census_packed *b, census_packed **out, int64_t *len,
                      sm_error *err)
{
    int wa, ha, wb, hb;
    rect_size(g, ra, &wa, &ha);
    rect_size(g, rb, &wb, &hb);
    const bool beside = rb->bx0 == ra->bx1;
    /* a rectangle has at most one piece per edge site */
    const size_t nodes = 2 * ((size_t)wa + ha + wb + hb);
    merge_join U = {malloc(nodes * sizeof *U.parent), malloc(nodes * sizeof *U.size),
                    malloc(nodes * sizeof *U.label), malloc(nodes * sizeof *U.root_of), 0, 0, {0}};
    const census_rect ru = {ra->bx0, rb->bx1, ra->by0, rb->by1};
    *out = malloc(sizeof **out * (size_t)census_record_cap(g, &ru));
    *len = 0;
    const int rc = !U.parent || !U.size || !U.label || !U.root_of || !*out;
    for (int i = CENSUS_NV - 1; !rc && i >= 0; i--) {
        piece_view va, vb;
        a = piece_read(a, wa, ha, &va);
        b = piece_read(b, wb, hb, &vb);
        *len += merge_set(&va, &vb, beside, wa, ha, wb, hb, &U, *out + *len);
    }
    free(U.parent); free(U.size); free(U.label); free(U.root_of);
    if (rc) {
        free(*out);
        *out = NULL;
        return sm_fail(err, "census: out of memory merging the edges of a %d x %d and a %d x %d rectangle",
                       wa, ha, wb, hb);
    }
    return 0;
}

static int min_int(int a, int b) { return a < b ? a : b; }

bool census_tree_step(const census_grid *g, int axis, int s, int cx, int cy, census_rect *into,
                      census_rect *from)
{
    if (axis == 0) {
        if (cx % (2 * s) || cy % s || cx + s >= g->px) return false;
        const int y1 = min_int(cy + s, g->py);
        *into = (census_rect){cx, cx + s, cy, y1};
        *from = (census_rect){cx + s, min_int(cx + 2 * s, g->px), cy, y1};
        return true;
    }
    if (cx % (2 * s) || cy % (2 * s) || cy + s >= g->py) return false;
    const int x1 = min_int(cx + 2 * s, g->px);
    *into = (census_rect){cx, x1, cy, cy + s};
    *from = (census_rect){cx, x1, cy + s, min_int(cy + 2 * s, g->py)};
    return true;
}

/* rec[b] := the merge of rec[b] and rec[o], each freed when owned. */
static int merge_into(const census_grid *g, const census_rect *into, const census_rect *from,
                      census_packed **rec, bool *owned, int b, int o, sm_error *err)
{
    census_packed *m;
    int64_t len;
    if (census_rect_merge(g, into, rec[b], from, rec[o], &m, &len, err)) return 1;
    if (owned[b]) free(rec[b]);
    if (owned[o]) free(rec[o]);
    rec[b] = m;
    owned[b] = true;
    rec[o] = NULL;
    owned[o] = false;
    return 0;
}

int census_join_blocks(const census_grid *g, const census_packed *const *packed, census_result *r,
                       sm_error *err)
{
    const int nb = g->px * g->py;
    census_packed **rec = malloc(sizeof *rec * (size_t)nb);
    bool *owned = calloc((size_t)nb, sizeof *owned);
    if (!rec || !owned) {
        free(rec); free(owned);
        return sm_fail(err, "census: out of memory joining the components of %d blocks", nb);
    }
    for (int b = 0; b < nb; b++) rec[b] = (census_packed *)packed[b];
    int rc = 0;
    census_rect into, from;
    for (int s = 1; !rc && (s < g->px || s < g->py); s *= 2)
        for (int axis = 0; axis < 2; axis++)
            for (int cy = 0; !rc && cy < g->py; cy++)
                for (int cx = 0; !rc && cx < g->px; cx++)
                    if (census_tree_step(g, axis, s, cx, cy, &into, &from))
                        rc = merge_into(g, &into, &from, rec, owned, cy * g->px + cx,
                                        axis ? (cy + s) * g->px + cx : cy * g->px + cx + s, err);
    if (!rc) rc = census_join_whole(g, rec[0], r, err);
    for (int b = 0; b < nb; b++)
        if (owned[b]) free(rec[b]);
    free(rec);
    free(owned);
    return rc;
}
