"""The tests are type-checked too (issue 14): mypy, not strict (tools/mypy-tests.ini), on each
folder of tests beside its own conftest.py — so an annotation in a test means what it says and
a ``# type: ignore`` that ignores nothing fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["core/src", "mockserver/src", "contract_tests/src"]
FOLDERS = [
    Path("core/tests"),
    Path("mockserver/tests"),
    Path("mockserver/tests/inspector"),  # a folder with a conftest.py of its own
    Path("contract_tests/tests"),
    Path("tools/tests"),
    *sorted(p.relative_to(ROOT) for p in (ROOT / "plugins").glob("*/tests")),
]


@pytest.mark.parametrize("folder", FOLDERS, ids=str)
def test_the_tests_type_check(folder: Path, tmp_path: Path) -> None:
    path = [*SOURCES, str(folder)]
    if folder.parts[0] == "plugins":
        path.append(str(folder.parent / "src"))
    env = {**os.environ, "MYPYPATH": os.pathsep.join(path)}
    argv = [sys.executable, "-m", "mypy", "--config-file", "tools/mypy-tests.ini"]
    argv += ["--cache-dir", str(tmp_path / "cache"), str(folder)]
    nested = [f for f in FOLDERS if folder in f.parents]  # checked on their own
    argv += [f"--exclude=^{f.as_posix()}/" for f in nested]
    done = subprocess.run(  # noqa: S603 - this interpreter's mypy, on our own tests
        argv,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # a bound against a hang, however loaded the machine
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
