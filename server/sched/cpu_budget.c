/* DESIGN: cgroup v2 limits nest, so the quota that binds is the smallest floor(quota/period)
 * from our own cgroup (the "0::PATH" line of /proc/self/cgroup) up to the root; inside a
 * container with a cgroup namespace PATH is "/" and the root file is the container's own.
 * cgroup v1 is read at its usual mount point only (the cpu controller's root in the
 * container). Rounded down, as a fractional CPU cannot run a whole thread. */
#include "server/sched/cpu_budget.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* floor(quota / period) from a file holding "QUOTA PERIOD" (v2) or one number (v1, with the
 * period in period_path); 0 = no limit there. */
static long quota_cpus(const char *path, const char *period_path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char q[32] = "";
    long period = 0;
    int got = fscanf(f, "%31s %ld", q, &period);
    fclose(f);
    if (got < 1 || !strcmp(q, "max") || q[0] == '-')
        return 0;
    if (period_path) {
        FILE *p = fopen(period_path, "r");
        if (!p)
            return 0;
        if (fscanf(p, "%ld", &period) != 1)
            period = 0;
        fclose(p);
    } else if (got < 2) {
        return 0;
    }
    long quota = atol(q);
    if (quota <= 0 || period <= 0)
        return 0;
    return quota / period > 0 ? quota / period : 1;
}

static int min_limit(int cpus, long lim)
{
    return lim > 0 && lim < cpus ? (int)lim : cpus;
}

int dg_cpu_budget_from(const char *cgroup_root, const char *self_cgroup, int cpus)
{
    if (cpus < 1)
        cpus = 1;
    char rel[PATH_MAX] = "";
    FILE *f = fopen(self_cgroup, "r");
    if (f) {
        char line[PATH_MAX + 16];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "0::", 3)) {
                line[strcspn(line, "\n")] = 0;
                size_t n = strlen(line + 3);
                if (n < sizeof rel)
                    memcpy(rel, line + 3, n + 1);
            }
        fclose(f);
    }
    char path[PATH_MAX * 2];
    /* v2: every level from ours to the root */
    for (;;) {
        snprintf(path, sizeof path, "%s%s/cpu.max", cgroup_root, rel);
        cpus = min_limit(cpus, quota_cpus(path, NULL));
        char *slash = strrchr(rel, '/');
        if (!slash || !rel[0])
            break;
        *slash = 0;
    }
    /* v1 */
    char period[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/cpu/cpu.cfs_quota_us", cgroup_root);
    snprintf(period, sizeof period, "%s/cpu/cpu.cfs_period_us", cgroup_root);
    return min_limit(cpus, quota_cpus(path, period));
}

int dg_cpu_budget(void)
{
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                            : (int)sysconf(_SC_NPROCESSORS_ONLN);
    return dg_cpu_budget_from("/sys/fs/cgroup", "/proc/self/cgroup", cpus);
}
