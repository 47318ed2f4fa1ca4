/* Edit distance and the nearest candidate. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "core/suggest.h"

enum { SUGGEST_MAX = 63 };

int sm_edit_distance(const char *a, const char *b)
{
    int na = (int)strnlen(a, SUGGEST_MAX), nb = (int)strnlen(b, SUGGEST_MAX);
    int d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
    for (int i = 0; i <= na; i++) d[i][0] = i;
    for (int j = 0; j <= nb; j++) d[0][j] = j;
    for (int i = 1; i <= na; i++)
        for (int j = 1; j <= nb; j++) {
            const int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j - 1] + (ai != bj);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[na][nb];
}

void sm_suggest_init(sm_suggest *s, const char *word)
{
    s->word = word ? word : "";
    s->best = NULL;
    s->dist = 0;
}

void sm_suggest_add(sm_suggest *s, const char *candidate)
{
    if (!candidate || !candidate[0] || strcmp(candidate, s->word) == 0) return;
    const int len = (int)strlen(candidate);
    const int limit = len / 4 > 1 ? len / 4 : 1;
    const int d = sm_edit_distance(s->word, candidate);
    if (d <= limit && (!s->best || d < s->dist)) {
        s->best = candidate;
        s->dist = d;
    }
}

const char *sm_suggest_text(const sm_suggest *s, const char *prefix, char *out, size_t n)
{
    if (s->best) snprintf(out, n, "; did you mean '%s%s'?", prefix ? prefix : "", s->best);
    else if (n) out[0] = 0;
    return out;
}
