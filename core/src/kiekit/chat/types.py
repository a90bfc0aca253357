"""The values of a chat call: messages in, a reply (or deltas of one) out.

KIE's chat endpoints are not tasks (kie-api.md §5: synchronous, no taskId): a call answers at
once, whole or as server-sent events. These types are kiekit's own, the same whichever of KIE's
three wire shapes (OpenAI chat completions, Anthropic messages, OpenAI responses) carried them.

Tool calls too: a model's call is a :class:`ToolCall` whichever wire carried it (OpenAI
``tool_calls``, Anthropic ``tool_use`` blocks, Responses ``function_call`` items), and the
round trip is two family-neutral messages — the assistant's, holding its calls (the previous
:class:`ChatReply` itself may be passed back), and one ``role="tool"`` message per result
(:meth:`ToolCall.result`). Each wire's own shapes are read into these too, so a conversation
kept in OpenAI's or Anthropic's JSON can be sent as it is.

A reply's reasoning blocks (Anthropic's ``thinking`` with its ``signature``, and
``redacted_thinking``) travel on with its assistant turn as :class:`ThinkingBlock` values:
with extended thinking, Anthropic refuses a tool result whose assistant turn lost them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict
from urllib.parse import urlsplit

import attrs
from attrs import field, frozen

from kiekit.errors import ProtocolError, ValidationError
from kiekit.fields import Input, check_utf8

__all__ = [
    "ROLES",
    "ChatCall",
    "ChatDelta",
    "ChatFailure",
    "ChatModel",
    "ChatOptions",
    "ChatReply",
    "ImagePart",
    "Message",
    "MessagesLike",
    "Part",
    "SseEvent",
    "TextPart",
    "ThinkingBlock",
    "ThinkingDelta",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "messages_of",
]

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant", "tool")


@frozen
class TextPart:
    text: str


@frozen
class ImagePart:
    """An image the model reads: an http(s) URL or a ``data:image/…`` URL."""

    url: str


Part = TextPart | ImagePart


@frozen
class ToolCall:
    """A model's call of one of the caller's tools. ``arguments``: the JSON object the model
    wrote, parsed; ``raw_arguments``: the JSON text as it came (Anthropic sends an object:
    its JSON text). ``id`` is what the result must name (OpenAI ``tool_call_id``, Anthropic
    ``tool_use_id``, Responses ``call_id``)."""

    id: str
    name: str
    arguments: dict[str, Any] = field(factory=dict, hash=False)
    raw_arguments: str = field(default="", eq=False)

    @classmethod
    def of(cls, id: str, name: str, arguments: str | Mapping[str, Any], where: str) -> ToolCall:
        """A call from the wire's arguments (JSON text or an object); ProtocolError naming
        ``where`` when they are not a JSON object — the model wrote something else."""
        if isinstance(arguments, Mapping):
            return cls(id, name, dict(arguments), json.dumps(arguments, ensure_ascii=False))
        try:
            parsed = json.loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            raise ProtocolError(
                f"{where}: the arguments of tool call {id!r} are not JSON", payload=arguments
            ) from exc
        if not isinstance(parsed, dict):
            raise ProtocolError(
                f"{where}: the arguments of tool call {id!r} are not a JSON object",
                payload=arguments,
            )
        return cls(id, name, parsed, arguments)

    def result(
        self, content: str | Mapping[str, Any] | Sequence[Any], *, error: bool = False
    ) -> Message:
        """The message answering this call: ``role="tool"``, naming the call's id. A value
        other than a string is sent as its JSON text.

        ``error=True`` tells the model the call failed (``content`` says how): Anthropic's
        ``tool_result`` carries ``is_error: true``. OpenAI's chat completions and Responses
        have no such flag, so there the result's text is sent as ``Error: <content>``."""
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        return Message("tool", text, tool_call_id=self.id, is_error=error)


@frozen
class ThinkingBlock:
    """A block of the model's reasoning as its API returned it, kept to be sent back unchanged
    with the assistant's turn: Anthropic's ``thinking`` block (its ``text`` and the
    ``signature`` that vouches for it), or, with ``redacted`` set, a ``redacted_thinking``
    block (its encrypted ``data``; no text). With extended thinking and tools, Anthropic
    refuses the next call unless the assistant turn of the calls starts with them, complete
    and unmodified (platform.claude.com/docs/build-with-claude/thinking-tool-workflows)."""

    text: str = ""
    signature: str = field(default="", repr=False)
    redacted: str | None = field(default=None, repr=False)


