/* Cage dynamics kernel. Bond classes and checkerboard colours are sets of
 * moves that touch disjoint sites (bond passes) or only read sites of the
 * other colour (colour passes), so each pass runs in parallel with no races;
 * every random number is addressed by (seed, sweep, pass, site) so the
 * trajectory does not depend on which thread visits which site. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "dynamics/cage.h"
#include "dynamics/dynamics.h"
#include "core/rng.h"
#include "philox_avx2.h"

const char *const CAGE_MOVE_NAMES[CAGE_NMOVES] = {"pair", "single", "trap", "loop", "sigma"};

/* Below this many sites a pass is cheaper than waking the thread team; the
 * result is the same either way. */
enum { CAGE_PARALLEL_MIN_SITES = 4096 };

static double barrier_factor(double E, double T)
{
    const double f = exp(-E / T);
    return f < 1.0 ? f : 1.0;
}

void cage_tables_build(cage_tables *t, const model_params *p, double T)
{
    t->T = T;
    const double trap = barrier_factor(p->trap_barrier, T);
    double r[NLEVELS][2][9][2][9];
    model_level_ratios(p, T, r);
    /* a loop crossing also passes the trap (an impossible move stays 0) */
    for (int l = 0; l < NLEVELS; l++)
        for (int up = 0; up < 2; up++)
            for (int k = 0; k < 9; k++)
                for (int sp = 0; sp < 2; sp++)
                    for (int j = 0; j < 9; j++) {
                        const double x = r[l][up][k][sp][j];
                        t->loop[l][up][k][sp][j] = model_threshold(trap * (x < 1.0 ? x : 1.0));
                    }
    for (int sp = 0; sp < 2; sp++)
        for (int j = 0; j < 9; j++)
            t->sigma[sp][j] = model_threshold(model_sigma_ratio(p, T, sp ? 1 : -1, j - 4));
    t->async = model_threshold(barrier_factor(p->async_barrier, T));
    t->trap = model_threshold(trap);
}

int64_t cage_moves_per_sweep(const lattice *lat)
{
    /* an open boundary cuts the bonds that would cross it */
    const int open = lat->boundary == BOUNDARY_OPEN;
    const int64_t bonds = (int64_t)(lat->Lx - open) * lat->Ly + (int64_t)lat->Lx * (lat->Ly - open);
    return lat->N + bonds;
}

/* Everything a pass adds up, so that one user-defined OpenMP reduction
 * covers it; all integers, so the sum does not depend on the thread count. */
typedef struct {
    int64_t dC, dSt, dJ, dh;
    int64_t prop[CAGE_NMOVES], acc[CAGE_NMOVES];
    kin_counters k;
} cage_acc;

static void acc_add(cage_acc *o, const cage_acc *i)
{
    o->dC += i->dC; o->dSt += i->dSt; o->dJ += i->dJ; o->dh += i->dh;
    for (int m = 0; m < CAGE_NMOVES; m++) {
        o->prop[m] += i->prop[m];
        o->acc[m] += i->acc[m];
    }
    for (int l = 0; l < KIN_NLOOPS; l++) {
        o->k.completions[l] += i->k.completions[l];
        o->k.undos[l] += i->k.undos[l];
    }
    for (int l = 0; l < KIN_NTAU; l++) {
        o->k.tau_sum[l] += i->k.tau_sum[l];
        o->k.tau_sumsq[l] += i->k.tau_sumsq[l];
        o->k.tau_count[l] += i->k.tau_count[l];
    }
    o->k.sm_jumps += i->k.sm_jumps;
}

#pragma omp declare reduction(cage_sum : cage_acc : acc_add(&omp_out, &omp_in)) \
    initializer(omp_priv = (cage_acc){0})

/* A rectangle of the lattice in storage: the whole lattice (halo = 0; a
 * neighbour across an edge wraps within the storage, or is absent on an
 * open lattice) or a block with one halo cell on each side (halo = 1; a
 * neighbour across the block's edge is a halo cell, absent only at a global
 * open boundary). Sites are addressed by region coordinates (x, y): storage
 * index y * stride + x, random-number counter (gy0 + y) * Lx + gx0 + x. A
 * pass makes only the moves of the sites, or of the bonds whose first site,
 * lies in the window w; everything else about a move (its numbers, its
 * neighbours, where its events and stamps go) is the region's. */
typedef struct {
    cage_block b;
    int halo, open;
    cage_rect w;
} region;

/* [*lo, *hi): the part of [w0, w0 + wn) inside [lo0, hi0). */
static void clip(int w0, int wn, int lo0, int hi0, int *lo, int *hi)
{
    *lo = w0 > lo0 ? w0 : lo0;
    *hi = w0 + wn < hi0 ? w0 + wn : hi0;
}

/* Small windows run serially: a parallel region costs more than the pass
 * (even with one thread), and the result is the same either way. */
static int run_parallel(const region *r)
{
    int x0, x1, y0, y1;
    clip(r->w.x, r->w.nx, 0, r->b.nx, &x0, &x1);
    clip(r->w.y, r->w.ny, 0, r->b.ny, &y0, &y1);
    return x1 > x0 && y1 > y0 && (int64_t)(x1 - x0) * (y1 - y0) >= CAGE_PARALLEL_MIN_SITES &&
           omp_get_max_threads() > 1;
}

