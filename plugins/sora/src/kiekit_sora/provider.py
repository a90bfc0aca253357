"""Sora 2 (OpenAI) on the market jobs API: the shared market family plus Sora's inputs, the
top-level ``progressCallBackUrl``, and a notice that KIE has paused the models.

Sources. kie-api.md §2.4 (Sora 2) names the eight model ids and the inputs of the text- and
image-to-video models; it is silent on the storyboard, characters and watermark-remover inputs,
which follow public copies of KIE's Sora pages (docs.kie.ai/market/sora2/*, the smallest set
those pages document; marked "Sora pages" below). Status and results: §2.2 — recordInfo, whose
``progress`` (0–100) only Sora 2 reports; the core scales it to 0–1.

Availability (§2.4, §9.7): KIE removed or paused Sora 2 in 2026 and OpenAI shuts the Sora 2 API
down on 2026-09-24. The plugin still speaks the documented API, and says so once per process,
through the ``kiekit.sora`` logger, when one of its models first builds a request.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from attrs import evolve, frozen
from kiekit.plugin import (
    Input,
    MarketProvider,
    MediaKind,
    Model,
    ProtocolError,
    Request,
    Results,
    ValidationError,
    choice,
    flag,
    items,
    number,
    text,
    texts,
    url,
    urls,
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
]

LOGGER = logging.getLogger("kiekit.sora")
PAUSED_NOTICE = (
    "Sora 2 is paused upstream: KIE removed or paused its Sora 2 models in 2026 and OpenAI "
    "shuts the Sora 2 API down on 2026-09-24, so KIE may refuse or fail these tasks "
    "(kie-api.md §2.4, §9.7)."
)

# §2.4 [SRC≠]: 5000 characters in FELORES' copy of the page, 10000 per neyric's SDK and KIE's
# Sora pages; the larger limit is accepted (be liberal), KIE has the last word.
PROMPT_MAX = 10_000
ASPECT_RATIOS = ("portrait", "landscape")
N_FRAMES = ("10", "15")  # seconds, a string enum (§2.4)
STORYBOARD_FRAMES = ("10", "15", "25")  # Sora pages: the storyboard also makes 25 s
STORYBOARD_DEFAULT_FRAMES = "15"  # Sora pages
SHOT_SECONDS_MAX = 15.0  # Sora pages: a storyboard shot lasts 0.1–15 s
SHOTS_MAX = 10  # Sora pages: a storyboard has 1–10 shots
CHARACTER_IDS_MAX = 5  # Sora pages (pro image-to-video): "as an array, maximum 5"
SIZES = ("standard", "high")  # pro models only (§2.4)
UPLOAD_METHODS = ("s3", "oss")
CHARACTER_TEXT_MAX = 5000  # Sora pages: character_prompt, safety_instruction
USER_NAME_MAX = 40  # Sora pages: character_user_name
VIDEO_URL_MAX = 500  # Sora pages: the watermark remover's video_url
PROGRESS_WIRE = "progressCallBackUrl"


@functools.cache
def announce_pause() -> None:
    """Log the availability notice, the first time only (``announce_pause.cache_clear()``
    makes it say so again). A log record, not a warning: test suites turn warnings into errors."""
    LOGGER.warning(PAUSED_NOTICE)


@frozen
class _Video(Input):
    """What the four text/image-to-video models share (§2.4).

    ``character_id_list`` takes up to 5 ids of characters made with ``sora-2-characters``, as a
    list (on the command line: comma-separated, ``id1,id2``, or a JSON array); an empty list is
    left out. ``progress_callback_url`` is KIE's top-level ``progressCallBackUrl`` (§2.1),
    documented on these four models' pages only; it is sent next to ``callBackUrl``, never
    inside ``input``.
    """

    aspect_ratio: str | None = choice(*ASPECT_RATIOS, default=None)
    n_frames: str | None = choice(*N_FRAMES, default=None)
    remove_watermark: bool | None = flag(default=None)
    upload_method: str | None = choice(*UPLOAD_METHODS, default=None)
    character_id_list: tuple[str, ...] | None = texts(default=None, max_items=CHARACTER_IDS_MAX)
    # "" is no progress callback, as "" is no callBackUrl (§2.1; the mock reads both so)
    progress_callback_url: str | None = url(default=None, wire=PROGRESS_WIRE, empty_is_none=True)


@frozen
class TextToVideo(_Video):
    """``sora-2-text-to-video``: a prompt (≤10000 characters) becomes a 10 or 15 s video."""

    prompt: str = text(max_length=PROMPT_MAX)


@frozen
class ImageToVideo(_Video):
    """``sora-2-image-to-video``: one image (``image_urls``) animated; the prompt may be empty
    (a KIE example sends ``"prompt": ""``)."""

    image_urls: tuple[str, ...] = urls(min_items=1, max_items=1, required=True)
    prompt: str | None = text(default=None, required=False, max_length=PROMPT_MAX)


@frozen
class ProTextToVideo(_Video):
    """``sora-2-pro-text-to-video``: as text-to-video, with ``size`` standard or high."""

    prompt: str = text(max_length=PROMPT_MAX)
    size: str | None = choice(*SIZES, default=None)


@frozen
class ProImageToVideo(_Video):
    """``sora-2-pro-image-to-video``: as image-to-video, with ``size`` standard or high."""

    image_urls: tuple[str, ...] = urls(min_items=1, max_items=1, required=True)
    prompt: str | None = text(default=None, required=False, max_length=PROMPT_MAX)
    size: str | None = choice(*SIZES, default=None)


@frozen
class Scene(Input):
    """One storyboard shot: what happens (``Scene`` on the wire) and for how long (0.1–15 s)."""

    scene: str = text(wire="Scene")
    duration: float = number(0.1, SHOT_SECONDS_MAX, required=True)


@frozen(init=False)
class Storyboard(Input):
    """``sora-2-pro-storyboard`` (Sora pages): 1–10 ``shots`` of 0.1–15 s whose durations add
    up to at most ``n_frames`` seconds (10, 15 or 25; KIE's default 15). The page lists one image
    as ``image_urls``; no example omits it, but none says it is required, so it is optional here.

    ``shots`` is a list of :class:`Scene` (or mappings ``{"Scene", "duration"}``; on the command
    line, their JSON text), or plain text: one scene lasting the whole video (at most 15 s,
    KIE's limit for a shot), kept and sent as a one-entry list.
    """

    shots: tuple[Scene, ...] = items(Scene, min_items=1, max_items=SHOTS_MAX, required=True)
    n_frames: str | None = choice(*STORYBOARD_FRAMES, default=None)
    image_urls: tuple[str, ...] | None = urls(default=None, min_items=1, max_items=1)
    aspect_ratio: str | None = choice(*ASPECT_RATIOS, default=None)
    upload_method: str | None = choice(*UPLOAD_METHODS, default=None)

    def __init__(self, **fields: Any) -> None:
        # KIE takes only a list; the plain-text shorthand is this plugin's, and its one scene
        # lasts n_frames, another field: so it is read here, before the fields are.
        self.__attrs_init__(**_one_scene(fields))

    def check(self) -> None:
        frames = float(self.n_frames or STORYBOARD_DEFAULT_FRAMES)
        total = sum(shot.duration for shot in self.shots)
        if total > frames:
            raise ValidationError(
                "shots", f"last {total:g} s in all, more than n_frames ({frames:g} s)"
            )


def _one_scene(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with plain-text ``shots`` as one scene lasting the whole video."""
    shots = fields.get("shots")
    if not isinstance(shots, str) or shots.lstrip().startswith(("[", "{")):
        return fields  # a list, or JSON that did not read as one: the field's validator judges
    if not shots.strip():
        raise ValidationError("shots", "must not be blank")
    frames = fields.get("n_frames")
    # a wrong n_frames is named by its own validator; the scene meanwhile gets KIE's default
    seconds = float(frames if frames in STORYBOARD_FRAMES else STORYBOARD_DEFAULT_FRAMES)
    if seconds > SHOT_SECONDS_MAX:
        raise ValidationError(
            "shots",
            f"one scene lasts at most {SHOT_SECONDS_MAX:g} s; give a list of shots for "
            f"n_frames={frames}",
        )
    return {**fields, "shots": (Scene(scene=shots.strip(), duration=seconds),)}


@frozen
class Characters(Input):
    """``sora-2-characters`` (Sora pages): a character from one 1–4 s clip, for later videos'
    ``character_id_list``. The result is a character id, not a file (``Results.value``)."""

    character_file_url: tuple[str, ...] = urls(
        min_items=1,
        max_items=1,
        required=True,
        media="video",  # the 1–4 s clip
    )
    character_prompt: str | None = text(default=None, required=False, max_length=CHARACTER_TEXT_MAX)
    safety_instruction: str | None = text(
        default=None, required=False, max_length=CHARACTER_TEXT_MAX
    )


@frozen
class CharactersPro(Input):
    """``sora-2-characters-pro`` (Sora pages): a character cut from an earlier Sora task's video
    (``origin_task_id``) between ``timestamps`` ``"start,end"`` seconds, 1–4 s apart.

    The page's rule is checked here (kie-api.md §2.4 does not document this model): two
    non-negative numbers, the end 1 to 4 s after the start. A character is paid for, so a clip
    KIE would refuse is refused before anything is sent.
    """

    origin_task_id: str = text()
    timestamps: str = text(
        pattern=r" *[0-9]+(\.[0-9]+)? *, *[0-9]+(\.[0-9]+)? *",
        pattern_hint='"start,end" in seconds, such as "1,3"',
    )
    character_prompt: str = text(max_length=CHARACTER_TEXT_MAX)
    character_user_name: str | None = text(default=None, required=False, max_length=USER_NAME_MAX)
    safety_instruction: str | None = text(
        default=None, required=False, max_length=CHARACTER_TEXT_MAX
    )

    def check(self) -> None:
        parts = self.timestamps.split(",")
        try:
            start, end = (float(part) for part in parts) if len(parts) == 2 else (None, None)
        except ValueError:
            start = end = None
        if start is None or end is None:
            raise ValidationError(
                "timestamps",
                f'must be "start,end" in seconds, such as "1,3"; got {self.timestamps!r}',
            )
        if start < 0 or not CLIP_MIN <= end - start <= CLIP_MAX:
            raise ValidationError(
                "timestamps",
                f"the clip must be {CLIP_MIN:g} to {CLIP_MAX:g} s long, from a start of 0 s or "
                f"more; got {self.timestamps!r} ({end - start:g} s)",
            )


CLIP_MIN, CLIP_MAX = 1.0, 4.0  # a character's clip, "1–4 s" (KIE's Sora characters page)


@frozen
class WatermarkRemover(Input):
    """``sora-watermark-remover`` (Sora pages): a Sora video link (KIE wants a public
    sora.chatgpt.com link, at most 500 characters; only the length is checked here)."""

    video_url: str = url(required=True)
    upload_method: str | None = choice(*UPLOAD_METHODS, default=None)

    def check(self) -> None:
        if len(self.video_url) > VIDEO_URL_MAX:
            raise ValidationError(
                "video_url", f"allows at most {VIDEO_URL_MAX} characters; got {len(self.video_url)}"
            )


CHARACTER_MODELS = ("sora-2-characters", "sora-2-characters-pro")


class SoraProvider(MarketProvider):
    name = "sora"
    parent_task_fields = ("origin_task_id",)  # sora-2-characters-pro cuts from that task
    models = (
        Model("sora-2-text-to-video", TextToVideo, MediaKind.VIDEO),
        Model("sora-2-image-to-video", ImageToVideo, MediaKind.VIDEO),
        Model("sora-2-pro-text-to-video", ProTextToVideo, MediaKind.VIDEO),
        Model("sora-2-pro-image-to-video", ProImageToVideo, MediaKind.VIDEO),
        Model("sora-2-pro-storyboard", Storyboard, MediaKind.VIDEO),
        Model("sora-2-characters", Characters, MediaKind.TEXT),
        Model("sora-2-characters-pro", CharactersPro, MediaKind.TEXT),
        Model("sora-watermark-remover", WatermarkRemover, MediaKind.VIDEO),
    )

    def build_request(
        self, model_id: str, params: Input, *, callback_url: str | None = None
    ) -> Request:
        request = super().build_request(model_id, params, callback_url=callback_url)
        announce_pause()
        body: dict[str, Any] = dict(request.body or {})
        sent: dict[str, Any] = dict(body.pop("input"))
        # progressCallBackUrl is lifted beside callBackUrl by the market family (§2.1)
        if isinstance(params, _Video) and params.character_id_list == ():
            # no characters (``--input character_id_list=,``): nothing to send, and KIE's
            # pages never show an empty list
            sent.pop("character_id_list", None)
        body["input"] = sent
        return evolve(request, body=body)

    def extract_results(self, task_id: str, data: Any) -> Results:
        """As every market model; a character task's ``resultJson`` carries a character id
        rather than files (Sora pages), in whatever member KIE puts it: no assets, all in raw."""
        try:
            return super().extract_results(task_id, data)
        except ProtocolError:
            record = self.record(task_id, data)
            result: Any = record.result_json
            if (
                record.model in CHARACTER_MODELS
                and record.state == "success"
                and isinstance(result, dict)
            ):
                return Results(task_id=task_id, assets=(), raw=data, value=result)
            raise
