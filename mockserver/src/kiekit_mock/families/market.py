"""The unified market jobs API: createTask + recordInfo (kie-api.md §2.1–2.4) with the Grok
Imagine, Kling 3.0 and Sora 2 models.

Shapes follow the recorded real traffic [OBS] where it differs from the docs: `param` is a JSON
string whose `input` member is itself a JSON string and which omits callBackUrl; pending records
carry `resultJson:""` and null fail/cost/complete fields; there is no `updateTime`. Sora 2 records
add `progress` (0–100), which no other market model reports (§2.2).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, TypeVar

from aiohttp import web

from ..envelope import KieError, dumps, ok
from ..runtime import Runtime
from ..state import TaskSnapshot, TaskSpec, Transition
from ..wire import (
    account_of,
    is_http_url,
    json_body,
    optional_callback_url,
    origin_of,
    runtime,
    task_id_param,
)
from .validation import (
    invalid,
    optional_bool,
    optional_enum,
    optional_int,
    optional_number,
    optional_str,
    required_str,
    url_list,
)

ROUTES = web.RouteTableDef()
RECORD_INFO = "/api/v1/jobs/recordInfo"

PROMPT_MAX = 5000
ASPECT_RATIOS = ("2:3", "3:2", "1:1", "16:9", "9:16")
MODES = ("fun", "normal", "spicy")
RESOLUTIONS = ("480p", "720p")
FAIL_CODE = "500"  # failCode is a string (§2.2 failure example: "422")
FAIL_MSG = "Generation failed: the mock was asked to fail this task"

Input = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class MarketModel:
    name: str
    check: Callable[[Input], Input]  # validates, returns the input as KIE stores it
    kind: Literal["image", "video", "text"]  # text: resultObject instead of files (§2.2)
    results: int  # result URLs on success
    cost: float  # credits per task: mock figures, not KIE's price list
    progress: bool = False  # recordInfo reports `progress` 0–100 (Sora 2 only, §2.2)


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


# --- shared by Kling and Sora: nested objects and required flags -----------------------------


def _nested(where: str, check: Callable[[], T]) -> T:
    """Run a field check on a nested object, naming the field by its place (`shots[1].duration`)."""
    try:
        return check()
    except KieError as exc:
        raise KieError(exc.code, f"{where}.{exc.msg}") from None


def _objects(inp: Input, field: str, *, max_items: int | None = None) -> list[dict[str, Any]]:
    """A non-empty array of JSON objects."""
    value = inp.get(field)
    if value is None or value == []:
        raise invalid(f"{field} cannot be empty")
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise invalid(f"{field} must be an array of objects")
    if max_items is not None and len(value) > max_items:
        raise invalid(f"{field} cannot contain more than {max_items} items")
    return value


def _required_bool(inp: Input, field: str) -> bool:
    value = optional_bool(inp, field)
    if value is None:
        raise invalid(f"{field} cannot be empty")
    return value


def _seconds(data: Input, field: str, low: float, high: float) -> float:
    """A required number of seconds in [low, high], a JSON number or a numeric string."""
    if data.get(field) is None:
        raise invalid(f"{field} cannot be empty")
    value = optional_number(data, field, low)
    if value is None or value > high:
        raise invalid(f"{field} must be between {low:g} and {high:g}")
    return value


def _text_of(inp: Input) -> str:
    """Every prompt-like text of an input, so the fail marker works wherever it is written."""
    parts = [inp.get("prompt"), inp.get("character_prompt")]
    for field, key in (("multi_prompt", "prompt"), ("shots", "Scene")):
        entries = inp.get(field)
        if isinstance(entries, list):
            parts += [entry.get(key) for entry in entries if isinstance(entry, dict)]
    return " ".join(part for part in parts if isinstance(part, str))


# --- Kling 3.0 (§2.4; guide §3.2) --------------------------------------------------------------
# The id is "kling-3.0/video": KIE's OpenAPI enum and recorded traffic use it, and so does the
# guide. The docs page's own usage examples say "kling-3.0"; that gets what any unknown id gets,
# 422 "model not supported" (§2.4 [SRC≠], FELORES CHANGELOG 2.0.10).

KLING_RATIOS = ("16:9", "9:16", "1:1")
KLING_MODES = ("std", "pro", "4K")  # std/pro documented; recorded traffic also sent 4K (§2.4)


def _kling_video(inp: Input) -> Input:
    # The real answers to a left-out field (§2.4, N8N CHANGELOG 0.12.1/0.12.2), in that order:
    # first multi_shots (422), then mode (500). `sound` must always be sent too (§10 COMFY);
    # no answer was recorded, so it gets the usual 422 "... cannot be empty".
    multi_shots = _required_bool(inp, "multi_shots")
    if inp.get("mode") is None:
        raise KieError(500, "This field is required")
    optional_enum(inp, "mode", KLING_MODES)
    sound = _required_bool(inp, "sound")
    optional_enum(inp, "aspect_ratio", KLING_RATIOS)
    optional_int(inp, "duration", 3, 15, strings_ok=True)  # "3".."15"
    images = url_list(inp, "image_urls", max_items=2, required=False)  # first (+ last) frame
    if inp.get("kling_elements") is not None:
        _kling_elements(inp)
    if not multi_shots:
        required_str(inp, "prompt")
        return inp
    if not sound:
        raise invalid("sound must be true when multi_shots is true")
    if images is not None and len(images) > 1:
        raise invalid("image_urls can only contain the first frame when multi_shots is true")
    optional_str(inp, "prompt")
    for index, shot in enumerate(_objects(inp, "multi_prompt")):
        where = f"multi_prompt[{index}]"
        _nested(where, partial(required_str, shot, "prompt", 500))
        _nested(where, partial(_seconds, shot, "duration", 1, 12))
    return inp


def _kling_elements(inp: Input) -> None:
    """[{name, description, element_input_urls | element_input_video_urls}] (§2.4). The docs
    say 2–4 images; the guide's own example (§3.2) sends one, so 1–4 are accepted here."""
    for index, element in enumerate(_objects(inp, "kling_elements")):
        where = f"kling_elements[{index}]"
        _nested(where, partial(required_str, element, "name"))
        _nested(where, partial(optional_str, element, "description"))
        images = element.get("element_input_urls")
        videos = element.get("element_input_video_urls")
        if images is None and videos is None:
            raise invalid(f"{where}.element_input_urls cannot be empty")
        if images is not None and videos is not None:
            raise invalid(
                f"{where}.element_input_urls and element_input_video_urls cannot be used together"
            )
        check_urls = partial(url_list, element, required=False)
        _nested(where, partial(check_urls, "element_input_urls", max_items=4))
        _nested(where, partial(check_urls, "element_input_video_urls", max_items=1))


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

