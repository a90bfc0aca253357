"""Market models the mock does not emulate: named in `MockConfig.extra_market_models`, or any
other id unless `MockConfig.strict_models`.

Every market model shares one create call and one status call (kie-api.md §2.1–2.2), so a model
id and what it produces are enough to run the whole lifecycle. KIE adds market models every
week, so by default an id the mock has never heard of is accepted like one named in
`extra_market_models`, with its output kind read from the id's wording (`kind_from_id`) and a
warning in the mock's log; `strict_models` refuses it with KIE's 422 "model not supported".
The input check is minimal on purpose — an object and, if given, a usable `prompt` — because it
is the client's own field specs that its tests exercise, not the mock's idea of the model.
"""

from __future__ import annotations

import logging
import re

from ...config import MarketOutput, MockConfig
from ..validation import required_str
from .base import Input, MarketModel

PROMPT_MAX = 10_000  # the largest prompt limit KIE documents for a market model (Sora 2, §2.4)
COST = 5.0  # credits per task: a mock figure


def _open_input(inp: Input) -> Input:
    if inp.get("prompt") is not None:  # None counts as absent, as everywhere in the mock
        required_str(inp, "prompt", PROMPT_MAX)
    return inp


log = logging.getLogger("kiekit_mock")

# Words of KIE's market ids that say what a model makes (docs.kie.ai market pages: e.g.
# "bytedance/seedance-2", "wan/2-7-r2v", "elevenlabs/text-to-speech", "happyhorse/video-edit").
# Checked in this order; an id with none of them makes an image, the market's commonest output.
_KIND_WORDS: tuple[tuple[MarketOutput, re.Pattern[str]], ...] = (
    (
        "audio",
        re.compile(
            r"audio|speech|tts|music|song|sound|voice|elevenlabs|suno|lyria|dubbing|isolation"
        ),
    ),
    (
        "video",
        re.compile(
            r"video|[a-z0-9]2v\b|-(?:i|t|r|v)2v|seedance|hailuo|kling|veo|sora|runway|luma|"
            r"happyhorse|avatar|lip-?sync|infinitalk|animate|motion|videoedit"
        ),
    ),
    ("text", re.compile(r"\bchat\b|llm|caption|describe|character")),
)


def kind_from_id(name: str) -> MarketOutput:
    """What an unknown market model makes, judged by its id's wording (image by default)."""
    lowered = name.lower()
    for kind, words in _KIND_WORDS:
        if words.search(lowered):
            return kind
    return "image"


def extra_model(config: MockConfig, name: str) -> MarketModel | None:
    """The model `name` as `config.extra_market_models` declares it, or — unless
    `config.strict_models` — as its wording suggests (``guessed``: the caller warns); else
    None."""
    kind = config.extra_market_models.get(name)
    if kind is None:
        if config.strict_models or not _plausible_id(name):
            return None
        kind = kind_from_id(name)
        return MarketModel(name, _open_input, kind, 0 if kind == "text" else 1, COST, guessed=True)
    return MarketModel(name, _open_input, kind, 0 if kind == "text" else 1, COST)


# A model id as KIE spells them (printable ASCII, no spaces, at most 100 characters): the served
# OpenAPI document gives unknown ids this same pattern
ID_PATTERN = r"^[!-~]{1,100}$"


def _plausible_id(name: str) -> bool:
    return re.fullmatch(ID_PATTERN, name) is not None


def warn_guessed(model: MarketModel, warned: set[str]) -> None:
    """Say once per mock (``warned``) that an unknown id was accepted, and as what."""
    if not model.guessed or model.name in warned:
        return
    warned.add(model.name)
    what = "text" if model.kind == "text" else f"{model.kind} files"
    log.warning(
        "market model %r is not one the mock knows: accepted as a model that makes %s (from its "
        "id; name it in extra_market_models / --market-model to choose, or refuse unknown ids "
        "with strict_models / --strict-models)",
        model.name,
        what,
    )
