"""kiekit-flux-kontext: Black Forest Labs' Flux Kontext through KIE (kie-api.md §3.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl

from kiekit_flux_kontext.provider import FluxKontext, FluxKontextProvider

__all__ = ["FluxKontext", "FluxKontextProvider", "kiekit_register_providers"]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(FluxKontextProvider())


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:

    def __getattr__(name: str) -> str:
        """``__version__``, read from the installed distribution's metadata when first asked
        for: importing the plugin reads nothing."""
        if name == "__version__":
            from importlib.metadata import version

            return version("kiekit-flux-kontext")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
