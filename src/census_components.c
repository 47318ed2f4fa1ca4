/* Components of {level >= i} for the census (see census_components.h and
 * census.h): one union-find grows through the nested sets {level >= i},
 * i = 8..0 (see components()); sites in sorted-by-level order, the bonds of
 * interior sites chosen by a branch-free mask that also drops bonds closing
 * an elementary plaquette (they cannot change any result). */
#include <stdlib.h>
#include <string.h>
#include "census.h"
#include "census_components.h"
#include "model.h"

enum { FL_WX = 1, FL_WY = 2, FL_L = 4, FL_R = 8, FL_B = 16, FL_T = 32 };

typedef struct {
    census_node *node;
    bool periodic;
    bool plaquette;   /* Lx, Ly >= 3: the shortcut in add_site applies */
    int64_t nsites, ncomp, largest, nsx, nsy, nsxy;
    int64_t hist[CENSUS_NBINS];
} uf_state;

static inline int size_bin(int64_t s) { return 63 - __builtin_clzll((unsigned long long)s); }

static inline int spans_x(const uf_state *u, int f)
{
    return u->periodic ? (f & FL_WX) != 0 : (f & FL_L) && (f & FL_R);
}
static inline int spans_y(const uf_state *u, int f)
{
    return u->periodic ? (f & FL_WY) != 0 : (f & FL_B) && (f & FL_T);
}

static inline void span_count(uf_state *u, int f, int sign)
{
    int sx = spans_x(u, f), sy = spans_y(u, f);
    u->nsx += sign * sx; u->nsy += sign * sy; u->nsxy += sign * (sx && sy);
}

/* Root of a; *dx, *dy get a's position relative to the root (unwrapped
 * along the tree). Most finds end within two steps (the new site's
 * neighbours were mostly just linked to their root), so those are handled
 * before the general walk with full path compression. */
static inline int32_t uf_find(census_node *nd, int32_t a, int32_t *dx, int32_t *dy)
{
    int32_t p = nd[a].parent;
    if (p == a) { *dx = 0; *dy = 0; return a; }
    int32_t sx = nd[a].ox, sy = nd[a].oy;
    if (nd[p].parent == p) { *dx = sx; *dy = sy; return p; }
    int32_t r = p;
    while (nd[r].parent != r) { sx += nd[r].ox; sy += nd[r].oy; r = nd[r].parent; }
    int32_t cur = a, rx = sx, ry = sy;
    while (cur != r) {
        census_node *c = &nd[cur];
        int32_t next = c->parent, cx = c->ox, cy = c->oy;
        c->parent = r; c->ox = rx; c->oy = ry;
        rx -= cx; ry -= cy;
        cur = next;
    }
    *dx = sx; *dy = sy;
    return r;
}

/* Joins a and b = a + (ex, ey) (one bond, unwrapped). If they already share
 * a root and the tree puts b elsewhere than a + e, the loop closed by this
 * bond winds around the torus: the component wraps in that direction.
 * Roots keep their size in ox and their flags in oy (census_node). */
static inline void uf_bond(uf_state *u, int32_t a, int32_t b, int ex, int ey)
{
    census_node *nd = u->node;
    int32_t ax, ay, bx, by;
    int32_t ra = uf_find(nd, a, &ax, &ay), rb = uf_find(nd, b, &bx, &by);
    int32_t dx = ax + ex - bx, dy = ay + ey - by;  /* position of rb relative to ra */
    if (ra == rb) {
        if (dx | dy) {
            int f = nd[ra].oy, g = f | (dx ? FL_WX : 0) | (dy ? FL_WY : 0);
            if (g != f) { span_count(u, f, -1); span_count(u, g, +1); nd[ra].oy = g; }
        }
        return;
    }
    int64_t sa = nd[ra].ox, sb = nd[rb].ox;
    int fa = nd[ra].oy, fb = nd[rb].oy, g = fa | fb;
    /* flags are rare (wraps, open edges): skip the spanning bookkeeping
     * when neither component has any */
    if (g) { span_count(u, fa, -1); span_count(u, fb, -1); span_count(u, g, +1); }
    u->hist[size_bin(sa)]--; u->hist[size_bin(sb)]--; u->hist[size_bin(sa + sb)]++;
    u->ncomp--;
    if (sa < sb) { nd[ra].parent = rb; nd[ra].ox = -dx; nd[ra].oy = -dy; ra = rb; }
    else { nd[rb].parent = ra; nd[rb].ox = dx; nd[rb].oy = dy; }
    nd[ra].ox = (int32_t)(sa + sb);
    nd[ra].oy = g;
    if (sa + sb > u->largest) u->largest = sa + sb;
}

