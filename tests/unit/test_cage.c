/* The cage dynamics (docs/model.md section 6): pairing and RSOS invariants, phase
 * bounds, incremental energy against recomputation, the Metropolis
 * thresholds and their detailed-balance ratios, soft-matrix footprints, the
 * PCP geometry, and bitwise reproducibility for 1 and 2 threads. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <omp.h>
#include "dynamics/cage.h"
#include "check.h"
#include "io/config.h"
#include "core/pcp.h"
#include "core/rng.h"
#include "core/state.h"
#include "dynamics/dynamics.h"

/* test_trajectory_pinned's state after run_hot */
#define CAGE_PINNED_CHECKSUM 0x6b1bc17aeaf60da1ull

/* sm_config holds the whole schedule table: too big for the stack */
static sm_config CFG;

static int make_sim(sim_state *s, const char *json)
{
    sm_error err;
    if (config_parse(&CFG, json, "test", NULL, 0, &err)) {
        fprintf(stderr, "  config: %s\n", err.msg);
        return 1;
    }
    if (sim_init(s, &CFG, &err)) {
        fprintf(stderr, "  sim_init: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int energy_matches(const sim_state *s)
{
    energy_terms e;
    energy_terms_compute(&s->lat, &s->st, &e);
    return e.sum_C == s->e.sum_C && e.n_steps == s->e.n_steps && e.sum_J == s->e.sum_J &&
           e.sum_h == s->e.sum_h;
}

/* A pair jump keeps the pairing, the diagonals and the angle-line equality
 * for every paired state and both directions. */
static void test_pairing_rule_is_closed(void)
{
    int paired = 0;
    for (int pa = 0; pa < NPHASE; pa++)
        for (int pb = 0; pb < NPHASE; pb++)
            for (int sa = -1; sa <= 1; sa += 2)
                for (int sb = -1; sb <= 1; sb += 2)
                    for (int d = 0; d < 4; d++) {
                        if (!cage_paired(pa, sa, pb, sb, d)) continue;
                        paired++;
                        /* the same bond seen from b */
                        CHECK(cage_paired(pb, sb, pa, sa, (d + 2) & 3), "pairing not symmetric");
                        for (int step = -1; step <= 1; step += 2) {
                            const int lam = (pa & 15) + step;
                            if (lam < 0 || lam > 15) continue;
                            CHECK(cage_paired(pa + step, sa, pb + step, sb, d),
                                  "pair jump broke pairing %d %d", pa, pb);
                            CHECK((pa + step) >> 4 == pa >> 4, "pair jump left the diagonal");
                        }
                    }
    /* each (q_a, s_a) faces one direction; b's diagonal is then fixed up to
     * its sigma: 64 * 2 (a) x 2 (s_b) x one q_b, one lambda */
    CHECK(paired == 64 * 2 * 2, "paired states %d", paired);
    CHECK(cage_facing(0, 1) == DIR_PX && cage_facing(0, -1) == DIR_PX, "phi = 0 faces +x");
    CHECK(cage_facing(16, 1) == DIR_PY && cage_facing(16, -1) == DIR_MY, "q = 1");
}

/* Only pair jumps enabled: every phase change is a +-1 step of both ends of
 * a paired bond, inside the diagonal; levels, sigma and H are untouched. */
static void test_pair_jumps_only(void)
{
    sim_state s;
    if (make_sim(&s, "{\"lattice\": {\"Lx\": 16, \"Ly\": 16}, \"dynamics\": {\"kind\": \"cage\"},"
                     " \"temperature\": 2, \"init\": {\"level\": 2}, \"run\": {\"seed\": 4}}")) {
        CHECK(0, "set-up");
        return;
    }
    const int64_t N = s.lat.N;
    /* many paired bonds: neighbours along x on facing diagonals, same line */
    for (int64_t a = 0; a < N; a++) {
        const int x = lattice_x(&s.lat, a), y = lattice_y(&s.lat, a);
        s.st.sigma[a] = 1;
        s.st.phase[a] = (uint8_t)((x & 1 ? 32 : 0) + ((x / 2 + y) % 16));
    }
    cage_tables t;
    cage_tables_build(&t, &s.p, 2.0);
    t.async = t.trap = 0;
    memset(t.loop, 0, sizeof t.loop);
    memset(t.sigma, 0, sizeof t.sigma);
    uint8_t *prev = malloc((size_t)N);
    int64_t moved = 0;
    for (int sw = 0; sw < 50; sw++) {
        memcpy(prev, s.st.phase, (size_t)N);
        energy_terms de = {0};
        move_stats ms = {0};
        cage_sweep(&s.lat, &s.st, &s.p, &t, s.kin, s.seed, (uint64_t)sw, &de, &ms);
        CHECK(de.sum_C == 0 && de.n_steps == 0 && de.sum_J == 0 && de.sum_h == 0, "energy moved");
        CHECK(ms.accepted[CAGE_MOVE_SINGLE] + ms.accepted[CAGE_MOVE_TRAP] +
                  ms.accepted[CAGE_MOVE_LOOP] + ms.accepted[CAGE_MOVE_SIGMA] == 0,
              "a disabled move was accepted");
        for (int64_t a = 0; a < N; a++) {
            const int dp = s.st.phase[a] - prev[a];
            if (!dp) continue;
            moved++;
            CHECK(dp == 1 || dp == -1, "phase jumped by %d", dp);
            CHECK(s.st.phase[a] >> 4 == prev[a] >> 4, "left the diagonal");
            const int d = cage_facing(s.st.phase[a], s.st.sigma[a]);
            const int64_t b = lattice_nbr(&s.lat, a, d);
            CHECK(s.st.phase[b] - prev[b] == dp, "partner did not move with it");
            CHECK(cage_paired(s.st.phase[a], s.st.sigma[a], s.st.phase[b], s.st.sigma[b], d),
                  "pair broken");
        }
    }
    CHECK(moved > 1000, "only %lld pair moves", (long long)moved);
    free(prev);
    sim_free(&s);
}

/* Full dynamics in several regimes: phases stay in 0..63, levels in range,
 * RSOS holds, the incremental energy equals a recomputation. */
static void test_invariants_and_energy(void)
{
    const char *cases[] = {
        "{\"lattice\": {\"Lx\": 12, \"Ly\": 10}, \"dynamics\": {\"kind\": \"cage\", \"trap_barrier\": 0,"
        " \"async_barrier\": 0}, \"temperature\": 3, \"init\": {\"level\": \"random\"},"
        " \"run\": {\"seed\": 1}}",
        "{\"lattice\": {\"Lx\": 9, \"Ly\": 7, \"boundary\": \"open\"}, \"model\": {\"eps_step\": 0.3,"
        " \"h\": 0.9, \"J\": -0.2}, \"dynamics\": {\"kind\": \"cage\", \"trap_barrier\": 0.1,"
        " \"async_barrier\": -0.5}, \"temperature\": 2, \"init\": {\"level\": 0}, \"run\": {\"seed\": 2}}",
        "{\"lattice\": {\"Lx\": 8, \"Ly\": 8}, \"dynamics\": {\"kind\": \"cage\", \"trap_barrier\": 0,"
        " \"async_barrier\": 0}, \"temperature\": 9, \"init\": {\"level\": 7}, \"run\": {\"seed\": 3}}",
        "{\"lattice\": {\"Lx\": 4, \"Ly\": 2}, \"dynamics\": {\"kind\": \"cage\", \"trap_barrier\": 0},"
        " \"temperature\": 0.7, \"init\": {\"level\": -1}, \"run\": {\"seed\": 5}}",
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sim_state s;
        if (make_sim(&s, cases[c])) {
            CHECK(0, "set-up %zu", c);
            continue;
        }
        sim_set_temperature(&s, CFG.seg[0].T_from);
        int bad_phase = 0, bad_level = 0;
        int64_t rsos = 0;
        for (int sw = 0; sw < 4000; sw++) {
            sim_sweep(&s);
            if (sw % 100) continue;
            rsos += model_rsos_violations(&s.lat, &s.st);
            for (int64_t a = 0; a < s.lat.N; a++) {
                bad_phase += s.st.phase[a] >= NPHASE;
                bad_level += s.st.level[a] < LEVEL_MIN || s.st.level[a] > LEVEL_MAX;
            }
        }
        CHECK(rsos == 0 && bad_phase == 0 && bad_level == 0, "case %zu: rsos %lld phase %d level %d",
              c, (long long)rsos, bad_phase, bad_level);
        CHECK(energy_matches(&s), "case %zu: incremental energy differs from recomputation", c);
        CHECK(s.moves.accepted[CAGE_MOVE_LOOP] > 0, "case %zu: no loop completed", c);
        const kin_counters *k = &s.kin->c;
        int64_t comp = 0, undo = 0;
        for (int i = 0; i < KIN_NLOOPS; i++) comp += k->completions[i], undo += k->undos[i];
        CHECK(comp + undo == s.moves.accepted[CAGE_MOVE_LOOP], "case %zu: loop counts", c);
        for (int i = 0; i < KIN_NTAU; i++)
            CHECK(k->tau_count[i] <= k->completions[i + 1], "case %zu: tau count %d", c, i);
        sim_free(&s);
    }
}

/* Thresholds: barrier factors, and W(x) P(x->y) = W(y) P(y->x) for every
 * loop crossing, i.e. thr(l -> l+1) / thr(l+1 -> l) = W'/W. */
static void test_thresholds(void)
{
    model_params p;
    model_params_default(&p);
    p.eps_step = 0.2;
    p.h = 0.5;
    const double T = 1.3;
    cage_tables t;
    cage_tables_build(&t, &p, T);
    CHECK(t.trap == model_threshold(exp(-1.0 / T)), "trap threshold");
    CHECK(t.async == model_threshold(exp(-0.125 / T)), "async threshold");
    const double two32 = 4294967296.0, c = exp(-1.0 / T);
    for (int l = LEVEL_MIN; l < LEVEL_MAX; l++)
        for (int k = 0; k < 9; k++)
            for (int sp = 0; sp < 2; sp++)
                for (int j = 0; j < 9; j++) {
                    /* reverse move: neighbours at l and l+1 swap roles */
                    const double up = (double)t.loop[l + 1][1][k][sp][j] / two32;
                    const double dn = (double)t.loop[l + 2][0][8 - k][sp][j] / two32;
                    const double r = model_level_ratio(&p, T, l, l + 1, sp ? 1 : -1, k - 4, 0, j - 4);
                    CHECK(fabs(up / dn - r) <= 1e-6 * r, "l %d k %d: %g vs %g", l, k, up / dn, r);
                    CHECK(fabs(fmax(up, dn) - c) < 1e-9, "l %d: the larger side is the trap factor", l);
                }
    for (int k = 0; k < 9; k++)
        for (int sp = 0; sp < 2; sp++)
            for (int j = 0; j < 9; j++) {
                CHECK(t.loop[LEVEL_MAX + 1][1][k][sp][j] == 0, "no loop past level 8");
                CHECK(t.loop[0][0][k][sp][j] == 0, "no loop below level -1");
            }
    /* negative barriers act as 0: both directions accept with the same factor */
    p.trap_barrier = -2.0;
    p.async_barrier = -1.0;
    cage_tables_build(&t, &p, T);
    CHECK(t.trap == (uint64_t)1 << 32 && t.async == (uint64_t)1 << 32, "negative barrier capped");
}

/* An L x L lattice with level, sigma, the PCP fields and the kinetics of a
 * 100-sweep run, default parameters; 1 (a failed check) when set-up fails. */
static int pcp_fields_init(lattice *lat, model_state *st, model_params *p, kinetics *k, int L,
                           boundary_kind bc)
{
    sm_error err;
    model_params_default(p);
    if (lattice_init(lat, L, L, bc, &err) || model_state_init(st, lat->N, &err) ||
        model_state_init_pcp(st, p, &err) || kinetics_init(k, lat, 100, &err)) {
        CHECK(0, "set-up: %s", err.msg);
        return 1;
    }
    return 0;
}

/* Soft-matrix footprint: 141 sites (diamond of radius 8 without its tips),
 * each moved once by sigma n_z; overlaps on a small periodic lattice count a
 * site once; open boundaries cut the footprint. */
static void test_soft_matrix_footprint(void)
{
    const struct { int L; boundary_kind bc; int expect; } cases[] = {
        {32, BOUNDARY_PERIODIC, 141}, {8, BOUNDARY_PERIODIC, 64}, {32, BOUNDARY_OPEN, 0}};
    for (int c = 0; c < 3; c++) {
        lattice lat;
        model_state st;
        model_params p;
        kinetics k;
        if (pcp_fields_init(&lat, &st, &p, &k, cases[c].L, cases[c].bc)) return;
        const int64_t a = cases[c].bc == BOUNDARY_OPEN ? 0 : 5 * lat.Lx + 3; /* corner when open */
        const int x = lattice_x(&lat, a), y = lattice_y(&lat, a);
        kinetics_mark_event(&k, x, y, 0); /* sigma = -1 */
        kinetics_apply_jumps(&k, &lat, &st, (x + y) & 1);
        int hit = 0, wrong = 0;
        for (int64_t b = 0; b < lat.N; b++) {
            if (st.zjumps[b] == 0) continue;
            hit++;
            wrong += st.zjumps[b] != -1 || model_z(&st, b) != -(float)st.n_z;
        }
        /* open corner: the quarter diamond x, y >= 0, x + y <= 8, minus 2 tips */
        const int expect = cases[c].expect ? cases[c].expect : 45 - 2;
        CHECK(hit == expect, "case %d: %d sites moved, expected %d", c, hit, expect);
        CHECK(wrong == 0, "case %d: %d sites moved by the wrong amount", c, wrong);
        CHECK(fabs(st.n_z - pow(200.0, -0.625)) < 1e-15, "n_z %g", st.n_z);
        CHECK(k.nevents[y] == 0 && k.ev_mask[(int64_t)y * k.row_words] == 0, "events not cleared");
        kinetics_free(&k);
        model_state_free(&st);
    }
}

/* Geometry: every diagonal's midpoint faces dir(q, sigma); the PCP stays on
 * the cage cube; phi = 0 is on the +x diagonal for both orientations. */
static void test_pcp_geometry(void)
{
    const double dd = 1.177592 - 1.122462; /* q_R - q_0 */
    const int ex[4] = {1, 0, -1, 0}, ey[4] = {0, 1, 0, -1};
    for (int sg = -1; sg <= 1; sg += 2)
        for (int q = 0; q < 4; q++) {
            float a[3], b[3];
            pcp_position(16 * q, sg, a);
            pcp_position(16 * ((q + 1) & 3), sg, b); /* the end vertex is the next start */
            const double mx = 0.5 * (a[0] + b[0]), my = 0.5 * (a[1] + b[1]), mz = 0.5 * (a[2] + b[2]);
            const int d = cage_facing(16 * q, sg);
            CHECK(fabs(mx - dd * ex[d]) < 1e-5 && fabs(my - dd * ey[d]) < 1e-5 && fabs(mz) < 1e-5,
                  "sigma %d q %d: midpoint (%g %g %g) does not face %d", sg, q, mx, my, mz, d);
            for (int lam = 0; lam < 16; lam++) {
                float v[3];
                pcp_position(16 * q + lam, sg, v);
                for (int i = 0; i < 3; i++) CHECK(fabs(v[i]) <= dd + 1e-5, "outside the cage");
            }
            /* the last line stops short of the vertex by the trap angle */
            float e[3];
            pcp_position(16 * q + 15, sg, e);
            const double gap = sqrt((e[0] - b[0]) * (e[0] - b[0]) + (e[1] - b[1]) * (e[1] - b[1]) +
                                    (e[2] - b[2]) * (e[2] - b[2]));
            CHECK(gap > 0 && gap < 0.01 * 2 * sqrt(2.0) * dd, "trap gap %g", gap);
        }
}

/* The level dynamics keeps level and sigma only; the cage dynamics adds
 * phase and the jump counts, and its estimate counts what it allocates. */
static void test_fields_by_kind(void)
{
    sim_state s;
    if (make_sim(&s, "{\"lattice\": {\"Lx\": 8, \"Ly\": 6}, \"temperature\": 1}")) {
        CHECK(0, "set-up");
        return;
    }
    CHECK(s.st.level && s.st.sigma && !s.st.phase && !s.st.zjumps && !s.kin, "level fields");
    sim_free(&s);
    if (make_sim(&s, "{\"lattice\": {\"Lx\": 8, \"Ly\": 6}, \"temperature\": 1, \"dynamics\": {\"kind\": \"cage\"}}")) {
        CHECK(0, "set-up");
        return;
    }
    /* a short run: int16 counts and uint16 stamps */
    CHECK(s.st.phase && s.st.zjumps && !s.st.zjumps_wide && s.kin && s.kin->stamp16 && !s.kin->stamp32,
          "cage fields");
    CHECK(s.dyn->bytes_per_site_of && s.dyn->bytes_per_site_of(&CFG) == 2.125, "cage bytes_per_site %g",
          s.dyn->bytes_per_site_of(&CFG));
    CHECK(model_state_bytes_per_site(1) == 5 && model_state_bytes_per_site(0) == 2, "state bytes");
    sim_free(&s);
    /* a run past sweep 65534: uint32 stamps from the start */
    if (make_sim(&s, "{\"lattice\": {\"Lx\": 8, \"Ly\": 6}, \"temperature\": 1, \"dynamics\": {\"kind\": \"cage\"},"
                     " \"run\": {\"sweeps\": 65000, \"equilibration_sweeps\": 536}}")) {
        CHECK(0, "set-up");
        return;
    }
    CHECK(!s.kin->stamp16 && s.kin->stamp32, "65536 sweeps: uint32 stamps");
    CHECK(s.dyn->bytes_per_site_of(&CFG) == 4.125, "long run bytes_per_site %g", s.dyn->bytes_per_site_of(&CFG));
    sim_free(&s);
}

/* The tau bookkeeping against the definition it replaced: a site's last
 * completion sweep and the level it reached, kept here from the level
 * field seen after each sweep (a site crosses a loop at most once a sweep:
 * once in its colour pass, never in a bond pass). A completion to l2
 * closes a tau_(l2-1) interval when the last completion reached l2 - 1. */
static void test_tau_against_definition(void)
{
    sim_state s;
    omp_set_num_threads(1);
    if (make_sim(&s, "{\"lattice\": {\"Lx\": 16, \"Ly\": 16}, \"dynamics\": {\"kind\": \"cage\","
                     " \"trap_barrier\": 0, \"async_barrier\": 0}, \"temperature\": 9,"
                     " \"init\": {\"level\": 4}, \"run\": {\"seed\": 5}}")) {
        CHECK(0, "set-up");
        return;
    }
    const int64_t N = s.lat.N;
    int64_t *last = calloc((size_t)N, sizeof *last);
    int8_t *reached = malloc((size_t)N), *before = malloc((size_t)N);
    int64_t sum[KIN_NTAU] = {0}, count[KIN_NTAU] = {0}, undos = 0;
    for (int64_t a = 0; a < N; a++) {
        reached[a] = -100;
        s.st.phase[a] = (uint8_t)(a % NPHASE);
    }
    sim_set_temperature(&s, 9.0);
    /* a loop is a random walk of 64 steps: thousands of sweeps */
    for (int sw = 0; sw < 12000; sw++) {
        memcpy(before, s.st.level, (size_t)N);
        const int64_t now = s.step;
        sim_sweep(&s);
        for (int64_t a = 0; a < N; a++) {
            const int l = before[a], l2 = s.st.level[a];
            undos += l2 == l - 1;
            if (l2 != l + 1) continue;
            if (l2 >= 1 && reached[a] == l2 - 1) {
                sum[l2 - 1] += now - last[a];
                count[l2 - 1]++;
            }
            reached[a] = (int8_t)l2;
            last[a] = now;
        }
    }
    int64_t total = 0, ctotal = 0, utotal = 0;
    for (int i = 0; i < KIN_NTAU; i++) {
        CHECK(s.kin->c.tau_count[i] == count[i] && s.kin->c.tau_sum[i] == sum[i],
              "tau_%d: %lld intervals, sum %lld; by definition %lld, %lld", i,
              (long long)s.kin->c.tau_count[i], (long long)s.kin->c.tau_sum[i], (long long)count[i],
              (long long)sum[i]);
        total += count[i];
    }
    for (int i = 0; i < KIN_NLOOPS; i++) {
        ctotal += s.kin->c.completions[i];
        utotal += s.kin->c.undos[i];
    }
    CHECK(utotal == undos && undos > 100 && total > 50 && ctotal > total,
          "undos %lld (seen %lld), intervals %lld, completions %lld", (long long)utotal,
          (long long)undos, (long long)total, (long long)ctotal);
    free(last);
    free(reached);
    free(before);
    sim_free(&s);
}

/* The row's random words are rng_draw's, on every path the CPU has (scalar,
 * AVX2, AVX-512), including a counter that wraps 2^32 and rows whose
 * length is not a multiple of 16 (the AVX2 path's tail is scalar). */
static void test_row_randoms(void)
{
    const uint64_t seed = 0x123456789abcdefull, sweep = 0x100000007ull;
    const int64_t starts[2] = {1001, 4294967290LL};
    for (int simd = 0; simd <= cage_simd_available(); simd++)
        for (int k = 0; k < 2; k++) {
            uint32_t o[3][64];
            cage_row_randoms(simd, seed, sweep, 1, starts[k], 61, o[0], o[1], o[2]);
            int bad = 0;
            for (int i = 0; i < 61; i++) {
                const rng_block r = rng_draw(seed, sweep, RNG_STREAM_CAGE_SITE, 1, (uint32_t)(starts[k] + 2 * i));
                bad += o[0][i] != r.v[0] || o[1][i] != r.v[1] || o[2][i] != r.v[2];
            }
            CHECK(bad == 0, "simd %d start %lld: %d sites differ", simd, (long long)starts[k], bad);
        }
    if (cage_simd_available() < CAGE_RNG_AVX512) printf("   (no AVX-512 here: its path not checked)\n");
}

/* Same seed, 1 and 2 threads: identical fields, energies, counters. The
 * lattice is big enough for the passes to run in parallel, hot enough for
 * loops and soft-matrix jumps. */
static void run_threads(int threads, sim_state *s)
{
    omp_set_num_threads(threads);
    if (make_sim(s, "{\"lattice\": {\"Lx\": 96, \"Ly\": 64}, \"dynamics\": {\"kind\": \"cage\","
                    " \"trap_barrier\": 0, \"async_barrier\": 0}, \"temperature\": 9,"
                    " \"init\": {\"level\": 7}, \"run\": {\"seed\": 77}}")) {
        CHECK(0, "set-up");
        return;
    }
    /* PCPs near the end of their loop, so that level 8 is reached at once */
    for (int64_t a = 0; a < s->lat.N; a++) s->st.phase[a] = (uint8_t)(56 + a % 8);
    sim_set_temperature(s, 9.0);
    for (int sw = 0; sw < 300; sw++) sim_sweep(s);
}

static void test_threads_bitwise(void)
{
    sim_state a, b;
    run_threads(1, &a);
    run_threads(2, &b);
    const size_t N = (size_t)a.lat.N;
    CHECK(memcmp(a.st.level, b.st.level, N) == 0, "level differs");
    CHECK(memcmp(a.st.sigma, b.st.sigma, N) == 0, "sigma differs");
    CHECK(memcmp(a.st.phase, b.st.phase, N) == 0, "phase differs");
    CHECK(memcmp(a.st.zjumps, b.st.zjumps, N * sizeof *a.st.zjumps) == 0, "z differs");
    CHECK(memcmp(&a.e, &b.e, sizeof a.e) == 0, "energy differs");
    CHECK(memcmp(&a.moves, &b.moves, sizeof a.moves) == 0, "move counts differ");
    CHECK(memcmp(&a.kin->c, &b.kin->c, sizeof a.kin->c) == 0, "kinetic counters differ");
    CHECK(a.kin->c.sm_jumps > 0, "no soft-matrix jump happened");
    CHECK(energy_matches(&a), "energy bookkeeping");
    sim_free(&a);
    sim_free(&b);
}

/* The int16 jump counts widen to int32 when one would leave the int16
 * range: every count keeps its value, the one that overflowed gets its
 * exact new value, and the int32 counts still saturate. */
static void test_z_widens_exactly(void)
{
    lattice lat;
    model_state st;
    model_params p;
    kinetics k;
    if (pcp_fields_init(&lat, &st, &p, &k, 32, BOUNDARY_PERIODIC)) return;
    const int64_t N = lat.N, a = 5 * lat.Lx + 3;
    int32_t *want = malloc(sizeof *want * (size_t)N);
    /* every value of the int16 range appears, both ends included */
    for (int64_t b = 0; b < N; b++) st.zjumps[b] = (int16_t)(b * 64 - 32768 + (b & 63));
    const int64_t far = 21 * lat.Lx + 19; /* outside a's footprint */
    st.zjumps[a] = INT16_MAX;
    st.zjumps[far] = INT16_MIN;
    for (int64_t b = 0; b < N; b++) want[b] = st.zjumps[b];
    kinetics_mark_event(&k, 3, 5, 1); /* sigma = +1 at a: its footprint + 1 */
    kinetics_apply_jumps(&k, &lat, &st, (3 + 5) & 1);
    CHECK(!st.zjumps && st.zjumps_wide, "not widened");
    int moved = 0, wrong = 0;
    for (int64_t b = 0; b < N && st.zjumps_wide; b++) {
        const int32_t d = st.zjumps_wide[b] - want[b];
        moved += d == 1;
        wrong += d != 0 && d != 1;
    }
    CHECK(moved == 141 && wrong == 0, "%d moved, %d wrong", moved, wrong);
    CHECK(model_zjumps(&st, a) == 32768 && model_z(&st, a) == (float)(32768 * st.n_z), "overflowed count");
    CHECK(model_zjumps(&st, far) == INT16_MIN, "far count");
    st.zjumps_wide[a] = INT32_MAX;
    kinetics_mark_event(&k, 3, 5, 1);
    kinetics_apply_jumps(&k, &lat, &st, (3 + 5) & 1);
    CHECK(model_zjumps(&st, a) == INT32_MAX, "int32 count wrapped");
    free(want);
    kinetics_free(&k);
    model_state_free(&st);
}

/* uint16 stamps for runs of at most 0xFFFF sweeps, uint32 beyond; they
 * widen before sweep 0xFFFF with every stamp and "none" kept. */
static void test_stamp_widths(void)
{
    CHECK(kinetics_bytes_per_site(KIN_STAMP16_SWEEPS) == 2.125, "65535 sweeps");
    CHECK(kinetics_bytes_per_site(KIN_STAMP16_SWEEPS + 1) == 4.125, "65536 sweeps");
    lattice lat;
    kinetics k;
    sm_error err;
    if (lattice_init(&lat, 16, 8, BOUNDARY_PERIODIC, &err) ||
        kinetics_init(&k, &lat, KIN_STAMP16_SWEEPS, &err)) {
        CHECK(0, "set-up");
        return;
    }
    CHECK(k.stamp16 && !k.stamp32, "uint16 stamps");
    for (int64_t a = 0; a < lat.N; a++)
        kinetics_set_stamp(&k, a, a % 3 ? (uint32_t)(a * 511) : KIN_NO_STAMP);
    kinetics_set_stamp(&k, 1, KIN_STAMP16_SWEEPS - 1);
    kinetics_before_sweep(&k, lat.N, KIN_STAMP16_SWEEPS - 1);
    CHECK(k.stamp16, "widened too early");
    kinetics_before_sweep(&k, lat.N, KIN_STAMP16_SWEEPS);
    CHECK(!k.stamp16 && k.stamp32, "not widened");
    int wrong = 0;
    for (int64_t a = 2; a < lat.N; a++)
        wrong += kinetics_stamp(&k, a) != (a % 3 ? (uint32_t)(a * 511) : KIN_NO_STAMP);
    CHECK(wrong == 0 && kinetics_stamp(&k, 1) == KIN_STAMP16_SWEEPS - 1, "%d stamps changed", wrong);
    kinetics_set_stamp(&k, 2, KIN_STAMP16_SWEEPS);
    CHECK(kinetics_stamp(&k, 2) == KIN_STAMP16_SWEEPS, "a wide stamp");
    kinetics_free(&k);
}

/* The narrow counts and stamps give the trajectory the int32 / uint32 ones
 * give: a hot run like run_threads', long enough for tau intervals (a loop
 * of 64 jumps after a completion), twice, once widened before its first
 * sweep. */
static void run_hot(sim_state *s, int widen)
{
    omp_set_num_threads(1);
    if (make_sim(s, "{\"lattice\": {\"Lx\": 32, \"Ly\": 24}, \"dynamics\": {\"kind\": \"cage\","
                    " \"trap_barrier\": 0, \"async_barrier\": 0}, \"temperature\": 9,"
                    " \"init\": {\"level\": 7}, \"run\": {\"seed\": 78}}")) {
        CHECK(0, "set-up");
        return;
    }
    if (widen) CHECK(!model_state_widen_z(&s->st) && !kinetics_widen_stamps(s->kin, s->lat.N), "widen");
    for (int64_t a = 0; a < s->lat.N; a++) s->st.phase[a] = (uint8_t)(56 + a % 8);
    sim_set_temperature(s, 9.0);
    for (int sw = 0; sw < 3000; sw++) sim_sweep(s);
}

static int same_state(const sim_state *a, const sim_state *b)
{
    const size_t N = (size_t)a->lat.N;
    int same = !memcmp(a->st.level, b->st.level, N) && !memcmp(a->st.sigma, b->st.sigma, N) &&
               !memcmp(a->st.phase, b->st.phase, N) && !memcmp(&a->e, &b->e, sizeof a->e) &&
               !memcmp(&a->moves, &b->moves, sizeof a->moves) &&
               !memcmp(&a->kin->c, &b->kin->c, sizeof a->kin->c) && a->step == b->step;
    for (int64_t i = 0; i < a->lat.N && same; i++)
        same = model_zjumps(&a->st, i) == model_zjumps(&b->st, i) &&
               kinetics_stamp(a->kin, i) == kinetics_stamp(b->kin, i);
    return same;
}

static void test_narrow_storage_is_exact(void)
{
    sim_state a, b;
    run_hot(&a, 0);
    run_hot(&b, 1);
    CHECK(a.st.zjumps && a.kin->stamp16 && b.st.zjumps_wide && b.kin->stamp32, "widths");
    int64_t taus = 0;
    for (int i = 0; i < KIN_NTAU; i++) taus += a.kin->c.tau_count[i];
    CHECK(a.kin->c.sm_jumps > 0 && taus > 0, "%lld soft-matrix jumps, %lld tau intervals",
          (long long)a.kin->c.sm_jumps, (long long)taus);
    int nz = 0;
    for (int64_t i = 0; i < a.lat.N; i++) nz += model_zjumps(&a.st, i) != 0;
    CHECK(nz > a.lat.N / 2, "only %d counts moved", nz);
    CHECK(same_state(&a, &b), "int16/uint16 and int32/uint32 runs differ");
    sim_free(&a);
    sim_free(&b);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* A checksum of run_hot's state: every field, the z counts and stamps by
 * value, the energy sums, the move and kinetic counters. */
static uint64_t state_checksum(const sim_state *s)
{
    const size_t N = (size_t)s->lat.N;
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv(h, s->st.level, N);
    h = fnv(h, s->st.sigma, N);
    h = fnv(h, s->st.phase, N);
    for (int64_t a = 0; a < s->lat.N; a++) {
        const int32_t z = model_zjumps(&s->st, a);
        const uint32_t t = kinetics_stamp(s->kin, a);
        h = fnv(h, &z, sizeof z);
        h = fnv(h, &t, sizeof t);
    }
    h = fnv(h, &s->e, sizeof s->e);
    h = fnv(h, &s->moves, sizeof s->moves);
    return fnv(h, &s->kin->c, sizeof s->kin->c);
}

/* The trajectory of a hot run, where levels move, loops are crossed both
 * ways, sigma flips and soft matrices form, pinned as a checksum of the
 * state after 3000 sweeps: a change to the sweep that keeps the invariants
 * but moves differently fails here (the pinned runs of tests/test_pinned.py
 * stay at level -1, where no loop can be undone). */
static void test_trajectory_pinned(void)
{
    sim_state s;
    run_hot(&s, 0);
    const uint64_t h = state_checksum(&s);
    CHECK(h == CAGE_PINNED_CHECKSUM, "checksum %016llx", (unsigned long long)h);
    sim_free(&s);
}

/* Saves a to checkpoint `path` and restores it into a fresh *b of run_hot's
 * config. */
static int roundtrip(const sim_state *a, const char *path, sim_state *b)
{
    sm_error err;
    ckpt_writer w;
    ckpt_reader r;
    int missing = 0;
    if (ckpt_writer_open(&w, path, &err)) return 1;
    sim_save(a, &w);
    if (ckpt_writer_commit(&w, a->step, &err) ||
        make_sim(b, "{\"lattice\": {\"Lx\": 32, \"Ly\": 24}, \"dynamics\": {\"kind\": \"cage\","
                    " \"trap_barrier\": 0, \"async_barrier\": 0}, \"temperature\": 9,"
                    " \"init\": {\"level\": 7}, \"run\": {\"seed\": 78}}"))
        return 1;
    if (ckpt_reader_open(&r, path, &missing, &err)) return 1;
    const int rc = sim_restore(b, &r, &err);
    if (rc) fprintf(stderr, "  restore: %s\n", err.msg);
    ckpt_reader_close(&r);
    return rc;
}

/* A checkpoint restores the z counts and the stamps at the widths the run
 * that wrote it kept (site records of 2 or 4 bytes): int16 and uint16 from
 * a narrow run, int32 and uint32 once it has widened them, as the run
 * itself would have gone on. */
static void test_checkpoint_widths(void)
{
    sim_state a, b;
    run_hot(&a, 0);
    char path[] = "/tmp/sm_test_cage_ckptXXXXXX";
    const int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return;
    close(fd);
    for (int round = 0; round < 3; round++) {
        const int wide = round > 0;
        if (round == 1) {
            /* a count beyond int16, stamps of a run past uint16 sweeps */
            CHECK(!model_state_widen_z(&a.st) && !kinetics_widen_stamps(a.kin, a.lat.N), "widen");
            a.st.zjumps_wide[3] = -40000;
        }
        if (roundtrip(&a, path, &b)) {
            CHECK(0, "round %d: checkpoint round trip", round);
            break;
        }
        CHECK(wide ? b.st.zjumps_wide && !b.st.zjumps : b.st.zjumps && !b.st.zjumps_wide,
              "round %d: z width after restore", round);
        CHECK(wide ? b.kin->stamp32 && !b.kin->stamp16 : b.kin->stamp16 && !b.kin->stamp32,
              "round %d: stamp width after restore", round);
        CHECK(same_state(&a, &b), "round %d: restored state differs", round);
        sim_free(&a);
        a = b; /* round 2 saves what round 1 restored */
    }
    sim_free(&a);
    unlink(path);
}

/* ---- a lattice cut into blocks (the MPI split, in one process) -------- */

enum { MAXB = 6 };

/* One block with halo storage, as a rank of the MPI build holds it: level,
 * sigma, phase and stamps with one halo cell per side, int32 counts. */
typedef struct {
    cage_block b;
    int8_t *lv, *sg;
    uint8_t *ph;
    uint32_t *stamp;
    int32_t *z;
    kinetics k;
} test_block;

static void block_init(test_block *t, const lattice *lat, int gx0, int gy0, int nx, int ny)
{
    const size_t cells = (size_t)(nx + 2) * (size_t)(ny + 2);
    const int64_t o = nx + 3;   /* the first owned cell */
    t->lv = calloc(cells, 1);
    t->sg = calloc(cells, 1);
    t->ph = calloc(cells, 1);
    t->stamp = malloc(cells * sizeof *t->stamp);
    t->z = calloc((size_t)nx * (size_t)ny, sizeof *t->z);
    sm_error err;
    CHECK(!kinetics_init_events(&t->k, lat, nx, ny, &err), "events");
    t->k.stamp32 = t->stamp + o;
    t->b = (cage_block){t->lv + o, t->sg + o, t->ph + o, &t->k, nx + 2, gx0, gy0, nx, ny, lat};
}

static void block_free(test_block *t)
{
    t->k.stamp32 = NULL;
    kinetics_free(&t->k);
    free(t->lv); free(t->sg); free(t->ph); free(t->stamp); free(t->z);
}

/* Owned cells to the global state (from_global 0) or back (1), halo cells
 * from it (halo 1: the neighbour across each edge, wrapped when periodic). */
static void block_copy(test_block *t, model_state *g, const lattice *lat, int from_global, int halo)
{
    const cage_block *b = &t->b;
    for (int y = -halo; y < b->ny + halo; y++)
        for (int x = -halo; x < b->nx + halo; x++) {
            const int inside = x >= 0 && x < b->nx && y >= 0 && y < b->ny;
            if (halo && (inside || ((x < 0 || x >= b->nx) && (y < 0 || y >= b->ny)))) continue;
            int gx = b->gx0 + x, gy = b->gy0 + y;
            gx = (gx + lat->Lx) % lat->Lx;
            gy = (gy + lat->Ly) % lat->Ly;
            const int64_t a = (int64_t)y * b->stride + x, ga = (int64_t)gy * lat->Lx + gx;
            if (from_global) {
                b->level[a] = g->level[ga];
                b->sigma[a] = g->sigma[ga];
                b->phase[a] = g->phase[ga];
            } else {
                g->level[ga] = b->level[a];
                g->sigma[ga] = b->sigma[a];
                g->phase[ga] = b->phase[a];
            }
        }
}

/* Every block's owned cells to the mirror, then every halo from it. */
static void refresh_halos(test_block *blk, int n, model_state *mirror, const lattice *lat)
{
    for (int i = 0; i < n; i++) block_copy(&blk[i], mirror, lat, 0, 0);
    for (int i = 0; i < n; i++) block_copy(&blk[i], mirror, lat, 1, 1);
}

static int event_order(const void *pa, const void *pb)
{
    const int64_t *a = pa, *b = pb;
    return (a[0] > b[0]) - (a[0] < b[0]);
}

/* The soft-matrix events of every block's colour pass, in the order of
 * their global index, applied to every block's counts. Returns the number. */
static int64_t exchange_events(test_block *blk, int n, const lattice *lat, int colour, int *wide)
{
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += kinetics_event_count(&blk[i].k, blk[i].b.ny);
    int64_t (*ev)[2] = malloc(sizeof *ev * (size_t)(total + 1));
    int32_t *one = malloc(sizeof *one * 3 * (size_t)(total + 1));
    int64_t m = 0;
    for (int i = 0; i < n; i++) {
        const cage_block *b = &blk[i].b;
        const int64_t c = kinetics_event_count(&blk[i].k, b->ny);
        kinetics_take_events(&blk[i].k, b->ny, (colour + b->gx0 + b->gy0) & 1, one);
        for (int64_t e = 0; e < c; e++, m++) {
            const int gx = b->gx0 + one[3 * e], gy = b->gy0 + one[3 * e + 1];
            ev[m][0] = (int64_t)gy * lat->Lx + gx;
            ev[m][1] = one[3 * e + 2];
        }
    }
    qsort(ev, (size_t)total, sizeof *ev, event_order);
    for (int64_t e = 0; e < total; e++)
        for (int i = 0; i < n; i++) {
            const cage_block *b = &blk[i].b;
            *wide |= kinetics_apply_event_block(&blk[i].k, lat, (int)(ev[e][0] % lat->Lx),
                                                (int)(ev[e][0] / lat->Lx), (int)ev[e][1], blk[i].z,
                                                b->gx0, b->gy0, b->nx, b->ny);
        }
    free(ev);
    free(one);
    return total;
}

/* One cage sweep of the blocks: what cage_sweep does to the whole lattice. */
static int64_t sweep_blocks(test_block *blk, int n, model_state *mirror, const lattice *lat,
                            const model_params *p, const cage_tables *t, uint64_t seed, uint64_t sw,
                            energy_terms *de, move_stats *ms, kin_counters *kc, int *wide)
{
    int64_t events = 0;
    for (int cls = 0; cls < 4; cls += cls == 0 ? 2 : 1) {
        refresh_halos(blk, n, mirror, lat);
        for (int i = 0; i < n; i++) cage_block_bonds(&blk[i].b, cls, seed, sw, ms);
    }
    for (int colour = 0; colour < 2; colour++) {
        refresh_halos(blk, n, mirror, lat);
        for (int i = 0; i < n; i++) cage_block_colour(&blk[i].b, colour, p, t, seed, sw, de, ms, kc);
        events += exchange_events(blk, n, lat, colour, wide);
    }
    return events;
}

/* A sweep of n blocks, returning the number of soft-matrix events. */
typedef int64_t (*blocks_sweep)(test_block *blk, int n, model_state *mirror, const lattice *lat,
                                const model_params *p, const cage_tables *t, uint64_t seed, uint64_t sw,
                                energy_terms *de, move_stats *ms, kin_counters *kc, int *wide);

/* A hot lattice cut into px x py uneven blocks, swept block by block with
 * halos refreshed before each pass and the soft-matrix events exchanged,
 * equals cage_sweep bit for bit: fields, counts, stamps, sums. z0: the
 * counts to start from (near the int16 limit, the whole lattice's counts
 * are widened on the way, and the blocks must say so). */
static void blocks_equal_whole_by(blocks_sweep sweep, int Lx, int Ly, const char *boundary, int px, int py,
                                  int16_t z0)
{
    char json[512];
    snprintf(json, sizeof json, "{\"lattice\": {\"Lx\": %d, \"Ly\": %d, \"boundary\": \"%s\"},"
             " \"dynamics\": {\"kind\": \"cage\", \"trap_barrier\": 0, \"async_barrier\": 0},"
             " \"temperature\": 9, \"init\": {\"level\": 7}, \"run\": {\"seed\": 79}}", Lx, Ly, boundary);
    sim_state s, m;
    if (make_sim(&s, json) || make_sim(&m, json)) {
        CHECK(0, "set-up");
        return;
    }
    for (int64_t a = 0; a < s.lat.N; a++) {
        s.st.phase[a] = m.st.phase[a] = (uint8_t)(56 + a % 8);
        s.st.zjumps[a] = z0;
    }
    cage_tables t;
    cage_tables_build(&t, &s.p, 9.0);
    test_block blk[MAXB];
    const int n = px * py;
    for (int i = 0; i < n; i++) {
        const int cx = i % px, cy = i / px;
        const int x0 = cx * Lx / px, y0 = cy * Ly / py;
        block_init(&blk[i], &s.lat, x0, y0, (cx + 1) * Lx / px - x0, (cy + 1) * Ly / py - y0);
        block_copy(&blk[i], &m.st, &s.lat, 1, 0);
        for (int64_t c = 0; c < (int64_t)(blk[i].b.nx + 2) * (blk[i].b.ny + 2); c++)
            blk[i].stamp[c] = KIN_NO_STAMP;
        for (int64_t c = 0; c < (int64_t)blk[i].b.nx * blk[i].b.ny; c++) blk[i].z[c] = z0;
    }
    energy_terms de = {0}, bde = {0};
    move_stats ms = {0}, bms = {0};
    kin_counters kc;
    memset(&kc, 0, sizeof kc);
    int wide = 0;
    int64_t events = 0, near_edge = 0;
    for (int sw = 0; sw < 200; sw++) {
        cage_sweep(&s.lat, &s.st, &s.p, &t, s.kin, s.seed, (uint64_t)sw, &de, &ms);
        events += sweep(blk, n, &m.st, &s.lat, &s.p, &t, s.seed, (uint64_t)sw, &bde, &bms, &kc, &wide);
    }
    for (int i = 0; i < n; i++) block_copy(&blk[i], &m.st, &s.lat, 0, 0);
    const size_t N = (size_t)s.lat.N;
    CHECK(memcmp(s.st.level, m.st.level, N) == 0, "level differs");
    CHECK(memcmp(s.st.sigma, m.st.sigma, N) == 0, "sigma differs");
    CHECK(memcmp(s.st.phase, m.st.phase, N) == 0, "phase differs");
    int same_z = 1, same_stamp = 1;
    for (int i = 0; i < n; i++) {
        const cage_block *b = &blk[i].b;
        for (int y = 0; y < b->ny; y++)
            for (int x = 0; x < b->nx; x++) {
                const int64_t ga = (int64_t)(b->gy0 + y) * Lx + b->gx0 + x;
                same_z &= blk[i].z[y * b->nx + x] == model_zjumps(&s.st, ga);
                same_stamp &= kinetics_stamp(&blk[i].k, y * b->stride + x) == kinetics_stamp(s.kin, ga);
                /* an event's footprint crosses the block edge */
                near_edge += x < 8 || y < 8 || x >= b->nx - 8 || y >= b->ny - 8;
            }
    }
    CHECK(same_z, "z counts differ");
    CHECK(same_stamp, "kinetic stamps differ");
    CHECK(wide == (s.st.zjumps_wide != NULL) && wide == (z0 > 0), "widening: blocks %d, whole %d", wide,
          s.st.zjumps_wide != NULL);
    CHECK(memcmp(&de, &bde, sizeof de) == 0, "energy differs");
    CHECK(memcmp(&ms, &bms, sizeof ms) == 0, "move counts differ");
    CHECK(memcmp(&s.kin->c, &kc, sizeof kc) == 0, "kinetic counters differ");
    CHECK(kc.sm_jumps == events && events > 100 && ms.accepted[CAGE_MOVE_PAIR] > 0,
          "%lld events, %lld pair jumps", (long long)events, (long long)ms.accepted[CAGE_MOVE_PAIR]);
    CHECK(near_edge > 0, "no site near a block edge");
    for (int i = 0; i < n; i++) block_free(&blk[i]);
    sim_free(&s);
    sim_free(&m);
}

static void blocks_equal_whole(int Lx, int Ly, const char *boundary, int px, int py, int16_t z0)
{
    blocks_equal_whole_by(sweep_blocks, Lx, Ly, boundary, px, py, z0);
}

static void test_blocks_equal_whole_sweep(void)
{
    blocks_equal_whole(37, 29, "open", 3, 2, 0);
    blocks_equal_whole(36, 30, "periodic", 2, 3, INT16_MAX - 3);
    blocks_equal_whole(20, 18, "periodic", 1, 2, 0);   /* one block across x: its own x halo */
    blocks_equal_whole(21, 9, "open", 2, 1, INT16_MAX - 3);
}

/* ---- the split cage dynamics' own schedule (mpi/cage_part.c cage_part_sweep) -- */

/* The passes of a sweep in order: bond classes 0 (both x classes), 2, 3,
 * colours 0 and 1. */
static const int PASSES[5] = {0, 2, 3, CAGE_PASS_COLOUR, CAGE_PASS_COLOUR};

enum { PART_WHOLE, PART_INTERIOR, PART_EDGES };

/* Where a pass adds its sums. */
typedef struct {
    energy_terms *de;
    move_stats *ms;
    kin_counters *kc;
} pass_sums;

typedef struct {
    const model_params *p;
    const cage_tables *t;
    uint64_t seed, sw;
} pass_ctx;

/* Pass i of PASSES on block b: the whole pass, its interior or its edges. */
static void block_pass(const cage_block *b, int i, int which, const pass_ctx *c, const pass_sums *sum)
{
    const cage_rect in = cage_block_interior(b, PASSES[i]);
    cage_rect part[4] = {cage_block_whole(b)};
    int n = 1;
    if (which == PART_INTERIOR) part[0] = in;
    if (which == PART_EDGES) n = cage_block_edges(b, in, part);
    for (int k = 0; k < n; k++) {
        if (i < 3) cage_block_bonds_part(b, PASSES[i], part[k], c->seed, c->sw, sum->ms);
        else cage_block_colour_part(b, i - 3, part[k], c->p, c->t, c->seed, c->sw, sum->de, sum->ms, sum->kc);
    }
}

/* The colour pass's soft-matrix events of every block, as (colour, global
 * index, sign), appended at ev[*m]. */
static void take_block_events(test_block *blk, int n, const lattice *lat, int colour, int64_t (*ev)[3], int64_t *m)
{
    for (int i = 0; i < n; i++) {
        const cage_block *b = &blk[i].b;
        const int64_t c = kinetics_event_count(&blk[i].k, b->ny);
        int32_t *one = malloc(sizeof *one * 3 * (size_t)(c + 1));
        kinetics_take_events(&blk[i].k, b->ny, (colour + b->gx0 + b->gy0) & 1, one);
        for (int64_t e = 0; e < c; e++, (*m)++) {
            ev[*m][0] = colour;
            ev[*m][1] = (int64_t)(b->gy0 + one[3 * e + 1]) * lat->Lx + b->gx0 + one[3 * e];
            ev[*m][2] = one[3 * e + 2];
        }
        free(one);
    }
}

static int sweep_event_order(const void *pa, const void *pb)
{
    const int64_t *a = pa, *b = pb;
    return a[0] != b[0] ? (a[0] > b[0]) - (a[0] < b[0]) : (a[1] > b[1]) - (a[1] < b[1]);
}

/* One cage sweep of the blocks in part_sweep's order: one halo refresh for
 * the three bond passes and colour 0, every pass's interior before its
 * edges (the bond passes' interiors all first), colour 0's edges before the
 * second refresh, the interiors of colour 0 and 1 after it, colour 1's
 * edges last; the events of both colours applied once, in the serial order
 * (colour 0's, then colour 1's, each by global index). */
static int64_t sweep_blocks_overlapped(test_block *blk, int n, model_state *mirror, const lattice *lat,
                                       const model_params *p, const cage_tables *t, uint64_t seed,
                                       uint64_t sw, energy_terms *de, move_stats *ms, kin_counters *kc,
                                       int *wide)
{
    const pass_ctx c = {p, t, seed, sw};
    const pass_sums sum = {de, ms, kc};
    refresh_halos(blk, n, mirror, lat);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) block_pass(&blk[i].b, k, PART_INTERIOR, &c, &sum);
        for (int k = 0; k < 3; k++) block_pass(&blk[i].b, k, PART_EDGES, &c, &sum);
        block_pass(&blk[i].b, 3, PART_EDGES, &c, &sum);
    }
    refresh_halos(blk, n, mirror, lat);
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += (int64_t)blk[i].b.nx * blk[i].b.ny;
    int64_t (*ev)[3] = malloc(sizeof *ev * (size_t)total), m = 0;
    for (int i = 0; i < n; i++) block_pass(&blk[i].b, 3, PART_INTERIOR, &c, &sum);
    take_block_events(blk, n, lat, 0, ev, &m);
    for (int i = 0; i < n; i++) {
        block_pass(&blk[i].b, 4, PART_INTERIOR, &c, &sum);
        block_pass(&blk[i].b, 4, PART_EDGES, &c, &sum);
    }
    take_block_events(blk, n, lat, 1, ev, &m);
    qsort(ev, (size_t)m, sizeof *ev, sweep_event_order);
    for (int64_t e = 0; e < m; e++)
        for (int i = 0; i < n; i++) {
            const cage_block *b = &blk[i].b;
            *wide |= kinetics_apply_event_block(&blk[i].k, lat, (int)(ev[e][1] % lat->Lx),
                                                (int)(ev[e][1] / lat->Lx), (int)ev[e][2], blk[i].z,
                                                b->gx0, b->gy0, b->nx, b->ny);
        }
    free(ev);
    return m;
}

static size_t block_cells(const test_block *t) { return (size_t)(t->b.nx + 2) * (size_t)(t->b.ny + 2); }

/* to's cells, halo included, and stamps set to from's. */
static void block_assign(test_block *to, const test_block *from)
{
    const size_t c = block_cells(from);
    memcpy(to->lv, from->lv, c);
    memcpy(to->sg, from->sg, c);
    memcpy(to->ph, from->ph, c);
    memcpy(to->stamp, from->stamp, c * sizeof *to->stamp);
}

/* Whether a and b hold the same cells, halo included, and stamps. */
static int block_same(const test_block *a, const test_block *b)
{
    const size_t c = block_cells(a);
    return !memcmp(a->lv, b->lv, c) && !memcmp(a->sg, b->sg, c) && !memcmp(a->ph, b->ph, c) &&
           !memcmp(a->stamp, b->stamp, c * sizeof *a->stamp);
}

/* Whether a and b hold the same owned sites (edge: only the edge rows and
 * columns, what a halo exchange sends) and stamps. */
static int owned_same(const test_block *a, const test_block *b, int edge)
{
    const cage_block *k = &a->b;
    for (int y = 0; y < k->ny; y++)
        for (int x = 0; x < k->nx; x++) {
            if (edge && x > 0 && x < k->nx - 1 && y > 0 && y < k->ny - 1) continue;
            const int64_t i = (int64_t)y * k->stride + x;
            if (k->level[i] != b->b.level[i] || k->sigma[i] != b->b.sigma[i] || k->phase[i] != b->b.phase[i] ||
                a->k.stamp32[i] != b->k.stamp32[i])
                return 0;
        }
    return 1;
}

/* Every halo cell changed, so that a pass that reads one goes otherwise. */
static void poison_halo(test_block *t)
{
    const cage_block *b = &t->b;
    for (int y = -1; y <= b->ny; y++)
        for (int x = -1; x <= b->nx; x++) {
            if (x >= 0 && x < b->nx && y >= 0 && y < b->ny) continue;
            const int64_t i = (int64_t)y * b->stride + x;
            b->level[i] = (int8_t)((b->level[i] + 6) % 10 - 1);
            b->sigma[i] = (int8_t)-b->sigma[i];
            b->phase[i] ^= 0x2F;
        }
}

/* The soft-matrix events of a colour pass of block t (taken: the buffers
 * cleared) into ev; returns how many ints. */
static int64_t block_events(test_block *t, int colour, int32_t *ev)
{
    const int64_t n = 3 * kinetics_event_count(&t->k, t->b.ny);
    kinetics_take_events(&t->k, t->b.ny, (colour + t->b.gx0 + t->b.gy0) & 1, ev);
    return n;
}

typedef struct {
    energy_terms de;
    move_stats ms;
    kin_counters kc;
} sums_of;

/* One block of the hot lattice g at (gx0, gy0), nx x ny, its halo never
 * refreshed, swept pass by pass: whole (W); interior then edges (A); edges
 * then interior (B) — equal in fields, stamps, sums and events; and its
 * interior alone with the halo as it is (Q) and poisoned (P): equal, and
 * no edge site changed. Adds the events and pair jumps seen. */
static void parts_equal_whole(sim_state *g, const cage_tables *t, int gx0, int gy0, int nx, int ny,
                              int64_t *events, int64_t *pairs)
{
    enum { W, A, B, Q, P, BEFORE, NB };
    test_block k[NB];
    for (int i = 0; i < NB; i++) block_init(&k[i], &g->lat, gx0, gy0, nx, ny);
    block_copy(&k[W], &g->st, &g->lat, 1, 0);
    block_copy(&k[W], &g->st, &g->lat, 1, 1);
    for (size_t c = 0; c < block_cells(&k[W]); c++) k[W].stamp[c] = KIN_NO_STAMP;
    block_assign(&k[A], &k[W]);
    block_assign(&k[B], &k[W]);
    int32_t *ev[NB];
    for (int i = 0; i < NB; i++) ev[i] = malloc(sizeof *ev[i] * 3 * (size_t)nx * (size_t)ny);
    int ok = 1;
    for (int sw = 0; sw < 30 && ok; sw++)
        for (int pass = 0; pass < 5 && ok; pass++) {
            const pass_ctx c = {&g->p, t, g->seed, (uint64_t)sw};
            sums_of sum[NB];
            memset(sum, 0, sizeof sum);
            pass_sums to[NB];
            for (int i = 0; i < NB; i++) to[i] = (pass_sums){&sum[i].de, &sum[i].ms, &sum[i].kc};
            block_assign(&k[Q], &k[W]);
            block_assign(&k[P], &k[W]);
            block_assign(&k[BEFORE], &k[W]);
            poison_halo(&k[P]);
            block_pass(&k[W].b, pass, PART_WHOLE, &c, &to[W]);
            block_pass(&k[A].b, pass, PART_INTERIOR, &c, &to[A]);
            block_pass(&k[A].b, pass, PART_EDGES, &c, &to[A]);
            block_pass(&k[B].b, pass, PART_EDGES, &c, &to[B]);
            block_pass(&k[B].b, pass, PART_INTERIOR, &c, &to[B]);
            block_pass(&k[Q].b, pass, PART_INTERIOR, &c, &to[Q]);
            block_pass(&k[P].b, pass, PART_INTERIOR, &c, &to[P]);
            int64_t nev[NB] = {0};
            for (int i = 0; i < BEFORE && pass >= 3; i++) nev[i] = block_events(&k[i], pass - 3, ev[i]);
            *events += nev[W] / 3;
            *pairs += sum[W].ms.accepted[CAGE_MOVE_PAIR];
            for (int i = A; i <= B; i++)
                ok &= block_same(&k[W], &k[i]) && !memcmp(&sum[W], &sum[i], sizeof sum[W]) &&
                      nev[i] == nev[W] && !memcmp(ev[i], ev[W], sizeof *ev[W] * (size_t)nev[W]);
            ok &= owned_same(&k[Q], &k[P], 0) && owned_same(&k[Q], &k[BEFORE], 1) &&
                  !memcmp(&sum[Q], &sum[P], sizeof sum[Q]) && nev[Q] == nev[P] &&
                  !memcmp(ev[Q], ev[P], sizeof *ev[Q] * (size_t)nev[Q]);
            CHECK(ok, "%dx%d block at (%d, %d) of %s: sweep %d, pass %d", nx, ny, gx0, gy0,
                  g->lat.boundary == BOUNDARY_OPEN ? "open" : "periodic", sw, pass);
        }
    for (int i = 0; i < NB; i++) {
        free(ev[i]);
        block_free(&k[i]);
    }
}

/* A pass in parts is the whole pass, and its interior reads no halo and
 * moves no edge site: blocks from 1 x 1 up, inside the lattice, at its open
 * corners and across its periodic wrap. */
static void test_block_parts_equal_whole_pass(void)
{
    static const int SIZES[][2] = {{1, 1}, {1, 4}, {4, 1}, {2, 2}, {2, 5}, {5, 2}, {3, 3},
                                   {3, 7}, {7, 3}, {4, 4}, {6, 5}, {9, 8}, {12, 11}};
    const int n = (int)(sizeof SIZES / sizeof *SIZES);
    int64_t events = 0, pairs = 0;
    for (int open = 0; open < 2; open++) {
        char json[512];
        snprintf(json, sizeof json, "{\"lattice\": {\"Lx\": %d, \"Ly\": %d, \"boundary\": \"%s\"},"
                 " \"dynamics\": {\"kind\": \"cage\", \"trap_barrier\": 0, \"async_barrier\": 0},"
                 " \"temperature\": 9, \"init\": {\"level\": 7}, \"run\": {\"seed\": 83}}",
                 open ? 23 : 24, open ? 19 : 20, open ? "open" : "periodic");
        sim_state g;
        if (make_sim(&g, json)) {
            CHECK(0, "set-up");
            return;
        }
        for (int64_t a = 0; a < g.lat.N; a++) g.st.phase[a] = (uint8_t)(a * 37 % 64);
        cage_tables t;
        cage_tables_build(&t, &g.p, 9.0);
        for (int i = 0; i < n; i++) {
            const int nx = SIZES[i][0], ny = SIZES[i][1];
            parts_equal_whole(&g, &t, 5, 4, nx, ny, &events, &pairs);
            parts_equal_whole(&g, &t, 0, 0, nx, ny, &events, &pairs);
            parts_equal_whole(&g, &t, g.lat.Lx - nx, g.lat.Ly - ny, nx, ny, &events, &pairs);
        }
        sim_free(&g);
    }
    CHECK(events > 100 && pairs > 100, "%lld events, %lld pair jumps", (long long)events, (long long)pairs);
}

static void test_blocks_overlapped_equal_whole_sweep(void)
{
    blocks_equal_whole_by(sweep_blocks_overlapped, 36, 30, "periodic", 2, 3, INT16_MAX - 3);
    blocks_equal_whole_by(sweep_blocks_overlapped, 20, 18, "periodic", 1, 2, 0);
    /* blocks of 1 to 3 sites across: no interior, or an interior of one row */
    blocks_equal_whole_by(sweep_blocks_overlapped, 7, 60, "open", 3, 2, INT16_MAX - 3);
    blocks_equal_whole_by(sweep_blocks_overlapped, 60, 5, "open", 2, 3, 0);
    blocks_equal_whole_by(sweep_blocks_overlapped, 4, 80, "periodic", 2, 3, 0);
}

int main(void)
{
    RUN(test_pairing_rule_is_closed);
    RUN(test_pair_jumps_only);
    RUN(test_invariants_and_energy);
    RUN(test_thresholds);
    RUN(test_soft_matrix_footprint);
    RUN(test_pcp_geometry);
    RUN(test_fields_by_kind);
    RUN(test_tau_against_definition);
    RUN(test_row_randoms);
    RUN(test_threads_bitwise);
    RUN(test_z_widens_exactly);
    RUN(test_stamp_widths);
    RUN(test_narrow_storage_is_exact);
    RUN(test_checkpoint_widths);
    RUN(test_trajectory_pinned);
    RUN(test_blocks_equal_whole_sweep);
    RUN(test_block_parts_equal_whole_pass);
    RUN(test_blocks_overlapped_equal_whole_sweep);
    return CHECK_REPORT();
}
