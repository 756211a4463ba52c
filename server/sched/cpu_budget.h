/* The CPUs this process may really use: its affinity mask (taskset, cpusets, Kubernetes' static
 * CPU manager) and the cgroup CPU quota (docker --cpus, Kubernetes limits), not the host's cores
 * that sysconf counts. Sizes the decoding threads when --threads-per-worker is 0. */
#ifndef DG_CPU_BUDGET_H
#define DG_CPU_BUDGET_H

/* min(affinity CPUs, floor(quota / period) of every cgroup from ours up to the root), at least 1.
 * Reads /proc/self/cgroup and /sys/fs/cgroup (v2 cpu.max, else v1 cpu.cfs_quota_us). */
int dg_cpu_budget(void);
/* The same from explicit inputs, for tests: cgroup_root stands for /sys/fs/cgroup, self_cgroup
 * for /proc/self/cgroup, cpus for the affinity count. */
int dg_cpu_budget_from(const char *cgroup_root, const char *self_cgroup, int cpus);

#endif
