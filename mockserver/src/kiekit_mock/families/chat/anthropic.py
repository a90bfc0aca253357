"""Anthropic Messages: ``POST /claude/v1/messages`` (kie-api.md §5).

The answer is Anthropic-shaped plus ``credits_consumed`` [OBS] (HAR claude-chat-hello); the
model goes in the body (``claude-sonnet-4-6``, ``claude-haiku-4-5``), ``thinkingFlag`` asks for
the model's reasoning, tools carry an ``input_schema``. Streams use Anthropic's event types:
message_start, content_block_start/delta/stop, message_delta, message_stop (and ping, error).

Tool calls are ``tool_use`` blocks with ``stop_reason: tool_use``, streamed as a
``content_block_start`` holding the block and ``input_json_delta`` fragments; results come
back as ``tool_result`` blocks of the next user message.

With ``thinkingFlag`` the answer starts with a ``thinking`` block and its ``signature``
(streamed: ``thinking_delta``, then one ``signature_delta``). Its assistant turn may carry it
back (``redacted_thinking`` too), and when the request ends with tool results it must start
with one, unmodified: Anthropic refuses such a request otherwise (extended thinking with tool
use, platform.claude.com/docs/build-with-claude/thinking-tool-workflows: "pass thinking blocks
back complete and unmodified"). [INF] KIE passes ``thinkingFlag`` on as Anthropic's extended
thinking and Anthropic's refusal back (as its 422, as the mock's other refusals).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from aiohttp import web

from ...route_helpers import json_body
from .conversation import (
    Conversation,
    Turn,
    call_id_of,
    check_tool_turns,
    failure,
    invalid,
    optional_bool,
    optional_positive_int,
    optional_temperature,
    pieces,
    text_of,
    tool_call,
    tool_text,
    tools_of,
)
from .events import (
    answer,
    charge,
    chat_account,
    cut,
    drops,
    new_id,
    open_stream,
    send,
    taught,
)

ROUTES = web.RouteTableDef()

MODELS = (
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "claude-opus-4-6",
    "claude-sonnet-4-6-v1messages",
)
ROLES = ("user", "assistant")
THINKING = ("thinking", "redacted_thinking")
ANTHROPIC_TEMPERATURE = 1  # Anthropic's temperature is 0–1, OpenAI's 0–2
SERVER_TOOL = re.compile(r"[a-z][a-z0-9_]*_[0-9]{8}")  # Anthropic's tools: a dated type


def signature_of(thinking: str) -> str:
    """The mock's signature over a thinking block's text: what proves it unmodified."""
    return base64.b64encode(hashlib.sha256(b"kiekit-mock:" + thinking.encode()).digest()).decode()


def _check_thinking(block: dict[str, Any], at: str) -> None:
    if block.get("type") == "redacted_thinking":
        text_of(block.get("data"), f"{at}.data")  # encrypted by Anthropic: the mock makes none
        return
    thinking = block.get("thinking")
    if not isinstance(thinking, str):
        raise invalid(f"{at}.thinking must be a string")
    if block.get("signature") != signature_of(thinking):
        raise invalid(f"{at}: invalid signature in thinking block")


def _turn(index: int, message: object) -> Turn:
    where = f"messages[{index}]"
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise invalid(f"{where}.role is not within the range of allowed options")
    content = message.get("content")
    if isinstance(content, str):
        return Turn(str(message["role"]), text_of(content, f"{where}.content"))
    if not isinstance(content, list) or not content:
        raise invalid(f"{where}.content cannot be empty")
    texts, images, calls, results, answers = [], 0, [], [], []
    role = str(message["role"])
    for number, block in enumerate(content):
        at = f"{where}.content[{number}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(text_of(block.get("text"), f"{at}.text"))
        elif kind == "image" and isinstance(block.get("source"), dict):
            images += 1
        elif kind in THINKING and role == "assistant":
            _check_thinking(block, at)
        elif kind == "tool_use" and role == "assistant":
            text_of(block.get("name"), f"{at}.name")
            if not isinstance(block.get("input"), dict):
                raise invalid(f"{at}.input must be an object")
            calls.append(call_id_of(block.get("id"), f"{at}.id"))
        elif kind == "tool_result" and role == "user":
            answers.append(call_id_of(block.get("tool_use_id"), f"{at}.tool_use_id"))
            if not isinstance(block.get("is_error", False), bool):  # a failed call's flag
                raise invalid(f"{at}.is_error must be a boolean")
            results.append(tool_text(block.get("content", ""), f"{at}.content"))
        else:
            allowed = (
                "text, image, thinking, redacted_thinking or tool_use"
                if role == "assistant"
                else "text, image or tool_result"
            )
            raise invalid(f"{at}.type must be {allowed}")
    if answers:  # tool results (and any text beside them)
        text = " ".join(results + texts)
        return Turn("tool", text, images, answers=tuple(answers), where=f"{where}.content")
    return Turn(role, " ".join(texts), images, calls=tuple(calls))


def _check_thinking_kept(messages: list[Any]) -> None:
    """With thinking on, a request that ends with tool results must send the assistant turn
    of those calls back starting with its thinking (Anthropic's rule, cited above)."""
    last = messages[-1]
    content = last.get("content") if isinstance(last, dict) else None
    if len(messages) < 2 or not isinstance(content, list):
        return
    if not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
        return
    index = len(messages) - 2
    calls = messages[index].get("content")
    first = calls[0] if isinstance(calls, list) and calls else None
    kind = first.get("type") if isinstance(first, dict) else None
    if kind not in THINKING:
        raise invalid(
            f"messages[{index}].content[0].type: expected thinking or redacted_thinking, but "
            f"found {kind or 'text'}; with thinking on, the assistant message of the tool "
            "calls must start with its thinking block"
        )


def _system(value: object) -> tuple[Turn, ...]:
    if value is None:
        return ()
    if isinstance(value, list):  # Anthropic also takes system as text blocks
        value = " ".join(b.get("text", "") for b in value if isinstance(b, dict))
    return (Turn("system", text_of(value, "system")),)


def read(body: dict[str, Any], extra: frozenset[str] = frozenset()) -> Conversation:
    """The call; ``extra``: model ids beyond the API's own (MockConfig.extra_chat_models)."""
    model = body.get("model")
    if model is None or model == "":
        raise invalid("model cannot be empty")
    # an object or a list is no model id (nor a key of the set `extra`): KIE's 422 (§1, §7)
    if not isinstance(model, str) or (model not in MODELS and model not in extra):
        raise invalid("model not supported")  # KIE's own words (§7)
    messages = body.get("messages")
    if messages is not None and not isinstance(messages, list):
        raise invalid("messages must be a list of messages")
    if not messages:
        raise invalid("messages cannot be empty")
    turns = _system(body.get("system")) + tuple(_turn(i, m) for i, m in enumerate(messages))
    check_tool_turns(turns)
    thinking = optional_bool(body, "thinkingFlag")
    if thinking:
        _check_thinking_kept(messages)
    limit = optional_positive_int(body, "max_tokens")
    optional_temperature(body, highest=ANTHROPIC_TEMPERATURE)
    custom_tools = []
    for index, tool in enumerate(tools_of(body)):
        name = text_of(tool.get("name"), f"tools[{index}].name")
        # a tool of the caller's own carries its input's JSON Schema (§5); a server tool
        # (web search: a versioned `type`, web_search_20250305) has none. OpenAI's
        # {"type": "function"} is neither: Anthropic refuses it
        kind = tool.get("type")
        custom = kind in (None, "custom")
        if not custom and not (isinstance(kind, str) and SERVER_TOOL.fullmatch(kind)):
            raise invalid(f"tools[{index}].type is not within the range of allowed options")
        if custom and not isinstance(tool.get("input_schema"), dict):
            raise invalid(f"tools[{index}].input_schema cannot be empty")
        if custom:
            custom_tools.append((name, tool["input_schema"]))
    return Conversation(
        model=str(model),
        turns=turns,
        stream=optional_bool(body, "stream"),
        thinking=thinking,
        tool=tool_call(turns, custom_tools, "toolu_"),
        limit=limit,
    )


def _content(conv: Conversation) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if conv.thinking:
        thought = conv.reasoning()
        blocks.append({"type": "thinking", "thinking": thought, "signature": signature_of(thought)})
    if conv.tool is not None:
        call = conv.tool
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    else:
        blocks.append({"type": "text", "text": conv.answer()})
    return blocks


def _stop(conv: Conversation) -> str:
    if conv.limited:  # cut at max_tokens: Anthropic's word for it
        return "max_tokens"
    return "end_turn" if conv.tool is None else "tool_use"


@ROUTES.post("/claude/v1/messages")
async def messages(request: web.Request) -> web.StreamResponse:
    account = chat_account(request)
    conv = read(await json_body(request), taught(request, "messages"))
    if conv.fails and not conv.stream:
        raise failure()
    credits = charge(request, account, conv)
    message_id = new_id("msg_")
    if conv.stream:
        return await _stream(request, conv, message_id, credits)
    return answer(
        {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": conv.model,
            "content": _content(conv),
            "stop_reason": _stop(conv),
            # no stop_sequence: KIE's recorded answer leaves it out (§5 [OBS] claude-chat-hello)
            "usage": {"input_tokens": conv.input_tokens(), "output_tokens": conv.output_tokens()},
            "credits_consumed": credits,
        }
    )


async def _stream(
    request: web.Request, conv: Conversation, message_id: str, credits: float
) -> web.StreamResponse:
    response = await open_stream(request)

    async def event(kind: str, **data: Any) -> None:
        await send(response, {"type": kind, **data}, event=kind)

    start: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": conv.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": conv.input_tokens(), "output_tokens": 1},
    }
    await event("message_start", message=start)
    index = 0
    if conv.thinking:
        await event(
            "content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}
        )
        delta = {"type": "thinking_delta", "thinking": conv.reasoning()}
        await event("content_block_delta", index=0, delta=delta)
        signed = {"type": "signature_delta", "signature": signature_of(conv.reasoning())}
        await event("content_block_delta", index=0, delta=signed)
        await event("content_block_stop", index=0)
        index = 1
    if conv.tool is None:
        block: dict[str, Any] = {"type": "text", "text": ""}
        text = conv.answer()
    else:  # the block (id, name, an empty input), then the input's JSON text in fragments
        block = {"type": "tool_use", "id": conv.tool.id, "name": conv.tool.name, "input": {}}
        text = conv.tool.json
    await event("content_block_start", index=index, content_block=block)
    await event("ping")
    for number, piece in enumerate(pieces(text)):
        if conv.tool is None:
            delta = {"type": "text_delta", "text": piece}
        else:
            delta = {"type": "input_json_delta", "partial_json": piece}
        await event("content_block_delta", index=index, delta=delta)
        if number == 0 and drops(request, conv):  # after the first piece, however few
            return await cut(request, response)
        if number == 0 and conv.fails:
            await event("error", error={"type": "api_error", "message": failure().msg})
            await response.write_eof()
            return response
    await event("content_block_stop", index=index)
    await event(
        "message_delta",
        delta={"stop_reason": _stop(conv), "stop_sequence": None},
        usage={"output_tokens": conv.output_tokens()},
        credits_consumed=credits,  # [INF] where a stream would carry the [OBS] field
    )
    await event("message_stop")
    await response.write_eof()
    return response
