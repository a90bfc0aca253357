"""Webhooks: KIE's signature (§6.3), every family's callback shape (§6.2), and the receiver —
against the mock's real, signed callbacks on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from kiekit import AsyncClient, PollPolicy, State, TaskStatus, WaitTimeoutError
from kiekit.errors import ConfigurationError
from kiekit.journal import EntryState, Journal, MemoryStore, default_journal
from kiekit.webhooks import (
    ACK,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    CallbackError,
    SignatureError,
    WebhookReceiver,
    parse_callback,
    sign,
    verify_signature,
)

KEY = "whk-test-7c1d"
TASK_ID = "5f488be792eafad4b066e21e5bc472c7"
NOW = 1_776_323_915
GROK = "grok-imagine/text-to-image"
# Polls so slow that only a callback can end a wait within its deadline.
SLOW = PollPolicy(initial=600.0, maximum=600.0, timeout=20.0)


# -- the signature ---------------------------------------------------------------------------------


def test_a_signature_kie_made_verifies() -> None:
    verify_signature(KEY, TASK_ID, str(NOW), sign(KEY, TASK_ID, NOW), now=NOW + 10)


def test_the_signature_is_base64_hmac_sha256_of_task_id_dot_timestamp() -> None:
    import hashlib
    import hmac

    mac = hmac.new(KEY.encode(), f"{TASK_ID}.{NOW}".encode(), hashlib.sha256).digest()
    assert sign(KEY, TASK_ID, NOW) == base64.b64encode(mac).decode()


@pytest.mark.parametrize(
    ("task_id", "timestamp", "signature", "reason"),
    [
        ("another-task", str(NOW), sign(KEY, TASK_ID, NOW), "does not match"),
        (TASK_ID, str(NOW + 1), sign(KEY, TASK_ID, NOW), "does not match"),
        (TASK_ID, str(NOW), sign("other-key", TASK_ID, NOW), "does not match"),
        (TASK_ID, str(NOW - 301), sign(KEY, TASK_ID, NOW - 301), "replay"),
        (TASK_ID, str(NOW + 301), sign(KEY, TASK_ID, NOW + 301), "replay"),
        (TASK_ID, "12.5", sign(KEY, TASK_ID, NOW), "Unix seconds"),
        (TASK_ID, "", sign(KEY, TASK_ID, NOW), "Unix seconds"),
        (TASK_ID, str(NOW), "not base64!", "not base64"),
        (TASK_ID, str(NOW), "é", "not base64"),
        (TASK_ID, None, sign(KEY, TASK_ID, NOW), "unsigned"),
        (TASK_ID, str(NOW), None, "unsigned"),
    ],
)
def test_forged_stale_or_malformed_signatures_are_refused(
    task_id: str, timestamp: str | None, signature: str | None, reason: str
) -> None:
    with pytest.raises(SignatureError, match=reason) as caught:
        verify_signature(KEY, task_id, timestamp, signature, now=NOW)
    assert caught.value.task_id == task_id


# -- every family's shape (kie-api.md §6.2) --------------------------------------------------------

SHAPES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "market",
        {"code": 200, "msg": "ok", "data": {"taskId": "m1", "model": GROK, "state": "success"}},
        {"task_id": "m1", "code": 200, "state": "success", "model": GROK},
    ),
    (
        "4o image",
        {"code": 200, "msg": "ok", "data": {"taskId": "g1", "info": {"result_urls": ["u"]}}},
        {"task_id": "g1", "code": 200},
    ),
    (
        "flux kontext failure",
        {"code": 501, "msg": "failed", "data": {"taskId": "f1", "info": None}},
        {"task_id": "f1", "code": 501, "message": "failed"},
    ),
    (
        "veo 4k schema",
        {"code": 200, "msg": "ok", "data": {"task_id": "v1", "result_urls": ["u"]}},
        {"task_id": "v1"},
    ),
    (
        "runway",
        {"code": 200, "msg": "All generated successfully.", "data": {"task_id": "r1"}},
        {"task_id": "r1"},
    ),
    (
        "aleph: task id at the top",
        {"code": 200, "msg": "success", "data": {"result_video_url": "u"}, "taskId": "a1"},
        {"task_id": "a1"},
    ),
    (
        "suno stage",
        {"code": 200, "msg": "ok", "data": {"callbackType": "first", "task_id": "s1", "data": []}},
        {"task_id": "s1", "stage": "first"},
    ),
    (
        "suno midi",
        {"code": 200, "msg": "ok", "data": {"taskId": "s2", "state": "complete"}},
        {"task_id": "s2"},
    ),
]


@pytest.mark.parametrize(("family", "payload", "expected"), SHAPES, ids=[s[0] for s in SHAPES])
def test_every_familys_callback_shape_is_read(
    family: str, payload: dict[str, Any], expected: dict[str, Any]
) -> None:
    callback = parse_callback(json.dumps(payload).encode())
    for name, value in expected.items():
        assert getattr(callback, name) == value, (family, name)
    assert callback.payload == payload


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"code": 200, "data": {"result": 1}}', "no task id"),
        (b'{"data": {"taskId": ""}}', "no task id"),
        (b'{"data": {"taskId": 42}}', r"at data\.taskId is not a string: 42 \(int\)"),
        (b'{"taskId": [1]}', r"at taskId is not a string"),
        (b'{"code": 200, "data": {}}', r"\(data\.taskId, data\.task_id, taskId, task_id\)"),
        (json.dumps({"taskId": "x" * 300}).encode(), "not a task id"),
        (json.dumps({"data": {"taskId": "a"}, "taskId": "b"}).encode(), "two task ids"),
        (json.dumps({"data": {"taskId": "a", "task_id": "b"}}).encode(), "two task ids"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_a_body_that_is_no_callback_is_a_callback_error(body: bytes, reason: str) -> None:
    with pytest.raises(CallbackError, match=reason):
        parse_callback(body)


# -- the receiver ----------------------------------------------------------------------------------


@asynccontextmanager
async def serving(receiver: WebhookReceiver) -> AsyncIterator[str]:
    """The receiver on 127.0.0.1 in this event loop; yields its callback URL."""
    from aiohttp import web

    runner = web.AppRunner(receiver.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}{receiver.path}"
    finally:
        await runner.cleanup()


async def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers or {}) as answer,
    ):
        return answer.status, await answer.json(content_type=None)


def signed(task_id: str, *, key: str = KEY, at: float | None = None) -> dict[str, str]:
    stamp = int(time.time() if at is None else at)
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(key, task_id, stamp)}


def market_body(task_id: str, state: str = "success") -> bytes:
    data = {"taskId": task_id, "model": GROK, "state": state}
    return json.dumps({"code": 200, "msg": "ok", "data": data}).encode()


def test_the_receiver_acks_and_verifies() -> None:
    """Without a client nothing is confirmed with KIE, so nothing counts as seen: a second
    delivery is handled again (KIE asks for idempotent handling, §6.1), never dropped."""

    async def scenario() -> None:
        receiver = WebhookReceiver(KEY)
        async with serving(receiver) as url:
            body = market_body(TASK_ID)
            assert await post(url, body, signed(TASK_ID)) == (200, ACK)
            assert await post(url, body, signed(TASK_ID)) == (200, ACK)
            status, answer = await post(url, body)  # unsigned
            assert (status, answer["code"]) == (401, 401)
            status, _ = await post(url, body, signed(TASK_ID, key="wrong"))
            assert status == 401
            status, _ = await post(url, body, signed(TASK_ID, at=time.time() - 3600))
            assert status == 401
            status, answer = await post(url, b"<html>", signed(TASK_ID))
            assert (status, answer["code"]) == (400, 400)
        assert (receiver.accepted, receiver.repeated, receiver.refused) == (2, 0, 4)

    asyncio.run(scenario())


def test_signatures_are_judged_by_the_receivers_clock_the_mocks_when_given() -> None:
    """The mock stamps callbacks with its own clock: a test that moved it an hour on gives the
    receiver that clock (`clock=mock.clock.now`), else a fresh callback reads as a replay."""
    hour_on = time.time() + 3600
    refused, taken = WebhookReceiver(KEY), WebhookReceiver(KEY, clock=lambda: hour_on)
    with pytest.raises(SignatureError, match="a replay"):
        refused.accept(market_body(TASK_ID), **_headers(signed(TASK_ID, at=hour_on)))
    assert taken.accept(market_body(TASK_ID), **_headers(signed(TASK_ID, at=hour_on)))


def _headers(headers: dict[str, str]) -> dict[str, str | None]:
    return {"timestamp": headers[TIMESTAMP_HEADER], "signature": headers[SIGNATURE_HEADER]}


def test_without_a_key_the_receiver_accepts_unsigned_callbacks() -> None:
    async def scenario() -> None:
        receiver = WebhookReceiver()
        async with serving(receiver) as url:
            assert await post(url, market_body(TASK_ID)) == (200, ACK)
        assert receiver.accepted == 1
        assert KEY not in repr(WebhookReceiver(KEY))

    asyncio.run(scenario())


def test_the_receivers_key_shows_in_no_dump_of_it_and_it_is_not_pickled() -> None:
    """A debugger, Sentry or ``rich`` dumping a receiver's attributes showed ``_key`` whole,
    and a pickled receiver carried it (an outside security review's leftover)."""
    import copy
    import pickle
    import pprint

    receiver = WebhookReceiver(KEY)
    shown = [repr(receiver), repr(vars(receiver)), pprint.pformat(vars(receiver), depth=3)]
    shown += [repr(value) for value in vars(receiver).values()]
    assert not [text for text in shown if KEY in text]
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(receiver)
    # it still checks signatures, a copy of it too
    for which in (receiver, copy.deepcopy(receiver)):
        assert which.accept(market_body(TASK_ID), **_headers(signed(TASK_ID, at=time.time())))


def _mock(factory: Callable[..., Any], **config: Any) -> Any:
    # Tasks stay pending however often they are polled: only a manual step ends them.
    return factory(polls_to_complete=10_000, webhook_hmac_key=KEY, **config)


async def _finish(mock: Any, task_id: str) -> None:
    for _ in range(5):
        if await asyncio.to_thread(mock.advance, task_id) in ("success", "fail"):
            return
    raise AssertionError("the mock task did not finish")


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for what another task makes true (the receiver's status check): a condition, not a
    count of sleeps, so a loaded machine only makes it slower; 60 s bounds a real hang."""
    async with asyncio.timeout(60):
        while not condition():  # noqa: ASYNC110 (set by the receiver's own task; no event)
            await asyncio.sleep(0.01)


def test_a_signed_mock_callback_ends_a_wait_that_polls_slowly(
    mock_server_factory: Callable[..., Any],
) -> None:
    mock = _mock(mock_server_factory)

    async def scenario() -> Any:
        receiver = WebhookReceiver(KEY)
        async with (
            serving(receiver) as url,
            AsyncClient("test-key", base_url=mock.base_url, poll=SLOW, rate_limits=None) as kie,
        ):
            task = await kie.submit(GROK, prompt="a lighthouse", callback_url=url)
            waiting = asyncio.ensure_future(receiver.wait(kie, task))
            await asyncio.sleep(0.2)  # a slow schedule: no poll yet, the task still pending
            assert not waiting.done()
            await _finish(mock, task.id)
            results = await asyncio.wait_for(waiting, 15)
        return task, results, receiver

    task, results, receiver = asyncio.run(scenario())
    assert results.task_id == task.id
    assert results.assets
    assert receiver.accepted == 1
    delivered = mock.callbacks()
    assert [(c.task_id, c.delivered) for c in delivered] == [(task.id, True)]
    polls = [r for r in mock.requests() if r.path.endswith("/recordInfo")]
    # the receiver's confirmation alone: the wait ends with the status it confirmed (it polled
    # again, a second call for one task); the schedule's own first poll is far off
    assert len(polls) == 1


def test_on_status_hears_of_a_callback_for_a_task_a_wait_is_on_too(
    mock_server_factory: Callable[..., Any],
) -> None:
    """on_status is told of every accepted callback, confirmed: a waited task's as well (the
    wait ends with the same confirmed status)."""
    from kiekit.models import State

    mock = _mock(mock_server_factory)
    confirmed: list[Any] = []

    async def scenario() -> Any:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=SLOW, rate_limits=None
        ) as kie:
            receiver = WebhookReceiver(KEY, client=kie, on_status=confirmed.append)
            async with serving(receiver) as url:
                task = await kie.submit(GROK, prompt="a lighthouse", callback_url=url)
                waiting = asyncio.ensure_future(receiver.wait(kie, task))
                await _finish(mock, task.id)
                results = await asyncio.wait_for(waiting, 15)
                await _until(lambda: bool(confirmed))
        return task, results

    task, results = asyncio.run(scenario())
    assert results.task_id == task.id
    assert [(status.task_id, status.state) for status in confirmed] == [(task.id, State.SUCCEEDED)]


def test_a_receiver_with_another_key_refuses_the_mocks_callbacks_and_polling_still_ends_the_wait(
    mock_server_factory: Callable[..., Any],
) -> None:
    mock = _mock(mock_server_factory)
    quick = PollPolicy(initial=0.05, maximum=0.05, timeout=20.0)

    async def scenario() -> Any:
        receiver = WebhookReceiver("not-the-mocks-key")
        async with (
            serving(receiver) as url,
            AsyncClient("test-key", base_url=mock.base_url, poll=quick, rate_limits=None) as kie,
        ):
            task = await kie.submit(GROK, prompt="x", callback_url=url)
            waiting = asyncio.ensure_future(receiver.wait(kie, task))
            await _finish(mock, task.id)
            return await asyncio.wait_for(waiting, 15), receiver

    results, receiver = asyncio.run(scenario())
    assert results.assets
    assert receiver.accepted == 0
    assert [c.status for c in mock.callbacks()] == [401]


def test_without_a_callback_the_slow_wait_times_out_rather_than_trusting_nothing(
    mock_server_factory: Callable[..., Any],
) -> None:
    mock = _mock(mock_server_factory)

    async def scenario() -> None:
        receiver = WebhookReceiver(KEY)
        async with AsyncClient("test-key", base_url=mock.base_url, rate_limits=None) as kie:
            task = await kie.submit(GROK, prompt="x")
            with pytest.raises(WaitTimeoutError):
                await receiver.wait(kie, task, timeout=0.3)

    asyncio.run(scenario())


def test_a_forged_body_is_not_trusted_the_status_kie_reports_is(
    mock_server_factory: Callable[..., Any],
) -> None:
    """The signature covers only ``taskId.timestamp``: a captured signature can carry any body.
    The receiver hands on the state KIE reports, not the body's claim: asked again after each
    of ``confirm_delays`` (the body announces the end), KIE still says queued, and so is
    on_status told, once."""
    mock = _mock(mock_server_factory)
    seen: list[TaskStatus] = []

    async def scenario() -> None:
        async with AsyncClient("test-key", base_url=mock.base_url, rate_limits=None) as kie:
            task = await kie.submit(GROK, prompt="x")
            receiver = WebhookReceiver(
                KEY, client=kie, on_status=seen.append, confirm_delays=(0, 0)
            )
            async with serving(receiver) as url:
                forged = market_body(task.id, state="success")  # the task is still pending
                assert await post(url, forged, signed(task.id)) == (200, ACK)
                await receiver.drain()

    asyncio.run(scenario())
    assert [status.state for status in seen] == [State.QUEUED]
    assert len([r for r in mock.requests() if r.path == RECORD_INFO]) == 3  # a try, two again


@pytest.mark.parametrize("given", [True, False], ids=["journal given", "the clients journal"])
def test_the_receiver_finds_a_tasks_model_in_the_journal(
    mock_server_factory: Callable[..., Any], given: bool
) -> None:
    """Legacy families' callbacks do not name the model: the journal does (by default the
    client's own, where it recorded the tasks it created)."""
    mock = mock_server_factory(polls_to_complete=10_000)
    seen: list[TaskStatus] = []
    journal = Journal(MemoryStore())

    async def scenario() -> None:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, rate_limits=None, journal=journal
        ) as kie:
            task = await kie.submit("flux-kontext-pro", prompt="x")
            receiver = WebhookReceiver(
                client=kie, journal=journal if given else None, on_status=seen.append
            )
            async with serving(receiver) as url:
                await _finish(mock, task.id)  # KIE calls back when the task has ended
                body = {"code": 200, "msg": "ok", "data": {"taskId": task.id, "info": None}}
                assert await post(url, json.dumps(body).encode()) == (200, ACK)
                await receiver.drain()
                assert seen[0].task_id == task.id

    asyncio.run(scenario())
    assert [status.state for status in seen] == [State.SUCCEEDED]


