/* MPI set-up and the exit-code agreement (mpi/session.h). */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/error.h"
#include <omp.h>
#include "mpi/session.h"

/* Written once by mpi_main before any subcommand runs and read-only after:
 * MPI_COMM_WORLD is process-wide already, and this is its description for
 * code that the dispatcher reaches through argv alone (the sweep hook). */
static mpi_session *the_session;

const mpi_session *mpi_session_get(void) { return the_session; }

int mpi_session_lattice_ranks(unsigned engine)
{
    const mpi_session *s = the_session;
    if (!s || s->lattice_size == 1 || s->lattice_rank != 0 || s->pid != (long)getpid() ||
        omp_in_parallel() || (s->lattice_busy & engine))
        return 1;
    return s->lattice_size;
}

int mpi_session_claim_lattice(unsigned engine)
{
    if (mpi_session_lattice_ranks(engine) == 1) return 0;
    the_session->lattice_busy |= engine;
    return 1;
}

void mpi_session_release_lattice(unsigned engine)
{
    if (the_session) the_session->lattice_busy &= ~engine;
}

void mpi_session_set_lattice_comm(MPI_Comm comm)
{
    mpi_session *s = the_session;
    s->lattice_comm = comm;
    MPI_Comm_rank(comm, &s->lattice_rank);
    MPI_Comm_size(comm, &s->lattice_size);
}

/* Launchers announce themselves in the environment: Open MPI's mpirun,
 * PMI (MPICH's hydra, srun --mpi=pmi2) and PMIx (srun --mpi=pmix). Without
 * one, MPI_Init would try to start a singleton runtime, which fails or
 * hangs where there is none: the binary then runs as the OpenMP one. */
static int under_launcher(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

/* Polls, yielding the core, then naps of 20 us doubling up to max_nap_ns. */
void mpi_wait_gently(MPI_Request *rq, MPI_Status *st, long max_nap_ns)
{
    long nap_ns = 20000 < max_nap_ns ? 20000 : max_nap_ns;
    int done = 0;
    for (int polls = 0;; polls++) {
        MPI_Test(rq, &done, st);
        if (done) return;
        if (polls < 200) {
            sched_yield();
            continue;
        }
        const struct timespec nap = {0, nap_ns};
        nanosleep(&nap, NULL);
        if (nap_ns < max_nap_ns) nap_ns = 2 * nap_ns < max_nap_ns ? 2 * nap_ns : max_nap_ns;
    }
}

/* Ranks other than 0 print nothing while they do what every rank does
 * alike; their own streams are kept for what is theirs alone. */
static void mute(mpi_session *s)
{
    fflush(stdout);
    fflush(stderr);
    const int null = open("/dev/null", O_WRONLY);
    if (null < 0) return;
    s->saved_stdout = dup(STDOUT_FILENO);
    s->saved_stderr = dup(STDERR_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    close(null);
}

void mpi_session_unmute_stderr(void)
{
    const mpi_session *s = the_session;
    if (!s || s->saved_stderr < 0) return;
    fflush(stderr);
    dup2(s->saved_stderr, STDERR_FILENO);
}


int mpi_main(int argc, char **argv, const mpi_roles *roles)
{
    if (!under_launcher()) return roles->dispatch(argc, argv);
    int provided;
    /* threads of a rank never call MPI: OpenMP regions are inside kernels */
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "softmatrix: MPI_Init failed (is the MPI runtime installed?)\n");
        return SM_EXIT_RUNTIME;
    }
    mpi_session s = {.saved_stdout = -1, .saved_stderr = -1, .pid = (long)getpid()};
    MPI_Comm_rank(MPI_COMM_WORLD, &s.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &s.size);
    the_session = &s;
    mpi_session_set_lattice_comm(MPI_COMM_WORLD);
    int code;
    if (s.size == 1) {
        code = roles->dispatch(argc, argv);
    } else {
        if (s.rank) mute(&s);
        const int everyone = argc > 1 && strcmp(argv[1], "sweep") == 0;
        if (everyone) {
            code = roles->dispatch(argc, argv);   /* all ranks end with the farm's code */
        } else if (s.rank == 0) {
            code = roles->dispatch(argc, argv);   /* may split a lattice over the others */
            roles->stop(code);
        } else {
            code = roles->serve();
        }
    }
    fflush(stdout);
    fflush(stderr);
    the_session = NULL;
    MPI_Finalize();
    return code;
}
