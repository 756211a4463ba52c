#!/bin/bash
# ENTRYPOINT: `dragoman serve "$@"`, with the intra-op thread count sized to the container's CPU
# quota. The server's default (CPU cores / workers) counts every core of the host, so a
# container limited to 2 CPUs on a 64-core node would run 64 threads and be throttled on every
# decoding step.
set -euo pipefail

# CPUs the container may use: the CFS quota (cgroup v2, else v1) rounded down, at least 1, at
# most the CPUs this process may run on. Rounded down because the HTTP threads need some too.
cpu_limit() {
  local cpus quota=max period=100000
  cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc honours these
  if [ -r /sys/fs/cgroup/cpu.max ]; then
    read -r quota period < /sys/fs/cgroup/cpu.max
  elif [ -r /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
    quota=$(< /sys/fs/cgroup/cpu/cpu.cfs_quota_us)
    period=$(< /sys/fs/cgroup/cpu/cpu.cfs_period_us)
  fi
  if [[ $quota =~ ^[0-9]+$ ]] && [ "$period" -gt 0 ]; then
    local q=$((quota / period))
    [ "$q" -ge 1 ] || q=1
    [ "$q" -ge "$cpus" ] || cpus=$q
  fi
  echo "$cpus"
}

# Workers as the server will see them: flags win over the environment.
workers=${DRAGOMAN_WORKERS:-1}
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --workers) workers=${args[i + 1]:-$workers} ;;
    --workers=*) workers=${args[i]#--workers=} ;;
  esac
done
[[ $workers =~ ^[1-9][0-9]*$ ]] || workers=1  # the server rejects it with a clear message

if [ "${DRAGOMAN_THREADS_PER_WORKER:-0}" = 0 ]; then
  threads=$(($(cpu_limit) / workers))
  [ "$threads" -ge 1 ] || threads=1
  export DRAGOMAN_THREADS_PER_WORKER=$threads
fi
# The engine sets OpenBLAS's thread count itself (openblas_set_num_threads, per worker batch);
# this only sizes the pool OpenBLAS starts at load time, which otherwise counts host cores too.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$DRAGOMAN_THREADS_PER_WORKER}

exec /usr/local/bin/dragoman serve "$@"
