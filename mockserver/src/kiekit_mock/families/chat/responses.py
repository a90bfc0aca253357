"""OpenAI Responses: ``POST /codex/v1/responses`` (gpt-5-5, gpt-5-4), ``POST /grok/v1/responses``
(grok-4-5, grok-4-3) and the unified ``POST /api/v1/responses`` (gpt-5-codex … gpt-5.4-codex)
(kie-api.md §5, APICITY-GAP).

``input`` is a string or a list of ``{role, content}`` items with ``input_text`` /
``input_image`` parts; ``instructions`` is the system text. Streams send OpenAI's typed
events: response.created, response.output_text.delta, …, response.completed (or
response.failed).

Tool calls are ``function_call`` output items (``call_id``, ``name``, ``arguments`` JSON text),
streamed as response.output_item.added, response.function_call_arguments.delta…/done and
response.output_item.done; results come back as ``function_call_output`` input items.
"""

from __future__ import annotations

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
    created_at,
    cut,
    drops,
    new_id,
    open_stream,
    send,
    taught,
)

ROUTES = web.RouteTableDef()

UNIFIED = "/api/v1/responses"  # where a model taught by extra_chat_models is served
# [INF] the unified endpoint's model list between gpt-5-codex and gpt-5.4-codex is inferred
MODELS = {
    "/codex/v1/responses": ("gpt-5-5", "gpt-5-4"),
    "/grok/v1/responses": ("grok-4-5", "grok-4-3"),
    "/api/v1/responses": (
        "gpt-5-codex",
        "gpt-5.1-codex",
        "gpt-5.2-codex",
        "gpt-5.3-codex",
        "gpt-5.4-codex",
    ),
}
ROLES = ("system", "developer", "user", "assistant")
EFFORTS = ("minimal", "low", "medium", "high")


def _turn(index: int, item: object) -> Turn:
    where = f"input[{index}]"
    kind = item.get("type") if isinstance(item, dict) else None
    if isinstance(item, dict) and kind == "function_call":
        text_of(item.get("name"), f"{where}.name")
        if not isinstance(item.get("arguments"), str):
            raise invalid(f"{where}.arguments must be a string")
        return Turn("assistant", "", calls=(call_id_of(item.get("call_id"), f"{where}.call_id"),))
    if isinstance(item, dict) and kind == "function_call_output":
        call_id = call_id_of(item.get("call_id"), f"{where}.call_id")
        text = tool_text(item.get("output"), f"{where}.output")
        return Turn("tool", text, answers=(call_id,), where=f"{where}.call_id")
    if not isinstance(item, dict) or item.get("role") not in ROLES:
        raise invalid(f"{where}.role is not within the range of allowed options")
    content = item.get("content")
    if isinstance(content, str):
        return Turn(str(item["role"]), text_of(content, f"{where}.content"))
    if not isinstance(content, list) or not content:
        raise invalid(f"{where}.content cannot be empty")
    texts, images = [], 0
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text"):
            texts.append(text_of(part.get("text"), f"{where}.content[{number}].text"))
        elif kind == "input_image":
            text_of(part.get("image_url"), f"{where}.content[{number}].image_url")
            images += 1
        else:
            raise invalid(f"{where}.content[{number}].type must be input_text or input_image")
    return Turn(str(item["role"]), " ".join(texts), images)


def read(path: str, body: dict[str, Any], extra: frozenset[str] = frozenset()) -> Conversation:
    """The call on ``path``; ``extra``: model ids the unified endpoint serves beyond its own
    (MockConfig.extra_chat_models)."""
    model = body.get("model")
    if model is None or model == "":
        raise invalid("model cannot be empty")
    # an object or a list is no model id (nor a key of the sets below): KIE's 422 (§1, §7)
    if not isinstance(model, str) or (
        model not in MODELS[path] and not (path == UNIFIED and model in extra)
    ):
        raise invalid("model not supported")  # KIE's own words (§7)
    given = body.get("input")
    if isinstance(given, str):
        turns: tuple[Turn, ...] = (Turn("user", text_of(given, "input")),)
    elif isinstance(given, list) and given:
        turns = tuple(_turn(i, item) for i, item in enumerate(given))
        check_tool_turns(turns)
    else:
        raise invalid("input cannot be empty")
    instructions = body.get("instructions")
    if instructions is not None:
        turns = (Turn("system", text_of(instructions, "instructions")), *turns)
    reasoning = body.get("reasoning")
    if reasoning is not None:
        effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
        if effort not in EFFORTS:
            raise invalid("reasoning.effort is not within the range of allowed options")
    limit = optional_positive_int(body, "max_output_tokens")
    optional_temperature(body)
    functions = _functions(tools_of(body))
    return Conversation(
        model=str(model),
        turns=turns,
        stream=optional_bool(body, "stream"),
        tool=tool_call(turns, functions, "call_"),
        limit=limit,
    )


