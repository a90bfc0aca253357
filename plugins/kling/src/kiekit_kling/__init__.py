"""kiekit-kling: Kuaishou's Kling 3.0 models on KIE's market jobs API (kie-api.md §2.4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl

from kiekit_kling.provider import Element, KlingProvider, MotionControl, Shot, Video

__all__ = [
    "Element",
    "KlingProvider",
    "MotionControl",
    "Shot",
    "Video",
    "kiekit_register_providers",
]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(KlingProvider())


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:

    def __getattr__(name: str) -> str:
        """``__version__``, read from the installed distribution's metadata when first asked
        for: importing the plugin reads nothing."""
        if name == "__version__":
            from importlib.metadata import version

            return version("kiekit-kling")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