@frozen
class ThinkingDelta:
    """Which reasoning block a stream's piece belongs to (``index``: the wire's block
    index), and what of it is not text: its ``signature`` (Anthropic sends it last, whole)
    or a redacted block's data. The piece's text is its delta's ``thinking``; the stream's
    ``reply`` holds the blocks assembled."""

    index: int
    signature: str = ""
    redacted: str | None = None


@frozen
class ToolCallDelta:
    """A piece of a tool call in a stream. ``index`` tells the calls of one answer apart (the
    wire's own index: it orders them but need not start at 0); the first piece of a call
    brings its ``id`` and ``name``, the next ones more of its ``arguments`` JSON text. The
    stream's ``reply`` holds the calls assembled."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@frozen
class Message:
    """One turn. ``role="assistant"`` may carry ``tool_calls`` (its text may then be empty)
    and the ``thinking_blocks`` its answer came with (sent back first, as they came);
    ``role="tool"`` answers one call: ``tool_call_id`` names it, ``content`` is the result,
    ``is_error`` marks a call that failed (see :meth:`ToolCall.result`)."""

    role: Role
    content: str | tuple[Part, ...]
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    thinking_blocks: tuple[ThinkingBlock, ...] = ()
    is_error: bool = False

    @property
    def text(self) -> str:
        """The message's text, its parts' texts joined."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))


@frozen
class ChatModel:
    """A chat model id a provider owns and the :class:`~kiekit.fields.Input` class of its
    options (``reasoning_effort``, ``tools`` …), validated before any request."""

    id: str
    options: type[Input]


@frozen
class ChatCall:
    """A validated chat call: what a provider turns into a request."""

    model: str
    messages: tuple[Message, ...]
    options: Input


@frozen
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None or self.output_tokens is None:
            return None
        return self.input_tokens + self.output_tokens


@frozen
class ChatReply:
    """A whole answer. ``credits``: what KIE charged, where it says (``credits_consumed``);
    ``thinking``: the reasoning text a model streamed or returned beside its answer;
    ``thinking_blocks``: that reasoning as the API's blocks, signatures included, which
    :attr:`message` sends back.

    ``finish_reason`` is the API's own word, as it came: completions ``stop`` / ``length`` /
    ``tool_calls``, messages (Anthropic) ``end_turn`` / ``max_tokens`` / ``stop_sequence`` /
    ``tool_use``, responses the response's status (``completed``, ``incomplete`` when cut at
    ``max_output_tokens``; a tool call is ``completed`` too). To tell a tool call in any API,
    read :attr:`tool_calls`, not this. ``stop_sequence``: the stop sequence that ended the
    answer, when the API says which (Anthropic's ``stop_sequence``)."""

    text: str
    model: str
    usage: Usage | None = None
    credits: float | None = None
    finish_reason: str | None = None
    thinking: str = ""
    raw: Any = field(default=None, eq=False, repr=False)
    # added later, keyword-only (attrs puts them last): code that gives the fields above by
    # position keeps each value in its field
    tool_calls: tuple[ToolCall, ...] = field(default=(), kw_only=True)
    thinking_blocks: tuple[ThinkingBlock, ...] = field(default=(), kw_only=True)
    stop_sequence: str | None = field(default=None, kw_only=True)

    @property
    def message(self) -> Message:
        """This answer as the assistant's turn of the conversation (its text, tool calls and
        reasoning blocks), to send back with the tools' results."""
        return Message(
            "assistant",
            self.text,
            tool_calls=self.tool_calls,
            thinking_blocks=self.thinking_blocks,
        )


MessagesLike = (
    str
    | Message
    | ChatReply
    | Mapping[str, Any]
    | Sequence[str | Message | ChatReply | Mapping[str, Any]]
)


# Seconds one chat call may take, whole or streamed, unless its ``timeout=`` says otherwise: a
# reasoning model's long answer takes minutes, but a stalled proxy or an endless stream must
# not hold a worker for ever (kiekit.chat._flows reads it at each call)
CHAT_DEADLINE = 600.0


class ChatOptions(TypedDict, total=False):
    """The options ``Client.chat`` and ``chat_stream`` take, as type checkers read them: those
    of kiekit-chat's models (each model takes its family's: ``kie models CHAT_MODEL``). Only a
    type checker reads this (a misspelt option is its error); the model's provider validates
    the values, before any I/O, and names the options the model does not take."""

    max_tokens: int | None
    max_output_tokens: int | None  # the Responses family's (GPT-5 and Codex)
    temperature: float | None
    # the Completions family takes low/medium/high, the Responses family minimal too
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None
    include_thoughts: bool | None
    google_search: bool | None
    thinking: bool | None  # the Messages family's (Claude)
    tools: Sequence[Mapping[str, Any]] | str | None  # a str: the JSON text of the list
    response_format: Mapping[str, Any] | str | None


