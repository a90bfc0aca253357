"""Midjourney: images from text or images, style and omni reference, and image-to-video.

Wire facts (kie-api.md §3.7; KIE's mj-api pages: generate, task details, callbacks):
``POST /api/v1/mj/generate`` with a camelCase body whose ``taskType`` names the job, which is
the model id here (``mj_txt2img`` …); ``GET /api/v1/mj/record-info`` reports ``successFlag``
0 generating, 1 success, 2 failed, 3 generation failed, and on success
``resultInfoJson: {resultUrls: [{resultUrl}]}``: four images for an image job, one video per
``video_batch_size`` for a video job. Files are kept 15 days.

Follow-ups of a finished image job (KIE's pages docs.kie.ai/mj-api/upscale and
docs.kie.ai/mj-api/vary; their body schema read from the stored copy of the same pages,
docs.midapi.ai/mj-api/upscale and /vary): ``POST /api/v1/mj/generateUpscale`` and
``POST /api/v1/mj/generateVary``, each ``{taskId, imageIndex, waterMark?, callBackUrl?}``,
answered ``data: {taskId}``, a task of its own that record-info and the Midjourney callback
report like any other. ``imageIndex`` picks one of the four images: "0 <= x <= 3" in both
pages' schema, though the vary page's notes say "1-4" [SRC≠]: the schema is kept. kiekit names
them ``mj_upscale`` and ``mj_vary`` (KIE gives these calls no taskType of their own).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from attrs import frozen
from kiekit.plugin import (
    Asset,
    Input,
    MediaKind,
    Model,
    Request,
    SuccessFlagProvider,
    assets,
    choice,
    flag,
    integer,
    text,
    urls,
)

PROMPT_MAX = 2000
SPEEDS = ("relaxed", "fast", "turbo")
ASPECT_RATIOS = ("1:2", "9:16", "2:3", "3:4", "5:6", "6:5", "4:3", "3:2", "1:1", "16:9", "2:1")
VERSIONS = ("7", "6.1", "6", "5.2", "5.1", "niji6")


@frozen
class _Image(Input):
    """What the image jobs share. None leaves KIE's default; the steps the page suggests
    (variety by 5, stylization by 50, weirdness by 100) are advice, not checked."""

    prompt: str = text(max_length=PROMPT_MAX)
    aspect_ratio: str | None = choice(*ASPECT_RATIOS, default=None)
    version: str | None = choice(*VERSIONS, default=None)  # text, as KIE takes it ("7", "niji6")
    variety: int | None = integer(0, 100, default=None)
    stylization: int | None = integer(0, 1000, default=None)
    weirdness: int | None = integer(0, 3000, default=None)
    water_mark: str | None = text(default=None, required=False)
    enable_translation: bool | None = flag(default=None)  # non-English prompts translated


@frozen
class TextToImage(_Image):
    """``mj_txt2img``: a prompt becomes four images; ``speed`` is required (relaxed, fast,
    turbo)."""

    speed: str = choice(*SPEEDS, required=True)


@frozen
class ImageToImage(_Image):
    """``mj_img2img`` and ``mj_style_reference``: as text-to-image, from one or more images
    (``file_urls``)."""

    file_urls: tuple[str, ...] = urls(min_items=1, required=True, media="image")
    speed: str = choice(*SPEEDS, required=True)


@frozen
class OmniReference(_Image):
    """``mj_omni_reference``: a subject from the images put into a new one; ``ow`` (1–1000)
    says how strongly; ``speed`` is optional here."""

    file_urls: tuple[str, ...] = urls(min_items=1, required=True, media="image")
    speed: str | None = choice(*SPEEDS, default=None)
    ow: int | None = integer(1, 1000, default=None)


@frozen
class ImageToVideo(Input):
    """``mj_video`` and ``mj_video_hd``: one image (``file_urls``) animated; ``motion`` high or
    low (KIE's default high), 1, 2 or 4 videos (``video_batch_size``, default 1)."""

    prompt: str = text(max_length=PROMPT_MAX)
    file_urls: tuple[str, ...] = urls(min_items=1, max_items=1, required=True, media="image")
    motion: str | None = choice("high", "low", default=None)
    # [INF] the pages give 1, 2 or 4 and no JSON type: 2.0 is the number 2 (JSON has one number
    # type), sent as 2; "2" is refused, as the mock refuses it
    video_batch_size: int | None = choice(1, 2, 4, default=None, whole_floats=True)
    water_mark: str | None = text(default=None, required=False)
    enable_translation: bool | None = flag(default=None)


@frozen
class FollowUp(Input):
    """``mj_upscale`` and ``mj_vary``: one image (``image_index`` 0–3) of an earlier, succeeded
    image job (``task_id``) upscaled, or varied into a new set. A task of its own, paid for."""

    task_id: str = text(pattern=r"\S+", pattern_hint="a task id")  # the image job (wire: taskId)
    image_index: int = integer(0, 3, required=True)  # which of its four images (wire: imageIndex)
    water_mark: str | None = text(default=None, required=False)


UPSCALE, VARY = "mj_upscale", "mj_vary"
FOLLOW_UP_PATHS = {UPSCALE: "/api/v1/mj/generateUpscale", VARY: "/api/v1/mj/generateVary"}


class MidjourneyProvider(SuccessFlagProvider):
    name = "midjourney"
    models = (
        Model("mj_txt2img", TextToImage, MediaKind.IMAGE),
        Model("mj_img2img", ImageToImage, MediaKind.IMAGE),
        Model("mj_style_reference", ImageToImage, MediaKind.IMAGE),
        Model("mj_omni_reference", OmniReference, MediaKind.IMAGE),
        Model("mj_video", ImageToVideo, MediaKind.VIDEO),
        Model("mj_video_hd", ImageToVideo, MediaKind.VIDEO),
        Model(UPSCALE, FollowUp, MediaKind.IMAGE),
        Model(VARY, FollowUp, MediaKind.IMAGE),
    )
    create_path = "/api/v1/mj/generate"
    status_path = "/api/v1/mj/record-info"
    results_field = "resultInfoJson"  # not ``response``, as the other successFlag products

    def body(self, model_id: str, params: Input) -> dict[str, Any]:
        if model_id in FOLLOW_UP_PATHS:  # {taskId, imageIndex, waterMark?, callBackUrl?}
            return super().body(model_id, params)
        return {"taskType": model_id, **super().body(model_id, params)}

    def build_request(
        self, model_id: str, params: Input, *, callback_url: str | None = None
    ) -> Request:
        request = super().build_request(model_id, params, callback_url=callback_url)
        if model_id in FOLLOW_UP_PATHS:
            return attrs.evolve(request, path=FOLLOW_UP_PATHS[model_id])
        return request

    def assets(self, task_id: str, response: Mapping[str, Any]) -> tuple[Asset, ...]:
        found = response.get("resultUrls")
        if isinstance(found, list):  # [{resultUrl}] → the links; anything else is refused below
            found = [i.get("resultUrl") if isinstance(i, Mapping) else None for i in found]
        return assets(found, None, task_id=task_id)  # each kind from its media type
