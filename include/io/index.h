/* The sweep index: one row per point, in point order, as a table of named
 * columns that is written to and read from HDF5. The sweep builds it from
 * the finished point files; merge reads shard indexes, checks that they
 * belong to one sweep and cover every point once, and writes the union in
 * point order with the same writer, so a merged index equals the unsharded
 * one dataset for dataset.
 *
 * Layout of index.h5 (n rows), H5MD 1.1 (io/h5md.h):
 *   /h5md  version, author, creator, modules/units
 *   attrs  npoints, sweep_json, config_json, source
 *          and, in a shard's index only, shard = "K/N"
 *   /point                       int64 [n]   point number (0-based)
 *   /file                        string [n]  point file, relative to the index
 *   /parameters/<key path>       [n]  value: int64, float64 or string (JSON),
 *                                with the key's unit
 *   /parameter_index/<key path>  int64 [n]   position in the key's value list
 *   /labels/<key path>           string [n]  when the key has labels
 *   /mean/<obs>, /error/<obs>, /tau_int/<obs>   float64 [n] or [n][width]:
 *          the point's summary of its last schedule segment, with its units
 *   /segment/{T_from, T_to}      float64 [n], /segment/{sweeps, samples} int64 [n]:
 *          that segment */
#ifndef SM_INDEX_H
#define SM_INDEX_H

#include <stdint.h>
#include "core/error.h"

typedef enum { IX_F64 = 0, IX_I64 = 1, IX_STR = 2 } ix_type;

typedef struct {
    char name[192];   /* dataset path below the root, "mean/energy" */
    ix_type type;
    int width;        /* 0: shape [n]; w >= 1: shape [n][w] */
    char *columns;    /* "columns" attribute, or NULL */
    char *desc;       /* "description" attribute, or NULL */
    char *unit;       /* "unit" attribute (core/units.h), or NULL */
    int conflict;     /* points disagree on its width: left out */
    double *f;        /* IX_F64: [n * max(width, 1)], NaN until set */
    int64_t *i;       /* IX_I64 */
    char **s;         /* IX_STR, NULL reads as "" */
} ix_column;

typedef struct {
    int64_t n;        /* rows */
    int ncol, capcol;
    ix_column **col;  /* pointers stay valid as columns are added */
    int64_t npoints;  /* points of the whole sweep */
    char shard[32];   /* "K/N" for a shard's index, else "" */
    char *sweep_json, *config_json, *source;
} sweep_index;

/* An empty table of n rows with the given root attributes (copied). */
int index_init(sweep_index *ix, int64_t n, int64_t npoints, const char *shard,
               const char *sweep_json, const char *config_json, const char *source,
               sm_error *err);
void index_free(sweep_index *ix);

/* The column called name, created (NaN / 0 / "" filled) when missing;
 * NULL with *err set when it exists with another type or width, or on
 * allocation failure. */
ix_column *index_column(sweep_index *ix, const char *name, ix_type type, int width,
                        sm_error *err);

/* Sets row's string cell (copied). */
int index_set_string(ix_column *c, int64_t row, const char *value);

/* Fills row from a finished point file: mean, error and tau_int of every
 * /summary item at the last segment, and that segment's T and samples. */
int index_add_point_summary(sweep_index *ix, int64_t row, const char *point_file,
                            sm_error *err);

/* Writes path.partial and renames it to path; an existing path is replaced
 * only with replace (else the rename refuses, and the index stays in
 * path.partial). The caller holds path's lock (io/outfile.h). */
int index_write(const sweep_index *ix, const char *path, int replace, sm_error *err);
int index_read(sweep_index *ix, const char *path, sm_error *err);

/* The /parameters config_json attribute of a point file (malloc'd), or
 * NULL when the file cannot be read. */
char *index_point_config(const char *point_file);

/* A column by name, or NULL. */
ix_column *index_find_column(const sweep_index *ix, const char *name);

/* Writes to out the index of the unsharded sweep from the indexes of all
 * its N shards (io/merge.c), replacing an existing out only with replace.
 * Returns an SM_EXIT_* code. */
int index_merge(const char *out, char **shards, int nshards, int replace, sm_error *err);

#endif
