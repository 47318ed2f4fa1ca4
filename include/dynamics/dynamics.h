/* Dynamics kinds: each is one file (level.c, cage.c) that fills one ops
 * table, and one line of the registry (registry.h). The run loop, the
 * configuration and the checkpoint reach a kind only through its table, so
 * a new kind touches nothing else.
 *
 * The sim_* functions are the whole interface the run, the tests and the
 * benchmark use: they set up the shared state (core/state.h) and call the
 * configured kind. */
#ifndef SM_DYNAMICS_H
#define SM_DYNAMICS_H

#include <stddef.h>
#include <stdint.h>
#include "core/counts.h"
#include "core/state.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "dynamics/registry.h"

struct census_result;
struct cage_counts;
struct h5out;

typedef struct dynamics_ops {
    const char *update_unit;     /* what one site-update of the timing is */
    int nmoves;                  /* move types counted in sim_state.moves */
    const char *const *move_names;
    /* 1 when the kind moves the PCPs: phase and the soft-matrix jump counts
     * are allocated only then (core/model.h). */
    int pcp_fields;
    /* Extra bytes per site the kind allocates (for the memory estimate), or
     * when bytes_per_site_of is set, what it says for the config. */
    double bytes_per_site;
    double (*bytes_per_site_of)(const sm_config *cfg);
    /* The fraction of the lattice's fields this process would hold in a
     * run of cfg (one rank's block of a split lattice); NULL: all of it. */
    double (*memory_share)(const sm_config *cfg);
    /* Allocates s->dyn_data; may set s->kin. Called before the fields are
     * set up: reads the lattice and parameters only. */
    int (*init)(sim_state *s, const sm_config *cfg, sm_error *err);
    /* Sets up the initial fields (field_init_site) and s->e where the kind
     * keeps them, and returns 1: s->st is then unallocated (NULL arrays)
     * until its sync allocates and fills it. 0 (or NULL): sim_init
     * allocates and fills s->st. */
    int (*init_fields)(sim_state *s, const sm_config *cfg);
    /* Rebuilds acceptance tables for T (called before every sweep). */
    void (*set_temperature)(sim_state *s, double T);
    /* One sweep at the temperature last set; s->step is advanced by sim_sweep. */
    void (*sweep)(sim_state *s);
    /* Brings s->e and s->moves (SIM_SYNC_SUMS), and with them s->st
     * (SIM_SYNC_FIELDS), up to date for a kind that keeps them elsewhere
     * between sweeps (the blocks of a lattice split over MPI ranks); NULL
     * when the shared state is always current. */
    void (*sync)(sim_state *s, int what);
    /* The field counts of the current state, counted where the state is;
     * NULL: from s->st. */
    void (*field_counts)(const sim_state *s, field_counts *c);
    /* The PCP field counts (dynamics/cage_counts.h) of a kind with
     * pcp_fields, counted where the state is; NULL: cage_counts_lattice
     * of s->st (diag/obs_cage.c). */
    void (*cage_counts)(const sim_state *s, struct cage_counts *c);
    /* The census (diag/census.h) of the current state, taken where the
     * state is; NULL: census_compute on s->st. */
    int (*census)(const sim_state *s, struct census_result *r, sm_error *err);
    /* A snapshot of the current state (io/h5out.h's h5out_snapshot of the
     * fields bits), written from where the state is; NULL: from s->st,
     * after sim_sync. */
    int (*snapshot)(const sim_state *s, struct h5out *h, unsigned fields, int compression,
                    sm_error *err);
    /* The level dynamics takes over the state for a while (its
     * equilibration, sim_level_swap_in). With aside 1, after
     * sim_sync_sums, the kind either lends what it keeps elsewhere
     * (s->lent: a split lattice's blocks, which the level dynamics then
     * sweeps where they are) or brings s->st up to date and lets go of it
     * (its ranks, which the level dynamics may split its own blocks over);
     * with aside 0 it takes the state, changed or not, back and ends the
     * loan (s->lent NULL). NULL: s->st is always current. */
    void (*set_aside)(sim_state *s, int aside);
    /* After a loan, where the blocks are: what sim_level_swap_out does to
     * s->st otherwise (PCP phases drawn afresh at s->step, no kinetic
     * stamps). */
    void (*restart_pcp)(sim_state *s);
    int64_t (*updates_per_sweep)(const sim_state *s);
    /* The checkpoint records of level and sigma, written and read (and the
     * restored state checked) where the fields are: the blocks of a lattice
     * split over MPI ranks. NULL: sim_save_fields and sim_restore_fields. */
    void (*save_fields)(const sim_state *s, ckpt_writer *w);
    int (*restore_fields)(sim_state *s, const ckpt_reader *r, sm_error *err);
    /* The kind's own checkpoint records, beside the shared fields. */
    void (*save)(const sim_state *s, ckpt_writer *w);
    int (*restore)(sim_state *s, const ckpt_reader *r, sm_error *err);
    void (*free)(sim_state *s);
} dynamics_ops;


