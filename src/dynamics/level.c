/* Level dynamics kernel. Sites of one checkerboard colour have no neighbours
 * of that colour, so a colour is updated in parallel with no races; every
 * random number is addressed by (seed, sweep, colour, site) so the result does
 * not depend on which thread visits which site.
 *
 * Why it is written this way (tests/unit/test_level_kernel.c pins its
 * trajectories as checksums, so every path below reproduces a plain
 * site-by-site sweep bit for bit):
 *  - A row's sites of one colour draw their Philox blocks in one pass into a
 *    small stack buffer. The counters of those blocks differ only in the
 *    site index, so the pass is a plain loop over independent lanes that the
 *    compiler vectorises (one clone per ISA level, picked at load time);
 *    per-site scalar Philox would be most of the sweep's time.
 *  - A row is its storage, its random-number counters and its edge rules
 *    (row_geom), so that the same code sweeps the whole lattice and a block
 *    held with halo cells (level_sweep_block_colour): the array index of a
 *    site is not its counter.
 *  - Interior sites read their neighbours through row offsets (periodic
 *    wrap in y is a choice of row), without the boundary rules of
 *    core/lattice.h. Sites next to an edge - the x wrap, open edges, tiny
 *    lattices - take the edge rules (site_edge), with the same random
 *    numbers and the same site update (level_kernel.h).
 *  - Accept/reject is computed, not branched on: the outcomes are random, so
 *    branches on them mispredict about half the time.
 *  - The interior of a row goes through a vector path where the CPU has one
 *    (chosen at run time, kernel_path): AVX-512, 32 sites to a vector
 *    (level_avx512.c), or AVX2, 16 (level_avx2.c). */
#include <stdlib.h>
#include <string.h>
#include "dynamics/dynamics.h"
#include "dynamics/level.h"
#include "core/rng.h"
#include "level_kernel.h"

const char *const LEVEL_MOVE_NAMES[LEVEL_NMOVES] = {"level", "sigma"};

/* Sites per Philox pass: 3 x 1 KiB of stack, small against L1. */
enum { CHUNK = 256 };

/* The compact index of level16 (level_tables). It covers the moves that
 * can be accepted at an interior site: l2 = l +- 1 within the bounds, every
 * neighbour at l or at l2 (RSOS, given that the configuration obeys it),
 * n_same of them at l, so that the level table index dns is 2 n_same.
 *  - n unchanged (l and l2 both >= 0): the entry does not look at S;
 *    index 5 p + n_same, p = l (up) or l + LEVEL_MAX - 1 (down), below
 *    10 LEVEL_MAX;
 *  - -1 -> 0 and 0 -> -1: m = 4 - n_same (up) or n_same (down) neighbours
 *    are HSCLs, S in -m..m in steps of 2; index 10 LEVEL_MAX + 30 (l == 0)
 *    + 15 (s > 0) + m (m + 1) / 2 + (S + m) / 2.
 * Whether a threshold depends on s where n does not change is up to the
 * model: level16_build checks that it does not. */
_Static_assert(LEVEL_MIN == -1, "compact index assumes levels from -1");
static int compact_index(int l, int up, int n_same, int sp, int S)
{
    const int l2 = l - 1 + 2 * up;
    if ((l2 >= 0) == (l >= 0)) return 5 * (l + (LEVEL_MAX - 1) * (1 - up)) + n_same;
    const int m = up ? 4 - n_same : n_same;
    return 10 * LEVEL_MAX + 30 * (l == 0) + 15 * sp + m * (m + 1) / 2 + (S + m) / 2;
}
_Static_assert(10 * LEVEL_MAX + 30 + 15 + 15 <= LEVEL16_N, "level16 too small");

static void level16_build(level_tables *t)
{
    unsigned char set[LEVEL16_N] = {0};
    t->level16_ok = 1;
    for (int i = 0; i < LEVEL16_N; i++) t->level16[i] = 0;
    for (int l = LEVEL_MIN; l <= LEVEL_MAX; l++)
        for (int up = 0; up < 2; up++) {
            const int l2 = l - 1 + 2 * up;
            if (l2 < LEVEL_MIN || l2 > LEVEL_MAX) continue;
            const int dn = (l2 >= 0) != (l >= 0);
            for (int ns = 0; ns <= 4; ns++)
                for (int sp = 0; sp < 2; sp++) {
                    const int m = up ? 4 - ns : ns;
                    for (int S = dn ? -m : 0; S <= (dn ? m : 0); S += 2) {
                        const int c = compact_index(l, up, ns, sp, S);
                        const uint16_t v = (uint16_t)(level_thr32(t->level[l + 1][up][2 * ns][sp][S + 4]) >> 16);
                        if (set[c] && t->level16[c] != v) t->level16_ok = 0;
                        t->level16[c] = v;
                        set[c] = 1;
                    }
                }
        }
}

