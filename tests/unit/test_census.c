/* Cluster census (docs/model.md section 11): ideal V0..V8 clusters counted exactly as
 * Table 1 states, perturbations that a census ignoring the configuration
 * would miss, overlaps, the periodic seam, truncated footprints, the fast
 * path against explicit enumeration, components and percolation, the JSON
 * copy of Table 1, thread independence and skip_components. The census's
 * cost is measured by `make bench` (its census and census_uniform rows), not
 * here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <cjson/cJSON.h>
#include "check.h"
#include "diag/census.h"
#include "census_reference.h"
#include "diag/table1.h"
#include "cli/cli.h"

/* Table 1 as the footprint geometry counts it (docs/model.md section 11): V7 jamming is
 * 56 (paper 60), V8 jamming 56 (paper: none), V8 N 196 (paper 196 + 4),
 * V8 C-bosons 312 (paper 312 + 8). */
static const int X_HSCL[9]    = {1, 5, 13, 25, 41, 61, 85, 113, 136};
static const int X_ARROWS[9]  = {4, 12, 20, 28, 36, 44, 52, 60, 60};
static const int X_CBOSONS[9] = {4, 16, 36, 64, 100, 144, 196, 256, 312};
static const int X_N[9]       = {5, 17, 33, 53, 77, 105, 137, 173, 196};
static const int X_JAM[9]     = {0, 8, 16, 24, 32, 40, 48, 56, 56};
static const int X_CO[9]      = {1, 1, 9, 9, 25, 25, 49, 49, 76};
static const int X_COUNTER[9] = {0, 4, 4, 16, 16, 36, 36, 64, 60};

typedef struct {
    int Lx, Ly;
    boundary_kind bc;
    int8_t *level, *sigma;
} config;

static config cfg_new(int Lx, int Ly, boundary_kind bc)
{
    config c = {Lx, Ly, bc, malloc((size_t)Lx * Ly), malloc((size_t)Lx * Ly)};
    memset(c.level, -1, (size_t)Lx * Ly);
    memset(c.sigma, 1, (size_t)Lx * Ly);
    return c;
}
static void cfg_free(config *c) { free(c->level); free(c->sigma); }
static census_input cfg_input(const config *c)
{
    census_input in = {c->Lx, c->Ly, c->bc, c->level, c->sigma, false, 0, NULL};
    return in;
}
static int8_t *at(config *c, int8_t *f, int x, int y)
{
    x %= c->Lx; if (x < 0) x += c->Lx;
    y %= c->Ly; if (y < 0) y += c->Ly;
    return &f[y * c->Lx + x];
}

/* minimal-image L1 distance on the configuration's lattice */
static int dist(const config *c, int x, int y, int cx, int cy)
{
    int dx = abs(x - cx), dy = abs(y - cy);
    if (c->bc == BOUNDARY_PERIODIC) {
        if (dx > c->Lx - dx) dx = c->Lx - dx;
        if (dy > c->Ly - dy) dy = c->Ly - dy;
    }
    return dx + dy;
}

/* Raise the level field to the pyramid max(-1, i - dist) around (cx, cy)
 * (pyramids combine by max, which keeps the RSOS constraint) and, if sc != 0,
 * set sigma to the Neel mosaic sc * (-1)^dist. */
static void add_pyramid(config *c, int cx, int cy, int i, int sc)
{
    for (int y = 0; y < c->Ly; y++)
        for (int x = 0; x < c->Lx; x++) {
            int d = dist(c, x, y, cx, cy), l = i - d;
            int8_t *p = at(c, c->level, x, y);
            if (l > *p) *p = (int8_t)l;
            if (sc) *at(c, c->sigma, x, y) = (int8_t)((d & 1) ? -sc : sc);
        }
}

static census_result census_of(const config *c)
{
    census_result r;
    sm_error err = {{0}};
    census_input in = cfg_input(c);
    int rc = census_compute(&in, NULL, &r, &err);
    CHECK(rc == 0, "census_compute: %s", err.msg);
    return r;
}

static void check_ideal_counts(const census_counts *s, int i, const char *where)
{
    CHECK(s->hscl == X_HSCL[i], "%s V%d hscl %lld", where, i, (long long)s->hscl);
    CHECK(s->cavity == (i == 8 ? 5 : 0), "%s V%d cavity %lld", where, i, (long long)s->cavity);
    CHECK(s->arrows == X_ARROWS[i], "%s V%d arrows %lld", where, i, (long long)s->arrows);
    CHECK(s->cbosons == X_CBOSONS[i], "%s V%d cbosons %lld", where, i, (long long)s->cbosons);
    CHECK(s->n == X_N[i], "%s V%d N %lld", where, i, (long long)s->n);
    CHECK(s->jamming == X_JAM[i], "%s V%d jamming %lld", where, i, (long long)s->jamming);
    CHECK(s->co == X_CO[i], "%s V%d co %lld", where, i, (long long)s->co);
    CHECK(s->counter == X_COUNTER[i], "%s V%d counter %lld", where, i, (long long)s->counter);
    CHECK(s->neel == X_HSCL[i], "%s V%d neel %lld", where, i, (long long)s->neel);
}

/* Sum of census_cluster over all fitting (or all truncated) V_i centres. */
static census_counts explicit_sum(const config *c, int i, bool truncated, int64_t *count)
{
    census_counts s;
    memset(&s, 0, sizeof s);
    census_input in = cfg_input(c);
    *count = 0;
    for (int64_t a = 0; a < (int64_t)c->Lx * c->Ly; a++) {
        if (c->level[a] != i) continue;
        census_counts k;
        bool fits;
        sm_error err;
        if (census_cluster(&in, a, &k, &fits, &err)) { CHECK(0, "%s", err.msg); continue; }
        if (fits == truncated) continue;
        (*count)++;
        s.hscl += k.hscl; s.cavity += k.cavity; s.arrows += k.arrows; s.cbosons += k.cbosons;
        s.n += k.n; s.jamming += k.jamming; s.co += k.co; s.counter += k.counter; s.neel += k.neel;
    }
    return s;
}

