"""kiekit-kling: Kuaishou's Kling 3.0 models on KIE's market jobs API (kie-api.md §2.4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl, version_attribute

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
    __getattr__ = version_attribute(__name__, "kiekit-kling")
