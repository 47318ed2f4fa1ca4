/* The PCP field counts (dynamics/cage_counts.h). The whole lattice and a
 * block differ only in how a site finds its +x and +y partners (the
 * lattice's neighbour rule, or the next storage cell, halo included); what
 * a site and a bond contribute is counted by the same two functions. */
#include "dynamics/cage_counts.h"

static inline void count_site(cage_counts *c, int phase, int32_t zjumps)
{
    c->trap += (phase & 15) == CAGE_TRAP_LINE;
    cage_counts_add_zsq(c, (uint64_t)((int64_t)zjumps * zjumps));
}

static inline void count_bond(cage_counts *c, const uint8_t *phase, const int8_t *sigma, int64_t a, int64_t b,
                              int d)
{
    c->paired += cage_paired(phase[a], sigma[a], phase[b], sigma[b], d);
}

void cage_counts_lattice(const lattice *lat, const model_state *s, cage_counts *c)
{
    *c = (cage_counts){0, 0, 0, 0};
    for (int y = 0; y < lat->Ly; y++)
        for (int x = 0; x < lat->Lx; x++) {
            const int64_t a = (int64_t)y * lat->Lx + x;
            count_site(c, s->phase[a], model_zjumps(s, a));
            for (int d = DIR_PX; d <= DIR_PY; d++) {
                const int64_t b = lattice_nbr_xy(lat, x, y, d);
                if (b >= 0) count_bond(c, s->phase, s->sigma, a, b, d);
            }
        }
}

void cage_counts_block(const cage_block *b, const int32_t *z, cage_counts *c)
{
    const lattice *lat = b->lat;
    const int periodic = lat->boundary != BOUNDARY_OPEN;
    for (int y = 0; y < b->ny; y++) {
        /* an open boundary cuts the bonds of the lattice's last row and column */
        const int up = periodic || b->gy0 + y + 1 < lat->Ly;
        for (int x = 0; x < b->nx; x++) {
            const int64_t a = (int64_t)y * b->stride + x;
            count_site(c, b->phase[a], z[(int64_t)y * b->nx + x]);
            if (periodic || b->gx0 + x + 1 < lat->Lx) count_bond(c, b->phase, b->sigma, a, a + 1, DIR_PX);
            if (up) count_bond(c, b->phase, b->sigma, a, a + b->stride, DIR_PY);
        }
    }
}
