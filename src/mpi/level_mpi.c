/* The level dynamics over MPI ranks (mpi/level_mpi.h). "Rank" here is a
 * rank of the lattice communicator (mpi/session.h): the whole job's, or a
 * sweep group's.
 *
 * Rank 0 drives, the others follow: every step is a command broadcast
 * from rank 0 (SETUP, SCATTER, SWEEP, SUMS, COUNT, CENSUS, SNAPSHOT, GATHER,
 * FREE, STOP and the checkpoint's) that
 * all ranks then carry out together. A sweep is, for colour 0 then 1: start the halo
 * exchange, update the block's interior (which reads no halo), finish the
 * exchange, update the block's edge rows and columns. Between sweeps every
 * rank keeps its block and its own sums of energy changes and move counts.
 * Only when the run reads the state does rank 0 command what it needs:
 * SUMS adds those integers over ranks exactly (sim_sync_sums), COUNT the
 * blocks' field counts (the observables), CENSUS the census on the blocks
 * (mpi/census_mpi.h), SNAPSHOT has every rank write its block of the
 * snapshot frames into the output file collectively (mpi/snapshot_mpi.h),
 * GATHER the blocks into rank 0's global arrays (sim_sync: the census of
 * a periodic lattice under 16 a side), which the serial code then reads
 * (docs/mpi.md says what that costs). In a cage run's level-dynamics
 * equilibration the blocks are the cage dynamics' own, lent
 * (lattice_loan): SETUP copies their description instead of making blocks.
 * Checkpoints are written and read by the blocks themselves (CKPT_WRITE,
 * CKPT_READ, TERMS; mpi/ckpt_mpi.h), and so is the initial state (INIT):
 * rank 0's global arrays are allocated and written only by a GATHER. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dynamics/dynamics.h"
#include "dynamics/level.h"
#include "mpi/census_mpi.h"
#include "mpi/ckpt_mpi.h"
#include "mpi/decomp.h"
#include "mpi/lattice_cmd.h"
#include "mpi/level_mpi.h"
#include "mpi/session.h"
#include "mpi/snapshot_mpi.h"

typedef struct {
    lattice lat;
    model_params p;
    uint64_t seed;
    int threads;
    int borrow;      /* sweep the blocks the cage part lends (lattice_loan) */
} lat_setup;

/* One rank's part: its block and the tables for the current T. */
typedef struct {
    decomp d;        /* its own, or a copy of a lattice_loan's */
    snapshot_pcp pcp;   /* borrowed: the lender's phase and z, for snapshots */
    int borrowed;
    level_tables *t;
    model_params p;
    uint64_t seed;
    int split;       /* rank 0: the lattice is split (else it sweeps alone) */
    int scattered;   /* the blocks hold rank 0's current state */
    int ahead;       /* rank 0: SIM_SYNC_* bits of what is behind the blocks */
    energy_terms de; /* this rank's changes since the last SUMS */
    move_stats ms;
    lattice_tally n;   /* rank 0: commands sent */
} lat_engine;

/* The ranks the lattice is split over (mpi/session.h). */
MPI_Comm mpi_lattice_comm(void) { return mpi_session_get()->lattice_comm; }
static MPI_Comm lattice_comm(void) { return mpi_lattice_comm(); }

/* Rank 0 sends, everyone receives, without spinning while waiting: with a
 * lattice split (busy), the next command comes within a sweep; without,
 * perhaps only at the end of rank 0's subcommand. */
lat_cmd mpi_lattice_command(lat_cmd c, int busy)
{
    MPI_Request rq;
    MPI_Ibcast(&c, (int)sizeof c, MPI_BYTE, 0, lattice_comm(), &rq);
    mpi_wait_gently(&rq, MPI_STATUS_IGNORE, busy ? MPI_NAP_LATTICE_NS : MPI_NAP_FARM_NS);
    return c;
}

static lat_cmd command(lat_cmd c, int busy) { return mpi_lattice_command(c, busy); }

