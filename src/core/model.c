/* Model: state allocation, the Hamiltonian's integer sums, weight ratios. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/model.h"

const int MODEL_CBOSONS_PAD[NLEVELS + 2] = {0, 0, 4, 16, 36, 64, 100, 144, 196, 256, 320, 0};

void model_params_default(model_params *p)
{
    p->eps_C = 0.125;
    p->g = 4.0;
    p->eps_step = 0.0;
    p->J = 0.125;
    p->h = 0.0;
    p->freeze_levels = false;
    p->trap_barrier = 1.0;
    p->async_barrier = 0.125;
    p->N_c = 200.0;
    p->Tg_over_Tm = 0.625;
}

int model_state_init(model_state *s, int64_t N, sm_error *err)
{
    memset(s, 0, sizeof *s);
    s->N = N;
    /* calloc, not malloc+memset: zero pages cost nothing until written */
    s->level = calloc((size_t)N, 1);
    s->sigma = calloc((size_t)N, 1);
    if (!s->level || !s->sigma) {
        model_state_free(s);
        return sm_fail(err, "model: out of memory for %lld sites", (long long)N);
    }
    return 0;
}

double model_n_z(const model_params *p) { return pow(p->N_c, -p->Tg_over_Tm); }

int model_state_init_pcp(model_state *s, const model_params *p, sm_error *err)
{
    s->n_z = model_n_z(p);
    s->phase = calloc((size_t)s->N, 1);
    s->zjumps = calloc((size_t)s->N, sizeof *s->zjumps);
    s->zjumps_wide = NULL;
    if (!s->phase || !s->zjumps) {
        model_state_free(s);
        return sm_fail(err, "model: out of memory for the PCP fields of %lld sites", (long long)s->N);
    }
    return 0;
}

int model_state_bytes_per_site(int pcp)
{
    return 2 + (pcp ? 1 + (int)sizeof(int16_t) : 0);
}

int model_state_widen_z(model_state *s)
{
    const size_t N = (size_t)s->N;
    if (!s->zjumps) return 0;
    /* realloc of a large block remaps its pages rather than copying them
     * (and never holds both arrays whole), then each count moves up from
     * the top: the int32 of site a covers the int16s of sites 2a and
     * 2a + 1, both >= a, so every int16 is read before it is overwritten */
    void *grown = realloc(s->zjumps, N * sizeof(int32_t));
    if (!grown) return -1;
    unsigned char *bytes = grown;
    /* memcpy: the same bytes are read as int16 and written as int32 */
    for (size_t a = N; a-- > 0;) {
        int16_t v;
        memcpy(&v, bytes + a * sizeof v, sizeof v);
        const int32_t w = v;
        memcpy(bytes + a * sizeof w, &w, sizeof w);
    }
    s->zjumps = NULL;
    s->zjumps_wide = grown;
    return 0;
}

void model_state_free(model_state *s)
{
    free(s->level);
    free(s->sigma);
    free(s->phase);
    free(s->zjumps);
    free(s->zjumps_wide);
    s->level = NULL; s->sigma = NULL; s->phase = NULL; s->zjumps = NULL; s->zjumps_wide = NULL;
}

/* The terms a site owns: its C-bosons and field, and its +x and +y bonds
 * where they exist (b: the neighbour's level, or -100 without the bond).
 * The one definition behind the lattice and the block sums. */
static inline void site_terms(int la, int sa, int bx, int sx, int by, int sy, energy_terms *e)
{
    const int na = la >= 0;
    e->sum_C += MODEL_CBOSONS[la + 1];
    e->sum_h += na * sa;
    if (bx > -100) {
        e->n_steps += abs(la - bx);
        e->sum_J += na * (bx >= 0) * sa * sx;
    }
    if (by > -100) {
        e->n_steps += abs(la - by);
        e->sum_J += na * (by >= 0) * sa * sy;
    }
}

void energy_terms_compute(const lattice *lat, const model_state *s, energy_terms *e)
{
    energy_terms t = {0, 0, 0, 0};
    for (int y = 0; y < lat->Ly; y++) {
        for (int x = 0; x < lat->Lx; x++) {
            const int64_t a = (int64_t)y * lat->Lx + x;
            const int64_t bx = lattice_nbr_xy(lat, x, y, DIR_PX), by = lattice_nbr_xy(lat, x, y, DIR_PY);
            site_terms(s->level[a], s->sigma[a], bx >= 0 ? s->level[bx] : -100, bx >= 0 ? s->sigma[bx] : 0,
                       by >= 0 ? s->level[by] : -100, by >= 0 ? s->sigma[by] : 0, &t);
        }
    }
    *e = t;
}

