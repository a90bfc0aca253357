"""The tests are type-checked too (issue 14): mypy, not strict (tools/mypy-tests.ini), on each
folder of tests beside its own conftest.py — so an annotation in a test means what it says and
a ``# type: ignore`` that ignores nothing fails."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# and tools/, whose modules the tests import by name (pyproject's pythonpath)
SOURCES = ["core/src", "mockserver/src", "contract_tests/src", "tools"]
FOLDERS = [
    Path("core/tests"),
    Path("mockserver/tests"),
    Path("mockserver/tests/inspector"),  # a folder with a conftest.py of its own
    Path("contract_tests/tests"),
    Path("tools/tests"),
    *sorted(p.relative_to(ROOT) for p in (ROOT / "plugins").glob("*/tests")),
]
MYPY = [sys.executable, "-m", "mypy", "--config-file", "tools/mypy-tests.ini"]


def _mypy(argv: list[str], path: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter's mypy, on our own code
        [*MYPY, *argv],
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": os.pathsep.join(path)},
        capture_output=True,
        text=True,
        timeout=900,  # a bound against a hang, however loaded the machine
        check=False,
    )


@pytest.mark.parametrize("folder", FOLDERS, ids=str)
def test_the_tests_type_check(
    folder: Path, tmp_path: Path, warm_mypy_cache: Callable[..., None]
) -> None:
    # Every folder starts from the cache of the first one's check: the modules they all import
    # are cached as each check reads them (followed imports, not targets).
    first = [str(FOLDERS[0])]
    warm_mypy_cache(
        "tests",
        lambda cache: _mypy(["--cache-dir", str(cache), *first], [*SOURCES, *first]),
        tmp_path / "cache",
    )
    path = [*SOURCES, str(folder)]
    if folder.parts[0] == "plugins":
        path.append(str(folder.parent / "src"))
    argv = ["--cache-dir", str(tmp_path / "cache"), str(folder)]
    nested = [f for f in FOLDERS if folder in f.parents]  # checked on their own
    argv += [f"--exclude=^{f.as_posix()}/" for f in nested]
    done = _mypy(argv, path)
    assert done.returncode == 0, done.stdout + done.stderr
