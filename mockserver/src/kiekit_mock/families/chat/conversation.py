"""What every chat API shares in the mock: the conversation read from a request, the answer
derived from it, its token counts and its price.

The answer is deterministic — the same messages always get the same text — so a test can say
what it expects, and a streamed answer must assemble to exactly the whole one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ...envelope import ErrorAnswer
from ...rules import FAIL_MARKER

DROP_MARKER = "[mock:drop]"  # a streamed answer stops mid-way: the connection is cut
TOOL_MARKER = "[mock:tool]"  # with tools given: the answer calls the first one
FAIL_CODE = 500
FAIL_MSG = "Server error: the mock was asked to fail this chat"
# Mock figures, not KIE's prices: credits per 1000 input and per 1000 output tokens.
INPUT_PRICE = 1.0
OUTPUT_PRICE = 4.0


@dataclass(frozen=True)
class Turn:
    """One message. ``calls``: the tool call ids an assistant turn made; a ``tool`` turn
    holds results, ``answers`` the ids they answer, ``where`` the field that named them."""

    role: str
    text: str
    images: int = 0
    calls: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    where: str = ""


@dataclass(frozen=True)
class ToolCall:
    """The call the mock answers with: the first tool, its schema's required fields filled."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def json(self) -> str:
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class Conversation:
    """One chat request, read: its model, turns and the options the mock acts on."""

    model: str
    turns: tuple[Turn, ...]
    stream: bool = False
    thinking: bool = False  # include_thoughts / thinkingFlag: a reasoning text comes first
    json_answer: bool = False  # response_format asks for JSON
    tool: ToolCall | None = None  # the answer is this call instead of text
    limit: int | None = None  # max_tokens / max_output_tokens: the answer's most tokens

    @property
    def prompt(self) -> str:
        return "\n".join(turn.text for turn in self.turns)

    @property
    def fails(self) -> bool:
        return FAIL_MARKER in self.prompt

    @property
    def drops(self) -> bool:
        return DROP_MARKER in self.prompt

    @property
    def limited(self) -> bool:
        """Whether the answer stops at the caller's token limit (``max_tokens``,
        ``max_output_tokens``): the mock's tokens are its pieces (a word each), so the text
        stops after that many. A tool call is not cut; the reasoning text does not count."""
        return (
            self.limit is not None
            and self.tool is None
            and len(pieces(self._whole_answer())) > self.limit
        )

    def answer(self) -> str:
        """The echo answer (:meth:`_whole_answer`), cut to the token limit when it is passed."""
        text = self._whole_answer()
        if self.limit is None or self.tool is not None:
            return text
        return "".join(pieces(text)[: self.limit])

    def _whole_answer(self) -> str:
        """``Echo from <model>: <the last user text>`` (+ how many images it saw)."""
        if self.turns[-1].role == "tool":  # the tools' results came back: echo them
            return f"Echo from {self.model}: tool result {' '.join(self.latest_results().split())}"
        last = next((t for t in reversed(self.turns) if t.role == "user"), self.turns[-1])
        text = " ".join(last.text.split()) or "(no text)"
        seen = sum(t.images for t in self.turns)
        if seen:
            text += f" (and {seen} image{'s' if seen > 1 else ''})"
        if self.json_answer:
            return '{"answer": "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"}'
        return f"Echo from {self.model}: {text}"

    def latest_results(self) -> str:
        """The results of the latest tool round (the tool turns at the end, in the order they
        came), not every earlier round's too."""
        latest: list[str] = []
        for turn in reversed(self.turns):
            if turn.role != "tool":
                break
            latest.insert(0, turn.text)
        return " ".join(latest)

    def reasoning(self) -> str:
        return (
            f"The user wrote {len(self.turns)} message(s); I echo the last."
            if self.thinking
            else ""
        )

    def input_tokens(self) -> int:
        return sum(len(t.text.split()) + 1 + 85 * t.images for t in self.turns)

    def output_tokens(self) -> int:
        if self.tool is not None:
            return len(self.tool.json.split()) + 1 + len(self.reasoning().split())
        return len(self.answer().split()) + len(self.reasoning().split())

    def credits(self) -> float:
        cost = self.input_tokens() * INPUT_PRICE + self.output_tokens() * OUTPUT_PRICE
        return round(cost / 1000, 6)


