/* The cage dynamics of one lattice split over MPI ranks (docs/mpi.md). In
 * the MPI build the registry's "cage" kind is DYNAMICS_CAGE_MPI: on rank 0
 * of several it splits the lattice into the level dynamics' blocks
 * (mpi/decomp.h, with the phase field) and has every rank sweep its own
 * with cage_block_bonds and cage_block_colour, the one definition of every
 * move; elsewhere it is the OpenMP cage dynamics. Either way the result is
 * bitwise that of the OpenMP binary.
 *
 * A sweep on every rank: the halo of phase, sigma and level starts, the
 * interiors of the three bond passes are updated while it travels, then
 * their edges; colour 0's edge sites, then the halo of level and sigma
 * starts and the interiors of colour 0 and 1 are updated while it travels,
 * then colour 1's edge sites (cage_block_interior says what reads no halo);
 * then the sweep's soft-matrix events: every rank's events (rare: arrivals
 * at level 8) go to every rank (MPI_Allgatherv), which adds to its own z
 * counts the part of each footprint inside its block, in the serial order
 * (colour 0's, then colour 1's, each by global index) as
 * kinetics_apply_jumps does. A bond across a block edge is computed by both
 * blocks from the same random numbers, each moving its own end.
 *
 * Each block keeps its kinetic stamps (uint32) and its z counts (int32,
 * exact; whether the OpenMP run's int16 counts would have been widened is
 * kept as a flag) between sweeps. Rank 0 keeps the global state and the
 * global kinetics: SUMS adds every rank's energy changes, move counts and
 * kinetic counters into it, GATHER brings back level, sigma, phase, stamps
 * and z counts (sim_sync), so the diagnostics, checkpoints and output read
 * what the OpenMP run has. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dynamics/cage.h"
#include "dynamics/cage_counts.h"
#include "dynamics/dynamics.h"
#include "mpi/census_mpi.h"
#include "mpi/ckpt_mpi.h"
#include "mpi/decomp.h"
#include "mpi/lattice_cmd.h"
#include "mpi/session.h"
#include "mpi/snapshot_mpi.h"

extern const dynamics_ops DYNAMICS_CAGE;

typedef struct {
    lattice lat;
    model_params p;
    uint64_t seed;
    int threads;
} cage_setup;

/* One rank's part of the split lattice. */
typedef struct cage_part {
    decomp d;            /* level, sigma, phase with halo */
    cage_block b;        /* the block as the kernel reads it */
    cage_tables *t;
    model_params p;
    uint64_t seed;
    uint32_t *stamp;     /* with halo, as the fields (the halo unused) */
    int32_t *z;          /* nx x ny */
    int z_wide;          /* a count left the int16 range since the scatter */
    kinetics k;          /* the block's event buffers and the footprint */
    int32_t *ev, *ev_all;   /* events (x, y, sign) of this rank, of all */
    int64_t ev_cap, ev_all_cap;
    int *counts, *displs;   /* per rank, for the Allgatherv */
    cage_counts *rank_counts;   /* per rank, for the PCP counts */
    energy_terms de;     /* changes since the last SUMS */
    move_stats ms;
    kin_counters kc;
} cage_part;

static MPI_Comm comm(void) { return mpi_lattice_comm(); }

static void part_free(cage_part *e)
{
    if (!e) return;
    e->k.stamp32 = NULL;   /* the part's own, below */
    kinetics_free(&e->k);
    decomp_free(&e->d);
    free(e->t);
    free(e->stamp);
    free(e->z);
    free(e->ev);
    free(e->ev_all);
    free(e->counts);
    free(e->displs);
    free(e->rank_counts);
    free(e);
}

static int64_t block_cells(const decomp *d) { return (int64_t)d->b.stride * (d->b.ny + 2); }

/* Collective: the block decomposition of su's lattice and this rank's part;
 * NULL (the same message on every rank) when it cannot be made. */
static cage_part *part_new(const cage_setup *su, sm_error *err)
{
    cage_part *e = calloc(1, sizeof *e);
    int ok = e != NULL, all;
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm());
    if (!ok) {
        free(e);
        sm_fail(err, "out of memory for the cage dynamics' block");
        return NULL;
    }
    e->p = su->p;
    e->seed = su->seed;
    if (decomp_init(&e->d, comm(), &su->lat, 3, err)) {   /* the same on every rank */
        free(e);
        return NULL;
    }
    const level_block *lb = &e->d.b;
    int ranks;
    MPI_Comm_size(comm(), &ranks);
    sm_error mine;
    e->t = malloc(sizeof *e->t);
    e->stamp = malloc(sizeof *e->stamp * (size_t)block_cells(&e->d));
    e->z = calloc((size_t)lb->nx * (size_t)lb->ny, sizeof *e->z);
    e->counts = calloc((size_t)ranks, sizeof *e->counts);
    e->displs = calloc((size_t)ranks, sizeof *e->displs);
    e->rank_counts = calloc((size_t)ranks, sizeof *e->rank_counts);
    ok = e->t && e->stamp && e->z && e->counts && e->displs && e->rank_counts &&
         !kinetics_init_events(&e->k, &e->d.lat, lb->nx, lb->ny, &mine);
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm());
    if (!all) {
        part_free(e);
        sm_fail(err, "out of memory for the cage dynamics' block");
        return NULL;
    }
    e->t->T = -1.0;
    e->k.stamp32 = e->stamp + lb->stride + 1;
    e->b = (cage_block){lb->level, lb->sigma, (uint8_t *)e->d.store[2] + lb->stride + 1, &e->k,
                        lb->stride, lb->gx0, lb->gy0, lb->nx, lb->ny, &e->d.lat};
    return e;
}

