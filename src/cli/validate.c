/* softmatrix validate: a configuration checked and printed resolved. */
#include <stdio.h>
#include <stdlib.h>
#include "cli/cli.h"
#include "io/config.h"

int cmd_validate(int argc, char **argv)
{
    run_options ro = {0};
    int rc;
    sm_config *cfg = cli_load_config(argc, argv, &ro, 0, &rc);
    if (!cfg) return rc;
    char *json = config_to_json(cfg);
    printf("%s\n", json);
    free(json);
    free(cfg);
    return SM_EXIT_OK;
}
