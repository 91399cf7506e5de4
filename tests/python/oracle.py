"""Helpers for the Python oracle tests: locate the lowbit CLI and the shared data, run
tests and print the plain 'N passed, N failed' line."""
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLI = os.environ.get("LOWBIT_CLI", str(REPO / "build" / "lowbit"))
SHARED = Path(os.environ.get("LOWBIT_SHARED", REPO.parent / "shared"))


def shared(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        raise FileNotFoundError(f"required shared data file is missing: {path} (set LOWBIT_SHARED)")
    return path


def model_file(name: str) -> Path:
    """A real model that scripts/get-models.sh puts in $LOWBIT_MODELS (default <repo>/.models)."""
    path = Path(os.environ.get("LOWBIT_MODELS") or REPO / ".models") / name
    if not path.exists():
        raise FileNotFoundError(f"required model file is missing: {path} (run scripts/get-models.sh)")
    return path


def lowbit(*args, expect=0) -> subprocess.CompletedProcess:
    proc = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if proc.returncode != expect:
        raise AssertionError(f"lowbit {' '.join(map(str, args))} exited {proc.returncode}, "
                             f"expected {expect}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def run_tests(tests) -> None:
    passed = failed = 0
    for test in tests:
        with tempfile.TemporaryDirectory(prefix="lowbit-py-") as tmp:
            try:
                test(Path(tmp))
                passed += 1
                print(f"PASS {test.__name__}")
            except Exception:  # noqa: BLE001 - report every failure and go on
                failed += 1
                print(f"FAIL {test.__name__}")
                traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
