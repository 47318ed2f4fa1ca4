/* The dynamics kinds, in the order of their stored index (checkpoints and
 * resolved configs name them; the index only lives in memory). */
#include <stdio.h>
#include <string.h>
#include "dynamics/registry.h"

extern const struct dynamics_ops DYNAMICS_LEVEL, DYNAMICS_CAGE;

#ifdef SM_WITH_MPI
/* make mpi: the level and cage kinds split one lattice over the ranks
 * (mpi/level_mpi.h, mpi/cage_mpi.c) */
extern const struct dynamics_ops DYNAMICS_LEVEL_MPI, DYNAMICS_CAGE_MPI;
#define DYNAMICS_LEVEL DYNAMICS_LEVEL_MPI
#define DYNAMICS_CAGE DYNAMICS_CAGE_MPI
#endif

const dynamics_kind DYNAMICS_REGISTRY[] = {
    {"level", "fast equilibrium sampling", &DYNAMICS_LEVEL},
    {"cage", "PCP jump kinetics", &DYNAMICS_CAGE},
    {NULL, NULL, NULL},
};

int dynamics_index(const char *name)
{
    for (int i = 0; DYNAMICS_REGISTRY[i].name; i++)
        if (strcmp(DYNAMICS_REGISTRY[i].name, name) == 0) return i;
    return -1;
}

const dynamics_kind *dynamics_at(int index)
{
    for (int i = 0; DYNAMICS_REGISTRY[i].name; i++)
        if (i == index) return &DYNAMICS_REGISTRY[i];
    return NULL;
}

void dynamics_choices(char *out, size_t n)
{
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; DYNAMICS_REGISTRY[i].name && k < n; i++)
        k += (size_t)snprintf(out + k, n - k, "%s%s", i ? "|" : "", DYNAMICS_REGISTRY[i].name);
}
