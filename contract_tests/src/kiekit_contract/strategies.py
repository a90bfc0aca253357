"""Hypothesis strategies drawn from the field specs a provider declares, and nothing else.

Every input field is made with :mod:`kiekit.fields`, so its :class:`~kiekit.fields.Spec` says what
KIE accepts. From it we draw values KIE accepts (:func:`valid_values`, :func:`valid_inputs`) and
values it documents as wrong (:func:`invalid_values`), so a property test can take a valid input
and swap one field for a wrong value, expecting a ValidationError that names that field.

Generated text stays printable and modest (prompts up to ~100 characters) except at a declared
``max_length``, where both sides of the boundary are drawn. Generated URLs point at the reserved
``example.*`` domains; the mock never fetches them.

A list of small objects (``kiekit.fields.items``) is drawn entry by entry from the entry class's
own specs, recursively, and each entry must pass that class's :meth:`~kiekit.Input.check`.

A free-form :class:`~kiekit.fields.OpenInput` (a generic provider's input) has no field specs:
KIE validates it. Its strategies are :func:`open_inputs` (a known-good example plus extra JSON
fields) and :func:`invalid_open_fields` (what is not JSON, which kiekit refuses before sending).

The JSON strategies (:func:`json_values`, :func:`like`) feed the fuzz tests of
``parse_status`` / ``extract_results``.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar, cast

import attrs
from hypothesis import reject
from hypothesis import strategies as st
from kiekit import Input, Model, ValidationError
from kiekit.fields import OpenInput, Spec, entry_class, entry_spec, make_input, spec_of
from kiekit.wire import input_to_wire

__all__ = [
    "EXTRA_FIELD_PREFIX",
    "FAIL_MARKER",
    "BadOpenField",
    "boundary_inputs",
    "edge_values",
    "input_specs",
    "invalid_entry_fields",
    "invalid_open_fields",
    "invalid_values",
    "json_values",
    "like",
    "one_field_changed",
    "open_inputs",
    "prompt_text",
    "smallest_input",
    "valid_entries",
    "valid_inputs",
    "valid_values",
    "web_urls",
]

# The mock fails a task whose prompt holds this (kiekit_mock.FAIL_MARKER); generated text never
# does by accident, so "valid input" always means "a task that succeeds".
FAIL_MARKER = "[mock:fail]"

TEXT_MAX = 100  # generated text stays this short unless a max_length boundary is being tested
URLS_MAX = 6  # list fields with no declared maximum get at most this many URLs
ITEMS_MAX = 3  # lists of objects or strings with no declared maximum: each entry costs a draw
# An entry class's own rules (Input.check) refuse some draws; a list of n entries would be
# refused n times as often, so each entry is drawn again, up to this many times, before the
# whole example is rejected.
ENTRY_TRIES = 8

_LETTERS = st.characters(
    codec="utf-8",
    categories=("L", "N", "P", "S", "Zs"),
    exclude_characters="\x00",
)


_K = TypeVar("_K")
_S = TypeVar("_S", bound=st.SearchStrategy[Any])


class _Same:
    """A key that is its object's identity: equal specs may differ in what they draw (a
    choice of 1 equals a choice of 1.0 and of True), and an Input class is its identity."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj


def _reused(build: Callable[[_K], _S]) -> Callable[[_K], _S]:
    """``build``, made once per object (a field's Spec, an Input class) and then reused.

    Strategies are immutable, and hypothesis works out a new one's properties (can it be empty,
    may its values be reused: a walk of the whole tree) the first time it is drawn from: the
    contract's property tests, which built them in every example, spent a tenth of their
    time there."""
    cached = functools.lru_cache(maxsize=1024)(lambda key: build(key.obj))

    @functools.wraps(build)
    def reused(obj: _K) -> _S:
        return cached(_Same(obj))

    return reused


def _usable(value: str) -> bool:
    return FAIL_MARKER not in value


