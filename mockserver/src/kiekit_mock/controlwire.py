"""Helpers for the `/_mock/` control routes of faults, limits and callbacks.

Control routes are the mock's own API, not KIE's: plain JSON in and out, real HTTP statuses, and a
bad request is HTTP 400 `{"error": …, "field": …}` naming the offending field, so a test written in
any language can see what it got wrong.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from math import inf
from typing import Any, TypeVar

from aiohttp import web

from .envelope import dumps, loads

T = TypeVar("T")


class ControlError(ValueError):
    """A bad control request (or Python call): names the field and what is wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def answer(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dumps)


def refuse(exc: ControlError) -> web.Response:
    return answer({"error": exc.message, "field": exc.field}, status=400)


async def read_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body (an empty body reads as {})."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        value = loads(raw, parse_float=_number)
    except ValueError as exc:  # UnicodeDecodeError included
        raise ControlError("body", "must be a JSON object") from exc
    if not isinstance(value, dict):
        raise ControlError("body", "must be a JSON object")
    return value


def _number(text: str) -> int | float:
    """A JSON number: ``3.0`` is the integer 3, as JSON Schema (the OpenAPI document) says."""
    value = float(text)
    return int(value) if value.is_integer() else value


def refuse_unknown(body: Mapping[str, Any], known: Collection[str], where: str = "") -> None:
    """A typo in a field name must not silently become "use the default"."""
    for name in body:
        if name not in known:
            raise ControlError(where + name, f"unknown field (known: {', '.join(sorted(known))})")


def opt_int(body: Mapping[str, Any], name: str, *, minimum: int, where: str = "") -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ControlError(where + name, f"must be an integer >= {minimum} or null")
    return value


def opt_number(
    body: Mapping[str, Any], name: str, *, minimum: float, where: str = ""
) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    # not `value < minimum`: NaN and inf (1e400 reads as inf) are no number of anything
    if isinstance(value, bool) or not isinstance(value, int | float) or not minimum <= value < inf:
        raise ControlError(where + name, f"must be a number >= {minimum} or null")
    return float(value)


def opt_text(body: Mapping[str, Any], name: str, where: str = "") -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ControlError(where + name, "must be a non-empty string or null")
    return value


def kie_error_code(value: object, field: str = "code") -> int:
    """A failure's body code, as KIE's are (kie-api.md §7): 4xx or 5xx. 200 means success (§1):
    a receiver that branches on it would take the failure for one."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlError(field, "must be an integer (a KIE error code such as 501)")
    if not 400 <= value <= 599:
        raise ControlError(field, f"must be a KIE error code (400-599), not {value}")
    return value


def one_of(value: object, choices: Collection[T], field: str) -> T:
    for choice in choices:
        if value == choice:
            return choice
    names = ", ".join(str(choice) for choice in choices)
    raise ControlError(field, f"must be one of {names}, not {value!r}")


def query_int(query: Mapping[str, str], name: str, *, minimum: int) -> int | None:
    """A query parameter that must be an integer >= minimum (None when left out)."""
    text = query.get(name)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ControlError(name, f"must be an integer >= {minimum}") from None
    if value < minimum:
        raise ControlError(name, f"must be an integer >= {minimum}")
    return value


def query_number(
    query: Mapping[str, str], name: str, *, minimum: float = 0, maximum: float = inf
) -> float | None:
    """A query parameter that must be a number from minimum to maximum (None when left out)."""
    text = query.get(name)
    if text is None:
        return None
    bounds = f">= {minimum:g}" if maximum == inf else f"from {minimum:g} to {maximum:g}"
    try:
        value = float(text)
    except ValueError:
        raise ControlError(name, f"must be a number {bounds}") from None
    if not minimum <= value <= maximum:  # NaN too
        raise ControlError(name, f"must be a number {bounds}")
    return value