void mpi_lattice_tally_print(const char *kind, const lattice_tally *t)
{
    if (!getenv("SOFTMATRIX_MPI_VERBOSE")) return;
    fprintf(stderr, "softmatrix: %s dynamics: %lld split sweeps, %lld sums, %lld counts, %lld gathers, "
            "%lld censuses, %lld snapshots, %lld block writes, %lld block reads\n", kind, (long long)t->sweeps,
            (long long)t->sums, (long long)t->counts, (long long)t->gathers, (long long)t->censuses,
            (long long)t->snapshots, (long long)t->block_writes, (long long)t->block_reads);
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
    if (e->borrowed) memset(&e->d, 0, sizeof e->d);   /* the lender's to free */
    else decomp_free(&e->d);
    e->borrowed = 0;
    free(e->t);
    e->t = NULL;
}

/* The loan's blocks as this engine's: a copy of the lender's description,
 * whose storage, grid and datatypes both then use. */
static void engine_borrow(lat_engine *e, const lattice_loan *loan)
{
    e->d = *loan->d;
    e->pcp = loan->pcp;
    e->borrowed = 1;
}

/* Collective: the block decomposition of setup's lattice on every rank, or
 * the blocks of loan (su->borrow; the same grid on every rank). */
static int engine_setup(lat_engine *e, const lat_setup *su, const lattice_loan *loan, sm_error *err)
{
    e->p = su->p;
    e->seed = su->seed;
    memset(&e->de, 0, sizeof e->de);
    memset(&e->ms, 0, sizeof e->ms);
    if (su->borrow) engine_borrow(e, loan);
    else if (decomp_init(&e->d, lattice_comm(), &su->lat, 2, err)) return 1;   /* the same on every rank */
    e->t = tables_new();
    int ok = e->t != NULL, all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, lattice_comm());
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
    MPI_Request rq[DECOMP_MAX_REQUESTS];
    const int n = decomp_halo_begin(&e->d, DECOMP_LEVEL | DECOMP_SIGMA, rq);
    const int inner = nx >= 3 && ny >= 3;
    if (inner) sweep_part(e, colour, 1, 1, nx - 2, ny - 2, step, de, ms);
    decomp_halo_end(n, rq);
    if (!inner) {
        sweep_part(e, colour, 0, 0, nx, ny, step, de, ms);
        return;
    }
    sweep_part(e, colour, 0, 0, nx, 1, step, de, ms);
    sweep_part(e, colour, 0, ny - 1, nx, 1, step, de, ms);
    sweep_part(e, colour, 0, 1, 1, ny - 2, step, de, ms);
    sweep_part(e, colour, nx - 1, 1, 1, ny - 2, step, de, ms);
}

/* Collective: one sweep of every block, its changes added to the rank's own. */
static void engine_sweep(lat_engine *e, uint64_t step, double T)
{
    if (e->t->T != T) level_tables_build(e->t, &e->p, T);
    for (int colour = 0; colour < 2; colour++) sweep_colour(e, colour, step, &e->de, &e->ms);
}

/* Collective: the sums of all ranks' changes since the last SUMS reach rank
 * 0's *de and *ms (NULL elsewhere). */
static void engine_sums(lat_engine *e, energy_terms *de, move_stats *ms)
{
    const energy_terms d = e->de;
    const move_stats m = e->ms;
    int64_t mine[4 + 2 * MOVES_MAX] = {d.sum_C, d.n_steps, d.sum_J, d.sum_h}, all[4 + 2 * MOVES_MAX];
    memcpy(mine + 4, m.proposed, sizeof m.proposed);
    memcpy(mine + 4 + MOVES_MAX, m.accepted, sizeof m.accepted);
    MPI_Reduce(mine, all, 4 + 2 * MOVES_MAX, MPI_INT64_T, MPI_SUM, 0, lattice_comm());
    memset(&e->de, 0, sizeof e->de);
    memset(&e->ms, 0, sizeof e->ms);
    if (!de) return;   /* not rank 0 */
    const energy_terms sum = {all[0], all[1], all[2], all[3]};
    energy_terms_add(de, &sum);
    move_stats ms_sum;
    memcpy(ms_sum.proposed, all + 4, sizeof ms_sum.proposed);
    memcpy(ms_sum.accepted, all + 4 + MOVES_MAX, sizeof ms_sum.accepted);
    move_stats_add(ms, &ms_sum);
}

