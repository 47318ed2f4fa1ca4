/* The subcommand table and the top-level usage text built from it. */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "core/suggest.h"
#include "core/version.h"
#include "io/config.h"

const cli_command CLI_COMMANDS[] = {
    {"run", cmd_run,
     "CONFIG [--set key.path=value]... [--threads N] [--output PATH]\n"
     "                        [--overwrite] [--quiet] [--resume] [--progress auto|always|never]",
     "run one configuration and write its HDF5 file"},
    {"validate", cmd_validate, "CONFIG [--set key.path=value]...",
     "check a configuration and print it resolved, every default filled in"},
    {"sweep", cmd_sweep,
     "CONFIG [--output-dir DIR] [--jobs N] [--threads-per-point M]\n"
     "                   [--threads B] [--shard K/N] [--set key.path=value]... [--overwrite]\n"
     "                   [--list] [--quiet] [--progress auto|always|never]",
     "run every point of the config's sweep block (a parameter scan)"},
    {"merge", cmd_merge, "OUT.h5 SHARD.h5... [--overwrite]", "combine the index files of shards"},
    {"transition", cmd_transition,
     "CONFIG [--json] [--seeds N] [--sizes L1,L2,...] [--output PATH] [...]",
     "T_g, T_m, T_p and T_g/T_m at equilibrium, with errors over seeds"},
    {"constants", cmd_constants, "[CONFIG] [--json] [--measured FILE]",
     "derived, paper, model (local T_g°, T_m°) and measured constants, each labelled"},
    {"table1", cmd_table1, "[--json]", "census of ideal V0..V8 clusters against Table 1"},
    {"doc", cmd_doc, "config|output", "print the configuration or output reference as Markdown"},
    {NULL, NULL, NULL, NULL},
};

const cli_command *cli_find(const char *name)
{
    for (const cli_command *c = CLI_COMMANDS; c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

const char *cli_suggest(const char *name, char *out, size_t n)
{
    static const char *const TOP[] = {"--help", "--version", "help"};
    sm_suggest s;
    sm_suggest_init(&s, name);
    for (const cli_command *c = CLI_COMMANDS; c->name; c++) sm_suggest_add(&s, c->name);
    for (size_t i = 0; i < sizeof TOP / sizeof TOP[0]; i++) sm_suggest_add(&s, TOP[i]);
    return sm_suggest_text(&s, "", out, n);
}

void cli_usage(FILE *out)
{
    fprintf(out, "softmatrix %s - lattice Monte Carlo of Wu's cluster model of glass states\n\nusage:\n",
            SOFTMATRIX_VERSION);
    for (const cli_command *c = CLI_COMMANDS; c->name; c++)
        fprintf(out, "  softmatrix %s %s\n      %s\n", c->name, c->synopsis, c->summary);
    fprintf(out,
        "  softmatrix --help | --version\n"
        "\n"
        "exit status: 0 success, 1 runtime failure, 2 usage or configuration error,\n"
        "130 / 143 run stopped by SIGINT / SIGTERM after writing its checkpoint\n"
        "\n"
        "configuration keys (path, default, meaning):\n");
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
        "Progress goes to stderr: on a terminal one line redrawn in place, otherwise (a\n"
        "batch job's log) a line every 10 s with sweeps done, rate and ETA; --progress\n"
        "always shows it despite --quiet, --progress never not at all. --threads beyond\n"
        "the cores this process may use draws a warning (not with --quiet). Without\n"
        "--threads, run.threads or OMP_NUM_THREADS a run takes one thread per 2048\n"
        "sites, at most the cores it may use, and logs the choice; it sweeps on one\n"
        "thread while that is faster (results do not depend on it). Idle threads sleep\n"
        "after a short spin unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set.\n"
        "\n"
        "A sweep config adds \"sweep\": {\"mode\": \"product\"|\"zip\", \"keys\": {KEY: VALUES}}\n"
        "where KEY is any key path above and VALUES a list [v, ...], a range\n"
        "{\"start\": a, \"stop\": b, \"num\": n, \"scale\": \"lin\"|\"log\"} or\n"
        "{\"values\": [...], \"labels\": [...]}; see 'softmatrix sweep --help'.\n");
}
