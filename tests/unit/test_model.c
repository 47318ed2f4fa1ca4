/* Model-level unit tests: Hamiltonian sums on hand-built configurations,
 * weight ratios against W computed from scratch, integer thresholds, and the
 * level kernel's invariants (RSOS, incremental energy) over many sweeps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "io/config.h"
#include "dynamics/level.h"
#include "core/model.h"

typedef struct {
    lattice lat;
    model_state s;
} fixture;

static void fixture_init(fixture *f, int Lx, int Ly, boundary_kind b)
{
    sm_error err;
    lattice_init(&f->lat, Lx, Ly, b, &err);
    model_state_init(&f->s, f->lat.N, &err);
    for (int64_t a = 0; a < f->lat.N; a++) {
        f->s.level[a] = -1;
        f->s.sigma[a] = 1;
    }
}

static void fixture_free(fixture *f)
{
    model_state_free(&f->s);
}

/* H straight from docs/model.md section 4, bond by bond, for cross-checks. */
static double energy_direct(const fixture *f, const model_params *p)
{
    double H = 0.0;
    const lattice *L = &f->lat;
    for (int64_t a = 0; a < L->N; a++) {
        const int la = f->s.level[a], na = la >= 0;
        H += p->eps_C * MODEL_CBOSONS[la + 1] - p->h / 16.0 * na * f->s.sigma[a];
        for (int d = 0; d < 2; d++) {
            const int64_t b = lattice_nbr(L, a, d);
            if (b < 0) continue;
            const int lb = f->s.level[b];
            H += p->eps_step * abs(la - lb) + p->J * na * (lb >= 0) * f->s.sigma[a] * f->s.sigma[b];
        }
    }
    return H;
}

static double log_weight(const fixture *f, const model_params *p, double T)
{
    double lw = 0.0;
    for (int64_t a = 0; a < f->lat.N; a++) lw += (f->s.level[a] + 1) * log(p->g);
    return lw - energy_direct(f, p) / T;
}

static void test_cboson_table(void)
{
    /* Table 1: C(i) = 4 (i+1)^2 for i <= 7, and 312 + 8 for the soft matrix */
    for (int i = 0; i <= 7; i++) CHECK(MODEL_CBOSONS[i + 1] == 4 * (i + 1) * (i + 1), "C(%d)", i);
    CHECK(MODEL_CBOSONS[9] == 320, "C(8) = %d", MODEL_CBOSONS[9]);
    CHECK(MODEL_CBOSONS[0] == 0, "C(-1)");
}

static void test_energy_single_v1_pyramid(void)
{
    fixture f;
    fixture_init(&f, 8, 8, BOUNDARY_PERIODIC);
    model_params p;
    model_params_default(&p);
    p.eps_step = 0.3;
    p.h = 0.7;
    /* V1 centred at (3,3): centre level 1, its 4 neighbours level 0, all sigma +1 */
    const int c = 3 * 8 + 3;
    f.s.level[c] = 1;
    for (int d = 0; d < 4; d++) f.s.level[lattice_nbr(&f.lat, c, d)] = 0;
    energy_terms e;
    energy_terms_compute(&f.lat, &f.s, &e);
    CHECK(e.sum_C == 16 + 4 * 4, "sum_C %lld", (long long)e.sum_C);
    /* arrows: 4 centre-arm bonds + 3 outward bonds of each of 4 arms */
    CHECK(e.n_steps == 4 + 12, "n_steps %lld", (long long)e.n_steps);
    CHECK(e.sum_J == 4, "sum_J %lld", (long long)e.sum_J);
    CHECK(e.sum_h == 5, "sum_h %lld", (long long)e.sum_h);
    energy_parts E = energy_from_terms(&p, &e);
    CHECK_CLOSE(E.total, energy_direct(&f, &p), 1e-12);
    CHECK_CLOSE(E.total, 0.125 * 32 + 0.3 * 16 + 0.125 * 4 - 0.7 / 16 * 5, 1e-12);
    CHECK(model_rsos_violations(&f.lat, &f.s) == 0, "rsos");
    f.s.level[0] = 2; /* next to level -1 sites: two violated bonds at least */
    CHECK(model_rsos_violations(&f.lat, &f.s) == 4, "violations %lld",
          (long long)model_rsos_violations(&f.lat, &f.s));
    fixture_free(&f);
}

