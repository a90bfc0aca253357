"""Midjourney: its own generate and record-info paths (kie-api.md §3.7).

Sources: KIE's pages docs.kie.ai/mj-api/generate-mj-image (the body's schema),
/mj-api/get-mj-task-details (the record), /mj-api/generate-mj-image-callbacks (the callback) and
/mj-api/quickstart, and real record-info answers a public test harness kept (HautechAI/test-mj-api,
October 2025: [OBS] below). What sets this family apart:

- ``taskType`` picks the job: ``mj_txt2img``, ``mj_img2img``, ``mj_style_reference``,
  ``mj_omni_reference``, ``mj_video``, ``mj_video_hd``; ``prompt`` (at most 2000 characters) and
  ``taskType`` are required. ``speed`` (relaxed, fast, turbo) is "not required" for the video and
  omni-reference types only, so the others need it; the one message for it clients have seen is
  "The speed parameter is incorrect.". The image types other than text-to-image, and video, take
  image links as ``fileUrls`` (or the older single ``fileUrl``); video takes exactly one;
- the record keeps camelCase and a ``successFlag``: 0 generating, 1 success, 2 failed, 3 created
  but generation failed. Its times are Unix milliseconds [OBS] where the page's example shows
  ISO text, and its results are an object ``resultInfoJson: {resultUrls: [{resultUrl}]}``: four
  JPEGs for an image job [OBS], ``videoBatchSize`` MP4s for a video one [INF];
- ``paramJson`` holds the parameters with sorted keys and KIE's defaults filled in
  (``enableTranslation: true``, ``motion: "high"``, ``videoBatchSize: 1``) [OBS];
- the callback is shaped apart from the record: ``data: {taskId, promptJson, resultUrls}`` with
  plain string links, code 200 or 500 (the only two documented);
- an unknown task id answers 422 "The record does not exist", as KIE's other record-info paths
  of this generation do (Flux Kontext's and 4o Image's, recorded) [INF for Midjourney].

Follow-ups of a finished image job: ``POST /api/v1/mj/generateUpscale`` and
``/api/v1/mj/generateVary`` (docs.kie.ai/mj-api/upscale and /mj-api/vary; their schema read
from the stored copy of the same pages, docs.midapi.ai/mj-api/upscale and /vary), each
``{taskId, imageIndex, waterMark?, callBackUrl?}`` → ``data: {taskId}``, a task record-info and
the callback report like any other. ``taskId`` (the image job's) and ``imageIndex`` are
required, "0 <= x <= 3" (the vary page's notes say "1-4" [SRC≠]: the schema is kept). The
pages give no taskType, result count or refusal text for them: the mock's record says
``mj_upscale`` / ``mj_vary`` [INF], an upscale makes one image and a variation four [INF, as
Midjourney's own U and V buttons], and a parent that is no succeeded image job of the caller is
refused 422 "The record does not exist" or "record status is not success" [INF, Veo's texts].

KIE keeps these files 15 days where its other media keep 14 (§8), and so does the mock.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

# Only the public extension API, as Luma: a family the mock serves by default, plugged in the
# way another package's would be
from kiekit_mock.extension import (
    ErrorAnswer,
    FamilyExtension,
    Paths,
    TaskSnapshot,
    TaskSpec,
    Transition,
    account_of,
    dumps,
    invalid,
    json_body,
    kie_operation,
    ok,
    optional_bool,
    optional_callback_url,
    optional_enum,
    optional_int,
    optional_str,
    optional_url,
    origin_of,
    poll_task,
    required_str,
    runtime,
    schema,
    url_list,
)

ROUTES = web.RouteTableDef()

FAMILY = "midjourney"
GENERATE_PATH, RECORD_PATH = "/api/v1/mj/generate", "/api/v1/mj/record-info"
UPSCALE_PATH, VARY_PATH = "/api/v1/mj/generateUpscale", "/api/v1/mj/generateVary"
FOLLOW_UPS = {UPSCALE_PATH: "mj_upscale", VARY_PATH: "mj_vary"}  # [INF] their record's taskType
FOLLOW_UP_IMAGES = {"mj_upscale": 1, "mj_vary": 4}  # [INF] see above
FOLLOW_UP_COSTS = {"mj_upscale": 2.0, "mj_vary": 4.0}  # mock figures, not KIE's prices

IMAGE_TYPES = ("mj_txt2img", "mj_img2img", "mj_style_reference", "mj_omni_reference")
VIDEO_TYPES = ("mj_video", "mj_video_hd")
TASK_TYPES = IMAGE_TYPES + VIDEO_TYPES
RECORD_TYPES = (*TASK_TYPES, "mj_upscale", "mj_vary")  # what a record's taskType may be
NO_SPEED = ("mj_omni_reference", *VIDEO_TYPES)  # "speed is not required" for these
NO_IMAGE = ("mj_txt2img",)  # every other type works from an image link
SPEEDS = ("relaxed", "fast", "turbo")
ASPECT_RATIOS = ("1:2", "9:16", "2:3", "3:4", "5:6", "6:5", "4:3", "3:2", "1:1", "16:9", "2:1")
VERSIONS = ("7", "6.1", "6", "5.2", "5.1", "niji6")
MOTIONS = ("high", "low")
BATCH_SIZES = (1, 2, 4)
PROMPT_MAX = 2000
ANY_NUMBER = 2**31  # a list the pages bound by no count
IMAGES_PER_TASK = 4  # every image job's record and callback example, and real records [OBS]
COSTS = {"relaxed": 3.0, "fast": 8.0, "turbo": 16.0}  # mock figures, not KIE's prices
VIDEO_COST = 60.0

FAIL_CODE = 501  # §7: 501 = generation failed; errorCode is an int on this record
FAIL_MSG = "Image generation failed: the mock was asked to fail this task"
SPEED_MSG = "The speed parameter is incorrect."  # the message clients report (see above)
NOT_FOUND = ErrorAnswer(422, "The record does not exist")
CALLBACK_FAIL_MSG = "Image generation failed"  # the callbacks page's failure example


def _images(body: dict[str, Any], task_type: str) -> list[str] | None:
    """The image links, from ``fileUrls`` or the older ``fileUrl`` ("" for none, as KIE's own
    stored parameters have it)."""
    most = 1 if task_type in VIDEO_TYPES else ANY_NUMBER  # video: one; otherwise no limit given
    links = url_list(body, "fileUrls", max_items=most, required=False)
    if links is None and body.get("fileUrl") != "":
        single = optional_url(body, "fileUrl")
        links = None if single is None else [single]
    if links is None and task_type not in NO_IMAGE:
        raise invalid(f"fileUrls cannot be empty for {task_type}")
    return links


def _check(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a generate body; returns the parameters as KIE stores them (paramJson)."""
    task_type = body.get("taskType")
    if task_type is None or task_type == "":
        raise invalid("taskType cannot be empty")
    if task_type not in TASK_TYPES:
        raise invalid("taskType is not within the range of allowed options")
    prompt = required_str(body, "prompt", PROMPT_MAX)
    speed = body.get("speed")
    if (speed is None and task_type not in NO_SPEED) or (speed is not None and speed not in SPEEDS):
        raise invalid(SPEED_MSG)
    links = _images(body, task_type)
    stored: dict[str, Any] = {
        "taskType": task_type,
        "prompt": prompt,
        "enableTranslation": optional_bool(body, "enableTranslation") is not False,  # [OBS]
        "motion": optional_enum(body, "motion", MOTIONS) or "high",
        "videoBatchSize": _batch_size(body),
    }
    if speed is not None:
        stored["speed"] = speed
    if links is not None:
        stored["fileUrls"] = links
    for field, allowed in (("aspectRatio", ASPECT_RATIOS), ("version", VERSIONS)):
        value = optional_enum(body, field, allowed)
        if value is not None:
            stored[field] = value
    for field, high, low in (("variety", 100, 0), ("stylization", 1000, 0), ("weirdness", 3000, 0)):
        number = optional_int(body, field, low, high)
        if number is not None:
            stored[field] = number
    omni = optional_int(body, "ow", 1, 1000)
    if omni is not None:
        stored["ow"] = omni
    watermark = optional_str(body, "waterMark")
    if watermark:
        stored["waterMark"] = watermark
    if body.get("callBackUrl"):
        stored["callBackUrl"] = body["callBackUrl"]
    return dict(sorted(stored.items()))  # KIE's paramJson lists its keys in order [OBS]


