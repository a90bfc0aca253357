"""Meta-tests: the repository keeps the rules of DESIGN.md and its README tells the truth."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from kiekit.scaffold import SHIPPED

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())
NETWORK = {"urllib3", "aiohttp", "requests", "httpx", "socket", "urllib.request", "http.client"}
# what a plugin never needs: it translates values (DESIGN.md), the clients do every effect
IO_MODULES = NETWORK | {"sqlite3", "subprocess", "shutil", "tempfile", "asyncio", "threading"}
# calls that touch files, processes or the clock's sleep, whatever module they come through
IO_CALLS = {"open", "sleep", "system", "popen", "remove", "unlink", "rename", "replace", "rmdir"}
IO_METHODS = {"read_text", "write_text", "read_bytes", "write_bytes", "mkdir", "touch", "unlink"}
# The only core modules that do I/O themselves, each for one reason
CORE_IO = {
    # Client's HTTP; socket: shutting a stream's connection down wakes a read blocked on it
    "_transports/urllib3_transport.py": {"urllib3", "socket"},
    "_transports/aiohttp_transport.py": {"aiohttp"},  # AsyncClient's HTTP
    "_transports/proxies.py": {"urllib.request"},  # getproxies(): reads settings, sends nothing
    "journal/_stores.py": {"sqlite3"},  # the journal on disk
    # socket: shutting a hung statement's connection down wakes the read blocked on it
    "journal/_postgres.py": {"socket"},
    "webhooks/_receiver.py": {"aiohttp"},  # the callback receiver is a server
    "cli/_common.py": {"socket"},  # is an embedded mock still listening on loopback?
}


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


def test_no_module_takes_a_private_name_of_kiekit_batch() -> None:
    """``kie resume`` renewed its leases with ``kiekit.batch._leases_renewed``: what the batch
    and the CLI share is public (``kiekit.journal.leases_renewed``), not the batch's inside."""
    offenders = []
    for path in sorted((ROOT / "core" / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "kiekit.batch":
                offenders += [
                    f"{path.relative_to(ROOT)}: {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
    assert offenders == []


def test_mock_server_imports_no_kiekit_code() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports(ROOT / "mockserver" / "src")
        if module.split(".")[0] == "kiekit" or module.split(".")[0] in plugin_modules()
    ]
    assert offenders == []


def test_mock_server_fakes_no_requests() -> None:
    """aiohttp.test_utils builds fake requests for tests; the mock's own code asks its routes'
    lookups directly (files.find_file) instead."""
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports(ROOT / "mockserver" / "src")
        if module == "aiohttp.test_utils" or module.startswith("aiohttp.test_utils.")
    ]
    assert offenders == []


def top_level_names(package: Path) -> set[str]:
    """The modules and subpackages a reader meets as ``package.<name>``."""
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    return modules | {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}


# Names core and mock share because they are the same thing seen from the two sides of KIE's API
SAME_MEANING = {
    "__main__": "each package's command line",
    "families": "one module per KIE API family: the client's adapters, the mock's emulation",
    "uploads": "KIE's upload host: the client of it in core, the host itself in the mock",
}


def test_mock_module_names_do_not_repeat_core_names_meaning_something_else() -> None:
    """One name, one meaning (STYLE.md): core's ``wire.py`` is KIE's JSON converter and its
    ``journal`` the client's record of tasks; the mock's request helpers and request log are
    named for what they are (route_helpers.py, requestlog.py)."""
    core = top_level_names(ROOT / "core" / "src" / "kiekit")
    mock = top_level_names(ROOT / "mockserver" / "src" / "kiekit_mock")
    assert core & mock - SAME_MEANING.keys() == set()


def io_calls(folder: Path) -> list[str]:
    """Calls in ``folder`` that read or write files, sleep or start processes."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else None
            if isinstance(func, ast.Attribute):
                name = func.attr if func.attr in IO_CALLS | IO_METHODS else None
            if name in IO_CALLS | IO_METHODS:
                found.append(f"{path.name}:{node.lineno}: {name}()")
    return found


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_plugins_do_no_io(plugin: Path) -> None:
    """No network, files, databases, processes, threads or sleeps: a plugin only translates."""
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports(plugin / "src")
        if module in IO_MODULES or module.split(".")[0] in IO_MODULES
    ]
    assert offenders == []
    assert io_calls(plugin / "src") == []


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_plugins_use_kiekit_only_through_its_plugin_surface(plugin: Path) -> None:
    """``kiekit.plugin`` is the one module a plugin imports kiekit from (issue 14)."""
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports(plugin / "src")
        if module.split(".")[0] == "kiekit" and module != "kiekit.plugin"
    ]
    assert offenders == []


def test_the_io_checks_can_fail(tmp_path: Path) -> None:
    doomed = tmp_path / "doomed.py"
    doomed.write_text("import sqlite3\nopen('x').read()\ntime.sleep(1)\nPath('y').write_text('')\n")
    assert [module for _, module in imports(tmp_path)] == ["sqlite3"]
    found = io_calls(tmp_path)
    assert sorted(line.rsplit(" ", 1)[1] for line in found) == ["open()", "sleep()", "write_text()"]


def test_only_the_transports_the_journal_and_the_receiver_do_io_in_core() -> None:
    """kiekit's I/O sits behind seams (issue 14): HTTP in one transport per file, SQLite in
    the journal's stores, the webhook receiver's server; everything else is sans-I/O."""
    src = ROOT / "core" / "src" / "kiekit"
    offenders = []
    for path, module in imports(src):
        top = module.split(".")[0]
        if module in NETWORK | {"sqlite3"} or top in NETWORK | {"sqlite3"}:
            allowed = CORE_IO.get(path.relative_to(src).as_posix(), set())
            if module not in allowed and top not in allowed:
                offenders.append(f"{path.relative_to(ROOT)}: {module}")
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


@pytest.mark.parametrize("folder", [*PLUGINS, ROOT / "mockserver"], ids=lambda p: p.name)
def test_each_distribution_says_its_version(folder: Path) -> None:
    """``kiekit_veo.__version__`` as ``kiekit.__version__``: the installed metadata's."""
    import importlib
    import importlib.metadata

    name = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
    module = importlib.import_module(name.replace("-", "_"))
    assert module.__version__ == importlib.metadata.version(name)


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


def test_a_process_a_test_starts_takes_ctrl_c_as_from_a_terminal() -> None:
    """Even in a suite started with SIGINT ignored (``nohup pytest &``): the tests that stop a
    command with SIGINT would otherwise wait out their deadline (the root conftest)."""
    check = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    said = subprocess.run(  # noqa: S603 - our interpreter
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    ).stdout
    assert said.strip() == "True"


def test_kie_plugin_new_refuses_the_name_of_every_distribution_kiekit_ships() -> None:
    """A scaffolded plugin named like one of them would replace it when installed."""
    folders = [*PLUGINS, ROOT / "mockserver", ROOT / "contract_tests"]
    shipped = {
        tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"]
        for folder in folders
    }
    assert {f"kiekit-{name}" for name in SHIPPED} == shipped
