"""Property: whatever arrives at the callback URL, the parser and the receiver answer with
kiekit's typed errors and a 4xx, or accept it — never an unexpected exception, never a 5xx."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kiekit.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Callback,
    CallbackError,
    WebhookReceiver,
    parse_callback,
)

KEY = "whk-fuzz"
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# Bodies that look like callbacks: the documented keys, holding anything.
CALLBACKS = st.fixed_dictionaries(
    {},
    optional={
        "code": JSON,
        "msg": JSON,
        "taskId": JSON,
        "task_id": JSON,
        "data": st.fixed_dictionaries(
            {}, optional={"taskId": JSON, "task_id": JSON, "callbackType": JSON, "model": JSON}
        )
        | JSON,
    },
)
BODIES = (
    st.binary(max_size=300)
    | JSON.map(lambda v: json.dumps(v).encode())
    | CALLBACKS.map(lambda v: json.dumps(v).encode())
)
HEADER = st.none() | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126))


@given(body=BODIES)
@settings(max_examples=150, deadline=None)
def test_the_parser_returns_a_callback_or_raises_a_callback_error(body: bytes) -> None:
    try:
        callback = parse_callback(body)
    except CallbackError:
        return
    assert isinstance(callback, Callback)
    assert isinstance(callback.task_id, str)
    assert callback.task_id.strip()


@given(body=BODIES, timestamp=HEADER, signature=HEADER)
@settings(max_examples=150, deadline=None)
def test_accepting_raises_only_callback_errors(
    body: bytes, timestamp: str | None, signature: str | None
) -> None:
    receiver = WebhookReceiver(KEY)
    try:
        receiver.accept(body, timestamp, signature)
    except CallbackError:
        return
    raise AssertionError("an unsigned or randomly signed callback was accepted")


@pytest.fixture(scope="module", params=[KEY, None], ids=["signed", "unsigned"])
def receiver(request: pytest.FixtureRequest) -> Iterator[tuple[str, str | None]]:
    """A receiver (signed, or not) in a background event loop on 127.0.0.1: (URL, key)."""
    from aiohttp import web

    ready = threading.Event()
    state: dict[str, Any] = {}

    async def serve() -> None:
        runner = web.AppRunner(WebhookReceiver(request.param).app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}/kie/callback"
        state["stop"] = stop = asyncio.Event()
        state["loop"] = asyncio.get_running_loop()
        ready.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield state["url"], request.param
    state["loop"].call_soon_threadsafe(state["stop"].set)
    thread.join(10)


@given(body=BODIES, timestamp=HEADER, signature=HEADER)
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_the_receiver_answers_4xx_to_anything_it_cannot_accept(
    receiver: tuple[str, str | None], body: bytes, timestamp: str | None, signature: str | None
) -> None:
    receiver_url, key = receiver
    headers = {"Content-Type": "application/json"}
    if timestamp is not None:
        headers[TIMESTAMP_HEADER] = timestamp
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    request = urllib.request.Request(receiver_url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
        error.close()
    if key is None:  # any callback with a task id is taken (and confirmed with KIE later)
        accepted = True
        try:
            parse_callback(body)
        except CallbackError:
            accepted = False
        assert status == (200 if accepted else 400)
    else:  # nothing random carries KIE's signature
        assert status in (400, 401)
