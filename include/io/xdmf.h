/* The XDMF sidecar of a run with snapshots: <output>.xmf beside <output>,
 * so that ParaView, VisIt or meshio open the snapshot series directly. It
 * is a temporal collection with one uniform grid per snapshot: each site a
 * quadrilateral cell (x, y in lattice spacings), each snapshot field a cell
 * attribute. Its data stay in the HDF5 file:
 *
 *   /xdmf/mesh/points      float32 [(Ly+1)(Lx+1)][2]  cell corners (x, y)
 *   /xdmf/mesh/cells       int32 [Ly Lx][4]          corners of site y Lx + x
 *   /xdmf/<field>/<k>      [Ly Lx] or [Ly Lx][3]      snapshot k of the field:
 *                          an HDF5 virtual dataset, a view of row k of
 *                          /snapshots/<field>/value (no copy)
 *
 * Readers that take an XDMF data item as a whole dataset (meshio) need the
 * per-snapshot views; hyperslab items would leave them out. Both are
 * written when the run is complete, from the final row counts, so a
 * resumed run's sidecar is as consistent as a fresh one's. */
#ifndef SM_XDMF_H
#define SM_XDMF_H

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include "core/error.h"

typedef struct {
    const char *name;         /* "level" */
    const char *source;       /* "/snapshots/level/value" */
    hid_t type;               /* its file type */
    const char *number_type;  /* XDMF NumberType: "Char", "UChar", "Float" */
    int precision;            /* bytes */
    int components;           /* 1, or 3 for a vector */
} xdmf_field;

typedef struct {
    int Lx, Ly;
    int nfields;
    const xdmf_field *field;
    int64_t nframes;
    const double *time;       /* [nframes], in sweeps */
} xdmf_series;

/* Writes /xdmf (mesh and views) into the open file. */
int xdmf_write_views(hid_t file, const xdmf_series *x, sm_error *err);

/* Writes xmf_path (through xmf_path.partial) for the HDF5 file h5_path,
 * which it names relative to the sidecar's directory. */
int xdmf_write_sidecar(const char *xmf_path, const char *h5_path, const xdmf_series *x,
                       sm_error *err);

/* The rows of docs/output.md for /xdmf. */
void xdmf_write_markdown(FILE *md);

#endif