def _batch_size(body: dict[str, Any]) -> int:
    # [INF] the pages give 1, 2 or 4 and no JSON type: a whole float (2.0) is the number 2, as
    # JSON has one number type; text ("2") is refused. kiekit-midjourney reads it the same way.
    value = body.get("videoBatchSize", 1)
    if isinstance(value, bool) or value not in BATCH_SIZES:
        raise invalid("videoBatchSize is not within the range of allowed options")
    return int(value)


def _flag(task: TaskSnapshot) -> int:
    return task.success_flag  # a failed generation is 3 [INF], a failed create 2


def record(task: TaskSnapshot) -> dict[str, Any]:
    """record-info ``data``, keys in the order of the real answers [OBS]."""
    flag = _flag(task)
    code, msg = task.failure(FAIL_CODE, FAIL_MSG)
    results = None
    if flag == 1:
        results = {"resultUrls": [{"resultUrl": url} for url in task.result_urls()]}
    return {
        "taskId": task.task_id,
        "taskType": task.request_body["taskType"],
        "paramJson": task.param_json,
        "completeTime": task.completed_ms if flag else None,
        "resultInfoJson": results,
        "successFlag": flag,
        "createTime": task.created_ms,
        "errorCode": code if flag in (2, 3) else None,
        "errorMessage": msg if flag in (2, 3) else None,
    }


