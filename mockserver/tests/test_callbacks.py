"""Callbacks (kie-api.md §2.3, §3.2, §6): recorded always, POSTed only to loopback receivers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from kiekit_mock import MockConfig, create_app, runtime_of
from kiekit_mock.callbacks import CallbackDispatcher, is_loopback_host, loopback_refusal

if TYPE_CHECKING:
    from conftest import MakeMock, StandInResolver

T2I = "grok-imagine/text-to-image"


class Receiver:
    """A tiny aiohttp callback receiver on 127.0.0.1; answers with `status`."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.status = status
        self.location = location
        self.calls: list[tuple[dict[str, str], Any]] = []
        self.urls: list[str] = []  # each call's path and query, as it came
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((dict(request.headers), await request.json()))
        self.urls.append(str(request.rel_url))
        self.arrived.set()
        headers = {"Location": self.location} if self.location else None
        return web.json_response(
            {"code": 200, "msg": "success"}, status=self.status, headers=headers
        )


@asynccontextmanager
async def running(receiver: Receiver) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/cb", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/cb"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def mock_kie(config: MockConfig) -> AsyncIterator[tuple[web.Application, Any]]:
    """create_app under aiohttp's own test server, with a client session bound to it."""
    app = create_app(config)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        aiohttp.ClientSession(
            base_url=str(server.make_url("")), headers={"Authorization": "Bearer cb-key"}
        ) as session,
    ):
        yield app, session


async def _create_and_poll(session: Any, path: str, body: dict[str, Any], poll: str) -> str:
    async with session.post(path, json=body) as response:
        task_id = str((await response.json())["data"]["taskId"])
    async with session.get(f"{poll}?taskId={task_id}") as response:
        assert (await response.json())["code"] == 200
    return task_id


def test_market_callback_is_delivered_to_a_loopback_receiver() -> None:
    async def scenario() -> None:
        receiver = Receiver()
        async with (
            running(receiver) as url,
            mock_kie(MockConfig(webhook_hmac_key="s3cret")) as (
                app,
                session,
            ),
        ):
            body = {"model": T2I, "callBackUrl": url, "input": {"prompt": "hello"}}
            task_id = await _create_and_poll(
                session, "/api/v1/jobs/createTask", body, "/api/v1/jobs/recordInfo"
            )
            await asyncio.wait_for(receiver.arrived.wait(), 5)
            await runtime_of(app).callbacks.wait_idle()

            ((headers, payload),) = receiver.calls
            assert payload["code"] == 200
            assert payload["msg"] == "Playground task completed successfully."
            assert payload["data"]["taskId"] == task_id
            assert payload["data"]["state"] == "success"
            assert isinstance(payload["data"]["resultJson"], str)
            assert headers["Content-Type"].startswith("application/json")
            # §6.3 signature: base64(HMAC-SHA256(key, "taskId.timestamp"))
            stamp = headers["X-Webhook-Timestamp"]
            mac = hmac.new(b"s3cret", f"{task_id}.{stamp}".encode(), hashlib.sha256).digest()
            assert headers["X-Webhook-Signature"] == base64.b64encode(mac).decode()

            (record,) = runtime_of(app).callbacks.records()
            assert (record.delivered, record.status, record.reason) == (True, 200, None)
            assert record.payload == payload

    asyncio.run(scenario())