def prompt_text(*, min_size: int = 1, max_size: int = TEXT_MAX) -> st.SearchStrategy[str]:
    """Printable text with something other than white space in it (KIE's "cannot be empty")."""
    return st.text(_LETTERS, min_size=min_size, max_size=max_size).filter(
        lambda s: bool(s.strip()) and _usable(s)
    )


def _exact_length(length: int) -> st.SearchStrategy[str]:
    """Text of exactly ``length`` characters (for max_length boundaries), cheaply drawn."""
    seeds = prompt_text(max_size=min(length, 20))
    return seeds.map(lambda seed: (seed * length)[:length]).filter(_usable)


_HOSTS = ("example.com", "example.org", "images.example.net", "cdn.example.com")
_SEGMENT = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)


def web_urls() -> st.SearchStrategy[str]:
    """http(s) URLs on reserved example domains, shaped like image links."""
    return st.builds(
        "{}://{}/{}/{}.{}".format,
        st.sampled_from(("https", "http")),
        st.sampled_from(_HOSTS),
        _SEGMENT,
        _SEGMENT,
        st.sampled_from(("png", "jpg", "jpeg", "webp")),
    )


@_reused
def valid_values(spec: Spec) -> st.SearchStrategy[Any]:
    """Values ``spec`` accepts (never None: whether to leave a field out is the caller's call)."""
    if spec.kind == "text":
        return _valid_text(spec)
    if spec.kind == "choice":
        return st.sampled_from(spec.choices)
    if spec.kind == "int":
        low = None if spec.minimum is None else int(spec.minimum)
        high = None if spec.maximum is None else int(spec.maximum)
        inner = st.integers(
            low if low is not None else -(10**6), high if high is not None else 10**6
        )
        return _with_bounds(inner, spec)
    if spec.kind == "float":
        inner_float = st.floats(
            spec.minimum if spec.minimum is not None else -1e6,
            spec.maximum if spec.maximum is not None else 1e6,
            allow_nan=False,
            allow_infinity=False,
        )
        return _with_bounds(inner_float, spec)
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "url":
        return web_urls()
    if spec.kind == "urls":
        low, high = _counts(spec, URLS_MAX)
        return st.lists(web_urls(), min_size=low, max_size=high).map(tuple)
    if spec.kind == "texts":
        low, high = _counts(spec, ITEMS_MAX)
        return st.lists(valid_values(entry_spec(spec)), min_size=low, max_size=high).map(tuple)
    if spec.kind == "items":
        low, high = _counts(spec, ITEMS_MAX)
        return st.lists(valid_entries(entry_class(spec)), min_size=low, max_size=high).map(tuple)
    raise TypeError(f"no strategy for field kind {spec.kind!r}")


def _with_bounds(inner: st.SearchStrategy[Any], spec: Spec) -> st.SearchStrategy[Any]:
    """``inner`` with the range's bounds drawn as often as all the numbers between: a plain
    ``st.integers(0, 2**31 - 1)`` seldom draws 0, and a provider dropping a falsy ``seed=0``
    went through half the runs (found by an outside plugin author)."""
    bounds = _bounds(spec)
    return st.one_of(st.sampled_from(bounds), inner) if bounds else inner


def _bounds(spec: Spec) -> list[Any]:
    """The bounds of a number field's range, as the field's type."""
    typed = int if spec.kind == "int" else float
    found = [typed(b) for b in (spec.minimum, spec.maximum) if b is not None]
    return sorted(set(found))


def boundary_inputs(base: Input) -> list[Input]:
    """``base`` and, deterministically, ``base`` with one field changed to each value at an
    edge of what it takes: each bound of a number's range, each choice, both booleans, and
    an optional field ``base`` leaves out set to a plain value. The property tests run
    these first, on every run, as explicit examples, so a provider that drops ``seed=0`` or
    one choice is caught whatever the random draws. A value the class's cross-field rules
    refuse with the rest of ``base`` is passed over."""
    found = [base]
    for name, spec in input_specs(type(base)).items():
        for value in _edges_taken(spec, getattr(base, name)):
            try:
                found.append(attrs.evolve(cast(Any, base), **{name: value}))
            except ValidationError:
                continue
    return found


