/* The cluster census on lattices wide enough for its block pass (64 sites
 * at a time, every level present in a row computed for the whole row,
 * footprint sums grown from one level to the next by diagonal rings) and
 * for its one-by-one pass (levels with few sites in a row), checked against
 * census_cluster, which counts each cluster on its own by explicit
 * enumeration: every per-level field (centres, truncated, Table 1 matches
 * per column and in all, the sums over fitting and over truncated
 * clusters) must agree exactly, for 1 and 2 threads, periodic and open,
 * widths that are and are not multiples of 64. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <omp.h>
#include "check.h"
#include "diag/census.h"
#include "census_reference.h"

typedef struct {
    int Lx, Ly;
    boundary_kind bc;
    int8_t *level, *sigma;
} field;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return *s;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Kinds of level field:
 *   0 bands: a level that drifts from 0 to 8 and back down the rows, plus
 *     -1/0/+1 noise and a few holes, so that every row has two or three
 *     dense levels (as an equilibrated configuration has) and some sparse;
 *   1 uniform random levels -1..8 (each level sparse in most rows);
 *   2 pyramids: ideal V_i clusters with Neel mosaics (Table 1 matches),
 *     some sigma flipped;
 *   3 one level everywhere but a few holes (dense V_i at every i in turn:
 *     level = row / (Ly / 9)). */
static field field_new(int Lx, int Ly, boundary_kind bc, int kind, uint64_t seed)
{
    field f = {Lx, Ly, bc, malloc((size_t)Lx * Ly), malloc((size_t)Lx * Ly)};
    uint64_t s = seed * 2654435761u + 1;
    for (int y = 0; y < Ly; y++)
        for (int x = 0; x < Lx; x++) {
            int64_t a = (int64_t)y * Lx + x;
            uint64_t r = rnd(&s);
            int l;
            switch (kind) {
            case 0: {
                double base = 4.0 - 4.2 * cos(2.0 * M_PI * y / Ly);
                l = (int)lround(base) + (int)(r % 3) - 1;
                if ((r >> 8) % 23 == 0) l = -1;
                break;
            }
            case 1: l = (int)(r % 10) - 1; break;
            case 3: l = clampi(y * 9 / Ly, 0, 8); if ((r >> 8) % 31 == 0) l = -1; break;
            default: l = -1; break;
            }
            f.level[a] = (int8_t)clampi(l, -1, 8);
            f.sigma[a] = (r >> 20) & 1 ? 1 : -1;
        }
    if (kind == 2) {
        for (int p = 0; p < Lx * Ly / 150; p++) {
            int cx = (int)(rnd(&s) % (uint64_t)Lx), cy = (int)(rnd(&s) % (uint64_t)Ly);
            int i = (int)(rnd(&s) % 9), sc = (rnd(&s) >> 7) & 1 ? 1 : -1;
            for (int dy = -i; dy <= i; dy++)
                for (int dx = -(i - abs(dy)); dx <= i - abs(dy); dx++) {
                    int x = cx + dx, y = cy + dy;
                    if (bc == BOUNDARY_PERIODIC) { x = (x + Lx) % Lx; y = (y + Ly) % Ly; }
                    else if (x < 0 || x >= Lx || y < 0 || y >= Ly) continue;
                    int d = abs(dx) + abs(dy), l = i - d;
                    int64_t a = (int64_t)y * Lx + x;
                    if (l > f.level[a]) f.level[a] = (int8_t)l;
                    f.sigma[a] = (int8_t)((d & 1) ? -sc : sc);
                }
        }
        for (int d = 0; d < Lx * Ly / 200; d++) {
            int64_t a = (int64_t)(rnd(&s) % (uint64_t)(Lx * Ly));
            f.sigma[a] = (int8_t)-f.sigma[a];
        }
    }
    return f;
}

static void field_free(field *f) { free(f->level); free(f->sigma); }

