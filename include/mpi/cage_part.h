/* One rank's part of a cage lattice split over MPI ranks (docs/mpi.md):
 * its block of level, sigma and phase (mpi/decomp.h, with the phase field),
 * its kinetic stamps (uint32) and z counts (int32, exact; whether the
 * OpenMP run's int16 counts would have been widened is kept as a flag), and
 * what it does on rank 0's commands (mpi/cage_mpi.c drives them; ranks
 * 1..P-1 serve them, cage_mpi_serve). Every move is cage_block_bonds' and
 * cage_block_colour's, the one definition, so the result is bitwise that of
 * the OpenMP binary.
 *
 * A sweep on every rank: the halo of phase, sigma and level starts, the
 * interiors of the three bond passes are updated while it travels, then
 * their edges; colour 0's edge sites, then the halo of level and sigma
 * starts and the interiors of colour 0 and 1 are updated while it travels,
 * then colour 1's edge sites (cage_block_interior says what reads no halo);
 * then the sweep's soft-matrix events (rare: arrivals at level 8) go to
 * the ranks whose blocks their footprints reach (mpi/cage_events.h), each
 * of which adds to its own z counts the part inside its block, in the
 * serial order (colour 0's, then colour 1's, each by global index) as
 * kinetics_apply_jumps does. A bond across a block edge is computed by both
 * blocks from the same random numbers, each moving its own end. Compiled
 * only into the MPI build. */
#ifndef SM_MPI_CAGE_PART_H
#define SM_MPI_CAGE_PART_H

#include "dynamics/cage.h"
#include "dynamics/cage_counts.h"
#include "dynamics/dynamics.h"
#include "dynamics/kinetics.h"
#include "mpi/cage_events.h"
#include "mpi/ckpt_mpi.h"
#include "mpi/decomp.h"
#include "mpi/lattice_cmd.h"

/* What SETUP tells every rank. */
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
    int32_t *ev;         /* events (x, y, sign) of this block's sweep */
    int64_t ev_cap;
    event_routes routes; /* the ranks they reach, and those that reach it */
    cage_counts *rank_counts;   /* per rank, for the PCP counts */
    energy_terms de;     /* changes since the last SUMS */
    move_stats ms;
    kin_counters kc;
} cage_part;

/* Collective: the block decomposition of su's lattice and this rank's part;
 * NULL (the same message on every rank) when it cannot be made. */
cage_part *cage_part_new(const cage_setup *su, sm_error *err);
void cage_part_free(cage_part *e);

/* Collective: one cage sweep of every block, its sums added to the part's. */
void cage_part_sweep(cage_part *e, uint64_t step, double T);
/* Collective: every rank's changes since the last SUMS, added into rank 0's
 * *de, *ms and *kc (NULL elsewhere); *wide (rank 0) set when a block's z
 * counts have left the int16 range since the scatter. */
void cage_part_sums(cage_part *e, energy_terms *de, move_stats *ms, kin_counters *kc, int *wide);
/* Collective: the field counts of every block into rank 0's *c. */
void cage_part_count(cage_part *e, field_counts *c);
/* Collective: the PCP field counts of every block, added into rank 0's *c
 * (NULL elsewhere). */
void cage_part_pcp_count(cage_part *e, cage_counts *c);

/* Collective: rank 0's state s (NULL elsewhere) to the blocks: fields,
 * stamps, z counts; words is N words of scratch on rank 0. */
void cage_part_scatter(cage_part *e, const sim_state *s, uint32_t *words);
/* Collective: the blocks back into rank 0's state s (NULL elsewhere); the
 * z counts widened where the OpenMP run's would have been (wide0: rank 0
 * knows they were, from a checkpoint). Exits when out of memory for that,
 * as kinetics_apply_jumps does. */
void cage_part_gather(cage_part *e, sim_state *s, uint32_t *words, int wide0);

/* Collective: rank 0's *fi (NULL elsewhere) to every rank, and each block
 * set to the initial state: level and sigma by the serial rule per site,
 * phase 0, no stamps, no jumps. */
void cage_part_init(cage_part *e, const field_init *fi);
/* Each block as the level dynamics hands a lattice back at step
 * (sim_level_swap_out): phases drawn afresh, no stamps; the z counts stay. */
void cage_part_restart(cage_part *e, int64_t step);

/* Collective: record io->rec of the blocks written into or read from the
 * file (ckpt_mpi_move). */
int cage_part_io(cage_part *e, int write, const ckpt_mpi_io *io, ckpt_mpi_result *res);

#endif
