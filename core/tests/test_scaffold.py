"""`kie plugin new`: the names it derives, what it refuses, and the package it writes.

That the written package passes ruff, mypy --strict and its own tests outside this repository is
proven in tools/tests/test_scaffold.py, with built wheels in a fresh virtual environment.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata, resources
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest
from aiohttp.web import RouteDef
from kiekit import MediaKind, ValidationError, cli
from kiekit.cli.plugin import next_steps
from kiekit.families.market import MarketProvider
from kiekit.families.success_flag import SuccessFlagProvider
from kiekit.scaffold import FROM_WHEELS, kiekit_requirement, new_plugin, plan
from kiekit_mock.extension import FamilyExtension

FILES = {
    ".gitignore",
    "README.md",
    "pyproject.toml",
    "src/kiekit_acme_banana/__init__.py",
    "src/kiekit_acme_banana/provider.py",
    "src/kiekit_acme_banana/py.typed",
    "tests/conftest.py",
    "tests/test_acme_banana.py",
}


def test_names_follow_the_plugin_name() -> None:
    made = plan("acme-banana", ["acme/banana-v1"])
    assert (made.name, made.dist, made.package) == (
        "acme-banana",
        "kiekit-acme-banana",
        "kiekit_acme_banana",
    )
    assert set(made.files) == FILES
    assert made.files["src/kiekit_acme_banana/py.typed"] == ""
    assert (
        "class AcmeBananaProvider(MarketProvider):"
        in made.files["src/kiekit_acme_banana/provider.py"]
    )
    assert "class TestAcmeBanana(ProviderContract):" in made.files["tests/test_acme_banana.py"]


def test_one_entry_point_per_model_and_a_kiekit_range() -> None:
    made = plan("acme-banana", ["acme/banana-v1", "acme/banana-v2", "acme/banana-v1"])
    assert made.models == ("acme/banana-v1", "acme/banana-v2")  # duplicates once
    project = tomllib.loads(made.files["pyproject.toml"])["project"]
    assert project["name"] == "kiekit-acme-banana"
    assert project["entry-points"]["kiekit.providers"] == {  # tagged: the capability manifest
        "acme/banana-v1": "kiekit_acme_banana [image, callbacks]",
        "acme/banana-v2": "kiekit_acme_banana [image, callbacks]",
    }
    assert project["dependencies"] == ["kiekit>=0.1,<0.2"]
    conftest = made.files["tests/conftest.py"]
    assert '"acme/banana-v1": "image",' in conftest
    assert '"acme/banana-v2": "image",' in conftest


def test_the_model_id_defaults_to_the_name() -> None:
    assert plan("acme").models == ("acme",)


@pytest.mark.parametrize(
    ("version", "requirement"),
    [("0.1.0", ">=0.1,<0.2"), ("0.12.3.dev1", ">=0.12,<0.13"), ("1.4.2", ">=1.4,<2")],
)
def test_kiekit_requirement(version: str, requirement: str) -> None:
    assert kiekit_requirement(version) == requirement


@pytest.mark.parametrize(
    "name",
    ["Acme", "acme_banana", "acme--banana", "-acme", "acme-", "1acme", "", "a" * 33, "acme banana"],
)
def test_a_bad_name_is_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        new_plugin(name, parent=tmp_path)
    assert caught.value.field == "NAME"
    assert "e.g. acme-banana" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["kling", "flux-kontext", "mock", "contract"])
def test_the_name_of_a_distribution_kiekit_ships_is_refused(name: str, tmp_path: Path) -> None:
    # kiekit-kling from the scaffold would replace the official Kling plugin when installed
    with pytest.raises(ValidationError) as caught:
        new_plugin(name, parent=tmp_path)
    assert caught.value.field == "NAME"
    assert f"kiekit-{name} is a distribution kiekit ships" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["kiekit", "kiekit-acme"])
def test_the_kiekit_prefix_is_not_part_of_the_name(name: str) -> None:
    with pytest.raises(ValidationError, match="without kiekit-"):
        plan(name)


@pytest.mark.parametrize(
    "model_id",
    ["", "acme banana", "acme//banana", "/acme", "acme/", "acme/*", "*", 'a"b', "a" * 81, "é"],
)
def test_a_bad_model_id_is_refused(model_id: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        new_plugin("acme", [model_id], parent=tmp_path)
    assert caught.value.field == "--model"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "model_id",
    ["grok-imagine/text-to-image", "kling-3.0/video", "seedream/4.5-edit", "veo3_fast", "a" * 80],
)
def test_kie_style_model_ids_are_accepted(model_id: str) -> None:
    assert plan("acme", [model_id]).models == (model_id,)


def test_a_bad_output_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        plan("acme", output="gif")
    assert caught.value.field == "--output"


def test_an_existing_folder_is_never_touched(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError):
        new_plugin("acme", parent=tmp_path)
    assert [p.name for p in (tmp_path / "acme").iterdir()] == ["mine.txt"]


def test_every_template_is_used() -> None:
    from kiekit import scaffold

    root = resources.files(scaffold).joinpath("template")
    shipped = {p.name for p in root.iterdir() if p.is_file()}
    shipped |= {f"family/{p.name}" for p in root.joinpath("family").iterdir()}
    tables = (scaffold._MARKET_FILES, scaffold._FAMILY_FILES)
    used = {name for table in tables for name in table.values() if name is not None}
    assert shipped == used
    assert not any(name.endswith(".py") for name in shipped)


@pytest.fixture
def imported(tmp_path: Path) -> Iterator[Path]:
    """Makes sys.path and sys.modules forget the generated package after the test."""
    before = set(sys.modules)
    yield tmp_path
    sys.path[:] = [p for p in sys.path if not p.startswith(str(tmp_path))]
    for name in set(sys.modules) - before:
        if name.startswith("kiekit_acme"):
            del sys.modules[name]


@pytest.mark.parametrize("output", ["image", "video", "audio", "text"])
def test_the_generated_provider_declares_its_models(imported: Path, output: str) -> None:
    folder = new_plugin("acme-banana", ["acme/banana-v1", "acme/b2"], output, parent=imported)
    sys.path.insert(0, str(folder / "src"))
    package = importlib.import_module("kiekit_acme_banana")
    provider = package.AcmeBananaProvider()
    assert isinstance(provider, MarketProvider)
    assert [(m.id, m.output) for m in provider.models] == [
        ("acme/banana-v1", MediaKind(output)),
        ("acme/b2", MediaKind(output)),
    ]
    request = provider.build_request("acme/b2", provider.make_input("acme/b2", prompt="a fox"))
    assert request.body == {"model": "acme/b2", "input": {"prompt": "a fox"}}
    with pytest.raises(ValidationError) as caught:
        provider.make_input("acme/b2", prompt="a fox", aspect_ratio="4:3")
    assert caught.value.field == "aspect_ratio"
    offered: list[object] = []
    package.kiekit_register_providers(offered.append)
    assert [type(p) for p in offered] == [package.AcmeBananaProvider]


@pytest.mark.parametrize("output", ["image", "video", "audio"])
def test_a_family_plugin_has_its_own_endpoints_and_its_mock_emulation(
    imported: Path, output: str
) -> None:
    folder = new_plugin("acme-mj", ["acme/mj-v1", "acme/mj-v2"], output, imported, family=True)
    sys.path.insert(0, str(folder / "src"))
    package = importlib.import_module("kiekit_acme_mj")
    provider = package.AcmeMjProvider()
    assert isinstance(provider, SuccessFlagProvider)
    assert [(m.id, m.output) for m in provider.models] == [
        ("acme/mj-v1", MediaKind(output)),
        ("acme/mj-v2", MediaKind(output)),
    ]
    params = provider.make_input("acme/mj-v2", prompt="a fox", aspect_ratio="16:9")
    request = provider.build_request("acme/mj-v2", params)
    assert (request.method, request.path) == ("POST", "/api/v1/acme-mj/generate")
    assert request.body == {"model": "acme/mj-v2", "prompt": "a fox", "aspectRatio": "16:9"}
    assert provider.status_request("t1").path == "/api/v1/acme-mj/record-info"

    mock = importlib.import_module("kiekit_acme_mj.mock_family")
    assert isinstance(mock.EXTENSION, FamilyExtension)
    assert mock.EXTENSION.name == "acme-mj"
    routes = {(r.method, r.path) for r in mock.ROUTES if isinstance(r, RouteDef)}
    assert routes == {("POST", request.path), ("GET", "/api/v1/acme-mj/record-info")}
    assert mock.MODELS == ("acme/mj-v1", "acme/mj-v2")
    assert set(mock.openapi_paths()) == {request.path, "/api/v1/acme-mj/record-info"}
    pyproject = tomllib.loads((folder / "pyproject.toml").read_text())
    families = pyproject["project"]["entry-points"]["kiekit_mock.families"]
    assert families == {"acme-mj": "kiekit_acme_mj.mock_family:EXTENSION"}
    assert pyproject["project"]["optional-dependencies"]["mock"][0].startswith("kiekit-mock>=")
    assert not (folder / "tests" / "conftest.py").exists()  # the mock knows the family itself


@pytest.mark.parametrize(("family", "said"), [(False, "market"), (True, "own endpoints")])
def test_the_metadata_says_which_api_the_plugin_serves(family: bool, said: str) -> None:
    """A family plugin is not on the market jobs API: its published description and its
    package docstring must not say it is."""
    files = plan("acme-mj", ["acme-mj/v1"], "image", family=family).files
    description = tomllib.loads(files["pyproject.toml"])["project"]["description"]
    summary = files["src/kiekit_acme_mj/__init__.py"].splitlines()[0]
    assert said in description
    assert ("market" in summary) is not family
    assert ("market" in description) is not family


@pytest.mark.parametrize("family", [False, True])
def test_install_commands_do_not_expect_kiekit_on_pypi(family: bool) -> None:
    """kiekit is not on PyPI yet: a bare ``pip install`` of the plugin fails with "kiekit was not
    found in the package registry", or finds someone else's kiekit. pip takes kiekit's wheels as
    files first; uv's plain commands take them from the folder the pyproject pins them to (next
    test), so no command adds ``--find-links``, which leaves the index on for kiekit's names."""
    files = plan("acme-mj", ["acme-mj/v1"], "image", family=family).files
    commands = [
        line
        for text in files.values()
        for line in text.splitlines()
        if re.search(r"\buv (sync|run)\b|\bpip install\b(?! -e)", line)
    ]
    assert len(commands) >= 3, commands  # README (install, develop), pyproject, and more
    uv = [line for line in commands if re.search(r"\buv (sync|run)\b", line)]
    pip = [line for line in commands if line not in uv]
    assert uv, commands
    assert not [line for line in commands if "--find-links" in line], commands
    # pip: kiekit's wheels named as files first, then the plugin by its name (pip sees kiekit
    # installed)
    assert pip[0].startswith("pip install kiekit-wheels/*.whl"), pip


