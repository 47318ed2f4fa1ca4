/* The 2D block decomposition of one lattice over MPI ranks (docs/mpi.md).
 * The ranks form a px x py Cartesian grid (MPI_Dims_create, y cut into
 * more pieces unless the lattice is more than twice as wide as tall); rank (cx, cy) owns sites
 * x0(cx) <= x < x0(cx + 1), y0(cy) <= y < y0(cy + 1) with x0(i) =
 * i * Lx / px, so blocks differ by at most one site per side when the grid
 * does not divide the lattice. A block's level and sigma (and, for the
 * cage dynamics, phase) are stored with one halo cell on each side, as
 * level_block (dynamics/level.h) and cage_block (dynamics/cage.h) read
 * them; the halo is refreshed before each pass with non-blocking messages
 * (that run while the block's interior is updated, for the level sweep).
 * Compiled only into the MPI build. */
#ifndef SM_MPI_DECOMP_H
#define SM_MPI_DECOMP_H

#include <mpi.h>
#include <stdint.h>
#include "core/error.h"
#include "dynamics/dynamics.h"
#include "dynamics/level.h"

/* The fields a halo exchange refreshes (bits). */
enum { DECOMP_LEVEL = 1, DECOMP_SIGMA = 2, DECOMP_PHASE = 4, DECOMP_MAX_FIELDS = 3 };

typedef struct {
    MPI_Comm cart;               /* the rank grid, periodic with the lattice */
    int px, py, cx, cy;          /* grid size and this rank's coordinates */
    int left, right, down, up;   /* neighbour ranks (MPI_PROC_NULL at an open edge) */
    int Lx, Ly;
    level_block b;               /* this rank's block; b.lat points at lat */
    lattice lat;                 /* the global lattice (geometry only) */
    int nfields;                 /* 2: level, sigma; 3: and phase (uint8, as bytes) */
    int8_t *store[DECOMP_MAX_FIELDS];   /* each with halo: (nx + 2) x (ny + 2) */
    MPI_Datatype row, col;       /* an edge row (nx) and column (ny) in storage */
    int have_cart, have_types;
} decomp;

/* Splits lat over the ranks of comm with nfields fields (2 or 3);
 * collective. Fails (same message on every rank, nothing allocated) when a
 * side has fewer sites than ranks. */
int decomp_init(decomp *d, MPI_Comm comm, const lattice *lat, int nfields, sm_error *err);
void decomp_free(decomp *d);

/* Block start of piece i of n over L sites. */
static inline int decomp_start(int i, int n, int L) { return (int)((int64_t)i * L / n); }

/* The block of piece (cx, cy) as a committed datatype of elem over the
 * global Ly x Lx arrays (or a file view of them); the caller frees it. */
MPI_Datatype decomp_global_block(const decomp *d, int cx, int cy, MPI_Datatype elem);

/* The owned cells of field f (0 level, 1 sigma, 2 phase) row by row into
 * nx x ny bytes, and back. */
void decomp_pack(const decomp *d, int f, int8_t *out);
void decomp_unpack(decomp *d, int f, const int8_t *in);

/* Rank 0's global arrays (level, sigma[, phase]; N sites each, NULL
 * elsewhere) to every block, and back; collective. */
void decomp_scatter(decomp *d, int8_t *const global[]);
void decomp_gather(decomp *d, int8_t *const global[]);

/* The same for one 32-bit word per site: own holds the block's words at
 * own[y * stride + x]; global (N words) only on rank 0. */
void decomp_scatter_words(decomp *d, uint32_t *own, int64_t stride, const uint32_t *global);
void decomp_gather_words(decomp *d, const uint32_t *own, int64_t stride, uint32_t *global);

/* Starts the halo exchange of the fields in the DECOMP_* bits of fields (8
 * requests a field into rq); returns the number of requests. */
enum { DECOMP_MAX_REQUESTS = 8 * DECOMP_MAX_FIELDS };
int decomp_halo_begin(decomp *d, unsigned fields, MPI_Request rq[DECOMP_MAX_REQUESTS]);
void decomp_halo_end(int n, MPI_Request rq[DECOMP_MAX_REQUESTS]);

/* Collective: rank 0's *fi (NULL elsewhere) to every rank of comm (the
 * grid's ranks), and the level and sigma of every block set to the initial
 * state (field_init_site: the serial rule per site). */
void decomp_init_fields(decomp *d, MPI_Comm comm, const field_init *fi, uint64_t seed);

/* Collective: rank 0 gets the number of sites whose level or sigma is out
 * of range and the energy terms of the whole lattice (an initial or
 * restored state); the halos of level and sigma are refreshed first. */
void decomp_state_terms(decomp *d, int64_t *bad, energy_terms *e);

#endif