def pieces(text: str) -> list[str]:
    """The text cut as a model streams it: a word and the space after it, each (at least one
    piece, so a fault meant to come after the first piece always has one to follow)."""
    return re.findall(r"\S+\s*|\s+", text) or [text]


def failure() -> ErrorAnswer:
    # [INF] KIE's chat failure body is undocumented; the envelope's 500 is its server error (§7)
    return ErrorAnswer(FAIL_CODE, FAIL_MSG)


def invalid(msg: str) -> ErrorAnswer:
    return ErrorAnswer(422, msg)


def text_of(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{field} cannot be empty")
    return value


def optional_bool(body: dict[str, object], field: str) -> bool:
    value = body.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(f"{field} must be a boolean")
    return value


def optional_positive_int(body: dict[str, object], field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(f"{field} must be a positive integer")
    return value


def optional_temperature(body: dict[str, object], highest: float = 2) -> None:
    """OpenAI's temperature is 0–2, Anthropic's 0–1 (each API's reference)."""
    value = body.get("temperature")
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= highest:
        raise invalid(f"temperature must be a number between 0 and {highest:g}")


def tools_of(body: dict[str, object]) -> list[dict[str, Any]]:
    """The request's tools (none: an empty list); each must be an object, in the shape of
    its API, which each API's module checks (a tool of another API's shape is refused, not
    ignored: the API itself refuses it, and a test would never see its call made)."""
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list) or not tools:
        raise invalid("tools must be a non-empty array")
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise invalid(f"tools[{index}] must be an object")
    return tools


def tool_call(
    turns: tuple[Turn, ...], tools: list[tuple[str, Any]], prefix: str
) -> ToolCall | None:
    """The call to answer with: when ``tools`` (name, JSON schema) were given and the last
    message is the user's and holds ``[mock:tool]``, the first tool, each required field of its
    schema given a value of its type (an enum's first). The id is derived from the messages,
    so the same request always gets the same call."""
    if not tools or turns[-1].role != "user" or TOOL_MARKER not in turns[-1].text:
        return None
    name, schema = tools[0]
    digest = hashlib.sha256("\n".join(t.text for t in turns).encode()).hexdigest()
    return ToolCall(prefix + digest[:24], name, _arguments(schema))


def _arguments(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return {}
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required")
    names = [n for n in required if isinstance(n, str)] if isinstance(required, list) else []
    return {name: _value(properties.get(name)) for name in names}


_SAMPLES: dict[str, Any] = {
    "string": "mock",
    "integer": 1,
    "number": 1,
    "boolean": True,
    "array": [],
    "null": None,
}


def _value(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "mock"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        return _arguments(schema)
    return _SAMPLES.get(kind, "mock") if isinstance(kind, str) else "mock"


def check_tool_turns(turns: tuple[Turn, ...]) -> None:
    """A tool result must answer a call of the assistant turn just before it, as every API
    demands (an unknown id is refused naming the field)."""
    open_calls: set[str] = set()
    previous: Turn | None = None
    for turn in turns:
        if turn.role == "tool":
            for call_id in turn.answers:
                if call_id not in open_calls:
                    raise invalid(f"{turn.where} {call_id!r} answers no tool call before it")
        elif turn.calls:
            chained = previous is not None and previous.role == "assistant" and previous.calls
            open_calls = (open_calls | set(turn.calls)) if chained else set(turn.calls)
        else:
            open_calls = set()
        previous = turn


def tool_text(value: object, field: str) -> str:
    """A tool result's content: a string (may be empty) or text parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(
        isinstance(p, dict) and p.get("type") in ("text", "input_text", "output_text")
        for p in value
    ):
        return " ".join(text_of(p.get("text"), f"{field}.text") for p in value)
    raise invalid(f"{field} must be a string or text parts")


def call_id_of(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(f"{field} cannot be empty")
    return value
