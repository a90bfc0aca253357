"""Veo 3.1: generate, extend, record-info, 1080P and 4K (kie-api.md §3.3, §6.2; guide §3.1).

What sets this family apart:

- the create body names the model (``veo3`` | ``veo3_fast`` | ``veo3_lite``) and spells the
  aspect ratio ``aspect_ratio`` (OpenAPI, guide) or ``aspectRatio`` (quickstart): both are
  accepted, and ``paramJson`` stores ``aspectRatio``, as KIE did in a live probe (§3.3);
- ``imageUrls`` counts depend on ``generationType``; ``seeds`` is 10000–99999;
- one record-info reports generated, extended, 1080P and 4K tasks. Times are
  "YYYY-MM-DD HH:MM:SS" strings as in the doc example; ``originUrls`` has a value only when the
  aspect ratio is not 16:9; ``fallbackFlag`` (legacy) appears on video tasks only, and 4K tasks
  carry ``imageUrls`` and ``mediaIds`` (D:veo3-api/get-veo-3-video-details);
- 1080P and 4K are rendered on demand, so their endpoints first answer "still processing".
  The mock keeps each as a task of its own in the store, which gives them the lifecycle every
  task has (``polls_to_complete``, ``seconds_to_complete``): each later call of the endpoint
  counts as one poll of that task.

KIE names no model for extend, 1080P or 4K; the mock files those tasks under names of its own
(``EXTEND_MODELS``, ``HD_MODEL``, ``UHD_MODEL``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any, Literal

from aiohttp import web

from .. import files, media
from ..envelope import ErrorAnswer, dumps, ok
from ..route_helpers import (
    account_of,
    json_body,
    optional_callback_url,
    origin_of,
    poll_task,
    runtime,
    task_id_param,
)
from ..runtime import Runtime
from ..state import Family, TaskSnapshot, TaskSpec, Transition
from .validation import (
    invalid,
    optional_bool,
    optional_enum,
    optional_int,
    optional_str,
    required_str,
    url_list,
)

ROUTES = web.RouteTableDef()

FAMILY: Family = "veo"
MODELS = ("veo3", "veo3_fast", "veo3_lite")
DEFAULT_MODEL = "veo3_fast"  # the generate page's default
GENERATION_TYPES = ("TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO", "REFERENCE_2_VIDEO")
QUALITY_MODEL = "veo3"
REFERENCE_FAST_ONLY = "generationType REFERENCE_2_VIDEO only supports the veo3_fast model"
ASPECT_RATIOS = ("16:9", "9:16", "Auto")
EXTEND_MODES = ("fast", "quality")  # extend's `model`; "fast" by default
SEED_MIN, SEED_MAX = 10000, 99999

EXTEND_MODELS = {"fast": "veo3-extend-fast", "quality": "veo3-extend-quality"}
HD_MODEL = "veo3-1080p"
UHD_MODEL = "veo3-4k"
# mock figures, not KIE's prices; 4K costs about two Fast videos (§3.3), 1080P nothing extra
COSTS = {
    "veo3": 40.0,
    "veo3_fast": 12.0,
    "veo3_lite": 8.0,
    "veo3-extend-fast": 12.0,
    "veo3-extend-quality": 40.0,
    HD_MODEL: 0.0,
    UHD_MODEL: 24.0,
}

# How many imageUrls each generationType takes (generate-veo-3-video): unset means "decided
# from imageUrls" — text without images, first/last frames with one or two.
IMAGE_COUNTS: dict[str | None, tuple[int, int]] = {
    None: (0, 2),
    "TEXT_2_VIDEO": (0, 0),
    "FIRST_AND_LAST_FRAMES_2_VIDEO": (1, 2),
    "REFERENCE_2_VIDEO": (1, 3),
}
MAX_IMAGES = 3

VIDEOS_PER_TASK = 1  # `index` picks one of a task's videos; Veo makes one per task

GENERATE_OK = "Veo3.1 video generated successfully."  # the callback pages' text
UHD_OK = "4K Video generated successfully."
FAIL_CODE = 501  # errorCode 501: "Failed - Video generation task failed" (§3.3)
FAIL_MSG = "Video generation failed: the mock was asked to fail this task"
HD_PROCESSING = "1080P is processing. It should be ready in 1-2 minutes. Please check back shortly."
HD_FAIL_MSG = "1080P generation failed"  # [INF] the 1080P page lists no failure text
UHD_PROCESSING = "4k is processing. It should be ready in 5-10 minutes. Please check back shortly."
UHD_DONE = "The video has been generated successfully"
UHD_FAIL_CODE = 500  # the 4K callback's failure (get-veo-3-4k-video-callbacks)
UHD_FAIL_MSG = "The 4K version of this video is unavailable. Please try a different video."
# [INF] wording of KIE's note "Videos generated after 1080P generation cannot be extended"
EXTEND_AFTER_HD = "Videos generated after 1080P generation cannot be extended"
# §3.3's record-query 422: a task whose media are gone (14 days after it ended, files.retained)
PAST_WINDOW = files.PAST_RETENTION

Kind = Literal["video", "1080p", "4k"]


def kind_of(task: TaskSnapshot) -> Kind:
    if task.model == HD_MODEL:
        return "1080p"
    if task.model == UHD_MODEL:
        return "4k"
    return "video"


# --- validation ------------------------------------------------------------------------------


def _aspect(body: dict[str, Any]) -> str:
    snake = optional_enum(body, "aspect_ratio", ASPECT_RATIOS)
    camel = optional_enum(body, "aspectRatio", ASPECT_RATIOS)
    if snake is not None and camel is not None and snake != camel:
        raise invalid("aspect_ratio and aspectRatio disagree")
    return snake or camel or "16:9"  # "Default value is 16:9"


def _image_count(mode: str | None, count: int) -> None:
    low, high = IMAGE_COUNTS[mode]
    if low <= count <= high:
        return
    if high == 0:
        raise invalid(f"imageUrls must be empty for generationType {mode}")
    what = f"generationType {mode}" if mode else "an unset generationType"
    raise invalid(f"imageUrls must hold {low} to {high} images for {what}, not {count}")


def _check_generate(body: dict[str, Any]) -> tuple[str, str]:
    """Validate a generate body; returns (model, aspect ratio) with KIE's defaults."""
    required_str(body, "prompt")
    model = optional_enum(body, "model", MODELS) or DEFAULT_MODEL
    mode = optional_enum(body, "generationType", GENERATION_TYPES)
    images = url_list(body, "imageUrls", max_items=MAX_IMAGES, required=False) or []
    _image_count(mode, len(images))
    if mode == "REFERENCE_2_VIDEO" and model == QUALITY_MODEL:
        # KIE's generate page: reference-to-video "only supports the Fast model" (veo3_lite is
        # not named there: left allowed). The refusal's text is the mock's own [INF]
        raise invalid(REFERENCE_FAST_ONLY)
    aspect = _aspect(body)
    optional_int(body, "seeds", SEED_MIN, SEED_MAX)
    for flag in ("enableTranslation", "enableFallback"):  # enableFallback: deprecated, accepted
        optional_bool(body, flag)
    optional_str(body, "watermark")
    # `resolution` and `duration` (newest docs, §3.3) are passed through: no values documented
    return model, aspect


