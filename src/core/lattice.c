/* Lattice geometry (core/lattice.h). */
#include "core/lattice.h"

int lattice_init(lattice *lat, int Lx, int Ly, boundary_kind boundary, sm_error *err)
{
    if (Lx < 1 || Ly < 1)
        return sm_fail(err, "lattice: Lx and Ly must be >= 1 (got %d x %d)", Lx, Ly);
    lat->Lx = Lx;
    lat->Ly = Ly;
    lat->N = (int64_t)Lx * Ly;
    lat->boundary = boundary;
    return 0;
}
