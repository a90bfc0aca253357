"""What the kit exports exists, and the README documents every fixture and class attribute."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
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


def test_loading_the_plugin_imports_neither_hypothesis_nor_the_mock_nor_the_core() -> None:
    """pytest loads the plugin in every process of the environment, for any suite: the heavy
    modules (about a second) wait for a fixture or an export that needs them."""
    heavy = ("hypothesis", "kiekit", "kiekit_mock", "aiohttp", "kiekit_contract.contract")
    code = (
        "import sys, kiekit_contract.plugin\n"
        f"print(sorted(name for name in {heavy!r} if name in sys.modules))"
    )
    found = subprocess.run(  # noqa: S603 (our interpreter, our code)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert found.stdout.strip() == "[]"


def test_the_lazy_exports_are_the_modules_own() -> None:
    import kiekit_contract
    from kiekit_contract import plugin
    from kiekit_contract.contract import ProviderContract as Home
    from kiekit_contract.strategies import valid_inputs
    from kiekit_mock import MockConfig

    assert kiekit_contract.ProviderContract is Home
    assert kiekit_contract.valid_inputs is valid_inputs
    assert set(kiekit_contract.__all__) <= set(dir(kiekit_contract))
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = kiekit_contract.no_such_name  # type: ignore[attr-defined]
    config = plugin.SESSION_MOCK_CONFIG
    assert isinstance(config, MockConfig)
    assert config is plugin.SESSION_MOCK_CONFIG  # one value, as a constant
    assert (config.polls_to_complete, config.starting_credits) == (2, 1e9)
