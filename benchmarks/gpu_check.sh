#!/usr/bin/env bash
# The GPU check (issue 16): every GPU measurement in one run, under 8 minutes on one
# H100/H200. Needs only this repository, torch and torchvision (plus ray for the Ray
# part); nothing is downloaded. See benchmarks/gpu_check.py for what it measures.
#   bash benchmarks/gpu_check.sh               # on a GPU machine -> benchmarks/results/gpu_check.md
#   bash benchmarks/gpu_check.sh --cpu-smoke   # anywhere, < 2 min: proves it runs to the end
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec python benchmarks/gpu_check.py "$@"
