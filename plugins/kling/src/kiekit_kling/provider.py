"""Kling 3.0 on the market jobs API: the shared market family plus Kling's own input rules.

Inputs: kie-api.md §2.4 (Kling 3.0) and the guide §3.2; status and results: §2.2 — KIE answers
``GET /api/v1/jobs/recordInfo`` for Kling as for every market model. The guide's status path
``/market/common/get-task-detail`` is the name of a docs page, not an API path (§9.1).

KIE refuses a ``kling-3.0/video`` task whose ``multi_shots`` (422 "multi_shots cannot be empty")
or ``mode`` (500 "This field is required") is left out, and a client project learnt to always
send ``sound`` and ``aspect_ratio`` too (§2.4, §10 N8N and COMFY). So those four fields, and
``duration``, always go on the wire, with KIE's documented defaults when the caller gives none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from attrs import evolve, frozen
from kiekit.plugin import (
    Input,
    MarketProvider,
    MediaKind,
    Model,
    Request,
    ValidationError,
    choice,
    flag,
    integer,
    items,
    text,
    urls,
)

__all__ = ["Element", "KlingProvider", "MotionControl", "Shot", "Video"]

VIDEO = "kling-3.0/video"
MOTION_CONTROL = "kling-3.0/motion-control"

# "3".."15": a string enum on the wire (§2.4); KIE reads the number 5 as "5" (§2.2 "Input numeric
# coercion"), so a number is taken too and sent as its text.
DURATIONS = tuple(str(seconds) for seconds in range(3, 16))
DEFAULT_DURATION = "5"  # the guide's default (§3.2, kling_generate); KIE's pages give none
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
DEFAULT_ASPECT_RATIO = "1:1"  # §2.4: KIE's default, and ignored when an image is given
# §2.4: std/pro on KIE's page; recorded traffic (HAR) also sent "4K", so it is accepted too.
MODES = ("std", "pro", "4K")
SHOT_PROMPT_MAX = 500
SHOT_SECONDS = (1, 12)
MOTION_MODES = ("720p", "1080p")

# An element is referenced as "@name" in a prompt (§2.4). "@" after a word character is not a
# reference (an e-mail address such as a@b.com), so prompts can still hold those.
NAME = r"\w+"
REFERENCE = re.compile(r"(?<!\w)@(\w+)")


@frozen
class Shot(Input):
    """One entry of ``multi_prompt``: a shot's prompt (≤500 characters) and length (1–12 s)."""

    prompt: str = text(max_length=SHOT_PROMPT_MAX)
    duration: int = integer(*SHOT_SECONDS, required=True)


@frozen
class Element(Input):
    """One entry of ``kling_elements``: a subject the prompt names as ``@name``, shown by 2–4
    images (``element_input_urls``) or by one video (``element_input_video_urls``).

    §2.4 documents 2–4 images; the guide's own example (§3.2) sends one. The field reference
    wins (DESIGN.md), so one image is refused here; the mock still answers the guide's example.
    ``description`` is sent in every documented example, but no source says KIE requires it.
    """

    required_one_of = (("element_input_urls", "element_input_video_urls"),)

    name: str = text(pattern=NAME, pattern_hint="letters, digits or _ so a prompt can say @name")
    description: str | None = text(default=None, required=False)
    element_input_urls: tuple[str, ...] | None = urls(default=None, min_items=2, max_items=4)
    element_input_video_urls: tuple[str, ...] | None = urls(default=None, min_items=1, max_items=1)

    def check(self) -> None:
        if (self.element_input_urls is None) == (self.element_input_video_urls is None):
            raise ValidationError(
                "element_input_urls",
                "give 2–4 images (element_input_urls) or one video "
                "(element_input_video_urls), exactly one of the two",
            )


