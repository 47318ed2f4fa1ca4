/* The crossing search of analysis/crossing.h on synthetic quantities whose
 * crossing is known: n_SM-like q = exp(k (T - T0)) with multiplicative seed
 * noise, and a probability-like q = 1/2 + (T - T0)/w clipped to [0, 1]. The
 * search must bracket from far away, refine, place enough points for the
 * fit, and give the crossing within a few of its own (jackknife) errors; a
 * quantity that never reaches the target must fail cleanly. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include "analysis/crossing.h"
#include "check.h"

enum { NSEEDS = 8 };

/* A deterministic normal deviate per (point, seed, salt). */
static double noise(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = a * 0x9e3779b97f4a7c15ull ^ (b + 1) * 0xbf58476d1ce4e5b9ull ^ (c + 7) * 0x94d049bb133111ebull;
    double u[2];
    for (int k = 0; k < 2; k++) {
        x ^= x >> 31;
        x *= 0xd6e8feb86659fd93ull;
        x ^= x >> 32;
        u[k] = ((double)(x >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

typedef double (*model_fn)(double T, double eps);

static double exp_model(double T, double eps) { return exp(9.0 * (T - 5.0)) * (1.0 + 0.03 * eps); }
static double lin_model(double T, double eps)
{
    const double q = 0.5 + (T - 8.0) / 2.0 + 0.02 * eps;
    return q < 0 ? 0 : q > 1 ? 1 : q;
}
static double flat_model(double T, double eps) { (void)T, (void)eps; return 0.1; }

/* Runs the search as transition.c does; returns the number of evaluations. */
static int search(xr_points *p, const xr_target *t, const xr_search *s, model_fn f, int *fail)
{
    int evals = 0;
    double Ts[2];
    sm_error err;
    while (evals < s->max_evals) {
        const int n = xr_next(p, t, s, Ts, fail);
        if (n == 0) break;
        for (int j = 0; j < n; j++) {
            double v[XQ_N][NSEEDS];
            for (int sd = 0; sd < NSEEDS; sd++) {
                v[XQ_NSM][sd] = v[XQ_SPAN][sd] = f(Ts[j], noise((uint64_t)p->n, (uint64_t)sd, (uint64_t)t->qty));
                v[XQ_LEVEL][sd] = v[XQ_TAU][sd] = 0;
            }
            const double *vals[XQ_N] = {v[0], v[1], v[2], v[3]};
            CHECK(xr_points_add(p, Ts[j], vals, &err) >= 0, "add");
        }
        evals += n;
    }
    return evals;
}

static void test_exponential_from_far(void)
{
    xr_points p;
    sm_error err;
    CHECK(xr_points_init(&p, NSEEDS, &err) == 0, "init");
    const xr_target tg = {"T_g", XQ_NSM, 1.0, 1, 0.4}, tm = {"T_m", XQ_NSM, 5.0, 1, 0.4};
    const xr_search s = {.tol = 0.01, .guess = 5.77, .step = 0.29, .T_min = 0.06, .T_max = 115, .max_evals = 16};
    int fail;
    const int n = search(&p, &tg, &s, exp_model, &fail);
    CHECK(!fail && n <= 16, "T_g located in %d evaluations", n);
    xr_estimate e;
    double jk[NSEEDS];
    CHECK(xr_locate(&p, &tg, &s, &e, jk) == 0, "estimate");
    CHECK(fabs(e.value - 5.0) < 4 * e.error + 1e-4, "T_g = %g +- %g (exact 5)", e.value, e.error);
    CHECK(e.error > 0 && e.error < 0.01, "error %g", e.error);
    CHECK(e.npoints >= XR_MIN_FIT && e.hi - e.lo <= 0.05, "%d points, bracket %g", e.npoints, e.hi - e.lo);
    /* the second target reuses the points and needs fewer new ones */
    const int before = p.n;
    search(&p, &tm, &s, exp_model, &fail);
    CHECK(!fail && p.n - before < n, "T_m: %d new points", p.n - before);
    CHECK(xr_locate(&p, &tm, &s, &e, NULL) == 0, "estimate T_m");
    const double exact = 5.0 + log(5.0) / 9.0;
    CHECK(fabs(e.value - exact) < 4 * e.error + 1e-4, "T_m = %g +- %g (exact %g)", e.value, e.error, exact);
    xr_points_free(&p);
}

static void test_probability(void)
{
    xr_points p;
    sm_error err;
    xr_points_init(&p, NSEEDS, &err);
    const xr_target t = {"T_p", XQ_SPAN, 0.5, 0, 0.2};
    const xr_search s = {.tol = 0.01, .guess = 5.0, .step = 0.25, .T_min = 0.05, .T_max = 100, .max_evals = 16};
    int fail;
    search(&p, &t, &s, lin_model, &fail);
    xr_estimate e;
    CHECK(!fail && xr_locate(&p, &t, &s, &e, NULL) == 0, "located");
    CHECK(fabs(e.value - 8.0) < 4 * e.error + 1e-4, "T_p = %g +- %g (exact 8)", e.value, e.error);
    xr_points_free(&p);
}

static void test_never_reached(void)
{
    xr_points p;
    sm_error err;
    xr_points_init(&p, NSEEDS, &err);
    const xr_target t = {"T_g", XQ_NSM, 1.0, 1, 0.4};
    const xr_search s = {.tol = 0.01, .guess = 5.0, .step = 0.25, .T_min = 0.05, .T_max = 100, .max_evals = 40};
    int fail = 0;
    search(&p, &t, &s, flat_model, &fail);
    xr_estimate e;
    CHECK(fail, "a flat quantity below the target cannot be bracketed");
    CHECK(xr_locate(&p, &t, &s, &e, NULL) != 0 && isnan(e.value), "no estimate");
    xr_points_free(&p);
}

static void test_jackknife_error(void)
{
    const double jk[4] = {1.0, 2.0, 3.0, 4.0};
    /* sqrt((n - 1)/n sum (x - mean)^2) = sqrt(3/4 * 5) */
    CHECK_CLOSE(xr_jackknife_error(jk, 4), sqrt(3.75), 1e-12);
    CHECK(isnan(xr_jackknife_error(jk, 1)), "one seed has no error");
}

int main(void)
{
    RUN(test_exponential_from_far);
    RUN(test_probability);
    RUN(test_never_reached);
    RUN(test_jackknife_error);
    return CHECK_REPORT();
}
