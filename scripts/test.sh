#!/usr/bin/env bash
# The test command: installs dependencies, then in stages, each timed --
#   release build (warnings as errors) and its tests (ctest: unit, oracle, layer check),
#   the same tests on a clang build under AddressSanitizer + UBSan (CMakePresets.json
#   "asan-ubsan"; the Python tests drive the sanitized CLI), and every fuzz target of
#   that build for a bounded time.
# Needs ../shared (the real models and text) beside the checkout, or LOWBIT_SHARED.
set -euo pipefail
cd "$(dirname "$0")/.."
export LOWBIT_SHARED="${LOWBIT_SHARED:-$(cd .. && pwd)/shared}"
export LOWBIT_MODELS="${LOWBIT_MODELS:-$PWD/.models}"
jobs="$(nproc)"

stage_start=$SECONDS
total_start=$SECONDS
stage() {  # stage NAME COMMAND...: runs it and prints how long it took
  local name=$1
  shift
  echo "== $name"
  stage_start=$SECONDS
  "$@"
  echo "== $name: $((SECONDS - stage_start)) s"
}

stage "install dependencies" bash scripts/install-deps.sh
stage "release build" bash scripts/build.sh
stage "models" bash scripts/get-models.sh
stage "release tests" ctest --test-dir build --output-on-failure -j"$jobs"
stage "asan-ubsan build" bash -c "cmake --preset asan-ubsan >/dev/null && cmake --build --preset asan-ubsan -j$jobs"
stage "asan-ubsan tests" ctest --preset asan-ubsan -j"$jobs"
stage "fuzz" bash scripts/fuzz.sh "${LOWBIT_FUZZ_SECONDS:-45}" build-asan
echo "== all stages: $((SECONDS - total_start)) s"