static void check_clusters(const field *f, const census_result *r, const char *what)
{
    census_input in = {f->Lx, f->Ly, f->bc, f->level, f->sigma, true, 0, NULL};
    check_clusters_reference(&in, r, what);
}

static void test_wide_lattices(void)
{
    static const struct { int Lx, Ly; boundary_kind bc; } lat[] = {
        {64, 45, BOUNDARY_PERIODIC}, {100, 38, BOUNDARY_PERIODIC}, {257, 36, BOUNDARY_PERIODIC},
        {130, 41, BOUNDARY_OPEN}, {65, 64, BOUNDARY_OPEN}, {191, 27, BOUNDARY_PERIODIC},
    };
    static const char *kname[4] = {"bands", "random", "pyramids", "level by rows"};
    const int maxt = omp_get_max_threads();
    census_work w;
    for (size_t k = 0; k < sizeof lat / sizeof lat[0]; k++)
        for (int kind = 0; kind < 4; kind++) {
            field f = field_new(lat[k].Lx, lat[k].Ly, lat[k].bc, kind, 100 * k + kind);
            census_input in = {f.Lx, f.Ly, f.bc, f.level, f.sigma, true, 0, NULL};
            sm_error err;
            CHECK(census_work_init(&w, f.Lx, f.Ly, &err) == 0, "%s", err.msg);
            census_result r1, r2;
            omp_set_num_threads(1);
            CHECK(census_compute(&in, &w, &r1, &err) == 0, "%s", err.msg);
            omp_set_num_threads(maxt > 1 ? maxt : 2);
            CHECK(census_compute(&in, &w, &r2, &err) == 0, "%s", err.msg);
            omp_set_num_threads(maxt);
            char what[96];
            snprintf(what, sizeof what, "%dx%d %s %s", f.Lx, f.Ly,
                     f.bc == BOUNDARY_PERIODIC ? "periodic" : "open", kname[kind]);
            CHECK(memcmp(&r1, &r2, sizeof r1) == 0, "%s: 1 and 2 threads differ", what);
            /* the narrower versions of the cluster code (the CPU's widest gave r1) */
            for (int vb = 16; vb <= 32; vb *= 2) {
                census_input nin = in;
                nin.vector_bytes = vb;
                CHECK(census_compute(&nin, &w, &r2, &err) == 0, "%s", err.msg);
                CHECK(memcmp(&r1, &r2, sizeof r1) == 0, "%s: %d-byte vectors differ", what, vb);
            }
            check_clusters(&f, &r1, what);
            census_work_free(&w);
            field_free(&f);
        }
}

/* The same lattice counted through a work set reused after a different
 * configuration (nothing may leak from one census to the next). */
static void test_reused_work(void)
{
    field a = field_new(150, 40, BOUNDARY_PERIODIC, 0, 7), b = field_new(150, 40, BOUNDARY_PERIODIC, 2, 8);
    census_work w;
    sm_error err;
    CHECK(census_work_init(&w, 150, 40, &err) == 0, "%s", err.msg);
    census_input ia = {a.Lx, a.Ly, a.bc, a.level, a.sigma, true, 0, NULL}, ib = {b.Lx, b.Ly, b.bc, b.level, b.sigma, true, 0, NULL};
    census_result r1, r2, r3;
    CHECK(census_compute(&ib, NULL, &r1, &err) == 0, "%s", err.msg);
    CHECK(census_compute(&ia, &w, &r2, &err) == 0, "%s", err.msg);
    CHECK(census_compute(&ib, &w, &r3, &err) == 0, "%s", err.msg);
    CHECK(memcmp(&r1, &r3, sizeof r1) == 0, "reused work gives another result");
    check_clusters(&a, &r2, "150x40 bands after pyramids");
    census_work_free(&w);
    field_free(&a);
    field_free(&b);
}

int main(void)
{
    RUN(test_wide_lattices);
    RUN(test_reused_work);
    return CHECK_REPORT();
}
