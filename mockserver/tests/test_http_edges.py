"""HTTP edges a client in any language meets: HEAD on a status route, the control API's
unknown routes and methods, and a create whose client hung up before its answer was ready."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web
from kiekit_mock import MockServer, create_app, runtime_of
from kiekit_mock.connections import TimedAppRunner
from kiekit_mock.faults import FaultRule
from kiekit_mock.faults_http import _WAKE

CREATE = "/api/v1/jobs/createTask"
CREATE_BODY = {"model": "grok-imagine/text-to-image", "input": {"prompt": "a fox"}}
RECORD_INFO = "/api/v1/jobs/recordInfo?taskId="


def test_head_on_a_status_route_never_moves_the_task_nor_sends_its_callback(
    mock: MockServer, kie: Any
) -> None:
    """curl -I or a health probe on recordInfo reads the task; only a GET is a poll."""
    body = CREATE_BODY | {"callBackUrl": "http://127.0.0.1:9/hook"}
    task_id = kie.ok(kie.post(CREATE, body))["taskId"]
    headers = {"Authorization": "Bearer test-key"}
    for _ in range(6):
        head = kie.fetch(mock.base_url + RECORD_INFO + task_id, method="HEAD", headers=headers)
        assert (head.status, head.body) == (200, b"")
        assert head.content_type.startswith("application/json")
    task = mock.task(task_id)
    assert (task.state, task.polls) == ("waiting", 0)
    assert mock.callbacks() == []
    kie.record(task_id)  # a GET: a poll
    assert mock.task(task_id).polls == 1


@pytest.mark.parametrize(
    ("method", "path", "status", "field"),
    [
        ("GET", "/_mock/no-such-route", 404, "path"),
        ("POST", "/_mock/health", 405, "method"),
        ("DELETE", "/_mock/tasks", 405, "method"),
    ],
)
def test_every_control_answer_is_json_even_for_an_unknown_route_or_method(
    mock: MockServer, kie: Any, method: str, path: str, status: int, field: str
) -> None:
    answer = kie.fetch(mock.base_url + path, method=method, data=b"" if method != "GET" else None)
    assert answer.status == status
    assert answer.content_type.startswith("application/json")
    refused = answer.json()
    assert refused["field"] == field
    assert path in refused["error"]
    if status == 405:
        assert "GET" in answer.headers["allow"]


async def _send_create(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps(CREATE_BODY).encode()
    head = (
        f"POST {CREATE} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer k\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    return reader, writer


async def _until(done: Any) -> None:
    """Wait for ``done()`` by yielding to the loop (the test's timeout bounds it): what it
    waits on is the server's own state, which no event announces."""
    while not done():  # noqa: ASYNC110
        await asyncio.sleep(0.001)


async def _hang_up_on_a_slow_create(
    app: web.Application, runner: TimedAppRunner, port: int
) -> None:
    rt = runtime_of(app)
    server = runner.server
    assert server is not None
    _, writer = await _send_create(port)
    await _until(rt.store.snapshots)  # the task is made; the fault now holds its answer
    writer.close()  # the client gives up
    await writer.wait_closed()
    # the mock has seen it go (aiohttp keeps the connection listed while its answer is owed)
    await _until(
        lambda: all(c.transport is None or c.transport.is_closing() for c in server.connections)
    )
    app[_WAKE].set()  # the slow fault's wait ends now: the answer is ready, too late
    await _until(rt.journal.records)
    (record,) = rt.journal.records()
    assert record.answer is not None
    assert record.answer.delivered is False
    assert record.to_json()["answer"]["delivered"] is False
    assert rt.store.snapshots()[0].state == "waiting"  # made (and charged) all the same

    # a client that waits gets its answer, journaled as delivered
    reader, writer = await _send_create(port)
    assert (await reader.readline()).startswith(b"HTTP/1.1 200")
    writer.close()
    await writer.wait_closed()
    await _until(lambda: len(rt.journal.records()) == 2)
    answer = rt.journal.records()[1].answer
    assert answer is not None
    assert answer.delivered is True


def test_a_create_whose_client_hung_up_before_its_answer_is_journaled_as_not_delivered() -> None:
    """A slow fault holds a create's answer; its client gives up first. The task stands (made
    and charged), and the journal says its answer never reached the client."""

    async def scenario() -> None:
        app = create_app()
        runtime_of(app).faults.add(FaultRule("slow", path=CREATE, when="after", delay=300, times=1))
        # the mock's own runner: a client's hang-up does not cancel the handler (aiohttp's
        # TestServer would), so the answer is made, as `kie mock serve` makes it
        runner = TimedAppRunner(app, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            async with asyncio.timeout(60):
                await _hang_up_on_a_slow_create(app, runner, runner.addresses[0][1])
        finally:
            await runner.cleanup()

    asyncio.run(scenario())
