"""docs/migrating.md's tables say what the code does: body codes → error classes, KIE's state
words → State, the guide's field names → kiekit's. Each is read from the page and checked
against the code, so neither can change without the other (its snippets run in
test_docs_run.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from kiekit import ApiError, ServerError, State
from kiekit.errors import api_error
from kiekit.families.market import STATES as MARKET
from kiekit.families.success_flag import SuccessFlagProvider
from kiekit.registry import default_registry
from kiekit_runway.provider import STATES as RUNWAY
from kiekit_suno.music import STATES as SUNO

PAGE = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"
CELL = re.compile(r"`([^`]*)`")


def table(name: str) -> list[list[str]]:
    """The rows of the table after ``<!-- table: name``, each a list of cells as written."""
    text = PAGE.read_text("utf-8")
    start = text.index(f"<!-- table: {name}")
    rows = []
    for line in text[start:].splitlines()[1:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[2:]  # past the header and its rule


def names(cell: str) -> list[str]:
    """The `code` spans of a cell (``"`1`, `4`"`` → ["1", "4"])."""
    return CELL.findall(cell)


def test_the_body_code_table_is_what_kiekit_raises() -> None:
    rows = table("body codes")
    assert rows
    for code, _, raised, retryable in rows:
        error = api_error(int(code), "as KIE says")
        assert (type(error).__name__, error.retryable) == (names(raised)[0], retryable == "yes")
    # every code kiekit gives a class of its own is on the page
    listed = {int(row[0]) for row in rows}
    typed = {
        code
        for code in range(100, 600)
        if type(api_error(code, "m")) not in (ApiError, ServerError) or code == 500
    }
    assert typed == listed


def _family(label: str) -> Mapping[Any, State]:
    """The state map the code has for a row's family (the first words of its label)."""
    families: dict[str, Mapping[Any, State]] = {
        "market": MARKET,
        "`successFlag`": _flags("veo3"),
        "Luma": _flags("luma/modify"),
        "Runway": RUNWAY,
        "Suno": SUNO,
    }
    return families[label.split()[0]]


def _flags(model: str) -> Mapping[int, State]:
    provider = default_registry().provider(model)
    assert isinstance(provider, SuccessFlagProvider)
    return provider.flags


def test_the_state_table_is_how_each_family_is_read() -> None:
    rows = table("states")
    assert rows
    for label, words, state in rows:
        known = _family(label)
        for word in names(words):
            key: Any = int(word) if word.isdigit() else word
            assert known[key] is State[names(state)[0]], (label, word)
    # and every word of each family is on the page
    for label in ("market", "`successFlag`", "Luma", "Runway", "Suno"):
        shown = {word for row in rows if row[0].startswith(label) for word in names(row[1])}
        assert {str(word) for word in _family(label)} == shown, label


@pytest.mark.parametrize("row", table("wire names"), ids=lambda row: f"{row[0]} {row[1]}")
def test_the_guides_name_and_kiekits_are_one_input(row: list[str]) -> None:
    model, wire, name = (names(cell)[0] for cell in row)
    fields = {field.name: field for field in default_registry().provider(model).input_fields(model)}
    assert name in fields, f"{model} has no input {name}"
    assert (fields[name].wire or name) == wire
