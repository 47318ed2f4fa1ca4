/* The level dynamics over MPI ranks (mpi/level_mpi.h).
 *
 * Rank 0 drives, the others follow: every step is a command broadcast
 * from rank 0 (SETUP, SCATTER, SWEEP, FREE, STOP) that all ranks then
 * carry out together. A sweep is, for colour 0 then 1: start the halo
 * exchange, update the block's interior (which reads no halo), finish the
 * exchange, update the block's edge rows and columns. Energy and move
 * counts are integers, summed over ranks exactly; the blocks are gathered
 * to rank 0 after each sweep, so that its global state is current for
 * every diagnostic and checkpoint (the cost of keeping all of the serial
 * output code; docs/mpi.md says what that costs and what comes next). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dynamics/dynamics.h"
#include "dynamics/level.h"
#include "mpi/decomp.h"
#include "mpi/level_mpi.h"
#include "mpi/session.h"

enum { CMD_STOP = 0, CMD_SETUP = 1, CMD_SCATTER = 2, CMD_SWEEP = 3, CMD_FREE = 4 };

typedef struct {
    int64_t op, arg, step;
    double T;
} lat_cmd;

typedef struct {
    lattice lat;
    model_params p;
    uint64_t seed;
    int threads;
} lat_setup;

/* One rank's part: its block and the tables for the current T. */
typedef struct {
    decomp d;
    level_tables *t;
    model_params p;
    uint64_t seed;
    int split;       /* rank 0: the lattice is split (else it sweeps alone) */
    int scattered;   /* the blocks hold rank 0's current state */
} lat_engine;

/* Rank 0 sends, everyone receives, without spinning while waiting. */
static lat_cmd command(lat_cmd c)
{
    MPI_Request rq;
    MPI_Ibcast(&c, (int)sizeof c, MPI_BYTE, 0, MPI_COMM_WORLD, &rq);
    mpi_wait_gently(&rq, MPI_STATUS_IGNORE);
    return c;
}

static level_tables *tables_new(void)
{
    /* 64-byte aligned: the SIMD path loads the compact tables as vectors */
    level_tables *t = aligned_alloc(64, (sizeof *t + 63) / 64 * 64);
    if (t) {
        memset(t, 0, sizeof *t);
        t->T = -1.0;
    }
    return t;
}

static void engine_free(lat_engine *e)
{
    decomp_free(&e->d);
    free(e->t);
    e->t = NULL;
}

/* Collective: the block decomposition of setup's lattice on every rank. */
static int engine_setup(lat_engine *e, const lat_setup *su, sm_error *err)
{
    e->p = su->p;
    e->seed = su->seed;
    if (decomp_init(&e->d, MPI_COMM_WORLD, &su->lat, err)) return 1;   /* the same on every rank */
    e->t = tables_new();
    int ok = e->t != NULL, all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (all) return 0;
    engine_free(e);
    return sm_fail(err, "out of memory for the level tables");
}

/* One colour of a sub-block of this rank's block (offsets in owned sites). */
static void sweep_part(lat_engine *e, int colour, int x, int y, int nx, int ny, uint64_t step,
                       energy_terms *de, move_stats *ms)
{
    if (nx <= 0 || ny <= 0) return;
    const level_block *b = &e->d.b;
    const int64_t off = (int64_t)y * b->stride + x;
    const level_block part = {b->level + off, b->sigma + off, b->stride, b->gx0 + x, b->gy0 + y,
                              nx, ny, b->lat};
    level_sweep_block_colour(&part, colour, &e->p, e->t, e->seed, step, de, ms, LEVEL_KERNEL_AUTO);
}

/* The interior while the halo travels, then the edges that read it. */
static void sweep_colour(lat_engine *e, int colour, uint64_t step, energy_terms *de, move_stats *ms)
{
    const int nx = e->d.b.nx, ny = e->d.b.ny;
    MPI_Request rq[16];
    decomp_halo_begin(&e->d, rq);
    const int inner = nx >= 3 && ny >= 3;
    if (inner) sweep_part(e, colour, 1, 1, nx - 2, ny - 2, step, de, ms);
    decomp_halo_end(rq);
    if (!inner) {
        sweep_part(e, colour, 0, 0, nx, ny, step, de, ms);
        return;
    }
    sweep_part(e, colour, 0, 0, nx, 1, step, de, ms);
    sweep_part(e, colour, 0, ny - 1, nx, 1, step, de, ms);
    sweep_part(e, colour, 0, 1, 1, ny - 2, step, de, ms);
    sweep_part(e, colour, nx - 1, 1, 1, ny - 2, step, de, ms);
}

/* Collective: one sweep of every block; the sums of all ranks' changes
 * reach rank 0's *de and *ms, the blocks its global arrays. */
