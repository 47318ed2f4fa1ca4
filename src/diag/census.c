/* Cluster census against Table 1 (docs/model.md section 11). The definitions
 * are in include/census.h; this file is about doing the counting fast
 * enough to run during a simulation. The components of {level >= i} are in
 * census_components.c.
 *
 * Planes. One pass copies the lattice into "planes" with a margin of PAD
 * sites all round (filled by wrapping round a periodic lattice, with zeros
 * for an open one, so that no footprint needs a wrap or edge test): 0/1
 * bytes for HSCL and HSCL with sigma = +1, and row prefix sums, modulo 256,
 * of those two and of the staggered HSCL with sigma * (-1)^(X+Y) = +1 (X,
 * Y: plane coordinates, which are unwrapped, so the staggered sign has the
 * right parity across the seam of an odd lattice). Modulo 256 is exact: a
 * footprint has at most 145 sites, so no difference of sums reaches 256.
 *
 * Fitting clusters. A footprint is a stack of row segments |dx| <= w(dy),
 * so its sums (HSCLs, sigma = +1, staggered) are 2i+1 differences of row
 * prefix sums; its outermost ring (jamming) is four diagonal segments,
 * each a difference of two diagonal prefix sums, which every thread keeps
 * for the rows around the one it is on; and the footprint of radius i is
 * that of radius i - 1 plus the ring of radius i. A row is done 64 sites at
 * a time: for the levels present in it (going up, each growing the last
 * one's sums by rings where that is cheaper), every site is counted as if
 * it were a V_i centre - footprint sums, mosaic, Table 1 comparison - in
 * straight-line byte-vector code, and a mask keeps the sites that are V_i
 * centres. A level with only a few sites in a row is done site by site
 * instead. Integer sums only, so the result is the same for any number of
 * threads. The bond counts of a fitting footprint do not depend on where
 * it sits, so they are counted once per level by walking the footprint's
 * bonds (not taken from formulas).
 *
 * Truncated clusters. On an open lattice the footprint sums come from the
 * planes as well (zero outside), and the bonds from the cut-back
 * footprint's row intervals. On a periodic lattice too small for the
 * footprint (and in census_cluster, the reference): explicit enumeration
 * of the distinct lattice sites and bonds it covers.
 *
 * tests/unit/test_census.c and test_census_rows.c compare every field of
 * the result with obvious reference computations (census_cluster, a
 * breadth-first search) on random and near-ideal lattices. */
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <omp.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "diag/census.h"
#include "core/model.h"

/* The per-level cluster code is written once with the level as a parameter;
 * inlined with a constant level its row loop unrolls into straight code. */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* Margin of the planes: a fitting footprint reaches 7 sites from its centre
 * (the V8 tips are not in it), and the prefix sums one more column. Even, so
 * that plane and lattice coordinates have the same parity. */
enum { PAD = 8 };

/* Rows per task of the cluster pass: each task starts its rolling diagonal
 * sums 15 rows early, so tasks should be long; 1024 rows make 16 tasks. */
enum { STRIP = 64 };

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

/* Open lattice of length L: the centres lo <= x < hi of V_i clusters whose
 * footprint and the sites one step outside it (which reach X + 1 along the
 * axes) lie in the lattice, so that no bond is cut. Empty if hi <= lo. */
static inline void open_fit_range(int L, int i, int *lo, int *hi)
{
    const int X = fp_extent(i);
    *lo = X + 1;
    *hi = L - X - 1;
}

