"""Runway (generate, extend) and Runway Aleph: their own create and status paths.

kie-api.md §3.4 and the guide's §3.4. What sets Runway apart from every other family:

- record-detail speaks Runway's own state words, ``wait → queueing → generating → success |
  fail`` — not the market's ``waiting``/``queuing`` (§9.3); ``generateTime`` is a
  "YYYY-MM-DD HH:MM:SS" string; the video and its cover still sit under ``videoInfo``;
  ``failCode``/``failMsg`` are ``""`` until a failure, then ``"400"`` and its message —
  a string in every state, as the current record-detail page gives it (§3.4);
  ``expireFlag`` turns 1 when the files expire, 14 days after the task ended (files.py);
- an extension names an earlier task: only the caller's own succeeded Runway task qualifies;
- Aleph has its own record-info, successFlag-shaped (D:runway-api/get-aleph-video-details:
  ``response.resultVideoUrl``/``resultImageUrl``, ISO times, ``errorCode`` 0 on success), where
  a failed task keeps successFlag 0 and carries an ``errorMessage``;
- callbacks (§6.2): Runway's put ``task_id`` in ``data``, snake_case; Aleph's put ``taskId`` at
  the top level beside ``data.result_video_url``/``result_image_url``.

Task ids are the store's 32-hex ids: Runway's doc examples show UUIDs (§1), but the shared store
makes one kind of id for every family.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .. import files, media
from ..envelope import dumps, ok
from ..route_helpers import (
    account_of,
    is_http_url,
    json_body,
    optional_callback_url,
    origin_of,
    poll_task,
    runtime,
)
from ..runtime import Runtime
from ..state import Family, TaskSnapshot, TaskSpec, Transition
from .validation import (
    invalid,
    optional_bool,
    optional_enum,
    optional_int,
    optional_str,
    optional_url,
    required_str,
)

ROUTES = web.RouteTableDef()

RUNWAY: Family = "runway"
ALEPH: Family = "aleph"
# KIE's Runway paths name no model; the mock files tasks under kiekit's model ids for them
GENERATE_MODEL = "runway/generate"
EXTEND_MODEL = "runway/extend"
ALEPH_MODEL = "runway/aleph"

# §3.4 [SRC≠]: 5|10 on the current page, 5|8 on another version; both accepted
DURATIONS = (5, 8, 10)
SHORT_DURATION = 5  # 1080p only for the short video (§3.4, guide §3.4)
QUALITIES = ("720p", "1080p")
# 16:9 / 9:16 everywhere; 1:1, 4:3, 3:4 in the guide; 21:9 (and those) in the older zh-CN page
ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
SEED_MAX = 4_294_967_295  # Runway's seed range for Aleph

_WORDS = {  # the store's market vocabulary → Runway's (§3.4, §9.3)
    "waiting": "wait",
    "queuing": "queueing",
    "generating": "generating",
    "success": "success",
    "fail": "fail",
}
# §3.4 [SRC≠]: one version of the record-detail page shows failCode as the int 400 (with ids
# named id/parentId), the current one — the taskId/parentTaskId shape the mock follows — as a
# string, "" until a failure. One type in every state: "400" once failed.
FAIL_CODE = 400
FAIL_MSG = "Generation failed, please try again later"  # ibid.
RUNWAY_SUCCESS_MSG = "All generated successfully."  # §3.4 callback
COST_SHORT_720P = 12.0  # mock figures, not KIE's prices
COST_OTHER = 30.0
COST_ALEPH = 20.0
_VIDEO_IDS = uuid.UUID("3f6c2a8e-5b7d-4c1e-9a0f-6d2b8e4c7a15")  # namespace for stable videoIds


# --- create ----------------------------------------------------------------------------------


def _duration(body: dict[str, Any]) -> int:
    number = optional_int(body, "duration", min(DURATIONS), max(DURATIONS), strings_ok=True)
    if number is None:
        return SHORT_DURATION  # [INF] the current page's own example omits duration
    if number not in DURATIONS:
        raise invalid("duration is not within the range of allowed options")
    return number


def _quality(body: dict[str, Any], duration: int) -> str:
    quality = optional_enum(body, "quality", QUALITIES) or "720p"
    if quality == "1080p" and duration != SHORT_DURATION:
        # "if 1080p is selected, 10-second video cannot be generated" (D:runway-api/generate-…)
        raise invalid(f"quality 1080p is only available for {SHORT_DURATION}-second videos")
    return quality


def _check_generate(body: dict[str, Any]) -> tuple[str, float]:
    """Validate a generate body; returns (aspect ratio of the result, cost)."""
    required_str(body, "prompt")
    image = optional_url(body, "imageUrl")
    duration = _duration(body)
    quality = _quality(body, duration)
    aspect = optional_enum(body, "aspectRatio", ASPECT_RATIOS)
    if aspect is None and image is None:
        # "For text-only generation, aspect ratio must be explicitly specified" (§3.4)
        raise invalid("aspectRatio cannot be empty when no imageUrl is given")
    optional_str(body, "waterMark")
    return aspect or "16:9", _cost(duration, quality)


def _cost(duration: int, quality: str) -> float:
    return COST_SHORT_720P if (duration, quality) == (SHORT_DURATION, "720p") else COST_OTHER


def _parent(request: web.Request, body: dict[str, Any]) -> TaskSnapshot:
    """The succeeded Runway task an extension continues (§3.4 extend: ``taskId``)."""
    parent_id = required_str(body, "taskId")
    parent = runtime(request).store.find(parent_id)
    if parent is None or parent.account_id != account_of(request) or parent.family != RUNWAY:
        raise invalid("Record does not exist")  # one of KIE's 422 texts (§7)
    if parent.state != "success":
        raise invalid("record status is not success")  # KIE's text for the same case (§3.3)
    if not files.retained(parent, runtime(request).clock.now()):
        # its video is gone (record-detail says expireFlag 1, §3.4): nothing to extend. The
        # extend page is silent on it [INF from §8's retention]: Veo's 422 for it (§3.3)
        raise invalid(files.PAST_RETENTION)
    return parent


def _spec(
    request: web.Request,
    body: dict[str, Any],
    *,
    family: Family,
    model: str,
    cost: float,
    aspect_ratio: str,
) -> TaskSpec:
    return TaskSpec(
        family=family,
        model=model,
        request_body=body,
        callback_url=optional_callback_url(body, "callBackUrl"),
        param_json=dumps(_param(body)),
        prompt=str(body["prompt"]),
        cost=cost,
        result_ext="mp4",
        result_count=1,
        aspect_ratio=aspect_ratio,  # sizes the cover still
        origin=origin_of(request),
        id_style="uuid" if family == RUNWAY else "hex",  # Runway's ids are UUIDs (§1)
    )


def _param(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "callBackUrl"}


def _created(request: web.Request, spec: TaskSpec) -> web.Response:
    task = runtime(request).store.create(account_of(request), spec)
    return ok({"taskId": task.task_id})


@ROUTES.post("/api/v1/runway/generate")
async def generate(request: web.Request) -> web.Response:
    body = await json_body(request)
    aspect, cost = _check_generate(body)
    spec = _spec(request, body, family=RUNWAY, model=GENERATE_MODEL, cost=cost, aspect_ratio=aspect)
    return _created(request, spec)


@ROUTES.post("/api/v1/runway/extend")
async def extend(request: web.Request) -> web.Response:
    body = await json_body(request)
    required_str(body, "prompt")
    quality = optional_enum(body, "quality", QUALITIES) or "720p"
    optional_str(body, "waterMark")
    parent = _parent(request, body)
    spec = _spec(
        request,
        body,
        family=RUNWAY,
        model=EXTEND_MODEL,
        cost=_cost(SHORT_DURATION, quality),
        aspect_ratio=parent.aspect_ratio or "16:9",
    )
    return _created(request, spec)


@ROUTES.post("/api/v1/aleph/generate")
async def aleph_generate(request: web.Request) -> web.Response:
    body = await json_body(request)
    required_str(body, "prompt")
    if not is_http_url(required_str(body, "videoUrl")):
        raise invalid("videoUrl must be a valid http(s) URL")
    aspect = optional_enum(body, "aspectRatio", ASPECT_RATIOS)
    optional_int(body, "seed", 0, SEED_MAX)
    optional_url(body, "referenceImage")
    optional_str(body, "waterMark")
    optional_bool(body, "uploadCn")
    spec = _spec(
        request,
        body,
        family=ALEPH,
        model=ALEPH_MODEL,
        cost=COST_ALEPH,
        aspect_ratio=aspect or "16:9",
    )
    return _created(request, spec)


# --- status ----------------------------------------------------------------------------------


def _clock_text(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))  # [INF] UTC, no zone


def _iso(ms: int | None) -> str | None:
    # Aleph's example: "2023-08-15T14:30:45Z"
    return None if ms is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def _video_url(task: TaskSnapshot) -> str:
    return task.result_urls()[0]


def _cover_url(task: TaskSnapshot) -> str:
    return f"{task.origin}/files/{task.task_id}/cover/0.png"


def _video_id(task: TaskSnapshot) -> str:
    return str(uuid.uuid5(_VIDEO_IDS, task.task_id))  # stable from poll to poll


def record(task: TaskSnapshot, now: float | None = None) -> dict[str, Any]:
    """record-detail ``data``, keyed as the §3.4 example; ``now`` (mock clock) for expireFlag."""
    failed = task.state == "fail"
    code, msg = task.failure(FAIL_CODE, FAIL_MSG)
    video = None
    if task.state == "success":
        video = {
            "videoId": _video_id(task),
            "taskId": task.task_id,
            "videoUrl": _video_url(task),
            "imageUrl": _cover_url(task),
        }
    parent = task.request_body.get("taskId") if task.model == EXTEND_MODEL else None
    return {
        "taskId": task.task_id,
        "parentTaskId": parent or "",
        "generateParam": _param(task.request_body),
        "state": _WORDS[task.state],
        "generateTime": _clock_text(task.created_ms),
        "videoInfo": video,
        "failCode": str(code) if failed else "",
        "failMsg": msg if failed else "",
        # §3.4: 1 once the video is gone (14 days, files.RETENTION_SECONDS)
        "expireFlag": 0 if now is None or files.retained(task, now) else 1,
    }


def aleph_record(task: TaskSnapshot) -> dict[str, Any]:
    """Aleph record-info ``data`` (D:runway-api/get-aleph-video-details)."""
    succeeded, failed = task.state == "success", task.state == "fail"
    code, msg = task.failure(FAIL_CODE, FAIL_MSG)
    response = None
    if succeeded:
        response = {
            "taskId": task.task_id,
            "resultVideoUrl": _video_url(task),
            "resultImageUrl": _cover_url(task),
        }
    return {
        "taskId": task.task_id,
        "paramJson": task.param_json,
        "response": response,
        "completeTime": _iso(task.completed_ms),
        "createTime": _iso(task.created_ms),
        "successFlag": 1 if succeeded else 0,  # a failure keeps 0 and has an errorMessage
        "errorCode": 0 if succeeded else (code if failed else None),
        "errorMessage": msg if failed else "",
    }


def callback_payload(transition: Transition) -> dict[str, Any]:
    """§3.4 / §6.2: snake_case ``data.task_id``; codes 200 / 400 / 500."""
    task = transition.task
    if task.state == "success":
        data = {
            "task_id": task.task_id,
            "video_id": _video_id(task),
            "video_url": _video_url(task),
            "image_url": _cover_url(task),
        }
        return {"code": 200, "msg": RUNWAY_SUCCESS_MSG, "data": data}
    # [INF] the failure body is not documented beyond its codes
    code, msg = task.failure(FAIL_CODE, FAIL_MSG)
    return {"code": code, "msg": msg, "data": {"task_id": task.task_id}}


def aleph_callback_payload(transition: Transition) -> dict[str, Any]:
    """§3.4 / §6.2: ``taskId`` at the top level, the links in ``data``."""
    task = transition.task
    if task.state == "success":
        data = {"result_video_url": _video_url(task), "result_image_url": _cover_url(task)}
        return {"code": 200, "msg": "success", "data": data, "taskId": task.task_id}
    # [INF] the failure body is not documented
    code, msg = task.failure(FAIL_CODE, FAIL_MSG)
    return {"code": code, "msg": msg, "data": None, "taskId": task.task_id}


@ROUTES.get("/api/v1/runway/record-detail")
async def record_detail(request: web.Request) -> web.Response:
    transition = poll_task(request, RUNWAY, callback_payload)
    return ok(record(transition.task, runtime(request).clock.now()))


@ROUTES.get("/api/v1/aleph/record-info")
async def aleph_record_info(request: web.Request) -> web.Response:
    transition = poll_task(request, ALEPH, aleph_callback_payload)
    return ok(aleph_record(transition.task))


# --- the cover still -------------------------------------------------------------------------


@files.file_route(ROUTES, "/files/{task_id}/cover/{name}")
def cover_file(rt: Runtime, params: Mapping[str, str]) -> web.Response | None:
    """The PNG still ``videoInfo.imageUrl`` / ``resultImageUrl`` point at: public, like the
    video beside it under /files (files.py serves the one result file per task)."""
    task = rt.store.find(params["task_id"])
    if task is None or task.family not in (RUNWAY, ALEPH) or task.state != "success":
        return None
    if params["name"] != "0.png":
        return None
    width, height = media.size_for(task.aspect_ratio)
    colour = media.colour_for(task.task_id + "/cover", 0)
    return web.Response(body=media.png_bytes(width, height, colour), content_type="image/png")
