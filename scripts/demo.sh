#!/usr/bin/env bash
# The main job on a real model: installs dependencies, builds lowbit, converts the
# llama2.c checkpoint stories260K (from ../shared) to GGUF, quantizes it to Q8_0 with
# lowbit's default method, inspects it, generates a story with it and measures what the
# quantization cost against the F32 model. Output goes to ./out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
shared="${LOWBIT_SHARED:-$(cd .. && pwd)/shared}"
model="$shared/models/stories260K"
mkdir -p out
set -x
build/lowbit convert "$model/stories260K.bin" out/stories260K-f32.gguf --tokenizer "$model/tok512.bin"
build/lowbit quantize out/stories260K-f32.gguf out/stories260K-q8_0.gguf Q8_0
build/lowbit inspect out/stories260K-q8_0.gguf
build/lowbit run -m out/stories260K-q8_0.gguf -p "Once upon a time" -n 120 --temp 0 -c 512
build/lowbit kld --base out/stories260K-f32.gguf -m out/stories260K-q8_0.gguf \
  -f "$shared/data/tinystories-valid-sample.txt" -c 128 --chunks 200
