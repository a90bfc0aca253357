"""kiekit-contract: test kiekit providers against the mock KIE server.

- :class:`ProviderContract` — the reusable suite a plugin adopts in one line of its tests;
- :class:`ChatProviderContract` — its twin for chat providers (not tasks: kie-api.md §5);
- the hypothesis strategies it is built on, drawn from the providers' field specs;
- :func:`client_for` / :func:`async_client_for` — clients wired to a mock, polling fast;
- the pytest fixtures (``kie_mock``, ``kie_client``, …) live in :mod:`kiekit_contract.plugin`,
  which pytest loads by itself once this distribution is installed.
"""

from kiekit_contract.chat_contract import ChatProviderContract
from kiekit_contract.clients import FAST_POLL, TEST_API_KEY, async_client_for, client_for
from kiekit_contract.contract import ProviderContract
from kiekit_contract.strategies import (
    EXTRA_FIELD_PREFIX,
    FAIL_MARKER,
    BadOpenField,
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
