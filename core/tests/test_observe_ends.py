"""What an SRE turning kiekit's observer events and log records into metrics and traces
depends on (docs/observability.md; outside tester "otel", findings 1–10 and 12):

- every request sent is said ended once, a cancelled or interrupted one too, so spans and
  in-flight gauges do not leak;
- a create that may have made a task (paid for) with no answer saying so is visible: a
  WARNING with its journal key, and a ``CreateUnknown`` event;
- a chat call's refusal is a failure with KIE's code, its events name the chat model, and a
  streamed one ends when its stream does;
- a status call and a webhook's end (``finish``) name the task's model and key, and the end
  is a ``StateChanged``;
- a code is an int in the records; the observer's own time is not a request's.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import (
    AsyncClient,
    AuthenticationError,
    Client,
    InsufficientCreditsError,
    MediaKind,
    OutcomeUnknownError,
    PollPolicy,
    Registry,
    Task,
    TaskFailedError,
    TransportError,
)
from kiekit._engine import Engine
from kiekit.models import Asset, Results
from kiekit.observe import (
    CreateUnknown,
    Downloaded,
    Event,
    RequestEnded,
    RequestSent,
    StateChanged,
)
from kiekit.transport import HttpRequest, HttpResponse, MockTransport, drive

GROK = "grok-imagine/text-to-image"
FAST = PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=20.0)
KEY = "sk-canary-otel-0123456789"


def _paired(events: list[Event]) -> list[tuple[str, str]]:
    """Each request as (how it went, how it ended): sent and ended alternate, one each."""
    pairs = []
    sent: RequestSent | None = None
    for event in events:
        if isinstance(event, RequestSent):
            assert sent is None, f"{event} sent before {sent} ended"
            sent = event
        elif isinstance(event, RequestEnded):
            assert sent is not None, f"{event} ended, never sent"
            assert (event.method, event.path) == (sent.method, sent.path)
            pairs.append((event.path, type(event.error).__name__))
            sent = None
    assert sent is None, f"{sent} never ended"
    return pairs


# -- finding 1 (and 10): a request cancelled or interrupted ends too ---------------------------


def test_an_interrupted_create_ends_its_request_and_is_said_to_be_of_unknown_outcome(
    kit: SimpleNamespace, records: list[logging.LogRecord]
) -> None:
    """Ctrl-C while a create is in flight: the create may have made a task, paid for. Its
    request ends (error KeyboardInterrupt), a CreateUnknown names the journal's row, and a
    WARNING on ``kiekit`` says what to do — not only a DEBUG line."""
    kie = kit.FakeKie(create=KeyboardInterrupt())
    events: list[Event] = []
    with (
        Client(KEY, transport=kie.transport, observer=events.append) as client,
        pytest.raises(KeyboardInterrupt),
    ):
        client.submit(GROK, prompt="a fox", idempotency_key="fox-1")
    assert _paired(events) == [("/api/v1/jobs/createTask", "KeyboardInterrupt")]
    (unknown,) = [e for e in events if isinstance(e, CreateUnknown)]
    assert (unknown.model, unknown.key) == (GROK, "fox-1")
    assert isinstance(unknown.error, KeyboardInterrupt)
    (warned,) = [r for r in records if r.levelno == logging.WARNING]
    assert warned.name == "kiekit"
    said = warned.getMessage()
    assert f"create of {GROK} may have made a task (paid for)" in said
    assert "kie settle fox-1" in said
    assert vars(warned)["kiekit_key"] == "fox-1"
    assert vars(warned)["kiekit_outcome"] == "unknown"


def test_a_create_whose_answer_was_lost_is_a_warning_and_an_event(
    kit: SimpleNamespace, records: list[logging.LogRecord]
) -> None:
    """OutcomeUnknownError (a reset once the create was sent) was said at DEBUG only, and to
    the observer as a TransportError like one where nothing was sent."""
    kie = kit.FakeKie(create=TransportError("connection reset", maybe_sent=True))
    events: list[Event] = []
    with (
        Client(KEY, transport=kie.transport, observer=events.append) as client,
        pytest.raises(OutcomeUnknownError) as caught,
    ):
        client.submit(GROK, prompt="a fox")
    (unknown,) = [e for e in events if isinstance(e, CreateUnknown)]
    assert unknown.error is caught.value
    assert unknown.key == caught.value.key is not None  # the row the journal made for it
    (warned,) = [r for r in records if r.levelno == logging.WARNING]
    assert f"kie settle {caught.value.key}" in warned.getMessage()


def test_a_create_refused_before_anything_was_made_is_no_unknown_outcome(
    kit: SimpleNamespace, records: list[logging.LogRecord]
) -> None:
    kie = kit.FakeKie(create=kit.reply(None, code=402, msg="Credits insufficient"))
    events: list[Event] = []
    with (
        Client(KEY, transport=kie.transport, observer=events.append) as client,
        pytest.raises(InsufficientCreditsError),
    ):
        client.submit(GROK, prompt="a fox")
    assert not [e for e in events if isinstance(e, CreateUnknown)]
    assert not [r for r in records if r.levelno >= logging.WARNING]


def test_cancelled_requests_of_the_async_client_end_with_the_cancellation(
    kit: SimpleNamespace, tmp_path: Path
) -> None:
    """A create, a poll and a file GET each cancelled while the request is in flight (its
    answer never comes): each RequestSent gets its RequestEnded, error CancelledError."""
    sent = asyncio.Event()
    cdn = f"{kit.CDN}/a.png"

    def stalled(_: HttpRequest) -> Any:
        sent.set()
        return asyncio.get_running_loop().create_future()  # never answered

    async def cancelled(step: Any) -> None:
        sent.clear()
        job = asyncio.ensure_future(step)
        await sent.wait()  # the request is in flight
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job

    class Stalling(MockTransport):
        def fetch(self, fetch: Any) -> Any:  # a file GET in flight, never answered
            return stalled(HttpRequest("GET", fetch.url, {}, None))

    events: list[Event] = []
    kie = kit.FakeKie(create=stalled, statuses=[stalled])
    transport = Stalling(kie)

    async def scenario() -> None:
        async with AsyncClient(KEY, transport=transport, observer=events.append) as client:
            await cancelled(client.submit(GROK, prompt="a fox"))
            task = Task(kit.TASK_ID, GROK)
            await cancelled(client.wait(task, timeout=60))
            results = Results(kit.TASK_ID, (Asset(cdn, MediaKind.IMAGE),))
            await cancelled(client.download(results, tmp_path))

    asyncio.run(scenario())
    assert _paired(events) == [
        ("/api/v1/jobs/createTask", "CancelledError"),
        ("/api/v1/jobs/recordInfo", "CancelledError"),
        (cdn, "CancelledError"),
    ]
    (unknown,) = [e for e in events if isinstance(e, CreateUnknown)]  # it had gone
    assert isinstance(unknown.error, asyncio.CancelledError)


def test_an_interrupted_wait_ends_its_poll(kit: SimpleNamespace) -> None:
    kie = kit.FakeKie(statuses=[kit.market("generating"), KeyboardInterrupt()])
    events: list[Event] = []
    with (
        Client(KEY, transport=kie.transport, observer=events.append, poll=FAST) as client,
        pytest.raises(KeyboardInterrupt),
    ):
        client.wait(Task(kit.TASK_ID, GROK))
    assert _paired(events) == [
        ("/api/v1/jobs/recordInfo", "NoneType"),
        ("/api/v1/jobs/recordInfo", "KeyboardInterrupt"),
    ]


# -- findings 2, 3, 6: chat calls -------------------------------------------------------------


CHAT = "gemini-2.5-flash"
CHAT_PATH = f"/{CHAT}/v1/chat/completions"


def _chat(client: str, transport: MockTransport, stream: bool, events: list[Any]) -> Any:
    """One chat call through ``client``; each delta read is put in ``events`` as it comes."""
    if client == "Client":
        with Client(KEY, transport=transport, observer=events.append) as kie:
            if not stream:
                return kie.chat(CHAT, "hi")
            with kie.chat_stream(CHAT, "hi") as chat:
                for delta in chat:
                    events.append(delta)
            return chat.reply

    async def run() -> Any:
        async with AsyncClient(KEY, transport=transport, observer=events.append) as kie:
            if not stream:
                return await kie.chat(CHAT, "hi")
            chat = kie.chat_stream(CHAT, "hi")
            async for delta in chat:
                events.append(delta)
            return chat.reply

    return asyncio.run(run())


CLIENTS = ["Client", "AsyncClient"]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("stream", [False, True])
def test_a_refused_chat_call_ends_as_a_refusal_with_kies_code_and_names_its_model(
    client: str, stream: bool, records: list[logging.LogRecord]
) -> None:
    """KIE refuses a chat call with its envelope at HTTP 200 (kie-api.md §1): it was said as
    an answer (error None, no code, "HTTP 200, answered"), counted ``ok`` by the recipe."""
    body = json.dumps({"code": 401, "msg": "You do not have access permissions"}).encode()
    transport = MockTransport(
        lambda _: HttpResponse(200, body, "OK", {"content-type": "application/json"})
    )
    events: list[Any] = []
    with pytest.raises(AuthenticationError):
        _chat(client, transport, stream, events)
    (sent,) = [e for e in events if isinstance(e, RequestSent)]
    (ended,) = [e for e in events if isinstance(e, RequestEnded)]
    assert (ended.path, ended.http_status, ended.kie_code) == (CHAT_PATH, 200, 401)
    assert isinstance(ended.error, AuthenticationError)
    assert sent.model == ended.model == CHAT
    lines = [r for r in records if r.name == "kiekit.http"]
    assert [vars(r)["kiekit_model"] for r in lines] == [CHAT, CHAT]
    assert "failed: KIE error 401" in lines[1].getMessage()
    assert vars(lines[1])["kiekit_kie_code"] == 401


def _sse(*payloads: Any) -> bytes:
    return b"".join(f"data: {json.dumps(p)}\n\n".encode() for p in payloads)


def _chunk(text: str | None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if text is None else {"content": text}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_streamed_chat_call_ends_when_its_stream_does(client: str) -> None:
    """Its RequestEnded came at the head, before the first delta: a span of the call was
    its first byte's, not the stream's."""
    stream = _sse(*[_chunk(f"word {n} " * 10) for n in range(12)], _chunk(None, "stop"))
    stream += b"data: [DONE]\n\n"
    transport = MockTransport(
        lambda _: HttpResponse(200, stream, "OK", {"content-type": "text/event-stream"})
    )
    events: list[Any] = []
    reply = _chat(client, transport, True, events)
    assert reply.text.startswith("word 0")
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "RequestSent"
    assert kinds[-1] == "RequestEnded"
    assert kinds.count("RequestEnded") == 1
    assert kinds.count("ChatDelta") >= 12  # every delta went by before the end
    assert events[-1].error is None
    assert events[-1].model == CHAT


@pytest.mark.parametrize("client", CLIENTS)
def test_a_broken_stream_ends_its_request_with_the_error(client: str) -> None:
    """A stream cut once its head came ended as an answer (error None, HTTP 200)."""
    head = _sse(_chunk("Hel"))

    class Cut:
        """A stream whose head and first chunk come, then the connection breaks."""

        def __init__(self) -> None:
            self.head = SimpleNamespace(status=200, reason="OK", content_type="text/event-stream")
            self.chunks = [head]

        def read(self) -> bytes:
            if self.chunks:
                return self.chunks.pop()
            raise TransportError("the stream broke: the connection broke", answered=True)

        def close(self) -> None:
            pass

    class Transport(MockTransport):
        def stream(self, request: HttpRequest) -> Any:
            return Cut()

    events: list[Any] = []
    with pytest.raises(TransportError, match="the stream broke"):
        _chat(client, Transport(lambda _: HttpResponse(200, b"", "OK")), True, events)
    (ended,) = [e for e in events if isinstance(e, RequestEnded)]
    assert isinstance(ended.error, TransportError)
    assert "the stream broke" in str(ended.error)
    assert type(events[-2]).__name__ == "ChatDelta"  # it ended after what came


# -- findings 4, 5: a status call and a webhook's end name their task ---------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_a_status_call_and_a_finish_name_the_task_and_its_end_is_a_state_change(
    client: str, kit: SimpleNamespace
) -> None:
    """``status(task)`` carried model None and key None, and ``finish`` (how a webhook
    receiver ends a wait) told no StateChanged: a per-task span never ended."""
    done = kit.market("success", urls=[f"{kit.CDN}/a.png"])
    kie = kit.FakeKie(statuses=[done])
    events: list[Event] = []

    async def scenario() -> None:
        options: dict[str, Any] = {"transport": kie.transport, "observer": events.append}
        kind = AsyncClient if client == "AsyncClient" else Client
        kie_client = kind(KEY, **options)
        try:
            task = await _maybe(kie_client.submit(GROK, prompt="a fox", idempotency_key="fox-2"))
            status = await _maybe(kie_client.status(task))
            await _maybe(kie_client.finish(task, status))
            await _maybe(kie_client.finish(task, status))  # told once: no change
        finally:
            await _maybe(kie_client.close())

    asyncio.run(scenario())
    polls = [e for e in events if getattr(e, "path", None) == "/api/v1/jobs/recordInfo"]
    assert len(polls) == 2
    assert all((e.model, e.key, e.task_id) == (GROK, "fox-2", kit.TASK_ID) for e in polls)
    (changed,) = [e for e in events if isinstance(e, StateChanged)]
    assert (changed.state, changed.previous, changed.model, changed.key) == (
        "succeeded", None, GROK, "fox-2"
    )  # fmt: skip


@pytest.mark.parametrize("client", CLIENTS)
def test_a_task_another_process_created_is_named_by_its_journal_key(
    client: str, kit: SimpleNamespace, records: list[logging.LogRecord]
) -> None:
    """``status(task)`` (a webhook receiver's confirmation, a script's look) of a task another
    process created on a shared journal carried no key, where that process's lines and
    events of it did: the key is read from the task's journal row. A task the journal does
    not hold is named by its id and model, as before, and so is one of a journal that
    cannot be read (the call does not fail for a name)."""
    from kiekit.journal import Journal, JournalError, MemoryStore

    done = kit.market("success", urls=[f"{kit.CDN}/a.png"])
    kie = kit.FakeKie(statuses=[done])
    store = MemoryStore()
    kind = AsyncClient if client == "AsyncClient" else Client

    class Unreadable(MemoryStore):
        def by_task(self, task_id: str) -> Any:
            raise JournalError("the database is down")

    async def scenario() -> list[Event]:
        events: list[Event] = []
        creator = kind(KEY, transport=kie.transport, journal=Journal(store))
        try:  # another process: its own client and Journal on the shared rows
            task = await _maybe(creator.submit(GROK, prompt="a fox", idempotency_key="fox-9"))
        finally:
            await _maybe(creator.close())
        for journal in (Journal(store), Journal(MemoryStore()), Journal(Unreadable())):
            other = kind(KEY, transport=kie.transport, journal=journal, observer=events.append)
            try:
                await _maybe(other.status(Task(task.id, GROK)))
            finally:
                await _maybe(other.close())
        return events

    events = asyncio.run(scenario())
    polls = [e for e in events if isinstance(e, RequestSent)]
    assert [(e.key, e.task_id, e.model) for e in polls] == [
        ("fox-9", kit.TASK_ID, GROK),  # the shared journal's row names it
        (None, kit.TASK_ID, GROK),  # no row: the task and model alone
        (None, kit.TASK_ID, GROK),  # the journal could not be read: the same
    ]
    polled = [r for r in records if r.name == "kiekit.http" and "recordInfo" in r.getMessage()]
    assert [r.getMessage().endswith("[key fox-9]") for r in polled] == [True] * 2 + [False] * 4
    assert [vars(r)["kiekit_key"] for r in polled] == ["fox-9"] * 2 + [None] * 4


async def _maybe(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) else value


def test_a_webhooks_end_after_polls_continues_the_chain_of_states(kit: SimpleNamespace) -> None:
    """A wait saw ``running``; the end came by a webhook (finish): one chain, linked."""
    kie = kit.FakeKie(statuses=[kit.market("generating"), KeyboardInterrupt()])
    events: list[Event] = []
    with Client(KEY, transport=kie.transport, observer=events.append, poll=FAST) as client:
        task = Task(kit.TASK_ID, GROK)
        with pytest.raises(KeyboardInterrupt):  # the wait stopped after its first answer
            client.wait(task)
        done = kit.market("success", urls=[f"{kit.CDN}/a.png"])
        kie.statuses, kie.polls = [done], 0
        client.finish(task, client.status(task))
    states = [(e.previous, e.state) for e in events if isinstance(e, StateChanged)]
    assert states == [(None, "running"), ("running", "succeeded")]


# -- finding 8: one type for a code ------------------------------------------------------------


def test_a_failed_tasks_code_is_an_int_in_its_record_as_a_refusals_is(
    kit: SimpleNamespace, records: list[logging.LogRecord]
) -> None:
    """KIE sends ``failCode`` as a string ("500"); the record said so, where a refusal's
    ``kiekit_kie_code`` is an int: a typed JSON log mapping conflicted."""
    failed = kit.market("fail", fail_code="500", fail_msg="internal error")
    kie = kit.FakeKie(statuses=[failed])
    with (
        Client(KEY, transport=kie.transport, poll=FAST) as client,
        pytest.raises(TaskFailedError, match="internal error"),
    ):
        client.wait(Task(kit.TASK_ID, GROK))
    (line,) = [r for r in records if vars(r).get("kiekit_state") == "failed"]
    assert vars(line)["kiekit_kie_code"] == 500


# -- finding 9: the observer's own time ---------------------------------------------------------


def test_a_slow_observers_time_is_not_the_requests_nor_the_files(
    kit: SimpleNamespace, tmp_path: Path
) -> None:
    """An observer that takes 5 s (on the flow's clock) at each event: the requests and the
    file took no time, and say so. A file's ``seconds`` said 10 (two events) where the GET
    took none."""
    now = [100.0]
    events: list[Event] = []

    def slow(event: Event) -> None:
        events.append(event)
        now[0] += 5.0

    cdn = f"{kit.CDN}/a.png"
    kie = kit.FakeKie(statuses=[kit.market("success", urls=[cdn])], files={cdn: kit.PNG})
    engine = Engine(
        api_key=KEY,
        base_url="https://api.kie.ai",
        registry=Registry(),
        poll=FAST,
        user_agent="kiekit-tests",
        observer=slow,
    )
    drive(engine.status(Task(kit.TASK_ID, GROK)), kie.transport, clock=lambda: now[0])
    results = Results(kit.TASK_ID, (Asset(cdn, MediaKind.IMAGE),))
    drive(engine.download(results, tmp_path), kie.transport, clock=lambda: now[0])
    ended = [e for e in events if isinstance(e, RequestEnded)]
    assert len(ended) == 2
    assert [e.seconds for e in ended] == [0.0, 0.0]
    (landed,) = [e for e in events if isinstance(e, Downloaded)]
    assert landed.seconds == 0.0
