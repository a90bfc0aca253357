"""What the mock keeps and shows of a URL's query: a secret's value as ``***``.

The mock keeps what clients send for tests to assert on (the request journal, so
``/_mock/journal`` and the inspector; the tasks' create bodies, ``/_mock/tasks``; the callbacks
it owed, ``/_mock/callbacks``) and writes request lines (``--access-log``). A URL's query may
carry a secret: the control routes' ``?api_key=KEY``, a key a client put in an API route's
query (KIE takes it as a Bearer header alone, kie-api.md §1), and the token a receiver put in
its ``callBackUrl`` to know KIE's callbacks (``https://me/cb?token=…``: KIE's own signature is
opt-in, §6.3). So the value of each query parameter with a secret's name is written as
``***`` wherever a URL is kept or shown (a URL inside JSON text too, a JSON string in a JSON
string included). A secret's name is, in any letter case and under any spelling the mock
would read as it (``api%5Fkey``):

- one of ``api_key``, ``apikey``, ``key``, ``sig``, ``auth``;
- or one containing ``token``, ``secret`` or ``password`` (``access_token``,
  ``client_secret``, ``X-Amz-Security-Token``).

Not ``X-Amz-Signature``/``X-Amz-Credential``: the mock's own result links carry them (files.py),
signed with a test value, and tests compare the links the mock answered, called back and kept.

The mock still calls a callback at its URL as given, with its body as made: only what it
keeps and shows is masked.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

MASK = "***"
SECRET_NAMES = frozenset({"api_key", "apikey", "key", "sig", "auth"})
SECRET_PARTS = ("token", "secret", "password")

# a query's `name=value` pairs: after ? or a separator, up to the next separator or the end of
# the URL (a space or a quote in a log line, a backslash or a quote in JSON text)
_PAIR = r"(?<=[?&;])([^=&;\s\"\\#?]*)=([^&;\s\"\\#]*)"
_PAIR_TEXT = re.compile(_PAIR)
_PAIR_BYTES = re.compile(_PAIR.encode())


@functools.lru_cache(maxsize=1024)  # a handful of names, met at every request
def secret_name(name: str) -> bool:
    """Whether a query parameter of this name carries a secret (the module's list)."""
    plain = unquote_plus(name).strip().lower()
    return plain in SECRET_NAMES or any(part in plain for part in SECRET_PARTS)


def masked_query(query: Mapping[str, str]) -> dict[str, str]:
    """A request's query as the journal keeps it: each secret's value as ``***`` (an outside
    tester's review, "secrev" finding 7: ``?api_key=sk-…`` was served back verbatim)."""
    return {name: MASK if secret_name(name) else value for name, value in query.items()}


def _masked_pair(match: re.Match[str]) -> str:
    return f"{match.group(1)}={MASK}" if secret_name(match.group(1)) else match.group(0)


def _masked_pair_bytes(match: re.Match[bytes]) -> bytes:
    name = match.group(1).decode("utf-8", "replace")
    return match.group(1) + b"=" + MASK.encode() if secret_name(name) else match.group(0)


def mask_secrets(text: str) -> str:
    """``text`` (a request line, a URL, JSON text) with each secret's value as ``***`` (the
    same object when it has none)."""
    if "=" not in text:
        return text
    masked = _PAIR_TEXT.sub(_masked_pair, text)
    return text if masked == text else masked


def mask_secret_bytes(data: bytes) -> bytes:
    """:func:`mask_secrets` of bytes (a body as received or sent)."""
    if b"=" not in data:
        return data
    masked = _PAIR_BYTES.sub(_masked_pair_bytes, data)
    return data if masked == data else masked


def masked_json(value: Any) -> Any:
    """A parsed JSON value with :func:`mask_secrets` applied to its strings (the same object
    when none changed)."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        changed = {name: masked_json(item) for name, item in value.items()}
        same = all(changed[name] is item for name, item in value.items())
        return value if same else changed
    if isinstance(value, list):
        items = [masked_json(item) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value
