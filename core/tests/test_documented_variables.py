"""Every environment variable the docs name is one kiekit reads: a misspelt name in a guide
(``KIEKIT_API_KEY`` for ``KIE_API_KEY``) sends a user's setting nowhere, silently."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("core/src", "mockserver/src", "contract_tests/src", "plugins")
NAME = re.compile(r"\bKIE(?:KIT)?_[A-Z][A-Z0-9_]*\b")
# the README's examples of unknown variables: warned of (KIE_BASEURL, KIE_STAGING_URL,
# KIEKIT_REDIS_URL), or refused as a host under a wrong name (KIE_API_URL, …)
MISSPELT_ON_PURPOSE = {
    "KIE_BASEURL", "KIE_API_URL", "KIE_ENDPOINT", "KIE_API_BASE", "KIE_HOST", "KIEKIT_SERVER",
    "KIE_STAGING_URL", "KIEKIT_REDIS_URL",
}  # fmt: skip


def _read(folder: Path, pattern: str) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob(pattern)))


def test_every_variable_the_docs_name_is_read_by_the_code() -> None:
    docs = _read(ROOT / "docs", "**/*.md") + (ROOT / "README.md").read_text(encoding="utf-8")
    code = "\n".join(_read(ROOT / folder, "**/*.py") for folder in SOURCES)
    read = {match[1] for match in re.finditer(r"""["'](KIE(?:KIT)?_[A-Z0-9_]+)["']""", code)}
    named = set(NAME.findall(docs)) - MISSPELT_ON_PURPOSE
    assert "KIE_API_KEY" in named  # the scan sees the docs
    assert named <= read, sorted(named - read)


def _code_names(skip_table: bool) -> dict[str, set[str]]:
    """Each quoted ``KIE_*`` / ``KIEKIT_*`` name in the distributions' code (``os.environ``
    reads, the constants they read by), and the files naming it; ``skip_table``: not counting
    the table of variables itself."""
    from kiekit import settings

    table = Path(settings.__file__).read_text(encoding="utf-8")
    start = table.index("VARIABLES: Mapping")
    table_text = table[start : table.index("})", start)]
    found: dict[str, set[str]] = {}
    for folder in (*SOURCES, "tools"):
        for path in sorted((ROOT / folder).glob("**/*.py")):
            if "/tests/" in path.as_posix() or "/.venv/" in path.as_posix():
                continue
            code = path.read_text(encoding="utf-8")
            if skip_table and path.name == "settings.py" and table_text in code:
                code = code.replace(table_text, "")
            # a name, not a prefix (KIEKIT_MOCK_, the mock's own, ends with "_")
            for match in re.finditer(r"""["'](KIE(?:KIT)?_[A-Z0-9_]*[A-Z0-9])["']""", code):
                if re.search(rf"^{match[1]}\s*[:=]", code, re.MULTILINE):
                    continue  # a constant's name, in __all__ (kiekit_mock's KIE_MESSAGES)
                found.setdefault(match[1], set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_variable_the_code_reads_is_in_the_one_table() -> None:
    """kiekit warns of a KIE_* / KIEKIT_* name it does not know (a misspelling goes nowhere),
    knowing its own from kiekit.settings.VARIABLES: a variable read without a line there would
    be warned of as unknown, and one listed but never read would be taken silently."""
    from kiekit.settings import VARIABLES

    read = _code_names(skip_table=True)
    assert {"KIE_API_KEY", "KIEKIT_MOCK_BLOCK_EXTENSIONS", "KIEKIT_BROKER_URL"} <= set(read)
    missing = {name: sorted(files) for name, files in read.items() if name not in VARIABLES}
    assert not missing, f"read but not in kiekit.settings.VARIABLES: {missing}"
    unread = set(VARIABLES) - set(read)
    assert not unread, f"in kiekit.settings.VARIABLES but read nowhere: {sorted(unread)}"
    # the mock keeps a table of its own (it imports no kiekit code) to say a misspelt one
    from kiekit_mock import variables as mock

    ours = {name: says for name, says in VARIABLES.items() if name.startswith(mock.PREFIX)}
    assert ours == dict(mock.VARIABLES), "kiekit's table and kiekit_mock.variables disagree"


def test_the_readme_lists_every_variable() -> None:
    from kiekit.settings import VARIABLES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Environment variables") :]
    section = section[: section.index("\n## ")]
    assert set(VARIABLES) <= set(NAME.findall(section)), sorted(
        set(VARIABLES) - set(NAME.findall(section))
    )
