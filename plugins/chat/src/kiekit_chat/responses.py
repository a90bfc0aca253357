"""OpenAI Responses: ``POST /codex/v1/responses`` (gpt-5-5, gpt-5-4), ``POST /grok/v1/responses``
(grok-4-5, grok-4-3) and the unified ``POST /api/v1/responses`` (gpt-5-codex … gpt-5.4-codex)
(kie-api.md §5, APICITY-GAP).

``input`` holds the conversation (``input_text`` / ``input_image`` parts), ``instructions`` the
system text, ``reasoning.effort`` the effort. Streams send typed events; the text comes in
``response.output_text.delta``, the end in ``response.completed`` (or ``response.failed``).

Tool calls are ``function_call`` output items (``{call_id, name, arguments}``, the arguments a
JSON text); streamed, ``response.output_item.added`` brings the item and
``response.function_call_arguments.delta`` its arguments, keyed by ``output_index``. A result
goes back as a ``function_call_output`` input item (``call_id``, ``output``) after the
``function_call`` items of the turn before.
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
    ToolCall,
    ToolCallDelta,
    choice,
    integer,
    json_objects,
    number,
)

from kiekit_chat import _read as read
from kiekit_chat import _tools as tool_shapes

__all__ = ["PATHS", "ResponsesOptions", "ResponsesProvider"]

# model id → endpoint. [INF] the unified endpoint's ids between gpt-5-codex and gpt-5.4-codex
PATHS = {
    "gpt-5-5": "/codex/v1/responses",
    "gpt-5-4": "/codex/v1/responses",
    "grok-4-5": "/grok/v1/responses",
    "grok-4-3": "/grok/v1/responses",
    "gpt-5-codex": "/api/v1/responses",
    "gpt-5.1-codex": "/api/v1/responses",
    "gpt-5.2-codex": "/api/v1/responses",
    "gpt-5.3-codex": "/api/v1/responses",
    "gpt-5.4-codex": "/api/v1/responses",
}


@frozen
class ResponsesOptions(Input):
    max_output_tokens: int | None = integer(1, None, default=None)
    temperature: float | None = number(0, 2, default=None)
    reasoning_effort: str | None = choice("minimal", "low", "medium", "high", default=None)
    tools: tuple[dict[str, Any], ...] | None = json_objects()

    def check(self) -> None:
        tool_shapes.check_responses(self.tools or ())


def _content(message: Message) -> Any:
    if isinstance(message.content, str):
        return message.content
    text_type = "output_text" if message.role == "assistant" else "input_text"
    return [
        {"type": "input_image", "image_url": part.url}
        if isinstance(part, ImagePart)
        else {"type": text_type, "text": part.text}
        for part in message.content
    ]


def _items(message: Message) -> list[dict[str, Any]]:
    """One message as ``input`` items: a tool result is a ``function_call_output``; an
    assistant's tool calls ``function_call`` items after its text."""
    if message.role == "tool":
        return [
            {
                "type": "function_call_output",
                "call_id": message.tool_call_id,
                "output": tool_shapes.result_text(message),
            }
        ]
    items = []
    if message.content or not message.tool_calls:
        items.append({"role": message.role, "content": _content(message)})
    items += [
        {
            "type": "function_call",
            "call_id": call.id,
            "name": call.name,
            "arguments": call.raw_arguments,
        }
        for call in message.tool_calls
    ]
    return items


def _text(output: list[Any], where: str) -> tuple[str, str, tuple[ToolCall, ...]]:
    """The answer's text, its reasoning summary and its tool calls, from the ``output``
    items."""
    texts, thoughts, calls = [], [], []
    for index, raw in enumerate(output):
        item = read.obj(raw, f"{where}[{index}]")
        if item.get("type") == "message":
            for number_, part_raw in enumerate(read.items(item.get("content"), f"{where}.content")):
                part = read.obj(part_raw, f"{where}[{index}].content[{number_}]")
                if part.get("type") == "output_text":
                    texts.append(read.opt_str(part, "text", f"{where}.content") or "")
        elif item.get("type") == "reasoning":
            for raw_summary in read.items(item.get("summary") or [], f"{where}.summary"):
                summary = read.obj(raw_summary, f"{where}[{index}].summary")
                thoughts.append(read.opt_str(summary, "text", f"{where}.summary") or "")
        elif item.get("type") == "function_call":
            at = f"{where}[{index}]"
            calls.append(
                read.tool_call(
                    read.req_str(item, "call_id", at),
                    read.req_str(item, "name", at),
                    item.get("arguments", ""),
                    f"{at}.arguments",
                )
            )
    return "".join(texts), "".join(thoughts), tuple(calls)


