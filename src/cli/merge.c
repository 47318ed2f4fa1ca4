/* softmatrix merge: the shard indexes of one sweep into one index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "io/h5out.h"
#include "io/index.h"
#include "io/outfile.h"

/* The checks before the lock: what needs nothing created. */
static int check_args(char **files, int nfiles, sm_error *err)
{
    if (nfiles < 2)
        return sm_fail(err, "merge: expected OUT.h5 and at least one SHARD.h5 (see 'softmatrix merge --help')");
    for (int i = 1; i < nfiles; i++)
        if (!strcmp(files[i], files[0])) return sm_fail(err, "merge: %s: output is also an input", files[0]);
    return 0;
}

/* Merges under the output's lock; an existing OUT is replaced only with
 * --overwrite, and then only by the rename of the finished new index. */
static int merge_locked(char **files, int nfiles, int overwrite, sm_error *err)
{
    if (h5out_check_path(files[0], 1, err)) return SM_EXIT_USAGE;
    if (outfile_mkdirs(files[0], err)) return SM_EXIT_RUNTIME;
    outfile_lock lock;
    int busy;
    if (outfile_lock_take(&lock, files[0], &busy, err)) return SM_EXIT_RUNTIME;
    int rc = h5out_check_path(files[0], overwrite, err) ? SM_EXIT_USAGE : SM_EXIT_OK;
    if (!rc) rc = index_merge(files[0], files + 1, nfiles - 1, overwrite, err);
    outfile_lock_release(&lock);
    return rc;
}

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
            char got[256];
            fprintf(stderr, "softmatrix merge: unknown option %s (allowed: --overwrite)\n",
                    sm_escape(got, sizeof got, argv[i]));
            free(files);
            return SM_EXIT_USAGE;
        } else files[nfiles++] = argv[i];
    }
    sm_error err = {{0}};
    int rc = check_args(files, nfiles, &err) ? SM_EXIT_USAGE : merge_locked(files, nfiles, overwrite, &err);
    if (rc) fprintf(stderr, "softmatrix%s %s\n", strncmp(err.msg, "merge: ", 7) ? ":" : "", err.msg);
    free(files);
    return rc;
}
