"""Luma Modify (video-to-video): its own generate and record-info paths (kie-api.md §3.5).

What sets this family apart:

- no model field; ``prompt`` and ``videoUrl`` are required, ``watermark`` optional (D:luma-api
  generate page, guide §3.5). The input video's limits (MP4/MOV/AVI, ≤500 MB, ≤10 s) need the
  file itself; the mock never fetches it, so it checks only that ``videoUrl`` is an http(s) URL;
- ``successFlag`` has a fifth value, 4 CALLBACK_FAILED: the video was generated, only the
  delivery of the callback failed (§3.5, §6.1). The mock reaches it faithfully: a task whose
  callBackUrl is loopback and whose delivery fails (connection refused, timeout, a non-2xx
  answer) reports 4 once that delivery has failed. While the delivery is in flight the record
  still says 0, so the flag a poller sees never changes after it first turns final ([INF]: KIE
  does not document the record during its callback attempts). A callback to any other host is
  never sent (callbacks.py), so it cannot fail: such tasks report 1;
- the record's ``paramJson`` and the callback's ``promptJson`` keep the callBackUrl and spell the
  watermark ``waterMark`` (DOCCOPY get-luma-modify-details / generate-luma-modify-video-callbacks
  examples: ``{"callBackUrl":…,"prompt":…,"videoUrl":…,"waterMark":""}``); times are Unix
  milliseconds, and ``response`` carries ``taskId``, ``originUrls`` (the input video) and
  ``resultUrls`` (same page).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

# Only the public extension API, as a family from another package would: Luma is the proof
from kiekit_mock.extension import (
    FamilyExtension,
    Paths,
    Runtime,
    TaskSnapshot,
    TaskSpec,
    Transition,
    account_of,
    dumps,
    invalid,
    is_http_url,
    json_body,
    kie_operation,
    last_delivery,
    ok,
    optional_callback_url,
    optional_str,
    origin_of,
    poll_task,
    required_str,
    runtime,
    schema,
)

ROUTES = web.RouteTableDef()

FAMILY = "luma"
# KIE's Luma API names no model; the mock files its tasks under the product's name.
MODEL = "luma/modify"
COST = 30.0  # a mock figure, not KIE's price

FAIL_CODE = 501  # §3.5 / §7: 501 = generation failed; errorCode is an int
FAIL_MSG = "Video generation failed: the mock was asked to fail this task"
CALLBACK_OK_MSG = "Modify record generated successfully."  # §3.5 callback example
CALLBACK_FAIL_CODE = 500  # the callback page documents 200 and 500 only (§3.5)
CALLBACK_FAIL_MSG = "Modify record generation failed."  # DOCCOPY callbacks page, failure example


def _video_url(body: dict[str, Any]) -> str:
    value = body.get("videoUrl")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid("videoUrl cannot be empty")
    if not isinstance(value, str) or not is_http_url(value):
        # the quickstart's "Invalid Video URL (Code 422)" case
        raise invalid("videoUrl must be a valid http(s) URL")
    return value


def _watermark(body: dict[str, Any]) -> str:
    # The generate page documents `watermark`; KIE's stored parameters spell it `waterMark`
    # (DOCCOPY examples). Both are accepted; the documented spelling wins when both are given.
    given = optional_str(body, "watermark")
    stored = optional_str(body, "waterMark")
    return given if given is not None else (stored or "")


def _check(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a generate body; returns KIE's stored parameters (paramJson / promptJson)."""
    prompt = required_str(body, "prompt")
    video_url = _video_url(body)
    watermark = _watermark(body)
    stored: dict[str, Any] = {}
    callback = body.get("callBackUrl")
    if callback:
        stored["callBackUrl"] = callback
    stored |= {"prompt": prompt, "videoUrl": video_url, "waterMark": watermark}
    return stored


def _flag(rt: Runtime, task: TaskSnapshot) -> tuple[int, str | None]:
    """successFlag and, for flag 4, why the callback failed."""
    if task.state == "fail":
        return task.success_flag, None  # 2 CREATE_TASK_FAILED or 3 GENERATE_FAILED
    if task.state != "success":
        return 0, None  # GENERATING
    if task.outcome.kind == "callback_fail":
        return 4, "the mock was asked to fail this callback"  # an outcome rule's choice
    delivery = last_delivery(rt, task)
    if delivery is None or delivery.delivered:
        return 1, None  # SUCCESS
    if delivery.reason == "pending":
        return 0, None  # the callback is still being delivered
    return 4, delivery.reason  # CALLBACK_FAILED: the video exists, the callback did not arrive


