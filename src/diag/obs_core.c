/* The observables every run measures: energy and its parts, temperature,
 * level histogram, HSCL fraction, mean level, C-bosons, magnetisations,
 * n_SM and acceptance rates. */
#include <string.h>
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

/* Level histogram and staggered magnetisation m_s in one pass over the int8
 * level and sigma arrays, byte-vector code over rows, rows shared out among
 * the threads. Only integer counts are formed, so the result does not
 * depend on the thread count or the order; the mean level follows from the
 * histogram. This pass is what measure_every = 1 adds to every sweep, so it
 * has to cost a fraction of a sweep (docs/performance.md). */
enum { OBS_VEC = 16 };
/* 16 bytes: one SSE2 register. GCC splits the compares of a vector wider than the
 * hardware into scalar code, so the width is what every x86-64 has. */
typedef int8_t i8v __attribute__((vector_size(OBS_VEC)));

/* Per-lane counters: hist[k] counts level k = 0..8 (level -1 is the rest),
 * stag the signed staggered sum; int8 lanes hold 127 blocks of +-1 before
 * they must be emptied into the int64 totals. */
enum { OBS_FLUSH = 127 };
typedef struct {
    i8v hist[NLEVELS - 1], stag;
    int nblocks;
} lane_counts;

typedef struct {
    int64_t hist[NLEVELS];   /* [l + 1], as the column */
    int64_t stag;            /* sum_a n_a s_a (-1)^(x+y) */
} level_totals;

static void lanes_flush(lane_counts *c, level_totals *t)
{
    for (int j = 0; j < OBS_VEC; j++) {
        for (int k = 0; k < NLEVELS - 1; k++) t->hist[k + 1] += c->hist[k][j];
        t->stag += c->stag[j];
    }
    memset(c, 0, sizeof *c);
}

/* 16 sites of one row; alt: 0 where x + y is even, -1 where odd. A compare
 * yields -1 in a true lane, so subtracting it counts up. */
static inline void count_block(const int8_t *lv, const int8_t *sg, i8v alt, lane_counts *c)
{
    i8v l, s;
    memcpy(&l, lv, sizeof l);
    memcpy(&s, sg, sizeof s);
    for (int k = 0; k < NLEVELS - 1; k++) c->hist[k] -= (i8v)(l == (int8_t)k);
    const i8v t = s & (i8v)(l >= 0);   /* n_a s_a in -1, 0, 1 */
    c->stag += (t ^ alt) - alt;        /* negated at odd x + y */
}

/* Rows y0 <= y < y1 into t. Cloned so that AVX2 machines run it with
 * three-operand (VEX) instructions, which need no register copies. */
void obs_count_rows(const sim_state *s, int y0, int y1, level_totals *t);
__attribute__((target_clones("avx2", "default")))
void obs_count_rows(const sim_state *s, int y0, int y1, level_totals *t)
{
    const int Lx = s->lat.Lx, nvec = Lx / OBS_VEC * OBS_VEC;
    i8v alt0;
    for (int j = 0; j < OBS_VEC; j++) alt0[j] = (int8_t)-(j & 1);
    lane_counts c;
    memset(&c, 0, sizeof c);
    for (int y = y0; y < y1; y++) {
        const int8_t *lv = s->st.level + (int64_t)y * Lx, *sg = s->st.sigma + (int64_t)y * Lx;
        const i8v alt = (y & 1) ? ~alt0 : alt0;
        for (int x = 0; x < nvec; x += OBS_VEC) {
            count_block(lv + x, sg + x, alt, &c);
            if (++c.nblocks == OBS_FLUSH) lanes_flush(&c, t);
        }
        for (int x = nvec; x < Lx; x++) {
            const int l = lv[x];
            t->hist[l + 1]++;
            t->stag += (l >= 0) * sg[x] * (((x + y) & 1) ? -1 : 1);
        }
    }
    lanes_flush(&c, t);
}

/* Below this many sites one thread counts: waking the others costs more. */
enum { OBS_PARALLEL_SITES = 1 << 16 };

static void count_levels(const sim_state *s, level_totals *t)
{
    const int Ly = s->lat.Ly;
    int64_t hist[NLEVELS] = {0}, stag = 0;
    #pragma omp parallel for schedule(static) reduction(+ : hist[:NLEVELS], stag) \
        if (s->lat.N >= OBS_PARALLEL_SITES)
    for (int y = 0; y < Ly; y += 16) {
        level_totals p = {{0}, 0};
        obs_count_rows(s, y, y + 16 < Ly ? y + 16 : Ly, &p);
        for (int k = 0; k < NLEVELS; k++) hist[k] += p.hist[k];
        stag += p.stag;
    }
    int64_t hscl = 0;
    for (int k = 1; k < NLEVELS; k++) hscl += hist[k];
    hist[0] = s->lat.N - hscl;
    memcpy(t->hist, hist, sizeof hist);
    t->stag = stag;
}

static void core_measure(void *st, const sim_state *s, double *row)
{
    core_group *c = st;
    const double N = (double)s->lat.N;
    level_totals t;
    count_levels(s, &t);
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
};
