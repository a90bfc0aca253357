"""Market models the mock does not emulate: named in `MockConfig.extra_market_models`, or any
other id unless `MockConfig.strict_models`.

Every market model shares one create call and one status call (kie-api.md §2.1–2.2), so a model
id and what it produces are enough to run the whole lifecycle. KIE adds market models every
week, so by default an id the mock has never heard of is accepted like one named in
`extra_market_models`, with its output kind read from the id's wording (`kind_from_id`) and a
warning — in the mock's log, and in the answer's ``X-Kiekit-Mock-Warning`` header (KIE's body
unchanged), naming the known id it most likely mistypes; `strict_models` refuses it with KIE's
422 "model not supported". Ids KIE is recorded refusing (catalogue.json's ``refused``) get that
422 either way, and so do Suno ids (``suno/…``, `suno_id`): KIE serves Suno on paths of its own
(kie-api.md §3.6, "paths NOT under a suno prefix"), not as market jobs, so a market task named
``suno/replace-section`` is one KIE never runs — accepting it with a made-up mp3 would pass an
offline test of a request that fails on KIE.
The input check is minimal on purpose — an object and, if given, a usable `prompt` — because it
is the client's own field specs that its tests exercise, not the mock's idea of the model.
"""

from __future__ import annotations

import logging
import re

from ...config import MarketOutput, MockConfig
from ...guessed import GuessedModels
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
ID_LIMIT = 100
ID_PATTERN = rf"^[!-~]{{1,{ID_LIMIT}}}$"


def _plausible_id(name: str) -> bool:
    return re.fullmatch(ID_PATTERN, name) is not None


def id_problem(name: str) -> str | None:
    """Why ``name`` is no model id as KIE spells them (ID_PATTERN), in words; None if it is."""
    if len(name) > ID_LIMIT:
        return f"{len(name)} characters, more than {ID_LIMIT}"
    if " " in name:
        return "it contains a space"
    if re.fullmatch(r"[!-~]+", name) is None:
        return "it contains characters other than printable ASCII"
    return None


WARNING_HEADER = "X-Kiekit-Mock-Warning"  # what the mock says of a request KIE would take ill


def guessed_warning(model: MarketModel, closest: str | None) -> str:
    """What the mock says of an unknown id it accepted (``model.guessed``): as what, and the
    known id it most likely mistypes (``closest``), if one is near."""
    what = "text" if model.kind == "text" else f"{model.kind} files"
    near = "" if closest is None else f" (the nearest it knows: {closest!r}; a typo?)"
    return (
        f"market model {model.name!r} is not one the mock knows{near}: accepted as a model that "
        f"makes {what} (from its id; name it in extra_market_models / --market-model to choose, "
        "or refuse unknown ids with strict_models / --strict-models)"
    )


SUNO_PREFIX = "suno/"


def suno_id(name: str) -> bool:
    """Whether ``name`` is a Suno id (``suno/…``): never a market job (kie-api.md §3.6)."""
    return name.lower().startswith(SUNO_PREFIX)


def refused_warning(name: str, closest: str | None, *, recorded: bool) -> str:
    """Why an id got 422 "model not supported": KIE is recorded refusing it (``recorded``,
    kie-api.md §2.4), it is a Suno id (served on Suno's own paths, §3.6), it is not spelt as
    KIE's ids are (id_problem: refused whatever the mode), or the mock refuses ids it does not
    know (strict_models)."""
    if suno_id(name) and id_problem(name) is None:
        return (
            f"market model {name!r} is a Suno id: KIE serves Suno on its own paths "
            "(/api/v1/generate/..., kie-api.md section 3.6), not as a market job"
        )
    if recorded:
        return (
            f"KIE refuses market model {name!r} (kie-api.md section 2.4); "
            f"the id it serves is {closest!r}"
        )
    problem = id_problem(name)
    if problem is not None:
        # the id itself only where a header can carry it and it is short enough to read
        shown = f" {name!r}" if header_safe(name) and len(name) <= ID_LIMIT else ""
        return (
            f"market model id{shown} is not spelt as KIE's ids are ({problem}; they are "
            f"printable ASCII, no spaces, at most {ID_LIMIT} characters)"
        )
    near = "" if closest is None else f"; the nearest it knows: {closest!r}"
    return f"market model {name!r} is not one the mock knows (strict_models){near}"


def header_safe(text: str) -> str | None:
    """``text`` as a header value (printable ASCII), or None when it cannot be one: a model id
    given with other characters is left out of the header rather than mangled."""
    return text if re.fullmatch(r"[ -~]+", text) else None


def warn_guessed(model: MarketModel, warned: GuessedModels, closest: str | None) -> str | None:
    """Say once per mock (``warned``), in its log, that an unknown id was accepted, and as what;
    returns the warning (None for a model the mock knows), for the answer's header."""
    if not model.guessed:
        return None
    warning = guessed_warning(model, closest)
    warned.say(model.name, warning)
    return warning
