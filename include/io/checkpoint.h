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
 * Site records (format 3): one value of elem bytes per site of an Lx x Ly
 * lattice in row-major order. The name length has CKPT_SITES_FLAG set and
 * the size is followed by { u32 elem, i32 Lx, i32 Ly, u64 sites checksum }
 * before the values. The payload checksum covers every byte except those
 * values; the sites checksum covers them as a sum over sites of a mix of
 * (site index, value), so that the ranks of a split lattice can write and
 * read their own blocks of the values and add up their parts
 * (ckpt_sites_hash) without any rank holding the whole lattice. Format 2
 * (no site records) is still read.
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

enum { CKPT_HEADER_BYTES = 48, CKPT_VERSION = 3, CKPT_MAX_RECORDS = 256 };
#define CKPT_SITES_FLAG 0x80000000u

typedef struct {
    FILE *f;
    char path[4200];      /* the checkpoint file */
    char tmp[4200];       /* where it is written first */
    sm_hash hash;         /* running checksum of the payload (site values left out) */
    uint64_t bytes;       /* payload bytes so far, site values included */
    long sites_at;        /* a site record begun: where its checksum goes, else -1 */
    unsigned char sites_head[4 + 255 + 8 + 12 + 8]; /* its header, hashed at the end */
    size_t sites_head_n;
    uint64_t sites_size;
    int failed;           /* an fwrite failed (errno in err_no) */
    int err_no;
} ckpt_writer;

/* Starts writing checkpoint `path` (the data go to path.tmp). */
int ckpt_writer_open(ckpt_writer *w, const char *path, sm_error *err);
/* Appends a named record. Errors are collected and reported by commit. */
void ckpt_put(ckpt_writer *w, const char *name, const void *data, size_t size);
/* Appends a site record of Lx x Ly values of elem (1, 2 or 4) bytes. */
void ckpt_put_sites(ckpt_writer *w, const char *name, const void *data, int elem, int Lx, int Ly);
/* A site record whose values others write into w->tmp (the ranks of a split
 * lattice): begin writes its header, flushes, and sets *offset to where the
 * values go, Lx * Ly * elem bytes; end, with the sum of every part's
 * ckpt_sites_hash, completes it. Nothing else is put in between. Returns 1
 * (the error kept for commit) when the header cannot be written. */
int ckpt_put_sites_begin(ckpt_writer *w, const char *name, int elem, int Lx, int Ly, uint64_t *offset);
void ckpt_put_sites_end(ckpt_writer *w, uint64_t sites_hash);
/* The part of a sites checksum of n values of elem bytes at site indices
 * first, first + 1, ...: parts of disjoint sites add up (mod 2^64). */
uint64_t ckpt_sites_hash(const void *values, int elem, int64_t first, int64_t n);

/* Marks the checkpoint failed (errno e), for commit to report: a site
 * record's values that others could not write. */
void ckpt_writer_fail(ckpt_writer *w, int e);
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
    const void *data;     /* NULL for a site record: its values stay in the file */
    uint64_t size;
    /* a site record: elem > 0, the values at byte offset of the file */
    int elem, Lx, Ly;
    uint64_t offset, sites_hash;
} ckpt_record;

typedef struct {
    char path[4200];
    unsigned char *buf;   /* the file without the values of site records */
    int64_t step;
    int nrec;
    ckpt_record rec[CKPT_MAX_RECORDS];
} ckpt_reader;

/* Reads and verifies the checkpoint (magic, version, byte order, sizes, the
 * checksums, record structure); the values of site records are read and
 * verified by whoever reads them (ckpt_get, or the ranks of a split lattice
 * by blocks). *missing = 1 when the file does not exist (a usage error for
 * --resume rather than a damaged file). */
int ckpt_reader_open(ckpt_reader *r, const char *path, int *missing, sm_error *err);
void ckpt_reader_close(ckpt_reader *r);
/* The record `name`, or NULL (with err set) when absent. */
const ckpt_record *ckpt_find(const ckpt_reader *r, const char *name, sm_error *err);
/* Copies record `name`, which must be exactly `size` bytes, into dst; a site
 * record's values are read from the file and checked against its checksum. */
int ckpt_get(const ckpt_reader *r, const char *name, void *dst, size_t size, sm_error *err);
/* The error of a site record whose values do not match their checksum. */
int ckpt_sites_damaged(const char *path, const ckpt_record *rec, sm_error *err);

#endif
