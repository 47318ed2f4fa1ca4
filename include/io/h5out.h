/* HDF5 output in H5MD 1.1 (io/h5md.h). The file is written as <path>.partial, flushed as
 * it goes, and renamed to <path> only by h5out_close(..., complete = 1), so a
 * finished result is never half-written and never silently replaced.
 *
 * Layout:
 *   /h5md                        version, author, creator, modules/units (io/h5md.h)
 *   /parameters                  attrs config_json, seed, version, source; the
 *                                resolved configuration as datasets
 *   /observables/<name>/{step,time,value}   value [n] or [n][width]
 *   /snapshots/<field>/{step,time,value}    value [n][Ly][Lx] ([n][Ly][Lx][3] for pcp)
 *   /xdmf/...                    per-frame views for <path>.xmf (io/xdmf.h)
 *   /summary/...                 written by h5out_write_summary */
#ifndef SM_H5OUT_H
#define SM_H5OUT_H

#include <stdint.h>
#include <stdio.h>
#include "io/config.h"
#include "core/model.h"
#include "io/layout.h"
#include "core/error.h"

typedef struct h5out h5out;

/* Fails (exit-code class SM_EXIT_USAGE via *usage = 1) when path exists and
 * overwrite is 0. Creates missing parent directories. */
int h5out_open(h5out **h, const char *path, int overwrite, const sm_config *cfg,
               const char *config_json, int *usage, sm_error *err);

/* What a dataset holds: its "description" and "unit" attributes, its
 * storage type, and for a series the rows the whole run will append to it
 * (sizes its chunks; 0: one per measurement, run.measure_every). */
typedef struct {
    const char *desc;       /* may be NULL */
    const char *unit;       /* core/units.h; a series without one gets "1" */
    int integer;            /* integer-valued (a count): stored as int64 */
    int64_t rows;
} h5out_meta;

/* Appends nrows rows to the extendible series group at `path` (created on
 * first use): step[n] int64, time[n] float64 in sweeps, value[n] or
 * value[n][width] (float64, int64 when m->integer; given as doubles).
 * columns (width names, may be NULL) becomes an attribute of value. */
int h5out_series_append(h5out *h, const char *path, int width, const char *const *columns,
                        const h5out_meta *m, const int64_t *step, const double *time,
                        const double *values, int64_t nrows, sm_error *err);

/* Appends the rows of an observable layout: one series per field. */
int h5out_observables_append(h5out *h, const obs_layout *L, const int64_t *step,
                             const double *rows, int64_t nrows, sm_error *err);

/* Appends one snapshot of the fields selected by SNAP_* bits. */
int h5out_snapshot(h5out *h, unsigned fields, int Lx, int Ly, const model_state *s,
                   int64_t step, int compression, sm_error *err);

/* Writes a dataset of doubles with shape dims[0..rank-1] at path (parents
 * created), replacing nothing: each summary path is written once. */
int h5out_write_array(h5out *h, const char *path, int rank, const uint64_t *dims,
                      const double *data, sm_error *err);
/* The same with m's unit, description and storage type (int64 when
 * m->integer; data are given as doubles). */
int h5out_write_quantity(h5out *h, const char *path, int rank, const uint64_t *dims,
                         const double *data, const h5out_meta *m, sm_error *err);
/* Writes a string attribute on the object at path. */
int h5out_write_string_attr(h5out *h, const char *path, const char *name, const char *value,
                            sm_error *err);

/* Writes an int8 array attribute of shape dims[0..rank-1] (rank 1 or 2) on
 * the object at path. */
int h5out_write_int8_attr(h5out *h, const char *path, const char *name, int rank,
                          const uint64_t *dims, const int8_t *values, sm_error *err);
/* The `unit` attribute (core/units.h) of the object at path. */
int h5out_write_unit(h5out *h, const char *path, const char *unit, sm_error *err);

int h5out_flush(h5out *h, sm_error *err);

/* Closes the file. complete = 1 renames <path>.partial to <path>; otherwise
 * the partial file is left for inspection. Frees h. */
int h5out_close(h5out *h, int complete, sm_error *err);

/* The final and partial names (valid until close). */
const char *h5out_path(const h5out *h);

/* Rows of every extendible series in the file (observables, census,
 * snapshots): a checkpoint records them so that a resumed run can cut the
 * partial file back to the state it had when the checkpoint was written. */
typedef struct {
    char path[256];   /* "/observables/energy", "/snapshots/level", ... */
    int64_t rows;
} h5out_count;
enum { H5OUT_MAX_SERIES = 128, H5OUT_MAX_COUNTS = H5OUT_MAX_SERIES + SNAP_NFIELDS };
/* Fills out[0..H5OUT_MAX_COUNTS) and returns the number of series. */
int h5out_counts(const h5out *h, h5out_count *out);

/* Reopens <path>.partial of an interrupted run for appending, as the run
 * left it at its checkpoint: /parameters/config_json must equal config_json
 * (else the file belongs to another run and *usage is set); each series in
 * keep[] is cut back to its row count (it must have at least that many);
 * every other object except the file header (series begun after the
 * checkpoint, a half-written /summary) is removed. All of it is checked on
 * a read-only handle first: a refused resume leaves the file as it was.
 * overwrite as for h5out_open: it governs only the final rename. */
int h5out_reopen(h5out **h, const char *path, int overwrite, const char *config_json,
                 const h5out_count *keep, int nkeep, int *usage, sm_error *err);

/* The file header's rows of docs/output.md (Markdown table rows with its
 * header line), and the rows of the snapshot fields. */
void h5out_write_markdown(FILE *md);
void h5out_describe_snapshots(FILE *md);

#endif