/* Room for n int32 in *buf (no shrinking); exits when out of memory, as a
 * sweep cannot report an error. */
static int32_t *room(int32_t **buf, int64_t *cap, int64_t n)
{
    if (n <= *cap) return *buf;
    int32_t *grown = realloc(*buf, sizeof *grown * (size_t)n);
    if (!grown) {
        fprintf(stderr, "softmatrix: out of memory for %lld soft-matrix events\n", (long long)n / 3);
        MPI_Abort(comm(), SM_EXIT_RUNTIME);
    }
    *cap = n;
    return *buf = grown;
}

/* The serial order of the events of a sweep: colour 0's, then colour 1's
 * (a site's colour is the parity of gx + gy), each row by row. */
static int event_order(const void *pa, const void *pb)
{
    const int32_t *a = pa, *b = pb;
    const int ca = (a[0] + a[1]) & 1, cb = (b[0] + b[1]) & 1;
    if (ca != cb) return ca - cb;
    return a[1] != b[1] ? (a[1] > b[1]) - (a[1] < b[1]) : (a[0] > b[0]) - (a[0] < b[0]);
}

/* Colour pass `colour`'s soft-matrix events of this block, in global
 * coordinates, appended to the sweep's *n_ev words at e->ev (the buffers
 * hold one colour at a time). */
static void take_events(cage_part *e, int colour, int *n_ev)
{
    const cage_block *b = &e->b;
    const int n = (int)(3 * kinetics_event_count(&e->k, b->ny));
    if (!n) return;
    int32_t *ev = room(&e->ev, &e->ev_cap, *n_ev + n) + *n_ev;
    kinetics_take_events(&e->k, b->ny, (colour + b->gx0 + b->gy0) & 1, ev);
    for (int i = 0; i < n; i += 3) {
        ev[i] += b->gx0;
        ev[i + 1] += b->gy0;
    }
    *n_ev += n;
}

/* Collective: the soft-matrix events of a sweep's colour passes (n words at
 * e->ev) of every block to every rank, each applied to the part of its
 * footprint in this block. z is read only between sweeps, so both colours
 * travel together, once a sweep. */
static void exchange_events(cage_part *e, int n)
{
    const cage_block *b = &e->b;
    const int32_t *ev = e->ev;
    int ranks;
    MPI_Comm_size(comm(), &ranks);
    MPI_Allgather(&n, 1, MPI_INT, e->counts, 1, MPI_INT, comm());
    int64_t total = 0;
    for (int r = 0; r < ranks; r++) {
        e->displs[r] = (int)total;
        total += e->counts[r];
    }
    if (!total) return;
    int32_t *all = room(&e->ev_all, &e->ev_all_cap, total);
    MPI_Allgatherv(ev, n, MPI_INT32_T, all, e->counts, e->displs, MPI_INT32_T, comm());
    /* the serial order: the same int32 saturation and int16 widening */
    qsort(all, (size_t)(total / 3), 3 * sizeof *all, event_order);
    for (int64_t i = 0; i < total; i += 3)
        e->z_wide |= kinetics_apply_event_block(&e->k, b->lat, all[i], all[i + 1], all[i + 2], e->z,
                                                b->gx0, b->gy0, b->nx, b->ny);
}

/* Collective: the halos of fields (DECOMP_*). */
static void halo(cage_part *e, unsigned fields)
{
    MPI_Request rq[DECOMP_MAX_REQUESTS];
    decomp_halo_end(decomp_halo_begin(&e->d, fields, rq), rq);
}

/* Colour pass `colour` of the block's edge (edges) or of its interior. */
static void colour_part(cage_part *e, int colour, int edges, uint64_t step)
{
    const cage_rect in = cage_block_interior(&e->b, CAGE_PASS_COLOUR);
    cage_rect part[4];
    const int n = edges ? cage_block_edges(&e->b, in, part) : 1;
    if (!edges) part[0] = in;
    for (int i = 0; i < n; i++)
        cage_block_colour_part(&e->b, colour, part[i], &e->p, e->t, e->seed, step, &e->de, &e->ms, &e->kc);
}

/* The three bond passes: their interiors while the halo's n requests rq
 * travel, then their edges. */
static void bonds_around_halo(cage_part *e, uint64_t step, int n, MPI_Request rq[])
{
    for (int cls = 0; cls < 4; cls += cls == 0 ? 2 : 1)
        cage_block_bonds_part(&e->b, cls, cage_block_interior(&e->b, cls), e->seed, step, &e->ms);
    decomp_halo_end(n, rq);
    for (int cls = 0; cls < 4; cls += cls == 0 ? 2 : 1) {
        cage_rect edge[4];
        const int ne = cage_block_edges(&e->b, cage_block_interior(&e->b, cls), edge);
        for (int i = 0; i < ne; i++) cage_block_bonds_part(&e->b, cls, edge[i], e->seed, step, &e->ms);
    }
}

/* Collective: one cage sweep of every block, its sums added to the part's.
 * Two halo exchanges, each travelling while the block's interior is
 * updated: phase, sigma and level at the start serve the bond passes and
 * colour 0 (cage_block_bonds); colour 0's edge sites, updated first, are
 * sent while the interiors of colour 0 and 1 are, for colour 1's edge. */
static void part_sweep(cage_part *e, uint64_t step, double T)
{
    if (e->t->T != T) cage_tables_build(e->t, &e->p, T);
    MPI_Request rq[DECOMP_MAX_REQUESTS];
    int n = decomp_halo_begin(&e->d, DECOMP_PHASE | DECOMP_SIGMA | DECOMP_LEVEL, rq);
    bonds_around_halo(e, step, n, rq);
    int n_ev = 0;
    colour_part(e, 0, 1, step);
    n = decomp_halo_begin(&e->d, DECOMP_LEVEL | DECOMP_SIGMA, rq);
    colour_part(e, 0, 0, step);
    take_events(e, 0, &n_ev);
    colour_part(e, 1, 0, step);
    decomp_halo_end(n, rq);
    colour_part(e, 1, 1, step);
    take_events(e, 1, &n_ev);
    exchange_events(e, n_ev);
}

