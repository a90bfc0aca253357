"""The suite's own run settings (the root conftest.py): the longest tests start first, and the
processes the suite starts reuse their bytecode without writing any into the tree."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]


def root_conftest(config: pytest.Config) -> ModuleType:
    """The root conftest.py as pytest loaded it (importlib mode: no module name to import)."""
    for plugin in config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", "") or "").resolve() == ROOT / "conftest.py":
            assert isinstance(plugin, ModuleType)
            return plugin
    raise AssertionError("the root conftest.py is not loaded")


def test_each_test_started_first_is_one_of_the_suite(request: pytest.FixtureRequest) -> None:
    """A renamed or moved long test would silently start last again."""
    for prefix in root_conftest(request.config).LONG:
        path, _, name = prefix.partition("::")
        source = ROOT / path
        assert source.is_file(), f"LONG names {path}, which is no file"
        if name:
            name = name.partition("[")[0]
            defined = {
                node.name
                for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
                if isinstance(node, ast.FunctionDef)
            }
            assert any(d.startswith(name) for d in defined), f"{path} defines no {name}"


def test_the_long_tests_start_first_longest_first_and_the_others_keep_their_order(
    request: pytest.FixtureRequest,
) -> None:
    conftest = root_conftest(request.config)
    ids = [
        "core/tests/test_a.py::test_one",
        "tools/tests/test_typecheck.py::test_the_tests_type_check[core/tests]",
        "core/tests/test_b.py::test_two",
        "contract_tests/tests/test_contract_can_fail.py::test_a_dropped_file_is_named",
        "contract_tests/tests/test_contract_can_fail.py::test_each_bug_fails_exactly_the_tests",
        "mockserver/tests/test_c.py::test_three",
    ]
    items = [SimpleNamespace(nodeid=i) for i in ids]
    conftest.pytest_collection_modifyitems(items)
    assert [i.nodeid for i in items] == [ids[4], ids[1], ids[0], ids[2], ids[3], ids[5]]


def test_a_process_the_suite_starts_caches_its_bytecode_outside_the_tree() -> None:
    """Where the environment says PYTHONDONTWRITEBYTECODE, each ``kie`` command a test ran
    compiled everything from source (about 1 s of CPU): the suite points the bytecode at a
    folder outside the tree instead."""
    said = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.dont_write_bytecode, sys.pycache_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert said[0] == "False", said
    if said[1] != "None":
        assert not Path(said[1]).resolve().is_relative_to(ROOT), said


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")
def test_the_bytecode_folder_is_the_users_own(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Bytecode read from a folder another user may write to would run their code."""
    conftest = root_conftest(request.config)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = tmp_path / f"kiekit-tests-pycache-{os.getuid()}"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.delenv("PYTHONPYCACHEPREFIX", raising=False)
    conftest._bytecode_cache()
    assert os.environ.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert "PYTHONPYCACHEPREFIX" not in os.environ

    folder.chmod(0o700)
    conftest._bytecode_cache()
    assert "PYTHONDONTWRITEBYTECODE" not in os.environ
    assert os.environ["PYTHONPYCACHEPREFIX"] == str(folder)
