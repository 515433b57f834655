#!/usr/bin/env bash
# GPU check (issue #5), at most ~5 minutes on one CUDA GPU:
#   1. AMP training of the `n` preset on synthetic fields for a few hundred steps,
#   2. a one-process DistributedDataParallel smoke run on nccl (torchrun --nproc_per_node 1),
#   3. GPU prediction latency at batch 1 and batch 32 (640x640 fields).
# Usage: bash benchmarks/gpu_check.sh   (PY=python interpreter, WORK=scratch folder; both optional)
# Prints one JSON line and saves benchmarks/results/gpu_check.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORK=${WORK:-$(mktemp -d /tmp/leukodet-gpu-check.XXXXXX)}
"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "gpu_check: CUDA is not available here")'
"$PY" benchmarks/gpu_check.py --work "$WORK"
