#include <stdio.h>
#include <string.h>
#include "core/error.h"
#include "core/suggest.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when p starts no
 * valid sequence (stray continuation byte, overlong form, surrogate, beyond
 * U+10FFFF, cut short). */
static int utf8_len(const unsigned char *p)
{
    const unsigned c = p[0];
    int len;
    unsigned min, cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, min = 0x10000, cp = c & 0x07;
    else return 0;
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

const char *sm_escape(char *out, size_t n, const char *s)
{
    size_t k = 0;
    const unsigned char *p = (const unsigned char *)s;
    if (!n) return out;
    while (*p) {
        const int len = utf8_len(p);
        if (len == 0 || *p < 0x20 || *p == 0x7f) {
            if (k + 4 >= n) break;
            snprintf(out + k, n - k, "\\x%02x", *p);
            k += 4;
            p++;
            continue;
        }
        if (k + (size_t)len >= n) break;
        memcpy(out + k, p, (size_t)len);
        k += (size_t)len;
        p += len;
    }
    out[k] = 0;
    return out;
}

int sm_fail(sm_error *err, const char *fmt, ...)
{
    if (err) {
        char raw[sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        sm_escape(err->msg, sizeof err->msg, raw);
    }
    return 1;
}

void sm_option_error(const char *cmd, int c, const char *arg, const char *help,
                     const struct option *longopts)
{
    char name[128], safe[512], hint[160] = "";
    /* "--threads=x" names the option up to the '=' */
    snprintf(name, sizeof name, "%.*s", (int)strcspn(arg ? arg : "?", "="), arg ? arg : "?");
    sm_escape(safe, sizeof safe, name);
    if (c == ':') {
        fprintf(stderr, "softmatrix %s: option '%s' requires an argument (see '%s')\n", cmd, safe, help);
        return;
    }
    if (longopts && strncmp(name, "--", 2) == 0) {
        sm_suggest s;
        sm_suggest_init(&s, name + 2);
        for (const struct option *o = longopts; o->name; o++) sm_suggest_add(&s, o->name);
        sm_suggest_text(&s, "--", hint, sizeof hint);
    }
    fprintf(stderr, "softmatrix %s: unrecognized option '%s'%s (see '%s')\n", cmd, safe, hint, help);
}
