"""Anthropic messages: ``POST /claude/v1/messages`` (kie-api.md §5).

The answer is Anthropic-shaped plus KIE's ``credits_consumed`` [OBS] (HAR claude-chat-hello).
The model goes in the body; ``thinkingFlag`` asks for the model's reasoning; a system message
is Anthropic's top-level ``system``; images are ``image`` blocks with a URL (or base64) source.
Streams use Anthropic's event types (message_start, content_block_delta, message_delta,
message_stop, error; ping and text block starts carry nothing for the user).

Tool calls are ``tool_use`` blocks (``{id, name, input}``) with ``stop_reason: tool_use``;
streamed, a ``content_block_start`` holding the block and ``input_json_delta`` fragments of its
input's JSON text. Results go back as ``tool_result`` blocks (``tool_use_id``) of the next user
message: kiekit's consecutive ``role="tool"`` messages become one such message.

With ``thinkingFlag``, the answer's ``thinking`` blocks (text, then a ``signature``; streamed as
``thinking_delta`` and one ``signature_delta``) and ``redacted_thinking`` blocks are kept on the
reply and sent back first in its assistant turn, unchanged: with extended thinking and tools,
Anthropic refuses the tool results otherwise (platform.claude.com/docs/build-with-claude/
thinking-tool-workflows). [INF] KIE passes ``thinkingFlag`` on as Anthropic's extended thinking
and the blocks back and forth as they are (§5 names the flag; the answer is Anthropic-shaped).
"""

from __future__ import annotations

from typing import Any, ClassVar

from attrs import frozen
from kiekit.plugin import (
    ChatCall,
    ChatDelta,
    ChatFailure,
    ChatModel,
    ChatProvider,
    ChatReply,
    ImagePart,
    Input,
    Message,
    ProtocolError,
    Request,
    SseEvent,
    ThinkingBlock,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
    ValidationError,
    flag,
    integer,
    json_objects,
    number,
)

from kiekit_chat import _read as read
from kiekit_chat import _tools as tool_shapes

__all__ = ["MODEL_IDS", "PATH", "MessagesOptions", "MessagesProvider"]

PATH = "/claude/v1/messages"
MODEL_IDS = ("claude-sonnet-4-6", "claude-haiku-4-5")


@frozen
class MessagesOptions(Input):
    max_tokens: int | None = integer(1, None, default=None)
    temperature: float | None = number(0, 1, default=None)
    thinking: bool | None = flag(default=None, wire="thinkingFlag")
    tools: tuple[dict[str, Any], ...] | None = json_objects()

    def check(self) -> None:
        # Anthropic tools are {name, description?, input_schema} (§5), or its own (dated type)
        tool_shapes.check_messages(self.tools or ())


def _block(part: Any) -> dict[str, Any]:
    if not isinstance(part, ImagePart):
        return {"type": "text", "text": part.text}
    if part.url.startswith("data:"):
        media_type, _, data = part.url.removeprefix("data:").partition(";base64,")
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": part.url}}


def _thinking(block: ThinkingBlock) -> dict[str, Any]:
    """A reasoning block as Anthropic returned it: it checks the signature against the text."""
    if block.redacted is not None:
        return {"type": "redacted_thinking", "data": block.redacted}
    sent: dict[str, Any] = {"type": "thinking", "thinking": block.text}
    if block.signature:
        sent["signature"] = block.signature
    return sent


def _content(message: Message) -> Any:
    if isinstance(message.content, str) and not (message.tool_calls or message.thinking_blocks):
        return message.content
    if isinstance(message.content, str):
        blocks = [{"type": "text", "text": message.content}] if message.content else []
    else:
        blocks = [_block(part) for part in message.content]
    # the reasoning first, as the answer held it (Anthropic wants the turn to start with it)
    return (
        [_thinking(block) for block in message.thinking_blocks]
        + blocks
        + [
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
            for call in message.tool_calls
        ]
    )


