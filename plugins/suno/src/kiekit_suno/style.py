"""Boost style: a short style description made richer by KIE, answered at once — not a task,
so there is nothing to wait for (``POST /api/v1/style/generate``, kie-api.md §3.6).

KIE documents no length limit for its ``content``: docs.kie.ai's "Boost Music Style" page (and
its old-model and Chinese twins) call it a required string, a style "in concise and clear
language", with no maximum, and kie-api.md §3.6 records none. So kiekit refuses only an empty
one, and the mock takes any (kiekit_mock.families.suno.style). The boosted text is longer than
what was sent, and may be longer than a generate's ``style`` takes (200 characters for V3_5 and
V4, 1000 for V4_5 and later: ``kiekit_suno.music.LIMITS``): such a style is refused, naming the
field and the limit, before the generate is sent; shorten it first.

>>> with Client(base_url=mock.base_url) as kie:               # doctest: +SKIP
...     data = kie.call(boost_style_request("Pop, Mysterious"))
...     print(boosted_style(data))
"""

from __future__ import annotations

from typing import Any

from kiekit.plugin import ProtocolError, Request, ValidationError

PATH = "/api/v1/style/generate"


def boost_style_request(content: str) -> Request:
    """The request for :meth:`kiekit.Client.call`; its ``content`` is checked before sending
    (a non-empty string; KIE documents no maximum, see above)."""
    if not isinstance(content, str) or not content.strip():
        raise ValidationError("content", "must be a non-empty style description, e.g. 'Pop'")
    return Request("POST", PATH, body={"content": content})


def boosted_style(data: Any) -> str:
    """The boosted description in the answer's ``data`` (its ``result``), whole. It may be
    longer than the ``style`` a generate takes with its version (``music.LIMITS``: 200 for
    V3_5/V4, 1000 after), which that generate then refuses before sending: shorten it."""
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, str) or not result:
        raise ProtocolError("boost style answered no result text", payload=data)
    return result