static void test_doubled_bonds_on_length_two(void)
{
    /* 2x2 periodic: each pair of neighbours is joined by two bonds */
    fixture f;
    fixture_init(&f, 2, 2, BOUNDARY_PERIODIC);
    for (int a = 0; a < 4; a++) f.s.level[a] = 0;
    f.s.sigma[0] = -1;
    energy_terms e;
    energy_terms_compute(&f.lat, &f.s, &e);
    /* 8 bonds; site 0 has 4 bonds to opposite spins, the other 4 bonds parallel */
    CHECK(e.sum_J == 0, "sum_J %lld", (long long)e.sum_J);
    f.s.sigma[0] = 1;
    energy_terms_compute(&f.lat, &f.s, &e);
    CHECK(e.sum_J == 8, "sum_J %lld", (long long)e.sum_J);
    fixture_free(&f);
}

static void test_threshold_rounding(void)
{
    CHECK(model_threshold(1.0) == ((uint64_t)1 << 32), "1");
    CHECK(model_threshold(7.5) == ((uint64_t)1 << 32), ">1");
    CHECK(model_threshold(INFINITY) == ((uint64_t)1 << 32), "inf");
    CHECK(model_threshold(0.0) == 0, "0");
    CHECK(model_threshold(0.5) == ((uint64_t)1 << 31), "0.5");
    CHECK(model_threshold(0.25) == ((uint64_t)1 << 30), "0.25");
    uint64_t t = model_threshold(exp(-3.0));
    CHECK(fabs((double)t / 4294967296.0 - exp(-3.0)) < 1e-9, "exp(-3)");
}

/* Every level move's table entry must equal min(1, W'/W) with W from scratch:
 * build the local configuration explicitly and compare. */
static void test_level_tables_match_weight(void)
{
    model_params p;
    model_params_default(&p);
    p.eps_step = 0.2;
    p.h = 0.9;
    p.J = -0.3;
    p.g = 3.0;
    const double T = 0.8;
    level_tables t;
    level_tables_build(&t, &p, T);
    fixture f;
    fixture_init(&f, 6, 6, BOUNDARY_PERIODIC);
    const int c = 2 * 6 + 2;
    int checked = 0;
    for (int l = -1; l <= 8; l++)
        for (int up = 0; up < 2; up++) {
            const int l2 = up ? l + 1 : l - 1;
            if (l2 < -1 || l2 > 8) {
                CHECK(t.level[l + 1][up][4][1][4] == 0, "out of bounds l=%d up=%d", l, up);
                continue;
            }
            /* neighbour levels drawn from {l, l2} in all 16 ways, spins in a few patterns */
            for (int mask = 0; mask < 16; mask++)
                for (int sp = 0; sp < 8; sp++) {
                    for (int a = 0; a < 36; a++) { f.s.level[a] = (int8_t)(l2 > l ? l : l2); }
                    /* keep the whole lattice RSOS: background at min(l,l2) */
                    int n_same = 0, n_up = 0, S = 0;
                    for (int d = 0; d < 4; d++) {
                        int lb = (mask >> d) & 1 ? l2 : l;
                        const int64_t b = lattice_nbr(&f.lat, c, d);
                        f.s.level[b] = (int8_t)lb;
                        f.s.sigma[b] = (int8_t)(((sp >> (d % 3)) & 1) ? 1 : -1);
                        n_same += lb == l;
                        n_up += lb == l2;
                        S += (lb >= 0) * f.s.sigma[b];
                    }
                    f.s.level[c] = (int8_t)l;
                    f.s.sigma[c] = (int8_t)((sp & 4) ? -1 : 1);
                    const double w0 = log_weight(&f, &p, T);
                    f.s.level[c] = (int8_t)l2;
                    const double w1 = log_weight(&f, &p, T);
                    const double ratio = exp(w1 - w0);
                    const int dn = (l2 >= 0) - (l >= 0);
                    const uint64_t thr =
                        t.level[l + 1][up][n_same - n_up + 4][f.s.sigma[c] > 0][S * (dn != 0) + 4];
                    const uint64_t want = model_threshold(ratio);
                    /* the two routes to the ratio may differ in the last ulp */
                    CHECK((thr > want ? thr - want : want - thr) <= 1, "l=%d l2=%d mask=%d sp=%d: %llu vs ratio %g",
                          l, l2, mask, sp, (unsigned long long)thr, ratio);
                    checked++;
                }
        }
    CHECK(checked > 2000, "checked %d", checked);
    /* sigma flips at an HSCL with all S */
    for (int sv = -1; sv <= 1; sv += 2)
        for (int S = -4; S <= 4; S++) {
            double dH = -2.0 * sv * (p.J * S - p.h / 16.0);
            CHECK(t.sigma[sv > 0][S + 4] == model_threshold(exp(-dH / T)), "sigma s=%d S=%d", sv, S);
        }
    fixture_free(&f);
}

