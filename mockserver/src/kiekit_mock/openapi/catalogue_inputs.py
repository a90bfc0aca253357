"""The `input` schema of each catalogue model (`families/market_models/catalogue.json`), read from
the same field specs the mock checks with (`catalogue.checker`), so the document and the checks
cannot drift apart: types, enums, lengths, ranges, item counts, required fields and
`requires_one_of`.

Where the check is lenient the schema is too: a missing optional field may be null, and one
that is not a string may also be "" or [] (`catalogue._check_field` reads those as absent);
integers marked `strings` take "6" as KIE stores it (kie-api.md §2.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .schema import Schema, int_text, required_text, url

_EMPTY: list[Any] = [None, "", []]  # what catalogue._check_field reads as "not given"


def input_schema(entry: Mapping[str, Any]) -> Schema:
    """The `input` object of one catalogue entry; fields it does not name are allowed."""
    fields: Mapping[str, Mapping[str, Any]] = entry["fields"]
    required = [name for name, spec in fields.items() if spec.get("required")]
    properties = {
        name: _field(spec) if spec.get("required") else _optional(spec)
        for name, spec in fields.items()
    }
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    one_of = entry.get("requires_one_of")
    if one_of:  # at least one of them given and not empty (catalogue.checker)
        schema["anyOf"] = [
            {"required": [name], "properties": {name: {"not": {"enum": _EMPTY}}}} for name in one_of
        ]
    return schema


def _optional(spec: Mapping[str, Any]) -> Schema:
    # an optional string "" is still checked (enum, min_length); other kinds skip it
    empty = [None] if spec["type"] == "string" else _EMPTY
    return {"anyOf": [_field(spec), {"enum": empty}]}


def _field(spec: Mapping[str, Any]) -> Schema:
    kind = spec["type"]
    if kind == "string":
        return _string(spec)
    if kind == "boolean":
        return {"type": "boolean"}
    if kind in ("integer", "number"):
        return _number(spec)
    if kind == "url":
        return url()
    items: Schema = {
        "urls": url(),
        "texts": {"type": "string"},
        "objects": {"type": "object"},
        "list": {},
    }[kind]
    schema: Schema = {"type": "array", "items": items}
    if kind in ("urls", "objects"):  # an empty one is refused as empty, even when optional
        schema["minItems"] = 1
    for key, name in (("min_items", "minItems"), ("max_items", "maxItems")):
        if key in spec:
            schema[name] = spec[key]
    return schema


def _string(spec: Mapping[str, Any]) -> Schema:
    schema: Schema = {"type": "string"}
    if spec.get("required"):
        schema |= required_text()
    if "max_length" in spec:
        schema["maxLength"] = spec["max_length"]
    if "min_length" in spec:
        schema["minLength"] = max(spec["min_length"], schema.get("minLength", 0))
    if "enum" in spec:
        schema["enum"] = list(spec["enum"])
    return schema


def _number(spec: Mapping[str, Any]) -> Schema:
    integer = spec["type"] == "integer"
    value: Schema = {"type": "integer" if integer else "number"}
    if "enum" in spec:
        value["enum"] = list(spec["enum"])
    for key, name in (("min", "minimum"), ("max", "maximum")):
        if key in spec:
            value[name] = spec[key]
    # the check also reads numeric strings of a `number` field, but KIE documents numbers there:
    # the document names the string form only where KIE stores it (`strings`, §2.2)
    if not (integer and spec.get("strings")):
        return value
    if "enum" in spec:
        return {"anyOf": [value, {"enum": [str(v) for v in spec["enum"]]}]}
    return {
        "anyOf": [value, {"type": "string", "pattern": int_text(spec.get("min"), spec.get("max"))}]
    }