/* Adds site a = (x, y) of level i and its bonds to the sites already there:
 * higher levels, or level i earlier in index order (sites of one level are
 * added in index order); a self-bond (length-1 periodic direction) once,
 * through its + direction. */
static inline void add_site(uf_state *u, const census_input *in, int i, int x, int y)
{
    static const int ex[4] = {1, 0, -1, 0}, ey[4] = {0, 1, 0, -1};
    const int Lx = in->Lx, Ly = in->Ly;
    const int32_t a = y * Lx + x;
    const int8_t *level = in->level;
    census_node *nd = u->node;
    int f = 0;
    if (!u->periodic)
        f = (x == 0 ? FL_L : 0) | (x == Lx - 1 ? FL_R : 0) |
            (y == 0 ? FL_B : 0) | (y == Ly - 1 ? FL_T : 0);
    nd[a].parent = a; nd[a].ox = 1; nd[a].oy = f;
    u->nsites++; u->ncomp++; u->hist[0]++;
    if (u->largest < 1) u->largest = 1;
    if (f) span_count(u, f, +1);
    /* neighbours (+x, +y, -x, -y) and, for the plaquette shortcut below,
     * the diagonal sites between neighbours d and d + 1 */
    const int xp = x + 1 < Lx ? x + 1 : (u->periodic ? 0 : -1);
    const int xm = x > 0 ? x - 1 : (u->periodic ? Lx - 1 : -1);
    const int yp = y + 1 < Ly ? y + 1 : (u->periodic ? 0 : -1);
    const int ym = y > 0 ? y - 1 : (u->periodic ? Ly - 1 : -1);
    const int32_t nb[4] = { xp < 0 ? -1 : y * Lx + xp, yp < 0 ? -1 : yp * Lx + x,
                            xm < 0 ? -1 : y * Lx + xm, ym < 0 ? -1 : ym * Lx + x };
    bool here[4];
    for (int d = 0; d < 4; d++) {
        int32_t b = nb[d];
        int lb = b < 0 ? -2 : level[b];
        here[d] = b >= 0 && (lb > i || (lb == i && (b < a || (b == a && d < 2))));
    }
    if (u->plaquette) {
        /* Lx, Ly >= 3. If neighbours d - 1 and d and the diagonal site c
         * between them are all present, their bonds are already in the
         * union-find, so d is in a's component once d - 1 has been joined,
         * and the bond a-d closes the plaquette a, d - 1, c, d: no union.
         * Nor a new wrap: a loop through the tree that differs from the
         * plaquette by a winding exists already, so the component's flags
         * have it. Skipping the bond leaves every result unchanged and saves
         * most finds where {level >= i} is dense. */
        const int32_t dg[4] = { yp < 0 || xp < 0 ? -1 : yp * Lx + xp, yp < 0 || xm < 0 ? -1 : yp * Lx + xm,
                                ym < 0 || xm < 0 ? -1 : ym * Lx + xm, ym < 0 || xp < 0 ? -1 : ym * Lx + xp };
        bool diag[4];
        for (int d = 0; d < 4; d++) {
            int32_t c = dg[d];
            int lc = c < 0 ? -2 : level[c];
            diag[d] = c >= 0 && (lc > i || (lc == i && c < a));
        }
        for (int d = 0; d < 4; d++) {
            if (!here[d]) continue;
            if (d >= 1 && here[d - 1] && diag[d - 1]) continue;
            if (d == 3 && here[0] && diag[3]) continue;
            uf_bond(u, a, nb[d], ex[d], ey[d]);
        }
        return;
    }
    for (int d = 0; d < 4; d++)
        if (here[d]) uf_bond(u, a, nb[d], ex[d], ey[d]);
}

