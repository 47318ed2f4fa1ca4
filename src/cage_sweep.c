/* Cage dynamics kernel. Bond classes and checkerboard colours are sets of
 * moves that touch disjoint sites (bond passes) or only read sites of the
 * other colour (colour passes), so each pass runs in parallel with no races;
 * every random number is addressed by (seed, sweep, pass, site) so the
 * trajectory does not depend on which thread visits which site. */
#include <math.h>
#include "cage_sweep.h"
#include "rng.h"

const char *const CAGE_MOVE_NAMES[CAGE_NMOVES] = {"pair", "single", "trap", "loop", "sigma"};

/* Below this many sites a pass is cheaper than waking the thread team; the
 * result is the same either way. */
enum { CAGE_PARALLEL_MIN_SITES = 4096 };

static double barrier_factor(double E, double T)
{
    const double f = exp(-E / T);
    return f < 1.0 ? f : 1.0;
}

void cage_tables_build(cage_tables *t, const model_params *p, double T)
{
    t->T = T;
    const double trap = barrier_factor(p->trap_barrier, T);
    for (int l = LEVEL_MIN; l <= LEVEL_MAX; l++)
        for (int up = 0; up < 2; up++) {
            const int l2 = up ? l + 1 : l - 1;
            for (int k = 0; k < 9; k++)
                for (int sp = 0; sp < 2; sp++)
                    for (int j = 0; j < 9; j++) {
                        double r = 0.0;
                        if (l2 >= LEVEL_MIN && l2 <= LEVEL_MAX) {
                            r = model_level_ratio(p, T, l, l2, sp ? 1 : -1, k - 4, 0, j - 4);
                            r = trap * (r < 1.0 ? r : 1.0);
                        }
                        t->loop[l + 1][up][k][sp][j] = model_threshold(r);
                    }
        }
    for (int sp = 0; sp < 2; sp++)
        for (int j = 0; j < 9; j++)
            t->sigma[sp][j] = model_threshold(model_sigma_ratio(p, T, sp ? 1 : -1, j - 4));
    t->async = model_threshold(barrier_factor(p->async_barrier, T));
    t->trap = model_threshold(trap);
}

int64_t cage_moves_per_sweep(const lattice *lat)
{
    int64_t bonds = 0;
    for (int64_t a = 0; a < lat->N; a++)
        bonds += (lat->nbr[4 * a + DIR_PX] >= 0) + (lat->nbr[4 * a + DIR_PY] >= 0);
    return lat->N + bonds;
}

int64_t cage_count_paired(const lattice *lat, const model_state *s)
{
    int64_t n = 0;
    for (int64_t a = 0; a < lat->N; a++)
        for (int d = DIR_PX; d <= DIR_PY; d++) {
            const int32_t b = lat->nbr[4 * a + d];
            n += b >= 0 && cage_paired(s->phase[a], s->sigma[a], s->phase[b], s->sigma[b], d);
        }
    return n;
}

/* One bond class: bonds from sites with coordinate parity `parity` along
 * direction d (0: +x, 1: +y) to their neighbour. Within a class no site
 * belongs to two bonds (L even when periodic), so pairs jump independently. */
static void bond_pass(const lattice *lat, model_state *s, int cls, uint64_t seed, uint64_t sweep,
                      int64_t *prop, int64_t *acc)
{
    uint8_t *restrict phase = s->phase;
    const int8_t *restrict sigma = s->sigma;
    const int32_t *restrict nbr = lat->nbr;
    const int Lx = lat->Lx, Ly = lat->Ly;
    const int d = cls >> 1, parity = cls & 1;
    /* along x: every row, every other site; along y: every other row */
    const int nrows = d == 0 ? Ly : (Ly - parity + 1) / 2;
    const int x0 = d == 0 ? parity : 0, dx = d == 0 ? 2 : 1;
    int64_t np = 0, na = 0;
#pragma omp parallel for schedule(static) reduction(+ : np, na) \
    if (lat->N >= CAGE_PARALLEL_MIN_SITES)
    for (int r = 0; r < nrows; r++) {
        const int y = d == 0 ? r : 2 * r + parity;
        for (int x = x0; x < Lx; x += dx) {
            const int64_t a = (int64_t)y * Lx + x;
            const int32_t b = nbr[4 * a + d];
            if (b < 0) continue;
            const int pa = phase[a], pb = phase[b];
            if (!cage_paired(pa, sigma[a], pb, sigma[b], d)) continue;
            np++;
            const rng_block rb = rng_draw(seed, sweep, RNG_STREAM_CAGE_BOND, (uint32_t)cls,
                                          (uint32_t)a);
            /* both PCPs move one angle line together, never across a
             * diagonal boundary, so (l, sigma) and the pairing are kept */
            const int step = (rb.v[0] & 1u) ? 1 : -1;
            const int lam = (pa & 15) + step;
            if (lam < 0 || lam >= CAGE_LINES) continue;
            phase[a] = (uint8_t)(pa + step);
            phase[b] = (uint8_t)(pb + step);
            na++;
        }
    }
    *prop += np;
    *acc += na;
}