def test_a_callback_whose_tasks_model_is_unknown_is_said_once_and_confirmed_once_adopted(
    mock_server_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A legacy family's callback for a task other code created names no model, and none is
    in the journal: it went unconfirmed without a word (outside tester "migrant", L4). Said
    once per task, with the way out, which then works."""
    mock = mock_server_factory(polls_to_complete=10_000)
    seen: list[TaskStatus] = []
    journal = Journal(MemoryStore())

    async def scenario() -> None:
        async with (
            AsyncClient("test-key", base_url=mock.base_url, journal=None) as old_code,
            AsyncClient("test-key", base_url=mock.base_url, journal=journal) as kie,
        ):
            task = await old_code.submit("flux-kontext-pro", prompt="x")
            receiver = WebhookReceiver(client=kie, on_status=seen.append)
            async with serving(receiver) as url:
                await _finish(mock, task.id)
                body = {"code": 200, "msg": "ok", "data": {"taskId": task.id, "info": None}}
                for _ in range(2):  # not confirmed, so KIE's next delivery is handled again
                    assert await post(url, json.dumps(body).encode()) == (200, ACK)
                    await receiver.drain()
                assert seen == []
                await kie.adopt(task.id, "flux-kontext-pro")
                assert await post(url, json.dumps(body).encode()) == (200, ACK)
                await receiver.drain()

    with caplog.at_level("WARNING", logger="kiekit.webhooks"):
        asyncio.run(scenario())
    said = [r for r in caplog.records if "model is not known" in r.getMessage()]
    assert len(said) == 1  # once per task, not per delivery
    assert said[0].levelname == "WARNING"
    [status] = seen
    assert status.state is State.SUCCEEDED
    assert f"task {status.task_id}" in said[0].getMessage()
    assert "kie adopt" in said[0].getMessage()


def test_task_ids_the_receiver_never_heard_of_are_acknowledged_and_left_alone() -> None:
    async def scenario() -> None:
        receiver = WebhookReceiver(on_status=lambda status: None)
        async with serving(receiver) as url:
            assert await post(url, market_body("unknown-task")) == (200, ACK)
        assert receiver.accepted == 1

    asyncio.run(scenario())


FAMILIES: list[tuple[str, dict[str, Any]]] = [
    (GROK, {"prompt": "x"}),
    ("flux-kontext-pro", {"prompt": "x"}),
    ("gpt4o-image", {"prompt": "x", "size": "1:1"}),
    ("veo3_fast", {"prompt": "x"}),
    ("runway/generate", {"prompt": "x", "aspect_ratio": "16:9"}),
    ("runway/aleph", {"prompt": "x", "video_url": "https://example.com/in.mp4"}),
    ("luma/modify", {"prompt": "x", "video_url": "https://example.com/in.mp4"}),
    ("suno/generate", {"prompt": "x"}),
]


def test_every_familys_signed_mock_callback_is_verified_and_read(
    mock_server_factory: Callable[..., Any],
) -> None:
    """The mock's real callbacks, in each family's own shape (§6.2), signed (§6.3)."""
    mock = _mock(mock_server_factory)
    received: list[Any] = []

    async def scenario() -> dict[str, str]:
        receiver = WebhookReceiver(KEY, on_callback=received.append)
        tasks: dict[str, str] = {}
        async with (
            serving(receiver) as url,
            AsyncClient("test-key", base_url=mock.base_url, rate_limits=None) as kie,
        ):
            for model, params in FAMILIES:
                task = await kie.submit(model, params, callback_url=url)
                tasks[task.id] = model
                await asyncio.to_thread(mock.complete, task.id)
            await asyncio.to_thread(mock.callbacks)  # every delivery done
        return tasks

    tasks = asyncio.run(scenario())
    delivered = mock.callbacks()
    assert delivered
    assert all((record.delivered, record.status) == (True, 200) for record in delivered)
    assert {callback.task_id for callback in received} == set(tasks)
    assert len(received) == len(delivered)
    suno = [c for c in received if tasks[c.task_id] == "suno/generate"]
    assert suno
    assert all(c.stage is not None for c in suno)


# -- confirming through an outage, and waits that start late or side by side ---------------------

RECORD_INFO = "/api/v1/jobs/recordInfo"


def _failing_status(mock: Any, times: int) -> None:
    from kiekit_mock.faults import FaultRule

    mock.faults.add(FaultRule(kind="http", status=503, method="GET", path=RECORD_INFO, times=times))


def test_a_callback_is_confirmed_once_kies_status_call_works_again(
    mock_server_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The receiver said 200 at once, so KIE will not send it again: a status call that fails
    (a short outage) is tried again later, and on_status hears of the task then."""
    from kiekit import RetryPolicy

    mock = mock_server_factory(polls_to_complete=10_000)
    seen: list[TaskStatus] = []
    one_try = RetryPolicy(attempts=1)

    async def scenario() -> None:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, rate_limits=None, retry=one_try
        ) as kie:
            task = await kie.submit(GROK, prompt="x")
            await _finish(mock, task.id)
            _failing_status(mock, times=2)  # the first two confirmations fail
            receiver = WebhookReceiver(client=kie, on_status=seen.append, confirm_delays=(0, 0))
            async with serving(receiver) as url:
                assert await post(url, market_body(task.id)) == (200, ACK)
                await receiver.drain()

    with caplog.at_level("WARNING", logger="kiekit.webhooks"):
        asyncio.run(scenario())
    assert [status.state for status in seen] == [State.SUCCEEDED]
    messages = [r.getMessage().split(" (")[0] for r in caplog.records]
    assert [m for m in messages if m.startswith("a callback")] == [
        f"a callback for task {seen[0].task_id} is not confirmed yet"
    ] * 2