/* Joins the new singleton a (flags f) to b = a + (ex, ey): always a union,
 * and a can hang directly under b's root, so a needs no find. */
static inline void join_new(uf_state *u, int32_t a, int f, int32_t b, int ex, int ey)
{
    census_node *nd = u->node;
    int32_t bx, by;
    int32_t rb = uf_find(nd, b, &bx, &by);
    int64_t sb = nd[rb].ox;
    int fb = nd[rb].oy, g = f | fb;
    nd[a].parent = rb; nd[a].ox = bx - ex; nd[a].oy = by - ey;
    if (g) { span_count(u, f, -1); span_count(u, fb, -1); span_count(u, g, +1); }
    u->hist[0]--; u->hist[size_bin(sb)]--; u->hist[size_bin(sb + 1)]++;
    u->ncomp--;
    nd[rb].ox = (int32_t)(sb + 1);
    nd[rb].oy = g;
    if (sb + 1 > u->largest) u->largest = sb + 1;
}

/* add_site for 1 <= x <= Lx - 2, 1 <= y <= Ly - 2 on a lattice with
 * Lx, Ly >= 3 (nearly every site): the eight sites around a exist and are
 * distinct and nothing wraps, so which bonds to join (the same ones as
 * add_site with its plaquette shortcut) is a bit mask computed without
 * branches; the first bond hangs the new site under its neighbour's root. */
static inline void add_site_interior(uf_state *u, const int8_t *level, int Lx, int i, int32_t a)
{
    census_node *nd = u->node;
    const int8_t *l = level + a;
    /* present: level > i, or level == i and earlier in index order */
    const unsigned h0 = l[1] > i, h1 = l[Lx] > i, h2 = l[-1] >= i, h3 = l[-Lx] >= i;
    const unsigned g0 = l[1 + Lx] > i, g1 = l[-1 + Lx] > i, g2 = l[-1 - Lx] >= i, g3 = l[1 - Lx] >= i;
    const unsigned todo = h0 | ((h1 & ~(h0 & g0)) << 1) | ((h2 & ~(h1 & g1)) << 2) |
                          ((h3 & ~((h2 & g2) | (h0 & g3))) << 3);
    u->nsites++;
    if (!todo) {
        nd[a].parent = a; nd[a].ox = 1; nd[a].oy = 0;
        u->ncomp++; u->hist[0]++;
        if (u->largest < 1) u->largest = 1;
        return;
    }
    static const int ex[4] = {1, 0, -1, 0}, ey[4] = {0, 1, 0, -1};
    const int32_t off[4] = {1, Lx, -1, -Lx};
    int d = __builtin_ctz(todo);
    /* join_new expects the singleton counted */
    u->ncomp++; u->hist[0]++;
    join_new(u, a, 0, a + off[d], ex[d], ey[d]);
    for (unsigned rest = todo & (todo - 1); rest; rest &= rest - 1) {
        d = __builtin_ctz(rest);
        uf_bond(u, a, a + off[d], ex[d], ey[d]);
    }
}

/* Counting sort of the sites by level for components (stable: index order
 * within a level), in parallel over blocks of rows: each block counts its
 * levels, the blocks' offsets follow in block order, each block scatters.
 * Sites next to an edge, which need add_site's general neighbour logic,
 * are stored complemented (~a < 0), so the common case needs no division to
 * find x and y. start[l + 1] is where level l begins (l = -1..8). */
enum { SORT_BLOCKS = 64 };

