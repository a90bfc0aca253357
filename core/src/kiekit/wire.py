"""Every rule of KIE's wire format, in one cattrs converter.

- Keys are camelCase in status records (``taskId``, ``successFlag``, ``resultJson``); Python
  names are snake_case. A class that subclasses :class:`WireRecord` is read with that mapping.
- Some fields are JSON documents inside a string (``param``, ``resultJson``, ``paramJson``:
  kie-api.md §2.2). Annotate them :data:`JsonText`; ``""`` reads as None.
- Timestamps come as Unix milliseconds (market) or as date strings (legacy record-info, §1).
  Annotate them :data:`Timestamp`; both read as aware UTC datetimes.
- Codes come as ints or strings (``failCode: "422"``, ``errorCode: 500``, §7): :data:`Code`.
- Numbers may come as strings (``progress: "0.45"`` on 4o Image, §3.1); strings never come as
  anything else, so a dict where a string belongs is a protocol error, not ``str(dict)``.

Anything that does not fit becomes :class:`~kiekit.errors.ProtocolError` in :func:`structure`,
the one place where wire errors are translated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NewType, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from kiekit.errors import ProtocolError
from kiekit.fields import Input, OpenInput, camel, wire_name

__all__ = [
    "Code",
    "Envelope",
    "JsonText",
    "Timestamp",
    "WireRecord",
    "camel",
    "converter",
    "input_to_wire",
    "read_envelope",
    "structure",
]

T = TypeVar("T")

JsonText = NewType("JsonText", object)
Timestamp = NewType("Timestamp", datetime)
Code = NewType("Code", str)


class WireRecord:
    """Marker base: attrs subclasses are read from camelCase keys."""


@attrs.frozen
class Envelope:
    """``{"code", "msg", "data"}`` around every KIE answer (kie-api.md §1)."""

    code: int
    msg: str | None = None
    data: Any = None


def _strict_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _liberal_int(value: Any, _: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise TypeError(f"expected an integer, got {value!r}")


def _liberal_float(value: Any, _: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value)  # ValueError on junk, translated in structure()
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _json_text(value: Any, _: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return json.loads(value)
    return value  # already a JSON value: the docs show nested objects where traffic has strings


def _timestamp(value: Any, _: Any) -> datetime:
    if isinstance(value, bool):
        raise TypeError("expected a timestamp, got a boolean")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise TypeError(f"expected a timestamp, got {type(value).__name__}")


def _code(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    return str(_liberal_int(value, None))


def _mapping(value: Any, _: Any) -> Mapping[str, Any]:
    if isinstance(value, dict):
        return value
    raise TypeError(f"expected an object, got {type(value).__name__}")


def _envelope(value: Any, _: Any) -> Envelope:
    if not isinstance(value, dict):
        raise TypeError("expected a JSON object")
    # One doc page spells the message key "message"; everything else says "msg" (§1).
    message = value.get("msg", value.get("message"))
    return Envelope(
        code=_liberal_int(value.get("code"), None),
        msg=message if isinstance(message, str) else None,
        data=value.get("data"),
    )


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(int, _liberal_int)
    conv.register_structure_hook(float, _liberal_float)
    conv.register_structure_hook(JsonText, _json_text)
    conv.register_structure_hook(Timestamp, _timestamp)
    conv.register_structure_hook(Code, _code)
    conv.register_structure_hook_func(lambda t: t == Mapping[str, Any], _mapping)
    conv.register_structure_hook(Envelope, _envelope)

    def camel_record(cls: type[Any]) -> Any:
        renames = {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}
        return make_dict_structure_fn(cls, conv, **renames)  # type: ignore[arg-type]

    conv.register_structure_hook_factory(
        lambda t: isinstance(t, type) and issubclass(t, WireRecord) and attrs.has(t),
        camel_record,
    )
    return conv


converter = _make_converter()


def structure(payload: Any, cls: type[T], *, task_id: str | None = None) -> T:
    """Read ``payload`` as ``cls``; any misfit is a ProtocolError carrying the payload."""
    if attrs.has(cls) and not isinstance(payload, dict):
        raise ProtocolError(
            f"expected a JSON object from KIE, got {type(payload).__name__}",
            task_id=task_id,
            payload=payload,
        )
    try:
        return converter.structure(payload, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
        what = getattr(cls, "__name__", str(cls))
        raise ProtocolError(
            f"unexpected {what} from KIE: {_first_cause(exc)}", task_id=task_id, payload=payload
        ) from exc


def read_envelope(payload: Any) -> Envelope:
    if isinstance(payload, dict) and type(payload.get("code")) is int:
        return _envelope(payload, None)  # the usual answer: the same read, minus the dispatch
    return structure(payload, Envelope)


def _first_cause(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def input_to_wire(value: Any, *, camel_case: bool) -> dict[str, Any]:
    """An input object as the JSON object KIE expects: wire names, no None values (so KIE's
    own defaults apply), tuples as lists, the entries of an ``items`` list as objects of their
    own, spelt like their parent. An OpenInput goes as given."""
    if isinstance(value, OpenInput):
        return dict(value.values)
    out: dict[str, Any] = {}
    for attribute in attrs.fields(type(value)):
        item = getattr(value, attribute.name)
        if item is not None:
            name = wire_name(attribute, camel_case=camel_case)
            out[name] = _wire_value(item, camel_case=camel_case)
    return out


def _wire_value(item: Any, *, camel_case: bool) -> Any:
    if isinstance(item, Input):
        # A nested object follows its family's spelling: no KIE page mixes the two cases.
        return input_to_wire(item, camel_case=camel_case)
    if isinstance(item, tuple):
        return [_wire_value(entry, camel_case=camel_case) for entry in item]
    return item
