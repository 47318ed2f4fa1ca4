/* softmatrix validate: a configuration checked and printed resolved (on
 * stdout, JSON only), with the memory a run of it needs (on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include "cli/cli.h"
#include "dynamics/dynamics.h"
#include "io/config.h"
#include "run/memavail.h"
#include "run/run.h"

static void print_memory(const sm_config *cfg)
{
    sim_memory m;
    sim_memory_estimate(cfg, &m);
    const double MiB = 1048576.0, N = (double)cfg->Lx * (double)cfg->Ly * m.share;
    if (m.share < 1)
        fprintf(stderr, "memory of each of %.0f MPI ranks of a %d x %d run (a block of about %.0f sites), "
                "beyond the program itself:\n", 1.0 / m.share, cfg->Lx, cfg->Ly, N);
    else
        fprintf(stderr, "memory of a %d x %d run, beyond the program itself:\n", cfg->Lx, cfg->Ly);
    for (int i = 0; i < SIM_MEM_NPARTS; i++)
        if (m.bytes[i] > 0)
            fprintf(stderr, "  %-22s %10.1f MiB  (%.3g B/site%s)\n", SIM_MEM_PART_NAMES[i],
                    m.bytes[i] / MiB, m.bytes[i] / N,
                    i >= SIM_MEM_SNAPSHOT ? ", only while it runs" : "");
    const char *what;
    const double have = memory_available(&what);
    fprintf(stderr, "  %-22s %10.1f MiB  (%.3g B/site)", "total at the peak", m.total / MiB, m.total / N);
    if (have >= 0) fprintf(stderr, "; available %.0f MiB (%s)", have / MiB, what);
    fprintf(stderr, "\n");
}

int cmd_validate(int argc, char **argv)
{
    run_options ro = {0};
    int rc;
    sm_config *cfg = cli_load_config(argc, argv, &ro, 0, &rc);
    if (!cfg) return rc;
    char *json = config_to_json(cfg);
    printf("%s\n", json);
    free(json);
    print_memory(cfg);
    free(cfg);
    return SM_EXIT_OK;
}
