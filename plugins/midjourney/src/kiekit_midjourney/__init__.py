"""kiekit-midjourney: Midjourney through KIE's own API (kie-api.md §3.7)."""

from __future__ import annotations

from collections.abc import Callable

from kiekit.plugin import Provider, hookimpl

from kiekit_midjourney.provider import (
    ImageToImage,
    ImageToVideo,
    MidjourneyProvider,
    OmniReference,
    TextToImage,
)

__all__ = [
    "ImageToImage",
    "ImageToVideo",
    "MidjourneyProvider",
    "OmniReference",
    "TextToImage",
    "kiekit_register_providers",
]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(MidjourneyProvider())