@pytest.mark.parametrize("family", [False, True])
def test_uv_takes_every_kiekit_distribution_from_the_wheels_folder(family: bool) -> None:
    """``uv sync --find-links ../kiekit-wheels``, as the plugin once said, still asked PyPI for
    kiekit, kiekit-contract and kiekit-mock, and took a higher version of a stranger's package
    found there. The generated pyproject pins every kiekit distribution the plugin depends on,
    itself or through kiekit-contract, to an explicit flat index, the folder of kiekit's wheels;
    uv applies a source to a direct dependency only, so each is a direct one. That uv then
    resolves them from the built wheels alone is proven in tools/tests/test_scaffold.py."""
    pyproject = tomllib.loads(plan("acme-mj", [], "image", family=family).files["pyproject.toml"])
    uv = pyproject["tool"]["uv"]
    [index] = uv["index"]
    assert index == {
        "name": "kiekit-wheels",
        "url": "../kiekit-wheels",
        "format": "flat",
        "explicit": True,  # asked for the pinned names only: the rest still comes from PyPI
    }
    project = pyproject["project"]
    requirements = [
        *project["dependencies"],
        *(r for extra in project.get("optional-dependencies", {}).values() for r in extra),
        *(r for group in pyproject["dependency-groups"].values() for r in group),
    ]
    direct = {_name(r) for r in requirements if _name(r).startswith("kiekit")}
    contract = metadata.requires("kiekit-contract") or []
    brought = {_name(r) for r in contract if _name(r).startswith("kiekit")}
    assert brought <= direct == set(FROM_WHEELS)
    assert uv["sources"] == {name: {"index": "kiekit-wheels"} for name in FROM_WHEELS}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]


