"""Server-sent events as KIE's chat endpoints send them with ``stream: true`` (kie-api.md §5),
and the account handling every chat route shares (the routes outside ``/api/`` are not
covered by the app's auth middleware, but KIE asks for the key on every call, §1)."""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

from aiohttp import web

from ...envelope import ErrorAnswer, dumps
from ...faults_http import CUT_STREAM
from ...route_helpers import account_of, bearer_key, prepare_streamed, runtime
from .conversation import Conversation


def chat_account(request: web.Request) -> str:
    """The caller's account; KIE's body code 401 at HTTP 200 for a missing or unknown key."""
    key = bearer_key(request)
    if key is None or not runtime(request).store.accepts(key):
        raise ErrorAnswer(401, "You do not have access permissions")
    return account_of(request)


def taught(request: web.Request, wire: str) -> frozenset[str]:
    """The chat model ids ``MockConfig.extra_chat_models`` teaches this API (``wire``): a
    plugin's model the mock does not know, answered as the API's own models are."""
    models = runtime(request).config.extra_chat_models
    return frozenset(model for model, speaks in models.items() if speaks == wire)


def charge(request: web.Request, account: str, conversation: Conversation) -> float:
    """Take the answer's price (402 when the balance is too low); a failing call is free."""
    if conversation.fails:
        return 0.0
    cost = conversation.credits()
    runtime(request).store.charge(account, cost)
    return cost


def drops(request: web.Request, conversation: Conversation) -> bool:
    """Whether a streamed answer is cut mid-way: ``[mock:drop]`` in the prompt, or an "after"
    fault rule that loses this request's answer (faults_http.CUT_STREAM)."""
    return conversation.drops or request.get(CUT_STREAM, False)


def answer(data: dict[str, Any]) -> web.Response:
    """A whole chat answer: the API's own JSON, not KIE's envelope (kie-api.md §5 [OBS])."""
    return web.json_response(data, dumps=dumps)


def created_at(request: web.Request) -> int:
    """An answer's Unix time in seconds, on the mock's clock as every task time is (a test that
    moves the clock sees chat and tasks move together)."""
    return int(runtime(request).clock.now())


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


async def open_stream(
    request: web.Request, headers: dict[str, str] | None = None
) -> web.StreamResponse:
    """An SSE answer, begun; ``headers``: more of them (the mock's warning header)."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
        | (headers or {})
    )
    await prepare_streamed(request, response)
    return response


async def send(response: web.StreamResponse, data: Any, event: str | None = None) -> None:
    """One event; ``data`` a JSON value, or a str sent as it is (OpenAI's ``[DONE]``)."""
    text = data if isinstance(data, str) else dumps(data)
    head = f"event: {event}\n" if event else ""
    await response.write(f"{head}data: {text}\n\n".encode())


async def cut(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Drop the connection mid-answer (``[mock:drop]``): the client sees an unfinished body."""
    if request.transport is not None:
        request.transport.close()
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response
