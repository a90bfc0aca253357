"""Each public module says what it exports, and exports what it says (issue 14): ``__all__``
lists every public name the module defines or imports on purpose, and each listed name is
there (lazily imported ones included)."""

from __future__ import annotations
import __future__

import importlib
import re
import types
import typing

import pytest

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


def test_the_check_sees_an_unlisted_name() -> None:
    module = types.ModuleType("sample")
    module.__dict__.update({"__all__": ["listed"], "listed": 1, "unlisted": 2, "_private": 3})
    assert public_names(module) - set(module.__all__) == {"unlisted"}
