/* Output files: parent directories, the one-writer lock, the final rename. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/outfile.h"

int outfile_mkdirs(const char *path, sm_error *err)
{
    char buf[4224];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return sm_fail(err, "%.60s...: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return sm_fail(err, "%s: cannot create directory %s: %s", path, buf, strerror(errno));
        *p = '/';
    }
    return 0;
}

/* The PID written by the lock's holder, or 0 when unreadable. */
static long holder_pid(int fd)
{
    char buf[32] = {0};
    const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    char *end;
    const long pid = strtol(buf, &end, 10);
    return pid > 0 ? pid : 0;
}

/* A lock file removed and recreated between our open and our flock would
 * leave two holders, each of another inode: the lock counts only while the
 * locked descriptor is still the file at l->path. */
static int still_linked(const outfile_lock *l)
{
    struct stat a, b;
    return fstat(l->fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

int outfile_lock_take(outfile_lock *l, const char *path, int *busy, sm_error *err)
{
    *busy = 0;
    l->fd = -1;
    if (snprintf(l->path, sizeof l->path, "%s.lock", path) >= (int)sizeof l->path)
        return sm_fail(err, "%.60s...: path too long", path);
    for (int tries = 0; tries < 100; tries++) {
        l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (l->fd < 0)
            return sm_fail(err, "%s: cannot create output file: %s (lock file %s)", path,
                           strerror(errno), l->path);
        if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
            const int e = errno;
            const long pid = holder_pid(l->fd);
            close(l->fd);
            l->fd = -1;
            if (e != EWOULDBLOCK)
                return sm_fail(err, "%s: cannot lock %s: %s", path, l->path, strerror(e));
            *busy = 1;
            if (pid)
                return sm_fail(err, "%s: another softmatrix process (PID %ld) is writing this output; nothing was changed",
                               path, pid);
            return sm_fail(err, "%s: another softmatrix process (PID unknown, see %s) is writing this output; nothing was changed",
                           path, l->path);
        }
        if (still_linked(l)) {
            /* one fixed-width write, so that a reader never sees it half done;
             * on a full disk the lock holds and only the PID is missing */
            char pid[24];
            const int n = snprintf(pid, sizeof pid, "%-22ld\n", (long)getpid());
            const ssize_t wrote = pwrite(l->fd, pid, (size_t)n, 0);
            (void)wrote;
            return 0;
        }
        close(l->fd);
        l->fd = -1;
    }
    return sm_fail(err, "%s: cannot lock %s: it keeps being replaced", path, l->path);
}

void outfile_lock_release(outfile_lock *l)
{
    if (l->fd < 0) return;
    /* unlinked while held: a process that opened it meanwhile finds, once it
     * has the lock, that it is no longer the file at the path, and retries */
    unlink(l->path);
    close(l->fd);
    l->fd = -1;
}

int outfile_publish(const char *from, const char *to, int replace, sm_error *err)
{
    if (!replace) {
        if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
        if (errno == EEXIST)
            return sm_fail(err, "%s: output file appeared during the run; the result stays in %s", to, from);
        if (errno != EINVAL && errno != ENOSYS)
            return sm_fail(err, "%s: cannot rename %s into place: %s", to, from, strerror(errno));
        /* file system without RENAME_NOREPLACE: check, then rename */
        struct stat st;
        if (stat(to, &st) == 0)
            return sm_fail(err, "%s: output file appeared during the run; the result stays in %s", to, from);
    }
    if (rename(from, to) != 0)
        return sm_fail(err, "%s: cannot rename %s into place: %s", to, from, strerror(errno));
    return 0;
}

int outfile_odd(const char *path, const char *what, sm_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0 || S_ISREG(st.st_mode)) return 0;
    if (S_ISLNK(st.st_mode) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) return 0;
    const char *kind = S_ISDIR(st.st_mode) ? "a directory" : S_ISLNK(st.st_mode) ? "a dangling symbolic link"
                     : S_ISFIFO(st.st_mode) ? "a pipe" : S_ISSOCK(st.st_mode) ? "a socket" : "not a regular file";
    return sm_fail(err, "%s: is %s, where softmatrix keeps %s; remove or rename it", path, kind, what);
}
