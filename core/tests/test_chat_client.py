"""Client.chat / chat_stream and their async twins, on in-memory transports with a small
fake chat API: envelope errors at HTTP 200, error events, cut streams, early closing, and
validation before any I/O — the same for both clients (STYLE.md: parametrize across them)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from attrs import frozen
from kiekit import (
    AsyncClient,
    AuthenticationError,
    Client,
    InsufficientCreditsError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitedError,
    Registry,
    ServerError,
    StreamClosedError,
    TransportError,
    UnknownModelError,
    ValidationError,
)
from kiekit._engine import StreamHead
from kiekit.chat import (
    ChatCall,
    ChatDelta,
    ChatFailure,
    ChatModel,
    ChatProvider,
    ChatReply,
    SseEvent,
    Usage,
    _flows,
)
from kiekit.errors import ApiError, KieError
from kiekit.fields import Input, choice
from kiekit.models import Request
from kiekit.transport import BufferedStream, HttpRequest, HttpResponse, MockTransport

KEY = "sk-chat-test-key"
MODEL = "echo-1"


@frozen
class EchoOptions(Input):
    tone: str | None = choice("dry", "warm", default=None)


class EchoProvider(ChatProvider):
    """A made-up chat API: whole answers ``{"text", "credits"}``; events ``{"t"}`` then
    ``{"end": true}``; a failure as ``{"fail": {"code", "message"}}``."""

    name = "echo"
    models: ClassVar[tuple[ChatModel, ...]] = (ChatModel(MODEL, EchoOptions),)

    def build_request(self, call: ChatCall, *, stream: bool) -> Request:
        body = {"messages": [m.text for m in call.messages], "stream": stream}
        return Request("POST", f"/{call.model}/chat", body=body)

    def parse_reply(self, model_id: str, payload: Any) -> ChatReply | ChatFailure:
        if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
            raise ProtocolError("no text", payload=payload)
        return ChatReply(payload["text"], model_id, credits=payload.get("credits"))

    def parse_event(self, model_id: str, event: SseEvent) -> ChatDelta | ChatFailure | None:
        data = json.loads(event.data)
        if "fail" in data:
            return ChatFailure(data["fail"]["code"], data["fail"]["message"])
        if data.get("end"):
            return ChatDelta(done=True, usage=Usage(1, 2), credits=data.get("credits"))
        return ChatDelta(text=data["t"])


def sse(*payloads: Any) -> bytes:
    return b"".join(f"data: {json.dumps(p)}\n\n".encode() for p in payloads)


STREAM = sse({"t": "Hel"}, {"t": "lo"}, {"end": True, "credits": 0.5})
EVENTS = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}


def answering(body: bytes, headers: dict[str, str], status: int = 200) -> MockTransport:
    return MockTransport(lambda _: HttpResponse(status, body, "Bad Gateway", headers))


def registry() -> Registry:
    found = Registry(discover=False)
    found.add_provider(EchoProvider())
    return found


Ask = Callable[..., Any]


def ask_with(client: str, transport: Any) -> Ask:
    """ask(stream, messages, **options) → (reply, deltas) through ``client``."""

    def ask(stream: bool, messages: Any = "hi", **options: Any) -> Any:
        if client == "Client":
            with Client(
                KEY, base_url="http://127.0.0.1:9", transport=transport, registry=registry()
            ) as kie:
                if not stream:
                    return kie.chat(MODEL, messages, **options), []
                with kie.chat_stream(MODEL, messages, **options) as chat:
                    deltas = list(chat)
                return chat.reply, deltas

        async def run() -> Any:
            async with AsyncClient(
                KEY, base_url="http://127.0.0.1:9", transport=transport, registry=registry()
            ) as kie:
                if not stream:
                    return await kie.chat(MODEL, messages, **options), []
                chat = kie.chat_stream(MODEL, messages, **options)
                deltas = [d async for d in chat]
                return chat.reply, deltas

        return asyncio.run(run())

    return ask


CLIENTS = ["Client", "AsyncClient"]


@pytest.mark.parametrize("client", CLIENTS)
def test_whole_answer_and_request(client: str) -> None:
    transport = answering(b'{"text": "Hello", "credits": 0.5}', JSON)
    reply, _ = ask_with(client, transport)(False, "hi", system="be dry", tone="dry")
    assert reply == ChatReply("Hello", MODEL, credits=0.5)
    (sent,) = transport.requests
    assert sent.method == "POST"
    assert sent.url == "http://127.0.0.1:9/echo-1/chat"
    assert json.loads(sent.body or b"") == {"messages": ["be dry", "hi"], "stream": False}
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Accept"] == "application/json"


@pytest.mark.parametrize("client", CLIENTS)
def test_stream_emits_deltas_and_assembles_the_reply(client: str) -> None:
    transport = answering(STREAM, EVENTS)
    reply, deltas = ask_with(client, transport)(True)
    assert [d.text for d in deltas] == ["Hel", "lo", ""]
    assert deltas[-1].done
    assert reply == ChatReply("Hello", MODEL, usage=Usage(1, 2), credits=0.5)
    assert transport.requests[0].headers["Accept"] == "text/event-stream"
    assert json.loads(transport.requests[0].body or b"")["stream"] is True


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("code", "error"), [(401, AuthenticationError), (402, InsufficientCreditsError)]
)
def test_kie_envelope_errors_at_http_200_are_typed(
    client: str, stream: bool, code: int, error: type[KieError]
) -> None:
    """kie-api.md §1: a refused call is KIE's envelope at HTTP 200, even when a stream was
    asked for."""
    body = json.dumps({"code": code, "msg": "refused", "data": None}).encode()
    with pytest.raises(error) as caught:
        ask_with(client, answering(body, JSON))(stream)
    assert isinstance(caught.value, ApiError)
    assert caught.value.code == code


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("stream", [False, True])
def test_a_real_http_error_is_typed(client: str, stream: bool) -> None:
    with pytest.raises(ServerError) as caught:
        ask_with(client, answering(b"<html>", {"content-type": "text/html"}, 502))(stream)
    assert caught.value.http_status == 502


@pytest.mark.parametrize("client", CLIENTS)
def test_an_envelope_or_failure_event_mid_stream_raises(client: str) -> None:
    kie_error = sse({"t": "Hel"}, {"code": 500, "msg": "internal error"})
    with pytest.raises(ServerError, match="internal error"):
        ask_with(client, answering(kie_error, EVENTS))(True)
    model_error = sse({"t": "Hel"}, {"fail": {"code": 429, "message": "slow down"}})
    with pytest.raises(RateLimitedError, match="slow down"):
        ask_with(client, answering(model_error, EVENTS))(True)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_stream_without_its_last_event_is_a_protocol_error(client: str) -> None:
    with pytest.raises(ProtocolError, match="ended before"):
        ask_with(client, answering(sse({"t": "Hel"}, {"t": "lo"}), EVENTS))(True)


@pytest.mark.parametrize("client", CLIENTS)
def test_an_unreadable_answer_is_a_protocol_error(client: str) -> None:
    with pytest.raises(ProtocolError):
        ask_with(client, answering(b"not json", JSON))(False)
    with pytest.raises(ProtocolError, match="no text"):  # JSON where events were asked
        ask_with(client, answering(b'{"words": "whole"}', JSON))(True)


@pytest.mark.parametrize("client", CLIENTS)
def test_invalid_input_is_refused_before_any_request(client: str) -> None:
    transport = answering(b"{}", JSON)
    ask = ask_with(client, transport)
    with pytest.raises(ValidationError) as caught:
        ask(False, "hi", tone="loud")
    assert caught.value.field == "tone"
    with pytest.raises(ValidationError) as caught:
        ask(True, [{"role": "user", "content": [{"type": "image_url", "image_url": "ftp://x"}]}])
    assert caught.value.field == "messages[0].content[0].image_url.url"
    with pytest.raises(ValidationError) as caught:
        ask(True, "hi", temperature=1)
    assert caught.value.field == "temperature"
    assert transport.requests == []


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(
    ("messages", "options", "named"),
    [
        ("caf\udce9", {}, "messages[0].content"),  # 'café' from a latin-1 file, read as UTF-8
        ([{"role": "user", "content": [{"type": "text", "text": "\ud800"}]}], {},
         "messages[0].content[0].text"),
        ("hi", {"system": "be \udcff"}, "system"),
    ],
)  # fmt: skip
def test_text_that_is_not_utf8_is_refused_naming_its_place_before_any_request(
    client: str, messages: Any, options: dict[str, Any], named: str
) -> None:
    """A lone surrogate was sent (JSON escapes it); KIE's end finds no character there."""
    transport = answering(b"{}", JSON)
    with pytest.raises(ValidationError, match="not valid UTF-8") as caught:
        ask_with(client, transport)(False, messages, **options)
    assert caught.value.field == named
    assert transport.requests == []