static void sort_by_level(const census_input *in, int32_t *order, int64_t start[NLEVELS + 1])
{
    const int Lx = in->Lx, Ly = in->Ly;
    const bool plaquette = Lx >= 3 && Ly >= 3;
    const int nb = Ly < SORT_BLOCKS ? Ly : SORT_BLOCKS;
    int64_t cnt[SORT_BLOCKS][NLEVELS];
    memset(cnt, 0, sizeof cnt);
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < nb; b++) {
        const int8_t *lv = in->level + (int64_t)(b * (int64_t)Ly / nb) * Lx;
        const int8_t *end = in->level + (int64_t)((b + 1) * (int64_t)Ly / nb) * Lx;
        int64_t c[NLEVELS] = {0};
        for (; lv < end; lv++) c[*lv + 1]++;
        memcpy(cnt[b], c, sizeof c);
    }
    int64_t run = 0;
    start[0] = 0;
    for (int l = 0; l < NLEVELS; l++) {
        for (int b = 0; b < nb; b++) {
            int64_t k = cnt[b][l];
            cnt[b][l] = run;   /* now: where block b's sites of level l go */
            run += k;
        }
        start[l + 1] = run;
    }
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < nb; b++) {
        int64_t fill[NLEVELS];
        memcpy(fill, cnt[b], sizeof fill);
        for (int y = (int)(b * (int64_t)Ly / nb); y < (int)((b + 1) * (int64_t)Ly / nb); y++) {
            const int8_t *row = in->level + (int64_t)y * Lx;
            const int32_t base = y * Lx;
            if (!plaquette || y == 0 || y == Ly - 1) {
                for (int x = 0; x < Lx; x++) order[fill[row[x] + 1]++] = ~(base + x);
                continue;
            }
            order[fill[row[0] + 1]++] = ~base;
            for (int x = 1; x < Lx - 1; x++) order[fill[row[x] + 1]++] = base + x;
            order[fill[row[Lx - 1] + 1]++] = ~(base + Lx - 1);
        }
    }
}

/* Components of {level >= i} for i = 8 down to 0: the sets are nested, so
 * one union-find grows through all of them (sites of level i join at step
 * i, in index order, from sort_by_level) and the statistics, kept up to date
 * at every union, are read off after each step. Each site is handled once
 * and each bond at most once. */
static void components(const census_input *in, census_comp_work *w, const int64_t start[NLEVELS + 1],
                       census_result *r)
{
    const int Lx = in->Lx, Ly = in->Ly;
    uf_state u;
    memset(&u, 0, sizeof u);
    u.node = w->node;
    u.periodic = in->boundary == BOUNDARY_PERIODIC;
    u.plaquette = Lx >= 3 && Ly >= 3;
    const int32_t *order = w->order;

    for (int i = 8; i >= 0; i--) {
        for (int64_t k = start[i + 1]; k < start[i + 2]; k++) {
            const int32_t e = order[k];
            if (e >= 0) {
                add_site_interior(&u, in->level, Lx, i, e);
            } else {
                const int32_t a = ~e;
                add_site(&u, in, i, a % Lx, a / Lx);
            }
        }
        r->n_sites_ge[i] = u.nsites;
        r->n_components[i] = u.ncomp;
        r->largest[i] = u.largest;
        memcpy(r->size_hist[i], u.hist, sizeof u.hist);
        r->n_span_x[i] = u.nsx;
        r->n_span_y[i] = u.nsy;
        r->n_span_xy[i] = u.nsxy;
    }
}


int census_comp_work_init(census_comp_work *w, int Lx, int Ly, sm_error *err)
{
    memset(w, 0, sizeof *w);
    int64_t N = (int64_t)Lx * Ly;
    w->Lx = Lx; w->Ly = Ly; w->N = N;
    w->node = malloc(sizeof *w->node * (size_t)N);
    w->order = malloc(sizeof *w->order * (size_t)N);
    if (!w->node || !w->order) {
        census_comp_work_free(w);
        return sm_fail(err, "census: out of memory for %d x %d component buffers", Lx, Ly);
    }
    return 0;
}

void census_comp_work_free(census_comp_work *w)
{
    free(w->node); free(w->order);
    memset(w, 0, sizeof *w);
}

void census_components(const census_input *in, census_comp_work *w, census_result *r)
{
    int64_t start[NLEVELS + 1];
    sort_by_level(in, w->order, start);
    components(in, w, start, r);
}
