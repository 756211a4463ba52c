#!/bin/bash
# ENTRYPOINT: `dragoman serve "$@"`. The server sizes its decoding threads from the CPUs it may
# really use (affinity mask, cgroup v2 cpu.max or v1 quota; server/sched/cpu_budget.c), so nothing is
# computed here. The file stays so that images and manifests keep one stable entry point.
set -euo pipefail
exec /usr/local/bin/dragoman serve "$@"
