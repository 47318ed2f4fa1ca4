/* PCP position in its cage from (phase, sigma); see pcp.h for the geometry. */
#include "core/constants.h"
#include "core/pcp.h"

static const int VERTEX[4][3] = {{1, 1, 1}, {1, -1, -1}, {-1, 1, -1}, {-1, -1, 1}}; /* A B C D */
/* vertex order of the loop: [sigma > 0][q], diagonal q runs from [q] to [q + 1] */
static const int ORDER[2][4] = {{0, 1, 3, 2}, {1, 0, 2, 3}};

typedef struct { double delta_d, line_frac; } cage_geometry;

static cage_geometry geometry(void)
{
    sm_constants c;
    constants_derive(&c);
    cage_geometry g = {c.delta_d, c.delta_omega_deg / 90.0};
    return g;
}

static void position(const cage_geometry *g, int phase, int sigma, float out[3])
{
    const int q = (phase >> 4) & 3, lam = phase & 15;
    const int *o = ORDER[sigma > 0];
    const int *v0 = VERTEX[o[q]], *v1 = VERTEX[o[(q + 1) & 3]];
    const double f = lam * g->line_frac;
    for (int i = 0; i < 3; i++) out[i] = (float)(g->delta_d * (v0[i] + f * (v1[i] - v0[i])));
}

void pcp_position(int phase, int sigma, float out[3])
{
    const cage_geometry g = geometry();
    position(&g, phase, sigma, out);
}

void pcp_positions(const model_state *s, float *xyz)
{
    const cage_geometry g = geometry();
    for (int64_t a = 0; a < s->N; a++) position(&g, s->phase[a], s->sigma[a], xyz + 3 * a);
}