/* The integers SUMS adds over ranks: energy, moves, kinetic counters. */
enum { SUM_WORDS = 4 + 2 * MOVES_MAX + sizeof(kin_counters) / sizeof(int64_t) };
enum { WIDE_WORD = SUM_WORDS };   /* after them: ranks whose z counts left int16 */

/* Collective: every rank's changes since the last SUMS, added into rank 0's
 * *de, *ms and *kc (NULL elsewhere); *wide (rank 0) set when a block's z
 * counts have left the int16 range since the scatter. */
static void part_sums(cage_part *e, energy_terms *de, move_stats *ms, kin_counters *kc, int *wide)
{
    int64_t mine[SUM_WORDS + 1], all[SUM_WORDS + 1];
    memcpy(mine, &e->de, sizeof e->de);
    memcpy(mine + 4, e->ms.proposed, sizeof e->ms.proposed);
    memcpy(mine + 4 + MOVES_MAX, e->ms.accepted, sizeof e->ms.accepted);
    memcpy(mine + 4 + 2 * MOVES_MAX, &e->kc, sizeof e->kc);
    mine[WIDE_WORD] = e->z_wide;
    MPI_Reduce(mine, all, SUM_WORDS + 1, MPI_INT64_T, MPI_SUM, 0, comm());
    memset(&e->de, 0, sizeof e->de);
    memset(&e->ms, 0, sizeof e->ms);
    memset(&e->kc, 0, sizeof e->kc);
    if (!de) return;   /* not rank 0 */
    *wide |= all[WIDE_WORD] > 0;
    int64_t had[SUM_WORDS];
    memcpy(had, de, sizeof *de);
    memcpy(had + 4, ms->proposed, sizeof ms->proposed);
    memcpy(had + 4 + MOVES_MAX, ms->accepted, sizeof ms->accepted);
    memcpy(had + 4 + 2 * MOVES_MAX, kc, sizeof *kc);
    /* unsigned: the uint64 tau_sumsq wraps as the OpenMP sum does */
    for (int i = 0; i < SUM_WORDS; i++) had[i] = (int64_t)((uint64_t)had[i] + (uint64_t)all[i]);
    memcpy(de, had, sizeof *de);
    memcpy(ms->proposed, had + 4, sizeof ms->proposed);
    memcpy(ms->accepted, had + 4 + MOVES_MAX, sizeof ms->accepted);
    memcpy(kc, had + 4 + 2 * MOVES_MAX, sizeof *kc);
}

/* Collective: the field counts of every block into rank 0's *c. */
static void part_count(cage_part *e, field_counts *c)
{
    const level_block *b = &e->d.b;
    field_counts mine = {{0}, 0}, all;
    field_counts_block(b->level, b->sigma, b->stride, b->nx, b->ny, (b->gx0 + b->gy0) & 1, &mine);
    MPI_Reduce(&mine, &all, NLEVELS + 1, MPI_INT64_T, MPI_SUM, 0, comm());
    if (c) *c = all;
}

/* Collective: the PCP field counts of every block, added into rank 0's *c
 * (NULL elsewhere). The bonds of a block's last row and column read the
 * halo, which the sweep's last passes have left behind for phase. */
static void part_pcp_count(cage_part *e, cage_counts *c)
{
    halo(e, DECOMP_PHASE | DECOMP_SIGMA);
    cage_counts mine = {0, 0, 0, 0};
    cage_counts_block(&e->b, e->z, &mine);
    MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, e->rank_counts, (int)sizeof mine, MPI_BYTE, 0, comm());
    if (!c) return;
    int ranks;
    MPI_Comm_size(comm(), &ranks);
    *c = (cage_counts){0, 0, 0, 0};
    for (int r = 0; r < ranks; r++) cage_counts_add(c, &e->rank_counts[r]);
}

/* Collective: rank 0's state s (NULL elsewhere) to the blocks: fields,
 * stamps, z counts; words is N words of scratch on rank 0. */
static void part_scatter(cage_part *e, const sim_state *s, uint32_t *words)
{
    int8_t *const none[3] = {NULL, NULL, NULL};
    int8_t *const global[3] = {s ? s->st.level : NULL, s ? s->st.sigma : NULL,
                               s ? (int8_t *)s->st.phase : NULL};
    decomp_scatter(&e->d, s ? global : none);
    const int64_t N = s ? s->lat.N : 0;
    for (int64_t a = 0; a < N; a++) words[a] = kinetics_stamp(s->kin, a);
    decomp_scatter_words(&e->d, e->k.stamp32, e->b.stride, words);
    for (int64_t a = 0; a < N; a++) words[a] = (uint32_t)model_zjumps(&s->st, a);
    decomp_scatter_words(&e->d, (uint32_t *)e->z, e->b.nx, words);
    e->z_wide = 0;
}

/* Collective: the blocks back into rank 0's state s (NULL elsewhere); the
 * z counts widened where the OpenMP run's would have been (wide: rank 0
 * knows they were, from a checkpoint). Exits when out of memory for that,
 * as kinetics_apply_jumps does. */
