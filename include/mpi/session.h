/* The MPI build's process set-up (docs/mpi.md): main hands its dispatcher
 * to mpi_main, which initialises MPI when the process was started by a
 * launcher (mpirun, srun) and decides which ranks run the subcommand.
 * Compiled only into build/softmatrix-mpi (make mpi, -DSM_WITH_MPI). */
#ifndef SM_MPI_SESSION_H
#define SM_MPI_SESSION_H

#include <mpi.h>

/* What every rank knows about the job, attached to MPI_COMM_WORLD. */
typedef struct {
    int rank, size;
    int saved_stdout, saved_stderr;   /* a muted rank's own streams, else -1 */
    long pid;                         /* the process that initialised MPI */
    unsigned lattice_busy;            /* the engines (MPI_ENGINE_*) of lattices split over the ranks */
    /* The ranks a lattice of this process is split over, whose rank 0 drives
     * it: MPI_COMM_WORLD, or a sweep's group of ranks for one point at a
     * time (mpi/farm.h); lattice_rank is this process's rank in it. */
    MPI_Comm lattice_comm;
    int lattice_rank, lattice_size;
} mpi_session;

/* What the ranks of a job run: the subcommand dispatcher; for ranks other
 * than 0 while rank 0 runs a subcommand, a server of the lattice blocks rank
 * 0 may split over them (mpi/level_mpi.h), and rank 0's call that releases
 * them with its exit code. Passed in by main, so that the session does not
 * depend on the dynamics that uses it. */
typedef struct {
    int (*dispatch)(int argc, char **argv);
    int (*serve)(void);
    void (*stop)(int code);
} mpi_roles;

/* Runs roles->dispatch(argc, argv) as the job requires and returns the exit code,
 * the same on every rank:
 *  - started without a launcher: no MPI at all, exactly the OpenMP binary;
 *  - one rank: dispatch on it, exactly the OpenMP binary;
 *  - several ranks: `sweep` on every rank (the farm, mpi/farm.h), any other
 *    subcommand on rank 0 alone; ranks other than 0 print nothing of what
 *    every rank would print alike (usage errors, config errors). */
int mpi_main(int argc, char **argv, const mpi_roles *roles);

/* The session of this process, or NULL when MPI is not in use. */
const mpi_session *mpi_session_get(void);

/* The engines that serve a split lattice on the other ranks, side by side
 * (mpi_lattice_serve keeps one part of each): a lattice of each kind may
 * be split at once - the level dynamics' reference run of an equilibrium
 * check beside the cage run it checks. */
enum { MPI_ENGINE_LEVEL = 1, MPI_ENGINE_CAGE = 2 };

/* The lattice communicator's rank 0's claim on the other ranks for one
 * split lattice of engine (mpi/level_mpi.c, mpi/cage_mpi.c): 1 when
 * granted, 0 when it must run alone - no MPI, one rank in it, a forked
 * child (sweep points of one rank each), inside an OpenMP region (the
 * transition command's samplers), or a lattice of that engine already
 * split. */
int mpi_session_claim_lattice(unsigned engine);
/* The ranks a lattice of engine claimed now would be split over: 1 when it
 * would run alone (for the memory a run needs here, before it claims them). */
int mpi_session_lattice_ranks(unsigned engine);
void mpi_session_release_lattice(unsigned engine);

/* Splits lattices over comm from now on (a sweep's group of ranks, mpi/farm.c). */
void mpi_session_set_lattice_comm(MPI_Comm comm);

/* Gives a muted rank its stderr back (a farm worker, whose messages are
 * about its own points). */
void mpi_session_unmute_stderr(void);

/* Waits for rq without spinning a core: ranks that wait (the farm's rank
 * 0, idle workers, the blocks' ranks between sweeps) share the machine
 * with ranks that compute. After a short spell of polls that yield the
 * core it naps, each nap twice the last up to max_nap_ns: the latency it
 * may add. A farm worker's next point comes after seconds (MPI_NAP_FARM_NS);
 * a split lattice's next command within a sweep's time (MPI_NAP_LATTICE_NS,
 * less than a sweep of a small block). */
#define MPI_NAP_FARM_NS 1000000L   /* also a rank that waits for a lattice to split */
#define MPI_NAP_LATTICE_NS 20000L
void mpi_wait_gently(MPI_Request *rq, MPI_Status *st, long max_nap_ns);

#endif
