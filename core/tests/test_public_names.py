"""Each public module says what it exports, and exports what it says (issue 14): ``__all__``
lists every public name the module defines or imports on purpose, and each listed name is
there (lazily imported ones included)."""

from __future__ import annotations
import __future__

import importlib
import inspect
import pkgutil
import random
import re
import subprocess
import sys
import types
import typing
from collections.abc import Iterator

import pytest
from aiohttp import web

MODULES = [
    "kiekit",
    "kiekit.plugin",
    "kiekit.transport",
    "kiekit.journal",
    "kiekit.chat",
    "kiekit_mock",
    "kiekit_contract",
]


def public_names(module: types.ModuleType) -> set[str]:
    """Names without an underscore, but neither submodules nor typing helpers used inside."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
        and getattr(typing, name, None) is not value
    }


@pytest.mark.parametrize("name", MODULES)
def test_all_is_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    listed = list(module.__all__)
    assert len(listed) == len(set(listed)), "__all__ names a name twice"
    assert public_names(module) <= set(listed), "public but not in __all__"
    missing = [n for n in listed if not hasattr(module, n)]
    assert missing == [], "in __all__ but not there"


def test_every_error_of_the_documented_tree_is_exported_by_kiekit() -> None:
    """``from kiekit import JournalError`` works for every error help(kiekit.errors) draws,
    those defined beside what raises them included."""
    import kiekit
    import kiekit.errors

    drawn = re.findall(r"[└├]── (\w+)", kiekit.errors.__doc__ or "")
    assert len(drawn) >= 30  # the tree was read
    assert [n for n in ["KieError", *drawn] if n not in kiekit.__all__] == []
    for name in drawn:
        assert issubclass(getattr(kiekit, name), kiekit.KieError), name


def test_runtime_tools_read_the_annotations_of_the_main_calls() -> None:
    """typing.get_type_hints (sphinx-autodoc-typehints, typeguard, IDE plug-ins) resolves a
    Client's TLS option, a shared limiter's reservations and a parsed callback's provider."""
    import inspect

    from kiekit import Client, SharedRateLimiter
    from kiekit.webhooks import parse_callback

    assert "SSLContext" in str(typing.get_type_hints(Client.__init__)["ssl_context"])
    assert "Reserve" in str(typing.get_type_hints(SharedRateLimiter.reserve))
    assert "Provider" in str(typing.get_type_hints(parse_callback))
    inspect.signature(Client, eval_str=True)


# The modules a user reads (docs/reference): kiekit's own but its commands (kiekit.cli), and
# the mock's API and what plugin authors extend it with.
ANNOTATED = ("kiekit", "kiekit_mock", "kiekit_mock.extension", "kiekit_mock.server",
             "kiekit_mock.config", "kiekit_mock.rules", "kiekit_mock.clock",
             "kiekit_mock.openapi.schema", "kiekit_contract")  # fmt: skip


def annotated_modules() -> list[str]:
    names = [n for n in ANNOTATED if n != "kiekit"]
    kiekit = importlib.import_module("kiekit")
    for info in pkgutil.walk_packages(kiekit.__path__, "kiekit."):
        parts = info.name.split(".")
        if parts[1] != "cli" and not any(part.startswith("_") for part in parts):
            names.append(info.name)
    return ["kiekit", *sorted(names)]


def annotated_callables(module: types.ModuleType) -> Iterator[tuple[str, object]]:
    """Each public function and class of ``module``, and each method and property of those
    classes (their ``__init__`` too)."""
    listed = getattr(module, "__all__", None)
    if listed is None:
        listed = [
            n for n, v in vars(module).items() if getattr(v, "__module__", None) == module.__name__
        ]
    for name in listed:
        value = getattr(module, name)
        if inspect.isfunction(value):
            yield f"{module.__name__}.{name}", value
        elif inspect.isclass(value):
            yield f"{module.__name__}.{name}", value
            for member, attribute in vars(value).items():
                if member.startswith("_") and member not in ("__init__", "__call__"):
                    continue
                function = attribute.fget if isinstance(attribute, property) else attribute
                function = getattr(function, "__func__", function)  # class and static methods
                if inspect.isfunction(function):
                    yield f"{module.__name__}.{name}.{member}", function


def test_runtime_tools_resolve_the_annotations_of_the_whole_public_api() -> None:
    """typing.get_type_hints on every public callable and class: names imported only for type
    checkers (aiohttp's web, AsyncClient, random, SSLContext, …) resolve, importing what they
    need then."""
    failed, seen = [], 0
    for name in annotated_modules():
        for label, value in annotated_callables(importlib.import_module(name)):
            seen += 1
            try:
                typing.get_type_hints(value)
            except Exception as exc:
                failed.append(f"{label}: {type(exc).__name__}: {exc}")
    assert seen > 1000  # the walk found the API
    assert failed == []
    from kiekit.batch import run_batch
    from kiekit.retry import RetryPolicy
    from kiekit.webhooks import WebhookReceiver

    assert (
        typing.get_type_hints(run_batch)["client"] is importlib.import_module("kiekit").AsyncClient
    )
    assert typing.get_type_hints(RetryPolicy.backoff)["rng"] is random.Random
    assert typing.get_type_hints(WebhookReceiver.handle)["return"] is web.Response
    inspect.signature(WebhookReceiver, eval_str=True)