def _edges_taken(spec: Spec, current: Any) -> list[Any]:
    """The values of :func:`boundary_inputs` for one field that differ from ``current``."""
    if spec.kind in ("int", "float"):
        values = _bounds(spec)
    elif spec.kind == "choice":
        values = list(spec.choices)
    elif spec.kind == "bool":
        values = [False, True]
    elif current is None:
        try:
            values = [smallest_value(spec)]
        except ValidationError:  # an entry class whose rules want more than its required fields
            values = []
    else:
        values = []
    return [v for v in values if not _same(v, current)]


def _counts(spec: Spec, default_max: int) -> tuple[int, int]:
    """How many entries a valid list of ``spec`` holds, at least and at most."""
    # KIE answers an empty list for a required field with "cannot be empty" (§2.4, §10).
    low = spec.min_length if spec.min_length is not None else (1 if spec.required else 0)
    high = spec.max_length if spec.max_length is not None else max(low, default_max)
    return low, high


@_reused
def valid_entries(of: type[Input]) -> st.SearchStrategy[Input]:
    """Entries of an ``items`` list: ``of`` objects drawn from their own specs that pass
    ``of.check()`` (drawn again a few times before the example is rejected)."""
    return _retried_inputs(of, _field_values(input_specs(of)))


def _field_values(specs: Mapping[str, Spec]) -> st.SearchStrategy[dict[str, Any]]:
    required = {name: valid_values(s) for name, s in specs.items() if s.required}
    optional = {name: valid_values(s) for name, s in specs.items() if not s.required}
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def _retried_inputs(
    draw: st.DrawFn, cls: type[Input], fields: st.SearchStrategy[dict[str, Any]]
) -> Input:
    found: Input | None = None
    for _ in range(ENTRY_TRIES):
        try:
            found = make_input(cls, draw(fields))
            break
        except ValidationError:
            continue  # the class's own rule said no: draw the entry again
    if found is None:
        reject()
    return found


def _valid_text(spec: Spec) -> st.SearchStrategy[str]:
    if spec.pattern is not None:
        return _matching_text(spec, spec.pattern)
    limit = spec.max_length
    low = 1 if spec.required else 0
    if spec.required:
        short = prompt_text(max_size=min(TEXT_MAX, limit) if limit is not None else TEXT_MAX)
    else:
        short = st.text(_LETTERS, max_size=TEXT_MAX if limit is None else min(limit, TEXT_MAX))
        short = short.filter(_usable)
    if limit is None or limit <= TEXT_MAX:
        return short
    # the boundary: exactly max_length, and just under it
    edge = st.sampled_from(sorted({max(low, limit - 1), limit})).flatmap(_exact_length)
    return st.one_of(short, edge)


def _matching_text(spec: Spec, pattern: str) -> st.SearchStrategy[str]:
    """Text a ``pattern`` field accepts: drawn from the regular expression itself (text drawn at
    random would rarely match it), within the field's other limits."""

    def fits(value: str) -> bool:
        return (
            re.fullmatch(pattern, value) is not None
            and (spec.max_length is None or len(value) <= spec.max_length)
            and (bool(value.strip()) or not spec.required)
            and _usable(value)
        )

    return st.from_regex(pattern, fullmatch=True).filter(fits)