def test_a_callback_urls_tokens_are_kept_and_shown_as_stars_but_called_as_given() -> None:
    """A receiver's ``?token=`` in callBackUrl was kept whole in the journal (a create's body,
    a record echoing it), the task list and the callback records, so the inspector showed it
    (a security review's leftover): each is ``***`` there (masking.py), the callback still
    goes to the URL as given, with its body as made."""
    query = "?token=tok-canary&sig=sig-canary&X-Amz-Security-Token=amz-canary&job=keep-7"

    async def scenario() -> None:
        receiver = Receiver()
        async with running(receiver) as url, mock_kie(MockConfig()) as (app, session):
            secret_url = url + query
            body = {"model": T2I, "callBackUrl": secret_url, "input": {"prompt": "hello"}}
            task_id = await _create_and_poll(
                session, "/api/v1/jobs/createTask", body, "/api/v1/jobs/recordInfo"
            )
            luma = {"prompt": "p", "videoUrl": "https://x/v.mp4", "callBackUrl": secret_url}
            await _create_and_poll(
                session, "/api/v1/modify/generate", luma, "/api/v1/modify/record-info"
            )  # Luma's record echoes its callBackUrl (paramJson: a JSON string)
            await runtime_of(app).callbacks.wait_idle()

            assert receiver.urls == ["/cb" + query] * 2  # called as given
            sent = json.loads(receiver.calls[0][1]["data"]["param"])
            assert sent["callBackUrl"] == secret_url  # the body as made

            shown = url + "?token=***&sig=***&X-Amz-Security-Token=***&job=keep-7"
            record = runtime_of(app).callbacks.records_of(task_id)[0]
            assert (record.url, record.delivered) == (shown, True)
            assert json.loads(record.payload["data"]["param"])["callBackUrl"] == shown
            (create, *_) = runtime_of(app).journal.records()
            assert create.body is not None
            assert create.body["callBackUrl"] == shown
            kept = [
                json.dumps(r.to_json(), default=repr) for r in runtime_of(app).journal.records()
            ]
            kept += [json.dumps(r.to_json()) for r in runtime_of(app).callbacks.records()]
            kept += [json.dumps(t.to_json()) for t in runtime_of(app).store.snapshots()]
            for path in ("/_mock/journal?limit=50", "/_mock/callbacks", "/_mock/tasks"):
                async with session.get(path) as answer:
                    assert answer.status == 200
                    kept.append(await answer.text())
            assert any("keep-7" in text for text in kept)
            assert not [text for text in kept if "canary" in text]

    asyncio.run(scenario())


def test_flux_callback_is_delivered_to_localhost() -> None:
    async def scenario() -> None:
        receiver = Receiver()
        async with running(receiver) as url, mock_kie(MockConfig()) as (app, session):
            url = url.replace("127.0.0.1", "localhost")
            body = {"prompt": "p", "callBackUrl": url}
            task_id = await _create_and_poll(
                session, "/api/v1/flux/kontext/generate", body, "/api/v1/flux/kontext/record-info"
            )
            await runtime_of(app).callbacks.wait_idle()
            ((_, payload),) = receiver.calls
            assert payload["msg"] == "BFL image generated successfully."
            assert payload["data"]["taskId"] == task_id
            assert set(payload["data"]["info"]) == {"originImageUrl", "resultImageUrl"}
            assert "X-Webhook-Signature" not in receiver.calls[0][0]

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("status", "location"), [(500, None), (302, "https://your-domain.com/elsewhere")]
)
def test_a_refusing_receiver_is_recorded_not_raised(status: int, location: str | None) -> None:
    async def scenario() -> None:
        receiver = Receiver(status, location)
        async with running(receiver) as url, mock_kie(MockConfig()) as (app, session):
            body = {"model": T2I, "callBackUrl": url, "input": {"prompt": "p"}}
            await _create_and_poll(
                session, "/api/v1/jobs/createTask", body, "/api/v1/jobs/recordInfo"
            )
            await runtime_of(app).callbacks.wait_idle()
            (record,) = runtime_of(app).callbacks.records()
            assert record.delivered is False
            assert record.status == status  # a redirect is never followed
            assert record.reason == f"receiver answered HTTP {status}"
            assert len(receiver.calls) == 1

    asyncio.run(scenario())