static bool counts_equal(const census_counts *a, const census_counts *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* ------------------------------------------------------------------ tests */

static void test_ideal_clusters(void)
{
    for (int i = 0; i <= 8; i++)
        for (int sc = -1; sc <= 1; sc += 2) {
            config c = cfg_new(24, 24, BOUNDARY_PERIODIC);
            add_pyramid(&c, 12, 12, i, sc);
            census_result r = census_of(&c);
            CHECK(r.n_centres[i] == 1 && r.n_truncated[i] == 0, "V%d centres %lld", i, (long long)r.n_centres[i]);
            check_ideal_counts(&r.sum[i], i, sc > 0 ? "+z" : "-z");
            CHECK(r.n_match[i] == 1, "V%d sigma %d does not match Table 1", i, sc);
            /* every slope cluster of the pyramid is ideal too */
            for (int j = 0; j <= 8; j++)
                CHECK(r.n_match[j] == r.n_centres[j] - r.n_truncated[j], "V%d pyramid: V%d slope clusters", i, j);
            /* the explicit enumeration agrees */
            census_counts k;
            bool fits;
            sm_error err;
            census_input in = cfg_input(&c);
            CHECK(census_cluster(&in, 12 * 24 + 12, &k, &fits, &err) == 0, "%s", err.msg);
            CHECK(fits, "V%d should fit 24x24", i);
            check_ideal_counts(&k, i, "explicit");
            cfg_free(&c);
        }
}

/* Odd periodic lattice, centre next to both seams: the staggered parity
 * flips across an odd seam, which the Neel count must undo. */
static void test_odd_seam(void)
{
    for (int i = 0; i <= 8; i++) {
        config c = cfg_new(25, 23, BOUNDARY_PERIODIC);
        add_pyramid(&c, 1, 21, i, -1);
        census_result r = census_of(&c);
        CHECK(r.n_centres[i] == 1 && r.n_truncated[i] == 0, "V%d", i);
        check_ideal_counts(&r.sum[i], i, "odd seam");
        cfg_free(&c);
    }
}

static void test_periodic_boundary(void)
{
    for (int i = 0; i <= 8; i++) {
        config a = cfg_new(24, 24, BOUNDARY_PERIODIC), b = cfg_new(24, 24, BOUNDARY_PERIODIC);
        add_pyramid(&a, 12, 12, i, 1);
        add_pyramid(&b, 23, 0, i, 1);   /* footprint crosses both seams */
        census_result ra = census_of(&a), rb = census_of(&b);
        for (int j = 0; j <= 8; j++) {
            CHECK(counts_equal(&ra.sum[j], &rb.sum[j]), "V%d pyramid, V%d sums differ across the seam", i, j);
            CHECK(ra.n_match[j] == rb.n_match[j], "V%d", j);
        }
        cfg_free(&a); cfg_free(&b);
    }
}

static void test_perturbations(void)
{
    const int L = 24, cx = 12, cy = 12;
    config c = cfg_new(L, L, BOUNDARY_PERIODIC);
    add_pyramid(&c, cx, cy, 4, 1);
    census_result r0 = census_of(&c);
    census_counts base = r0.sum[4];

    /* flip sigma at distance 2 (co-oriented in the Neel mosaic) */
    *at(&c, c.sigma, cx + 1, cy + 1) = -1;
    census_result r = census_of(&c);
    CHECK(r.sum[4].co == base.co - 1 && r.sum[4].counter == base.counter + 1, "co %lld counter %lld",
          (long long)r.sum[4].co, (long long)r.sum[4].counter);
    CHECK(r.sum[4].neel == base.neel - 1 && r.sum[4].hscl == base.hscl, "neel %lld", (long long)r.sum[4].neel);
    CHECK(r.n_match[4] == 0, "a flipped MIEV must break the Table 1 match");
    CHECK(r.n_equal[4][T1_COL_HSCL] == 1 && r.n_equal[4][T1_COL_PLUSZ] == 0, "per-entry equality");
    *at(&c, c.sigma, cx + 1, cy + 1) = 1;

    /* flip sigma at distance 3 (counter-oriented) */
    *at(&c, c.sigma, cx - 3, cy) = 1;
    r = census_of(&c);
    CHECK(r.sum[4].co == base.co + 1 && r.sum[4].counter == base.counter - 1, "co %lld", (long long)r.sum[4].co);
    *at(&c, c.sigma, cx - 3, cy) = -1;

    /* a site just outside the footprint becomes an HSCL: the V4 counts do
     * not move, one more V0 centre appears */
    *at(&c, c.level, cx + 5, cy) = 0;
    *at(&c, c.sigma, cx + 5, cy) = 1;   /* breaks the Neel mosaic, but outside */
    r = census_of(&c);
    CHECK(counts_equal(&r.sum[4], &base), "outside the footprint changed V4 counts");
    CHECK(r.n_centres[0] == r0.n_centres[0] + 1, "V0 centres %lld", (long long)r.n_centres[0]);
    CHECK(r.n_match[4] == 1, "V4 still ideal");
    *at(&c, c.level, cx + 5, cy) = -1;

    /* a ring site (distance 4, even) is no HSCL: HSCLs, N, jamming, co drop */
    *at(&c, c.level, cx, cy + 4) = -1;
    r = census_of(&c);
    CHECK(r.sum[4].hscl == base.hscl - 1 && r.sum[4].n == base.n - 1, "hscl %lld", (long long)r.sum[4].hscl);
    CHECK(r.sum[4].jamming == base.jamming - 2, "jamming %lld", (long long)r.sum[4].jamming);
    CHECK(r.sum[4].co == base.co - 1 && r.sum[4].counter == base.counter, "co %lld", (long long)r.sum[4].co);
    CHECK(r.sum[4].arrows == base.arrows && r.sum[4].cbosons == base.cbosons, "bonds are geometry");
    *at(&c, c.level, cx, cy + 4) = 0;

    /* an inner site (distance 3) is no HSCL: jamming unchanged */
    *at(&c, c.level, cx + 2, cy - 1) = -1;
    r = census_of(&c);
    CHECK(r.sum[4].hscl == base.hscl - 1 && r.sum[4].jamming == base.jamming, "inner site");
    CHECK(r.sum[4].counter == base.counter - 1, "counter %lld", (long long)r.sum[4].counter);
    cfg_free(&c);
}

static void test_v8_footprint_and_cavity(void)
{
    const int L = 24, cx = 12, cy = 12;
    config c = cfg_new(L, L, BOUNDARY_PERIODIC);
    add_pyramid(&c, cx, cy, 8, 1);
    census_result r0 = census_of(&c);
    census_counts base = r0.sum[8];
    check_ideal_counts(&base, 8, "V8");

    /* tips are outside the footprint: removing them or flipping their MIEV
     * changes nothing for the soft matrix */
    static const int tx[4] = {8, 0, -8, 0}, ty[4] = {0, 8, 0, -8};
    for (int k = 0; k < 4; k++) *at(&c, c.sigma, cx + tx[k], cy + ty[k]) = -1;
    census_result r = census_of(&c);
    CHECK(counts_equal(&r.sum[8], &base), "tip sigma changed the V8 counts");
    for (int k = 0; k < 4; k++) *at(&c, c.level, cx + tx[k], cy + ty[k]) = -1;
    r = census_of(&c);
    CHECK(counts_equal(&r.sum[8], &base), "tip level changed the V8 counts");
    /* ...but the ring next to a tip is in it */
    *at(&c, c.level, cx + 7, cy + 1) = -1;
    r = census_of(&c);
    CHECK(r.sum[8].hscl == 135 && r.sum[8].jamming == 54, "hscl %lld jamming %lld",
          (long long)r.sum[8].hscl, (long long)r.sum[8].jamming);
    *at(&c, c.level, cx + 7, cy + 1) = 0;
    /* the site (7, 0) next to the tip is in the footprint, at distance 7 */
    *at(&c, c.sigma, cx + 7, cy) = 1;
    r = census_of(&c);
    CHECK(r.sum[8].co == 77 && r.sum[8].counter == 59, "co %lld", (long long)r.sum[8].co);
    *at(&c, c.sigma, cx + 7, cy) = -1;

    /* the cavity is left out of HSCLs and the mosaic */
    *at(&c, c.sigma, cx + 1, cy) = 1;
    *at(&c, c.sigma, cx, cy - 1) = 1;
    r = census_of(&c);
    CHECK(r.sum[8].hscl == 136 && r.sum[8].co == 76 && r.sum[8].counter == 60 && r.sum[8].neel == 136,
          "cavity sigma leaked into the mosaic: co %lld", (long long)r.sum[8].co);
    *at(&c, c.level, cx - 1, cy) = -1;   /* not RSOS, but the census must cope */
    r = census_of(&c);
    CHECK(r.sum[8].cavity == 4 && r.sum[8].hscl == 136 && r.sum[8].n == 196, "cavity %lld", (long long)r.sum[8].cavity);
    cfg_free(&c);
}

static void test_overlapping(void)
{
    /* two V3 centres 4 apart share a lens of their diamonds */
    config c = cfg_new(24, 24, BOUNDARY_PERIODIC);
    add_pyramid(&c, 8, 10, 3, 1);
    add_pyramid(&c, 12, 10, 3, 1);  /* same Neel sublattice: global mosaic */
    census_result r = census_of(&c);
    CHECK(r.n_centres[3] == 2 && r.n_match[3] == 2, "V3 centres %lld match %lld",
          (long long)r.n_centres[3], (long long)r.n_match[3]);
    CHECK(r.sum[3].hscl == 50 && r.sum[3].co == 18 && r.sum[3].counter == 32, "hscl %lld", (long long)r.sum[3].hscl);
    /* the site between them is at distance 2 from both */
    *at(&c, c.sigma, 10, 10) = -1;
    r = census_of(&c);
    CHECK(r.sum[3].co == 16 && r.sum[3].counter == 34 && r.sum[3].neel == 48, "co %lld", (long long)r.sum[3].co);
    CHECK(r.n_match[3] == 0, "both clusters see the flip");
    /* a site only in the first diamond */
    *at(&c, c.sigma, 10, 10) = 1;
    *at(&c, c.sigma, 5, 10) = 1;
    r = census_of(&c);
    CHECK(r.sum[3].co == 19 && r.n_match[3] == 1, "co %lld match %lld", (long long)r.sum[3].co, (long long)r.n_match[3]);
    /* a plateau: every site of a 3x3 block of level 2 is a V2 centre */
    config p = cfg_new(24, 24, BOUNDARY_PERIODIC);
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) add_pyramid(&p, 12 + dx, 12 + dy, 2, 0);
    r = census_of(&p);
    CHECK(r.n_centres[2] == 9 && r.sum[2].hscl == 9 * 13, "plateau V2 %lld", (long long)r.n_centres[2]);
    cfg_free(&p);
    cfg_free(&c);
}