def callback_payload(transition: Transition) -> dict[str, Any]:
    """The callbacks page: ``promptJson`` and plain result links; 200, else 500."""
    task = transition.task
    data: dict[str, Any] = {"taskId": task.task_id, "promptJson": task.param_json}
    if task.state == "success":
        return {"code": 200, "msg": "success", "data": data | {"resultUrls": task.result_urls()}}
    return {"code": 500, "msg": CALLBACK_FAIL_MSG, "data": data | {"resultUrls": []}}


@ROUTES.post(GENERATE_PATH)
async def generate(request: web.Request) -> web.Response:
    body = await json_body(request)
    stored = _check(body)
    callback = optional_callback_url(body, "callBackUrl")
    video = stored["taskType"] in VIDEO_TYPES
    spec = TaskSpec(
        family=FAMILY,
        model=stored["taskType"],  # KIE names the job, not a model: its taskType is the id
        request_body=body,
        callback_url=callback,
        param_json=dumps(stored),
        prompt=str(stored["prompt"]),
        cost=VIDEO_COST if video else COSTS[stored.get("speed", "fast")],
        result_ext="mp4" if video else "jpeg",
        result_count=stored["videoBatchSize"] if video else IMAGES_PER_TASK,
        aspect_ratio=stored.get("aspectRatio"),
        origin=origin_of(request),
    )
    task = runtime(request).store.create(account_of(request), spec)
    return ok({"taskId": task.task_id})


def _follow_up_parent(request: web.Request, body: dict[str, Any]) -> TaskSnapshot:
    """The caller's succeeded image job an upscale or variation picks an image of."""
    parent_id = required_str(body, "taskId")
    parent = runtime(request).store.find(parent_id)
    if (
        parent is None
        or parent.account_id != account_of(request)
        or parent.family != FAMILY
        or parent.request_body.get("taskType") not in IMAGE_TYPES  # a video: no image grid
    ):
        raise NOT_FOUND
    if parent.state != "success":
        raise invalid("record status is not success")
    return parent


async def _follow_up(request: web.Request) -> web.Response:
    task_type = FOLLOW_UPS[request.path]
    body = await json_body(request)
    index = body.get("imageIndex")
    if index is None:
        raise invalid("imageIndex cannot be empty")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= 3:
        raise invalid("imageIndex is not within the range of allowed options")
    watermark = optional_str(body, "waterMark")
    callback = optional_callback_url(body, "callBackUrl")
    parent = _follow_up_parent(request, body)
    stored: dict[str, Any] = {"taskId": parent.task_id, "imageIndex": index}
    if watermark:
        stored["waterMark"] = watermark
    if body.get("callBackUrl"):
        stored["callBackUrl"] = body["callBackUrl"]
    spec = TaskSpec(
        family=FAMILY,
        model=task_type,
        request_body={**body, "taskType": task_type},  # what record() reports as taskType
        callback_url=callback,
        param_json=dumps(dict(sorted(stored.items()))),
        prompt="",  # fails only when a test says so (MockServer.set_outcome), as Veo's 4K
        cost=FOLLOW_UP_COSTS[task_type],
        result_ext="jpeg",
        result_count=FOLLOW_UP_IMAGES[task_type],
        aspect_ratio=parent.aspect_ratio,
        origin=origin_of(request),
    )
    task = runtime(request).store.create(account_of(request), spec)
    return ok({"taskId": task.task_id})


