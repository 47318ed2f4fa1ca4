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

static void put_bytes(ckpt_writer *w, const void *data, size_t n)
{
    if (w->failed || n == 0) return;
    errno = 0;
    if (fwrite(data, 1, n, w->f) != n) {
        w->failed = 1;
        w->err_no = errno;
        return;
    }
    sm_hash_add(&w->hash, data, n);
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
    header_pack(h, step, w->hash.n, sm_hash_value(&w->hash));
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
    const uint64_t size = (uint64_t)st.st_size;
    if (size < CKPT_HEADER_BYTES) {
        fclose(f);
        return damaged(r, "shorter than its header", err);
    }
    r->buf = malloc(size ? size : 1);
    if (!r->buf) {
        fclose(f);
        return sm_fail(err, "%s: out of memory reading the checkpoint (%llu bytes)", path,
                       (unsigned long long)size);
    }
    const size_t got = fread(r->buf, 1, size, f);
    fclose(f);
    if (got != size) return damaged(r, "read error", err);

    const unsigned char *h = r->buf;
    uint32_t ver, endian;
    uint64_t bytes, hash, hh;
    memcpy(&ver, h + 8, 4);
    memcpy(&endian, h + 12, 4);
    memcpy(&r->step, h + 16, 8);
    memcpy(&bytes, h + 24, 8);
    memcpy(&hash, h + 32, 8);
    memcpy(&hh, h + 40, 8);
    if (memcmp(h, CKPT_MAGIC, 8) != 0) return damaged(r, "not a softmatrix checkpoint", err);
    if (sm_hash_bytes(h, 40) != hh) return damaged(r, "header checksum mismatch", err);
    if (endian != CKPT_ENDIAN) return damaged(r, "written on a machine of another byte order", err);
    if (ver != CKPT_VERSION) {
        char what[64];
        snprintf(what, sizeof what, "format version %u, this build reads %d", ver, CKPT_VERSION);
        return damaged(r, what, err);
    }
    if (bytes != size - CKPT_HEADER_BYTES) return damaged(r, "truncated or extended", err);
    const unsigned char *p = r->buf + CKPT_HEADER_BYTES;
    if (sm_hash_bytes(p, bytes) != hash) return damaged(r, "payload checksum mismatch", err);

    /* index the records; sizes are checked against what remains so that a
     * (checksum-colliding) bad length cannot read past the buffer */
    uint64_t at = 0;
    while (at < bytes) {
        uint32_t len;
        uint64_t sz;
        if (bytes - at < 4) return damaged(r, "bad record", err);
        memcpy(&len, p + at, 4);
        at += 4;
        if (len == 0 || bytes - at < (uint64_t)len + 8) return damaged(r, "bad record", err);
        const unsigned char *name = p + at;
        at += len;
        memcpy(&sz, p + at, 8);
        at += 8;
        if (sz > bytes - at || r->nrec == CKPT_MAX_RECORDS) return damaged(r, "bad record", err);
        /* names are stored without a NUL and compared with their length */
        r->rec[r->nrec].name = (const char *)name;
        r->rec[r->nrec].name_len = len;
        r->rec[r->nrec].size = sz;
        r->rec[r->nrec].data = p + at;
        r->nrec++;
        at += sz;
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
    if (size) memcpy(dst, rec->data, size);
    return 0;
}
