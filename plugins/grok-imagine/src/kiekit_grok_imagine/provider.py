"""Grok Imagine on the market jobs API: everything but the inputs is the shared market family.

Inputs and enums: kie-api.md §2.4 (Grok Imagine table and the notes under it); status and
results: §2.2. Where KIE's pages disagree with each other, the inputs accept the union (DESIGN.md:
be liberal), and each such choice names its sources below.

Three models take the ``task_id`` of an earlier Grok task instead of a file: image-to-video
(one of the six images of a text-to-image task, picked by ``index``), upscale (an image task) and
extend (a video task). Result links of Grok tasks last 24 hours (§1 Retention, §2.4 notes).
"""

from __future__ import annotations

from attrs import frozen
from kiekit.plugin import (
    Input,
    MarketProvider,
    MediaKind,
    Model,
    ValidationError,
    choice,
    flag,
    integer,
    number,
    text,
    urls,
)

ASPECT_RATIOS = ("2:3", "3:2", "1:1", "16:9", "9:16")
PROMPT_MAX = 5000
MODES = ("fun", "normal", "spicy")
RESOLUTIONS = ("480p", "720p")
# §2.4 [SRC≠]: older pages document `duration` as the string enum "6"/"10", newer ones 6–30 s.
# Strings "6".."30" cover both; strings because the older pages say so and recorded traffic sent
# "duration":"6", which KIE accepted and stored as 6 (§2.2 "Input numeric coercion"). KIE reads
# the number and its text as one, so the number 6 is taken too (numerals=True), and sent as "6".
DURATIONS = tuple(str(seconds) for seconds in range(6, 31))
EXTEND_TIMES = ("6", "10")  # §2.4: a string enum on every page that documents it (6 sent as "6")
IMAGES_PER_TASK = 6  # a text-to-image task yields six images (§2.2 [OBS]); `index` picks one


@frozen
class TextToImage(Input):
    """``grok-imagine/text-to-image``: several images per task (6 in recorded traffic, §2.2)."""

    prompt: str = text(max_length=PROMPT_MAX)
    aspect_ratio: str | None = choice(*ASPECT_RATIOS, default=None)
    nsfw_checker: bool | None = flag(default=None)
    enable_pro: bool | None = flag(default=None)


@frozen
class ImageToImage(Input):
    """``grok-imagine/image-to-image``: one source image (newer docs allow up to five)."""

    prompt: str = text(max_length=PROMPT_MAX)
    image_urls: tuple[str, ...] = urls(min_items=1, max_items=5, required=True)
    nsfw_checker: bool | None = flag(default=None)


@frozen
class TextToVideo(Input):
    """``grok-imagine/text-to-video``: one mp4. ``nsfw_checker`` is the market-wide flag that
    APICITY's schema lists for the Grok video models (§2.4 "Many market inputs share …")."""

    prompt: str = text(max_length=PROMPT_MAX)
    aspect_ratio: str | None = choice(*ASPECT_RATIOS, default=None)
    mode: str | None = choice(*MODES, default=None)
    duration: str | None = choice(*DURATIONS, default=None, numerals=True)
    resolution: str | None = choice(*RESOLUTIONS, default=None)
    nsfw_checker: bool | None = flag(default=None)


@frozen
class ImageToVideo(Input):
    """``grok-imagine/image-to-video``: animate an external image (``image_urls``) or one image
    of an earlier Grok image task (``task_id`` + ``index``) — exactly one of the two ways.

    §2.4 [SRC≠]: the older page takes exactly one external image, newer ones up to 7 (recorded
    traffic sent 4), so 1–7 are accepted. ``spicy`` mode is refused with external images (§2.4);
    KIE ignores ``index`` next to ``image_urls``, which here is an error rather than a surprise.
    """

    required_one_of = (("image_urls", "task_id"),)  # `kie models` says so; check() says more

    image_urls: tuple[str, ...] | None = urls(default=None, min_items=1, max_items=7)
    task_id: str | None = text(default=None, required=False)
    # "0" read as 0 (§2.2)
    index: int | None = integer(0, IMAGES_PER_TASK - 1, default=None, numerals=True)
    prompt: str | None = text(default=None, required=False, max_length=PROMPT_MAX)
    mode: str | None = choice(*MODES, default=None)
    duration: str | None = choice(*DURATIONS, default=None, numerals=True)
    resolution: str | None = choice(*RESOLUTIONS, default=None)
    aspect_ratio: str | None = choice(*ASPECT_RATIOS, default=None)
    nsfw_checker: bool | None = flag(default=None)

    def check(self) -> None:
        if self.task_id is not None and not self.task_id.strip():
            raise ValidationError("task_id", "must not be empty")
        if self.image_urls is not None and self.task_id is not None:
            raise ValidationError("image_urls", "give image_urls or task_id (+ index), not both")
        if self.image_urls is None and self.task_id is None:
            raise ValidationError(
                "image_urls",
                "is required unless task_id (+ index) names an earlier Grok image task",
            )
        if self.index is not None and self.task_id is None:
            raise ValidationError("index", "picks an image of task_id; give task_id with it")
        if self.mode == "spicy" and self.image_urls is not None:
            raise ValidationError(
                "mode", "spicy is not available with image_urls; use task_id + index"
            )


@frozen
class Upscale(Input):
    """``grok-imagine/upscale``: the ``task_id`` of an earlier Grok image task.

    The KIE page (D:market/grok-imagine/upscale, "Upscale Grok Imagine Images") and the Russian
    guide §2.3 upscale images; some clients (APICITY, COMFY) call it a video upscale. Should
    KIE return a video, its Asset still says IMAGE but its ``media_type`` says ``video/mp4``.
    """

    task_id: str = text()


@frozen
class Extend(Input):
    """``grok-imagine/extend``: continue an earlier Grok video task by 6 or 10 seconds.

    ``extend_at`` is the second of the source video to continue from (a number; KIE's example
    sends 0; its text, "2.5", is read as the number, §2.2). ``prompt`` is required as in
    APICITY's schema, although one KIE example sends "".
    """

    task_id: str = text()
    prompt: str = text(max_length=PROMPT_MAX)
    extend_at: float | None = number(0, default=None, numerals=True)
    extend_times: str | None = choice(*EXTEND_TIMES, default=None, numerals=True)


class GrokImagineProvider(MarketProvider):
    name = "grok-imagine"
    models = (
        Model("grok-imagine/text-to-image", TextToImage, MediaKind.IMAGE),
        Model("grok-imagine/image-to-image", ImageToImage, MediaKind.IMAGE),
        Model("grok-imagine/text-to-video", TextToVideo, MediaKind.VIDEO),
        Model("grok-imagine/image-to-video", ImageToVideo, MediaKind.VIDEO),
        Model("grok-imagine/upscale", Upscale, MediaKind.IMAGE),
        Model("grok-imagine/extend", Extend, MediaKind.VIDEO),
    )