def _index(value: Any) -> int:
    """A video index from a JSON body (int) or a query string ("0"); 0 when absent."""
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)  # ASCII digits only: "²" is a digit to str.isdigit, not to int()
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid("index must be an integer")
    if not 0 <= value < VIDEOS_PER_TASK:
        raise invalid("index is out of range")  # [INF] text
    return value


# --- rendering -------------------------------------------------------------------------------


def _clock_text(ms: int | None) -> str | None:
    # [INF] the doc example shows "2025-06-06 10:30:00" without a zone; the mock uses UTC
    if ms is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def _preview_url(task: TaskSnapshot) -> str:
    return f"{task.origin}/files/veo/{task.task_id}/0.jpg"


def _media_id(task: TaskSnapshot) -> str:
    return "mock-media-" + hashlib.sha256(task.task_id.encode()).hexdigest()[:24]


def _resolution(task: TaskSnapshot) -> str:
    # [INF] the doc example says "1080p"; older pages: "Only 16:9 aspect ratio supports 1080P"
    return "1080p" if task.aspect_ratio == "16:9" else "720p"


def _info(task: TaskSnapshot) -> dict[str, Any]:
    """What a succeeded task produced, keyed as record-info's ``response``."""
    urls = task.result_urls()
    kind = kind_of(task)
    if kind == "1080p":
        return {"taskId": task.task_id, "resultUrls": urls[:1], "resolution": "1080p"}
    if kind == "4k":
        return {
            "taskId": task.task_id,
            "resultUrls": urls[:1],
            "imageUrls": [_preview_url(task)],
            "mediaIds": [_media_id(task)],
        }
    # file 0 is the video; file 1, made only when the aspect ratio is not 16:9, the original
    return {
        "taskId": task.task_id,
        "resultUrls": urls[:1],
        "originUrls": urls[1:] or None,
        "resolution": _resolution(task),
    }


