/* The memory this process may still allocate, for the check a run makes
 * before it allocates its lattice and for `softmatrix validate`. */
#ifndef SM_MEMAVAIL_H
#define SM_MEMAVAIL_H

/* In bytes: MemAvailable of /proc/meminfo, or what is left under a cgroup
 * memory limit or an address-space limit (ulimit -v) when that is less;
 * *what names the one that counts. -1 when none can be read. */
double memory_available(const char **what);

#endif
