"""What every chat API shares in the mock: the conversation read from a request, the answer
derived from it, its token counts and its price.

The answer is deterministic — the same messages always get the same text — so a test can say
what it expects, and a streamed answer must assemble to exactly the whole one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...envelope import ErrorAnswer
from ...rules import FAIL_MARKER

DROP_MARKER = "[mock:drop]"  # a streamed answer stops mid-way: the connection is cut
FAIL_CODE = 500
FAIL_MSG = "Server error: the mock was asked to fail this chat"
# Mock figures, not KIE's prices: credits per 1000 input and per 1000 output tokens.
INPUT_PRICE = 1.0
OUTPUT_PRICE = 4.0


@dataclass(frozen=True)
class Turn:
    role: str
    text: str
    images: int = 0


@dataclass(frozen=True)
class Conversation:
    """One chat request, read: its model, turns and the options the mock acts on."""

    model: str
    turns: tuple[Turn, ...]
    stream: bool = False
    thinking: bool = False  # include_thoughts / thinkingFlag: a reasoning text comes first
    json_answer: bool = False  # response_format asks for JSON

    @property
    def prompt(self) -> str:
        return "\n".join(turn.text for turn in self.turns)

    @property
    def fails(self) -> bool:
        return FAIL_MARKER in self.prompt

    @property
    def drops(self) -> bool:
        return DROP_MARKER in self.prompt

    def answer(self) -> str:
        """``Echo from <model>: <the last user text>`` (+ how many images it saw)."""
        last = next((t for t in reversed(self.turns) if t.role == "user"), self.turns[-1])
        text = " ".join(last.text.split()) or "(no text)"
        seen = sum(t.images for t in self.turns)
        if seen:
            text += f" (and {seen} image{'s' if seen > 1 else ''})"
        if self.json_answer:
            return '{"answer": "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"}'
        return f"Echo from {self.model}: {text}"

    def reasoning(self) -> str:
        return (
            f"The user wrote {len(self.turns)} message(s); I echo the last."
            if self.thinking
            else ""
        )

    def input_tokens(self) -> int:
        return sum(len(t.text.split()) + 1 + 85 * t.images for t in self.turns)

    def output_tokens(self) -> int:
        return len(self.answer().split()) + len(self.reasoning().split())

    def credits(self) -> float:
        cost = self.input_tokens() * INPUT_PRICE + self.output_tokens() * OUTPUT_PRICE
        return round(cost / 1000, 6)


def pieces(text: str) -> list[str]:
    """The text cut as a model streams it: a word and the space after it, each."""
    return re.findall(r"\S+\s*|\s+", text)


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


def optional_positive_int(body: dict[str, object], field: str) -> None:
    value = body.get(field)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(f"{field} must be a positive integer")


def optional_temperature(body: dict[str, object]) -> None:
    value = body.get("temperature")
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2:
        raise invalid("temperature must be a number between 0 and 2")


def tools_of(body: dict[str, object]) -> bool:
    """Whether the request names tools; each must be an object with a ``type``."""
    tools = body.get("tools")
    if tools is None:
        return False
    if not isinstance(tools, list) or not tools:
        raise invalid("tools must be a non-empty array")
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not (tool.get("type") or tool.get("name")):
            raise invalid(f"tools[{index}] must be an object with a type")
    return True
