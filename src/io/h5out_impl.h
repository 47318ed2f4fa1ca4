/* Private to src/io/h5out.c (the writer) and src/io/h5resume.c (verifying
 * and rebuilding a partial file on --resume): the writer's state and the
 * pieces both use. Not part of the public interface (include/io/h5out.h). */
#ifndef SM_H5OUT_IMPL_H
#define SM_H5OUT_IMPL_H

#include <hdf5.h>
#include "io/h5out.h"

typedef struct {
    char path[256];
    int width;
    hid_t step, time, value;
    hsize_t n;
    sm_hash hash[3];   /* of step, time and value (see h5out_count) */
} series;

typedef struct {
    hid_t group, step, time, value;   /* group < 0: not created yet */
    hsize_t n;
    sm_hash hash[3];
} snap_field;

struct h5out {
    char path[CONFIG_PATH_MAX];
    char partial[CONFIG_PATH_MAX + 16];   /* the file being written */
    hid_t file;
    int overwrite;
    int64_t rows_measured, rows_snapshots;   /* rows the run will write: chunk sizes */
    int nseries;
    series s[H5OUT_MAX_SERIES];
    snap_field snap[SNAP_NFIELDS];
};

/* "<path>.partial" and the rebuild's "<path>.partial.new". */
#define H5OUT_PARTIAL ".partial"
#define H5OUT_REBUILD ".partial.new"

/* HDF5 reports a failed write(2) only as an error stack; errno still holds
 * the cause (ENOSPC, EFBIG, EIO), which is what the user needs to see. */
const char *h5o_io_cause(int e);

/* The series at path, created when new with m's description, unit and
 * storage type and the (comma-joined) column names; a NULL description or
 * columns leaves that attribute out. */
series *h5o_series(h5out *h, const char *path, int width, const char *columns, const h5out_meta *m,
                   sm_error *err);
int h5o_series_write(h5out *h, series *s, const int64_t *step, const double *time,
                     const double *values, int64_t nrows, sm_error *err);

/* Snapshot field i (SNAP_FIELD_NAMES): its memory type, rank (3, or 4 with
 * an (x, y, z) axis), and one frame appended. */
hid_t h5o_snapshot_memtype(int i);
int h5o_snapshot_rank(int i);
int h5o_snapshot_write(h5out *h, int i, int Lx, int Ly, int compression, int64_t step,
                       double time, const void *frame, sm_error *err);
/* Its step, time and (empty) value datasets under /snapshots in h->file. */
int h5o_snapshot_create(h5out *h, int i, int Lx, int Ly, int compression, sm_error *err);
/* Bytes of one site of it, and the rows of a frame its chunks hold. */
size_t h5o_snapshot_site_bytes(int i);
hsize_t h5o_snapshot_strip_rows(int i, int Lx, int Ly);
/* Its frame of state s (s->N sites, row-major) as the file stores it: level
 * and sigma in place (*buf NULL), the others built into *buf (malloc'd;
 * NULL returned when out of memory). */
const void *h5o_snapshot_frame(int i, const model_state *s, void **buf);

/* File access properties of every file the writer opens or creates: the
 * 1.8 object format and caches that do not grow with the run. */
hid_t h5o_file_access(void);

/* Closes every dataset and the file (h stays allocated). */
int h5o_close_file(h5out *h, sm_error *err);

/* Appends rows [at, at + n) to extendible dataset d, each of `inner` (its
 * other rank - 1 dimensions) elements of memtype. */
int h5o_append_rows(hid_t d, hid_t memtype, int rank, const hsize_t *inner, hsize_t at,
                    hsize_t n, const void *buf);

/* Rank of dataset d (1..4, else -1), its extent in dims. */
int h5o_dataset_dims(hid_t d, hsize_t dims[4]);

#endif
