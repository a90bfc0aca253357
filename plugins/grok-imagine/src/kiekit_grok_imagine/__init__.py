"""kiekit-grok-imagine: xAI's Grok Imagine models on KIE's market jobs API (kie-api.md §2.4)."""

from __future__ import annotations

from collections.abc import Callable

from kiekit.plugin import Provider, hookimpl

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