static void part_gather(cage_part *e, sim_state *s, uint32_t *words, int wide0)
{
    int8_t *const none[3] = {NULL, NULL, NULL};
    int8_t *const global[3] = {s ? s->st.level : NULL, s ? s->st.sigma : NULL,
                               s ? (int8_t *)s->st.phase : NULL};
    decomp_gather(&e->d, s ? global : none);
    int wide;
    MPI_Reduce(&e->z_wide, &wide, 1, MPI_INT, MPI_MAX, 0, comm());
    wide |= wide0;
    decomp_gather_words(&e->d, e->k.stamp32, e->b.stride, words);
    const int64_t N = s ? s->lat.N : 0;
    for (int64_t a = 0; a < N; a++) kinetics_set_stamp(s->kin, a, words[a]);
    decomp_gather_words(&e->d, (const uint32_t *)e->z, e->b.nx, words);
    if (!s) return;
    if (wide && s->st.zjumps && model_state_widen_z(&s->st)) {
        fprintf(stderr, "softmatrix: out of memory widening the z jump counts of %lld sites to 32 bits\n",
                (long long)N);
        MPI_Abort(comm(), SM_EXIT_RUNTIME);
    }
    for (int64_t a = 0; a < N; a++) {
        if (s->st.zjumps) s->st.zjumps[a] = (int16_t)(int32_t)words[a];
        else s->st.zjumps_wide[a] = (int32_t)words[a];
    }
}

/* Collective: rank 0's *fi (NULL elsewhere) to every rank, and each block
 * set to the initial state: level and sigma by the serial rule per site,
 * phase 0, no stamps, no jumps. */
static void part_init(cage_part *e, const field_init *fi)
{
    decomp_init_fields(&e->d, comm(), fi, e->seed);
    const cage_block *b = &e->b;
    for (int y = 0; y < b->ny; y++)
        for (int x = 0; x < b->nx; x++) {
            const int64_t a = (int64_t)y * b->stride + x;
            b->phase[a] = 0;
            e->k.stamp32[a] = KIN_NO_STAMP;
            e->z[(int64_t)y * b->nx + x] = 0;
        }
    e->z_wide = 0;
}

/* The site records of a cage run, numbered as ckpt_mpi_io.rec: the
 * decomposition's three fields, then the z counts and the stamps. */
enum { REC_PHASE = 2, REC_Z = 3, REC_STAMP = 4, NREC = 5 };
static const char *const RECORDS[NREC] = {"sim.level", "sim.sigma", "sim.phase", "sim.zjumps", "kin.stamp"};

/* The block's values of record io->rec, row by row, at the record's width. */
static void part_pack(const cage_part *e, const ckpt_mpi_io *io, void *values)
{
    const cage_block *b = &e->b;
    if (io->rec < REC_Z) {
        decomp_pack(&e->d, io->rec, values);
        return;
    }
    int16_t *v16 = values;
    uint32_t *v32 = values;
    for (int y = 0; y < b->ny; y++)
        for (int x = 0; x < b->nx; x++) {
            const int64_t i = (int64_t)y * b->nx + x;
            const uint32_t v = io->rec == REC_Z ? (uint32_t)e->z[i] : e->k.stamp32[(int64_t)y * b->stride + x];
            if (io->elem == 4) v32[i] = v;
            else if (io->rec == REC_Z) v16[i] = (int16_t)(int32_t)v;
            else v16[i] = (int16_t)(v == KIN_NO_STAMP ? 0xFFFF : v);
        }
}

/* The other way; returns the number of values out of range (a phase past
 * the cage, a stamp not before the checkpoint's step). */
static int64_t part_unpack(cage_part *e, const ckpt_mpi_io *io, const void *values)
{
    const cage_block *b = &e->b;
    int64_t bad = 0;
    if (io->rec < REC_Z) {
        decomp_unpack(&e->d, io->rec, values);
        for (int y = 0; y < b->ny && io->rec == REC_PHASE; y++)
            for (int x = 0; x < b->nx; x++) bad += b->phase[(int64_t)y * b->stride + x] >= NPHASE;
        return bad;
    }
    const int16_t *v16 = values;
    const uint32_t *v32 = values;
    for (int y = 0; y < b->ny; y++)
        for (int x = 0; x < b->nx; x++) {
            const int64_t i = (int64_t)y * b->nx + x;
            if (io->rec == REC_Z) {
                e->z[i] = io->elem == 4 ? (int32_t)v32[i] : v16[i];
                continue;
            }
            const uint32_t v = io->elem == 4 ? v32[i] : (uint16_t)v16[i] == 0xFFFF ? KIN_NO_STAMP : (uint16_t)v16[i];
            e->k.stamp32[(int64_t)y * b->stride + x] = v;
            bad += v != KIN_NO_STAMP && v >= (uint64_t)io->step;
        }
    if (io->rec == REC_Z) e->z_wide = 0;
    return bad;
}

/* What a block transfer tells rank 0: the record's sites checksum and the
 * values out of range. */
typedef struct {
    uint64_t hash;
    int64_t invalid;
} io_result;

/* Collective: rank 0's *io (NULL elsewhere) to every rank, then the blocks'
 * values of record io->rec written into or read from the file; 1 on every
 * rank on failure, rank 0's *res filled. */
static int part_io(cage_part *e, int write, const ckpt_mpi_io *io, io_result *res)
{
    ckpt_mpi_io mine;
    ckpt_mpi_io_share(io, &mine, comm());
    const level_block *b = &e->d.b;
    void *values = malloc((size_t)b->nx * (size_t)b->ny * (size_t)mine.elem + 1);
    if (values && write) part_pack(e, &mine, values);
    uint64_t hash;
    const int bad = write ? ckpt_mpi_write(&e->d, comm(), mine.elem, mine.path, mine.offset, values, &hash)
                          : ckpt_mpi_read(&e->d, comm(), mine.elem, mine.path, mine.offset, values, &hash);
    int64_t invalid = !bad && !write ? part_unpack(e, &mine, values) : 0, all = 0;
    free(values);
    MPI_Reduce(&invalid, &all, 1, MPI_INT64_T, MPI_SUM, 0, comm());
    if (res) *res = (io_result){hash, all};
    return bad;
}

