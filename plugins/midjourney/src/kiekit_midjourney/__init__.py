"""kiekit-midjourney: Midjourney through KIE's own API (kie-api.md §3.7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

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


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:

    def __getattr__(name: str) -> str:
        """``__version__``, read from the installed distribution's metadata when first asked
        for: importing the plugin reads nothing."""
        if name == "__version__":
            from importlib.metadata import version

            return version("kiekit-midjourney")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
