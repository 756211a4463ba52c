#!/usr/bin/env bash
# Builds the benchmark, writes the random Transformer-base checkpoint once (bench/data/, not
# committed) and runs bench_engine. Extra arguments go to bench_engine (e.g. --json).
set -euo pipefail
cd "$(dirname "$0")/.."
model=bench/data/transformer-base
[ -f "$model/model.safetensors" ] || /usr/bin/python3 bench/make_model.py "$model"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target bench_engine >/dev/null
exec build/bench/bench_engine --model "$model" "$@"
