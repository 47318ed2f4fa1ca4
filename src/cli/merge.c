/* softmatrix merge: the shard indexes of one sweep into one index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli/cli.h"
#include "io/index.h"

int cmd_merge(int argc, char **argv)
{
    /* argv[0] is "merge" */
    char **files = calloc((size_t)argc, sizeof *files);
    int nfiles = 0, overwrite = 0;
    if (!files) { fprintf(stderr, "softmatrix: out of memory\n"); return SM_EXIT_RUNTIME; }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--overwrite")) overwrite = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: softmatrix merge OUT.h5 SHARD.h5... [--overwrite]\n"
                   "combines the index_shard_K_of_N.h5 files of all N shards of one sweep into\n"
                   "one index, equal to the index of the unsharded sweep\n");
            free(files);
            return SM_EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "softmatrix merge: unknown option %s (allowed: --overwrite)\n", argv[i]);
            free(files);
            return SM_EXIT_USAGE;
        } else files[nfiles++] = argv[i];
    }
    if (nfiles < 2) {
        fprintf(stderr, "softmatrix merge: expected OUT.h5 and at least one SHARD.h5 (see 'softmatrix merge --help')\n");
        free(files);
        return SM_EXIT_USAGE;
    }
    struct stat st;
    if (!overwrite && stat(files[0], &st) == 0) {
        fprintf(stderr, "softmatrix: %s: output file exists (use --overwrite to replace it)\n", files[0]);
        free(files);
        return SM_EXIT_USAGE;
    }
    for (int i = 1; i < nfiles; i++)
        if (!strcmp(files[i], files[0])) {
            fprintf(stderr, "softmatrix merge: %s: output is also an input\n", files[0]);
            free(files);
            return SM_EXIT_USAGE;
        }
    sm_error err = {{0}};
    int rc = index_merge(files[0], files + 1, nfiles - 1, &err);
    if (rc) fprintf(stderr, "softmatrix: %s\n", err.msg);
    free(files);
    return rc;
}
