/* Observables of the cage dynamics: trap occupancy, SASC-paired bonds, loop
 * completions and undos, soft-matrix jumps and the z displacement. Declines
 * for a dynamics that keeps no kinetic bookkeeping. */
#include "diag/obs_group.h"
#include "dynamics/cage.h"
#include "dynamics/cage_counts.h"
#include "dynamics/dynamics.h"

typedef struct {
    int trap_occupancy, paired_bonds, loop_completions, loop_undos, soft_matrix_jumps, z_msd;
    kin_counters mark;   /* kinetic counters at the previous measurement */
    int64_t mark_step;
    int64_t bonds;       /* bonds of the lattice, fixed by its geometry */
} cage_group;

static const char *const LOOP_NAMES[KIN_NLOOPS] = {"0", "1", "2", "3", "4", "5", "6", "7", "8"};

static int add_loops(obs_layout *L, const char *name, const char *desc)
{
    const int col = obs_layout_add(L, name, KIN_NLOOPS, UNIT_RATE, desc);
    for (int i = 0; col >= 0 && i < KIN_NLOOPS; i++) L->f[L->n - 1].columns[i] = LOOP_NAMES[i];
    return col;
}

static int cage_layout(void *st, obs_layout *L, const sim_state *s)
{
    if (!s->kin) return 1;
    cage_group *c = st;
    c->bonds = cage_moves_per_sweep(&s->lat) - s->lat.N;   /* a move per site and per bond */
    c->trap_occupancy = obs_layout_add(L, "trap_occupancy", 1, UNIT_NONE,
                                       "fraction of PCPs on the trap line (lambda = 15)");
    c->paired_bonds = obs_layout_add(L, "paired_bonds", 1, UNIT_NONE,
                                     "fraction of bonds that are SASC-paired");
    c->loop_completions = add_loops(L, "loop_completions",
                                    "loop completions (phi 63->0) per site per sweep since "
                                    "the last measurement, by the level reached 0..8");
    c->loop_undos = add_loops(L, "loop_undos",
                              "undone loops (phi 0->63) per site per sweep since the last "
                              "measurement, by the level left 0..8");
    c->soft_matrix_jumps = obs_layout_add(L, "soft_matrix_jumps", 1, UNIT_RATE,
                                          "soft-matrix jumps (arrivals at level 8) per sweep since "
                                          "the last measurement");
    c->z_msd = obs_layout_add(L, "z_msd", 1, UNIT_AREA,
                              "mean-square z displacement <z^2> from soft-matrix jumps");
    return 0;
}

static void cage_begin(void *st, const sim_state *s)
{
    cage_group *c = st;
    c->mark = s->kin->c;
    c->mark_step = s->step;
}

/* Counts where the state is (the dynamics' cage_counts: the blocks of a
 * split lattice), so that measuring gathers nothing. <z^2> from the exact sum of
 * squared jump counts: the same number however the lattice is cut. */
static void cage_measure(void *st, const sim_state *s, double *row)
{
    cage_group *c = st;
    const double N = (double)s->lat.N;
    cage_counts n;
    if (s->dyn->cage_counts) s->dyn->cage_counts(s, &n);
    else cage_counts_lattice(&s->lat, &s->st, &n);
    const kin_counters since = kinetics_diff(&s->kin->c, &c->mark);
    const int64_t sweeps = s->step - c->mark_step;
    const double per = sweeps > 0 ? 1.0 / ((double)sweeps * N) : 0.0;
    row[c->trap_occupancy] = (double)n.trap / N;
    row[c->paired_bonds] = c->bonds ? (double)n.paired / (double)c->bonds : 0.0;
    for (int i = 0; i < KIN_NLOOPS; i++) {
        row[c->loop_completions + i] = (double)since.completions[i] * per;
        row[c->loop_undos + i] = (double)since.undos[i] * per;
    }
    row[c->soft_matrix_jumps] = sweeps > 0 ? (double)since.sm_jumps / (double)sweeps : 0.0;
    row[c->z_msd] = cage_counts_zsq(&n) * (s->st.n_z * s->st.n_z) / N;
    c->mark = s->kin->c;
    c->mark_step = s->step;
}

const obs_group_ops OBS_GROUP_CAGE = {
    .name = "cage",
    .state_size = sizeof(cage_group),
    .layout = cage_layout,
    .begin = cage_begin,
    .measure = cage_measure,
    .sums_only = 1,
};
