/* The observables every run measures: energy and its parts, temperature,
 * level histogram, HSCL fraction, mean level, C-bosons, magnetisations,
 * n_SM and acceptance rates. */
#include "diag/obs_group.h"
#include "dynamics/dynamics.h"

typedef struct {
    int energy, energy_C, energy_step, energy_J, energy_h, temperature;
    int level_histogram, hscl_fraction, mean_level, cbosons;
    int magnetization, staggered_magnetization, n_soft_matrix, acceptance;
    move_stats mark;   /* move counters at the previous measurement */
} core_group;

static const char *const LEVEL_NAMES[NLEVELS] = {"-1", "0", "1", "2", "3", "4", "5", "6", "7", "8"};

static int add_named(obs_layout *L, const char *name, int width, const char *const *names,
                     const char *desc)
{
    const int col = obs_layout_add(L, name, width, UNIT_NONE, desc);
    for (int i = 0; col >= 0 && i < width; i++) L->f[L->n - 1].columns[i] = names[i];
    return col;
}

static int core_layout(void *st, obs_layout *L, const sim_state *s)
{
    core_group *c = st;
    c->energy = obs_layout_add(L, "energy", 1, UNIT_ENERGY, "H/N, energy per site");
    c->energy_C = obs_layout_add(L, "energy_C", 1, UNIT_ENERGY, "eps_C sum_a C(l_a) / N");
    c->energy_step = obs_layout_add(L, "energy_step", 1, UNIT_ENERGY, "eps_step sum_<ab>|l_a-l_b| / N");
    c->energy_J = obs_layout_add(L, "energy_J", 1, UNIT_ENERGY, "J sum_<ab> n_a n_b s_a s_b / N");
    c->energy_h = obs_layout_add(L, "energy_h", 1, UNIT_ENERGY, "-(h/16) sum_a n_a s_a / N");
    c->temperature = obs_layout_add(L, "temperature", 1, UNIT_TEMPERATURE,
                                    "temperature of the sweep");
    c->level_histogram = add_named(L, "level_histogram", NLEVELS, LEVEL_NAMES,
                                   "fraction of sites at level l = -1..8");
    c->hscl_fraction = obs_layout_add(L, "hscl_fraction", 1, UNIT_NONE, "fraction of sites with l >= 0");
    c->mean_level = obs_layout_add(L, "mean_level", 1, UNIT_NONE, "mean of l over all sites");
    c->cbosons = obs_layout_add(L, "cbosons", 1, UNIT_NONE,
                                "IE arrows (C-bosons) per site, sum_<ab>|l_a-l_b| / N");
    c->magnetization = obs_layout_add(L, "magnetization", 1, UNIT_NONE, "m = sum_a n_a s_a / N");
    c->staggered_magnetization = obs_layout_add(L, "staggered_magnetization", 1, UNIT_NONE,
                                                "m_s = sum_a n_a s_a (-1)^(x+y) / N");
    c->n_soft_matrix = obs_layout_add(L, "n_soft_matrix", 1, UNIT_NONE,
                                      "n_SM = 200 f_8, soft matrices per 200-HSM region");
    c->acceptance = add_named(L, "acceptance", s->dyn->nmoves, s->dyn->move_names,
                              "accepted / proposed per move type since the last measurement");
    return 0;
}

static void core_begin(void *st, const sim_state *s) { ((core_group *)st)->mark = s->moves; }

static void core_measure(void *st, const sim_state *s, double *row)
{
    core_group *c = st;
    const double N = (double)s->lat.N;
    field_counts t;
    sim_field_counts(s, &t);
    const int64_t *hist = t.hist;
    int64_t lsum = 0;   /* sum of l, exact from the histogram */
    for (int i = 0; i < NLEVELS; i++) lsum += (int64_t)(i + LEVEL_MIN) * hist[i];
    const energy_parts E = energy_from_terms(&s->p, &s->e);
    row[c->energy] = E.total / N;
    row[c->energy_C] = E.C / N;
    row[c->energy_step] = E.step / N;
    row[c->energy_J] = E.J / N;
    row[c->energy_h] = E.h / N;
    row[c->temperature] = s->T;
    for (int i = 0; i < NLEVELS; i++) row[c->level_histogram + i] = hist[i] / N;
    row[c->hscl_fraction] = (N - hist[0]) / N;
    row[c->mean_level] = lsum / N;
    row[c->cbosons] = s->e.n_steps / N;
    row[c->magnetization] = s->e.sum_h / N;
    row[c->staggered_magnetization] = t.stag / N;
    row[c->n_soft_matrix] = (double)MODEL_SOFT_MATRIX_HSMS * (double)hist[NLEVELS - 1] / N;
    for (int i = 0; i < s->dyn->nmoves; i++) {
        const int64_t p = s->moves.proposed[i] - c->mark.proposed[i];
        const int64_t a = s->moves.accepted[i] - c->mark.accepted[i];
        row[c->acceptance + i] = p ? (double)a / (double)p : 0.0;
    }
    c->mark = s->moves;
}

const obs_group_ops OBS_GROUP_CORE = {
    .name = "core",
    .state_size = sizeof(core_group),
    .layout = core_layout,
    .begin = core_begin,
    .measure = core_measure,
    .sums_only = 1,
};
