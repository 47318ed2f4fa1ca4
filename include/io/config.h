/* Run configuration: the JSON schema, its validation and the resolved values.
 * Every key has a path ("model.g"), a type, an allowed range and a default;
 * errors name the file, the key path and what is allowed. */
#ifndef SM_CONFIG_H
#define SM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "core/model.h"
#include "core/error.h"

typedef enum { INIT_SIGMA_RANDOM = 0, INIT_SIGMA_UP, INIT_SIGMA_DOWN, INIT_SIGMA_NEEL } init_sigma_kind;
/* run.equilibration_dynamics: what runs the run's equilibration sweeps */
typedef enum { EQ_DYNAMICS_LEVEL = 0, EQ_DYNAMICS_SAME = 1 } eq_dynamics_kind;
/* SNAP_PCP: the PCP position in its cage, [Ly][Lx][3] floats (docs/model.md section 12) */
enum { SNAP_LEVEL = 1, SNAP_SIGMA = 2, SNAP_PHASE = 4, SNAP_Z = 8, SNAP_PCP = 16, SNAP_NFIELDS = 5 };
/* Their names in output.snapshot_fields and under /snapshots, by bit. */
extern const char *const SNAP_FIELD_NAMES[SNAP_NFIELDS];
/* CONFIG_MAX_BYTES: the largest configuration file read (4 MiB). */
enum { CONFIG_MAX_SEGMENTS = 1024, CONFIG_PATH_MAX = 4096, CONFIG_MAX_BYTES = 4 << 20 };

/* A schedule segment: first `equilibration` unmeasured sweeps at T_from, then
 * `sweeps` measured sweeps in which T goes linearly from T_from (first sweep)
 * to T_to (last sweep); T_from == T_to is a hold. */
typedef struct {
    double T_from, T_to;
    int64_t sweeps;
    int64_t equilibration;
} schedule_segment;

/* Where schedule sweep k falls. */
typedef struct {
    int segment;
    int measured;     /* 0 during the segment's equilibration */
    int64_t index;    /* index among the segment's measured sweeps */
    double T;
} schedule_point;

typedef struct {
    char source[CONFIG_PATH_MAX];  /* file name used in error messages */
    int Lx, Ly;
    int boundary;                  /* boundary_kind */
    model_params model;
    int dynamics;                  /* index in the dynamics registry */
    int nseg;                      /* >= 1; "temperature" mode is one hold */
    schedule_segment seg[CONFIG_MAX_SEGMENTS];
    int has_schedule;              /* 1: "schedule" given, 0: "temperature" */
    int64_t seed, equilibration_sweeps, sweeps, measure_every, snapshot_every, census_every;
    int equilibration_dynamics;    /* eq_dynamics_kind */
    bool equilibrate_each_segment; /* hold segments' equilibrations with the level dynamics too */
    int threads;                   /* 0: OpenMP default */
    int64_t checkpoint_every;      /* sweeps between checkpoints, 0: none by count */
    double checkpoint_seconds;     /* wall seconds between checkpoints, 0: none by time */
    int init_level;                /* -1..8, ignored when init_level_random */
    int init_level_random;         /* levels uniform in {-1, 0} (RSOS-valid) */
    int init_sigma;                /* init_sigma_kind */
    char output_path[CONFIG_PATH_MAX];
    unsigned snapshot_fields;      /* SNAP_* bits */
    int compression;               /* gzip level 0..9 */
} sm_config;

/* Loads path (or "-" for stdin... not supported: a file), applies the
 * "key.path=value" overrides in order, validates. */
int config_load(sm_config *c, const char *path, char *const *sets, int nsets, sm_error *err);
/* Same from JSON text; source names it in messages. */
int config_parse(sm_config *c, const char *json_text, const char *source, char *const *sets,
                 int nsets, sm_error *err);
/* The text of a configuration file (malloc'd), refused before it is parsed
 * when larger than CONFIG_MAX_BYTES or holding a NUL byte. */
char *config_read_text(const char *path, sm_error *err);
/* The fully resolved configuration as pretty JSON (malloc'd; caller frees). */
char *config_to_json(const sm_config *c);
/* Applies one "key.path=value" override to a parsed JSON tree, as --set
 * does (value is JSON when it parses, else a string; temperature and
 * schedule replace each other). The sweep uses it for its points. */
struct cJSON;
int config_apply_set(struct cJSON *root, const char *set, const char *src, sm_error *err);
/* A whole configuration text as a JSON object, strictly: nothing but
 * whitespace after it and no \u0000 in a string (cJSON would cut the string
 * there). NULL with err = "source: what, line and column" otherwise. */
struct cJSON *config_parse_json(const char *text, const char *source, sm_error *err);
/* The value of a --set "key.path=value": the whole value as JSON when it
 * parses, else the string; NULL (err set) for a \u0000 in a string. */
struct cJSON *config_set_value(const char *set, const char *src, sm_error *err);
/* 1 when path is a configuration key ("model.g", "temperature", ...). */
int config_key_known(const char *path);
/* "; did you mean 'X'?" naming the key path nearest to an unknown path,
 * or ""; returns out. */
const char *config_key_suggest(const char *path, char *out, size_t n);
/* The unit (core/units.h) of a key's value, NULL for a pure number or a
 * string; *integer = 1 for an integer-typed key. Members of a schedule
 * segment are "schedule.T", "schedule.sweeps", ... */
const char *config_key_unit(const char *path, int *integer);
/* The key paths, one a line (softmatrix --list-keys, for shell completion). */
void config_print_keys(FILE *out);
/* Human-readable key reference (for --help). */
void config_print_reference(FILE *out);
/* The key table as Markdown (docs/config.md): key, default, unit, meaning. */
void config_write_markdown(FILE *md);

/* Total sweeps of the schedule, segment equilibrations included (the run's
 * initial run.equilibration_sweeps excluded). */
int64_t config_total_sweeps(const sm_config *c);
/* Measurements of a diagnostic due every `every` measured sweeps of each
 * segment (run.measure_every, run.census_every): sum of sweeps / every. */
int64_t config_measured_rows(const sm_config *c, int64_t every);
/* Segment, measured flag and temperature of schedule sweep k (0-based). */
schedule_point config_schedule_point(const sm_config *c, int64_t k);

#endif