/* The initial state of a site (run.init_* of the config): level and sigma
 * of site (x, y) of a lattice Lx wide, from the seed's initial stream, so
 * that any piece of the lattice can be set up on its own. */
typedef struct {
    int level_random, level, sigma;
} field_init;
field_init field_init_of(const sm_config *cfg);
void field_init_site(const field_init *fi, uint64_t seed, int Lx, int x, int y, int8_t *level, int8_t *sigma);

/* Shared state from cfg plus the configured kind's own. */
int sim_init(sim_state *s, const sm_config *cfg, sm_error *err);
void sim_free(sim_state *s);
/* Sets the temperature of the next sweep. */
void sim_set_temperature(sim_state *s, double T);
/* One sweep of the configured dynamics at s->T; advances s->step. The
 * fields are current only after sim_sync, the energy sums and move
 * counters after sim_sync or sim_sync_sums: whatever reads them after
 * sweeps (diagnostics, checkpoints, another kind taking over) calls one
 * first. */
void sim_sweep(sim_state *s);
enum { SIM_SYNC_SUMS = 1, SIM_SYNC_FIELDS = 2 };
void sim_sync(sim_state *s);
void sim_sync_sums(sim_state *s);
/* The field counts (core/counts.h) of the state after the last sweep,
 * without sim_sync. */
void sim_field_counts(const sim_state *s, field_counts *c);
/* The snapshot of the state after the last sweep into h: without sim_sync
 * when sim_snapshot_in_place, else of s->st. */
int sim_snapshot(const sim_state *s, struct h5out *h, unsigned fields, int compression, sm_error *err);
int sim_snapshot_in_place(const sim_state *s);
/* Site-updates per sweep (the unit of ns per site-update). */
int64_t sim_site_updates_per_sweep(const sim_state *s);
/* 1 when the kind takes the census (diag/census.h) where the state is,
 * without sim_sync (a lattice split over MPI ranks takes it on its
 * blocks): sim_census; else the census is of s->st after sim_sync. */
int sim_census_in_place(const sim_state *s);
int sim_census(const sim_state *s, struct census_result *r, sm_error *err);
/* The run's equilibration (run.equilibration_sweeps at the first
 * temperature) with the level dynamics when run.equilibration_dynamics is
 * "level" and the configured kind is another: the level dynamics samples
 * the same W fast, then the configured kind takes over the state with its
 * own bookkeeping started afresh and the PCP phases drawn uniformly (their
 * equilibrium distribution; H does not depend on them). Advances s->step
 * past the equilibration and leaves the move counters as they were. Does
 * nothing (returns 0) otherwise; the run then equilibrates as it sweeps. */
int sim_equilibrate_level(sim_state *s, const sm_config *cfg, sm_error *err);

/* The configured kind, set aside while the level dynamics runs in its place. */
typedef struct {
    const struct dynamics_ops *dyn;
    const char *kind;
    void *data;
    struct kinetics *kin;
    move_stats moves;
} level_swap;
/* Puts the level dynamics in place of the configured kind, whose tables and
 * kinetic counters are kept aside in sw (nothing of it is freed). */
