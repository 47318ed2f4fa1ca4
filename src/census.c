/* Cluster census against Table 1 and components of {level >= i}
 * (MODEL.md section 5.2). The definitions are in include/census.h; this file
 * is about doing the counting fast enough to run during a simulation.
 *
 * Fast path (fitting clusters). A footprint is a stack of row segments
 * |dx| <= w(dy), so every count over it is a sum of row-segment sums. One
 * pass builds row prefix sums of three per-site 0/1 indicators packed into
 * 21-bit lanes of a uint64_t (HSCL; HSCL with sigma = +1; HSCL with staggered
 * sigma*(-1)^(x+y) = +1), after which a V_i cluster costs 2i+1 pairs of
 * lookups plus its ring sites: O(N) work in all, integer sums only, so the
 * result is the same for any number of threads. The bond counts of a fitting
 * footprint do not depend on where it sits, so they are counted once per
 * level by walking the footprint's bonds (not taken from formulas).
 *
 * Slow path (truncated clusters, and census_cluster): explicit enumeration
 * of the distinct lattice sites and bonds the footprint covers. */
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "census.h"
#include "model.h"

enum { LANE_BITS = 21 };
#define LANE_MASK ((UINT64_C(1) << LANE_BITS) - 1)
#define LANE(v, k) ((int64_t)(((v) >> (LANE_BITS * (k))) & LANE_MASK))

/* ---------------------------------------------------------------- shapes */

/* Half extent of the footprint in x and in y (V8 loses its tips). */
static inline int fp_extent(int i) { return i == 8 ? 7 : i; }

/* Half width of the footprint row at offset dy (|dy| <= extent). */
static inline int fp_halfwidth(int i, int dy)
{
    int w = i - abs(dy), X = fp_extent(i);
    return w < X ? w : X;
}

static inline bool fp_contains(int i, int dx, int dy)
{
    int ady = abs(dy);
    return ady <= fp_extent(i) && abs(dx) <= fp_halfwidth(i, dy);
}

static inline bool fp_in_cavity(int i, int dx, int dy)
{
    return i == 8 && abs(dx) + abs(dy) <= 1;
}

bool census_fits(int Lx, int Ly, boundary_kind boundary, int i, int x, int y)
{
    int X = fp_extent(i);
    if (boundary == BOUNDARY_PERIODIC)
        return Lx >= 2 * X + 2 && Ly >= 2 * X + 2;
    /* open: the footprint and the sites one step outside it (which reach
     * X + 1 along the axes) must lie in the lattice, so no bond is cut */
    return x - X - 1 >= 0 && x + X + 1 <= Lx - 1 && y - X - 1 >= 0 && y + X + 1 <= Ly - 1;
}

/* Bond counts of a footprint in the infinite plane, by walking its sites'
 * four bonds: arrows end outside, internal bonds are seen from both ends. */
static void template_bonds(int i, int64_t *arrows, int64_t *cbosons)
{
    static const int ex[4] = {1, 0, -1, 0}, ey[4] = {0, 1, 0, -1};
    int64_t out = 0, ends = 0;
    int X = fp_extent(i);
    for (int dy = -X; dy <= X; dy++) {
        int w = fp_halfwidth(i, dy);
        for (int dx = -w; dx <= w; dx++)
            for (int d = 0; d < 4; d++) {
                if (fp_contains(i, dx + ex[d], dy + ey[d])) ends += 1;
                else { out += 1; ends += 2; }
            }
    }
    *arrows = out;
    *cbosons = ends / 2;
}

/* ------------------------------------------------------ explicit counting */

typedef struct {
    int64_t site;
    int order;   /* enumeration order: nearest image first */
    int8_t parity, cavity, ring;
} fp_site;

static int fp_site_cmp(const void *pa, const void *pb)
{
    const fp_site *a = pa, *b = pb;
    if (a->site != b->site) return a->site < b->site ? -1 : 1;
    return a->order - b->order;
}

static int fp_find(const fp_site *s, int n, int64_t site)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (s[mid].site == site) return mid;
        if (s[mid].site < site) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

/* Site reached from (x, y) by (dx, dy), or -1 off an open lattice. */
static inline int64_t site_at(int Lx, int Ly, bool periodic, int x, int y, int dx, int dy)
{
    int xx = x + dx, yy = y + dy;
    if (periodic) {
        xx %= Lx; if (xx < 0) xx += Lx;
        yy %= Ly; if (yy < 0) yy += Ly;
    } else if (xx < 0 || xx >= Lx || yy < 0 || yy >= Ly) {
        return -1;
    }
    return (int64_t)yy * Lx + xx;
}