static void run_kernel_invariants(int Lx, int Ly, boundary_kind b, double eps_step, double h)
{
    fixture f;
    fixture_init(&f, Lx, Ly, b);
    model_params p;
    model_params_default(&p);
    p.eps_step = eps_step;
    p.h = h;
    energy_terms e;
    energy_terms_compute(&f.lat, &f.s, &e);
    move_stats ms = {{0}, {0}};
    level_tables t;
    for (int sweep = 0; sweep < 600; sweep++) {
        const double T = 0.3 + 6.0 * sweep / 600.0; /* heat through the whole cascade */
        if (sweep % 50 == 0) level_tables_build(&t, &p, T);
        level_sweep(&f.lat, &f.s, &p, &t, 12345, (uint64_t)sweep, &e, &ms);
        if (sweep % 37 == 0 || sweep == 599) {
            energy_terms r;
            energy_terms_compute(&f.lat, &f.s, &r);
            CHECK(memcmp(&r, &e, sizeof r) == 0,
                  "%dx%d sweep %d: incremental (%lld %lld %lld %lld) vs recomputed (%lld %lld %lld %lld)",
                  Lx, Ly, sweep, (long long)e.sum_C, (long long)e.n_steps, (long long)e.sum_J,
                  (long long)e.sum_h, (long long)r.sum_C, (long long)r.n_steps, (long long)r.sum_J,
                  (long long)r.sum_h);
            CHECK(model_rsos_violations(&f.lat, &f.s) == 0, "RSOS violated at sweep %d", sweep);
        }
    }
    int maxl = -1;
    for (int64_t a = 0; a < f.lat.N; a++) {
        CHECK(f.s.level[a] >= -1 && f.s.level[a] <= 8, "level out of range");
        CHECK(f.s.sigma[a] == 1 || f.s.sigma[a] == -1, "sigma out of range");
        if (f.s.level[a] > maxl) maxl = f.s.level[a];
    }
    CHECK(maxl >= 5, "cascade should have grown, max level %d", maxl);
    CHECK(ms.proposed[LEVEL_MOVE_LEVEL] == 600 * f.lat.N, "level proposals");
    CHECK(ms.accepted[LEVEL_MOVE_LEVEL] > 0, "some level moves accepted");
    fixture_free(&f);
}

static void test_kernel_invariants_periodic(void) { run_kernel_invariants(16, 12, BOUNDARY_PERIODIC, 0.0, 0.0); }
static void test_kernel_invariants_open_odd(void) { run_kernel_invariants(13, 9, BOUNDARY_OPEN, 0.15, 0.5); }
static void test_kernel_invariants_tiny(void) { run_kernel_invariants(2, 2, BOUNDARY_PERIODIC, 0.1, -0.4); }

