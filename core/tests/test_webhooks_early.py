"""Webhooks in an application of one's own: a callback that comes before the create's answer
(KIE may call back first, and never again: kie-api.md §6.1), ``receiver.receive`` for any web
framework, and two downloads of one task at once."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
import types
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from kiekit import AsyncClient, State, Task, TaskStatus
from kiekit._transports.aiohttp_transport import AiohttpTransport
from kiekit.journal import EntryState, Journal, MemoryStore
from kiekit.webhooks import ACK, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookReceiver, sign

KEY = "whk-test-7c1d"
GROK = "grok-imagine/text-to-image"
FLUX = "flux-kontext-pro"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "journal-batch-webhooks.md"


class _Held(AiohttpTransport):
    """aiohttp's transport, holding each create's answer (a POST) until ``release`` is set:
    KIE has made the task (``answered``), and its answer has not reached kiekit yet. Result
    files are held too, while ``hold_files`` is clear (``fetching`` counts the fetches)."""

    def __init__(self) -> None:
        super().__init__()
        self.answered = asyncio.Event()
        self.release = asyncio.Event()
        self.hold_files = asyncio.Event()
        self.hold_files.set()
        self.fetching = 0

    async def send(self, request: Any) -> Any:
        answer = await super().send(request)
        if request.method == "POST":
            self.answered.set()
            await self.release.wait()
        return answer

    async def fetch(self, fetch: Any) -> Path:
        self.fetching += 1
        await self.hold_files.wait()
        return await super().fetch(fetch)


async def _finish(mock: Any, task_id: str) -> None:
    for _ in range(5):
        if await asyncio.to_thread(mock.advance, task_id) in ("success", "fail"):
            return
    raise AssertionError("the mock task did not finish")


async def _until(condition: Callable[[], bool]) -> None:
    """A condition another task makes true, 60 s bounding a real hang (as test_webhooks')."""
    async with asyncio.timeout(60):
        while not condition():  # noqa: ASYNC110 (set by the receiver's own task; no event)
            await asyncio.sleep(0.01)


@asynccontextmanager
async def _serving(receiver: WebhookReceiver) -> AsyncIterator[str]:
    """The receiver's aiohttp app on 127.0.0.1 (as test_webhooks'); yields its URL."""
    from aiohttp import web

    runner = web.AppRunner(receiver.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}{receiver.path}"
    finally:
        await runner.cleanup()


async def _post(url: str, body: bytes) -> int:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.post(url, data=body) as answer:
        return answer.status


def _body(model: str, task_id: str) -> bytes:
    if model == GROK:  # a market callback names the model (§6.2)
        data: dict[str, Any] = {"taskId": task_id, "model": GROK, "state": "success"}
    else:  # a legacy one does not
        data = {"taskId": task_id, "info": None}
    return json.dumps({"code": 200, "msg": "ok", "data": data}).encode()


@pytest.mark.parametrize("model", [GROK, FLUX])
def test_a_callback_before_the_creates_answer_is_tied_to_its_row(
    mock_server_factory: Callable[..., Any], model: str, tmp_path: Path
) -> None:
    """The callback came while the create's answer was on its way (outside tester
    "webhookapp", finding 1): a legacy task's on_status was never told (its model unknown,
    the warning said to adopt a task kiekit made), a market task's end was not journalled
    (hand_off failed in on_status, kie resume downloaded again). Now it waits for the
    create's answer, then is handled as a later one: the end journalled before on_status,
    which may hand off or download."""
    mock = mock_server_factory(polls_to_complete=10_000)
    journal = Journal(MemoryStore())
    told: list[tuple[State, EntryState | None]] = []

    async def scenario() -> str:
        transport = _Held()
        async with AsyncClient(
            "test-key", base_url=mock.base_url, rate_limits=None, journal=journal,
            transport=transport,
        ) as kie:  # fmt: skip

            async def on_status(status: TaskStatus) -> None:
                row = journal.by_task(status.task_id)
                told.append((status.state, None if row is None else row.state))
                if model == GROK:
                    await kie.hand_off(status.task_id, reason="sent on")
                else:
                    await kie.download(await kie.finish(Task(status.task_id, model), status),
                                       tmp_path)  # fmt: skip

            receiver = WebhookReceiver(client=kie, on_status=on_status)
            submitting = asyncio.ensure_future(kie.submit(model, prompt="x"))
            await transport.answered.wait()  # KIE made it; its answer is held
            [made] = mock.tasks()
            await _finish(mock, made.task_id)
            async with _serving(receiver) as url:
                assert await _post(url, _body(model, made.task_id)) == 200
                assert told == []  # nothing to tie it to yet: it waits for the create
                transport.release.set()
                task = await submitting
                await receiver.drain()
            await transport.close()
            return task.id

    task_id = asyncio.run(scenario())
    assert told == [(State.SUCCEEDED, EntryState.SUCCEEDED)]
    row = journal.by_task(task_id)
    assert row is not None
    assert not row.unfinished  # kie resume neither polls nor downloads it again
    assert row.handed_off if model == GROK else row.files


def test_a_callback_before_another_processs_create_is_answered_looks_again(
    mock_server_factory: Callable[..., Any],
) -> None:
    """A webhook process beside the creating one, on one journal: the other's row is
    ``sending``; the callback is looked at again (the receiver's sleep) until it names the
    task."""
    mock = mock_server_factory(polls_to_complete=10_000)
    store = MemoryStore()
    creator, receiving = Journal(store), Journal(store)  # two processes' journals
    told: list[TaskStatus] = []
    naps: list[float] = []

    async def scenario() -> None:
        nap = asyncio.Event()

        async def sleep(seconds: float) -> None:
            naps.append(seconds)
            await nap.wait()
            nap.clear()

        async with (
            AsyncClient("test-key", base_url=mock.base_url, journal=None) as other,
            AsyncClient("test-key", base_url=mock.base_url, journal=receiving) as kie,
        ):
            intent = creator.intend(FLUX, {"prompt": "x"})
            assert intent is not None
            task = await other.submit(FLUX, prompt="x")  # its answer not written yet
            await _finish(mock, task.id)
            receiver = WebhookReceiver(client=kie, on_status=told.append, sleep=sleep)
            async with _serving(receiver) as url:
                assert await _post(url, _body(FLUX, task.id)) == 200
                await _until(lambda: bool(naps))  # it looks again later (old code: never)
                creator.created(intent, task)
                nap.set()
                await receiver.drain()

    asyncio.run(scenario())
    assert [status.state for status in told] == [State.SUCCEEDED]
    assert naps == [1.0]


def test_a_callback_for_a_task_the_journal_lacks_names_the_unknown_create_to_settle(
    mock_server_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The create's answer was lost (OutcomeUnknownError): the warning said "a task created
    outside kiekit: adopt it", and adopting it made a second row for one task (finding 2).
    It names the row to settle instead."""
    mock = mock_server_factory(polls_to_complete=10_000)
    journal = Journal(MemoryStore())

    async def scenario() -> str:
        async with (
            AsyncClient("test-key", base_url=mock.base_url, journal=None) as other,
            AsyncClient("test-key", base_url=mock.base_url, journal=journal) as kie,
        ):
            intent = journal.intend(FLUX, {"prompt": "x"}, key="lost-job-1")
            assert intent is not None
            journal.create_failed(intent, TimeoutError("the answer was lost"))
            task = await other.submit(FLUX, prompt="x")
            await _finish(mock, task.id)
            receiver = WebhookReceiver(client=kie, on_status=lambda status: None)
            async with _serving(receiver) as url:
                assert await _post(url, _body(FLUX, task.id)) == 200
                await receiver.drain()
            return task.id

    with caplog.at_level("WARNING", logger="kiekit.webhooks"):
        task_id = asyncio.run(scenario())
    assert journal.get("lost-job-1").state is EntryState.UNKNOWN  # type: ignore[union-attr]
    [said] = [r.getMessage() for r in caplog.records if task_id in r.getMessage()]
    assert f"kie settle lost-job-1 --task-id {task_id}" in said
    assert "Do not adopt it" in said


class _Watched(MemoryStore):
    """A store that notes which thread each of its reads ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.readers: list[int] = []

    def by_task(self, task_id: str) -> Any:
        self.readers.append(threading.get_ident())
        return super().by_task(task_id)

    def select(self, selection: Any) -> Any:
        self.readers.append(threading.get_ident())
        return super().select(selection)


def test_the_receiver_reads_the_journal_off_its_event_loop(
    mock_server_factory: Callable[..., Any],
) -> None:
    """A journal read may wait (SQLite's lock held by another process, a PostgreSQL round trip
    or outage): made on the event loop, it stopped every other callback and wait meanwhile.
    Each of the receiver's reads (a task's model, a callback come early, the rows to name in
    a warning, the row before its end is written) runs off the loop, as the client's do."""
    mock = mock_server_factory(polls_to_complete=10_000)
    store = _Watched()
    journal = Journal(store)
    told: list[TaskStatus] = []

    async def scenario() -> int:
        async with (
            AsyncClient("test-key", base_url=mock.base_url, journal=None) as other,
            AsyncClient("test-key", base_url=mock.base_url, journal=journal) as kie,
        ):
            ours = await kie.submit(FLUX, prompt="x")  # in the journal
            lost = journal.intend(FLUX, {"prompt": "y"}, key="lost-job-2")
            assert lost is not None
            journal.create_failed(lost, TimeoutError("the answer was lost"))
            theirs = await other.submit(GROK, prompt="y")  # not in the journal
            for task in (ours, theirs):
                await _finish(mock, task.id)
            receiver = WebhookReceiver(client=kie, on_status=told.append)
            store.readers.clear()
            async with _serving(receiver) as url:
                for task in (ours, theirs):
                    assert await _post(url, _body(task.model, task.id)) == 200
                await receiver.drain()
            return threading.get_ident()

    loop_thread = asyncio.run(scenario())
    assert len(told) == 2  # both were handled, the one the journal lacks too
    assert store.readers  # the receiver read the journal ...
    assert loop_thread not in store.readers  # ... never on its event loop


# -- receive(): any web framework -------------------------------------------------------------


def _signed(task_id: str, stamp: int) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(KEY, task_id, stamp)}


def test_receive_does_what_handle_does_for_any_framework(
    mock_server_factory: Callable[..., Any],
) -> None:
    """``accept()`` confirmed, journalled and deduplicated nothing: a FastAPI or Flask app had
    to do it by hand (the tester's note). ``receive(body, headers)`` does it all: the
    signature (401), unreadable bodies (400), too large ones (413), repeats, the confirmed
    end journalled before on_status. Header names in any case."""
    mock = mock_server_factory(polls_to_complete=10_000)
    journal = Journal(MemoryStore())
    told: list[TaskStatus] = []
    heard: list[str] = []

    async def scenario() -> tuple[list[int], WebhookReceiver, str]:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, rate_limits=None, journal=journal
        ) as kie:
            task = await kie.submit(GROK, prompt="x")
            await _finish(mock, task.id)
            receiver = WebhookReceiver(
                KEY, client=kie, on_status=told.append, max_body=4096,
                on_callback=lambda callback: heard.append(callback.task_id),
                clock=lambda: 1_776_323_915,
            )  # fmt: skip
            body = _body(GROK, task.id)
            headers = _signed(task.id, 1_776_323_915)
            lower = {name.lower(): value for name, value in headers.items()}
            codes = [(await receiver.receive(body, headers))[0]]
            await receiver.drain()
            codes.append((await receiver.receive(body, lower))[0])  # a repeat: not again
            codes.append((await receiver.receive(body, {}))[0])
            codes.append((await receiver.receive(b"<html>", headers))[0])
            codes.append((await receiver.receive(b"x" * 5000, headers))[0])
            await receiver.drain()
            return codes, receiver, task.id

    codes, receiver, task_id = asyncio.run(scenario())
    assert codes == [200, 200, 401, 400, 413]
    assert (receiver.accepted, receiver.repeated, receiver.refused) == (1, 1, 3)
    assert [status.state for status in told] == [State.SUCCEEDED]
    assert heard == [task_id]
    row = journal.by_task(task_id)
    assert row is not None
    assert row.state is EntryState.SUCCEEDED