@frozen
class ChatDelta:
    """One server-sent event, read: new text, and what the last events add (usage, credits,
    the finish reason). ``done`` marks the event that ends the answer; ``tool_calls`` are
    pieces of the tool calls being written; ``thinking_block`` names the reasoning block a
    piece of ``thinking`` (or a signature) belongs to."""

    text: str = ""
    thinking: str = ""
    model: str | None = None
    usage: Usage | None = None
    credits: float | None = None
    finish_reason: str | None = None
    done: bool = False
    raw: Any = field(default=None, eq=False, repr=False)
    # added later, keyword-only (attrs puts them last): code that gives the fields above by
    # position keeps each value in its field
    tool_calls: tuple[ToolCallDelta, ...] = field(default=(), kw_only=True)
    thinking_block: ThinkingDelta | None = field(default=None, kw_only=True)
    stop_sequence: str | None = field(default=None, kw_only=True)  # as ChatReply's


@frozen
class ChatFailure:
    """An error KIE or the model reported inside an answer or a stream; the client raises the
    typed :class:`~kiekit.errors.ApiError` for ``code``."""

    code: int
    message: str


@frozen
class SseEvent:
    """One server-sent event (``event:`` defaults to ``message``; ``data:`` lines joined)."""

    data: str
    event: str = "message"
    id: str | None = None

    def json(self) -> Any:
        """The data as JSON; ValueError when it is not."""
        return json.loads(self.data)


def messages_of(messages: MessagesLike, *, system: str | None = None) -> tuple[Message, ...]:
    """Messages from what a user gives: a prompt string, a :class:`Message`, a previous
    :class:`ChatReply` (the assistant's turn, with its tool calls), a mapping in OpenAI's shape
    (``{"role", "content"}``, content a string or ``text`` / ``image_url`` parts; ``tool_calls``
    on an assistant message, ``{"role": "tool", "tool_call_id", "content"}``), Anthropic's
    ``thinking`` / ``redacted_thinking`` / ``tool_use`` / ``tool_result`` blocks (kept in
    :attr:`Message.thinking_blocks`), Responses' ``function_call`` /
    ``function_call_output`` items — or a list of those. ``system`` is put first.
    ValidationError names the place, before anything is sent."""
    if isinstance(messages, (str, Message, ChatReply, Mapping)):
        given: list[Any] = [messages]
    elif isinstance(messages, Sequence):
        given = list(messages)
    else:
        raise ValidationError(
            "messages", f"must be a prompt or a list, not {type(messages).__name__}"
        )
    read: list[Message] = []
    places: list[str] = []
    for i, item in enumerate(given):
        for message in _messages(f"messages[{i}]", item):
            # Responses' function_call items follow one another: one assistant turn
            last = read[-1] if read else None
            if (
                last is not None
                and message.role == "assistant"
                and last.role == "assistant"
                and message.content == ""
                and message.tool_calls
                and isinstance(item, Mapping)
                and item.get("type") == "function_call"
            ):
                read[-1] = Message(
                    "assistant",
                    last.content,
                    (*last.tool_calls, *message.tool_calls),
                    thinking_blocks=last.thinking_blocks,
                )
                continue
            read.append(message)
            places.append(f"messages[{i}]")
    if system is not None:
        if not isinstance(system, str) or not system.strip():
            raise ValidationError("system", "must be a non-empty string")
        read.insert(0, Message("system", system))
        places.insert(0, "system")
    if not any(m.role in ("user", "assistant") for m in read):
        raise ValidationError("messages", "must hold at least one user or assistant message")
    _check_tool_turns(read, places)
    for message, where in zip(read, places, strict=True):
        # a lone surrogate (not UTF-8) is named as the message's field holding it
        check_utf8(where, message.content if where == "system" else attrs.asdict(message))
    return tuple(read)


def _check_tool_turns(messages: list[Message], places: list[str]) -> None:
    """Each tool result answers a call of the assistant turn just before it (every API
    refuses a result it cannot pair with a call)."""
    open_calls: set[str] = set()
    for message, where in zip(messages, places, strict=True):
        if message.role == "tool":
            if message.tool_call_id not in open_calls:
                raise ValidationError(
                    f"{where}.tool_call_id",
                    f"{message.tool_call_id!r} answers no tool call of the assistant "
                    "message before it",
                )
            open_calls.discard(message.tool_call_id)
        else:
            open_calls = {call.id for call in message.tool_calls}