@_reused
def invalid_values(spec: Spec) -> st.SearchStrategy[Any]:
    """Values ``spec`` rejects: a wrong type, a value outside the enum or range, text that is
    too long or blank or does not match its pattern, a malformed URL, too many or too few
    entries in a list, a list with one bad entry (for a list of objects: one field of one
    entry, named ``field[i].name``); None for a required field."""
    options: list[st.SearchStrategy[Any]] = []
    if spec.required:
        options.append(st.none())
    if spec.kind == "text":
        options.append(st.one_of(st.integers(), st.booleans(), st.lists(st.text(max_size=3))))
        if spec.required:
            options.append(st.sampled_from(("", " ", "   ", "\u3000")))
        if spec.max_length is not None:
            over = st.integers(spec.max_length + 1, spec.max_length + 20)
            options.append(over.flatmap(_exact_length))
        if spec.pattern is not None:
            pattern = spec.pattern
            options.append(prompt_text(max_size=20).filter(lambda v: not re.fullmatch(pattern, v)))
    elif spec.kind == "choice":
        options.append(prompt_text(max_size=12).filter(lambda v: v not in spec.choices))
        options.append(st.booleans())
        options.append(st.integers().filter(lambda v: v not in spec.choices))
    elif spec.kind in ("int", "float"):
        options.append(st.one_of(st.booleans(), st.text(max_size=5), st.lists(st.integers())))
        if spec.kind == "int":
            options.append(st.floats(allow_nan=False).filter(lambda v: not v.is_integer()))
        if spec.minimum is not None:
            below = spec.minimum - 1
            options.append(
                st.integers(max_value=int(below))
                if spec.kind == "int"
                else st.floats(max_value=below, allow_nan=False)
            )
        if spec.maximum is not None:
            above = spec.maximum + 1
            options.append(
                st.integers(min_value=int(above))
                if spec.kind == "int"
                else st.floats(min_value=above, allow_nan=False)
            )
    elif spec.kind == "bool":
        options.append(
            st.one_of(st.sampled_from(("true", "false", "yes", "")), st.integers(), st.floats())
        )
    elif spec.kind == "url":
        options.append(_bad_urls())
        options.append(st.one_of(st.integers(), st.lists(web_urls(), min_size=1, max_size=2)))
    elif spec.kind == "urls":
        options.append(_invalid_url_lists(spec))
    elif spec.kind == "texts":
        entry = entry_spec(spec)
        # a lone string is not a list of one: only the command line splits text (coerce)
        not_lists = st.one_of(prompt_text(max_size=20), st.integers(), st.booleans())
        options.append(_invalid_lists(spec, valid_values(entry), invalid_values(entry), not_lists))
    elif spec.kind == "items":
        options.append(_invalid_item_lists(spec))
    else:
        raise TypeError(f"no strategy for field kind {spec.kind!r}")
    # a value in another form KIE takes (numerals, whole_floats, empty_is_none) is not wrong
    return st.one_of(options).filter(lambda value: _refused(spec, value))


def _refused(spec: Spec, value: Any) -> bool:
    """Whether the field refuses ``value`` once read in its documented form (Spec.read)."""
    try:
        spec.check("field", spec.read(value))
    except ValidationError:
        return True
    return False


def _bad_urls() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            (
                "",
                "not a url",
                "example.com/a.png",
                "ftp://example.com/a.png",
                "file:///etc/hosts",
                "http://",
                "https://exa mple.com/a.png",
                "javascript:alert(1)",
            )
        ),
        web_urls().map(lambda u: u.replace("://", ":/", 1)),
    )


def _invalid_url_lists(spec: Spec) -> st.SearchStrategy[Any]:
    good_high = spec.max_length if spec.max_length is not None else URLS_MAX
    options: list[st.SearchStrategy[Any]] = [
        web_urls(),  # a lone string is not a list of one
        st.integers(),
        # a list with one malformed entry, anywhere in it
        st.tuples(
            st.lists(web_urls(), max_size=max(0, good_high - 1)), _bad_urls(), st.integers()
        ).map(lambda t: _insert(t[0], t[1], t[2])),
    ]
    if spec.max_length is not None:
        options.append(
            st.integers(spec.max_length + 1, spec.max_length + 3).flatmap(
                lambda n: st.lists(web_urls(), min_size=n, max_size=n)
            )
        )
    # too few: an optional list given empty is not given (Spec.read), so at least one there
    fewest = 0 if spec.required else 1
    if spec.min_length is not None and spec.min_length - 1 >= fewest:
        options.append(st.lists(web_urls(), min_size=fewest, max_size=spec.min_length - 1))
    return st.one_of(options)


