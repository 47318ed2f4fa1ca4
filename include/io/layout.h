/* The columns of a measurement row. A row is a vector of doubles; the
 * layout says which named field occupies which columns, so the HDF5 writer,
 * the statistics and the summary handle any field without knowing it. */
#ifndef SM_LAYOUT_H
#define SM_LAYOUT_H

#include "core/units.h"

enum { OBS_MAX_FIELDS = 48, OBS_MAX_COLUMNS = 16 };

typedef struct {
    const char *name;
    const char *desc;
    int width;                            /* 1 for a scalar */
    const char *columns[OBS_MAX_COLUMNS]; /* names when width > 1 */
    int summarise;                        /* include in /summary and the printed summary */
    const char *unit;                     /* H5MD unit string (core/units.h), "1": a pure number */
    int integer;                          /* integer-valued (a count): stored as int64 */
} obs_field;

typedef struct {
    int n;
    obs_field f[OBS_MAX_FIELDS];
    int off[OBS_MAX_FIELDS];
    int total;
} obs_layout;

/* Appends a field of the given unit (core/units.h) and returns its first
 * column (-1 when the layout is full: layouts are built from constant
 * tables, so that is a programming error). A count sets
 * L->f[L->n - 1].integer afterwards. */
int obs_layout_add(obs_layout *L, const char *name, int width, const char *unit, const char *desc);
/* Index of a field by name, or -1. */
int obs_layout_find(const obs_layout *L, const char *name);

#endif
