/* Checkpoint files: the container format, its atomic write and its
 * verification. What goes into a checkpoint is decided by its users (the
 * simulation state in sim.c, the run driver's loop state in run.c); this
 * module only stores named records of bytes.
 *
 * Layout (all integers little-endian, as written by this machine; the
 * endianness marker refuses a file from another byte order):
 *   header, CKPT_HEADER_BYTES:
 *     magic "SMCKPT\r\n" (the \r\n catches text-mode mangling, as in PNG)
 *     u32 format version, u32 endianness marker 0x01020304
 *     i64 step           (sweeps done; informational, for tools and tests)
 *     u64 payload bytes, u64 payload checksum, u64 header checksum
 *   payload: records { u32 name length, name, u64 size, size bytes }
 * The checksum is io/hash.h's: not cryptographic, it detects truncation and
 * corruption, which is its job.
 *
 * Atomicity: a checkpoint is written to <file>.tmp, fsync'ed, renamed over
 * <file> and the directory fsync'ed, so <file> is at every instant either
 * the previous complete checkpoint or the new complete one. */
#ifndef SM_CHECKPOINT_H
#define SM_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/error.h"
#include "io/hash.h"

enum { CKPT_HEADER_BYTES = 48, CKPT_VERSION = 2, CKPT_MAX_RECORDS = 256 };

typedef struct {
    FILE *f;
    char path[4200];      /* the checkpoint file */
    char tmp[4200];       /* where it is written first */
    sm_hash hash;         /* running checksum of the payload, and its length */
    int failed;           /* an fwrite failed (errno in err_no) */
    int err_no;
} ckpt_writer;

/* Starts writing checkpoint `path` (the data go to path.tmp). */
int ckpt_writer_open(ckpt_writer *w, const char *path, sm_error *err);
/* Appends a named record. Errors are collected and reported by commit. */
void ckpt_put(ckpt_writer *w, const char *name, const void *data, size_t size);
/* Finishes the file (header, fsync) and renames it over `path`. On failure
 * path.tmp is removed and `path` (the previous checkpoint) is untouched. */
int ckpt_writer_commit(ckpt_writer *w, int64_t step, sm_error *err);
/* Gives up: closes and removes path.tmp. */
void ckpt_writer_abort(ckpt_writer *w);
/* Removes checkpoint `path` and a path.tmp left by a process killed while
 * writing one. Returns 0 when neither is left, else -1 with errno from the
 * failed unlink. */
int ckpt_remove(const char *path);

typedef struct {
    const char *name;     /* not NUL-terminated: name_len bytes */
    uint32_t name_len;
    const void *data;
    uint64_t size;
} ckpt_record;

typedef struct {
    char path[4200];
    unsigned char *buf;   /* the whole file */
    int64_t step;
    int nrec;
    ckpt_record rec[CKPT_MAX_RECORDS];
} ckpt_reader;

/* Reads and verifies the whole checkpoint (magic, version, byte order,
 * sizes, both checksums, record structure). *missing = 1 when the file does
 * not exist (a usage error for --resume rather than a damaged file). */
int ckpt_reader_open(ckpt_reader *r, const char *path, int *missing, sm_error *err);
void ckpt_reader_close(ckpt_reader *r);
/* The record `name`, or NULL (with err set) when absent. */
const ckpt_record *ckpt_find(const ckpt_reader *r, const char *name, sm_error *err);
/* Copies record `name`, which must be exactly `size` bytes, into dst. */
int ckpt_get(const ckpt_reader *r, const char *name, void *dst, size_t size, sm_error *err);

#endif
