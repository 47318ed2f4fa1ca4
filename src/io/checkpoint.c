/* Checkpoint container: named records, checksummed, written atomically. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/checkpoint.h"

static const char CKPT_MAGIC[8] = {'S', 'M', 'C', 'K', 'P', 'T', '\r', '\n'};
enum { CKPT_ENDIAN = 0x01020304 };

static void write_bytes(ckpt_writer *w, const void *data, size_t n)
{
    if (w->failed || n == 0) return;
    errno = 0;
    if (fwrite(data, 1, n, w->f) != n) {
        w->failed = 1;
        w->err_no = errno;
        return;
    }
    w->bytes += n;
}

static void put_bytes(ckpt_writer *w, const void *data, size_t n)
{
    if (w->failed || n == 0) return;
    write_bytes(w, data, n);
    if (!w->failed) sm_hash_add(&w->hash, data, n);
}

int ckpt_writer_open(ckpt_writer *w, const char *path, sm_error *err)
{
    memset(w, 0, sizeof *w);
    if (strlen(path) + 5 >= sizeof w->tmp)
        return sm_fail(err, "%s: checkpoint path too long", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    w->f = fopen(w->tmp, "wb");
    if (!w->f) return sm_fail(err, "%s: cannot create checkpoint: %s", w->tmp, strerror(errno));
    sm_hash_init(&w->hash);
    w->sites_at = -1;
    /* placeholder header, rewritten by commit once sizes and hash are known */
    unsigned char zero[CKPT_HEADER_BYTES] = {0};
    if (fwrite(zero, 1, sizeof zero, w->f) != sizeof zero) {
        const int e = errno;
        ckpt_writer_abort(w);
        return sm_fail(err, "%s: cannot write checkpoint: %s", w->tmp, strerror(e));
    }
    return 0;
}

void ckpt_put(ckpt_writer *w, const char *name, const void *data, size_t size)
{
    const uint32_t len = (uint32_t)strlen(name);
    const uint64_t sz = size;
    put_bytes(w, &len, sizeof len);
    put_bytes(w, name, len);
    put_bytes(w, &sz, sizeof sz);
    put_bytes(w, data, size);
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t ckpt_sites_hash(const void *values, int elem, int64_t first, int64_t n)
{
    const unsigned char *v = values;
    uint64_t h = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t x = 0;
        for (int k = 0; k < elem; k++) x |= (uint64_t)v[i * elem + k] << (8 * k);   /* little-endian */
        h += mix64(mix64((uint64_t)(first + i)) + x);
    }
    return h;
}

int ckpt_put_sites_begin(ckpt_writer *w, const char *name, int elem, int Lx, int Ly, uint64_t *offset)
{
    const uint32_t len = (uint32_t)strlen(name), flagged = len | CKPT_SITES_FLAG;
    const uint64_t size = (uint64_t)Lx * (uint64_t)Ly * (uint64_t)elem;
    const int32_t shape[3] = {elem, Lx, Ly};
    unsigned char *h = w->sites_head;
    if (len > 255) {
        w->failed = 1;
        w->err_no = ENAMETOOLONG;
        return 1;
    }
    memcpy(h, &flagged, 4);
    memcpy(h + 4, name, len);
    memcpy(h + 4 + len, &size, 8);
    memcpy(h + 12 + len, shape, 12);
    memset(h + 24 + len, 0, 8);   /* the sites checksum, written by end */
    w->sites_head_n = 32 + len;
    write_bytes(w, h, w->sites_head_n);
    errno = 0;
    if (!w->failed && fflush(w->f) != 0) w->failed = 1, w->err_no = errno;
    if (w->failed) return 1;
    w->sites_at = ftell(w->f) - 8;
    w->sites_size = size;
    *offset = (uint64_t)w->sites_at + 8;
    return 0;
}