static inline int wrap_index(int v, int L) { return v < 0 ? v + L : v >= L ? v - L : v; }

/* A neighbour cut by an open boundary: block storage indices are relative
 * to the block's first owned site, so a halo cell's index may be negative. */
#define NBR_NONE INT64_MIN

/* The neighbour of (x, y) in direction d, or NBR_NONE: row offsets inside,
 * the lattice's boundary rule at the edges of the whole lattice, the halo
 * at the edges of a block. */
static inline int64_t nbr(const region *r, int x, int y, int64_t a, int d)
{
    const cage_block *b = &r->b;
    const lattice *lat = b->lat;
    if (r->halo) {
        const int gx = b->gx0 + x, gy = b->gy0 + y;
        switch (d) {
        case DIR_PX: return r->open && gx + 1 == lat->Lx ? NBR_NONE : a + 1;
        case DIR_PY: return r->open && gy + 1 == lat->Ly ? NBR_NONE : a + b->stride;
        case DIR_MX: return r->open && gx == 0 ? NBR_NONE : a - 1;
        default:     return r->open && gy == 0 ? NBR_NONE : a - b->stride;
        }
    }
    const int Lx = lat->Lx;
    int64_t n;
    switch (d) {
    case DIR_PX: n = x + 1 < Lx ? a + 1 : lattice_nbr_xy(lat, x, y, d); break;
    case DIR_PY: n = y + 1 < lat->Ly ? a + Lx : lattice_nbr_xy(lat, x, y, d); break;
    case DIR_MX: n = x > 0 ? a - 1 : lattice_nbr_xy(lat, x, y, d); break;
    default:     n = y > 0 ? a - Lx : lattice_nbr_xy(lat, x, y, d); break;
    }
    return n < 0 ? NBR_NONE : n;
}

/* The pair jump of a paired bond a-b of class cls whose first site has
 * random-number counter ctr. Each end moves only where own_a / own_b: a
 * bond across a block edge is computed by both blocks, from the same
 * numbers, and each moves its own end. */
static inline void pair_jump(uint8_t *phase, int64_t a, int64_t b, int own_a, int own_b, int cls,
                             uint32_t ctr, uint64_t seed, uint64_t sweep, int64_t *accepted)
{
    const rng_block rb = rng_draw(seed, sweep, RNG_STREAM_CAGE_BOND, (uint32_t)cls, ctr);
    /* both PCPs move one angle line together, never across a diagonal
     * boundary, so (l, sigma) and the pairing are kept */
    const int step = (rb.v[0] & 1u) ? 1 : -1;
    const int lam = (phase[a] & 15) + step;
    if (lam < 0 || lam >= CAGE_LINES) return;
    phase[a] = (uint8_t)(phase[a] + step * own_a);
    phase[b] = (uint8_t)(phase[b] + step * own_b);
    *accepted += own_a;
}

enum { BOND_CHUNK = 64 };

/* The bonds of one row of a bond pass: first sites x in [xlo, xhi) of
 * region row y, partner at storage offset off. */
typedef struct {
    int64_t a0, off;   /* storage index of x = 0; partner offset */
    int xlo, xhi, d, gy;   /* gy: the global row of the first sites */
} bond_span;

/* The span of region row y: for d = 0 the bonds along +x, for d = 1 along
 * +y. A block takes every bond with one end in it, the other end possibly a
 * halo cell (a first site at x = -1 or in row -1, a partner at x = nx or in
 * row ny); the whole lattice its own bonds, the one across the periodic x
 * edge apart (its partner is not at +1). */
static bond_span row_span(const region *r, int cls, int y)
{
    const cage_block *b = &r->b;
    const lattice *lat = b->lat;
    bond_span s = {(int64_t)y * b->stride, 1, 0, 0, cls >> 1, wrap_index(b->gy0 + y, lat->Ly)};
    if (s.d == 0) {
        s.xlo = r->halo && !(r->open && b->gx0 == 0) ? -1 : 0;
        s.xhi = r->halo && !(r->open && b->gx0 + b->nx == lat->Lx) ? b->nx : b->nx - 1;
        return s;
    }
    if (r->halo) {
        s.xhi = r->open && s.gy + 1 == lat->Ly ? 0 : b->nx;   /* cut at the top */
        s.off = b->stride;
        return s;
    }
    const int64_t nb0 = lattice_nbr_xy(lat, 0, y, DIR_PY);   /* -1: cut */
    s.off = nb0 - s.a0;
    s.xhi = nb0 < 0 ? 0 : lat->Lx;
    return s;
}

/* One row of a bond pass: for cls 0 every bond along +x of row y (both
 * classes, 0 and 1, at once: a bond's class is the parity of its first
 * site's global x), for cls 2 or 3 the bonds along +y from row y. A site
 * belongs to at most one paired bond (it faces one neighbour, which must
 * face it back) and a pair jump leaves both sites facing as before, so no
 * jump changes whether another bond is paired or what it may do: the bonds
 * of a row jump independently, and both x classes in one pass make the
 * same moves as one after the other (each draws its own numbers, addressed
 * by class and site). About one bond in 256 is paired: the test runs
 * branch-free over a chunk of the row (vectorised), and only the paired
 * bonds draw. A bond is counted where its first site is owned. */