/* Counts of the cluster of level i at (x, y) on the actual lattice. Sites are
 * enumerated ring by ring, so when a small periodic lattice makes several
 * offsets land on one site, that site is counted once, in the role (cavity,
 * ring, distance parity) of its nearest image. */
static void count_explicit(const census_input *in, int x, int y, int i, census_counts *c)
{
    static const int ex[4] = {1, 0, -1, 0}, ey[4] = {0, 1, 0, -1};
    const bool periodic = in->boundary == BOUNDARY_PERIODIC;
    const int Lx = in->Lx, Ly = in->Ly;
    fp_site s[2 * 8 * 8 + 2 * 8 + 1];
    int n = 0, order = 0;
    for (int d = 0; d <= i; d++) {
        for (int k = 0; k < (d == 0 ? 1 : 4 * d); k++) {
            /* walk the ring |dx| + |dy| = d counter-clockwise from (d, 0) */
            int side = d ? k / d : 0, t = d ? k % d : 0, dx, dy;
            switch (side) {
            case 0: dx = d - t; dy = t; break;
            case 1: dx = -t; dy = d - t; break;
            case 2: dx = -d + t; dy = -t; break;
            default: dx = t; dy = -d + t; break;
            }
            if (!fp_contains(i, dx, dy)) continue;
            int64_t site = site_at(Lx, Ly, periodic, x, y, dx, dy);
            order++;
            if (site < 0) continue;
            s[n].site = site;
            s[n].order = order;
            s[n].parity = (int8_t)(d & 1);
            s[n].cavity = fp_in_cavity(i, dx, dy);
            s[n].ring = d == i && i >= 1;
            n++;
        }
    }
    qsort(s, (size_t)n, sizeof s[0], fp_site_cmp);
    int m = 0;
    for (int k = 0; k < n; k++)
        if (m == 0 || s[k].site != s[m - 1].site) s[m++] = s[k];

    memset(c, 0, sizeof *c);
    const int8_t sa = in->sigma[(int64_t)y * Lx + x];
    int64_t ends = 0;
    for (int k = 0; k < m; k++) {
        int64_t b = s[k].site;
        int bx = (int)(b % Lx), by = (int)(b / Lx);
        bool hscl = in->level[b] >= 0;
        if (s[k].cavity) {
            c->cavity += hscl;
        } else if (hscl) {
            int8_t sb = in->sigma[b];
            c->hscl++;
            if (sb == sa) c->co++; else c->counter++;
            if (sb == (s[k].parity ? -sa : sa)) c->neel++;
            if (s[k].ring) c->jamming += 2;
        }
        for (int d = 0; d < 4; d++) {
            int64_t nb = site_at(Lx, Ly, periodic, bx, by, ex[d], ey[d]);
            if (nb < 0) continue;  /* bond cut by an open edge: no bond */
            if (fp_find(s, m, nb) >= 0) ends += 1;
            else { c->arrows++; ends += 2; }
        }
    }
    c->cbosons = ends / 2;
    c->n = c->hscl + c->arrows;
}

int census_cluster(const census_input *in, int64_t a, census_counts *c, bool *fits,
                   sm_error *err)
{
    int64_t N = (int64_t)in->Lx * in->Ly;
    if (a < 0 || a >= N) return sm_fail(err, "census_cluster: site %lld outside 0..%lld", (long long)a, (long long)N - 1);
    int i = in->level[a];
    if (i < 0 || i > 8) return sm_fail(err, "census_cluster: site %lld has level %d, not a cluster centre", (long long)a, i);
    int x = (int)(a % in->Lx), y = (int)(a / in->Lx);
    if (fits) *fits = census_fits(in->Lx, in->Ly, in->boundary, i, x, y);
    count_explicit(in, x, y, i, c);
    return 0;
}

/* ------------------------------------------------------------ fast path */

typedef struct {
    int Lx, Ly;
    const int8_t *level, *sigma;
    const uint64_t *prefix;
    int64_t arrows[CENSUS_NV], cbosons[CENSUS_NV];
} fast_ctx;

/* Adds the packed sums of row y (image) over [xl, xr] (unwrapped, width <
 * Lx) to h (HSCLs), p (sigma = +1) and sp (staggered sigma = +1 measured with
 * the unwrapped parity). Going once round an odd periodic direction flips
 * the parity of x + y, which `flip` accounts for. */
