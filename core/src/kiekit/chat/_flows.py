"""The chat calls as sans-I/O flows, as :mod:`kiekit._engine` does for tasks.

A whole answer is one ordinary :class:`~kiekit._engine.HttpRequest`. A streamed answer yields
the engine's :class:`~kiekit._engine.OpenStream` (the driver answers with a
:class:`~kiekit._engine.StreamHead`), then :class:`~kiekit._engine.ReadStream` for each chunk
of bytes (``b""`` at the end), and :class:`Emit` for each delta the user gets;
its return value is the assembled :class:`ChatReply`. So envelope checks, SSE decoding, error
mapping and assembly exist once for both clients.
"""

from __future__ import annotations

import json
import math
from collections.abc import Generator, Mapping
from typing import Any

from attrs import define, evolve, field, frozen

from kiekit import wire
from kiekit._engine import (
    Engine,
    HttpRequest,
    HttpResponse,
    OpenStream,
    ReadStream,
    StreamHead,
    request_log,
)
from kiekit._engine.hooks import call_hook
from kiekit._engine.ops import NOW, Now
from kiekit.chat.provider import ChatProvider
from kiekit.chat.sse import SseDecoder
from kiekit.chat.types import (
    CHAT_DEADLINE,
    ChatCall,
    ChatDelta,
    ChatFailure,
    ChatReply,
    MessagesLike,
    ThinkingBlock,
    ThinkingDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from kiekit.errors import (
    ApiError,
    KieError,
    OutcomeUnknownError,
    ProtocolError,
    StreamClosedError,
    TransportError,
    ValidationError,
    api_error,
    http_error,
)
from kiekit.fields import check_utf8
from kiekit.models import Request
from kiekit.observe import Observer

__all__ = [
    "Bounds",
    "Emit",
    "OpenStream",
    "ReadStream",
    "StreamHead",
    "chat",
    "chat_stream",
    "prepare",
]

SSE = "text/event-stream"
READ = ReadStream()
# Bounds on one chat call, whole or streamed, as every other call has its deadline and
# max_answer_bytes: a reasoning model's long answer takes minutes, but a stalled proxy or an
# endless stream must not hold a worker (or its memory) for ever
# CHAT_DEADLINE (kiekit.chat.types, exported by kiekit.chat): read here at each call
MAX_STREAM_BYTES = 32 * 2**20  # the bytes of one streamed answer, as MAX_ANSWER_BYTES


@frozen
class Emit:
    delta: ChatDelta


StreamOp = OpenStream | ReadStream | Emit | Now  # Now: the clock, for the deadline
StreamFlow = Generator[StreamOp, Any, ChatReply]


def http_request(engine: Engine, request: Request, *, accept: str, deadline: float) -> HttpRequest:
    """The exchange of one chat call, bounded by its deadline alone (``timeout=``, else
    CHAT_DEADLINE): a whole answer sends no byte until it is done, and a stream none while
    the model thinks, so the transport's read timeout (30 s: a stalled connection, for KIE's
    other calls) would lose an answer already paid for (``long_silence``)."""
    try:  # strict JSON: NaN or infinity would reach KIE as invalid JSON
        body = None if request.body is None else json.dumps(request.body, allow_nan=False)
    except ValueError as exc:
        raise ValidationError("options", f"hold a value JSON cannot carry: {exc}") from exc
    check_utf8("", request.body)  # the calls' own checks name the field; this, its wire place
    headers = {**engine.auth_headers, "Content-Type": "application/json", "Accept": accept}
    return HttpRequest(
        request.method,
        engine.base_url + request.path,
        headers,
        None if body is None else body.encode(),
        timeout=deadline,
        long_silence=True,
    )


@frozen
class Bounds:
    """One call's time bound: ``timeout=`` as given, else CHAT_DEADLINE (read when the call
    is made, so a test may lower it)."""

    seconds: float
    named: str  # how the error names it

    @classmethod
    def of(cls, timeout: float | None) -> Bounds:
        if timeout is None:
            return cls(CHAT_DEADLINE, "CHAT_DEADLINE")
        return cls(check_timeout(timeout), "timeout=")


def check_timeout(value: object) -> float:
    """A call's ``timeout=``: a finite number of seconds > 0, else ValidationError before any
    I/O."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError("timeout", f"must be a number of seconds > 0, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValidationError("timeout", f"must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def chat(
    engine: Engine, provider: ChatProvider, call: ChatCall, bounds: Bounds
) -> Generator[Any, Any, ChatReply]:
    """One whole answer. Sent once, never retried: a chat call is paid for, and a retry after
    a failure that may have reached KIE could pay twice (:func:`_lost` says which)."""
    request: Request = call_hook(
        engine.registry, provider, "build_request", call, model=call.model, stream=False
    )
    return (yield from _reported(_whole(engine, provider, call, bounds, request), request, call,
                                 engine.observer))  # fmt: skip


def _whole(
    engine: Engine, provider: ChatProvider, call: ChatCall, bounds: Bounds, request: Request
) -> Generator[Any, Any, ChatReply]:
    started: float = yield NOW
    sent = http_request(engine, request, accept="application/json", deadline=bounds.seconds)
    try:
        answer = yield from _bounded(sent, request, started, bounds)
    except TransportError as exc:
        raise _lost(exc, call, request, answered=exc.answered) from exc
    response: HttpResponse = engine.scrubbed(answer)
    if response.status != 200:
        raise http_error(response.status, response.reason)
    payload = _json(response.body, request)
    return _whole_reply(engine, provider, call, payload)


def _whole_reply(engine: Engine, provider: ChatProvider, call: ChatCall, payload: Any) -> ChatReply:
    _raise_envelope_error(payload)
    reply: ChatReply | ChatFailure = call_hook(
        engine.registry, provider, "parse_reply", call.model, payload, model=call.model
    )
    if isinstance(reply, ChatFailure):
        raise _failure(reply, payload)
    return reply


def chat_stream(
    engine: Engine, provider: ChatProvider, call: ChatCall, bounds: Bounds
) -> StreamFlow:
    """A streamed answer: emits each delta, returns the whole reply once the last event came.

    KIE refuses a call (bad key, no credits) with its JSON envelope at HTTP 200 instead of an
    event stream (kie-api.md §1): read as the typed error, as for a whole answer. An error
    event mid-stream raises the same way; a stream that ends before its last event is a
    ProtocolError, and a dropped connection the transport's TransportError — so a truncated
    answer is never taken for a whole one. An error raised once deltas came carries them
    (``partial``: what was received, and paid for).
    """
    request: Request = call_hook(
        engine.registry, provider, "build_request", call, model=call.model, stream=True
    )
    return (yield from _reported(_streamed(engine, provider, call, bounds, request), request,
                                 call, engine.observer))  # fmt: skip


def _streamed(
    engine: Engine, provider: ChatProvider, call: ChatCall, bounds: Bounds, request: Request
) -> StreamFlow:
    started: float = yield NOW
    opened = OpenStream(http_request(engine, request, accept=SSE, deadline=bounds.seconds))
    try:
        head: StreamHead = yield from _bounded(opened, request, started, bounds)
    except TransportError as exc:
        raise _lost(exc, call, request, answered=exc.answered) from exc
    if head.status != 200:
        raise http_error(head.status, head.reason)
    assembled = _Assembly(call.model)
    try:
        return (
            yield from _answer(engine, provider, call, request, started, bounds, head, assembled)
        )
    except TransportError as exc:  # the head came: KIE received the call
        raise _with_partial(_lost(exc, call, request, answered=True), assembled) from exc
    except KieError as exc:
        _with_partial(exc, assembled)
        raise


def _answer(
    engine: Engine,
    provider: ChatProvider,
    call: ChatCall,
    request: Request,
    started: float,
    bounds: Bounds,
    head: StreamHead,
    assembled: _Assembly,
) -> StreamFlow:
    """The answer to a stream request, from its head on."""
    # The key is masked in the answer put together (its JSON) or in each event, never chunk by
    # chunk: a copy of it split across two chunks was missed so
    chunk: bytes = yield from _bounded(READ, request, started, bounds)
    size = len(chunk)
    content_type = head.content_type.lower()
    # KIE's JSON envelope (an error) comes as application/json; without a content type (a
    # proxy stripped it), or labelled as the event stream asked for (a gateway's), a body
    # starting with "{" cannot be an event stream either: no SSE line starts so
    if "json" in content_type or chunk.lstrip()[:1] == b"{":
        pieces = [chunk]  # joined once: adding each chunk to the last made it quadratic
        while chunk:
            chunk = yield from _bounded(READ, request, started, bounds)
            size += len(chunk)
            yield from _within_bounds(request, size, started, bounds)
            pieces.append(chunk)
        whole = engine.scrub(b"".join(pieces))
        reply = _whole_reply(engine, provider, call, _json(whole, request))
        # A whole answer although a stream was asked for (a gateway that ignores "stream"):
        # paid for, so handed over as the stream's one delta and its reply, not thrown away
        yield Emit(_as_delta(reply))
        return reply
    return (
        yield from _events(engine, provider, call, request, started, bounds, chunk, size, assembled)
    )


def _as_delta(reply: ChatReply) -> ChatDelta:
    return ChatDelta(
        text=reply.text,
        thinking=reply.thinking,
        model=reply.model,
        usage=reply.usage,
        credits=reply.credits,
        finish_reason=reply.finish_reason,
        done=True,
        raw=reply.raw,
        stop_sequence=reply.stop_sequence,
        tool_calls=tuple(
            ToolCallDelta(
                index, call.id, call.name, call.raw_arguments or json.dumps(call.arguments)
            )
            for index, call in enumerate(reply.tool_calls)
        ),
    )


def _events(
    engine: Engine,
    provider: ChatProvider,
    call: ChatCall,
    request: Request,
    started: float,
    bounds: Bounds,
    chunk: bytes,
    size: int,
    assembled: _Assembly,
) -> StreamFlow:
    """The event stream from its first chunk on: each delta emitted, the reply returned."""
    decoder = SseDecoder()
    while True:
        events = decoder.feed(chunk) if chunk else decoder.close()
        for event in events:
            if (shown := engine.scrub_text(event.data)) is not event.data:
                event = evolve(event, data=shown)  # an echoed key, masked
            data = _event_json(event.data)
            if data is not None:
                _raise_envelope_error(data)
            parsed = call_hook(
                engine.registry, provider, "parse_event", call.model, event, model=call.model
            )
            if isinstance(parsed, ChatFailure):
                raise _failure(parsed, event.data)
            if parsed is None:
                continue
            assembled.add(parsed)
            yield Emit(parsed)
            if parsed.done:
                return assembled.reply()
        if not chunk:
            raise ProtocolError(
                "the event stream ended before the answer did (no final event)",
                payload=assembled.text[-200:],
            )
        chunk = yield from _bounded(READ, request, started, bounds)
        size += len(chunk)
        yield from _within_bounds(request, size, started, bounds)


def _reported(
    flow: Generator[Any, Any, ChatReply],
    request: Request,
    call: ChatCall,
    observer: Observer | None,
) -> Generator[Any, Any, ChatReply]:
    """``flow``, one chat call, logged at -vv by the engine's lines for every request and told
    to the client's observer, naming the chat model: the line as it goes, and how it ended
    once the whole answer came — a stream at its last event, not at its head, so its time is
    the whole stream's and a stream that broke is a failure. A refusal (KIE's envelope at
    HTTP 200, kie-api.md §1) is a failure with KIE's code, as a create's is; a stream its
    reader closed early ends answered. Never the body: it holds the messages."""
    if not request_log.timing(observer):
        return (yield from flow)
    method, path, model = request.method, request.path, call.model
    request_log.sent(method, path, model=model, observer=observer)
    began: float = yield NOW  # after the observer: its own time is not the request's
    last = began  # the clock's last reading: a flow closed (GeneratorExit) may not ask it
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        try:
            op = flow.throw(thrown) if thrown is not None else flow.send(sent)
        except StopIteration as done:
            took = (yield NOW) - began
            request_log.answered(method, path, 200, took, model=model, observer=observer)
            return done.value  # type: ignore[no-any-return]
        except GeneratorExit:
            raise
        except BaseException as exc:
            took = (yield NOW) - began
            request_log.failed(method, path, exc, took, model=model, observer=observer)
            raise
        try:
            sent, thrown = (yield op), None
        except GeneratorExit:  # closed by its reader: the answer came, as far as it was read
            flow.close()
            request_log.answered(method, path, 200, last - began, model=model, observer=observer)
            raise
        except BaseException as exc:
            sent, thrown = None, exc
        if isinstance(op, Now) and thrown is None:
            last = sent


def _bounded(op: Any, request: Request, started: float, bounds: Bounds) -> Generator[Any, Any, Any]:
    """``op``'s outcome; the transport's failure to wait past the call's deadline (a silent
    answer or stream) said as the deadline's, as a stream that trickles too long is."""
    try:
        return (yield op)
    except TransportError as exc:
        if (yield NOW) - started >= bounds.seconds:
            raise _too_long(request, bounds, exc) from exc
        raise