def _invalid_lists(
    spec: Spec,
    good: st.SearchStrategy[Any],
    bad: st.SearchStrategy[Any],
    not_lists: st.SearchStrategy[Any],
) -> st.SearchStrategy[Any]:
    """For a list kind: something that is not a list, a list with one ``bad`` entry among
    ``good`` ones, and lists of ``good`` entries one too long or too short."""
    _, high = _counts(spec, ITEMS_MAX)
    # enough good entries that the count is right once the bad one is in: it is what is wrong
    fewest = max(0, (spec.min_length or 0) - 1)
    others = st.lists(good, min_size=fewest, max_size=max(fewest, min(high, ITEMS_MAX) - 1))
    options: list[st.SearchStrategy[Any]] = [
        not_lists,
        st.tuples(others, bad, st.integers()).map(lambda t: _insert(t[0], t[1], t[2])),
    ]
    if spec.max_length is not None:
        over = st.integers(spec.max_length + 1, spec.max_length + 2)
        options.append(over.flatmap(lambda n: st.lists(good, min_size=n, max_size=n)))
    if spec.min_length:  # (a required list with no minimum takes an empty one: KIE judges it)
        options.append(st.lists(good, max_size=spec.min_length - 1))
    return st.one_of(options)


def _invalid_item_lists(spec: Spec) -> st.SearchStrategy[Any]:
    of = entry_class(spec)
    good = valid_entries(of)
    bad_entry = st.one_of(
        st.integers(),
        prompt_text(max_size=12),  # a list of words is not a list of objects
        st.none(),
        st.just(_WrongClass()),
        invalid_entry_fields(of),
    )
    not_lists = st.one_of(
        st.integers(),
        st.booleans(),
        good.map(_fields_of),  # a lone entry is not a list of one
        # JSON text is read only from the command line (coerce); from Python it is refused
        st.lists(good, min_size=1, max_size=2).map(
            lambda entries: json.dumps([input_to_wire(e, camel_case=False) for e in entries])
        ),
    )
    return _invalid_lists(spec, good, bad_entry, not_lists)