void cage_sweep(const lattice *lat, model_state *s, const model_params *p, const cage_tables *t,
                kinetics *k, uint64_t seed, uint64_t sweep, energy_terms *de, move_stats *ms)
{
    int64_t pprop = 0, pacc = 0;
    for (int cls = 0; cls < 4; cls++) bond_pass(lat, s, cls, seed, sweep, &pprop, &pacc);

    int8_t *restrict level = s->level;
    int8_t *restrict sigma = s->sigma;
    uint8_t *restrict phase = s->phase;
    const int32_t *restrict nbr = lat->nbr;
    int64_t *restrict last_sweep = k->last_sweep;
    int8_t *restrict last_level = k->last_level;
    int64_t *restrict events = k->events;
    int32_t *restrict nevents = k->nevents;
    const int row_cap = k->row_cap;
    const int Lx = lat->Lx, Ly = lat->Ly;
    const int move_levels = !p->freeze_levels;
    const int64_t now = (int64_t)sweep;
    int64_t dC = 0, dSt = 0, dJ = 0, dh = 0;
    int64_t sprop = 0, sacc = 0, tprop = 0, tacc = 0, lprop = 0, lacc = 0, fprop = 0, facc = 0;
    int64_t comp[KIN_NLOOPS] = {0}, undo[KIN_NLOOPS] = {0};
    int64_t tsum[KIN_NTAU] = {0}, tcnt[KIN_NTAU] = {0};
    uint64_t tsq[KIN_NTAU] = {0};
    int64_t njump = 0;

    for (int colour = 0; colour < 2; colour++) {
#pragma omp parallel for schedule(static) if (lat->N >= CAGE_PARALLEL_MIN_SITES)          \
    reduction(+ : dC, dSt, dJ, dh, sprop, sacc, tprop, tacc, lprop, lacc, fprop, facc, njump, \
                  comp[:KIN_NLOOPS], undo[:KIN_NLOOPS], tsum[:KIN_NTAU], tcnt[:KIN_NTAU],   \
                  tsq[:KIN_NTAU])
        for (int y = 0; y < Ly; y++) {
            int nev = 0;
            for (int x = (y + colour) & 1; x < Lx; x += 2) {
                const int64_t a = (int64_t)y * Lx + x;
                const rng_block r = rng_draw(seed, sweep, RNG_STREAM_CAGE_SITE, (uint32_t)colour,
                                             (uint32_t)a);
                const int32_t *nb = nbr + 4 * a;
                const int up = (int)(r.v[0] & 1u);
                int ph = phase[a];
                const int sa = sigma[a];
                int l = level[a];
                const int lam = ph & 15;
                if (up ? ph == NPHASE - 1 : ph == 0) {
                    /* loop boundary: the level changes by one */
                    const int l2 = up ? l + 1 : l - 1;
                    lprop++;
                    if (move_levels && l2 >= LEVEL_MIN && l2 <= LEVEL_MAX) {
                        int S = 0, lmin = 99, lmax = -99, n_same = 0, n_up = 0;
                        for (int dd = 0; dd < 4; dd++) {
                            const int32_t b = nb[dd];
                            if (b < 0) continue;
                            const int lb = level[b];
                            S += (lb >= 0) * sigma[b];
                            lmin = lb < lmin ? lb : lmin;
                            lmax = lb > lmax ? lb : lmax;
                            n_same += lb == l;
                            n_up += lb == l2;
                        }
                        const int dn = (l2 >= 0) - (l >= 0);
                        if (l2 - lmin <= 1 && lmax - l2 <= 1 &&
                            (uint64_t)r.v[1] <
                                t->loop[l + 1][up][n_same - n_up + 4][sa > 0][S * (dn != 0) + 4]) {
                            level[a] = (int8_t)l2;
                            ph = up ? 0 : NPHASE - 1;
                            phase[a] = (uint8_t)ph;
                            lacc++;
                            dC += MODEL_CBOSONS[l2 + 1] - MODEL_CBOSONS[l + 1];
                            dSt += n_same - n_up;
                            dJ += dn * sa * S;
                            dh += dn * sa;
                            if (up) {
                                comp[l2]++;
                                if (l2 >= 1 && last_level[a] == l2 - 1) {
                                    const int64_t dt = now - last_sweep[a];
                                    tsum[l2 - 1] += dt;
                                    tsq[l2 - 1] += (uint64_t)(dt * dt);
                                    tcnt[l2 - 1]++;
                                }
                                last_level[a] = (int8_t)l2;
                                last_sweep[a] = now;
                                if (l2 == LEVEL_MAX) {
                                    /* the sigma of the completed loop, before
                                     * the flip below may choose a new one */
                                    events[(int64_t)y * row_cap + nev++] = (a << 1) | (sa > 0);
                                    njump++;
                                }
                            } else {
                                undo[l]++;
                            }
                            l = l2;
                        }
                    }
                } else if (up ? lam == CAGE_TRAP_LINE : lam == 0) {
                    tprop++;
                    if ((uint64_t)r.v[1] < t->trap) {
                        ph += up ? 1 : -1;
                        phase[a] = (uint8_t)ph;
                        tacc++;
                    }
                } else {
                    sprop++;
                    if ((uint64_t)r.v[1] < t->async) {
                        ph += up ? 1 : -1;
                        phase[a] = (uint8_t)ph;
                        sacc++;
                    }
                }
                if (ph != 0) continue;
                /* the handedness is chosen at the start of a loop */
                fprop++;
                if (l < 0) {
                    sigma[a] = (int8_t)-sa;
                    facc++;
                    continue;
                }
                int S = 0;
                for (int dd = 0; dd < 4; dd++) {
                    const int32_t b = nb[dd];
                    if (b >= 0) S += (level[b] >= 0) * sigma[b];
                }
                if ((uint64_t)r.v[2] < t->sigma[sa > 0][S + 4]) {
                    sigma[a] = (int8_t)-sa;
                    facc++;
                    dJ -= 2 * sa * S;
                    dh -= 2 * sa;
                }
            }
            nevents[y] = nev;
        }
        if (njump) kinetics_apply_jumps(k, lat, s);
    }

    de->sum_C += dC; de->n_steps += dSt; de->sum_J += dJ; de->sum_h += dh;
    ms->proposed[CAGE_MOVE_PAIR] += pprop;
    ms->accepted[CAGE_MOVE_PAIR] += pacc;
    ms->proposed[CAGE_MOVE_SINGLE] += sprop;
    ms->accepted[CAGE_MOVE_SINGLE] += sacc;
    ms->proposed[CAGE_MOVE_TRAP] += tprop;
    ms->accepted[CAGE_MOVE_TRAP] += tacc;
    ms->proposed[CAGE_MOVE_LOOP] += lprop;
    ms->accepted[CAGE_MOVE_LOOP] += lacc;
    ms->proposed[CAGE_MOVE_SIGMA] += fprop;
    ms->accepted[CAGE_MOVE_SIGMA] += facc;
    kin_counters *c = &k->c;
    for (int i = 0; i < KIN_NLOOPS; i++) {
        c->completions[i] += comp[i];
        c->undos[i] += undo[i];
    }
    for (int i = 0; i < KIN_NTAU; i++) {
        c->tau_sum[i] += tsum[i];
        c->tau_sumsq[i] += tsq[i];
        c->tau_count[i] += tcnt[i];
    }
    c->sm_jumps += njump;
}