def test_task_and_unknown_models_are_refused_clearly() -> None:
    with Client(
        KEY, base_url="http://127.0.0.1:9", transport=answering(b"", JSON), registry=registry()
    ) as kie:
        with pytest.raises(UnknownModelError):
            kie.chat("no-such-model", "hi")
        with pytest.raises(ValidationError, match="chat model, not a task"):
            kie.submit(MODEL, {})


class Recording:
    """A transport whose streams report being closed."""

    def __init__(self) -> None:
        self.closed = 0

    def send(self, request: HttpRequest) -> HttpResponse:
        raise AssertionError("a stream was asked for")

    def stream(self, request: HttpRequest) -> BufferedStream:
        outer = self

        class Closing(BufferedStream):
            def close(self) -> None:
                outer.closed += 1
                super().close()

        return Closing(HttpResponse(200, STREAM, "OK", EVENTS), chunk=8)

    def close(self) -> None:
        pass


def test_leaving_a_stream_early_closes_the_connection() -> None:
    transport = Recording()
    with Client(
        KEY,
        base_url="http://127.0.0.1:9",
        transport=transport,  # type: ignore[arg-type]  # a double for streams only
        registry=registry(),
    ) as kie:
        with kie.chat_stream(MODEL, "hi") as chat:
            first = next(iter(chat))
        assert first.text == "Hel"
        assert transport.closed == 1
        assert chat.reply is None  # not read to its end: no whole answer is claimed


