"""A Griffe extension for the docs site (mkdocs.yml): the docstrings are written for ``help()``
and Sphinx, with roles (``:class:`~kiekit.retry.RetryPolicy```) and doctest examples, which
mkdocstrings would print as raw text and nested quotes. Here roles become code spans (``~``
keeps the last name, as Sphinx shows it) and each doctest becomes a fenced ``pycon`` block."""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    short, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def _fence_doctests(text: str) -> str:
    """A doctest runs from its first ``>>>`` line to the next blank line."""
    lines, out, inside = text.splitlines(), [], False
    for line in lines:
        if not inside and line.lstrip().startswith(">>>"):
            out.append("```pycon")
            inside = True
        elif inside and not line.strip():
            out.append("```")
            inside = False
        out.append(line)
    if inside:
        out.append("```")
    return "\n".join(out)


def rewrite(text: str) -> str:
    return _fence_doctests(ROLE.sub(_role, text))


class SphinxRolesAsMarkdown(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