/* ---- ranks 1..P-1 ------------------------------------------------------ */

void cage_mpi_serve(cage_part **e, const lat_cmd *c)
{
    switch (c->op) {
    case CMD_CAGE_SETUP: {
        cage_setup su;
        MPI_Bcast(&su, (int)sizeof su, MPI_BYTE, 0, comm());
        omp_set_num_threads(su.threads);
        sm_error err;   /* rank 0 reports the same failure */
        *e = part_new(&su, &err);
        break;
    }
    case CMD_CAGE_SCATTER: part_scatter(*e, NULL, NULL); break;
    case CMD_CAGE_SWEEP: part_sweep(*e, (uint64_t)c->step, c->T); break;
    case CMD_CAGE_SUMS: part_sums(*e, NULL, NULL, NULL, NULL); break;
    case CMD_CAGE_GATHER: part_gather(*e, NULL, NULL, 0); break;
    case CMD_CAGE_COUNT: part_count(*e, NULL); break;
    case CMD_CAGE_PCP_COUNT: part_pcp_count(*e, NULL); break;
    case CMD_CAGE_CKPT_WRITE:
    case CMD_CAGE_CKPT_READ: part_io(*e, c->op == CMD_CAGE_CKPT_WRITE, NULL, NULL); break;
    case CMD_CAGE_INIT: part_init(*e, NULL); break;
    case CMD_CAGE_TERMS: {
        int64_t bad;
        energy_terms t;
        decomp_state_terms(&(*e)->d, &bad, &t);
        break;
    }
    case CMD_CAGE_SNAPSHOT: {
        const snapshot_pcp pcp = {(*e)->z, model_n_z(&(*e)->p)};
        snapshot_mpi_serve(&(*e)->d, &pcp, comm());
        break;
    }
    case CMD_CAGE_CENSUS: {
        sm_error err;   /* rank 0 reports the same failure */
        census_mpi_take(&(*e)->d, NULL, &err);
        break;
    }
    default:
        part_free(*e);
        *e = NULL;
    }
}

/* ---- rank 0: the dynamics kind ------------------------------------------ */

/* Rank 0's data: the OpenMP cage dynamics' own (its tables, the global
 * kinetics, its checkpoint records), and the part when split. */
typedef struct {
    void *serial;        /* DYNAMICS_CAGE's dyn_data */
    cage_part *part;     /* NULL: the lattice is not split */
    int was_split;       /* split before the kind was set aside */
    int scattered;       /* the blocks hold rank 0's current state */
    int ahead;           /* SIM_SYNC_* bits of what is behind the blocks */
    int z_wide;          /* the OpenMP run's z counts would be int32 by now */
    int restored;        /* the last checkpoint was read by the blocks */
    /* commands sent (SOFTMATRIX_MPI_VERBOSE) */
    int64_t sweeps, sums, counts, gathers, censuses, snapshots, block_writes, block_reads;
} cage_mpi;

static cage_mpi *mpi_of(const sim_state *s) { return s->dyn_data; }

/* Runs the OpenMP cage dynamics' op on s, whose dyn_data it finds as it
 * left it. */
#define SERIAL(s, call)                                     \
    do {                                                    \
        cage_mpi *m_ = mpi_of(s);                           \
        (s)->dyn_data = m_->serial;                         \
        call;                                               \
        m_->serial = (s)->dyn_data;                         \
        (s)->dyn_data = m_;                                 \
    } while (0)

static lat_cmd command(int64_t op, int64_t step, double T)
{
    return mpi_lattice_command((lat_cmd){op, 0, step, T}, 1);
}

/* Splits the lattice over the ranks, which it has claimed
 * (mpi_session_claim_lattice); gives them back when it cannot. */
static int split_claimed(sim_state *s, cage_mpi *m, sm_error *err)
{
    const cage_setup su = {s->lat, s->p, s->seed, omp_get_max_threads()};
    command(CMD_CAGE_SETUP, 0, 0);
    MPI_Bcast((void *)&su, (int)sizeof su, MPI_BYTE, 0, comm());
    m->part = part_new(&su, err);
    if (!m->part) {
        mpi_session_release_lattice();
        return 1;
    }
    if (getenv("SOFTMATRIX_MPI_VERBOSE"))
        fprintf(stderr, "softmatrix: cage dynamics: %dx%d lattice split over %dx%d ranks, rank 0's "
                "block %dx%d\n", s->lat.Lx, s->lat.Ly, m->part->d.px, m->part->d.py, m->part->b.nx,
                m->part->b.ny);
    return 0;
}

/* Splits the lattice over the ranks when it may. */
static int split(sim_state *s, cage_mpi *m, sm_error *err)
{
    return mpi_session_claim_lattice() ? split_claimed(s, m, err) : 0;
}

/* Gives the other ranks back (the blocks are behind nothing: sim_sync). */
static void unsplit(cage_mpi *m)
{
    if (!m->part) return;
    command(CMD_CAGE_FREE, 0, 0);
    part_free(m->part);
    m->part = NULL;
    mpi_session_release_lattice();
}

static void cm_free(sim_state *s)
{
    cage_mpi *m = mpi_of(s);
    if (!m) return;
    if (m->part) {
        unsplit(m);
        if (getenv("SOFTMATRIX_MPI_VERBOSE"))
            fprintf(stderr, "softmatrix: cage dynamics: %lld split sweeps, %lld sums, %lld counts, "
                    "%lld gathers, %lld censuses, %lld snapshots, %lld block writes, %lld block reads\n",
                    (long long)m->sweeps, (long long)m->sums, (long long)m->counts, (long long)m->gathers,
                    (long long)m->censuses, (long long)m->snapshots, (long long)m->block_writes,
                    (long long)m->block_reads);
    }
    SERIAL(s, DYNAMICS_CAGE.free(s));
    free(m);
    s->dyn_data = NULL;
}

