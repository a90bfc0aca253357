"""The docs site builds offline with warnings as errors: a broken link, a renamed symbol in the
API reference or a page left out of the navigation fails the suite (mkdocs.yml)."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def build(site: Path, config: Path = ROOT / "mkdocs.yml") -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter, our config
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's site, built once for the tests of this file."""
    site = tmp_path_factory.mktemp("docs") / "site"
    done = build(site)
    assert done.returncode == 0, done.stderr
    return site


def test_the_site_builds_with_guides_and_an_api_reference_from_the_docstrings(
    site: Path,
) -> None:
    for page in ("reliability", "journal-batch-webhooks", "plugin-authors"):
        assert (site / page / "index.html").is_file()
    reference = (site / "reference" / "kiekit" / "index.html").read_text()
    assert "A blocking KIE client" in reference  # Client's docstring, rendered
    mock_page = (site / "reference" / "kiekit_mock" / "index.html").read_text()
    assert "MockServer" in mock_page
    # Sphinx roles and doctests, written for help(), render as code (tools/docs_roles.py)
    for page in (reference, mock_page):
        assert not re.search(r":(class|meth|func|mod|attr|data):<code>", page)
    assert '<code class="language-pycon">&gt;&gt;&gt; with Client(' in reference
    # what a plugin author writes against: kiekit.plugin, kiekit.wire, the family bases, the
    # mock's extension API (TaskSpec's fields among it) and its schema builders
    for name in ("kiekit.plugin.Provider.callback_task_id", "kiekit.wire.input_to_wire",
                 "kiekit.families.success_flag.SuccessFlagProvider"):  # fmt: skip
        assert f'id="{name}"' in reference, name
    for name in ("kiekit_mock.extension.FamilyExtension", "kiekit_mock.extension.status_words",
                 "kiekit_mock.extension.TaskSpec.result_exts",
                 "kiekit_mock.openapi.schema.boolean"):  # fmt: skip
        assert f'id="{name}"' in mock_page, name


# The packages a user imports from; each name of their __all__ has an entry in the reference.
PUBLIC = ("kiekit", "kiekit.plugin", "kiekit.transport", "kiekit.journal", "kiekit.chat",
          "kiekit.batch", "kiekit.webhooks", "kiekit_mock", "kiekit_mock.extension",
          "kiekit_contract", "kiekit_contract.plugin")  # fmt: skip


def rendered(anchor: str) -> object:
    """What a reference entry's anchor (``kiekit.chat.ChatReply``) names, or None."""
    parts = anchor.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            value = getattr(value, part, None)
        return value
    return None


def test_every_exported_name_has_an_entry_in_the_api_reference(site: Path) -> None:
    """A name added to a public ``__all__`` gets a page entry (under that package or where it
    is defined), so the reference cannot fall behind the API (issue apiref 1)."""
    anchors: dict[str, list[str]] = {}
    for page in (site / "reference").glob("*/index.html"):
        for anchor in re.findall(r'id="([\w.]+)"', page.read_text()):
            anchors.setdefault(anchor.rsplit(".", 1)[-1], []).append(anchor)
    missing = []
    for name in PUBLIC:
        module = importlib.import_module(name)
        for export in module.__all__:
            if export.startswith("__"):
                continue  # __version__
            value = getattr(module, export)
            if not any(rendered(a) is value for a in anchors.get(export, [])):
                missing.append(f"{name}.{export}")
    assert missing == []


def test_a_renamed_symbol_fails_the_build(tmp_path: Path) -> None:
    """The strict build is able to fail: a reference to a module that does not exist."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# gone\n\n::: kiekit.no_such_module\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        f"site_name: check\ndocs_dir: {docs}\nplugins:\n  - mkdocstrings:\n"
        f"      handlers:\n        python:\n          paths: [{ROOT / 'core' / 'src'}]\n"
    )
    done = build(tmp_path / "site", config)
    assert done.returncode != 0
    assert "no_such_module" in done.stderr
