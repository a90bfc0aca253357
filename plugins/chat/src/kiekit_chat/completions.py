"""OpenAI-compatible chat completions on per-model paths: ``POST /<model>/v1/chat/completions``
(kie-api.md §5 — there is no global ``/v1/chat/completions``).

Tool calls are OpenAI's: ``message.tool_calls`` (``{id, type: function, function: {name,
arguments}}``, the arguments a JSON text) with ``finish_reason: tool_calls``; streamed, as
``delta.tool_calls`` pieces keyed by ``index``. A result goes back as ``{role: tool,
tool_call_id, content}`` after the assistant message that holds the calls.

KIE's extra body fields are §5's: ``include_thoughts``, ``reasoning_effort``, ``tools`` (with
Gemini's ``googleSearch`` as a function tool) and ``response_format``, which cannot go with
tools. §5 lists them for the completions paths as a whole, not for Gemini's alone: they are
taken for every completions model. Media in ``messages[].content[]`` always as ``{type:
"image_url", image_url: {url}}``.
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
    ToolCallDelta,
    ValidationError,
    choice,
    flag,
    integer,
    json_object,
    json_objects,
    number,
)

from kiekit_chat import _read as read
from kiekit_chat import _tools as tool_shapes

__all__ = ["GOOGLE_SEARCH", "MODEL_IDS", "CompletionOptions", "CompletionsProvider"]

GOOGLE_SEARCH = {"type": "function", "function": {"name": "googleSearch"}}  # §5

MODEL_IDS = (
    "gpt-5-2",
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "gemini-3-pro",
    "gemini-3-flash",
    "gemini-3.1-pro",
    "gemini-3-5-flash-openai",
    "claude-sonnet-4-5",
    "claude-opus-4-5",
)


@frozen
class CompletionOptions(Input):
    max_tokens: int | None = integer(1, None, default=None)
    temperature: float | None = number(0, 2, default=None)
    reasoning_effort: str | None = choice("low", "medium", "high", default=None)
    include_thoughts: bool | None = flag(default=None)
    google_search: bool | None = flag(default=None)
    tools: tuple[dict[str, Any], ...] | None = json_objects()
    response_format: dict[str, Any] | None = json_object()  # noqa: RUF009 - an attrs field

    def check(self) -> None:
        tool_shapes.check_completions(self.tools or ())
        if self.response_format is not None and (self.tools or self.google_search):
            # kie-api.md §5: response_format is mutually exclusive with tools
            raise ValidationError(
                "response_format", "cannot be combined with tools or google_search"
            )


def _content(message: Message) -> Any:
    if isinstance(message.content, str):
        return message.content
    return [
        {"type": "image_url", "image_url": {"url": part.url}}
        if isinstance(part, ImagePart)
        else {"type": "text", "text": part.text}
        for part in message.content
    ]


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        content = tool_shapes.result_text(message)
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": content}
    body: dict[str, Any] = {"role": message.role, "content": _content(message)}
    if message.tool_calls:
        body["content"] = body["content"] or None  # OpenAI: content null beside tool_calls
        body["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.raw_arguments},
            }
            for call in message.tool_calls
        ]
    return body


class CompletionsProvider(ChatProvider):
    name = "kie-chat-completions"
    models: ClassVar[tuple[ChatModel, ...]] = tuple(
        ChatModel(model_id, CompletionOptions) for model_id in MODEL_IDS
    )

    def build_request(self, call: ChatCall, *, stream: bool) -> Request:
        self.model(call.model)
        options = read.options_of(call, CompletionOptions)
        body: dict[str, Any] = {
            "model": call.model,
            "messages": [_message(m) for m in call.messages],
            "stream": stream,
        }
        for name in ("max_tokens", "temperature", "reasoning_effort", "include_thoughts"):
            value = getattr(options, name)
            if value is not None:
                body[name] = value
        tools = [dict(tool) for tool in options.tools or ()]
        if options.google_search and GOOGLE_SEARCH not in tools:
            tools.append(GOOGLE_SEARCH)
        if tools:
            body["tools"] = tools
        if options.response_format is not None:
            body["response_format"] = dict(options.response_format)
        return Request("POST", f"/{call.model}/v1/chat/completions", body=body)

    def parse_reply(self, model_id: str, payload: Any) -> ChatReply | ChatFailure:
        data = read.obj(payload, "answer")
        if data.get("error") is not None:
            return read.failure(data["error"])
        choices = read.items(data.get("choices"), "answer.choices")
        if not choices:
            raise ProtocolError("the answer has no choices", payload=payload)
        first = read.obj(choices[0], "answer.choices[0]")
        message = read.obj(first.get("message"), "answer.choices[0].message")
        where = "answer.choices[0].message"
        calls = read.items(message.get("tool_calls") or [], f"{where}.tool_calls")
        tool_calls = []
        for index, raw in enumerate(calls):
            at = f"{where}.tool_calls[{index}]"
            function = read.obj(read.obj(raw, at).get("function"), f"{at}.function")
            tool_calls.append(
                read.tool_call(
                    read.req_str(raw, "id", at),
                    read.req_str(function, "name", f"{at}.function"),
                    function.get("arguments", ""),
                    f"{at}.function.arguments",
                )
            )
        return ChatReply(
            text=read.opt_str(message, "content", where) or "",
            model=read.opt_str(data, "model", "answer") or model_id,
            usage=read.usage(data, "answer", "prompt_tokens", "completion_tokens"),
            credits=read.credits(data, "answer"),
            finish_reason=read.opt_str(first, "finish_reason", "answer.choices[0]"),
            thinking=read.opt_str(message, "reasoning_content", where) or "",
            tool_calls=tuple(tool_calls),
            raw=payload,
        )

    def parse_event(self, model_id: str, event: SseEvent) -> ChatDelta | ChatFailure | None:
        if event.data.strip() == "[DONE]":
            return ChatDelta(done=True, raw=event.data)
        data = read.event_json(event)
        if data.get("error") is not None:
            return read.failure(data["error"])
        text = thinking = ""
        finish = None
        pieces: list[ToolCallDelta] = []
        choices = read.items(data.get("choices", []), "chunk.choices")
        if choices:
            first = read.obj(choices[0], "chunk.choices[0]")
            delta = read.obj(first.get("delta") or {}, "chunk.choices[0].delta")
            text = read.opt_str(delta, "content", "chunk.choices[0].delta") or ""
            thinking = read.opt_str(delta, "reasoning_content", "chunk.choices[0].delta") or ""
            finish = read.opt_str(first, "finish_reason", "chunk.choices[0]")
            pieces = _tool_pieces(delta.get("tool_calls"))
        return ChatDelta(
            text=text,
            thinking=thinking,
            model=read.opt_str(data, "model", "chunk"),
            usage=read.usage(data, "chunk", "prompt_tokens", "completion_tokens"),
            credits=read.credits(data, "chunk"),
            finish_reason=finish,
            tool_calls=tuple(pieces),
            raw=data,
        )


def _tool_pieces(value: Any) -> list[ToolCallDelta]:
    """``delta.tool_calls``: each piece names its call by ``index``; the first brings the
    call's id and function name, the next ones fragments of the arguments' JSON text."""
    where = "chunk.choices[0].delta.tool_calls"
    found = []
    for position, raw in enumerate(read.items(value or [], where)):
        piece = read.obj(raw, f"{where}[{position}]")
        index = read.opt_int(piece, "index", f"{where}[{position}]")
        function = read.obj(piece.get("function") or {}, f"{where}[{position}].function")
        found.append(
            ToolCallDelta(
                index=position if index is None else index,
                id=read.opt_str(piece, "id", f"{where}[{position}]"),
                name=read.opt_str(function, "name", f"{where}[{position}].function"),
                arguments=read.opt_str(function, "arguments", f"{where}[{position}].function")
                or "",
            )
        )
    return found
