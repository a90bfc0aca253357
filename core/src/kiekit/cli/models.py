"""``kie models [PATTERN | MODEL]``: the model ids installed plugins serve, or one model's fields.

The ids are those plugins declare and those a pattern plugin knows by name (kiekit-market's
catalogue); a model's fields are what its provider describes
(:meth:`~kiekit.provider.Provider.input_fields`): a typed plugin's input class, or the
catalogue's entry. Nothing is sent: this reads what is installed.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from kiekit.cli._common import Commands, add_json_option, emit, say
from kiekit.errors import ValidationError

if TYPE_CHECKING:
    from kiekit.fields import InputField
    from kiekit.registry import Registry, Unserved


def register(commands: Commands) -> None:
    models = commands.add_parser(
        "models",
        help="list the model ids installed plugins serve, or show one model's input fields",
        description="Without an argument, every model id the installed plugins serve (the "
        "market catalogue's included); with a PATTERN (a glob such as 'kling*', or any part of "
        "an id), those that match; with a MODEL id, its input fields: name, type, required, "
        "allowed values or range, default.",
    )
    models.add_argument("what", nargs="?", metavar="PATTERN|MODEL", help="a glob, text or id")
    add_json_option(models)
    models.set_defaults(handler=_models)


def _models(args: argparse.Namespace) -> int:
    from kiekit.registry import default_registry

    registry = default_registry()
    unserved = _unserved(registry)
    served = registry.served_models()
    what = args.what
    if what is not None and not _is_pattern(what) and what in unserved:
        return _fields(args, registry, what, None)  # refused as `kie run` refuses it
    listed = {**served, **dict.fromkeys(unserved, "")}
    found = listed if what is None else _matching(listed, what)
    if what is not None and not _is_pattern(what):
        if what in served:
            return _fields(args, registry, what, served[what])
        if not found:
            if not _unlisted(what, served, registry):  # "did you mean", else no match
                return _none_match(args, what, served)
            return _fields(args, registry, what, None)  # an id one a pattern may serve
    if not listed and what is None:  # as `kie providers` says it: nothing to list is no error
        if not emit(args, "models", {"models": []}):
            print(_nothing_served())
        return 0
    if not found:  # a filter that matches nothing is no error, as in `kie tasks --model`
        return _none_match(args, what, served)
    rows = [_row(model, served.get(model), unserved.get(model)) for model in sorted(found)]
    if emit(args, "models", {"models": rows}):
        return 0
    width = max(len(model) for model in found)
    for row in rows:
        said = row["served_by"] or ", ".join(row["declared_by"])
        note = f"  [{row['status']}: {row['detail']}]" if row["status"] != "ok" else ""
        print(f"{row['model']:<{width}}  {said}{note}")
    return 0


def _unserved(registry: Registry) -> dict[str, Unserved]:
    """The ids no plugin serves here (contested, quarantined), each plugin imported to know:
    each is shown as such, not as one plugin's (``kie run`` refuses them), and the
    quarantine warnings are not printed again, as in ``kie providers --check``."""
    import warnings

    from kiekit.registry import PluginWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        return registry.unserved_models()


def _row(model: str, dist: str | None, unserved: Unserved | None) -> dict[str, Any]:
    """One listed id, as ``--json`` shows it: who serves it, or why none does."""
    if unserved is None:
        return {"model": model, "served_by": dist, "status": "ok"}
    return {
        "model": model,
        "served_by": None,
        "status": unserved.status,
        "declared_by": list(unserved.distributions),
        "detail": unserved.detail,
    }


def _nothing_served() -> str:
    """Why no model id is served: no plugin at all (what to install, as ``kie providers``
    says), or only plugins the user blocked or that cannot load (``kie providers`` says which)."""
    from kiekit.discovery import entry_points_of_group, install_hint

    if not any(True for _ in entry_points_of_group()):
        return f"no providers installed (try: {install_hint('kiekit-flux-kontext')})"
    return "no installed plugin serves a model id (blocked or incompatible: see kie providers)"


def _none_match(args: argparse.Namespace, what: str, served: dict[str, str]) -> int:
    """A PATTERN no listed id matches: an empty listing, exit 0 (``kie tasks`` with a filter
    that matches no row says so too), a note on standard error."""
    why = f": {_nothing_served()}" if not served else ""
    say(f"no model id matches {what!r}{why}")
    emit(args, "models", {"models": []})
    return 0


def _unlisted(what: str, served: dict[str, str], registry: Registry) -> bool:
    """Refuse a word no listed id holds: a near miss with the ids it is close to; an id of a
    typed plugin that is not installed with the distribution to install, as ``kie run`` does.
    Whether the word has an id's shape (``vendor/model``: KIE adds market models weekly);
    any other word matches nothing (False)."""
    from kiekit.discovery import distribution_for
    from kiekit.registry import near_misses

    close = near_misses(what, served)
    if close:
        guesses = ", ".join(repr(model) for model in close)
        raise ValidationError("MODEL", f"no plugin lists {what!r}; did you mean {guesses}?")
    hint = registry.served_by(what)
    if hint is not None and distribution_for(what) != "kiekit-market":  # any word is "market's"
        raise ValidationError("MODEL", f"no installed plugin lists {what!r}; {hint}")
    return "/" in what


def _is_pattern(text: str) -> bool:
    return any(c in text for c in "*?[")


def _matching(served: dict[str, str], what: str) -> dict[str, str]:
    if _is_pattern(what):
        return {m: d for m, d in served.items() if fnmatchcase(m, what)}
    return {m: d for m, d in served.items() if what.lower() in m.lower()}


def _fields(args: argparse.Namespace, registry: Registry, model: str, dist: str | None) -> int:
    """One model's fields; a chat model says how it is used instead (it has no input class)."""
    if model in registry.chat_models():
        chat = f'{model} is a chat model: kie chat {model} "PROMPT" (messages, not fields)'
        if not emit(args, "models", {"model": model, "served_by": dist, "chat": True,
                                     "fields": [], "note": chat}):  # fmt: skip
            print(chat)
        return 0
    from kiekit.cli.run import checked_provider

    provider = checked_provider(model)  # a near miss of a known id: "did you mean"
    fields = provider.input_fields(model)
    note: str | None = None
    if dist is None:
        note = (
            "no plugin lists this id: it would be sent as is (a pattern serves it), and KIE "
            "checks its input"
        )
    elif not fields:
        note = "kiekit knows no fields for it: its input is sent as given, and KIE checks it"
    payload: dict[str, Any] = {"model": model, "served_by": dist or provider.name,
                               "fields": [_as_json(f) for f in fields]}  # fmt: skip
    if note:
        payload["note"] = note
    if emit(args, "models", payload):
        return 0
    print(f"{model}  ({payload['served_by']})")
    rows = list(_rows(fields))
    width = max((len(name) for name, _ in rows), default=0)
    kinds = max((len(f.kind) for _, f in rows), default=0)
    for name, field in rows:
        limits = "; ".join(_limits(field))
        print(f"  {name:<{width}}  {field.kind:<{kinds}}  {_need(field)}  {limits}".rstrip())
    if note:
        print(f"  ({note})")
    return 0


