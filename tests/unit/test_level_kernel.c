/* The level-sweep kernel (docs/model.md section 5) against its own history and against
 * the model: trajectories pinned as checksums taken from the first, plain
 * kernel (commit 2399d7a) so that any optimisation must reproduce it bit for
 * bit (the scalar, AVX2 and AVX-512 paths); the SIMD Philox against
 * Random123; the incremental energy against a full recomputation; the RSOS
 * constraint; 1 vs 2 threads; a lattice split into blocks with halos
 * (level_sweep_block_colour) against the whole-lattice sweep.
 *
 * `test_level_kernel --print` prints the checksums of the kernel it is linked
 * with instead of checking them (how the pinned values were made). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "check.h"
#include "dynamics/level.h"
#include "core/rng.h"

typedef struct {
    const char *name;
    int Lx, Ly;
    boundary_kind bc;
    int freeze;
    double eps_step, J, h, g;
    double T0, T1;      /* T goes from T0 to T1 halfway through */
    int init_level;     /* -2: random in {-1, 0} */
    int sweeps;
    uint64_t seed, first_sweep;
    uint64_t pinned;    /* checksum from the reference kernel */
} kcase;

/* Pinned with the reference kernel (see the file comment). */
static const kcase CASES[] = {
    {"periodic 16x12 default",        16, 12, BOUNDARY_PERIODIC, 0, 0.0, 0.125, 0.0, 4.0, 1.0, 2.0, -2, 40, 1, 0, 0x488f6b16cfed9a18ull},
    {"periodic 64x32 step+field",     64, 32, BOUNDARY_PERIODIC, 0, 0.3, 0.125, 0.7, 4.0, 3.0, 0.5, -2, 30, 7, 0, 0x607d0d4f2970f036ull},
    {"periodic 32x32 frozen h",       32, 32, BOUNDARY_PERIODIC, 1, 0.0, 0.25, 1.3, 4.0, 0.8, 1.5, 0, 30, 11, 5, 0xc03f759464c870dfull},
    {"periodic 24x8 frozen at -1",    24, 8, BOUNDARY_PERIODIC, 1, 0.0, 0.125, 0.4, 4.0, 1.0, 1.0, -1, 10, 13, 0, 0x8afe82633a566959ull},
    {"open 15x9 step+field",          15, 9, BOUNDARY_OPEN, 0, 0.5, -0.2, -0.7, 4.0, 2.0, 4.0, -2, 40, 3, 0, 0x3ee49b1e5c777a12ull},
    {"open 33x17 hot top levels",     33, 17, BOUNDARY_OPEN, 0, 0.1, 0.125, 0.3, 4.0, 6.0, 9.0, 7, 40, 5, 100, 0xdd20b22b4f383fd9ull},
    {"open 17x33 frozen field",       17, 33, BOUNDARY_OPEN, 1, 0.0, -0.3, 0.9, 4.0, 0.7, 0.7, 2, 20, 9, 0, 0xda29e5df1d4cdbf8ull},
    {"open 7x1",                      7, 1, BOUNDARY_OPEN, 0, 0.2, 0.125, 0.5, 4.0, 2.0, 2.0, -2, 50, 17, 0, 0x6b7ca4eda4b65eb5ull},
    {"open 1x5",                      1, 5, BOUNDARY_OPEN, 0, 0.2, 0.125, 0.5, 4.0, 2.0, 2.0, -2, 50, 19, 0, 0xad9894f72dae8534ull},
    {"open 1x1",                      1, 1, BOUNDARY_OPEN, 0, 0.0, 0.125, 0.5, 4.0, 2.0, 2.0, -2, 50, 23, 0, 0xf6f7c4a0b84256a6ull},
    {"periodic 2x2",                  2, 2, BOUNDARY_PERIODIC, 0, 0.2, 0.125, 0.5, 4.0, 2.0, 2.0, -2, 50, 29, 0, 0xc4b66d5ef0d8fb15ull},
    {"periodic 2x6",                  2, 6, BOUNDARY_PERIODIC, 0, 0.2, 0.3, -0.5, 4.0, 3.0, 3.0, -2, 50, 31, 0, 0x8b39dd2f08c19205ull},
    {"periodic 6x2",                  6, 2, BOUNDARY_PERIODIC, 0, 0.2, 0.3, -0.5, 4.0, 3.0, 3.0, -2, 50, 37, 0, 0x45c5584b0decd76aull},
    {"periodic 66x34 frozen field",   66, 34, BOUNDARY_PERIODIC, 1, 0.0, -0.2, 0.8, 4.0, 1.1, 0.6, 0, 20, 41, 7, 0x158a65b93be7aa93ull},
    {"open 49x35 step+field",         49, 35, BOUNDARY_OPEN, 0, 0.4, 0.3, -1.1, 3.0, 2.5, 1.2, -2, 25, 43, 0, 0xc24d4a74b276c275ull},
    {"open 70x20 cold",               70, 20, BOUNDARY_OPEN, 0, 0.0, 0.125, 0.0, 4.0, 0.02, 0.3, 1, 20, 47, 0, 0xc0bec00da47ecc71ull},
    {"periodic 130x66 g=2 big seed",  130, 66, BOUNDARY_PERIODIC, 0, 0.05, 0.125, 0.2, 2.0, 4.0, 1.0, -2, 20,
     0x9e3779b97f4a7c15ull, (1ull << 32) + 3, 0xd0d81924d346526aull},
};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ull; }
    return h;
}

