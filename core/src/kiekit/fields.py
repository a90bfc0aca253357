"""Declare a model's input fields once; get validation, wire names and test data from it.

A provider's input is an attrs class whose fields are made with the functions below::

    @frozen
    class TextToImage(Input):
        prompt: str = text(max_length=5000)
        aspect_ratio: str | None = choice("1:1", "16:9", default=None)

An optional field says ``default=`` (None: not sent, KIE's own default applies). A required one
does not, and is a ``text()`` or says ``required=True``: type checkers read only ``default=``
(see :class:`Input`), the spec only ``required``, and the contract kit checks they agree.

Each field carries a :class:`Spec` in its metadata. The validator built from it raises
:class:`~kiekit.errors.ValidationError` naming the field, before any I/O; the wire converter reads
the spec's wire name; the contract kit draws valid and invalid values from it for property tests.
Rules that tie two fields together go in :meth:`Input.check`.

Where KIE takes a value in more than one JSON form, a field says so and takes each form, sending
the one KIE documents: ``numerals=True`` (the number 6 and the text "6" are one value to KIE,
kie-api.md §2.2 "Input numeric coercion"), ``whole_floats=True`` (2.0 is the integer 2) and, for
a URL KIE calls back, ``empty_is_none=True`` ("" is no URL, as for ``callBackUrl``). An optional
list of URLs given empty is not given (KIE's schema-driven clients send ``[]``, §2.4)::

    # 6, "6" and " 6 " are sent as "6"
    duration: str | None = choice("6", "10", numerals=True, default=None)

Some KIE inputs are lists of small objects (Kling's ``multi_prompt`` shots, Sora's storyboard
``shots``). Declare the object once as an :class:`Input` of its own and the list with
:func:`items`: each entry is validated like a model input, and an error names its place
(``multi_prompt[1].duration``)::

    @frozen
    class Shot(Input):
        prompt: str = text(max_length=500)
        duration: int = integer(1, 12, required=True)

    @frozen
    class Video(Input):
        multi_prompt: tuple[Shot, ...] | None = items(Shot, min_items=1, default=None)
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import math
import re
import types
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Literal,
    TypeVar,
    cast,
    dataclass_transform,
    get_type_hints,
    overload,
)
from urllib.parse import urlsplit

import attrs
from attrs import frozen

from kiekit.errors import ValidationError

__all__ = [
    "CALLBACK_INPUTS",
    "SPEC_KEY",
    "Input",
    "InputField",
    "OpenInput",
    "Spec",
    "camel",
    "check_callback_url",
    "check_utf8",
    "choice",
    "coerce",
    "default_written",
    "describe",
    "entry_class",
    "entry_spec",
    "flag",
    "input_warnings",
    "integer",
    "items",
    "make_input",
    "not_utf8",
    "number",
    "read_json_text",
    "read_numeral",
    "spec_of",
    "text",
    "texts",
    "url",
    "urls",
    "warn_input",
    "wire_name",
]

SPEC_KEY = "kiekit"
Kind = Literal["text", "choice", "int", "float", "bool", "url", "urls", "texts", "items"]
# What kind of file KIE fetches from a URL field (``kie run --image`` and ``@file`` check a
# local file against it before uploading anything)
Media = Literal["image", "video", "audio"]
MEDIA: tuple[Media, ...] = ("image", "video", "audio")
_LIST_KINDS = ("urls", "texts", "items")
_MISSING: Any = attrs.NOTHING
# ``default=`` not written at the field's declaration: None, for a field that is optional. Type
# checkers read the declaration, not the spec (see :class:`Input`), so whether it was written is
# kept for the contract kit to compare (:func:`default_written`).
_UNSAID: Any = type("_Unsaid", (), {"__repr__": lambda self: "None"})()
_SAID_KEY = "kiekit.default"
_V = TypeVar("_V")  # a choice's values
_I = TypeVar("_I", bound="Input")  # an items field's entries
# attrs' stubs make Attribute generic, the runtime class is not: one name for both, which
# typing.get_type_hints can read on the functions that take an attribute
if TYPE_CHECKING:
    _Attribute = attrs.Attribute[Any]
else:
    _Attribute = attrs.Attribute


@frozen
class Spec:
    """What KIE documents for one input field.

    ``min_length``/``max_length`` count characters for ``text`` and entries for the list kinds
    (``urls``, ``texts``, ``items``). ``of`` says what one entry of a list is: the :class:`Input`
    class of an ``items`` entry, or the Spec of one string of ``texts``. ``pattern`` is a regular
    expression a ``text`` value must match in full (``pattern_hint`` says in words what it
    allows, for the error message). ``media``: the kind of file a ``url``/``urls`` field's
    links point to, when the field's name does not say it (Suno's ``upload_url`` is a song).

    The other forms of a value KIE takes (:meth:`read` turns each into the documented one):
    ``numerals`` — a number given as its text (``"6"``, ``" 6 "``; ASCII digits only) or, for a
    choice of numerals, as the number; ``whole_floats`` — a float with no fraction (``2.0``) for
    an integer; ``empty_is_none`` — ``""`` for "not given" (a callback URL).
    """

    kind: Kind
    required: bool = False
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    wire: str | None = None
    of: type[Input] | Spec | None = None
    pattern: str | None = None
    pattern_hint: str | None = None
    numerals: bool = False
    whole_floats: bool = False
    empty_is_none: bool = False
    media: Media | None = None

    def __attrs_post_init__(self) -> None:
        # Caught when a plugin is declared, not when a user's input first reaches the field.
        if self.pattern is not None:
            if self.kind != "text":
                raise TypeError(f"only a text field takes a pattern, not a {self.kind} field")
            re.compile(self.pattern)  # re.error for a pattern that is no regular expression
        if self.kind == "items" and not _is_entry_class(self.of):
            raise TypeError(f"an items field needs an Input class for its entries, not {self.of!r}")
        if self.kind == "texts" and not isinstance(self.of, Spec):
            raise TypeError(f"a texts field needs the Spec of one string, not {self.of!r}")
        if self.media is not None:
            if self.kind not in ("url", "urls"):
                raise TypeError(f"only a url or urls field takes a media, not a {self.kind} field")
            if self.media not in MEDIA:
                raise TypeError(f"media must be one of {', '.join(MEDIA)}, not {self.media!r}")

    def read(self, value: Any) -> Any:
        """``value`` in the form KIE documents for this field, if it is another form of a value
        the field takes (see the class docstring); else unchanged, for :meth:`check` to judge."""
        if self.empty_is_none and value == "":
            return None
        if self.kind == "urls" and not self.required and _is_list(value) and not value:
            return None  # an empty list of an optional list of URLs is not given (§2.4)
        if self.whole_floats and type(value) is float and value.is_integer():
            value = int(value)
        if self.numerals:
            return _read_numeral(self, value)
        return value

    def check(self, name: str, value: Any) -> None:
        """Raise ValidationError naming ``name`` unless ``value`` fits this spec."""
        if value is None:
            if self.required:
                raise ValidationError(name, "is required")
            return
        check = _CHECKS[self.kind]
        check(self, name, value)


# Numbers as text KIE reads (§2.2: "6" was stored as 6): ASCII digits, a sign and a fraction,
# white space around. Not "--5", nor "²" or "٣" (which Python's int() and float() take), nor
# "nan", "inf" or "1e1". The mock reads the same (kiekit_mock.families.validation, and its
# OpenAPI document's patterns).
INT_NUMERAL = re.compile(r"\s*-?[0-9]+\s*")
NUMERAL = re.compile(r"\s*-?[0-9]+(?:\.[0-9]+)?\s*")


def read_numeral(value: Any, *, integer: bool) -> int | float | None:
    """The number ``value`` is, given as a JSON number or as its text; None if it is neither
    (a bool is no number, and a float no integer)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if integer or not math.isfinite(value) else value
    if not isinstance(value, str):
        return None
    if integer:
        if not INT_NUMERAL.fullmatch(value):
            return None
        try:
            return int(value)
        except ValueError:  # past Python's 4300 digits: no number any field takes
            return None
    if not NUMERAL.fullmatch(value):
        return None
    return float(value)