def test_a_family_plugin_makes_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        new_plugin("acme-mj", [], "text", tmp_path, family=True)
    assert caught.value.field == "--output"
    assert not (tmp_path / "acme-mj").exists()


# -- the command ---------------------------------------------------------------------------------


def test_kie_plugin_new_writes_the_folder_and_prints_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["plugin", "new", "acme-banana", "--model", "acme/banana-v1", "acme/banana-v2"]
    assert cli.main([*argv, "--output", "video", "--dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    folder = tmp_path / "acme-banana"
    assert out == f"{folder}\n"
    assert "kiekit-acme-banana" in err
    assert {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} == FILES
    provider = (folder / "src" / "kiekit_acme_banana" / "provider.py").read_text()
    assert provider.count("MediaKind.VIDEO") == 2


def test_kie_plugin_new_family_prints_steps_that_need_no_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["plugin", "new", "acme-mj", "--family", "--dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    folder = tmp_path / "acme-mj"
    assert out == f"{folder}\n"
    assert (folder / "src" / "kiekit_acme_mj" / "mock_family.py").is_file()
    steps = [line.strip() for line in err.splitlines()[1:]]
    # installs the plugin beside the kiekit running now, then runs its tests with it
    assert steps[0] == f"cd {folder}"
    assert steps[-2].endswith(" -e .")
    assert steps[-1] == f"{sys.executable} -m pytest"


@pytest.mark.parametrize("missing", [{"pip"}, {"pip", "kiekit_contract"}])
def test_next_steps_in_a_uv_made_environment_ask_no_index_for_kiekit(
    missing: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An environment uv made has no pip, so the steps use uv, whose ``pip install -e .`` asks
    the index for kiekit although it is installed (seen with ``-v``), or reads the folder of
    wheels the plugin's pyproject names: the plugin goes in alone. A missing kiekit-contract
    comes from kiekit's wheels as files, never by its name."""
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name in missing else real(name, package)

    def which(name: str) -> str:
        return f"/usr/bin/{name}"

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(shutil, "which", which)
    steps = next_steps(Path("acme"))
    install = f"uv pip install --python {shlex.quote(sys.executable)}"
    assert steps[-2] == f"{install} --no-deps -e ."
    added = [step.partition("  #")[0] for step in steps[1:-2]]
    assert added == ([f"{install} ../kiekit-wheels/*.whl"] if "kiekit_contract" in missing else [])
    named = {word for step in steps for word in shlex.split(step, comments=True)}
    assert not named & set(FROM_WHEELS)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["Acme"], "kie: error: NAME: 'Acme' is not a plugin name"),
        (["acme", "--model", "a b"], "kie: error: --model: 'a b' is not a KIE model id"),
        (["kling"], "kie: error: NAME: kiekit-kling is a distribution kiekit ships"),
        (["acme", "--model", "acme/*"], "kie: error: --model: 'acme/*' is a pattern"),
    ],
)
def test_kie_plugin_new_errors_are_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["plugin", "new", *argv, "--dir", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_kie_plugin_new_refuses_an_existing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "acme").mkdir()
    assert cli.main(["plugin", "new", "acme", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    folder = tmp_path / "acme"
    assert err == f"kie: error: {folder} already exists; kie plugin new never overwrites a folder\n"
    assert list((tmp_path / "acme").iterdir()) == []


def test_kie_plugin_new_rejects_an_unknown_output(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["plugin", "new", "acme", "--output", "gif"])
    assert exited.value.code == 2
    assert "invalid choice: 'gif'" in capsys.readouterr().err


def test_kie_does_not_load_the_scaffold_to_start() -> None:
    code = "import sys, kiekit.cli; kiekit.cli._parser(); print('kiekit.scaffold' in sys.modules)"
    shown = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert shown.strip() == "False"
