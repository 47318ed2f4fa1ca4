/* docs/model.md section 13: the constants the program derives, and the
 * `softmatrix constants` command that prints them beside the paper's values.
 *
 * The derivation follows the paper's chain of reasoning (section III and SM2):
 *   f(chi) = -4 chi (1 - chi), chi = (sigma/q)^6; well bottom f(1/2) = -1.
 *   The two "1/16 equipotential" points are where the slope is -1 and +1;
 *   the cluster recursion q_{i,R} = q_{i+1,L} then fixes sigma_{i+1}/sigma_i,
 *   and everything geometric (d_L*, delta_d, the angles) follows from these.
 * The thermodynamic numbers (T_g/T_m = 5/8, n_z, the viscosity exponent,
 * N_z*) follow from numbers the paper takes as given - kTg = 20/3 eps0 for
 * flexible chains, T_m = T_g + 4, N_c = 200 HSMs per soft-matrix region, the
 * materials' temperatures - so they are the paper's inputs (CONST_PAPER),
 * not results of the model. The model's own temperatures are
 * constants_local_T (from its parameters) and what `softmatrix transition`
 * measures. All values are computed each call; the only static data are
 * const inputs, so there is no mutable global state. */
#include "core/constants.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/error.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double deg(double rad) { return rad * (180.0 / M_PI); }

double lj_f(double chi) { return -4.0 * chi * (1.0 - chi); }
double lj_fprime(double chi) { return -4.0 + 8.0 * chi; }

/* The slope -4 + 8 chi is linear in chi, so f'(chi) = s has the single root
 * (4 + s)/8; the check against lj_fprime keeps the two in step. */
static double lj_chi_at_slope(double s) { return (4.0 + s) / 8.0; }

/* chi = (sigma/q)^6 with sigma = 1. */
static double lj_q(double chi) { return pow(chi, -1.0 / 6.0); }

/* Inputs the paper takes as given (not derived). */
enum { SOFT_MATRIX_SITES = 200 };       /* N_c: 196 + 4 HSMs, Table 1 V8 */
static const double KTG_FLEXIBLE = 20.0 / 3.0; /* kTg/eps0 for flexible chains (ref 10) */
static const double KTM_MINUS_KTG = 4.0; /* (T_m - T_g) = 4 eps0, as used for As2S3 */
static const double CBOSON_FRACTION = 1.0 / 8.0; /* C-boson ~ eps0/8, III.D.3 (vi) */
static const double TORS_PER_TRAP = 60.0;  /* "Tors/Trap = 1 radian = 60", IV.D.3 */
/* Boltzmann constant in meV/K from the exact SI values k_B and e. */
static const double KB_MEV_PER_K = 1.380649e-23 / 1.602176634e-19 * 1e3;

void constants_derive(sm_constants *c)
{
    c->chi_R = lj_chi_at_slope(-1.0); /* attractive side, larger q */
    c->chi_L = lj_chi_at_slope(+1.0); /* repulsive side, smaller q */
    c->chi_0 = lj_chi_at_slope(0.0);  /* well bottom, vibration equilibrium */
    c->f_edge = lj_f(c->chi_R);
    c->q_R = lj_q(c->chi_R);
    c->q_L = lj_q(c->chi_L);
    c->q_0 = lj_q(c->chi_0);
    /* q_{i,R} = q_{i+1,L}: q_R sigma_i = q_L sigma_{i+1}. */
    c->sigma_ratio = c->q_R / c->q_L;
    /* d_L* = (q_{1,R} - q_{1,L}) / sigma_0 with q_{1,L} = q_{0,R} = q_R. */
    c->d_L = c->q_R * c->sigma_ratio - c->q_R;
    c->delta_d = c->q_R - c->q_0;
    c->delta_omega_deg = deg(2.0 * asin(c->d_L / 2.0));
    /* As many lines, delta_omega apart, as fit in a 90 deg quarter; the gap
     * left over between the last line and 90 deg is the trap. */
    c->angle_lines = (int)floor(90.0 / c->delta_omega_deg) + 1;
    c->trap_deg = 90.0 - (c->angle_lines - 1) * c->delta_omega_deg;
    /* The PCP crosses a face diagonal of the 2 delta_d cage in 15 steps. */
    c->jump_step = sqrt(2.0) * 2.0 * c->delta_d / (c->angle_lines - 1);
    c->magic_angle_deg = TORS_PER_TRAP * c->trap_deg;
    c->kTg = KTG_FLEXIBLE;
    c->kTm = KTG_FLEXIBLE + KTM_MINUS_KTG;
    c->Tg_over_Tm = c->kTg / c->kTm;
    c->N_c = SOFT_MATRIX_SITES;
    /* p+ = p-: (1/N)^Tg = n_z^Tm (SM2, Eq. 8). */
    c->n_z = pow(c->N_c, -c->Tg_over_Tm);
    c->viscosity_exponent = 9.0 * (1.0 - c->Tg_over_Tm);
    c->N_z_star = c->N_c * c->n_z;
    c->E_jump = c->N_z_star; /* one eps0 per degree of freedom */
    c->kT_JG = c->E_jump + 1.0; /* plus one x-axial DoF */
    c->cboson = CBOSON_FRACTION;
}