typedef struct {
    lattice lat;
    model_state st;
    model_params p;
    energy_terms e;
    move_stats ms;
} world;

static void world_init(world *w, const kcase *k)
{
    sm_error err;
    memset(w, 0, sizeof *w);
    if (lattice_init(&w->lat, k->Lx, k->Ly, k->bc, &err) ||
        model_state_init(&w->st, w->lat.N, &err)) {
        fprintf(stderr, "init failed\n");
        exit(2);
    }
    model_params_default(&w->p);
    w->p.freeze_levels = k->freeze;
    w->p.eps_step = k->eps_step;
    w->p.J = k->J;
    w->p.h = k->h;
    w->p.g = k->g;
    for (int64_t a = 0; a < w->lat.N; a++) {
        const rng_block r = rng_draw(k->seed, 0, RNG_STREAM_INIT, 0, (uint32_t)a);
        w->st.level[a] = (int8_t)(k->init_level == -2 ? -(int)(r.v[0] & 1u) : k->init_level);
        w->st.sigma[a] = (int8_t)((r.v[1] & 1u) ? 1 : -1);
    }
    energy_terms_compute(&w->lat, &w->st, &w->e);
}

static void world_free(world *w)
{
    model_state_free(&w->st);
}

/* The checksum of a case's end: levels, spins, energy sums, move counts. */
static uint64_t world_checksum(const world *w)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv(h, w->st.level, (size_t)w->lat.N);
    h = fnv(h, w->st.sigma, (size_t)w->lat.N);
    const int64_t sums[4] = {w->e.sum_C, w->e.n_steps, w->e.sum_J, w->e.sum_h};
    h = fnv(h, sums, sizeof sums);
    const int64_t mv[4] = {w->ms.proposed[LEVEL_MOVE_LEVEL], w->ms.accepted[LEVEL_MOVE_LEVEL],
                           w->ms.proposed[LEVEL_MOVE_SIGMA], w->ms.accepted[LEVEL_MOVE_SIGMA]};
    return fnv(h, mv, sizeof mv);
}