static void test_truncated(void)
{
    /* open lattice, V2 in the corner: 6 sites, 6 arrows, 12 bonds */
    config c = cfg_new(10, 8, BOUNDARY_OPEN);
    *at(&c, c.level, 0, 0) = 2;
    census_result r = census_of(&c);
    CHECK(r.n_centres[2] == 1 && r.n_truncated[2] == 1 && r.n_match[2] == 0, "corner V2");
    const census_counts *t = &r.sum_truncated[2];
    CHECK(t->hscl == 1 && t->arrows == 6 && t->cbosons == 12 && t->n == 7, "hscl %lld arrows %lld cb %lld",
          (long long)t->hscl, (long long)t->arrows, (long long)t->cbosons);
    CHECK(r.sum[2].hscl == 0, "truncated clusters stay out of the fitting sums");
    CHECK(isnan(census_match_fraction(&r, 2)), "no fitting V2");
    /* in the interior of an open lattice it fits */
    config o = cfg_new(10, 10, BOUNDARY_OPEN);
    add_pyramid(&o, 4, 5, 3, 1);
    r = census_of(&o);
    CHECK(r.n_truncated[3] == 0 && r.n_match[3] == 1, "open interior V3");
    check_ideal_counts(&r.sum[3], 3, "open");
    CHECK(!census_fits(10, 10, BOUNDARY_OPEN, 3, 3, 5) && census_fits(10, 10, BOUNDARY_OPEN, 3, 4, 5), "fit rule");
    /* small periodic lattice: V8 on 16x16 fits, on 15x15 it wraps */
    CHECK(census_fits(16, 16, BOUNDARY_PERIODIC, 8, 0, 0) && !census_fits(15, 16, BOUNDARY_PERIODIC, 8, 0, 0), "V8 fit");
    config s = cfg_new(6, 6, BOUNDARY_PERIODIC);
    memset(s.level, 0, 36);
    *at(&s, s.level, 0, 0) = 8;    /* the footprint covers the torus */
    r = census_of(&s);
    CHECK(r.n_truncated[8] == 1, "V8 on 6x6");
    CHECK(r.sum_truncated[8].hscl + r.sum_truncated[8].cavity == 36 && r.sum_truncated[8].cavity == 5,
          "distinct sites: hscl %lld", (long long)r.sum_truncated[8].hscl);
    CHECK(r.sum_truncated[8].arrows == 0 && r.sum_truncated[8].cbosons == 72, "bonds of the whole torus");
    cfg_free(&s); cfg_free(&o); cfg_free(&c);
}

/* xorshift64*: a local generator, no global state */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

static void fill_random(config *c, uint64_t seed, int smooth)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int y = 0; y < c->Ly; y++)
        for (int x = 0; x < c->Lx; x++) {
            int a = y * c->Lx + x, l;
            if (smooth) {
                double f = 3.5 + 5.0 * sin(2 * M_PI * x / 64.0) * cos(2 * M_PI * y / 48.0);
                l = (int)floor(f + 0.5);
                l = l < -1 ? -1 : (l > 8 ? 8 : l);
            } else {
                l = (int)(rnd(&s) % 10) - 1;
            }
            c->level[a] = (int8_t)l;
            c->sigma[a] = (rnd(&s) >> 33) & 1 ? 1 : -1;
        }
}