double constants_local_T(const model_params *p, int i, int k)
{
    if (i < LEVEL_MIN || i >= LEVEL_MAX || k < 0 || k > 4 || !(p->g > 1.0)) return NAN;
    const double E = p->eps_C * (MODEL_CBOSONS[i + 2] - MODEL_CBOSONS[i + 1]) + (4 - 2 * k) * p->eps_step;
    const double T = E / log(p->g);
    return T > 0 ? T : NAN;
}

/* --- material presets ------------------------------------------------- */

static const material_preset PRESETS[] = {
    {"As2S3", 370.0, 448.0, 583.0, NAN,
     "paper III.G.4: T_K = 97 C (ref 48), T_g = 175 C (ref 49), T_m = 583 K (ref 50); "
     "eps0 = (T_m - T_g)/4"},
    {"polyethylene", NAN, 195.0, NAN, NAN,
     "paper III.G.3: conventional linear amorphous PE, T_g = -78 C, taken as 195 K"},
    {"polypropylene", NAN, 263.0, NAN, NAN,
     "paper III.G.3: T_g = -10 C, taken as 263 K; cos Omega_z = T_g(PE)/T_g(PP)"},
    {"PET", NAN, 2035.0 / 6.0, NAN, NAN,
     "paper SM1: T_g = Delta E_co / 6 with Delta E_co = 2035 K from on-line PET "
     "spinning (SM ref 3); printed as ~339 K (67 C)"},
    {"polymer_WLF", NAN, NAN, NAN, 51.6,
     "paper III.D.3 (vi): typical polymer well energy 51.6 K from the WLF equation"},
};

size_t material_presets(const material_preset **out)
{
    if (out) *out = PRESETS;
    return sizeof PRESETS / sizeof PRESETS[0];
}

const material_preset *material_find(const char *name)
{
    const material_preset *p;
    size_t n = material_presets(&p);
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0) return &p[i];
    return NULL;
}

/* --- the table ------------------------------------------------------- */

typedef struct {
    constant_entry *out;
    size_t cap, n;
    constant_source source;   /* of the rows being added */
} table_builder;

static void add(table_builder *b, const char *name, const char *symbol, double value,
                const char *unit, double paper, const char *paper_text, const char *formula)
{
    if (b->n < b->cap)
        b->out[b->n] = (constant_entry){name, symbol, value, unit, paper, paper_text, formula, b->source};
    b->n++;
}