/* Runs the case; checks energy and RSOS after every sweep when asked. */
static uint64_t run_case_kind(const kcase *k, int threads, int check_model,
                              level_kernel_kind kind)
{
    world w;
    world_init(&w, k);
    level_tables *t = malloc(sizeof *t);
    const int nt_saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    for (int i = 0; i < k->sweeps; i++) {
        const double T = i < k->sweeps / 2 ? k->T0 : k->T1;
        if (i == 0 || i == k->sweeps / 2) level_tables_build(t, &w.p, T);
        level_sweep_kernel(&w.lat, &w.st, &w.p, t, k->seed, k->first_sweep + (uint64_t)i, &w.e, &w.ms,
                           kind);
        if (check_model) {
            energy_terms e;
            energy_terms_compute(&w.lat, &w.st, &e);
            CHECK(memcmp(&e, &w.e, sizeof e) == 0,
                  "%s sweep %d: incremental (%lld %lld %lld %lld) vs full (%lld %lld %lld %lld)",
                  k->name, i, (long long)w.e.sum_C, (long long)w.e.n_steps,
                  (long long)w.e.sum_J, (long long)w.e.sum_h, (long long)e.sum_C,
                  (long long)e.n_steps, (long long)e.sum_J, (long long)e.sum_h);
            CHECK(model_rsos_violations(&w.lat, &w.st) == 0, "%s sweep %d: RSOS broken", k->name, i);
            for (int64_t a = 0; a < w.lat.N; a++)
                if (w.st.level[a] < LEVEL_MIN || w.st.level[a] > LEVEL_MAX ||
                    (w.st.sigma[a] != 1 && w.st.sigma[a] != -1)) {
                    CHECK(0, "%s sweep %d: site %lld out of range", k->name, i, (long long)a);
                    break;
                }
        }
    }
    omp_set_num_threads(nt_saved);
    const uint64_t h = world_checksum(&w);
    free(t);
    world_free(&w);
    return h;
}

static uint64_t run_case(const kcase *k, int threads, int check_model)
{
    return run_case_kind(k, threads, check_model, LEVEL_KERNEL_AUTO);
}

/* The SIMD Philox against Random123 (rng_draw) on counters near the 32-bit
 * wraps and on random keys. */
static void test_philox_lanes(void)
{
    enum { N = 77 };
    uint32_t o0[N], o1[N], o2[N];
    const uint64_t seeds[] = {0, 1, 0x9e3779b97f4a7c15ull, 0xffffffffffffffffull};
    const uint64_t sweeps[] = {0, 5, (1ull << 32) - 1, 0x123456789abcull};
    const uint32_t starts[] = {0, 1, 4000000000u, 0xffffffffu - 60};
    int bad = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++)
                for (uint32_t colour = 0; colour < 2; colour++) {
                    const uint32_t c3 = ((uint32_t)RNG_STREAM_LEVEL << 16) | colour;
                    level_philox_lanes(starts[c], (uint32_t)sweeps[b], (uint32_t)(sweeps[b] >> 32),
                                       c3, (uint32_t)seeds[a], (uint32_t)(seeds[a] >> 32), N, o0,
                                       o1, o2);
                    for (int i = 0; i < N; i++) {
                        const rng_block r = rng_draw(seeds[a], sweeps[b], RNG_STREAM_LEVEL, colour,
                                                     starts[c] + 2u * (uint32_t)i);
                        bad += r.v[0] != o0[i] || r.v[1] != o1[i] || r.v[2] != o2[i];
                    }
                }
    CHECK(bad == 0, "%d blocks differ from Random123", bad);
}

/* Each vector path this CPU has (AVX2, AVX-512) against the scalar one on
 * every case, 2 threads. */
static void test_paths_equal_scalar(void)
{
    static const level_kernel_kind kinds[] = {LEVEL_KERNEL_AVX2, LEVEL_KERNEL_AVX512};
    static const char *const names[] = {"AVX2", "AVX-512"};
    int ran = 0;
    for (int q = 0; q < 2; q++) {
        if (!level_kernel_available(kinds[q])) continue;
        ran++;
        for (int i = 0; i < NCASES; i++) {
            const uint64_t hs = run_case_kind(&CASES[i], 2, 0, LEVEL_KERNEL_SCALAR);
            const uint64_t hv = run_case_kind(&CASES[i], 2, 0, kinds[q]);
            CHECK(hs == hv, "%s: scalar and %s paths differ", CASES[i].name, names[q]);
        }
    }
    if (!ran) SKIP("neither AVX2 nor AVX-512 on this CPU");
}