void ckpt_put_sites_end(ckpt_writer *w, uint64_t sites_hash)
{
    if (w->failed || w->sites_at < 0) return;
    unsigned char *h = w->sites_head;
    memcpy(h + w->sites_head_n - 8, &sites_hash, 8);
    sm_hash_add(&w->hash, h, w->sites_head_n);
    errno = 0;
    if (fseek(w->f, w->sites_at, SEEK_SET) != 0 || fwrite(&sites_hash, 1, 8, w->f) != 8 ||
        fseek(w->f, (long)w->sites_size, SEEK_CUR) != 0) {
        w->failed = 1;
        w->err_no = errno;
    }
    w->bytes += w->sites_size;
    w->sites_at = -1;
}

void ckpt_put_sites(ckpt_writer *w, const char *name, const void *data, int elem, int Lx, int Ly)
{
    uint64_t offset;
    if (ckpt_put_sites_begin(w, name, elem, Lx, Ly, &offset)) return;
    const int64_t n = (int64_t)Lx * Ly;
    errno = 0;
    if (fwrite(data, (size_t)elem, (size_t)n, w->f) != (size_t)n) {
        w->failed = 1;
        w->err_no = errno;
        return;
    }
    /* end seeks back for the checksum and forward past the values */
    ckpt_put_sites_end(w, ckpt_sites_hash(data, elem, 0, n));
}

void ckpt_writer_fail(ckpt_writer *w, int e)
{
    if (w->failed) return;
    w->failed = 1;
    w->err_no = e;
}

void ckpt_writer_abort(ckpt_writer *w)
{
    if (w->f) fclose(w->f);
    w->f = NULL;
    if (w->tmp[0]) unlink(w->tmp);
}

int ckpt_remove(const char *path)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int rc = 0, e = 0;
    if (unlink(tmp) != 0 && errno != ENOENT) rc = -1, e = errno;
    if (unlink(path) != 0 && errno != ENOENT) rc = -1, e = errno;
    errno = e;
    return rc;
}

static void header_pack(unsigned char *h, int64_t step, uint64_t bytes, uint64_t hash)
{
    const uint32_t ver = CKPT_VERSION, endian = CKPT_ENDIAN;
    memcpy(h, CKPT_MAGIC, 8);
    memcpy(h + 8, &ver, 4);
    memcpy(h + 12, &endian, 4);
    memcpy(h + 16, &step, 8);
    memcpy(h + 24, &bytes, 8);
    memcpy(h + 32, &hash, 8);
    const uint64_t hh = sm_hash_bytes(h, 40);
    memcpy(h + 40, &hh, 8);
}

/* fsync of the directory makes the rename itself durable. */
static int sync_dir(const char *path)
{
    char buf[4200];
    snprintf(buf, sizeof buf, "%s", path);
    const int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    const int rc = fsync(fd);
    close(fd);
    return rc;
}

int ckpt_writer_commit(ckpt_writer *w, int64_t step, sm_error *err)
{
    if (w->failed) {
        const int e = w->err_no;
        ckpt_writer_abort(w);
        return sm_fail(err, "%s: cannot write checkpoint: %s", w->tmp,
                       e ? strerror(e) : "write error");
    }
    unsigned char h[CKPT_HEADER_BYTES];
    header_pack(h, step, w->bytes, sm_hash_value(&w->hash));
    errno = 0;
    if (fflush(w->f) != 0 || fseek(w->f, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, w->f) != sizeof h ||
        fflush(w->f) != 0 || fsync(fileno(w->f)) != 0) {
        const int e = errno;
        ckpt_writer_abort(w);
        return sm_fail(err, "%s: cannot write checkpoint: %s", w->tmp, e ? strerror(e) : "write error");
    }
    const int rc = fclose(w->f);
    w->f = NULL;
    if (rc != 0) {
        const int e = errno;
        unlink(w->tmp);
        return sm_fail(err, "%s: cannot write checkpoint: %s", w->tmp, strerror(e));
    }
    if (rename(w->tmp, w->path) != 0) {
        const int e = errno;
        unlink(w->tmp);
        return sm_fail(err, "%s: cannot rename checkpoint into place: %s", w->path, strerror(e));
    }
    sync_dir(w->path); /* best effort: the file itself is complete either way */
    return 0;
}

/* --- reading ------------------------------------------------------------- */

