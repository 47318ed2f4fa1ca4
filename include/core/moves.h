/* Move statistics: proposals and acceptances per move type, integer counts so
 * that OpenMP reductions are exact and thread-count independent. */
#ifndef SM_MOVES_H
#define SM_MOVES_H

#include <stdint.h>

enum { MOVES_MAX = 8 };

typedef struct {
    int64_t proposed[MOVES_MAX];
    int64_t accepted[MOVES_MAX];
} move_stats;

static inline void move_stats_add(move_stats *a, const move_stats *b)
{
    for (int i = 0; i < MOVES_MAX; i++) {
        a->proposed[i] += b->proposed[i];
        a->accepted[i] += b->accepted[i];
    }
}

#endif