static void bond_row(const region *r, int cls, int y, uint64_t seed, uint64_t sweep, cage_acc *acc)
{
    const cage_block *b = &r->b;
    uint8_t *restrict phase = b->phase;
    const int8_t *restrict sigma = b->sigma;
    const int Lx = b->lat->Lx;
    bond_span s = row_span(r, cls, y);
    clip(r->w.x, r->w.nx, s.xlo, s.xhi, &s.xlo, &s.xhi);
    const int d = s.d;
    const uint32_t ctr0 = (uint32_t)((int64_t)s.gy * Lx);
    /* a faces d and b faces back: the diagonal bits (phase & 0x30) of a
     * site of sigma +1 facing f are f << 4, of sigma -1 ((4 - f) & 3) << 4
     * (cage_facing), compared on the bytes themselves so that the test
     * runs 16 or more bonds to a vector */
    const uint8_t fa_up = (uint8_t)(d << 4), fa_dn = (uint8_t)(((4 - d) & 3) << 4);
    const uint8_t fb_up = (uint8_t)(((d + 2) & 3) << 4), fb_dn = (uint8_t)(((2 - d) & 3) << 4);
    /* ends in the halo: the first site's row (y bonds) or column (x bonds) */
    const int own_row_a = y >= 0, own_row_b = d == 0 || !r->halo || y + 1 < b->ny;
    int64_t prop = 0, accepted = 0;
    for (int xb = s.xlo; xb < s.xhi; xb += BOND_CHUNK) {
        const int n = s.xhi - xb < BOND_CHUNK ? s.xhi - xb : BOND_CHUNK;
        const uint8_t *pa = phase + s.a0 + xb, *pb = pa + s.off;
        const int8_t *sa = sigma + s.a0 + xb, *sb = sa + s.off;
        uint8_t hit[BOND_CHUNK];
        int any = 0;
        for (int i = 0; i < n; i++) {
            const uint8_t qa = sa[i] < 0 ? fa_dn : fa_up, qb = sb[i] < 0 ? fb_dn : fb_up;
            hit[i] = (((pa[i] ^ pb[i]) & 15) == 0) & ((pa[i] & 0x30) == qa) & ((pb[i] & 0x30) == qb);
            any |= hit[i];
        }
        if (!any) continue;
        for (int i = 0; i < n; i++) {
            if (!hit[i]) continue;
            const int x = xb + i, gx = wrap_index(b->gx0 + x, Lx);
            const int own_a = own_row_a && x >= 0;
            const int own_b = own_row_b && (d == 1 || !r->halo || x + 1 < b->nx);
            prop += own_a;
            pair_jump(phase, s.a0 + x, s.a0 + x + s.off, own_a, own_b, d == 0 ? gx & 1 : cls,
                      ctr0 + (uint32_t)gx, seed, sweep, &accepted);
        }
    }
    /* the whole lattice's bond across the periodic edge along x */
    const int64_t a = s.a0 + Lx - 1;
    const int in_w = r->w.x <= Lx - 1 && Lx - 1 < r->w.x + r->w.nx;
    const int64_t nb0 = d == 0 && !r->halo && in_w ? lattice_nbr_xy(b->lat, Lx - 1, y, d) : -1;
    if (nb0 >= 0 && cage_paired(phase[a], sigma[a], phase[nb0], sigma[nb0], d)) {
        prop++;
        pair_jump(phase, a, nb0, 1, 1, (Lx - 1) & 1, ctr0 + (uint32_t)(Lx - 1), seed, sweep, &accepted);
    }
    acc->prop[CAGE_MOVE_PAIR] += prop;
    acc->acc[CAGE_MOVE_PAIR] += accepted;
}

/* Bond class pass cls of a region: along x every row; along y every other
 * row, those whose first site's global row has the class's parity (in a
 * block, from its bottom halo row unless an open edge cuts it); only the
 * rows of the window. */
static void bond_pass(const region *r, int cls, uint64_t seed, uint64_t sweep, cage_acc *acc)
{
    const cage_block *b = &r->b;
    int y0 = 0, step = 1, yend = b->ny;
    if (cls >> 1) {
        y0 = r->halo && !(r->open && b->gy0 == 0) ? -1 : 0;
        y0 += (wrap_index(b->gy0 + y0, b->lat->Ly) & 1) != (cls & 1);
        step = 2;
    }
    if (y0 < r->w.y) y0 += (r->w.y - y0 + step - 1) / step * step;
    if (yend > r->w.y + r->w.ny) yend = r->w.y + r->w.ny;
    const int nrows = yend > y0 ? (yend - y0 + step - 1) / step : 0;
    cage_acc sum = {0};
    if (run_parallel(r)) {
#pragma omp parallel for schedule(static) reduction(cage_sum : sum)
        for (int i = 0; i < nrows; i++) bond_row(r, cls, y0 + step * i, seed, sweep, &sum);
    } else {
        for (int i = 0; i < nrows; i++) bond_row(r, cls, y0 + step * i, seed, sweep, &sum);
    }
    acc_add(acc, &sum);
}

