"""Small builders for JSON Schema (OpenAPI 3.1 dialect) fragments, so each route's entry reads
like the checks in its family module (`families/validation.py`): required non-blank strings,
enums, length and item limits, http(s) URLs, numbers that KIE also takes as numeric strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Schema = dict[str, Any]

# the error codes KIE puts in a body (kie-api.md §7); HTTP stays 200 (§1)
ERROR_CODES = (400, 401, 402, 404, 405, 408, 413, 422, 429, 433, 451, 455, 500, 501, 505, 531, 550)
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def text(max_len: int | None = None) -> Schema:
    """An optional string field (validation.optional_str)."""
    schema: Schema = {"type": "string"}
    if max_len is not None:
        schema["maxLength"] = max_len
    return schema


def required_text(max_len: int | None = None) -> Schema:
    """A string that must not be blank (validation.required_str: "<field> cannot be empty")."""
    return text(max_len) | {"minLength": 1, "pattern": r"\S"}


def enum(values: Iterable[Any]) -> Schema:
    return {"enum": list(values)}


def boolean() -> Schema:
    return {"type": "boolean"}


def url() -> Schema:
    """An http(s) URL with a host and no white space (route_helpers.is_http_url)."""
    return {"type": "string", "pattern": r"^https?://[^/\s?#]+\S*$"}


def urls(max_items: int, *, min_items: int = 1) -> Schema:
    return {"type": "array", "items": url(), "minItems": min_items, "maxItems": max_items}


def integer(low: int, high: int, *, strings_ok: bool = False) -> Schema:
    """An integer in [low, high]; with strings_ok also a numeric string (KIE stores "6" as 6)."""
    number: Schema = {"type": "integer", "minimum": low, "maximum": high}
    if not strings_ok:
        return number
    return {"anyOf": [number, {"type": "string", "pattern": int_text(low, high)}]}


ANY_INT_TEXT = r"^\s*-?[0-9]+\s*$"  # validation.INT_TEXT
_LISTED = 200  # ranges up to this many values are spelt out in the pattern


def int_text(low: float | None = None, high: float | None = None) -> str:
    """A pattern for an integer written as text (validation.INT_TEXT), within [low, high] where
    the range is small enough to list: a schema bounds only numbers, and the mock refuses "99"
    for 3..15 as it refuses 99. (A wider range is not bounded in the document.)"""
    if low is None or high is None or high - low > _LISTED:
        return ANY_INT_TEXT if low is None or low < 0 else r"^\s*[0-9]+\s*$"
    values = range(int(low), int(high) + 1)
    spelt = []
    if high >= 0:
        spelt.append(f"0*(?:{'|'.join(str(v) for v in values if v >= 0)})")
    if low <= 0:  # "-0" too, which int() reads as 0
        spelt.append(f"-0*(?:{'|'.join(str(-v) for v in values if v <= 0)})")
    return rf"^\s*(?:{'|'.join(spelt)})\s*$"


def number(low: float, high: float | None = None) -> Schema:
    """A number (or numeric string) >= low, <= high (validation.optional_number)."""
    value: Schema = {"type": "number", "minimum": low}
    if high is not None:
        value["maximum"] = high
    return {"anyOf": [value, {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*$"}]}


def obj(properties: dict[str, Schema], required: Iterable[str] = ()) -> Schema:
    """A request object; unknown members are allowed (the mock stores what it is given).

    As in the mock's checks, null counts as absent for an optional member, and so does an
    empty list of URLs (validation.url_list)."""
    needed = list(required)
    properties = {
        name: schema if name in needed else _optional(schema) for name, schema in properties.items()
    }
    schema: Schema = {"type": "object", "properties": properties}
    if needed:
        schema["required"] = needed
    return schema


def _optional(schema: Schema) -> Schema:
    if schema.get("type") == "array" and schema.get("items") == url():
        schema = {k: v for k, v in schema.items() if k != "minItems"}
    return nullable(schema)


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def strict(properties: dict[str, Schema], required: Iterable[str] | None = None) -> Schema:
    """A response object: every listed member present unless `required` says otherwise."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
    }


STRING: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
STRINGS: Schema = {"type": "array", "items": STRING}
