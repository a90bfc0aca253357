"""kiekit-gpt4o-image: KIE's 4o Image API, GPT-Image-1 (kie-api.md §3.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl, version_attribute

from kiekit_gpt4o_image.provider import (
    DOWNLOAD_URL_PATH,
    MODEL_ID,
    Gpt4oImage,
    Gpt4oImageProvider,
)

__all__ = [
    "DOWNLOAD_URL_PATH",
    "MODEL_ID",
    "Gpt4oImage",
    "Gpt4oImageProvider",
    "kiekit_register_providers",
]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(Gpt4oImageProvider())


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:
    __getattr__ = version_attribute(__name__, "kiekit-gpt4o-image")