void energy_terms_block(const lattice *lat, const int8_t *level, const int8_t *sigma, int64_t stride,
                        int gx0, int gy0, int nx, int ny, energy_terms *e)
{
    const int open = lat->boundary == BOUNDARY_OPEN;
    for (int y = 0; y < ny; y++) {
        const int hy = !(open && gy0 + y == lat->Ly - 1);
        for (int x = 0; x < nx; x++) {
            const int64_t a = (int64_t)y * stride + x;
            const int hx = !(open && gx0 + x == lat->Lx - 1);
            site_terms(level[a], sigma[a], hx ? level[a + 1] : -100, sigma[a + 1],
                       hy ? level[a + stride] : -100, sigma[a + stride], e);
        }
    }
}

energy_parts energy_from_terms(const model_params *p, const energy_terms *e)
{
    energy_parts r;
    r.C = p->eps_C * (double)e->sum_C;
    r.step = p->eps_step * (double)e->n_steps;
    r.J = p->J * (double)e->sum_J;
    r.h = -(p->h / 16.0) * (double)e->sum_h;
    r.total = r.C + r.step + r.J + r.h;
    return r;
}

int64_t model_rsos_violations(const lattice *lat, const model_state *s)
{
    int64_t bad = 0;
    for (int y = 0; y < lat->Ly; y++)
        for (int x = 0; x < lat->Lx; x++) {
            const int64_t a = (int64_t)y * lat->Lx + x;
            for (int d = DIR_PX; d <= DIR_PY; d++) {
                const int64_t b = lattice_nbr_xy(lat, x, y, d);
                if (b >= 0 && abs(s->level[a] - s->level[b]) > 1) bad++;
            }
        }
    return bad;
}

double model_level_ratio(const model_params *p, double T, int l, int l2, int s,
                         int n_same, int n_up, int S)
{
    const int dn = (l2 >= 0) - (l >= 0);
    /* step term: a neighbour at l gains one arrow, a neighbour at l2 loses one */
    double dH = p->eps_C * (MODEL_CBOSONS[l2 + 1] - MODEL_CBOSONS[l + 1])
              + p->eps_step * (n_same - n_up)
              + dn * s * (p->J * S - p->h / 16.0);
    return pow(p->g, l2 - l) * exp(-dH / T);
}

double model_sigma_ratio(const model_params *p, double T, int s, int S)
{
    /* s -> -s changes J s S - (h/16) s by -2 s (J S - h/16) */
    double dH = -2.0 * s * (p->J * S - p->h / 16.0);
    return exp(-dH / T);
}

uint64_t model_threshold(double ratio)
{
    const double two32 = 4294967296.0;
    if (!(ratio < 1.0)) return (uint64_t)1 << 32;  /* also catches +inf */
    if (ratio <= 0.0) return 0;
    return (uint64_t)ceil(ratio * two32);
}

void model_level_ratios(const model_params *p, double T, double r[NLEVELS][2][9][2][9])
{
    for (int l = LEVEL_MIN; l <= LEVEL_MAX; l++)
        for (int up = 0; up < 2; up++) {
            const int l2 = up ? l + 1 : l - 1;
            const int valid = l2 >= LEVEL_MIN && l2 <= LEVEL_MAX;
            /* a move that neither creates nor removes an HSCL does not see
             * sigma or S (their term is multiplied by 0): one ratio per k,
             * the same double, so ramps rebuild the tables 18 times cheaper */
            const int same_n = (l2 >= 0) == (l >= 0);
            for (int k = 0; k < 9; k++) {
                const double r0 = same_n && valid ? model_level_ratio(p, T, l, l2, 1, k - 4, 0, 0) : 0.0;
                for (int sp = 0; sp < 2; sp++)
                    for (int j = 0; j < 9; j++)
                        r[l + 1][up][k][sp][j] =
                            same_n || !valid ? r0
                                             : model_level_ratio(p, T, l, l2, sp ? 1 : -1, k - 4, 0, j - 4);
            }
        }
}
