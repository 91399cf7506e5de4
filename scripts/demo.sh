#!/usr/bin/env bash
# The main job on a real model: installs dependencies, builds lowbit, converts the
# llama2.c checkpoint stories260K (from ../shared) to GGUF, quantizes it to Q4_K with
# lowbit's default method, and inspects the result. Output goes to ./out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
shared="${LOWBIT_SHARED:-$(cd .. && pwd)/shared}"
model="$shared/models/stories260K"
mkdir -p out
set -x
build/lowbit convert "$model/stories260K.bin" out/stories260K-f32.gguf --tokenizer "$model/tok512.bin"
build/lowbit quantize out/stories260K-f32.gguf out/stories260K-q4_k.gguf Q4_K
build/lowbit inspect out/stories260K-q4_k.gguf