@pytest.mark.parametrize(
    ("statement", "left_out"),
    [
        ("import kiekit", ["random", "kiekit.client", "aiohttp"]),
        ("import kiekit.webhooks", ["aiohttp", "kiekit.client", "kiekit.journal"]),
        ("import kiekit.journal", ["kiekit._engine"]),
        ("import kiekit.hookspecs", ["kiekit.chat"]),
    ],
)
def test_the_annotations_load_nothing_before_they_are_read(
    statement: str, left_out: list[str]
) -> None:
    """They resolve through modules imported when read (issue 18's import time is kept)."""
    code = f"import sys; {statement}; print([m for m in {left_out!r} if m in sys.modules])"
    done = subprocess.run(  # noqa: S603 - this interpreter, on our own code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip() == "[]"


def test_the_check_sees_an_unlisted_name() -> None:
    module = types.ModuleType("sample")
    module.__dict__.update({"__all__": ["listed"], "listed": 1, "unlisted": 2, "_private": 3})
    assert public_names(module) - set(module.__all__) == {"unlisted"}


def test_the_mock_exports_what_its_server_returns_and_raises() -> None:
    """A test suite annotates its helpers and catches the mock's errors from kiekit_mock."""
    import kiekit_mock
    from kiekit_mock import MockServer

    hints = {
        name: typing.get_type_hints(getattr(value, "fget", value))["return"]
        for name, value in vars(MockServer).items()
        if name in ("clock", "faults", "limits", "add_rule", "configure_callbacks")
    }
    assert [kiekit_mock.__all__.count(t.__name__) for t in hints.values()] == [1] * len(hints)
    assert kiekit_mock.__all__.count("Scenario") == 1
    assert issubclass(kiekit_mock.ControlError, ValueError)
    with pytest.raises(kiekit_mock.ControlError):
        kiekit_mock.Rule(prompt_regex="(")  # not a regular expression


@pytest.mark.parametrize("name", ["kiekit_mock", "kiekit_mock.extension"])
def test_every_public_callable_of_the_mock_says_what_it_does(name: str) -> None:
    """What help() and an IDE's hover show a test author (and plugin authors, the extension
    helpers docs/plugin-authors.md names)."""
    silent = [
        label
        for label, value in annotated_callables(importlib.import_module(name))
        if not (inspect.getdoc(value) or "").strip()
        or (inspect.isclass(value) and (value.__doc__ or "").startswith(f"{value.__name__}("))
    ]
    assert silent == []


def test_the_journal_says_which_methods_are_for_users_and_which_are_plumbing() -> None:
    """Journal's ~55 public methods mixed a user's lookups with the engine's steps, and the
    lookups had no docstring (issue apiref 2): its docstring puts every public method in one
    of two lists, and each of the user's says what it does."""
    from kiekit.journal import Journal

    doc = Journal.__doc__ or ""
    users, plumbing = doc.split("Engine plumbing")
    named = {
        part: set(re.findall(r":(?:meth|attr):`(\w+)`", text))
        for part, text in (("users", users.split("For users")[1]), ("plumbing", plumbing))
    }
    public = {name for name in vars(Journal) if not name.startswith("_")} - {"store", "lease"}
    assert named["users"] & named["plumbing"] == set()
    assert public - named["users"] - named["plumbing"] == set(), "in neither list"
    assert (named["users"] | named["plumbing"]) - public == set(), "no such method"
    for name in named["users"] | {"created"}:
        value = vars(Journal)[name]
        assert (inspect.getdoc(getattr(value, "fget", value)) or "").strip(), name


def test_no_public_docstring_of_the_journal_or_batch_cites_a_commit() -> None:
    """A commit hash means nothing to a user of a released kiekit (issue apiref 2)."""
    import kiekit.batch
    import kiekit.journal

    cited = [
        label
        for module in (kiekit.journal, kiekit.batch)
        for label, value in annotated_callables(module)
        if re.search(
            r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b", inspect.getdoc(value) or ""
        )
    ]
    assert cited == []
    assert (kiekit.batch.Job.__doc__ or "").startswith("One line of a jobs file")


def test_a_create_taken_over_is_a_task_taken_over_error_not_a_configuration_error() -> None:
    """What submit raises when another worker took its row over while the create waited to
    be sent again: not "the client cannot start" (issue apiref 2); run_batch reports it as
    it reports a wait's (taken_over)."""
    import kiekit
    from kiekit.journal import TakenOver

    error = TakenOver("batch:a")
    assert isinstance(error, kiekit.TaskTakenOverError)
    assert not isinstance(error, kiekit.ConfigurationError)
    assert (error.key, error.task_id, error.owner) == ("batch:a", None, None)
    assert kiekit.TakenOver is TakenOver