def _failure(task: TaskSnapshot) -> tuple[int, str]:
    """The task's errorCode/message: its outcome's, else the default of its kind."""
    kind = kind_of(task)
    if kind == "4k":
        return task.failure(UHD_FAIL_CODE, UHD_FAIL_MSG)
    if kind == "1080p":
        return task.failure(FAIL_CODE, HD_FAIL_MSG)
    return task.failure(FAIL_CODE, FAIL_MSG)


def record(task: TaskSnapshot) -> dict[str, Any]:
    """record-info ``data``, keyed as the doc example (D:veo3-api/get-veo-3-video-details)."""
    failed = task.state == "fail"
    code, msg = _failure(task)
    data: dict[str, Any] = {
        "taskId": task.task_id,
        "paramJson": task.param_json,
        "completeTime": _clock_text(task.completed_ms),
        "response": _info(task) if task.state == "success" else None,
        # 0 generating, 1 success, 2 "failed (before completion)" (a create_failed outcome),
        # 3 "generation failed (upstream)"; KIE's OpenAPI enum lists only 0, 1, 2 (§3.3)
        "successFlag": task.success_flag,
        "errorCode": code if failed else None,
        "errorMessage": msg if failed else "",
        "createTime": _clock_text(task.created_ms),
    }
    if kind_of(task) == "video":
        data["fallbackFlag"] = False  # legacy; "4K video generation tasks do not include" it
    return data


def callback_payload(transition: Transition) -> dict[str, Any]:
    """§3.3 / §6.2: ``data.taskId``; videos under ``data.info`` as arrays (the markdown
    examples; the callback OpenAPI types them as strings, [SRC≠]). 4K callbacks follow the
    4K callback page's example (camelCase; its OpenAPI schema says snake_case, [SRC≠])."""
    task = transition.task
    kind = kind_of(task)
    if task.state == "success":
        info = _info(task)
        info.pop("taskId")
        if kind == "4k":
            info.pop("mediaIds")
            return {"code": 200, "msg": UHD_OK, "data": {"taskId": task.task_id, "info": info}}
        data = {"taskId": task.task_id, "info": info, "fallbackFlag": False}
        return {"code": 200, "msg": GENERATE_OK, "data": data}
    code, msg = _failure(task)
    if kind == "4k":
        return {"code": code, "msg": msg, "data": {"taskId": task.task_id}}
    return {"code": code, "msg": msg, "data": {"taskId": task.task_id, "fallbackFlag": False}}


def _answer(code: int, msg: str, data: Any) -> web.Response:
    """An error envelope that still carries data, as the 4K endpoint's 422 answers do."""
    return web.json_response({"code": code, "msg": msg, "data": data}, dumps=dumps)


# --- lookups ---------------------------------------------------------------------------------


def _own_task(rt: Runtime, account: str, task_id: str) -> TaskSnapshot | None:
    task = rt.store.find(task_id)
    if task is None or task.account_id != account or task.family != FAMILY:
        return None
    return task


def _upgrades(rt: Runtime, account: str, model: str, source: str) -> list[TaskSnapshot]:
    """The 1080P (or 4K) tasks made from ``source``, oldest first."""
    return [
        task
        for task in rt.store.snapshots(account=account, family=FAMILY)
        if task.model == model and task.request_body.get("taskId") == source
    ]


