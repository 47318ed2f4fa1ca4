/* The "sweep" block of a configuration: which key paths take which values,
 * and how the keys combine into points.
 *
 *   "sweep": {
 *     "mode": "product",                      or "zip"; default "product"
 *     "keys": {
 *       "temperature": {"start": 0.5, "stop": 6, "num": 10, "scale": "log"},
 *       "run.seed": [1, 2],
 *       "schedule": {"values": [[...], [...]], "labels": ["quench", "slow"]}
 *     }
 *   }
 *
 * A key maps to a list of values, to a range {start, stop, num, scale} with
 * scale "lin" (default) or "log" (numpy.linspace / numpy.geomspace values,
 * both end points exact), or to {values, labels}. "product" forms the
 * cartesian product with the first key varying slowest (nested loops in the
 * order written); "zip" takes the i-th value of every key, so all lists must
 * have one length. A point is the base config with "key=value" overrides,
 * applied exactly as --set applies them. */
#ifndef SM_SWEEP_H
#define SM_SWEEP_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "core/error.h"

enum { SWEEP_MAX_KEYS = 32, SWEEP_MAX_POINTS = 1000000, SWEEP_KEY_MAX = 128 };
typedef enum { SWEEP_PRODUCT = 0, SWEEP_ZIP = 1 } sweep_mode;

/* The common kind of a key's values; it picks the index column type. */
typedef enum {
    SWEEP_INTEGER,  /* every value an integer below 2^53: int64 column */
    SWEEP_NUMBER,   /* every value a number: float64 column */
    SWEEP_BOOL,     /* every value true/false: int64 column of 0/1 */
    SWEEP_STRING,   /* every value a string: string column */
    SWEEP_JSON      /* lists, objects or a mix: string column of JSON text */
} sweep_kind;

typedef struct {
    char path[SWEEP_KEY_MAX];
    int nvalues;
    sweep_kind kind;
    char **json;    /* [nvalues] each value as compact JSON (exact for numbers) */
    double *num;    /* [nvalues] the value as a number (NUMBER, INTEGER, BOOL) */
    char **label;   /* [nvalues] or NULL when no labels were given */
} sweep_key;

typedef struct {
    sweep_mode mode;
    int nkeys;
    sweep_key key[SWEEP_MAX_KEYS];
    int64_t npoints;
    char *json;     /* the expanded block as compact JSON (index attribute) */
} sweep_spec;

/* Compact JSON whose numbers read back as the same doubles (malloc'd). */
char *sweep_json_print(const cJSON *v);

/* Validates and expands the sweep block; src names the file in messages,
 * which name the key path ("sweep.keys.temperature.num: ..."). */
int sweep_parse(sweep_spec *s, const cJSON *block, const char *src, sm_error *err);
void sweep_free(sweep_spec *s);

/* Value index of every key at a point: vi[nkeys]. */
void sweep_point_values(const sweep_spec *s, int64_t point, int *vi);

/* The "key=value" override of key k at a point (malloc'd; caller frees). */
char *sweep_point_set(const sweep_spec *s, int64_t point, int k);

/* "temperature=0.5, run.seed=2" for messages and the progress line. */
void sweep_point_describe(const sweep_spec *s, int64_t point, char *out, size_t n);

#endif