static inline void row_sum(const fast_ctx *c, int y, int xl, int xr, int flip,
                           int64_t *h, int64_t *p, int64_t *sp)
{
    const uint64_t *P = c->prefix + (int64_t)y * (c->Lx + 1);
    const int Lx = c->Lx, oddx = Lx & 1;
    uint64_t v[2];
    int f[2], nparts = 1;
    if (xl < 0) {
        v[0] = P[Lx] - P[xl + Lx]; f[0] = flip ^ oddx;
        v[1] = P[xr + 1] - P[0];   f[1] = flip;
        nparts = 2;
    } else if (xr >= Lx) {
        v[0] = P[Lx] - P[xl];          f[0] = flip;
        v[1] = P[xr - Lx + 1] - P[0];  f[1] = flip ^ oddx;
        nparts = 2;
    } else {
        v[0] = P[xr + 1] - P[xl]; f[0] = flip;
    }
    for (int k = 0; k < nparts; k++) {
        int64_t n0 = LANE(v[k], 0), n2 = LANE(v[k], 2);
        *h += n0;
        *p += LANE(v[k], 1);
        *sp += f[k] ? n0 - n2 : n2;
    }
}

static inline int wrap(int x, int L) { return x < 0 ? x + L : (x >= L ? x - L : x); }

/* Finishes a cluster's counts from its footprint sums: h HSCLs, p of them
 * with sigma = +1, sp with staggered sigma = +1 (unwrapped parity), ring
 * HSCLs on the outermost ring. */
static inline void finish_counts(const fast_ctx *c, int x0, int y0, int i, int64_t h, int64_t p,
                                 int64_t sp, int64_t ring, census_counts *out)
{
    const int Lx = c->Lx, Ly = c->Ly;
    const int8_t *level = c->level, *sigma = c->sigma;
    const int64_t a = (int64_t)y0 * Lx + x0;
    const int sa = sigma[a];
    const int ta = ((x0 + y0) & 1) ? -sa : sa;
    int64_t co = sa > 0 ? p : h - p;
    int64_t neel = ta > 0 ? sp : h - sp;
    int64_t cav = 0;
    if (i == 8) {
        /* the cavity: the centre (an HSCL, distance 0) and its 4 neighbours */
        static const int ex[4] = {1, 0, -1, 0}, ey[4] = {0, 1, 0, -1};
        cav = 1; co -= 1; neel -= 1;
        for (int d = 0; d < 4; d++) {
            int64_t b = (int64_t)wrap(y0 + ey[d], Ly) * Lx + wrap(x0 + ex[d], Lx);
            if (level[b] < 0) continue;
            cav++;
            if (sigma[b] == sa) co--; else neel--;
        }
    }
    out->hscl = h - cav;
    out->cavity = cav;
    out->arrows = c->arrows[i];
    out->cbosons = c->cbosons[i];
    out->n = out->hscl + out->arrows;
    out->jamming = 2 * ring;
    out->co = co;
    out->counter = out->hscl - co;
    out->neel = neel;
}

/* Clusters whose rows neither wrap nor leave the lattice (nearly all of them
 * on a large lattice): the packed row sums are added as they are - no lane
 * can carry into the next, since a footprint has fewer than 2^21 sites - and
 * unpacked once. */
static void count_interior(const fast_ctx *c, int x0, int y0, int i, census_counts *out)
{
    const int Lx = c->Lx, X = fp_extent(i);
    const uint64_t *P = c->prefix + (int64_t)(y0 - X) * (Lx + 1) + x0;
    const int8_t *lv = c->level + (int64_t)(y0 - X) * Lx + x0;
    uint64_t v = 0;
    int64_t ring = 0;
    for (int dy = -X; dy <= X; dy++, P += Lx + 1, lv += Lx) {
        int w = fp_halfwidth(i, dy);
        v += P[w + 1] - P[-w];
        if (abs(dy) + w == i && i >= 1) ring += (lv[-w] >= 0) + (w > 0 && lv[w] >= 0);
    }
    finish_counts(c, x0, y0, i, LANE(v, 0), LANE(v, 1), LANE(v, 2), ring, out);
}

