"""kiekit-sora: OpenAI's Sora 2 models on KIE's market jobs API (kie-api.md §2.4).

KIE paused Sora 2 upstream in 2026 (§9.7); the provider logs that once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl

from kiekit_sora.provider import (
    Characters,
    CharactersPro,
    ImageToVideo,
    ProImageToVideo,
    ProTextToVideo,
    Scene,
    SoraProvider,
    Storyboard,
    TextToVideo,
    WatermarkRemover,
)

__all__ = [
    "Characters",
    "CharactersPro",
    "ImageToVideo",
    "ProImageToVideo",
    "ProTextToVideo",
    "Scene",
    "SoraProvider",
    "Storyboard",
    "TextToVideo",
    "WatermarkRemover",
    "kiekit_register_providers",
]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(SoraProvider())


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:

    def __getattr__(name: str) -> str:
        """``__version__``, read from the installed distribution's metadata when first asked
        for: importing the plugin reads nothing."""
        if name == "__version__":
            from importlib.metadata import version

            return version("kiekit-sora")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
