/* Exact results for the validation suite (docs/validation.md).
 *
 * This module is deliberately self-contained: it re-derives the weight
 * W = prod_a g^(l_a+1) exp(-H/T) and the Hamiltonian of docs/model.md section 4
 * from the specification, and uses none of the simulator's src/ code, so that
 * agreement between the two is an independent check of the simulator.
 *
 * Two families of results:
 *  1. exact_model: exact equilibrium averages of the full model (levels and
 *     MIEV spins) on small periodic lattices (N = Lx*Ly <= 16), by exact
 *     enumeration. The level field is enumerated with RSOS pruning and, per
 *     HSCL mask n (n_a = [l_a >= 0]), the spins are summed over the HSCL sites
 *     only (a plain HSM's spin doubles its weight and nothing else).
 *  2. Square-lattice Ising results for the frozen-level limit:
 *     exact_ising (finite Lx x Ly periodic, row transfer matrix) and the
 *     infinite lattice (Onsager's energy and specific heat, Yang's
 *     spontaneous staggered magnetisation).
 *
 * Conventions follow docs/model.md: H_Ising = J sum_<ab> s_a s_b - (h/16) sum_a s_a,
 * J > 0 antiferromagnetic, so the usual Ising coupling is K = -J/T per bond;
 * bonds are each site's +x and +y bond, and a periodic direction of length 2
 * therefore has doubled bonds. The staggered sign of site (x, y) is
 * (-1)^(x+y). */
#ifndef SM_EXACT_H
#define SM_EXACT_H

#include <stdbool.h>
#include <stdint.h>

enum {
    EXACT_NLEVELS = 10,     /* l = -1..8, arrays indexed l + 1 */
    EXACT_LEVEL_MIN = -1,
    EXACT_LEVEL_MAX = 8,
    EXACT_MAX_SITES = 16,   /* exact_model: 2^N masks, sum_n 2^|n| = 3^N spin states */
    EXACT_ISING_MAX_LX = 10 /* exact_ising: 2^Lx row states */
};

/* Error codes returned by the functions below (0 = success). */
enum { EXACT_OK = 0, EXACT_EINVAL = 1, EXACT_ENOMEM = 2, EXACT_ERANGE = 3 };
const char *exact_strerror(int code);

/* Parameters of the weight, docs/model.md section 4. h is the model's h: the
 * field on each HSCL spin is h/16. */
typedef struct {
    double eps_C;      /* C-boson energy, default 1/8 */
    double g;          /* closed-loop degeneracy, default 4 */
    double eps_step;   /* contour tension per IE arrow, default 0 */
    double J;          /* MIEV coupling, default 1/8 (J > 0 antiparallel) */
    double h;          /* z-field, default 0 */
    bool freeze_levels;/* if true only l = freeze_level everywhere is summed */
    int freeze_level;  /* -1..8 */
} exact_params;

void exact_params_default(exact_params *p);

/* Exact averages of the docs/model.md section 9 observables. Every "per site" value is
 * divided by N = Lx*Ly; m = sum_a n_a s_a / N, m_s = sum_a n_a s_a (-1)^(x+y) / N. */
typedef struct {
    int Lx, Ly, N;
    double T;
    int64_t n_level_configs;       /* RSOS level configurations summed over */
    double log_Z;                  /* ln of Z = sum over (l, s) of W */
    double energy;                 /* <H>/N */
    double specific_heat;          /* (<H^2> - <H>^2) / (N T^2) */
    double e_C, e_step, e_J, e_h;  /* <E_part>/N, summing to energy */
    double f_level[EXACT_NLEVELS]; /* <fraction of sites at level l>, index l+1 */
    double hscl_fraction;          /* <fraction of sites with l >= 0> */
    double mean_level;             /* <sum_a l_a / N>, plain HSMs count as -1 */
    double cbosons;                /* <sum_<ab> |l_a - l_b|> / N (IE arrows per site) */
    double n_sm;                   /* soft-matrix density 200 f_8 */
    double m, m2, abs_m;           /* <m>, <m^2>, <|m|> */
    double ms, ms2, abs_ms;        /* <m_s>, <m_s^2>, <|m_s|> */
} exact_result;

/* Exact averages on the periodic Lx x Ly lattice (Lx, Ly >= 2, N <= 16) at
 * temperature T > 0. Work ~ (#RSOS configs) + 3^N; 4x4 takes about a second.
 * Any g > 0 and T > 0 are safe: every sum is kept with per-mask reference
 * weights in long double and combined by log-sum-exp. Deterministic for any
 * number of OpenMP threads. */
int exact_model(int Lx, int Ly, double T, const exact_params *p, exact_result *r);

/* Number of RSOS level configurations (l in -1..8, |l_a - l_b| <= 1 on every
 * bond) on the periodic Lx x Ly lattice (N <= 16); -1 on bad arguments.
 * 2x2: 168, 4x4: 1,637,288. */
int64_t exact_rsos_count(int Lx, int Ly);

/* Finite periodic Lx x Ly Ising model H = J sum_<ab> s_a s_b - (h/16) sum_a s_a
 * (all sites carry a spin; this is the model with levels frozen at l >= 0,
 * minus the constant eps_C C(l) per site). Exact by a site-by-site row
 * transfer matrix (2 <= Lx <= 10, Ly >= 2), tracking the distribution of M and
 * of M_s, and the first two energy moments. Cost ~ 4^Lx Lx Ly N; 8x8 takes a
 * few seconds, 6x6 milliseconds. */
typedef struct {
    int Lx, Ly, N;
    double T, J, h;
    double log_Z;          /* ln sum_s exp(-H/T) */
    double energy;         /* <H>/N */
    double specific_heat;  /* (<H^2> - <H>^2) / (N T^2) */
    double m, m2, abs_m;
    double ms, ms2, abs_ms;
} exact_ising_result;

int exact_ising(int Lx, int Ly, double J, double h, double T, exact_ising_result *r);

/* Infinite square lattice, h = 0. Depends on |J| only (ferro and antiferro
 * are mapped onto each other by flipping one sublattice). */
double exact_ising_Tc(double J);                    /* 2|J| / ln(1 + sqrt 2) */
double exact_onsager_energy(double J, double T);    /* u(T) per site; u(Tc) = -sqrt2 |J|, u(0) = -2|J| */
double exact_onsager_specific_heat(double J, double T); /* du/dT per site (+inf at Tc) */
double exact_onsager_free_energy(double J, double T);   /* f(T) per site, by quadrature */
/* Yang: spontaneous (staggered, for J > 0) magnetisation
 * (1 - sinh^-4(2|J|/T))^(1/8) below Tc, 0 above. */
double exact_yang_magnetisation(double J, double T);

#endif
