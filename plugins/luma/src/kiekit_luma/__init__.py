"""kiekit-luma: Luma Modify (video-to-video) through KIE (kie-api.md §3.5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl, version_attribute

from kiekit_luma.provider import MODEL_ID, LumaModify, LumaProvider

__all__ = ["MODEL_ID", "LumaModify", "LumaProvider", "kiekit_register_providers"]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(LumaProvider())


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:
    __getattr__ = version_attribute(__name__, "kiekit-luma")
