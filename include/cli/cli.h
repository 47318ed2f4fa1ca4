/* Subcommands: one file each under src/cli/, listed in one table
 * (commands.c) that main dispatches through. Each takes argv with argv[0]
 * its own name and returns an SM_EXIT_* code. */
#ifndef SM_CLI_H
#define SM_CLI_H

#include <signal.h>
#include <stdio.h>
#include "analysis/transition_io.h"
#include "io/config.h"
#include "run/run.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *synopsis;   /* arguments, for the usage text */
    const char *summary;    /* one line, for the usage text and the man page */
} cli_command;

/* NULL-terminated. */
extern const cli_command CLI_COMMANDS[];

const cli_command *cli_find(const char *name);
/* "; did you mean 'X'?" naming the subcommand nearest to name, or "". */
const char *cli_suggest(const char *name, char *out, size_t n);
/* The top-level usage text, with the configuration key reference. */
void cli_usage(FILE *out);

int cmd_run(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_constants(int argc, char **argv);
int cmd_transition(int argc, char **argv);
int cmd_table1(int argc, char **argv);
int cmd_doc(int argc, char **argv);

/* What `constants` prints beyond the fixed rows: the model whose local
 * temperatures it lists (model_source names it: a config or "the
 * defaults") and, when measured_path is set, the crossings read from that
 * transition file. */
typedef struct {
    const model_params *model;
    const char *model_source;
    const tr_measured *sizes;
    int nmeasured;
    const char *measured_path;
} constants_view;

/* The two forms of `constants` (cli/constants.c); 0, or non-zero on an
 * output error. */
int constants_write_table(FILE *f, const constants_view *v);
int constants_write_json(FILE *f, const constants_view *v);

/* Options shared by run and validate. Returns -1 on success, else an exit
 * code (0 after --help). *sets is malloc'd. */
int cli_run_options(int argc, char **argv, const char **config, char ***sets, int *nsets,
                    run_options *ro, int allow_run_opts);

/* The options of run or validate, then CONFIG loaded with its --set
 * overrides (malloc'd). NULL with *code the exit code after --help, a usage
 * error or a refused configuration (reported on stderr). */
sm_config *cli_load_config(int argc, char **argv, run_options *ro, int allow_run_opts, int *code);

#endif