def _functions(tools: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The caller's function tools (name, parameters). A Responses tool has a ``type``; a
    function tool its ``name`` at the top (``{type: function, name, parameters}``): OpenAI
    refuses a chat-completions tool (``function: {name}``) with "Missing required parameter:
    'tools[0].name'", and so does the mock, naming the field. Other types (``web_search``…)
    are the API's own tools, taken as given."""
    found = []
    for index, tool in enumerate(tools):
        kind = text_of(tool.get("type"), f"tools[{index}].type")
        if kind == "function":
            found.append(
                (text_of(tool.get("name"), f"tools[{index}].name"), tool.get("parameters"))
            )
    return found


def _output(conv: Conversation, response_id: str, *, arguments: bool = True) -> dict[str, Any]:
    """The answer's one output item: the message, or the function call."""
    if conv.tool is not None:
        return {
            "type": "function_call",
            "id": response_id.replace("resp_", "fc_"),
            "call_id": conv.tool.id,
            "name": conv.tool.name,
            "arguments": conv.tool.json if arguments else "",
            "status": "completed" if arguments else "in_progress",
        }
    return {
        "type": "message",
        "id": response_id.replace("resp_", "msg_"),
        "status": "incomplete" if conv.limited else "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": conv.answer(), "annotations": []}],
    }


def _response(
    conv: Conversation, response_id: str, created: int, credits: float, *, done: bool
) -> dict[str, Any]:
    usage = {
        "input_tokens": conv.input_tokens(),
        "output_tokens": conv.output_tokens(),
        "total_tokens": conv.input_tokens() + conv.output_tokens(),
    }
    message = _output(conv, response_id)
    status = ("incomplete" if conv.limited else "completed") if done else "in_progress"
    # cut at max_output_tokens: OpenAI's "incomplete", saying why
    why = {"incomplete_details": {"reason": "max_output_tokens"}} if status == "incomplete" else {}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        **why,
        "model": conv.model,
        "output": [message] if done else [],
        "usage": usage if done else None,
        **({"credits_consumed": credits} if done else {}),  # [INF] as on /claude (§5 [OBS])
    }


async def _answer(request: web.Request) -> web.StreamResponse:
    account = chat_account(request)
    conv = read(request.path, await json_body(request), taught(request, "responses"))
    if conv.fails and not conv.stream:
        raise failure()
    credits = charge(request, account, conv)
    response_id, created = new_id("resp_"), created_at(request)
    if not conv.stream:
        return answer(_response(conv, response_id, created, credits, done=True))
    response = await open_stream(request)

    async def event(kind: str, **data: Any) -> None:
        await send(response, {"type": kind, **data}, event=kind)

    started = _response(conv, response_id, created, credits, done=False)
    await event("response.created", response=started)
    await event("response.in_progress", response=started)
    if conv.tool is None:
        item_id = response_id.replace("resp_", "msg_")
        where: dict[str, Any] = {"item_id": item_id, "output_index": 0, "content_index": 0}
        text, delta_kind = conv.answer(), "response.output_text.delta"
    else:  # the item (call id, name, no arguments yet), then the arguments' JSON in pieces
        item = _output(conv, response_id, arguments=False)
        await event("response.output_item.added", output_index=0, item=item)
        where = {"item_id": item["id"], "output_index": 0}
        text, delta_kind = conv.tool.json, "response.function_call_arguments.delta"
    for number, piece in enumerate(pieces(text)):
        await event(delta_kind, delta=piece, **where)
        if number == 0 and drops(request, conv):  # after the first piece, however few
            return await cut(request, response)
        if number == 0 and conv.fails:
            failed = started | {
                "status": "failed",
                "error": {"code": "server_error", "message": failure().msg},
            }
            await event("response.failed", response=failed)
            await response.write_eof()
            return response
    if conv.tool is None:
        await event("response.output_text.done", text=text, **where)
    else:
        await event("response.function_call_arguments.done", arguments=text, **where)
        await event("response.output_item.done", output_index=0, item=_output(conv, response_id))
    last = "response.incomplete" if conv.limited else "response.completed"
    await event(last, response=_response(conv, response_id, created, credits, done=True))
    await response.write_eof()
    return response


@ROUTES.post("/codex/v1/responses")
async def codex(request: web.Request) -> web.StreamResponse:
    return await _answer(request)


@ROUTES.post("/grok/v1/responses")
async def grok(request: web.Request) -> web.StreamResponse:
    return await _answer(request)


@ROUTES.post("/api/v1/responses")
async def unified(request: web.Request) -> web.StreamResponse:
    return await _answer(request)