def _messages(where: str, item: Any) -> list[Message]:
    if isinstance(item, str):
        item = {"role": "user", "content": item}
    if isinstance(item, ChatReply):
        item = item.message
    if isinstance(item, Message):
        item = {
            "role": item.role,
            "content": item.content,
            "tool_calls": list(item.tool_calls),
            "tool_call_id": item.tool_call_id,
            "thinking_blocks": list(item.thinking_blocks),
            "is_error": item.is_error,
        }
    if not isinstance(item, Mapping):
        raise ValidationError(where, "must be an object with role and content")
    kind = item.get("type")
    if kind == "function_call":  # a Responses item
        return [Message("assistant", "", tool_calls=(_tool_call(where, item),))]
    if kind == "function_call_output":
        call_id = _name(item.get("call_id"), f"{where}.call_id")
        return [Message("tool", _tool_text(f"{where}.output", item.get("output")), (), call_id)]
    failed = _flag(item.get("is_error"), f"{where}.is_error")
    role = item.get("role")
    if role not in ROLES:
        raise ValidationError(f"{where}.role", f"must be one of {', '.join(ROLES)}; got {role!r}")
    content = item.get("content")
    if role == "tool":
        call_id = _name(item.get("tool_call_id"), f"{where}.tool_call_id")
        text = _tool_text(f"{where}.content", content)
        return [Message("tool", text, (), call_id, is_error=failed)]
    calls = list(_tool_calls(where, item.get("tool_calls"), role))
    thoughts = list(_thinking_blocks(where, item.get("thinking_blocks"), role))
    if isinstance(content, Sequence) and not isinstance(content, (str, bytes, bytearray)):
        blocks = [dict(b) if isinstance(b, Mapping) else b for b in content]
        for i, block in enumerate(blocks):
            if isinstance(block, dict) and block.get("type") in THINKING_TYPES:
                thoughts.append(_thinking_block(f"{where}.content[{i}]", block, role))
        results = [
            Message(
                "tool",
                _tool_text(f"{where}.content[{i}].content", b.get("content", "")),
                (),
                _name(b.get("tool_use_id"), f"{where}.content[{i}].tool_use_id"),
                # Anthropic's flag of a failed call, kept (each wire says it its way)
                is_error=_flag(b.get("is_error"), f"{where}.content[{i}].is_error"),
            )
            for i, b in enumerate(blocks)
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        if results and role != "user":
            raise ValidationError(f"{where}.content", "tool_result blocks come in a user message")
        for i, block in enumerate(blocks):
            if isinstance(block, dict) and block.get("type") == "tool_use":
                if role != "assistant":
                    raise ValidationError(
                        f"{where}.content[{i}]", "tool_use blocks come in an assistant message"
                    )
                calls.append(_tool_call(f"{where}.content[{i}]", block))
        rest = [
            (i, b)
            for i, b in enumerate(blocks)
            if not (isinstance(b, dict) and b.get("type") in ("tool_use", "tool_result"))
            and not (isinstance(b, dict) and b.get("type") in THINKING_TYPES)
        ]
        if results or calls or thoughts:
            parts = tuple(_part(f"{where}.content[{i}]", b) for i, b in rest)
            read = [*results]
            if parts or calls or thoughts:
                read.append(Message(role, parts or "", tuple(calls), None, tuple(thoughts)))
            return read
    if (calls or thoughts) and (content is None or content == ""):
        return [Message("assistant", "", tuple(calls), None, tuple(thoughts))]
    if isinstance(content, str):
        if not content.strip():
            raise ValidationError(f"{where}.content", "must not be empty")
        return [Message(role, content, tuple(calls), None, tuple(thoughts))]
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)) and content:
        parts = tuple(_part(f"{where}.content[{i}]", p) for i, p in enumerate(content))
        return [Message(role, parts, tuple(calls), None, tuple(thoughts))]
    raise ValidationError(f"{where}.content", "must be a non-empty string or list of parts")


THINKING_TYPES = ("thinking", "redacted_thinking")