def invalid_entry_fields(of: type[Input]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid ``of`` entry as a mapping of its fields, with one field given a value its spec
    forbids (recursively: that value may itself be a list with one bad entry)."""
    specs = input_specs(of)

    def swap_one(entry: Input, name: str) -> st.SearchStrategy[dict[str, Any]]:
        return invalid_values(specs[name]).map(lambda bad: {**_fields_of(entry), name: bad})

    return st.tuples(valid_entries(of), st.sampled_from(sorted(specs))).flatmap(
        lambda pair: swap_one(*pair)
    )


def _fields_of(entry: Input) -> dict[str, Any]:
    return {a.name: getattr(entry, a.name) for a in attrs.fields(type(entry))}


@attrs.frozen
class _WrongClass(Input):
    """An entry of no list's class: an object, but not the one the list holds."""


def _insert(items: list[Any], bad: Any, where: int) -> list[Any]:
    out = list(items)
    out.insert(where % (len(out) + 1), bad)
    return out


def input_specs(cls: type[Input]) -> dict[str, Spec]:
    """Field name → Spec for an input class; TypeError for a field made without kiekit.fields,
    since nothing could then be generated (or documented) for it. A free-form
    :class:`~kiekit.fields.OpenInput` declares no fields: ``{}``."""
    if issubclass(cls, OpenInput):
        return {}
    specs: dict[str, Spec] = {}
    for attribute in attrs.fields(cls):
        spec = spec_of(attribute)
        if spec is None:
            raise TypeError(
                f"{cls.__name__}.{attribute.name} has no kiekit field spec: "
                "declare it with kiekit.fields (text, choice, integer, …)"
            )
        specs[attribute.name] = spec
    return specs


def valid_inputs(model: Model | type[Input]) -> st.SearchStrategy[Input]:
    """Input objects of ``model`` drawn field by field from their specs.

    Optional fields are sometimes left out (KIE's own default applies). Draws that break the
    class's cross-field rules (:meth:`Input.check`) are rejected, not repaired. For a free-form
    :class:`~kiekit.fields.OpenInput`, any JSON object: see :func:`open_inputs`.
    """
    cls: type[Input] = model.input if isinstance(model, Model) else model
    if issubclass(cls, OpenInput):
        return open_inputs(cls=cls)
    return _class_inputs(cls)


@_reused
def _class_inputs(cls: type[Input]) -> st.SearchStrategy[Input]:
    return _inputs(cls, _field_values(input_specs(cls)))


@st.composite
def _inputs(draw: st.DrawFn, cls: type[Input], fields: st.SearchStrategy[dict[str, Any]]) -> Input:
    values = draw(fields)
    try:
        return make_input(cls, values)
    except ValidationError:
        reject()  # a cross-field rule (Input.check) said no: not a valid input after all


# Values at the edges of what any field takes, tried on every field whatever its kind: text that
# is empty, blank or a number; integers as text KIE reads ("7", " 7 ") and does not ("--5", "²",
# "٣"); whole and broken floats; text that is no finite number; booleans; URLs malformed, spaced or
# of another scheme; lists and objects of the wrong members. (NaN and infinity as numbers are left
# out: JSON cannot carry them.)
EDGES: tuple[Any, ...] = (
    None, "", "  ", "\u3000", [], {}, True, False, 0, -1, 7, 7.0, 7.5, "7", " 7 ", "7.0", "0.5",
    "--5", "²", "٣", "nan", "inf", "1e1", "true", "x" * 20_000,
    "https://example.com/a.png", "https://example.com/a b.png", " https://example.com/a.png",
    "http://[::1", "ftp://example.com/a.png", ["https://example.com/a.png"], ["http://[::1"],
    ["https://example.com/a b.png"],
    {"a": 1}, [1], ["x"], [""], [{"a": 1}],
)  # fmt: skip


def edge_values(spec: Spec) -> tuple[Any, ...]:
    """Values at the edges of what ``spec`` accepts, deterministic and without repeats: the
    field-independent :data:`EDGES`, and from the spec itself each choice in its other JSON
    types (``"6"`` as 6, 6.0 and " 6 "; 2 as 2.0 and "2"), each bound of a range and the numbers
    just past it (as numbers and as text), text at and past its length limit, and lists at
    and past their counts. A differential test runs each through the provider and the mock."""
    found: list[Any] = list(EDGES)
    if spec.kind == "choice":
        for option in spec.choices:
            found += [option, *_other_types(option)]
    elif spec.kind in ("int", "float"):
        for bound, step in ((spec.minimum, -1), (spec.maximum, 1)):
            if bound is not None:
                for number in (bound, bound + step, bound + step / 2):
                    found += [number, int(number), *_other_types(number)]
    elif spec.kind == "text" and spec.max_length is not None:
        found += ["x" * spec.max_length, "x" * (spec.max_length + 1)]
    elif spec.kind in ("urls", "texts", "items"):
        try:
            member = smallest_value(spec)[0]
        except ValidationError:  # an entry class whose rules want more than its required fields
            return tuple(found)
        low = spec.min_length or 0
        high = spec.max_length if spec.max_length is not None else low + 2
        for count in {max(low - 1, 0), low, high, high + 1}:
            found.append([member] * count)
    unique: list[Any] = []
    for value in found:
        if not any(_same(value, seen) for seen in unique):
            unique.append(value)
    return tuple(unique)


def _other_types(value: Any) -> list[Any]:
    """``value`` as KIE might be sent it in another JSON type: a number as text (and a whole
    one as a float), text that holds a number as that number."""
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, (int, float)):
        others: list[Any] = [str(value), f" {value} "]
        if float(value).is_integer():
            others += [float(value), str(int(value))]
        return others
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return [f" {value} "]
        if not math.isfinite(number):
            return []
        return [number, int(number), f" {value} "] if number.is_integer() else [number]
    return []