def test_a_transport_that_cannot_stream_still_serves_a_stream() -> None:
    class SendOnly:
        def send(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse(200, STREAM, "OK", EVENTS)

        def close(self) -> None:
            pass

    double = SendOnly()  # a hand-written double of before streams: no fetch, upload, stream
    kie = Client(KEY, base_url="http://127.0.0.1:9", transport=double, registry=registry())  # type: ignore[arg-type]
    with kie, kie.chat_stream(MODEL, "hi") as chat:
        assert "".join(d.text for d in chat) == "Hello"


def test_the_key_never_shows_in_a_stream_or_its_errors() -> None:
    with Client(
        KEY, base_url="http://127.0.0.1:9", transport=answering(STREAM, EVENTS), registry=registry()
    ) as kie:
        chat = kie.chat_stream(MODEL, "hi")
        deltas = list(chat)
        shown = repr(chat) + repr(deltas) + repr(chat.reply)
        with pytest.raises(KieError) as caught:
            list(kie.chat_stream(MODEL, "hi", tone=5))  # type: ignore[call-arg]  # refused at run time
    assert KEY not in shown
    assert KEY not in str(caught.value) + repr(caught.value)


@pytest.mark.parametrize("client", CLIENTS)
def test_without_a_content_type_the_body_tells_events_from_kie_json(client: str) -> None:
    """A proxy may strip Content-Type: an envelope is still KIE's error, events still stream."""
    envelope = json.dumps({"code": 401, "msg": "You do not have access permissions"}).encode()
    with pytest.raises(AuthenticationError):
        ask_with(client, answering(b"  " + envelope, {}))(True)
    reply, _ = ask_with(client, answering(STREAM, {}))(True)
    assert reply.text == "Hello"


class EndlessLine:
    """A transport whose stream is one line that never ends: ``data: aaaa…`` in 64 KiB
    chunks, with no line end, for twice ``MAX_STREAM_BYTES`` (then it stops, so a client
    without the bound fails on its own instead of hanging)."""

    def __init__(self, content_type: str) -> None:
        self.head = StreamHead(200, "OK", content_type)
        self.left = 2 * _flows.MAX_STREAM_BYTES
        self.prefix = b"data: " if "event" in content_type else b'["'

    def send(self, request: HttpRequest) -> HttpResponse:
        raise AssertionError("a stream was asked for")

    def stream(self, request: HttpRequest) -> EndlessLine:
        return self

    def read(self) -> bytes:
        if self.left <= 0:
            return b""
        chunk, self.prefix = self.prefix + b"a" * 2**16, b""
        self.left -= len(chunk)
        return chunk

    def close(self) -> None:
        pass


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("content_type", ["text/event-stream", "application/json"])
def test_one_endless_line_is_cut_at_the_stream_bound_in_linear_time(
    client: str, content_type: str
) -> None:
    """The real 32 MiB bound, reached promptly: the unfinished line (or JSON body) is held in
    pieces, not re-joined on each chunk (that made a 1 MiB line take half a minute, so the
    bound was never reached before CHAT_DEADLINE, with a core busy all along)."""
    said = f"streamed more than {_flows.MAX_STREAM_BYTES} bytes"
    with pytest.raises(ProtocolError, match=said):
        ask_with(client, EndlessLine(content_type))(True)


def test_chat_records_built_by_position_as_before_keep_each_value_in_its_field() -> None:
    """A plugin or a test double written before tool calls came gives ``raw`` by position:
    it stays ``raw`` (with ``tool_calls`` among the fields before it, it became the tool
    calls, and ``raw`` None)."""
    raw = {"choices": [{"delta": {"content": "hi"}}]}
    usage = Usage(1, 2)
    delta = ChatDelta("hi", "", "gpt-x", usage, 0.5, "stop", True, raw)
    assert (delta.text, delta.model, delta.usage, delta.credits) == ("hi", "gpt-x", usage, 0.5)
    assert (delta.finish_reason, delta.done, delta.raw) == ("stop", True, raw)
    assert (delta.tool_calls, delta.thinking_block) == ((), None)
    reply = ChatReply("hello", "gpt-x", usage, 0.5, "stop", "hmm", raw)
    assert (reply.text, reply.model, reply.usage, reply.credits) == ("hello", "gpt-x", usage, 0.5)
    assert (reply.finish_reason, reply.thinking, reply.raw) == ("stop", "hmm", raw)
    assert (reply.tool_calls, reply.thinking_blocks) == ((), ())


class Breaking:
    """A transport whose event stream breaks after ``chunks`` chunks of STREAM (0: before
    its first byte), as a dropped connection does."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks

    def send(self, request: HttpRequest) -> HttpResponse:
        raise AssertionError("a stream was asked for")

    def stream(self, request: HttpRequest) -> BufferedStream:
        left = self.chunks

        class Broken(BufferedStream):
            def read(self) -> bytes:
                nonlocal left
                if left == 0:
                    raise TransportError("POST /echo-1/chat: the stream broke: reset")
                left -= 1
                return super().read()

        return Broken(HttpResponse(200, STREAM, "OK", EVENTS), chunk=16)

    def close(self) -> None:
        pass


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("chunks", [0, 1])
def test_a_stream_cut_off_once_kie_began_answering_is_not_retryable(
    client: str, chunks: int
) -> None:
    """The call was received and charged: a caller following ``retryable`` paid twice (an
    outside auditor's finding). The answer's head is KIE answering, even before a byte of
    its body came."""
    with pytest.raises(TransportError) as cut:
        ask_with(client, Breaking(chunks))(True)
    assert cut.value.retryable is False
    assert "the stream broke" in str(cut.value)
    assert "received and charged" in str(cut.value)
    assert not isinstance(cut.value, StreamClosedError)  # cut by the network, not closed


class Unanswered:
    """A transport whose request failed before any answer came: ``sent`` says whether it may
    have left (a reset after it was written) or provably did not (connection refused)."""

    def __init__(self, sent: bool) -> None:
        self.sent = sent

    def _fail(self) -> TransportError:
        return TransportError("POST /echo-1/chat failed: lost", maybe_sent=self.sent)

    def send(self, request: HttpRequest) -> HttpResponse:
        raise self._fail()

    def stream(self, request: HttpRequest) -> BufferedStream:
        raise self._fail()

    def close(self) -> None:
        pass


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_call_lost_before_any_answer_says_whether_it_may_be_sent_again(
    client: str, stream: bool
) -> None:
    """Sent with no answer back, a chat call may have been answered and charged: its outcome
    is unknown, as a create's is, never ``retryable`` (an outside tester's finding: code that
    retries on ``retryable`` paid twice). Never sent, it may be sent again."""
    with pytest.raises(OutcomeUnknownError) as lost:
        ask_with(client, Unanswered(sent=True))(stream)
    assert lost.value.retryable is False
    assert "chat call to echo-1 may or may not have reached KIE (POST /echo-1/chat failed" in str(
        lost.value
    )
    assert isinstance(lost.value.cause, TransportError)
    assert lost.value.model == MODEL
    with pytest.raises(TransportError) as unsent:
        ask_with(client, Unanswered(sent=False))(stream)
    assert unsent.value.retryable is True


@pytest.mark.parametrize("client", CLIENTS)
def test_a_whole_answer_cut_once_its_head_came_is_charged_not_retryable(client: str) -> None:
    """The transport says the answer had begun (``answered``): KIE received the call."""

    def cut(_: HttpRequest) -> HttpResponse:
        raise TransportError("POST /echo-1/chat: reading the answer failed: cut", answered=True)

    with pytest.raises(TransportError) as caught:
        ask_with(client, MockTransport(cut))(False)
    assert caught.value.retryable is False
    assert "reading the answer failed: cut; KIE had begun answering, so the call was " in str(
        caught.value
    )
    assert "received and charged" in str(caught.value)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_call_is_logged_at_debug_as_every_request_without_its_key_or_messages(
    client: str, stream: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """README: `-vv` logs each request kiekit sends and how it ended; chat calls, the ones
    charged per call, logged none (an outside tester's `kie -vv chat`)."""
    transport = answering(STREAM, EVENTS) if stream else answering(b'{"text": "Hi"}', JSON)
    with caplog.at_level("DEBUG", logger="kiekit"):
        ask_with(client, transport)(stream, "a secret prompt")
    lines = [r.getMessage() for r in caplog.records if r.name == "kiekit.http"]
    assert lines[0] == f"POST /{MODEL}/chat"
    assert re.fullmatch(rf"POST /{MODEL}/chat: HTTP 200, answered in \d+ ms", lines[1])
    assert not any(KEY in line or "secret" in line for line in caplog.text.splitlines())

    def refused(_: HttpRequest) -> HttpResponse:
        raise TransportError("connection refused", maybe_sent=False)

    caplog.clear()
    with caplog.at_level("DEBUG", logger="kiekit"), pytest.raises(TransportError):
        ask_with(client, MockTransport(refused))(stream)
    assert f"POST /{MODEL}/chat failed: connection refused" in caplog.text


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "5", True])
def test_a_bad_timeout_is_refused_naming_it_before_any_request(
    client: str, stream: bool, timeout: Any
) -> None:
    transport = answering(STREAM, EVENTS)
    with pytest.raises(ValidationError) as caught:
        ask_with(client, transport)(stream, timeout=timeout)
    assert caught.value.field == "timeout"
    assert "number of seconds > 0" in str(caught.value)  # the call's bound, not a model option
    assert transport.requests == []