def _snippet(name: str) -> str:
    """The docs' block that starts with ``# fragment: NAME``."""
    text = DOCS.read_text(encoding="utf-8")
    [block] = re.findall(rf"```python\n(# fragment: {name}\b.*?)^```", text, re.S | re.M)
    return str(block)


def _fake_fastapi() -> types.ModuleType:
    """Enough of FastAPI to run the docs' snippet: routes kept, a request of bytes and
    headers, a JSONResponse that keeps what it is given."""
    module = types.ModuleType("fastapi")

    class FastAPI:
        def __init__(self, **_: Any) -> None:
            self.routes: dict[str, Any] = {}
            self.lifespan = _.get("lifespan")

        def post(self, path: str) -> Callable[[Any], Any]:
            def register(handler: Any) -> Any:
                self.routes[path] = handler
                return handler

            return register

    class Request:
        def __init__(self, body: bytes, headers: dict[str, str]) -> None:
            self._body, self.headers = body, headers
            self.client = None

        async def body(self) -> bytes:
            return self._body

    module.FastAPI = FastAPI  # type: ignore[attr-defined]
    module.Request = Request  # type: ignore[attr-defined]
    responses = types.ModuleType("fastapi.responses")

    class JSONResponse:
        def __init__(self, content: Any, status_code: int = 200) -> None:
            self.content, self.status_code = content, status_code

    responses.JSONResponse = JSONResponse  # type: ignore[attr-defined]
    module.responses = responses  # type: ignore[attr-defined]
    return module


