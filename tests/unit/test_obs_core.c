/* The core observable group's counts (level histogram, HSCL fraction, mean
 * level, staggered magnetisation) against a plain site-by-site count, on
 * random fields of widths that exercise the byte-vector blocks, their
 * scalar tail, odd widths (the staggered sign alternates from row to row)
 * and lattices large enough to be shared out among threads, for 1 and 2
 * threads. The values must be bitwise equal: both are integers over N. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diag/obs_group.h"
#include "dynamics/dynamics.h"

extern const obs_group_ops OBS_GROUP_CORE;

static const char *const MOVE_NAMES[1] = {"none"};
static const dynamics_ops NO_MOVES = {.update_unit = "site", .nmoves = 1, .move_names = MOVE_NAMES};

/* A state with only what the core group reads: geometry, fields, zero energy. */
static void make_state(sim_state *s, int Lx, int Ly, uint64_t seed, int nlevels)
{
    memset(s, 0, sizeof *s);
    s->lat.Lx = Lx;
    s->lat.Ly = Ly;
    s->lat.N = (int64_t)Lx * Ly;
    s->st.N = s->lat.N;
    s->st.level = malloc((size_t)s->lat.N);
    s->st.sigma = malloc((size_t)s->lat.N);
    s->dyn = &NO_MOVES;
    uint64_t r = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t a = 0; a < s->lat.N; a++) {
        r ^= r >> 12; r ^= r << 25; r ^= r >> 27;
        const uint64_t v = r * 2685821657736338717ull;
        s->st.level[a] = (int8_t)((v >> 32) % (uint64_t)nlevels) - 1;
        s->st.sigma[a] = (v >> 20) & 1 ? 1 : -1;
    }
}

/* The row the group must write, counted site by site. */
typedef struct { double hist[NLEVELS], hscl, mean, stag; } expected;

static expected count_direct(const sim_state *s)
{
    int64_t hist[NLEVELS] = {0}, lsum = 0, stag = 0;
    for (int y = 0; y < s->lat.Ly; y++)
        for (int x = 0; x < s->lat.Lx; x++) {
            const int64_t a = (int64_t)y * s->lat.Lx + x;
            const int l = s->st.level[a];
            hist[l + 1]++;
            lsum += l;
            if (l >= 0) stag += ((x + y) & 1) ? -s->st.sigma[a] : s->st.sigma[a];
        }
    expected e;
    const double N = (double)s->lat.N;
    for (int i = 0; i < NLEVELS; i++) e.hist[i] = hist[i] / N;
    e.hscl = (N - hist[0]) / N;
    e.mean = lsum / N;
    e.stag = stag / N;
    return e;
}

static void check_case(int Lx, int Ly, uint64_t seed, int nlevels, int threads)
{
    sim_state s;
    make_state(&s, Lx, Ly, seed, nlevels);
    obs_layout L;
    memset(&L, 0, sizeof L);
    void *st = calloc(1, OBS_GROUP_CORE.state_size);
    CHECK(OBS_GROUP_CORE.layout(st, &L, &s) == 0, "layout declined");
    double *row = calloc((size_t)L.total, sizeof *row);
    omp_set_num_threads(threads);
    OBS_GROUP_CORE.measure(st, &s, row);
    const expected e = count_direct(&s);
    const int hc = L.off[obs_layout_find(&L, "level_histogram")];
    for (int i = 0; i < NLEVELS; i++)
        CHECK(row[hc + i] == e.hist[i], "%dx%d, %d threads: level %d: %.17g vs %.17g", Lx, Ly,
              threads, i - 1, row[hc + i], e.hist[i]);
    CHECK(row[L.off[obs_layout_find(&L, "hscl_fraction")]] == e.hscl, "%dx%d: hscl_fraction", Lx, Ly);
    CHECK(row[L.off[obs_layout_find(&L, "mean_level")]] == e.mean, "%dx%d, %d threads: mean_level %.17g vs %.17g",
          Lx, Ly, threads, row[L.off[obs_layout_find(&L, "mean_level")]], e.mean);
    CHECK(row[L.off[obs_layout_find(&L, "staggered_magnetization")]] == e.stag,
          "%dx%d, %d threads: staggered_magnetization %.17g vs %.17g", Lx, Ly, threads,
          row[L.off[obs_layout_find(&L, "staggered_magnetization")]], e.stag);
    free(row);
    free(st);
    free(s.st.level);
    free(s.st.sigma);
}

static void test_widths(void)
{
    static const int dims[][2] = {{1, 1}, {3, 5}, {31, 4}, {32, 3}, {33, 7}, {64, 64}, {95, 9},
                                  {100, 37}, {127, 200}, {4096, 3}};
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++)
        for (int t = 1; t <= 2; t++) check_case(dims[k][0], dims[k][1], k + 1, NLEVELS, t);
}

/* Large enough for the threads, long runs of one level (the int8 lane
 * counters are emptied before they can overflow), and a field of all
 * levels. */
static void test_large(void)
{
    for (int t = 1; t <= 2; t++) {
        check_case(512, 300, 7, 1, t);    /* all -1 */
        check_case(512, 300, 8, 2, t);    /* -1 and 0 */
        check_case(1024, 129, 9, NLEVELS, t);
        check_case(333, 257, 10, NLEVELS, t);
    }
}

/* A lattice counted in uneven blocks (field_counts_block on a sub-array
 * with the whole lattice's stride and each block's parity, as an MPI rank
 * counts its own) sums to the count of the whole, which equals the direct
 * count: odd block origins flip the staggered sign. */
static void check_blocks(int Lx, int Ly, int px, int py, uint64_t seed, int threads)
{
    sim_state s;
    make_state(&s, Lx, Ly, seed, NLEVELS);
    omp_set_num_threads(threads);
    field_counts whole, sum;
    field_counts_lattice(&s.lat, &s.st, &whole);
    memset(&sum, 0, sizeof sum);
    for (int j = 0; j < py; j++)
        for (int i = 0; i < px; i++) {
            const int x0 = i * Lx / px, x1 = (i + 1) * Lx / px, y0 = j * Ly / py, y1 = (j + 1) * Ly / py;
            const int64_t o = (int64_t)y0 * Lx + x0;
            field_counts_block(s.st.level + o, s.st.sigma + o, Lx, x1 - x0, y1 - y0, (x0 + y0) & 1, &sum);
        }
    const expected e = count_direct(&s);
    const double N = (double)s.lat.N;
    CHECK(memcmp(&whole, &sum, sizeof sum) == 0, "%dx%d in %dx%d blocks: sums differ from the whole",
          Lx, Ly, px, py);
    for (int i = 0; i < NLEVELS; i++)
        CHECK(whole.hist[i] / N == e.hist[i], "%dx%d: level %d", Lx, Ly, i - 1);
    CHECK(whole.stag / N == e.stag, "%dx%d: stag %lld vs %.17g", Lx, Ly, (long long)whole.stag, e.stag * N);
    free(s.st.level);
    free(s.st.sigma);
}

static void test_blocks(void)
{
    for (int t = 1; t <= 2; t++) {
        check_blocks(23, 17, 3, 2, 11, t);
        check_blocks(100, 37, 7, 5, 12, t);
        check_blocks(513, 300, 3, 3, 13, t);
        check_blocks(9, 31, 1, 4, 14, t);
    }
}

int main(void)
{
    RUN(test_widths);
    RUN(test_large);
    RUN(test_blocks);
    return CHECK_REPORT();
}