def _thinking_blocks(where: str, value: Any, role: str) -> list[ThinkingBlock]:
    """A Message's own ``thinking_blocks`` (ThinkingBlock values, as a reply made them)."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return []
    if not isinstance(value, (list, tuple)):
        raise ValidationError(f"{where}.thinking_blocks", "must be a list of thinking blocks")
    return [
        _thinking_block(f"{where}.thinking_blocks[{i}]", block, role)
        for i, block in enumerate(value)
    ]


def _thinking_block(where: str, block: Any, role: str) -> ThinkingBlock:
    """A reasoning block: a ThinkingBlock, or Anthropic's ``{type: thinking, thinking,
    signature}`` / ``{type: redacted_thinking, data}``, which only an assistant turn holds."""
    if role != "assistant":
        raise ValidationError(where, "thinking blocks come in an assistant message")
    if isinstance(block, ThinkingBlock):
        return block
    if not isinstance(block, Mapping):
        raise ValidationError(where, "must be a thinking block")
    if block.get("type") == "redacted_thinking":
        return ThinkingBlock(redacted=_name(block.get("data"), f"{where}.data"))
    text, signature = block.get("thinking", ""), block.get("signature", "")
    if not isinstance(text, str):
        raise ValidationError(f"{where}.thinking", "must be a string")
    if not isinstance(signature, str):
        raise ValidationError(f"{where}.signature", "must be a string")
    return ThinkingBlock(text, signature)


def _flag(value: Any, where: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValidationError(where, "must be true or false")
    return value


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(where, "must be a non-empty string")
    return value


def _tool_text(where: str, content: Any) -> str:
    """A tool result's content as text: a string, text parts, or any other JSON as its text."""
    if isinstance(content, str):
        return content
    texts = content if isinstance(content, (list, tuple)) else None
    if texts and all(isinstance(p, Mapping) and p.get("type") == "text" for p in texts):
        return "".join(_part(f"{where}[{i}]", p).text for i, p in enumerate(texts))  # type: ignore[union-attr]
    try:
        return json.dumps(content, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise ValidationError(where, "must be text or JSON") from None


def _tool_calls(where: str, value: Any, role: str) -> list[ToolCall]:
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return []
    if role != "assistant":
        raise ValidationError(f"{where}.tool_calls", "only an assistant message calls tools")
    if not isinstance(value, (list, tuple)):
        raise ValidationError(f"{where}.tool_calls", "must be a list of tool calls")
    return [_tool_call(f"{where}.tool_calls[{i}]", call) for i, call in enumerate(value)]


def _tool_call(where: str, call: Any) -> ToolCall:
    """A call in any of the wires' shapes: a ToolCall, OpenAI's ``{id, type: function,
    function: {name, arguments}}``, Anthropic's ``{type: tool_use, id, name, input}``,
    Responses' ``{type: function_call, call_id, name, arguments}``."""
    if isinstance(call, ToolCall):
        return call
    if not isinstance(call, Mapping):
        raise ValidationError(where, "must be a tool call object")
    if call.get("type") == "tool_use":
        call_id, name = _name(call.get("id"), f"{where}.id"), call.get("name")
        arguments, arg_where = call.get("input", {}), f"{where}.input"
        name_where = f"{where}.name"
    elif call.get("type") == "function_call":
        call_id, name = _name(call.get("call_id"), f"{where}.call_id"), call.get("name")
        arguments, arg_where, name_where = (
            call.get("arguments", ""),
            f"{where}.arguments",
            f"{where}.name",
        )
    else:
        function = call.get("function")
        if not isinstance(function, Mapping):
            raise ValidationError(f"{where}.function", "must be an object with name and arguments")
        call_id, name = _name(call.get("id"), f"{where}.id"), function.get("name")
        arguments = function.get("arguments", "")
        arg_where, name_where = f"{where}.function.arguments", f"{where}.function.name"
    name = _name(name, name_where)
    if not isinstance(arguments, (str, Mapping)):
        raise ValidationError(arg_where, "must be a JSON object or its text")
    try:
        return ToolCall.of(call_id, name, arguments, arg_where)
    except ProtocolError as exc:
        raise ValidationError(arg_where, "must be a JSON object or its text") from exc


def _part(where: str, part: Any) -> Part:
    if isinstance(part, (TextPart, ImagePart)):
        part = (
            {"type": "text", "text": part.text}
            if isinstance(part, TextPart)
            else {"type": "image_url", "image_url": {"url": part.url}}
        )
    if isinstance(part, str):
        part = {"type": "text", "text": part}
    if not isinstance(part, Mapping):
        raise ValidationError(where, "must be a text or image_url part")
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str) or not text:
            raise ValidationError(f"{where}.text", "must be a non-empty string")
        return TextPart(text)
    if kind == "image_url":  # kie-api.md §5: media always as {type: image_url, image_url: {url}}
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if not _is_image_url(url):
            raise ValidationError(f"{where}.image_url.url", "must be an http(s) or data:image URL")
        return ImagePart(str(url))
    raise ValidationError(f"{where}.type", f"must be 'text' or 'image_url'; got {kind!r}")


def _is_image_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if value.startswith("data:image/"):
        return ";base64," in value
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and value == value.strip()