/* Collective: the field counts of every block, summed into rank 0's *c. */
static void engine_count(lat_engine *e, field_counts *c)
{
    const level_block *b = &e->d.b;
    field_counts mine = {{0}, 0}, all;
    field_counts_block(b->level, b->sigma, b->stride, b->nx, b->ny, (b->gx0 + b->gy0) & 1, &mine);
    MPI_Reduce(&mine, &all, NLEVELS + 1, MPI_INT64_T, MPI_SUM, 0, lattice_comm());
    if (c) *c = all;
}

static void engine_pack(const void *part, const ckpt_mpi_io *io, void *values)
{
    decomp_pack(&((const lat_engine *)part)->d, io->rec, values);
}

/* Nothing out of range here: decomp_state_terms checks the whole state. */
static int64_t engine_unpack(void *part, const ckpt_mpi_io *io, const void *values)
{
    decomp_unpack(&((lat_engine *)part)->d, io->rec, values);
    return 0;
}

/* Collective: field io->rec of the blocks written into or read from the
 * file (ckpt_mpi_move); rank 0's *hash gets the record's sites checksum. */
static int engine_io(lat_engine *e, int write, const ckpt_mpi_io *io, uint64_t *hash)
{
    const ckpt_mpi_block b = {engine_pack, engine_unpack, e};
    ckpt_mpi_result res;
    const int bad = ckpt_mpi_move(&e->d, lattice_comm(), write, io, &b, &res);
    if (hash) *hash = res.hash;
    return bad;
}

/* Collective: rank 0's *fi (NULL elsewhere) to every rank, and each block
 * set to the initial state. */
static void engine_init(lat_engine *e, const field_init *fi)
{
    decomp_init_fields(&e->d, lattice_comm(), fi, e->seed);
}

/* ---- ranks 1..P-1 ------------------------------------------------------ */

int mpi_lattice_serve(void)
{
    lat_engine e;
    memset(&e, 0, sizeof e);
    struct cage_part *cage = NULL;
    int8_t *const none[2] = {NULL, NULL};
    for (;;) {
        const lat_cmd c = command((lat_cmd){0, 0, 0, 0}, e.d.have_cart || cage);
        if (c.op >= CMD_CAGE_SETUP) {
            cage_mpi_serve(&cage, &c);
            continue;
        }
        switch (c.op) {
        case CMD_SETUP: {
            lat_setup su;
            MPI_Bcast(&su, (int)sizeof su, MPI_BYTE, 0, lattice_comm());
            omp_set_num_threads(su.threads);
            sm_error err;   /* rank 0 reports the same failure */
            const lattice_loan loan = su.borrow ? cage_mpi_loan(cage) : (lattice_loan){NULL, {NULL, 0}};
            if (engine_setup(&e, &su, &loan, &err)) memset(&e, 0, sizeof e);
            break;
        }
        case CMD_SCATTER: decomp_scatter(&e.d, none); break;
        case CMD_SWEEP: engine_sweep(&e, (uint64_t)c.step, c.T); break;
        case CMD_SUMS: engine_sums(&e, NULL, NULL); break;
        case CMD_GATHER: decomp_gather(&e.d, none); break;
        case CMD_COUNT: engine_count(&e, NULL); break;
        case CMD_CENSUS: {
            sm_error err;   /* rank 0 reports the same failure */
            census_mpi_take(&e.d, NULL, &err);
            break;
        }
        case CMD_CKPT_WRITE:
        case CMD_CKPT_READ: engine_io(&e, c.op == CMD_CKPT_WRITE, NULL, NULL); break;
        case CMD_INIT: engine_init(&e, NULL); break;
        case CMD_TERMS: {
            int64_t bad;
            energy_terms t;
            decomp_state_terms(&e.d, &bad, &t);
            break;
        }
        case CMD_SNAPSHOT: snapshot_mpi_serve(&e.d, e.borrowed ? &e.pcp : NULL, lattice_comm()); break;
        case CMD_FREE: engine_free(&e); break;
        default:
            engine_free(&e);
            cage_mpi_serve(&cage, &(lat_cmd){CMD_CAGE_FREE, 0, 0, 0});
            return (int)c.arg;
        }
    }
}

