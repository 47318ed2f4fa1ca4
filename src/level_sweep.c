/* Level dynamics kernel. Sites of one checkerboard colour have no neighbours
 * of that colour, so a colour is updated in parallel with no races; every
 * random number is addressed by (seed, sweep, colour, site) so the result does
 * not depend on which thread visits which site. */
#include "level_sweep.h"
#include "rng.h"

const char *const LEVEL_MOVE_NAMES[LEVEL_NMOVES] = {"level", "sigma"};

void level_tables_build(level_tables *t, const model_params *p, double T)
{
    t->T = T;
    for (int l = LEVEL_MIN; l <= LEVEL_MAX; l++)
        for (int up = 0; up < 2; up++) {
            const int l2 = up ? l + 1 : l - 1;
            for (int k = 0; k < 9; k++)
                for (int sp = 0; sp < 2; sp++)
                    for (int j = 0; j < 9; j++) {
                        double r = 0.0;
                        if (l2 >= LEVEL_MIN && l2 <= LEVEL_MAX) /* n_same - n_up = k - 4 */
                            r = model_level_ratio(p, T, l, l2, sp ? 1 : -1, k - 4, 0, j - 4);
                        t->level[l + 1][up][k][sp][j] = model_threshold(r);
                    }
        }
    for (int sp = 0; sp < 2; sp++)
        for (int j = 0; j < 9; j++)
            t->sigma[sp][j] = model_threshold(model_sigma_ratio(p, T, sp ? 1 : -1, j - 4));
}

void level_sweep(const lattice *lat, model_state *s, const model_params *p,
                 const level_tables *t, uint64_t seed, uint64_t sweep,
                 energy_terms *de, move_stats *ms)
{
    int8_t *restrict level = s->level;
    int8_t *restrict sigma = s->sigma;
    const int32_t *restrict nbr = lat->nbr;
    const int Lx = lat->Lx, Ly = lat->Ly;
    const int move_levels = !p->freeze_levels;
    int64_t dC = 0, dSt = 0, dJ = 0, dh = 0;
    int64_t lprop = 0, lacc = 0, sacc = 0;

    for (int colour = 0; colour < 2; colour++) {
#pragma omp parallel for schedule(static) reduction(+ : dC, dSt, dJ, dh, lprop, lacc, sacc)
        for (int y = 0; y < Ly; y++) {
            for (int x = (y + colour) & 1; x < Lx; x += 2) {
                const int64_t a = (int64_t)y * Lx + x;
                const rng_block r = rng_draw(seed, sweep, RNG_STREAM_LEVEL, (uint32_t)colour,
                                             (uint32_t)a);
                const int32_t *nb = nbr + 4 * a;
                int l = level[a];
                const int sa = sigma[a];
                int S = 0, lmin = 99, lmax = -99, nb_l[4];
                for (int d = 0; d < 4; d++) {
                    const int32_t b = nb[d];
                    if (b < 0) { nb_l[d] = -100; continue; }
                    const int lb = level[b];
                    nb_l[d] = lb;
                    S += (lb >= 0) * sigma[b];
                    lmin = lb < lmin ? lb : lmin;
                    lmax = lb > lmax ? lb : lmax;
                }
                if (move_levels) {
                    const int up = (int)(r.v[0] & 1u);
                    const int l2 = up ? l + 1 : l - 1;
                    lprop++;
                    /* RSOS: every neighbour within 1 of l2 (bounds are in the table as 0) */
                    if (l2 - lmin <= 1 && lmax - l2 <= 1) {
                        int n_same = 0, n_up = 0;
                        for (int d = 0; d < 4; d++) {
                            n_same += nb_l[d] == l;
                            n_up += nb_l[d] == l2;
                        }
                        const int dn = (l2 >= 0) - (l >= 0);
                        if ((uint64_t)r.v[1] <
                            t->level[l + 1][up][n_same - n_up + 4][sa > 0][S * (dn != 0) + 4]) {
                            level[a] = (int8_t)l2;
                            lacc++;
                            dC += MODEL_CBOSONS[l2 + 1] - MODEL_CBOSONS[l + 1];
                            dSt += n_same - n_up;
                            dJ += dn * sa * S;
                            dh += dn * sa;
                            l = l2;
                        }
                    }
                }
                /* sigma flip: free on a plain HSM, Metropolis on an HSCL */
                if (l < 0) {
                    sigma[a] = (int8_t)-sa;
                    sacc++;
                } else if ((uint64_t)r.v[2] < t->sigma[sa > 0][S + 4]) {
                    sigma[a] = (int8_t)-sa;
                    sacc++;
                    dJ -= 2 * sa * S;
                    dh -= 2 * sa;
                }
            }
        }
    }
    de->sum_C += dC; de->n_steps += dSt; de->sum_J += dJ; de->sum_h += dh;
    ms->proposed[LEVEL_MOVE_LEVEL] += lprop;
    ms->accepted[LEVEL_MOVE_LEVEL] += lacc;
    ms->proposed[LEVEL_MOVE_SIGMA] += lat->N;
    ms->accepted[LEVEL_MOVE_SIGMA] += sacc;
}
