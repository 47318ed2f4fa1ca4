/* Lattice geometry: the L_x x L_y square lattice of hard-sphere molecules in
 * the x-y projection plane, periodic or open, with a neighbour table.
 * Site index a = y * Lx + x. Directions d = 0:+x, 1:+y, 2:-x, 3:-y. */
#ifndef SM_LATTICE_H
#define SM_LATTICE_H

#include <stdint.h>
#include "core/error.h"

typedef enum { BOUNDARY_PERIODIC = 0, BOUNDARY_OPEN = 1 } boundary_kind;

enum { DIR_PX = 0, DIR_PY = 1, DIR_MX = 2, DIR_MY = 3, NDIR = 4 };

typedef struct {
    int Lx, Ly;
    int64_t N;
    boundary_kind boundary;
    /* nbr[4*a + d]: neighbour of a in direction d, or -1 when an open
     * boundary cuts the bond. On a periodic direction of length 2 the +/-
     * neighbours coincide and both bonds are kept (docs/model.md section 4). */
    int32_t *nbr;
} lattice;

int lattice_init(lattice *lat, int Lx, int Ly, boundary_kind boundary, sm_error *err);
void lattice_free(lattice *lat);

static inline int lattice_x(const lattice *lat, int64_t a) { return (int)(a % lat->Lx); }
static inline int lattice_y(const lattice *lat, int64_t a) { return (int)(a / lat->Lx); }
/* Checkerboard colour (x + y) mod 2. */
static inline int lattice_colour(const lattice *lat, int64_t a)
{
    return (lattice_x(lat, a) + lattice_y(lat, a)) & 1;
}

#endif