@frozen
class Video(Input):
    """``kling-3.0/video``: text- or image-to-video, one shot or several (``multi_shots``).

    Single shot: ``prompt`` is required. Multi-shot: ``multi_shots=True`` with ``multi_prompt``
    (each shot ≤500 characters, 1–12 s) and ``sound=True``; a ``prompt`` may still be given.
    ``image_urls``: one image is the first frame, two are the first and last frames; a multi-shot
    video takes only a first frame. ``kling_elements`` are named in prompts as ``@name``.

    Always sent (see the module docstring): ``sound`` (default False), ``mode`` (std),
    ``multi_shots`` (False), ``aspect_ratio`` (1:1) and ``duration`` ("5", or for multi-shot the
    shots' total when that lies within 3–15 s).
    """

    # the listing's words for the rules check() enforces (kie models kling-3.0/video)
    required_unless: ClassVar[Mapping[str, str]] = {
        "prompt": "multi-shot (multi_shots with multi_prompt)",
        "multi_prompt": "single shot (multi_shots false)",
    }

    prompt: str | None = text(default=None, required=False)
    image_urls: tuple[str, ...] | None = urls(default=None, min_items=1, max_items=2)
    sound: bool = flag(default=False)
    duration: str | None = choice(*DURATIONS, default=None, numerals=True)
    aspect_ratio: str = choice(*ASPECT_RATIOS, default=DEFAULT_ASPECT_RATIO)
    mode: str = choice(*MODES, default="std")
    multi_shots: bool = flag(default=False)
    # [] with a single shot is what KIE's schema, which lists multi_prompt as required, makes
    # single-shot clients send (kie-api.md §2.4): taken, and sent as given
    multi_prompt: tuple[Shot, ...] | None = items(Shot, default=None)
    kling_elements: tuple[Element, ...] | None = items(Element, default=None, min_items=1)

    def check(self) -> None:
        if self.multi_shots:
            self._check_multi_shot()
        else:
            if self.prompt is None or not self.prompt.strip():
                raise ValidationError(
                    "prompt", "is required for a single shot (or set multi_shots with multi_prompt)"
                )
            if self.multi_prompt:
                raise ValidationError("multi_prompt", "is only used with multi_shots=True")
        self._check_elements()

    def _check_multi_shot(self) -> None:
        # sound first: KIE's (the mock's) first complaint about a multi-shot input
        if self.sound is not True:
            raise ValidationError(
                "sound", "must be True with multi_shots (KIE refuses it otherwise)"
            )
        if self.multi_prompt is None:
            raise ValidationError("multi_prompt", "is required with multi_shots=True")
        if not self.multi_prompt:
            raise ValidationError("multi_prompt", "needs at least 1 shot with multi_shots=True")
        if self.image_urls is not None and len(self.image_urls) > 1:
            raise ValidationError(
                "image_urls", "a multi-shot video takes only a first frame (one image)"
            )
        total = self.total_seconds()
        low, high = int(DURATIONS[0]), int(DURATIONS[-1])
        if self.duration is None and not low <= total <= high:
            raise ValidationError(
                "multi_prompt",
                f"the shots last {total} s in all; a video lasts {low}–{high} s",
            )

    def _check_elements(self) -> None:
        elements = self.kling_elements or ()
        names = [element.name for element in elements]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValidationError(f"kling_elements[{index}].name", f"@{name} is defined twice")
        prompts = [("prompt", self.prompt)] + [
            (f"multi_prompt[{i}].prompt", shot.prompt)
            for i, shot in enumerate(self.multi_prompt or ())
        ]
        for where, prompt in prompts:
            for name in REFERENCE.findall(prompt or ""):
                if name not in names:
                    defined = ", ".join(f"@{n}" for n in names) or "none"
                    raise ValidationError(
                        where,
                        f"refers to @{name}, which no kling_elements entry defines "
                        f"(defined: {defined})",
                    )

    def total_seconds(self) -> int:
        return sum(shot.duration for shot in self.multi_prompt or ())


@frozen
class MotionControl(Input):
    """``kling-3.0/motion-control``: the character of one image moves as in one video (§2.4).

    ``mode`` (720p, 1080p) is always sent, 720p by default, as for ``kling-3.0/video`` whose
    omitted mode KIE refuses (§2.4).
    """

    input_urls: tuple[str, ...] = urls(min_items=1, max_items=1, required=True, media="image")
    video_urls: tuple[str, ...] = urls(min_items=1, max_items=1, required=True)
    prompt: str | None = text(default=None, required=False)
    mode: str = choice(*MOTION_MODES, default="720p")
    character_orientation: str | None = choice("video", "image", default=None)
    background_source: str | None = choice("input_video", "input_image", default=None)


class KlingProvider(MarketProvider):
    name = "kling"
    models = (
        Model(VIDEO, Video, MediaKind.VIDEO),
        Model(MOTION_CONTROL, MotionControl, MediaKind.VIDEO),
    )

    def build_request(
        self, model_id: str, params: Input, *, callback_url: str | None = None
    ) -> Request:
        request = super().build_request(model_id, params, callback_url=callback_url)
        if not isinstance(params, Video):
            return request
        body: dict[str, Any] = dict(request.body or {})
        body["input"] = _video_input(params, dict(body["input"]))
        return evolve(request, body=body)


def _video_input(params: Video, sent: dict[str, Any]) -> dict[str, Any]:
    """The kling-3.0/video input with the always-sent fields filled in (a caller may have
    passed None explicitly)."""
    if params.duration is None:
        multi = params.multi_shots and bool(params.multi_prompt)
        sent["duration"] = str(params.total_seconds()) if multi else DEFAULT_DURATION
    sent.setdefault("sound", False)
    sent.setdefault("mode", "std")
    sent.setdefault("multi_shots", False)
    sent.setdefault("aspect_ratio", DEFAULT_ASPECT_RATIO)
    return sent
