#include <stdio.h>
#include <string.h>
#include "core/error.h"

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

void sm_option_error(const char *cmd, int c, const char *arg, const char *help)
{
    char name[128];
    /* "--threads=x" names the option up to the '=' */
    snprintf(name, sizeof name, "%.*s", (int)strcspn(arg ? arg : "?", "="), arg ? arg : "?");
    if (c == ':')
        fprintf(stderr, "softmatrix %s: option '%s' requires an argument (see '%s')\n", cmd, name, help);
    else
        fprintf(stderr, "softmatrix %s: unrecognized option '%s' (see '%s')\n", cmd, name, help);
}