bool census_fits(int Lx, int Ly, boundary_kind boundary, int i, int x, int y)
{
    if (boundary == BOUNDARY_PERIODIC) {
        const int X = fp_extent(i);
        return Lx >= 2 * X + 2 && Ly >= 2 * X + 2;
    }
    int xl, xh, yl, yh;
    open_fit_range(Lx, i, &xl, &xh);
    open_fit_range(Ly, i, &yl, &yh);
    return x >= xl && x < xh && y >= yl && y < yh;
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

static inline void counts_add(census_counts *s, const census_counts *c)
{
    s->hscl += c->hscl; s->cavity += c->cavity; s->arrows += c->arrows;
    s->cbosons += c->cbosons; s->n += c->n; s->jamming += c->jamming;
    s->co += c->co; s->counter += c->counter; s->neel += c->neel;
}

/* ---------------------------------------------------- Table 1 comparison */

/* Every column census_column reports is a function of one number of the
 * cluster - its key: hscl, hscl + cavity, ring HSCLs, co or counter - or a
 * constant of the level (arrows and C-bosons of a fitting footprint). Each
 * of these functions is one-to-one, so a column equals Table 1 at exactly
 * one value of its key, or at none; match_spec holds that value, found by
 * asking census_column about every possible value (a fitting footprint has
 * at most 145 sites, so every key is below 255), so the definition stays in
 * one place. A cluster matches when every compared column is equal. */
enum { KEY_HSCL, KEY_H, KEY_RING, KEY_CO, KEY_COUNTER, NKEYS, KEY_NONE = NKEYS };
enum { NEVER = 255 };   /* no key reaches this */

typedef struct {
    uint8_t tgt[T1_NCOLS];   /* key value at which the column equals Table 1; NEVER if none or not compared */
    uint8_t req[NKEYS];      /* a match needs key k == req[k] ... */
    uint8_t any[NKEYS];      /* ... unless any[k] (no compared column on that key) */
    bool can_match;          /* false when some compared column can never be equal */
    uint8_t fixed;           /* compared constant columns that are equal (bit mask) */
} match_spec;

static int column_key(table1_col col)
{
    switch (col) {
    case T1_COL_N: case T1_COL_DENSITY: return KEY_HSCL;
    case T1_COL_HSCL: return KEY_H;
    case T1_COL_JAMMING: return KEY_RING;
    case T1_COL_PLUSZ: return KEY_CO;
    case T1_COL_MINUSZ: return KEY_COUNTER;
    default: return KEY_NONE;
    }
}

static int match_spec_init(match_spec *m, int i, int64_t arrows, int64_t cbosons, sm_error *err)
{
    memset(m->tgt, NEVER, sizeof m->tgt);
    memset(m->req, 0, sizeof m->req);
    memset(m->any, 1, sizeof m->any);
    m->can_match = true;
    m->fixed = 0;
    for (int col = 0; col < T1_NCOLS; col++) {
        int64_t refv, refd;
        if (!table1_reference(i, (table1_col)col, &refv, &refd)) continue;
        const int key = column_key((table1_col)col);
        int nv = 0, at = NEVER;
        for (int v = 0; v < NEVER; v++) {
            /* every field as it follows from its own key being v */
            census_counts c = { .hscl = v, .cavity = 0, .arrows = arrows, .cbosons = cbosons,
                                .n = v + arrows, .jamming = 2 * v, .co = v, .counter = v,
                                .neel = v };
            int64_t den, val = census_column(i, (table1_col)col, &c, &den);
            if (val == refv && den == refd) { nv++; at = v; }
        }
        if (key == KEY_NONE) {
            if (nv) m->fixed |= (uint8_t)(1u << col);
            else m->can_match = false;
            continue;
        }
        if (nv > 1)
            return sm_fail(err, "census: V%d column %d equals Table 1 at %d values of its key (expected one)",
                           i, col, nv);
        if (!nv) { m->can_match = false; continue; }
        m->tgt[col] = (uint8_t)at;
        if (m->any[key]) { m->any[key] = 0; m->req[key] = (uint8_t)at; }
        else if (m->req[key] != at) m->can_match = false;
    }
    return 0;
}

/* -------------------------------------------------------- fitting clusters */

/* Sums over the fitting clusters of one level; the per-cluster counts are
 * linear in these (arrows and C-bosons are the same for every fitting
 * cluster), so the census_counts sums are formed once at the end. eq[col]
 * counts the clusters equal to Table 1 in a key column. */
typedef struct {
    int64_t cnt, hscl, cav, co, neel, ring, match;
    int64_t eq[T1_NCOLS];
} level_acc;

/* What the clusters of one row need: the plane rows around it, offset so
 * that index x is the column of lattice site x. Row prefix sums for rows
 * y - 7 .. y + 7 (index dy + 7); diagonal prefix sums for rows y - 8 ..
 * y + 7 (index dy + 8), quantities h, p, s. */
typedef struct {
    const int8_t *level;                        /* lattice row y */
    const uint8_t *qh[15], *qp[15], *qs[15];    /* row prefix sums */
    const uint8_t *da[3][16], *db[3][16];       /* diagonal prefix sums along (1, 1) and (-1, 1) */
    int ypar;                                   /* y & 1 */
} fp_rows;

/* The numbers of a V_i cluster centred at x (i a constant where this is
 * inlined), for any site, V_i centre or not. All arithmetic modulo 256. */
typedef struct {
    uint8_t h, hscl, cav, co, neel, ring;
} fp_vals;

/* The HSCL (q = R->qh) or sigma = +1 (R->qp) indicator of site x + dx of
 * row y + dy, |dy| <= 1: a difference of the row prefix sums. */
static ALWAYS_INLINE uint8_t ind(const uint8_t *const *q, int x, int dx, int dy)
{
    return (uint8_t)(q[7 + dy][x + dx + 1] - q[7 + dy][x + dx]);
}

/* The numbers from the footprint sums h (HSCLs), p (sigma = +1), s
 * (staggered sigma = +1) and ring (HSCLs on the outermost ring). */
static ALWAYS_INLINE fp_vals fp_finish(const fp_rows *R, int x, const int i, uint8_t h, uint8_t p,
                                       uint8_t s, uint8_t ring)
{
    fp_vals v;
    v.h = h;
    v.ring = i >= 1 ? ring : 0;
    /* the centre is an HSCL: its sigma is +1 where ip is set; its staggered
     * sigma is +1 where that differs from the parity of x + y */
    const uint8_t up = ind(R->qp, x, 0, 0), stag = (uint8_t)(up ^ ((x + R->ypar) & 1));
    uint8_t co = up ? p : (uint8_t)(h - p), neel = stag ? s : (uint8_t)(h - s), cav = 0;
    if (i == 8) {
        /* the cavity: the centre and its HSCL neighbours, each of which is
         * either parallel to the centre (co) or not (neel: at distance 1
         * the Neel mosaic is antiparallel) */
        const uint8_t nh = (uint8_t)(ind(R->qh, x, -1, 0) + ind(R->qh, x, 1, 0) + ind(R->qh, x, 0, -1) +
                                     ind(R->qh, x, 0, 1));
        const uint8_t np = (uint8_t)(ind(R->qp, x, -1, 0) + ind(R->qp, x, 1, 0) + ind(R->qp, x, 0, -1) +
                                     ind(R->qp, x, 0, 1));
        const uint8_t nco = up ? np : (uint8_t)(nh - np);
        cav = (uint8_t)(1 + nh);
        co = (uint8_t)(co - 1 - nco);
        neel = (uint8_t)(neel - 1 - (nh - nco));
    }
    v.cav = cav;
    v.hscl = (uint8_t)(h - cav);
    v.co = co;
    v.neel = neel;
    return v;
}

/* fp_finish for the cluster at x alone, from the row prefix sums. */
static ALWAYS_INLINE fp_vals fp_at(const fp_rows *R, int x, const int i)
{
    const int X = fp_extent(i);
    uint8_t h = 0, p = 0, s = 0, inner = 0;
    for (int dy = -X; dy <= X; dy++) {
        const int k = dy + 7, w = fp_halfwidth(i, dy), w1 = i - 1 - abs(dy);
        h = (uint8_t)(h + (uint8_t)(R->qh[k][x + w + 1] - R->qh[k][x - w]));
        p = (uint8_t)(p + (uint8_t)(R->qp[k][x + w + 1] - R->qp[k][x - w]));
        s = (uint8_t)(s + (uint8_t)(R->qs[k][x + w + 1] - R->qs[k][x - w]));
        /* the diamond of radius i - 1, to leave the outermost ring */
        if (w1 >= 0) inner = (uint8_t)(inner + (uint8_t)(R->qh[k][x + w1 + 1] - R->qh[k][x - w1]));
    }
    return fp_finish(R, x, i, h, p, s, (uint8_t)(h - inner));
}

/* One cluster into the sums, for the few that are done one by one. */
static ALWAYS_INLINE void fp_add_one(level_acc *A, const match_spec *S, fp_vals v)
{
    const uint8_t counter = (uint8_t)(v.hscl - v.co);
    A->cnt++; A->hscl += v.hscl; A->cav += v.cav; A->co += v.co; A->neel += v.neel; A->ring += v.ring;
    A->eq[T1_COL_N] += v.hscl == S->tgt[T1_COL_N];
    A->eq[T1_COL_DENSITY] += v.hscl == S->tgt[T1_COL_DENSITY];
    A->eq[T1_COL_HSCL] += v.h == S->tgt[T1_COL_HSCL];
    A->eq[T1_COL_JAMMING] += v.ring == S->tgt[T1_COL_JAMMING];
    A->eq[T1_COL_PLUSZ] += v.co == S->tgt[T1_COL_PLUSZ];
    A->eq[T1_COL_MINUSZ] += counter == S->tgt[T1_COL_MINUSZ];
    A->match += (S->any[KEY_HSCL] | (v.hscl == S->req[KEY_HSCL])) & (S->any[KEY_H] | (v.h == S->req[KEY_H])) &
                (S->any[KEY_RING] | (v.ring == S->req[KEY_RING])) & (S->any[KEY_CO] | (v.co == S->req[KEY_CO])) &
                (S->any[KEY_COUNTER] | (counter == S->req[KEY_COUNTER]));
}

/* Sites per block of the full-row pass: one AVX-512 register of bytes.
 * The block code is written with GCC vector types, so that it is vector
 * code whatever the compiler's cost model thinks (each clone of
 * census_rows splits the vectors to its register width). */
enum { BLOCK = 64 };
/* GCC notes that 64-byte vector arguments would be passed differently
 * with and without AVX-512; these are all inlined, no call passes one. */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef uint8_t u8v __attribute__((vector_size(BLOCK)));
typedef uint16_t u16v __attribute__((vector_size(2 * BLOCK)));

static ALWAYS_INLINE u8v ld(const void *p)
{
    u8v v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Per-lane sums over blocks: counts in bytes, sums of numbers (at most
 * 145 a cluster) in 16-bit lanes, emptied into the level's level_acc every
 * FLUSH blocks, before any lane can overflow, and at the end. */
enum { FLUSH = 255 };
typedef struct {
    u8v cnt, match, en, ed, eh, ej, ep, em;
    u16v sh, scav, sco, sneel, sring;
    int nblocks;
} lane_acc;

static void lane_flush(lane_acc *L, level_acc *A)
{
    for (int k = 0; k < BLOCK; k++) {
        A->cnt += L->cnt[k]; A->match += L->match[k];
        A->eq[T1_COL_N] += L->en[k]; A->eq[T1_COL_DENSITY] += L->ed[k]; A->eq[T1_COL_HSCL] += L->eh[k];
        A->eq[T1_COL_JAMMING] += L->ej[k]; A->eq[T1_COL_PLUSZ] += L->ep[k]; A->eq[T1_COL_MINUSZ] += L->em[k];
        A->hscl += L->sh[k]; A->cav += L->scav[k]; A->co += L->sco[k]; A->neel += L->sneel[k];
        A->ring += L->sring[k];
    }
    memset(L, 0, sizeof *L);
}

/* Per-thread accumulators of the cluster part. */
typedef struct {
    level_acc fit[CENSUS_NV];
    lane_acc lanes[CENSUS_NV];
    int64_t ntrunc[CENSUS_NV];
    census_counts trunc[CENSUS_NV];
} cluster_acc;

/* Footprint sums of one block of sites, kept from one level to the next
 * (radius = the level they are for; -1: none yet). */
typedef struct {
    u8v h, p, s, ring;
    int radius;
} fp_block;

/* The ring of radius r (1..7: |dx| + |dy| = r; 8: the same without the
 * four tips) around the sites from xb, as four diagonal segments, each the
 * difference of two diagonal prefix sums (exact modulo 256: a segment has
 * at most 8 sites). The segments start at (r, 0), (0, r), (-r, 0), (0, -r)
 * and stop one short of the next corner; for V8 each leaves out both
 * corners. A and B: rows y - 8 .. y + 7. */
static ALWAYS_INLINE u8v ring_sum(const uint8_t *const *A, const uint8_t *const *B, int xb, int r)
{
    if (r < 8)
        return (u8v)(ld(B[8 + r - 1] + xb + 1) - ld(B[8 - 1] + xb + r + 1)) +
               (u8v)(ld(A[8 + r] + xb) - ld(A[8] + xb - r)) +
               (u8v)(ld(B[8] + xb - r) - ld(B[8 - r] + xb)) +
               (u8v)(ld(A[8 - 1] + xb + r - 1) - ld(A[8 - r - 1] + xb - 1));
    return (u8v)(ld(B[8 + 7] + xb + 1) - ld(B[8] + xb + 8)) +
           (u8v)(ld(A[8 + 7] + xb - 1) - ld(A[8] + xb - 8)) +
           (u8v)(ld(B[8 - 1] + xb - 7) - ld(B[0] + xb)) +
           (u8v)(ld(A[8 - 1] + xb + 7) - ld(A[0] + xb));
}

/* ind for the BLOCK sites from xb. */
static ALWAYS_INLINE u8v ind_v(const uint8_t *const *q, int xb, int dx, int dy)
{
    return ld(q[7 + dy] + xb + dx + 1) - ld(q[7 + dy] + xb + dx);
}

/* Every byte equal to x. */
static ALWAYS_INLINE u8v splat(unsigned x) { return (u8v){0} + (uint8_t)x; }

/* Byte compares, 0xff where true: a BLOCK-wide compare where the clone has
 * BLOCK-byte registers (vw = 64), else vw bytes at a time. GCC turns a
 * compare of a vector wider than the registers into scalar code, byte by
 * byte (on an AVX2 machine that made the census 4x slower), while it
 * splits arithmetic and logic well. */
typedef uint8_t u8x32 __attribute__((vector_size(32)));
typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef union { u8v v; u8x32 h[BLOCK / 32]; u8x16 q[BLOCK / 16]; } u8parts;
#define BYTE_COMPARE(name, OP)                                                   \
    static ALWAYS_INLINE u8v name(u8v a, u8v b, const int vw)                    \
    {                                                                            \
        if (vw >= BLOCK) return (u8v)(a OP b);                                   \
        u8parts x = {a}, y = {b}, r;                                             \
        if (vw == 32)                                                            \
            for (int k = 0; k < BLOCK / 32; k++) r.h[k] = (u8x32)(x.h[k] OP y.h[k]); \
        else                                                                     \
            for (int k = 0; k < BLOCK / 16; k++) r.q[k] = (u8x16)(x.q[k] OP y.q[k]); \
        return r.v;                                                              \
    }
BYTE_COMPARE(eqv, ==)
BYTE_COMPARE(nev, !=)
BYTE_COMPARE(gtv, >)
BYTE_COMPARE(gev, >=)
BYTE_COMPARE(ltv, <)
#undef BYTE_COMPARE

/* The V_i centres among the BLOCK sites from xb (i a constant where this
 * is inlined): every site computed as if it were one (fp_finish, lane by
 * lane), those of level i with jlo <= x - xb < jhi kept by a mask. The
 * footprint sums grow from the last level's by rings (8 loads a quantity
 * and ring) when that is cheaper than summing the 2i + 1 rows afresh (2
 * loads a row). */
static ALWAYS_INLINE void block_level(const fp_rows *R, fp_block *F, int xb, int jlo, int jhi,
                                      const int i, const match_spec *S, lane_acc *L, level_acc *A,
                                      const int vw)
{
    const int X = fp_extent(i), j0 = F->radius;
    if (j0 >= 0 && j0 < i && (i - j0) * 24 <= 6 * (2 * i + 1) + 8) {
        for (int r = j0 + 1; r <= i; r++) {
            F->ring = ring_sum(R->da[0], R->db[0], xb, r);
            F->h += F->ring;
            F->p += ring_sum(R->da[1], R->db[1], xb, r);
            F->s += ring_sum(R->da[2], R->db[2], xb, r);
        }
    } else {
        u8v h = {0}, p = {0}, s = {0};
        for (int dy = -X; dy <= X; dy++) {
            const int w = fp_halfwidth(i, dy);
            const uint8_t *qh = R->qh[dy + 7] + xb, *qp = R->qp[dy + 7] + xb, *qs = R->qs[dy + 7] + xb;
            h += ld(qh + w + 1) - ld(qh - w);
            p += ld(qp + w + 1) - ld(qp - w);
            s += ld(qs + w + 1) - ld(qs - w);
        }
        F->h = h; F->p = p; F->s = s;
        F->ring = i >= 1 ? ring_sum(R->da[0], R->db[0], xb, i) : (u8v){0};
    }
    F->radius = i;

    u8v iota;
    for (int j = 0; j < BLOCK; j++) iota[j] = (uint8_t)j;
    const u8v one = splat(1);
    const u8v m = eqv(ld(R->level + xb), splat((unsigned)i), vw) & gev(iota, splat((unsigned)jlo), vw) &
                  ltv(iota, splat((unsigned)jhi), vw) & one;
    const u8v h = F->h, up = ind_v(R->qp, xb, 0, 0);
    const u8v upm = -up, stagm = -(up ^ ((iota + (uint8_t)(xb + R->ypar)) & 1));
    u8v co = (F->p & upm) | ((h - F->p) & ~upm), neel = (F->s & stagm) | ((h - F->s) & ~stagm);
    u8v cav = {0};
    if (i == 8) {
        /* the cavity, as in fp_finish */
        const u8v nh = ind_v(R->qh, xb, -1, 0) + ind_v(R->qh, xb, 1, 0) + ind_v(R->qh, xb, 0, -1) +
                       ind_v(R->qh, xb, 0, 1);
        const u8v np = ind_v(R->qp, xb, -1, 0) + ind_v(R->qp, xb, 1, 0) + ind_v(R->qp, xb, 0, -1) +
                       ind_v(R->qp, xb, 0, 1);
        const u8v nco = (np & upm) | ((nh - np) & ~upm);
        cav = one + nh;
        co -= one + nco;
        neel -= one + (nh - nco);
    }
    const u8v ring = i >= 1 ? F->ring : (u8v){0};
    const u8v hscl = h - cav, counter = hscl - co, mm = -m;
    L->cnt += m;
    L->sh += __builtin_convertvector(hscl & mm, u16v);
    if (i == 8) L->scav += __builtin_convertvector(cav & mm, u16v);
    L->sco += __builtin_convertvector(co & mm, u16v);
    L->sneel += __builtin_convertvector(neel & mm, u16v);
    L->sring += __builtin_convertvector(ring & mm, u16v);
    L->en += m & eqv(hscl, splat(S->tgt[T1_COL_N]), vw);
    L->ed += m & eqv(hscl, splat(S->tgt[T1_COL_DENSITY]), vw);
    L->eh += m & eqv(h, splat(S->tgt[T1_COL_HSCL]), vw);
    L->ej += m & eqv(ring, splat(S->tgt[T1_COL_JAMMING]), vw);
    L->ep += m & eqv(co, splat(S->tgt[T1_COL_PLUSZ]), vw);
    L->em += m & eqv(counter, splat(S->tgt[T1_COL_MINUSZ]), vw);
    const u8v any0 = splat(-S->any[KEY_HSCL]), any1 = splat(-S->any[KEY_H]),
              any2 = splat(-S->any[KEY_RING]), any3 = splat(-S->any[KEY_CO]),
              any4 = splat(-S->any[KEY_COUNTER]);
    L->match += m & (any0 | eqv(hscl, splat(S->req[KEY_HSCL]), vw)) & (any1 | eqv(h, splat(S->req[KEY_H]), vw)) &
                (any2 | eqv(ring, splat(S->req[KEY_RING]), vw)) & (any3 | eqv(co, splat(S->req[KEY_CO]), vw)) &
                (any4 | eqv(counter, splat(S->req[KEY_COUNTER]), vw));
    if (++L->nblocks == FLUSH) lane_flush(L, A);
}

/* The V_i centres among sites x0 <= x < x1 of a row, one by one: those of
 * level i are found eight at a time by a SWAR byte compare. */
static ALWAYS_INLINE void fp_row_sparse(const fp_rows *R, int x0, int x1, const int i,
                                        const match_spec *S, level_acc *A)
{
    const int8_t *row = R->level;
    int x = x0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t pat = UINT64_C(0x0101010101010101) * (uint8_t)i;
    const uint64_t low7 = UINT64_C(0x7f7f7f7f7f7f7f7f);
    for (; x + 8 <= x1; x += 8) {
        uint64_t v;
        memcpy(&v, row + x, 8);
        v ^= pat;
        /* high bit of each byte equal to i (exact: no borrow between bytes) */
        uint64_t m = ~(((v & low7) + low7) | v | low7);
        while (m) {
            fp_add_one(A, S, fp_at(R, x + (__builtin_ctzll(m) >> 3), i));
            m &= m - 1;
        }
    }
#endif
    for (; x < x1; x++)
        if (row[x] == i) fp_add_one(A, S, fp_at(R, x, i));
}

/* The census's view of the work buffers. */
typedef struct {
    const census_input *in;
    const census_work *w;
    const match_spec *S;
    bool fits[CENSUS_NV];   /* periodic: V_i fits the lattice at all */
    /* the lattice (of which the array may be a window): its size, the
     * global coordinates of array site (0, 0), and the array's columns and
     * rows whose centres are counted */
    int Lx, Ly, x0, y0;
    int own_x0, own_x1, own_y0, own_y1;
} fp_ctx;

/* Truncated V_i clusters among sites x0 <= x < x1 of row y of a periodic
 * lattice too small for V_i: explicit enumeration, which counts a site
 * reached twice round the torus once. */
static void truncated_row(const census_input *in, cluster_acc *T, int y, int x0, int x1, int i)
{
    const int8_t *row = in->level + (int64_t)y * in->Lx;
    for (int x = x0; x < x1; x++) {
        if (row[x] != i) continue;
        census_counts k;
        count_explicit(in, x, y, i, &k);
        T->ntrunc[i]++;
        counts_add(&T->trunc[i], &k);
    }
}

/* Bonds of the V_i footprint at (x, y) cut back to an open lattice (the
 * same numbers as count_explicit's): a stack of row intervals, whose
 * bonds are the intervals' own, those between overlapping parts of
 * neighbouring rows, and the arrows - bonds to a lattice site outside. */
static void open_bonds(int Lx, int Ly, int x, int y, int i, int64_t *arrows, int64_t *cbosons)
{
    const int X = fp_extent(i);
    int64_t arr = 0, inner = 0;
    int plo = 0, phi = -1;        /* interval of the row below (empty: hi < lo) */
    bool pin = false;             /* that row is in the lattice */
    for (int dy = -X - 1; dy <= X + 1; dy++) {
        const int yy = y + dy;
        const bool in = yy >= 0 && yy < Ly;
        int lo = 0, hi = -1;
        if (in && dy >= -X && dy <= X) {
            const int w = fp_halfwidth(i, dy);
            lo = x - w < 0 ? 0 : x - w;
            hi = x + w > Lx - 1 ? Lx - 1 : x + w;
            inner += hi - lo;
            arr += (x - w - 1 >= 0) + (x + w + 1 <= Lx - 1);
        }
        if (in && pin) {
            const int olo = lo > plo ? lo : plo, ohi = hi < phi ? hi : phi;
            const int ov = ohi >= olo ? ohi - olo + 1 : 0;
            inner += ov;
            arr += (phi - plo + 1 - ov) + (hi - lo + 1 - ov);
        }
        plo = lo; phi = hi; pin = in;
    }
    *arrows = arr;
    *cbosons = inner + arr;
}

/* Truncated V_i clusters among sites x0 <= x < x1 of row y of an open
 * lattice: the planes are zero outside the lattice, so the footprint sums
 * are those of the footprint cut back to it; only the bonds depend on
 * where the edges are. */
static ALWAYS_INLINE void truncated_open(const fp_ctx *c, const fp_rows *R, cluster_acc *T, int y,
                                         int x0, int x1, const int i)
{
    for (int x = x0; x < x1; x++) {
        if (R->level[x] != i) continue;
        const fp_vals v = fp_at(R, x, i);
        census_counts k;
        open_bonds(c->Lx, c->Ly, x + c->x0, y + c->y0, i, &k.arrows, &k.cbosons);
        k.hscl = v.hscl; k.cavity = v.cav; k.n = v.hscl + k.arrows; k.jamming = 2 * (int64_t)v.ring;
        k.co = v.co; k.counter = v.hscl - v.co; k.neel = v.neel;
        T->ntrunc[i]++;
        counts_add(&T->trunc[i], &k);
    }
}

static void truncated_open_row(const fp_ctx *c, const fp_rows *R, cluster_acc *T, int y,
                               int x0, int x1, int i)
{
    switch (i) {
#define LEVEL_CASE(k) case k: truncated_open(c, R, T, y, x0, x1, k); break;
    LEVEL_CASE(0) LEVEL_CASE(1) LEVEL_CASE(2) LEVEL_CASE(3) LEVEL_CASE(4)
    LEVEL_CASE(5) LEVEL_CASE(6) LEVEL_CASE(7) LEVEL_CASE(8)
#undef LEVEL_CASE
    default: break;
    }
}

/* Diagonal prefix sums of plane row Y into the thread's rows (DROWS rows,
 * row Y in slot Y % DROWS): da(X, Y) = I(X, Y) + da(X - 1, Y - 1), db(X, Y)
 * = I(X, Y) + db(X + 1, Y - 1), for I = HSCL, sigma = +1, staggered sigma =
 * +1; start: no row before. Only differences along at most 8 rows are
 * used, so the sums may start anywhere 8 rows above the first centre row. */
enum { DROWS = 17 };

static void diag_row(const census_work *w, uint8_t *dbuf, int Y, bool start)
{
    const int pw = w->pw;
    const int64_t o = (int64_t)Y * (pw + 1);
    /* the indicators are differences of the row prefix sums */
    const uint8_t *src[3] = {w->qh + o, w->qp + o, w->qs + o};
    for (int q = 0; q < 3; q++) {
        uint8_t *a = dbuf + ((int64_t)(2 * q) * DROWS + Y % DROWS) * pw;
        uint8_t *b = dbuf + ((int64_t)(2 * q + 1) * DROWS + Y % DROWS) * pw;
        const uint8_t *pa = dbuf + ((int64_t)(2 * q) * DROWS + (Y + DROWS - 1) % DROWS) * pw;
        const uint8_t *pb = dbuf + ((int64_t)(2 * q + 1) * DROWS + (Y + DROWS - 1) % DROWS) * pw;
        const uint8_t *Q = src[q];
        if (start) {
            for (int X = 0; X < pw; X++) a[X] = b[X] = (uint8_t)(Q[X + 1] - Q[X]);
            continue;
        }
        a[0] = (uint8_t)(Q[1] - Q[0]);
        for (int X = 1; X < pw; X++) a[X] = (uint8_t)(Q[X + 1] - Q[X] + pa[X - 1]);
        for (int X = 0; X < pw - 1; X++) b[X] = (uint8_t)(Q[X + 1] - Q[X] + pb[X + 1]);
        b[pw - 1] = (uint8_t)(Q[pw] - Q[pw - 1]);
    }
}

/* The clusters of the full-pass levels (bit mask full) of one row, block
 * by block; within a block the levels go up, so that each can grow the
 * footprint sums of the last. lo[i], hi[i]: the fitting sites' range. */
static ALWAYS_INLINE void row_full(const fp_ctx *c, const fp_rows *R, cluster_acc *T, unsigned full,
                                   const int lo[CENSUS_NV], const int hi[CENSUS_NV], const int vw)
{
    const int Lx = c->in->Lx;
    for (int done = 0; done < Lx; done += BLOCK) {
        const int xb = done + BLOCK <= Lx ? done : Lx - BLOCK;
        fp_block F = {.radius = -1};
        for (unsigned m = full; m; m &= m - 1) {
            const int i = __builtin_ctz(m);
            /* the sites of this block to count: from done (the last block
             * is moved back to end at Lx) and within [lo, hi) */
            const int jlo = (done > lo[i] ? done : lo[i]) - xb;
            const int jhi = hi[i] - xb < BLOCK ? (hi[i] - xb > 0 ? hi[i] - xb : 0) : BLOCK;
#define LEVEL_CASE(k) case k: block_level(R, &F, xb, jlo < 0 ? 0 : jlo, jhi, k, &c->S[k], &T->lanes[k], &T->fit[k], vw); break;
            switch (i) {
            LEVEL_CASE(0) LEVEL_CASE(1) LEVEL_CASE(2) LEVEL_CASE(3) LEVEL_CASE(4)
            LEVEL_CASE(5) LEVEL_CASE(6) LEVEL_CASE(7) LEVEL_CASE(8)
            default: break;
            }
#undef LEVEL_CASE
        }
    }
}

/* fp_row_sparse for level i (a variable). */
static void row_sparse(const fp_ctx *c, const fp_rows *R, cluster_acc *T, int i, int x0, int x1)
{
    switch (i) {
#define LEVEL_CASE(k) case k: fp_row_sparse(R, x0, x1, k, &c->S[k], &T->fit[k]); break;
    LEVEL_CASE(0) LEVEL_CASE(1) LEVEL_CASE(2) LEVEL_CASE(3) LEVEL_CASE(4)
    LEVEL_CASE(5) LEVEL_CASE(6) LEVEL_CASE(7) LEVEL_CASE(8)
#undef LEVEL_CASE
    default: break;
    }
}

/* The clusters of rows y0 <= y < y1 (consecutive, so that the thread's
 * diagonal prefix rows, dbuf, roll along), with vw-byte vector registers
 * (see census_isa). */
static ALWAYS_INLINE void rows_body(const fp_ctx *c, cluster_acc *T, uint8_t *dbuf, int y0, int y1,
                                    const int vw)
{
    const census_input *in = c->in;
    const census_work *w = c->w;
    const int Lx = in->Lx, pw = w->pw;
    const bool periodic = in->boundary == BOUNDARY_PERIODIC;
    /* diagonal rows from 8 above the first centre row to 7 below the last */
    int next = y0 + PAD - 8;
    for (int y = y0; y < y1; y++) {
        const int Y = y + PAD;
        for (; next <= Y + 7; next++) diag_row(w, dbuf, next, next == y0 + PAD - 8);
        const int32_t *cnt = w->rowcnt + (int64_t)y * CENSUS_NV;
        fp_rows R;
        R.level = in->level + (int64_t)y * Lx;
        for (int dy = -7; dy <= 7; dy++) {
            const int64_t off = (int64_t)(Y + dy) * (pw + 1) + PAD;
            R.qh[dy + 7] = w->qh + off; R.qp[dy + 7] = w->qp + off; R.qs[dy + 7] = w->qs + off;
        }
        for (int dy = -8; dy <= 7; dy++)
            for (int q = 0; q < 3; q++) {
                const int64_t slot = (Y + dy) % DROWS;
                R.da[q][dy + 8] = dbuf + ((int64_t)(2 * q) * DROWS + slot) * pw + PAD;
                R.db[q][dy + 8] = dbuf + ((int64_t)(2 * q + 1) * DROWS + slot) * pw + PAD;
            }
        R.ypar = y & 1;

        unsigned full = 0;
        int lo[CENSUS_NV], hi[CENSUS_NV];
        for (int i = 0; i < CENSUS_NV; i++) {
            lo[i] = c->own_x0; hi[i] = c->own_x1;
            if (!cnt[i]) continue;
            if (periodic) {
                if (!c->fits[i]) { truncated_row(in, T, y, lo[i], hi[i], i); continue; }
            } else {
                /* the fitting range in global coordinates, then in the array's */
                int ylo, yhi, xlo, xhi;
                open_fit_range(c->Ly, i, &ylo, &yhi);
                open_fit_range(c->Lx, i, &xlo, &xhi);
                if (xlo - c->x0 > lo[i]) lo[i] = xlo - c->x0;
                if (xhi - c->x0 < hi[i]) hi[i] = xhi - c->x0;
                if (y + c->y0 < ylo || y + c->y0 >= yhi || lo[i] >= hi[i]) {
                    truncated_open_row(c, &R, T, y, c->own_x0, c->own_x1, i);
                    continue;
                }
                truncated_open_row(c, &R, T, y, c->own_x0, lo[i], i);
                truncated_open_row(c, &R, T, y, hi[i], c->own_x1, i);
            }
            /* a full-row pass costs about as much as 1/64 of its sites one by one */
            if (64 * cnt[i] < Lx || Lx < BLOCK) row_sparse(c, &R, T, i, lo[i], hi[i]);
            else full |= 1u << i;
        }
        if (full) row_full(c, &R, T, full, lo, hi, vw);
    }
}

/* ---------------------------------------------------------------- planes */

/* Running byte sums q[X + 1] = q[X] + v[X] (mod 256), q[0] = 0, for
 * 0/1 bytes v; v may be q + 1 (in place). Eight bytes at a time: a multiply
 * by 0x0101...01 leaves in byte k the sum of bytes 0..k (at most 8, so no
 * carries), to which the running sum is added in every byte by a SWAR add
 * (low seven bits added - at most 8 + 127, no carry - and the top bit
 * xor-ed). The running sum itself only needs the word's total, so the
 * chain from one word to the next is two instructions long. */
static ALWAYS_INLINE void prefix_bytes(uint8_t *q, const uint8_t *v, int n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), low7 = UINT64_C(0x7f7f7f7f7f7f7f7f);
    uint64_t acc = 0;
    q[0] = 0;
    int X = 0;
    for (; X + 8 <= n; X += 8) {
        uint64_t b;
        memcpy(&b, v + X, 8);
        const uint64_t w = b * ones, c = acc * ones, s = (w + (c & low7)) ^ (c & ~low7);
        memcpy(q + X + 1, &s, 8);
        acc = (acc + (w >> 56)) & 0xff;
    }
    for (; X < n; X++) {
        acc = (acc + v[X]) & 0xff;
        q[X + 1] = (uint8_t)acc;
    }
}

/* Lattice row y: checks it (returns the first bad x, or -1), counts its
 * sites of each level into cnt, and writes its HSCL and sigma = +1
 * indicators to ih[x], ip[x]. 64 sites at a time with byte counters. */
static ALWAYS_INLINE int scan_row(const int8_t *lv, const int8_t *sg, int Lx, int32_t cnt[CENSUS_NV],
                                  uint8_t *ih, uint8_t *ip, const int vw)
{
    const u8v one = splat(1), minus1 = splat(255);
    for (int i = 0; i < CENSUS_NV; i++) cnt[i] = 0;
    int x = 0;
    u8v bad = {0};
    while (x + BLOCK <= Lx) {
        u8v lane[CENSUS_NV];
        for (int i = 0; i < CENSUS_NV; i++) lane[i] = (u8v){0};
        for (int chunks = 0; chunks < 255 && x + BLOCK <= Lx; chunks++, x += BLOCK) {
            const u8v l = ld(lv + x), s = ld(sg + x);   /* level -1 reads 255, sigma -1 too */
            bad |= gtv(l + one, splat(9), vw) | ~(eqv(s, one, vw) | eqv(s, minus1, vw));
            const u8v h = nev(l, minus1, vw) & one;
            const u8v p = h & eqv(s, one, vw);
            memcpy(ih + x, &h, BLOCK);
            memcpy(ip + x, &p, BLOCK);
            for (int i = 0; i < CENSUS_NV; i++) lane[i] += eqv(l, splat((unsigned)i), vw) & one;
        }
        for (int i = 0; i < CENSUS_NV; i++)
            for (int j = 0; j < BLOCK; j++) cnt[i] += lane[i][j];
    }
    int first_bad = -1;
    for (int j = 0; j < BLOCK; j++) if (bad[j]) first_bad = 0;
    for (; x < Lx; x++) {
        if (lv[x] < -1 || lv[x] > 8 || (sg[x] != 1 && sg[x] != -1)) first_bad = 0;
        else if (lv[x] >= 0) cnt[lv[x]]++;
        ih[x] = lv[x] >= 0;
        ip[x] = (uint8_t)(ih[x] & (sg[x] > 0));
    }
    if (first_bad >= 0)
        for (x = 0; x < Lx; x++)
            if (lv[x] < -1 || lv[x] > 8 || (sg[x] != 1 && sg[x] != -1)) return x;
    return -1;
}

/* Rows Y0 <= Y < Y1 of the planes (lattice row Y - PAD, wrapped if
 * periodic). Where a plane row meets a lattice row for the first time it
 * also checks it and counts its levels (rowcnt). Returns the index of the
 * first bad site, or -1. vw as in rows_body. */
static ALWAYS_INLINE int64_t planes_body(const census_input *in, census_work *w, int Y0, int Y1,
                                         uint8_t *scratch, const int vw)
{
    const int Lx = in->Lx, Ly = in->Ly, pw = w->pw;
    /* a window holds its neighbourhood already: its planes' margin is never read */
    const bool periodic = in->boundary == BOUNDARY_PERIODIC && !in->window;
    /* the row's indicators, HSCL and sigma = +1, which only its prefix sums keep */
    uint8_t *ih = scratch, *ip = scratch + pw;
    for (int Y = Y0; Y < Y1; Y++) {
        uint8_t *qh = w->qh + (int64_t)Y * (pw + 1), *qp = w->qp + (int64_t)Y * (pw + 1),
                *qs = w->qs + (int64_t)Y * (pw + 1);
        int y = Y - PAD;
        if (!periodic && (y < 0 || y >= Ly)) {
            memset(qh, 0, (size_t)pw + 1); memset(qp, 0, (size_t)pw + 1); memset(qs, 0, (size_t)pw + 1);
            continue;
        }
        const bool first = y >= 0 && y < Ly;
        y %= Ly; if (y < 0) y += Ly;
        const int8_t *lv = in->level + (int64_t)y * Lx, *sg = in->sigma + (int64_t)y * Lx;
        if (first) {
            int x = scan_row(lv, sg, Lx, w->rowcnt + (int64_t)y * CENSUS_NV, ih + PAD, ip + PAD, vw);
            if (x >= 0) return (int64_t)y * Lx + x;
        } else {
            /* a copy of a row already checked: the planes' first row has it */
            const int64_t Ys = (int64_t)(y + PAD) * (pw + 1);
            for (int X = PAD; X < PAD + Lx; X++) {
                ih[X] = (uint8_t)(w->qh[Ys + X + 1] - w->qh[Ys + X]);
                ip[X] = (uint8_t)(w->qp[Ys + X + 1] - w->qp[Ys + X]);
            }
        }
        for (int X = 0; X < pw; X++) {
            if (X == PAD) X = PAD + Lx;
            if (X >= pw) break;
            int x = X - PAD;
            if (periodic) {
                x %= Lx; if (x < 0) x += Lx;
                ih[X] = ih[PAD + x]; ip[X] = ip[PAD + x];
            } else {
                ih[X] = ip[X] = 0;
            }
        }
        /* staggered sigma = +1: sigma = +1 at even X + Y, -1 at odd */
        u8v alt;
        for (int j = 0; j < BLOCK; j++) alt[j] = (uint8_t)((j + Y) & 1);
        int X = 0;
        for (; X + BLOCK <= pw; X += BLOCK) {
            const u8v s = ld(ip + X) ^ (ld(ih + X) & alt);
            memcpy(qs + X + 1, &s, BLOCK);
        }
        for (; X < pw; X++) qs[X + 1] = (uint8_t)(ip[X] ^ (ih[X] & ((X + Y) & 1)));
        prefix_bytes(qh, ih, pw);
        prefix_bytes(qp, ip, pw);
        prefix_bytes(qs, qs + 1, pw);
    }
    return -1;
}

/* ------------------------------------------------------------ ISA choice */

/* The vector width of the machine: 64 bytes (x86-64-v4, AVX-512), 32
 * (AVX2) or 16. The block code is compiled once for each, so that its byte
 * compares fit the registers; census_compute picks one. */
#define CENSUS_CLONE(attr, suffix, vw)                                                          \
    attr static void census_rows_##suffix(const fp_ctx *c, cluster_acc *T, uint8_t *dbuf,   \
                                          int y0, int y1)                                   \
    {                                                                                         \
        rows_body(c, T, dbuf, y0, y1, vw);                                                    \
    }                                                                                         \
    attr static int64_t census_planes_##suffix(const census_input *in, census_work *w, int Y0, \
                                               int Y1, uint8_t *scratch)                      \
    {                                                                                         \
        return planes_body(in, w, Y0, Y1, scratch, vw);                                       \
    }
