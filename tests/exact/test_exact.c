/* Tests of the exact-results module: the fast enumeration against a naive
 * brute force written independently from docs/model.md, RSOS counts, the
 * Ising-limit route against the model route, and the infinite-lattice
 * formulas against known values, their own quadrature and series. */
#include "exact.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const int CB[10] = {0, 4, 16, 36, 64, 100, 144, 196, 256, 320};

/* |a - b| <= rel * max(|a|, |b|) + abs_tol */
#define CHECK_REL(a, b, rel, abs_tol)                                                   \
    do {                                                                                \
        double a_ = (a), b_ = (b);                                                      \
        double tol_ = (rel) * fmax(fabs(a_), fabs(b_)) + (abs_tol);                     \
        CHECK(fabs(a_ - b_) <= tol_, "%s = %.17g vs %s = %.17g (diff %.3g, tol %.3g)", \
              #a, a_, #b, b_, fabs(a_ - b_), tol_);                                     \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Brute force: every l in {-1..8}^N (RSOS checked afterwards, bond by bond) */
/* and every s in {+-1}^N, H evaluated term by term from docs/model.md section 4.         */

typedef struct {
    long double Z, H, H2, EC, Es, EJ, Eh, hist[10], hscl, lev, cb, M, M2, aM, S, S2, aS;
    int64_t nlev;
} brute_sums;

static void brute(int Lx, int Ly, double T, const exact_params *p, exact_result *r)
{
    int N = Lx * Ly;
    if (N > 8) {
        CHECK(0, "brute force is for N <= 8");
        return;
    }
    /* bond list: each site's +x and +y bond */
    int bA[2 * 16], bB[2 * 16], nb = 0;
    for (int y = 0; y < Ly; y++)
        for (int x = 0; x < Lx; x++) {
            bA[nb] = y * Lx + x; bB[nb++] = y * Lx + (x + 1) % Lx;
            bA[nb] = y * Lx + x; bB[nb++] = ((y + 1) % Ly) * Lx + x;
        }
    brute_sums b;
    memset(&b, 0, sizeof b);
    int lo = p->freeze_levels ? p->freeze_level : -1, hi = p->freeze_levels ? p->freeze_level : 8;
    /* The odometer over 10^N level vectors dominates the cost, so its list
     * of RSOS configurations is kept for the next call with the same sizes. */
    static int cache_key[4] = {0, 0, 0, 0}, cache_n = 0;
    static int8_t cache[8192][8];
    if (N <= 8 && !(cache_key[0] == Lx && cache_key[1] == Ly && cache_key[2] == lo &&
                    cache_key[3] == hi)) {
        int l[16];
        cache_n = 0;
        for (int a = 0; a < N; a++)
            l[a] = lo;
        for (;;) {
            int ok = 1;
            for (int k = 0; k < nb && ok; k++)
                ok = abs(l[bA[k]] - l[bB[k]]) <= 1;
            if (ok) {
                for (int a = 0; a < N; a++)
                    cache[cache_n][a] = (int8_t)l[a];
                cache_n++;
            }
            int a = 0;
            while (a < N && l[a] == hi)
                l[a++] = lo;
            if (a == N)
                break;
            l[a]++;
        }
        cache_key[0] = Lx; cache_key[1] = Ly; cache_key[2] = lo; cache_key[3] = hi;
    }
    for (int c = 0; c < cache_n; c++) {
        int l[16];
        for (int a = 0; a < N; a++)
            l[a] = cache[c][a];
        {
            b.nlev++;
            int loops = 0, sC = 0, st = 0, nh = 0, ls = 0;
            for (int a = 0; a < N; a++) {
                loops += l[a] + 1;
                sC += CB[l[a] + 1];
                nh += l[a] >= 0;
                ls += l[a];
            }
            for (int k = 0; k < nb; k++)
                st += abs(l[bA[k]] - l[bB[k]]);
            long double gl = powl(p->g, loops), Wl = 0;
            for (unsigned sm = 0; sm < (1u << N); sm++) {
                int s[16];
                for (int a = 0; a < N; a++)
                    s[a] = (sm >> a) & 1 ? -1 : 1;
                long double sJ = 0, M = 0, Ms = 0;
                for (int k = 0; k < nb; k++)
                    sJ += (l[bA[k]] >= 0) * (l[bB[k]] >= 0) * s[bA[k]] * s[bB[k]];
                for (int a = 0; a < N; a++) {
                    int n = l[a] >= 0;
                    M += n * s[a];
                    Ms += n * s[a] * ((((a % Lx) + (a / Lx)) & 1) ? -1 : 1);
                }
                long double EC = p->eps_C * sC, Es = p->eps_step * st, EJ = p->J * sJ,
                            Eh = -(p->h / 16.0L) * M;
                long double H = EC + Es + EJ + Eh;
                long double W = gl * expl(-H / T);
                Wl += W;
                b.Z += W;
                b.H += W * H;
                b.H2 += W * H * H;
                b.EC += W * EC;
                b.Es += W * Es;
                b.EJ += W * EJ;
                b.Eh += W * Eh;
                b.M += W * M;
                b.M2 += W * M * M;
                b.aM += W * fabsl(M);
                b.S += W * Ms;
                b.S2 += W * Ms * Ms;
                b.aS += W * fabsl(Ms);
            }
            /* level-only observables: weight summed over the spins */
            for (int a = 0; a < N; a++)
                b.hist[l[a] + 1] += Wl;
            b.hscl += Wl * nh;
            b.lev += Wl * ls;
            b.cb += Wl * st;
        }
    }
    memset(r, 0, sizeof *r);
    r->N = N;
    r->n_level_configs = b.nlev;
    r->log_Z = (double)logl(b.Z);
    long double Hm = b.H / b.Z;
    r->energy = (double)(Hm / N);
    r->specific_heat = (double)((b.H2 / b.Z - Hm * Hm) / (N * T * T));
    r->e_C = (double)(b.EC / b.Z / N);
    r->e_step = (double)(b.Es / b.Z / N);
    r->e_J = (double)(b.EJ / b.Z / N);
    r->e_h = (double)(b.Eh / b.Z / N);
    for (int i = 0; i < 10; i++)
        r->f_level[i] = (double)(b.hist[i] / b.Z / N);
    r->hscl_fraction = (double)(b.hscl / b.Z / N);
    r->mean_level = (double)(b.lev / b.Z / N);
    r->cbosons = (double)(b.cb / b.Z / N);
    r->m = (double)(b.M / b.Z / N);
    r->m2 = (double)(b.M2 / b.Z / N / N);
    r->abs_m = (double)(b.aM / b.Z / N);
    r->ms = (double)(b.S / b.Z / N);
    r->ms2 = (double)(b.S2 / b.Z / N / N);
    r->abs_ms = (double)(b.aS / b.Z / N);
}

static void compare_results(const exact_result *a, const exact_result *b, double rel)
{
    /* Quantities that vanish by symmetry are compared with an absolute
     * tolerance on their O(1) scale. */
    const double at = 1e-14;
    CHECK(a->n_level_configs == b->n_level_configs, "%lld vs %lld",
          (long long)a->n_level_configs, (long long)b->n_level_configs);
    CHECK_REL(a->log_Z, b->log_Z, rel, at);
    CHECK_REL(a->energy, b->energy, rel, at);
    CHECK_REL(a->specific_heat, b->specific_heat, rel, at);
    CHECK_REL(a->e_C, b->e_C, rel, at);
    CHECK_REL(a->e_step, b->e_step, rel, at);
    CHECK_REL(a->e_J, b->e_J, rel, at);
    CHECK_REL(a->e_h, b->e_h, rel, at);
    for (int i = 0; i < 10; i++)
        CHECK_REL(a->f_level[i], b->f_level[i], rel, 0);
    CHECK_REL(a->hscl_fraction, b->hscl_fraction, rel, at);
    CHECK_REL(a->mean_level, b->mean_level, rel, at);
    CHECK_REL(a->cbosons, b->cbosons, rel, at);
    CHECK_REL(a->m, b->m, rel, at);
    CHECK_REL(a->m2, b->m2, rel, at);
    CHECK_REL(a->abs_m, b->abs_m, rel, at);
    CHECK_REL(a->ms, b->ms, rel, at);
    CHECK_REL(a->ms2, b->ms2, rel, at);
    CHECK_REL(a->abs_ms, b->abs_ms, rel, at);
}

/* Parameter sets: defaults, everything switched on with odd values
 * (ferro J, field, tension), and a frozen level. */
static void param_sets(exact_params ps[4], double Ts[4])
{
    exact_params_default(&ps[0]);
    Ts[0] = 1.0;
    exact_params_default(&ps[1]);
    ps[1].eps_C = 0.07; ps[1].g = 2.5; ps[1].eps_step = 0.31; ps[1].J = -0.4; ps[1].h = 1.3;
    Ts[1] = 0.7;
    exact_params_default(&ps[2]);
    ps[2].eps_step = 0.05; ps[2].J = 0.3; ps[2].h = -2.0;
    Ts[2] = 3.0;
    exact_params_default(&ps[3]);
    ps[3].freeze_levels = true; ps[3].freeze_level = 1; ps[3].J = 0.2; ps[3].h = 0.5;
    Ts[3] = 0.4;
}

static void test_brute_2x2(void)
{
    exact_params ps[4];
    double Ts[4];
    param_sets(ps, Ts);
    for (int i = 0; i < 4; i++) {
        exact_result a, b;
        CHECK(exact_model(2, 2, Ts[i], &ps[i], &a) == 0, "set %d", i);
        brute(2, 2, Ts[i], &ps[i], &b);
        compare_results(&a, &b, 1e-12);
    }
}

static void test_brute_2x4(void)
{
    exact_params ps[4];
    double Ts[4];
    param_sets(ps, Ts);
    for (int i = 0; i < 3; i++) {
        /* 2x4 and 4x2: both orientations of the doubled bonds. */
        exact_result a, b, c;
        CHECK(exact_model(2, 4, Ts[i], &ps[i], &a) == 0, "set %d", i);
        CHECK(exact_model(4, 2, Ts[i], &ps[i], &c) == 0, "set %d", i);
        brute(2, 4, Ts[i], &ps[i], &b);
        compare_results(&a, &b, 1e-12);
        compare_results(&c, &b, 1e-12);
    }
}

/* 2x2: the bonds form the 4-cycle 0-1-3-2 (each bond doubled, which does not
 * change the constraint), so the count is Tr A^4 with A = 1 + P the 10x10
 * path adjacency plus identity: 10 + 6*Tr P^2 + Tr P^4 = 10 + 6*18 + 50 = 168
 * (Tr P^2 = 2*9 edges; Tr P^4 = sum_v deg(v)^2 + #{v +- 2} = 2*2 + 2*5 + 6*6). */
static void test_rsos_counts(void)
{
    CHECK(exact_rsos_count(2, 2) == 168, "%lld", (long long)exact_rsos_count(2, 2));
    CHECK(exact_rsos_count(4, 4) == 1637288, "%lld", (long long)exact_rsos_count(4, 4));
    CHECK(exact_rsos_count(2, 4) == exact_rsos_count(4, 2), "transpose");
    exact_params p;
    exact_params_default(&p);
    exact_result r;
    CHECK(exact_model(4, 4, 1.0, &p, &r) == 0, "4x4");
    CHECK(r.n_level_configs == 1637288, "%lld", (long long)r.n_level_configs);
    CHECK(exact_rsos_count(5, 4) == -1 && exact_rsos_count(1, 4) == -1, "bad sizes");
}

/* Sum rules of the 4x4 default result. */
static void test_4x4_consistency(void)
{
    exact_params p;
    exact_params_default(&p);
    p.eps_step = 0.1;
    p.h = 0.7;
    exact_result r;
    CHECK(exact_model(4, 4, 0.8, &p, &r) == 0, "4x4");
    CHECK_REL(r.energy, r.e_C + r.e_step + r.e_J + r.e_h, 1e-13, 1e-15);
    double s = 0, ml = 0;
    for (int i = 0; i < 10; i++) {
        s += r.f_level[i];
        ml += (i - 1) * r.f_level[i];
    }
    CHECK_REL(s, 1.0, 1e-14, 0);
    CHECK_REL(ml, r.mean_level, 1e-13, 1e-15);
    CHECK_REL(1.0 - r.f_level[0], r.hscl_fraction, 1e-13, 1e-15);
    CHECK(r.specific_heat > 0, "C = %g", r.specific_heat);
    CHECK(r.m > 0, "h > 0 orients m: %g", r.m);
    CHECK(r.m2 >= r.m * r.m && r.ms2 >= r.abs_ms * r.abs_ms, "moments");
    CHECK(fabs(r.ms) < 1e-14, "translation symmetry: <m_s> = %g", r.ms);
    /* Pure cascade limit J = h = 0: spins are free, so <M^2> = <#HSCL>. */
    p.J = 0;
    p.h = 0;
    CHECK(exact_model(2, 4, 0.8, &p, &r) == 0, "2x4");
    CHECK_REL(r.m2, r.hscl_fraction / 8, 1e-13, 1e-16);
    CHECK_REL(r.ms2, r.hscl_fraction / 8, 1e-13, 1e-16);
    CHECK(r.e_J == 0 && r.e_h == 0, "no spin energy");
}

/* Extreme g and T must neither overflow nor lose the answer. */
static void test_extremes(void)
{
    exact_params p;
    exact_params_default(&p);
    exact_result r;
    /* Very low T: ground state. J > 0 needs no HSCL gain, but g^(l+1) is
     * entropy, not energy: at T -> 0 every site sits at the lowest C (l=-1). */
    CHECK(exact_model(4, 4, 0.002, &p, &r) == 0, "low T");
    CHECK(isfinite(r.log_Z) && isfinite(r.energy), "finite");
    CHECK_REL(r.f_level[0], 1.0, 1e-12, 0);
    /* Huge g: all sites at l = 8 (RSOS allows the flat top). 2x4 has the
     * same ground state (doubled x bonds: 2 J per site as well). */
    p.g = 1e300;
    CHECK(exact_model(2, 4, 0.05, &p, &r) == 0, "huge g");
    CHECK(isfinite(r.log_Z), "log Z %g", r.log_Z);
    CHECK_REL(r.f_level[9], 1.0, 1e-12, 0);
    CHECK_REL(r.n_sm, 200.0, 1e-12, 0);
    /* With all HSCLs and J > 0 at low T the spins are Neel ordered. */
    /* (a single flip costs 8J = 1, i.e. a weight e^-20 ~ 2e-9 per site) */
    CHECK_REL(r.abs_ms, 1.0, 1e-7, 0);
    CHECK_REL(r.energy, 320 * 0.125 - 2 * 0.125, 1e-7, 0);
}

/* ------------------------------------------------------------------------ */
/* Ising                                                                    */

/* Independent brute force of the periodic Ising model (N <= 16). */
static void ising_brute(int Lx, int Ly, double J, double h, double T, exact_ising_result *r)
{
    int N = Lx * Ly;
    long double Z = 0, E = 0, E2 = 0, M = 0, M2 = 0, aM = 0, S = 0, S2 = 0, aS = 0;
    for (unsigned sm = 0; sm < (1u << N); sm++) {
        long double e = 0;
        int m = 0, ms = 0;
        for (int y = 0; y < Ly; y++)
            for (int x = 0; x < Lx; x++) {
                int a = y * Lx + x;
                int s = (sm >> a) & 1 ? -1 : 1;
                int sx = (sm >> (y * Lx + (x + 1) % Lx)) & 1 ? -1 : 1;
                int sy = (sm >> (((y + 1) % Ly) * Lx + x)) & 1 ? -1 : 1;
                e += J * s * (sx + sy) - h / 16.0 * s;
                m += s;
                ms += ((x + y) & 1) ? -s : s;
            }
        long double w = expl(-e / T);
        Z += w; E += w * e; E2 += w * e * e;
        M += w * m; M2 += w * m * m; aM += w * abs(m);
        S += w * ms; S2 += w * ms * ms; aS += w * abs(ms);
    }
    r->N = N;
    r->log_Z = (double)logl(Z);
    r->energy = (double)(E / Z / N);
    r->specific_heat = (double)((E2 / Z - (E / Z) * (E / Z)) / (N * T * T));
    r->m = (double)(M / Z / N);
    r->m2 = (double)(M2 / Z / N / N);
    r->abs_m = (double)(aM / Z / N);
    r->ms = (double)(S / Z / N);
    r->ms2 = (double)(S2 / Z / N / N);
    r->abs_ms = (double)(aS / Z / N);
}

static void compare_ising(const exact_ising_result *a, const exact_ising_result *b, double rel)
{
    CHECK_REL(a->log_Z, b->log_Z, rel, 1e-14);
    CHECK_REL(a->energy, b->energy, rel, 1e-14);
    CHECK_REL(a->specific_heat, b->specific_heat, rel, 1e-14);
    CHECK_REL(a->m, b->m, rel, 1e-14);
    CHECK_REL(a->m2, b->m2, rel, 1e-14);
    CHECK_REL(a->abs_m, b->abs_m, rel, 1e-14);
    CHECK_REL(a->ms, b->ms, rel, 1e-14);
    CHECK_REL(a->ms2, b->ms2, rel, 1e-14);
    CHECK_REL(a->abs_ms, b->abs_ms, rel, 1e-14);
}

static const double ISING_SETS[][3] = {/* J, h, T */
                                       {0.125, 0.0, 0.3}, {0.125, 0.0, 1.0},  {-0.125, 0.0, 0.25},
                                       {0.125, 1.5, 0.4}, {-0.3, -0.8, 0.9}, {1.0, 20.0, 2.0}};
enum { NISING = sizeof ISING_SETS / sizeof ISING_SETS[0] };

/* Transfer matrix vs brute force, including odd sizes and both orientations. */
static void test_ising_transfer_vs_brute(void)
{
    const int sizes[][2] = {{2, 2}, {2, 3}, {3, 2}, {3, 3}, {2, 4}, {4, 2}, {3, 4}, {4, 3}, {4, 4}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int i = 0; i < NISING; i++) {
            exact_ising_result a, b;
            const double *s = ISING_SETS[i];
            CHECK(exact_ising(sizes[k][0], sizes[k][1], s[0], s[1], s[2], &a) == 0, "tm");
            ising_brute(sizes[k][0], sizes[k][1], s[0], s[1], s[2], &b);
            compare_ising(&a, &b, 1e-12);
        }
}

/* Model route with levels frozen at l0 >= 0 == Ising route + constant. */
static void test_ising_limit_model_vs_ising(void)
{
    const int sizes[][2] = {{2, 2}, {2, 4}, {4, 2}, {4, 4}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int i = 0; i < NISING; i++) {
            const double *s = ISING_SETS[i];
            int l0 = (i == 3) ? 2 : 0;
            exact_params p;
            exact_params_default(&p);
            p.J = s[0];
            p.h = s[1];
            p.freeze_levels = true;
            p.freeze_level = l0;
            exact_result m;
            exact_ising_result q;
            int Lx = sizes[k][0], Ly = sizes[k][1], N = Lx * Ly;
            CHECK(exact_model(Lx, Ly, s[2], &p, &m) == 0, "model");
            CHECK(exact_ising(Lx, Ly, s[0], s[1], s[2], &q) == 0, "ising");
            double c = p.eps_C * CB[l0 + 1];
            CHECK(m.n_level_configs == 1, "%lld", (long long)m.n_level_configs);
            CHECK_REL(m.log_Z, q.log_Z + N * (l0 + 1) * log(p.g) - N * c / s[2], 1e-12, 1e-13);
            CHECK_REL(m.energy, q.energy + c, 1e-12, 1e-14);
            CHECK_REL(m.e_J + m.e_h, q.energy, 1e-12, 1e-14);
            CHECK_REL(m.specific_heat, q.specific_heat, 1e-12, 1e-14);
            CHECK_REL(m.m, q.m, 1e-12, 1e-14);
            CHECK_REL(m.m2, q.m2, 1e-12, 1e-14);
            CHECK_REL(m.abs_m, q.abs_m, 1e-12, 1e-14);
            CHECK_REL(m.ms2, q.ms2, 1e-12, 1e-14);
            CHECK_REL(m.abs_ms, q.abs_ms, 1e-12, 1e-14);
            CHECK_REL(m.f_level[l0 + 1], 1.0, 1e-15, 0);
        }
    /* Frozen at l = -1: no HSCL, spins free: Z = 2^N, nothing magnetic. */
    exact_params p;
    exact_params_default(&p);
    p.freeze_levels = true;
    p.freeze_level = -1;
    p.h = 3.0;
    exact_result m;
    CHECK(exact_model(4, 4, 0.5, &p, &m) == 0, "l=-1");
    CHECK_REL(m.log_Z, 16 * log(2.0), 1e-14, 0);
    CHECK(m.energy == 0 && m.m2 == 0 && m.abs_ms == 0 && m.specific_heat == 0, "inert");
}

/* Sizes beyond brute force: the transfer matrix must be symmetric under
 * exchanging x and y (a non-trivial check: rows of 4 vs rows of 6). */
static void test_ising_transpose(void)
{
    const int sizes[][2] = {{4, 6}, {3, 5}, {2, 6}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int i = 0; i < NISING; i++) {
            const double *s = ISING_SETS[i];
            exact_ising_result a, b;
            CHECK(exact_ising(sizes[k][0], sizes[k][1], s[0], s[1], s[2], &a) == 0, "a");
            CHECK(exact_ising(sizes[k][1], sizes[k][0], s[0], s[1], s[2], &b) == 0, "b");
            compare_ising(&a, &b, 1e-11);
        }
    /* h = 0 on an even lattice: flipping a sublattice maps J -> -J, m <-> m_s. */
    exact_ising_result a, b;
    CHECK(exact_ising(6, 6, 0.125, 0.0, 0.3, &a) == 0, "a");
    CHECK(exact_ising(6, 6, -0.125, 0.0, 0.3, &b) == 0, "b");
    CHECK_REL(a.energy, b.energy, 1e-12, 1e-15);
    CHECK_REL(a.specific_heat, b.specific_heat, 1e-12, 1e-15);
    CHECK_REL(a.ms2, b.m2, 1e-12, 1e-15);
    CHECK_REL(a.abs_ms, b.abs_m, 1e-12, 1e-15);
    CHECK_REL(a.m2, b.ms2, 1e-12, 1e-15);
}

/* 2x2 by hand: the energy is 2J(s0 s1 + s1 s3 + s3 s2 + s2 s0) (doubled
 * bonds); of 16 states 2 are ferro (E = 8J), 2 Neel (E = -8J), 12 have E = 0. */
static void test_ising_2x2_by_hand(void)
{
    double J = 0.125, T = 0.37, b = 8 * J / T;
    double Z = 2 * exp(-b) + 2 * exp(b) + 12;
    double E = (2 * 8 * J * exp(-b) - 2 * 8 * J * exp(b)) / Z;
    double E2 = (2 * 64 * J * J * exp(-b) + 2 * 64 * J * J * exp(b)) / Z;
    exact_ising_result r;
    CHECK(exact_ising(2, 2, J, 0.0, T, &r) == 0, "2x2");
    CHECK_REL(r.log_Z, log(Z), 1e-14, 0);
    CHECK_REL(r.energy, E / 4, 1e-14, 0);
    CHECK_REL(r.specific_heat, (E2 - E * E) / (4 * T * T), 1e-12, 0);
    /* |m_s| = 1 in the two Neel states, 1/2 in the 8 one-flip states. */
    CHECK_REL(r.abs_ms, (2 * exp(b) + 8 * 0.5) / Z, 1e-14, 0);
}

/* 6x6 and 8x8 near T -> 0 are ordered; at high T they approach Onsager. */
static void test_ising_large(void)
{
    exact_ising_result r;
    CHECK(exact_ising(6, 6, 0.125, 0.0, 0.02, &r) == 0, "6x6 low T");
    CHECK_REL(r.energy, -0.25, 1e-9, 0);
    CHECK_REL(r.abs_ms, 1.0, 1e-9, 0);
    /* Above Tc the finite-size error (loops winding the torus, ~ tanh(K)^L)
     * shrinks fast with L towards Onsager's value. */
    double T = 2 * exact_ising_Tc(0.125), u = exact_onsager_energy(0.125, T), d[3];
    for (int L = 3; L <= 7; L += 2) {
        CHECK(exact_ising(L, L + 1, 0.125, 0.0, T, &r) == 0, "high T");
        d[(L - 3) / 2] = fabs(r.energy - u);
    }
    CHECK(d[2] < d[1] && d[1] < d[0] && d[2] < 1e-3 * fabs(u), "%g %g %g", d[0], d[1], d[2]);
    CHECK(exact_ising(11, 4, 0.125, 0.0, 1.0, &r) == EXACT_ERANGE, "too wide");
}

/* ------------------------------------------------------------------------ */
/* Infinite lattice                                                         */

static void test_onsager_known_values(void)
{
    for (int sgn = -1; sgn <= 1; sgn += 2) {
        double J = 0.125 * sgn, aJ = 0.125;
        double Tc = exact_ising_Tc(J);
        CHECK_REL(Tc, 2 * aJ / log(1 + sqrt(2.0)), 1e-15, 0);
        CHECK_REL(Tc, 0.28364816427662776, 1e-14, 0); /* 2.269185314... |J| */
        CHECK_REL(exact_onsager_energy(J, Tc), -sqrt(2.0) * aJ, 1e-14, 0);
        /* T -> 0: ground state -2|J| per site (antiferro J > 0: Neel state,
         * each of the 2 bonds per site contributes -J). */
        CHECK_REL(exact_onsager_energy(J, 0.01 * aJ), -2 * aJ, 1e-14, 0);
        CHECK_REL(exact_onsager_energy(J, 0.2 * aJ), -2 * aJ, 1e-9, 0);
        /* continuity across Tc (the energy is continuous, eps ln eps) */
        CHECK_REL(exact_onsager_energy(J, Tc * (1 + 1e-9)), -sqrt(2.0) * aJ, 1e-7, 0);
        CHECK_REL(exact_onsager_energy(J, Tc * (1 - 1e-9)), -sqrt(2.0) * aJ, 1e-7, 0);
        /* log divergence: c ~ -(8/pi) K_c^2 ln|1 - T/Tc| */
        CHECK(exact_onsager_specific_heat(J, Tc) > 10, "C(Tc) = %g", exact_onsager_specific_heat(J, Tc));
        double Kc = log(1 + sqrt(2.0)) / 2, c1 = exact_onsager_specific_heat(J, Tc * (1 + 1e-8)),
               c2 = exact_onsager_specific_heat(J, Tc * (1 + 1e-10));
        CHECK_REL(c2 - c1, (8 / M_PI) * Kc * Kc * log(100.0), 1e-4, 0);
        /* free energy at T -> 0 and T -> infinity */
        CHECK_REL(exact_onsager_free_energy(J, 0.01 * aJ), -2 * aJ, 1e-12, 0);
        CHECK_REL(exact_onsager_free_energy(J, 1e6 * aJ) / (1e6 * aJ), -log(2.0), 1e-9, 0);
    }
    /* -f/T at Tc is known in closed form: ln 2 / 2 + 2G/pi, G Catalan's constant. */
    double G = 0.915965594177219015054603514932;
    double Tc = exact_ising_Tc(1.0);
    CHECK_REL(-exact_onsager_free_energy(1.0, Tc) / Tc, 0.5 * log(2.0) + 2 * G / M_PI, 1e-13, 0);
}

/* u = d(beta f)/d(beta) and c = du/dT, by central differences of the
 * independent quadrature / closed forms, away from Tc. */
static void test_onsager_thermodynamics(void)
{
    const double J = 0.125, Ts[] = {0.1, 0.2, 0.25, 0.32, 0.4, 1.0, 3.0};
    for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
        /* five-point stencils, error O(d^4) */
        double T = Ts[i], b = 1 / T, db = 3e-4 * b, bf[5], uu[5], dT = 3e-4 * T;
        for (int k = -2; k <= 2; k++) {
            double bk = b + k * db;
            bf[k + 2] = exact_onsager_free_energy(J, 1 / bk) * bk;
            uu[k + 2] = exact_onsager_energy(J, T + k * dT);
        }
        double u_num = (bf[0] - 8 * bf[1] + 8 * bf[3] - bf[4]) / (12 * db);
        double c_num = (uu[0] - 8 * uu[1] + 8 * uu[3] - uu[4]) / (12 * dT);
        CHECK_REL(exact_onsager_energy(J, T), u_num, 1e-10, 1e-13);
        CHECK_REL(exact_onsager_specific_heat(J, T), c_num, 1e-8, 1e-10);
    }
}

/* High-temperature series: ln Z / N = ln 2 + 2 ln cosh K + v^4 + 2 v^6 + 9/2 v^8
 * + O(v^10), v = tanh K, so u = -|J| [2 v + (4 v^3 + 12 v^5 + 36 v^7)(1 - v^2)]
 * + O(v^9). */
static void test_onsager_high_T(void)
{
    const double J = 0.125, Ks[] = {0.02, 0.05, 0.1};
    for (size_t i = 0; i < sizeof Ks / sizeof Ks[0]; i++) {
        double K = Ks[i], v = tanh(K), T = J / K;
        double u = -J * (2 * v + (4 * pow(v, 3) + 12 * pow(v, 5) + 36 * pow(v, 7)) * (1 - v * v));
        CHECK_REL(exact_onsager_energy(J, T), u, 200 * pow(v, 8), 0);
        CHECK_REL(exact_onsager_energy(-J, T), u, 200 * pow(v, 8), 0);
    }
}

static void test_yang(void)
{
    const double J = 0.125;
    double Tc = exact_ising_Tc(J);
    CHECK(exact_yang_magnetisation(J, Tc * 1.0001) == 0.0, "above Tc");
    CHECK(exact_yang_magnetisation(J, 2 * Tc) == 0.0, "above Tc");
    CHECK(exact_yang_magnetisation(J, Tc * 0.999999) < 0.25, "vanishes at Tc");
    CHECK_REL(exact_yang_magnetisation(J, 0.01 * J), 1.0, 1e-15, 0);
    /* |J|/T = 1: sinh 2 = 3.6268604078470188, (1 - sinh^-4 2)^(1/8) */
    CHECK_REL(exact_yang_magnetisation(1.0, 1.0), 0.9992757519570612, 1e-14, 0);
    CHECK_REL(exact_yang_magnetisation(-1.0, 1.0), 0.9992757519570612, 1e-14, 0);
    /* T = 2 |J| (K = 1/2): (1 - sinh^-4 1)^(1/8) = 0.91132... */
    double s = sinh(1.0);
    CHECK_REL(exact_yang_magnetisation(J, 2 * J), pow(1 - pow(s, -4), 0.125), 1e-14, 0);
    CHECK_REL(exact_yang_magnetisation(J, 2 * J), 0.911319377877496, 1e-12, 0);
    /* near Tc: sinh^-4(2K) ~ 1 - 8 sqrt2 K_c t, so m ~ (8 sqrt2 K_c t)^(1/8), t = 1 - T/Tc */
    double t = 1e-6, Kc = log(1 + sqrt(2.0)) / 2;
    CHECK_REL(exact_yang_magnetisation(J, Tc * (1 - t)), pow(8 * sqrt(2.0) * Kc * t, 0.125), 1e-5, 0);
}

int main(void)
{
    RUN(test_rsos_counts);
    RUN(test_brute_2x2);
    RUN(test_brute_2x4);
    RUN(test_4x4_consistency);
    RUN(test_extremes);
    RUN(test_ising_2x2_by_hand);
    RUN(test_ising_transfer_vs_brute);
    RUN(test_ising_limit_model_vs_ising);
    RUN(test_ising_transpose);
    RUN(test_ising_large);
    RUN(test_onsager_known_values);
    RUN(test_onsager_thermodynamics);
    RUN(test_onsager_high_T);
    RUN(test_yang);
    return CHECK_REPORT();
}