@pytest.mark.parametrize("client", CLIENTS)
def test_a_whole_json_answer_to_a_stream_request_is_its_delta_and_reply(client: str) -> None:
    """A gateway that ignores ``stream`` answers whole: that answer was paid for, and is
    handed over (it was thrown away as a ProtocolError, in an outside tester's run)."""
    reply, deltas = ask_with(client, answering(b'{"text": "whole", "credits": 0.5}', JSON))(True)
    assert reply == ChatReply("whole", MODEL, credits=0.5)
    assert [(d.text, d.credits, d.done) for d in deltas] == [("whole", 0.5, True)]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("content_type", ["text/event-stream", "text/event-stream; charset=utf-8"])
def test_kie_envelope_labelled_as_an_event_stream_is_still_its_typed_error(
    client: str, content_type: str
) -> None:
    """A gateway may label KIE's ``{"code": 401, …}`` refusal with the type asked for: its
    code must not be lost as "the event stream ended" (an outside tester's finding)."""
    body = b'{"code": 401, "msg": "You do not have access permissions"}'
    with pytest.raises(AuthenticationError):
        ask_with(client, answering(body, {"content-type": content_type}))(True)


@pytest.mark.parametrize("client", CLIENTS)
def test_an_error_once_deltas_came_carries_the_answer_so_far(client: str) -> None:
    """What came before a cut or an error event was received, and paid for: it goes with the
    error (``partial``), not lost with the traceback."""
    with pytest.raises(TransportError) as cut:
        ask_with(client, Breaking(2))(True)  # one event ("Hel") came whole
    assert cut.value.partial == ChatReply("Hel", MODEL)
    failing = sse({"t": "Hi"}, {"t": " there"}, {"fail": {"code": 500, "message": "boom"}})
    with pytest.raises(ApiError) as failed:
        ask_with(client, answering(failing, EVENTS))(True)
    assert failed.value.partial is not None
    assert failed.value.partial.text == "Hi there"
    with pytest.raises(ProtocolError) as ended:  # no final event
        ask_with(client, answering(sse({"t": "Hi"}), EVENTS))(True)
    assert ended.value.partial is not None
    assert ended.value.partial.text == "Hi"
    with pytest.raises(ApiError) as refused:  # nothing came: nothing to carry
        ask_with(client, answering(b'{"code": 402, "msg": "Credits insufficient"}', JSON))(True)
    assert refused.value.partial is None


@pytest.mark.parametrize("client", ["Client", "AsyncClient"])
def test_a_chat_provider_s_own_bug_is_a_plugin_hook_error_naming_it(client: str) -> None:
    """EchoProvider.parse_event reads ``data["t"]`` bare: an event it did not expect raised a
    KeyError naming no plugin (an outside plugin author's finding, for task hooks too)."""
    from kiekit import PluginHookError

    ask = ask_with(client, answering(sse({"x": 1}), EVENTS))
    with pytest.raises(PluginHookError) as caught:
        ask(True)
    error = caught.value
    assert (error.distribution, error.hook, error.model) == (__name__, "parse_event", MODEL)
    assert isinstance(error.__cause__, KeyError)
    assert "EchoProvider.parse_event for model 'echo-1' raised KeyError: 't'" in str(error)
