/* Options shared by run and validate. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "io/config.h"
#include "run/progress.h"

int cli_run_options(int argc, char **argv, const char **config, char ***sets, int *nsets,
                    run_options *ro, int allow_run_opts)
{
    static const struct option longopts[] = {
        {"set", required_argument, NULL, 's'},   {"threads", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'}, {"overwrite", no_argument, NULL, 'w'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {"resume", no_argument, NULL, 'r'},       {"progress", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0}};
    *sets = calloc((size_t)argc, sizeof **sets);
    *nsets = 0;
    optind = 1;
    opterr = 0;   /* one line per error, from sm_option_error */
    int c, li = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, &li)) != -1) {
        switch (c) {
        case 's': (*sets)[(*nsets)++] = optarg; break;
        case 'h': cli_usage(stdout); return 0;
        case 't': case 'o': case 'w': case 'q': case 'r': case 'p':
            if (!allow_run_opts) {
                fprintf(stderr, "softmatrix %s: option '--%s' is not allowed here (see 'softmatrix --help')\n",
                        argv[0], longopts[li].name);
                return 2;
            }
            if (c == 't') {
                char *end;
                long n = strtol(optarg, &end, 10);
                if (*end || n < 1 || n > 4096) {
                    char got[256];
                    fprintf(stderr, "softmatrix: --threads: must be an integer in 1..4096 (got %s)\n",
                            sm_escape(got, sizeof got, optarg));
                    return 2;
                }
                ro->threads = (int)n;
            } else if (c == 'p') {
                progress_mode m;
                if (progress_parse(optarg, &m)) {
                    fprintf(stderr, "softmatrix: --progress: must be auto, always or never (got %s)\n", optarg);
                    return 2;
                }
                ro->progress = (int)m;
            } else if (c == 'o') ro->output = optarg;
            else if (c == 'w') ro->overwrite = 1;
            else if (c == 'r') ro->resume = 1;
            else ro->quiet = 1;
            break;
        default:
            sm_option_error(argv[0], c, argv[optind - 1], "softmatrix --help", longopts);
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

sm_config *cli_load_config(int argc, char **argv, run_options *ro, int allow_run_opts, int *code)
{
    const char *path;
    char **sets;
    int nsets;
    *code = cli_run_options(argc, argv, &path, &sets, &nsets, ro, allow_run_opts);
    sm_config *cfg = NULL;
    if (*code < 0) {
        sm_error err = {{0}};
        cfg = malloc(sizeof *cfg);
        if (!cfg) {
            fprintf(stderr, "softmatrix: out of memory\n");
            *code = SM_EXIT_RUNTIME;
        } else if (config_load(cfg, path, sets, nsets, &err)) {
            fprintf(stderr, "softmatrix: %s\n", err.msg);
            free(cfg);
            cfg = NULL;
            *code = SM_EXIT_USAGE;
        }
    }
    free(sets);
    return cfg;
}