/* Words 0..2 of rng_draw(seed, sweep, RNG_STREAM_CAGE_SITE, colour, a0 +
 * 2 i) for i < n (the sites of one colour in a row), with the
 * Philox4x32-10 rounds written out as a loop over sites that the compiler
 * vectorises, 8 sites to a vector with AVX-512. Compiled for AVX2 (4 lanes
 * of 64-bit products) this was slower than the scalar rng_draw on a Zen 1
 * core; the AVX2 path below is the level kernel's hand-scheduled Philox. */
__attribute__((target("arch=x86-64-v4,prefer-vector-width=512")))
static void row_randoms_avx512(uint64_t seed, uint64_t sweep, int colour, int64_t a0, int n,
                               uint32_t *restrict o0, uint32_t *restrict o1, uint32_t *restrict o2)
{
    const uint32_t c3 = ((uint32_t)RNG_STREAM_CAGE_SITE << 16) | (uint32_t)colour;
    rng_philox_lanes((uint32_t)a0, (uint32_t)sweep, (uint32_t)(sweep >> 32), c3, (uint32_t)seed,
                     (uint32_t)(seed >> 32), n, o0, o1, o2);
}

/* The same with AVX2, 16 sites at a time (philox_avx2.h, shared with the
 * level kernel); returns how many sites it did (a multiple of 16). */
__attribute__((target("avx2")))
static int row_randoms_avx2(uint64_t seed, uint64_t sweep, int colour, int64_t a0, int n,
                            uint32_t *restrict o0, uint32_t *restrict o1, uint32_t *restrict o2)
{
    philox_keys pk;
    philox_keys_init(&pk, (uint32_t)sweep, (uint32_t)(sweep >> 32),
                     ((uint32_t)RNG_STREAM_CAGE_SITE << 16) | (uint32_t)colour, (uint32_t)seed,
                     (uint32_t)(seed >> 32));
    uint64_t R0[16], R1[16], R2[16];
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        philox16((uint32_t)a0 + 2u * (uint32_t)i, &pk, R0, R1, R2);
        for (int k = 0; k < 16; k++) {
            const int l = philox_lane(k);
            o0[i + k] = (uint32_t)R0[l];
            o1[i + k] = (uint32_t)R1[l];
            o2[i + k] = (uint32_t)R2[l];
        }
    }
    return i;
}

int cage_simd_available(void)
{
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) return CAGE_RNG_AVX512;
    return __builtin_cpu_supports("avx2") ? CAGE_RNG_AVX2 : CAGE_RNG_SCALAR;
}

void cage_row_randoms(int simd, uint64_t seed, uint64_t sweep, int colour, int64_t a0, int n,
                      uint32_t *restrict o0, uint32_t *restrict o1, uint32_t *restrict o2)
{
    if (simd == CAGE_RNG_AVX512) {
        row_randoms_avx512(seed, sweep, colour, a0, n, o0, o1, o2);
        return;
    }
    const int done = simd == CAGE_RNG_AVX2 ? row_randoms_avx2(seed, sweep, colour, a0, n, o0, o1, o2) : 0;
    for (int i = done; i < n; i++) {
        const rng_block r =
            rng_draw(seed, sweep, RNG_STREAM_CAGE_SITE, (uint32_t)colour, (uint32_t)(a0 + 2 * i));
        o0[i] = r.v[0];
        o1[i] = r.v[1];
        o2[i] = r.v[2];
    }
}

/* What one row of a colour pass reads but does not change. */
typedef struct {
    const region *r;
    const model_params *p;
    const cage_tables *t;
    uint32_t now;
    int simd;     /* the row randoms' path (cage_row_randoms) */
} row_ctx;

/* Neighbour sum S = sum_b n_b sigma_b of site a. */
static inline int nbr_sum(const row_ctx *c, int x, int y, int64_t a)
{
    const int8_t *level = c->r->b.level, *sigma = c->r->b.sigma;
    int S = 0;
    for (int d = 0; d < NDIR; d++) {
        const int64_t b = nbr(c->r, x, y, a, d);
        if (b != NBR_NONE) S += (level[b] >= 0) * sigma[b];
    }
    return S;
}

/* The kinetic record of an accepted loop crossing of site a to level l2. */
static void loop_crossed(const row_ctx *c, int x, int y, int64_t a, int up, int l, int l2, int sa,
                         cage_acc *acc)
{
    kinetics *k = c->r->b.k;
    if (!up) {
        acc->k.undos[l]++;
        kinetics_set_stamp(k, a, KIN_NO_STAMP);
        return;
    }
    acc->k.completions[l2]++;
    /* a stamp means the last completion reached l = l2 - 1: loop l2 - 1
     * then loop l2 */
    const uint32_t then = kinetics_stamp(k, a);
    if (l2 >= 1 && then != KIN_NO_STAMP) {
        const int64_t dt = (int64_t)c->now - then;
        acc->k.tau_sum[l2 - 1] += dt;
        acc->k.tau_sumsq[l2 - 1] += (uint64_t)(dt * dt);
        acc->k.tau_count[l2 - 1]++;
    }
    kinetics_set_stamp(k, a, c->now);
    if (l2 == LEVEL_MAX) {
        /* the sigma of the completed loop, before the flip that may follow
         * chooses a new one */
        kinetics_mark_event(k, x, y, sa > 0);
        acc->k.sm_jumps++;
    }
}