@pytest.mark.parametrize("unreadable", [1, 2, 3])
def test_an_unreadable_status_answer_is_asked_again_as_a_wait_polls_again(
    mock_server_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture, unreadable: int
) -> None:
    """An empty status answer (cut short by a proxy): KIE made its one delivery and had 200,
    so giving up at once would lose the news. It is asked again on the schedule, as a wait
    polls again; as many in a row as end a wait (three) end the confirmation too."""
    from kiekit import RetryPolicy
    from kiekit_mock.faults import FaultRule

    mock = mock_server_factory(polls_to_complete=10_000)
    seen: list[TaskStatus] = []

    async def scenario() -> None:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, rate_limits=None, retry=RetryPolicy(attempts=1)
        ) as kie:
            task = await kie.submit(GROK, prompt="x")
            await _finish(mock, task.id)
            mock.faults.add(FaultRule("empty", method="GET", path=RECORD_INFO, times=unreadable))
            receiver = WebhookReceiver(client=kie, on_status=seen.append, confirm_delays=(0,) * 5)
            async with serving(receiver) as url:
                assert await post(url, market_body(task.id)) == (200, ACK)
                await receiver.drain()

    with caplog.at_level("WARNING", logger="kiekit.webhooks"):
        asyncio.run(scenario())
    given_up = "could not be confirmed" in caplog.text
    if unreadable < 3:
        assert [status.state for status in seen] == [State.SUCCEEDED]
        assert not given_up
    else:
        assert seen == []
        assert given_up