void level_tables_build(level_tables *t, const model_params *p, double T)
{
    t->T = T;
    double r[NLEVELS][2][9][2][9];
    model_level_ratios(p, T, r);
    for (int l = 0; l < NLEVELS; l++)
        for (int up = 0; up < 2; up++)
            for (int k = 0; k < 9; k++)
                for (int sp = 0; sp < 2; sp++)
                    for (int j = 0; j < 9; j++) t->level[l][up][k][sp][j] = model_threshold(r[l][up][k][sp][j]);
    for (int sp = 0; sp < 2; sp++)
        for (int j = 0; j < 9; j++)
            t->sigma[sp][j] = model_threshold(model_sigma_ratio(p, T, sp ? 1 : -1, j - 4));
    for (int i = 0; i < 32; i++) t->sigma32[i] = i < 18 ? level_thr32(t->sigma[i / 9][i % 9]) : 0;
    level16_build(t);
}

/* rng_philox_lanes (core/rng.h; checked against Random123's philox4x32 in
 * test_level_kernel) compiled once per clone: AVX2 / AVX-512 machines use
 * their width while the default clone keeps the x86-64-v2 baseline. */
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
void level_philox_lanes(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                        uint32_t k1, int n, uint32_t *restrict o0, uint32_t *restrict o1,
                        uint32_t *restrict o2)
{
    rng_philox_lanes(c0, c1, c2, c3, k0, k1, n, o0, o1, o2);
}

/* What the sites of one colour in one row need: their storage, their
 * random-number counters and where their neighbours are. The array index of
 * a site and its counter are separate, so that the same row code sweeps the
 * whole lattice and a block held with halo cells (level_sweep_block_colour). */
typedef struct {
    int8_t *lv, *sg;        /* site x of the row at lv[x], sg[x] */
    uint32_t ctr;           /* random-number counter of x = 0: global gy * Lx + gx */
    int x0, n;              /* the row's sites of this colour: x = x0 + 2i, i < n */
    int ilo, ihi;           /* [ilo, ihi): interior sites, neighbours at +-1, dup, ddn */
    int xlast;              /* x of the row's last site */
    int64_t dup, ddn;       /* offsets of the +y and -y neighbours */
    int64_t off_lo, off_hi; /* offsets of the -x neighbour of x = 0, +x of x = xlast */
    unsigned absent;        /* ABSENT_*: neighbours cut by an open boundary */
} row_geom;

/* bit d: the neighbour in direction d (lattice.h) is absent - in x only at
 * the row's ends, in y for the whole row */
enum { ABSENT_HI = 1u << DIR_PX, ABSENT_UP = 1u << DIR_PY, ABSENT_LO = 1u << DIR_MX,
       ABSENT_DN = 1u << DIR_MY };

/* A site next to an edge of the row's storage (wraps, open boundaries, tiny
 * lattices): neighbours through the row's edge rules. */
static inline void site_edge(const row_geom *g, int x, uint32_t r0, uint32_t r1, uint32_t r2,
                             const level_tables *t, int move_levels, sweep_acc *A)
{
    const int64_t off[4] = {x == g->xlast ? g->off_hi : 1, g->dup, x == 0 ? g->off_lo : -1, g->ddn};
    const unsigned gone = (g->absent & (ABSENT_UP | ABSENT_DN)) |
                          (x == g->xlast ? g->absent & ABSENT_HI : 0) |
                          (x == 0 ? g->absent & ABSENT_LO : 0);
    int8_t *lv = g->lv + x, *sg = g->sg + x;
    int S = 0, lmin = 99, lmax = -99, b[4];
    for (int d = 0; d < 4; d++) {
        if (gone >> d & 1) { b[d] = -100; continue; }
        const int lb = lv[off[d]];
        b[d] = lb;
        S += (lb >= 0) * sg[off[d]];
        lmin = imin(lb, lmin);
        lmax = imax(lb, lmax);
    }
    site_update(lv, sg, b[0], b[1], b[2], b[3], lmin, lmax, S, r0, r1, r2, t, move_levels, A);
}