/* Any fitting cluster, its rows possibly wrapping round a periodic lattice. */
static void count_fast(const fast_ctx *c, int x0, int y0, int i, census_counts *out)
{
    const int Lx = c->Lx, Ly = c->Ly, X = fp_extent(i);
    const int8_t *level = c->level;
    int64_t h = 0, p = 0, sp = 0, ring = 0;
    for (int dy = -X; dy <= X; dy++) {
        int yy = y0 + dy, flip = 0;
        if (yy < 0) { yy += Ly; flip = Ly & 1; }
        else if (yy >= Ly) { yy -= Ly; flip = Ly & 1; }
        int w = fp_halfwidth(i, dy);
        row_sum(c, yy, x0 - w, x0 + w, flip, &h, &p, &sp);
        if (i >= 1 && abs(dy) + w == i) {
            const int8_t *row = level + (int64_t)yy * Lx;
            ring += row[wrap(x0 - w, Lx)] >= 0;
            if (w > 0) ring += row[wrap(x0 + w, Lx)] >= 0;
        }
    }
    finish_counts(c, x0, y0, i, h, p, sp, ring, out);
}

static inline void counts_add(census_counts *s, const census_counts *c)
{
    s->hscl += c->hscl; s->cavity += c->cavity; s->arrows += c->arrows;
    s->cbosons += c->cbosons; s->n += c->n; s->jamming += c->jamming;
    s->co += c->co; s->counter += c->counter; s->neel += c->neel;
}

/* ------------------------------------------------------------ components */

enum { FL_WX = 1, FL_WY = 2, FL_L = 4, FL_R = 8, FL_B = 16, FL_T = 32 };

typedef struct {
    census_node *node;
    bool periodic;
    int64_t ncomp, largest, nsx, nsy, nsxy;
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
 * along the tree). Full path compression keeps the trees flat. */