def test_unreachable_loopback_receiver_is_recorded(make_mock: MakeMock) -> None:
    mock, kie = make_mock()
    body = {"model": T2I, "callBackUrl": "http://127.0.0.1:1/cb", "input": {"prompt": "p"}}
    kie.record(kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"])
    (record,) = mock.callbacks()
    assert record.delivered is False
    assert record.reason is not None
    assert record.reason.startswith("delivery failed")


def test_waiting_for_deliveries_ignores_those_owed_after_it_began() -> None:
    """A steady stream of new deliveries cannot starve a wait: it waits for those in flight
    when it began (it used to wait until none at all was in flight)."""

    async def scenario() -> None:
        first, second = asyncio.Event(), asyncio.Event()

        async def handle(request: web.Request) -> web.Response:
            # bounded holds, so that the old behaviour fails the test instead of hanging it
            release = first if request.path == "/first" else second
            await asyncio.wait_for(release.wait(), 5)
            return web.json_response({})

        receiver = web.Application()
        receiver.router.add_post("/{name}", handle)
        dispatcher = CallbackDispatcher(timeout=15, hmac_key=None)
        async with TestServer(receiver, host="127.0.0.1") as hooks:
            dispatcher.dispatch("t1", str(hooks.make_url("/first")), {})
            waiting = asyncio.create_task(dispatcher.wait_idle())
            await asyncio.sleep(0)  # the wait starts and sees what is in flight
            dispatcher.dispatch("t2", str(hooks.make_url("/second")), {})
            first.set()
            assert await waiting is True
            assert [r.reason for r in dispatcher.records()] == [None, "pending"]
            second.set()
            await dispatcher.wait_idle()
        assert [r.delivered for r in dispatcher.records()] == [True, True]

    asyncio.run(scenario())


class _Sink(BaseHTTPRequestHandler):
    received: list[bytes]

    def do_POST(self) -> None:
        self.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def sink() -> Iterator[tuple[str, list[bytes]]]:
    """A receiver in its own thread, for tests that drive MockServer from blocking code."""
    received: list[bytes] = []
    handler = type("Sink", (_Sink,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_mock_server_delivers_on_advance(make_mock: MakeMock) -> None:
    mock, kie = make_mock(polls_to_complete=5)
    with sink() as (url, received):
        body = {"model": T2I, "callBackUrl": url, "input": {"prompt": "p"}}
        task_id = kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"]
        assert mock.advance(task_id) == "queuing"
        assert mock.callbacks() == []
        mock.set_outcome(task_id, "fail")
        assert mock.advance(task_id) == "generating"
        assert mock.advance(task_id) == "fail"
        (record,) = mock.callbacks()  # waits for the delivery in flight
        assert record.delivered is True
        (raw,) = received
        assert json.loads(raw)["code"] == 501


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]"]
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    ["your-domain.com", "10.0.0.1", "192.168.1.1", "0.0.0.0", "127.0.0.1.nip.io", ""],  # noqa: S104
)
def test_non_loopback_hosts(host: str) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/cb", True),
        ("https://localhost/cb", True),
        ("http://[::1]:9000/cb", True),
        ("https://your-domain.com/api/callback", False),
        ("http://127.0.0.1@evil.example/cb", False),
        ("ftp://127.0.0.1/cb", False),
        ("http://127.0.0.1:99999/cb", False),
    ],
)
def test_loopback_refusal(url: str, allowed: bool) -> None:
    assert (loopback_refusal(url) is None) is allowed


def test_a_callback_to_localhost_goes_to_loopback_whatever_a_resolver_would_say(
    resolve_as: Callable[..., StandInResolver],
) -> None:
    """localhost is loopback by definition (RFC 6761), answered without asking any resolver:
    a hosts file or DNS that says otherwise is never consulted."""
    resolver = resolve_as({"localhost": ["192.0.2.33"]})

    async def scenario() -> None:
        receiver = Receiver()
        async with running(receiver) as url, mock_kie(MockConfig()) as (app, session):
            body = {
                "model": T2I,
                "callBackUrl": url.replace("127.0.0.1", "localhost"),
                "input": {"prompt": "p"},
            }
            await _create_and_poll(
                session, "/api/v1/jobs/createTask", body, "/api/v1/jobs/recordInfo"
            )
            await runtime_of(app).callbacks.wait_idle()
            (record,) = runtime_of(app).callbacks.records()
            assert record.delivered is True
            assert len(receiver.calls) == 1
            assert resolver.asked == []

    asyncio.run(scenario())