static void engine_sweep(lat_engine *e, uint64_t step, double T, int8_t *const global[2],
                         energy_terms *de, move_stats *ms)
{
    if (e->t->T != T) level_tables_build(e->t, &e->p, T);
    energy_terms d = {0, 0, 0, 0};
    move_stats m;
    memset(&m, 0, sizeof m);
    for (int colour = 0; colour < 2; colour++) sweep_colour(e, colour, step, &d, &m);
    int64_t mine[4 + 2 * MOVES_MAX] = {d.sum_C, d.n_steps, d.sum_J, d.sum_h}, all[4 + 2 * MOVES_MAX];
    memcpy(mine + 4, m.proposed, sizeof m.proposed);
    memcpy(mine + 4 + MOVES_MAX, m.accepted, sizeof m.accepted);
    MPI_Reduce(mine, all, 4 + 2 * MOVES_MAX, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    decomp_gather(&e->d, global);
    if (!de) return;   /* not rank 0 */
    const energy_terms sum = {all[0], all[1], all[2], all[3]};
    energy_terms_add(de, &sum);
    move_stats ms_sum;
    memcpy(ms_sum.proposed, all + 4, sizeof ms_sum.proposed);
    memcpy(ms_sum.accepted, all + 4 + MOVES_MAX, sizeof ms_sum.accepted);
    move_stats_add(ms, &ms_sum);
}

/* ---- ranks 1..P-1 ------------------------------------------------------ */

int mpi_lattice_serve(void)
{
    lat_engine e;
    memset(&e, 0, sizeof e);
    int8_t *const none[2] = {NULL, NULL};
    for (;;) {
        const lat_cmd c = command((lat_cmd){0, 0, 0, 0});
        switch (c.op) {
        case CMD_SETUP: {
            lat_setup su;
            MPI_Bcast(&su, (int)sizeof su, MPI_BYTE, 0, MPI_COMM_WORLD);
            omp_set_num_threads(su.threads);
            sm_error err;   /* rank 0 reports the same failure */
            if (engine_setup(&e, &su, &err)) memset(&e, 0, sizeof e);
            break;
        }
        case CMD_SCATTER: decomp_scatter(&e.d, none); break;
        case CMD_SWEEP: engine_sweep(&e, (uint64_t)c.step, c.T, none, NULL, NULL); break;
        case CMD_FREE: engine_free(&e); break;
        default: engine_free(&e); return (int)c.arg;
        }
    }
}

void mpi_lattice_stop(int code)
{
    const mpi_session *s = mpi_session_get();
    if (s && s->size > 1 && s->rank == 0) command((lat_cmd){CMD_STOP, code, 0, 0});
}

/* ---- rank 0: the dynamics kind ------------------------------------------ */

static lat_engine *engine_of(const sim_state *s) { return s->dyn_data; }

static int lm_init(sim_state *s, const sm_config *cfg, sm_error *err)
{
    (void)cfg;
    lat_engine *e = calloc(1, sizeof *e);
    if (!e) return sm_fail(err, "out of memory for the level dynamics");
    s->dyn_data = e;
    e->p = s->p;
    e->seed = s->seed;
    if (!mpi_session_claim_lattice()) {   /* alone: the OpenMP level sweep */
        if ((e->t = tables_new())) return 0;
        free(e);
        s->dyn_data = NULL;
        return sm_fail(err, "out of memory for the level tables");
    }
    const lat_setup su = {s->lat, s->p, s->seed, omp_get_max_threads()};
    command((lat_cmd){CMD_SETUP, 0, 0, 0});
    MPI_Bcast((void *)&su, (int)sizeof su, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (engine_setup(e, &su, err)) {
        mpi_session_release_lattice();
        free(e);
        s->dyn_data = NULL;
        return 1;
    }
    e->split = 1;
    /* for tests and for a first look at a new machine (docs/mpi.md) */
    if (getenv("SOFTMATRIX_MPI_VERBOSE"))
        fprintf(stderr, "softmatrix: level dynamics: %dx%d lattice split over %dx%d ranks, rank 0's "
                "block %dx%d\n", s->lat.Lx, s->lat.Ly, e->d.px, e->d.py, e->d.b.nx, e->d.b.ny);
    return 0;
}

static void lm_set_temperature(sim_state *s, double T)
{
    level_tables *t = engine_of(s)->t;
    if (t->T != T) level_tables_build(t, &s->p, T);
}

static void lm_sweep(sim_state *s)
{
    lat_engine *e = engine_of(s);
    if (!e->split) {
        level_sweep(&s->lat, &s->st, &s->p, e->t, s->seed, (uint64_t)s->step, &s->e, &s->moves);
        return;
    }
    int8_t *const global[2] = {s->st.level, s->st.sigma};
    if (!e->scattered) {
        command((lat_cmd){CMD_SCATTER, 0, 0, 0});
        decomp_scatter(&e->d, global);
        e->scattered = 1;
    }
    command((lat_cmd){CMD_SWEEP, 0, s->step, s->T});
    engine_sweep(e, (uint64_t)s->step, s->T, global, &s->e, &s->moves);
}

static int64_t lm_updates(const sim_state *s) { return s->lat.N; }

/* Nothing of its own: the tables are rebuilt from T, the blocks from the
 * restored global state. */
static void lm_save(const sim_state *s, ckpt_writer *w) { (void)s, (void)w; }

static int lm_restore(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    (void)r, (void)err;
    engine_of(s)->scattered = 0;
    return 0;
}

static void lm_free(sim_state *s)
{
    lat_engine *e = engine_of(s);
    if (!e) return;
    if (e->split) {
        command((lat_cmd){CMD_FREE, 0, 0, 0});
        mpi_session_release_lattice();
    }
    engine_free(e);
    free(e);
    s->dyn_data = NULL;
}

const dynamics_ops DYNAMICS_LEVEL_MPI = {
    .update_unit = "site-update",
    .nmoves = LEVEL_NMOVES,
    .move_names = LEVEL_MOVE_NAMES,
    .bytes_per_site = 0,
    .init = lm_init,
    .set_temperature = lm_set_temperature,
    .sweep = lm_sweep,
    .updates_per_sweep = lm_updates,
    .save = lm_save,
    .restore = lm_restore,
    .free = lm_free,
};
