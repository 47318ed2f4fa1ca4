/* softmatrix validate: a configuration checked and printed resolved. */
#include <stdio.h>
#include <stdlib.h>
#include "cli/cli.h"
#include "io/config.h"

int cmd_validate(int argc, char **argv)
{
    const char *path;
    char **sets;
    int nsets;
    run_options ro = {0};
    int rc = cli_run_options(argc, argv, &path, &sets, &nsets, &ro, 0);
    if (rc >= 0) { free(sets); return rc; }
    sm_config *cfg = malloc(sizeof *cfg);
    sm_error err = {{0}};
    if (!cfg) { fprintf(stderr, "softmatrix: out of memory\n"); free(sets); return SM_EXIT_RUNTIME; }
    rc = config_load(cfg, path, sets, nsets, &err);
    free(sets);
    if (rc) {
        fprintf(stderr, "softmatrix: %s\n", err.msg);
        free(cfg);
        return SM_EXIT_USAGE;
    }
    char *json = config_to_json(cfg);
    printf("%s\n", json);
    free(json);
    free(cfg);
    return SM_EXIT_OK;
}
