/* A streaming 64-bit checksum over bytes: the checkpoint container's and the
 * row checksums of the HDF5 series. It detects truncation and corruption;
 * it is not cryptographic.
 *
 * The hash is FNV-1a's step applied to 8-byte words (the tail zero-padded,
 * then the length mixed in, so that trailing zero bytes count). Fed in any
 * pieces, the same bytes give the same value: a series hashed as it is
 * appended batch by batch has the hash of all its rows at once. */
#ifndef SM_HASH_H
#define SM_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t h;              /* state after the complete words */
    uint64_t n;              /* bytes fed so far */
    unsigned char pend[8];   /* the n % 8 bytes of an incomplete word */
} sm_hash;

void sm_hash_init(sm_hash *s);
void sm_hash_add(sm_hash *s, const void *data, size_t n);
/* The checksum of everything fed so far (s is not changed). */
uint64_t sm_hash_value(const sm_hash *s);
/* Checksum of one buffer: sm_hash_init, sm_hash_add, sm_hash_value. */
uint64_t sm_hash_bytes(const void *data, size_t n);
/* Do two states describe the same bytes (length and checksum)? */
int sm_hash_equal(const sm_hash *a, const sm_hash *b);

#endif