def _read_numeral(spec: Spec, value: Any) -> Any:
    if spec.kind in ("int", "float"):
        if not isinstance(value, str):
            return value  # a number is judged as it is (7.5 for an integer is refused)
        number = read_numeral(value, integer=spec.kind == "int")
        return value if number is None else number
    if spec.kind != "choice" or isinstance(value, bool):
        return value
    for option in spec.choices:
        if isinstance(option, bool) or not isinstance(option, (str, int)):
            continue
        if isinstance(option, str):  # a numeral choice: its number, or its text spaced
            number = read_numeral(value, integer=True)
            if number is not None and not isinstance(value, float) and str(number) == option:
                return option
        elif isinstance(value, str) and read_numeral(value, integer=True) == option:
            return option  # a number choice, given as its text
    return value


def _shown(value: Any, limit: int = 60) -> str:
    """A value in an error message, cut short (a wrong value may be a whole document)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def not_utf8(value: Any, where: str) -> str | None:
    """The place (``where``, then ``.key`` / ``[index]``) of the first string of a JSON-like
    ``value``, a key included, that is no valid Unicode text, else None: see
    :func:`check_utf8`."""
    if isinstance(value, str):
        return None if _is_text(value) else where
    if isinstance(value, Mapping):
        for key, item in value.items():
            place = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and not _is_text(key):
                return place
            found = not_utf8(item, place)
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = not_utf8(item, f"{where}[{index}]")
            if found is not None:
                return found
    return None


def check_utf8(name: str, value: Any) -> None:
    """Raise ValidationError naming ``name`` unless every string in ``value`` is text UTF-8
    can carry. A lone surrogate is not: Python reads bytes that are not UTF-8 (a latin-1
    file, a command-line argument) as such (``'caf\\udce9'``); JSON escapes it, and the
    other end finds no character there."""
    place = not_utf8(value, name)
    if place is not None:
        raise ValidationError(
            place, "is not valid UTF-8 text: bytes of another encoding (latin-1?) read as UTF-8"
        )


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(spec: Spec, name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise ValidationError(name, f"must be a string; got {_shown(value)}")
    check_utf8(name, value)
    if spec.required and not value.strip():
        raise ValidationError(name, "must not be empty")
    _check_length(spec, name, len(value), "characters")
    if spec.pattern is not None and re.fullmatch(spec.pattern, value) is None:
        allowed = spec.pattern_hint or f"text matching {spec.pattern}"
        raise ValidationError(name, f"must be {allowed}; got {value!r}")


def _check_choice(spec: Spec, name: str, value: Any) -> None:
    # Exact types: True is an int and 2.0 == 2 in Python, but KIE's enum 1/2/4 takes neither.
    if any(type(value) is type(option) and value == option for option in spec.choices):
        return
    allowed = ", ".join(repr(c) for c in spec.choices)  # '6' and 6 must look different
    first = spec.choices[0]
    if spec.numerals and read_numeral(value, integer=True) is not None:
        # a number (or its text) a numerals field would take in either form: its value is
        # what is wrong, not its type ("7" for a duration of 5 or 10)
        shown = ", ".join(str(c) for c in spec.choices)
        raise ValidationError(name, f"must be one of {shown}; got {_shown(value)}")
    if all(type(value) is not type(option) for option in spec.choices):
        # the type is the problem ("got 6" against '6' reads as if 6 were allowed)
        raise ValidationError(
            name,
            f"must be {_noun(first)} such as {first!r} (got {described(value)}); one of {allowed}",
        )
    raise ValidationError(name, f"must be one of {allowed}; got {value!r}")


def _noun(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"


def described(value: Any) -> str:
    """A value with its type in words, for an error message: the string '6', the number 6,
    the boolean true (a plugin's own checks say values the same way)."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_shown(value)}"
    if value is None:
        return "null"
    return f"a {type(value).__name__}: {_shown(value)}"


def _check_number(spec: Spec, name: str, value: Any) -> None:
    wanted: tuple[type, ...] = (int,) if spec.kind == "int" else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted):
        noun = "an integer" if spec.kind == "int" else "a number"
        # the value with its type: a command line's '3.5' and 3.5 need different fixes
        raise ValidationError(name, f"must be {noun}; got {described(value)}")
    number = cast(float, value)
    # an int is finite however large (math.isfinite(10**400) is an OverflowError); Python
    # compares it with a float bound exactly
    if isinstance(value, float) and not math.isfinite(number):
        raise ValidationError(name, f"must be a finite number; got {value}")
    if spec.minimum is not None and number < spec.minimum:
        raise ValidationError(name, f"must be at least {_bound(spec.minimum)}; got {_shown(value)}")
    if spec.maximum is not None and number > spec.maximum:
        raise ValidationError(name, f"must be at most {_bound(spec.maximum)}; got {_shown(value)}")