/* A lattice split into blocks, each held with one halo cell on each side
 * (what a domain-decomposed run holds), swept colour by colour with
 * level_sweep_block_colour and the halos refilled from the neighbouring
 * blocks before each colour; the checksum of run_case_kind. xs[0..nbx] and
 * ys[0..nby] are the cuts (0 = xs[0] < ... < xs[nbx] = Lx). Halo cells
 * outside an open lattice hold a level no configuration has, so reading one
 * would show. */
enum { POISON = 77 };
typedef struct {
    level_block b;
    int8_t *mem_l, *mem_s;
} tblock;

static void halo_fill(tblock *bl, int nb, const world *w)
{
    const lattice *lat = &w->lat;
    for (int q = 0; q < nb; q++) {
        const level_block *b = &bl[q].b;
        for (int y = -1; y <= b->ny; y++)
            for (int x = -1; x <= b->nx; x++) {
                if (x >= 0 && x < b->nx && y >= 0 && y < b->ny) continue;
                int gx = b->gx0 + x, gy = b->gy0 + y;
                const int out = gx < 0 || gx >= lat->Lx || gy < 0 || gy >= lat->Ly;
                if (out && lat->boundary == BOUNDARY_OPEN) continue;
                gx = (gx + lat->Lx) % lat->Lx;
                gy = (gy + lat->Ly) % lat->Ly;
                b->level[y * b->stride + x] = w->st.level[(int64_t)gy * lat->Lx + gx];
                b->sigma[y * b->stride + x] = w->st.sigma[(int64_t)gy * lat->Lx + gx];
            }
    }
}

/* owned sites: between the blocks and the world's arrays */
static void owned_copy(tblock *bl, int nb, world *w, int to_world)
{
    for (int q = 0; q < nb; q++) {
        const level_block *b = &bl[q].b;
        for (int y = 0; y < b->ny; y++)
            for (int x = 0; x < b->nx; x++) {
                const int64_t a = (int64_t)(b->gy0 + y) * w->lat.Lx + b->gx0 + x;
                const int64_t i = y * b->stride + x;
                if (to_world) { w->st.level[a] = b->level[i]; w->st.sigma[a] = b->sigma[i]; }
                else { b->level[i] = w->st.level[a]; b->sigma[i] = w->st.sigma[a]; }
            }
    }
}

static uint64_t run_case_blocks(const kcase *k, const int *xs, int nbx, const int *ys, int nby,
                                level_kernel_kind kind)
{
    world w;
    world_init(&w, k);
    level_tables *t = malloc(sizeof *t);
    tblock bl[16];
    const int nb = nbx * nby;
    for (int by = 0; by < nby; by++)
        for (int bx = 0; bx < nbx; bx++) {
            tblock *tb = &bl[by * nbx + bx];
            const int nx = xs[bx + 1] - xs[bx], ny = ys[by + 1] - ys[by];
            const int64_t stride = nx + 5; /* wider than needed: stride is not nx + 2 */
            const size_t size = (size_t)(stride * (ny + 2) + 64);
            tb->mem_l = malloc(size);
            tb->mem_s = malloc(size);
            memset(tb->mem_l, POISON, size);
            memset(tb->mem_s, POISON, size);
            tb->b = (level_block){tb->mem_l + stride + 1, tb->mem_s + stride + 1, stride, xs[bx],
                                  ys[by], nx, ny, &w.lat};
        }
    owned_copy(bl, nb, &w, 0);
    for (int i = 0; i < k->sweeps; i++) {
        const double T = i < k->sweeps / 2 ? k->T0 : k->T1;
        if (i == 0 || i == k->sweeps / 2) level_tables_build(t, &w.p, T);
        for (int colour = 0; colour < 2; colour++) {
            halo_fill(bl, nb, &w);
            for (int q = 0; q < nb; q++)
                level_sweep_block_colour(&bl[q].b, colour, &w.p, t, k->seed,
                                         k->first_sweep + (uint64_t)i, &w.e, &w.ms, kind);
            owned_copy(bl, nb, &w, 1);
        }
    }
    const uint64_t h = world_checksum(&w);
    for (int q = 0; q < nb; q++) { free(bl[q].mem_l); free(bl[q].mem_s); }
    free(t);
    world_free(&w);
    return h;
}

