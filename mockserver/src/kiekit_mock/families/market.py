"""The unified market jobs API: createTask + recordInfo (kie-api.md §2.1–2.4), Grok Imagine models.

Shapes follow the recorded real traffic [OBS] where it differs from the docs: `param` is a JSON
string whose `input` member is itself a JSON string and which omits callBackUrl; pending records
carry `resultJson:""` and null fail/cost/complete fields; there is no `updateTime`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from ..envelope import KieError, dumps, ok
from ..state import TaskSnapshot, TaskSpec, Transition
from ..wire import (
    account_of,
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

PROMPT_MAX = 5000
ASPECT_RATIOS = ("2:3", "3:2", "1:1", "16:9", "9:16")
MODES = ("fun", "normal", "spicy")
RESOLUTIONS = ("480p", "720p")
FAIL_CODE = "500"  # failCode is a string (§2.2 failure example: "422")
FAIL_MSG = "Generation failed: the mock was asked to fail this task"

Input = dict[str, Any]


@dataclass(frozen=True)
class MarketModel:
    name: str
    check: Callable[[Input], Input]  # validates, returns the input as KIE stores it
    kind: Literal["image", "video"]
    results: int  # result URLs on success
    cost: float  # credits per task: mock figures, not KIE's price list


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
    )
}


def _param_json(model: str, stored_input: Input) -> str:
    # [OBS] §2.2: {"input":"<JSON string>","model":…}, no callBackUrl, compact, keys sorted
    inner = json.dumps(stored_input, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return dumps({"input": inner, "model": model})


def record(task: TaskSnapshot) -> dict[str, Any]:
    """recordInfo `data`, field for field as the recorded real answers (§2.2 [OBS])."""
    failed = task.state == "fail"
    succeeded = task.state == "success"
    return {
        "taskId": task.task_id,
        "model": task.model,
        "state": task.state,
        "param": task.param_json,
        "resultJson": dumps({"resultUrls": task.result_urls()}) if succeeded else "",
        "failCode": FAIL_CODE if failed else None,
        "failMsg": FAIL_MSG if failed else None,
        "costTime": task.cost_seconds,  # seconds, not ms (§2.2)
        "completeTime": task.completed_ms,
        "createTime": task.created_ms,
    }


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
        prompt=str(stored.get("prompt") or ""),
        cost=model.cost,
        result_ext="jpg" if model.kind == "image" else "mp4",  # CDN links end .jpg (§2.2 [OBS])
        result_count=model.results,
        aspect_ratio=aspect if isinstance(aspect, str) else None,
        origin=origin_of(request),
    )
    task = runtime(request).store.create(account_of(request), spec)
    # [OBS] §2.1: real answers carry recordId too, equal to taskId
    return ok({"taskId": task.task_id, "recordId": task.task_id})


@ROUTES.get("/api/v1/jobs/recordInfo")
async def record_info(request: web.Request) -> web.Response:
    rt = runtime(request)
    task_id = task_id_param(request)
    transition = rt.store.poll(account_of(request), task_id, "market")
    if transition is None:
        # §2.2 docs: 404 "Task not found"; another account's task is not found either
        raise KieError(404, "Task not found")
    rt.finish(transition, callback_payload)
    return ok(record(transition.task))
