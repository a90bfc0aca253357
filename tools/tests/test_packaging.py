"""Every distribution is ready to publish: a LICENSE, classifiers, project URLs, authors,
bounded dependency ranges, and a README whose links still work on a package index."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = sorted(
    path.parent
    for path in [*ROOT.glob("*/pyproject.toml"), *ROOT.glob("plugins/*/pyproject.toml")]
    if path.parent != ROOT
)
# A link a package index can follow: absolute, or to a heading of the same page.
RELATIVE_LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)")


def project(folder: Path) -> dict[str, object]:
    table: dict[str, object] = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    return table


def test_every_distribution_is_found() -> None:
    names = {project(folder)["name"] for folder in DISTRIBUTIONS}
    assert {"kiekit", "kiekit-mock", "kiekit-contract", "kiekit-market"} <= names
    assert len(names) == len(DISTRIBUTIONS) >= 14


@pytest.mark.parametrize("folder", DISTRIBUTIONS, ids=lambda p: p.name)
def test_a_distribution_has_what_an_index_page_shows(folder: Path) -> None:
    meta = project(folder)
    assert meta["license"] == "MIT"
    assert meta["license-files"] == ["LICENSE"]
    assert (folder / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    assert meta["authors"]
    classifiers = meta["classifiers"]
    assert isinstance(classifiers, list)
    assert "Programming Language :: Python :: 3.11" in classifiers
    urls = meta["urls"]
    assert isinstance(urls, dict)
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(urls)
    assert all(str(url).startswith("https://github.com/kiekit/kiekit") for url in urls.values())


@pytest.mark.parametrize("folder", DISTRIBUTIONS, ids=lambda p: p.name)
def test_every_dependency_has_an_upper_bound(folder: Path) -> None:
    meta = project(folder)
    extras = meta.get("optional-dependencies", {})
    assert isinstance(extras, dict)
    requirements = [*meta.get("dependencies", []), *(r for rs in extras.values() for r in rs)]  # type: ignore[misc]
    for text in requirements:
        specifier = Requirement(text).specifier
        assert any(spec.operator in ("<", "<=", "~=", "==") for spec in specifier), (
            f"{folder.name}: {text!r} has no upper bound"
        )


@pytest.mark.parametrize("folder", DISTRIBUTIONS, ids=lambda p: p.name)
def test_the_readme_links_work_on_a_package_index(folder: Path) -> None:
    readme = folder / str(project(folder)["readme"])
    relative = RELATIVE_LINK.findall(readme.read_text())
    assert relative == [], f"{readme}: relative links break on PyPI: {relative}"


def test_a_library_install_brings_no_terminal_stack() -> None:
    """rich (and pygments and markdown-it with it, ~13 MB) draws the CLI's progress bars only,
    and the CLI prints plain lines without it: the ``kiekit[cli]`` extra, which the README's
    install and the workspace's own environment (its Quickstart) bring."""
    meta = project(ROOT / "core")
    dependencies = meta["dependencies"]
    extras = meta["optional-dependencies"]
    assert isinstance(dependencies, list)
    assert isinstance(extras, dict)
    assert "rich" not in {Requirement(text).name for text in dependencies}
    assert [Requirement(text).name for text in extras["cli"]] == ["rich"]
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "kiekit[cli]" in workspace["dependency-groups"]["dev"]
    assert '"./core[cli]"' in (ROOT / "README.md").read_text()


# Where the install commands users copy are: the README, the guides, each distribution's README.
INSTALL_PAGES = sorted(
    {
        ROOT / "README.md",
        *ROOT.glob("docs/*.md"),
        *(folder / "README.md" for folder in DISTRIBUTIONS),
    }
)
INSTALL = re.compile(r"\bpip install\b(.*)")


def install_commands() -> list[tuple[str, list[str]]]:
    """Every ``pip install`` / ``uv pip install`` in a page's code blocks, as (where, words)."""
    import shlex

    found = []
    for page in INSTALL_PAGES:
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"^ *```[a-z]*\n(.*?)^ *```", text, re.S | re.M):
            for line in block.replace("\\\n", " ").splitlines():
                command = INSTALL.search(line.split("&&")[-1])
                if command:
                    words = shlex.split(command[1], comments=True)
                    found.append((f"{page.relative_to(ROOT)}: {line.strip()}", words))
    return found


def test_no_install_command_asks_an_index_for_kiekits_names() -> None:
    """kiekit is not on PyPI yet, and someone else's package of one of its names could one day
    be (README, Install): every documented install takes kiekit's distributions from files or
    folders. ``--find-links`` alone leaves the index on, and pip and uv ask it for kiekit's
    names too (found by an outside tester with ``pip install --dry-run -vv``); a name of ours
    may only add extras to a kiekit installed from its wheels (``pip install 'kiekit[redis]'``)."""
    ours = {str(project(folder)["name"]) for folder in DISTRIBUTIONS}
    commands = install_commands()
    assert len(commands) >= 8, commands
    for where, words in commands:
        if "--find-links" in words or any(w.startswith("--find-links=") for w in words):
            assert "--no-index" in words, where
        for word in words:
            if word.startswith(("-", ".")) or "/" in word or "@" in word:
                continue  # an option (or its value, a folder), a file or folder, a URL
            name, _, extras = word.partition("[")
            if name.lower() in ours:
                assert name.lower() == "kiekit", f"{where}: {word} from an index"
                assert extras, f"{where}: {word} from an index"