def test_a_callback_never_confirmed_is_said_so_and_its_next_delivery_is_handled(
    mock_server_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    from kiekit import RetryPolicy

    mock = mock_server_factory(polls_to_complete=10_000)
    seen: list[TaskStatus] = []

    async def scenario() -> WebhookReceiver:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, rate_limits=None, retry=RetryPolicy(attempts=1)
        ) as kie:
            task = await kie.submit(GROK, prompt="x")
            _failing_status(mock, times=2)  # more failures than the receiver tries
            receiver = WebhookReceiver(client=kie, on_status=seen.append, confirm_delays=(0,))
            async with serving(receiver) as url:
                assert await post(url, market_body(task.id)) == (200, ACK)
                await _until(lambda: "could not be confirmed" in caplog.text)
                assert not seen
                # KIE delivers it again: no longer a repeat, and confirmed this time
                assert await post(url, market_body(task.id)) == (200, ACK)
                await _until(lambda: bool(seen))
            return receiver

    with caplog.at_level("WARNING", logger="kiekit.webhooks"):
        receiver = asyncio.run(scenario())
    assert (receiver.accepted, receiver.repeated) == (2, 0)
    assert [status.state for status in seen] == [State.QUEUED]


def test_a_callback_that_came_before_the_wait_makes_its_first_poll_immediate(
    mock_server_factory: Callable[..., Any],
) -> None:
    """A fast failure, or work between submit and wait: the callback is already in."""
    mock = _mock(mock_server_factory)

    async def scenario() -> Any:
        receiver = WebhookReceiver(KEY)
        async with (
            serving(receiver) as url,
            AsyncClient("test-key", base_url=mock.base_url, poll=SLOW, rate_limits=None) as kie,
        ):
            task = await kie.submit(GROK, prompt="a lighthouse", callback_url=url)
            await _finish(mock, task.id)
            await _until(lambda: receiver.accepted == 1)
            return task, await asyncio.wait_for(receiver.wait(kie, task), 15)

    task, results = asyncio.run(scenario())
    assert results.task_id == task.id  # the slow schedule's first poll is 600 s away


def test_two_waits_on_one_task_are_both_ended_by_its_callback(
    mock_server_factory: Callable[..., Any],
) -> None:
    mock = _mock(mock_server_factory)

    async def scenario() -> Any:
        receiver = WebhookReceiver(KEY)
        async with (
            serving(receiver) as url,
            AsyncClient("test-key", base_url=mock.base_url, poll=SLOW, rate_limits=None) as kie,
        ):
            task = await kie.submit(GROK, prompt="a lighthouse", callback_url=url)
            waits = [asyncio.ensure_future(receiver.wait(kie, task)) for _ in range(2)]
            await asyncio.sleep(0)  # both waits have started
            await _finish(mock, task.id)
            return task, await asyncio.wait_for(asyncio.gather(*waits), 15)

    task, results = asyncio.run(scenario())
    assert [r.task_id for r in results] == [task.id, task.id]


def test_a_task_that_ends_on_the_mocks_clock_ends_a_wait_nobody_polls(
    mock_server_factory: Callable[..., Any],
) -> None:
    """Webhooks alone: the mock ends a task when its time comes, polled or not, and its
    callback ends the wait (the schedule's first poll is ten minutes away)."""
    mock = mock_server_factory(seconds_to_complete=300, webhook_hmac_key=KEY)

    async def scenario() -> Any:
        receiver = WebhookReceiver(KEY, clock=mock.clock.now)
        async with (
            serving(receiver) as url,
            AsyncClient("test-key", base_url=mock.base_url, poll=SLOW, rate_limits=None) as kie,
        ):
            task = await kie.submit(GROK, prompt="a lighthouse", callback_url=url)
            waiting = asyncio.ensure_future(receiver.wait(kie, task))
            await asyncio.sleep(0)  # the wait has started
            await asyncio.to_thread(mock.clock.advance, 300)  # KIE takes its five minutes
            return task, await asyncio.wait_for(waiting, 15)

    task, results = asyncio.run(scenario())
    assert results.task_id == task.id
    assert results.assets
    assert [(c.task_id, c.delivered) for c in mock.callbacks()] == [(task.id, True)]
    polls = mock.journal.query(path="/api/v1/jobs/recordInfo", task_id=task.id)
    assert len(polls) == 1  # the receiver's confirmation, whose status ends the wait
    row = default_journal().by_task(task.id)  # journalled as a polled wait's end is
    assert row is not None
    assert (row.state, row.assets) == (EntryState.SUCCEEDED, results.assets)


def test_a_wait_a_callback_ended_tells_the_observer_its_end_and_names_the_confirmation(
    mock_server_factory: Callable[..., Any],
) -> None:
    """Outside tester "otel", finding 4: a task ended by a webhook emitted no StateChanged (a
    per-task span never ended), and its record-info confirmation named neither its model
    nor its journal key, in events as in records."""
    from kiekit.observe import Event, RequestEnded, StateChanged

    mock = mock_server_factory(seconds_to_complete=300, webhook_hmac_key=KEY)
    events: list[Event] = []

    async def scenario() -> Any:
        receiver = WebhookReceiver(KEY, clock=mock.clock.now)
        async with (
            serving(receiver) as url,
            AsyncClient(
                "test-key", base_url=mock.base_url, poll=SLOW, rate_limits=None,
                observer=events.append,
            ) as kie,
        ):  # fmt: skip
            task = await kie.submit(
                GROK, prompt="a lighthouse", callback_url=url, idempotency_key="lh-1"
            )
            waiting = asyncio.ensure_future(receiver.wait(kie, task))
            await asyncio.sleep(0)  # the wait has started
            await asyncio.to_thread(mock.clock.advance, 300)  # KIE takes its five minutes
            await asyncio.wait_for(waiting, 15)
            return task

    task = asyncio.run(scenario())
    (changed,) = [e for e in events if isinstance(e, StateChanged)]
    assert (changed.task_id, changed.state, changed.model, changed.key) == (
        task.id, "succeeded", GROK, "lh-1"
    )  # fmt: skip
    confirmed = [
        e for e in events if isinstance(e, RequestEnded) and e.path == "/api/v1/jobs/recordInfo"
    ]
    assert confirmed
    assert all((e.task_id, e.model, e.key) == (task.id, GROK, "lh-1") for e in confirmed)


