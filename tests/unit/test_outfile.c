/* Unit tests of the pieces behind the output discipline: the streaming
 * checksum (the same bytes in any pieces give one value, any change another),
 * the sites checksum of checkpoints (parts add up; values and places count),
 * the escaping of error messages, and the one-writer lock. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "core/error.h"
#include "io/checkpoint.h"
#include "io/hash.h"
#include "io/outfile.h"

static void test_hash_is_independent_of_pieces(void)
{
    unsigned char buf[1000];
    for (int i = 0; i < 1000; i++) buf[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= 1000; n += 97) {
        const uint64_t whole = sm_hash_bytes(buf, n);
        for (size_t piece = 1; piece <= 17; piece += 3) {
            sm_hash s;
            sm_hash_init(&s);
            for (size_t at = 0; at < n; at += piece) sm_hash_add(&s, buf + at, at + piece > n ? n - at : piece);
            CHECK(sm_hash_value(&s) == whole && s.n == n, "n %zu in pieces of %zu", n, piece);
        }
    }
}

static void test_hash_sees_every_change(void)
{
    unsigned char buf[64] = {0};
    const uint64_t h0 = sm_hash_bytes(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (unsigned char)(1u << bit);
            CHECK(sm_hash_bytes(buf, sizeof buf) != h0, "flip of bit %d of byte %zu", bit, i);
            buf[i] ^= (unsigned char)(1u << bit);
        }
    /* trailing zero bytes count */
    CHECK(sm_hash_bytes(buf, 63) != h0 && sm_hash_bytes(buf, 8) != sm_hash_bytes(buf, 9), "length");
}

static void test_escape(void)
{
    char out[64];
    CHECK(!strcmp(sm_escape(out, sizeof out, "a\nb\x7f" "c"), "a\\x0ab\\x7fc"), "%s", out);
    CHECK(!strcmp(sm_escape(out, sizeof out, "caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac"), "%s", out);
    CHECK(!strcmp(sm_escape(out, sizeof out, "x\xff\xc3(\xed\xa0\x80"), "x\\xff\\xc3(\\xed\\xa0\\x80"), "%s", out);
    CHECK(!strcmp(sm_escape(out, sizeof out, "\xc0\xaf"), "\\xc0\\xaf"), "overlong: %s", out);
    CHECK(!strcmp(sm_escape(out, 6, "ab\x01xyz"), "ab"), "cut at a whole escape: %s", out);
    sm_error e;
    sm_fail(&e, "%s: bad", "k\x80\tz");
    CHECK(!strcmp(e.msg, "k\\x80\\x09z: bad"), "%s", e.msg);
    sm_fail(&e, "%s", "k\\x80");
    CHECK(!strcmp(e.msg, "k\\x80"), "escaping twice changes nothing: %s", e.msg);
}

static void test_lock(void)
{
    char dir[] = "/tmp/sm-lock-XXXXXX";
    if (!mkdtemp(dir)) SKIP("mkdtemp");
    char path[128];
    snprintf(path, sizeof path, "%s/r.h5", dir);
    outfile_lock a, b;
    sm_error err;
    int busy;
    CHECK(outfile_lock_take(&a, path, &busy, &err) == 0, "%s", err.msg);
    /* flock locks belong to the open file description: a child process
     * opening the file again is another writer */
    const pid_t pid = fork();
    if (pid == 0) {
        outfile_lock c;
        const int refused = outfile_lock_take(&c, path, &busy, &err) != 0 && busy &&
                            strstr(err.msg, "another softmatrix process (PID ") != NULL;
        _exit(refused ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a second writer is refused");
    char lockfile[160];
    snprintf(lockfile, sizeof lockfile, "%s.lock", path);
    outfile_lock_release(&a);
    CHECK(access(lockfile, F_OK) != 0, "released: the lock file is gone");
    CHECK(outfile_lock_take(&b, path, &busy, &err) == 0, "%s", err.msg);
    outfile_lock_release(&b);
    rmdir(dir);
}

/* The blocks of a split lattice hash their own sites: the parts of any
 * cut add up to the whole; a changed value, two values swapped or every
 * value moved by one site give another sum. A value is hashed, not its
 * width: the width is in the record's header, under the payload checksum. */
static void test_sites_hash_parts_and_changes(void)
{
    enum { LX = 37, LY = 23, N = LX * LY };
    int16_t v[N];
    for (int a = 0; a < N; a++) v[a] = (int16_t)((a * 7919) % 301 - 150);
    for (int elem = 1; elem <= 2; elem++) {
        const uint64_t whole = ckpt_sites_hash(v, elem, 0, N);
        for (int cut = 0; cut <= N; cut += 61) {
            const uint64_t parts = ckpt_sites_hash(v, elem, 0, cut) +
                                   ckpt_sites_hash((const char *)v + (size_t)elem * cut, elem, cut, N - cut);
            CHECK(parts == whole, "elem %d cut at %d", elem, cut);
        }
        /* rows of a 2 x 2 grid of blocks, each row its own part */
        uint64_t rows = 0;
        for (int y = 0; y < LY; y++)
            for (int x0 = 0; x0 < LX; x0 += 19) {
                const int nx = x0 + 19 > LX ? LX - x0 : 19;
                rows += ckpt_sites_hash((const char *)v + (size_t)elem * (y * LX + x0), elem, y * LX + x0, nx);
            }
        CHECK(rows == whole, "elem %d by block rows", elem);
    }
    const uint64_t h = ckpt_sites_hash(v, 2, 0, N);
    int16_t w[N];
    memcpy(w, v, sizeof w);
    w[400] ^= 1;
    CHECK(ckpt_sites_hash(w, 2, 0, N) != h, "a changed value");
    memcpy(w, v, sizeof w);
    w[3] = v[4], w[4] = v[3];
    CHECK(v[3] != v[4] && ckpt_sites_hash(w, 2, 0, N) != h, "two values swapped");
    CHECK(ckpt_sites_hash(v, 2, 1, N) != h, "every value one site on");
    const uint8_t one = 5;
    const uint16_t wide = 5;
    CHECK(ckpt_sites_hash(&one, 1, 9, 1) == ckpt_sites_hash(&wide, 2, 9, 1), "values, not their width");
}

int main(void)
{
    RUN(test_hash_is_independent_of_pieces);
    RUN(test_hash_sees_every_change);
    RUN(test_sites_hash_parts_and_changes);
    RUN(test_escape);
    RUN(test_lock);
    return CHECK_REPORT();
}
