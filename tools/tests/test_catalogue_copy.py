"""kiekit-market checks the fields the mock checks: its copy of the catalogue must be the
mock's catalogue.json, as tools/sync_catalogue.py writes it."""

from __future__ import annotations

import json

import sync_catalogue as tool  # tools/ (pyproject's pythonpath)


def test_kiekit_market_carries_the_mocks_catalogue_as_is() -> None:
    assert tool.TARGET.read_text(encoding="utf-8") == tool.module_text(), (
        "the catalogue changed: run python3 tools/sync_catalogue.py"
    )
    from kiekit_market import catalogue

    mock = json.loads(tool.SOURCE.read_text(encoding="utf-8"))["models"]
    assert list(catalogue.entries().values()) == mock
