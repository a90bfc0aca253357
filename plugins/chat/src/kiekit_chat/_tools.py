"""Each API's own tool shape, checked before anything is sent.

The three wires want three shapes, and a tool in another API's shape is not called: OpenAI's
chat completions refuse one without ``function``, the Responses API one without a top-level
``name`` ("Missing required parameter: 'tools[0].name'"), Anthropic a ``type`` it does not
have. So a tool that does not fit the model's API is a ValidationError naming ``tools[i]``,
saying which shape the API wants, not a paid call that never calls it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from kiekit.plugin import Message, ValidationError

COMPLETIONS_SHAPE = '{"type": "function", "function": {"name", "parameters"}}'
RESPONSES_SHAPE = '{"type": "function", "name", "parameters"}'
MESSAGES_SHAPE = '{"name", "input_schema"}'
# Anthropic's own tools carry a dated type (web_search_20250305); the caller's have none
# (or "custom")
_SERVER_TOOL = re.compile(r"[a-z][a-z0-9_]*_[0-9]{8}")


def _named(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _looks_like(tool: Mapping[str, Any]) -> str:
    """Which API's shape a tool that fits none is in, for the message."""
    if isinstance(tool.get("function"), Mapping):
        return f"a chat-completions tool ({COMPLETIONS_SHAPE})"
    if "input_schema" in tool:
        return f"an Anthropic tool ({MESSAGES_SHAPE})"
    if tool.get("type") == "function":
        return f"a Responses tool ({RESPONSES_SHAPE})"
    return "not a tool of this API"


def _refuse(field: str, tool: Mapping[str, Any], api: str, shape: str) -> ValidationError:
    return ValidationError(field, f"is {_looks_like(tool)}; {api} wants {shape}")


def check_completions(tools: Iterable[Mapping[str, Any]]) -> None:
    for index, tool in enumerate(tools):
        function = tool.get("function")
        if tool.get("type") != "function" or not isinstance(function, Mapping):
            raise _refuse(f"tools[{index}]", tool, "chat completions", COMPLETIONS_SHAPE)
        if not _named(function.get("name")):
            raise ValidationError(f"tools[{index}].function.name", "is required")


def check_responses(tools: Iterable[Mapping[str, Any]]) -> None:
    for index, tool in enumerate(tools):
        kind = tool.get("type")
        if not _named(kind):
            raise _refuse(f"tools[{index}]", tool, "the Responses API", RESPONSES_SHAPE)
        if kind == "function" and not _named(tool.get("name")):
            raise _refuse(f"tools[{index}]", tool, "the Responses API", RESPONSES_SHAPE)
        # another type (web_search …) is one of the API's own tools: passed as given


def check_messages(tools: Iterable[Mapping[str, Any]]) -> None:
    for index, tool in enumerate(tools):
        kind = tool.get("type")
        if kind not in (None, "custom") and not (
            isinstance(kind, str) and _SERVER_TOOL.fullmatch(kind)
        ):
            raise _refuse(f"tools[{index}]", tool, "Anthropic", MESSAGES_SHAPE)
        if not _named(tool.get("name")):
            raise ValidationError(f"tools[{index}].name", "is required")
        if kind in (None, "custom") and not isinstance(tool.get("input_schema"), Mapping):
            raise ValidationError(
                f"tools[{index}].input_schema", "is required: the JSON Schema of its input"
            )


def result_text(message: Message) -> str:
    """A tool result's text for an API without an error flag (OpenAI's two): a failed call's
    (``is_error``) says so first, as ``ToolCall.result(error=True)`` promises."""
    return f"Error: {message.text}" if message.is_error else message.text
