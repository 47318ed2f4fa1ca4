#include <stdio.h>
#include <string.h>
#include "core/error.h"
#include "core/suggest.h"

int sm_fail(sm_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return 1;
}

void sm_option_error(const char *cmd, int c, const char *arg, const char *help,
                     const struct option *longopts)
{
    char name[128], hint[160] = "";
    /* "--threads=x" names the option up to the '=' */
    snprintf(name, sizeof name, "%.*s", (int)strcspn(arg ? arg : "?", "="), arg ? arg : "?");
    if (c == ':') {
        fprintf(stderr, "softmatrix %s: option '%s' requires an argument (see '%s')\n", cmd, name, help);
        return;
    }
    if (longopts && strncmp(name, "--", 2) == 0) {
        sm_suggest s;
        sm_suggest_init(&s, name + 2);
        for (const struct option *o = longopts; o->name; o++) sm_suggest_add(&s, o->name);
        sm_suggest_text(&s, "--", hint, sizeof hint);
    }
    fprintf(stderr, "softmatrix %s: unrecognized option '%s'%s (see '%s')\n", cmd, name, hint, help);
}
