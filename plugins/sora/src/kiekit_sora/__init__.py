"""kiekit-sora: OpenAI's Sora 2 models on KIE's market jobs API (kie-api.md §2.4).

KIE paused Sora 2 upstream in 2026 (§9.7); the provider logs that once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl, version_attribute

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
    __getattr__ = version_attribute(__name__, "kiekit-sora")