def _rows(fields: tuple[InputField, ...], within: str = "") -> Iterator[tuple[str, InputField]]:
    """Each field with the name it is shown by; an entry's fields follow their list, named
    ``multi_prompt[].duration`` (what one entry of the list holds)."""
    for field in fields:
        name = f"{within}{field.name}"
        yield name, field
        yield from _rows(field.entry, f"{name}[].")


def _need(field: InputField) -> str:
    """required / optional, "one of" for a field of a group one of which must be given:
    neither required alone nor optional (its limits say which group), or "required unless
    <case>" for one required in every case but one (Kling 3.0's prompt, but multi-shot)."""
    if field.required:
        return "required"
    if field.required_unless:
        return f"required unless {field.required_unless}"
    return "one of  " if field.one_of else "optional"


def _as_json(field: InputField) -> dict[str, Any]:
    return {
        "name": field.name,
        "type": field.kind,
        "required": field.required,
        "one_of": list(field.one_of),
        "required_unless": field.required_unless,
        "wire": field.wire,
        "choices": list(field.choices),
        "minimum": field.minimum,
        "maximum": field.maximum,
        "min_length": field.min_length,
        "max_length": field.max_length,
        # a required field's default on KIE's page is an example: nothing fills it in
        "default": None if field.required else field.default,
        "example": field.default if field.required else None,
        # the fields of one entry of a list of objects, as far as they are known
        "entry": [_as_json(member) for member in field.entry],
        "note": field.note,
    }


def _limits(field: InputField) -> list[str]:
    """What a field allows, in words: the group it is one of, its values or range, its sizes,
    what an entry of a list of objects holds, default, wire name."""
    said = []
    if field.one_of:
        said.append(f"give {_or(field.one_of)}")
    if field.choices:
        said.append("one of " + ", ".join(_shown(c) for c in field.choices))
    low, high = field.minimum, field.maximum
    if low is not None and high is not None:
        said.append(f"{_number(low)} to {_number(high)}")
    elif low is not None:
        said.append(f"at least {_number(low)}")
    elif high is not None:
        said.append(f"at most {_number(high)}")
    unit = ("entry", "entries") if field.is_list else ("character", "characters")
    if field.min_length is not None:
        said.append(f"at least {field.min_length} {unit[field.min_length != 1]}")
    if field.max_length is not None and field.note is None:  # else the note says it in full
        said.append(f"at most {field.max_length} {unit[field.max_length != 1]}")
    if field.kind == "objects" and not field.entry:  # else its entry's rows follow
        said.append("an entry's fields are not known to kiekit (KIE's page says)")
    if field.default is not None:  # a required field's is what KIE's page shows, not filled in
        said.append(f"{'e.g.' if field.required else 'default'} {_shown(field.default)}")
    if field.wire is not None:
        said.append(f"KIE's name {field.wire}")
    if field.note is not None:  # limits that depend on other fields (the above: the loosest)
        said.append(field.note)
    return said


def _or(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _number(value: float) -> str:
    """A limit as written: 2147483647 whole (``:g`` would say 2.14748e+09), 0.5 as 0.5."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _shown(value: Any) -> str:
    """A value as the command line writes it; a string that reads as a number keeps quotes
    ('6' is text there, 6 a number), as readable as standard output allows (json_text)."""
    import json

    from kiekit.cli._streams import json_text

    if isinstance(value, str):
        if not value.strip():  # an empty default would read as a line cut short
            return json_text(value)
        try:
            json.loads(value)
        except ValueError:
            return value
        return json_text(value)
    return json_text(value)
