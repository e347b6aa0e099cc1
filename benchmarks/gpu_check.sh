#!/usr/bin/env bash
# The GPU check (issue 16): every GPU measurement in one run, under 8 minutes on one
# H100/H200. Needs only this repository, torch and torchvision (plus ray for the Ray
# part); nothing is downloaded. See benchmarks/gpu_check.py for what it measures.
#   bash benchmarks/gpu_check.sh               # on a GPU machine -> benchmarks/results/gpu_check.md
#   bash benchmarks/gpu_check.sh --cpu-smoke   # anywhere, < 2 min: proves it runs to the end
# On a lent GPU machine (device tool; no Ray, no registry there): here run
# `bash benchmarks/gpu_wheels.sh` once; then call 1 carries .gpu_wheels/part1 with the
# command `true`, and call 2 (same warm machine, timeout ~540 s) carries
# .gpu_wheels/part2 with `PYTHONUNBUFFERED=1 bash benchmarks/gpu_check.sh --out
# $OUT/gpu_check.md`; copy the returned gpu_check.md/.json into benchmarks/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python=$(command -v python3 || command -v python)
# No Ray here but its wheel carried in two parts (benchmarks/gpu_wheels.sh): install it.
if ! "$python" -c "import ray" 2>/dev/null && [ -f .gpu_wheels/part1/ray.whl.aa ] \
    && [ -f .gpu_wheels/part2/RAY_WHEEL ]; then
  wheel="/tmp/$(cat .gpu_wheels/part2/RAY_WHEEL)"
  cat .gpu_wheels/part1/ray.whl.* .gpu_wheels/part2/ray.whl.* > "$wheel"
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$wheel" .gpu_wheels/part2/*.whl
  export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
exec "$python" benchmarks/gpu_check.py "$@"
