"""kiekit-flux-kontext: Black Forest Labs' Flux Kontext through KIE (kie-api.md §3.2)."""

from __future__ import annotations

from collections.abc import Callable

from kiekit.plugin import Provider, hookimpl

from kiekit_flux_kontext.provider import FluxKontext, FluxKontextProvider

__all__ = ["FluxKontext", "FluxKontextProvider", "kiekit_register_providers"]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(FluxKontextProvider())