/* A single jump across the loop boundary of site a (phi 63 -> 0 when up,
 * 0 -> 63 otherwise): l -> l +- 1 under RSOS with c_trap min(1, W'/W).
 * Returns the new phase. */
static int loop_move(const row_ctx *c, int x, int y, int64_t a, int up, uint32_t r1, int ph,
                     cage_acc *acc)
{
    int8_t *level = c->r->b.level, *sigma = c->r->b.sigma;
    const int l = level[a], sa = sigma[a];
    const int l2 = up ? l + 1 : l - 1;
    acc->prop[CAGE_MOVE_LOOP]++;
    if (c->p->freeze_levels || l2 < LEVEL_MIN || l2 > LEVEL_MAX) return ph;
    int S = 0, lmin = 99, lmax = -99, n_same = 0, n_up = 0;
    for (int d = 0; d < NDIR; d++) {
        const int64_t b = nbr(c->r, x, y, a, d);
        if (b == NBR_NONE) continue;
        const int lb = level[b];
        S += (lb >= 0) * sigma[b];
        lmin = lb < lmin ? lb : lmin;
        lmax = lb > lmax ? lb : lmax;
        n_same += lb == l;
        n_up += lb == l2;
    }
    const int dn = (l2 >= 0) - (l >= 0);
    if (l2 - lmin > 1 || lmax - l2 > 1 ||
        (uint64_t)r1 >= c->t->loop[l + 1][up][n_same - n_up + 4][sa > 0][S * (dn != 0) + 4])
        return ph;
    level[a] = (int8_t)l2;
    acc->acc[CAGE_MOVE_LOOP]++;
    acc->dC += MODEL_CBOSONS[l2 + 1] - MODEL_CBOSONS[l + 1];
    acc->dSt += n_same - n_up;
    acc->dJ += dn * sa * S;
    acc->dh += dn * sa;
    loop_crossed(c, x, y, a, up, l, l2, sa, acc);
    return up ? 0 : NPHASE - 1;
}

/* The sigma flip of a PCP at phi = 0: the handedness is chosen at the
 * start of a loop. */
static void sigma_move(const row_ctx *c, int x, int y, int64_t a, uint32_t r2, cage_acc *acc)
{
    int8_t *sigma = c->r->b.sigma;
    const int sa = sigma[a];
    acc->prop[CAGE_MOVE_SIGMA]++;
    if (c->r->b.level[a] < 0) {
        sigma[a] = (int8_t)-sa;
        acc->acc[CAGE_MOVE_SIGMA]++;
        return;
    }
    const int S = nbr_sum(c, x, y, a);
    if ((uint64_t)r2 < c->t->sigma[sa > 0][S + 4]) {
        sigma[a] = (int8_t)-sa;
        acc->acc[CAGE_MOVE_SIGMA]++;
        acc->dJ -= 2 * sa * S;
        acc->dh -= 2 * sa;
    }
}

enum { CAGE_BLOCK = 64 };

/* One row of a colour pass: a single jump w -> w +- 1 of every PCP of that
 * colour, then a sigma flip where the PCP stands at phi = 0. The random
 * words of a block of sites are drawn together first; the common move (a
 * jump inside the loop) needs no neighbour, so neighbours are looked up
 * only for the few loop crossings and sigma flips. */
