"""kiekit-grok-imagine: xAI's Grok Imagine models on KIE's market jobs API (kie-api.md §2.4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl, version_attribute

from kiekit_grok_imagine.provider import (
    Extend,
    GrokImagineProvider,
    ImageToImage,
    ImageToVideo,
    TextToImage,
    TextToVideo,
    Upscale,
)

__all__ = [
    "Extend",
    "GrokImagineProvider",
    "ImageToImage",
    "ImageToVideo",
    "TextToImage",
    "TextToVideo",
    "Upscale",
    "kiekit_register_providers",
]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(GrokImagineProvider())


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:
    __getattr__ = version_attribute(__name__, "kiekit-grok-imagine")
