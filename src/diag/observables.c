/* Core observables of MODEL.md 5.1 computed from the configuration. */
#include <stdio.h>
#include <string.h>
#include "dynamics/cage.h"
#include "diag/observables.h"

int obs_layout_add(obs_layout *L, const char *name, int width, const char *desc)
{
    /* layouts are built from constant tables; overflow is a programming error */
    if (L->n >= OBS_MAX_FIELDS || width > OBS_MAX_COLUMNS || width < 1) {
        fprintf(stderr, "softmatrix: internal error: observable layout overflow at '%s'\n", name);
        return -1;
    }
    obs_field *f = &L->f[L->n];
    memset(f, 0, sizeof *f);
    f->name = name;
    f->desc = desc;
    f->width = width;
    f->summarise = 1;
    L->off[L->n] = L->total;
    L->total += width;
    L->n++;
    return L->off[L->n - 1];
}

int obs_layout_find(const obs_layout *L, const char *name)
{
    for (int i = 0; i < L->n; i++)
        if (strcmp(L->f[i].name, name) == 0) return i;
    return -1;
}

static const char *const LEVEL_NAMES[NLEVELS] = {"-1", "0", "1", "2", "3", "4", "5", "6", "7", "8"};

void obs_layout_core(obs_layout *L, obs_core_columns *c, const char *const *move_names,
                     int nmoves)
{
    memset(L, 0, sizeof *L);
    c->energy = obs_layout_add(L, "energy", 1, "H/N, energy per site (units of eps0)");
    c->energy_C = obs_layout_add(L, "energy_C", 1, "eps_C sum_a C(l_a) / N");
    c->energy_step = obs_layout_add(L, "energy_step", 1, "eps_step sum_<ab>|l_a-l_b| / N");
    c->energy_J = obs_layout_add(L, "energy_J", 1, "J sum_<ab> n_a n_b s_a s_b / N");
    c->energy_h = obs_layout_add(L, "energy_h", 1, "-(h/16) sum_a n_a s_a / N");
    c->temperature = obs_layout_add(L, "temperature", 1, "temperature of the sweep (eps0/k_B)");
    c->level_histogram = obs_layout_add(L, "level_histogram", NLEVELS,
                                        "fraction of sites at level l = -1..8");
    for (int i = 0; i < NLEVELS; i++) L->f[L->n - 1].columns[i] = LEVEL_NAMES[i];
    c->hscl_fraction = obs_layout_add(L, "hscl_fraction", 1, "fraction of sites with l >= 0");
    c->mean_level = obs_layout_add(L, "mean_level", 1, "mean of l over all sites");
    c->cbosons = obs_layout_add(L, "cbosons", 1, "IE arrows (C-bosons) per site, sum_<ab>|l_a-l_b| / N");
    c->magnetization = obs_layout_add(L, "magnetization", 1, "m = sum_a n_a s_a / N");
    c->staggered_magnetization = obs_layout_add(L, "staggered_magnetization", 1,
                                                "m_s = sum_a n_a s_a (-1)^(x+y) / N");
    c->n_soft_matrix = obs_layout_add(L, "n_soft_matrix", 1,
                                      "n_SM = 200 f_8, soft matrices per 200-HSM region");
    c->acceptance = obs_layout_add(L, "acceptance", nmoves,
                                   "accepted / proposed per move type since the last measurement");
    for (int i = 0; i < nmoves; i++) L->f[L->n - 1].columns[i] = move_names[i];
}