SORA_PROMPT_MAX = 10_000  # 5000 in one copy, 10000 in others (§2.4 [SRC≠]): the larger
SORA_RATIOS = ("portrait", "landscape")
SORA_UPLOADS = ("s3", "oss")


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
    for index, shot in enumerate(_objects(inp, "shots", max_items=10)):
        where = f"shots[{index}]"
        _nested(where, partial(required_str, shot, "Scene"))
        total += _nested(where, partial(_seconds, shot, "duration", 0.1, 15))
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
    required_str(inp, "origin_task_id")  # [INF] not checked against the store
    # KIE's page wants "start,end" seconds 1–4 s apart; §2.4 does not document the model, so
    # the mock, like the plugin, takes any text and leaves the rest to the real service [INF]
    required_str(inp, "timestamps")
    required_str(inp, "character_prompt", 5000)
    optional_str(inp, "character_user_name", 40)
    optional_str(inp, "safety_instruction", 5000)
    return inp


def _sora_watermark_remover(inp: Input) -> Input:
    if not is_http_url(required_str(inp, "video_url", 500)):
        raise invalid("video_url must be a valid http(s) URL")
    optional_enum(inp, "upload_method", SORA_UPLOADS)
    return inp


MODELS: dict[str, MarketModel] = {
    m.name: m
    for m in (
        # result counts from recorded traffic (§2.2: t2i 6, i2i 2); the others one each
        MarketModel("grok-imagine/text-to-image", _text_to_image, "image", 6, 4.0),
        MarketModel("grok-imagine/image-to-image", _image_to_image, "image", 2, 4.0),
        MarketModel("grok-imagine/upscale", _upscale, "image", 1, 2.0),
        MarketModel("grok-imagine/text-to-video", _text_to_video, "video", 1, 10.0),
        MarketModel("grok-imagine/image-to-video", _image_to_video, "video", 1, 10.0),
        MarketModel("grok-imagine/extend", _extend, "video", 1, 10.0),
        MarketModel("kling-3.0/video", _kling_video, "video", 1, 20.0),
        MarketModel("kling-3.0/motion-control", _kling_motion_control, "video", 1, 20.0),
        MarketModel("sora-2-text-to-video", _sora_text_to_video, "video", 1, 15.0, True),
        MarketModel("sora-2-image-to-video", _sora_image_to_video, "video", 1, 15.0, True),
        MarketModel(
            "sora-2-pro-text-to-video", _sora_pro(_sora_text_to_video), "video", 1, 30.0, True
        ),
        MarketModel(
            "sora-2-pro-image-to-video", _sora_pro(_sora_image_to_video), "video", 1, 30.0, True
        ),
        MarketModel("sora-2-pro-storyboard", _sora_storyboard, "video", 1, 30.0, True),
        # a character task yields a character id, not a file (§2.2 resultObject shape) [INF]
        MarketModel("sora-2-characters", _sora_characters, "text", 0, 2.0, True),
        MarketModel("sora-2-characters-pro", _sora_characters_pro, "text", 0, 2.0, True),
        MarketModel("sora-watermark-remover", _sora_watermark_remover, "video", 1, 2.0, True),
    )
}