static void test_fast_vs_explicit(void)
{
    static const struct { int Lx, Ly; boundary_kind bc; } lat[] = {
        {20, 20, BOUNDARY_PERIODIC}, {19, 21, BOUNDARY_PERIODIC}, {23, 17, BOUNDARY_OPEN},
        {9, 9, BOUNDARY_PERIODIC}, {18, 18, BOUNDARY_PERIODIC}, {2, 5, BOUNDARY_PERIODIC},
    };
    for (size_t k = 0; k < sizeof lat / sizeof lat[0]; k++)
        for (int seed = 1; seed <= 3; seed++) {
            config c = cfg_new(lat[k].Lx, lat[k].Ly, lat[k].bc);
            fill_random(&c, (uint64_t)(seed + 10 * k), 0);
            census_result r = census_of(&c);
            for (int i = 0; i <= 8; i++) {
                int64_t nf, nt;
                census_counts sf = explicit_sum(&c, i, false, &nf);
                census_counts st = explicit_sum(&c, i, true, &nt);
                CHECK(nf == r.n_centres[i] - r.n_truncated[i] && nt == r.n_truncated[i], "lattice %zu V%d", k, i);
                CHECK(counts_equal(&sf, &r.sum[i]), "lattice %zu seed %d V%d: fast sums differ (hscl %lld vs %lld, co %lld vs %lld, neel %lld vs %lld, jam %lld vs %lld)",
                      k, seed, i, (long long)r.sum[i].hscl, (long long)sf.hscl, (long long)r.sum[i].co,
                      (long long)sf.co, (long long)r.sum[i].neel, (long long)sf.neel,
                      (long long)r.sum[i].jamming, (long long)sf.jamming);
                CHECK(counts_equal(&st, &r.sum_truncated[i]), "lattice %zu V%d truncated sums", k, i);
            }
            cfg_free(&c);
        }
}

/* Every per-level result of the fast census against the obvious reference:
 * each cluster counted on its own by census_cluster and compared with Table 1
 * through census_column (so the per-column match counts and the sums over
 * fitting and truncated clusters must agree exactly), and the components
 * by a breadth-first search that unwraps coordinates (a site reached again
 * at another unwrapped position means the component winds round the torus).
 * Lattices: random fields, near-ideal pyramid landscapes (many Table 1
 * matches, perturbed here and there) and odd, small and open lattices. */
static void reference_check(const config *c, const char *what)
{
    census_result r = census_of(c);
    census_input in = cfg_input(c);
    const int Lx = c->Lx, Ly = c->Ly, N = Lx * Ly;
    const bool periodic = c->bc == BOUNDARY_PERIODIC;
    check_clusters_reference(&in, &r, what);
    /* components with spanning */
    int *seen = malloc(sizeof *seen * N), *ux = malloc(sizeof *ux * N), *uy = malloc(sizeof *uy * N);
    int *stack = malloc(sizeof *stack * N);
    for (int i = 0; i <= 8; i++) {
        int64_t ncomp = 0, largest = 0, nsites = 0, hist[CENSUS_NBINS] = {0}, sx = 0, sy = 0, sxy = 0;
        for (int a = 0; a < N; a++) seen[a] = 0;
        for (int a = 0; a < N; a++) {
            if (c->level[a] < i || seen[a]) continue;
            int sp = 0, size = 0, wx = 0, wy = 0, l = 0, rr = 0, b0 = 0, t = 0;
            stack[sp++] = a; seen[a] = 1; ux[a] = a % Lx; uy[a] = a / Lx;
            while (sp) {
                int b = stack[--sp], bx = b % Lx, by = b / Lx;
                size++;
                l |= bx == 0; rr |= bx == Lx - 1; b0 |= by == 0; t |= by == Ly - 1;
                static const int ex[4] = {1, 0, -1, 0}, ey[4] = {0, 1, 0, -1};
                for (int d = 0; d < 4; d++) {
                    int nx = bx + ex[d], ny = by + ey[d];
                    if (!periodic && (nx < 0 || nx >= Lx || ny < 0 || ny >= Ly)) continue;
                    int e = ((ny + Ly) % Ly) * Lx + (nx + Lx) % Lx;
                    if (c->level[e] < i) continue;
                    int px = ux[b] + ex[d], py = uy[b] + ey[d];
                    if (!seen[e]) { seen[e] = 1; ux[e] = px; uy[e] = py; stack[sp++] = e; }
                    else { wx |= ux[e] != px; wy |= uy[e] != py; }
                }
            }
            ncomp++; nsites += size;
            if (size > largest) largest = size;
            hist[63 - __builtin_clzll((unsigned long long)size)]++;
            int spx = periodic ? wx : (l && rr), spy = periodic ? wy : (b0 && t);
            sx += spx; sy += spy; sxy += spx && spy;
        }
        CHECK(r.n_components[i] == ncomp && r.largest[i] == largest && r.n_sites_ge[i] == nsites,
              "%s level %d: components %lld/%lld", what, i, (long long)r.n_components[i], (long long)ncomp);
        CHECK(memcmp(hist, r.size_hist[i], sizeof hist) == 0, "%s level %d histogram", what, i);
        CHECK(r.n_span_x[i] == sx && r.n_span_y[i] == sy && r.n_span_xy[i] == sxy,
              "%s level %d: spanning %lld %lld %lld / %lld %lld %lld", what, i, (long long)r.n_span_x[i],
              (long long)r.n_span_y[i], (long long)r.n_span_xy[i], (long long)sx, (long long)sy, (long long)sxy);
    }
    free(seen); free(ux); free(uy); free(stack);
}

static void test_against_reference(void)
{
    static const struct { int Lx, Ly; boundary_kind bc; } lat[] = {
        {48, 44, BOUNDARY_PERIODIC}, {47, 45, BOUNDARY_OPEN}, {45, 41, BOUNDARY_PERIODIC},
        {1, 7, BOUNDARY_PERIODIC}, {7, 1, BOUNDARY_OPEN}, {2, 2, BOUNDARY_PERIODIC},
        {3, 5, BOUNDARY_PERIODIC}, {3, 5, BOUNDARY_OPEN}, {19, 18, BOUNDARY_PERIODIC},
        {33, 9, BOUNDARY_OPEN},
    };
    for (size_t k = 0; k < sizeof lat / sizeof lat[0]; k++)
        for (int kind = 0; kind < 3; kind++) {
            config c = cfg_new(lat[k].Lx, lat[k].Ly, lat[k].bc);
            uint64_t s = 1234 + 17 * k + kind;
            if (kind < 2) {
                fill_random(&c, s, kind);
            } else {
                /* pyramid landscape with Neel mosaics, then a few defects */
                memset(c.level, -1, (size_t)c.Lx * c.Ly);
                for (int a = 0; a < c.Lx * c.Ly; a++) c.sigma[a] = 1;
                for (int p = 0; p < 6; p++) {
                    int cx = (int)(rnd(&s) % (uint64_t)c.Lx), cy = (int)(rnd(&s) % (uint64_t)c.Ly);
                    add_pyramid(&c, cx, cy, (int)(rnd(&s) % 9), (rnd(&s) >> 40) & 1 ? 1 : -1);
                }
                for (int d = 0; d < 5; d++) {
                    int a = (int)(rnd(&s) % (uint64_t)(c.Lx * c.Ly));
                    c.sigma[a] = (int8_t)-c.sigma[a];
                }
            }
            char what[64];
            snprintf(what, sizeof what, "%dx%d %s kind %d", c.Lx, c.Ly,
                     c.bc == BOUNDARY_PERIODIC ? "periodic" : "open", kind);
            reference_check(&c, what);
            cfg_free(&c);
        }
}

