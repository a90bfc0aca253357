"""Kling 3.0 on the market API (kie-api.md §2.4; guide §3.2)."""

from __future__ import annotations

from functools import partial

from ...envelope import ErrorAnswer
from ..validation import (
    invalid,
    optional_enum,
    optional_int,
    optional_str,
    required_str,
    url_list,
)
from .base import Input, MarketModel, nested, objects, required_bool, seconds

# --- Kling 3.0 (§2.4; guide §3.2) --------------------------------------------------------------
# The id is "kling-3.0/video": KIE's OpenAPI enum and recorded traffic use it, and so does the
# guide. The docs page's own usage examples say "kling-3.0" (§2.4 [SRC≠]); catalogue.json lists
# it under `refused`, so it gets KIE's 422 "model not supported" even where the mock takes ids it
# does not know (strict_models off), as KIE answers a wrong id (§2.4, FELORES CHANGELOG 2.0.10).

KLING_RATIOS = ("16:9", "9:16", "1:1")
KLING_MODES = ("std", "pro", "4K")  # std/pro documented; recorded traffic also sent 4K (§2.4)


def _kling_video(inp: Input) -> Input:
    # The real answers to a left-out field (§2.4, N8N CHANGELOG 0.12.1/0.12.2), in that order:
    # first multi_shots (422), then mode (500). `sound` must always be sent too (§10 COMFY);
    # no answer was recorded, so it gets the usual 422 "... cannot be empty".
    multi_shots = required_bool(inp, "multi_shots")
    if inp.get("mode") is None:
        raise ErrorAnswer(500, "This field is required")
    optional_enum(inp, "mode", KLING_MODES)
    sound = required_bool(inp, "sound")
    optional_enum(inp, "aspect_ratio", KLING_RATIOS)
    optional_int(inp, "duration", 3, 15, strings_ok=True)  # "3".."15"
    images = url_list(inp, "image_urls", max_items=2, required=False)  # first (+ last) frame
    if inp.get("kling_elements") is not None:
        _kling_elements(inp)
    if not multi_shots:
        required_str(inp, "prompt")
        # KIE's schema lists multi_prompt as required, so single-shot clients send [] (§2.4).
        # [INF] Shots in a single-shot input are refused: no source says what KIE does with
        # them, and a video made without them would be paid for all the same (kiekit-kling
        # refuses them too)
        if inp.get("multi_prompt") not in (None, []):
            _shots(inp)
            raise invalid("multi_prompt is only used when multi_shots is true")
        return inp
    if not sound:
        raise invalid("sound must be true when multi_shots is true")
    if images is not None and len(images) > 1:
        raise invalid("image_urls can only contain the first frame when multi_shots is true")
    optional_str(inp, "prompt")
    _shots(inp)
    return inp


def _shots(inp: Input) -> None:
    for index, shot in enumerate(objects(inp, "multi_prompt")):
        where = f"multi_prompt[{index}]"
        nested(where, partial(required_str, shot, "prompt", 500))
        nested(where, partial(seconds, shot, "duration", 1, 12))


def _kling_elements(inp: Input) -> None:
    """[{name, description, element_input_urls | element_input_video_urls}] (§2.4): 2–4 images
    or one video. The Russian guide's example (§3.2) sends one image; kie-api.md's field
    reference wins over the guide (DESIGN.md), so that gets a 422 naming the field."""
    for index, element in enumerate(objects(inp, "kling_elements")):
        where = f"kling_elements[{index}]"
        nested(where, partial(required_str, element, "name"))
        nested(where, partial(optional_str, element, "description"))
        images = element.get("element_input_urls")
        videos = element.get("element_input_video_urls")
        if images is None and videos is None:
            raise invalid(f"{where}.element_input_urls cannot be empty")
        if images is not None and videos is not None:
            raise invalid(
                f"{where}.element_input_urls and element_input_video_urls cannot be used together"
            )
        check_urls = partial(url_list, element, required=False)
        nested(where, partial(check_urls, "element_input_urls", max_items=4))
        if images is not None and isinstance(images, list) and len(images) < 2:
            # KIE's message for it is not recorded: the catalogue's words for a list too short
            raise invalid(f"{where}.element_input_urls must contain at least 2 items")
        nested(where, partial(check_urls, "element_input_video_urls", max_items=1))


def _kling_motion_control(inp: Input) -> Input:
    url_list(inp, "input_urls", max_items=1, required=True)  # the character image
    url_list(inp, "video_urls", max_items=1, required=True)  # the motion
    optional_str(inp, "prompt")
    optional_enum(inp, "mode", ("720p", "1080p"))
    optional_enum(inp, "character_orientation", ("video", "image"))
    optional_enum(inp, "background_source", ("input_video", "input_image"))
    return inp


# --- Sora 2 (§2.4; the storyboard, characters and watermark-remover inputs follow public copies
# of KIE's Sora pages, which §2.4 does not detail) ----------------------------------------------


MODELS = (
    MarketModel("kling-3.0/video", _kling_video, "video", 1, 20.0),
    MarketModel("kling-3.0/motion-control", _kling_motion_control, "video", 1, 20.0),
)
