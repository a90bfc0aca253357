"""Field checks that answer as KIE does: body code 422 with a message naming the field.

Messages follow the real ones seen in traffic: "<field> cannot be empty" (kie-api.md §2.4, §10:
`aspect_ratio cannot be empty`, `multi_shots cannot be empty`) and "<field> is not within the
range of allowed options" for enums.

One rule for "" (mockserver/README.md, "Empty strings"), in every family: "" is not "not
given" but an empty value, answered as KIE answered Grok's ``aspect_ratio: ""`` (kie-api.md §10:
422 "aspect_ratio cannot be empty") wherever the field constrains its value (an option, a URL,
a model, a number, a boolean, a list), optional or required. Free text takes "" as it is (an
optional text "" is none, as Runway's ``waterMark`` documents, §3.4; a required one, such as
``prompt``, cannot be empty); ``callBackUrl: ""`` is none (route_helpers). None (null) is
absent everywhere. So a Go client that sends its zero values learns at once which field to
leave out (``omitempty``), as it would from KIE, instead of a mock that takes what KIE refuses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from typing import Any

from ..envelope import ErrorAnswer
from ..route_helpers import is_http_url


def invalid(msg: str) -> ErrorAnswer:
    """KIE's 422 answer with ``msg``, to raise from a family's validation."""
    return ErrorAnswer(422, msg)


def given(data: Mapping[str, Any], field: str) -> Any:
    """The ``field`` of the body (None when absent or null); "" is KIE's 422 "<field> cannot
    be empty" (the module's rule: a field that constrains its value is never "")."""
    value = data.get(field)
    if isinstance(value, str) and value == "":
        raise invalid(f"{field} cannot be empty")
    return value


def required_str(data: Mapping[str, Any], field: str, max_len: int | None = None) -> str:
    """The string ``field`` of the body; a 422 if absent, blank, not a string or too long."""
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid(f"{field} cannot be empty")
    return _check_str(field, value, max_len)


def optional_str(data: Mapping[str, Any], field: str, max_len: int | None = None) -> str | None:
    """The string ``field`` of the body, None if absent or "" (free text: "" is none); a 422
    if not a string or too long."""
    value = data.get(field)
    if value == "":
        return None
    return None if value is None else _check_str(field, value, max_len)


def _check_str(field: str, value: object, max_len: int | None) -> str:
    if not isinstance(value, str):
        raise invalid(f"{field} must be a string")
    if max_len is not None and len(value) > max_len:
        raise invalid(f"{field} cannot exceed {max_len} characters")
    return value


def optional_enum(data: Mapping[str, Any], field: str, allowed: Collection[str]) -> str | None:
    """The ``field`` of the body, None if absent; a 422 unless it is one of ``allowed``."""
    value = given(data, field)
    if value is None:
        return None
    # an object or a list (unhashable: `in` a set raises TypeError) is no option either
    if not isinstance(value, str | int | float) or value not in allowed:
        raise invalid(f"{field} is not within the range of allowed options")
    return str(value)


def optional_bool(data: Mapping[str, Any], field: str) -> bool | None:
    """The boolean ``field`` of the body, None if absent; a 422 for another type."""
    value = given(data, field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(f"{field} must be a boolean")
    return value


# An integer as text: what _as_int reads ("--5" and Unicode digits are not), and what the
# OpenAPI document's string forms say (openapi.schema.int_text)
INT_TEXT = re.compile(r"\s*-?[0-9]+\s*")


def _as_int(value: object) -> int | None:
    """An integer given as a JSON int or as a numeric string ("6"); bools are not integers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and INT_TEXT.fullmatch(value):
        return int(value)
    return None


def optional_int(
    data: Mapping[str, Any], field: str, low: int, high: int, *, strings_ok: bool = False
) -> int | None:
    """An integer in [low, high]; with strings_ok, "6" is read as 6 (KIE coerces, §2.2)."""
    value = given(data, field)
    if value is None:
        return None
    number = _as_int(value) if strings_ok or not isinstance(value, str) else None
    if number is None:
        raise invalid(f"{field} must be an integer")
    if not low <= number <= high:
        raise invalid(f"{field} must be between {low} and {high}")
    return number


# A number as text: ASCII digits, a sign and a fraction, white space around. [INF] KIE stores
# "6" as 6 (§2.2) and documents no grammar; Python's float() would also take "nan", "inf",
# "1e1" and other scripts' digits ("٣"), so they are refused here (kiekit reads the same, and
# the OpenAPI document's pattern is this one's non-negative part).
NUMBER_TEXT = re.compile(r"\s*-?[0-9]+(?:\.[0-9]+)?\s*")


def _as_number(value: object) -> float | None:
    """A finite number given as a JSON number or as its text ("2.5"); bools are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and NUMBER_TEXT.fullmatch(value)):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None


def optional_number(data: Mapping[str, Any], field: str, low: float) -> float | None:
    """A number >= low, given as a JSON number or a numeric string."""
    value = given(data, field)
    if value is None:
        return None
    number = _as_number(value)
    if number is None:
        raise invalid(f"{field} must be a number")
    if number < low:
        raise invalid(f"{field} must be at least {low:g}")
    return number


def optional_url(data: Mapping[str, Any], field: str) -> str | None:
    """The http(s) URL ``field`` of the body, None if absent; a 422 for anything else."""
    value = given(data, field)
    if value is None:
        return None
    if not is_http_url(value):
        raise invalid(f"{field} must be a valid http(s) URL")
    return str(value)


def url_list(
    data: Mapping[str, Any], field: str, *, max_items: int, required: bool
) -> list[str] | None:
    """A list of 1..max_items http(s) URLs."""
    value = given(data, field)
    if value is None or value == []:
        if required:
            raise invalid(f"{field} cannot be empty")
        return None
    if not isinstance(value, list):
        raise invalid(f"{field} must be an array of URLs")
    if len(value) > max_items:
        raise invalid(f"{field} cannot contain more than {max_items} items")
    for index, item in enumerate(value):
        if not is_http_url(item):
            raise invalid(not_one_of(field, index, "must contain valid http(s) URLs"))
    return [str(item) for item in value]


def not_one_of(field: str, index: int, rule: str) -> str:
    """A list's rule with the entry that breaks it, so a long list's bad entry need not be
    searched for: "image_urls must contain valid http(s) URLs: image_urls[1] is not one". The
    rule's words are the mock's own, as KIE's for a list's entry are not recorded (kie-api.md
    records no such message)."""
    return f"{field} {rule}: {field}[{index}] is not one"
