/* The census of a lattice split into blocks (diag/census_blocks.h), done
 * in one process: every block's part from its window of a random global
 * state, the parts summed and joined, must equal census_compute on the
 * whole lattice in every field, for many grids (uneven blocks, one or
 * several blocks a side, blocks narrower than the window's margin down to
 * one site, whose windows reach past their neighbours), open and periodic,
 * joined along the tree over the grid, fields of every density (a
 * uniform random field, where the low sets percolate and the high ones do
 * not, a smooth one with large clusters and winding components, and one of
 * a few levels). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diag/census_blocks.h"

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return *s;
}

/* kind 0: uniform in -1..8; 1: a smooth landscape (stripes and bumps) with
 * noise; 2: levels -1, 2, 3 and 6 only, so that most sets equal the next
 * one up (which a block copies instead of labelling) */
static void fill(int8_t *level, int8_t *sigma, int Lx, int Ly, int kind, uint64_t seed)
{
    uint64_t s = seed | 1;
    for (int y = 0; y < Ly; y++)
        for (int x = 0; x < Lx; x++) {
            int v = (int)(rnd(&s) % 10) - 1;
            if (kind == 1) v = (x * 7 / Lx + y * 5 / Ly + (int)(rnd(&s) % 3)) % 10 - 1;
            if (kind == 2) v = (int[]){-1, 2, 3, 6}[(x / 5 + y / 4 + (int)(rnd(&s) % 2)) % 4];
            level[(int64_t)y * Lx + x] = (int8_t)v;
            sigma[(int64_t)y * Lx + x] = rnd(&s) & 1 ? 1 : -1;
        }
}

/* Block (cx, cy)'s window of the global field. */
static void window_of(const census_grid *g, const int8_t *level, const int8_t *sigma, int cx, int cy,
                      int8_t *wl, int8_t *ws, int *ww, int *wh)
{
    const int M = CENSUS_WINDOW_MARGIN;
    const int x0 = census_grid_start(cx, g->px, g->Lx), y0 = census_grid_start(cy, g->py, g->Ly);
    *ww = census_grid_start(cx + 1, g->px, g->Lx) - x0 + 2 * M;
    *wh = census_grid_start(cy + 1, g->py, g->Ly) - y0 + 2 * M;
    for (int y = 0; y < *wh; y++)
        for (int x = 0; x < *ww; x++) {
            int gx = x0 - M + x, gy = y0 - M + y;
            const int64_t k = (int64_t)y * *ww + x;
            if (g->boundary == BOUNDARY_PERIODIC) {
                gx = (gx % g->Lx + g->Lx) % g->Lx;
                gy = (gy % g->Ly + g->Ly) % g->Ly;
            } else if (gx < 0 || gx >= g->Lx || gy < 0 || gy >= g->Ly) {
                wl[k] = -1; ws[k] = 1;
                continue;
            }
            wl[k] = level[(int64_t)gy * g->Lx + gx];
            ws[k] = sigma[(int64_t)gy * g->Lx + gx];
        }
}

static void check_grid(const census_grid *g, const int8_t *level, const int8_t *sigma, const census_result *want,
                       const char *what)
{
    const int nb = g->px * g->py, M = CENSUS_WINDOW_MARGIN;
    const size_t wcap = (size_t)(g->Lx + 2 * M) * (size_t)(g->Ly + 2 * M);
    int8_t *wl = malloc(wcap), *ws = malloc(wcap);
    census_packed **packed = calloc((size_t)nb, sizeof *packed);
    census_result sum, part;
    memset(&sum, 0, sizeof sum);
    sm_error err;
    for (int b = 0; b < nb; b++) {
        int ww, wh;
        int64_t len;
        window_of(g, level, sigma, b % g->px, b / g->px, wl, ws, &ww, &wh);
        CHECK(census_block_part(g, b % g->px, b / g->px, wl, ws, &part, &packed[b], &len, &err) == 0, "%s", err.msg);
        census_result_add(&sum, &part);
    }
    CHECK(census_join_blocks(g, (const census_packed *const *)packed, &sum, &err) == 0, "%s", err.msg);
    const int64_t *a = (const int64_t *)&sum, *b = (const int64_t *)want;
    for (size_t k = 0; k < sizeof sum / sizeof *a; k++)
        if (a[k] != b[k]) {
            CHECK(a[k] == b[k], "%s %dx%d %s, %dx%d blocks: field word %zu: %lld, whole lattice %lld", what,
                  g->Lx, g->Ly, g->boundary == BOUNDARY_PERIODIC ? "periodic" : "open", g->px, g->py, k,
                  (long long)a[k], (long long)b[k]);
            break;
        }
    for (int k = 0; k < nb; k++) free(packed[k]);
    free(packed); free(wl); free(ws);
}

