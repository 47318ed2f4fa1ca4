/* One rank's part of a split cage lattice (mpi/cage_part.h). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mpi/cage_part.h"
#include "mpi/census_mpi.h"
#include "mpi/snapshot_mpi.h"



static MPI_Comm comm(void) { return mpi_lattice_comm(); }

void cage_part_free(cage_part *e)
{
    if (!e) return;
    e->k.stamp32 = NULL;   /* the part's own, below */
    kinetics_free(&e->k);
    decomp_free(&e->d);
    free(e->t);
    free(e->stamp);
    free(e->z);
    free(e->ev);
    event_routes_free(&e->routes);
    free(e->rank_counts);
    free(e);
}

static int64_t block_cells(const decomp *d) { return (int64_t)d->b.stride * (d->b.ny + 2); }

/* Collective: the block decomposition of su's lattice and this rank's part;
 * NULL (the same message on every rank) when it cannot be made. */
cage_part *cage_part_new(const cage_setup *su, sm_error *err)
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
    e->rank_counts = calloc((size_t)ranks, sizeof *e->rank_counts);
    ok = e->t && e->stamp && e->z && e->rank_counts && !kinetics_init_events(&e->k, &e->d.lat, lb->nx, lb->ny, &mine) &&
         !event_routes_init(&e->routes, &e->d, &mine);
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm());
    if (!all) {
        cage_part_free(e);
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
 * e->ev) to the blocks they reach (mpi/cage_events.h), and those that reach
 * this block applied to the part of their footprints in it. z is read only
 * between sweeps, so both colours travel together, once a sweep. */
static void exchange_events(cage_part *e, int n)
{
    const cage_block *b = &e->b;
    const int64_t total = event_routes_exchange(&e->routes, &e->d, e->ev, n);
    int32_t *all = e->routes.in;
    /* the serial order of the events that change this block's counts: the
     * same int32 saturation and int16 widening as the whole lattice's */
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
void cage_part_sweep(cage_part *e, uint64_t step, double T)
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
void cage_part_sums(cage_part *e, energy_terms *de, move_stats *ms, kin_counters *kc, int *wide)
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
void cage_part_count(cage_part *e, field_counts *c)
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
void cage_part_pcp_count(cage_part *e, cage_counts *c)
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
void cage_part_scatter(cage_part *e, const sim_state *s, uint32_t *words)
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
void cage_part_gather(cage_part *e, sim_state *s, uint32_t *words, int wide0)
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
void cage_part_init(cage_part *e, const field_init *fi)
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

/* Each block as the level dynamics hands a lattice back at step
 * (sim_level_swap_out): phases drawn afresh, no stamps; the z counts stay. */
void cage_part_restart(cage_part *e, int64_t step)
{
    const cage_block *b = &e->b;
    for (int y = 0; y < b->ny; y++)
        for (int x = 0; x < b->nx; x++) {
            const int64_t a = (int64_t)y * b->stride + x;
            b->phase[a] = sim_fresh_phase(e->seed, step, (int64_t)(b->gy0 + y) * b->lat->Lx + b->gx0 + x);
            e->k.stamp32[a] = KIN_NO_STAMP;
        }
}

lattice_loan cage_mpi_loan(cage_part *e)
{
    return (lattice_loan){&e->d, {e->z, model_n_z(&e->p)}};
}


/* The block's values of record io->rec, row by row, at the record's width. */
static void part_pack(const void *part, const ckpt_mpi_io *io, void *values)
{
    const cage_part *e = part;
    const cage_block *b = &e->b;
    if (io->rec < SIM_REC_Z) {
        decomp_pack(&e->d, io->rec, values);
        return;
    }
    int16_t *v16 = values;
    uint32_t *v32 = values;
    for (int y = 0; y < b->ny; y++)
        for (int x = 0; x < b->nx; x++) {
            const int64_t i = (int64_t)y * b->nx + x;
            const uint32_t v = io->rec == SIM_REC_Z ? (uint32_t)e->z[i] : e->k.stamp32[(int64_t)y * b->stride + x];
            if (io->elem == 4) v32[i] = v;
            else if (io->rec == SIM_REC_Z) v16[i] = (int16_t)(int32_t)v;
            else v16[i] = (int16_t)(v == KIN_NO_STAMP ? 0xFFFF : v);
        }
}

/* The other way; returns the number of values out of range (a phase past
 * the cage, a stamp not before the checkpoint's step). */
static int64_t part_unpack(void *part, const ckpt_mpi_io *io, const void *values)
{
    cage_part *e = part;
    const cage_block *b = &e->b;
    int64_t bad = 0;
    if (io->rec < SIM_REC_Z) {
        decomp_unpack(&e->d, io->rec, values);
        for (int y = 0; y < b->ny && io->rec == SIM_REC_PHASE; y++)
            for (int x = 0; x < b->nx; x++) bad += b->phase[(int64_t)y * b->stride + x] >= NPHASE;
        return bad;
    }
    const int16_t *v16 = values;
    const uint32_t *v32 = values;
    for (int y = 0; y < b->ny; y++)
        for (int x = 0; x < b->nx; x++) {
            const int64_t i = (int64_t)y * b->nx + x;
            if (io->rec == SIM_REC_Z) {
                e->z[i] = io->elem == 4 ? (int32_t)v32[i] : v16[i];
                continue;
            }
            const uint32_t v = io->elem == 4 ? v32[i] : (uint16_t)v16[i] == 0xFFFF ? KIN_NO_STAMP : (uint16_t)v16[i];
            e->k.stamp32[(int64_t)y * b->stride + x] = v;
            bad += v != KIN_NO_STAMP && v >= (uint64_t)io->step;
        }
    if (io->rec == SIM_REC_Z) e->z_wide = 0;
    return bad;
}

/* Collective: record io->rec of the blocks written into or read from the
 * file (ckpt_mpi_move). */
int cage_part_io(cage_part *e, int write, const ckpt_mpi_io *io, ckpt_mpi_result *res)
{
    const ckpt_mpi_block b = {part_pack, part_unpack, e};
    return ckpt_mpi_move(&e->d, comm(), write, io, &b, res);
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
        *e = cage_part_new(&su, &err);
        break;
    }
    case CMD_CAGE_SCATTER: cage_part_scatter(*e, NULL, NULL); break;
    case CMD_CAGE_SWEEP: cage_part_sweep(*e, (uint64_t)c->step, c->T); break;
    case CMD_CAGE_SUMS: cage_part_sums(*e, NULL, NULL, NULL, NULL); break;
    case CMD_CAGE_GATHER: cage_part_gather(*e, NULL, NULL, 0); break;
    case CMD_CAGE_COUNT: cage_part_count(*e, NULL); break;
    case CMD_CAGE_PCP_COUNT: cage_part_pcp_count(*e, NULL); break;
    case CMD_CAGE_CKPT_WRITE:
    case CMD_CAGE_CKPT_READ: cage_part_io(*e, c->op == CMD_CAGE_CKPT_WRITE, NULL, NULL); break;
    case CMD_CAGE_INIT: cage_part_init(*e, NULL); break;
    case CMD_CAGE_RESTART: cage_part_restart(*e, c->step); break;
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
        cage_part_free(*e);
        *e = NULL;
    }
}
