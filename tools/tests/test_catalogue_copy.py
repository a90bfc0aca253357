"""kiekit-market checks the fields the mock checks: its copy of the catalogue must be the
mock's catalogue.json, as tools/sync_catalogue.py writes it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _sync_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "sync_catalogue", ROOT / "tools/sync_catalogue.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("sync_catalogue", module)
    spec.loader.exec_module(module)
    return module


def test_kiekit_market_carries_the_mocks_catalogue_as_is() -> None:
    tool = _sync_tool()
    assert tool.TARGET.read_text(encoding="utf-8") == tool.module_text(), (
        "the catalogue changed: run python3 tools/sync_catalogue.py"
    )
    from kiekit_market import catalogue

    mock = json.loads(tool.SOURCE.read_text(encoding="utf-8"))["models"]
    assert list(catalogue.entries().values()) == mock