void obs_measure_core(const obs_core_columns *c, const lattice *lat, const model_state *s,
                      const model_params *p, const energy_terms *e, double T,
                      const move_stats *moves, int nmoves, double *row)
{
    const double N = (double)lat->N;
    int64_t hist[NLEVELS] = {0};
    int64_t lsum = 0, ms = 0;
    for (int y = 0; y < lat->Ly; y++) {
        const int64_t base = (int64_t)y * lat->Lx;
        for (int x = 0; x < lat->Lx; x++) {
            const int l = s->level[base + x];
            hist[l + 1]++;
            lsum += l;
            const int sign = ((x + y) & 1) ? -1 : 1;
            ms += (l >= 0) * s->sigma[base + x] * sign;
        }
    }
    const energy_parts E = energy_from_terms(p, e);
    row[c->energy] = E.total / N;
    row[c->energy_C] = E.C / N;
    row[c->energy_step] = E.step / N;
    row[c->energy_J] = E.J / N;
    row[c->energy_h] = E.h / N;
    row[c->temperature] = T;
    for (int i = 0; i < NLEVELS; i++) row[c->level_histogram + i] = hist[i] / N;
    row[c->hscl_fraction] = (N - hist[0]) / N;
    row[c->mean_level] = lsum / N;
    row[c->cbosons] = e->n_steps / N;
    row[c->magnetization] = e->sum_h / N;
    row[c->staggered_magnetization] = ms / N;
    row[c->n_soft_matrix] = 200.0 * hist[NLEVELS - 1] / N;
    for (int i = 0; i < nmoves; i++)
        row[c->acceptance + i] =
            moves->proposed[i] ? (double)moves->accepted[i] / (double)moves->proposed[i] : 0.0;
}

static const char *const LOOP_NAMES[KIN_NLOOPS] = {"0", "1", "2", "3", "4", "5", "6", "7", "8"};

void obs_layout_cage(obs_layout *L, obs_cage_columns *c)
{
    c->trap_occupancy = obs_layout_add(L, "trap_occupancy", 1,
                                       "fraction of PCPs on the trap line (lambda = 15)");
    c->paired_bonds = obs_layout_add(L, "paired_bonds", 1, "fraction of bonds that are SASC-paired");
    c->loop_completions = obs_layout_add(L, "loop_completions", KIN_NLOOPS,
                                         "loop completions (phi 63->0) per site per sweep since "
                                         "the last measurement, by the level reached 0..8");
    for (int i = 0; i < KIN_NLOOPS; i++) L->f[L->n - 1].columns[i] = LOOP_NAMES[i];
    c->loop_undos = obs_layout_add(L, "loop_undos", KIN_NLOOPS,
                                   "undone loops (phi 0->63) per site per sweep since the last "
                                   "measurement, by the level left 0..8");
    for (int i = 0; i < KIN_NLOOPS; i++) L->f[L->n - 1].columns[i] = LOOP_NAMES[i];
    c->soft_matrix_jumps = obs_layout_add(L, "soft_matrix_jumps", 1,
                                          "soft-matrix jumps (arrivals at level 8) per sweep since "
                                          "the last measurement");
    c->z_msd = obs_layout_add(L, "z_msd", 1, "mean-square z displacement <z^2> from soft-matrix jumps");
}

void obs_measure_cage(const obs_cage_columns *c, const lattice *lat, const model_state *s,
                      const kin_counters *since, int64_t sweeps, double *row)
{
    const double N = (double)lat->N;
    int64_t trap = 0, bonds = 0;
    double z2 = 0.0;
    for (int64_t a = 0; a < lat->N; a++) {
        trap += (s->phase[a] & 15) == CAGE_TRAP_LINE;
        z2 += (double)s->z[a] * (double)s->z[a];
        bonds += (lat->nbr[4 * a + DIR_PX] >= 0) + (lat->nbr[4 * a + DIR_PY] >= 0);
    }
    const double per = sweeps > 0 ? 1.0 / ((double)sweeps * N) : 0.0;
    row[c->trap_occupancy] = trap / N;
    row[c->paired_bonds] = bonds ? (double)cage_count_paired(lat, s) / (double)bonds : 0.0;
    for (int i = 0; i < KIN_NLOOPS; i++) {
        row[c->loop_completions + i] = (double)since->completions[i] * per;
        row[c->loop_undos + i] = (double)since->undos[i] * per;
    }
    row[c->soft_matrix_jumps] = sweeps > 0 ? (double)since->sm_jumps / (double)sweeps : 0.0;
    row[c->z_msd] = z2 / N;
}