def test_the_fastapi_snippet_receives_through_receive(
    mock_server_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The docs' FastAPI snippet, run with a stand-in for FastAPI (not a dependency): its
    handler answers what receive() says, and the task's end is confirmed and journalled."""
    mock = mock_server_factory(polls_to_complete=10_000)
    fake = _fake_fastapi()
    monkeypatch.setitem(sys.modules, "fastapi", fake)
    monkeypatch.setitem(sys.modules, "fastapi.responses", fake.responses)
    monkeypatch.setenv("KIE_API_KEY", "test-key")
    monkeypatch.setenv("KIE_BASE_URL", mock.base_url)
    monkeypatch.setenv("WEBHOOK_HMAC_KEY", KEY)
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(tmp_path))
    space: dict[str, Any] = {"__name__": "snippet"}
    exec(compile(_snippet("fastapi"), "fastapi-snippet", "exec"), space)  # noqa: S102

    async def scenario() -> tuple[list[Any], str]:
        async with space["app"].lifespan(space["app"]):
            kie = space["kie"]
            task = await kie.submit(GROK, prompt="x")
            await _finish(mock, task.id)
            handler = space["app"].routes["/kie/callback"]
            request = fake.Request(_body(GROK, task.id), _signed(task.id, int(_now())))
            answers = [await handler(request), await handler(fake.Request(b"{}", {}))]
            await space["receiver"].drain()
            return [(a.status_code, a.content["code"]) for a in answers], task.id

    answers, task_id = asyncio.run(scenario())
    assert answers == [(200, 200), (400, 400)]
    assert space["told"] == [(task_id, "succeeded")]
    row = space["kie"].journal.by_task(task_id)
    assert row is not None
    assert row.state is EntryState.SUCCEEDED


