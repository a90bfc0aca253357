"""The market models KIE lists, with their documented input fields (the mock's catalogue,
copied in ``_catalogue.py``): ids for "did you mean", and the same checks the mock makes, run
before anything is sent. An id not in the catalogue stays free-form: KIE adds models weekly.

Fields an entry does not name are sent unchecked, as the mock takes them: KIE adds fields to
its models, and the catalogue may not know one yet. But a misspelt field would go unnoticed
(KIE may ignore what it does not know), so each one is named once per process in a warning, with
the documented field it is closest to (in a batch: with each job that gives it, its result's
``warnings``). From the command line every value comes as text and is
read as JSON (``5``, ``true``); a field the entry calls a string keeps its text (``--input
upscale_factor=2`` sends ``"2"``).
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from kiekit.plugin import (
    InputField,
    ValidationError,
    described,
    is_http_url,
    read_numeral,
    warn_input,
)

from kiekit_market._catalogue import CATALOGUE_JSON

Spec = Mapping[str, Any]

log = logging.getLogger("kiekit.market")


@functools.cache
def entries() -> dict[str, dict[str, Any]]:
    """Catalogue entries by model id."""
    return {entry["id"]: entry for entry in json.loads(CATALOGUE_JSON)}


def text_fields(model_id: str) -> frozenset[str]:
    entry = entries().get(model_id)
    if entry is None:
        return frozenset()
    return frozenset(f for f, spec in entry["fields"].items() if spec["type"] == "string")


# the catalogue's field types in InputField's words
_KINDS: dict[str, str] = {"texts": "strings", "objects": "objects", "list": "list"}


def fields(model_id: str) -> tuple[InputField, ...]:
    """The entry's documented fields, as ``kie models MODEL`` shows them (none for an id the
    catalogue does not list, or whose entry leaves its fields to the mock's own module)."""
    entry = entries().get(model_id)
    if entry is None:
        return ()
    one_of = tuple(entry.get("requires_one_of", ()))
    return tuple(
        _field(name, spec, one_of if name in one_of else ())
        for name, spec in entry["fields"].items()
    )


def _field(name: str, spec: Spec, one_of: tuple[str, ...] = ()) -> InputField:
    """A catalogue field as InputField: ``one_of``, the entry's group it belongs to
    (``requires_one_of``); an ``objects`` field's ``items``, what one entry holds."""
    kind: str = spec["type"]
    is_list = kind in ("urls", "texts", "objects", "list")
    return InputField(
        name,
        _KINDS.get(kind) or kind,
        required=spec.get("required", False),
        choices=tuple(spec.get("enum", ())),
        minimum=spec.get("min"),
        maximum=spec.get("max"),
        min_length=spec.get("min_items" if is_list else "min_length"),
        max_length=spec.get("max_items" if is_list else "max_length"),
        default=spec.get("default"),
        one_of=one_of,
        entry=tuple(_field(member, item) for member, item in spec.get("items", {}).items()),
    )


def list_fields(model_id: str) -> frozenset[str]:
    """The entry's fields that take a list of URLs (a lone URL on the command line is one)."""
    entry = entries().get(model_id)
    if entry is None:
        return frozenset()
    return frozenset(f for f, spec in entry["fields"].items() if spec["type"] == "urls")


def check(model_id: str, values: Mapping[str, Any]) -> None:
    """ValidationError naming the first field the catalogue entry refuses (none for an id it
    does not list)."""
    entry = entries().get(model_id)
    if entry is None:
        return
    for field, spec in entry["fields"].items():
        problem = _problem(values.get(field), spec)
        if isinstance(problem, tuple):  # a list's entry: named by its place, image_urls[1]
            index, problem = problem
            raise ValidationError(f"{field}[{index}]", problem)
        if problem is not None:
            raise ValidationError(field, problem)
    one_of = entry.get("requires_one_of", ())
    if one_of and all(values.get(f) in (None, "", []) for f in one_of):
        raise ValidationError(one_of[0], f"give one of {', '.join(one_of)} (KIE's page)")
    documented = entry["fields"]
    if documented:  # an entry without fields is checked by the mock's own module, not here
        for field in values.keys() - documented.keys():
            _warn_undocumented(model_id, field)


def _warn_undocumented(model_id: str, field: str) -> None:
    """Said once per process (kiekit's warn_input), or, in a batch, kept with the job's result."""
    documented = entries()[model_id]["fields"]
    close = difflib.get_close_matches(field, list(documented), n=1, cutoff=0.6)
    guess = f"; did you mean {close[0]!r}?" if close else ""
    warn_input(
        field,
        f"not a field KIE documents for {model_id}{guess} (documented: "
        f"{', '.join(documented)}); sent as given, and KIE may ignore it",
        log=log,
    )