static int damaged(ckpt_reader *r, const char *what, sm_error *err)
{
    sm_fail(err, "%s: checkpoint is damaged (%s); nothing was changed", r->path, what);
    ckpt_reader_close(r);
    return 1;
}

/* The header: magic, its own checksum, byte order, version, and the
 * payload's size (against the file's) and checksum. */
static int read_header(ckpt_reader *r, FILE *f, uint64_t size, uint32_t *ver, uint64_t *bytes,
                       uint64_t *hash, sm_error *err)
{
    unsigned char h[CKPT_HEADER_BYTES];
    uint32_t endian;
    uint64_t hh;
    if (size < CKPT_HEADER_BYTES) return damaged(r, "shorter than its header", err);
    if (fread(h, 1, sizeof h, f) != sizeof h) return damaged(r, "read error", err);
    memcpy(ver, h + 8, 4);
    memcpy(&endian, h + 12, 4);
    memcpy(&r->step, h + 16, 8);
    memcpy(bytes, h + 24, 8);
    memcpy(hash, h + 32, 8);
    memcpy(&hh, h + 40, 8);
    if (memcmp(h, CKPT_MAGIC, 8) != 0) return damaged(r, "not a softmatrix checkpoint", err);
    if (sm_hash_bytes(h, 40) != hh) return damaged(r, "header checksum mismatch", err);
    if (endian != CKPT_ENDIAN) return damaged(r, "written on a machine of another byte order", err);
    if (*ver != CKPT_VERSION && *ver != 2) {
        char what[64];
        snprintf(what, sizeof what, "format version %u, this build reads 2 and %d", *ver, CKPT_VERSION);
        return damaged(r, what, err);
    }
    if (*bytes != size - CKPT_HEADER_BYTES) return damaged(r, "truncated or extended", err);
    return 0;
}

/* Room for n more bytes at the end of r->buf. */
static unsigned char *grow(ckpt_reader *r, size_t *used, size_t *cap, size_t n)
{
    if (*used + n > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *used + n) c *= 2;
        unsigned char *b = realloc(r->buf, c);
        if (!b) return NULL;
        r->buf = b;
        *cap = c;
    }
    unsigned char *p = r->buf + *used;
    *used += n;
    return p;
}

/* One record from the payload offset *at: its header and, but for a site
 * record's values, its data into r->buf (names and data are kept as offsets
 * until the buffer stops moving). Feeds the payload checksum. */
static int read_record(ckpt_reader *r, FILE *f, uint32_t ver, uint64_t bytes, uint64_t *at,
                       size_t *used, size_t *cap, sm_hash *hs, sm_error *err)
{
    uint32_t len;
    if (bytes - *at < 4 || fread(&len, 1, 4, f) != 4) return damaged(r, "bad record", err);
    sm_hash_add(hs, &len, 4);
    const int sites = (len & CKPT_SITES_FLAG) != 0;
    len &= ~CKPT_SITES_FLAG;
    const uint64_t head = (uint64_t)len + 8 + (sites ? 20 : 0);
    if (len == 0 || len > 4096 || (sites && ver < 3) || r->nrec == CKPT_MAX_RECORDS ||
        bytes - *at - 4 < head)
        return damaged(r, "bad record", err);
    ckpt_record *rec = &r->rec[r->nrec];
    unsigned char *p = grow(r, used, cap, (size_t)head);
    if (!p || fread(p, 1, (size_t)head, f) != head) return damaged(r, p ? "read error" : "out of memory", err);
    sm_hash_add(hs, p, (size_t)head);
    rec->name = (const char *)(uintptr_t)(p - r->buf);
    rec->name_len = len;
    memcpy(&rec->size, p + len, 8);
    *at += 4 + head;
    if (rec->size > bytes - *at) return damaged(r, "bad record", err);
    if (sites) {
        int32_t shape[3];
        memcpy(shape, p + len + 8, 12);
        memcpy(&rec->sites_hash, p + len + 20, 8);
        rec->elem = shape[0], rec->Lx = shape[1], rec->Ly = shape[2];
        if ((rec->elem != 1 && rec->elem != 2 && rec->elem != 4) || rec->Lx <= 0 || rec->Ly <= 0 ||
            rec->size != (uint64_t)rec->elem * (uint64_t)rec->Lx * (uint64_t)rec->Ly)
            return damaged(r, "bad record", err);
        rec->offset = CKPT_HEADER_BYTES + *at;
        if (fseeko(f, (off_t)rec->size, SEEK_CUR) != 0) return damaged(r, "read error", err);
    } else {
        unsigned char *d = grow(r, used, cap, (size_t)rec->size);
        if (!d || fread(d, 1, (size_t)rec->size, f) != rec->size)
            return damaged(r, d ? "read error" : "out of memory", err);
        sm_hash_add(hs, d, (size_t)rec->size);
        rec->data = (const void *)(uintptr_t)(d - r->buf);
    }
    *at += rec->size;
    r->nrec++;
    return 0;
}