int sim_level_swap_in(sim_state *s, const sm_config *cfg, level_swap *sw, sm_error *err);
/* Gives the state back to the kind in sw as at t = 0 of a kinetic run: PCP
 * phases drawn uniformly (addressed by s->step), no site with a last loop
 * completion (tau_i intervals start afresh), move counters as they were
 * before the swap; the cumulative kinetic counters continue. */
void sim_level_swap_out(sim_state *s, const level_swap *sw);
/* The uniform PCP phase that site a gets at step from the level dynamics'
 * hand-back (the equilibrium distribution: H does not depend on it). */
uint8_t sim_fresh_phase(uint64_t seed, int64_t step, int64_t a);
/* 1 when schedule segment seg's own equilibration sweeps run with the level
 * dynamics: run.equilibrate_each_segment, run.equilibration_dynamics
 * "level", a kind other than level, a hold (T_from == T_to; ramps never)
 * with equilibration sweeps. */
int sim_segment_equilibrates_level(const sm_config *cfg, int seg);
/* 1 when hold segment seg starts from a level-dynamics equilibration at its
 * temperature: its own (above), or the run's for the first segment. */
int sim_segment_starts_in_equilibrium(const sm_config *cfg, int seg);
/* The number of sweeps of the level block that starts at schedule sweep k
 * (the first equilibration sweep of a segment for which
 * sim_segment_equilibrates_level holds), else 0. */
int64_t sim_level_block(const sm_config *cfg, int64_t k);

/* The memory a run of cfg needs, by part, in bytes (sim_memory_estimate):
 * what sim_init allocates and, while they run, snapshot frames and the
 * census; in this process, which holds share of the lattice (one rank's
 * block of a lattice split over MPI ranks). Baseline (program, libraries,
 * HDF5 caches) not included. */
enum { SIM_MEM_FIELDS, SIM_MEM_PCP, SIM_MEM_DYNAMICS, SIM_MEM_SNAPSHOT, SIM_MEM_CENSUS,
       SIM_MEM_NPARTS };
typedef struct {
    double bytes[SIM_MEM_NPARTS];
    double total;
    double share;   /* of the lattice held here: 1, or one rank's block of a split lattice */
} sim_memory;
extern const char *const SIM_MEM_PART_NAMES[SIM_MEM_NPARTS];
void sim_memory_estimate(const sm_config *cfg, sim_memory *m);

/* Checkpoint records of everything a sweep reads or accumulates. */
void sim_save(const sim_state *s, ckpt_writer *w);
/* Restores them into a state set up by sim_init from the same config; a
 * checkpoint that does not belong to this state is refused. */
int sim_restore(sim_state *s, const ckpt_reader *r, sm_error *err);
/* The shared site records (level, sigma; phase and z with PCP fields) from
 * and into s->st, the restored fields checked (in range, the energy sums
 * those of the configuration): what a kind without save_fields and
 * restore_fields has done for it. */
/* The checkpoint's site records (ckpt_put_sites), one name each, numbered
 * as the split lattices' blocks move them (ckpt_mpi_io.rec): level, sigma,
 * phase, z jump counts, kinetic stamps (the cage dynamics'); and the
 * kinetic counters' record. */
enum { SIM_REC_LEVEL, SIM_REC_SIGMA, SIM_REC_PHASE, SIM_REC_Z, SIM_REC_STAMP, SIM_NREC };
extern const char *const SIM_SITE_RECORDS[SIM_NREC];
#define SIM_KIN_COUNTERS_RECORD "kin.counters"
void sim_save_fields(const sim_state *s, ckpt_writer *w);
int sim_restore_fields(sim_state *s, const ckpt_reader *r, sm_error *err);
/* 1 when site record rec of sim.zjumps fits s (int16 or int32 counts of its
 * lattice), else 0 with err set. */
int sim_zjumps_record_ok(const sim_state *s, const ckpt_reader *r, const ckpt_record *rec, sm_error *err);
/* Brings up to date what sim_save reads: the sums, and the fields unless
 * the kind writes them from where they are (save_fields). */
void sim_sync_for_save(sim_state *s);

#endif
