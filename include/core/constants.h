/* The constants of docs/model.md section 13, derived from first principles and
 * listed next to the values the paper prints (`softmatrix constants`).
 *
 * Everything starts from the Lennard-Jones form f(chi) = -4 chi (1 - chi),
 * chi = (sigma/q)^6, and a handful of experimental temperatures quoted by the
 * paper. Nothing is read from files at run time: data/materials.json carries
 * the same material presets for users and Python, and the unit test checks
 * that both agree with docs/model.md. */
#ifndef SM_CONSTANTS_H
#define SM_CONSTANTS_H

#include <stddef.h>
#include <stdio.h>
#include "core/model.h"

/* Lennard-Jones form in chi = (sigma/q)^6: f = -4 chi (1 - chi), well bottom
 * f(1/2) = -1, and its slope df/dchi. */
double lj_f(double chi);
double lj_fprime(double chi);

/* docs/model.md section 14: the local temperature T_k^(i) at which a site at
 * level i, k of whose four neighbours are at level i + 1 and the rest at i,
 * has even odds of i + 1 against i:
 *   T_k^(i) = [eps_C (C(i+1) - C(i)) + (4 - 2k) eps_step] / ln g.
 * J and h do not enter (the site is an HSCL at both levels). i = -1..7,
 * k = 0..4; NaN when g <= 1 or the odds never reach 1 (T <= 0). The model's
 * ordering temperatures are T_g° = T_0^(7) and T_m° = T_4^(7). */
double constants_local_T(const model_params *p, int i, int k);

/* Named derived constants, for code that needs one of them (cage geometry,
 * soft-matrix step). Lengths in sigma, angles in degrees, energies in eps0,
 * temperatures in K. */
typedef struct {
    double chi_R, chi_L, chi_0;   /* f'(chi) = -1, +1, 0: 3/8, 5/8, 1/2 */
    double f_edge;                /* f(chi_R) = f(chi_L) = -15/16 */
    double q_R, q_L, q_0;         /* (8/3)^(1/6), (8/5)^(1/6), 2^(1/6) */
    double sigma_ratio;           /* sigma_{i+1}/sigma_i = (5/3)^(1/6) */
    double d_L;                   /* d_L* = q_R (sigma_ratio - 1) */
    double delta_d;               /* q_R - q_0; the cage edge is 2 delta_d */
    double delta_omega_deg;       /* 2 asin(d_L* / 2) */
    int angle_lines;              /* angle lines per 90 deg quarter: 16 */
    double trap_deg;              /* 90 - 15 delta_omega */
    double jump_step;             /* sqrt(2) 2 delta_d / 15 */
    double magic_angle_deg;       /* 60 x trap */
    double kTg, kTm, Tg_over_Tm;  /* flexible chains: 20/3, 32/3, 5/8 */
    double N_c;                   /* HSMs per soft matrix region: 200 */
    double n_z;                   /* N_c^(-Tg/Tm) */
    double viscosity_exponent;    /* 9 (1 - Tg/Tm) */
    double N_z_star;              /* N_c^(1 - Tg/Tm) = N_c n_z */
    double E_jump;                /* N_z* eps0 */
    double kT_JG;                 /* E_jump + 1 */
    double cboson;                /* C-boson energy, 1/8 */
} sm_constants;

void constants_derive(sm_constants *c);

/* One material preset: the inputs the paper quotes (K). NaN where the paper
 * gives none. eps0 is NaN when it is derived, (T_m - T_g)/4. */
typedef struct {
    const char *name;
    double T_K, T_g, T_m, eps0;
    const char *source;
} material_preset;

/* The presets compiled in (As2S3, polyethylene, polypropylene, PET, a generic
 * WLF polymer). Returns their number; *out points at a static const array. */
size_t material_presets(const material_preset **out);
const material_preset *material_find(const char *name);

/* Where a row's value comes from. DERIVED: computed from the
 * Lennard-Jones form (the cage geometry and its angles). PAPER: a number the
 * paper takes as given (k_B T_g = 20/3 for flexible chains, T_m = T_g + 4,
 * N_c = 200, the materials' temperatures) or what follows from such numbers
 * alone; these are inputs, never results of the model, and are printed as
 * such. */
typedef enum { CONST_DERIVED = 0, CONST_PAPER = 1 } constant_source;

/* One row of the comparison table. paper is NaN when the paper prints no
 * number; paper_text is the value as printed ("" when none), e.g. a range
 * "1.14~1.17" whose midpoint is stored in paper. */
typedef struct {
    const char *name;    /* stable identifier, e.g. "q_R", "As2S3.Omega_z" */
    const char *symbol;  /* ASCII rendering of the symbol */
    double value;        /* computed */
    const char *unit;
    double paper;
    const char *paper_text;
    const char *formula;
    constant_source source;
} constant_entry;

/* Upper bound on the number of rows; constants_table never fills more. */
enum { CONSTANTS_MAX = 64 };

/* Fills out[0 .. min(cap, n) - 1] and returns n, the number of rows (like
 * snprintf, so constants_table(NULL, 0) asks for the count). */
size_t constants_table(constant_entry *out, size_t cap);
/* The row with that name in tab[0 .. n-1], or NULL. */
const constant_entry *constants_find(const constant_entry *tab, size_t n, const char *name);

/* Differences computed - paper (absolute) and (computed - paper)/|paper|;
 * NaN when the paper prints nothing. */
double constant_abs_diff(const constant_entry *e);
double constant_rel_diff(const constant_entry *e);

#endif
