/* The printed and JSON forms of a transition result: per lattice size the
 * measured T_g, T_m, T_p and T_g/T_m with errors, and n_z, the viscosity
 * exponent and N_z* from the measured ratio beside the paper's numbers and
 * the model's local T_g°, T_m° (docs/model.md section 14). */
#ifndef SM_TRANSITION_REPORT_H
#define SM_TRANSITION_REPORT_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "analysis/transition.h"

/* "5.0234 ± 0.0021": the error to two significant digits, the value to the
 * same decimal; "not found" for NaN. */
void tr_format(char *buf, size_t n, tr_value v);

void transition_print(FILE *f, const tr_result *r, const model_params *p);
/* {"sizes": [{"L", "T_g": {value, error}, "T_m", "T_p", "ratio", "n_z",
 * "viscosity_exponent", "N_z_star", "points", "seconds"}], "local": {...},
 * "paper": {...}}; NaN is null. */
cJSON *transition_json(const tr_result *r, const model_params *p);

#endif
