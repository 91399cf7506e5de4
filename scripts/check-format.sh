#!/usr/bin/env bash
# Fails when a C++ file is not formatted as .clang-format says (Debian's clang-format 14).
# Fix with: git ls-files '*.h' '*.cpp' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files 'src/*.h' 'src/*.cpp' 'tests/*.h' 'tests/*.cpp' 'bench/*.h' 'bench/*.cpp' 'fuzz/*.cpp' |
  xargs clang-format --dry-run -Werror --style=file:.clang-format
echo "check-format: clean"
