/* Cluster census against Table 1 and components of {level >= i}
 * (MODEL.md section 5.2). The definitions are in include/census.h; this file
 * is about doing the counting fast enough to run during a simulation.
 *
 * Fast path (fitting clusters). A footprint is a stack of row segments
 * |dx| <= w(dy), so every count over it is a sum of row-segment sums. One
 * pass builds row prefix sums of three per-site 0/1 indicators packed into
 * 21-bit lanes of a uint64_t (HSCL; HSCL with sigma = +1; HSCL with staggered
 * sigma*(-1)^(x+y) = +1), after which a V_i cluster costs 2i+1 pairs of
 * lookups; its outermost ring (jamming) costs 8 lookups in diagonal prefix
 * sums of the HSCL indicator for i >= DIAG_MIN, or the 2(2i+1) row ends
 * below. The sites of each level are found with a SWAR byte compare and
 * handled by code inlined for that level (no branch on every site's level,
 * unrolled row loops). The Table 1 comparison is a few table lookups giving
 * the set of equal columns, kept as a histogram per level; the sums are kept
 * in the few numbers the counts are linear in. O(N) work in all, integer
 * sums only, so the result is the same for any number of threads. The bond
 * counts of a fitting footprint do not depend on where it sits, so they are
 * counted once per level by walking the footprint's bonds (not taken from
 * formulas).
 *
 * Slow path (truncated clusters, clusters near the lattice edge, and
 * census_cluster): explicit enumeration of the distinct lattice sites and
 * bonds the footprint covers, or the row sums with wrapping.
 *
 * Components: one union-find grows through the nested sets {level >= i},
 * i = 8..0 (see components()); sites in sorted-by-level order, the bonds of
 * interior sites chosen by a branch-free mask that also drops bonds closing
 * an elementary plaquette (they cannot change any result).
 *
 * tests/unit/test_census.c compares every field of the result with
 * obvious reference computations on random and near-ideal lattices. */
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "census.h"
#include "model.h"

enum { LANE_BITS = 21 };

/* The per-level cluster code is written once with the level as a parameter;
 * inlined with a constant level its row loop unrolls into straight code. */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif
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
    const uint16_t *diag_a, *diag_b;   /* diagonal prefix sums of the HSCL indicator */
    int64_t arrows[CENSUS_NV], cbosons[CENSUS_NV];
} fast_ctx;

/* Levels from which fast_cluster counts the ring HSCLs with the diagonal
 * prefix sums (8 lookups) rather than at the 2(2i+1) row ends. */
enum { DIAG_MIN = 4 };

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

/* The centre's mosaic counts from its footprint sums (h HSCLs, p of them
 * with sigma = +1, sp with staggered sigma = +1, unwrapped parity): *co
 * HSCLs with the centre's sigma, *neel where the centre's Neel mosaic puts
 * them; for V8 the cavity - the centre (an HSCL) and its HSCL neighbours
 * nb[] - is counted in *cav and taken out of both. */
static inline void mosaic_counts(const fast_ctx *c, int x0, int y0, int i, int64_t h, int64_t p,
                                 int64_t sp, const int64_t nb[4], int64_t *co, int64_t *neel,
                                 int64_t *cav)
{
    const int sa = c->sigma[(int64_t)y0 * c->Lx + x0];
    const int ta = ((x0 + y0) & 1) ? -sa : sa;
    *co = sa > 0 ? p : h - p;
    *neel = ta > 0 ? sp : h - sp;
    *cav = 0;
    if (i != 8) return;
    *cav = 1; --*co; --*neel;
    for (int d = 0; d < 4; d++) {
        if (c->level[nb[d]] < 0) continue;
        ++*cav;
        if (c->sigma[nb[d]] == sa) --*co; else --*neel;
    }
}

/* Finishes a cluster's counts from its footprint sums (as for
 * mosaic_counts) and ring, the HSCLs on the outermost ring; the V8 cavity's
 * neighbours wrap round a periodic lattice. */
