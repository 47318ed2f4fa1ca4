/* The cage dynamics of one lattice split over MPI ranks (docs/mpi.md). In
 * the MPI build the registry's "cage" kind is DYNAMICS_CAGE_MPI: on rank 0
 * of several it splits the lattice into blocks (mpi/cage_part.h) and
 * commands every rank to sweep its own; elsewhere it is the OpenMP cage
 * dynamics. Either way the result is bitwise that of the OpenMP binary.
 *
 * Rank 0 keeps the cage dynamics' tables and its global kinetic counters:
 * SUMS adds every rank's energy changes, move counts and kinetic counters
 * into them. The blocks set up, count, write and read the state
 * themselves; GATHER (sim_sync) brings level, sigma, phase, stamps and z
 * counts into a copy on rank 0 only for what still reads it there. The
 * level dynamics' equilibrations sweep these blocks, lent (lattice_loan). */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mpi/cage_part.h"
#include "mpi/census_mpi.h"
#include "mpi/session.h"
#include "mpi/snapshot_mpi.h"

extern const dynamics_ops DYNAMICS_CAGE;

static MPI_Comm comm(void) { return mpi_lattice_comm(); }

/* Rank 0's data: the OpenMP cage dynamics' own (its tables, the global
 * kinetics, its checkpoint records), and the part when split. */
typedef struct {
    void *serial;        /* DYNAMICS_CAGE's dyn_data */
    cage_part *part;     /* NULL: the lattice is not split */
    lattice_loan loan;   /* the part lent to the level dynamics (s->lent) */
    int scattered;       /* the blocks hold rank 0's current state */
    int ahead;           /* SIM_SYNC_* bits of what is behind the blocks */
    int z_wide;          /* the OpenMP run's z counts would be int32 by now */
    int restored;        /* the last checkpoint was read by the blocks */
    lattice_tally n;      /* rank 0: commands sent */
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
    m->part = cage_part_new(&su, err);
    if (!m->part) {
        mpi_session_release_lattice(MPI_ENGINE_CAGE);
        return 1;
    }
    if (getenv("SOFTMATRIX_MPI_VERBOSE"))
        fprintf(stderr, "softmatrix: cage dynamics: %dx%d lattice split over %dx%d ranks, rank 0's "
                "block %dx%d\n", s->lat.Lx, s->lat.Ly, m->part->d.px, m->part->d.py, m->part->b.nx,
                m->part->b.ny);
    return 0;
}

/* Gives the other ranks back (the blocks are behind nothing: sim_sync). */
static void unsplit(cage_mpi *m)
{
    if (!m->part) return;
    command(CMD_CAGE_FREE, 0, 0);
    cage_part_free(m->part);
    m->part = NULL;
    mpi_session_release_lattice(MPI_ENGINE_CAGE);
}

static void cm_free(sim_state *s)
{
    cage_mpi *m = mpi_of(s);
    if (!m) return;
    if (m->part) {
        unsplit(m);
        mpi_lattice_tally_print("cage", &m->n);
    }
    SERIAL(s, DYNAMICS_CAGE.free(s));
    free(m);
    s->dyn_data = NULL;
}

/* Split, rank 0 keeps the cage dynamics' counters and tables but neither
 * the lattice nor its stamps until something reads them (global_state). */