/* Split, rank 0 keeps the cage dynamics' counters and tables but neither
 * the lattice nor its stamps until something reads them (global_state). */
static int cm_init(sim_state *s, const sm_config *cfg, sm_error *err)
{
    const int claimed = mpi_session_claim_lattice();
    if ((claimed ? cage_init_deferred : DYNAMICS_CAGE.init)(s, cfg, err)) {
        if (claimed) mpi_session_release_lattice();
        return 1;
    }
    cage_mpi *m = calloc(1, sizeof *m);
    if (!m) {
        DYNAMICS_CAGE.free(s);
        if (claimed) mpi_session_release_lattice();
        return sm_fail(err, "out of memory for the cage dynamics");
    }
    m->serial = s->dyn_data;
    s->dyn_data = m;
    if (!claimed || !split_claimed(s, m, err)) return 0;
    cm_free(s);
    return 1;
}

/* Rank 0's copy of the lattice and of its kinetic stamps, allocated the
 * first time something reads them (a gather, a checkpoint without site
 * records): sync cannot fail softly, and a run that cannot hold what it
 * must read cannot go on. */
static void global_state(sim_state *s)
{
    sm_error err;
    if ((s->st.level || (!model_state_init(&s->st, s->lat.N, &err) && !model_state_init_pcp(&s->st, &s->p, &err))) &&
        !kinetics_init_sites(s->kin, &s->lat, &err))
        return;
    fprintf(stderr, "softmatrix: out of memory for rank 0's copy of the %dx%d lattice and its kinetics: %s; "
            "docs/mpi.md\n", s->lat.Lx, s->lat.Ly, err.msg);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* The blocks set themselves up; rank 0 gets the energy terms (and n_z,
 * which its unallocated state would otherwise lack). */
static int cm_init_fields(sim_state *s, const sm_config *cfg)
{
    cage_mpi *m = mpi_of(s);
    if (!m->part) return 0;
    const field_init fi = field_init_of(cfg);
    command(CMD_CAGE_INIT, 0, 0);
    part_init(m->part, &fi);
    int64_t bad;
    command(CMD_CAGE_TERMS, 0, 0);
    decomp_state_terms(&m->part->d, &bad, &s->e);
    s->st.n_z = model_n_z(&s->p);
    m->scattered = 1;
    m->ahead = SIM_SYNC_FIELDS;
    return 1;
}

static void cm_set_temperature(sim_state *s, double T) { SERIAL(s, DYNAMICS_CAGE.set_temperature(s, T)); }

/* N words of scratch for a scatter or gather (not kept: N int32 beside the
 * global state only while the blocks move). */
static uint32_t *scratch(const sim_state *s)
{
    uint32_t *w = malloc(sizeof *w * (size_t)s->lat.N);
    if (!w) {
        fprintf(stderr, "softmatrix: out of memory moving the blocks of %lld sites\n", (long long)s->lat.N);
        MPI_Abort(comm(), SM_EXIT_RUNTIME);
    }
    return w;
}

static void cm_sweep(sim_state *s)
{
    cage_mpi *m = mpi_of(s);
    if (!m->part) {
        SERIAL(s, DYNAMICS_CAGE.sweep(s));
        return;
    }
    /* the global stamps widen when the OpenMP run's do */
    kinetics_before_sweep(s->kin, s->lat.N, (uint64_t)s->step);
    if (!m->scattered) {
        uint32_t *w = scratch(s);
        command(CMD_CAGE_SCATTER, 0, 0);
        part_scatter(m->part, s, w);
        free(w);
        m->scattered = 1;
    }
    command(CMD_CAGE_SWEEP, s->step, s->T);
    part_sweep(m->part, (uint64_t)s->step, s->T);
    m->sweeps++;
    m->ahead = SIM_SYNC_SUMS | SIM_SYNC_FIELDS;
}

static void gather(sim_state *s, cage_mpi *m)
{
    global_state(s);
    uint32_t *w = scratch(s);
    command(CMD_CAGE_GATHER, 0, 0);
    part_gather(m->part, s, w, m->z_wide);
    free(w);
    m->ahead &= ~SIM_SYNC_FIELDS;
    m->gathers++;
}

static void cm_sync(sim_state *s, int what)
{
    cage_mpi *m = mpi_of(s);
    if (m->ahead & SIM_SYNC_SUMS) {
        command(CMD_CAGE_SUMS, 0, 0);
        part_sums(m->part, &s->e, &s->moves, &s->kin->c, &m->z_wide);
        m->ahead &= ~SIM_SYNC_SUMS;
        m->sums++;
    }
    if (what == SIM_SYNC_FIELDS && (m->ahead & SIM_SYNC_FIELDS)) gather(s, m);
}

/* Every rank writes its block, phase and z included (mpi/snapshot_mpi.h),
 * while the blocks are ahead of rank 0's arrays. */
static int cm_snapshot(const sim_state *s, h5out *h, unsigned fields, int compression, sm_error *err)
{
    cage_mpi *m = mpi_of(s);
    if (!m->part || !(m->ahead & SIM_SYNC_FIELDS))
        return h5out_snapshot(h, fields, s->lat.Lx, s->lat.Ly, &s->st, s->step, compression, err);
    command(CMD_CAGE_SNAPSHOT, 0, 0);
    m->snapshots++;
    const snapshot_pcp pcp = {m->part->z, s->st.n_z};
    return snapshot_mpi_write(&m->part->d, &pcp, comm(), h, fields, compression, s->step, err);
}

/* On the blocks while they are ahead of rank 0's arrays (the census reads
 * level and sigma only, which the blocks hold as the level dynamics' do),
 * unless the lattice is periodic and under 16 sites a side. */
static int cm_census(const sim_state *s, census_result *r, sm_error *err)
{
    cage_mpi *m = mpi_of(s);
    if (m->part && (m->ahead & SIM_SYNC_FIELDS)) {
        if (census_mpi_blocks_ok(&m->part->d)) {
            command(CMD_CAGE_CENSUS, 0, 0);
            m->censuses++;
            return census_mpi_take(&m->part->d, r, err);
        }
        gather((sim_state *)s, m);   /* rank 0's copy, which a const state still reaches */
    }
    return census_of_fields(&s->lat, &s->st, r, err);
}

static void cm_field_counts(const sim_state *s, field_counts *c)
{
    cage_mpi *m = mpi_of(s);
    if (!(m->ahead & SIM_SYNC_FIELDS)) {
        field_counts_lattice(&s->lat, &s->st, c);
        return;
    }
    command(CMD_CAGE_COUNT, 0, 0);
    part_count(m->part, c);
    m->counts++;
}

static void cm_cage_counts(const sim_state *s, cage_counts *c)
{
    cage_mpi *m = mpi_of(s);
    if (!(m->ahead & SIM_SYNC_FIELDS)) {
        cage_counts_lattice(&s->lat, &s->st, c);
        return;
    }
    command(CMD_CAGE_PCP_COUNT, 0, 0);
    part_pcp_count(m->part, c);
    m->counts++;
}

/* The blocks take the state again at the next sweep: it was changed
 * outside them (a checkpoint restored, the level dynamics' equilibration). */
static void cm_reload(sim_state *s) { mpi_of(s)->scattered = 0; }

/* Set aside, the ranks go to the level dynamics' own split; back, the
 * lattice is split again (or, should that fail, swept on rank 0 alone:
 * the same results). */
static void cm_set_aside(sim_state *s, int aside)
{
    cage_mpi *m = mpi_of(s);
    if (aside) {
        m->was_split = m->part != NULL;
        unsplit(m);
        return;
    }
    sm_error err;
    if (m->was_split && split(s, m, &err) && getenv("SOFTMATRIX_MPI_VERBOSE"))
        fprintf(stderr, "softmatrix: cage dynamics: not split again: %s\n", err.msg);
    cm_reload(s);
}

/* s as the OpenMP cage dynamics keeps it, for the ops that only read it. */
static sim_state serial_view(const sim_state *s)
{
    sim_state v = *s;
    v.dyn_data = mpi_of(s)->serial;
    return v;
}

static int64_t cm_updates(const sim_state *s)
{
    const sim_state v = serial_view(s);
    return DYNAMICS_CAGE.updates_per_sweep(&v);
}

/* Record rec of the blocks into w, elem bytes a site. */
static void put_record(const sim_state *s, cage_mpi *m, ckpt_writer *w, int rec, int elem)
{
    ckpt_mpi_io io = {.rec = rec, .elem = elem};
    if (ckpt_put_sites_begin(w, RECORDS[rec], elem, s->lat.Lx, s->lat.Ly, &io.offset)) return;
    snprintf(io.path, sizeof io.path, "%s", w->tmp);
    command(CMD_CAGE_CKPT_WRITE, 0, 0);
    m->block_writes++;
    io_result res;
    if (part_io(m->part, 1, &io, &res)) {
        ckpt_writer_fail(w, EIO);
        return;
    }
    ckpt_put_sites_end(w, res.hash);
}

/* Record rec of r into the blocks, its checksum and values checked. */
static int get_record(const sim_state *s, cage_mpi *m, const ckpt_reader *r, const ckpt_record *rec, int f,
                      sm_error *err)
{
    ckpt_mpi_io io = {.offset = rec->offset, .step = s->step, .rec = f, .elem = rec->elem};
    snprintf(io.path, sizeof io.path, "%s", r->path);
    command(CMD_CAGE_CKPT_READ, 0, 0);
    m->block_reads++;
    io_result res;
    if (part_io(m->part, 0, &io, &res)) return sm_fail(err, "%s: cannot read checkpoint record %s", r->path, RECORDS[f]);
    if (res.hash != rec->sites_hash) return ckpt_sites_damaged(r->path, rec, err);
    if (res.invalid && f == REC_STAMP)
        return sm_fail(err, "%s: checkpoint has %lld kinetic stamps not before its step %lld", r->path,
                       (long long)res.invalid, (long long)s->step);
    if (res.invalid) return sm_fail(err, "%s: checkpoint has an invalid state at %lld sites", r->path, (long long)res.invalid);
    return 0;
}

/* While the blocks hold the state, each writes its own part of every site
 * record (level, sigma, phase, z counts at the OpenMP run's width);
 * otherwise rank 0's arrays are current (sim_sync_for_save). */
static void cm_save_fields(const sim_state *s, ckpt_writer *w)
{
    cage_mpi *m = mpi_of(s);
    if (!m->part || !m->scattered) {
        sim_save_fields(s, w);
        return;
    }
    for (int rec = 0; rec < REC_Z; rec++) put_record(s, m, w, rec, 1);
    put_record(s, m, w, REC_Z, m->z_wide || !s->st.zjumps ? 4 : 2);
}

/* The stamps (as the OpenMP run keeps them, uint16 or uint32) and the
 * kinetic counters, after the fields. */
static void cm_save(const sim_state *s, ckpt_writer *w)
{
    cage_mpi *m = mpi_of(s);
    if (!m->part || !m->scattered) {
        const sim_state v = serial_view(s);
        DYNAMICS_CAGE.save(&v, w);
        return;
    }
    put_record(s, m, w, REC_STAMP, s->kin->stamp_wide ? 4 : 2);
    ckpt_put(w, "kin.counters", &s->kin->c, sizeof s->kin->c);
}

/* The site records straight into the blocks, checked there (range, the
 * energy sums); rank 0's arrays are left behind until something reads
 * them (sim_sync). A checkpoint whose counts are not site records goes
 * through rank 0's arrays. */
static int cm_restore_fields(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    cage_mpi *m = mpi_of(s);
    const ckpt_record *rec[REC_STAMP];
    m->restored = 0;
    for (int f = 0; f < REC_STAMP; f++)
        if (!(rec[f] = ckpt_find(r, RECORDS[f], err))) return 1;
    if (!m->part || !rec[0]->elem || !rec[1]->elem || !rec[2]->elem || !rec[REC_Z]->elem) {
        cm_reload(s);
        global_state(s);
        return sim_restore_fields(s, r, err);
    }
    for (int f = 0; f < REC_Z; f++)
        if (rec[f]->elem != 1 || rec[f]->Lx != s->lat.Lx || rec[f]->Ly != s->lat.Ly)
            return sm_fail(err, "%s: checkpoint record %s is not one byte a site of a %dx%d lattice", r->path,
                           RECORDS[f], s->lat.Lx, s->lat.Ly);
    if (!sim_zjumps_record_ok(s, r, rec[REC_Z], err)) return 1;
    for (int f = 0; f < REC_STAMP; f++)
        if (get_record(s, m, r, rec[f], f, err)) return 1;
    int64_t bad;
    energy_terms t;
    command(CMD_CAGE_TERMS, 0, 0);
    decomp_state_terms(&m->part->d, &bad, &t);
    if (bad) return sm_fail(err, "%s: checkpoint has an invalid state at %lld sites", r->path, (long long)bad);
    if (memcmp(&t, &s->e, sizeof t) != 0)
        return sm_fail(err, "%s: checkpoint energy sums disagree with its configuration", r->path);
    m->z_wide = rec[REC_Z]->elem == 4;
    m->scattered = m->restored = 1;
    m->ahead = SIM_SYNC_FIELDS;
    return 0;
}

/* The stamps into the blocks when the fields went there, the global
 * kinetics' width as the OpenMP run's restore leaves its own. */
static int cm_restore(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    cage_mpi *m = mpi_of(s);
    if (!m->restored) {
        int rc;
        SERIAL(s, rc = DYNAMICS_CAGE.restore(s, r, err));
        cm_reload(s);
        return rc;
    }
    const ckpt_record *rec = ckpt_find(r, RECORDS[REC_STAMP], err);
    if (!rec) return 1;
    if ((rec->elem != 2 && rec->elem != 4) || rec->Lx != s->lat.Lx || rec->Ly != s->lat.Ly)
        return sm_fail(err, "%s: checkpoint record kin.stamp is not 2 or 4 bytes a site of a %dx%d lattice",
                       r->path, s->lat.Lx, s->lat.Ly);
    if (get_record(s, m, r, rec, REC_STAMP, err)) return 1;
    if ((rec->elem == 4 || s->step >= (int64_t)KIN_STAMP16_SWEEPS) && kinetics_widen_stamps(s->kin, s->lat.N))
        return sm_fail(err, "out of memory for the kinetic stamps of %lld sites", (long long)s->lat.N);
    return ckpt_get(r, "kin.counters", &s->kin->c, sizeof s->kin->c, err);
}

/* A level-dynamics equilibration hands the lattice to rank 0, from whose
 * copy the level dynamics takes it (the run's own, or a segment's). */
static int hands_over(const sm_config *cfg)
{
    if (cfg->equilibration_dynamics == EQ_DYNAMICS_LEVEL && cfg->equilibration_sweeps > 0) return 1;
    for (int i = 0; i < cfg->nseg; i++)
        if (sim_segment_equilibrates_level(cfg, i)) return 1;
    return 0;
}

static int split_all_along(const sm_config *cfg) { return mpi_session_lattice_ranks() > 1 && !hands_over(cfg); }

/* One rank's block when the lattice stays split; else rank 0's copy, the
 * whole lattice. */
static double cm_memory_share(const sm_config *cfg)
{
    return split_all_along(cfg) ? 1.0 / mpi_session_lattice_ranks() : 1.0;
}

/* A block keeps int32 z counts (2 bytes a site beyond the int16 ones of
 * the shared state) and uint32 stamps beside its event bits. */
static double cm_bytes_per_site(const sm_config *cfg)
{
    return split_all_along(cfg) ? 2.0 + 4.0 + 2.0 / 16.0 : DYNAMICS_CAGE.bytes_per_site_of(cfg);
}

const dynamics_ops DYNAMICS_CAGE_MPI = {
    .update_unit = "PCP move",
    .nmoves = CAGE_NMOVES,
    .move_names = CAGE_MOVE_NAMES,
    .pcp_fields = 1,
    .bytes_per_site_of = cm_bytes_per_site,
    .memory_share = cm_memory_share,
    .init = cm_init,
    .init_fields = cm_init_fields,
    .set_temperature = cm_set_temperature,
    .sweep = cm_sweep,
    .sync = cm_sync,
    .field_counts = cm_field_counts,
    .cage_counts = cm_cage_counts,
    .census = cm_census,
    .snapshot = cm_snapshot,
    .set_aside = cm_set_aside,
    .updates_per_sweep = cm_updates,
    .save_fields = cm_save_fields,
    .restore_fields = cm_restore_fields,
    .save = cm_save,
    .restore = cm_restore,
    .free = cm_free,
};
