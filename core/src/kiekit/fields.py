"""Declare a model's input fields once; get validation, wire names and test data from it.

A provider's input is an attrs class whose fields are made with the functions below::

    @frozen
    class TextToImage(Input):
        prompt: str = text(max_length=5000)
        aspect_ratio: str | None = choice("1:1", "16:9", default=None)

Each field carries a :class:`Spec` in its metadata. The validator built from it raises
:class:`~kiekit.errors.ValidationError` naming the field, before any I/O; the wire converter reads
the spec's wire name; the contract kit draws valid and invalid values from it for property tests.
Rules that tie two fields together go in :meth:`Input.check`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import attrs
from attrs import frozen

from kiekit.errors import ValidationError

__all__ = [
    "SPEC_KEY",
    "Input",
    "Spec",
    "choice",
    "coerce",
    "flag",
    "integer",
    "make_input",
    "number",
    "spec_of",
    "text",
    "url",
    "urls",
]

SPEC_KEY = "kiekit"
Kind = Literal["text", "choice", "int", "float", "bool", "url", "urls"]
_MISSING: Any = attrs.NOTHING


@frozen
class Spec:
    """What KIE documents for one input field."""

    kind: Kind
    required: bool = False
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    wire: str | None = None

    def check(self, name: str, value: Any) -> None:
        """Raise ValidationError naming ``name`` unless ``value`` fits this spec."""
        if value is None:
            if self.required:
                raise ValidationError(name, "is required")
            return
        check = _CHECKS[self.kind]
        check(self, name, value)


def _check_text(spec: Spec, name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise ValidationError(name, f"must be a string, not {type(value).__name__}")
    if spec.required and not value.strip():
        raise ValidationError(name, "must not be empty")
    _check_length(spec, name, len(value), "characters")


def _check_choice(spec: Spec, name: str, value: Any) -> None:
    # bool is an int in Python; an enum of strings or ints never accepts True.
    if isinstance(value, bool) or value not in spec.choices:
        allowed = ", ".join(str(c) for c in spec.choices)
        raise ValidationError(name, f"must be one of {allowed}; got {value!r}")


def _check_number(spec: Spec, name: str, value: Any) -> None:
    wanted: tuple[type, ...] = (int,) if spec.kind == "int" else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted):
        noun = "an integer" if spec.kind == "int" else "a number"
        raise ValidationError(name, f"must be {noun}, not {type(value).__name__}")
    number = cast(float, value)
    if not math.isfinite(number):
        raise ValidationError(name, f"must be a finite number; got {value}")
    if spec.minimum is not None and number < spec.minimum:
        raise ValidationError(name, f"must be at least {spec.minimum:g}; got {value}")
    if spec.maximum is not None and number > spec.maximum:
        raise ValidationError(name, f"must be at most {spec.maximum:g}; got {value}")


def _check_bool(spec: Spec, name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValidationError(name, f"must be true or false, not {value!r}")


def _check_url(spec: Spec, name: str, value: Any) -> None:
    if not isinstance(value, str) or not _is_http_url(value):
        raise ValidationError(name, f"must be an http(s) URL; got {value!r}")


def _check_urls(spec: Spec, name: str, value: Any) -> None:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValidationError(name, "must be a list of URLs")
    _check_length(spec, name, len(value), "URLs")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not _is_http_url(item):
            raise ValidationError(f"{name}[{index}]", f"must be an http(s) URL; got {item!r}")


def _check_length(spec: Spec, name: str, length: int, unit: str) -> None:
    if spec.min_length is not None and length < spec.min_length:
        raise ValidationError(name, f"needs at least {spec.min_length} {unit}; got {length}")
    if spec.max_length is not None and length > spec.max_length:
        raise ValidationError(name, f"allows at most {spec.max_length} {unit}; got {length}")


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and not any(c.isspace() for c in value)
    )


_CHECKS = {
    "text": _check_text,
    "choice": _check_choice,
    "int": _check_number,
    "float": _check_number,
    "bool": _check_bool,
    "url": _check_url,
    "urls": _check_urls,
}


def _field(spec: Spec, default: Any) -> Any:
    def validate(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        spec.check(attribute.name, value)

    if spec.kind == "urls" and default is not _MISSING and default is not None:
        raise TypeError("a list field's default must be None")
    converter = tuple if spec.kind == "urls" else None
    return attrs.field(
        default=default,
        validator=validate,
        converter=_optional(converter) if converter else None,
        metadata={SPEC_KEY: spec},
        kw_only=True,
    )


def _optional(convert: Any) -> Any:
    def run(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value  # a lone string is reported by the validator, not split into letters
        try:
            return convert(value)
        except TypeError:
            return value  # not iterable: the validator names the field

    return run


def text(
    *,
    required: bool = True,
    max_length: int | None = None,
    default: str | None = None,
    wire: str | None = None,
) -> Any:
    """A string; a required one must hold more than white space."""
    spec = Spec("text", required=required, max_length=max_length, wire=wire)
    return _field(spec, _MISSING if required else default)


def choice(
    *values: Any, default: Any = None, required: bool = False, wire: str | None = None
) -> Any:
    """One of ``values`` (KIE's documented enum)."""
    if default is not None and default not in values:
        raise TypeError(f"default {default!r} is not one of the choices")
    spec = Spec("choice", required=required, choices=tuple(values), wire=wire)
    return _field(spec, _MISSING if required else default)


def integer(
    minimum: int | None = None,
    maximum: int | None = None,
    *,
    default: int | None = None,
    required: bool = False,
    wire: str | None = None,
) -> Any:
    spec = Spec("int", required=required, minimum=minimum, maximum=maximum, wire=wire)
    return _field(spec, _MISSING if required else default)


def number(
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    default: float | None = None,
    required: bool = False,
    wire: str | None = None,
) -> Any:
    spec = Spec("float", required=required, minimum=minimum, maximum=maximum, wire=wire)
    return _field(spec, _MISSING if required else default)


def flag(*, default: bool | None = None, wire: str | None = None) -> Any:
    """A boolean; None leaves KIE's own default in force."""
    return _field(Spec("bool", wire=wire), default)


def url(*, required: bool = False, wire: str | None = None) -> Any:
    """An http(s) URL KIE fetches an input file from."""
    return _field(Spec("url", required=required, wire=wire), _MISSING if required else None)


def urls(
    *,
    min_items: int | None = None,
    max_items: int | None = None,
    required: bool = False,
    wire: str | None = None,
) -> Any:
    """A list of http(s) URLs, kept as a tuple."""
    spec = Spec("urls", required=required, min_length=min_items, max_length=max_items, wire=wire)
    return _field(spec, _MISSING if required else None)


@frozen
class Input:
    """Base of every model input. Subclasses are frozen attrs classes made of the fields above."""

    def __attrs_post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Rules across fields (e.g. a range that depends on the mode); raise ValidationError."""


def spec_of(attribute: attrs.Attribute[Any]) -> Spec | None:
    spec = attribute.metadata.get(SPEC_KEY)
    return spec if isinstance(spec, Spec) else None


def coerce(spec: Spec, value: str) -> Any:
    """Read a command-line string as the field's type: ``true`` → True, ``5`` → 5,
    ``a,b`` → a list for URL lists. A string that does not read is passed on unchanged,
    so the validator reports it with the field's name."""
    if spec.kind == "urls":
        return [part.strip() for part in value.split(",") if part.strip()]
    if spec.kind == "bool":
        return {"true": True, "false": False}.get(value.strip().lower(), value)
    if spec.kind == "choice":
        if value in spec.choices:
            return value
        for option in spec.choices:
            if not isinstance(option, str) and str(option) == value.strip():
                return option
        return value
    if spec.kind in ("int", "float"):
        try:
            return int(value) if spec.kind == "int" else float(value)
        except ValueError:
            return value
    return value


def make_input(cls: type[Input], values: dict[str, Any], *, from_text: bool = False) -> Input:
    """Build ``cls`` from a dict of field values, naming the field on any problem.

    With ``from_text`` the values are command-line strings, read with :func:`coerce`.
    """
    fields = {a.name: a for a in attrs.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        allowed = ", ".join(fields)
        raise ValidationError(unknown[0], f"is not an input of this model (inputs: {allowed})")
    if from_text:
        converted = {}
        for name, value in values.items():
            spec = spec_of(fields[name])
            converted[name] = coerce(spec, value) if spec and isinstance(value, str) else value
        values = converted
    missing = [
        name for name, a in fields.items() if a.default is attrs.NOTHING and name not in values
    ]
    if missing:
        raise ValidationError(missing[0], "is required")
    return cls(**values)
