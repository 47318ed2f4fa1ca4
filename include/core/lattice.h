/* Lattice geometry: the L_x x L_y square lattice of hard-sphere molecules in
 * the x-y projection plane, periodic or open. Site index a = y * Lx + x.
 * Directions d = 0:+x, 1:+y, 2:-x, 3:-y.
 *
 * There is no neighbour table: a neighbour is index arithmetic, with the
 * boundary handled at the edges. A table costs 16 bytes a site, eight times
 * the state of the level dynamics, and the kernels read interior neighbours
 * through row offsets anyway. */
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
} lattice;

int lattice_init(lattice *lat, int Lx, int Ly, boundary_kind boundary, sm_error *err);

static inline int lattice_x(const lattice *lat, int64_t a) { return (int)(a % lat->Lx); }
static inline int lattice_y(const lattice *lat, int64_t a) { return (int)(a / lat->Lx); }
/* Checkerboard colour (x + y) mod 2. */
static inline int lattice_colour(const lattice *lat, int64_t a)
{
    return (lattice_x(lat, a) + lattice_y(lat, a)) & 1;
}

/* The neighbour of site (x, y) in direction d, or -1 where an open boundary
 * cuts the bond. On a periodic direction of length 2 the +/- neighbours
 * coincide and both bonds are kept, and on one of length 1 a site is its own
 * neighbour (docs/model.md section 4). */
static inline int64_t lattice_nbr_xy(const lattice *lat, int x, int y, int d)
{
    const int open = lat->boundary == BOUNDARY_OPEN;
    switch (d) {
    case DIR_PX: x = x + 1 < lat->Lx ? x + 1 : (open ? -1 : 0); break;
    case DIR_MX: x = x > 0 ? x - 1 : (open ? -1 : lat->Lx - 1); break;
    case DIR_PY: y = y + 1 < lat->Ly ? y + 1 : (open ? -1 : 0); break;
    default:     y = y > 0 ? y - 1 : (open ? -1 : lat->Ly - 1); break;
    }
    return x < 0 || y < 0 ? -1 : (int64_t)y * lat->Lx + x;
}

static inline int64_t lattice_nbr(const lattice *lat, int64_t a, int d)
{
    return lattice_nbr_xy(lat, lattice_x(lat, a), lattice_y(lat, a), d);
}

#endif
