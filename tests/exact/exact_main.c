/* exact: command-line front end of tests/exact/exact.c. Prints one JSON
 * object of exact equilibrium averages so that scripts (and the lead's
 * validation) can compare Monte Carlo runs against them.
 *
 *   exact --Lx 4 --Ly 4 --T 1.0 [--eps_C .125] [--g 4] [--eps_step 0]
 *         [--J .125] [--h 0] [--freeze-level L]        full model, N <= 16
 *   exact --ising --Lx 6 --Ly 6 --T 0.5 [--J .125] [--h 0]   finite Ising
 *   exact --onsager --T 0.2 [--J .125]                 infinite lattice, h = 0
 *
 * Exit status: 0 ok, 1 computation failed, 2 usage error. */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include "exact.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: exact --Lx X --Ly Y --T T [--eps_C E] [--g G] [--eps_step S]\n"
            "             [--J J] [--h H] [--freeze-level L] [--time]\n"
            "       exact --ising --Lx X --Ly Y --T T [--J J] [--h H] [--time]\n"
            "       exact --onsager --T T [--J J]\n"
            "Exact averages under W = prod g^(l+1) exp(-H/T) (docs/model.md section 4) on the periodic\n"
            "X x Y lattice (X*Y <= 16), the finite Ising model (frozen levels, without the\n"
            "constant eps_C C(l) per site; X <= 10) or the infinite Ising lattice\n"
            "(Onsager/Yang). Defaults: eps_C 0.125, g 4, eps_step 0, J 0.125, h 0.\n"
            "Output: one JSON object on stdout, numbers as %%.17g. --time prints the\n"
            "wall time to stderr.\n");
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < -1000000 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

