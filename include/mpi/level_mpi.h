/* The level dynamics of one lattice split over MPI ranks (docs/mpi.md).
 * In the MPI build the registry's "level" kind is DYNAMICS_LEVEL_MPI: on
 * rank 0 of several (of the lattice communicator: the job, or a sweep's
 * group of ranks) it splits the lattice into blocks (mpi/decomp.h) and has
 * every rank sweep its own with level_sweep_block_colour, the one
 * definition of the site update; elsewhere (one rank, no MPI, a sweep
 * point of one rank, the transition command's samplers) it is the OpenMP
 * level sweep. Either way the result is bitwise that of the OpenMP binary.
 *
 * Rank 0 runs the subcommand; the blocks hold the state and set it up,
 * count the observables, take the census and write snapshots and
 * checkpoints themselves, and rank 0's global copy of the state is made
 * only for what still reads it (sim_sync). The other ranks serve rank 0's
 * commands until STOP. */
#ifndef SM_MPI_LEVEL_MPI_H
#define SM_MPI_LEVEL_MPI_H

/* Ranks 1..P-1: serve until rank 0's mpi_lattice_stop; its exit code. */
int mpi_lattice_serve(void);
/* Rank 0, after its subcommand: releases the others with code. */
void mpi_lattice_stop(int code);

#endif
