"""kiekit-flux-kontext: Black Forest Labs' Flux Kontext through KIE (kie-api.md §3.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl, version_attribute

from kiekit_flux_kontext.provider import FluxKontext, FluxKontextProvider

__all__ = ["FluxKontext", "FluxKontextProvider", "kiekit_register_providers"]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(FluxKontextProvider())


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:
    __getattr__ = version_attribute(__name__, "kiekit-flux-kontext")
