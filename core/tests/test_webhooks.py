"""Webhooks: KIE's signature (§6.3), every family's callback shape (§6.2), and the receiver —
against the mock's real, signed callbacks on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from kiekit import AsyncClient, PollPolicy, State, TaskStatus, WaitTimeoutError
from kiekit.journal import Journal, MemoryStore
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
        (b'{"data": {"taskId": 42}}', "no task id"),
        (json.dumps({"taskId": "x" * 300}).encode(), "not a task id"),
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


def test_the_receiver_acks_verifies_and_drops_repeats() -> None:
    async def scenario() -> None:
        receiver = WebhookReceiver(KEY)
        async with serving(receiver) as url:
            body = market_body(TASK_ID)
            assert await post(url, body, signed(TASK_ID)) == (200, ACK)
            assert await post(url, body, signed(TASK_ID)) == (200, ACK)  # a repeat: still 200
            status, answer = await post(url, body)  # unsigned
            assert (status, answer["code"]) == (401, 401)
            status, _ = await post(url, body, signed(TASK_ID, key="wrong"))
            assert status == 401
            status, _ = await post(url, body, signed(TASK_ID, at=time.time() - 3600))
            assert status == 401
            status, answer = await post(url, b"<html>", signed(TASK_ID))
            assert (status, answer["code"]) == (400, 400)
        assert (receiver.accepted, receiver.repeated, receiver.refused) == (1, 1, 4)

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
    assert len(polls) == 1  # only the one the callback triggered: the schedule's first is far off


def test_on_status_hears_of_a_callback_for_a_task_a_wait_is_on_too(
    mock_server_factory: Callable[..., Any],
) -> None:
    """on_status is told of every accepted callback, confirmed: a waited task's as well (the
    wait ends with its own poll)."""
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
    The receiver hands on the state KIE reports, not the body's claim."""
    mock = _mock(mock_server_factory)
    seen: list[TaskStatus] = []

    async def scenario() -> None:
        async with AsyncClient("test-key", base_url=mock.base_url, rate_limits=None) as kie:
            task = await kie.submit(GROK, prompt="x")
            receiver = WebhookReceiver(KEY, client=kie, on_status=seen.append)
            async with serving(receiver) as url:
                forged = market_body(task.id, state="success")  # the task is still pending
                assert await post(url, forged, signed(task.id)) == (200, ACK)
                await _until(lambda: bool(seen))

    asyncio.run(scenario())
    assert [status.state for status in seen] == [State.QUEUED]


def test_the_receiver_finds_a_tasks_model_in_the_journal(
    mock_server_factory: Callable[..., Any],
) -> None:
    """Legacy families' callbacks do not name the model: the journal does."""
    mock = mock_server_factory(polls_to_complete=10_000)
    seen: list[TaskStatus] = []
    journal = Journal(MemoryStore())

    async def scenario() -> None:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, rate_limits=None, journal=journal
        ) as kie:
            task = await kie.submit("flux-kontext-pro", prompt="x")
            receiver = WebhookReceiver(client=kie, journal=journal, on_status=seen.append)
            async with serving(receiver) as url:
                body = {"code": 200, "msg": "ok", "data": {"taskId": task.id, "info": None}}
                assert await post(url, json.dumps(body).encode()) == (200, ACK)
                await _until(lambda: bool(seen))
                assert seen[0].task_id == task.id

    asyncio.run(scenario())
    assert seen[0].state in (State.QUEUED, State.RUNNING)


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
            _failing_status(mock, times=2)  # the first two confirmations fail
            receiver = WebhookReceiver(client=kie, on_status=seen.append, confirm_delays=(0, 0))
            async with serving(receiver) as url:
                assert await post(url, market_body(task.id)) == (200, ACK)
                await _until(lambda: bool(seen))

    with caplog.at_level("WARNING", logger="kiekit.webhooks"):
        asyncio.run(scenario())
    assert [status.state for status in seen] == [State.QUEUED]
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"a callback for task {seen[0].task_id} is not confirmed yet"
    ] * 2


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
    assert [(c.task_id, c.delivered) for c in mock.callbacks()] == [(task.id, True)]
    polls = [r for r in mock.requests() if r.path.endswith("/recordInfo")]
    assert len(polls) == 1  # the one the callback triggered


def test_an_on_callback_that_raises_loses_neither_the_wait_nor_the_next_delivery(
    mock_server_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The application's hook failing once (a log sink down) is said on kiekit.webhooks and
    answered 500; the wait on the task is woken all the same, and KIE's next delivery of the
    callback is handled, not dropped as a repeat (an outside tester's service lost it so)."""
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
                status, answer = await post(url, market_body(task.id))
                assert (status, answer["code"]) == (500, 500)
                assert (await asyncio.wait_for(waiting, 60)).assets  # woken, and confirmed
                assert await post(url, market_body(task.id)) == (200, ACK)  # handled again
            return receiver

    with caplog.at_level("ERROR", logger="kiekit.webhooks"):
        receiver = asyncio.run(scenario())
    assert len(heard) == 2
    assert receiver.repeated == 0
    assert "on_callback raised for task" in caplog.text


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
