#!/usr/bin/env bash
# Builds the libFuzzer targets with clang under AddressSanitizer and UBSan and runs each
# for SECONDS (default 45), seeded with the real files from ../shared and small files
# made here. Any crash, leak, sanitizer report or timeout fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-45}"
shared="${LOWBIT_SHARED:-$(cd .. && pwd)/shared}"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLOWBIT_FUZZ=ON -DLOWBIT_TESTS=OFF -DLOWBIT_BENCH=OFF -DLOWBIT_WERROR=ON \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" >/dev/null
cmake --build build-fuzz -j"$(nproc)"

corpus=build-fuzz/corpus
rm -rf "$corpus" && mkdir -p "$corpus"/{gguf,safetensors,llama2c}
stories="$shared/models/stories260K"
for f in "$stories/stories260K-f32.gguf" "$stories/stories260K.bin" "$stories/tok512.bin"; do
  [ -f "$f" ] || { echo "fuzz.sh: missing seed file $f" >&2; exit 1; }
done
python3 scripts/make_fuzz_seeds.py "$corpus"
cp "$stories/stories260K-f32.gguf" "$corpus/gguf/"
cp "$stories/stories260K.bin" "$stories/tok512.bin" "$corpus/llama2c/"

status=0
for target in gguf safetensors llama2c; do
  bin="build-fuzz/fuzz_$target"
  [ -x "$bin" ] || { echo "fuzz.sh: $bin was not built" >&2; exit 1; }
  echo "== fuzz_$target for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 "$corpus/$target" >"build-fuzz/fuzz_$target.log" 2>&1; then
    tail -n 60 "build-fuzz/fuzz_$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_runs|^Done" "build-fuzz/fuzz_$target.log" | tail -n 2
  fi
done
exit $status