static inline void finish_counts(const fast_ctx *c, int x0, int y0, int i, int64_t h, int64_t p,
                                 int64_t sp, int64_t ring, census_counts *out)
{
    const int Lx = c->Lx, Ly = c->Ly;
    int64_t nb[4] = {0, 0, 0, 0}, co, neel, cav;
    if (i == 8) {
        static const int ex[4] = {1, 0, -1, 0}, ey[4] = {0, 1, 0, -1};
        for (int d = 0; d < 4; d++)
            nb[d] = (int64_t)wrap(y0 + ey[d], Ly) * Lx + wrap(x0 + ex[d], Lx);
    }
    mosaic_counts(c, x0, y0, i, h, p, sp, nb, &co, &neel, &cav);
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

/* Table 1 comparison by lookup. Every column census_column reports is a
 * function of one number of the cluster (hscl, hscl + cavity, ring HSCLs,
 * co or counter) or a constant of the level (arrows and C-bosons of a fitting
 * footprint), so per level and number a table gives the set of columns
 * (a bit mask) in which a cluster equals Table 1; the tables are filled by
 * census_column itself, so the definition stays in one place. A fitting
 * footprint has at most 145 sites, so every number is below 256. A cluster
 * then costs five lookups and one histogram increment (per level, over the
 * masks); n_equal and n_match are read off the histogram at the end. */
enum { KEY_HSCL, KEY_H, KEY_RING, KEY_CO, KEY_COUNTER, NKEYS, KEY_NONE = NKEYS };
typedef char census_cols_fit_a_byte[T1_NCOLS <= 8 ? 1 : -1];

typedef struct {
    uint8_t mask[NKEYS][256];   /* columns equal to Table 1 given that number */
    uint8_t fixed;              /* columns equal whatever the cluster (constants) */
    uint8_t on;                 /* columns compared */
} match_table;

static void match_table_init(match_table *m, int i, int64_t arrows, int64_t cbosons)
{
    memset(m, 0, sizeof *m);
    for (int col = 0; col < T1_NCOLS; col++) {
        int64_t refv, refd;
        bool on = table1_reference(i, (table1_col)col, &refv, &refd);
        int key;
        switch ((table1_col)col) {
        case T1_COL_N: case T1_COL_DENSITY: key = KEY_HSCL; break;
        case T1_COL_HSCL: key = KEY_H; break;
        case T1_COL_JAMMING: key = KEY_RING; break;
        case T1_COL_PLUSZ: key = KEY_CO; break;
        case T1_COL_MINUSZ: key = KEY_COUNTER; break;
        default: key = KEY_NONE; break;
        }
        if (on) m->on |= (uint8_t)(1u << col);
        for (int v = 0; v < 256; v++) {
            /* every field as it follows from its own number being v */
            census_counts c = { .hscl = v, .cavity = 0, .arrows = arrows, .cbosons = cbosons,
                                .n = v + arrows, .jamming = 2 * v, .co = v, .counter = v,
                                .neel = v };
            int64_t den, val = census_column(i, (table1_col)col, &c, &den);
            bool eq = on && val == refv && den == refd;
            if (!eq) continue;
            if (key == KEY_NONE) { m->fixed |= (uint8_t)(1u << col); break; }
            m->mask[key][v] |= (uint8_t)(1u << col);
        }
    }
}

/* Sums over the fitting clusters of one level; the per-cluster counts are
 * linear in these (arrows and C-bosons are the same for every fitting
 * cluster), so the census_counts sums are formed once at the end. */
typedef struct {
    int64_t cnt, hscl, cav, co, neel, ring;
    int64_t hist[256];   /* clusters by mask of columns equal to Table 1 */
} level_acc;

static inline void record(level_acc *A, const match_table *M, int64_t hscl, int64_t cav,
                          int64_t co, int64_t neel, int64_t ring)
{
    A->cnt++; A->hscl += hscl; A->cav += cav; A->co += co; A->neel += neel; A->ring += ring;
    unsigned mask = M->fixed | M->mask[KEY_HSCL][hscl] | M->mask[KEY_H][hscl + cav] |
                    M->mask[KEY_RING][ring] | M->mask[KEY_CO][co] | M->mask[KEY_COUNTER][hscl - co];
    A->hist[mask]++;
}

/* A fitting cluster of level i (a constant where this is inlined, so the
 * row loop unrolls) whose footprint and its outer layer lie inside the
 * lattice without wrapping (9 <= x <= Lx - 10, same in y): the packed row
 * sums are added as they are (no lane can carry into the next, a footprint
 * having fewer than 2^21 sites) and unpacked once; the ring sites are the
 * row ends. Same numbers as count_interior + finish_counts. */
static ALWAYS_INLINE void fast_cluster(const fast_ctx *c, level_acc *A, const match_table *M,
                                int x0, int y0, const int i)
{
    const int Lx = c->Lx, X = fp_extent(i);
    const uint64_t *P = c->prefix + (int64_t)(y0 - X) * (Lx + 1) + x0;
    const int8_t *lv = c->level + (int64_t)(y0 - X) * Lx + x0;
    uint64_t v = 0;
    int64_t ring = 0;
#if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC unroll 17
#endif
    for (int dy = -X; dy <= X; dy++, P += Lx + 1, lv += Lx) {
        const int w = fp_halfwidth(i, dy);
        v += P[w + 1] - P[-w];
        if (i >= 1 && i < DIAG_MIN && abs(dy) + w == i) ring += (lv[-w] >= 0) + (w > 0 && lv[w] >= 0);
    }
    if (i >= DIAG_MIN) {
        /* The ring as four diagonal segments, each the difference of two
         * diagonal prefix sums (uint16 arithmetic is exact: a segment holds
         * at most 8 HSCLs). i <= 7: the segments start at (i, 0), (0, i),
         * (-i, 0), (0, -i) and stop one short of the next corner; V8: the
         * tips are not in the footprint, so each segment leaves out both
         * corners. */
        const uint16_t *A = c->diag_a + (int64_t)y0 * Lx + x0;   /* along (+1, +1) */
        const uint16_t *B = c->diag_b + (int64_t)y0 * Lx + x0;   /* along (-1, +1) */
        const int64_t L = Lx;
        uint16_t r;
        if (i < 8) {
            r = (uint16_t)(B[(i - 1) * L + 1] - B[-L + i + 1]);
            r = (uint16_t)(r + (uint16_t)(A[i * L] - A[-i]));
            r = (uint16_t)(r + (uint16_t)(B[-i] - B[-i * L]));
            r = (uint16_t)(r + (uint16_t)(A[-L + i - 1] - A[-(i + 1) * L - 1]));
        } else {
            r = (uint16_t)(B[7 * L + 1] - B[8]);
            r = (uint16_t)(r + (uint16_t)(A[7 * L - 1] - A[-8]));
            r = (uint16_t)(r + (uint16_t)(B[-L - 7] - B[-8 * L]));
            r = (uint16_t)(r + (uint16_t)(A[-L + 7] - A[-8 * L]));
        }
        ring = r;
    }
    const int64_t h = LANE(v, 0), a = (int64_t)y0 * Lx + x0;
    const int64_t nb[4] = {a + 1, a - 1, a + Lx, a - Lx};   /* no wrap in the fast region */
    int64_t co, neel, cav;
    mosaic_counts(c, x0, y0, i, h, LANE(v, 1), LANE(v, 2), nb, &co, &neel, &cav);
    record(A, M, h - cav, cav, co, neel, ring);
}

/* Per-thread accumulators of the cluster part. */
typedef struct {
    level_acc fit[CENSUS_NV];
    int64_t ntrunc[CENSUS_NV];
    census_counts trunc[CENSUS_NV];
} cluster_acc;

/* Any cluster outside the fast region: truncated ones by explicit counting,
 * fitting ones by count_interior / count_fast. */
static void general_cluster(const census_input *in, const fast_ctx *c, cluster_acc *T,
                            const match_table *M, int x, int y, int i)
{
    census_counts k;
    if (!census_fits(in->Lx, in->Ly, in->boundary, i, x, y)) {
        count_explicit(in, x, y, i, &k);
        T->ntrunc[i]++;
        counts_add(&T->trunc[i], &k);
        return;
    }
    int X = fp_extent(i);
    if (x >= X && x + X < in->Lx && y >= X && y + X < in->Ly) count_interior(c, x, y, i, &k);
    else count_fast(c, x, y, i, &k);
    record(&T->fit[i], &M[i], k.hscl, k.cavity, k.co, k.neel, k.jamming / 2);
}

/* The clusters of level i (a constant where this is inlined) in row y. The
 * sites of that level are found eight at a time by a SWAR byte compare, so
 * each level gets its own unrolled code without a branch on the level of
 * every site. fast_y: the row is at least 9 rows from both edges. */
static ALWAYS_INLINE void row_level(const census_input *in, const fast_ctx *c, cluster_acc *T,
                             const match_table *M, int y, bool fast_y, const int i)
{
    const int Lx = in->Lx;
    const int8_t *row = in->level + (int64_t)y * Lx;
    int x0 = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t pat = UINT64_C(0x0101010101010101) * (uint8_t)i;
    const uint64_t low7 = UINT64_C(0x7f7f7f7f7f7f7f7f);
    for (; x0 + 8 <= Lx; x0 += 8) {
        uint64_t v;
        memcpy(&v, row + x0, 8);
        v ^= pat;
        /* high bit of each byte equal to i (exact: no borrow between bytes) */
        uint64_t m = ~(((v & low7) + low7) | v | low7);
        while (m) {
            int x = x0 + (__builtin_ctzll(m) >> 3);
            m &= m - 1;
            if (fast_y && x >= 9 && x + 9 < Lx) fast_cluster(c, &T->fit[i], &M[i], x, y, i);
            else general_cluster(in, c, T, M, x, y, i);
        }
    }
#endif
    for (int x = x0; x < Lx; x++) {
        if (row[x] != i) continue;
        if (fast_y && x >= 9 && x + 9 < Lx) fast_cluster(c, &T->fit[i], &M[i], x, y, i);
        else general_cluster(in, c, T, M, x, y, i);
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
    w->diag_a = malloc(sizeof *w->diag_a * (size_t)N);
    w->diag_b = malloc(sizeof *w->diag_b * (size_t)N);
    if (!w->prefix || !w->diag_a || !w->diag_b || census_comp_work_init(&w->comp, Lx, Ly, err)) {
        census_work_free(w);
        return sm_fail(err, "census: out of memory for %d x %d work buffers", Lx, Ly);
    }
    return 0;
}

void census_work_free(census_work *w)
{
    free(w->prefix); free(w->diag_a); free(w->diag_b);
    census_comp_work_free(&w->comp);
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
                     .prefix = work->prefix, .diag_a = work->diag_a, .diag_b = work->diag_b };
    /* Diagonal prefix sums of the HSCL indicator, modulo 2^16 (only
     * differences over at most 8 sites are used):
     * diag_a(x, y) = H(x, y) + diag_a(x - 1, y - 1), diag_b(x, y) = H(x, y) +
     * diag_b(x + 1, y - 1), zero off the lattice (no wrapping: they serve
     * only clusters 9 or more sites from every edge). Sequential in y: each
     * row needs the previous one; it is a light pass. */
    if (Lx >= 19 && Ly >= 19) {
        uint16_t *da = work->diag_a, *db = work->diag_b;
        for (int y = 0; y < Ly; y++) {
            const int8_t *lv = in->level + (int64_t)y * Lx;
            uint16_t *ra = da + (int64_t)y * Lx, *rb = db + (int64_t)y * Lx;
            if (y == 0) {
                for (int x = 0; x < Lx; x++) ra[x] = rb[x] = lv[x] >= 0;
                continue;
            }
            const uint16_t *pa = ra - Lx, *pb = rb - Lx;
            ra[0] = lv[0] >= 0;
            for (int x = 1; x < Lx; x++) ra[x] = (uint16_t)((lv[x] >= 0) + pa[x - 1]);
            for (int x = 0; x < Lx - 1; x++) rb[x] = (uint16_t)((lv[x] >= 0) + pb[x + 1]);
            rb[Lx - 1] = lv[Lx - 1] >= 0;
        }
    }
    match_table M[CENSUS_NV];
    for (int i = 0; i < CENSUS_NV; i++) {
        template_bonds(i, &ctx.arrows[i], &ctx.cbosons[i]);
        match_table_init(&M[i], i, ctx.arrows[i], ctx.cbosons[i]);
    }

    if (!in->skip_components) census_components(in, &work->comp, out);

    #pragma omp parallel
    {
        cluster_acc T;
        memset(&T, 0, sizeof T);
        #pragma omp for schedule(dynamic, 8) nowait
        for (int y = 0; y < Ly; y++) {
            const bool fast_y = y >= 9 && y + 9 < Ly;
            row_level(in, &ctx, &T, M, y, fast_y, 0);
            row_level(in, &ctx, &T, M, y, fast_y, 1);
            row_level(in, &ctx, &T, M, y, fast_y, 2);
            row_level(in, &ctx, &T, M, y, fast_y, 3);
            row_level(in, &ctx, &T, M, y, fast_y, 4);
            row_level(in, &ctx, &T, M, y, fast_y, 5);
            row_level(in, &ctx, &T, M, y, fast_y, 6);
            row_level(in, &ctx, &T, M, y, fast_y, 7);
            row_level(in, &ctx, &T, M, y, fast_y, 8);
        }
        #pragma omp critical(census_merge)
        for (int i = 0; i < CENSUS_NV; i++) {
            const level_acc *A = &T.fit[i];
            census_counts f = { .hscl = A->hscl, .cavity = A->cav,
                                .arrows = A->cnt * ctx.arrows[i], .cbosons = A->cnt * ctx.cbosons[i],
                                .n = A->hscl + A->cnt * ctx.arrows[i], .jamming = 2 * A->ring,
                                .co = A->co, .counter = A->hscl - A->co, .neel = A->neel };
            out->n_centres[i] += A->cnt + T.ntrunc[i];
            out->n_truncated[i] += T.ntrunc[i];
            for (int mask = 0; mask < 256; mask++) {
                if (!A->hist[mask]) continue;
                if ((mask & M[i].on) == M[i].on) out->n_match[i] += A->hist[mask];
                for (int col = 0; col < T1_NCOLS; col++)
                    if (mask & (1 << col)) out->n_equal[i][col] += A->hist[mask];
            }
            counts_add(&out->sum[i], &f);
            counts_add(&out->sum_truncated[i], &T.trunc[i]);
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