def _same(one: Any, other: Any) -> bool:
    """Equal and of the same JSON types all through (6 is not "6", nor 6.0, nor True)."""
    return json.dumps(one, sort_keys=True, default=repr) == json.dumps(
        other, sort_keys=True, default=repr
    ) and type(one) is type(other)


def smallest_value(spec: Spec) -> Any:
    """A plain value ``spec`` accepts: what a person would type for a first try."""
    if spec.kind == "text":
        plain = [
            text[: spec.max_length] for text in ("a lighthouse at dawn", "lighthouse", "a", "1")
        ]
        if spec.pattern is None:
            return plain[0] or "a"
        # the first that matches; else the first (the input is refused: give an example)
        return next((text for text in plain if re.fullmatch(spec.pattern, text)), plain[0])
    if spec.kind == "choice":
        return spec.choices[0]
    if spec.kind in ("int", "float"):
        low = spec.minimum if spec.minimum is not None else 0
        value = min(max(0, low), spec.maximum if spec.maximum is not None else max(0, low))
        return int(value) if spec.kind == "int" else float(value)
    if spec.kind == "bool":
        return False
    if spec.kind == "url":
        return "https://example.com/input.png"
    if spec.kind == "urls":
        count = spec.min_length if spec.min_length is not None else 1
        return tuple(f"https://example.com/input-{i}.png" for i in range(count))
    if spec.kind == "texts":
        count = spec.min_length if spec.min_length is not None else 1
        return (smallest_value(entry_spec(spec)),) * count
    if spec.kind == "items":
        count = spec.min_length if spec.min_length is not None else 1
        return (smallest_input(entry_class(spec)),) * count
    raise TypeError(f"no value for field kind {spec.kind!r}")


def smallest_input(model: Model | type[Input]) -> Input:
    """The required fields only, each with a plain value (no hypothesis run, deterministic).

    ValidationError if the class's cross-field rules want more: then give an example input.
    A free-form :class:`~kiekit.fields.OpenInput` has no required fields: it is empty.
    """
    cls: type[Input] = model.input if isinstance(model, Model) else model
    if issubclass(cls, OpenInput):
        return make_input(cls, {})
    values = {name: smallest_value(s) for name, s in input_specs(cls).items() if s.required}
    return make_input(cls, values)


# --- free-form input (OpenInput): no specs, so an example and JSON around it -----------------

# Extra fields in generated open inputs are named with this prefix, which no KIE model reads, so
# a model that accepts the example also accepts the example plus extras (the mock ignores fields
# it does not know). Their values are any JSON: the input must reach KIE exactly as given.
EXTRA_FIELD_PREFIX = "kiekit_extra_"


def open_inputs(
    example: Mapping[str, Any] | None = None,
    *,
    extra: bool = True,
    max_extra: int = 3,
    cls: type[OpenInput] = OpenInput,
) -> st.SearchStrategy[OpenInput]:
    """Free-form inputs: ``example``'s fields as given (a known-good input of one model), plus,
    with ``extra``, up to ``max_extra`` more fields ``kiekit_extra_…`` holding any JSON value."""
    base = dict(example or {})

    def example_plus(extra_fields: dict[str, Any]) -> OpenInput:
        return cls(values={**base, **extra_fields})

    names = st.text(_LETTERS, min_size=1, max_size=8).map(EXTRA_FIELD_PREFIX.__add__)
    extras = st.dictionaries(names, json_values(6), max_size=max_extra if extra else 0)
    return extras.map(example_plus)


class BadOpenField(NamedTuple):
    """One field that makes a free-form input invalid, and the field a ValidationError names:
    the key itself for a value that is not JSON, ``"input"`` for a key that is no field name."""

    key: Any
    value: Any
    field: str


# Python values json.dumps(allow_nan=False) refuses: KIE could never receive them as given.
_NOT_JSON: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from((math.nan, math.inf, -math.inf)),
    st.binary(max_size=4),
    st.sets(st.integers(0, 9), max_size=2),
    st.complex_numbers(max_magnitude=10, allow_nan=False, allow_infinity=False),
    st.builds(object),
)


