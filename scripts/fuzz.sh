#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS (default 45) under AddressSanitizer and UBSan,
# seeded with the real files from ../shared and small files made here. The targets come
# from BUILD_DIR (default build-asan, the "asan-ubsan" preset, which builds them; built
# here if missing). Any crash, leak, sanitizer report or timeout fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-45}"
build="${2:-build-asan}"
shared="${LOWBIT_SHARED:-$(cd .. && pwd)/shared}"
if [ ! -x "$build/fuzz_imatrix" ]; then
  cmake --preset asan-ubsan >/dev/null
  cmake --build --preset asan-ubsan -j"$(nproc)"
fi

corpus="$build/corpus"
rm -rf "$corpus" && mkdir -p "$corpus"/{gguf,safetensors,llama2c,imatrix}
stories="$shared/models/stories260K"
for f in "$stories/stories260K-f32.gguf" "$stories/stories260K.bin" "$stories/tok512.bin"; do
  [ -f "$f" ] || { echo "fuzz.sh: missing seed file $f" >&2; exit 1; }
done
python3 scripts/make_fuzz_seeds.py "$corpus"
cp "$stories/stories260K-f32.gguf" "$corpus/gguf/"
cp "$stories/stories260K.bin" "$stories/tok512.bin" "$corpus/llama2c/"

status=0
for target in gguf safetensors llama2c imatrix; do
  bin="$build/fuzz_$target"
  [ -x "$bin" ] || { echo "fuzz.sh: $bin was not built" >&2; exit 1; }
  echo "== fuzz_$target for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$build/" \
      -print_final_stats=1 "$corpus/$target" >"$build/fuzz_$target.log" 2>&1; then
    tail -n 60 "$build/fuzz_$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_runs|^Done" "$build/fuzz_$target.log" | tail -n 2
  fi
done
exit $status
