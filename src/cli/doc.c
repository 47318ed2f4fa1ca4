/* softmatrix doc config|output: the configuration and output references as
 * Markdown, generated from the key table (io/config.c) and the writer's
 * layout tables, so that docs/config.md and docs/output.md cannot drift
 * from the program (`make docs` regenerates them, a test compares). */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "io/config.h"
#include "io/h5out.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: softmatrix doc config|output\n"
                 "prints the configuration reference (docs/config.md) or the output\n"
                 "file reference (docs/output.md) as Markdown\n");
}

int cmd_doc(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return SM_EXIT_OK;
    }
    if (argc != 2 || (strcmp(argv[1], "config") && strcmp(argv[1], "output"))) {
        fprintf(stderr, "softmatrix doc: expected config or output (see 'softmatrix doc --help')\n");
        return SM_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "config")) config_write_markdown(stdout);
    else h5out_write_markdown(stdout);
    return fflush(stdout) == 0 ? SM_EXIT_OK : SM_EXIT_RUNTIME;
}
