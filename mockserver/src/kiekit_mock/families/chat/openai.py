"""OpenAI-compatible chat completions on a per-model path: ``POST /<model>/v1/chat/completions``
(kie-api.md §5; there is no global ``/v1/chat/completions``).

Extra body fields §5 names: ``include_thoughts``, ``reasoning_effort``, ``tools`` (Gemini's
``googleSearch`` is a function tool) and ``response_format``, which cannot go with ``tools``.
Media in ``messages[].content[]`` always as ``{type: "image_url", image_url: {url}}``.

Tool calls are OpenAI's: ``message.tool_calls`` with ``finish_reason: tool_calls``, streamed
as ``delta.tool_calls`` pieces; results come back as ``{role: tool, tool_call_id, content}``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...route_helpers import json_body
from ..market_models.extra import WARNING_HEADER, header_safe
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
    created_at,
    cut,
    drops,
    new_id,
    open_stream,
    send,
    taught,
)

ROUTES = web.RouteTableDef()

MODELS = (
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
ROLES = ("system", "developer", "user", "assistant", "tool")
EFFORTS = ("low", "medium", "high")
FORMATS = ("text", "json_object", "json_schema")


def _turn(index: int, message: object) -> Turn:
    where = f"messages[{index}]"
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise invalid(f"{where}.role is not within the range of allowed options")
    content = message.get("content")
    if message["role"] == "tool":
        call_id = call_id_of(message.get("tool_call_id"), f"{where}.tool_call_id")
        text = tool_text(content, f"{where}.content")
        return Turn("tool", text, answers=(call_id,), where=f"{where}.tool_call_id")
    calls = _calls(where, message)
    if calls and content is None:
        return Turn("assistant", "", calls=calls)
    if isinstance(content, str):
        return Turn(str(message["role"]), text_of(content, f"{where}.content"), calls=calls)
    if not isinstance(content, list) or not content:
        raise invalid(f"{where}.content cannot be empty")
    texts, images = [], 0
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            texts.append(text_of(part.get("text"), f"{where}.content[{number}].text"))
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            text_of(url, f"{where}.content[{number}].image_url.url")
            images += 1
        else:
            raise invalid(f"{where}.content[{number}].type must be text or image_url")
    return Turn(str(message["role"]), " ".join(texts), images)


def _calls(where: str, message: dict[str, Any]) -> tuple[str, ...]:
    calls = message.get("tool_calls")
    if calls is None:
        return ()
    if message["role"] != "assistant" or not isinstance(calls, list) or not calls:
        raise invalid(f"{where}.tool_calls must be a non-empty array on an assistant message")
    ids = []
    for number, call in enumerate(calls):
        at = f"{where}.tool_calls[{number}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or call.get("type") != "function":
            raise invalid(f"{at} must be a function call")
        text_of(function.get("name"), f"{at}.function.name")
        if not isinstance(function.get("arguments"), str):
            raise invalid(f"{at}.function.arguments must be a string")
        ids.append(call_id_of(call.get("id"), f"{at}.id"))
    return tuple(ids)


def _functions(tools: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The caller's function tools (name, parameters); Gemini's googleSearch is KIE's own.
    Each tool is ``{type: function, function: {name, …}}`` (§5), as OpenAI's chat completions
    demand: another API's shape (Responses' top-level ``name``, Anthropic's ``input_schema``)
    is refused naming the field."""
    found = []
    for index, tool in enumerate(tools):
        if tool.get("type") != "function":
            raise invalid(f"tools[{index}].type is not within the range of allowed options")
        function = tool.get("function")
        if not isinstance(function, dict):
            raise invalid(f"tools[{index}].function cannot be empty")
        name = text_of(function.get("name"), f"tools[{index}].function.name")
        if name != "googleSearch":
            found.append((name, function.get("parameters")))
    return found


def read(model: str, body: dict[str, Any]) -> Conversation:
    messages = body.get("messages")
    if messages is not None and not isinstance(messages, list):
        raise invalid("messages must be a list of messages")
    if not messages:
        raise invalid("messages cannot be empty")
    turns = tuple(_turn(i, m) for i, m in enumerate(messages))
    check_tool_turns(turns)
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in EFFORTS:
        raise invalid("reasoning_effort is not within the range of allowed options")
    limit = optional_positive_int(body, "max_tokens")
    optional_temperature(body)
    tools = tools_of(body)
    functions = _functions(tools)
    has_tools = bool(tools)
    fmt = body.get("response_format")
    if fmt is not None:
        if not isinstance(fmt, dict) or fmt.get("type") not in FORMATS:
            raise invalid("response_format.type is not within the range of allowed options")
        if has_tools:  # §5: response_format and tools are mutually exclusive
            raise invalid("response_format cannot be used together with tools")
    return Conversation(
        model=model,
        turns=turns,
        stream=optional_bool(body, "stream"),
        thinking=optional_bool(body, "include_thoughts"),
        json_answer=isinstance(fmt, dict) and fmt.get("type") != "text",
        tool=tool_call(turns, functions, "call_") if has_tools else None,
        limit=limit,
    )


