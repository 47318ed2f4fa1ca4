/* HDF5 output in H5MD 1.1 (io/h5md.h). The file is written as <path>.partial, flushed as
 * it goes, and renamed to <path> only by h5out_close(..., complete = 1), so a
 * finished result is never half-written and never silently replaced. The
 * caller holds the output's lock (io/outfile.h) throughout.
 *
 * Layout:
 *   /h5md                        version, author, creator, modules/units (io/h5md.h)
 *   /parameters                  attrs config_json, seed, version, source; the
 *                                resolved configuration as datasets
 *   /observables/<name>/{step,time,value}   value [n] or [n][width]
 *   /snapshots/<field>/{step,time,value}    value [n][Ly][Lx] ([n][Ly][Lx][3] for pcp)
 *   /xdmf/...                    per-frame views for <path>.xmf (io/xdmf.h)
 *   /summary/...                 written by h5out_write_summary
 *
 * Every series keeps a running checksum of the rows it has written
 * (h5out_counts); a checkpoint records them, and --resume verifies the
 * partial file against them (h5out_resume). */
#ifndef SM_H5OUT_H
#define SM_H5OUT_H

#include <stdint.h>
#include <stdio.h>
#include "io/config.h"
#include "core/model.h"
#include "io/layout.h"
#include "core/error.h"
#include "io/hash.h"

typedef struct h5out h5out;

/* The checks of an output path made before anything is created (a usage
 * error when they fail): it names a file, is not too long, is not a
 * directory, and does not exist unless overwrite is set. */
int h5out_check_path(const char *path, int overwrite, sm_error *err);

/* Creates <path>.partial (its directory must exist) with the file header:
 * config_json, cfg's seed, and source (the configuration file's name as
 * the run was started). overwrite governs only the final rename. */
int h5out_create(h5out **h, const char *path, int overwrite, const sm_config *cfg,
                 const char *config_json, const char *source, sm_error *err);

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

/* How h5out_close leaves the file. H5OUT_KEEP: as it is (an interrupted
 * run's .partial, for --resume). H5OUT_SEALED: complete (the XDMF views and
 * <path>.xmf written) but still <path>.partial, for the caller to publish
 * in its own finishing order. H5OUT_PUBLISH: complete and renamed to
 * <path>. */
enum { H5OUT_KEEP = 0, H5OUT_PUBLISH = 1, H5OUT_SEALED = 2 };
/* Closes the file as mode says and frees h. */
int h5out_close(h5out *h, int mode, sm_error *err);
/* Renames the closed <path>.partial of a finished run to <path> (what
 * h5out_close does with complete = 1). */
int h5out_publish(const char *path, int overwrite, sm_error *err);
/* The final name, and the name of the file being written ("<path>.partial"),
 * valid until close. */
const char *h5out_path(const h5out *h);
const char *h5out_partial(const h5out *h);

/* What a checkpoint records of each extendible series in the file
 * (observables, census, snapshots), so that --resume can verify the partial
 * file and cut it back to the state it had at the checkpoint. The
 * checksums are of the bytes written: the step, time and value rows (int64,
 * double, and double or the snapshot field's type), each as if written at
 * once; a series' description and column names come first in the step's. */
typedef struct {
    char path[256];   /* "/observables/energy", "/snapshots/level", ... */
    int64_t rows;
    int64_t width;    /* values per row of a series (0 for a snapshot field) */
    sm_hash hash[3];  /* step, time, value */
} h5out_count;
enum { H5OUT_MAX_SERIES = 128, H5OUT_MAX_COUNTS = H5OUT_MAX_SERIES + SNAP_NFIELDS };
/* Fills out[0..H5OUT_MAX_COUNTS) and returns the number of series. */
int h5out_counts(const h5out *h, h5out_count *out);
/* 0 when the two lists describe the same rows (in any order); else 1, and
 * err names the first series that differs, in file `name`. */
int h5out_counts_differ(const h5out_count *a, int na, const h5out_count *b, int nb,
                        const char *name, sm_error *err);

/* Continuing an interrupted run from its checkpoint, which recorded keep[].
 * The partial file is never changed in place: the rows of keep[] are copied
 * out of <path>.partial into a new file, each checked against its recorded
 * checksum, and only a copy that matches in full replaces <path>.partial
 * (by rename). Everything else (rows and series written after the
 * checkpoint, a half-written /summary, damaged HDF5 metadata) is left
 * behind with the old file. The copy is read in a child process, so that a
 * damaged file that crashes the HDF5 library cannot take the run along.
 * Returns H5OUT_RESUMED with *h open for appending; H5OUT_DAMAGED when the
 * partial file is missing, unreadable, cut short or does not match (err
 * says where; nothing was changed); H5OUT_FAILED on an error writing the
 * copy (a full disk; nothing was changed). The header is written afresh
 * from config_json, cfg and source, as h5out_create writes it. */
enum { H5OUT_RESUMED = 0, H5OUT_FAILED = 1, H5OUT_DAMAGED = 2 };
int h5out_resume(h5out **h, const char *path, int overwrite, const sm_config *cfg,
                 const char *config_json, const char *source, const h5out_count *keep, int nkeep,
                 sm_error *err);

/* Rebuilding a partial file that cannot be verified: h5out_create_rebuild
 * writes <path>.partial.new, leaving <path>.partial as it is; once the new
 * file holds what the checkpoint recorded, h5out_promote renames it over
 * <path>.partial. h5out_discard closes and removes a rebuild that did not
 * get that far. */
int h5out_create_rebuild(h5out **h, const char *path, int overwrite, const sm_config *cfg,
                         const char *config_json, const char *source, sm_error *err);
int h5out_promote(h5out *h, sm_error *err);
void h5out_discard(h5out *h);
/* Removes a <path>.partial.new left by a process killed while rebuilding. */
void h5out_remove_rebuild(const char *path);

/* The file header's rows of docs/output.md (Markdown table rows with its
 * header line), and the rows of the snapshot fields. */
void h5out_write_markdown(FILE *md);
void h5out_describe_snapshots(FILE *md);

#endif