#if defined(__x86_64__) && defined(__GNUC__)
#define CENSUS_X86_CLONES 1
CENSUS_CLONE(__attribute__((target("arch=x86-64-v4"))), v4, 64)
CENSUS_CLONE(__attribute__((target("avx2"))), avx2, 32)
#endif
CENSUS_CLONE(, base, 16)
#undef CENSUS_CLONE

typedef struct {
    void (*rows)(const fp_ctx *, cluster_acc *, uint8_t *, int, int);
    int64_t (*planes)(const census_input *, census_work *, int, int, uint8_t *);
} census_kernels;

/* The widest version this CPU runs, or at most want bytes wide (0: any). */
static census_kernels census_isa(int want)
{
#ifdef CENSUS_X86_CLONES
    __builtin_cpu_init();
    if ((want == 0 || want >= 64) && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd"))
        return (census_kernels){census_rows_v4, census_planes_v4};
    if ((want == 0 || want >= 32) && __builtin_cpu_supports("avx2"))
        return (census_kernels){census_rows_avx2, census_planes_avx2};
#else
    (void)want;
#endif
    return (census_kernels){census_rows_base, census_planes_base};
}

/* ---------------------------------------------------------------- driver */

/* The work's sizes, with no buffer yet. */
static int work_dims(census_work *w, int Lx, int Ly, sm_error *err)
{
    memset(w, 0, sizeof *w);
    if (Lx < 1 || Ly < 1) return sm_fail(err, "census: lattice %d x %d is empty", Lx, Ly);
    int64_t N = (int64_t)Lx * Ly;
    if (N > INT32_MAX || Lx > INT32_MAX - 2 * PAD - 1)
        return sm_fail(err, "census: %lld sites exceed the 32-bit site index", (long long)N);
    w->Lx = Lx; w->Ly = Ly; w->N = N;
    w->pw = Lx + 2 * PAD;
    return 0;
}

/* The buffers of the cluster part: planes, row counts, diagonal rows. */
static int planes_alloc(census_work *w, sm_error *err)
{
    const size_t rows = (size_t)w->Ly + 2 * PAD, pw = (size_t)w->pw;
    w->qh = malloc(rows * (pw + 1));
    w->qp = malloc(rows * (pw + 1));
    w->qs = malloc(rows * (pw + 1));
    w->rowcnt = malloc(sizeof *w->rowcnt * (size_t)w->Ly * CENSUS_NV);
    w->dbuf_threads = omp_get_max_threads();
    w->dbuf = malloc((size_t)w->dbuf_threads * DROWS * 6 * pw);
    if (!w->qh || !w->qp || !w->qs || !w->rowcnt || !w->dbuf)
        return sm_fail(err, "census: out of memory for %d x %d work buffers", w->Lx, w->Ly);
    return 0;
}

/* Gives the pages of freed census buffers back to the system. glibc keeps
 * freed blocks of this size in its heap once it has raised its mmap
 * threshold: a run would hold the census's memory between censuses, and
 * nothing would make the components, allocated after the planes are
 * freed, reuse the planes' pages rather than add to them. */
static void trim_heap(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static void planes_free(census_work *w)
{
    free(w->qh); free(w->qp); free(w->qs); free(w->rowcnt); free(w->dbuf);
    w->qh = w->qp = w->qs = w->dbuf = NULL;
    w->rowcnt = NULL;
}

int census_work_init(census_work *w, int Lx, int Ly, sm_error *err)
{
    if (work_dims(w, Lx, Ly, err)) return 1;
    if (planes_alloc(w, err) || census_comp_work_init(&w->comp, Lx, Ly, err)) {
        census_work_free(w);
        return sm_fail(err, "census: out of memory for %d x %d work buffers", Lx, Ly);
    }
    return 0;
}

void census_work_free(census_work *w)
{
    planes_free(w);
    census_comp_work_free(&w->comp);
    memset(w, 0, sizeof *w);
    trim_heap();
}

/* The planes of every row, checking the input and counting each row's
 * levels; rows PAD .. PAD + Ly - 1 first, since the margin rows copy them. */
static int build_planes(const census_input *in, census_work *work, const census_kernels *K,
                        int nthreads, sm_error *err)
{
    const int Ly = in->Ly, nrows = Ly + 2 * PAD;
    int64_t bad = INT64_MAX;
    #pragma omp parallel num_threads(nthreads)
    {
        /* two rows of the thread's diagonal buffer, which is free until the clusters */
        uint8_t *scratch = work->dbuf + (size_t)omp_get_thread_num() * DROWS * 6 * (size_t)work->pw;
        #pragma omp for schedule(static) reduction(min : bad)
        for (int Y = PAD; Y < PAD + Ly; Y += 16) {
            int64_t a = K->planes(in, work, Y, Y + 16 < PAD + Ly ? Y + 16 : PAD + Ly, scratch);
            if (a >= 0 && a < bad) bad = a;
        }
        if (bad == INT64_MAX) {
            #pragma omp for schedule(static)
            for (int Y = 0; Y < nrows; Y++)
                if (Y < PAD || Y >= PAD + Ly) K->planes(in, work, Y, Y + 1, scratch);
        }
    }
    if (bad != INT64_MAX)
        return sm_fail(err, "census: site %lld has level %d, sigma %d (need -1..8, +-1)",
                       (long long)bad, in->level[bad], in->sigma[bad]);
    return 0;
}

/* The Table 1 comparison of each level and its fitting footprint's bonds. */
static int level_specs(match_spec S[CENSUS_NV], int64_t arrows[CENSUS_NV], int64_t cbosons[CENSUS_NV],
                       sm_error *err)
{
    for (int i = 0; i < CENSUS_NV; i++) {
        template_bonds(i, &arrows[i], &cbosons[i]);
        if (match_spec_init(&S[i], i, arrows[i], cbosons[i], err)) return 1;
    }
    return 0;
}

/* The cluster fields of out, from the planes (built). */
static void cluster_pass(const census_input *in, census_work *work, const census_kernels *K,
                         int nthreads, census_result *out, const match_spec S[CENSUS_NV],
                         const int64_t arrows[CENSUS_NV], const int64_t cbosons[CENSUS_NV])
{
    const census_window *win = in->window;
    fp_ctx ctx = { .in = in, .w = work, .S = S };
    if (win) {
        ctx.Lx = win->Lx; ctx.Ly = win->Ly; ctx.x0 = win->x0; ctx.y0 = win->y0;
        ctx.own_x0 = win->own_x0; ctx.own_x1 = win->own_x1;
        ctx.own_y0 = win->own_y0; ctx.own_y1 = win->own_y1;
    } else {
        ctx.Lx = in->Lx; ctx.Ly = in->Ly;
        ctx.own_x1 = in->Lx; ctx.own_y1 = in->Ly;
    }
    for (int i = 0; i < CENSUS_NV; i++) ctx.fits[i] = census_fits(ctx.Lx, ctx.Ly, BOUNDARY_PERIODIC, i, 0, 0);
    const int y0 = ctx.own_y0, y1 = ctx.own_y1;
    #pragma omp parallel num_threads(nthreads)
    {
        cluster_acc T;
        memset(&T, 0, sizeof T);
        uint8_t *dbuf = work->dbuf + (size_t)omp_get_thread_num() * DROWS * 6 * (size_t)work->pw;
        #pragma omp for schedule(dynamic, 1) nowait
        for (int y = y0; y < y1; y += STRIP) K->rows(&ctx, &T, dbuf, y, y + STRIP < y1 ? y + STRIP : y1);
        for (int i = 0; i < CENSUS_NV; i++) lane_flush(&T.lanes[i], &T.fit[i]);

        #pragma omp critical(census_merge)
        for (int i = 0; i < CENSUS_NV; i++) {
            const level_acc *A = &T.fit[i];
            census_counts f = { .hscl = A->hscl, .cavity = A->cav,
                                .arrows = A->cnt * arrows[i], .cbosons = A->cnt * cbosons[i],
                                .n = A->hscl + A->cnt * arrows[i], .jamming = 2 * A->ring,
                                .co = A->co, .counter = A->hscl - A->co, .neel = A->neel };
            out->n_centres[i] += A->cnt + T.ntrunc[i];
            out->n_truncated[i] += T.ntrunc[i];
            if (S[i].can_match) out->n_match[i] += A->match;
            for (int col = 0; col < T1_NCOLS; col++)
                out->n_equal[i][col] += (S[i].fixed >> col) & 1 ? A->cnt : A->eq[col];
            counts_add(&out->sum[i], &f);
            counts_add(&out->sum_truncated[i], &T.trunc[i]);
        }
    }
}

/* The clusters: checks the input, counts each level (n_level) and fills
 * the cluster fields of out. own: the planes are allocated here and freed
 * at the end, so that they are gone before the components allocate theirs
 * (a census's peak is the larger of the two parts, not their sum). */
static int census_clusters(const census_input *in, census_work *work, bool own, census_result *out,
                           int64_t n_level[CENSUS_NV], sm_error *err)
{
    match_spec S[CENSUS_NV];
    int64_t arrows[CENSUS_NV], cbosons[CENSUS_NV];
    if (level_specs(S, arrows, cbosons, err)) return 1;
    if (own && planes_alloc(work, err)) {
        planes_free(work);
        return 1;
    }
    /* as many threads as there are rolling diagonal rows for (the most at
     * planes_alloc; the results do not depend on the number) */
    const int nthreads = omp_get_max_threads() < work->dbuf_threads ? omp_get_max_threads() : work->dbuf_threads;
    const census_kernels K = census_isa(in->vector_bytes);
    int rc = build_planes(in, work, &K, nthreads, err);
    if (!rc) {
        cluster_pass(in, work, &K, nthreads, out, S, arrows, cbosons);
        for (int i = 0; i < CENSUS_NV; i++) n_level[i] = 0;
        for (int y = 0; y < in->Ly; y++)
            for (int i = 0; i < CENSUS_NV; i++) n_level[i] += work->rowcnt[(int64_t)y * CENSUS_NV + i];
    }
    if (own) {
        planes_free(work);
        trim_heap();
    }
    return rc;
}

/* A window's counted centres have their margin in the array, and a
 * periodic lattice fits every footprint (a smaller one's wrapped
 * footprints are counted by explicit enumeration, which needs the whole
 * lattice). */
static int check_window(const census_input *in, sm_error *err)
{
    const census_window *v = in->window;
    const int M = CENSUS_WINDOW_MARGIN;
    if (v->own_x0 < M || v->own_y0 < M || v->own_x1 > in->Lx - M || v->own_y1 > in->Ly - M ||
        v->own_x0 > v->own_x1 || v->own_y0 > v->own_y1)
        return sm_fail(err, "census: window %d x %d has no margin of %d round its centres [%d, %d) x [%d, %d)",
                       in->Lx, in->Ly, M, v->own_x0, v->own_x1, v->own_y0, v->own_y1);
    if (in->boundary == BOUNDARY_PERIODIC && !census_fits(v->Lx, v->Ly, BOUNDARY_PERIODIC, 8, 0, 0))
        return sm_fail(err, "census: a window of a periodic %d x %d lattice, which wraps footprints onto "
                       "themselves (needs 16 x 16)", v->Lx, v->Ly);
    return 0;
}

int census_of_fields(const lattice *lat, const model_state *st, census_result *out, sm_error *err)
{
    const census_input in = {.Lx = lat->Lx, .Ly = lat->Ly, .boundary = lat->boundary, .level = st->level,
                             .sigma = st->sigma};
    return census_compute(&in, NULL, out, err);
}

int census_compute(const census_input *in, census_work *work, census_result *out,
                   sm_error *err)
{
    /* without a work, each part allocates its own buffers and frees them */
    census_work local;
    const bool own = !work;
    if (own) {
        if (work_dims(&local, in->Lx, in->Ly, err)) return 1;
        work = &local;
    } else if (work->Lx != in->Lx || work->Ly != in->Ly) {
        return sm_fail(err, "census: work buffers are for %d x %d, lattice is %d x %d",
                       work->Lx, work->Ly, in->Lx, in->Ly);
    }
    if (in->window && check_window(in, err)) return 1;
    memset(out, 0, sizeof *out);
    int64_t n_level[CENSUS_NV];
    if (census_clusters(in, work, own, out, n_level, err)) return 1;
    if (in->skip_components || in->window) return 0;
    if (own && census_comp_work_init(&work->comp, in->Lx, in->Ly, err)) return 1;
    int rc = census_components(in, n_level, &work->comp, out);
    if (own) census_work_free(work);
    if (rc) return sm_fail(err, "census: out of memory for the components of %d x %d", in->Lx, in->Ly);
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