static void site_row(const row_ctx *c, int colour, int y, uint64_t seed, uint64_t sweep,
                     cage_acc *acc)
{
    const cage_block *b = &c->r->b;
    uint8_t *restrict phase = b->phase;
    const uint64_t thr_single = c->t->async, thr_trap = c->t->trap;
    int x0, nx;   /* the window's sites of the row: x0 <= x < nx */
    clip(c->r->w.x, c->r->w.nx, 0, b->nx, &x0, &nx);
    const int64_t ctr_row = (int64_t)(b->gy0 + y) * b->lat->Lx + b->gx0;
    /* single jumps inside the loop: proposed, of them on the trap line,
     * accepted, of them on the trap line (in registers: an array indexed
     * by the trap bit would make every site wait on the last one's store) */
    int64_t in = 0, ntrap = 0, nok = 0, nok_trap = 0;
    uint32_t r0[CAGE_BLOCK], r1[CAGE_BLOCK], r2[CAGE_BLOCK];
    for (int xb = x0 + ((b->gx0 + x0 + b->gy0 + y + colour) & 1); xb < nx; xb += 2 * CAGE_BLOCK) {
        const int n = (nx - xb + 1) / 2 < CAGE_BLOCK ? (nx - xb + 1) / 2 : CAGE_BLOCK;
        const int64_t a0 = (int64_t)y * b->stride + xb;
        cage_row_randoms(c->simd, seed, sweep, colour, ctr_row + xb, n, r0, r1, r2);
        for (int i = 0; i < n; i++) {
            const int x = xb + 2 * i;
            const int64_t a = a0 + 2 * i;
            const int up = (int)(r0[i] & 1u);
            int ph = phase[a];
            /* the up bit is a coin: every test on it is arithmetic, not a
             * branch (a branch on it mispredicts half the time) */
            if (ph == ((NPHASE - 1) & -up)) {
                ph = loop_move(c, x, y, a, up, r1[i], ph, acc);
                phase[a] = (uint8_t)ph;
            } else {
                /* inside the loop: the trap line borders the next diagonal */
                const int lam = ph & 15;
                const int trap = lam == (CAGE_TRAP_LINE & -up);
                const int ok = (uint64_t)r1[i] < (trap ? thr_trap : thr_single);
                in++;
                ntrap += trap;
                nok += ok;
                nok_trap += ok & trap;
                ph += ok * (2 * up - 1);
                phase[a] = (uint8_t)ph;
            }
            if (ph == 0) sigma_move(c, x, y, a, r2[i], acc);
        }
    }
    acc->prop[CAGE_MOVE_SINGLE] += in - ntrap;
    acc->acc[CAGE_MOVE_SINGLE] += nok - nok_trap;
    acc->prop[CAGE_MOVE_TRAP] += ntrap;
    acc->acc[CAGE_MOVE_TRAP] += nok_trap;
}

/* One colour pass of a region's window, rows in parallel; its soft-matrix
 * events are left in the region's kinetics buffers. */
static void colour_pass(const region *r, int colour, const model_params *p, const cage_tables *t,
                        uint64_t seed, uint64_t sweep, cage_acc *acc)
{
    const row_ctx rc = {r, p, t, (uint32_t)sweep, cage_simd_available()};
    int y0, y1;
    clip(r->w.y, r->w.ny, 0, r->b.ny, &y0, &y1);
    cage_acc sum = {0};
    if (run_parallel(r)) {
#pragma omp parallel for schedule(static) reduction(cage_sum : sum)
        for (int y = y0; y < y1; y++) site_row(&rc, colour, y, seed, sweep, &sum);
    } else {
        for (int y = y0; y < y1; y++) site_row(&rc, colour, y, seed, sweep, &sum);
    }
    acc_add(acc, &sum);
}

/* A pass's sums into the caller's totals. */
static void commit(const cage_acc *tot, energy_terms *de, move_stats *ms, kin_counters *c)
{
    de->sum_C += tot->dC; de->n_steps += tot->dSt; de->sum_J += tot->dJ; de->sum_h += tot->dh;
    for (int m = 0; m < CAGE_NMOVES; m++) {
        ms->proposed[m] += tot->prop[m];
        ms->accepted[m] += tot->acc[m];
    }
    for (int l = 0; l < KIN_NLOOPS; l++) {
        c->completions[l] += tot->k.completions[l];
        c->undos[l] += tot->k.undos[l];
    }
    for (int l = 0; l < KIN_NTAU; l++) {
        c->tau_sum[l] += tot->k.tau_sum[l];
        c->tau_sumsq[l] += tot->k.tau_sumsq[l];
        c->tau_count[l] += tot->k.tau_count[l];
    }
    c->sm_jumps += tot->k.sm_jumps;
}

void cage_sweep(const lattice *lat, model_state *s, const model_params *p, const cage_tables *t,
                kinetics *k, uint64_t seed, uint64_t sweep, energy_terms *de, move_stats *ms)
{
    const region r = {{s->level, s->sigma, s->phase, k, lat->Lx, 0, 0, lat->Lx, lat->Ly, lat}, 0,
                      lat->boundary == BOUNDARY_OPEN, {0, 0, lat->Lx, lat->Ly}};
    cage_acc tot = {0};
    /* both x classes in one pass (bond_row), then the two y classes */
    for (int cls = 0; cls < 4; cls += cls == 0 ? 2 : 1) bond_pass(&r, cls, seed, sweep, &tot);
    for (int colour = 0; colour < 2; colour++) {
        const int64_t jumps = tot.k.sm_jumps;
        colour_pass(&r, colour, p, t, seed, sweep, &tot);
        if (tot.k.sm_jumps != jumps) kinetics_apply_jumps(k, lat, s, colour);
    }
    commit(&tot, de, ms, &k->c);
}

static int rect_empty(cage_rect r) { return r.nx <= 0 || r.ny <= 0; }

cage_rect cage_block_whole(const cage_block *b) { return (cage_rect){-1, -1, b->nx + 1, b->ny + 1}; }

cage_rect cage_block_interior(const cage_block *b, int pass)
{
    /* a bond's partner is one site further along its direction */
    const int along_x = pass == 0 || pass == 1, along_y = pass == 2 || pass == 3;
    cage_rect r = {1, 1, b->nx - 2 - along_x, b->ny - 2 - along_y};
    if (rect_empty(r)) r.nx = r.ny = 0;
    return r;
}

