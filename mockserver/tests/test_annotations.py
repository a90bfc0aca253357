"""Runtime tools (typeguard, sphinx-autodoc-typehints, IDE plug-ins) read the mock's
annotations: typing.get_type_hints resolves every function and method its modules define."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Iterator

import kiekit_mock


def defined_callables() -> Iterator[tuple[str, object]]:
    """Each function and class every kiekit_mock module defines, and their methods."""
    for info in pkgutil.walk_packages(kiekit_mock.__path__, "kiekit_mock."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(value):
                yield f"{module.__name__}.{name}", value
            elif inspect.isclass(value):
                for member, attribute in vars(value).items():
                    function = getattr(attribute, "__func__", attribute)
                    if inspect.isfunction(function):
                        yield f"{module.__name__}.{name}.{member}", function


def test_every_annotation_of_the_mock_resolves() -> None:
    failed, seen = [], 0
    for label, value in defined_callables():
        seen += 1
        try:
            typing.get_type_hints(value)
        except Exception as exc:
            failed.append(f"{label}: {type(exc).__name__}: {exc}")
    assert seen > 500  # the walk found the modules
    assert failed == []