def _turns(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """The conversation without its system text; tool results as one user message of
    ``tool_result`` blocks each time they follow one another."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role != "tool":
            turns.append({"role": message.role, "content": _content(message)})
            continue
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id,
            "content": message.text,
        }
        if message.is_error:
            result["is_error"] = True
        last = turns[-1] if turns else None
        if last is not None and last.get("tool_results"):
            last["content"].append(result)
        else:
            turns.append({"role": "user", "content": [result], "tool_results": True})
    for turn in turns:
        turn.pop("tool_results", None)
    return turns


class MessagesProvider(ChatProvider):
    name = "kie-claude-messages"
    models: ClassVar[tuple[ChatModel, ...]] = tuple(
        ChatModel(model_id, MessagesOptions) for model_id in MODEL_IDS
    )

    def check(self, model_id: str, messages: tuple[Message, ...]) -> None:
        for index, message in enumerate(messages):
            if message.role == "system" and index > 0 and messages[index - 1].role != "system":
                raise ValidationError(
                    f"messages[{index}].role", "system text must come before the conversation"
                )
            if message.role == "system" and not isinstance(message.content, str):
                raise ValidationError(f"messages[{index}].content", "system text must be text")

    def build_request(self, call: ChatCall, *, stream: bool) -> Request:
        self.model(call.model)
        options = read.options_of(call, MessagesOptions)
        system = [m.text for m in call.messages if m.role == "system"]
        body: dict[str, Any] = {
            "model": call.model,
            "messages": _turns(call.messages),
            "stream": stream,
        }
        if system:
            body["system"] = "\n\n".join(system)
        for name in ("max_tokens", "temperature"):
            value = getattr(options, name)
            if value is not None:
                body[name] = value
        if options.thinking is not None:
            body["thinkingFlag"] = options.thinking
        if options.tools:
            body["tools"] = [dict(tool) for tool in options.tools]
        return Request("POST", PATH, body=body)

    def parse_reply(self, model_id: str, payload: Any) -> ChatReply | ChatFailure:
        data = read.obj(payload, "answer")
        if data.get("type") == "error" or data.get("error") is not None:
            return read.failure(data.get("error"))
        blocks = read.items(data.get("content"), "answer.content")
        texts, thoughts, calls = [], [], []
        for index, raw in enumerate(blocks):
            where = f"answer.content[{index}]"
            block = read.obj(raw, where)
            kind = block.get("type")
            if kind == "text":
                texts.append(read.opt_str(block, "text", where) or "")
            elif kind == "thinking":
                thoughts.append(
                    ThinkingBlock(
                        read.opt_str(block, "thinking", where) or "",
                        read.opt_str(block, "signature", where) or "",
                    )
                )
            elif kind == "redacted_thinking":
                thoughts.append(ThinkingBlock(redacted=read.req_str(block, "data", where)))
            elif kind == "tool_use":
                call_id, name = read.req_str(block, "id", where), read.req_str(block, "name", where)
                calls.append(read.tool_call(call_id, name, block.get("input"), f"{where}.input"))
        return ChatReply(
            text="".join(texts),
            model=read.opt_str(data, "model", "answer") or model_id,
            usage=read.usage(data, "answer", "input_tokens", "output_tokens"),
            credits=read.credits(data, "answer"),
            finish_reason=read.opt_str(data, "stop_reason", "answer"),
            thinking="".join(thought.text for thought in thoughts),
            tool_calls=tuple(calls),
            raw=payload,
            thinking_blocks=tuple(thoughts),
            stop_sequence=read.opt_str(data, "stop_sequence", "answer"),
        )

    def parse_event(self, model_id: str, event: SseEvent) -> ChatDelta | ChatFailure | None:
        data = read.event_json(event)
        kind = data.get("type", event.event)
        if kind == "error":
            return read.failure(data.get("error"))
        if kind == "message_start":
            message = read.obj(data.get("message"), "message_start.message")
            usage = read.usage(message, "message_start.message", "input_tokens", "output_tokens")
            return ChatDelta(
                model=read.opt_str(message, "model", "message_start.message"),
                # output_tokens here is a running count; message_delta brings the final one
                usage=None if usage is None else Usage(input_tokens=usage.input_tokens),
                raw=data,
            )
        if kind == "content_block_delta":
            delta = read.obj(data.get("delta"), "content_block_delta.delta")
            where = "content_block_delta.delta"
            if delta.get("type") == "thinking_delta":
                return ChatDelta(
                    thinking=read.opt_str(delta, "thinking", where) or "",
                    thinking_block=ThinkingDelta(_index(data, "content_block_delta")),
                    raw=data,
                )
            if delta.get("type") == "signature_delta":  # the thinking block's, at its end
                signed = ThinkingDelta(
                    _index(data, "content_block_delta"),
                    signature=read.opt_str(delta, "signature", where) or "",
                )
                return ChatDelta(thinking_block=signed, raw=data)
            if delta.get("type") == "text_delta":
                return ChatDelta(text=read.opt_str(delta, "text", where) or "", raw=data)
            if delta.get("type") == "input_json_delta":
                index = _index(data, "content_block_delta")
                piece = ToolCallDelta(
                    index, arguments=read.opt_str(delta, "partial_json", where) or ""
                )
                return ChatDelta(tool_calls=(piece,), raw=data)
            return None  # delta types added later: not text
        if kind == "content_block_start":
            where = "content_block_start.content_block"
            block = read.obj(data.get("content_block"), where)
            if block.get("type") == "redacted_thinking":  # whole at its start: no deltas
                redacted = ThinkingDelta(
                    _index(data, "content_block_start"), redacted=read.req_str(block, "data", where)
                )
                return ChatDelta(thinking_block=redacted, raw=data)
            if block.get("type") != "tool_use":
                return None  # a text or thinking block starts: its deltas bring the text
            piece = ToolCallDelta(
                _index(data, "content_block_start"),
                id=read.req_str(block, "id", where),
                name=read.req_str(block, "name", where),
            )
            return ChatDelta(tool_calls=(piece,), raw=data)
        if kind == "message_delta":
            delta = read.obj(data.get("delta") or {}, "message_delta.delta")
            return ChatDelta(
                usage=read.usage(data, "message_delta", "input_tokens", "output_tokens"),
                credits=read.credits(data, "message_delta"),
                finish_reason=read.opt_str(delta, "stop_reason", "message_delta.delta"),
                raw=data,
                stop_sequence=read.opt_str(delta, "stop_sequence", "message_delta.delta"),
            )
        if kind == "message_stop":
            return ChatDelta(done=True, raw=data)
        return None  # ping, content_block_stop, and event types added later


def _index(data: Any, where: str) -> int:
    index = read.opt_int(data, "index", where)
    if index is None:
        raise ProtocolError(f"{where} names no block index", payload=data)
    return index