int cage_block_edges(const cage_block *b, cage_rect inner, cage_rect edge[4])
{
    const cage_rect w = cage_block_whole(b);
    if (rect_empty(inner)) {
        edge[0] = w;
        return 1;
    }
    const int x1 = inner.x + inner.nx, y1 = inner.y + inner.ny;
    const cage_rect all[4] = {
        {w.x, w.y, w.nx, inner.y - w.y},                  /* below */
        {w.x, y1, w.nx, w.y + w.ny - y1},                 /* above */
        {w.x, inner.y, inner.x - w.x, inner.ny},          /* left */
        {x1, inner.y, w.x + w.nx - x1, inner.ny},         /* right */
    };
    int n = 0;
    for (int i = 0; i < 4; i++)
        if (!rect_empty(all[i])) edge[n++] = all[i];
    return n;
}

static region block_region(const cage_block *b, cage_rect part)
{
    const region r = {*b, 1, b->lat->boundary == BOUNDARY_OPEN, part};
    return r;
}

void cage_block_bonds_part(const cage_block *b, int cls, cage_rect part, uint64_t seed, uint64_t sweep,
                           move_stats *ms)
{
    if (rect_empty(part)) return;
    const region r = block_region(b, part);
    cage_acc tot = {0};
    energy_terms de = {0};
    kin_counters kc;
    memset(&kc, 0, sizeof kc);
    bond_pass(&r, cls, seed, sweep, &tot);
    commit(&tot, &de, ms, &kc);
}

void cage_block_bonds(const cage_block *b, int cls, uint64_t seed, uint64_t sweep, move_stats *ms)
{
    cage_block_bonds_part(b, cls, cage_block_whole(b), seed, sweep, ms);
}

void cage_block_colour_part(const cage_block *b, int colour, cage_rect part, const model_params *p,
                            const cage_tables *t, uint64_t seed, uint64_t sweep, energy_terms *de,
                            move_stats *ms, kin_counters *kc)
{
    if (rect_empty(part)) return;
    const region r = block_region(b, part);
    cage_acc tot = {0};
    colour_pass(&r, colour, p, t, seed, sweep, &tot);
    commit(&tot, de, ms, kc);
}

void cage_block_colour(const cage_block *b, int colour, const model_params *p, const cage_tables *t,
                       uint64_t seed, uint64_t sweep, energy_terms *de, move_stats *ms,
                       kin_counters *kc)
{
    cage_block_colour_part(b, colour, cage_block_whole(b), p, t, seed, sweep, de, ms, kc);
}

/* ----------------------------------------------------- the cage dynamics */

typedef struct {
    cage_tables t;
    kinetics kin;
    int64_t moves_per_sweep;
} cage_data;

static cage_data *cage_of(const sim_state *s) { return s->dyn_data; }

static void cage_free(sim_state *s)
{
    cage_data *d = cage_of(s);
    if (d) kinetics_free(&d->kin);
    free(d);
    s->dyn_data = NULL;
    s->kin = NULL;
}

/* Sweeps of the whole run, equilibration included: the stamps' range. */
static int64_t run_sweeps(const sm_config *cfg)
{
    return cfg->equilibration_sweeps + config_total_sweeps(cfg);
}

/* sites: allocate the per-site kinetics (else kinetics_init_sites, later). */
static int init_with(sim_state *s, const sm_config *cfg, int sites, sm_error *err)
{
    /* the kinetic stamps are at most 32-bit sweep numbers */
    if (run_sweeps(cfg) >= (int64_t)KIN_NO_STAMP)
        return sm_fail(err, "%s: run.sweeps: a cage run has at most %lld sweeps in all, equilibration included",
                       cfg->source, (long long)KIN_NO_STAMP - 1);
    cage_data *d = calloc(1, sizeof *d);
    if (!d) return sm_fail(err, "out of memory for the cage dynamics");
    s->dyn_data = d;
    d->t.T = -1.0;
    if ((sites ? kinetics_init : kinetics_init_counters)(&d->kin, &s->lat, run_sweeps(cfg), err)) {
        cage_free(s);
        return 1;
    }
    d->moves_per_sweep = cage_moves_per_sweep(&s->lat);
    s->kin = &d->kin;
    return 0;
}

static int cage_init(sim_state *s, const sm_config *cfg, sm_error *err) { return init_with(s, cfg, 1, err); }

int cage_init_deferred(sim_state *s, const sm_config *cfg, sm_error *err) { return init_with(s, cfg, 0, err); }

static void cage_set_temperature(sim_state *s, double T)
{
    cage_data *d = cage_of(s);
    if (d->t.T != T) cage_tables_build(&d->t, &s->p, T);
}

static void cage_do_sweep(sim_state *s)
{
    cage_data *d = cage_of(s);
    kinetics_before_sweep(&d->kin, s->lat.N, (uint64_t)s->step);
    cage_sweep(&s->lat, &s->st, &s->p, &d->t, &d->kin, s->seed, (uint64_t)s->step, &s->e, &s->moves);
}

/* A PCP move proposal is the unit: N single jumps plus one pair check per
 * bond. */
static int64_t cage_updates(const sim_state *s) { return cage_of(s)->moves_per_sweep; }

