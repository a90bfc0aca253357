"""Chat over real sockets (127.0.0.1), with both transports: each event reaches the user
when it is sent, not when the answer ends; a connection cut mid-answer is a TransportError;
an answer silent longer than the read timeout is awaited up to CHAT_DEADLINE, and no longer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from aiohttp import web
from attrs import frozen
from kiekit import (
    AsyncClient,
    Client,
    OutcomeUnknownError,
    ProtocolError,
    Registry,
    StreamClosedError,
    TransportError,
)
from kiekit.chat import (
    ChatCall,
    ChatDelta,
    ChatFailure,
    ChatModel,
    ChatProvider,
    ChatReply,
    SseEvent,
)
from kiekit.fields import Input
from kiekit.models import Request
from kiekit_mock import FaultRule, MockServer

MODEL = "echo-1"
WAIT = 5.0  # seconds the server waits for the client to have read the first event
SILENCE = 0.5  # seconds /chat/think is silent: ten times the read timeout of the tests below
READ_TIMEOUT = 0.05


@frozen
class NoOptions(Input):
    pass


class EchoProvider(ChatProvider):
    name = "echo"
    models: ClassVar[tuple[ChatModel, ...]] = (ChatModel(MODEL, NoOptions),)

    def build_request(self, call: ChatCall, *, stream: bool) -> Request:
        return Request("POST", f"/chat/{call.messages[-1].text}", body={"stream": stream})

    def parse_reply(self, model_id: str, payload: Any) -> ChatReply | ChatFailure:
        return ChatReply(str(payload), model_id)

    def parse_event(self, model_id: str, event: SseEvent) -> ChatDelta | ChatFailure | None:
        data = json.loads(event.data)
        return ChatDelta(done=True) if data.get("end") else ChatDelta(text=data["t"])


class Server:
    """An event-stream server in a thread: ``/chat/wait`` sends one event, then waits until
        ``first_read`` is set before sending the rest; ``/chat/cut`` drops the connection;
        ``/chat/think`` is silent SILENCE seconds after its first event, ``/chat/stall`` until
        the test ends (a whole answer too);
        ``/chat/pings`` sends keep-alive comments, ``/chat/flood`` events and ``/chat/line`` one
    line, without end; a call
        that does not stream is answered "whole" at once."""

    def __init__(self) -> None:
        self.first_read = threading.Event()
        self.released = threading.Event()
        self.base_url = ""

    async def chat(self, request: web.Request) -> web.StreamResponse:
        if not (await request.json())["stream"]:
            if request.match_info["how"] == "stall":  # silent until the test ends
                await asyncio.to_thread(self.released.wait, 60)
            return web.json_response("whole")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"t": "first"}\n\n')
        how = request.match_info["how"]
        if how in ("pings", "flood", "line"):  # forever, until the client leaves
            piece = {
                "pings": b": ping\n\n",
                "flood": b'data: {"t": "more"}\n\n',
                "line": b"a" * 4096,
            }
            if how == "line":
                await response.write(b'data: {"t": "')  # ... and no line end ever after
            with contextlib.suppress(ConnectionError):
                for _ in range(100_000):
                    await response.write(piece[how])
                    await asyncio.sleep(0.01 if how == "pings" else 0)
            return response
        if request.match_info["how"] == "cut":
            assert request.transport is not None
            request.transport.close()
            return response
        if request.match_info["how"] == "stall":  # silent until the test ends
            await asyncio.to_thread(self.released.wait, 60)
            return response
        if request.match_info["how"] == "think":  # silent a while, as a model that thinks
            await asyncio.sleep(SILENCE)
            await response.write(b'data: {"t": " thought"}\n\n')
            await response.write(b'data: {"end": true}\n\n')
            await response.write_eof()
            return response
        seen = await asyncio.to_thread(self.first_read.wait, WAIT)
        await response.write(b'data: {"t": " then"}\n\n' if seen else b'data: {"t": " late"}\n\n')
        await response.write(b'data: {"end": true}\n\n')
        await response.write_eof()
        return response


@pytest.fixture
def server() -> Iterator[Server]:
    found = Server()
    app = web.Application()
    app.router.add_post("/chat/{how}", found.chat)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    found.base_url = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.first_read.set()
        found.released.set()
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def registry() -> Registry:
    found = Registry(discover=False)
    found.add_provider(EchoProvider())
    return found


def test_urllib3_hands_over_each_event_as_it_comes(server: Server) -> None:
    texts = []
    with Client("k", base_url=server.base_url, registry=registry()) as kie:
        for delta in kie.chat_stream(MODEL, "wait"):
            texts.append(delta.text)
            server.first_read.set()  # the server sends the rest only now
    assert texts == ["first", " then", ""]


def test_aiohttp_hands_over_each_event_as_it_comes(server: Server) -> None:
    async def run() -> list[str]:
        texts = []
        async with AsyncClient("k", base_url=server.base_url, registry=registry()) as kie:
            async for delta in kie.chat_stream(MODEL, "wait"):
                texts.append(delta.text)
                server.first_read.set()
        return texts

    assert asyncio.run(run()) == ["first", " then", ""]


def test_a_cut_connection_is_a_transport_error(server: Server) -> None:
    kie = Client("k", base_url=server.base_url, registry=registry())
    with kie, pytest.raises(TransportError, match="stream broke"):
        list(kie.chat_stream(MODEL, "cut"))

    async def run() -> None:
        async with AsyncClient("k", base_url=server.base_url, registry=registry()) as kie:
            async for _ in kie.chat_stream(MODEL, "cut"):
                pass

    with pytest.raises(TransportError, match="stream broke"):
        asyncio.run(run())


def test_a_stream_stopped_early_leaves_the_blocking_client_ready_for_the_next_call(
    server: Server,
) -> None:
    """The rest of a stream left unread is still coming on its connection: that connection
    must not serve the next call (which then read the old stream's bytes, or a closed socket)."""
    import gc
    import warnings

    with Client("k", base_url=server.base_url, registry=registry()) as kie:
        with kie.chat_stream(MODEL, "wait") as stream:
            for _ in stream:
                break  # left the `with` block: the server still holds the rest
        assert kie.chat(MODEL, "next").text == "whole"
        dropped = kie.chat_stream(MODEL, "wait")
        next(iter(dropped))
        del dropped  # dropped without close(), then collected
        with warnings.catch_warnings():  # its socket may be collected before its close() runs
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        assert kie.chat(MODEL, "again").text == "whole"


@pytest.mark.parametrize(
    ("how", "bound", "error", "said"),
    [
        ("pings", "CHAT_DEADLINE", TransportError, "took longer than 0.3 s"),
        ("flood", "MAX_STREAM_BYTES", ProtocolError, "streamed more than 65536 bytes"),
        ("line", "MAX_STREAM_BYTES", ProtocolError, "streamed more than 65536 bytes"),
    ],
)
def test_a_stream_without_end_is_cut_at_its_bounds_on_both_clients(
    server: Server,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    bound: str,
    error: type[Exception],
    said: str,
) -> None:
    """A stalled proxy's keep-alive pings, or an answer that never ends (in events, or in one
    line without a line end), must not hold a worker (or its memory) for ever: a typed error
    once the call's bound is passed."""
    from kiekit.chat import _flows

    monkeypatch.setattr(_flows, bound, 0.3 if bound == "CHAT_DEADLINE" else 65536)
    kie = Client("k", base_url=server.base_url, registry=registry())
    with kie, pytest.raises(error, match=said):
        list(kie.chat_stream(MODEL, how))

    async def run() -> None:
        async with AsyncClient("k", base_url=server.base_url, registry=registry()) as kie:
            async for _ in kie.chat_stream(MODEL, how):
                pass

    with pytest.raises(error, match=said):
        asyncio.run(run())


def test_a_stream_silent_longer_than_the_read_timeout_goes_on_to_its_end(server: Server) -> None:
    """A reasoning model streams nothing while it thinks: the stream is bounded by its
    CHAT_DEADLINE, not cut by the read timeout meant for KIE's other calls."""
    with Client("k", base_url=server.base_url, registry=registry(), timeout=READ_TIMEOUT) as kie:
        texts = [delta.text for delta in kie.chat_stream(MODEL, "think")]
    assert texts == ["first", " thought", ""]

    async def run() -> list[str]:
        async with AsyncClient(
            "k", base_url=server.base_url, registry=registry(), timeout=READ_TIMEOUT
        ) as kie:
            return [delta.text async for delta in kie.chat_stream(MODEL, "think")]

    assert asyncio.run(run()) == ["first", " thought", ""]


def test_a_silent_stream_ends_at_its_chat_deadline_on_both_clients(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stalled stream (one event, then nothing) is still bounded: by what is left of its
    CHAT_DEADLINE, however long the read timeout."""
    from kiekit.chat import _flows

    monkeypatch.setattr(_flows, "CHAT_DEADLINE", 0.3)
    said = r"took longer than 0.3 s \(CHAT_DEADLINE\)"
    kie = Client("k", base_url=server.base_url, registry=registry(), timeout=WAIT * 2)
    with kie, pytest.raises(TransportError, match=said):
        list(kie.chat_stream(MODEL, "stall"))

    async def run() -> None:
        async with AsyncClient(
            "k", base_url=server.base_url, registry=registry(), timeout=WAIT * 2
        ) as kie:
            async for _ in kie.chat_stream(MODEL, "stall"):
                pass

    with pytest.raises(TransportError, match=said):
        asyncio.run(run())


@pytest.mark.parametrize("client", ["Client", "AsyncClient"])
def test_a_whole_answer_slower_than_the_read_timeout_is_not_lost(client: str) -> None:
    """A whole answer sends no byte until it is done (a reasoning model: minutes). KIE has
    charged for it by then, and a chat call is never sent again: the read timeout meant for
    KIE's other calls must not lose it. Other calls keep that read timeout."""
    with MockServer() as mock:
        mock.faults.add(
            FaultRule("slow", path="/gpt-5-2/v1/chat/completions", when="after", delay=SILENCE)
        )
        mock.faults.add(FaultRule("slow", path="/api/v1/chat/credit", delay=SILENCE))
        if client == "Client":
            with Client("test-key", base_url=mock.base_url, timeout=READ_TIMEOUT) as kie:
                assert kie.chat("gpt-5-2", "think hard").text == "Echo from gpt-5-2: think hard"
                with pytest.raises(TransportError, match="no answer in time"):
                    kie.credits()
            return

        async def run() -> None:
            async with AsyncClient("test-key", base_url=mock.base_url, timeout=READ_TIMEOUT) as a:
                assert (await a.chat("gpt-5-2", "think hard")).text == (
                    "Echo from gpt-5-2: think hard"
                )
                with pytest.raises(TransportError, match="no answer in time"):
                    await a.credits()

        asyncio.run(run())


def ask_mock(client: str, base_url: str, stream: bool, **options: Any) -> Any:
    """gpt-5-2's answer to "hello" through ``client`` (its error, raised)."""
    if client == "Client":
        with Client("test-key", base_url=base_url) as kie:
            if not stream:
                return kie.chat("gpt-5-2", "hello", **options)
            with kie.chat_stream("gpt-5-2", "hello", **options) as chat:
                return list(chat)

    async def run() -> Any:
        async with AsyncClient("test-key", base_url=base_url) as kie:
            if not stream:
                return await kie.chat("gpt-5-2", "hello", **options)
            return [delta async for delta in kie.chat_stream("gpt-5-2", "hello", **options)]

    return asyncio.run(run())


@pytest.mark.parametrize("client", ["Client", "AsyncClient"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_answer_lost_once_kie_ran_the_call_is_never_said_retryable(
    client: str, stream: bool
) -> None:
    """KIE ran and charged the call, and its answer was lost (an outside tester's finding: a
    whole answer cut after its head was ``retryable=True``, so a caller retrying on it paid
    twice). Cut once its head came: received and charged; reset before a byte of it: the
    outcome is unknown. Neither is retryable."""
    with MockServer() as mock:
        mock.faults.add(FaultRule("truncated", when="after", times=1, path="/gpt-5-2/*"))
        with pytest.raises(TransportError) as cut:
            ask_mock(client, mock.base_url, stream)
        assert cut.value.retryable is False
        assert "received and charged: sending it again pays again" in str(cut.value)
        mock.faults.add(FaultRule("reset", when="after", times=1, path="/gpt-5-2/*"))
        with pytest.raises((OutcomeUnknownError, TransportError)) as reset:
            ask_mock(client, mock.base_url, stream)
        assert reset.value.retryable is False
        if stream:  # the mock's event stream had sent its head
            assert "received and charged" in str(reset.value)
        else:
            assert "chat call to gpt-5-2 may or may not have reached KIE" in str(reset.value)


@pytest.mark.parametrize("client", ["Client", "AsyncClient"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_call_refused_before_it_was_sent_may_be_sent_again(
    client: str, stream: bool
) -> None:
    with socket.socket() as closed:  # a port nothing listens on: the connection is refused
        closed.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        with pytest.raises(TransportError) as refused:
            ask_mock(client, base_url, stream)
    assert (refused.value.retryable, refused.value.maybe_sent) == (True, False)


@pytest.mark.parametrize("client", ["Client", "AsyncClient"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_call_ends_at_its_own_timeout_on_both_clients(
    server: Server, client: str, stream: bool
) -> None:
    """A product's worker bounds each call (``timeout=``), however long the client's read
    timeout and CHAT_DEADLINE: a stalled upstream ends in a typed error, not a thread held for
    600 s (an outside tester's finding). Never retryable: the call was sent."""
    said = r"took longer than 0.3 s \(timeout=\)"

    def ask() -> None:
        if client == "Client":
            with Client("k", base_url=server.base_url, registry=registry(), timeout=60) as kie:
                if not stream:
                    kie.chat(MODEL, "stall", timeout=0.3)
                    return
                with kie.chat_stream(MODEL, "stall", timeout=0.3) as chat:
                    list(chat)
            return

        async def run() -> None:
            async with AsyncClient(
                "k", base_url=server.base_url, registry=registry(), timeout=60
            ) as kie:
                if not stream:
                    await kie.chat(MODEL, "stall", timeout=0.3)
                    return
                async for _ in kie.chat_stream(MODEL, "stall", timeout=0.3):
                    pass

        asyncio.run(run())

    # the first event came: received and charged; else no byte of the answer came, and it
    # may or may not have been answered
    expected = TransportError if stream else OutcomeUnknownError
    with pytest.raises(expected, match=said) as cut:
        ask()
    assert cut.value.retryable is False
    assert ("received and charged" in str(cut.value)) is stream


def reading_in_a_thread(
    stream: Any, catching: type[BaseException] = BaseException
) -> tuple[threading.Thread, list[BaseException]]:
    """A thread that reads ``stream``'s first delta, then waits in its next read; returned
    once that thread is inside the stream (its generator running: blocked in the read, or
    about to be, which the close cuts short the same way). It catches ``catching`` only:
    anything else escapes the thread, which pytest reports as an error."""
    import inspect
    import time

    caught: list[BaseException] = []
    first = threading.Event()

    def read() -> None:
        deltas = iter(stream)
        next(deltas)
        first.set()
        try:
            next(deltas)
        except catching as exc:
            caught.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    assert first.wait(10)
    generator = stream._deltas
    for _ in range(10_000):  # a condition awaited, not a time: the thread entered the read
        if inspect.getgeneratorstate(generator) == inspect.GEN_RUNNING:
            break
        time.sleep(0.001)
    return thread, caught


@pytest.mark.parametrize("closing", ["stream", "client"])
def test_a_blocked_sync_stream_is_ended_from_another_thread_with_a_typed_error(
    server: Server, closing: str
) -> None:
    """A sync worker whose upstream stalls mid-answer can abort it: ``stream.close()`` or
    ``client.close()`` from another thread cut the read (it raised ``ValueError: generator
    already executing``, and the read went on, in an outside tester's run). The reader gets a
    TransportError, not retryable, with the answer so far."""
    kie = Client("k", base_url=server.base_url, registry=registry(), timeout=60)
    stream = kie.chat_stream(MODEL, "stall")
    thread, caught = reading_in_a_thread(stream)
    if closing == "stream":
        stream.close()
    else:
        kie.close()
    thread.join(10)
    assert not thread.is_alive()
    [error] = caught
    assert isinstance(error, TransportError)
    assert error.retryable is False
    assert "the stream was closed while it was read" in str(error)
    assert error.partial is not None
    assert error.partial.text == "first"
    assert stream.reply is None
    stream.close()  # again: nothing left to do
    with kie:
        assert kie.chat(MODEL, "next").text == "whole"  # the client serves the next call


def test_a_worker_that_closed_its_stream_on_purpose_catches_it_by_type(server: Server) -> None:
    """``except StreamClosedError`` catches the read a close from another thread ended, with
    the words and ``retryable`` of any answer cut once KIE began answering; kiekit itself told
    that case apart by matching the message (a review's finding)."""
    with Client("k", base_url=server.base_url, registry=registry(), timeout=60) as kie:
        stream = kie.chat_stream(MODEL, "stall")
        thread, caught = reading_in_a_thread(stream, catching=StreamClosedError)
        stream.close()
        thread.join(10)
        assert not thread.is_alive()
    [closed] = caught
    assert isinstance(closed, TransportError)
    assert (closed.retryable, closed.answered) == (False, True)
    assert str(closed).endswith(  # after the request's line when the transport said it
        "the stream was closed while it was read (its close(), or its client's); KIE had "
        "begun answering, so the call was received and charged: sending it again pays again"
    )
