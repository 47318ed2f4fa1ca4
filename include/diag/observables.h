/* Observables (MODEL.md 5.1). A measurement is one row of doubles; the
 * obs_layout says which named field occupies which columns, so the HDF5
 * writer, the statistics and the summary handle any field without knowing
 * it. A new diagnostic adds fields to the layout and fills its columns; it
 * never touches the sweep kernels. */
#ifndef SM_OBSERVABLES_H
#define SM_OBSERVABLES_H

#include "dynamics/kinetics.h"
#include "core/lattice.h"
#include "core/model.h"
#include "core/moves.h"

enum { OBS_MAX_FIELDS = 48, OBS_MAX_COLUMNS = 16 };

typedef struct {
    const char *name;
    const char *desc;
    int width;                               /* 1 for a scalar */
    const char *columns[OBS_MAX_COLUMNS]; /* names when width > 1 */
    int summarise;                           /* include in /summary and the printed summary */
} obs_field;

typedef struct {
    int n;
    obs_field f[OBS_MAX_FIELDS];
    int off[OBS_MAX_FIELDS];
    int total;
} obs_layout;

/* Appends a field and returns its first column. */
int obs_layout_add(obs_layout *L, const char *name, int width, const char *desc);
/* Index of a field by name, or -1. */
int obs_layout_find(const obs_layout *L, const char *name);

/* The core fields every run measures, in this order. */
typedef struct {
    int energy, energy_C, energy_step, energy_J, energy_h, temperature;
    int level_histogram, hscl_fraction, mean_level, cbosons;
    int magnetization, staggered_magnetization, n_soft_matrix, acceptance;
} obs_core_columns;

/* Builds the core layout; move_names label the acceptance columns. */
void obs_layout_core(obs_layout *L, obs_core_columns *c, const char *const *move_names,
                     int nmoves);

/* Fills the core columns of row from the configuration. moves holds the
 * proposals/acceptances since the previous measurement. */
void obs_measure_core(const obs_core_columns *c, const lattice *lat, const model_state *s,
                      const model_params *p, const energy_terms *e, double T,
                      const move_stats *moves, int nmoves, double *row);

/* Cage-dynamics fields (MODEL.md 5.1, 5.4), appended after the core ones
 * only when dynamics.kind == cage. */
typedef struct {
    int trap_occupancy, paired_bonds, loop_completions, loop_undos, soft_matrix_jumps, z_msd;
} obs_cage_columns;

void obs_layout_cage(obs_layout *L, obs_cage_columns *c);

/* since: kinetic counters accumulated over the `sweeps` sweeps since the
 * previous measurement. */
void obs_measure_cage(const obs_cage_columns *c, const lattice *lat, const model_state *s,
                      const kin_counters *since, int64_t sweeps, double *row);

#endif
