/* Table 1 of the paper (cleaned in docs/model.md section 11): the counts of an
 * ideal V_i cluster, i = 0..8, embedded as C data so that the census and the
 * `table1` command need no file at run time (data/table1.json holds the same
 * values for scripts; a unit test checks that the two agree).
 *
 * Every entry is printed in the paper as "base" or "base + extra" (V8 row).
 * Its status says what the footprint geometry of docs/model.md reproduces:
 * the whole printed value, only the base (the "+extra" is unexplained), or
 * nothing (the printed value differs from the pattern, or is missing). The
 * census compares a cluster only against entries the geometry reproduces. */
#ifndef SM_TABLE1_H
#define SM_TABLE1_H

#include <stdbool.h>
#include <stdint.h>

enum { TABLE1_NROWS = 9 };  /* V0 .. V8 */

/* Columns in the order of the paper's table. The +z / -z columns are read
 * relative to the centre: for a +z centre, +z = HSCLs parallel to it. */
typedef enum {
    T1_COL_N = 0,     /* N_i = HSCLs + IE arrows */
    T1_COL_ARROWS,    /* IE arrows on the V_i loop */
    T1_COL_CBOSONS,   /* C-bosons in the V_i cluster */
    T1_COL_HSCL,      /* HSCLs (V8: rim + cavity) */
    T1_COL_JAMMING,   /* jamming particles */
    T1_COL_PLUSZ,     /* +z HSCLs (co-oriented with the centre) */
    T1_COL_MINUSZ,    /* -z HSCLs (counter-oriented) */
    T1_COL_DENSITY,   /* relative density, a fraction num/den */
    T1_NCOLS
} table1_col;

typedef enum {
    T1_REPRODUCED = 0,   /* base + extra is what the geometry counts */
    T1_BASE_REPRODUCED,  /* base is counted; the "+ extra" is unexplained */
    T1_PAPER_DIFFERS,    /* printed value breaks the pattern (V7 jamming) */
    T1_PAPER_ABSENT      /* the paper prints no value (V8 jamming) */
} table1_status;

typedef struct {
    int base;             /* printed number (density: numerator) */
    int extra;            /* printed "+ extra", 0 if none */
    int den;              /* density only: printed denominator, else 0 */
    table1_status status;
    const char *note;     /* why the entry is special, or NULL */
} table1_entry;

/* The paper's entry for row V_level (0..8), column col. */
const table1_entry *table1_entry_at(int level, table1_col col);
const char *table1_col_name(table1_col col);

/* What a census of an ideal cluster must count for this entry. Returns true
 * when the entry is compared at all (status REPRODUCED or BASE_REPRODUCED);
 * then *value is base + extra or base, and *den the density denominator
 * (1 for integer columns). */
bool table1_reference(int level, table1_col col, int64_t *value, int64_t *den);

/* An ideal V_i cluster centred on a TABLE1_IDEAL_L^2 periodic lattice: level
 * i - d at Manhattan distance d from the centre (at least -1), sigma sc on the
 * centre's sublattice and -sc on the other. */
enum { TABLE1_IDEAL_L = 24 };  /* fits every footprint (needs 2*8 + 2 = 18) */
void table1_build_ideal(int i, int sc, int8_t *level, int8_t *sigma);

#endif