static void test_frozen_levels_stay(void)
{
    fixture f;
    fixture_init(&f, 8, 8, BOUNDARY_PERIODIC);
    for (int a = 0; a < 64; a++) f.s.level[a] = 0;
    model_params p;
    model_params_default(&p);
    p.freeze_levels = true;
    level_tables t;
    level_tables_build(&t, &p, 5.0);
    energy_terms e;
    energy_terms_compute(&f.lat, &f.s, &e);
    move_stats ms = {{0}, {0}};
    for (int s = 0; s < 50; s++) level_sweep(&f.lat, &f.s, &p, &t, 1, (uint64_t)s, &e, &ms);
    for (int a = 0; a < 64; a++) CHECK(f.s.level[a] == 0, "level moved");
    CHECK(ms.proposed[LEVEL_MOVE_LEVEL] == 0, "no level proposals when frozen");
    CHECK(ms.accepted[LEVEL_MOVE_SIGMA] > 0, "sigma moves");
    fixture_free(&f);
}

static void test_schedule_points(void)
{
    sm_config *c = malloc(sizeof *c);
    sm_error err;
    const char *txt = "{\"schedule\": [{\"T\": 1, \"sweeps\": 3, \"equilibration\": 2},"
                      " {\"T_from\": 1, \"T_to\": 2, \"sweeps\": 5}]}";
    CHECK(config_parse(c, txt, "t", NULL, 0, &err) == 0, "%s", err.msg);
    CHECK(config_total_sweeps(c) == 10, "total");
    schedule_point p = config_schedule_point(c, 0);
    CHECK(p.segment == 0 && !p.measured && p.T == 1.0, "k=0");
    p = config_schedule_point(c, 2);
    CHECK(p.segment == 0 && p.measured && p.index == 0, "k=2");
    p = config_schedule_point(c, 5);
    CHECK(p.segment == 1 && p.measured && p.index == 0 && p.T == 1.0, "k=5 T=%g", p.T);
    p = config_schedule_point(c, 7);
    CHECK(p.segment == 1 && p.T == 1.5, "k=7 T=%g", p.T);
    p = config_schedule_point(c, 9);
    CHECK(p.segment == 1 && p.T == 2.0, "k=9 T=%g", p.T);
    free(c);
}

/* lattice_nbr against the definition written with modular arithmetic:
 * periodic wraps (lengths 1, 2 and odd included), open edges cut. */
static void test_neighbours_by_arithmetic(void)
{
    static const int dx[4] = {1, 0, -1, 0}, dy[4] = {0, 1, 0, -1};
    const int sizes[][2] = {{1, 1}, {1, 3}, {2, 2}, {3, 2}, {5, 4}, {7, 7}};
    for (int bc = 0; bc < 2; bc++)
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            lattice L;
            sm_error err;
            CHECK(lattice_init(&L, sizes[k][0], sizes[k][1], (boundary_kind)bc, &err) == 0, "init");
            for (int64_t a = 0; a < L.N; a++)
                for (int d = 0; d < NDIR; d++) {
                    const int x = (int)(a % L.Lx) + dx[d], y = (int)(a / L.Lx) + dy[d];
                    const int out = x < 0 || x >= L.Lx || y < 0 || y >= L.Ly;
                    const int64_t want = bc == BOUNDARY_OPEN && out
                                             ? -1
                                             : (int64_t)((y + L.Ly) % L.Ly) * L.Lx + (x + L.Lx) % L.Lx;
                    CHECK(lattice_nbr(&L, a, d) == want, "%dx%d bc %d site %lld dir %d: %lld, want %lld",
                          L.Lx, L.Ly, bc, (long long)a, d, (long long)lattice_nbr(&L, a, d), (long long)want);
                }
        }
}

int main(void)
{
    RUN(test_cboson_table);
    RUN(test_neighbours_by_arithmetic);
    RUN(test_energy_single_v1_pyramid);
    RUN(test_doubled_bonds_on_length_two);
    RUN(test_threshold_rounding);
    RUN(test_level_tables_match_weight);
    RUN(test_kernel_invariants_periodic);
    RUN(test_kernel_invariants_open_odd);
    RUN(test_kernel_invariants_tiny);
    RUN(test_frozen_levels_stay);
    RUN(test_schedule_points);
    return CHECK_REPORT();
}
