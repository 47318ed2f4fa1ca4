/* softmatrix constants: derived constants beside the paper's values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli/cli.h"
#include "core/constants.h"
#include "core/error.h"

int constants_write_table(FILE *f)
{
    constant_entry tab[CONSTANTS_MAX];
    size_t n = constants_table(tab, CONSTANTS_MAX);
    fprintf(f, "%-22s %-19s %-13s %-5s %-10s %10s %10s %s\n", "name", "symbol", "computed",
            "unit", "paper", "abs diff", "rel diff", "formula");
    for (size_t i = 0; i < n; i++) {
        const constant_entry *e = &tab[i];
        /* 10 significant digits resolve the paper's longest number (d_L*). */
        fprintf(f, "%-22s %-19s %-13.10g %-5s %-10s ", e->name, e->symbol, e->value, e->unit,
                e->paper_text[0] ? e->paper_text : "-");
        if (isnan(e->paper))
            fprintf(f, "%10s %10s ", "-", "-");
        else
            fprintf(f, "%+10.2e %+10.2e ", constant_abs_diff(e), constant_rel_diff(e));
        fprintf(f, "%s\n", e->formula);
    }
    return ferror(f) ? 1 : 0;
}

/* cJSON's own printer accepts a 15-digit form that is only approximately
 * equal, so numbers are written as raw text with the fewest digits (15, 16
 * or 17) that read back to exactly the same double. NaN becomes null. */
static cJSON *json_number_or_null(double x)
{
    if (isnan(x)) return cJSON_CreateNull();
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, x);
        if (strtod(buf, NULL) == x) break;
    }
    return cJSON_CreateRaw(buf);
}

int constants_write_json(FILE *f)
{
    constant_entry tab[CONSTANTS_MAX];
    size_t n = constants_table(tab, CONSTANTS_MAX);
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return 1;
    for (size_t i = 0; i < n; i++) {
        const constant_entry *e = &tab[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) { cJSON_Delete(arr); return 1; }
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", e->name);
        cJSON_AddStringToObject(o, "symbol", e->symbol);
        cJSON_AddItemToObject(o, "value", json_number_or_null(e->value));
        cJSON_AddStringToObject(o, "unit", e->unit);
        cJSON_AddItemToObject(o, "paper", json_number_or_null(e->paper));
        cJSON_AddStringToObject(o, "paper_text", e->paper_text);
        cJSON_AddItemToObject(o, "abs_diff", json_number_or_null(constant_abs_diff(e)));
        cJSON_AddItemToObject(o, "rel_diff", json_number_or_null(constant_rel_diff(e)));
        cJSON_AddStringToObject(o, "formula", e->formula);
    }
    char *s = cJSON_Print(arr);
    cJSON_Delete(arr);
    if (!s) return 1;
    fprintf(f, "%s\n", s);
    free(s);
    return ferror(f) ? 1 : 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: softmatrix constants [--json] [--help]\n"
            "  Derive the constants of docs/model.md (Lennard-Jones fixed points,\n"
            "  cage geometry, angles, soft-matrix step, material presets) and print them\n"
            "  beside the values printed in the paper, with absolute and relative\n"
            "  differences. Lengths in sigma, energies in eps0, angles in degrees.\n"
            "  --json   print a JSON array, one object per row: name, symbol, value, unit,\n"
            "           paper (null if none), paper_text, abs_diff, rel_diff, formula\n"
            "  --help   this text\n");
}

int cmd_constants(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return SM_EXIT_OK;
        } else {
            char got[256];
            fprintf(stderr, "constants: unknown argument '%s'\n", sm_escape(got, sizeof got, argv[i]));
            usage(stderr);
            return SM_EXIT_USAGE;
        }
    }
    int rc = json ? constants_write_json(stdout) : constants_write_table(stdout);
    if (rc || fflush(stdout) != 0) {
        fprintf(stderr, "constants: cannot write to standard output\n");
        return SM_EXIT_RUNTIME;
    }
    return SM_EXIT_OK;
}