def _lost(exc: TransportError, call: ChatCall, request: Request, *, answered: bool) -> KieError:
    """A chat call whose answer did not make it, said as what a caller may do next (a chat is
    charged per call, kie-api.md §5; plugins/chat/README.md, "Errors"):

    - never sent (``maybe_sent`` False: refused, DNS, connect timeout): the TransportError,
      retryable — nothing reached KIE;
    - answered (its HTTP head came), then cut: received and charged, not retryable;
    - sent, with no byte of an answer back (a reset, a deadline): the outcome is unknown, as a
      task create's is (OutcomeUnknownError, not retryable).
    """
    if answered:
        return _charged(exc)
    if not exc.maybe_sent:
        return exc
    return OutcomeUnknownError(model=call.model, request=request, cause=exc, chat=True)


def _charged(exc: TransportError) -> TransportError:
    """An answer cut off once KIE had begun answering: the call was received and is charged
    (a chat is charged per call, kie-api.md §5; plugins/chat/README.md): not retryable, since
    the same call sent again is paid for again. A stream closed on purpose stays one (its
    type), with the same words."""
    cut = StreamClosedError if isinstance(exc, StreamClosedError) else TransportError
    return cut(
        f"{exc.message}; KIE had begun answering, so the call was received and charged: "
        "sending it again pays again",
        retryable=False,
        answered=True,
    )


