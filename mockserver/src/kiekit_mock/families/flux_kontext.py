"""Flux Kontext: its own create and record-info paths (kie-api.md §3.2, guide §2.2).

camelCase request fields; status told by `successFlag` 0 GENERATING / 1 SUCCESS / 2
CREATE_TASK_FAILED (a create_failed outcome) / 3 GENERATE_FAILED; times as "YYYY-MM-DD HH:MM:SS"
strings, as in the doc example (§1 notes the legacy endpoints' string timestamps).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .. import files
from ..envelope import dumps, ok
from ..route_helpers import (
    account_of,
    json_body,
    optional_callback_url,
    origin_of,
    poll_task,
    runtime,
)
from ..state import TaskSnapshot, TaskSpec, Transition
from .validation import (
    optional_bool,
    optional_enum,
    optional_int,
    optional_str,
    optional_url,
    required_str,
)

ROUTES = web.RouteTableDef()

ASPECT_RATIOS = ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16", "16:21")
MODELS = ("flux-kontext-pro", "flux-kontext-max")
OUTPUT_FORMATS = ("jpeg", "png")
COSTS = {"flux-kontext-pro": 5.0, "flux-kontext-max": 10.0}  # mock figures, not KIE's prices
FAIL_CODE = 501  # errorCode is an int here, unlike the market's string failCode (§3.2, §7)
FAIL_MSG = "Image generation failed: the mock was asked to fail this task"


def _check(body: dict[str, Any]) -> tuple[str, str, str]:
    """Validate a generate body; returns (model, outputFormat, aspectRatio) with defaults."""
    required_str(body, "prompt")
    edit = optional_url(body, "inputImage") is not None
    aspect = optional_enum(body, "aspectRatio", ASPECT_RATIOS) or "16:9"
    model = optional_enum(body, "model", MODELS) or "flux-kontext-pro"
    output = optional_enum(body, "outputFormat", OUTPUT_FORMATS) or "jpeg"
    for flag in ("enableTranslation", "promptUpsampling", "uploadCn"):
        optional_bool(body, flag)
    optional_str(body, "watermark")
    # safetyTolerance: 0–6 when generating, 0–2 when editing (§3.2, guide §2.2)
    optional_int(body, "safetyTolerance", 0, 2 if edit else 6)
    return model, output, aspect


def _clock_text(ms: int | None) -> str | None:
    # [INF] the doc example shows "2025-06-06 10:30:00" without a zone; the mock uses UTC
    if ms is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def _images(task: TaskSnapshot) -> dict[str, str] | None:
    urls = task.result_urls()
    if not urls:
        return None
    # originImageUrl is BFL's own short-lived link (10 min, §8), resultImageUrl KIE's copy (§3.2);
    # in the mock both name the same file, the origin one presigned to expire 10 min after the end
    ended = (task.completed_ms or task.created_ms) / 1000
    origin = files.presign(urls[0], ended, files.FLUX_ORIGIN_SECONDS, fresh=False)
    return {"originImageUrl": origin, "resultImageUrl": urls[0]}


def record(task: TaskSnapshot) -> dict[str, Any]:
    """record-info `data` (D:flux-kontext-api/get-image-details)."""
    failed = task.state == "fail"
    flag = task.success_flag
    code, msg = task.failure(FAIL_CODE, FAIL_MSG)
    return {
        "taskId": task.task_id,
        "paramJson": task.param_json,
        "completeTime": _clock_text(task.completed_ms),
        "createTime": _clock_text(task.created_ms),
        "response": _images(task),
        "successFlag": flag,
        "errorCode": code if failed else None,
        "errorMessage": msg if failed else "",
    }


def callback_payload(transition: Transition) -> dict[str, Any]:
    """§3.2 / §6.2: taskId in data, the image links under data.info."""
    task = transition.task
    if task.state == "success":
        data = {"taskId": task.task_id, "info": _images(task)}
        return {"code": 200, "msg": "BFL image generated successfully.", "data": data}
    # [INF] failure text is not documented; code 501 = generation failed (§3.2)
    code, msg = task.failure(FAIL_CODE, FAIL_MSG)
    return {"code": code, "msg": msg, "data": {"taskId": task.task_id, "info": None}}


@ROUTES.post("/api/v1/flux/kontext/generate")
async def generate(request: web.Request) -> web.Response:
    body = await json_body(request)
    model, output, aspect = _check(body)
    callback = optional_callback_url(body, "callBackUrl")
    spec = TaskSpec(
        family="flux-kontext",
        model=model,
        request_body=body,
        callback_url=callback,
        param_json=dumps({k: v for k, v in body.items() if k != "callBackUrl"}),
        prompt=str(body["prompt"]),
        cost=COSTS[model],
        result_ext=output,  # the file really is a JPEG or a PNG, named after outputFormat
        result_count=1,
        aspect_ratio=aspect,
        origin=origin_of(request),
    )
    task = runtime(request).store.create(account_of(request), spec)
    return ok({"taskId": task.task_id})


@ROUTES.get("/api/v1/flux/kontext/record-info")
async def record_info(request: web.Request) -> web.Response:
    transition = poll_task(request, "flux-kontext", callback_payload)
    return ok(record(transition.task))
