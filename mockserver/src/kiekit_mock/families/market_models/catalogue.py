"""KIE's market catalogue as data: ``catalogue.json``, one entry per model id — what it makes,
its result file type, its documented input fields — with where the facts come from.

A catalogue model is checked as KIE checks it (a 422 naming the field: missing, wrong type, not
one of the allowed values, too long, out of range) and runs the normal market lifecycle with a
result file of its own type. Fields the entry does not name pass unchecked: the entry lists what
KIE documents, and a mock that refused a field KIE takes would fail code that works. Teaching the
mock a model is one entry; :func:`problems` (run by the tests) says what is wrong with an entry.
Models with rules across fields (Grok Imagine, Kling 3.0, Sora 2) are modules of their own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from ..validation import (
    invalid,
    optional_bool,
    optional_int,
    optional_number,
    optional_url,
    required_str,
    url_list,
)
from .base import Input, MarketModel, objects

# The file types the mock can make, per kind of output (media.py, files.py)
FILE_TYPES: dict[str, tuple[str, ...]] = {
    "image": ("png", "jpg"),
    "video": ("mp4",),
    "audio": ("mp3", "wav"),
    "text": ("json",),
}
FIELD_TYPES = ("string", "boolean", "integer", "number", "url", "urls", "objects")
SPEC_KEYS = {"type", "required", "enum", "max_length", "min", "max", "max_items", "strings"}
ENTRY_KEYS = {"id", "kind", "file", "source", "fields"}
COST = 5.0  # credits per task: a mock figure, as for every market model
_HUGE = 2**53  # an integer field's upper bound when the entry gives none


def read() -> dict[str, Any]:
    """The catalogue document as stored."""
    text = resources.files(__package__).joinpath("catalogue.json").read_text(encoding="utf-8")
    found: dict[str, Any] = json.loads(text)
    return found


def problems(document: Mapping[str, Any]) -> list[str]:
    """Everything wrong with the catalogue's form, each naming the model and the field."""
    found: list[str] = []
    models = document.get("models")
    if not isinstance(models, list) or not models:
        return ["models: must be a non-empty list"]
    seen: set[str] = set()
    for index, entry in enumerate(models):
        where = f"models[{index}]"
        if not isinstance(entry, dict):
            found.append(f"{where}: must be an object")
            continue
        name = entry.get("id")
        if not isinstance(name, str) or not name or name != name.strip() or " " in name:
            found.append(f"{where}.id: must be a model id (no spaces)")
        else:
            where = name
            if name in seen:
                found.append(f"{name}: listed twice")
            seen.add(name)
        found += [f"{where}: unknown key {key!r}" for key in sorted(set(entry) - ENTRY_KEYS)]
        kind = entry.get("kind")
        if kind not in FILE_TYPES:
            found.append(f"{where}.kind: must be one of {', '.join(FILE_TYPES)}")
        elif entry.get("file") not in FILE_TYPES[kind]:
            found.append(f"{where}.file: a {kind} model's file is one of {FILE_TYPES[kind]}")
        source = entry.get("source")
        if not isinstance(source, str) or len(source.strip()) < 10:
            found.append(f"{where}.source: say where the facts come from")
        fields = entry.get("fields")
        if not isinstance(fields, dict):
            found.append(f"{where}.fields: must be an object")
            continue
        for field, spec in fields.items():
            found += [f"{where}.{field}: {p}" for p in _spec_problems(spec)]
    return found


def _spec_problems(spec: object) -> list[str]:
    if not isinstance(spec, dict):
        return ["must be an object"]
    found = [f"unknown key {key!r}" for key in sorted(set(spec) - SPEC_KEYS)]
    kind = spec.get("type")
    if kind not in FIELD_TYPES:
        return [*found, f"type must be one of {', '.join(FIELD_TYPES)}"]
    if "required" in spec and not isinstance(spec["required"], bool):
        found.append("required must be true or false")
    enum = spec.get("enum")
    if enum is not None and (
        kind != "string" or not isinstance(enum, list) or not enum or len(set(enum)) != len(enum)
    ):
        found.append("enum must be a non-empty list of distinct values, on a string")
    low, high = spec.get("min"), spec.get("max")
    for bound in (low, high):
        if bound is not None and (kind not in ("integer", "number") or not _number(bound)):
            found.append("min / max must be numbers, on an integer or a number")
    if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
        found.append(f"min {low} is above max {high}")
    for key, types in (("max_length", ("string",)), ("max_items", ("urls", "objects"))):
        value = spec.get(key)
        if value is not None and (kind not in types or not _count(value)):
            found.append(f"{key} must be a whole number >= 1, on {' or '.join(types)}")
    if "strings" in spec and (kind != "integer" or not isinstance(spec["strings"], bool)):
        found.append('strings (read "6" as 6) is true or false, on an integer')
    return found


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def checker(fields: Mapping[str, Mapping[str, Any]]) -> Callable[[Input], Input]:
    """The input check of one entry: each named field as its spec says, in the entry's order."""

    def check(inp: Input) -> Input:
        for field, spec in fields.items():
            _check_field(inp, field, spec)
        return inp

    return check


def _check_field(inp: Input, field: str, spec: Mapping[str, Any]) -> None:
    kind, required = spec["type"], spec.get("required", False)
    value = inp.get(field)
    if value is None or value == "" or value == []:
        if required:
            raise invalid(f"{field} cannot be empty")
        if kind != "string" or value is None:
            return
    if kind == "string":
        text = required_str(inp, field, spec.get("max_length")) if required else value
        if not isinstance(text, str):
            raise invalid(f"{field} must be a string")
        if "max_length" in spec and len(text) > spec["max_length"]:
            raise invalid(f"{field} cannot exceed {spec['max_length']} characters")
        if "enum" in spec and text not in spec["enum"]:
            raise invalid(f"{field} is not within the range of allowed options")
    elif kind == "boolean":
        optional_bool(inp, field)
    elif kind == "integer":
        low, high = spec.get("min", -_HUGE), spec.get("max", _HUGE)
        optional_int(inp, field, low, high, strings_ok=spec.get("strings", False))
    elif kind == "number":
        number = optional_number(inp, field, spec.get("min", float("-inf")))
        if number is not None and "max" in spec and number > spec["max"]:
            raise invalid(f"{field} must be at most {spec['max']:g}")
    elif kind == "url":
        optional_url(inp, field)
    elif kind == "urls":
        url_list(inp, field, max_items=spec.get("max_items", _HUGE), required=required)
    elif kind == "objects":
        objects(inp, field, max_items=spec.get("max_items"))


def load() -> dict[str, MarketModel]:
    """Every catalogue entry as a MarketModel (a malformed catalogue fails here, by name)."""
    document = read()
    wrong = problems(document)
    if wrong:
        raise ValueError("catalogue.json: " + "; ".join(wrong))
    return {
        entry["id"]: MarketModel(
            entry["id"],
            checker(entry["fields"]),
            entry["kind"],
            0 if entry["kind"] == "text" else 1,
            COST,
            result_ext=entry["file"],
        )
        for entry in document["models"]
    }
