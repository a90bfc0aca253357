"""KIE's chat routes (kie-api.md §5; families/chat/): synchronous, the API's own JSON (OpenAI
chat completions, Anthropic messages, OpenAI responses) or server-sent events with
`stream: true`; a failure is still KIE's envelope at HTTP 200, and the key is asked for on
every call, even outside /api/ (§1)."""

from __future__ import annotations

from typing import Any

from ..families.chat import anthropic, openai, responses
from .operation import KIE_ENVELOPE, kie_error
from .schema import BEARER, STRING, Schema, boolean, enum, obj, required_text, strict

NOT_FOUND = {
    "description": "not a chat model (a real HTTP 404)",
    "content": {"text/plain": {"schema": STRING}},
}
TEXT_OR_PARTS: Schema = {
    "anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "minItems": 1}]
}
COMMON = {
    "stream": boolean(),
    "max_tokens": {"type": "integer", "minimum": 1},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
}


def _tools(tool: Schema) -> Schema:
    return {"type": "array", "minItems": 1, "items": tool}


# Each API's own tool shape: another API's is refused naming the field (families/chat/)
COMPLETION_TOOL: Schema = {
    "type": "object",
    "properties": {
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "properties": {"name": required_text()},
            "required": ["name"],
        },
    },
    "required": ["type", "function"],
}
MESSAGES_TOOL: Schema = {
    "anyOf": [
        {  # the caller's own: its input's JSON Schema
            "type": "object",
            "properties": {
                "type": {"enum": ["custom", None]},
                "name": required_text(),
                "input_schema": {"type": "object"},
            },
            "required": ["name", "input_schema"],
        },
        {  # one of Anthropic's, by its dated type (web_search_20250305)
            "type": "object",
            "properties": {
                "type": {"type": "string", "pattern": f"^{anthropic.SERVER_TOOL.pattern}$"},
                "name": required_text(),
            },
            "required": ["type", "name"],
        },
    ]
}
RESPONSES_TOOL: Schema = {
    "type": "object",
    "properties": {"type": required_text()},
    "required": ["type"],
    # a function tool names itself at the top: {type: function, name, parameters}
    "if": {"properties": {"type": {"const": "function"}}},
    "then": {"properties": {"name": required_text()}, "required": ["name"]},
}


def _messages(roles: tuple[str, ...]) -> Schema:
    message = obj({"role": enum(roles), "content": TEXT_OR_PARTS}, ("role", "content"))
    return {"type": "array", "minItems": 1, "items": message}


def _answer(shape: Schema) -> dict[str, Any]:
    return {
        "description": "the API's own answer, KIE's envelope for a failure, or events",
        "content": {
            "application/json": {"schema": {"anyOf": [shape, kie_error()]}},
            # server-sent events: each event's `data` is the API's own chunk (any JSON)
            "text/event-stream": {"schema": {}},
        },
    }


def _operation(summary: str, body: Schema, shape: Schema, **extra: Any) -> dict[str, Any]:
    return {
        "tags": ["chat"],
        "summary": summary,
        "description": "kie-api.md §5",
        "security": BEARER,
        "x-kie-envelope": KIE_ENVELOPE,  # a failure: KIE's envelope at HTTP 200 (§1, §5)
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {"200": _answer(shape)} | extra,
    }


# The answers, as far as a client reads them (their other members are the API's own)
_ITEMS: Schema = {"type": "array", "items": {"type": "object"}}
_USAGE: Schema = {"type": "object"}
COMPLETION: Schema = {
    "type": "object",
    "properties": {
        "id": STRING,
        "object": {"const": "chat.completion"},
        "created": {"type": "integer"},
        "model": STRING,
        "choices": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "message": {
                        "type": "object",
                        "properties": {
                            "role": {"const": "assistant"},
                            "content": {"type": ["string", "null"]},
                            "tool_calls": _ITEMS,
                        },
                    },
                    "finish_reason": {"type": ["string", "null"]},
                },
            },
        },
        "usage": _USAGE,
    },
    "required": ["id", "object", "choices"],
}
MESSAGE: Schema = {
    "type": "object",
    "properties": {
        "id": STRING,
        "type": {"const": "message"},
        "role": {"const": "assistant"},
        "model": STRING,
        "content": _ITEMS,  # text, thinking and tool_use blocks
        "stop_reason": {"type": ["string", "null"]},
        "usage": _USAGE,
    },
    "required": ["id", "type", "content"],
}
RESPONSE: Schema = {
    "type": "object",
    "properties": {
        "id": STRING,
        "object": {"const": "response"},
        "status": STRING,
        "model": STRING,
        "output": _ITEMS,  # message and function_call items
        "usage": {"type": ["object", "null"]},
    },
    "required": ["id", "object", "output"],
}


def paths() -> dict[str, dict[str, Any]]:
    chat = _operation(
        "OpenAI chat completions on a per-model path",
        obj(
            COMMON
            | {
                "messages": _messages(openai.ROLES),
                "reasoning_effort": enum(openai.EFFORTS),
                "include_thoughts": boolean(),
                "tools": _tools(COMPLETION_TOOL),
            },
            ("messages",),
        ),
        COMPLETION,
        **{"404": NOT_FOUND},
    )
    chat["parameters"] = [
        {"name": "model", "in": "path", "required": True, "schema": enum(openai.MODELS)}
    ]
    found: dict[str, dict[str, Any]] = {
        "/{model}/v1/chat/completions": {"post": chat},
        "/claude/v1/messages": {
            "post": _operation(
                "Anthropic messages",
                obj(
                    COMMON
                    | {
                        "temperature": {
                            "type": "number",
                            "minimum": 0,
                            "maximum": anthropic.ANTHROPIC_TEMPERATURE,
                        },
                        "model": enum(anthropic.MODELS),
                        "messages": _messages(anthropic.ROLES),
                        "thinkingFlag": boolean(),
                        "tools": _tools(MESSAGES_TOOL),
                    },
                    ("model", "messages"),
                ),
                MESSAGE,
            )
        },
    }
    for path, models in responses.MODELS.items():
        body = obj(
            {
                "model": enum(models),
                "input": TEXT_OR_PARTS,
                "instructions": {"type": "string", "minLength": 1},
                "stream": boolean(),
                "max_output_tokens": {"type": "integer", "minimum": 1},
                "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                "reasoning": strict({"effort": enum(responses.EFFORTS)}),
                "tools": _tools(RESPONSES_TOOL),
            },
            ("model", "input"),
        )
        found[path] = {"post": _operation("OpenAI responses", body, RESPONSE)}
    return found
