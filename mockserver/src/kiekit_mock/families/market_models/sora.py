"""Sora 2's eight market models (kie-api.md §2.4, §9.7; guide §3)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ...route_helpers import is_http_url
from ..validation import (
    invalid,
    optional_bool,
    optional_enum,
    optional_str,
    required_str,
    url_list,
)
from .base import Input, MarketModel, Source, nested, objects, seconds

SORA_PROMPT_MAX = 10_000  # 5000 in one copy, 10000 in others (§2.4 [SRC≠]): the larger
SORA_RATIOS = ("portrait", "landscape")
SORA_UPLOADS = ("s3", "oss")
# The four video models' character_id_list: "as an array, maximum 5" (KIE's Sora pages, which
# §2.4 does not detail [INF]; kiekit-sora takes the same)
CHARACTER_IDS_MAX = 5


def _sora_options(inp: Input) -> None:
    optional_enum(inp, "aspect_ratio", SORA_RATIOS)
    optional_enum(inp, "n_frames", ("10", "15"))
    optional_bool(inp, "remove_watermark")
    optional_enum(inp, "upload_method", SORA_UPLOADS)
    ids = inp.get("character_id_list")
    if ids is not None and (
        not isinstance(ids, list) or not all(isinstance(i, str) and i.strip() for i in ids)
    ):
        raise invalid("character_id_list must be an array of character ids")
    if ids is not None and len(ids) > CHARACTER_IDS_MAX:
        raise invalid(f"character_id_list cannot contain more than {CHARACTER_IDS_MAX} items")


def _sora_text_to_video(inp: Input) -> Input:
    required_str(inp, "prompt", SORA_PROMPT_MAX)
    _sora_options(inp)
    return inp


def _sora_image_to_video(inp: Input) -> Input:
    url_list(inp, "image_urls", max_items=1, required=True)
    optional_str(inp, "prompt", SORA_PROMPT_MAX)  # may be "" (a KIE example sends that)
    _sora_options(inp)
    return inp


def _sora_pro(check: Callable[[Input], Input]) -> Callable[[Input], Input]:
    def pro(inp: Input) -> Input:
        optional_enum(inp, "size", ("standard", "high"))
        return check(inp)

    return pro


def _sora_storyboard(inp: Input) -> Input:
    frames = optional_enum(inp, "n_frames", ("10", "15", "25")) or "15"
    total = 0.0
    for index, shot in enumerate(objects(inp, "shots", max_items=10)):
        where = f"shots[{index}]"
        nested(where, partial(required_str, shot, "Scene"))
        total += nested(where, partial(seconds, shot, "duration", 0.1, 15))
    if total > float(frames):
        raise invalid("shots total duration cannot exceed n_frames")
    url_list(inp, "image_urls", max_items=1, required=False)
    optional_enum(inp, "aspect_ratio", SORA_RATIOS)
    optional_enum(inp, "upload_method", SORA_UPLOADS)
    return inp


def _sora_characters(inp: Input) -> Input:
    url_list(inp, "character_file_url", max_items=1, required=True)  # one 1–4 s clip
    optional_str(inp, "character_prompt", 5000)
    optional_str(inp, "safety_instruction", 5000)
    return inp


def _sora_characters_pro(inp: Input) -> Input:
    # the earlier Sora video it cuts from: checked against the store (CHARACTER_SOURCE)
    required_str(inp, "origin_task_id")
    _timestamps(required_str(inp, "timestamps"))
    required_str(inp, "character_prompt", 5000)
    optional_str(inp, "character_user_name", 40)
    optional_str(inp, "safety_instruction", 5000)
    return inp


# KIE's Sora characters page: "start,end" in seconds, the clip 1–4 s long. §2.4 does not
# document the model; the refusal's text is the mock's own [INF]
CLIP_MIN, CLIP_MAX = 1.0, 4.0
TIMESTAMPS_MSG = 'timestamps must be "start,end" seconds, 1-4 s apart'


def _timestamps(text: str) -> None:
    parts = text.split(",")
    try:
        start, end = (float(part) for part in parts) if len(parts) == 2 else (0.0, -1.0)
    except ValueError:
        raise invalid(TIMESTAMPS_MSG) from None
    if not (start >= 0 and CLIP_MIN <= end - start <= CLIP_MAX):
        raise invalid(TIMESTAMPS_MSG)


def _sora_watermark_remover(inp: Input) -> Input:
    if not is_http_url(required_str(inp, "video_url", 500)):
        raise invalid("video_url must be a valid http(s) URL")
    optional_enum(inp, "upload_method", SORA_UPLOADS)
    return inp


VIDEO_MODELS = (
    "sora-2-text-to-video",
    "sora-2-image-to-video",
    "sora-2-pro-text-to-video",
    "sora-2-pro-image-to-video",
    "sora-2-pro-storyboard",
)
# a character is cut from an earlier Sora video of the caller's: any other id is taken and
# charged, and fails at its end, as Grok's follow-ups (market._source_problem) [INF]
CHARACTER_SOURCE = Source("origin_task_id", frozenset(VIDEO_MODELS), "a Sora 2 video task")

MODELS = (
    MarketModel("sora-2-text-to-video", _sora_text_to_video, "video", 1, 15.0, True),
    MarketModel("sora-2-image-to-video", _sora_image_to_video, "video", 1, 15.0, True),
    MarketModel("sora-2-pro-text-to-video", _sora_pro(_sora_text_to_video), "video", 1, 30.0, True),
    MarketModel(
        "sora-2-pro-image-to-video", _sora_pro(_sora_image_to_video), "video", 1, 30.0, True
    ),
    MarketModel("sora-2-pro-storyboard", _sora_storyboard, "video", 1, 30.0, True),
    # a character task yields a character id, not a file: its catalogue entry's `result`
    MarketModel("sora-2-characters", _sora_characters, "text", 0, 2.0, True),
    MarketModel(
        "sora-2-characters-pro",
        _sora_characters_pro,
        "text",
        0,
        2.0,
        True,
        source=CHARACTER_SOURCE,
    ),
    MarketModel("sora-watermark-remover", _sora_watermark_remover, "video", 1, 2.0, True),
)
