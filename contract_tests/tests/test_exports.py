"""What the kit exports exists, and the README documents every fixture and class attribute."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import ClassVar, get_type_hints

import pytest
from kiekit_contract import ProviderContract

README = Path(__file__).parents[1] / "README.md"
MODULES = [
    "kiekit_contract",
    "kiekit_contract.chat_contract",
    "kiekit_contract.clients",
    "kiekit_contract.contract",
    "kiekit_contract.plugin",
    "kiekit_contract.strategies",
]
FIXTURES = [
    "kie_mock",
    "kie_mock_config",
    "kie_mock_session",
    "kie_mock_session_config",
    "kie_client",
    "kie_async_client",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    missing = [item for item in module.__all__ if not hasattr(module, item)]
    assert not missing
    assert len(module.__all__) == len(set(module.__all__))


def test_readme_documents_fixtures_and_attributes() -> None:
    text = README.read_text(encoding="utf-8")
    hints = get_type_hints(ProviderContract, include_extras=True)
    attributes = [
        name for name, hint in hints.items() if getattr(hint, "__origin__", None) is ClassVar
    ]
    assert "provider" in attributes
    undocumented = [name for name in FIXTURES + attributes if not re.search(rf"`{name}`", text)]
    assert not undocumented, f"README.md does not mention {undocumented}"
