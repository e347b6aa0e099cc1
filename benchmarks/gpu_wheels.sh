#!/usr/bin/env bash
# Ray for the lent GPU machines, which have no Ray and reach no package registry.
# Run here (where pip reaches the registry), once per Ray version:
#   bash benchmarks/gpu_wheels.sh
# It writes .gpu_wheels/part1 (the first 40 MiB of the cp312 Ray wheel) and
# .gpu_wheels/part2 (the rest, plus the Ray dependencies that machine lacks), each
# with the repository (about 17 MiB) under the device tool's 64 MiB per call.
# Carry part1 on one call (command `true`) and part2 on the next, to the same warm
# machine; benchmarks/gpu_check.sh there joins and installs them into /tmp/site
# when `import ray` fails. .gpu_wheels/ is git-ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
ray_version=$(python -c "import ray; print(ray.__version__)")
# Ray's requirements (core + tune) that the GPU image lacks (its package list:
# click, filelock, msgpack, packaging, protobuf, pyyaml, requests, pandas, pyarrow
# and fsspec are there).
missing="jsonschema jsonschema-specifications referencing rpds-py tensorboardX"
rm -rf .gpu_wheels && mkdir -p .gpu_wheels/download .gpu_wheels/part1 .gpu_wheels/part2
python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 -d .gpu_wheels/download "ray==$ray_version" $missing
wheel=$(cd .gpu_wheels/download && ls ray-*.whl)
split -b 40m ".gpu_wheels/download/$wheel" .gpu_wheels/part1/ray.whl.
mv .gpu_wheels/part1/ray.whl.a[b-z] .gpu_wheels/part2/
find .gpu_wheels/download -name '*.whl' ! -name 'ray-*' -exec mv {} .gpu_wheels/part2/ \;
echo "$wheel" > .gpu_wheels/part2/RAY_WHEEL
rm -rf .gpu_wheels/download
du -sh .gpu_wheels/part1 .gpu_wheels/part2
