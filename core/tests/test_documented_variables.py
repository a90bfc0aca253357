"""Every environment variable the docs name is one kiekit reads: a misspelt name in a guide
(``KIEKIT_API_KEY`` for ``KIE_API_KEY``) sends a user's setting nowhere, silently."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("core/src", "mockserver/src", "contract_tests/src", "plugins")
NAME = re.compile(r"\bKIE(?:KIT)?_[A-Z][A-Z0-9_]*\b")


def _read(folder: Path, pattern: str) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob(pattern)))


def test_every_variable_the_docs_name_is_read_by_the_code() -> None:
    docs = _read(ROOT / "docs", "**/*.md") + (ROOT / "README.md").read_text(encoding="utf-8")
    code = "\n".join(_read(ROOT / folder, "**/*.py") for folder in SOURCES)
    read = {match[1] for match in re.finditer(r"""["'](KIE(?:KIT)?_[A-Z0-9_]+)["']""", code)}
    named = set(NAME.findall(docs))
    assert "KIE_API_KEY" in named  # the scan sees the docs
    assert named <= read, sorted(named - read)
