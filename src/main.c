/* softmatrix: main only dispatches to the subcommands of cli/commands.c. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "core/version.h"
#include "io/config.h"
#include "run/threads.h"
#ifdef SM_WITH_MPI
#include "mpi/level_mpi.h"
#include "mpi/session.h"
#endif

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        cli_usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--list-keys")) {   /* undocumented: for shell completion */
        config_print_keys(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("softmatrix %s\n", SOFTMATRIX_VERSION);
        return 0;
    }
    const cli_command *c = cli_find(cmd);
    if (c) return c->fn(argc - 1, argv + 1);
    char hint[160], got[256];
    fprintf(stderr, "softmatrix: unknown command '%s'%s (see 'softmatrix --help')\n",
            sm_escape(got, sizeof got, cmd), cli_suggest(cmd, hint, sizeof hint));
    return 2;
}

int main(int argc, char **argv)
{
    /* HDF5 1.10 closes files still open at exit from an atexit handler; after
     * an H5Fclose that failed (disk full) that retry dereferences freed state
     * and would turn exit 1 into SIGSEGV. Every file is closed explicitly
     * before exit, so the handler is not needed. Must precede any other HDF5
     * call; forked sweep children inherit it. */
    H5dont_atexit();
    /* The subcommands that run sweeps on OpenMP threads may re-execute the
     * program once, with a short spin of waiting threads; before MPI_Init,
     * so that a rank is never replaced once it has joined. The others are
     * spared the cost of starting twice. */
    const cli_command *c = argc >= 2 ? cli_find(argv[1]) : NULL;
    if (c && (!strcmp(c->name, "run") || !strcmp(c->name, "sweep") || !strcmp(c->name, "transition")))
        threads_quiet_waits(argv);
#ifdef SM_WITH_MPI
    const mpi_roles roles = {dispatch, mpi_lattice_serve, mpi_lattice_stop};
    return mpi_main(argc, argv, &roles);   /* make mpi: which ranks run what */
#else
    return dispatch(argc, argv);
#endif
}