/* ------------------------------------------------------------ components */

static void test_percolation_patterns(void)
{
    /* straight stripe: spans x only */
    config c = cfg_new(16, 12, BOUNDARY_PERIODIC);
    for (int x = 0; x < 16; x++) *at(&c, c.level, x, 5) = 0;
    census_result r = census_of(&c);
    CHECK(r.n_components[0] == 1 && r.largest[0] == 16 && r.n_sites_ge[0] == 16, "stripe");
    CHECK(r.n_span_x[0] == 1 && r.n_span_y[0] == 0 && r.n_span_xy[0] == 0, "stripe spans x only");
    CHECK(r.size_hist[0][4] == 1, "size 16 in bin 4");
    CHECK(r.n_components[1] == 0 && r.largest[1] == 0, "nothing at level >= 1");
    /* the same stripe with one site missing does not wrap */
    *at(&c, c.level, 7, 5) = -1;
    r = census_of(&c);
    CHECK(r.n_components[0] == 1 && r.largest[0] == 15 && r.n_span_x[0] == 0, "broken stripe");
    cfg_free(&c);

    /* wrapped staircase diagonal: winds (1, 1), spans x and y */
    c = cfg_new(12, 12, BOUNDARY_PERIODIC);
    for (int k = 0; k < 12; k++) { *at(&c, c.level, k, k) = 0; *at(&c, c.level, k + 1, k) = 0; }
    r = census_of(&c);
    CHECK(r.n_components[0] == 1 && r.largest[0] == 24, "diagonal size %lld", (long long)r.largest[0]);
    CHECK(r.n_span_x[0] == 1 && r.n_span_y[0] == 1 && r.n_span_xy[0] == 1, "diagonal spans both");
    cfg_free(&c);

    /* isolated blob and a V3 pyramid: nested components, no spanning */
    c = cfg_new(20, 20, BOUNDARY_PERIODIC);
    for (int y = 2; y < 5; y++) for (int x = 2; x < 5; x++) *at(&c, c.level, x, y) = 0;
    add_pyramid(&c, 12, 12, 3, 1);
    r = census_of(&c);
    CHECK(r.n_components[0] == 2 && r.largest[0] == 25 && r.n_sites_ge[0] == 34, "blob + pyramid");
    CHECK(r.size_hist[0][3] == 1 && r.size_hist[0][4] == 1, "sizes 9 and 25");
    static const int sz[4] = {25, 13, 5, 1};
    for (int i = 1; i <= 3; i++)
        CHECK(r.n_components[i] == 1 && r.largest[i] == sz[i] && r.n_sites_ge[i] == sz[i], "level %d", i);
    for (int i = 4; i <= 8; i++) CHECK(r.n_components[i] == 0, "level %d", i);
    for (int i = 0; i <= 8; i++) CHECK(r.n_span_x[i] == 0 && r.n_span_y[i] == 0, "no spanning at %d", i);
    /* a ring around the torus in y made of level-2 sites joins everything at
     * level 0 through the pyramid? no: it only touches what it touches */
    for (int y = 0; y < 20; y++) *at(&c, c.level, 12, y) = (int8_t)(*at(&c, c.level, 12, y) > 2 ? *at(&c, c.level, 12, y) : 2);
    r = census_of(&c);
    CHECK(r.n_span_y[2] == 1 && r.n_span_x[2] == 0 && r.n_components[2] == 1, "column at level 2 wraps in y");
    CHECK(r.n_span_y[3] == 0 && r.n_components[3] == 1, "level 3 is the pyramid top");
    CHECK(r.n_components[0] == 2 && r.n_span_y[0] == 1, "blob apart, column + pyramid wrap");
    cfg_free(&c);

    /* open lattice: touching both edges spans */
    c = cfg_new(10, 6, BOUNDARY_OPEN);
    for (int y = 0; y < 6; y++) *at(&c, c.level, 7, y) = 0;
    for (int x = 0; x < 10; x++) *at(&c, c.level, x, 2) = 1;
    r = census_of(&c);
    CHECK(r.n_components[0] == 1 && r.largest[0] == 15 && r.n_span_x[0] == 1 && r.n_span_y[0] == 1, "open cross");
    CHECK(r.n_components[1] == 1 && r.largest[1] == 10 && r.n_span_x[1] == 1 && r.n_span_y[1] == 0, "open stripe");
    cfg_free(&c);
    /* open lattice: a full-width stripe does not wrap, it spans by touching */
    c = cfg_new(10, 6, BOUNDARY_OPEN);
    for (int x = 0; x < 9; x++) *at(&c, c.level, x, 0) = 0;
    r = census_of(&c);
    CHECK(r.n_span_x[0] == 0, "9 of 10 does not span");
    cfg_free(&c);

    /* length-2 periodic direction: two sites joined by both bonds wrap */
    c = cfg_new(2, 5, BOUNDARY_PERIODIC);
    *at(&c, c.level, 0, 1) = 0; *at(&c, c.level, 1, 1) = 0;
    r = census_of(&c);
    CHECK(r.n_components[0] == 1 && r.n_span_x[0] == 1 && r.n_span_y[0] == 0, "Lx = 2 wraps");
    cfg_free(&c);
    /* length-1 periodic direction: a site bonded to itself wraps */
    c = cfg_new(1, 4, BOUNDARY_PERIODIC);
    *at(&c, c.level, 0, 2) = 0;
    r = census_of(&c);
    CHECK(r.n_components[0] == 1 && r.n_span_x[0] == 1 && r.n_span_y[0] == 0, "Lx = 1 wraps");
    cfg_free(&c);
}

/* components against a brute-force flood fill on random configurations */
static void test_components_random(void)
{
    static const struct { int Lx, Ly; boundary_kind bc; } lat[] = {
        {30, 20, BOUNDARY_PERIODIC}, {17, 23, BOUNDARY_OPEN}, {3, 40, BOUNDARY_PERIODIC},
    };
    for (size_t k = 0; k < sizeof lat / sizeof lat[0]; k++) {
        config c = cfg_new(lat[k].Lx, lat[k].Ly, lat[k].bc);
        fill_random(&c, 77 + k, 0);
        census_result r = census_of(&c);
        int N = c.Lx * c.Ly;
        int *lab = malloc(sizeof *lab * N), *stack = malloc(sizeof *stack * N);
        for (int i = 0; i <= 8; i++) {
            int64_t ncomp = 0, largest = 0, nsites = 0, hist[CENSUS_NBINS] = {0};
            for (int a = 0; a < N; a++) lab[a] = -1;
            for (int a = 0; a < N; a++) {
                if (c.level[a] < i || lab[a] >= 0) continue;
                int sp = 0, size = 0;
                stack[sp++] = a; lab[a] = (int)ncomp;
                while (sp) {
                    int b = stack[--sp], bx = b % c.Lx, by = b / c.Lx;
                    size++;
                    int nx[4] = {bx + 1, bx, bx - 1, bx}, ny[4] = {by, by + 1, by, by - 1};
                    for (int d = 0; d < 4; d++) {
                        if (c.bc == BOUNDARY_OPEN && (nx[d] < 0 || nx[d] >= c.Lx || ny[d] < 0 || ny[d] >= c.Ly)) continue;
                        int e = ((ny[d] + c.Ly) % c.Ly) * c.Lx + (nx[d] + c.Lx) % c.Lx;
                        if (c.level[e] >= i && lab[e] < 0) { lab[e] = (int)ncomp; stack[sp++] = e; }
                    }
                }
                ncomp++; nsites += size;
                if (size > largest) largest = size;
                hist[63 - __builtin_clzll((unsigned long long)size)]++;
            }
            CHECK(r.n_components[i] == ncomp && r.largest[i] == largest && r.n_sites_ge[i] == nsites,
                  "lattice %zu level %d: %lld/%lld components", k, i, (long long)r.n_components[i], (long long)ncomp);
            CHECK(memcmp(hist, r.size_hist[i], sizeof hist) == 0, "lattice %zu level %d histogram", k, i);
        }
        free(lab); free(stack);
        cfg_free(&c);
    }
}

