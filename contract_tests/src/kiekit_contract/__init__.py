"""kiekit-contract: test kiekit providers against the mock KIE server.

- :class:`ProviderContract` — the reusable suite a plugin adopts in one line of its tests;
- :class:`ChatProviderContract` — its twin for chat providers (not tasks: kie-api.md §5);
- the hypothesis strategies it is built on, drawn from the providers' field specs;
- :func:`client_for` / :func:`async_client_for` — clients wired to a mock, polling fast;
- the pytest fixtures (``kie_mock``, ``kie_client``, …) live in :mod:`kiekit_contract.plugin`,
  which pytest loads by itself once this distribution is installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Loaded lazily: the pytest plugin (kiekit_contract.plugin) is imported by every pytest process
# of the environment, and importing it imports this package first; hypothesis, the suites and
# the core would cost each of those processes about a second, used or not. Each name's module;
# every name not listed is a strategy (kiekit_contract.strategies).
_HOMES = {
    "ChatProviderContract": "chat_contract",
    "ProviderContract": "contract",
    **dict.fromkeys(("FAST_POLL", "TEST_API_KEY", "async_client_for", "client_for"), "clients"),
}

if TYPE_CHECKING:
    from kiekit_contract.chat_contract import ChatProviderContract
    from kiekit_contract.clients import FAST_POLL, TEST_API_KEY, async_client_for, client_for
    from kiekit_contract.contract import ProviderContract
    from kiekit_contract.strategies import (
        EXTRA_FIELD_PREFIX,
        FAIL_MARKER,
        BadOpenField,
        edge_values,
        input_specs,
        invalid_entry_fields,
        invalid_open_fields,
        invalid_values,
        json_values,
        like,
        one_field_changed,
        open_inputs,
        prompt_text,
        smallest_input,
        valid_entries,
        valid_inputs,
        valid_values,
        web_urls,
    )

__all__ = [
    "EXTRA_FIELD_PREFIX",
    "FAIL_MARKER",
    "FAST_POLL",
    "TEST_API_KEY",
    "BadOpenField",
    "ChatProviderContract",
    "ProviderContract",
    "async_client_for",
    "client_for",
    "edge_values",
    "input_specs",
    "invalid_entry_fields",
    "invalid_open_fields",
    "invalid_values",
    "json_values",
    "like",
    "one_field_changed",
    "open_inputs",
    "prompt_text",
    "smallest_input",
    "valid_entries",
    "valid_inputs",
    "valid_values",
    "web_urls",
]


# At run time only: to a type checker an export is what the imports above say, and a name
# that is not one stays an error.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        """An export, imported from its module the first time it is asked for."""
        if name not in __all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(
            importlib.import_module(f"{__name__}.{_HOMES.get(name, 'strategies')}"), name
        )
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