def _problem(value: Any, spec: Spec) -> str | tuple[int, str] | None:
    """What the mock's check of the same entry refuses (kiekit_mock's market_models/catalogue),
    in words for this side: None and [] are "not given"; "" is no value for a field of
    another type than free text (KIE answered Grok's aspect_ratio "" with 422 "cannot be
    empty", §10; the mock's rule, its README's "Empty strings"), but an empty or blank string
    is still text a string field must accept (KIE answers 422 for an empty enum value, §2.4).
    A list's entry at fault comes with its index."""
    kind, required = spec["type"], spec.get("required", False)
    if value is None or value == "" or value == []:
        if required:
            return "is required (KIE's page for this model)"
        if value == "" and kind != "string":
            return 'cannot be empty ("" is no value: leave the field out)'
        if kind != "string" or value is None:
            return None
    if kind == "string":
        if not isinstance(value, str):
            if _numerals(spec) and read_numeral(value, integer=False) is not None:
                # a number for an enum of numerals that numerals() left: its value is wrong
                return f"must be one of {', '.join(spec['enum'])}; got {value!r}"
            allowed = f", one of {', '.join(spec['enum'])}" if "enum" in spec else ""
            return f"must be a string{allowed} (got {described(value)})"
        if required and not value.strip():
            return "must not be blank"
        if "max_length" in spec and len(value) > spec["max_length"]:
            return f"must be at most {spec['max_length']} characters"
        if "min_length" in spec and len(value) < spec["min_length"]:
            return f"must be at least {spec['min_length']} characters"
        if "enum" in spec and value not in spec["enum"]:
            return f"must be one of {', '.join(spec['enum'])}; got {value!r}"
    elif kind == "boolean" and not isinstance(value, bool):
        return "must be true or false"
    elif kind in ("integer", "number"):
        return _number_problem(value, spec)
    elif kind == "url" and not _is_url(value):
        return f"must be an http(s) URL; got {value!r}"
    elif kind in ("urls", "texts", "objects", "list"):
        return _list_problem(value, spec)
    return None


def numerals(model_id: str, values: Mapping[str, Any]) -> dict[str, str]:
    """The numbers given for a text enum of numerals, as the numeral KIE documents: KIE reads
    the number 6 and the text "6" as one value (kie-api.md §2.2), and the typed plugins'
    choices take either (kiekit.fields.choice), so ``duration=10`` is ``"10"`` here too. A
    float only for a numeral with a fraction (6.1 is ``"6.1"``; 10.0 is no ``"10"``, as for
    the typed plugins). Values no numeral of the enum matches are left to :func:`check`."""
    entry = entries().get(model_id)
    if entry is None:
        return {}
    found: dict[str, str] = {}
    for field, spec in entry["fields"].items():
        value = values.get(field)
        if not _numerals(spec) or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        for option in spec["enum"]:
            number = read_numeral(option, integer=False)
            whole = isinstance(value, int) and "." not in option
            if number is not None and number == value and (whole or "." in option):
                found[field] = option
                break
    return found


def _numerals(spec: Spec) -> bool:
    """Whether a field is a text enum holding numerals (``"4"``, ``"6"``, ``"8"``)."""
    enum = spec.get("enum", ()) if spec["type"] == "string" else ()
    return any(
        isinstance(o, str) and o == o.strip() and read_numeral(o, integer=False) is not None
        for o in enum
    )


def _number_problem(value: Any, spec: Spec) -> str | None:
    integer = spec["type"] == "integer"
    number = _as_number(value, integer=integer, strings=spec.get("strings", False))
    # an int is finite however large (math.isfinite(10**400) is an OverflowError)
    if number is None or (isinstance(number, float) and not math.isfinite(number)):
        kind = "an integer" if integer else "a number"
        return f"must be {kind} (got {described(value)})"
    if "min" in spec and number < spec["min"]:
        return f"must be at least {spec['min']}; got {value!r}"
    if "max" in spec and number > spec["max"]:
        return f"must be at most {spec['max']}; got {value!r}"
    if "enum" in spec and number not in spec["enum"]:
        return f"must be one of {', '.join(map(str, spec['enum']))}; got {value!r}"
    return None


def _as_number(value: Any, *, integer: bool, strings: bool) -> float | None:
    """The number a value is, as KIE reads one: a JSON integer (a float only where any number
    will do: the mock refuses ``4.0`` for an integer), or a numeric string where the entry
    says KIE takes one (``strings``, §2.2; ASCII digits, as kiekit.plugin.read_numeral reads)."""
    if isinstance(value, str) and not strings:
        return None
    return read_numeral(value, integer=integer)


def _is_url(value: Any) -> bool:
    """An http(s) URL as the mock reads one: with a host, no white space in or around it, not
    malformed (``http://[::1``)."""
    return is_http_url(value)


# a list field's members: what each must be, its name in a message (with its article), and
# how a list is written
_MEMBERS: dict[str, tuple[Callable[[Any], bool], str, str, str]] = {
    "urls": (
        _is_url,
        "URL",
        "an http(s) URL",
        ': ["https://…/a.png"] (on the command line also comma-separated: URL1,URL2)',
    ),
    "texts": (lambda v: isinstance(v, str), "string", "a string", ': ["first", "second"] (JSON)'),
    "objects": (lambda v: isinstance(v, dict), "object", "an object", ": [{…}, {…}] (JSON)"),
    "list": (lambda v: True, "item", "an item", ": [… , …] (JSON)"),
}


def _list_problem(value: Any, spec: Spec) -> str | tuple[int, str] | None:
    fits, item, one, written = _MEMBERS[spec["type"]]
    if not isinstance(value, list):
        return f"must be a list of {item}s{written}"
    if "max_items" in spec and len(value) > spec["max_items"]:
        return f"takes at most {spec['max_items']} {item}s; got {len(value)}"
    if "min_items" in spec and len(value) < spec["min_items"]:
        return f"takes at least {spec['min_items']} {item}s; got {len(value)}"
    for index, member in enumerate(value):
        if not fits(member):
            return index, f"must be {one} (got {described(member)})"
    return None
