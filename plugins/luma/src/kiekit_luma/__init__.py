"""kiekit-luma: Luma Modify (video-to-video) through KIE (kie-api.md §3.5)."""

from __future__ import annotations

from collections.abc import Callable

from kiekit.plugin import Provider, hookimpl

from kiekit_luma.provider import MODEL_ID, LumaModify, LumaProvider

__all__ = ["MODEL_ID", "LumaModify", "LumaProvider", "kiekit_register_providers"]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(LumaProvider())
