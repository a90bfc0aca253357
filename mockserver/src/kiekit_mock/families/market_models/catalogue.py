"""KIE's market catalogue as data: ``catalogue.json``, one entry per model id — what it makes,
its result file type, its documented input fields — with where the facts come from (the
model's page on docs.kie.ai, read through a crawl of KIE's docs, or kie-api.md).

A catalogue model is checked as KIE checks it (a 422 naming the field: missing, wrong type, not
one of the allowed values, too long, out of range) and runs the normal market lifecycle with a
result file of its own type. Fields the entry does not name pass unchecked: the entry lists what
KIE documents, and a mock that refused a field KIE takes would fail code that works. Teaching the
mock a model is one entry; :func:`problems` (run by the tests) says what is wrong with an entry.
Models with rules across fields (Grok Imagine, Kling 3.0, Sora 2) are modules of their own.

The document's ``refused`` list holds ids KIE is recorded refusing (kie-api.md §2.4: 422 "model
not supported"), each with the id KIE serves instead: the mock refuses them even when it takes
ids it does not know (``MockConfig.strict_models`` off), so code ported from a docs example
with a wrong id fails against the mock as it would against KIE.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

from ..validation import (
    invalid,
    not_one_of,
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
# urls / texts / objects / list: arrays of http(s) URLs, of strings, of objects, of anything
FIELD_TYPES = ("string", "boolean", "integer", "number", "url", "urls", "texts", "objects", "list")
LISTS = ("urls", "texts", "objects", "list")
SPEC_KEYS = {
    "type",
    "required",
    "enum",
    "min_length",
    "max_length",
    "min",
    "max",
    "min_items",
    "max_items",
    "strings",
    "default",  # KIE's default, for readers: the mock leaves a missing field missing
    "missing",  # the message a required field left out gets, where KIE's is not the usual one
    # an objects field's entry: member name -> spec, for readers (kiekit's `kie models`); the
    # mock does not check entries one by one (a refusal KIE may not make would fail good code)
    "items",
}
ENTRY_KEYS = {
    "id",
    "kind",
    "file",
    "source",
    "note",  # what is inferred, or what the page leaves open
    "results",  # result files on success when no count_field says (default 1; text 0)
    "count_field",  # an input field that sets the number of result files
    "format_field",  # an input field naming the file type ("jpeg" → jpg)
    "requires_one_of",  # at least one of these fields must be given
    "result",  # a text model's resultObject on success, as its page documents it (§2.2)
    "fields",
}
# a format field's value → the file type the mock makes, where the kind can have it
FORMATS = {"png": "png", "jpg": "jpg", "jpeg": "jpg", "mp3": "mp3", "wav": "wav"}
MAX_RESULTS = 10  # a count field's value is bounded by its spec; this bounds a spec without one
COST = 5.0  # credits per task: a mock figure, as for every market model
_HUGE = 2**53  # an integer field's upper bound when the entry gives none


def read() -> dict[str, Any]:
    """The catalogue document as stored."""
    text = resources.files(__package__).joinpath("catalogue.json").read_text(encoding="utf-8")
    found: dict[str, Any] = json.loads(text)
    return found


def refused(document: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The ids KIE is recorded refusing, each with the id it serves instead."""
    entries = (document if document is not None else read()).get("refused", [])
    return {entry["id"]: entry["use"] for entry in entries}


def problems(document: Mapping[str, Any]) -> list[str]:
    """Everything wrong with the catalogue's form, each naming the model and the field."""
    found: list[str] = []
    models = document.get("models")
    if not isinstance(models, list) or not models:
        return ["models: must be a non-empty list"]
    found += _refused_problems(document.get("refused", []), models)
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
        found += [f"{where}.{p}" for p in _entry_problems(entry, fields)]
    return found


def _refused_problems(entries: object, models: Sequence[Any]) -> list[str]:
    """A refused id is no catalogue id, names the catalogue id KIE serves, and its source."""
    if not isinstance(entries, list):
        return ["refused: must be a list"]
    known = {entry.get("id") for entry in models if isinstance(entry, dict)}
    found = []
    for index, entry in enumerate(entries):
        where = f"refused[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"id", "use", "source"}:
            found.append(f"{where}: must be an object of id, use and source")
            continue
        if not isinstance(entry["id"], str) or entry["id"] in known:
            found.append(f"{where}.id: must be an id the catalogue does not serve")
        if entry["use"] not in known:
            found.append(f"{where}.use: must name a catalogue id")
        if not isinstance(entry["source"], str) or len(entry["source"].strip()) < 10:
            found.append(f"{where}.source: say where the facts come from")
    return found