def _now() -> float:
    import time

    return time.time()


def test_the_flask_snippet_receives_on_a_loop_of_its_own(
    mock_server_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The docs' Flask (WSGI) snippet, run with a stand-in for Flask: each request's thread
    hands receive() to the receiver's own event loop, in a thread of its own."""
    mock = mock_server_factory(polls_to_complete=10_000)
    module = types.ModuleType("flask")
    local = threading.local()

    class Flask:
        def __init__(self, _name: str) -> None:
            self.routes: dict[str, Any] = {}

        def post(self, path: str) -> Callable[[Any], Any]:
            def register(handler: Any) -> Any:
                self.routes[path] = handler
                return handler

            return register

    class _Request:
        @property
        def headers(self) -> dict[str, str]:
            return dict(local.headers)

        @property
        def remote_addr(self) -> str:
            return "127.0.0.1"

        def get_data(self) -> bytes:
            return bytes(local.body)

    module.Flask = Flask  # type: ignore[attr-defined]
    module.request = _Request()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "flask", module)
    monkeypatch.setenv("KIE_API_KEY", "test-key")
    monkeypatch.setenv("KIE_BASE_URL", mock.base_url)
    monkeypatch.setenv("WEBHOOK_HMAC_KEY", KEY)
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(tmp_path))
    space: dict[str, Any] = {"__name__": "snippet"}
    before = set(threading.enumerate())
    exec(compile(_snippet("flask"), "flask-snippet", "exec"), space)  # noqa: S102
    loop = space["loop"]
    [thread] = set(threading.enumerate()) - before  # the loop's
    try:
        kie = space["kie"]
        task = asyncio.run_coroutine_threadsafe(kie.submit(GROK, prompt="x"), loop).result(30)
        asyncio.run_coroutine_threadsafe(_finish(mock, task.id), loop).result(30)
        local.body, local.headers = _body(GROK, task.id), _signed(task.id, int(_now()))
        answer, code = space["app"].routes["/kie/callback"]()
        asyncio.run_coroutine_threadsafe(space["receiver"].drain(), loop).result(30)
    finally:
        asyncio.run_coroutine_threadsafe(space["kie"].close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
    assert (code, answer) == (200, ACK)
    assert space["told"] == [(task.id, "succeeded")]
    row = space["kie"].journal.by_task(task.id)
    assert row is not None
    assert row.state is EntryState.SUCCEEDED


# -- two downloads of one task at once ------------------------------------------------------


def test_two_downloads_of_one_task_at_once_fetch_each_file_once(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """``receiver.wait`` then ``download``, and a download in on_status, at the same time:
    each fetched every file (finding 3; one after the other the second fetched none). The
    second now waits for the first, and returns the same paths, fetching nothing."""
    mock = mock_server_factory(polls_to_complete=1)
    journal = Journal(MemoryStore())

    async def scenario() -> tuple[list[Path], list[Path], int, int]:
        transport = _Held()
        transport.release.set()
        async with AsyncClient(
            "test-key", base_url=mock.base_url, rate_limits=None, journal=journal,
            transport=transport,
        ) as kie:  # fmt: skip
            task = await kie.submit("gpt4o-image", prompt="x", size="1:1", n_variants=2)
            results = await kie.wait(task)
            transport.hold_files.clear()
            first = asyncio.ensure_future(kie.download(results, tmp_path))
            await _until(lambda: transport.fetching == 1)  # the first is fetching
            second = asyncio.ensure_future(kie.download(results, tmp_path))
            # the second is waiting (new code) or fetching too (old code)
            turns = getattr(kie, "_downloads", None)
            await _until(
                lambda: (
                    transport.fetching > 1
                    or (turns is not None and max(n for _, n in turns._held.values()) == 2)
                )
            )
            transport.hold_files.set()
            paths = await first, await second
            await transport.close()
            return paths[0], paths[1], transport.fetching, len(results.assets)

    first, second, fetched, files = asyncio.run(scenario())
    assert files == 2
    assert first == second
    assert fetched == files  # each file once