def _bound(limit: float) -> str:
    """A range's bound as written: 4294967295, not 4.29497e+09 (``:g`` keeps 6 digits)."""
    if isinstance(limit, int) or (isinstance(limit, float) and limit.is_integer()):
        return str(int(limit))
    return repr(limit)


def _check_bool(spec: Spec, name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValidationError(name, f"must be true or false (a boolean), not {described(value)}")


def _check_url(spec: Spec, name: str, value: Any) -> None:
    if isinstance(value, str):
        check_utf8(name, value)
    if not isinstance(value, str) or not is_http_url(value):
        raise ValidationError(name, f"must be an http(s) URL; got {value!r}{_upload_hint(value)}")


# The command line uploads `--input FIELD=@file` (and `--image`) for a top-level field only; an
# `@` reaching a field check sits inside a JSON value (a list of objects), where none is made
UPLOAD_HINT = (
    " (an @file upload works for a top-level field only, --input FIELD=@FILE: inside a JSON "
    "value, upload it first with `kie upload FILE` and give the URL it prints)"
)


def _upload_hint(value: Any) -> str:
    return UPLOAD_HINT if isinstance(value, str) and value.startswith("@") else ""


def _check_urls(spec: Spec, name: str, value: Any) -> None:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValidationError(
            name,
            'must be a list of URLs: ["https://…/a.png"] (on the command line also '
            "comma-separated: URL1,URL2)",
        )
    _check_length(spec, name, len(value), "URLs")
    for index, item in enumerate(value):
        if isinstance(item, str):
            check_utf8(f"{name}[{index}]", item)
        if not isinstance(item, str) or not is_http_url(item):
            raise ValidationError(
                f"{name}[{index}]", f"must be an http(s) URL; got {item!r}{_upload_hint(item)}"
            )


def _check_texts(spec: Spec, name: str, value: Any) -> None:
    if not _is_list(value):
        raise ValidationError(name, "must be a list of strings")
    _check_length(spec, name, len(value), "entries")
    entry = entry_spec(spec)
    for index, item in enumerate(value):
        entry.check(f"{name}[{index}]", item)


def _check_items(spec: Spec, name: str, value: Any) -> None:
    of = entry_class(spec)
    if not _is_list(value):
        raise ValidationError(name, f"must be a list of objects with {_field_names(of)}")
    _check_length(spec, name, len(value), "entries")
    for index, item in enumerate(value):
        # an ``of`` was validated when it was made; a mapping the converter could not read is
        # read again here, to name the place of its first problem
        _read_entry(of, f"{name}[{index}]", item)


def _check_length(spec: Spec, name: str, length: int, unit: str) -> None:
    if spec.min_length is not None and length < spec.min_length:
        raise ValidationError(name, f"needs at least {spec.min_length} {unit}; got {length}")
    if spec.max_length is not None and length > spec.max_length:
        raise ValidationError(name, f"allows at most {spec.max_length} {unit}; got {length}")


def _is_list(value: Any) -> bool:
    # A string is a sequence too, but never a list of entries: "abc" is not ["a", "b", "c"].
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def is_http_url(value: object) -> bool:
    """Whether ``value`` is an absolute http(s) URL with a host and no whitespace: what KIE
    takes for a file, a callback or a link to renew."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed [IPv6 host
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and not any(c.isspace() for c in value)
        and _is_text(value)
    )


def check_callback_url(value: object, field: str = "callback_url") -> None:
    """Refuse a callback URL KIE would refuse only after the create was sent (a 422, the create
    wasted): an http(s) URL, or empty/None for none. ValidationError naming ``field``."""
    if value and not is_http_url(value):
        raise ValidationError(field, f"must be an http(s) URL, got {value!r}")


# The spellings of the callback URL a caller may slip into a model's input: KIE's wire name
# (the guide's ``callBackUrl``, top level of every create body: kie-api.md §2.1, §3) and
# kiekit's own. It is never an input field (the provider puts it on the body), so each is
# refused with the way to give it, not "is not an input".
CALLBACK_INPUTS = frozenset({"callBackUrl", "callbackUrl", "callback_url", "CallBackUrl"})
CALLBACK_HINT = (
    "is the callback URL, not an input of the model: give it as callback_url= (submit, "
    'generate, a batch job\'s "callback_url") or --callback-url (kie run, kie batch)'
)


# The guide's body field ``model`` (every create body names the model: kie-api.md §2.1, §3.3)
# given as an input: it is the model id, which kiekit takes apart from the input. Said so only
# where the model has no input spelt ``model`` (veo3/extend's quality, Suno's version keep it).
MODEL_HINT = (
    "is the model id, not an input of the model: give it as kie run MODEL (the first "
    "argument; submit's and generate's first argument, a batch job's \"model\")"
)


def _refuse_callback(keys: Iterable[object], fields: Iterable[str] = ()) -> None:
    """A callback spelling among ``keys`` that is no field of the model (``fields``)."""
    for key in keys:
        if key in CALLBACK_INPUTS and key not in fields:
            raise ValidationError(str(key), CALLBACK_HINT)


_CHECKS = {
    "text": _check_text,
    "choice": _check_choice,
    "int": _check_number,
    "float": _check_number,
    "bool": _check_bool,
    "url": _check_url,
    "urls": _check_urls,
    "texts": _check_texts,
    "items": _check_items,
}


def _field(spec: Spec, default: Any) -> Any:
    """An attrs field of ``spec``: required, or with ``default`` (None when not written)."""

    def validate(_instance: Any, attribute: _Attribute, value: Any) -> None:
        spec.check(attribute.name, value)

    said = default is not _UNSAID
    default = _MISSING if spec.required else None if not said else default
    if spec.kind in _LIST_KINDS and default is not _MISSING and default is not None:
        raise TypeError("a list field's default must be None")
    converter: Any = None
    if spec.kind in ("urls", "texts"):
        converter = _optional(tuple)
    elif spec.kind == "items":
        converter = _entries(entry_class(spec))
    elif default is not _MISSING and default is not None:
        converter = _or_default(default)
    if spec.numerals or spec.whole_floats or spec.empty_is_none or spec.kind == "urls":
        converter = _reading(spec, converter)

    return attrs.field(
        default=default,
        validator=validate,
        converter=converter,
        metadata={SPEC_KEY: spec, _SAID_KEY: said},
        kw_only=True,
    )


def _reading(spec: Spec, then: Any) -> Any:
    """The converter of a field that takes other forms of its values: each read into the
    documented form (:meth:`Spec.read`), then converted as the field's kind converts."""

    def run(value: Any) -> Any:
        value = spec.read(value)
        return value if then is None else then(value)

    return run


def _or_default(default: Any) -> Any:
    """None given for a field with a default (JSON's null in a batch line: "not given") is the
    default, not a hole in a field its own checks rely on (Suno's version picks its limits)."""

    def run(value: Any) -> Any:
        return default if value is None else value

    return run


def _optional(convert: Any) -> Any:
    def run(value: Any) -> Any:
        if value is None or isinstance(value, (str, Mapping)):
            # a lone string is reported by the validator, not split into letters; a mapping,
            # not reduced to its keys
            return value
        try:
            return convert(value)
        except TypeError:
            return value  # not iterable: the validator names the field

    return run


def _entries(of: type[Input]) -> Any:
    def convert(value: Any) -> Any:
        if not _is_list(value):
            return value  # None, or what the validator refuses naming the field
        return tuple(_entry_or_as_given(of, item) for item in value)

    return convert


def _entry_or_as_given(of: type[Input], item: Any) -> Any:
    try:
        return _read_entry(of, "", item)
    except ValidationError:
        return item  # the validator reads it again and names its place


# Each maker is typed as the value its field holds, None too when it says ``default=None``:
# a type checker then compares it with the field's annotation (``prompt: int = text()`` is its
# error), and reads the field's default and keyword-only-ness from the Input's
# dataclass_transform, as before.
@overload
def text(
    *,
    required: bool = ...,
    max_length: int | None = ...,
    default: None,
    wire: str | None = ...,
    pattern: str | None = ...,
    pattern_hint: str | None = ...,
) -> str | None: ...
@overload
def text(
    *,
    required: bool = ...,
    max_length: int | None = ...,
    default: str = ...,
    wire: str | None = ...,
    pattern: str | None = ...,
    pattern_hint: str | None = ...,
) -> str: ...
def text(
    *,
    required: bool = True,
    max_length: int | None = None,
    default: str | None = _UNSAID,
    wire: str | None = None,
    pattern: str | None = None,
    pattern_hint: str | None = None,
) -> Any:
    """A string; a required one must hold more than white space. With ``pattern``, a regular
    expression the whole string must match; ``pattern_hint`` says in words what it allows
    (the error then reads "must be <hint>")."""
    spec = Spec(
        "text",
        required=required,
        max_length=max_length,
        wire=wire,
        pattern=pattern,
        pattern_hint=pattern_hint,
    )
    return _field(spec, default)


@overload
def choice(
    *values: _V,
    default: None,
    required: bool = ...,
    wire: str | None = ...,
    numerals: bool = ...,
    whole_floats: bool = ...,
) -> _V | None: ...
@overload
def choice(
    *values: _V,
    default: _V = ...,
    required: bool = ...,
    wire: str | None = ...,
    numerals: bool = ...,
    whole_floats: bool = ...,
) -> _V: ...
def choice(
    *values: Any,
    default: Any = _UNSAID,
    required: bool = False,
    wire: str | None = None,
    numerals: bool = False,
    whole_floats: bool = False,
) -> Any:
    """One of ``values`` (KIE's documented enum). With ``numerals``, a choice of numerals
    (``"6"``) is also given as its number (6) and either as spaced text (``" 6 "``), a choice of
    numbers (5) as its text (``"5"``); with ``whole_floats``, a choice of integers as a float
    with no fraction (``2.0``). Each is sent as the choice itself."""
    if default not in (None, _UNSAID) and default not in values:
        raise TypeError(f"default {default!r} is not one of the choices")
    spec = Spec(
        "choice",
        required=required,
        choices=tuple(values),
        wire=wire,
        numerals=numerals,
        whole_floats=whole_floats,
    )
    return _field(spec, default)


@overload
def integer(
    minimum: int | None = ...,
    maximum: int | None = ...,
    *,
    default: None,
    required: bool = ...,
    wire: str | None = ...,
    numerals: bool = ...,
) -> int | None: ...
@overload
def integer(
    minimum: int | None = ...,
    maximum: int | None = ...,
    *,
    default: int = ...,
    required: bool = ...,
    wire: str | None = ...,
    numerals: bool = ...,
) -> int: ...
def integer(
    minimum: int | None = None,
    maximum: int | None = None,
    *,
    default: int | None = _UNSAID,
    required: bool = False,
    wire: str | None = None,
    numerals: bool = False,
) -> Any:
    """An integer in [minimum, maximum]; with ``numerals`` also given as its text ("5")."""
    spec = Spec(
        "int",
        required=required,
        minimum=minimum,
        maximum=maximum,
        wire=wire,
        numerals=numerals,
    )
    return _field(spec, default)


@overload
def number(
    minimum: float | None = ...,
    maximum: float | None = ...,
    *,
    default: None,
    required: bool = ...,
    wire: str | None = ...,
    numerals: bool = ...,
) -> float | None: ...
@overload
def number(
    minimum: float | None = ...,
    maximum: float | None = ...,
    *,
    default: float = ...,
    required: bool = ...,
    wire: str | None = ...,
    numerals: bool = ...,
) -> float: ...
def number(
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    default: float | None = _UNSAID,
    required: bool = False,
    wire: str | None = None,
    numerals: bool = False,
) -> Any:
    """A finite number in [minimum, maximum]; with ``numerals`` also given as its text
    ("2.5")."""
    spec = Spec(
        "float",
        required=required,
        minimum=minimum,
        maximum=maximum,
        wire=wire,
        numerals=numerals,
    )
    return _field(spec, default)


@overload
def flag(*, default: None, wire: str | None = ...) -> bool | None: ...
@overload
def flag(*, default: bool = ..., wire: str | None = ...) -> bool: ...
def flag(*, default: bool | None = _UNSAID, wire: str | None = None) -> Any:
    """A boolean; None leaves KIE's own default in force."""
    return _field(Spec("bool", wire=wire), default)


@overload
def url(
    *,
    default: None,
    required: bool = ...,
    wire: str | None = ...,
    empty_is_none: bool = ...,
    media: Media | None = ...,
) -> str | None: ...
@overload
def url(
    *,
    required: bool = ...,
    wire: str | None = ...,
    empty_is_none: bool = ...,
    media: Media | None = ...,
) -> str: ...
def url(
    *,
    default: None = _UNSAID,
    required: bool = False,
    wire: str | None = None,
    empty_is_none: bool = False,
    media: Media | None = None,
) -> Any:
    """An http(s) URL KIE fetches an input file from; with ``empty_is_none``, one KIE calls
    back, for which ``""`` means none (as KIE reads ``callBackUrl``); ``media``: the kind of
    file, when the field's name does not say it (``image_url`` does)."""
    spec = Spec("url", required=required, wire=wire, empty_is_none=empty_is_none, media=media)
    return _field(spec, default)


@overload
def urls(
    *,
    default: None,
    min_items: int | None = ...,
    max_items: int | None = ...,
    required: bool = ...,
    wire: str | None = ...,
    media: Media | None = ...,
) -> tuple[str, ...] | None: ...
@overload
def urls(
    *,
    min_items: int | None = ...,
    max_items: int | None = ...,
    required: bool = ...,
    wire: str | None = ...,
    media: Media | None = ...,
) -> tuple[str, ...]: ...
def urls(
    *,
    default: None = _UNSAID,
    min_items: int | None = None,
    max_items: int | None = None,
    required: bool = False,
    wire: str | None = None,
    media: Media | None = None,
) -> Any:
    """A list of http(s) URLs, kept as a tuple; an optional one given empty is not given;
    ``media`` as for :func:`url`."""
    spec = Spec(
        "urls", required=required, min_length=min_items, max_length=max_items, wire=wire,
        media=media,
    )  # fmt: skip
    return _field(spec, default)


@overload
def texts(
    *,
    default: None,
    min_items: int | None = ...,
    max_items: int | None = ...,
    max_length: int | None = ...,
    required: bool = ...,
    wire: str | None = ...,
) -> tuple[str, ...] | None: ...
@overload
def texts(
    *,
    min_items: int | None = ...,
    max_items: int | None = ...,
    max_length: int | None = ...,
    required: bool = ...,
    wire: str | None = ...,
) -> tuple[str, ...]: ...
def texts(
    *,
    default: None = _UNSAID,
    min_items: int | None = None,
    max_items: int | None = None,
    max_length: int | None = None,
    required: bool = False,
    wire: str | None = None,
) -> Any:
    """A list of strings, none of them blank (each at most ``max_length`` characters), kept
    as a tuple. On the command line: a JSON array or comma-separated text."""
    entry = Spec("text", required=True, max_length=max_length)
    spec = Spec(
        "texts", required=required, min_length=min_items, max_length=max_items, wire=wire, of=entry
    )
    return _field(spec, default)


@overload
def items(
    of: type[_I],
    *,
    default: None,
    min_items: int | None = ...,
    max_items: int | None = ...,
    required: bool = ...,
    wire: str | None = ...,
) -> tuple[_I, ...] | None: ...
@overload
def items(
    of: type[_I],
    *,
    min_items: int | None = ...,
    max_items: int | None = ...,
    required: bool = ...,
    wire: str | None = ...,
) -> tuple[_I, ...]: ...
def items(
    of: type[Input],
    *,
    default: None = _UNSAID,
    min_items: int | None = None,
    max_items: int | None = None,
    required: bool = False,
    wire: str | None = None,
) -> Any:
    """A list of ``of`` entries, kept as a tuple of ``of``.

    Each entry may be given as an ``of`` or as a mapping of its fields (Python names or the
    family's wire names, as :func:`make_input` takes them); on the command line, as a JSON
    array of objects. An entry's problem is named by its place: ``shots[1].duration``.
    """
    spec = Spec(
        "items", required=required, min_length=min_items, max_length=max_items, wire=wire, of=of
    )
    return _field(spec, default)


@dataclass_transform(
    kw_only_default=True,
    frozen_default=True,
    field_specifiers=(text, choice, integer, number, flag, url, urls, texts, items, attrs.field),
)
@frozen
class Input:
    """Base of every model input. Subclasses are frozen attrs classes made of the fields above.

    Type checkers (mypy, pyright) read a subclass's ``__init__`` from its declarations, through
    the ``dataclass_transform`` above: every field keyword-only, and required unless its maker
    says ``default=`` (``url(default=None)``), as for attrs' own ``field()``; they cannot read
    ``required=``. The contract kit checks the two agree (:func:`default_written`).

    ``required_one_of`` declares groups of optional fields at least one of each must be given
    (Grok's image-to-video takes ``image_urls`` or ``task_id``): checked after :meth:`check`
    (whose own message, if it says more, comes first), and shown by ``kie models`` — a field
    of such a pair is not "optional" to a user.

    ``required_unless`` names optional fields that are required but in one case, with the words
    for that case (Kling 3.0's ``prompt``: ``{"prompt": "multi-shot (multi_shots with
    multi_prompt)"}``): :meth:`check` enforces the rule, and ``kie models`` shows the field as
    "required unless <case>", not as optional."""

    required_one_of: ClassVar[tuple[tuple[str, ...], ...]] = ()
    required_unless: ClassVar[Mapping[str, str]] = {}

    def __attrs_post_init__(self) -> None:
        self.check()
        if not self.required_one_of:
            return
        for group in one_of_groups(type(self)):  # type: ignore[arg-type]  # a class hashes
            if all(_not_given(getattr(self, name)) for name in group):
                raise ValidationError(group[0], f"give one of {_or(group)}")

    def check(self) -> None:
        """Rules across fields (e.g. a range that depends on the mode); raise ValidationError."""


def _not_given(value: Any) -> bool:
    return value is None or (isinstance(value, (str, tuple, list)) and not value)


def _or(names: Sequence[str]) -> str:
    """``a or b``, ``a, b or c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


@functools.cache
def one_of_groups(cls: type[Input]) -> tuple[tuple[str, ...], ...]:
    """``cls.required_one_of``, proved to name two or more of its fields each (a TypeError, a
    plugin's declaration error, the first time the class is used otherwise)."""
    groups = cls.required_one_of
    names = {a.name for a in attrs.fields(cls)} if attrs.has(cls) else set()
    for group in groups:
        if len(group) < 2 or not set(group) <= names:
            raise TypeError(
                f"{cls.__name__}.required_one_of: {group!r} must name two or more of its fields"
            )
    return groups


@functools.cache
def unless_cases(cls: type[Input]) -> Mapping[str, str]:
    """``cls.required_unless``, proved to name optional fields of the class with words for
    each case (a TypeError, a plugin's declaration error, the first time the class is
    described otherwise)."""
    cases = cls.required_unless
    optional = (
        {a.name for a in attrs.fields(cls) if a.default is not attrs.NOTHING}
        if attrs.has(cls)
        else set()
    )
    for name, case in cases.items():
        if name not in optional or not (isinstance(case, str) and case.strip()):
            raise TypeError(
                f"{cls.__name__}.required_unless: {name!r} must name an optional field of the "
                "class, with words for the case it may be left out"
            )
    return cases


def default_written(attribute: _Attribute) -> bool:
    """Whether the field's declaration says ``default=``: what a type checker takes for
    optional (see :class:`Input`)."""
    return bool(attribute.metadata.get(_SAID_KEY))


def spec_of(attribute: _Attribute) -> Spec | None:
    spec = attribute.metadata.get(SPEC_KEY)
    return spec if isinstance(spec, Spec) else None


def entry_class(spec: Spec) -> type[Input]:
    """The Input class of one entry of an ``items`` field."""
    if not _is_entry_class(spec.of):
        raise TypeError(f"a {spec.kind} field has no Input class for its entries")
    return cast(type[Input], spec.of)


def entry_spec(spec: Spec) -> Spec:
    """The Spec of one string of a ``texts`` field."""
    if not isinstance(spec.of, Spec):
        raise TypeError(f"a {spec.kind} field has no Spec for its entries")
    return spec.of


def _is_entry_class(of: Any) -> bool:
    # A free-form OpenInput has no fields to read an entry into, nor to draw one from.
    return isinstance(of, type) and issubclass(of, Input) and not issubclass(of, OpenInput)


def _closest(key: str, names: list[str]) -> str:
    """The "did you mean 'aspect_ratio'?" for a slip ('aspect-ratio', 'aspect_raito'), or ""."""
    import difflib  # only on this error's path

    if (snake := key.replace("-", "_")) in names:
        return f"; did you mean {snake!r}?"
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def _field_names(of: type[Input]) -> str:
    return ", ".join(a.name for a in attrs.fields(of))


def _read_entry(of: type[Input], where: str, item: Any, *, camel_case: bool = False) -> Input:
    """``item`` as an ``of``: an ``of`` as it is, a mapping read with :func:`make_input`
    (``camel_case`` as the family spells its wire names). A ValidationError names the place,
    ``where`` then the entry's field: ``multi_prompt[1].duration``."""
    if isinstance(item, of):
        return item
    if not isinstance(item, Mapping):
        raise ValidationError(where, f"must be an object with {_field_names(of)}")
    try:
        return make_input(of, item, camel_case=camel_case)
    except ValidationError as exc:
        detail = exc.message.removeprefix(f"{exc.field}: ")
        raise ValidationError(f"{where}.{exc.field}", detail) from None


def _read_entries(spec: Spec, name: str, value: Any, *, camel_case: bool) -> Any:
    """An ``items`` value with its mappings read as entries in the family's spelling; anything
    but a list is left to the field's validator."""
    if not _is_list(value):
        return value
    of = entry_class(spec)
    return tuple(
        _read_entry(of, f"{name}[{index}]", item, camel_case=camel_case)
        for index, item in enumerate(value)
    )


def coerce(spec: Spec, value: str) -> Any:
    """Read a command-line string as the field's type: ``true`` → True, ``5`` → 5,
    ``a,b`` or ``["a", "b"]`` for URL and string lists, a JSON array of objects for entry
    lists. A string that does not read is passed on unchanged, so the validator reports it
    with the field's name."""
    if spec.kind == "items":
        return _json_list(value)
    if spec.kind in ("urls", "texts"):
        if value.lstrip().startswith("["):
            return _json_list(value)  # a comma inside a JSON string stays in its entry
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


def _json_list(value: str) -> Any:
    parsed = read_json_text(value)
    return parsed if isinstance(parsed, list) else value


def camel(name: str) -> str:
    """``aspect_ratio`` → ``aspectRatio``: the legacy families' wire spelling."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_name(attribute: _Attribute, *, camel_case: bool) -> str:
    spec = spec_of(attribute)
    if spec is not None and spec.wire:
        return spec.wire
    return camel(attribute.name) if camel_case else attribute.name


def make_input(
    cls: type[Input],
    values: Mapping[str, Any],
    *,
    from_text: bool = False,
    camel_case: bool = False,
    typed: Mapping[str, Any] | None = None,
) -> Input:
    """Build ``cls`` from field values, naming the field on any problem.

    Keys may be the Python names (``aspect_ratio``) or the wire names KIE's docs use (with
    ``camel_case``: ``aspectRatio``). With ``from_text`` the string values are command-line
    text, read with :func:`coerce` (or as JSON, for an :class:`OpenInput`); ``typed`` values are
    taken as they are either way (the CLI's ``--prompt`` is text, never JSON).
    """
    if not isinstance(values, Mapping):
        raise ValidationError("input", f"must be an object of fields, not {type(values).__name__}")
    given = [(key, value, from_text and isinstance(value, str)) for key, value in values.items()]
    given += [(key, value, False) for key, value in (typed or {}).items()]
    if issubclass(cls, OpenInput):
        _refuse_callback(key for key, _, _ in given)  # else sent inside the input, unread
        return cls(values={key: read_json_text(v) if text else v for key, v, text in given})
    aliases, required = _names(cls, camel_case)  # type: ignore[arg-type]  # a class hashes
    _refuse_callback((key for key, _, _ in given), aliases)
    named: dict[str, Any] = {}
    for key, value, text in given:
        attribute = aliases.get(key)
        if attribute is None:
            if key == "model":
                raise ValidationError(key, MODEL_HINT)
            names = [a.name for a in attrs.fields(cls)]
            raise ValidationError(
                key,
                f"is not an input of this model{_closest(str(key), names)} "
                f"(inputs: {', '.join(names)})",
            )
        if attribute.name in named:
            raise ValidationError(attribute.name, "is given twice")
        spec = spec_of(attribute)
        if spec is not None and text:
            value = coerce(spec, value)
        if spec is not None and spec.kind == "items":
            # here the family's spelling is known; the field's own converter knows only Python
            # names (and ``wire=`` overrides), as when the class is called directly
            value = _read_entries(spec, attribute.name, value, camel_case=camel_case)
        named[attribute.name] = value
    missing = [name for name in required if name not in named]
    if missing:
        raise ValidationError(missing[0], "is required")
    return cls(**named)


@functools.lru_cache(maxsize=1024)
def _names(cls: type[Input], camel_case: bool) -> tuple[Mapping[str, _Attribute], tuple[str, ...]]:
    """The names each field of ``cls`` may be given by (its Python name, its wire name), and
    the fields with no default: worked out once per class, not for every input made."""
    aliases: dict[str, _Attribute] = {}
    for attribute in attrs.fields(cls):
        for alias in (attribute.name, wire_name(attribute, camel_case=camel_case)):
            aliases.setdefault(alias, attribute)
    required = tuple(a.name for a in attrs.fields(cls) if a.default is attrs.NOTHING)
    return types.MappingProxyType(aliases), required


def read_json_text(value: str) -> Any:
    """A command-line value for a free-form input: JSON when it reads as JSON (``5``, ``true``,
    ``["a"]``), else the string itself (``16:9``). Quote it (``'"6"'``) to force a string."""
    try:
        return json.loads(value, parse_constant=_not_json)
    except ValueError:
        return value


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # Python's NaN/Infinity extensions stay text


def _own_copy(value: Any) -> Any:
    # A deep copy: the caller's dict cannot change what was validated.
    return copy.deepcopy(dict(value)) if isinstance(value, Mapping) else value


def _json_object(_instance: Any, _attribute: _Attribute, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise ValidationError("input", "must be an object of input fields")
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ValidationError("input", f"field names must be non-empty strings, not {key!r}")
        try:
            json.dumps(item, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValidationError(key, f"is not a JSON value: {exc}") from None
    check_utf8("", value)  # "" names a field by its key: ``prompt``, ``image_urls[0]``


@frozen
class OpenInput(Input):
    """Free-form input for a model kiekit has no typed class for: any JSON object, sent as is.

    KIE, not kiekit, validates it — the price of reaching a model the day it appears.
    """

    # positional too (``OpenInput({...})``), unlike the fields of the makers above
    values: Mapping[str, Any] = attrs.field(
        factory=dict, converter=_own_copy, validator=_json_object, hash=False, kw_only=False
    )


@frozen
class InputField:
    """One input field of a model as a user gives it (``kie models MODEL``): what a provider's
    :meth:`~kiekit.provider.Provider.input_fields` returns, whatever declares the field (an
    attrs input class, a catalogue).

    ``kind`` is the value's type in JSON's words: ``string``, ``integer``, ``number``,
    ``boolean``, ``url``, ``urls`` (a list of URLs), ``strings``, ``objects`` or ``list``.
    ``choices`` are the allowed values (none: any of the kind); ``minimum``/``maximum`` bound a
    number; ``min_length``/``max_length`` count characters of a string or entries of a list.
    ``wire`` is the name KIE's docs use when it differs from ``name``; ``default`` is the value
    sent when the field is not given (None: KIE's own, or none). ``one_of`` is the group of
    optional fields (this one among them) at least one of which must be given;
    ``required_unless`` the case in which an optional field may be left out, in words (it is
    required in every other: Kling 3.0's ``prompt`` but for a multi-shot video); ``entry`` the
    fields of one entry of an ``objects`` list, as far as they are known (none: not known).
    ``media``: the kind of file a URL field's links point to (``image``, ``video``,
    ``audio``) when its declaration says it; None leaves it to the field's name.
    ``note``: how the field's limits depend on other fields, in words, where they do (Suno's
    prompt: 500 characters without custom mode, 3000 or 5000 with it by version); the
    ``max_length`` then is the loosest of them, and ``kie models`` shows the note instead.
    """

    name: str
    kind: str
    required: bool = False
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    wire: str | None = None
    default: Any = None
    one_of: tuple[str, ...] = ()
    entry: tuple[InputField, ...] = ()
    media: str | None = None
    required_unless: str | None = None
    note: str | None = None

    @property
    def is_list(self) -> bool:
        return self.kind in ("urls", "strings", "objects", "list")


_KIND_WORDS = {
    "text": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "url": "url",
    "urls": "urls",
    "texts": "strings",
    "items": "objects",
}


def _choice_kind(choices: tuple[Any, ...]) -> str:
    if all(isinstance(c, bool) for c in choices):
        return "boolean"
    if all(isinstance(c, int) and not isinstance(c, bool) for c in choices):
        return "integer"
    if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices):
        return "number"
    return "string"


def describe(cls: type[Input], *, camel_case: bool = False) -> tuple[InputField, ...]:
    """The fields of an input class as :class:`InputField` s, in declaration order (none for
    an :class:`OpenInput`, whose fields kiekit does not know)."""
    if issubclass(cls, OpenInput) or not attrs.has(cls):
        return ()
    groups = {name: group for group in one_of_groups(cls) for name in group}
    unless = unless_cases(cls)
    found = []
    for attribute in attrs.fields(cls):
        spec = spec_of(attribute)
        if spec is None:
            continue
        kind = _choice_kind(spec.choices) if spec.kind == "choice" else _KIND_WORDS[spec.kind]
        default = attribute.default
        wire = wire_name(attribute, camel_case=camel_case)
        found.append(
            InputField(
                attribute.name,
                kind,
                required=default is attrs.NOTHING,
                choices=spec.choices,
                minimum=spec.minimum,
                maximum=spec.maximum,
                min_length=spec.min_length,
                max_length=spec.max_length,
                wire=None if wire == attribute.name else wire,
                default=None if default is attrs.NOTHING or _is_factory(default) else default,
                one_of=groups.get(attribute.name, ()),
                required_unless=unless.get(attribute.name),
                # an entry's names as the entry class is read: Python's, or the family's
                entry=describe(entry_class(spec), camel_case=camel_case)
                if spec.kind == "items"
                else (),
                media=spec.media,
            )
        )
    return tuple(found)


def _is_factory(default: Any) -> bool:
    return isinstance(default, attrs.Factory)  # type: ignore[arg-type]


# attrs compiles an __init__ with the module's names as they stood at its class statement:
# those declared later (Input, InputField itself) are resolved here, once all exist, for
# typing.get_type_hints and inspect.signature(eval_str=True) on these classes.
for _declared_early in (Spec, InputField):
    _declared_early.__init__.__annotations__ = get_type_hints(_declared_early.__init__, globals())


# The input warnings a batch is collecting for the job it checks (input_warnings): None outside
_COLLECTED: ContextVar[list[dict[str, str]] | None] = ContextVar("kiekit_input", default=None)


def warn_input(field: str, message: str, *, log: logging.Logger) -> None:
    """A provider's word about one input field it sends as given but doubts (a field its
    model's page does not document: KIE may ignore it). Inside :func:`input_warnings` (a batch
    checking a job) it is that job's, kept with its result; elsewhere a log record, said once
    per process for each field and message, so a loop of thousands of creates says it once.
    A log record, not a Python warning: test suites turn warnings into errors."""
    collected = _COLLECTED.get()
    if collected is not None:
        collected.append({"field": field, "message": message})
        return
    _said_once(log, field, message)


@functools.cache
def _said_once(log: logging.Logger, field: str, message: str) -> None:
    log.warning("%s: %s", field, message)


@contextlib.contextmanager
def input_warnings() -> Iterator[list[dict[str, str]]]:
    """Collect the input warnings (:func:`warn_input`) of the inputs checked within, instead
    of logging them: ``kie batch`` and ``run_batch`` tie each to its job (its result's
    ``warnings``). Per task and thread (a context variable)."""
    collected: list[dict[str, str]] = []
    token = _COLLECTED.set(collected)
    try:
        yield collected
    finally:
        _COLLECTED.reset(token)