def test_a_tasks_staged_callbacks_reach_the_receiver_in_order_one_at_a_time() -> None:
    """Suno's text → first → complete (§3.6, §11), owed all at once by one move of the clock
    for several songs: each song's callbacks arrive in that order, each once the one before it
    was answered (the receiver holds `text` until the later ones are queued behind it, or, were
    they sent at once, until `complete` has come), while the songs go concurrently."""
    SONGS = 4

    async def scenario() -> None:
        answered: dict[str, list[str]] = {}
        arrived: dict[str, list[str]] = {}
        changed = asyncio.Condition()

        async def handle(request: web.Request) -> web.Response:
            data = (await request.json())["data"]
            task_id, stage = data["task_id"], data["callbackType"]
            async with changed:
                arrived.setdefault(task_id, []).append(stage)
                changed.notify_all()
                if stage == "text":
                    await changed.wait_for(
                        lambda: "complete" in arrived[task_id] or dispatcher.queued(task_id) == 2
                    )
                answered.setdefault(task_id, []).append(stage)
            return web.json_response({"code": 200, "msg": "success"})

        receiver = web.Application()
        receiver.router.add_post("/order", handle)
        async with (
            TestServer(receiver, host="127.0.0.1") as hooks,
            mock_kie(MockConfig(seconds_to_complete=600)) as (app, session),
        ):
            dispatcher = runtime_of(app).callbacks
            body = {
                "prompt": "p",
                "customMode": False,
                "instrumental": True,
                "model": "V4_5",
                "callBackUrl": str(hooks.make_url("/order")),
            }
            songs = []
            for _ in range(SONGS):
                async with session.post("/api/v1/generate", json=body) as response:
                    songs.append((await response.json())["data"]["taskId"])
            runtime_of(app).clock.advance(600)  # every song ends at once, owing every stage
            await dispatcher.wait_idle()

        assert sorted(answered) == sorted(songs)
        for song in songs:
            assert arrived[song] == answered[song] == ["text", "first", "complete"], song
        assert all(record.delivered for record in dispatcher.records())

    asyncio.run(scenario())


def test_a_servers_deliveries_share_one_session_closed_when_it_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each delivery made its own ClientSession, connector, resolver and TCP connection:
    ~1 ms of the mock's CPU each (tools/bench/mock_callback_cpu.py). One is opened when the
    server starts and closed when it stops; the egress rules are the session's, unchanged."""
    from kiekit_mock.egress import Egress

    sessions: list[aiohttp.ClientSession] = []
    made = Egress.session

    @asynccontextmanager
    async def counted(self: Egress, **options: Any) -> AsyncIterator[aiohttp.ClientSession]:
        async with made(self, **options) as session:
            sessions.append(session)
            yield session

    monkeypatch.setattr(Egress, "session", counted)

    async def scenario() -> None:
        receiver = Receiver()
        async with running(receiver) as url, mock_kie(MockConfig()) as (app, session):
            for prompt in ("one", "two", "three"):
                body = {"model": T2I, "callBackUrl": url, "input": {"prompt": prompt}}
                await _create_and_poll(
                    session, "/api/v1/jobs/createTask", body, "/api/v1/jobs/recordInfo"
                )
                await runtime_of(app).callbacks.wait_idle()
            records = runtime_of(app).callbacks.records()
            assert [record.delivered for record in records] == [True, True, True]
            assert len(receiver.calls) == 3
            assert len(sessions) == 1
            assert not sessions[0].closed
        assert sessions[0].closed  # the server stopped

    asyncio.run(scenario())
