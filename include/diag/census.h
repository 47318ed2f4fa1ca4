/* Cluster census against Table 1 (docs/model.md section 11) and the connected
 * components of {level >= i} (percolation, SM3).
 *
 * The census works on plain arrays (site a = y * Lx + x, level -1..8,
 * sigma +-1) so that it does not depend on the run driver's structures.
 *
 * Per site a with level i >= 0 the footprint F_i(a) is
 *   i <= 7: the L1 diamond of radius i around a;
 *   i == 8: the diamond of radius 8 without its four tips (+-8,0), (0,+-8),
 *           whose central cavity (the diamond of radius 1) is left out of the
 *           HSCL and mosaic counts (but not of the bond counts).
 * Counted in the configuration:
 *   hscl     HSCLs (level >= 0) in the footprint, cavity excluded;
 *   cavity   V8 only: HSCLs in the cavity (Table 1's "+5");
 *   arrows   IE arrows: bonds from the footprint to a site outside it;
 *   cbosons  bonds with at least one end in the footprint;
 *   n        N_i = hscl + arrows (an HSM outside each arrow);
 *   jamming  2 x the HSCLs on the outermost ring (sites at L1 distance i,
 *            i >= 1; a lone V0 HSCL has no ring, so 0, matching 8i);
 *   co       HSCLs with sigma equal to the centre's (Table 1's +z column for
 *            a +z centre; for a -z centre the mirrored table applies);
 *   counter  HSCLs with the opposite sigma (Table 1's -z column);
 *   neel     HSCLs that follow the antiferromagnetic (Neel) mosaic relative to
 *            the centre: sigma_b = sigma_a at even L1 distance, -sigma_a at odd.
 * Why co/counter and not "neel" for the +z/-z columns: Table 1's ideal
 * cluster is the Neel mosaic (V1: +z centre, four -z neighbours, 1/4), so
 * its +z/-z columns count parallel/antiparallel HSCLs; the model description's phrase
 * "sigma equal at even distance, opposite at odd" describes where those sit
 * in the ideal mosaic. Read literally it would call all 5 HSCLs of an ideal
 * V1 co-oriented (5/0, not 1/4); that count is reported as `neel`, a measure
 * of how ordered the mosaic is (neel == hscl in an ideal cluster).
 *
 * Footprints that do not fit. A cluster is "fitting" when its footprint and
 * the layer of sites around it embed in the lattice as in the infinite plane:
 * periodic: Lx >= 2X + 2 and Ly >= 2X + 2 (X = i, or 7 for V8), so the
 * footprint does not wrap onto itself or onto its own outer neighbours;
 * open: that layer lies inside the lattice. Other clusters are "truncated":
 * they are still counted, by explicit enumeration of the distinct lattice
 * sites and bonds they cover (open: bonds cut by the edge do not exist), but
 * into separate sums, and they are left out of the Table 1 match fraction.
 *
 * Components. For each i in 0..8 the sites with level >= i are joined along
 * lattice bonds (union-find with displacement tracking). A component spans
 * x (y) when, periodic, it winds around the torus in x (y) - the standard
 * wrapping criterion - or, open, it touches both edges x = 0 and x = Lx - 1
 * (y = 0 and y = Ly - 1).
 *
 * All results are integer sums, so they are the same for any thread count. */
#ifndef SM_CENSUS_H
#define SM_CENSUS_H

#include <stdbool.h>
#include <stdint.h>
#include "core/lattice.h"
#include "core/model.h"
#include "core/error.h"
#include "diag/census_components.h"
#include "diag/census_types.h"
#include "diag/table1.h"

/* Work buffers, allocated once for a lattice so that repeated censuses during
 * a run allocate nothing. */
typedef struct {
    int Lx, Ly;
    int64_t N;
    int pw;                /* plane row width, Lx + 2 * margin */
    /* planes: row prefix sums mod 256 (rows of pw + 1) of the HSCL, HSCL with
     * sigma = +1 and staggered indicators; an indicator is a difference of two */
    uint8_t *qh, *qp, *qs;
    int32_t *rowcnt;       /* sites of level i in row y, Ly x 9 */
    uint8_t *dbuf;         /* per thread: rolling diagonal prefix sums */
    int dbuf_threads;      /* threads dbuf has room for (max threads at init; no more are used) */
    census_comp_work comp; /* components */
} census_work;

int census_work_init(census_work *w, int Lx, int Ly, sm_error *err);
void census_work_free(census_work *w);

/* Full census of the configuration. work may be NULL or a work set up for
 * in's Lx, Ly. With NULL the buffers are allocated and freed inside the
 * call, each part's in turn (the cluster planes are freed before the
 * components allocate theirs), so that the peak is the larger part alone;
 * a work holds both parts' buffers for as long as it lives. */
int census_compute(const census_input *in, census_work *work, census_result *out,
                   sm_error *err);

/* The census of a lattice's fields as they stand (core/model.h's state):
 * census_compute of its level and sigma. */
int census_of_fields(const lattice *lat, const model_state *st, census_result *out, sm_error *err);

/* Counts of the single cluster centred on site a (level >= 0), by explicit
 * enumeration of the distinct lattice sites and bonds of its footprint: the
 * slow reference the fast census is tested against, and what the census uses
 * for truncated clusters. *fits says whether the footprint fits (see above).
 * Returns 1 (with err set) if a is out of range or not an HSCL. */
int census_cluster(const census_input *in, int64_t a, census_counts *c, bool *fits,
                   sm_error *err);

/* Does a cluster of level i at (x, y) fit the lattice? */
bool census_fits(int Lx, int Ly, boundary_kind boundary, int i, int x, int y);

/* The census value that Table 1's column col compares with, for a cluster of
 * level i: N -> n, HSCL -> hscl + cavity, +z -> co, -z -> counter, density ->
 * hscl / n (V8: hscl / 200, docs/model.md). *den gets the density denominator
 * (1 for the integer columns). */
static inline int64_t census_column(int i, table1_col col, const census_counts *c, int64_t *den)
{
    *den = 1;
    switch (col) {
    case T1_COL_N: return c->n;
    case T1_COL_ARROWS: return c->arrows;
    case T1_COL_CBOSONS: return c->cbosons;
    case T1_COL_HSCL: return c->hscl + c->cavity;
    case T1_COL_JAMMING: return c->jamming;
    case T1_COL_PLUSZ: return c->co;
    case T1_COL_MINUSZ: return c->counter;
    case T1_COL_DENSITY: *den = (i == 8) ? MODEL_SOFT_MATRIX_HSMS : c->n; return c->hscl;
    default: return 0;
    }
}

/* A sum over the fitting V_i clusters divided by their number (NaN if none),
 * e.g. census_mean(r, i, r->sum[i].hscl). */
double census_mean(const census_result *r, int i, int64_t sum);
/* Fraction of fitting V_i clusters equal to Table 1 (NaN if none). */
double census_match_fraction(const census_result *r, int i);

#endif