/* Blocks of 2 x 3, uneven cuts and one block covering the whole lattice,
 * against level_sweep, on every case, scalar and automatic path. */
static void test_blocks_equal_sweep(void)
{
    for (int i = 0; i < NCASES; i++) {
        const kcase *k = &CASES[i];
        const int Lx = k->Lx, Ly = k->Ly;
        const uint64_t ref = run_case_kind(k, 2, 0, LEVEL_KERNEL_SCALAR);
        const int whole_x[] = {0, Lx}, whole_y[] = {0, Ly};
        const int even_x[] = {0, Lx / 2, Lx}, even_y[] = {0, Ly / 3, 2 * Ly / 3, Ly};
        const int odd_x[] = {0, Lx / 5, Lx / 5 + Lx / 2 + 1, Lx}, odd_y[] = {0, Ly - Ly / 3, Ly};
        for (int kind = LEVEL_KERNEL_AUTO; kind <= LEVEL_KERNEL_SCALAR; kind++) {
            CHECK(run_case_blocks(k, whole_x, 1, whole_y, 1, kind) == ref, "%s: one block differs",
                  k->name);
            /* cuts must leave every block non-empty */
            if (Lx >= 2 && Ly >= 3)
                CHECK(run_case_blocks(k, even_x, 2, even_y, 3, kind) == ref, "%s: 2x3 blocks differ",
                      k->name);
            if (Lx >= 5 && Ly >= 3)
                CHECK(run_case_blocks(k, odd_x, 3, odd_y, 2, kind) == ref,
                      "%s: uneven 3x2 blocks differ", k->name);
        }
    }
}

static void test_pinned_trajectories(void)
{
    for (int i = 0; i < NCASES; i++) {
        const uint64_t h = run_case(&CASES[i], 1, 0);
        CHECK(h == CASES[i].pinned, "%s: checksum 0x%016llx, pinned 0x%016llx", CASES[i].name,
              (unsigned long long)h, (unsigned long long)CASES[i].pinned);
    }
}

static void test_energy_and_rsos(void)
{
    for (int i = 0; i < NCASES; i++) (void)run_case(&CASES[i], 2, 1);
}

static void test_threads_identical(void)
{
    for (int i = 0; i < NCASES; i++) {
        const uint64_t h1 = run_case(&CASES[i], 1, 0);
        const uint64_t h2 = run_case(&CASES[i], 2, 0);
        const uint64_t h3 = run_case(&CASES[i], 3, 0);
        CHECK(h1 == h2 && h1 == h3, "%s: 1/2/3 threads differ", CASES[i].name);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print") == 0) {
        for (int i = 0; i < NCASES; i++)
            printf("%-32s 0x%016llxull\n", CASES[i].name,
                   (unsigned long long)run_case(&CASES[i], 1, 0));
        return 0;
    }
    RUN(test_philox_lanes);
    RUN(test_pinned_trajectories);
    RUN(test_paths_equal_scalar);
    RUN(test_blocks_equal_sweep);
    RUN(test_energy_and_rsos);
    RUN(test_threads_identical);
    return CHECK_REPORT();
}
