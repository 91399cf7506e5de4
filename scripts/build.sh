#!/usr/bin/env bash
# Configures and builds lowbit in ./build (the "release" preset: Release, warnings as errors).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"
