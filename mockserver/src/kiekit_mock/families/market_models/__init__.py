"""The market models the mock knows, one module per product line (kie-api.md §2.4).

To teach the mock a market model, add its entry to `catalogue.json` (catalogue.py); a model
whose fields depend on each other gets a `MarketModel` with its own check in its product line's
module (or a new module listed here). The market family does the rest. Models named in
`MockConfig.extra_market_models` get a minimal check instead (`extra.py`), for plugin authors'
tests of models the mock does not emulate.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools

from ...config import MockConfig
from . import catalogue, extra, grok, kling, sora
from .base import Input, MarketModel
from .extra import extra_model, warn_guessed

# The modules' models (rules across fields) win over a catalogue entry of the same id, and
# answer the resultObject the entry documents (a text model's value is data, not code)
_CATALOGUE = catalogue.load()
MODELS: dict[str, MarketModel] = _CATALOGUE | {
    m.name: dataclasses.replace(m, result=m.result or _CATALOGUE[m.name].result)
    if m.name in _CATALOGUE
    else m
    for m in (*grok.MODELS, *kling.MODELS, *sora.MODELS)
}
# Ids KIE is recorded refusing (kie-api.md §2.4), each with the id KIE serves instead
REFUSED: dict[str, str] = catalogue.refused()
# How alike an unknown id and a known one must be (difflib's ratio) to name the known one as
# what was likely meant: a letter or two left out, doubled or swapped in a typical id
NEAR = 0.85


def find(config: MockConfig, name: str) -> MarketModel | None:
    """The model `name`: one the mock emulates, else one `config.market_catalogue` describes,
    else one `config.extra_market_models` names,
    else (unless `config.strict_models`) any id but one KIE is recorded refusing or a Suno
    one (`extra.suno_id`: KIE serves Suno on its own paths)."""
    model = MODELS.get(name)
    if model is not None:
        return model
    taught = next((e for e in config.market_catalogue if e["id"] == name), None)
    if taught is not None:  # a plugin author's entry (MockConfig.market_catalogue)
        return catalogue.model_of(taught)
    if (name in REFUSED or extra.suno_id(name)) and name not in config.extra_market_models:
        return None
    return extra_model(config, name)


@functools.lru_cache(maxsize=256)  # asked at each create with an id the mock does not know
def closest(name: str) -> str | None:
    """The known id `name` most likely stands for: for an id KIE refuses, the one it serves;
    else the nearest known id, if one is near (a likely typo); else None."""
    if name in REFUSED:
        return REFUSED[name]
    near = difflib.get_close_matches(name, MODELS, n=1, cutoff=NEAR)
    return near[0] if near else None


__all__ = ["MODELS", "REFUSED", "Input", "MarketModel", "closest", "find", "warn_guessed"]
