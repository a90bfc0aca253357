"""The market models the mock knows, one module per product line (kie-api.md §2.4).

To teach the mock a market model, add its entry to `catalogue.json` (catalogue.py); a model
whose fields depend on each other gets a `MarketModel` with its own check in its product line's
module (or a new module listed here). The market family does the rest. Models named in
`MockConfig.extra_market_models` get a minimal check instead (`extra.py`), for plugin authors'
tests of models the mock does not emulate.
"""

from __future__ import annotations

from ...config import MockConfig
from . import catalogue, grok, kling, sora
from .base import Input, MarketModel
from .extra import extra_model, warn_guessed

# The modules' models (rules across fields) win over a catalogue entry of the same id
MODELS: dict[str, MarketModel] = catalogue.load() | {
    m.name: m for m in (*grok.MODELS, *kling.MODELS, *sora.MODELS)
}


def find(config: MockConfig, name: str) -> MarketModel | None:
    """The model `name`: one the mock emulates, else one `config.extra_market_models` names."""
    return MODELS.get(name) or extra_model(config, name)


__all__ = ["MODELS", "Input", "MarketModel", "find", "warn_guessed"]