/* Lennard-Jones fixed points, cage geometry and angles. */
static void geometry_rows(table_builder *b, const sm_constants *cp)
{
    const sm_constants c = *cp;
    /* Lennard-Jones fixed points. */
    add(b, "chi_R", "chi_R", c.chi_R, "1", 3.0 / 8.0, "3/8", "f'(chi) = -1, f = -4chi(1-chi)");
    add(b, "chi_L", "chi_L", c.chi_L, "1", 5.0 / 8.0, "5/8", "f'(chi) = +1");
    add(b, "chi_0", "chi_0", c.chi_0, "1", 0.5, "1/2", "f'(chi) = 0 (well bottom, f = -1)");
    add(b, "f_edge_above_bottom", "f(3/8)-f(1/2)", c.f_edge - lj_f(c.chi_0), "eps0",
        1.0 / 16.0, "1/16", "f(3/8) = f(5/8) = -15/16");
    add(b, "q_R", "q_R", c.q_R, "sigma", NAN, "", "(8/3)^(1/6) = chi_R^(-1/6)");
    add(b, "q_L", "q_L", c.q_L, "sigma", NAN, "", "(8/5)^(1/6) = chi_L^(-1/6)");
    add(b, "q_0", "q_0", c.q_0, "sigma", 1.12246, "1.12246", "2^(1/6)");
    add(b, "sigma_ratio", "sigma_{i+1}/sigma_i", c.sigma_ratio, "1", NAN, "",
        "(5/3)^(1/6) = q_R/q_L (q_{i,R} = q_{i+1,L})");

    /* Cage geometry and angles. */
    add(b, "d_L_star", "d_L*", c.d_L, "sigma", 0.10464895, "0.10464895",
        "q_R((5/3)^(1/6) - 1)");
    add(b, "lattice_spacing", "1+d_L*", 1.0 + c.d_L, "sigma", 1.1046, "1.1046", "1 + d_L*");
    add(b, "delta_d", "Delta_d", c.delta_d, "sigma", 0.05514, "0.05514", "q_R - q_0");
    add(b, "cage_edge", "2 Delta_d", 2.0 * c.delta_d, "sigma", 0.1103, "0.1103", "2(q_R - q_0)");
    add(b, "delta_omega", "Delta_Omega", c.delta_omega_deg, "deg", 5.9987, "5.9987",
        "2 asin(d_L*/2)");
    add(b, "angle_lines", "k_beta", c.angle_lines, "1", 16.0, "16",
        "floor(90/Delta_Omega) + 1");
    add(b, "trap_angle", "Trap", c.trap_deg, "deg", 0.019, "0.019", "90 - 15 Delta_Omega");
    add(b, "jump_step", "jump step", c.jump_step, "sigma", 0.01, "0.01",
        "sqrt(2) 2 Delta_d / 15");
    add(b, "magic_angle", "Tors", c.magic_angle_deg, "deg", 1.155, "1.14~1.17",
        "60 Trap (paper range; diffs vs midpoint 1.155)");
}

/* Flexible chains, the soft matrix (N_c = 200) and the C-boson. */
static void soft_matrix_rows(table_builder *b, const sm_constants *cp)
{
    const sm_constants c = *cp;
    /* Flexible chains and the soft matrix (N_c = 200). */
    add(b, "kTg_flexible", "k_B T_g", c.kTg, "eps0", 6.67, "6.67", "paper input: 20/3 (flexible chains)");
    add(b, "kTm_flexible", "k_B T_m", c.kTm, "eps0", NAN, "", "paper input: k_B T_g + 4");
    add(b, "Tg_over_Tm", "T_g/T_m", c.Tg_over_Tm, "1", 5.0 / 8.0, "5/8", "(20/3)/(32/3) from the paper inputs");
    add(b, "n_z", "n_z", c.n_z, "1", 0.036, "<=0.036", "200^(-T_g/T_m), paper T_g/T_m");
    add(b, "viscosity_exponent", "eta ~ N^x", c.viscosity_exponent, "1", 3.4, "3.4",
        "9(1 - T_g/T_m), paper T_g/T_m");
    add(b, "N_z_star", "N_z*", c.N_z_star, "1", 7.2, "7.2", "200^(1 - T_g/T_m), paper T_g/T_m");
    add(b, "E_jump", "E_jump", c.E_jump, "eps0", 7.2, "7.2", "N_z* eps0");
    add(b, "kT_JG", "k_B T_JG", c.kT_JG, "eps0", 8.2, "8.2", "E_jump + 1");
    add(b, "T_JG_over_Tg", "T_JG/T_g", c.kT_JG / c.kTg, "1", 1.2, "1.2",
        "(E_jump + 1)/(20/3)");

    /* C-boson. */
    const material_preset *wlf = material_find("polymer_WLF");
    add(b, "cboson", "eps_C", c.cboson, "eps0", 0.125, "1/8", "eps0/8");
    add(b, "cboson_K", "eps_C/k_B (K)", c.cboson * wlf->eps0, "K", 6.5, "6.5",
        "51.6 K / 8 (WLF eps0)");
    add(b, "cboson_meV", "eps_C (meV)", c.cboson * wlf->eps0 * KB_MEV_PER_K, "meV", 0.56, "0.56",
        "k_B 51.6 K / 8");
}

