/* softmatrix run: one configuration to one HDF5 file, with checkpoints
 * and --resume. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "io/config.h"

/* The signal that asked a run to stop, 0 while none did. The one piece of
 * global mutable state: a handler can reach nothing else. run_main reads it
 * once per sweep through run_options.stop. */
static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig) { stop_signal = sig; }

/* SIGINT and SIGTERM make a run checkpoint and stop after the current sweep.
 * SA_RESETHAND restores the default action, so a second Ctrl-C kills a run
 * that is slow to reach the end of its sweep (the last checkpoint stays
 * valid: checkpoints are replaced atomically). */
static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Prints the command that resumes an interrupted run: this one's arguments
 * with --resume added, quoted for a POSIX shell where needed. */
static void print_resume_command(FILE *out, int argc, char **argv)
{
    fprintf(out, "softmatrix run");
    int had_resume = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        had_resume |= strcmp(a, "--resume") == 0;
        if (a[0] && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=.,/:@%") == strlen(a)) {
            fprintf(out, " %s", a);
            continue;
        }
        fputs(" '", out);
        for (; *a; a++) {
            if (*a == '\'') fputs("'\\''", out);
            else fputc(*a, out);
        }
        fputc('\'', out);
    }
    if (!had_resume) fprintf(out, " --resume");
}

int cmd_run(int argc, char **argv)
{
    run_options ro = {0};
    int rc;
    sm_config *cfg = cli_load_config(argc, argv, &ro, 1, &rc);
    if (!cfg) return rc;
    sm_error err = {{0}};
    ro.checkpoints = 1;
    ro.stop = &stop_signal;
    install_stop_handlers();
    rc = run_main(cfg, &ro, &err);
    if (rc > SM_EXIT_SIGNAL_BASE) {
        fprintf(stderr, "softmatrix: %s; resume with: ", err.msg);
        print_resume_command(stderr, argc, argv);
        fputc('\n', stderr);
    } else if (rc != 0) {
        fprintf(stderr, "softmatrix: %s\n", err.msg);
    }
    free(cfg);
    return rc;
}
