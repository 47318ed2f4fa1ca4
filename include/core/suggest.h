/* "Did you mean": the candidate nearest to a mistyped word (a key, a
 * subcommand, an option). Distance is the optimal-string-alignment edit
 * distance ignoring case (a swapped pair of letters counts one edit); a
 * candidate is offered only when it is close enough to be the likely
 * intent: at most one edit in four letters, at least one. */
#ifndef SM_SUGGEST_H
#define SM_SUGGEST_H

#include <stddef.h>

typedef struct {
    const char *word;
    const char *best;   /* NULL until a candidate is close enough */
    int dist;
} sm_suggest;

void sm_suggest_init(sm_suggest *s, const char *word);
/* Considers one candidate (ignored when NULL or equal to the word). */
void sm_suggest_add(sm_suggest *s, const char *candidate);
/* Writes "; did you mean 'X'?" with the best candidate (prefix before
 * it, e.g. "--"), or "" when none is close; returns out. */
const char *sm_suggest_text(const sm_suggest *s, const char *prefix, char *out, size_t n);

/* The edit distance itself (words of at most 63 characters; longer ones
 * are compared by their first 63). */
int sm_edit_distance(const char *a, const char *b);

#endif
