/* libFuzzer harness for the configuration parser and validator.
 *
 * Input layout: the bytes up to the first NUL are the JSON text; what follows
 * is a NUL-separated list of "--set key.path=value" strings (at most 8), so
 * one input exercises both the file parser and the override path.
 *
 * Besides "does not crash" (ASan/UBSan turn memory errors, signed overflow
 * and the like into crashes), every accepted config must survive a round
 * trip: the resolved JSON printed by config_to_json must parse again, to the
 * same resolved JSON. A config that validates but cannot be reproduced from
 * the file a run stores in /parameters would break reruns, so that is
 * treated as a crash too. So is a schedule temperature that is not finite
 * and > 0, or that leaves its segment's end points (regressions/
 * ramp-cancellation-T-zero: T = 0 on the last sweep of a steep ramp).
 *
 * Built by `make fuzz` with clang-14 -fsanitize=fuzzer,address,undefined;
 * the same file compiled with -DFUZZ_REPLAY gets a main() that replays files
 * given on the command line, which is how tests/fuzz/regressions/ is checked
 * under gcc's sanitizers without libFuzzer. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/config.h"

enum { MAX_SETS = 8 };

/* sm_config holds 1024 segments: keep it off the stack and reuse it */
static sm_config cfg_a, cfg_b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;

    char *sets[MAX_SETS];
    int nsets = 0;
    size_t json_len = strlen(buf);
    for (size_t p = json_len + 1; p < size && nsets < MAX_SETS; p += strlen(buf + p) + 1)
        sets[nsets++] = buf + p;

    sm_error err = {{0}};
    if (config_parse(&cfg_a, buf, "fuzz.json", sets, nsets, &err) == 0) {
        /* the accessors a run uses must be total on every valid config */
        int64_t total = config_total_sweeps(&cfg_a);
        if (total < 1) abort();
        const int64_t probe[4] = {0, total / 2, total - 1, total};
        for (int i = 0; i < 4; i++) {
            schedule_point sp = config_schedule_point(&cfg_a, probe[i]);
            if (sp.segment < 0 || sp.segment >= cfg_a.nseg || !(sp.T > 0)) abort();
            /* the temperature stays between the segment's end points */
            const schedule_segment *g = &cfg_a.seg[sp.segment];
            if (!(sp.T >= fmin(g->T_from, g->T_to) && sp.T <= fmax(g->T_from, g->T_to))) abort();
        }
        /* every sweep of a short schedule, the last of each ramp included */
        for (int64_t k = 0; k < total && k < 4096; k++) {
            schedule_point sp = config_schedule_point(&cfg_a, k);
            if (!(sp.T > 0) || !isfinite(sp.T)) abort();
        }
        char *j1 = config_to_json(&cfg_a);
        if (!j1) abort();
        sm_error err2 = {{0}};
        if (config_parse(&cfg_b, j1, "resolved.json", NULL, 0, &err2) != 0) {
            fprintf(stderr, "resolved config does not re-validate: %s\n%s\n", err2.msg, j1);
            abort();
        }
        char *j2 = config_to_json(&cfg_b);
        if (!j2 || strcmp(j1, j2) != 0) {
            fprintf(stderr, "round trip changed the config:\n%s\n---\n%s\n", j1, j2 ? j2 : "");
            abort();
        }
        free(j2);
        free(j1);
    } else {
        /* errors are one line, always non-empty */
        if (!err.msg[0] || strchr(err.msg, '\n')) {
            fprintf(stderr, "bad error message: [%s]\n", err.msg);
            abort();
        }
    }
    free(buf);
    return 0;
}

#ifdef FUZZ_REPLAY
/* Replays each file named on the command line once (no libFuzzer). */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) { perror(argv[i]); return 2; }
        static uint8_t data[1 << 20];
        size_t n = fread(data, 1, sizeof data, f);
        fclose(f);
        LLVMFuzzerTestOneInput(data, n);
        printf("ok %s\n", argv[i]);
    }
    return 0;
}
#endif