/* The component fields of two results are equal. */
static bool components_equal(const census_result *a, const census_result *b)
{
    return !memcmp(a->n_sites_ge, b->n_sites_ge, sizeof a->n_sites_ge) &&
           !memcmp(a->n_components, b->n_components, sizeof a->n_components) &&
           !memcmp(a->largest, b->largest, sizeof a->largest) &&
           !memcmp(a->size_hist, b->size_hist, sizeof a->size_hist) &&
           !memcmp(a->n_span_x, b->n_span_x, sizeof a->n_span_x) &&
           !memcmp(a->n_span_y, b->n_span_y, sizeof a->n_span_y) &&
           !memcmp(a->n_span_xy, b->n_span_xy, sizeof a->n_span_xy);
}

/* census_components run directly, with its work set up for 1 and 2 threads
 * and run on 1 and 2, every strip count from the least to the most the
 * work allows (a few of them where there are many) and sets labelled in
 * batches of several sizes, against ref (from
 * census_of, itself checked by reference_check). The strips are labelled
 * separately and joined at their seams, so this exercises the joining. */
static void check_strip_counts(const config *c, const census_result *ref, const char *what)
{
    census_input in = cfg_input(c);
    const int maxt = omp_get_max_threads();
    int64_t n_level[CENSUS_NV] = {0};
    for (int a = 0; a < c->Lx * c->Ly; a++)
        if (c->level[a] >= 0) n_level[c->level[a]]++;
    for (int init_threads = 1; init_threads <= 2; init_threads++) {
        omp_set_num_threads(init_threads);
        census_comp_work w;
        sm_error err = {{0}};
        CHECK(census_comp_work_init(&w, c->Lx, c->Ly, &err) == 0, "%s", err.msg);
        const int step = (w.max_strips - w.min_strips) / 5 + 1;
        for (int run_threads = 1; run_threads <= 2; run_threads++) {
            omp_set_num_threads(run_threads);
            for (int ns = w.min_strips;; ns = ns + step < w.max_strips ? ns + step : w.max_strips) {
                w.nstrips = ns;
                /* sets labelled together: as the memory budget says (one at
                 * a time on these small lattices); with the fewest strips
                 * also two at a time and all at once */
                static const int batches[3] = {0, 2, CENSUS_NV};
                for (int b = 0; b < (ns == w.min_strips ? 3 : 1); b++) {
                    const int batch = batches[b];
                    w.batch = batch;
                    census_result r;
                    memset(&r, 0x5A, sizeof r);
                    census_components(&in, n_level, &w, &r);
                    CHECK(components_equal(&r, ref), "%s: %d strips, %d sets a batch, threads %d (work for %d) differ",
                          what, ns, batch, run_threads, init_threads);
                }
                if (ns == w.max_strips) break;
            }
        }
        census_comp_work_free(&w);
    }
    omp_set_num_threads(maxt);
}

/* Sites with level 0 with probability p, else -1: near the site percolation
 * threshold (0.593) clusters are large and tortuous and wind through the
 * seams between strips and the wraps. */
static void fill_percolation(config *c, uint64_t seed, double p)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 7;
    for (int a = 0; a < c->Lx * c->Ly; a++) {
        c->level[a] = (int8_t)((rnd(&s) >> 11) * 0x1.0p-53 < p ? 0 : -1);
        c->sigma[a] = 1;
    }
}

/* Lattices with several strips, a row width that is not a multiple of 64
 * (the partial last mask word) or is, tiny ones; random, smooth and
 * near-threshold fields; periodic and open; the BFS reference and every
 * strip count on 1 and 2 threads. */
static void test_components_strips(void)
{
    static const struct { int Lx, Ly; boundary_kind bc; } lat[] = {
        {200, 173, BOUNDARY_PERIODIC}, {200, 173, BOUNDARY_OPEN}, {130, 97, BOUNDARY_PERIODIC},
        {130, 97, BOUNDARY_OPEN}, {64, 40, BOUNDARY_PERIODIC}, {65, 33, BOUNDARY_OPEN},
        {129, 5, BOUNDARY_PERIODIC}, {1, 40, BOUNDARY_PERIODIC}, {40, 1, BOUNDARY_PERIODIC},
        {2, 3, BOUNDARY_PERIODIC}, {1, 1, BOUNDARY_PERIODIC}, {1, 1, BOUNDARY_OPEN},
    };
    static const double perc[3] = {0.55, 0.593, 0.65};
    for (size_t k = 0; k < sizeof lat / sizeof lat[0]; k++)
        for (int kind = 0; kind < 5; kind++) {
            config c = cfg_new(lat[k].Lx, lat[k].Ly, lat[k].bc);
            if (kind < 2) fill_random(&c, 300 + 7 * k + kind, kind);
            else fill_percolation(&c, 500 + 7 * k + kind, perc[kind - 2]);
            char what[96];
            snprintf(what, sizeof what, "%dx%d %s kind %d", c.Lx, c.Ly,
                     c.bc == BOUNDARY_PERIODIC ? "periodic" : "open", kind);
            reference_check(&c, what);
            census_result ref = census_of(&c);
            check_strip_counts(&c, &ref, what);
            cfg_free(&c);
        }
}

/* A serpentine: columns joined alternately at the top and the bottom, so
 * that it crosses every seam between strips once per column, closed into a
 * loop through the x wrap. One component that winds in x (periodic) or
 * touches both x edges (open); cut next to the wrap, it no longer winds.
 * With full-height columns every column winds in y by itself. */