def _entry_problems(entry: Mapping[str, Any], fields: Mapping[str, Any]) -> list[str]:
    found = []
    if "note" in entry and not isinstance(entry["note"], str):
        found.append("note: must be text")
    results = entry.get("results")
    if results is not None and not (_count(results) and results <= MAX_RESULTS):
        found.append(f"results: a whole number from 1 to {MAX_RESULTS}")
    # a count may be documented as an integer or as a string enum ("1"–"4", Ideogram's pages)
    for key, kinds in (("count_field", ("integer", "string")), ("format_field", ("string",))):
        name = entry.get(key)
        if name is not None and (fields.get(name) or {}).get("type") not in kinds:
            found.append(f"{key}: names one of the entry's {' or '.join(kinds)} fields")
    found += _result_problems(entry)
    one_of = entry.get("requires_one_of")
    if one_of is not None and (
        not isinstance(one_of, list) or len(one_of) < 2 or not set(one_of) <= set(fields)
    ):
        found.append("requires_one_of: two or more of the entry's fields")
    return found


def _result_problems(entry: Mapping[str, Any]) -> list[str]:
    """A text model says what its resultObject holds (a value, not files); no other has one."""
    result = entry.get("result")
    if entry.get("kind") != "text":
        return [] if result is None else ["result: only a text model answers a resultObject"]
    if not isinstance(result, dict) or not result:
        return ["result: a text model's resultObject, a non-empty object (kie-api.md §2.2)"]
    return []


def _spec_problems(spec: object, *, member: bool = False) -> list[str]:
    if not isinstance(spec, dict):
        return ["must be an object"]
    found = [f"unknown key {key!r}" for key in sorted(set(spec) - SPEC_KEYS)]
    kind = spec.get("type")
    if kind not in FIELD_TYPES:
        return [*found, f"type must be one of {', '.join(FIELD_TYPES)}"]
    if "items" in spec:
        found += _items_problems(spec["items"], kind, member)
    if "required" in spec and not isinstance(spec["required"], bool):
        found.append("required must be true or false")
    enum = spec.get("enum")
    if enum is not None and (
        kind not in ("string", "integer", "number")
        or not isinstance(enum, list)
        or not enum
        or len(set(enum)) != len(enum)
        or not all(isinstance(v, str) if kind == "string" else _number(v) for v in enum)
    ):
        found.append("enum must be a non-empty list of distinct values of the field's type")
    low, high = spec.get("min"), spec.get("max")
    for bound in (low, high):
        if bound is not None and (kind not in ("integer", "number") or not _number(bound)):
            found.append("min / max must be numbers, on an integer or a number")
    if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
        found.append(f"min {low} is above max {high}")
    for key, types in (
        ("min_length", ("string",)),
        ("max_length", ("string",)),
        ("min_items", LISTS),
        ("max_items", LISTS),
    ):
        value = spec.get(key)
        if value is not None and (kind not in types or not _count(value)):
            found.append(f"{key} must be a whole number >= 1, on {' or '.join(types)}")
    if "missing" in spec and (spec.get("required") is not True or not _text(spec["missing"])):
        found.append("missing (the message when left out) is text, on a required field")
    if "strings" in spec and (kind != "integer" or not isinstance(spec["strings"], bool)):
        found.append('strings (read "6" as 6) is true or false, on an integer')
    return found


def _items_problems(items: object, kind: object, member: bool) -> list[str]:
    """An ``objects`` field's ``items``: its entry's members, each a spec of its own (one level:
    a member holds no ``items`` of its own)."""
    if kind != "objects" or member:
        return ["items (an entry's members) is on an objects field, one level deep"]
    if not isinstance(items, dict) or not items:
        return ["items must be an object: member name -> spec"]
    return [
        f"items.{name}: {problem}"
        for name, spec in items.items()
        for problem in _spec_problems(spec, member=True)
    ]


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def checker(
    fields: Mapping[str, Mapping[str, Any]], one_of: Sequence[str] = ()
) -> Callable[[Input], Input]:
    """The input check of one entry: each named field as its spec says, in the entry's order,
    then at least one of ``one_of`` [INF: KIE's message for that case is not documented]."""

    def check(inp: Input) -> Input:
        for field, spec in fields.items():
            _check_field(inp, field, spec)
        if one_of and all(inp.get(f) in (None, "", []) for f in one_of):
            raise invalid(f"{one_of[0]} cannot be empty: give one of {', '.join(one_of)}")
        return inp

    return check


