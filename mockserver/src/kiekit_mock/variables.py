"""The environment variables the mock reads, in one table: a ``KIEKIT_MOCK_*`` name not in it
is a setting that goes nowhere (``KIEKIT_MOCK_BLOCK_EXTENSION``), and the mock's command line
(``python -m kiekit_mock``, ``kiekit-mock``, ``kie mock serve``) says so once, naming the one it
is close to. The mock imports no kiekit code (DESIGN.md), so it keeps this table of its own;
kiekit's (``kiekit.settings.VARIABLES``, which ``kie`` checks) lists the same names, and a test
keeps the two in step.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "BLOCK_ENV",
    "EXIT_WITH_PARENT_ENV",
    "PREFIX",
    "VARIABLES",
    "said_unknown",
    "unknown_variables",
]

PREFIX = "KIEKIT_MOCK_"
# Extensions the mock leaves out, by distribution or entry point name (as KIEKIT_BLOCK_PLUGINS
# leaves out kiekit's plugins): how a user settles two extensions that clash
BLOCK_ENV = "KIEKIT_MOCK_BLOCK_EXTENSIONS"
# --exit-with-parent for every mock a harness starts (lifetime.py)
EXIT_WITH_PARENT_ENV = "KIEKIT_MOCK_EXIT_WITH_PARENT"
VARIABLES: Mapping[str, str] = MappingProxyType({
    BLOCK_ENV: "mock extensions the mock leaves out, comma-separated",
    EXIT_WITH_PARENT_ENV: "1: kie mock serve stops when the process that started it ends "
    "(--exit-with-parent; default 0)",
})  # fmt: skip
_CLOSE = 0.8  # as kiekit's: KIEKIT_MOCK_BLOCK_EXTENSION, kiekit_mock_block_extensions


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """Each ``KIEKIT_MOCK_*`` name in the environment (any case) that the mock does not read,
    with the one of :data:`VARIABLES` it is a likely misspelling of (None: none is)."""
    env = os.environ if environ is None else environ
    found = []
    for name in sorted(env):
        if name in VARIABLES or not name.upper().startswith(PREFIX):
            continue
        close = difflib.get_close_matches(name.upper(), VARIABLES, n=1, cutoff=_CLOSE)
        found.append((name, close[0] if close else None))
    return found


def said_unknown(environ: Mapping[str, str] | None = None) -> list[str]:
    """What the command line says of each unknown name, in kiekit's words for its own."""
    said = []
    for name, close in unknown_variables(environ):
        guess = f"; did you mean {close}?" if close else ""
        said.append(f"{name} is not a variable kiekit-mock reads{guess} (it is ignored)")
    return said
