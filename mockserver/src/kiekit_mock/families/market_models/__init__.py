"""The market models the mock knows, one module per product line (kie-api.md §2.4).

To teach the mock a market model, declare a `MarketModel` with its input check in its product
line's module (or a new module listed here); the market family does the rest.
"""

from __future__ import annotations

from . import grok, kling, sora
from .base import Input, MarketModel

MODELS: dict[str, MarketModel] = {m.name: m for m in (*grok.MODELS, *kling.MODELS, *sora.MODELS)}

__all__ = ["MODELS", "Input", "MarketModel"]
