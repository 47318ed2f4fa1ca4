/* The 2D block decomposition of one lattice over MPI ranks (docs/mpi.md).
 * The ranks form a px x py Cartesian grid (MPI_Dims_create, y cut into
 * more pieces unless the lattice is more than twice as wide as tall); rank (cx, cy) owns sites
 * x0(cx) <= x < x0(cx + 1), y0(cy) <= y < y0(cy + 1) with x0(i) =
 * i * Lx / px, so blocks differ by at most one site per side when the grid
 * does not divide the lattice. A block's level and sigma are stored with
 * one halo cell on each side, as level_block (dynamics/level.h) reads
 * them; the halo is refreshed before each checkerboard colour with
 * non-blocking messages that run while the block's interior is updated.
 * Compiled only into the MPI build. */
#ifndef SM_MPI_DECOMP_H
#define SM_MPI_DECOMP_H

#include <mpi.h>
#include <stdint.h>
#include "core/error.h"
#include "dynamics/level.h"

typedef struct {
    MPI_Comm cart;               /* the rank grid, periodic with the lattice */
    int px, py, cx, cy;          /* grid size and this rank's coordinates */
    int left, right, down, up;   /* neighbour ranks (MPI_PROC_NULL at an open edge) */
    int Lx, Ly;
    level_block b;               /* this rank's block; b.lat points at lat */
    lattice lat;                 /* the global lattice (geometry only) */
    int8_t *store[2];            /* level, sigma with halo: (nx + 2) x (ny + 2) */
    MPI_Datatype row, col;       /* an edge row (nx) and column (ny) in storage */
    int have_cart, have_types;
} decomp;

/* Splits lat over the ranks of comm; collective. Fails (same message on
 * every rank, nothing allocated) when a side has fewer sites than ranks. */
int decomp_init(decomp *d, MPI_Comm comm, const lattice *lat, sm_error *err);
void decomp_free(decomp *d);

/* Block start of piece i of n over L sites. */
static inline int decomp_start(int i, int n, int L) { return (int)((int64_t)i * L / n); }

/* The block of piece (cx, cy) as a committed datatype of bytes over the
 * global Ly x Lx arrays (or a file view of them), and this rank's owned
 * cells within its halo'd storage; the caller frees them. */
MPI_Datatype decomp_global_block(const decomp *d, int cx, int cy);
MPI_Datatype decomp_own_block(const decomp *d);

/* Rank 0's global arrays (level, sigma; N sites each, NULL elsewhere) to
 * every block, and back; collective. */
void decomp_scatter(decomp *d, int8_t *const global[2]);
void decomp_gather(decomp *d, int8_t *const global[2]);

/* Collective: rank 0 gets the number of sites whose level or sigma is out
 * of range and the energy terms of the whole lattice (an initial or
 * restored state); the halos are refreshed first. */
void decomp_state_terms(decomp *d, int64_t *bad, energy_terms *e);

/* Starts the halo exchange of level and sigma (16 requests into rq). */
void decomp_halo_begin(decomp *d, MPI_Request rq[16]);
void decomp_halo_end(MPI_Request rq[16]);

#endif