def record(rt: Runtime, task: TaskSnapshot) -> dict[str, Any]:
    """record-info ``data``: §3.5's keys in its order, typed as the DOCCOPY example."""
    flag, callback_error = _flag(rt, task)
    done = flag in (1, 2, 3, 4)
    response = None
    if flag in (1, 4):
        response = {
            "taskId": task.task_id,
            "originUrls": [task.request_body["videoUrl"]],
            "resultUrls": task.result_urls(),
        }
    error_message: str | None = None
    code, msg = task.failure(FAIL_CODE, FAIL_MSG)
    if flag in (2, 3):
        error_message = msg
    elif flag == 4:
        # [INF] KIE's quickstart prints errorMessage as the "callback error" of flag 4
        error_message = f"Callback failed: {callback_error}"
    return {
        "taskId": task.task_id,
        "paramJson": task.param_json,
        "completeTime": task.completed_ms if done else None,
        "response": response,
        "successFlag": flag,
        "errorCode": code if flag in (2, 3) else None,
        "errorMessage": error_message,
        "createTime": task.created_ms,
    }


def callback_payload(transition: Transition) -> dict[str, Any]:
    """§3.5 / §6.2: taskId in data, the stored parameters as promptJson, resultUrls on success."""
    task = transition.task
    data: dict[str, Any] = {"taskId": task.task_id, "promptJson": task.param_json}
    if task.state == "success":
        data["resultUrls"] = task.result_urls()
        return {"code": 200, "msg": CALLBACK_OK_MSG, "data": data}
    # the failure example carries no resultUrls ("only present on successful completion")
    return {"code": CALLBACK_FAIL_CODE, "msg": CALLBACK_FAIL_MSG, "data": data}


@ROUTES.post("/api/v1/modify/generate")
async def generate(request: web.Request) -> web.Response:
    body = await json_body(request)
    stored = _check(body)
    callback = optional_callback_url(body, "callBackUrl")
    spec = TaskSpec(
        family=FAMILY,
        model=MODEL,
        request_body=body,
        callback_url=callback,
        param_json=dumps(stored),
        prompt=str(stored["prompt"]),
        cost=COST,
        result_ext="mp4",
        result_count=1,
        aspect_ratio=None,
        origin=origin_of(request),
    )
    task = runtime(request).store.create(account_of(request), spec)
    return ok({"taskId": task.task_id})


@ROUTES.get("/api/v1/modify/record-info")
async def record_info(request: web.Request) -> web.Response:
    transition = poll_task(request, FAMILY, callback_payload)
    return ok(record(runtime(request), transition.task))


# -- its place in the mock's OpenAPI document -------------------------------------------------

GENERATE_PATH, RECORD_PATH = "/api/v1/modify/generate", "/api/v1/modify/record-info"
BODY = schema.obj(
    {
        "prompt": schema.required_text(),
        "videoUrl": schema.url(),
        "watermark": schema.text(),
        "waterMark": schema.text(),
        "callBackUrl": {"anyOf": [schema.url(), {"const": ""}]},  # "": none (§1)
    },
    ["prompt", "videoUrl"],
)
RECORD = schema.strict(
    {
        "taskId": schema.STRING,
        "paramJson": schema.STRING,
        "completeTime": schema.nullable(schema.INT),
        "response": schema.nullable(
            schema.strict(
                {
                    "taskId": schema.STRING,
                    "originUrls": schema.STRINGS,
                    "resultUrls": schema.STRINGS,
                }
            )
        ),
        "successFlag": schema.enum((0, 1, 2, 3, 4)),  # 4: CALLBACK_FAILED (§3.5)
        "errorCode": schema.nullable(schema.INT),
        "errorMessage": schema.nullable(schema.STRING),
        "createTime": schema.INT,
    }
)


def openapi_paths() -> Paths:
    created = schema.strict({"taskId": schema.STRING})
    query = {"taskId": schema.required_text()}
    return {
        GENERATE_PATH: {
            "post": kie_operation("Luma Modify generate", created, tag="luma", body=BODY)
        },
        RECORD_PATH: {"get": kie_operation("Luma Modify record", RECORD, tag="luma", query=query)},
    }


EXTENSION = FamilyExtension(
    name=FAMILY,
    routes=ROUTES,
    callback_payload=callback_payload,
    openapi_paths=openapi_paths,
    status_paths={GENERATE_PATH: RECORD_PATH},
    # §3.5: Luma lists no 400; 422 is its validation code [INF]
    moderation=(422, "Your prompt was flagged by content moderation"),
)