static void test_components_serpentine(void)
{
    const int Lx = 160, Ly = 120, ncol = Lx / 4;
    for (int b = 0; b < 2; b++) {
        const boundary_kind bc = b ? BOUNDARY_OPEN : BOUNDARY_PERIODIC;
        config c = cfg_new(Lx, Ly, bc);
        for (int k = 0; k < ncol; k++) {
            for (int y = 2; y <= Ly - 3; y++) *at(&c, c.level, 4 * k, y) = 1;
            /* to the next column, at the top for odd k and the bottom for
             * even k; the last one, odd, runs to x = Lx - 1 next to column 0 */
            const int y = k & 1 ? 2 : Ly - 3, x1 = k + 1 < ncol ? 4 * k + 4 : Lx - 1;
            for (int x = 4 * k; x <= x1; x++) *at(&c, c.level, x, y) = 1;
        }
        const int64_t size = (int64_t)ncol * (Ly - 4) + (int64_t)(ncol - 1) * 3 + 3;
        census_result r = census_of(&c);
        CHECK(r.n_components[1] == 1 && r.largest[1] == size && r.n_sites_ge[1] == size,
              "serpentine: %lld components, largest %lld of %lld", (long long)r.n_components[1],
              (long long)r.largest[1], (long long)size);
        CHECK(r.n_span_x[1] == 1 && r.n_span_y[1] == 0 && r.n_span_xy[1] == 0,
              "serpentine %s spans x only", b ? "open" : "periodic");
        reference_check(&c, b ? "serpentine open" : "serpentine periodic");
        check_strip_counts(&c, &r, "serpentine");
        /* cut next to the wrap: the end site stays joined to column 0
         * through the wrap (periodic) or is left alone (open); neither
         * piece spans */
        *at(&c, c.level, Lx - 2, 2) = -1;
        r = census_of(&c);
        CHECK(r.n_components[1] == (b ? 2 : 1) && r.n_span_x[1] == 0 && r.n_span_y[1] == 0,
              "cut serpentine %s: %lld components, %lld span x", b ? "open" : "periodic",
              (long long)r.n_components[1], (long long)r.n_span_x[1]);
        reference_check(&c, "cut serpentine");
        check_strip_counts(&c, &r, "cut serpentine");
        *at(&c, c.level, Lx - 2, 2) = 1;
        /* full-height columns at level 2 */
        for (int k = 0; k < ncol; k++)
            for (int y = 0; y < Ly; y++) *at(&c, c.level, 4 * k, y) = 2;
        r = census_of(&c);
        CHECK(r.n_components[2] == ncol && r.n_span_y[2] == ncol && r.n_span_x[2] == 0,
              "columns: %lld components, %lld span y", (long long)r.n_components[2],
              (long long)r.n_span_y[2]);
        CHECK(r.n_components[1] == 1 && r.n_span_x[1] == 1 && r.n_span_y[1] == 1 && r.n_span_xy[1] == 1,
              "serpentine with full columns spans both ways");
        reference_check(&c, "serpentine with columns");
        check_strip_counts(&c, &r, "serpentine with columns");
        cfg_free(&c);
    }
}

/* Components that touch x = 0 and x = Lx - 1 only in different rows, each
 * of which has the other end empty: two Z shapes. Open, both span x; the
 * evidence of each edge comes from a different row and, with several
 * strips, from a different strip. Periodic, no row has both ends, so
 * there is no x-wrap bond and nothing winds. */
static void test_components_row_ends(void)
{
    const int Lx = 70, Ly = 50;
    for (int b = 0; b < 2; b++) {
        config c = cfg_new(Lx, Ly, b ? BOUNDARY_OPEN : BOUNDARY_PERIODIC);
        for (int x = 0; x <= 10; x++) *at(&c, c.level, x, 3) = 0;     /* A: left end in row 3 */
        for (int y = 3; y <= 40; y++) *at(&c, c.level, 10, y) = 0;
        for (int x = 10; x < Lx; x++) *at(&c, c.level, x, 40) = 0;    /* right end in row 40 */
        for (int x = 0; x <= 40; x++) *at(&c, c.level, x, 44) = 1;    /* B: left end in row 44 */
        for (int y = 44; y <= 46; y++) *at(&c, c.level, 40, y) = 1;
        for (int x = 40; x < Lx; x++) *at(&c, c.level, x, 46) = 1;    /* right end in row 46 */
        census_result r = census_of(&c);
        CHECK(r.n_components[0] == 2 && r.n_components[1] == 1, "two Z shapes, one at level 1");
        CHECK(r.n_span_x[0] == (b ? 2 : 0) && r.n_span_y[0] == 0 && r.n_span_x[1] == (b ? 1 : 0),
              "%s: %lld span x at level 0, %lld at level 1", b ? "open" : "periodic",
              (long long)r.n_span_x[0], (long long)r.n_span_x[1]);
        reference_check(&c, b ? "Z shapes open" : "Z shapes periodic");
        check_strip_counts(&c, &r, "Z shapes");
        cfg_free(&c);
    }
}

/* Combs: full rows between rows of single sites, so that one run has a
 * bond to every other site of the rows next to it and all but the first of
 * them join a component to itself: the most unions a row can ask for. Every
 * site is in one component, which spans both ways. */
static void test_components_combs(void)
{
    static const struct { int Lx, Ly; boundary_kind bc; } lat[] = {
        {200, 64, BOUNDARY_PERIODIC}, {201, 33, BOUNDARY_OPEN}, {130, 10, BOUNDARY_PERIODIC},
    };
    for (size_t k = 0; k < sizeof lat / sizeof lat[0]; k++) {
        config c = cfg_new(lat[k].Lx, lat[k].Ly, lat[k].bc);
        int64_t n = 0;
        for (int y = 0; y < c.Ly; y++)
            for (int x = 0; x < c.Lx; x++)
                if (y % 2 == 0 || x % 2 == 0) { *at(&c, c.level, x, y) = 0; n++; }
        census_result r = census_of(&c);
        CHECK(r.n_components[0] == 1 && r.largest[0] == n && r.n_span_xy[0] == 1,
              "comb %dx%d: %lld components, largest %lld of %lld", c.Lx, c.Ly,
              (long long)r.n_components[0], (long long)r.largest[0], (long long)n);
        reference_check(&c, "comb");
        check_strip_counts(&c, &r, "comb");
        cfg_free(&c);
    }
}

/* --------------------------------------------------------------- table 1 */

