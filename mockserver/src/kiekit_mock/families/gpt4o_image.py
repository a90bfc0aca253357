"""4o Image (GPT-Image-1): its own generate, record-info and download-url paths.

kie-api.md §3.1 (DOCCOPY generate-4-o-image, get-4-o-image-details, get-4-o-image-download-url),
the guide's §2.1 for the two example bodies. What sets this family apart from Flux Kontext:

- no model field at all; ``size`` (1:1 / 3:2 / 2:3) is the one required field, and a prompt
  may be left out when ``filesUrl`` (≤5 images) is given;
- the record has millisecond int times, a ``status`` word beside ``successFlag``, and
  ``progress`` as a *string* "0.00"–"1.00";
- results are ``response.resultUrls`` in the record but ``data.info.result_urls`` (snake_case)
  in the callback (§6.2);
- the create call may answer 550 "queue full" (§7), and finished images get short-lived direct
  links from ``download-url`` (20 minutes, §8).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from .. import files
from ..envelope import ErrorAnswer, dumps, ok
from ..route_helpers import (
    account_of,
    json_body,
    optional_callback_url,
    origin_of,
    poll_task,
    runtime,
)
from ..state import Family, TaskSnapshot, TaskSpec, Transition
from .validation import (
    invalid,
    optional_bool,
    optional_enum,
    optional_str,
    optional_url,
    url_list,
)

ROUTES = web.RouteTableDef()

FAMILY: Family = "gpt4o-image"
MODEL = "gpt4o-image"  # KIE's 4o API names no model; the mock files its tasks under the path
SIZES = ("1:1", "3:2", "2:3")
N_VARIANTS = (1, 2, 4)
FALLBACK_MODELS = ("GPT_IMAGE_1", "FLUX_MAX")
MAX_FILES = 5
COST_PER_VARIANT = 6.0  # a mock figure, not KIE's price

# A prompt holding this makes the create call answer body code 550, as KIE does when its 4o
# queue is full (§3.1, §7): no task is created and nothing is charged.
QUEUE_FULL_MARKER = "[mock:queue-full]"
QUEUE_FULL_MSG = "Connection Denied – queue full"

# errorCode is an int (200/400/451/500, §3.1); "Failed to generate image" is one of the 500
# messages the record-info page lists.
FAIL_CODE = 500
FAIL_MSG = "Failed to generate image"
SUCCESS_MSG = "4o Image generated successfully."  # [INF] the callback page's text is not recorded

LINK_SECONDS = 20 * 60  # download-url links are valid 20 minutes (§3.1, §8)

# successFlag 0/1/2/3 ↔ status GENERATING / SUCCESS / CREATE_TASK_FAILED / GENERATE_FAILED (§3.1)
_WORDS = {0: "GENERATING", 1: "SUCCESS", 2: "CREATE_TASK_FAILED", 3: "GENERATE_FAILED"}
# [INF] progress is documented only as "0.00"–"1.00"; the mock steps it with the lifecycle
# stage, so it grows from poll to poll. A failed task keeps the last pending figure.
_PROGRESS = {
    "waiting": "0.00",
    "queuing": "0.33",
    "generating": "0.67",
    "success": "1.00",
    "fail": "0.67",
}


def _size(body: dict[str, Any]) -> str:
    value = body.get("size")
    if value is None or value == "":
        raise invalid("size cannot be empty")  # the only required field (§3.1)
    if value not in SIZES:
        raise invalid("size is not within the range of allowed options")
    return str(value)


def _n_variants(body: dict[str, Any]) -> int:
    value = body.get("nVariants")
    if value is None:
        return 1  # the documented default
    if type(value) is not int or value not in N_VARIANTS:  # an integer: not true, not 2.0
        raise invalid("nVariants is not within the range of allowed options")
    return value


def _check(body: dict[str, Any]) -> tuple[str, int, str]:
    """Validate a generate body; returns (size, nVariants, prompt or "")."""
    size = _size(body)
    prompt = optional_str(body, "prompt")
    files = url_list(body, "filesUrl", max_items=MAX_FILES, required=False) or []
    file_url = optional_url(body, "fileUrl")  # deprecated single-image form of filesUrl
    images = len(files) + (1 if file_url else 0)
    if images == 0 and not (prompt and prompt.strip()):
        # "Either fileUrl/filesUrl or prompt must be provided" (DOCCOPY generate-4-o-image)
        raise invalid("prompt cannot be empty when no filesUrl is given")
    if optional_url(body, "maskUrl") is not None and images == 0:
        # [INF] a mask marks what to change in a given image; without one it means nothing.
        # "When the filesUrl contains more than one image, this parameter is not available"
        # (same page) is read as "not used": such a body is accepted.
        raise invalid("maskUrl needs an image to edit in filesUrl")
    n_variants = _n_variants(body)
    for flag in ("isEnhance", "uploadCn", "enableFallback"):
        optional_bool(body, flag)
    # fallbackModel "takes effect when enableFallback is true"; alone it is accepted, unused
    optional_enum(body, "fallbackModel", FALLBACK_MODELS)
    return size, n_variants, prompt or ""


def _urls(task: TaskSnapshot) -> list[str] | None:
    return task.result_urls() or None


def record(task: TaskSnapshot) -> dict[str, Any]:
    """record-info ``data``, keyed and typed as the §3.1 example."""
    failed = task.state == "fail"
    urls = _urls(task)
    code, msg = task.failure(FAIL_CODE, FAIL_MSG)
    return {
        "taskId": task.task_id,
        "paramJson": task.param_json,
        "completeTime": task.completed_ms,
        "createTime": task.created_ms,
        "response": {"resultUrls": urls} if urls else None,
        "successFlag": task.success_flag,
        "status": _WORDS[task.success_flag],
        "errorCode": code if failed else None,
        "errorMessage": msg if failed else "",
        "progress": _PROGRESS[task.state],
    }


def callback_payload(transition: Transition) -> dict[str, Any]:
    """§3.1 / §6.2: taskId in data, ``info.result_urls`` in snake_case; info null on failure."""
    task = transition.task
    if task.state == "success":
        info = {"result_urls": task.result_urls()}
        return {"code": 200, "msg": SUCCESS_MSG, "data": {"taskId": task.task_id, "info": info}}
    code, msg = task.failure(FAIL_CODE, FAIL_MSG)
    return {"code": code, "msg": msg, "data": {"taskId": task.task_id, "info": None}}


@ROUTES.post("/api/v1/gpt4o-image/generate")
async def generate(request: web.Request) -> web.Response:
    body = await json_body(request)
    size, n_variants, prompt = _check(body)
    callback = optional_callback_url(body, "callBackUrl")
    if QUEUE_FULL_MARKER in prompt:
        raise ErrorAnswer(550, QUEUE_FULL_MSG)
    spec = TaskSpec(
        family=FAMILY,
        model=MODEL,
        request_body=body,
        callback_url=callback,
        param_json=dumps({k: v for k, v in body.items() if k != "callBackUrl"}),
        prompt=prompt,
        cost=COST_PER_VARIANT * n_variants,
        result_ext="png",
        result_count=n_variants,
        aspect_ratio=size,
        origin=origin_of(request),
    )
    task = runtime(request).store.create(account_of(request), spec)
    return ok({"taskId": task.task_id})


@ROUTES.get("/api/v1/gpt4o-image/record-info")
async def record_info(request: web.Request) -> web.Response:
    transition = poll_task(request, FAMILY, callback_payload)
    return ok(record(transition.task))


def _required_text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{field} cannot be empty")
    return value.strip()


def _file_index(task: TaskSnapshot, url: str, hosts: set[str]) -> int | None:
    """Which of the task's result files ``url`` names (a fresh link's query is ignored)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.netloc not in hosts:
        return None
    for index, own in enumerate(task.result_urls()):
        if urlsplit(own).path == parts.path:
            return index
    return None


@ROUTES.post("/api/v1/gpt4o-image/download-url")
async def download_url(request: web.Request) -> web.Response:
    """A fresh direct link to one of a finished task's images, valid 20 minutes.

    The 422 messages are the ones the download-url page lists ("record is null", "record status
    is not success"); a URL that is not the task's gets "url is wrong", KIE's real answer to the
    common download-url for a foreign URL (§4, HAR).
    """
    body = await json_body(request)
    task_id = _required_text(body, "taskId")
    url = _required_text(body, "url")
    task = runtime(request).store.find(task_id)
    if task is None or task.account_id != account_of(request) or task.family != FAMILY:
        raise invalid("record is null")
    if task.state != "success":
        raise invalid("record status is not success")
    index = _file_index(task, url, {urlsplit(task.origin).netloc, request.host})
    if index is None:
        raise invalid("url is wrong")
    # shaped like the documented presigned link (…png?X-Amz-…&X-Amz-Expires=1200&…), and it
    # expires after those 20 minutes of mock time (files.py)
    url = f"{origin_of(request)}/files/{task.task_id}/{index}.{task.result_ext}"
    return ok(files.presign(url, runtime(request).clock.now(), LINK_SECONDS))