@functools.cache  # strategies are immutable; built once, drawn from in every example
def _not_json() -> st.SearchStrategy[Any]:
    """A value that is not JSON, alone or hidden inside a list or an object."""
    return st.recursive(
        _NOT_JSON,
        lambda inner: st.one_of(
            st.tuples(st.lists(json_values(3), max_size=2), inner, st.integers()).map(
                lambda t: _insert(t[0], t[1], t[2])
            ),
            st.tuples(st.text(max_size=4), inner).map(lambda t: {t[0]: t[1]}),
        ),
        max_leaves=3,
    )


def invalid_open_fields(keys: Sequence[str] = ()) -> st.SearchStrategy[BadOpenField]:
    """Fields a free-form input must refuse before sending: a value that is not JSON (NaN,
    infinity, bytes, a set, an object; alone or nested) under one of ``keys`` or a new name, or
    a key that is not a non-empty string (a number, None, blank text) with any JSON value."""
    names = st.text(_LETTERS, min_size=1, max_size=8).map(EXTRA_FIELD_PREFIX.__add__)
    if keys:
        names = st.one_of(st.sampled_from(sorted(keys)), names)
    bad_value = st.builds(lambda k, v: BadOpenField(k, v, k), names, _not_json())
    not_names = st.one_of(st.integers(), st.none(), st.sampled_from(("", " ", "\t", "\u3000")))
    bad_key = st.builds(lambda k, v: BadOpenField(k, v, "input"), not_names, json_values(3))
    return st.one_of(bad_value, bad_key)


# --- JSON, for fuzzing what providers read -------------------------------------------------

_SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)


@functools.cache  # strategies are immutable: one per size, reused by every draw
def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON document (what ``json.loads`` can return), kept small."""
    return st.recursive(
        _SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def like(example: Any, *, depth: int = 3) -> st.SearchStrategy[Any]:
    """Documents shaped like ``example`` (a documented payload) with fuzzed values.

    Each key of an object is kept, dropped, or given a value that is: the documented one, one
    shaped like it, a JSON value serialised into a string (KIE's ``resultJson``/``param``), or
    any JSON at all. Strings become other strings, JSON text, or numbers in strings.
    """
    anything = json_values(6)
    if depth <= 0:
        return st.one_of(st.just(example), anything)
    if isinstance(example, Mapping):
        fields = {
            str(key): st.one_of(st.just(value), like(value, depth=depth - 1), anything)
            for key, value in example.items()
        }
        return st.fixed_dictionaries({}, optional=fields)
    if isinstance(example, str):
        return st.one_of(
            st.just(example),
            st.text(max_size=20),
            anything.map(json.dumps),
            _json_text_like(example, depth),
            st.integers().map(str),
        )
    if isinstance(example, Sequence) and example:
        return st.lists(like(example[0], depth=depth - 1), max_size=4)
    return st.one_of(st.just(example), anything)


def one_field_changed(example: Any) -> st.SearchStrategy[Any]:
    """``example`` (a documented payload) with exactly one field, at any depth, given a fuzzed
    value: the rest stays as documented, so the parser gets past its first checks."""
    paths = list(_paths(example))
    if not paths:
        return like(example)
    return st.sampled_from(paths).flatmap(
        lambda path: like(_get(example, path), depth=1).map(
            lambda value: _put(example, path, value)
        )
    )


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield (*here, key)
            yield from _paths(item, (*here, key))


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _put(value: Any, path: tuple[Any, ...], item: Any) -> Any:
    if not path:
        return item
    head, *rest = path
    return {**value, head: _put(value[head], tuple(rest), item)}


def _json_text_like(example: str, depth: int) -> st.SearchStrategy[str]:
    """If ``example`` is JSON text (``resultJson``), the same document fuzzed, re-encoded."""
    try:
        inner = json.loads(example)
    except ValueError:
        return st.just(example)
    return like(inner, depth=depth - 1).map(json.dumps)