@ROUTES.post(UPSCALE_PATH)
async def generate_upscale(request: web.Request) -> web.Response:
    return await _follow_up(request)


@ROUTES.post(VARY_PATH)
async def generate_vary(request: web.Request) -> web.Response:
    return await _follow_up(request)


@ROUTES.get(RECORD_PATH)
async def record_info(request: web.Request) -> web.Response:
    transition = poll_task(request, FAMILY, callback_payload, not_found=NOT_FOUND)
    return ok(record(transition.task))


# -- its place in the mock's OpenAPI document -------------------------------------------------

BODY = schema.obj(
    {
        "taskType": schema.enum(TASK_TYPES),
        "prompt": schema.required_text(),
        "speed": schema.enum(SPEEDS),
        "fileUrls": {"type": "array", "items": schema.url()},
        "fileUrl": schema.url(),
        "aspectRatio": schema.enum(ASPECT_RATIOS),
        "version": schema.enum(VERSIONS),
        "variety": {"type": "integer", "minimum": 0, "maximum": 100},
        "stylization": {"type": "integer", "minimum": 0, "maximum": 1000},
        "weirdness": {"type": "integer", "minimum": 0, "maximum": 3000},
        "ow": {"type": "integer", "minimum": 1, "maximum": 1000},
        "waterMark": schema.text(),
        "enableTranslation": {"type": "boolean"},
        "videoBatchSize": schema.enum(BATCH_SIZES),
        "motion": schema.enum(MOTIONS),
        "callBackUrl": {"anyOf": [schema.url(), {"const": ""}]},  # "": none (§1)
    },
    ["taskType", "prompt"],
)
RECORD = schema.strict(
    {
        "taskId": schema.STRING,
        "taskType": schema.enum(RECORD_TYPES),
        "paramJson": schema.STRING,
        "completeTime": schema.nullable(schema.INT),
        "resultInfoJson": schema.nullable(
            schema.strict(
                {
                    "resultUrls": {
                        "type": "array",
                        "items": schema.strict({"resultUrl": schema.STRING}),
                    }
                }
            )
        ),
        "successFlag": schema.enum((0, 1, 2, 3)),
        "createTime": schema.INT,
        "errorCode": schema.nullable(schema.INT),
        "errorMessage": schema.nullable(schema.STRING),
    }
)


FOLLOW_UP_BODY = schema.obj(
    {
        "taskId": schema.required_text(),
        "imageIndex": {"type": "integer", "minimum": 0, "maximum": 3},
        "waterMark": schema.text(),
        "callBackUrl": {"anyOf": [schema.url(), {"const": ""}]},
    },
    ["taskId", "imageIndex"],
)


def openapi_paths() -> Paths:
    created = schema.strict({"taskId": schema.STRING})
    query = {"taskId": schema.required_text()}
    return {
        GENERATE_PATH: {"post": kie_operation("Midjourney generate", created, tag="mj", body=BODY)},
        UPSCALE_PATH: {
            "post": kie_operation("Midjourney upscale", created, tag="mj", body=FOLLOW_UP_BODY)
        },
        VARY_PATH: {
            "post": kie_operation("Midjourney vary", created, tag="mj", body=FOLLOW_UP_BODY)
        },
        RECORD_PATH: {"get": kie_operation("Midjourney record", RECORD, tag="mj", query=query)},
    }


EXTENSION = FamilyExtension(
    name=FAMILY,
    routes=ROUTES,
    callback_payload=callback_payload,
    openapi_paths=openapi_paths,
    status_paths={GENERATE_PATH: RECORD_PATH, UPSCALE_PATH: RECORD_PATH, VARY_PATH: RECORD_PATH},
    # [INF] the generate page lists 400 "Invalid request parameters" beside 422; moderation as
    # Flux Kontext's
    moderation=(400, "Your prompt was flagged by content moderation"),
    retention_days=15,  # the generate page and quickstart: "retained for 15 days" (§8)
)
