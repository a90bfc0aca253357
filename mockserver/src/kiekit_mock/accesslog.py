"""``--access-log``'s lines, with no key or token in them.

aiohttp's access log writes each request line whole, query and all, and the control routes
take a key as ``?api_key=KEY`` (README "One mock for parallel jobs"). The mock promises a
secret is never shown or kept (the journal masks the Authorization header, requestlog.py), so
every secret's value in a query (masking.py: ``api_key``, ``token``, ``sig`` …, under any
spelling the mock would read as that name: ``api%5Fkey``, ``API_KEY``) is written as ``***``,
in the request line and in a logged header (a Referer) alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp.web_log import AccessLogger

from .masking import mask_secrets


class MaskedAccessLogger(AccessLogger):
    """aiohttp's access log line, each secret's value in a query masked (mask_secrets)."""

    def _format_line(self, request: Any, response: Any, time: float) -> Iterable[Any]:
        line: Iterable[tuple[Any, Any]] = super()._format_line(request, response, time)
        return tuple(
            (key, mask_secrets(value) if isinstance(value, str) else value) for key, value in line
        )
