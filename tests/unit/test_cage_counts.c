/* The PCP field counts of a lattice cut into blocks (dynamics/cage_counts.h),
 * done in one process: each block's counts from its storage with a halo
 * filled from the global state, added up, must equal the whole lattice's,
 * for uneven grids, one or several blocks a side, open and periodic, with
 * phases drawn from a few values so that paired bonds are common, and jump
 * counts large enough that their squares carry into the high word. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "dynamics/cage_counts.h"

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return *s;
}

static void fill(model_state *st, int64_t N, uint64_t seed, int big)
{
    uint64_t s = seed | 1;
    static const uint8_t phases[4] = {15, 31, 47, 63};   /* the trap line in every diagonal */
    for (int64_t a = 0; a < N; a++) {
        st->level[a] = (int8_t)(rnd(&s) % 10) - 1;
        st->sigma[a] = rnd(&s) & 1 ? 1 : -1;
        st->phase[a] = rnd(&s) % 8 ? phases[rnd(&s) % 4] : (uint8_t)(rnd(&s) % NPHASE);
        st->zjumps_wide[a] = big ? (int32_t)(rnd(&s) % 2 ? INT32_MIN + (int)(rnd(&s) % 9) : INT32_MAX)
                                 : (int32_t)(rnd(&s) % 601) - 300;
    }
}

static int wrap(int v, int L) { return v < 0 ? v + L : v >= L ? v - L : v; }

/* The counts of block (cx, cy) of a px x py grid of st: its storage with
 * halo filled as the halo exchange fills it (wrapped on a periodic
 * lattice, left unset past an open edge, where nothing reads it). */
static void block_counts(const lattice *lat, const model_state *st, int px, int py, int cx, int cy,
                         cage_counts *c)
{
    const int gx0 = cx * lat->Lx / px, gy0 = cy * lat->Ly / py;
    const int nx = (cx + 1) * lat->Lx / px - gx0, ny = (cy + 1) * lat->Ly / py - gy0;
    const int64_t stride = nx + 2, cells = stride * (ny + 2);
    int8_t *level = calloc((size_t)cells, 1), *sigma = calloc((size_t)cells, 1);
    uint8_t *phase = calloc((size_t)cells, 1);
    int32_t *z = calloc((size_t)nx * (size_t)ny, sizeof *z);
    const cage_block b = {level + stride + 1, sigma + stride + 1, phase + stride + 1, NULL, stride,
                          gx0, gy0, nx, ny, lat};
    const int periodic = lat->boundary != BOUNDARY_OPEN;
    for (int by = -1; by <= ny; by++)
        for (int bx = -1; bx <= nx; bx++) {
            int x = gx0 + bx, y = gy0 + by;
            if (!periodic && (x < 0 || x >= lat->Lx || y < 0 || y >= lat->Ly)) continue;
            x = wrap(x, lat->Lx);
            y = wrap(y, lat->Ly);
            const int64_t a = (int64_t)y * lat->Lx + x, i = (int64_t)by * stride + bx;
            b.level[i] = st->level[a];
            b.sigma[i] = st->sigma[a];
            b.phase[i] = st->phase[a];
            if (bx >= 0 && bx < nx && by >= 0 && by < ny) z[(int64_t)by * nx + bx] = st->zjumps_wide[a];
        }
    cage_counts_block(&b, z, c);
    free(level), free(sigma), free(phase), free(z);
}

static void test_blocks_equal_whole(void)
{
    static const int sizes[][2] = {{7, 5}, {16, 16}, {13, 2}, {3, 11}, {24, 20}};
    int cases = 0, paired = 0, carried = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int open = 0; open < 2; open++)
            for (int big = 0; big < 2; big++) {
                lattice lat;
                sm_error err;
                model_state st;
                model_params p;
                model_params_default(&p);
                CHECK(!lattice_init(&lat, sizes[k][0], sizes[k][1], open ? BOUNDARY_OPEN : BOUNDARY_PERIODIC, &err),
                      "%s", err.msg);
                CHECK(!model_state_init(&st, lat.N, &err) && !model_state_init_pcp(&st, &p, &err) &&
                      !model_state_widen_z(&st), "state");
                fill(&st, lat.N, 977 * k + 31 * open + big, big);
                cage_counts whole;
                cage_counts_lattice(&lat, &st, &whole);
                paired += whole.paired > 0;
                carried += whole.zsq_hi > 0;
                for (int px = 1; px <= 4 && px <= lat.Lx; px++)
                    for (int py = 1; py <= 4 && py <= lat.Ly; py++) {
                        cage_counts sum = {0, 0, 0, 0};
                        for (int cy = 0; cy < py; cy++)
                            for (int cx = 0; cx < px; cx++) {
                                cage_counts part = {0, 0, 0, 0};
                                block_counts(&lat, &st, px, py, cx, cy, &part);
                                cage_counts_add(&sum, &part);
                            }
                        CHECK(!memcmp(&sum, &whole, sizeof sum),
                              "%dx%d %s on %dx%d: trap %lld/%lld paired %lld/%lld zsq %llu:%llu/%llu:%llu",
                              lat.Lx, lat.Ly, open ? "open" : "periodic", px, py, (long long)sum.trap,
                              (long long)whole.trap, (long long)sum.paired, (long long)whole.paired,
                              (unsigned long long)sum.zsq_hi, (unsigned long long)sum.zsq_lo,
                              (unsigned long long)whole.zsq_hi, (unsigned long long)whole.zsq_lo);
                        cases++;
                    }
                model_state_free(&st);
            }
    /* the cases must exercise what they check */
    CHECK(cases > 200 && paired >= 18 && carried == 10, "%d cases, %d with pairs, %d carried",
          cases, paired, carried);
}

/* The 128-bit sum: a carry out of the low word, and adding parts. */
static void test_square_sum_carries(void)
{
    cage_counts c = {0, 0, UINT64_MAX - 1, 0};
    cage_counts_add_zsq(&c, 3);
    CHECK(c.zsq_lo == 1 && c.zsq_hi == 1, "%llu:%llu", (unsigned long long)c.zsq_hi, (unsigned long long)c.zsq_lo);
    cage_counts d = {0, 0, UINT64_MAX, 2};
    cage_counts_add(&c, &d);
    CHECK(c.zsq_lo == 0 && c.zsq_hi == 4, "%llu:%llu", (unsigned long long)c.zsq_hi, (unsigned long long)c.zsq_lo);
    CHECK(cage_counts_zsq(&c) == 4.0 * 18446744073709551616.0, "%.17g", cage_counts_zsq(&c));
}

int main(void)
{
    RUN(test_blocks_equal_whole);
    RUN(test_square_sum_carries);
    return CHECK_REPORT();
}