/* Materials quoted by the paper. */
static void material_rows(table_builder *b)
{
    /* Materials. Eq. (11): k_B T_g cos Omega_z = k_B T_g0. */
    const material_preset *as = material_find("As2S3");
    double as_eps0 = (as->T_m - as->T_g) / 4.0;
    double as_Tg0 = as->T_K + as_eps0;
    add(b, "As2S3.eps0", "eps0", as_eps0, "K", 34.0, "34", "(T_m - T_g)/4, T_m=583, T_g=448");
    add(b, "As2S3.Tg0", "T_g0", as_Tg0, "K", 404.0, "404", "T_K + eps0, T_K = 370");
    add(b, "As2S3.Omega_z", "Omega_z", deg(acos(as_Tg0 / as->T_g)), "deg", 25.6, "25.6",
        "acos(T_g0/T_g)");
    /* The paper rounds eps0 to 34 K before taking the arccosine; this row
     * shows that its 25.6 deg comes from that rounding. */
    add(b, "As2S3.Omega_z_eps0_34", "Omega_z", deg(acos((as->T_K + 34.0) / as->T_g)), "deg",
        25.6, "25.6", "acos((T_K + 34)/T_g), eps0 rounded as printed");
    add(b, "As2S3.Tg_over_Tm", "T_g/T_m", as->T_g / as->T_m, "1", NAN, "", "448/583");
    /* Eq. (12): T_g0/T_m0 = T_g/T_m. */
    add(b, "As2S3.Tm0", "T_m0", as_Tg0 * as->T_m / as->T_g, "K", NAN, "",
        "T_g0 T_m/T_g (Eq. 12)");
    const material_preset *pe = material_find("polyethylene");
    const material_preset *pp = material_find("polypropylene");
    add(b, "polypropylene.Omega_z", "Omega_z", deg(acos(pe->T_g / pp->T_g)), "deg", 42.0, "42",
        "acos(T_g(PE)/T_g(PP)) = acos(195/263)");
    const material_preset *pet = material_find("PET");
    add(b, "PET.Tg", "T_g", pet->T_g, "K", 339.0, "339", "Delta E_co/6 = 2035/6");
}

size_t constants_table(constant_entry *out, size_t cap)
{
    sm_constants c;
    constants_derive(&c);
    if (cap > CONSTANTS_MAX) cap = CONSTANTS_MAX;
    table_builder b = {out, out ? cap : 0, 0, CONST_DERIVED};
    geometry_rows(&b, &c);
    b.source = CONST_PAPER;
    soft_matrix_rows(&b, &c);
    material_rows(&b);
    return b.n;
}

const constant_entry *constants_find(const constant_entry *tab, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tab[i].name, name) == 0) return &tab[i];
    return NULL;
}

double constant_abs_diff(const constant_entry *e) { return e->value - e->paper; }

double constant_rel_diff(const constant_entry *e)
{
    /* Every printed value is non-zero, so the ratio is defined when printed. */
    return (e->value - e->paper) / fabs(e->paper);
}

/* --- output ---------------------------------------------------------- */