def _usage(conv: Conversation) -> dict[str, int]:
    prompt, completion = conv.input_tokens(), conv.output_tokens()
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@ROUTES.post("/{model}/v1/chat/completions")
async def completions(request: web.Request) -> web.StreamResponse:
    model = request.match_info["model"]
    if model not in MODELS and model not in taught(request, "completions"):
        raise web.HTTPNotFound()  # an unknown route is a real HTTP 404 (§1)
    account = chat_account(request)
    body = await json_body(request)
    conv = read(model, body)
    if conv.fails and not conv.stream:
        raise failure()
    credits = charge(request, account, conv)
    answer_id, created = new_id("chatcmpl-"), created_at(request)
    warned = _model_mismatch(model, body.get("model"))
    if conv.stream:
        return await _stream(request, conv, answer_id, created, credits, warned)
    message: dict[str, Any] = {"role": "assistant", "content": conv.answer()}
    if conv.tool is not None:
        message = {"role": "assistant", "content": None, "tool_calls": [_call(conv)]}
    if conv.thinking:  # [INF] Gemini's OpenAI mode returns thoughts as reasoning_content
        message["reasoning_content"] = conv.reasoning()
    whole = answer(
        {
            "id": answer_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": _finish(conv)}],
            "usage": _usage(conv),
            "credits_consumed": credits,  # [INF] as the Anthropic answer carries it (§5 [OBS])
        }
    )
    whole.headers.update(warned)
    return whole


def _model_mismatch(model: str, named: object) -> dict[str, str]:
    """The warning header for a body naming another model than the path (kie-api.md §5: the
    path names the model; what KIE does with a body's `model` is not documented, so the mock
    answers as the path's model, as before, and says so in the answer's header, which the
    journal keeps). Empty when the body names none or the same."""
    if not isinstance(named, str) or named in ("", model):
        return {}
    said = f"the body names model {named!r}, the path {model!r}: answered as {model!r}"
    return {WARNING_HEADER: header_safe(said) or "the body names another model than the path"}


def _call(conv: Conversation) -> dict[str, Any]:
    assert conv.tool is not None
    function = {"name": conv.tool.name, "arguments": conv.tool.json}
    return {"id": conv.tool.id, "type": "function", "function": function}


def _finish(conv: Conversation) -> str:
    if conv.limited:  # cut at max_tokens: OpenAI's word for it
        return "length"
    return "stop" if conv.tool is None else "tool_calls"


async def _stream(
    request: web.Request,
    conv: Conversation,
    answer_id: str,
    created: int,
    credits: float,
    headers: dict[str, str],
) -> web.StreamResponse:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "id": answer_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": conv.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }

    response = await open_stream(request, headers)
    await send(response, chunk({"role": "assistant", "content": ""}))
    if conv.thinking:
        await send(response, chunk({"reasoning_content": conv.reasoning()}))
    if conv.tool is not None:  # the call first (id, name), then its arguments' JSON in pieces
        first = {**_call(conv), "index": 0}
        first["function"] = {**first["function"], "arguments": ""}
        await send(response, chunk({"tool_calls": [first]}))
    text = conv.answer() if conv.tool is None else conv.tool.json
    for number, piece in enumerate(pieces(text)):
        if conv.tool is None:
            await send(response, chunk({"content": piece}))
        else:
            call = {"index": 0, "function": {"arguments": piece}}
            await send(response, chunk({"tool_calls": [call]}))
        if number == 0 and drops(request, conv):  # after the first piece, however few
            return await cut(request, response)
        if number == 0 and conv.fails:
            error = {"message": failure().msg, "type": "server_error", "code": failure().code}
            await send(response, {"error": error})
            await response.write_eof()
            return response
    # [INF] usage (and KIE's credits) in the last chunk, as OpenAI's stream_options.include_usage
    last = chunk({}, _finish(conv), usage=_usage(conv), credits_consumed=credits)
    await send(response, last)
    await send(response, "[DONE]")
    await response.write_eof()
    return response
