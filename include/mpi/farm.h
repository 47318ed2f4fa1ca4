/* The sweep farm (docs/mpi.md): with P > 1 ranks, rank 0 runs the serial
 * sweep driver (scan/runner.c: validation, resume, index) and hands point
 * numbers out one at a time to ranks 1..P-1 as they become free; each
 * worker runs its point exactly as the serial sweep would (a forked
 * run_main), so point files are bitwise those of a serial sweep. */
#ifndef SM_MPI_FARM_H
#define SM_MPI_FARM_H

#include "scan/runner.h"

/* sweep_execute on one rank or without MPI; the farm on several, of
 * single ranks or of groups of o->rpp ranks. Every rank returns the same
 * exit code. */
int mpi_sweep_execute(const sweep_opts *o);

#endif