static inline int32_t uf_find(census_node *nd, int32_t a, int32_t *dx, int32_t *dy)
{
    int32_t r = a, sx = 0, sy = 0;
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
 * bond winds around the torus: the component wraps in that direction. */
static inline void uf_bond(uf_state *u, int32_t a, int32_t b, int ex, int ey)
{
    census_node *nd = u->node;
    int32_t ax, ay, bx, by;
    int32_t ra = uf_find(nd, a, &ax, &ay), rb = uf_find(nd, b, &bx, &by);
    int32_t dx = ax + ex - bx, dy = ay + ey - by;  /* position of rb relative to ra */
    if (ra == rb) {
        int f = nd[ra].flags, g = f | (dx ? FL_WX : 0) | (dy ? FL_WY : 0);
        if (g != f) { span_count(u, f, -1); span_count(u, g, +1); nd[ra].flags = g; }
        return;
    }
    int64_t sa = nd[ra].size, sb = nd[rb].size;
    int fa = nd[ra].flags, fb = nd[rb].flags, g = fa | fb;
    span_count(u, fa, -1); span_count(u, fb, -1); span_count(u, g, +1);
    u->hist[size_bin(sa)]--; u->hist[size_bin(sb)]--; u->hist[size_bin(sa + sb)]++;
    u->ncomp--;
    if (sa < sb) { nd[ra].parent = rb; nd[ra].ox = -dx; nd[ra].oy = -dy; ra = rb; }
    else { nd[rb].parent = ra; nd[rb].ox = dx; nd[rb].oy = dy; }
    nd[ra].size = (int32_t)(sa + sb);
    nd[ra].flags = g;
    if (sa + sb > u->largest) u->largest = sa + sb;
}

/* Components of {level >= i} for i = 8 down to 0: the sets are nested, so
 * one union-find grows through all of them (sites of level i join at step
 * i) and the statistics, kept up to date at every union, are read off after
 * each step. Each site and bond is handled once. A counting sort by level
 * (stable, so index order within a level) replaces nine scans whose
 * unpredictable branches cost more than the unions. */
static void components(const census_input *in, census_work *w, census_result *r)
{
    const int Lx = in->Lx, Ly = in->Ly;
    const int64_t N = (int64_t)Lx * Ly;
    const int8_t *level = in->level;
    census_node *nd = w->node;
    uf_state u;
    memset(&u, 0, sizeof u);
    u.node = nd;
    u.periodic = in->boundary == BOUNDARY_PERIODIC;

    int64_t start[NLEVELS + 1] = {0};
    for (int64_t a = 0; a < N; a++) start[level[a] + 2]++;
    for (int l = 0; l < NLEVELS; l++) start[l + 1] += start[l];
    int64_t fill[NLEVELS];
    memcpy(fill, start, sizeof fill);
    for (int64_t a = 0; a < N; a++) w->order[fill[level[a] + 1]++] = (int32_t)a;

    int64_t nsites = 0;
    for (int i = 8; i >= 0; i--) {
        for (int64_t k = start[i + 1]; k < start[i + 2]; k++) {
            const int32_t a = w->order[k];
            const int x = (int)(a % Lx), y = (int)(a / Lx);
            int f = 0;
            if (!u.periodic)
                f = (x == 0 ? FL_L : 0) | (x == Lx - 1 ? FL_R : 0) |
                    (y == 0 ? FL_B : 0) | (y == Ly - 1 ? FL_T : 0);
            nd[a].parent = a; nd[a].size = 1; nd[a].ox = 0; nd[a].oy = 0;
            nd[a].flags = f;
            nsites++; u.ncomp++; u.hist[0]++;
            if (u.largest < 1) u.largest = 1;
            span_count(&u, f, +1);
            /* bonds to sites already present: higher levels, or level i
             * earlier in index order; a self-bond (length-1 periodic
             * direction) once, through its + direction */
            int32_t nb[4] = {-1, -1, -1, -1};
            if (x + 1 < Lx) nb[0] = a + 1; else if (u.periodic) nb[0] = a + 1 - Lx;
            if (y + 1 < Ly) nb[1] = a + Lx; else if (u.periodic) nb[1] = (int32_t)(a + Lx - N);
            if (x > 0) nb[2] = a - 1; else if (u.periodic) nb[2] = a - 1 + Lx;
            if (y > 0) nb[3] = a - Lx; else if (u.periodic) nb[3] = (int32_t)(a - Lx + N);
            static const int ex[4] = {1, 0, -1, 0}, ey[4] = {0, 1, 0, -1};
            for (int d = 0; d < 4; d++) {
                int32_t b = nb[d];
                if (b < 0) continue;
                int lb = level[b];
                if (lb > i || (lb == i && (b < a || (b == a && d < 2))))
                    uf_bond(&u, a, b, ex[d], ey[d]);
            }
        }
        r->n_sites_ge[i] = nsites;
        r->n_components[i] = u.ncomp;
        r->largest[i] = u.largest;
        memcpy(r->size_hist[i], u.hist, sizeof u.hist);
        r->n_span_x[i] = u.nsx;
        r->n_span_y[i] = u.nsy;
        r->n_span_xy[i] = u.nsxy;
    }
}

/* ---------------------------------------------------------------- driver */

int census_work_init(census_work *w, int Lx, int Ly, sm_error *err)
{
    memset(w, 0, sizeof *w);
    if (Lx < 1 || Ly < 1) return sm_fail(err, "census: lattice %d x %d is empty", Lx, Ly);
    if (Lx >= (1 << LANE_BITS))
        return sm_fail(err, "census: Lx = %d too large (row sums are packed in %d bits)", Lx, LANE_BITS);
    int64_t N = (int64_t)Lx * Ly;
    if (N > INT32_MAX) return sm_fail(err, "census: %lld sites exceed the 32-bit site index", (long long)N);
    w->Lx = Lx; w->Ly = Ly; w->N = N;
    w->prefix = malloc(sizeof *w->prefix * (size_t)(Lx + 1) * (size_t)Ly);
    w->node = malloc(sizeof *w->node * (size_t)N);
    w->order = malloc(sizeof *w->order * (size_t)N);
    if (!w->prefix || !w->node || !w->order) {
        census_work_free(w);
        return sm_fail(err, "census: out of memory for %d x %d work buffers", Lx, Ly);
    }
    return 0;
}

void census_work_free(census_work *w)
{
    free(w->prefix); free(w->node); free(w->order);
    memset(w, 0, sizeof *w);
}

/* Packed 0/1 indicators of one site (see the top of the file). */
static inline uint64_t pack_site(int l, int s, int x, int y)
{
    if (l < 0) return 0;
    int st = ((x + y) & 1) ? -s : s;
    return 1 | ((uint64_t)(s > 0) << LANE_BITS) | ((uint64_t)(st > 0) << (2 * LANE_BITS));
}

int census_compute(const census_input *in, census_work *work, census_result *out,
                   sm_error *err)
{
    census_work local;
    if (!work) {
        if (census_work_init(&local, in->Lx, in->Ly, err)) return 1;
        work = &local;
    } else if (work->Lx != in->Lx || work->Ly != in->Ly) {
        return sm_fail(err, "census: work buffers are for %d x %d, lattice is %d x %d",
                       work->Lx, work->Ly, in->Lx, in->Ly);
    }
    const int Lx = in->Lx, Ly = in->Ly;
    memset(out, 0, sizeof *out);

    /* prefix sums, checking the input on the way */
    int64_t bad = INT64_MAX;
    #pragma omp parallel for schedule(static) reduction(min : bad)
    for (int y = 0; y < Ly; y++) {
        uint64_t *P = work->prefix + (int64_t)y * (Lx + 1);
        const int8_t *lv = in->level + (int64_t)y * Lx, *sg = in->sigma + (int64_t)y * Lx;
        uint64_t acc = 0;
        P[0] = 0;
        for (int x = 0; x < Lx; x++) {
            int l = lv[x], s = sg[x];
            if (l < -1 || l > 8 || (s != 1 && s != -1)) {
                int64_t a = (int64_t)y * Lx + x;
                if (a < bad) bad = a;
            }
            acc += pack_site(l, s, x, y);
            P[x + 1] = acc;
        }
    }
    if (bad != INT64_MAX) {
        if (work == &local) census_work_free(&local);
        return sm_fail(err, "census: site %lld has level %d, sigma %d (need -1..8, +-1)",
                       (long long)bad, in->level[bad], in->sigma[bad]);
    }

    fast_ctx ctx = { .Lx = Lx, .Ly = Ly, .level = in->level, .sigma = in->sigma,
                     .prefix = work->prefix };
    int64_t refv[CENSUS_NV][T1_NCOLS], refd[CENSUS_NV][T1_NCOLS];
    bool refon[CENSUS_NV][T1_NCOLS];
    for (int i = 0; i < CENSUS_NV; i++) {
        template_bonds(i, &ctx.arrows[i], &ctx.cbosons[i]);
        for (int col = 0; col < T1_NCOLS; col++)
            refon[i][col] = table1_reference(i, (table1_col)col, &refv[i][col], &refd[i][col]);
    }

    #pragma omp parallel
    {
        /* the union-find is sequential: one thread runs it while the
         * others start on the clusters */
        #pragma omp single nowait
        if (!in->skip_components) components(in, work, out);

        int64_t nc[CENSUS_NV] = {0}, nt[CENSUS_NV] = {0}, nm[CENSUS_NV] = {0};
        int64_t ne[CENSUS_NV][T1_NCOLS];
        census_counts sf[CENSUS_NV], st[CENSUS_NV];
        memset(ne, 0, sizeof ne); memset(sf, 0, sizeof sf); memset(st, 0, sizeof st);

        #pragma omp for schedule(dynamic, 8) nowait
        for (int y = 0; y < Ly; y++) {
            for (int x = 0; x < Lx; x++) {
                int i = in->level[(int64_t)y * Lx + x];
                if (i < 0) continue;
                census_counts c;
                nc[i]++;
                if (!census_fits(Lx, Ly, in->boundary, i, x, y)) {
                    count_explicit(in, x, y, i, &c);
                    nt[i]++;
                    counts_add(&st[i], &c);
                    continue;
                }
                int X = fp_extent(i);
                if (x >= X && x + X < Lx && y >= X && y + X < Ly) count_interior(&ctx, x, y, i, &c);
                else count_fast(&ctx, x, y, i, &c);
                counts_add(&sf[i], &c);
                bool all = true;
                for (int col = 0; col < T1_NCOLS; col++) {
                    int64_t den, v = census_column(i, (table1_col)col, &c, &den);
                    bool eq = refon[i][col] && v == refv[i][col] && den == refd[i][col];
                    ne[i][col] += eq;
                    all &= eq || !refon[i][col];
                }
                nm[i] += all;
            }
        }
        #pragma omp critical(census_merge)
        for (int i = 0; i < CENSUS_NV; i++) {
            out->n_centres[i] += nc[i];
            out->n_truncated[i] += nt[i];
            out->n_match[i] += nm[i];
            for (int col = 0; col < T1_NCOLS; col++) out->n_equal[i][col] += ne[i][col];
            counts_add(&out->sum[i], &sf[i]);
            counts_add(&out->sum_truncated[i], &st[i]);
        }
    }

    if (work == &local) census_work_free(&local);
    return 0;
}

double census_mean(const census_result *r, int i, int64_t sum)
{
    int64_t n = r->n_centres[i] - r->n_truncated[i];
    return n > 0 ? (double)sum / (double)n : NAN;
}

double census_match_fraction(const census_result *r, int i)
{
    return census_mean(r, i, r->n_match[i]);
}
