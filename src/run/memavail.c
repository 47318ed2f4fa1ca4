/* The memory this process may still allocate (run/memavail.h): what the
 * kernel reports as available, a cgroup's limit and an address-space limit,
 * whichever leaves least. A batch system's limit is the one that kills a
 * job, so it counts even on a machine with free memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "run/memavail.h"

/* The value of field `key` (in kB) in /proc/meminfo, or -1. */
static double meminfo_kb(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    double v = -1;
    const size_t n = strlen(key);
    while (v < 0 && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') v = strtod(line + n + 1, NULL);
    fclose(f);
    return v;
}

/* A number in a cgroup file ("max" and unreadable: -1). */
static double cgroup_value(const char *dir, const char *name)
{
    char path[700], buf[64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    const int ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    char *end;
    const double v = ok ? strtod(buf, &end) : -1;
    return ok && end != buf ? v : -1;
}

/* Bytes left under this process's cgroup memory limit (v2, or v1), or -1. */
static double cgroup_left(void)
{
    char line[512] = "", dir[600];
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f) {
        while (fgets(line, sizeof line, f) && strncmp(line, "0::", 3)) line[0] = 0;
        fclose(f);
    }
    line[strcspn(line, "\n")] = 0;
    snprintf(dir, sizeof dir, "/sys/fs/cgroup%s", line[0] ? line + 3 : "");
    double max = cgroup_value(dir, "memory.max"), used = cgroup_value(dir, "memory.current");
    if (max < 0) {
        snprintf(dir, sizeof dir, "/sys/fs/cgroup/memory");
        max = cgroup_value(dir, "memory.limit_in_bytes");
        used = cgroup_value(dir, "memory.usage_in_bytes");
    }
    /* v1 writes "no limit" as a huge number */
    if (max < 0 || max > 1e18) return -1;
    return used > 0 && used < max ? max - used : (used < 0 ? max : 0);
}

/* Bytes left under an address-space limit (ulimit -v), or -1. */
static double rlimit_left(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_AS, &r) || r.rlim_cur == RLIM_INFINITY) return -1;
    FILE *f = fopen("/proc/self/statm", "r");
    double pages = 0;
    if (f) {
        if (fscanf(f, "%lf", &pages) != 1) pages = 0;
        fclose(f);
    }
    const double left = (double)r.rlim_cur - pages * (double)sysconf(_SC_PAGESIZE);
    return left > 0 ? left : 0;
}

double memory_available(const char **what)
{
    const double kb = meminfo_kb("MemAvailable"), cg = cgroup_left(), as = rlimit_left();
    *what = "MemAvailable in /proc/meminfo";
    double have = kb >= 0 ? kb * 1024.0 : -1;
    if (cg >= 0 && (have < 0 || cg < have)) {
        have = cg;
        *what = "the cgroup memory limit";
    }
    if (as >= 0 && (have < 0 || as < have)) {
        have = as;
        *what = "the address-space limit, ulimit -v";
    }
    return have;
}