def _check_field(inp: Input, field: str, spec: Mapping[str, Any]) -> None:
    kind, required = spec["type"], spec.get("required", False)
    value = inp.get(field)
    if value is None or value == "" or value == []:
        if required:
            raise invalid(spec.get("missing", f"{field} cannot be empty"))
        if value == "" and (kind != "string" or "enum" in spec):
            # "" of a field that constrains its value: empty, as KIE answered Grok's
            # aspect_ratio "" (§10), in every family (validation.py)
            raise invalid(f"{field} cannot be empty")
        if kind != "string" or value is None:
            return
    if kind == "string":
        text = required_str(inp, field, spec.get("max_length")) if required else value
        if not isinstance(text, str):
            raise invalid(f"{field} must be a string")
        if "max_length" in spec and len(text) > spec["max_length"]:
            raise invalid(f"{field} cannot exceed {spec['max_length']} characters")
        if "min_length" in spec and len(text) < spec["min_length"]:
            raise invalid(f"{field} must be at least {spec['min_length']} characters")
        if "enum" in spec and text not in spec["enum"]:
            raise invalid(f"{field} is not within the range of allowed options")
    elif kind == "boolean":
        optional_bool(inp, field)
    elif kind in ("integer", "number"):
        number = _checked_number(inp, field, spec)
        if number is not None and "enum" in spec and number not in spec["enum"]:
            raise invalid(f"{field} is not within the range of allowed options")
    elif kind == "url":
        optional_url(inp, field)
    elif kind == "urls":
        url_list(inp, field, max_items=spec.get("max_items", _HUGE), required=required)
        _check_count(inp[field], field, spec)
    elif kind == "objects":
        _check_count(objects(inp, field, max_items=spec.get("max_items")), field, spec)
    else:  # texts, list
        _check_list(value, field, spec)


def _checked_number(inp: Input, field: str, spec: Mapping[str, Any]) -> float | None:
    if spec["type"] == "integer":
        low, high = spec.get("min", -_HUGE), spec.get("max", _HUGE)
        return optional_int(inp, field, low, high, strings_ok=spec.get("strings", False))
    if isinstance(inp.get(field), str) and not spec.get("strings"):
        # read from text only where the entry says KIE stores it so, as the document says
        raise invalid(f"{field} must be a number")
    number = optional_number(inp, field, spec.get("min", float("-inf")))
    if number is not None and "max" in spec and number > spec["max"]:
        raise invalid(f"{field} must be at most {spec['max']:g}")
    return number


def _check_list(value: object, field: str, spec: Mapping[str, Any]) -> None:
    if not isinstance(value, list):
        raise invalid(f"{field} must be an array")
    if spec["type"] == "texts":
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise invalid(not_one_of(field, index, "must be an array of strings"))
    if "max_items" in spec and len(value) > spec["max_items"]:
        raise invalid(f"{field} cannot contain more than {spec['max_items']} items")
    _check_count(value, field, spec)


def _check_count(value: Sequence[Any], field: str, spec: Mapping[str, Any]) -> None:
    if "min_items" in spec and len(value) < spec["min_items"]:
        raise invalid(f"{field} must contain at least {spec['min_items']} items")


def _file_rule(entry: Mapping[str, Any]) -> Callable[[Input], tuple[str, int]]:
    """The type and number of a task's result files, from its input where the entry says so."""
    kind, file = entry["kind"], entry["file"]
    default = entry.get("results", 0 if kind == "text" else 1)
    count_field, format_field = entry.get("count_field"), entry.get("format_field")

    def files(stored: Input) -> tuple[str, int]:
        named = stored.get(format_field) if format_field else None
        # ElevenLabs' formats read "mp3_44100_128": the codec comes first
        chosen = FORMATS.get(named.split("_")[0].lower()) if isinstance(named, str) else None
        count = _as_count(stored.get(count_field)) if count_field else None
        return (chosen if chosen in FILE_TYPES[kind] else file), count or default

    return files


def _as_count(value: object) -> int | None:
    """A count field's value as given (an int or "4", already checked against its spec)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_RESULTS:
        return value
    return None


def load() -> dict[str, MarketModel]:
    """Every catalogue entry as a MarketModel (a malformed catalogue fails here, by name)."""
    document = read()
    wrong = problems(document)
    if wrong:
        raise ValueError("catalogue.json: " + "; ".join(wrong))
    return {entry["id"]: model_of(entry) for entry in document["models"]}


def model_of(entry: Mapping[str, Any]) -> MarketModel:
    """One catalogue entry (checked: :func:`problems`) as a MarketModel."""
    return MarketModel(
        entry["id"],
        checker(entry["fields"], entry.get("requires_one_of", ())),
        entry["kind"],
        entry.get("results", 0 if entry["kind"] == "text" else 1),
        COST,
        result_ext=entry["file"],
        files=_file_rule(entry),
        result=entry.get("result"),
    )
