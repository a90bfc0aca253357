"""``--access-log``'s lines, with no API key in them.

The control routes take a key as ``?api_key=KEY`` (README "One mock for parallel jobs"), and
aiohttp's access log writes each request line whole, query and all. The mock promises a key is
never shown or kept (the journal masks the Authorization header; requestlog.py), so every
value of a query parameter named ``api_key`` (or ``apikey``, ``key``; under any spelling the
mock would read as that name: ``api%5Fkey``, ``API_KEY``) is written as ``***``, in the
request line and in a logged header (a Referer) alike; the journal keeps a query so too
(:func:`masked_query`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from aiohttp.web_log import AccessLogger

# a query's `name=value` pairs: after ? or a separator, up to the next separator or the end
# of the URL (a space or a quote in a log line)
_PAIR = re.compile(r"(?<=[?&;])([^=&;\s\"#]*)=([^&;\s\"#]*)")
# the query parameters that carry a key: the control routes' api_key, and the names a client
# may put a key under on an API route (KIE takes it as a Bearer header alone, kie-api.md §1)
KEY_PARAMETERS = frozenset({"api_key", "apikey", "key"})


def _masked_pair(match: re.Match[str]) -> str:
    name = match.group(1)
    if unquote_plus(name).strip().lower() in KEY_PARAMETERS:
        return f"{name}=***"
    return match.group(0)


def masked_query(query: Mapping[str, str]) -> dict[str, str]:
    """A request's query as the journal keeps it (and the inspector shows it): the value of
    each key parameter as ``***``, as in the access log (an outside tester's review,
    "secrev" finding 7: ``?api_key=sk-…`` on an API route was served back verbatim)."""
    kept = dict(query)
    for name in kept:
        if name.strip().lower() in KEY_PARAMETERS:
            kept[name] = "***"
    return kept


def mask_keys(text: str) -> str:
    """``text`` (a request line, a URL) with the value of each key parameter as ``***``."""
    if "=" not in text:
        return text
    return _PAIR.sub(_masked_pair, text)


class MaskedAccessLogger(AccessLogger):
    """aiohttp's access log line, each ``api_key`` value masked (mask_keys)."""

    def _format_line(self, request: Any, response: Any, time: float) -> Iterable[Any]:
        line: Iterable[tuple[Any, Any]] = super()._format_line(request, response, time)
        return tuple(
            (key, mask_keys(value) if isinstance(value, str) else value) for key, value in line
        )
