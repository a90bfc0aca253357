"""Grok Imagine on the market jobs API: everything but the inputs is the shared market family.

Inputs and enums: kie-api.md §2.4 (Grok Imagine table); status and results: §2.2.
"""

from __future__ import annotations

from attrs import frozen
from kiekit import Input, MediaKind, Model
from kiekit.families.market import MarketProvider
from kiekit.fields import choice, flag, text, urls

ASPECT_RATIOS = ("2:3", "3:2", "1:1", "16:9", "9:16")
PROMPT_MAX = 5000


@frozen
class TextToImage(Input):
    """``grok-imagine/text-to-image``: several images per task (6 in recorded traffic, §2.2)."""

    prompt: str = text(max_length=PROMPT_MAX)
    aspect_ratio: str | None = choice(*ASPECT_RATIOS)
    nsfw_checker: bool | None = flag()
    enable_pro: bool | None = flag()


@frozen
class ImageToImage(Input):
    """``grok-imagine/image-to-image``: one source image (newer docs allow up to five)."""

    prompt: str = text(max_length=PROMPT_MAX)
    image_urls: tuple[str, ...] = urls(min_items=1, max_items=5, required=True)
    nsfw_checker: bool | None = flag()


class GrokImagineProvider(MarketProvider):
    name = "grok-imagine"
    models = (
        Model("grok-imagine/text-to-image", TextToImage, MediaKind.IMAGE),
        Model("grok-imagine/image-to-image", ImageToImage, MediaKind.IMAGE),
    )