class ResponsesProvider(ChatProvider):
    name = "kie-responses"
    models: ClassVar[tuple[ChatModel, ...]] = tuple(
        ChatModel(model_id, ResponsesOptions) for model_id in PATHS
    )

    def build_request(self, call: ChatCall, *, stream: bool) -> Request:
        self.model(call.model)
        options = read.options_of(call, ResponsesOptions)
        system = [m.text for m in call.messages if m.role == "system"]
        body: dict[str, Any] = {
            "model": call.model,
            "input": [item for m in call.messages if m.role != "system" for item in _items(m)],
            "stream": stream,
        }
        if system:
            body["instructions"] = "\n\n".join(system)
        for name in ("max_output_tokens", "temperature"):
            value = getattr(options, name)
            if value is not None:
                body[name] = value
        if options.reasoning_effort is not None:
            body["reasoning"] = {"effort": options.reasoning_effort}
        if options.tools:
            body["tools"] = [dict(tool) for tool in options.tools]
        return Request("POST", PATHS[call.model], body=body)

    def _reply(self, model_id: str, data: Any, where: str) -> ChatReply | ChatFailure:
        answer = read.obj(data, where)
        if answer.get("error") is not None:
            return read.failure(answer["error"])
        if answer.get("status") == "failed":
            return read.failure("the response failed with no error given")
        text, thinking, calls = _text(read.items(answer.get("output"), f"{where}.output"), where)
        return ChatReply(
            text=text,
            model=read.opt_str(answer, "model", where) or model_id,
            usage=read.usage(answer, where, "input_tokens", "output_tokens"),
            credits=read.credits(answer, where),
            finish_reason=read.opt_str(answer, "status", where),
            thinking=thinking,
            tool_calls=calls,
            raw=data,
        )

    def parse_reply(self, model_id: str, payload: Any) -> ChatReply | ChatFailure:
        return self._reply(model_id, payload, "answer")

    def parse_event(self, model_id: str, event: SseEvent) -> ChatDelta | ChatFailure | None:
        data = read.event_json(event)
        kind = data.get("type", event.event)
        if kind == "error":
            return read.failure(data)
        if kind == "response.output_text.delta":
            return ChatDelta(text=read.opt_str(data, "delta", kind) or "", raw=data)
        if kind == "response.reasoning_summary_text.delta":
            return ChatDelta(thinking=read.opt_str(data, "delta", kind) or "", raw=data)
        if kind == "response.output_item.added":
            item = read.obj(data.get("item"), f"{kind}.item")
            if item.get("type") != "function_call":
                return None  # a message or reasoning item starts: its deltas bring the text
            piece = ToolCallDelta(
                _index(data, kind),
                id=read.req_str(item, "call_id", f"{kind}.item"),
                name=read.req_str(item, "name", f"{kind}.item"),
                arguments=read.opt_str(item, "arguments", f"{kind}.item") or "",
            )
            return ChatDelta(tool_calls=(piece,), raw=data)
        if kind == "response.function_call_arguments.delta":
            piece = ToolCallDelta(
                _index(data, kind), arguments=read.opt_str(data, "delta", kind) or ""
            )
            return ChatDelta(tool_calls=(piece,), raw=data)
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            reply = self._reply(model_id, data.get("response"), f"{kind}.response")
            if isinstance(reply, ChatFailure):
                return reply
            return ChatDelta(
                model=reply.model,
                usage=reply.usage,
                credits=reply.credits,
                finish_reason=reply.finish_reason,
                done=True,
                raw=data,
            )
        # created, in_progress, part added, item and arguments done: nothing new for the user
        return None


def _index(data: Any, where: str) -> int:
    index = read.opt_int(data, "output_index", where)
    if index is None:
        raise ProtocolError(f"{where} names no output_index", payload=data)
    return index