static void acc_add(sweep_acc *to, const sweep_acc *a)
{
    to->dC += a->dC; to->dSt += a->dSt; to->dJ += a->dJ; to->dh += a->dh;
    to->lacc += a->lacc; to->sacc += a->sacc;
}

/* Sites i in [ifrom, ito) of a row by the scalar code, random numbers in
 * chunks of CHUNK. */
static void row_scalar(const row_geom *g, const level_rng *rk, const level_tables *t,
                       int move_levels, int ifrom, int ito, sweep_acc *out)
{
    uint32_t r0[CHUNK], r1[CHUNK], r2[CHUNK];
    sweep_acc A = {0, 0, 0, 0, 0, 0};
    for (int c = ifrom; c < ito; c += CHUNK) {
        const int m = imin(ito - c, CHUNK);
        level_philox_lanes(g->ctr + (uint32_t)(g->x0 + 2 * c), rk->c1, rk->c2, rk->c3, rk->k0,
                           rk->k1, m, r0, r1, r2);
        const int jlo = imin(imax(g->ilo - c, 0), m), jhi = imax(imin(g->ihi - c, m), jlo);
        for (int j = 0; j < jlo; j++)
            site_edge(g, g->x0 + 2 * (c + j), r0[j], r1[j], r2[j], t, move_levels, &A);
        for (int j = jlo; j < jhi; j++) {
            const int x = g->x0 + 2 * (c + j);
            site_interior(g->lv + x, g->sg + x, g->dup, g->ddn, r0[j], r1[j], r2[j], t,
                          move_levels, &A);
        }
        for (int j = jhi; j < m; j++)
            site_edge(g, g->x0 + 2 * (c + j), r0[j], r1[j], r2[j], t, move_levels, &A);
    }
    acc_add(out, &A);
}

/* One row's sites of one colour: edge sites by the scalar code, the interior
 * by the chosen path. */
static void row_sweep(const row_geom *g, const level_rng *rk, const level_tables *t,
                      int move_levels, level_kernel_kind path, sweep_acc *A)
{
    int done = 0;
#ifdef LEVEL_HAVE_SIMD
    if (path != LEVEL_KERNEL_SCALAR && g->ihi > g->ilo) {
        row_scalar(g, rk, t, move_levels, 0, g->ilo, A);
        const int x = g->x0 + 2 * g->ilo;
        if (path == LEVEL_KERNEL_AVX512)
            level_interior_avx512(g->lv + x, g->sg + x, g->ctr + (uint32_t)x, g->ihi - g->ilo,
                                  g->dup, g->ddn, rk, t, move_levels, A);
        else
            level_interior_avx2(g->lv + x, g->sg + x, g->ctr + (uint32_t)x, g->ihi - g->ilo,
                                g->dup, g->ddn, rk, t, move_levels, A);
        done = g->ihi;
    }
#else
    (void)path;
#endif
    row_scalar(g, rk, t, move_levels, done, g->n, A);
}

/* A rectangle of the lattice in storage: the whole lattice (halo = 0; a
 * neighbour across an edge wraps within the storage, or is absent on an
 * open lattice) or a block with one halo cell on each side (halo = 1; a
 * neighbour across the block's edge is a halo cell, absent only at a global
 * open boundary). */
typedef struct {
    int8_t *lv, *sg;  /* the region's first site */
    int64_t stride;   /* storage row stride */
    int gx0, gy0, nx, ny;
    int Lx, Ly, open; /* the global lattice */
    int halo;
} region;