void mpi_lattice_stop(int code)
{
    const mpi_session *s = mpi_session_get();
    if (s && s->lattice_size > 1 && s->lattice_rank == 0) command((lat_cmd){CMD_STOP, code, 0, 0}, 1);
}

/* ---- rank 0: the dynamics kind ------------------------------------------ */

static lat_engine *engine_of(const sim_state *s) { return s->dyn_data; }

/* Split over the ranks when it may: over the blocks a kind set aside lends
 * (s->lent), which then hold the state (none of it is on rank 0), or
 * blocks of its own, which take rank 0's state at the first sweep unless
 * they set themselves up (lm_init_fields). */
static int lm_init(sim_state *s, const sm_config *cfg, sm_error *err)
{
    (void)cfg;
    lat_engine *e = calloc(1, sizeof *e);
    if (!e) return sm_fail(err, "out of memory for the level dynamics");
    s->dyn_data = e;
    e->p = s->p;
    e->seed = s->seed;
    const lattice_loan *loan = s->lent;
    if (!mpi_session_claim_lattice(MPI_ENGINE_LEVEL)) {   /* alone: the OpenMP level sweep */
        /* s->st is not the state when blocks are lent: nothing to sweep alone */
        if (!loan && (e->t = tables_new())) return 0;
        free(e);
        s->dyn_data = NULL;
        if (loan) return sm_fail(err, "the level dynamics cannot claim the ranks of the blocks lent to it");
        return sm_fail(err, "out of memory for the level tables");
    }
    const lat_setup su = {s->lat, s->p, s->seed, omp_get_max_threads(), loan != NULL};
    command((lat_cmd){CMD_SETUP, 0, 0, 0}, 1);
    MPI_Bcast((void *)&su, (int)sizeof su, MPI_BYTE, 0, lattice_comm());
    if (engine_setup(e, &su, loan, err)) {
        mpi_session_release_lattice(MPI_ENGINE_LEVEL);
        free(e);
        s->dyn_data = NULL;
        return 1;
    }
    e->split = 1;
    if (loan) {
        e->scattered = 1;
        e->ahead = SIM_SYNC_FIELDS;
    }
    /* for tests and for a first look at a new machine (docs/mpi.md) */
    if (getenv("SOFTMATRIX_MPI_VERBOSE"))
        fprintf(stderr, "softmatrix: level dynamics: %dx%d lattice split over %dx%d ranks, rank 0's "
                "block %dx%d%s\n", s->lat.Lx, s->lat.Ly, e->d.px, e->d.py, e->d.b.nx, e->d.b.ny,
                loan ? " (lent)" : "");
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
        command((lat_cmd){CMD_SCATTER, 0, 0, 0}, 1);
        decomp_scatter(&e->d, global);
        e->scattered = 1;
    }
    command((lat_cmd){CMD_SWEEP, 0, s->step, s->T}, 1);
    engine_sweep(e, (uint64_t)s->step, s->T);
    e->n.sweeps++;
    e->ahead = SIM_SYNC_SUMS | SIM_SYNC_FIELDS;
}

/* Rank 0's copy of the lattice, allocated the first time something reads
 * the fields of a lattice whose blocks set themselves up: sync cannot fail
 * softly, and a run that cannot hold what it must write cannot go on. */