def _upgrade(rt: Runtime, account: str, model: str, source: str, index: int) -> TaskSnapshot | None:
    found = [t for t in _upgrades(rt, account, model, source) if t.request_body["index"] == index]
    return found[0] if found else None


def _finished_video(rt: Runtime, account: str, task_id: str) -> TaskSnapshot:
    """A succeeded generated or extended video of the caller, for 1080P and 4K. The 422 texts
    are the ones the 1080P/4K pages list."""
    task = _own_task(rt, account, task_id)
    if task is None or kind_of(task) != "video":
        raise invalid("record is null")
    if task.state != "success":
        raise invalid("record status is not success")
    _within_window(rt, task)
    return task


def _within_window(rt: Runtime, task: TaskSnapshot) -> None:
    if not files.retained(task, rt.clock.now()):
        raise invalid(PAST_WINDOW)


# --- routes ----------------------------------------------------------------------------------


@ROUTES.post("/api/v1/veo/generate")
async def generate(request: web.Request) -> web.Response:
    body = await json_body(request)
    model, aspect = _check_generate(body)
    callback = optional_callback_url(body, "callBackUrl")
    param = {k: v for k, v in body.items() if k not in ("callBackUrl", "aspect_ratio")}
    if "aspect_ratio" in body or "aspectRatio" in body:
        param["aspectRatio"] = aspect  # "stored as aspectRatio" (§3.3, live probe)
    spec = TaskSpec(
        family=FAMILY,
        model=model,
        request_body=body,
        callback_url=callback,
        param_json=dumps(param),
        prompt=str(body["prompt"]),
        cost=COSTS[model],
        result_ext="mp4",
        result_count=1 if aspect == "16:9" else 2,  # the second file stands for originUrls
        aspect_ratio=aspect,
        origin=origin_of(request),
    )
    task = runtime(request).store.create(account_of(request), spec)
    return ok({"taskId": task.task_id})


@ROUTES.post("/api/v1/veo/extend")
async def extend(request: web.Request) -> web.Response:
    body = await json_body(request)
    source_id = required_str(body, "taskId")
    prompt = required_str(body, "prompt")
    optional_int(body, "seeds", SEED_MIN, SEED_MAX)
    optional_str(body, "watermark")
    mode = optional_enum(body, "model", EXTEND_MODES) or "fast"
    callback = optional_callback_url(body, "callBackUrl")
    rt, account = runtime(request), account_of(request)
    source = _own_task(rt, account, source_id)
    if source is None or kind_of(source) != "video":
        # the extend page's 404: "Original video or task does not exist"
        raise ErrorAnswer(404, "Original video or task does not exist")
    if source.state != "success":
        raise invalid("record status is not success")
    # a parent past retention is refused here as on record-info, 1080P and 4K: its video is
    # gone (files.retained). §3.3 does not say what extend answers then [INF: its 422 text]
    _within_window(rt, source)
    if _upgrades(rt, account, HD_MODEL, source_id):
        raise invalid(EXTEND_AFTER_HD)
    model = EXTEND_MODELS[mode]
    spec = TaskSpec(
        family=FAMILY,
        model=model,
        request_body=body,
        callback_url=callback,
        param_json=dumps({k: v for k, v in body.items() if k != "callBackUrl"}),
        prompt=prompt,
        cost=COSTS[model],
        result_ext="mp4",
        result_count=source.result_count,  # the extended video keeps the source's framing
        aspect_ratio=source.aspect_ratio,
        origin=origin_of(request),
    )
    task = rt.store.create(account, spec)
    return ok({"taskId": task.task_id})


@ROUTES.get("/api/v1/veo/record-info")
async def record_info(request: web.Request) -> web.Response:
    rt, task_id = runtime(request), request.query.get("taskId", "").strip()
    known = _own_task(rt, account_of(request), task_id) if task_id else None
    if known is not None:
        _within_window(rt, known)
    # an unknown id: the record-info page's 422 text, not a 404
    transition = poll_task(request, FAMILY, callback_payload, not_found=invalid("record is null"))
    return ok(record(transition.task))


