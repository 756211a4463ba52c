#!/usr/bin/env bash
# Builds or continues the demo English→German model: corpus from Debian's German gettext
# catalogs (corpus.py), joint SentencePiece vocabulary with byte fallback (vocab.py), then
# MINUTES of training that continue from the committed training state (train.py), and the
# dev-BLEU comparison that replaces the shipped model only when the new one is better (ship.py).
#
#   models/demo/build.sh [--smoke] [WORK]        (WORK defaults to build-demo)
#
# Full run: a few minutes of corpus and vocabulary (downloads cached in WORK/debcache), then
# MINUTES (default 85) of training on THREADS (default 1) CPU threads, resumed from STATE
# (default models/demo/state: weights, Adam moments, step, data position, minutes so far) and
# written back there every 10 minutes and at the end; commit STATE afterwards. The trained
# model is WORK/model; it is copied to SHIP (default models/demo-en-de) when its dev BLEU, via
# the C engine DRAGOMAN (default build/dragoman), beats the shipped one's (STATE/shipped.json).
# --smoke builds a tiny model from a few small packages in well under 3 minutes (CI); its state
# and "shipped" folder stay in WORK, and the comparison runs only when DRAGOMAN is given.
# The last COOLDOWN (default 15) of the MINUTES decay the learning rate to zero for the model
# that is exported; the state keeps the weights from before it, for the next run to continue.
# MINUTES=15 COOLDOWN=15 only anneals the committed state.
# SIZE, MINUTES, THREADS, DTYPE (float32/float16), LR and WARMUP override the defaults;
# STEPS=N stops at global step N.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py=/usr/bin/python3
smoke=0
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
work="${1:-build-demo}"
mkdir -p "$work"

if [ $smoke = 1 ]; then
  packages="$here/packages-smoke.txt"; vocab=600; size=${SIZE:-smoke}; minutes=${MINUTES:-1}
  state=${STATE:-$work/state}; ship=${SHIP:-$work/shipped}; dtype=${DTYPE:-float32}
  dragoman=${DRAGOMAN:-}
  train_args=(--max-steps "${STEPS:-60}" --batch-tokens 1024 --warmup 20 --save-every 0.2
              --state-every 0.2 --average 2)
else
  packages="$here/packages.txt"; vocab=8000; size=${SIZE:-deep}; minutes=${MINUTES:-85}
  state=${STATE:-$here/state}; ship=${SHIP:-$here/../demo-en-de}; dtype=${DTYPE:-float16}
  dragoman=${DRAGOMAN:-$root/build/dragoman}
  train_args=(--lr "${LR:-7e-4}" --warmup "${WARMUP:-500}" --cooldown "${COOLDOWN:-15}")
  [ -z "${STEPS:-}" ] || train_args+=(--max-steps "$STEPS")
fi
# One PyTorch thread uses both cores anyway: Debian's PyTorch does its matrix products in
# OpenBLAS, whose own pool has a thread per core. On the 2-core build VM two PyTorch threads made
# a step slower (2.56 against 1.80 s, Zen 4), also with OMP_WAIT_POLICY=PASSIVE (2.62 against
# 2.48 s, Zen 3); OpenBLAS held to one thread made it 3.4 s (2026-12-02).
threads=${THREADS:-1}
frozen="$here/testsets/v1"

if [ ! -s "$work/corpus/train.en" ] || [ "$packages" -nt "$work/corpus/train.en" ] ||
   [ "$frozen.en" -nt "$work/corpus/train.en" ]; then
  $py "$here/corpus.py" --packages "$packages" --cache "$work/debcache" --out "$work/corpus" \
      --frozen-test "$frozen"
fi
# The vocabulary of a committed state is reused: its weights belong to those ids.
if [ ! -s "$work/model/vocab.json" ] || [ "$work/corpus/train.en" -nt "$work/model/vocab.json" ] ||
   { [ -s "$state/source.spm" ] && ! cmp -s "$state/source.spm" "$work/model/source.spm"; }; then
  rm -rf "$work/train"   # checkpoints of another vocabulary are useless
  $py "$here/vocab.py" --corpus "$work/corpus" --out "$work/model" --vocab-size $vocab \
      --threads "$threads" $([ $smoke = 1 ] && echo --smoke) \
      $([ -s "$state/source.spm" ] && echo --spm "$state/source.spm")
  mkdir -p "$state"
  cmp -s "$work/model/source.spm" "$state/source.spm" || cp "$work/model/source.spm" "$state/source.spm"
fi
# Training allocates and frees tensors of many MB every step; on VMs where a page fault is
# slow, 2 MB pages for malloc's mmap'ed blocks made a step 2.2x faster (glibc >= 2.35).
GLIBC_TUNABLES=glibc.malloc.hugetlb=1 \
$py "$here/train.py" --corpus "$work/corpus" --model "$work/model" --work "$work/train" \
    --state "$state" --size "$size" --minutes "$minutes" --threads "$threads" --dtype "$dtype" \
    --resume "${train_args[@]}" 2>&1 | tee -a "$work/train.log"
# what the state has now been trained on, with each package's licence, is committed beside it
cp "$work/corpus/packages.tsv" "$state/packages.tsv"
if [ -n "$dragoman" ] && [ -x "$dragoman" ]; then
  $py "$here/ship.py" --candidate "$work/model" --shipped "$ship" --record "$state/shipped.json" \
      --corpus "$work/corpus" --dragoman "$dragoman" --state "$state" --threads "$threads" \
      2>&1 | tee -a "$work/train.log"
else
  echo "build.sh: no dragoman executable (DRAGOMAN=$dragoman): the new model was not compared" \
       "with the shipped one" | tee -a "$work/train.log"
fi