static row_geom region_row(const region *r, int y, int colour)
{
    row_geom g;
    const int gy = r->gy0 + y;
    g.lv = r->lv + (int64_t)y * r->stride;
    g.sg = r->sg + (int64_t)y * r->stride;
    g.ctr = (uint32_t)((int64_t)gy * r->Lx + r->gx0);
    g.x0 = (colour + r->gx0 + gy) & 1;
    g.n = (r->nx - g.x0 + 1) / 2;
    g.xlast = r->nx - 1;
    unsigned absent = 0;
    if (r->halo) {
        g.off_lo = -1;
        g.off_hi = 1;
        g.dup = r->stride;
        g.ddn = -r->stride;
        if (r->open)
            absent = (r->gx0 == 0 ? ABSENT_LO : 0) | (r->gx0 + r->nx == r->Lx ? ABSENT_HI : 0) |
                     (gy == r->Ly - 1 ? ABSENT_UP : 0) | (gy == 0 ? ABSENT_DN : 0);
    } else {
        g.off_lo = r->nx - 1;
        g.off_hi = -(int64_t)(r->nx - 1);
        g.dup = y + 1 < r->ny ? r->stride : -(int64_t)(r->ny - 1) * r->stride;
        g.ddn = y > 0 ? -r->stride : (int64_t)(r->ny - 1) * r->stride;
        if (r->open)
            absent = ABSENT_LO | ABSENT_HI | (y == r->ny - 1 ? ABSENT_UP : 0) |
                     (y == 0 ? ABSENT_DN : 0);
    }
    g.absent = absent;
    /* interior: xa <= x <= xb, where all four neighbours are at +-1, dup, ddn */
    const int xa = g.off_lo == -1 && !(absent & ABSENT_LO) ? 0 : 1;
    const int xb = g.off_hi == 1 && !(absent & ABSENT_HI) ? g.xlast : g.xlast - 1;
    g.ilo = xa <= g.x0 ? 0 : (xa - g.x0 + 1) / 2;
    g.ihi = xb >= g.x0 ? (xb - g.x0) / 2 + 1 : 0;
    if ((absent & (ABSENT_UP | ABSENT_DN)) || g.ihi <= g.ilo) g.ilo = g.ihi = 0;
    return g;
}

/* One colour of a region, rows in parallel (no two sites of a colour are
 * neighbours). */
static void region_colour(const region *r, int colour, level_rng rk, const level_tables *t,
                          int move_levels, level_kernel_kind path, sweep_acc *tot)
{
    /* the counter word rng_draw builds from (stream, substep) */
    rk.c3 = ((uint32_t)RNG_STREAM_LEVEL << 16) | (uint32_t)colour;
    int64_t dC = 0, dSt = 0, dJ = 0, dh = 0, lacc = 0, sacc = 0;
#pragma omp parallel for schedule(static) reduction(+ : dC, dSt, dJ, dh, lacc, sacc)
    for (int y = 0; y < r->ny; y++) {
        const row_geom g = region_row(r, y, colour);
        sweep_acc A = {0, 0, 0, 0, 0, 0};
        row_sweep(&g, &rk, t, move_levels, path, &A);
        dC += A.dC; dSt += A.dSt; dJ += A.dJ; dh += A.dh; lacc += A.lacc; sacc += A.sacc;
    }
    const sweep_acc s = {dC, dSt, dJ, dh, lacc, sacc};
    acc_add(tot, &s);
}

int level_kernel_available(level_kernel_kind kind)
{
    switch (kind) {
    case LEVEL_KERNEL_AUTO:
    case LEVEL_KERNEL_SCALAR: return 1;
#ifdef LEVEL_HAVE_SIMD
    case LEVEL_KERNEL_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2");
    case LEVEL_KERNEL_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
    default: return 0;
    }
}


/* The path that runs: AUTO picks the widest this CPU has; the AVX-512 path
 * needs the compact table (always there for this model); a path the CPU
 * lacks falls back to the scalar one. */
static level_kernel_kind kernel_path(level_kernel_kind kind, const level_tables *t)
{
    if (kind == LEVEL_KERNEL_AUTO)
        kind = level_kernel_available(LEVEL_KERNEL_AVX512) && t->level16_ok ? LEVEL_KERNEL_AVX512
             : level_kernel_available(LEVEL_KERNEL_AVX2)                     ? LEVEL_KERNEL_AVX2
                                                                             : LEVEL_KERNEL_SCALAR;
    if (kind == LEVEL_KERNEL_AVX512 && !t->level16_ok) kind = LEVEL_KERNEL_SCALAR;
    return level_kernel_available(kind) ? kind : LEVEL_KERNEL_SCALAR;
}

static level_rng rng_keys(uint64_t seed, uint64_t sweep)
{
    const level_rng rk = {(uint32_t)sweep, (uint32_t)(sweep >> 32), 0, (uint32_t)seed,
                          (uint32_t)(seed >> 32)};
    return rk;
}