def _upgrade_spec(
    request: web.Request, source: TaskSnapshot, model: str, index: int, callback: str | None
) -> TaskSpec:
    body = {"taskId": source.task_id, "index": index}
    return TaskSpec(
        family=FAMILY,
        model=model,
        request_body=body if callback is None else {**body, "callBackUrl": callback},
        callback_url=callback,
        param_json=dumps(body),
        prompt="",  # an upgrade fails only when a test says so (MockServer.set_outcome)
        cost=COSTS[model],
        result_ext="mp4",
        result_count=1,
        aspect_ratio=source.aspect_ratio,
        origin=origin_of(request),
    )


@ROUTES.get("/api/v1/veo/get-1080p-video")
async def get_1080p(request: web.Request) -> web.Response:
    """1080P of a finished video: "not ready" (body code 400, the generate page's "1080P is
    processing" text) until the 1080P task the first call started has succeeded."""
    rt, account = runtime(request), account_of(request)
    source_id = task_id_param(request)
    index = _index(request.query.get("index"))
    source = _finished_video(rt, account, source_id)
    hd = _upgrade(rt, account, HD_MODEL, source_id, index)
    if hd is None:
        rt.store.create(account, _upgrade_spec(request, source, HD_MODEL, index, None))
        raise ErrorAnswer(400, HD_PROCESSING)
    transition = rt.store.poll(account, hd.task_id, FAMILY)
    if transition is None:  # only if the store lost the task
        raise invalid("record is null")
    task = transition.task
    if task.state == "success":
        return ok({"resultUrl": task.result_urls()[0]})
    if task.state == "fail":
        raise ErrorAnswer(FAIL_CODE, HD_FAIL_MSG)
    raise ErrorAnswer(400, HD_PROCESSING)


@ROUTES.post("/api/v1/veo/get-4k-video")
async def get_4k(request: web.Request) -> web.Response:
    """4K of a finished video: the first call starts the 4K task and names it; later calls
    answer 422 "4k is processing…" and then 422 "…generated successfully" with the URLs
    (DOCCOPY get-veo-3-4k-video)."""
    body = await json_body(request)
    source_id = required_str(body, "taskId")
    index = _index(body.get("index"))
    callback = optional_callback_url(body, "callBackUrl")
    rt, account = runtime(request), account_of(request)
    source = _finished_video(rt, account, source_id)
    uhd = _upgrade(rt, account, UHD_MODEL, source_id, index)
    if uhd is None:
        made = rt.store.create(account, _upgrade_spec(request, source, UHD_MODEL, index, callback))
        return ok({"taskId": made.task_id, "resultUrls": None, "imageUrls": None})
    transition = rt.store.poll(account, uhd.task_id, FAMILY)
    if transition is None:
        raise invalid("record is null")
    rt.finish(transition, callback_payload)
    task = transition.task
    if task.state == "success":
        info = _info(task)
        data = {"taskId": task.task_id, "resultUrls": info["resultUrls"]}
        return _answer(422, UHD_DONE, data | {"imageUrls": info["imageUrls"]})
    if task.state == "fail":
        # [INF] the endpoint's answer after a failed 4K is not documented; the callback's text
        return _answer(422, UHD_FAIL_MSG, {"taskId": task.task_id})
    return _answer(
        422, UHD_PROCESSING, {"taskId": task.task_id, "resultUrls": None, "imageUrls": None}
    )


@files.file_route(ROUTES, "/files/veo/{task_id}/{name}")
def uhd_preview(rt: Runtime, params: Mapping[str, str]) -> web.Response | None:
    """The preview image of a finished 4K task (its ``imageUrls``): a JPEG, like KIE's."""
    task = rt.store.find(params["task_id"])
    if (
        task is None
        or kind_of(task) != "4k"
        or task.family != FAMILY
        or task.state != "success"
        or params["name"] != "0.jpg"
    ):
        return None
    width, height = media.size_for(task.aspect_ratio)
    image = media.jpeg_bytes(width, height, media.colour_for(task.task_id, 1))
    return web.Response(body=image, content_type="image/jpeg")
