"""kiekit-midjourney: Midjourney through KIE's own API (kie-api.md §3.7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl, version_attribute

from kiekit_midjourney.provider import (
    FollowUp,
    ImageToImage,
    ImageToVideo,
    MidjourneyProvider,
    OmniReference,
    TextToImage,
)

__all__ = [
    "FollowUp",
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


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:
    __getattr__ = version_attribute(__name__, "kiekit-midjourney")