/* The stamps are stored as the run keeps them, uint16 or uint32. */
static void cage_save(const sim_state *s, ckpt_writer *w)
{
    const kinetics *k = &cage_of(s)->kin;
    if (k->stamp16) ckpt_put_sites(w, SIM_SITE_RECORDS[SIM_REC_STAMP], k->stamp16, 2, s->lat.Lx, s->lat.Ly);
    else ckpt_put_sites(w, SIM_SITE_RECORDS[SIM_REC_STAMP], k->stamp32, 4, s->lat.Lx, s->lat.Ly);
    ckpt_put(w, SIM_KIN_COUNTERS_RECORD, &k->c, sizeof k->c);
}

/* A record of a checkpoint before the stamps were site records. */
static int restore_stamps_record(sim_state *s, const ckpt_reader *r, const ckpt_record *rec, sm_error *err)
{
    kinetics *k = &cage_of(s)->kin;
    const int64_t N = s->lat.N;
    const int wide = rec->size == (uint64_t)N * sizeof(uint32_t);
    if (!wide && rec->size != (uint64_t)N * sizeof(uint16_t))
        return sm_fail(err, "%s: checkpoint record kin.stamp has %llu bytes, not 2 or 4 per site", r->path,
                       (unsigned long long)rec->size);
    for (int64_t a = 0; a < N; a++) {
        uint32_t v;
        if (wide) {
            memcpy(&v, (const unsigned char *)rec->data + 4 * a, sizeof v);
        } else {
            uint16_t n;
            memcpy(&n, (const unsigned char *)rec->data + 2 * a, sizeof n);
            v = n == 0xFFFF ? KIN_NO_STAMP : n;
        }
        kinetics_set_stamp(k, a, v);
    }
    return 0;
}

/* Read at the record's width into stamps of that width, then widened when
 * the run keeps uint32 ones. */
static int restore_stamps_sites(sim_state *s, const ckpt_reader *r, const ckpt_record *rec, sm_error *err)
{
    kinetics *k = &cage_of(s)->kin;
    const int64_t N = s->lat.N;
    if ((rec->elem != 2 && rec->elem != 4) || rec->Lx != s->lat.Lx || rec->Ly != s->lat.Ly)
        return sm_fail(err, "%s: checkpoint record kin.stamp is not 2 or 4 bytes a site of a %dx%d lattice",
                       r->path, s->lat.Lx, s->lat.Ly);
    const int keeps_wide = k->stamp32 != NULL;
    if (kinetics_stamps_of_width(k, N, rec->elem == 4))
        return sm_fail(err, "out of memory for the kinetic stamps of %lld sites", (long long)N);
    void *stamps = rec->elem == 2 ? (void *)k->stamp16 : (void *)k->stamp32;
    if (ckpt_get(r, SIM_SITE_RECORDS[SIM_REC_STAMP], stamps, (size_t)N * (size_t)rec->elem, err)) return 1;
    if (keeps_wide && kinetics_widen_stamps(k, N))
        return sm_fail(err, "out of memory for the kinetic stamps of %lld sites", (long long)N);
    return 0;
}

/* Stamps of the width the run keeps: uint32 once the step is past what
 * uint16 holds (a valid stamp is below the step, so below that it fits in
 * uint16). */
static int restore_stamps(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    kinetics *k = &cage_of(s)->kin;
    const int64_t N = s->lat.N;
    const ckpt_record *rec = ckpt_find(r, SIM_SITE_RECORDS[SIM_REC_STAMP], err);
    if (!rec) return 1;
    if (s->step >= (int64_t)KIN_STAMP16_SWEEPS && kinetics_widen_stamps(k, N))
        return sm_fail(err, "out of memory for the kinetic stamps of %lld sites", (long long)N);
    if (rec->elem ? restore_stamps_sites(s, r, rec, err) : restore_stamps_record(s, r, rec, err)) return 1;
    for (int64_t a = 0; a < N; a++) {
        const uint32_t v = kinetics_stamp(k, a);
        if (v != KIN_NO_STAMP && v >= (uint64_t)s->step)
            return sm_fail(err, "%s: checkpoint has a kinetic stamp of sweep %lu at step %lld", r->path,
                           (unsigned long)v, (long long)s->step);
    }
    return 0;
}

static int cage_restore(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    kinetics *k = &cage_of(s)->kin;
    return restore_stamps(s, r, err) || ckpt_get(r, SIM_KIN_COUNTERS_RECORD, &k->c, sizeof k->c, err);
}

static double cage_bytes_per_site(const sm_config *cfg) { return kinetics_bytes_per_site(run_sweeps(cfg)); }

const dynamics_ops DYNAMICS_CAGE = {
    .update_unit = "PCP move",
    .nmoves = CAGE_NMOVES,
    .move_names = CAGE_MOVE_NAMES,
    .pcp_fields = 1,
    /* the last completion's sweep per site, soft-matrix event bits */
    .bytes_per_site_of = cage_bytes_per_site,
    .init = cage_init,
    .set_temperature = cage_set_temperature,
    .sweep = cage_do_sweep,
    .updates_per_sweep = cage_updates,
    .save = cage_save,
    .restore = cage_restore,
    .free = cage_free,
};
