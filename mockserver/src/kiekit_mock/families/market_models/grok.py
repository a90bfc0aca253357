"""Grok Imagine's six market models (kie-api.md §2.4; guide §2.3)."""

from __future__ import annotations

from ..validation import (
    invalid,
    optional_bool,
    optional_enum,
    optional_int,
    optional_number,
    optional_str,
    required_str,
    url_list,
)
from .base import Input, MarketModel, Source

PROMPT_MAX = 5000
ASPECT_RATIOS = ("2:3", "3:2", "1:1", "16:9", "9:16")
MODES = ("fun", "normal", "spicy")
RESOLUTIONS = ("480p", "720p")


def _text_to_image(inp: Input) -> Input:
    required_str(inp, "prompt", PROMPT_MAX)
    optional_enum(inp, "aspect_ratio", ASPECT_RATIOS)
    optional_bool(inp, "nsfw_checker")
    optional_bool(inp, "enable_pro")
    return inp


def _image_to_image(inp: Input) -> Input:
    required_str(inp, "prompt", PROMPT_MAX)
    url_list(inp, "image_urls", max_items=5, required=True)  # 1 in older docs, up to 5 newer
    optional_bool(inp, "nsfw_checker")
    return inp


def _video_options(inp: Input) -> Input:
    optional_enum(inp, "aspect_ratio", ASPECT_RATIOS)
    optional_enum(inp, "mode", MODES)
    optional_enum(inp, "resolution", RESOLUTIONS)
    optional_bool(inp, "nsfw_checker")
    # duration: "6"/"10" in older docs, 6–30 in newer ones; KIE stores "6" as 6 (§2.2, HAR)
    duration = optional_int(inp, "duration", 6, 30, strings_ok=True)
    return inp if duration is None else inp | {"duration": duration}


def _text_to_video(inp: Input) -> Input:
    required_str(inp, "prompt", PROMPT_MAX)
    return _video_options(inp)


def _image_to_video(inp: Input) -> Input:
    # either external images, or an earlier Grok image task + the index of one of its images
    images = url_list(inp, "image_urls", max_items=7, required=False)  # newer docs: up to 7
    source_task = optional_str(inp, "task_id")
    if source_task is not None and not source_task.strip():
        raise invalid("task_id cannot be empty")  # [INF] blank names no task, as "" does not
    if images is None and not source_task:
        raise invalid("image_urls cannot be empty")
    if images is not None and source_task:
        raise invalid("image_urls and task_id cannot be used together")
    if images is None:
        optional_int(inp, "index", 0, 5, strings_ok=True)
    elif inp.get("mode") == "spicy":
        raise invalid("mode spicy is not supported with image_urls")  # §2.4: external images
    optional_str(inp, "prompt", PROMPT_MAX)
    return _video_options(inp)


def _upscale(inp: Input) -> Input:
    required_str(inp, "task_id")
    return inp


def _extend(inp: Input) -> Input:
    required_str(inp, "task_id")
    required_str(inp, "prompt", PROMPT_MAX)
    optional_number(inp, "extend_at", 0)
    times = optional_int(inp, "extend_times", 6, 10, strings_ok=True)
    if times not in (None, 6, 10):
        raise invalid("extend_times is not within the range of allowed options")
    return inp


IMAGES = ("grok-imagine/text-to-image", "grok-imagine/image-to-image", "grok-imagine/upscale")
VIDEOS = ("grok-imagine/text-to-video", "grok-imagine/image-to-video", "grok-imagine/extend")
# [INF] §2.4 names only the `task_id` field of upscale, extend and image-to-video, not what
# KIE does with one that is no task of the caller's, or of another kind: such a task is taken
# (and charged) and fails at its end, failCode "422" with a failMsg naming the field
# (market.py), where Veo's extend, whose pages document it, refuses at once (veo.py). Extend
# continues a video; image-to-video animates one image of a Grok image task (§2.4: "reuse a
# Grok image task"); the upscale page speaks of images and of a video task (catalogue.json's
# note), so any Grok Imagine task is taken.
UPSCALE_SOURCE = Source("task_id", frozenset(IMAGES + VIDEOS), "a Grok Imagine task")
EXTEND_SOURCE = Source("task_id", frozenset(VIDEOS), "a Grok Imagine video task")
ANIMATE_SOURCE = Source("task_id", frozenset(IMAGES), "a Grok Imagine image task")

MODELS = (
    # result counts from recorded traffic (§2.2: t2i 6, i2i 2); the others one each
    MarketModel("grok-imagine/text-to-image", _text_to_image, "image", 6, 4.0),
    MarketModel("grok-imagine/image-to-image", _image_to_image, "image", 2, 4.0),
    MarketModel("grok-imagine/upscale", _upscale, "image", 1, 2.0, source=UPSCALE_SOURCE),
    MarketModel("grok-imagine/text-to-video", _text_to_video, "video", 1, 10.0),
    MarketModel(
        "grok-imagine/image-to-video", _image_to_video, "video", 1, 10.0, source=ANIMATE_SOURCE
    ),
    MarketModel("grok-imagine/extend", _extend, "video", 1, 10.0, source=EXTEND_SOURCE),
)
