/* Unit tests of the pieces behind the output discipline: the streaming
 * checksum (the same bytes in any pieces give one value, any change another),
 * the escaping of error messages, and the one-writer lock. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "core/error.h"
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

int main(void)
{
    RUN(test_hash_is_independent_of_pieces);
    RUN(test_hash_sees_every_change);
    RUN(test_escape);
    RUN(test_lock);
    return CHECK_REPORT();
}
