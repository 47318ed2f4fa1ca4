/* The commands rank 0 of a split lattice broadcasts to the other ranks of
 * the lattice communicator (mpi/session.h), which carry them out together
 * with it: the level dynamics' (mpi/level_mpi.c) and the cage dynamics'
 * (mpi/cage_mpi.c), served by one loop (mpi_lattice_serve). Compiled only
 * into the MPI build. */
#ifndef SM_MPI_LATTICE_CMD_H
#define SM_MPI_LATTICE_CMD_H

#include <mpi.h>
#include <stdint.h>
#include "mpi/decomp.h"
#include "mpi/snapshot_mpi.h"

typedef struct {
    int64_t op, arg, step;
    double T;
} lat_cmd;

enum { CMD_STOP = 0, CMD_SETUP = 1, CMD_SCATTER = 2, CMD_SWEEP = 3, CMD_FREE = 4, CMD_SUMS = 5,
       CMD_GATHER = 6, CMD_COUNT = 7, CMD_CENSUS = 8, CMD_SNAPSHOT = 9, CMD_CKPT_WRITE = 10,
       CMD_CKPT_READ = 11, CMD_TERMS = 12, CMD_INIT = 13,
       /* the cage dynamics' */
       CMD_CAGE_SETUP = 16, CMD_CAGE_SCATTER = 17, CMD_CAGE_SWEEP = 18, CMD_CAGE_SUMS = 19,
       CMD_CAGE_GATHER = 20, CMD_CAGE_COUNT = 21, CMD_CAGE_CENSUS = 22, CMD_CAGE_SNAPSHOT = 23,
       CMD_CAGE_FREE = 24, CMD_CAGE_PCP_COUNT = 25, CMD_CAGE_CKPT_WRITE = 26,
       CMD_CAGE_CKPT_READ = 27, CMD_CAGE_TERMS = 28, CMD_CAGE_INIT = 29, CMD_CAGE_RESTART = 30 };

/* The ranks the lattice is split over. */
MPI_Comm mpi_lattice_comm(void);
/* Rank 0 sends c, every rank returns it, without spinning while waiting
 * (busy: a lattice is split, so the next command comes within a sweep). */
lat_cmd mpi_lattice_command(lat_cmd c, int busy);

/* The commands a split lattice's rank 0 sent, which
 * SOFTMATRIX_MPI_VERBOSE prints when the lattice is freed (for tests and a
 * first look at a new machine, docs/mpi.md). */
typedef struct {
    int64_t sweeps, sums, counts, gathers, censuses, snapshots, block_writes, block_reads;
} lattice_tally;
void mpi_lattice_tally_print(const char *kind, const lattice_tally *t);

/* Ranks other than 0: carry out cage command c (CMD_CAGE_*) on this rank's
 * part *e of the split lattice, created by SETUP and freed by FREE. */
struct cage_part;
void cage_mpi_serve(struct cage_part **e, const lat_cmd *c);

/* A split cage lattice's blocks lent to the level dynamics that sweeps in
 * the cage dynamics' place (its equilibrations, sim_level_swap_in): the
 * level and sigma of the same decomposition, swept where they are, and
 * the phase and z counts, which stay as they were and which a snapshot
 * taken meanwhile writes, as the OpenMP run's does. */
typedef struct {
    decomp *d;
    snapshot_pcp pcp;
} lattice_loan;
/* What part e lends (on every rank: rank 0's sim_state.lent points at its
 * copy; the other ranks find it beside their level engine). */
lattice_loan cage_mpi_loan(struct cage_part *e);

#endif
