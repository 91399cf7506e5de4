#!/usr/bin/env python3
"""The per-ISA lane kernels (src/lowbit/**/*_avx2.cpp, *_avx512.cpp) are compiled for
their instruction set as a whole. Any inline or template function they emitted as a
weak (COMDAT) symbol could be the copy the linker keeps for every caller, baseline ones
included, and crash a CPU without AVX-512. So each of those objects must define strong
symbols only: its own kernel entry points, named after its ISA.

Reads the build's compile_commands.json (LOWBIT_BUILD_DIR) for the objects and their
flags, and `nm` for their symbols.
"""
import json
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

from oracle import run_tests

BUILD = Path(os.environ.get("LOWBIT_BUILD_DIR", "build"))
ISA_FLAG = {"avx2": "-mavx2", "avx512": "-mavx512f"}


def isa_objects():
    commands = json.loads((BUILD / "compile_commands.json").read_text())
    found = []
    for entry in commands:
        m = re.search(r"_(avx2|avx512)\.cpp$", entry["file"])
        if not m:
            continue
        command = entry.get("command") or " ".join(entry["arguments"])
        out = re.search(r"-o\s+(\S+)", command)
        assert out, f"no -o in the compile command of {entry['file']}"
        obj = Path(out.group(1))
        if not obj.is_absolute():
            obj = Path(entry["directory"]) / obj
        found.append((m.group(1), entry["file"], obj, command))
    return found


def test_isa_files_are_compiled_for_their_isa(tmp):
    objects = isa_objects()
    assert objects, "compile_commands.json lists no *_avx2.cpp or *_avx512.cpp file"
    for isa, source, _, command in objects:
        # GCC on x86-64 gets the flags (CMakeLists.txt); other compilers build them empty.
        compiler = os.path.realpath(shutil.which(command.split()[0]) or command.split()[0])
        if platform.machine() in ("x86_64", "AMD64") and "clang" not in compiler:
            assert ISA_FLAG[isa] in command.split(), f"{source} is not compiled with {ISA_FLAG[isa]} ({compiler})"


def test_isa_objects_define_only_strong_kernel_symbols(tmp):
    checked = 0
    for isa, source, obj, command in isa_objects():
        if ISA_FLAG[isa] not in command.split():
            continue
        assert obj.exists(), f"{obj} (from {source}) is missing: build first"
        symbols = subprocess.run(["nm", "-C", str(obj)], check=True, capture_output=True, text=True).stdout
        for line in symbols.splitlines():
            parts = line.split(maxsplit=2)
            if len(parts) < 2:
                continue
            kind, name = (parts[1], parts[2]) if len(parts) == 3 else (parts[0], parts[1])
            assert kind not in ("W", "w", "V", "v", "u", "i"), f"{source} emits weak symbol {name} ({kind})"
            if kind == "T":
                assert f"_{isa}(" in name, f"{source} exports {name}, not an _{isa} kernel"
        checked += 1
    if any(ISA_FLAG[isa] in command.split() for isa, _, _, command in isa_objects()):
        assert checked > 0


if __name__ == "__main__":
    run_tests([test_isa_files_are_compiled_for_their_isa, test_isa_objects_define_only_strong_kernel_symbols])