static int cm_init(sim_state *s, const sm_config *cfg, sm_error *err)
{
    const int claimed = mpi_session_claim_lattice(MPI_ENGINE_CAGE);
    if ((claimed ? cage_init_deferred : DYNAMICS_CAGE.init)(s, cfg, err)) {
        if (claimed) mpi_session_release_lattice(MPI_ENGINE_CAGE);
        return 1;
    }
    cage_mpi *m = calloc(1, sizeof *m);
    if (!m) {
        DYNAMICS_CAGE.free(s);
        if (claimed) mpi_session_release_lattice(MPI_ENGINE_CAGE);
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
    /* the level dynamics' gather during a loan allocates level and sigma only */
    if ((s->st.level || !model_state_init(&s->st, s->lat.N, &err)) &&
        (s->st.phase || !model_state_init_pcp(&s->st, &s->p, &err)) && !kinetics_init_sites(s->kin, &s->lat, &err))
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
    cage_part_init(m->part, &fi);
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

/* Rank 0's state into the blocks unless they hold it already. */
static void scatter(sim_state *s, cage_mpi *m)
{
    if (m->scattered) return;
    uint32_t *w = scratch(s);
    command(CMD_CAGE_SCATTER, 0, 0);
    cage_part_scatter(m->part, s, w);
    free(w);
    m->scattered = 1;
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
    scatter(s, m);
    command(CMD_CAGE_SWEEP, s->step, s->T);
    cage_part_sweep(m->part, (uint64_t)s->step, s->T);
    m->n.sweeps++;
    m->ahead = SIM_SYNC_SUMS | SIM_SYNC_FIELDS;
}

static void gather(sim_state *s, cage_mpi *m)
{
    global_state(s);
    uint32_t *w = scratch(s);
    command(CMD_CAGE_GATHER, 0, 0);
    cage_part_gather(m->part, s, w, m->z_wide);
    free(w);
    m->ahead &= ~SIM_SYNC_FIELDS;
    m->n.gathers++;
}

static void cm_sync(sim_state *s, int what)
{
    cage_mpi *m = mpi_of(s);
    if (m->ahead & SIM_SYNC_SUMS) {
        command(CMD_CAGE_SUMS, 0, 0);
        cage_part_sums(m->part, &s->e, &s->moves, &s->kin->c, &m->z_wide);
        m->ahead &= ~SIM_SYNC_SUMS;
        m->n.sums++;
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
    m->n.snapshots++;
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
            m->n.censuses++;
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
    cage_part_count(m->part, c);
    m->n.counts++;
}

static void cm_cage_counts(const sim_state *s, cage_counts *c)
{
    cage_mpi *m = mpi_of(s);
    if (!(m->ahead & SIM_SYNC_FIELDS)) {
        cage_counts_lattice(&s->lat, &s->st, c);
        return;
    }
    command(CMD_CAGE_PCP_COUNT, 0, 0);
    cage_part_pcp_count(m->part, c);
    m->n.counts++;
}

/* The blocks take the state again at the next sweep: it was changed
 * outside them (a checkpoint restored through rank 0's arrays). */
static void cm_reload(sim_state *s) { mpi_of(s)->scattered = 0; }

/* Set aside, a split lattice's blocks are lent to the level dynamics,
 * which sweeps their level and sigma where they are: the lattice never
 * moves to rank 0 for it. Unsplit, s->st is the state already. */
static void cm_set_aside(sim_state *s, int aside)
{
    cage_mpi *m = mpi_of(s);
    if (!m->part) return;
    if (aside) {
        scatter(s, m);
        m->loan = cage_mpi_loan(m->part);
        s->lent = &m->loan;
        return;
    }
    s->lent = NULL;
    m->ahead |= SIM_SYNC_FIELDS;
}

/* The blocks as the level dynamics hands them back (cage_part_restart). */
static void cm_restart_pcp(sim_state *s)
{
    cage_mpi *m = mpi_of(s);
    command(CMD_CAGE_RESTART, s->step, 0);
    cage_part_restart(m->part, s->step);
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
    if (ckpt_put_sites_begin(w, SIM_SITE_RECORDS[rec], elem, s->lat.Lx, s->lat.Ly, &io.offset)) return;
    snprintf(io.path, sizeof io.path, "%s", w->tmp);
    command(CMD_CAGE_CKPT_WRITE, 0, 0);
    m->n.block_writes++;
    ckpt_mpi_result res;
    if (cage_part_io(m->part, 1, &io, &res)) {
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
    m->n.block_reads++;
    ckpt_mpi_result res;
    if (cage_part_io(m->part, 0, &io, &res)) return sm_fail(err, "%s: cannot read checkpoint record %s", r->path, SIM_SITE_RECORDS[f]);
    if (res.hash != rec->sites_hash) return ckpt_sites_damaged(r->path, rec, err);
    if (res.invalid && f == SIM_REC_STAMP)
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
    for (int rec = 0; rec < SIM_REC_Z; rec++) put_record(s, m, w, rec, 1);
    put_record(s, m, w, SIM_REC_Z, m->z_wide || !s->st.zjumps ? 4 : 2);
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
    put_record(s, m, w, SIM_REC_STAMP, s->kin->stamp_wide ? 4 : 2);
    ckpt_put(w, SIM_KIN_COUNTERS_RECORD, &s->kin->c, sizeof s->kin->c);
}

/* The site records straight into the blocks, checked there (range, the
 * energy sums); rank 0's arrays are left behind until something reads
 * them (sim_sync). A checkpoint whose counts are not site records goes
 * through rank 0's arrays. */
static int cm_restore_fields(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    cage_mpi *m = mpi_of(s);
    const ckpt_record *rec[SIM_REC_STAMP];
    m->restored = 0;
    for (int f = 0; f < SIM_REC_STAMP; f++)
        if (!(rec[f] = ckpt_find(r, SIM_SITE_RECORDS[f], err))) return 1;
    if (!m->part || !rec[0]->elem || !rec[1]->elem || !rec[2]->elem || !rec[SIM_REC_Z]->elem) {
        cm_reload(s);
        global_state(s);
        return sim_restore_fields(s, r, err);
    }
    for (int f = 0; f < SIM_REC_Z; f++)
        if (rec[f]->elem != 1 || rec[f]->Lx != s->lat.Lx || rec[f]->Ly != s->lat.Ly)
            return sm_fail(err, "%s: checkpoint record %s is not one byte a site of a %dx%d lattice", r->path,
                           SIM_SITE_RECORDS[f], s->lat.Lx, s->lat.Ly);
    if (!sim_zjumps_record_ok(s, r, rec[SIM_REC_Z], err)) return 1;
    for (int f = 0; f < SIM_REC_STAMP; f++)
        if (get_record(s, m, r, rec[f], f, err)) return 1;
    int64_t bad;
    energy_terms t;
    command(CMD_CAGE_TERMS, 0, 0);
    decomp_state_terms(&m->part->d, &bad, &t);
    if (bad) return sm_fail(err, "%s: checkpoint has an invalid state at %lld sites", r->path, (long long)bad);
    if (memcmp(&t, &s->e, sizeof t) != 0)
        return sm_fail(err, "%s: checkpoint energy sums disagree with its configuration", r->path);
    m->z_wide = rec[SIM_REC_Z]->elem == 4;
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
    const ckpt_record *rec = ckpt_find(r, SIM_SITE_RECORDS[SIM_REC_STAMP], err);
    if (!rec) return 1;
    if ((rec->elem != 2 && rec->elem != 4) || rec->Lx != s->lat.Lx || rec->Ly != s->lat.Ly)
        return sm_fail(err, "%s: checkpoint record kin.stamp is not 2 or 4 bytes a site of a %dx%d lattice",
                       r->path, s->lat.Lx, s->lat.Ly);
    if (get_record(s, m, r, rec, SIM_REC_STAMP, err)) return 1;
    if ((rec->elem == 4 || s->step >= (int64_t)KIN_STAMP16_SWEEPS) && kinetics_widen_stamps(s->kin, s->lat.N))
        return sm_fail(err, "out of memory for the kinetic stamps of %lld sites", (long long)s->lat.N);
    return ckpt_get(r, SIM_KIN_COUNTERS_RECORD, &s->kin->c, sizeof s->kin->c, err);
}

/* One rank's block when the lattice is split (its level-dynamics
 * equilibrations borrow the same blocks); else the whole lattice. */
static double cm_memory_share(const sm_config *cfg)
{
    (void)cfg;
    return 1.0 / mpi_session_lattice_ranks(MPI_ENGINE_CAGE);
}

/* A block keeps int32 z counts (2 bytes a site beyond the int16 ones of
 * the shared state) and uint32 stamps beside its event bits. */
static double cm_bytes_per_site(const sm_config *cfg)
{
    return mpi_session_lattice_ranks(MPI_ENGINE_CAGE) > 1 ? 2.0 + 4.0 + 2.0 / 16.0
                                                          : DYNAMICS_CAGE.bytes_per_site_of(cfg);
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
    .restart_pcp = cm_restart_pcp,
    .updates_per_sweep = cm_updates,
    .save_fields = cm_save_fields,
    .restore_fields = cm_restore_fields,
    .save = cm_save,
    .restore = cm_restore,
    .free = cm_free,
};
