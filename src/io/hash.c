/* Streaming checksum (io/hash.h). */
#include <string.h>
#include "io/hash.h"

static const uint64_t HASH_INIT = 0xcbf29ce484222325ull, HASH_PRIME = 0x100000001b3ull;

/* Each step is a bijection of the state, so changing any one word always
 * changes the result, and it runs at memory speed. */
static uint64_t hash_word(uint64_t h, const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return (h ^ w) * HASH_PRIME;
}

void sm_hash_init(sm_hash *s)
{
    memset(s, 0, sizeof *s);
    s->h = HASH_INIT;
}

void sm_hash_add(sm_hash *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t k = (size_t)(s->n % 8);
    s->n += n;
    if (k) {
        while (k < 8 && n > 0) s->pend[k++] = *p++, n--;
        if (k < 8) return;
        s->h = hash_word(s->h, s->pend);
    }
    for (; n >= 8; p += 8, n -= 8) s->h = hash_word(s->h, p);
    memset(s->pend, 0, sizeof s->pend);
    memcpy(s->pend, p, n);
}

uint64_t sm_hash_value(const sm_hash *s)
{
    unsigned char tail[8] = {0};
    memcpy(tail, s->pend, (size_t)(s->n % 8));
    return (hash_word(s->h, tail) ^ s->n) * HASH_PRIME;
}

uint64_t sm_hash_bytes(const void *data, size_t n)
{
    sm_hash s;
    sm_hash_init(&s);
    sm_hash_add(&s, data, n);
    return sm_hash_value(&s);
}

int sm_hash_equal(const sm_hash *a, const sm_hash *b)
{
    return a->n == b->n && sm_hash_value(a) == sm_hash_value(b);
}