static void global_arrays(model_state *st, const lattice *lat)
{
    sm_error err;
    if (!model_state_init(st, lat->N, &err)) return;
    fprintf(stderr, "softmatrix: out of memory for rank 0's copy of the %dx%d lattice (%lld MB), which "
            "snapshots read; docs/mpi.md\n", lat->Lx, lat->Ly, (long long)(2 * lat->N >> 20));
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* The blocks into rank 0's global arrays, a copy that a state reading
 * them even through a const pointer brings up to date (hence the cast). */
static void engine_gather(lat_engine *e, const sim_state *s)
{
    if (!s->st.level) global_arrays((model_state *)&s->st, &s->lat);
    int8_t *const global[2] = {s->st.level, s->st.sigma};
    command((lat_cmd){CMD_GATHER, 0, 0, 0}, 1);
    decomp_gather(&e->d, global);
    e->ahead &= ~SIM_SYNC_FIELDS;
    e->n.gathers++;
}

static void lm_sync(sim_state *s, int what)
{
    lat_engine *e = engine_of(s);
    if (e->ahead & SIM_SYNC_SUMS) {
        command((lat_cmd){CMD_SUMS, 0, 0, 0}, 1);
        engine_sums(e, &s->e, &s->moves);
        e->ahead &= ~SIM_SYNC_SUMS;
        e->n.sums++;
    }
    if (what == SIM_SYNC_FIELDS && (e->ahead & SIM_SYNC_FIELDS)) engine_gather(e, s);
}

/* On the blocks while they are ahead of rank 0's arrays, unless the
 * lattice is periodic and under 16 sites a side (then gathered: fewer
 * sites than the join's record of its edges would hold). */
static int lm_census(const sim_state *s, census_result *r, sm_error *err)
{
    lat_engine *e = engine_of(s);
    if (e->ahead & SIM_SYNC_FIELDS) {
        if (census_mpi_blocks_ok(&e->d)) {
            command((lat_cmd){CMD_CENSUS, 0, 0, 0}, 1);
            e->n.censuses++;
            return census_mpi_take(&e->d, r, err);
        }
        engine_gather(e, s);
    }
    return census_of_fields(&s->lat, &s->st, r, err);
}

/* From the blocks while they are ahead of rank 0's arrays: the observables
 * of a run that measures more often than it writes snapshots never gather. */
static void lm_field_counts(const sim_state *s, field_counts *c)
{
    lat_engine *e = engine_of(s);
    if (!(e->ahead & SIM_SYNC_FIELDS)) {
        field_counts_lattice(&s->lat, &s->st, c);
        return;
    }
    command((lat_cmd){CMD_COUNT, 0, 0, 0}, 1);
    engine_count(e, c);
    e->n.counts++;
}

/* Rank 0's stream holds the rest of the file; each field's values go from
 * the blocks straight into their site record. */
static void lm_save_fields(const sim_state *s, ckpt_writer *w)
{
    lat_engine *e = engine_of(s);
    if (!e->split || !e->scattered) {   /* the state is rank 0's arrays */
        sim_save_fields(s, w);
        return;
    }
    for (int f = 0; f < 2; f++) {
        ckpt_mpi_io io = {.rec = f, .elem = 1};
        if (ckpt_put_sites_begin(w, SIM_SITE_RECORDS[f], 1, s->lat.Lx, s->lat.Ly, &io.offset)) return;
        snprintf(io.path, sizeof io.path, "%s", w->tmp);
        command((lat_cmd){CMD_CKPT_WRITE, 0, 0, 0}, 1);
        e->n.block_writes++;
        uint64_t hash;
        if (engine_io(e, 1, &io, &hash)) {
            ckpt_writer_fail(w, EIO);
            return;
        }
        ckpt_put_sites_end(w, hash);
    }
}

/* The site records go straight into the blocks, whose checks (range, the
 * energy sums) are reduced to rank 0; its global arrays are left behind
 * until something reads them (sim_sync). A format-2 checkpoint, without
 * site records, goes through rank 0's arrays. */
static int lm_restore_fields(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    lat_engine *e = engine_of(s);
    const ckpt_record *rec[2];
    for (int f = 0; f < 2; f++)
        if (!(rec[f] = ckpt_find(r, SIM_SITE_RECORDS[f], err))) return 1;
    if (!e->split || !rec[0]->elem || !rec[1]->elem) return sim_restore_fields(s, r, err);
    for (int f = 0; f < 2; f++) {
        if (rec[f]->elem != 1 || rec[f]->Lx != s->lat.Lx || rec[f]->Ly != s->lat.Ly)
            return sm_fail(err, "%s: checkpoint record %s is not one byte a site of a %dx%d lattice", r->path,
                           SIM_SITE_RECORDS[f], s->lat.Lx, s->lat.Ly);
        ckpt_mpi_io io = {.offset = rec[f]->offset, .rec = f, .elem = 1};
        snprintf(io.path, sizeof io.path, "%s", r->path);
        command((lat_cmd){CMD_CKPT_READ, 0, 0, 0}, 1);
        e->n.block_reads++;
        uint64_t hash;
        if (engine_io(e, 0, &io, &hash))
            return sm_fail(err, "%s: cannot read checkpoint record %s", r->path, SIM_SITE_RECORDS[f]);
        if (hash != rec[f]->sites_hash) return ckpt_sites_damaged(r->path, rec[f], err);
    }
    int64_t bad;
    energy_terms t;
    command((lat_cmd){CMD_TERMS, 0, 0, 0}, 1);
    decomp_state_terms(&e->d, &bad, &t);
    if (bad) return sm_fail(err, "%s: checkpoint has an invalid state at %lld sites", r->path, (long long)bad);
    if (memcmp(&t, &s->e, sizeof t) != 0)
        return sm_fail(err, "%s: checkpoint energy sums disagree with its configuration", r->path);
    e->scattered = 1;
    e->ahead = SIM_SYNC_FIELDS;
    return 0;
}

/* The blocks set themselves up; rank 0 gets the energy terms. */
static int lm_init_fields(sim_state *s, const sm_config *cfg)
{
    lat_engine *e = engine_of(s);
    if (!e->split) return 0;
    const field_init fi = field_init_of(cfg);
    command((lat_cmd){CMD_INIT, 0, 0, 0}, 1);
    engine_init(e, &fi);
    int64_t bad;
    command((lat_cmd){CMD_TERMS, 0, 0, 0}, 1);
    decomp_state_terms(&e->d, &bad, &s->e);
    e->scattered = 1;
    e->ahead = SIM_SYNC_FIELDS;
    return 1;
}

/* Every rank writes its own block into the file (mpi/snapshot_mpi.h): a
 * snapshot gathers nothing, so rank 0 never needs the whole frame. */
static int lm_snapshot(const sim_state *s, h5out *h, unsigned fields, int compression, sm_error *err)
{
    lat_engine *e = engine_of(s);
    /* Rank 0's arrays when the lattice is not split, and when the level
     * dynamics stands in for a kind with PCP fields (its equilibration of a
     * cage run) on blocks of its own, which hold no phase or z. */
    if (!e->split || !e->scattered || (s->st.phase && !e->borrowed)) {
        if (e->split && (e->ahead & SIM_SYNC_FIELDS)) engine_gather(e, s);
        return h5out_snapshot(h, fields, s->lat.Lx, s->lat.Ly, &s->st, s->step, compression, err);
    }
    command((lat_cmd){CMD_SNAPSHOT, 0, 0, 0}, 1);
    e->n.snapshots++;
    return snapshot_mpi_write(&e->d, e->borrowed ? &e->pcp : NULL, lattice_comm(), h, fields, compression,
                              s->step, err);
}

/* A split lattice's rank 0 holds its block (and nothing of the rest: the
 * blocks set themselves up, write the snapshots and checkpoints, take the
 * census); the blocks are as even as the grid allows. */
static double lm_memory_share(const sm_config *cfg)
{
    (void)cfg;
    return 1.0 / mpi_session_lattice_ranks(MPI_ENGINE_LEVEL);
}

static int64_t lm_updates(const sim_state *s) { return s->lat.N; }

/* Nothing of its own: the tables are rebuilt from T; the fields are
 * restored by lm_restore_fields (into the blocks, or into rank 0's arrays,
 * which the first sweep scatters). */
static void lm_save(const sim_state *s, ckpt_writer *w) { (void)s, (void)w; }

static int lm_restore(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    (void)s, (void)r, (void)err;
    return 0;
}

static void lm_free(sim_state *s)
{
    lat_engine *e = engine_of(s);
    if (!e) return;
    if (e->split) {
        command((lat_cmd){CMD_FREE, 0, 0, 0}, 1);
        mpi_session_release_lattice(MPI_ENGINE_LEVEL);
        mpi_lattice_tally_print("level", &e->n);
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
    .memory_share = lm_memory_share,
    .init = lm_init,
    .init_fields = lm_init_fields,
    .set_temperature = lm_set_temperature,
    .sweep = lm_sweep,
    .sync = lm_sync,
    .field_counts = lm_field_counts,
    .census = lm_census,
    .snapshot = lm_snapshot,
    .updates_per_sweep = lm_updates,
    .save_fields = lm_save_fields,
    .restore_fields = lm_restore_fields,
    .save = lm_save,
    .restore = lm_restore,
    .free = lm_free,
};