def test_an_on_callback_that_raises_loses_neither_the_wait_nor_the_next_delivery(
    mock_server_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The application's hook failing once (a log sink down) is said on kiekit.webhooks; the
    answer (200) went before the hook ran. The wait on the task is woken all the same, and a
    repeat of the delivery is handled, not dropped as a repeat (an outside tester's service
    lost it so)."""
    mock = mock_server_factory(polls_to_complete=10_000)
    heard: list[str] = []

    def on_callback(callback: Any) -> None:
        heard.append(callback.task_id)
        if len(heard) == 1:
            raise RuntimeError("the log sink is down")

    async def scenario() -> WebhookReceiver:
        slow = PollPolicy(initial=3600, maximum=3600, timeout=3600)  # only a callback ends it
        async with AsyncClient("test-key", base_url=mock.base_url, poll=slow) as kie:
            task = await kie.submit(GROK, prompt="x")
            receiver = WebhookReceiver(on_callback=on_callback)
            async with serving(receiver) as url:
                waiting = asyncio.ensure_future(receiver.wait(kie, task))
                await _finish(mock, task.id)  # KIE's task ends, and calls back:
                assert await post(url, market_body(task.id)) == (200, ACK)  # before the hook
                assert (await asyncio.wait_for(waiting, 60)).assets  # woken, and confirmed
                await receiver.drain()  # the hook has run (and failed)
                assert await post(url, market_body(task.id)) == (200, ACK)  # handled again
                await receiver.drain()
            return receiver

    with caplog.at_level("ERROR", logger="kiekit.webhooks"):
        receiver = asyncio.run(scenario())
    assert len(heard) == 2
    assert receiver.repeated == 0
    assert "on_callback raised for task" in caplog.text
    # no redelivery is promised: KIE retries nothing (kie-api.md §6.1), and it was answered 200
    assert "does not send a callback again" in caplog.text
    assert "next delivery of it is handled again" not in caplog.text


def test_an_on_status_that_raises_is_logged_and_the_next_delivery_tells_it_again(
    mock_server_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    mock = mock_server_factory(polls_to_complete=10_000)
    told: list[TaskStatus] = []

    def on_status(status: TaskStatus) -> None:
        told.append(status)
        if len(told) == 1:
            raise RuntimeError("the database is down")

    async def scenario() -> WebhookReceiver:
        async with AsyncClient("test-key", base_url=mock.base_url, rate_limits=None) as kie:
            task = await kie.submit(GROK, prompt="x")
            await _finish(mock, task.id)
            receiver = WebhookReceiver(client=kie, on_status=on_status)
            async with serving(receiver) as url:
                assert await post(url, market_body(task.id)) == (200, ACK)
                await _until(lambda: "on_status raised for task" in caplog.text)
                assert await post(url, market_body(task.id)) == (200, ACK)  # not a repeat
                await _until(lambda: len(told) == 2)
            return receiver

    with caplog.at_level("ERROR", logger="kiekit.webhooks"):
        receiver = asyncio.run(scenario())
    assert (receiver.accepted, receiver.repeated) == (2, 0)
    # the truth and the way back, not a redelivery that never comes (kie-api.md §6.1)
    assert "KIE's next delivery of its callback is handled again" not in caplog.text
    assert "does not send a callback again" in caplog.text
    assert "kie resume downloads them" in caplog.text


# -- a callback that announces the end is confirmed as the end (embedder finding 1) ---------------

SUNO = "suno/generate"


def suno_body(task_id: str, stage: str = "complete", code: int = 200) -> bytes:
    data = {"callbackType": stage, "task_id": task_id, "data": []}  # §3.6, snake_case
    return json.dumps({"code": code, "msg": "All generated successfully.", "data": data}).encode()


async def _advance_to(mock: Any, task_id: str, state: str) -> None:
    """Step a manual mock task to ``state``, its callbacks delivered."""
    for _ in range(5):
        if await asyncio.to_thread(mock.advance, task_id) == state:
            await asyncio.to_thread(mock.callbacks)  # every delivery done
            return
    raise AssertionError(f"the mock task did not reach {state}")


def test_a_final_callback_is_confirmed_again_until_kies_status_is_final(
    mock_server_factory: Callable[..., Any],
) -> None:
    """Suno's record says FIRST_SUCCESS until its "complete" callback is through (§3.6), so a
    status call made on that callback may still say running. The receiver asks again after a
    delay, and on_status hears "succeeded" (an outside tester's app heard "running" for 4 of 6
    tasks, and nothing after). KIE's own "complete", arriving meanwhile, joins the check."""
    mock = mock_server_factory(polls_to_complete=10_000)
    told: list[TaskStatus] = []
    slept: list[float] = []

    async def scenario() -> tuple[str, WebhookReceiver]:
        journal = Journal(MemoryStore())
        async with AsyncClient(
            "test-key", base_url=mock.base_url, rate_limits=None, journal=journal
        ) as kie:
            task_id = ""

            async def sleep(delay: float) -> None:  # meanwhile KIE's record catches up
                slept.append(delay)
                await _advance_to(mock, task_id, "success")

            receiver = WebhookReceiver(client=kie, on_status=told.append, sleep=sleep)
            async with receiver.serve() as url:
                task = await kie.submit(SUNO, prompt="a calm song", callback_url=url)
                task_id = task.id
                await _advance_to(mock, task.id, "generating")  # the record: FIRST_SUCCESS
                # the "complete" callback, answered before KIE's record says SUCCESS
                assert await post(url, suno_body(task.id)) == (200, ACK)
                await receiver.drain()
            return task.id, receiver

    task_id, receiver = asyncio.run(scenario())
    assert [(status.task_id, status.state) for status in told] == [(task_id, State.SUCCEEDED)]
    assert slept == [1.0]  # the first of CONFIRM_DELAYS
    assert receiver.repeated == 1  # KIE's own "complete": the delivery being confirmed
    assert all(record.delivered for record in mock.callbacks())


def test_every_task_of_an_app_of_callbacks_only_is_told_it_succeeded(
    mock_server_factory: Callable[..., Any],
) -> None:
    """The outside tester's app: Suno and Veo tasks, the mock's own (staged) callbacks, and
    on_status as the only way to learn of the end. Every task's last status is "succeeded",
    told once."""
    mock = mock_server_factory(polls_to_complete=10_000)
    told: dict[str, list[State]] = {}

    async def settled(_delay: float) -> None:  # a pause: the mock's deliveries end meanwhile
        await asyncio.to_thread(mock.callbacks)

    async def scenario() -> list[str]:
        async with AsyncClient("test-key", base_url=mock.base_url, rate_limits=None) as kie:
            receiver = WebhookReceiver(
                client=kie,
                on_status=lambda s: told.setdefault(s.task_id, []).append(s.state),
                sleep=settled,
            )
            async with receiver.serve() as url:
                tasks = [
                    await kie.submit(model, prompt=f"song {n}", callback_url=url)
                    for n, model in enumerate([SUNO, SUNO, SUNO, "veo3_fast", "veo3_fast"])
                ]
                for task in tasks:
                    await asyncio.to_thread(mock.complete, task.id)
                await asyncio.to_thread(mock.callbacks)
                await receiver.drain()
            return [task.id for task in tasks]

    task_ids = asyncio.run(scenario())
    assert set(told) == set(task_ids)
    for task_id in task_ids:
        assert told[task_id][-1] is State.SUCCEEDED, told[task_id]
        assert told[task_id].count(State.SUCCEEDED) == 1


def test_a_wait_on_a_suno_task_ends_with_its_complete_callback(
    mock_server_factory: Callable[..., Any],
) -> None:
    """The wait is woken once the end is confirmed, not by the first poll's "running"."""
    mock = mock_server_factory(polls_to_complete=10_000)

    async def settled(_delay: float) -> None:
        await asyncio.to_thread(mock.callbacks)

    async def scenario() -> Any:
        receiver = WebhookReceiver(sleep=settled)
        async with (
            receiver.serve() as url,
            AsyncClient("test-key", base_url=mock.base_url, poll=SLOW, rate_limits=None) as kie,
        ):
            task = await kie.submit(SUNO, prompt="a calm song", callback_url=url)
            waiting = asyncio.ensure_future(receiver.wait(kie, task))
            await asyncio.sleep(0)  # the wait has started
            await asyncio.to_thread(mock.complete, task.id)
            return task, await asyncio.wait_for(waiting, 30)

    task, results = asyncio.run(scenario())
    assert results.task_id == task.id
    assert len(results.assets) >= 2  # both tracks: the wait ended on the finished record


# -- forged callbacks cost little and hide nothing (security finding 2) --------------------------


def test_a_forged_callback_does_not_make_kies_real_one_a_repeat(
    mock_server_factory: Callable[..., Any],
) -> None:
    """Without a key anyone can POST a callback. A forged one is confirmed with KIE (still
    queued) and is not counted as seen, so KIE's real callback of the same shape is handled
    and on_status learns the task succeeded (it was dropped as a repeat before)."""
    mock = mock_server_factory(polls_to_complete=10_000)
    told: list[State] = []

    async def scenario() -> WebhookReceiver:
        async with AsyncClient("test-key", base_url=mock.base_url, rate_limits=None) as kie:
            receiver = WebhookReceiver(
                client=kie, on_status=lambda s: told.append(s.state), confirm_delays=()
            )
            async with receiver.serve() as url:
                task = await kie.submit(GROK, prompt="x", callback_url=url)
                assert await post(url, market_body(task.id)) == (200, ACK)  # forged
                await receiver.drain()
                assert told == [State.QUEUED]
                await _finish(mock, task.id)  # KIE's real callback
                await asyncio.to_thread(mock.callbacks)
                await receiver.drain()
            return receiver

    receiver = asyncio.run(scenario())
    assert told == [State.QUEUED, State.SUCCEEDED]
    assert (receiver.accepted, receiver.repeated) == (2, 0)


def test_a_burst_of_callbacks_for_one_task_makes_one_status_call_at_a_time(
    mock_server_factory: Callable[..., Any],
) -> None:
    """Deliveries of one task join the confirmation under way: fifty forged callbacks while
    it waits to ask again cost no status call of their own, and on_status is told once."""
    mock = mock_server_factory(polls_to_complete=10_000)
    told: list[State] = []
    parked, release = asyncio.Event(), asyncio.Event()

    async def sleep(_delay: float) -> None:
        parked.set()
        await release.wait()

    def polls() -> int:
        return len([r for r in mock.requests() if r.path == RECORD_INFO])

    async def scenario() -> None:
        async with AsyncClient("test-key", base_url=mock.base_url, rate_limits=None) as kie:
            task = await kie.submit(GROK, prompt="x")  # journalled: a task of this process
            receiver = WebhookReceiver(
                client=kie,
                on_status=lambda s: told.append(s.state),
                confirm_delays=(1.0, 2.0),
                sleep=sleep,
            )
            async with receiver.serve() as url:
                assert await post(url, market_body(task.id)) == (200, ACK)
                await parked.wait()  # asked once: queued; waiting to ask again
                assert polls() == 1
                for code in range(50):
                    body = json.dumps({"code": 500 + code, "data": {"taskId": task.id}})
                    assert await post(url, body.encode()) == (200, ACK)
                assert polls() == 1
                release.set()
                await receiver.drain()

    asyncio.run(scenario())
    assert told == [State.QUEUED]
    assert polls() == 3  # once, and once after each of the two delays


def test_callbacks_for_unknown_tasks_are_confirmed_at_a_bounded_rate(
    mock_server_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Every forged task id would cost a status call on the user's key (100 forgeries held a
    real status call back 7.8 s behind the client's limiter). Tasks this process neither
    journalled nor waits on are confirmed ten at once, then one a second (the receiver's
    clock); the rest are acknowledged, with one warning. The process's own tasks still are."""
    mock = mock_server_factory(polls_to_complete=10_000)
    now = [float(NOW)]
    told: list[str] = []

    def polls() -> int:
        return len([r for r in mock.requests() if r.path == RECORD_INFO])

    async def scenario() -> tuple[str, WebhookReceiver]:
        async with AsyncClient("test-key", base_url=mock.base_url, rate_limits=None) as kie:
            task = await kie.submit(GROK, prompt="x")
            receiver = WebhookReceiver(
                client=kie, on_status=lambda s: told.append(s.task_id), clock=lambda: now[0]
            )
            async with receiver.serve() as url:
                for n in range(30):
                    assert await post(url, market_body(f"forged-{n:02d}")) == (200, ACK)
                await receiver.drain()
                assert polls() == 10
                await _finish(mock, task.id)
                assert await post(url, market_body(task.id)) == (200, ACK)  # its own task
                await receiver.drain()
                assert polls() == 11
                now[0] += 1.0  # a second later: one more unknown task may be asked about
                for n in range(30, 33):
                    assert await post(url, market_body(f"forged-{n:02d}")) == (200, ACK)
                await receiver.drain()
                assert polls() == 12
            return task.id, receiver

    with caplog.at_level("WARNING", logger="kiekit.webhooks"):
        task_id, receiver = asyncio.run(scenario())
    assert told == [task_id]  # KIE knows no forged task: nothing about them is confirmed
    assert receiver.unconfirmed == 22
    shed = [r for r in caplog.records if "beyond unknown_rate" in r.getMessage()]
    assert len(shed) == 1  # said once a minute, not once a callback


def test_a_receiver_without_a_key_says_so_at_start(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="kiekit.webhooks"):
        WebhookReceiver(KEY)
        assert not caplog.records
        WebhookReceiver()
    (record,) = caplog.records
    assert "no hmac_key" in record.getMessage()
    assert "kie.ai/settings" in record.getMessage()


# -- what a signature can bind (security finding, kie-api.md §6.3) -------------------------------


def test_a_signature_replayed_with_another_body_is_refused() -> None:
    """The signature covers ``taskId.timestamp`` only. The first body it came with is bound
    to it, per stage and code: the same stage with another body is a replay (401). KIE may
    sign several Suno stages in one second, so another stage passes (the residual risk,
    which only on_callback sees: on_status hears KIE's status)."""
    receiver = WebhookReceiver(KEY, clock=lambda: NOW)
    headers = _headers(signed(TASK_ID, at=NOW))
    assert receiver.accept(suno_body(TASK_ID, "text"), **headers) is not None
    assert receiver.accept(suno_body(TASK_ID, "text"), **headers) is not None  # the same body
    tampered = json.loads(suno_body(TASK_ID, "text"))
    tampered["data"]["data"] = [{"audio_url": "https://evil.example/x.mp3"}]
    with pytest.raises(SignatureError, match="a replay") as caught:
        receiver.accept(json.dumps(tampered).encode(), **headers)
    assert caught.value.task_id == TASK_ID
    assert receiver.accept(suno_body(TASK_ID, "first"), **headers) is not None
    # a body with its keys in another order is the same body
    same = json.dumps(json.loads(suno_body(TASK_ID, "first")), sort_keys=True, indent=1)
    assert receiver.accept(same.encode(), **headers) is not None


# -- a public URL: deadlines and bounds (security finding 9) --------------------------------------


async def _closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (60 s bound a real hang)."""
    async with asyncio.timeout(60):
        return await reader.read()


class _MovedClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock the test moves on: the receiver's deadlines (loop timers) come
    due when the test says, not after real seconds a loaded machine may stretch."""

    moved = 0.0

    def time(self) -> float:
        return super().time() + self.moved


IDLE = 30.0  # far longer than any scheduling stall: only the test's clock moves reach it


def test_serve_closes_connections_that_bring_no_request() -> None:
    """Silent connections, and heads sent a little at a time, are closed after idle_timeout:
    aiohttp alone keeps them open (an outside tester held them 90 s and more)."""
    loop = _MovedClockLoop()

    async def until(condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(60):  # a real hang's bound
            while not condition():  # noqa: ASYNC110 - the server's accept has no event to await
                await asyncio.sleep(0)  # one turn of the loop: no wall-clock time is waited

    async def scenario() -> None:
        receiver = WebhookReceiver(KEY)
        async with receiver.serve(idle_timeout=IDLE) as url:
            port = int(url.split(":")[2].split("/")[0])
            silent = await asyncio.open_connection("127.0.0.1", port)
            slow = await asyncio.open_connection("127.0.0.1", port)
            slow[1].write(b"POST /kie/callback HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no end
            await slow[1].drain()
            await until(lambda: len(receiver._connections) == 2)  # both accepted, deadlines set
            loop.moved += IDLE + 1
            assert await _closed(silent[0]) == b""
            assert await _closed(slow[0]) == b""
            # a whole request is answered, and its connection closed once idle afterwards
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            body = market_body(TASK_ID)
            head = f"POST /kie/callback HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode() + f"{TIMESTAMP_HEADER}: 1\r\n\r\n".encode() + body)
            async with asyncio.timeout(60):
                answer = await reader.readuntil(b"\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 401")  # answered (the signature is wrong)
            assert len(receiver._connections) == 1  # kept open (keep-alive) until idle
            loop.moved += IDLE + 1
            await _closed(reader)
            for stream in (silent[1], slow[1], writer):
                stream.close()
            assert len(receiver._connections) == 0

    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()


def test_a_body_slower_than_body_timeout_is_answered_408() -> None:
    async def scenario() -> tuple[bytes, bytes, bytes]:
        receiver = WebhookReceiver(KEY, body_timeout=0.2)
        async with receiver.serve() as url:
            port = int(url.split(":")[2].split("/")[0])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /kie/callback HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            answer = await _closed(reader)  # answered, and closed: the rest is not awaited
            writer.close()
            return answer.partition(b"\r\n\r\n")

    head, _, body = asyncio.run(scenario())
    assert head.startswith(b"HTTP/1.1 408")
    assert json.loads(body) == {"code": 408, "msg": "callback body not received within 0.2 s"}


def test_a_body_over_max_body_is_answered_413_unread() -> None:
    async def scenario() -> tuple[tuple[int, Any], tuple[int, Any]]:
        receiver = WebhookReceiver(KEY, max_body=1000)
        async with receiver.serve() as url:
            declared = await post(url, b"{" + b" " * 1000 + b"}")
            import aiohttp

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
                for _ in range(20):
                    yield b" " * 100

            async with (
                aiohttp.ClientSession() as session,
                session.post(url, data=chunks()) as answer,
            ):
                streamed = answer.status, await answer.json(content_type=None)
        return declared, streamed

    declared, streamed = asyncio.run(scenario())
    for status, answer in (declared, streamed):
        assert (status, answer["code"]) == (413, 413)
        assert "1000 bytes" in answer["msg"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_body", 0),
        ("max_body", 1.5),
        ("body_timeout", 0),
        ("unknown_rate", -1),
        ("unknown_rate", math.inf),
        ("max_age", math.nan),
        ("confirm_delays", (1.0, -2.0)),
    ],
)
def test_bad_receiver_options_are_refused_naming_them(option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=f"WebhookReceiver {option} must be"):
        WebhookReceiver(KEY, **{option: value})


def test_serve_refuses_a_bad_idle_timeout() -> None:
    async def scenario() -> None:
        async with WebhookReceiver(KEY).serve(idle_timeout=-1):
            raise AssertionError("served")

    with pytest.raises(ConfigurationError, match="WebhookReceiver idle_timeout must be"):
        asyncio.run(scenario())


def test_a_family_that_puts_its_task_id_elsewhere_is_read_through_its_provider() -> None:
    """A provider says where its family's callbacks carry the task id
    (``Provider.callback_task_id``); given it, the receiver reads, and verifies the signature
    of, a callback it would otherwise refuse for naming no task."""
    from kiekit_grok_imagine import GrokImagineProvider

    class JobIdCallbacks(GrokImagineProvider):
        def callback_task_id(self, payload: Any) -> str | None:
            job = (payload.get("data") or {}).get("job")
            return job.get("id") if isinstance(job, dict) else None

    body = json.dumps({"code": 200, "msg": "ok", "data": {"job": {"id": TASK_ID}}}).encode()
    headers = _headers(signed(TASK_ID))
    with pytest.raises(CallbackError, match="carries no task id"):
        WebhookReceiver(KEY).accept(body, **headers)
    receiver = WebhookReceiver(KEY, providers=[JobIdCallbacks()])
    callback = receiver.accept(body, **headers)
    assert callback is not None
    assert callback.task_id == TASK_ID
    with pytest.raises(SignatureError):  # the id read is the one the signature must cover
        receiver.accept(body, **_headers(signed("another-task")))


def test_the_clients_registry_reads_a_family_that_puts_its_task_id_elsewhere() -> None:
    """``WebhookReceiver(key, client=kie)``: the providers ``kie`` knows (its registry: the
    installed plugins, here one added to it) read the task id of their family's callbacks,
    which no ``providers=`` then has to repeat (marketplug's report: refused with HTTP 400
    and lost, since KIE never sends a callback again)."""
    from kiekit import Registry
    from kiekit_grok_imagine import GrokImagineProvider

    class JobIdCallbacks(GrokImagineProvider):
        def callback_task_id(self, payload: Any) -> str | None:
            job = (payload.get("data") or {}).get("job")
            return job.get("id") if isinstance(job, dict) else None

    registry = Registry(discover=False)
    registry.add_provider(JobIdCallbacks())
    body = json.dumps({"code": 200, "msg": "ok", "data": {"job": {"id": TASK_ID}}}).encode()

    async def scenario() -> None:
        async with AsyncClient("test-key", registry=registry, rate_limits=None) as kie:
            receiver = WebhookReceiver(KEY, client=kie)
            callback = receiver.accept(body, **_headers(signed(TASK_ID)))
            assert callback is not None
            assert callback.task_id == TASK_ID
            with pytest.raises(CallbackError, match="carries no task id"):
                receiver.accept(b'{"code": 200, "data": {}}', **_headers(signed(TASK_ID)))

    asyncio.run(scenario())


def test_a_task_confirmed_final_is_told_once_whatever_a_later_delivery_claims(
    mock_server_factory: Callable[..., Any],
) -> None:
    """A signature seen once may come again within max_age with another stage or code (the
    residual risk of §6.3): for a task already confirmed succeeded, it made on_status hear
    SUCCEEDED a second time, and a service ran its completion work twice. A final state
    never changes: later deliveries of the task (heard by on_callback, as every one is) make
    no status call and tell on_status nothing."""
    mock = mock_server_factory(polls_to_complete=10_000)
    told: list[State] = []

    async def scenario() -> tuple[WebhookReceiver, int]:
        async with AsyncClient("test-key", base_url=mock.base_url, rate_limits=None) as kie:
            task = await kie.submit(GROK, prompt="x")
            await _finish(mock, task.id)
            receiver = WebhookReceiver(
                client=kie, on_status=lambda s: told.append(s.state), confirm_delays=()
            )
            async with serving(receiver) as url:
                assert await post(url, market_body(task.id)) == (200, ACK)
                await receiver.drain()
                polls = len(mock.requests())
                assert await post(url, market_body(task.id, state="fail")) == (200, ACK)
                relabelled = json.loads(market_body(task.id))
                relabelled["code"] = 501
                assert await post(url, json.dumps(relabelled).encode()) == (200, ACK)
                await receiver.drain()
            return receiver, len(mock.requests()) - polls

    receiver, calls = asyncio.run(scenario())
    assert told == [State.SUCCEEDED]
    assert calls == 0  # no status call for a task known to have ended
    # the "fail" body has the first one's stage and code: a repeat; the code 501 one is new
    assert (receiver.accepted, receiver.repeated) == (2, 1)


# -- a service that lives on callbacks (outside tester "hooks") ------------------------------------


@pytest.mark.parametrize("outcome", ["success", "fail"])
def test_a_confirmed_end_is_journalled_before_on_status_so_it_may_hand_off(
    mock_server_factory: Callable[..., Any], outcome: str
) -> None:
    """The receiver journals a confirmed end as kie.wait does (client.finish: the result links,
    or the failure) before on_status runs: a callback-only service hands the links off from
    on_status (it was refused: the row still said "created"), and kie resume owes nothing."""
    mock = mock_server_factory(polls_to_complete=10_000)
    journal = Journal(MemoryStore())
    rows: list[Any] = []

    async def scenario() -> str:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, rate_limits=None, journal=journal
        ) as kie:

            async def on_status(status: TaskStatus) -> None:
                rows.append(journal.by_task(status.task_id))  # what on_status finds there
                if status.state is State.SUCCEEDED:
                    await kie.hand_off(status.task_id, reason="sent to the render queue")

            prompt = "x [mock:fail]" if outcome == "fail" else "x"
            task = await kie.submit(GROK, prompt=prompt)
            await _finish(mock, task.id)
            receiver = WebhookReceiver(client=kie, on_status=on_status)
            async with serving(receiver) as url:
                assert await post(url, market_body(task.id, state=outcome)) == (200, ACK)
                await receiver.drain()
            return task.id

    task_id = asyncio.run(scenario())
    row = journal.by_task(task_id)
    assert row is not None
    assert not row.unfinished  # kie resume neither polls nor downloads it
    if outcome == "success":
        assert rows[0].state is EntryState.SUCCEEDED
        assert rows[0].assets
        assert row.handed_off
    else:
        assert rows[0].state is row.state is EntryState.FAILED


def test_a_hook_that_fails_leaves_the_confirmed_end_owed_for_kie_resume(
    mock_server_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """on_status raising after the end was journalled: the row says succeeded, its files
    owed (kie resume downloads them), and the log says so rather than promising a delivery."""
    mock = mock_server_factory(polls_to_complete=10_000)
    journal = Journal(MemoryStore())

    def on_status(_status: TaskStatus) -> None:
        raise RuntimeError("the queue is down")

    async def scenario() -> str:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, rate_limits=None, journal=journal
        ) as kie:
            task = await kie.submit(GROK, prompt="x")
            await _finish(mock, task.id)
            receiver = WebhookReceiver(client=kie, on_status=on_status)
            async with serving(receiver) as url:
                assert await post(url, market_body(task.id)) == (200, ACK)
                await receiver.drain()
            return task.id

    with caplog.at_level("ERROR", logger="kiekit.webhooks"):
        task_id = asyncio.run(scenario())
    row = journal.by_task(task_id)
    assert row is not None
    assert (row.state, row.unfinished, row.handed_off) == (EntryState.SUCCEEDED, True, False)
    assert row.assets
    assert "files owed): kie resume downloads them" in caplog.text


def test_a_wait_on_a_task_the_receiver_journalled_is_not_journalled_twice(
    mock_server_factory: Callable[..., Any],
) -> None:
    """A wait woken by the receiver ends with the results the receiver's journalling made: a
    hand-off done in on_status is not written over by the wait's own end."""
    mock = _mock(mock_server_factory)
    journal = Journal(MemoryStore())

    async def scenario() -> str:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=SLOW, rate_limits=None, journal=journal
        ) as kie:

            async def on_status(status: TaskStatus) -> None:
                await kie.hand_off(status.task_id)

            receiver = WebhookReceiver(KEY, client=kie, on_status=on_status)
            async with serving(receiver) as url:
                task = await kie.submit(GROK, prompt="x", callback_url=url)
                waiting = asyncio.ensure_future(receiver.wait(kie, task))
                await _finish(mock, task.id)
                assert (await asyncio.wait_for(waiting, 30)).assets
                await receiver.drain()
            return task.id

    row = journal.by_task(asyncio.run(scenario()))
    assert row is not None
    assert row.handed_off


def test_an_async_on_callback_runs_after_the_answer(
    mock_server_factory: Callable[..., Any],
) -> None:
    """on_callback as on_status: an ``async def`` hook is awaited (its coroutine was dropped,
    never awaited), and it runs after the answer: KIE's delivery (15 s, §6.1) never waits on
    it. The hook here cannot end before the test lets it, which it does once answered."""
    mock = mock_server_factory(polls_to_complete=10_000)
    heard: list[str] = []

    async def scenario() -> None:
        release = asyncio.Event()

        async def on_callback(callback: Any) -> None:
            await release.wait()
            heard.append(callback.task_id)

        async with AsyncClient("test-key", base_url=mock.base_url, rate_limits=None) as kie:
            task = await kie.submit(GROK, prompt="x")
            receiver = WebhookReceiver(client=kie, on_callback=on_callback)
            async with serving(receiver) as url:
                assert await post(url, market_body(task.id)) == (200, ACK)  # hook still held
                assert not heard
                release.set()
                await receiver.drain()
                assert heard == [task.id]
                # accept(), framework-free: the async hook is started on the running loop
                receiver.accept(market_body("another-task"), None, None)
                await receiver.drain()
                assert heard == [task.id, "another-task"]

    asyncio.run(scenario())


def test_accept_with_an_async_on_callback_and_no_event_loop_says_so() -> None:
    async def on_callback(_callback: Any) -> None:
        raise AssertionError("never run")

    receiver = WebhookReceiver(on_callback=on_callback)
    with pytest.raises(ConfigurationError, match="on_callback is async"):
        receiver.accept(market_body(TASK_ID), None, None)


def test_refused_callbacks_are_logged_with_their_reason_at_most_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A mistyped or rotated HMAC key refuses every real callback: the operator saw nothing
    (only receiver.refused counted). The first refusal is a warning with its reason, a flood
    one warning a minute by the receiver's clock; never the key, never the body."""
    now = [float(NOW)]
    secret = "a-body-secret-1f3e"

    async def scenario() -> WebhookReceiver:
        receiver = WebhookReceiver(KEY, clock=lambda: now[0])
        body = json.dumps({"code": 200, "data": {"taskId": TASK_ID, "note": secret}}).encode()
        async with serving(receiver) as url:
            for _ in range(3):  # signed with another key: 401
                status, _ = await post(url, body, signed(TASK_ID, key="rotated", at=now[0]))
                assert status == 401
            now[0] += 61
            assert (await post(url, b"<html>" + secret.encode()))[0] == 400
            stale = signed(TASK_ID, at=now[0] - 3600)
            assert (await post(url, body, stale))[0] == 401
        return receiver

    with caplog.at_level("WARNING", logger="kiekit.webhooks"):
        receiver = asyncio.run(scenario())
    assert receiver.refused == 5
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2, warnings
    assert "HTTP 401, the callback's signature does not match" in warnings[0]
    assert "hmac_key" in warnings[0]
    assert "refused 3 callback(s)" in warnings[1]  # two held back, and this one
    assert "HTTP 400, callback body is not JSON" in warnings[1]
    assert all(KEY not in text and secret not in text for text in warnings)


def test_a_code_sent_as_text_is_read_as_a_number() -> None:
    """§6.2's shapes show numbers; a "200" in text is the same code (be liberal, DESIGN.md),
    not None (which made a failure code in text read as no failure)."""
    assert parse_callback(b'{"code": "200", "taskId": "t"}').code == 200
    assert parse_callback(b'{"code": " 501 ", "taskId": "t"}').code == 501
    failed = parse_callback(b'{"code": "501", "taskId": "t", "data": {"callbackType": "text"}}')
    assert failed.announces_end
    assert parse_callback(b'{"code": "two hundred", "taskId": "t"}').code is None
    assert parse_callback(b'{"code": true, "taskId": "t"}').code is None
    assert parse_callback(b'{"task_id": "t"}').task_id == "t"  # top-level task_id, listed


def test_a_delivery_after_a_restart_does_not_undo_a_hand_off(
    mock_server_factory: Callable[..., Any],
) -> None:
    """A receiver started afresh (it remembers no ended task) hears the task again: its row,
    handed off already, keeps the mark (a wait's end written again would have cleared it, and
    kie resume would then download what was handed on)."""
    mock = mock_server_factory(polls_to_complete=10_000)
    journal = Journal(MemoryStore())
    told: list[State] = []

    async def scenario() -> str:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, rate_limits=None, journal=journal
        ) as kie:
            task = await kie.submit(GROK, prompt="x")
            await _finish(mock, task.id)
            await kie.finish(task, await kie.status(task))
            await kie.hand_off(task, reason="sent on")
            receiver = WebhookReceiver(client=kie, on_status=lambda s: told.append(s.state))
            async with serving(receiver) as url:
                assert await post(url, market_body(task.id)) == (200, ACK)
                await receiver.drain()
            return task.id

    row = journal.by_task(asyncio.run(scenario()))
    assert told == [State.SUCCEEDED]
    assert row is not None
    assert row.handed_off
