"""Market models the mock does not know, taught to it through `MockConfig.extra_market_models`.

For plugin authors' tests: every market model shares one create call and one status call
(kie-api.md §2.1–2.2), so a model id and what it produces are enough to run the whole lifecycle.
The input check is minimal on purpose — an object and, if given, a usable `prompt` — because it
is the plugin's own field specs that its tests exercise, not the mock's idea of the model.
"""

from __future__ import annotations

from ...config import MockConfig
from ..validation import required_str
from .base import Input, MarketModel

PROMPT_MAX = 10_000  # the largest prompt limit KIE documents for a market model (Sora 2, §2.4)
COST = 5.0  # credits per task: a mock figure


def _open_input(inp: Input) -> Input:
    if inp.get("prompt") is not None:  # None counts as absent, as everywhere in the mock
        required_str(inp, "prompt", PROMPT_MAX)
    return inp


def extra_model(config: MockConfig, name: str) -> MarketModel | None:
    """The model `name` as `config.extra_market_models` declares it, or None."""
    kind = config.extra_market_models.get(name)
    if kind is None:
        return None
    return MarketModel(name, _open_input, kind, 0 if kind == "text" else 1, COST)
