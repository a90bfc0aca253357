"""Option fields that are JSON documents rather than scalars: ``tools``, ``response_format``.

Scalar options (``reasoning_effort``, ``max_tokens`` …) are declared with :mod:`kiekit.fields`
like any model input. These two carry JSON that KIE passes to the model (a function's JSON
schema, a response schema), so kiekit checks their shape — an object, a list of objects, JSON
only — and leaves the rest to the model. A string value is read as JSON (the command line).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kiekit.errors import ValidationError
from kiekit.fields import check_utf8

__all__ = ["JSON_KEY", "json_object", "json_objects", "read_json"]

JSON_KEY = "kiekit.chat.json"  # field metadata: "object" or "objects"


def read_json(value: Any) -> Any:
    """A string holding JSON as its value; anything else (or a string that is not JSON) as
    given, for the validator to refuse with the field's name."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return copy.deepcopy(value)  # the caller's dict cannot change what was validated


def _check_json(name: str, value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(name, f"is not JSON: {exc}") from None
    check_utf8(name, value)


def _object(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping) or not value:
        raise ValidationError(attribute.name, "must be a non-empty JSON object")
    _check_json(attribute.name, value)


def _objects(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence) or not value:
        raise ValidationError(attribute.name, "must be a non-empty list of JSON objects")
    for index, item in enumerate(value):
        if not isinstance(item, Mapping) or not item:
            raise ValidationError(f"{attribute.name}[{index}]", "must be a non-empty JSON object")
        _check_json(f"{attribute.name}[{index}]", item)


def _as_tuple(value: Any) -> Any:
    value = read_json(value)
    return tuple(value) if isinstance(value, list) else value


def json_object() -> Any:
    """An optional JSON object option (``response_format``)."""
    return attrs.field(
        default=None,
        converter=read_json,
        validator=_object,
        kw_only=True,
        hash=False,
        metadata={JSON_KEY: "object"},
    )


def json_objects() -> Any:
    """An optional list of JSON objects option (``tools``), kept as a tuple."""
    return attrs.field(
        default=None,
        converter=_as_tuple,
        validator=_objects,
        kw_only=True,
        hash=False,
        metadata={JSON_KEY: "objects"},
    )
