/* softmatrix sweep: options of a parameter scan (scan/runner.h runs it). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/error.h"
#include "run/progress.h"
#include "run/threads.h"
#include "scan/runner.h"
#ifdef SM_WITH_MPI
#include "mpi/farm.h"   /* make mpi: the points farmed out over MPI ranks */
#define sweep_execute mpi_sweep_execute
#endif

static int parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        char got[256];
        fprintf(stderr, "softmatrix sweep: %s: must be an integer in %d..%d (got %s)\n", opt, lo, hi,
                sm_escape(got, sizeof got, s));
        return 1;
    }
    *out = (int)v;
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: softmatrix sweep CONFIG [--output-dir DIR] [--jobs N] [--threads-per-point M]\n"
        "                        [--threads B] [--shard K/N] [--set key.path=value]...\n"
        "                        [--overwrite] [--list] [--quiet] [--progress auto|always|never]\n"
        "                        [--ranks-per-point G]\n"
        "runs every point of CONFIG's sweep block: DIR/point_NNNN.h5 per point and\n"
        "DIR/index.h5 (DIR/index_shard_K_of_N.h5 with --shard) with one row per point.\n"
        "DIR defaults to output.path without its .h5 suffix. B threads (default: all) are\n"
        "split into N points in flight x M threads each. Finished points are kept, so an\n"
        "interrupted sweep resumes with the same command; --overwrite reruns them all.\n"
        "--list validates every point and prints them without running anything.\n"
        "--progress: a line per finished point unless --quiet (auto), also with it\n"
        "(always), or none (never).\n"
        "Under mpirun (build/softmatrix-mpi), rank 0 hands the points out to the other\n"
        "ranks, one point per rank, or with --ranks-per-point G to groups of G ranks that\n"
        "split each point's lattice between them (docs/mpi.md).\n");
}

static int parse_opts(int argc, char **argv, sweep_opts *o)
{
    static const struct option longopts[] = {
        {"output-dir", required_argument, NULL, 'd'}, {"jobs", required_argument, NULL, 'j'},
        {"threads-per-point", required_argument, NULL, 'm'}, {"threads", required_argument, NULL, 't'},
        {"shard", required_argument, NULL, 'k'}, {"set", required_argument, NULL, 's'},
        {"overwrite", no_argument, NULL, 'w'}, {"list", no_argument, NULL, 'l'},
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
        {"progress", required_argument, NULL, 'p'}, {"ranks-per-point", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->sets = calloc((size_t)argc, sizeof *o->sets);
    if (!o->sets) return 1;
    optind = 1;
    opterr = 0;   /* one line per error, from sm_option_error */
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': o->outdir = optarg; break;
        case 'j': if (parse_int("--jobs", optarg, 1, 4096, &o->jobs)) return SM_EXIT_USAGE; break;
        case 'm': if (parse_int("--threads-per-point", optarg, 1, 4096, &o->tpp)) return SM_EXIT_USAGE; break;
        case 't': if (parse_int("--threads", optarg, 1, 4096, &o->budget)) return SM_EXIT_USAGE; break;
        case 'r': if (parse_int("--ranks-per-point", optarg, 1, 1 << 20, &o->rpp)) return SM_EXIT_USAGE; break;
        case 'k': {
            char tail, got[256];
            if (sscanf(optarg, "%d/%d%c", &o->shard_k, &o->shard_n, &tail) != 2 || o->shard_n < 1 ||
                o->shard_k < 1 || o->shard_k > o->shard_n) {
                fprintf(stderr, "softmatrix sweep: --shard: must be K/N with 1 <= K <= N (got %s)\n",
                        sm_escape(got, sizeof got, optarg));
                return SM_EXIT_USAGE;
            }
            break;
        }
        case 's': o->sets[o->nsets++] = optarg; break;
        case 'w': o->overwrite = 1; break;
        case 'l': o->list = 1; break;
        case 'q': o->quiet = 1; break;
        case 'p': {
            progress_mode m;
            if (progress_parse(optarg, &m)) {
                fprintf(stderr, "softmatrix sweep: --progress: must be auto, always or never (got %s)\n", optarg);
                return SM_EXIT_USAGE;
            }
            o->progress = (int)m;
            break;
        }
        case 'h': usage(stdout); return SM_EXIT_OK;
        default:
            sm_option_error("sweep", c, argv[optind - 1], "softmatrix sweep --help", longopts);
            return SM_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "softmatrix sweep: expected exactly one CONFIG file (see 'softmatrix sweep --help')\n");
        return SM_EXIT_USAGE;
    }
    o->config = argv[optind];
    if (!o->quiet && o->budget) threads_warn("--threads", o->budget);
    if (!o->quiet && o->tpp) threads_warn("--threads-per-point", o->tpp);
    return -1;
}


int cmd_sweep(int argc, char **argv)
{
    sweep_opts o;
    const int code = parse_opts(argc, argv, &o);
    if (code < 0) {
        const int rc = sweep_execute(&o);
        free(o.sets);
        return rc;
    }
    free(o.sets);
    return code;
}