def _with_partial(exc: KieError, assembled: _Assembly) -> KieError:
    """``exc``, carrying the answer received before it (``partial``), when one came."""
    if assembled.parts:
        exc.partial = assembled.partial()
    return exc


def _too_long(
    request: Request, bounds: Bounds, exc: TransportError | None = None
) -> TransportError:
    return TransportError(
        f"{request.method} {request.path}: the answer took longer than "
        f"{bounds.seconds:g} s ({bounds.named})",
        maybe_sent=True if exc is None else exc.maybe_sent,
        answered=exc is not None and exc.answered,
    )


def _within_bounds(
    request: Request, size: int, started: float, bounds: Bounds
) -> Generator[Now, float, None]:
    """The bounds of one streamed answer, checked after each chunk: its bytes (an event, a
    line or a JSON body that never ends) and its time."""
    if size > MAX_STREAM_BYTES:
        raise ProtocolError(
            f"the answer to {request.method} {request.path} streamed more than "
            f"{MAX_STREAM_BYTES} bytes (MAX_STREAM_BYTES): not a chat answer"
        )
    if (yield NOW) - started > bounds.seconds:
        raise _too_long(request, bounds)


def _failure(failure: ChatFailure, payload: Any) -> ApiError:
    return api_error(failure.code, failure.message, data=payload)