static void test_table1_json_matches_c(void)
{
    static const char *key[T1_NCOLS] = {"N", "arrows", "cbosons", "hscl", "jamming", "plus_z", "minus_z", "density"};
    FILE *f = fopen("data/table1.json", "rb");
    if (!f) f = fopen("../data/table1.json", "rb");
    CHECK(f != NULL, "data/table1.json not found (run from the repository root)");
    if (!f) return;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *root = cJSON_Parse(buf);
    CHECK(root != NULL, "data/table1.json does not parse");
    if (!root) return;
    cJSON *rows = cJSON_GetObjectItem(root, "rows");
    CHECK(cJSON_GetArraySize(rows) == TABLE1_NROWS, "9 rows");
    for (int i = 0; i < TABLE1_NROWS && i < cJSON_GetArraySize(rows); i++) {
        cJSON *row = cJSON_GetArrayItem(rows, i);
        CHECK(cJSON_GetObjectItem(row, "V")->valueint == i, "row order");
        cJSON *status = cJSON_GetObjectItem(row, "status");
        for (int col = 0; col < T1_NCOLS; col++) {
            const table1_entry *e = table1_entry_at(i, (table1_col)col);
            cJSON *v = cJSON_GetObjectItem(row, key[col]);
            cJSON *st = status ? cJSON_GetObjectItem(status, key[col]) : NULL;
            const char *sname = st ? st->valuestring : "reproduced";
            static const char *names[] = {"reproduced", "base_reproduced", "paper_differs", "paper_absent"};
            CHECK(!strcmp(sname, names[e->status]), "V%d %s status %s", i, key[col], sname);
            if (e->status == T1_PAPER_ABSENT) { CHECK(cJSON_IsNull(v), "V%d %s null", i, key[col]); continue; }
            CHECK(cJSON_GetArraySize(v) == 2, "V%d %s pair", i, key[col]);
            int a = cJSON_GetArrayItem(v, 0)->valueint, b = cJSON_GetArrayItem(v, 1)->valueint;
            if (col == T1_COL_DENSITY) CHECK(a == e->base && b == e->den, "V%d density %d/%d", i, a, b);
            else CHECK(a == e->base && b == e->extra, "V%d %s %d + %d vs C %d + %d", i, key[col], a, b, e->base, e->extra);
        }
    }
    cJSON_Delete(root);
}

static void test_table1_reference(void)
{
    int64_t v, d;
    CHECK(table1_reference(7, T1_COL_JAMMING, &v, &d) == false, "V7 jamming not compared");
    CHECK(table1_reference(8, T1_COL_JAMMING, &v, &d) == false, "V8 jamming not compared");
    CHECK(table1_reference(8, T1_COL_N, &v, &d) && v == 196, "V8 N base");
    CHECK(table1_reference(8, T1_COL_ARROWS, &v, &d) && v == 60, "V8 arrows total");
    CHECK(table1_reference(8, T1_COL_HSCL, &v, &d) && v == 141, "V8 HSCLs + cavity");
    CHECK(table1_reference(8, T1_COL_DENSITY, &v, &d) && v == 136 && d == 200, "V8 density");
    for (int i = 0; i <= 6; i++)
        CHECK(table1_reference(i, T1_COL_JAMMING, &v, &d) && v == 8 * i, "V%d jamming 8i", i);
    char *argv_help[] = {"table1", "--help"};
    CHECK(cmd_table1(2, argv_help) == 0, "--help");
    char *argv_bad[] = {"table1", "--nope"};
    CHECK(cmd_table1(2, argv_bad) == SM_EXIT_USAGE, "bad option");
    /* the command itself: quiet run with stdout sent to /dev/null */
    fflush(stdout);
    FILE *saved = stdout;
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        stdout = null;
        char *argv_json[] = {"table1", "--json"};
        int rc = cmd_table1(2, argv_json);
        stdout = saved;
        fclose(null);
        CHECK(rc == 0, "table1 --json exit %d", rc);
    }
}

/* ------------------------------------------- threads and skip_components */

static void test_deterministic_threads(void)
{
    config c = cfg_new(300, 257, BOUNDARY_PERIODIC);
    fill_random(&c, 5, 1);
    int maxt = omp_get_max_threads();
    omp_set_num_threads(1);
    census_result r1 = census_of(&c);
    omp_set_num_threads(maxt > 1 ? maxt : 2);
    census_result r2 = census_of(&c);
    omp_set_num_threads(maxt);
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0, "census differs between 1 and %d threads", maxt);
    cfg_free(&c);
}

/* skip_components leaves every cluster result as it is and every component
 * field at 0 (the full census of the same fields has components, so the
 * zeros are not the fields' natural values). */
static void test_skip_components(void)
{
    config c = cfg_new(96, 70, BOUNDARY_PERIODIC);
    for (int kind = 0; kind < 3; kind++) {
        if (kind < 2) fill_random(&c, 11, kind == 0);
        else memset(c.level, 8, (size_t)c.Lx * c.Ly);
        census_input in = cfg_input(&c);
        census_result full, part;
        sm_error err;
        CHECK(census_compute(&in, NULL, &full, &err) == 0, "%s", err.msg);
        in.skip_components = true;
        CHECK(census_compute(&in, NULL, &part, &err) == 0, "%s", err.msg);
        CHECK(full.n_components[0] > 0, "kind %d: full census has no components", kind);
        CHECK(memcmp(full.n_centres, part.n_centres, sizeof full.n_centres) == 0 &&
              memcmp(full.n_truncated, part.n_truncated, sizeof full.n_truncated) == 0 &&
              memcmp(full.n_match, part.n_match, sizeof full.n_match) == 0 &&
              memcmp(full.n_equal, part.n_equal, sizeof full.n_equal) == 0,
              "kind %d: cluster counts change with skip_components", kind);
        for (int i = 0; i < CENSUS_NV; i++)
            CHECK(counts_equal(&full.sum[i], &part.sum[i]) &&
                  counts_equal(&full.sum_truncated[i], &part.sum_truncated[i]),
                  "kind %d V%d: sums change with skip_components", kind, i);
        census_result zero;
        memset(&zero, 0, sizeof zero);
        CHECK(memcmp(part.n_sites_ge, zero.n_sites_ge, sizeof zero.n_sites_ge) == 0 &&
              memcmp(part.n_components, zero.n_components, sizeof zero.n_components) == 0 &&
              memcmp(part.largest, zero.largest, sizeof zero.largest) == 0 &&
              memcmp(part.size_hist, zero.size_hist, sizeof zero.size_hist) == 0 &&
              memcmp(part.n_span_x, zero.n_span_x, sizeof zero.n_span_x) == 0 &&
              memcmp(part.n_span_y, zero.n_span_y, sizeof zero.n_span_y) == 0 &&
              memcmp(part.n_span_xy, zero.n_span_xy, sizeof zero.n_span_xy) == 0,
              "kind %d: component fields not 0 with skip_components", kind);
    }
    cfg_free(&c);
}

int main(void)
{
    RUN(test_ideal_clusters);
    RUN(test_odd_seam);
    RUN(test_periodic_boundary);
    RUN(test_perturbations);
    RUN(test_v8_footprint_and_cavity);
    RUN(test_overlapping);
    RUN(test_truncated);
    RUN(test_fast_vs_explicit);
    RUN(test_percolation_patterns);
    RUN(test_components_random);
    RUN(test_components_strips);
    RUN(test_components_serpentine);
    RUN(test_components_row_ends);
    RUN(test_components_combs);
    RUN(test_against_reference);
    RUN(test_table1_json_matches_c);
    RUN(test_table1_reference);
    RUN(test_deterministic_threads);
    RUN(test_skip_components);
    return CHECK_REPORT();
}