int ckpt_reader_open(ckpt_reader *r, const char *path, int *missing, sm_error *err)
{
    memset(r, 0, sizeof *r);
    *missing = 0;
    snprintf(r->path, sizeof r->path, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        *missing = errno == ENOENT;
        return sm_fail(err, "%s: cannot open checkpoint: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return sm_fail(err, "%s: checkpoint is not a regular file", path);
    }
    uint32_t ver;
    uint64_t bytes, hash, at = 0;
    size_t used = 0, cap = 0;
    sm_hash hs;
    sm_hash_init(&hs);
    int rc = read_header(r, f, (uint64_t)st.st_size, &ver, &bytes, &hash, err);
    while (!rc && at < bytes) rc = read_record(r, f, ver, bytes, &at, &used, &cap, &hs, err);
    fclose(f);
    if (rc) return 1;
    if (sm_hash_value(&hs) != hash) return damaged(r, "payload checksum mismatch", err);
    for (int i = 0; i < r->nrec; i++) {   /* offsets into the final buffer */
        r->rec[i].name = (const char *)r->buf + (uintptr_t)r->rec[i].name;
        if (!r->rec[i].elem) r->rec[i].data = r->buf + (uintptr_t)r->rec[i].data;
    }
    return 0;
}

void ckpt_reader_close(ckpt_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->nrec = 0;
}

const ckpt_record *ckpt_find(const ckpt_reader *r, const char *name, sm_error *err)
{
    const size_t n = strlen(name);
    for (int i = 0; i < r->nrec; i++) {
        if (r->rec[i].name_len == n && memcmp(r->rec[i].name, name, n) == 0) return &r->rec[i];
    }
    sm_fail(err, "%s: checkpoint lacks the record '%s' (written by another version?)", r->path, name);
    return NULL;
}

int ckpt_get(const ckpt_reader *r, const char *name, void *dst, size_t size, sm_error *err)
{
    const ckpt_record *rec = ckpt_find(r, name, err);
    if (!rec) return 1;
    if (rec->size != size)
        return sm_fail(err, "%s: checkpoint record '%s' has %llu bytes, expected %zu", r->path,
                       name, (unsigned long long)rec->size, size);
    if (!rec->elem) {
        if (size) memcpy(dst, rec->data, size);
        return 0;
    }
    FILE *f = fopen(r->path, "rb");
    const int ok = f && fseeko(f, (off_t)rec->offset, SEEK_SET) == 0 && fread(dst, 1, size, f) == size;
    if (f) fclose(f);
    if (!ok) return sm_fail(err, "%s: cannot read checkpoint record '%s': %s", r->path, name, strerror(errno));
    const int64_t n = (int64_t)rec->Lx * rec->Ly;
    if (ckpt_sites_hash(dst, rec->elem, 0, n) != rec->sites_hash) return ckpt_sites_damaged(r->path, rec, err);
    return 0;
}

int ckpt_sites_damaged(const char *path, const ckpt_record *rec, sm_error *err)
{
    return sm_fail(err, "%s: checkpoint is damaged (record %.*s: checksum mismatch); nothing was changed",
                   path, (int)rec->name_len, rec->name);
}
