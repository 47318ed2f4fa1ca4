/* Measurement-row layouts. */
#include <stdio.h>
#include <string.h>
#include "io/layout.h"

int obs_layout_add(obs_layout *L, const char *name, int width, const char *unit, const char *desc)
{
    if (L->n >= OBS_MAX_FIELDS || width > OBS_MAX_COLUMNS || width < 1) {
        fprintf(stderr, "softmatrix: internal error: observable layout overflow at '%s'\n", name);
        return -1;
    }
    obs_field *f = &L->f[L->n];
    memset(f, 0, sizeof *f);
    f->name = name;
    f->desc = desc;
    f->unit = unit ? unit : UNIT_NONE;
    f->width = width;
    f->summarise = 1;
    L->off[L->n] = L->total;
    L->total += width;
    L->n++;
    return L->off[L->n - 1];
}

int obs_layout_find(const obs_layout *L, const char *name)
{
    for (int i = 0; i < L->n; i++)
        if (strcmp(L->f[i].name, name) == 0) return i;
    return -1;
}
