"""Boost music style: ``POST /api/v1/style/generate`` turns a short style description into a
richer one, answered at once — no task to poll, no callback (kie-api.md §3.6 "sync boost
style"). The answer's ``data`` follows KIE's page for it: the id, the description sent
(``param``), the boosted text (``result``), the credits it took and what is left, and a
``successFlag`` that is a word, not a number (§9.4). KIE's newer docs also list the same
operation as a market model, ``ai-music-api/boost-music-style``; this is the path form.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from ...envelope import ok
from ...route_helpers import account_of, json_body, runtime
from ..validation import required_str
from .common import clock_text

ROUTES = web.RouteTableDef()
PATH = "/api/v1/style/generate"
COST = 0.4  # [INF] KIE's pricing page lists no figure for it; a small, non-zero charge
SUCCESS_WORD = "成功"  # the page's example successFlag, "success" in Chinese (§9.4)


def boosted(content: str) -> str:
    """A plausible richer description: the mock's words around the caller's, deterministic."""
    return (
        f"{content.strip()}, with a clear lead melody, layered harmonies, a steady groove "
        "and a polished modern mix"
    )


@ROUTES.post(PATH)
async def boost_style(request: web.Request) -> web.Response:
    body = await json_body(request)
    # no maximum: KIE's page documents none for ``content`` (docs.kie.ai "Boost Music Style":
    # a required string, "concise and clear"; kie-api.md §3.6 records none either)
    content = required_str(body, "content")
    rt = runtime(request)
    remaining = rt.store.charge(account_of(request), COST)  # 402 when the balance is too low
    return ok(
        {
            "taskId": secrets.token_hex(16),
            "param": content,
            "result": boosted(content),
            "creditsConsumed": COST,
            "creditsRemaining": remaining,
            "successFlag": SUCCESS_WORD,
            "errorCode": None,
            "errorMsg": None,  # not errorMessage, as elsewhere: KIE's own answer (kie-api.md §3.6)
            "createTime": clock_text(int(rt.clock.now() * 1000)),
        }
    )
