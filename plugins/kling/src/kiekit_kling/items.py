"""A list-of-objects input field, a kind :mod:`kiekit.fields` does not offer.

Kling 3.0 takes two lists of small objects (kie-api.md §2.4): ``multi_prompt`` shots and
``kling_elements``. Each entry class here is itself an :class:`~kiekit.Input` made of kiekit
field specs, so an entry is validated like a model input and an error names its place, e.g.
``multi_prompt[1].duration``.

The field's :class:`~kiekit.fields.Spec` says ``text``: that is how a command line gives such a
list (``--input multi_prompt='[{"prompt": "…", "duration": 4}]'``), and this converter reads the
JSON. From Python, pass a list of entries or of mappings. Nothing but a list (or its JSON text)
is accepted, and an empty list is refused: leave the field out instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
from kiekit import Input, ValidationError, wire
from kiekit.fields import SPEC_KEY, Spec, make_input

__all__ = ["items", "to_wire"]


def items(of: type[Input], *, max_items: int | None = None) -> Any:
    """An optional list of 1..``max_items`` ``of`` entries, kept as a tuple of ``of``."""
    spec = Spec("text", required=False)

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value  # the validator names the field
        if isinstance(value, (list, tuple)):
            return tuple(_entry(of, item) for item in value)
        return value

    def validate(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        name = attribute.name
        fields = ", ".join(a.name for a in attrs.fields(of))
        if not isinstance(value, tuple):
            raise ValidationError(name, f"must be a list of objects with {fields}")
        if not value:
            raise ValidationError(name, "must hold at least one entry (or leave it out)")
        if max_items is not None and len(value) > max_items:
            raise ValidationError(name, f"allows at most {max_items} entries; got {len(value)}")
        for index, item in enumerate(value):
            if isinstance(item, of):
                continue
            where = f"{name}[{index}]"
            if not isinstance(item, Mapping):
                raise ValidationError(where, f"must be an object with {fields}")
            try:
                make_input(of, item)
            except ValidationError as exc:
                detail = exc.message.removeprefix(f"{exc.field}: ")
                raise ValidationError(f"{where}.{exc.field}", detail) from None

    return attrs.field(
        default=None,
        converter=convert,
        validator=validate,
        metadata={SPEC_KEY: spec},
        kw_only=True,
    )


def _entry(of: type[Input], item: Any) -> Any:
    """``item`` as an ``of`` when it reads as one; else as given, for the validator to name."""
    if isinstance(item, Mapping):
        try:
            return make_input(of, item)
        except ValidationError:
            return item
    return item


def to_wire(entries: tuple[Input, ...]) -> list[dict[str, Any]]:
    """The entries as KIE's JSON objects: wire names, no None values, lists for tuples."""
    return [wire.input_to_wire(entry, camel_case=False) for entry in entries]
