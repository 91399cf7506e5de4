#!/usr/bin/env python3
"""Fails when a file under src/lowbit includes a header of a layer its own layer may not use.

The layers and what each may use are read from the lowbit_layer(...) call in each
folder's CMakeLists.txt -- the same lines CMake links by -- so the build and this check
cannot disagree. A layer may include its own headers and those of every layer it
depends on, directly or through another layer (ARCHITECTURE.md draws the graph).
Also fails on a dependency cycle, on a folder without its lowbit_layer call, and on an
include of a lowbit header that does not exist.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "lowbit"
KEYWORDS = {"PROGRAM", "DEPENDS", "LIBS"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"lowbit/([^/"]+)/([^"]+)"')


def read_layers():
    layers = {}
    for cmake in sorted(SRC.glob("*/CMakeLists.txt")):
        text = cmake.read_text()
        m = re.search(r"lowbit_layer\(([^)]*)\)", text)
        if not m:
            sys.exit(f"{cmake}: no lowbit_layer(...) call")
        words = m.group(1).split()
        name, deps, section = words[0], [], None
        if name != cmake.parent.name:
            sys.exit(f"{cmake}: lowbit_layer({name}) in folder {cmake.parent.name}")
        for w in words[1:]:
            if w in KEYWORDS:
                section = w
            elif section == "DEPENDS":
                deps.append(w)
        layers[name] = deps
    return layers


def closure(layers):
    allowed, visiting = {}, set()

    def visit(name, path):
        if name in allowed:
            return allowed[name]
        if name in visiting:
            sys.exit("dependency cycle: " + " -> ".join(path + [name]))
        if name not in layers:
            sys.exit(f"{path[-1]} depends on unknown layer {name}")
        visiting.add(name)
        below = set()
        for d in layers[name]:
            below |= {d} | visit(d, path + [name])
        visiting.discard(name)
        allowed[name] = below
        return below

    for name in layers:
        visit(name, [name])
    return allowed


def main():
    layers = read_layers()
    allowed = closure(layers)
    errors = []
    for folder in sorted(p for p in SRC.iterdir() if p.is_dir()):
        if folder.name not in layers:
            errors.append(f"{folder.relative_to(ROOT)}: folder without a lowbit_layer(...) CMakeLists.txt")
            continue
        may_use = allowed[folder.name] | {folder.name}
        for path in sorted(folder.rglob("*")):
            if path.suffix not in {".h", ".cpp"}:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                layer, rest = m.groups()
                where = f"{path.relative_to(ROOT)}:{number}"
                if not (SRC / layer / rest).is_file():
                    errors.append(f"{where}: includes lowbit/{layer}/{rest}, which does not exist")
                elif layer not in may_use:
                    errors.append(f"{where}: layer '{folder.name}' may not include lowbit/{layer}/{rest} "
                                  f"('{folder.name}' may use: {', '.join(sorted(may_use))})")
    for e in errors:
        print(e, file=sys.stderr)
    count = sum(1 for _ in SRC.rglob("*.[ch]*"))
    print(f"check-layers: {len(layers)} layers, {count} files, {len(errors)} violations")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
