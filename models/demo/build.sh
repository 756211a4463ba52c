#!/usr/bin/env bash
# Rebuilds the demo English→German model from scratch: corpus from Debian's German gettext
# catalogs (corpus.py), joint SentencePiece vocabulary (vocab.py), then training and export
# (train.py). Downloads are cached in WORK/debcache and training resumes from WORK/train, so an
# interrupted run is continued by running the same command again.
#
#   models/demo/build.sh [--smoke] [WORK]        (WORK defaults to build-demo)
#
# Full run: about 2 minutes of corpus and vocabulary, then MINUTES (default 90) of training on
# THREADS (default 2) CPU threads; the model folder is WORK/model. --smoke builds a tiny model
# from a few small packages in well under 3 minutes (CI). SIZE, MINUTES, THREADS and DTYPE
# (float32/float16) override the defaults. A time budget makes the step count depend on the
# machine; STEPS=N (with a MINUTES large enough) reproduces a given run step for step.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py=/usr/bin/python3
smoke=0
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
work="${1:-build-demo}"
mkdir -p "$work"

if [ $smoke = 1 ]; then
  packages="$here/packages-smoke.txt"; vocab=400; size=${SIZE:-smoke}; minutes=${MINUTES:-1}
  train_args=(--max-steps 60 --batch-tokens 1024 --warmup 20 --save-every 0.2 --average 2)
else
  packages="$here/packages.txt"; vocab=8000; size=${SIZE:-micro}; minutes=${MINUTES:-90}
  train_args=()
  [ -z "${STEPS:-}" ] || train_args=(--max-steps "$STEPS")
fi
threads=${THREADS:-2}

if [ ! -s "$work/corpus/train.en" ] || [ "$packages" -nt "$work/corpus/train.en" ]; then
  $py "$here/corpus.py" --packages "$packages" --cache "$work/debcache" --out "$work/corpus"
fi
if [ ! -s "$work/model/vocab.json" ] || [ "$work/corpus/train.en" -nt "$work/model/vocab.json" ]; then
  rm -rf "$work/train"   # checkpoints of another vocabulary are useless
  $py "$here/vocab.py" --corpus "$work/corpus" --out "$work/model" --vocab-size $vocab \
      --threads "$threads" $([ $smoke = 1 ] && echo --smoke)
fi
$py "$here/train.py" --corpus "$work/corpus" --model "$work/model" --work "$work/train" \
    --size "$size" --minutes "$minutes" --threads "$threads" --dtype "${DTYPE:-float32}" \
    --resume "${train_args[@]}" 2>&1 | tee -a "$work/train.log"