static void add_sums(const sweep_acc *s, int64_t sites, int move_levels, energy_terms *de,
                     move_stats *ms)
{
    de->sum_C += s->dC; de->n_steps += s->dSt; de->sum_J += s->dJ; de->sum_h += s->dh;
    ms->proposed[LEVEL_MOVE_LEVEL] += move_levels ? sites : 0;
    ms->accepted[LEVEL_MOVE_LEVEL] += s->lacc;
    ms->proposed[LEVEL_MOVE_SIGMA] += sites;
    ms->accepted[LEVEL_MOVE_SIGMA] += s->sacc;
}

void level_sweep(const lattice *lat, model_state *s, const model_params *p,
                 const level_tables *t, uint64_t seed, uint64_t sweep,
                 energy_terms *de, move_stats *ms)
{
    level_sweep_kernel(lat, s, p, t, seed, sweep, de, ms, LEVEL_KERNEL_AUTO);
}

void level_sweep_kernel(const lattice *lat, model_state *s, const model_params *p,
                        const level_tables *t, uint64_t seed, uint64_t sweep, energy_terms *de,
                        move_stats *ms, level_kernel_kind kind)
{
    const region r = {s->level, s->sigma, lat->Lx, 0, 0, lat->Lx, lat->Ly,
                      lat->Lx, lat->Ly, lat->boundary == BOUNDARY_OPEN, 0};
    const level_kernel_kind path = kernel_path(kind, t);
    const int move_levels = !p->freeze_levels;
    sweep_acc tot = {0, 0, 0, 0, 0, 0};
    for (int colour = 0; colour < 2; colour++)
        region_colour(&r, colour, rng_keys(seed, sweep), t, move_levels, path, &tot);
    add_sums(&tot, lat->N, move_levels, de, ms);
}

void level_sweep_block_colour(const level_block *b, int colour, const model_params *p,
                              const level_tables *t, uint64_t seed, uint64_t sweep,
                              energy_terms *de, move_stats *ms, level_kernel_kind kind)
{
    const region r = {b->level, b->sigma, b->stride, b->gx0, b->gy0, b->nx, b->ny,
                      b->lat->Lx, b->lat->Ly, b->lat->boundary == BOUNDARY_OPEN, 1};
    const int move_levels = !p->freeze_levels;
    sweep_acc tot = {0, 0, 0, 0, 0, 0};
    region_colour(&r, colour, rng_keys(seed, sweep), t, move_levels, kernel_path(kind, t), &tot);
    int64_t sites = 0; /* of this colour in the block */
    for (int y = 0; y < b->ny; y++) sites += (b->nx - ((colour + b->gx0 + b->gy0 + y) & 1) + 1) / 2;
    add_sums(&tot, sites, move_levels, de, ms);
}

/* ---------------------------------------------------- the level dynamics */

static level_tables *level_data(const sim_state *s) { return s->dyn_data; }

static int level_init(sim_state *s, const sm_config *cfg, sm_error *err)
{
    (void)cfg;
    /* 64-byte aligned: the SIMD path loads the compact tables as vectors */
    const size_t size = (sizeof(level_tables) + 63) / 64 * 64;
    level_tables *t = aligned_alloc(64, size);
    if (!t) return sm_fail(err, "out of memory for the level tables");
    memset(t, 0, sizeof *t);
    t->T = -1.0;
    s->dyn_data = t;
    return 0;
}

static void level_set_temperature(sim_state *s, double T)
{
    level_tables *t = level_data(s);
    if (t->T != T) level_tables_build(t, &s->p, T);
}

static void level_do_sweep(sim_state *s)
{
    level_sweep(&s->lat, &s->st, &s->p, level_data(s), s->seed, (uint64_t)s->step, &s->e, &s->moves);
}

static int64_t level_updates(const sim_state *s) { return s->lat.N; }

/* Nothing beyond the shared fields: the tables are rebuilt from T. */
static void level_save(const sim_state *s, ckpt_writer *w) { (void)s, (void)w; }

static int level_restore(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    (void)s, (void)r, (void)err;
    return 0;
}

static void level_free(sim_state *s)
{
    free(s->dyn_data);
    s->dyn_data = NULL;
}

const dynamics_ops DYNAMICS_LEVEL = {
    .update_unit = "site-update",
    .nmoves = LEVEL_NMOVES,
    .move_names = LEVEL_MOVE_NAMES,
    .bytes_per_site = 0,
    .init = level_init,
    .set_temperature = level_set_temperature,
    .sweep = level_do_sweep,
    .updates_per_sweep = level_updates,
    .save = level_save,
    .restore = level_restore,
    .free = level_free,
};
