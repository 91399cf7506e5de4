#!/usr/bin/env bash
# Installs everything lowbit needs to build and test on Debian 12: the compilers and
# libraries from Debian's packages, and the Python oracle (llama.cpp's `gguf` package)
# from PyPI into the `python3` first on PATH. PyTorch comes from Debian and serves
# Debian's /usr/bin/python3 (the forward-pass reference tests). Safe to run again.
set -euo pipefail

packages=(
  cmake make g++ clang libclang-rt-14-dev clang-format git
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libhwy-dev libomp-dev
  libicu-dev python3 python3-pip
  python3-torch python3-numpy
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Python used by the tests is the first python3 on PATH; install into that one.
if ! python3 -c "import gguf, numpy" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check gguf numpy 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages gguf numpy
fi