def _json(body: bytes, request: Request) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ProtocolError(
            f"answer to {request.method} {request.path} is not JSON", payload=body[:200]
        ) from exc


def _event_json(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None  # "[DONE]" and the like: the provider reads those


def _raise_envelope_error(payload: Any) -> None:
    """KIE's ``{"code", "msg"}`` envelope with a code other than 200 (kie-api.md §1, §7) —
    chat answers themselves are not enveloped, so a top-level integer ``code`` with a message
    marks KIE's own refusal."""
    if not isinstance(payload, Mapping) or "code" not in payload:
        return
    if "msg" not in payload and "message" not in payload:
        return
    try:
        envelope = wire.read_envelope(payload)
    except ProtocolError:
        return  # a code that is not an int: not KIE's envelope; the provider judges it
    if envelope.code != 200:
        raise api_error(envelope.code, envelope.msg, data=envelope.data)


@define
class _Assembly:
    """The whole reply, gathered from the deltas as they pass."""

    model: str
    parts: list[str] = field(factory=list)
    thoughts: list[str] = field(factory=list)
    last: dict[str, Any] = field(factory=dict)
    calls: dict[int, dict[str, Any]] = field(factory=dict)  # wire index → id, name, JSON pieces
    # wire index → a reasoning block's text pieces, signature pieces and redacted data
    blocks: dict[int, dict[str, Any]] = field(factory=dict)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add(self, delta: ChatDelta) -> None:
        self.parts.append(delta.text)
        self.thoughts.append(delta.thinking)
        for piece in delta.tool_calls:
            call = self.calls.setdefault(piece.index, {"id": None, "name": None, "arguments": []})
            for name in ("id", "name"):
                if getattr(piece, name):
                    call[name] = getattr(piece, name)
            call["arguments"].append(piece.arguments)
        if delta.thinking_block is not None:
            self._add_thinking(delta.thinking, delta.thinking_block)
        for name in ("model", "credits", "finish_reason", "stop_sequence"):
            value = getattr(delta, name)
            if value is not None:
                self.last[name] = value
        if delta.usage is not None:
            # usage arrives in pieces (Anthropic: input tokens first, output tokens last)
            before: Usage = self.last.get("usage", Usage())
            self.last["usage"] = Usage(
                input_tokens=delta.usage.input_tokens
                if delta.usage.input_tokens is not None
                else before.input_tokens,
                output_tokens=delta.usage.output_tokens
                if delta.usage.output_tokens is not None
                else before.output_tokens,
            )

    def _add_thinking(self, text: str, piece: ThinkingDelta) -> None:
        block = self.blocks.setdefault(piece.index, {"text": [], "signature": [], "redacted": None})
        block["text"].append(text)
        block["signature"].append(piece.signature)
        if piece.redacted is not None:
            block["redacted"] = piece.redacted

    def _thinking_blocks(self) -> tuple[ThinkingBlock, ...]:
        return tuple(
            ThinkingBlock("".join(block["text"]), "".join(block["signature"]), block["redacted"])
            for block in (self.blocks[index] for index in sorted(self.blocks))
        )

    def reply(self) -> ChatReply:
        return self._reply(tuple(self._tool_call(index) for index in sorted(self.calls)))

    def _reply(self, tool_calls: tuple[ToolCall, ...]) -> ChatReply:
        return ChatReply(
            text=self.text,
            model=self.last.get("model", self.model),
            usage=self.last.get("usage"),
            credits=self.last.get("credits"),
            finish_reason=self.last.get("finish_reason"),
            thinking="".join(self.thoughts),
            tool_calls=tool_calls,
            thinking_blocks=self._thinking_blocks(),
            stop_sequence=self.last.get("stop_sequence"),
        )

    def partial(self) -> ChatReply:
        """What came before the answer broke off: its text, thinking, model and usage as far
        as known; only the tool calls that came whole."""
        whole = []
        for index in sorted(self.calls):
            try:
                whole.append(self._tool_call(index))
            except ProtocolError:
                continue
        return self._reply(tuple(whole))

    def _tool_call(self, index: int) -> ToolCall:
        """A call assembled from its pieces; one the stream never named, or whose arguments
        do not add up to a JSON object, is a ProtocolError (never a call with made-up
        arguments)."""
        call = self.calls[index]
        if not call["id"] or not call["name"]:
            raise ProtocolError(
                f"the stream's tool call {index} came without its id or name", payload=call
            )
        return ToolCall.of(call["id"], call["name"], "".join(call["arguments"]), "stream")


def prepare(
    engine: Engine,
    model: str,
    messages: MessagesLike,
    system: str | None,
    options: Mapping[str, Any],
) -> tuple[ChatProvider, ChatCall]:
    """The model's chat provider and the validated call: ValidationError before any I/O."""
    provider = engine.registry.chat_provider(model)
    return provider, provider.make_call(model, messages, system=system, options=options)
