/* softmatrix command-line interface. */
#include <getopt.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/config.h"
#include "core/constants.h"
#include "io/index.h"
#include "run/run.h"
#include "scan/runner.h"
#include "diag/table1.h"
#include "core/version.h"

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

static void usage(FILE *out)
{
    fprintf(out,
        "softmatrix %s - lattice Monte Carlo of Wu's cluster model of glass states\n"
        "\n"
        "usage:\n"
        "  softmatrix run CONFIG [--set key.path=value]... [--threads N] [--output PATH]\n"
        "                        [--overwrite] [--quiet] [--resume]\n"
        "  softmatrix validate CONFIG [--set key.path=value]...   print the resolved config\n"
        "  softmatrix sweep CONFIG [--output-dir DIR] [--jobs N] [--threads-per-point M]\n"
        "                   [--threads B] [--shard K/N] [--set key.path=value]... [--overwrite]\n"
        "                   [--list] [--quiet]   run every point of the config's sweep block\n"
        "  softmatrix merge OUT.h5 SHARD.h5... [--overwrite]   combine the index files of shards\n"
        "  softmatrix constants [--json]      derived constants beside the paper's values\n"
        "  softmatrix table1 [--json]         census of ideal V0..V8 clusters against Table 1\n"
        "  softmatrix --help | --version\n"
        "\n"
        "exit status: 0 success, 1 runtime failure, 2 usage or configuration error,\n"
        "130 / 143 run stopped by SIGINT / SIGTERM after writing its checkpoint\n"
        "\n"
        "configuration keys (path, default, meaning):\n",
        SOFTMATRIX_VERSION);
    config_print_reference(out);
    fprintf(out,
        "\n"
        "A config gives either \"temperature\": T (then run.sweeps measured sweeps) or\n"
        "\"schedule\": [{\"T\": T, \"sweeps\": n} | {\"T_from\": a, \"T_to\": b, \"sweeps\": n}, ...].\n"
        "--set temperature=... replaces a schedule and --set schedule=[...] a temperature.\n"
        "The output is written to PATH.partial and renamed to PATH when complete; an\n"
        "existing PATH is replaced only with --overwrite.\n"
        "A run saves its state to PATH.ckpt every run.checkpoint_every sweeps and every\n"
        "run.checkpoint_seconds of wall time, and on SIGINT/SIGTERM (then it stops);\n"
        "--resume continues it from there with the same command, bitwise identically.\n"
        "\n"
        "A sweep config adds \"sweep\": {\"mode\": \"product\"|\"zip\", \"keys\": {KEY: VALUES}}\n"
        "where KEY is any key path above and VALUES a list [v, ...], a range\n"
        "{\"start\": a, \"stop\": b, \"num\": n, \"scale\": \"lin\"|\"log\"} or\n"
        "{\"values\": [...], \"labels\": [...]}; see 'softmatrix sweep --help'.\n");
}

/* Parses the options shared by run and validate. Returns -1 on success or
 * an exit code. */
static int parse_opts(int argc, char **argv, const char **config, char ***sets, int *nsets,
                      run_options *ro, int allow_run_opts)
{
    static const struct option longopts[] = {
        {"set", required_argument, NULL, 's'},   {"threads", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'}, {"overwrite", no_argument, NULL, 'w'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {"resume", no_argument, NULL, 'r'},       {NULL, 0, NULL, 0}};
    *sets = calloc((size_t)argc, sizeof **sets);
    *nsets = 0;
    optind = 1;
    opterr = 0;   /* one line per error, from sm_option_error */
    int c, li = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, &li)) != -1) {
        switch (c) {
        case 's': (*sets)[(*nsets)++] = optarg; break;
        case 'h': usage(stdout); return 0;
        case 't': case 'o': case 'w': case 'q': case 'r':
            if (!allow_run_opts) {
                fprintf(stderr, "softmatrix %s: option '--%s' is not allowed here (see 'softmatrix --help')\n",
                        argv[0], longopts[li].name);
                return 2;
            }
            if (c == 't') {
                char *end;
                long n = strtol(optarg, &end, 10);
                if (*end || n < 1 || n > 4096) {
                    fprintf(stderr, "softmatrix: --threads: must be an integer in 1..4096 (got %s)\n", optarg);
                    return 2;
                }
                ro->threads = (int)n;
            } else if (c == 'o') ro->output = optarg;
            else if (c == 'w') ro->overwrite = 1;
            else if (c == 'r') ro->resume = 1;
            else ro->quiet = 1;
            break;
        default:
            sm_option_error(argv[0], c, argv[optind - 1], "softmatrix --help");
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "softmatrix %s: expected exactly one CONFIG file (see --help)\n", argv[0]);
        return 2;
    }
    *config = argv[optind];
    return -1;
}

static int cmd_run(int argc, char **argv, int validate_only)
{
    const char *path;
    char **sets;
    int nsets;
    run_options ro = {0};
    int rc = parse_opts(argc, argv, &path, &sets, &nsets, &ro, !validate_only);
    if (rc >= 0) { free(sets); return rc; }
    sm_config *cfg = malloc(sizeof *cfg);
    sm_error err = {{0}};
    if (!cfg) { fprintf(stderr, "softmatrix: out of memory\n"); free(sets); return 1; }
    if (config_load(cfg, path, sets, nsets, &err)) {
        fprintf(stderr, "softmatrix: %s\n", err.msg);
        free(sets);
        free(cfg);
        return 2;
    }
    free(sets);
    if (validate_only) {
        char *json = config_to_json(cfg);
        printf("%s\n", json);
        free(json);
        free(cfg);
        return 0;
    }
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

int main(int argc, char **argv)
{
    /* HDF5 1.10 closes files still open at exit from an atexit handler; after
     * an H5Fclose that failed (disk full) that retry dereferences freed state
     * and the run died with SIGSEGV instead of exit 1 (issue #9). Every file
     * is closed explicitly before exit, so the handler is not needed. Must
     * precede any other HDF5 call; forked sweep children inherit it. */
    H5dont_atexit();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("softmatrix %s\n", SOFTMATRIX_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1, 0);
    if (!strcmp(cmd, "validate")) return cmd_run(argc - 1, argv + 1, 1);
    if (!strcmp(cmd, "sweep")) return sweep_command(argc - 1, argv + 1);
    if (!strcmp(cmd, "merge")) return merge_command(argc - 1, argv + 1);
    if (!strcmp(cmd, "constants")) return constants_command(argc - 1, argv + 1);
    if (!strcmp(cmd, "table1")) return table1_command(argc - 1, argv + 1);
    fprintf(stderr, "softmatrix: unknown command '%s' (see 'softmatrix --help')\n", cmd);
    return 2;
}