/* JSON has no inf/nan: print null for them. */
static void num(const char *key, double v, int last)
{
    if (v == 0)
        v = 0.0; /* print -0 as 0 */
    if (isfinite(v))
        printf("  \"%s\": %.17g%s\n", key, v, last ? "" : ",");
    else
        printf("  \"%s\": null%s\n", key, last ? "" : ",");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv)
{
    exact_params p;
    exact_params_default(&p);
    int Lx = 0, Ly = 0, onsager = 0, ising = 0, timing = 0;
    double T = NAN;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0, used = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--onsager")) {
            onsager = 1;
            used = 0;
        } else if (!strcmp(a, "--ising")) {
            ising = 1;
            used = 0;
        } else if (!strcmp(a, "--time")) {
            timing = 1;
            used = 0;
        } else if (!v) {
            bad = 1;
        } else if (!strcmp(a, "--Lx")) {
            bad = parse_int(v, &Lx);
        } else if (!strcmp(a, "--Ly")) {
            bad = parse_int(v, &Ly);
        } else if (!strcmp(a, "--T")) {
            bad = parse_double(v, &T);
        } else if (!strcmp(a, "--eps_C") || !strcmp(a, "--eps-C")) {
            bad = parse_double(v, &p.eps_C);
        } else if (!strcmp(a, "--g")) {
            bad = parse_double(v, &p.g);
        } else if (!strcmp(a, "--eps_step") || !strcmp(a, "--eps-step")) {
            bad = parse_double(v, &p.eps_step);
        } else if (!strcmp(a, "--J")) {
            bad = parse_double(v, &p.J);
        } else if (!strcmp(a, "--h")) {
            bad = parse_double(v, &p.h);
        } else if (!strcmp(a, "--freeze-level") || !strcmp(a, "--freeze_level")) {
            bad = parse_int(v, &p.freeze_level);
            p.freeze_levels = 1;
        } else {
            fprintf(stderr, "exact: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "exact: option '%s' needs a valid value\n", a);
            return 2;
        }
        i += used;
    }
    if (!(T > 0)) {
        fprintf(stderr, "exact: --T > 0 is required\n");
        return 2;
    }
    double t0 = now();

    if (onsager) {
        printf("{\n");
        printf("  \"mode\": \"onsager\",\n");
        num("J", p.J, 0);
        num("T", T, 0);
        num("Tc", exact_ising_Tc(p.J), 0);
        num("energy", exact_onsager_energy(p.J, T), 0);
        num("specific_heat", exact_onsager_specific_heat(p.J, T), 0);
        num("free_energy", exact_onsager_free_energy(p.J, T), 0);
        /* spontaneous |m| (J < 0) or |m_s| (J > 0): Yang */
        num("spontaneous_magnetisation", exact_yang_magnetisation(p.J, T), 1);
        printf("}\n");
        return 0;
    }
    if (Lx < 2 || Ly < 2) {
        fprintf(stderr, "exact: --Lx and --Ly >= 2 are required\n");
        return 2;
    }
    if (ising) {
        exact_ising_result r;
        int rc = exact_ising(Lx, Ly, p.J, p.h, T, &r);
        if (rc) {
            fprintf(stderr, "exact: %s (Lx <= %d)\n", exact_strerror(rc), EXACT_ISING_MAX_LX);
            return rc == EXACT_EINVAL ? 2 : 1;
        }
        printf("{\n");
        printf("  \"mode\": \"ising\",\n");
        printf("  \"Lx\": %d,\n  \"Ly\": %d,\n  \"N\": %d,\n", r.Lx, r.Ly, r.N);
        num("T", r.T, 0);
        num("J", r.J, 0);
        num("h", r.h, 0);
        num("log_Z", r.log_Z, 0);
        num("energy", r.energy, 0);
        num("specific_heat", r.specific_heat, 0);
        num("m", r.m, 0);
        num("m2", r.m2, 0);
        num("abs_m", r.abs_m, 0);
        num("ms", r.ms, 0);
        num("ms2", r.ms2, 0);
        num("abs_ms", r.abs_ms, 1);
        printf("}\n");
        if (timing)
            fprintf(stderr, "exact: %.3f s\n", now() - t0);
        return 0;
    }

    exact_result r;
    int rc = exact_model(Lx, Ly, T, &p, &r);
    if (rc) {
        fprintf(stderr, "exact: %s (need Lx, Ly >= 2, Lx*Ly <= %d, g > 0, level in -1..8)\n",
                exact_strerror(rc), EXACT_MAX_SITES);
        return rc == EXACT_EINVAL ? 2 : 1;
    }
    printf("{\n");
    printf("  \"mode\": \"model\",\n");
    printf("  \"Lx\": %d,\n  \"Ly\": %d,\n  \"N\": %d,\n", r.Lx, r.Ly, r.N);
    num("T", r.T, 0);
    num("eps_C", p.eps_C, 0);
    num("g", p.g, 0);
    num("eps_step", p.eps_step, 0);
    num("J", p.J, 0);
    num("h", p.h, 0);
    if (p.freeze_levels)
        printf("  \"freeze_level\": %d,\n", p.freeze_level);
    else
        printf("  \"freeze_level\": null,\n");
    printf("  \"n_level_configs\": %lld,\n", (long long)r.n_level_configs);
    num("log_Z", r.log_Z, 0);
    num("energy", r.energy, 0);
    num("specific_heat", r.specific_heat, 0);
    num("energy_C", r.e_C, 0);
    num("energy_step", r.e_step, 0);
    num("energy_J", r.e_J, 0);
    num("energy_h", r.e_h, 0);
    printf("  \"level_histogram\": [");
    for (int i = 0; i < EXACT_NLEVELS; i++)
        printf("%.17g%s", r.f_level[i], i + 1 < EXACT_NLEVELS ? ", " : "],\n");
    num("hscl_fraction", r.hscl_fraction, 0);
    num("mean_level", r.mean_level, 0);
    num("cbosons", r.cbosons, 0);
    num("n_soft_matrix", r.n_sm, 0);
    num("m", r.m, 0);
    num("m2", r.m2, 0);
    num("abs_m", r.abs_m, 0);
    num("ms", r.ms, 0);
    num("ms2", r.ms2, 0);
    num("abs_ms", r.abs_ms, 1);
    printf("}\n");
    if (timing)
        fprintf(stderr, "exact: %.3f s\n", now() - t0);
    return 0;
}
