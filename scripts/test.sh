#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs the unit and oracle tests
# (ctest), then every fuzz target for a bounded time under ASan + UBSan.
# Needs ../shared (the real models and text) beside the checkout, or LOWBIT_SHARED.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
export LOWBIT_SHARED="${LOWBIT_SHARED:-$(cd .. && pwd)/shared}"
bash scripts/get-models.sh
export LOWBIT_MODELS="${LOWBIT_MODELS:-$PWD/.models}"
ctest --test-dir build --output-on-failure -j"$(nproc)"
bash scripts/fuzz.sh "${LOWBIT_FUZZ_SECONDS:-45}"
