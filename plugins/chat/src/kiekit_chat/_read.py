"""Reading chat answers defensively: every shape problem is a ProtocolError naming the place,
never a KeyError or TypeError, whatever KIE (or a proxy in front of it) sends."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, TypeVar

from kiekit.plugin import (
    ChatCall,
    ChatFailure,
    ProtocolError,
    SseEvent,
    ToolCall,
    Usage,
    ValidationError,
)

T = TypeVar("T")

# Error type names of the OpenAI and Anthropic wires, as KIE's body codes (kie-api.md §7).
_CODES = {
    "invalid_request_error": 400,
    "invalid_prompt": 400,
    "authentication_error": 401,
    "permission_error": 401,
    "insufficient_quota": 402,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "api_error": 500,
    "server_error": 500,
    "overloaded_error": 529,
}


def obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{where} is not an object", payload=value)
    return value


def items(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError(f"{where} is not a list", payload=value)
    return value


def opt_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ProtocolError(f"{where}.{key} is not a string", payload=value)


def opt_int(data: Mapping[str, Any], key: str, where: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"{where}.{key} is not a count", payload=value)
    return value


def opt_number(data: Mapping[str, Any], key: str, where: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProtocolError(f"{where}.{key} is not a number", payload=value)
    return float(value)


def usage(data: Mapping[str, Any], where: str, input_key: str, output_key: str) -> Usage | None:
    raw = data.get("usage")
    if raw is None:
        return None
    found = obj(raw, f"{where}.usage")
    read = Usage(
        input_tokens=opt_int(found, input_key, f"{where}.usage"),
        output_tokens=opt_int(found, output_key, f"{where}.usage"),
    )
    return read if read != Usage() else None


def credits(data: Mapping[str, Any], where: str) -> float | None:
    # KIE adds credits_consumed to the model's own answer (kie-api.md §5 [OBS], /claude)
    return opt_number(data, "credits_consumed", where)


def event_json(event: SseEvent) -> Mapping[str, Any]:
    try:
        data = event.json()
    except ValueError as exc:
        raise ProtocolError("an event's data is not JSON", payload=event.data[:200]) from exc
    return obj(data, "event data")


def code_of(value: Any, default: int = 500) -> int:
    """A numeric code, or an error type name read as KIE's code; ``default`` otherwise."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int) and 100 <= value <= 999:
        return value
    if isinstance(value, str):
        if value.strip().isdigit() and 100 <= int(value) <= 999:
            return int(value)
        return _CODES.get(value, default)
    return default


def failure(error: Any, default: int = 500) -> ChatFailure:
    """An ``{"code"|"type", "message"}`` error object as a ChatFailure."""
    if not isinstance(error, Mapping):
        text = error if isinstance(error, str) and error else "the model reported an error"
        return ChatFailure(default, text)
    message = error.get("message")
    if not isinstance(message, str) or not message:
        message = json.dumps(error, default=str)[:200]
    code = error.get("code")
    return ChatFailure(code_of(code if code is not None else error.get("type"), default), message)


def options_of(call: ChatCall, cls: type[T]) -> T:
    """The call's options, which must be this API's (``make_call`` makes them so)."""
    if not isinstance(call.options, cls):
        given = type(call.options).__name__
        raise ValidationError("options", f"{call.model} takes {cls.__name__}, not {given}")
    return call.options


def req_str(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{where}.{key} is not a non-empty string", payload=value)
    return value


def tool_call(call_id: str, name: str, arguments: Any, where: str) -> ToolCall:
    """A tool call the model made; its arguments a JSON object or that object's text."""
    if not isinstance(arguments, (str, Mapping)):
        raise ProtocolError(f"{where} is not a JSON object or its text", payload=arguments)
    return ToolCall.of(call_id, name, arguments, where)
