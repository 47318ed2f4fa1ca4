/* Lattice geometry: neighbour table for periodic or open boundaries. */
#include <stdlib.h>
#include "core/lattice.h"

int lattice_init(lattice *lat, int Lx, int Ly, boundary_kind boundary, sm_error *err)
{
    lat->nbr = NULL;
    if (Lx < 1 || Ly < 1)
        return sm_fail(err, "lattice: Lx and Ly must be >= 1 (got %d x %d)", Lx, Ly);
    lat->Lx = Lx;
    lat->Ly = Ly;
    lat->N = (int64_t)Lx * Ly;
    lat->boundary = boundary;
    lat->nbr = malloc(sizeof *lat->nbr * 4 * (size_t)lat->N);
    if (!lat->nbr)
        return sm_fail(err, "lattice: out of memory for %d x %d neighbour table", Lx, Ly);
    const int open = boundary == BOUNDARY_OPEN;
    for (int y = 0; y < Ly; y++) {
        for (int x = 0; x < Lx; x++) {
            int32_t *n = lat->nbr + 4 * ((int64_t)y * Lx + x);
            int xp = x + 1, xm = x - 1, yp = y + 1, ym = y - 1;
            n[DIR_PX] = xp < Lx ? y * Lx + xp : (open ? -1 : y * Lx);
            n[DIR_MX] = xm >= 0 ? y * Lx + xm : (open ? -1 : y * Lx + Lx - 1);
            n[DIR_PY] = yp < Ly ? yp * Lx + x : (open ? -1 : x);
            n[DIR_MY] = ym >= 0 ? ym * Lx + x : (open ? -1 : (Ly - 1) * Lx + x);
        }
    }
    return 0;
}

void lattice_free(lattice *lat)
{
    free(lat->nbr);
    lat->nbr = NULL;
}