/* Every grid of pieces[] x pieces[] blocks the lattice splits into (the
 * ones census_grid_blocks_ok accepts), three fields each; returns the
 * grids checked. */
static int check_lattice(int Lx, int Ly, boundary_kind bc, const int *pieces, int npieces, uint64_t seed)
{
    int grids = 0;
    int8_t *level = malloc((size_t)Lx * Ly), *sigma = malloc((size_t)Lx * Ly);
    for (int kind = 0; kind < 3; kind++) {
        fill(level, sigma, Lx, Ly, kind, seed + (unsigned)kind);
        const census_input in = {.Lx = Lx, .Ly = Ly, .boundary = bc, .level = level, .sigma = sigma};
        census_result want;
        sm_error err;
        CHECK(census_compute(&in, NULL, &want, &err) == 0, "%s", err.msg);
        for (int a = 0; a < npieces; a++)
            for (int b = 0; b < npieces; b++) {
                const census_grid g = {Lx, Ly, bc, pieces[a], pieces[b]};
                if (pieces[a] > Lx || pieces[b] > Ly || !census_grid_blocks_ok(&g)) continue;
                check_grid(&g, level, sigma, &want, (const char *[]){"uniform", "smooth", "few levels"}[kind]);
                grids++;
            }
    }
    free(level); free(sigma);
    return grids;
}

static void test_blocks_equal_whole(void)
{
    static const int sizes[][2] = {{40, 34}, {37, 29}, {64, 20}, {16, 16}, {17, 25}, {70, 33}, {9, 40}};
    static const int pieces[] = {1, 2, 3, 4, 5};
    int grids = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int bc = 0; bc < 2; bc++)
            grids += check_lattice(sizes[s][0], sizes[s][1], bc ? BOUNDARY_PERIODIC : BOUNDARY_OPEN, pieces, 5,
                                   1234u + 77u * (unsigned)s);
    CHECK(grids > 900, "only %d grids checked", grids);
}

/* Blocks under the margin, down to one site a side: their windows take
 * sites of blocks two and more away, and of the block itself round a
 * periodic lattice; grids of 3 to 12 blocks a side, whose trees have
 * rectangles left without a partner at some steps. */
static void test_tiny_blocks_equal_whole(void)
{
    static const int sizes[][3] = {{16, 16, 1}, {19, 17, 1}, {12, 30, 0}, {23, 9, 0}};
    static const int pieces[] = {1, 3, 7, 12};
    int grids = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int bc = 0; bc <= sizes[s][2]; bc++)
            grids += check_lattice(sizes[s][0], sizes[s][1], bc ? BOUNDARY_PERIODIC : BOUNDARY_OPEN, pieces, 4,
                                   99u + 31u * (unsigned)s);
    CHECK(grids > 80, "only %d grids checked", grids);
}

/* Where the blocks cannot take the census alone. */
static void test_blocks_ok(void)
{
    CHECK(census_grid_blocks_ok(&(census_grid){40, 34, BOUNDARY_OPEN, 4, 4}), "10 x 8 blocks");
    CHECK(census_grid_blocks_ok(&(census_grid){40, 34, BOUNDARY_OPEN, 40, 34}), "1 x 1 blocks");
    CHECK(census_grid_blocks_ok(&(census_grid){16, 4000, BOUNDARY_PERIODIC, 16, 8}), "periodic, 1 x 500 blocks");
    CHECK(!census_grid_blocks_ok(&(census_grid){15, 40, BOUNDARY_PERIODIC, 1, 2}), "periodic 15 wide");
    CHECK(census_grid_blocks_ok(&(census_grid){15, 40, BOUNDARY_OPEN, 1, 2}), "open 15 wide");
    CHECK(!census_grid_blocks_ok(&(census_grid){15, 40, BOUNDARY_OPEN, 16, 2}), "more blocks than sites");
}

int main(void)
{
    RUN(test_blocks_equal_whole);
    RUN(test_tiny_blocks_equal_whole);
    RUN(test_blocks_ok);
    return CHECK_REPORT();
}
