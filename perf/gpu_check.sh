#!/usr/bin/env bash
# The GPU check (issue #25): on a machine with one CUDA GPU and no network (every wheel installed beforehand:
# `pip install torch==2.13.0 -e '.[test]'` from a wheel folder), in under 10 minutes:
#   1. the gpu-marked tests (those whose weights are not in the local HF cache skip);
#   2. the tiny suite on the GPU, one seed, every method (family built on the GPU with --device cuda);
#   3. decoding tokens/s of the diffusion sampler against AR generate on the same prompts and lengths.
# Without a CUDA device it stops at once with exit code 2 and the reason.
#   bash perf/gpu_check.sh            # PYTHON=... to use another interpreter, OUT=... for the result folder
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "gpu_check: no CUDA device (torch.cuda.is_available() is False, or torch is missing): run it on a GPU machine" >&2
  exit 2
fi
OUT="${OUT:-$(mktemp -d /tmp/gpu-check.XXXXXX)}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TQDM_DISABLE=1
"$PY" -c 'import torch; print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)'
start=$(date +%s)
"$PY" -m pytest -q -m gpu tests/test_gpu.py
"$PY" -m benchmark run --all --seeds 1 --device cuda --out "$OUT" --cache-dir "$OUT/cache"
"$PY" perf/decode_speed.py --device cuda --cache-dir "$OUT/cache"
"$PY" perf/decode_speed.py --device cuda --cache-dir "$OUT/cache" --batch 8 --new-tokens 96
echo "gpu_check: done in $(( $(date +%s) - start )) s; results in $OUT"