def _param_json(model: str, stored_input: Input) -> str:
    # [OBS] §2.2: {"input":"<JSON string>","model":…}, no callBackUrl, compact, keys sorted
    inner = json.dumps(stored_input, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return dumps({"input": inner, "model": model})


def record(task: TaskSnapshot, progress: int | None = None) -> dict[str, Any]:
    """recordInfo `data`, field for field as the recorded real answers (§2.2 [OBS]); Sora 2
    records add `progress` (100 once succeeded; else `progress`, by default 0)."""
    failed = task.state == "fail"
    succeeded = task.state == "success"
    model = MODELS.get(task.model)
    result = ""
    if succeeded and model is not None and model.kind == "text":
        # a Sora character task answers with the character's id (KIE's Sora pages) [INF shape]
        result = dumps({"resultObject": {"character_id": f"char_{task.task_id[:16]}"}})
    elif succeeded:
        result = dumps({"resultUrls": task.result_urls()})
    data: dict[str, Any] = {
        "taskId": task.task_id,
        "model": task.model,
        "state": task.state,
        "param": task.param_json,
        "resultJson": result,
        "failCode": FAIL_CODE if failed else None,
        "failMsg": FAIL_MSG if failed else None,
        "costTime": task.cost_seconds,  # seconds, not ms (§2.2)
        "completeTime": task.completed_ms,
        "createTime": task.created_ms,
    }
    if model is not None and model.progress:
        data["progress"] = 100 if succeeded else (progress or 0)
    return data


def sora_progress(rt: Runtime, task: TaskSnapshot) -> int:
    """0–99 while a task is pending: how far it is towards being due, by the polls it has
    answered (the journal holds them; this poll is not yet in it) and by the seconds since it
    was created, whichever is behind, as the lifecycle itself decides (state.natural_stage).
    So it grows with every poll of a test mock and with time under `kie run --mock`."""
    polls = sum(
        1
        for seen in rt.journal.records()
        if seen.path == RECORD_INFO and seen.task_id == task.task_id and seen.code == 200
    )
    config = rt.config
    shares = []
    if config.polls_to_complete:
        shares.append(polls / config.polls_to_complete)
    if config.seconds_to_complete:
        elapsed = time.time() - task.created_ms / 1000  # the Store's clock is time.time
        shares.append(elapsed / config.seconds_to_complete)
    return max(0, min(99, int(100 * min(shares, default=1.0))))


def callback_payload(transition: Transition) -> dict[str, Any]:
    """§2.3: the full record, plus both credit spellings seen in KIE's pages."""
    task = transition.task
    data = record(task) | {
        "creditsConsumed": task.credits_charged,
        "consumeCredits": task.credits_charged,
        "remainedCredits": transition.balance,
    }
    if task.state == "success":
        return {"code": 200, "msg": "Playground task completed successfully.", "data": data}
    return {"code": 501, "msg": "Playground task failed.", "data": data}


@ROUTES.post("/api/v1/jobs/createTask")
async def create_task(request: web.Request) -> web.Response:
    body = await json_body(request)
    name = body.get("model")
    if name is None or name == "":
        raise invalid("model cannot be empty")
    model = MODELS.get(name) if isinstance(name, str) else None
    if model is None:
        raise KieError(422, "model not supported")  # §2.4 (FELORES CHANGELOG 2.0.10)
    callback = optional_callback_url(body, "callBackUrl")
    # Sora-only progress callbacks: no payload shape is documented (§2.3), so never called
    optional_callback_url(body, "progressCallBackUrl")
    inp = body.get("input")
    if not isinstance(inp, dict):
        raise invalid("input cannot be empty")
    stored = model.check(dict(inp))
    aspect = stored.get("aspect_ratio")
    spec = TaskSpec(
        family="market",
        model=model.name,
        request_body=body,
        callback_url=callback,
        param_json=_param_json(model.name, stored),
        prompt=_text_of(stored),
        cost=model.cost,
        result_ext="jpg" if model.kind == "image" else "mp4",  # CDN links end .jpg (§2.2 [OBS])
        result_count=model.results,
        aspect_ratio=aspect if isinstance(aspect, str) else None,
        origin=origin_of(request),
    )
    task = runtime(request).store.create(account_of(request), spec)
    # [OBS] §2.1: real answers carry recordId too, equal to taskId
    return ok({"taskId": task.task_id, "recordId": task.task_id})


@ROUTES.get(RECORD_INFO)
async def record_info(request: web.Request) -> web.Response:
    rt = runtime(request)
    task_id = task_id_param(request)
    transition = rt.store.poll(account_of(request), task_id, "market")
    if transition is None:
        # §2.2 docs: 404 "Task not found"; another account's task is not found either
        raise KieError(404, "Task not found")
    rt.finish(transition, callback_payload)
    task = transition.task
    model = MODELS.get(task.model)
    progress = sora_progress(rt, task) if model is not None and model.progress else None
    return ok(record(task, progress))
