"""Meta-tests: the repository keeps the rules of DESIGN.md and its README tells the truth."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())
IO_MODULES = {"urllib3", "aiohttp", "requests", "httpx", "socket", "urllib.request", "http.client"}


def imports(folder: Path) -> list[tuple[Path, str]]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module))
    return found


def plugin_modules() -> set[str]:
    return {next((p / "src").iterdir()).name for p in PLUGINS}


def test_core_never_imports_a_plugin() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports(ROOT / "core" / "src")
        if module.split(".")[0] in plugin_modules()
    ]
    assert offenders == []


def test_mock_server_imports_no_kiekit_code() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports(ROOT / "mockserver" / "src")
        if module.split(".")[0] == "kiekit" or module.split(".")[0] in plugin_modules()
    ]
    assert offenders == []


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_plugins_do_no_io(plugin: Path) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports(plugin / "src")
        if module in IO_MODULES or module.split(".")[0] in IO_MODULES
    ]
    assert offenders == []


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_plugin_folder_is_complete(plugin: Path) -> None:
    project = tomllib.loads((plugin / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == f"kiekit-{plugin.name}"
    assert project["entry-points"]["kiekit.providers"], "declares no model ids"
    module = project["name"].replace("-", "_")
    assert (plugin / "src" / module / "__init__.py").is_file()
    assert (plugin / "src" / module / "py.typed").is_file()
    assert (plugin / "README.md").is_file()
    tests = list((plugin / "tests").glob("test_*.py"))
    # a task plugin adopts ProviderContract, a chat plugin ChatProviderContract (kie-api.md §5)
    suites = re.compile(r"\b(Chat)?ProviderContract\b")
    assert any(suites.search(t.read_text(encoding="utf-8")) for t in tests), (
        "the plugin's tests do not adopt the ProviderContract (or ChatProviderContract) suite"
    )


def declared_models() -> dict[str, str]:
    models = {}
    for plugin in PLUGINS:
        project = tomllib.loads((plugin / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        for model in project["entry-points"]["kiekit.providers"]:
            models[model] = project["name"]
    return models


def test_every_model_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([^`]+)` \| (kiekit-[\w-]+) \|", readme, re.M))
    assert rows == declared_models()


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quickstart\n.*?```bash\n(.*?)```", readme, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
