"""A module imported when an annotation that names it is resolved at run time."""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """Stands at run time for a module imported only for type checkers (``if TYPE_CHECKING``).

    ``typing.get_type_hints`` (sphinx-autodoc-typehints, typeguard, IDE plug-ins) reads an
    annotation such as ``web.Request`` from the module's globals: through this it finds the
    real class, importing the module then, while importing kiekit does not pay for it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported when first read>"
