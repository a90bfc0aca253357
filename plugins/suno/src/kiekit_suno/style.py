"""Boost style: a short style description made richer by KIE, answered at once — not a task,
so there is nothing to wait for (``POST /api/v1/style/generate``, kie-api.md §3.6).

>>> with Client(base_url=mock.base_url) as kie:               # doctest: +SKIP
...     data = kie.call(boost_style_request("Pop, Mysterious"))
...     print(boosted_style(data))
"""

from __future__ import annotations

from typing import Any

from kiekit.plugin import ProtocolError, Request, ValidationError

PATH = "/api/v1/style/generate"
CONTENT_MAX = 3000  # the longest style KIE takes for any Suno version (custom mode, V4_5+)


def boost_style_request(content: str) -> Request:
    """The request for :meth:`kiekit.Client.call`; its ``content`` is checked before sending."""
    if not isinstance(content, str) or not content.strip():
        raise ValidationError("content", "must be a non-empty style description, e.g. 'Pop'")
    if len(content) > CONTENT_MAX:
        raise ValidationError("content", f"must be at most {CONTENT_MAX} characters")
    return Request("POST", PATH, body={"content": content})


def boosted_style(data: Any) -> str:
    """The boosted description in the answer's ``data`` (its ``result``)."""
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, str) or not result:
        raise ProtocolError("boost style answered no result text", payload=data)
    return result
