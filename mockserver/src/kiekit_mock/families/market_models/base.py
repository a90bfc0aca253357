"""What every market model of the mock declares, and checks shared by several of them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ...config import MarketOutput
from ...envelope import ErrorAnswer
from ..validation import invalid, not_one_of, optional_bool, optional_number

Input = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Source:
    """An earlier task of the caller's that a model works on, named by an input field."""

    field: str  # the input field that names it ("task_id")
    models: frozenset[str]  # the models whose tasks it takes
    what: str  # those, in words, for the failure message ("a Grok Imagine video task")


@dataclass(frozen=True)
class MarketModel:
    name: str
    check: Callable[[Input], Input]  # validates, returns the input as KIE stores it
    kind: MarketOutput  # text: resultObject instead of files (§2.2)
    results: int  # result URLs on success (0 for text)
    cost: float  # credits per task: mock figures, not KIE's price list
    progress: bool = False  # recordInfo reports `progress` 0–100 (Sora 2 only, §2.2)
    guessed: bool = False  # an id the mock does not know, accepted with its kind from its id
    result_ext: str | None = None  # its result files' type (None: the kind's usual one)
    # the type and number of a task's result files from its input (a catalogue entry's
    # format_field and count_field); None: result_ext and results, whatever the input
    files: Callable[[Input], tuple[str, int]] | None = None
    source: Source | None = None  # the earlier task it works on (grok.py's follow-ups)
    # a text model's resultObject on success (its catalogue entry's `result`); "{task_id}" in
    # a string stands for the task's id. None: the generic {"text": …} of a taught model
    result: Mapping[str, Any] | None = None


def result_object(result: Mapping[str, Any], task_id: str) -> dict[str, Any]:
    """A text model's resultObject for one task: its entry's example, each "{task_id}" in a
    string (at any depth) replaced by the task's id, so two tasks answer two values."""

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{task_id}", task_id)
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, Mapping):
            return {key: fill(item) for key, item in value.items()}
        return value

    filled: dict[str, Any] = fill(result)
    return filled


def nested(where: str, check: Callable[[], T]) -> T:
    """Run a field check on a nested object, naming the field by its place (`shots[1].duration`)."""
    try:
        return check()
    except ErrorAnswer as exc:
        raise ErrorAnswer(exc.code, f"{where}.{exc.msg}") from None


def objects(inp: Input, field: str, *, max_items: int | None = None) -> list[dict[str, Any]]:
    """A non-empty array of JSON objects."""
    value = inp.get(field)
    if value is None or value == []:
        raise invalid(f"{field} cannot be empty")
    if not isinstance(value, list):
        raise invalid(f"{field} must be an array of objects")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise invalid(not_one_of(field, index, "must be an array of objects"))
    if max_items is not None and len(value) > max_items:
        raise invalid(f"{field} cannot contain more than {max_items} items")
    return value


def required_bool(inp: Input, field: str) -> bool:
    value = optional_bool(inp, field)
    if value is None:
        raise invalid(f"{field} cannot be empty")
    return value


def seconds(data: Input, field: str, low: float, high: float) -> float:
    """A required number of seconds in [low, high], a JSON number or a numeric string."""
    if data.get(field) is None:
        raise invalid(f"{field} cannot be empty")
    value = optional_number(data, field, low)
    if value is None or value > high:
        raise invalid(f"{field} must be between {low:g} and {high:g}")
    return value
