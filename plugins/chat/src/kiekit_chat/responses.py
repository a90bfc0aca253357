"""OpenAI Responses: ``POST /codex/v1/responses`` (gpt-5-5, gpt-5-4), ``POST /grok/v1/responses``
(grok-4-5, grok-4-3) and the unified ``POST /api/v1/responses`` (gpt-5-codex … gpt-5.4-codex)
(kie-api.md §5, APICITY-GAP).

``input`` holds the conversation (``input_text`` / ``input_image`` parts), ``instructions`` the
system text, ``reasoning.effort`` the effort. Streams send typed events; the text comes in
``response.output_text.delta``, the end in ``response.completed`` (or ``response.failed``).
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
    Request,
    SseEvent,
    choice,
    integer,
    json_objects,
    number,
)

from kiekit_chat import _read as read

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
    max_output_tokens: int | None = integer(1, None)
    temperature: float | None = number(0, 2)
    reasoning_effort: str | None = choice("minimal", "low", "medium", "high")
    tools: tuple[dict[str, Any], ...] | None = json_objects()


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


def _text(output: list[Any], where: str) -> tuple[str, str]:
    """The answer's text and its reasoning summary, from the ``output`` items."""
    texts, thoughts = [], []
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
    return "".join(texts), "".join(thoughts)


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
            "input": [
                {"role": m.role, "content": _content(m)}
                for m in call.messages
                if m.role != "system"
            ],
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
        text, thinking = _text(read.items(answer.get("output"), f"{where}.output"), where)
        return ChatReply(
            text=text,
            model=read.opt_str(answer, "model", where) or model_id,
            usage=read.usage(answer, where, "input_tokens", "output_tokens"),
            credits=read.credits(answer, where),
            finish_reason=read.opt_str(answer, "status", where),
            thinking=thinking,
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
        return None  # created, in_progress, item/part added and done: nothing new for the user
