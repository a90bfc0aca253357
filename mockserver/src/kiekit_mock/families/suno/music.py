"""Suno songs: generate, extend, upload-cover, upload-extend, add-instrumental, add-vocals,
replace-section, and ``GET /api/v1/generate/record-info`` for all of them (kie-api.md §3.6, §6.2).

What sets them apart:

- ``callBackUrl`` is required (422 "Please enter callBackUrl."); ``model``, ``customMode`` and
  ``instrumental`` too, with the custom-mode rules and per-version lengths of KIE's
  generate-music page;
- two tracks a task. The record's ``status`` walks PENDING → TEXT_SUCCESS → FIRST_SUCCESS →
  SUCCESS on the store's stages (waiting → queuing → generating → success): at TEXT_SUCCESS the
  tracks have ids, titles and stream links but no ``audioUrl``; at FIRST_SUCCESS the first
  track is done; a task set to fail (an extend of an audioId the caller never got, #13; a fail
  marker) stays at TEXT_SUCCESS, with no audio and no ``first`` callback, until it fails;
  a failed task reports GENERATE_AUDIO_FAILED, errorCode 501, ``sunoData: []``
  (the quickstart's failure example);
- callbacks are staged, snake_case, ``data.task_id``: ``text``, ``first`` and ``complete``
  ``callbackType``s as the task reaches each stage (each stage is owed once, in order, even
  when one poll crosses several), ``error`` on failure (§3.6). A manual ``MockServer.advance``
  sends only the final one;
- a succeeded task whose loopback ``complete`` callback failed reports CALLBACK_EXCEPTION with
  its tracks — Luma's flag 4 emulated the same way — and FIRST_SUCCESS while it is in flight,
  so the final status a poller sees never changes.

replace-section (the path form of KIE's replace-section page,
https://docs.kie.ai/old-model/suno-api/replace-section, and its callbacks page) takes a track
the caller has (``taskId`` of a finished song task, ``audioId`` one of its tracks: 422 "Record
does not exist" otherwise, as the other operations on a song), ``prompt``, ``tags``, ``title``,
``fullLyrics``, ``infillStartS`` < ``infillEndS`` (seconds) and an optional ``negativeTags``;
no ``model``. Its callbacks page sends the ``complete`` callback only, with one track (the
page's example): no staged ones.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...envelope import ErrorAnswer, dumps, ok
from ...route_helpers import account_of, json_body, origin_of, runtime
from ...rules import Outcome
from ...runtime import Runtime
from ...state import TaskSnapshot, TaskSpec, Transition
from ..validation import (
    invalid,
    optional_bool,
    optional_enum,
    optional_number,
    optional_str,
    optional_url,
    required_str,
)
from . import common
from .common import (
    ADD_INSTRUMENTAL,
    ADD_VOCALS,
    EXTEND,
    FAMILY,
    GENERATE,
    MUSIC,
    REPLACE_SECTION,
    TRACKS_PER_TASK,
    UPLOAD_COVER,
    UPLOAD_EXTEND,
)

ROUTES = web.RouteTableDef()

VERSIONS = ("V3_5", "V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5")
# custom mode: (prompt, style, title) lengths per version (generate-music page)
LIMITS = {
    "V3_5": (3000, 200, 80),
    "V4": (3000, 200, 80),
    "V4_5": (5000, 1000, 100),
    "V4_5PLUS": (5000, 1000, 100),
    "V4_5ALL": (5000, 1000, 80),
    "V5": (5000, 1000, 100),
    "V5_5": (5000, 1000, 100),
}
SIMPLE_PROMPT_MAX = 500
# [INF] The add-instrumental and add-vocals pages give no lengths: their text fields are held to
# the longest any version takes in custom mode (as kiekit-suno holds them)
WIDEST = tuple(max(limits[i] for limits in LIMITS.values()) for i in range(3))
COST = 12.0  # a mock figure, not KIE's price
OPERATIONS = {  # the record's operationType (APICITY suno.ts; the last two [INF])
    GENERATE: "generate",
    EXTEND: "extend",
    UPLOAD_COVER: "upload_cover",
    UPLOAD_EXTEND: "upload_extend",
    ADD_INSTRUMENTAL: "add_instrumental",
    ADD_VOCALS: "add_vocals",
    REPLACE_SECTION: "replace_section",  # [INF] as the others
}
UPLOADS = (UPLOAD_COVER, UPLOAD_EXTEND, ADD_INSTRUMENTAL, ADD_VOCALS)

STATUS = {"waiting": "PENDING", "queuing": "TEXT_SUCCESS", "generating": "FIRST_SUCCESS"}
STAGES = ("text", "first", "complete")  # callbackType in the order KIE sends them (§3.6)
DUE = {"queuing": 1, "generating": 2, "success": 3}  # how many of STAGES a state has reached
FAIL_MSG = "Audio generation failed: the mock was asked to fail this task"
OK_MSG = "All generated successfully."  # the callbacks page's text
STAGE_MSGS = {  # [INF] the pages show only the complete callback's text
    "text": "Text generation completed successfully.",
    "first": "First audio generated successfully.",
    "complete": OK_MSG,
}


# --- validation ------------------------------------------------------------------------------


def _required_bool(body: dict[str, Any], field: str) -> bool:
    value = optional_bool(body, field)
    if value is None:
        raise invalid(f"{field} cannot be empty")
    return value


def _version(body: dict[str, Any]) -> str:
    value = optional_enum(body, "model", VERSIONS)
    if value is None:
        raise invalid("model cannot be empty")
    return value


def _sound(body: dict[str, Any]) -> str:
    """The fields every song operation takes; returns the version."""
    version = _version(body)
    optional_str(body, "negativeTags")
    optional_enum(body, "vocalGender", ("m", "f"))
    for field in ("styleWeight", "weirdnessConstraint", "audioWeight"):
        weight = optional_number(body, field, 0)
        if weight is not None and weight > 1:
            raise invalid(f"{field} must be between 0 and 1")
    optional_str(body, "personaId")
    return version


def _limit(body: dict[str, Any], field: str, limit: int) -> None:
    optional_str(body, field, max_len=limit)


def _described(body: dict[str, Any]) -> None:
    """generate and upload-cover: the custom-mode rules (generate-music page)."""
    version = _sound(body)
    custom = _required_bool(body, "customMode")
    instrumental = _required_bool(body, "instrumental")
    if not custom:
        required_str(body, "prompt", max_len=SIMPLE_PROMPT_MAX)
        for field in ("style", "title"):
            # [INF] the page: without custom mode "other parameters should be left empty"; what
            # KIE answers otherwise is not recorded, so the usual 422 (as kiekit-suno refuses it)
            if body.get(field) not in (None, ""):
                raise invalid(f"{field} must be empty when customMode is false")
        return
    prompt_max, style_max, title_max = LIMITS[version]
    required_str(body, "style", max_len=style_max)
    required_str(body, "title", max_len=title_max)
    if instrumental:
        _limit(body, "prompt", prompt_max)
    else:
        required_str(body, "prompt", max_len=prompt_max)


def _continued(body: dict[str, Any], *, prompt_needed: bool) -> None:
    """extend and upload-extend: defaultParamFlag true asks for the extension's own style,
    title and continueAt (and prompt, with vocals); false keeps the source's."""
    version = _sound(body)
    own = _required_bool(body, "defaultParamFlag")
    prompt_max, style_max, title_max = LIMITS[version]
    continue_at = optional_number(body, "continueAt", 0)
    for field, limit in (("style", style_max), ("title", title_max)):
        _limit(body, field, limit)
    if not own:
        _limit(body, "prompt", prompt_max)
        return
    # style and title may be left out even then: KIE accepted such extends in recorded
    # traffic (#13), though its pages call them required
    if prompt_needed:
        required_str(body, "prompt", max_len=prompt_max)
    else:
        _limit(body, "prompt", prompt_max)
    if continue_at is None:
        raise invalid("continueAt cannot be empty")
    if continue_at <= 0:
        raise invalid("continueAt must be greater than 0")


def _replaced(body: dict[str, Any]) -> None:
    """replace-section's fields (its page): all required but negativeTags; the range in order.
    Its text fields are held to the longest any version takes, as add-vocals' [INF]."""
    required_str(body, "taskId")
    required_str(body, "audioId")
    prompt_max, style_max, title_max = WIDEST
    for field, limit in (("prompt", prompt_max), ("tags", style_max), ("title", title_max)):
        required_str(body, field, max_len=limit)
    required_str(body, "fullLyrics")
    optional_str(body, "negativeTags")
    start = optional_number(body, "infillStartS", 0)
    end = optional_number(body, "infillEndS", 0)
    if start is None:
        raise invalid("infillStartS cannot be empty")
    if end is None:
        raise invalid("infillEndS cannot be empty")
    if end <= start:  # "infill_start_s must be less than infill_end_s" (the page)
        raise invalid("infillStartS must be less than infillEndS")


def _upload_url(body: dict[str, Any]) -> str:
    if body.get("uploadUrl") in (None, ""):
        raise invalid("uploadUrl cannot be empty")
    found = optional_url(body, "uploadUrl")
    assert found is not None
    return found


def _check(rt: Runtime, account: str, model: str, body: dict[str, Any]) -> bool:
    """Validate a create body; False when it is accepted but cannot succeed: an extend of a
    track the caller does not have is taken, and fails later, as KIE does (#13)."""
    if model in UPLOADS:
        _upload_url(body)
    if model in (GENERATE, UPLOAD_COVER):
        _described(body)
    elif model == EXTEND:
        audio_id = required_str(body, "audioId")
        _continued(body, prompt_needed=True)
        try:
            common.find_track(rt, account, audio_id)
        except ErrorAnswer:
            return False
    elif model == UPLOAD_EXTEND:
        instrumental = optional_bool(body, "instrumental")
        _continued(body, prompt_needed=not instrumental)
    elif model == ADD_INSTRUMENTAL:
        _sound(body)
        required_str(body, "title", max_len=WIDEST[2])
        required_str(body, "tags")
    elif model == ADD_VOCALS:
        _sound(body)
        prompt_max, style_max, title_max = WIDEST
        for field, limit in (("prompt", prompt_max), ("title", title_max), ("style", style_max)):
            required_str(body, field, max_len=limit)
        required_str(body, "negativeTags")
    elif model == REPLACE_SECTION:
        _replaced(body)
    return True


# --- rendering -------------------------------------------------------------------------------


def _words(body: dict[str, Any]) -> str:
    """The text the fail marker is looked for in: every field a person writes."""
    fields = ("prompt", "style", "title", "tags")
    return " ".join(str(body[f]) for f in fields if isinstance(body.get(f), str))


def _doomed(task: TaskSnapshot) -> bool:
    """Whether a pending task is set to fail (an extend of a track the caller does not have,
    a fail marker, a rule): it never makes audio, so it stops at TEXT_SUCCESS, without the
    first track or its `first` callback, until it fails."""
    return task.outcome.fails and task.state != "success"


def _done_tracks(task: TaskSnapshot, callback_state: str) -> int:
    """How many tracks have their audio file by now."""
    if _doomed(task):
        return 0
    if task.state == "success":
        return task.result_count if callback_state != "pending" else 1
    return 1 if task.state == "generating" else 0


def status_of(rt: Runtime, task: TaskSnapshot) -> str:
    if task.state == "fail":
        if task.create_failed:  # an outcome rule's choice: §3.6's CREATE_TASK_FAILED
            return "CREATE_TASK_FAILED"
        moderated = task.outcome.kind == "moderation"  # an outcome rule's flagged prompt
        return "SENSITIVE_WORD_ERROR" if moderated else "GENERATE_AUDIO_FAILED"
    if task.state != "success":
        return STATUS["queuing" if _doomed(task) and task.state == "generating" else task.state]
    if task.outcome.kind == "callback_fail":  # an outcome rule's choice (rules.py)
        return "CALLBACK_EXCEPTION"
    state = common.callback_state(rt, task, "complete")
    return {"delivered": "SUCCESS", "pending": "FIRST_SUCCESS"}.get(state, "CALLBACK_EXCEPTION")


def _model_name(body: dict[str, Any]) -> str:
    # "chirp-v3-5" for V3_5 in the record example
    return "chirp-" + str(body.get("model", "V5")).lower().replace("_", "-")


def tracks(task: TaskSnapshot, done: int, *, snake: bool = False) -> list[dict[str, Any]]:
    """``sunoData[]`` (camelCase) or a callback's ``data.data[]`` (snake_case, ``snake``)."""
    body = task.request_body
    title = body.get("title") or "kiekit mock song"
    tags = body.get("style") or body.get("tags") or "mock, calm"
    found = []
    for index in range(task.result_count):
        ready = index < done
        track = {
            "id": common.track_id(task.task_id, index),
            "audioUrl": common.file_url(task, f"{index}.mp3") if ready else "",
            "streamAudioUrl": common.file_url(task, f"stream-{index}.mp3"),
            "imageUrl": common.file_url(task, f"{index}.jpeg") if ready else "",
            "prompt": body.get("prompt") or "",
            "modelName": _model_name(body),
            "title": title,
            "tags": tags,
            "createTime": common.clock_text(task.created_ms),
            "duration": common.TRACK_SECONDS if ready else None,
        }
        if snake:
            track = {
                "id": track["id"],
                "audio_url": track["audioUrl"],
                "stream_audio_url": track["streamAudioUrl"],
                "image_url": track["imageUrl"],
                "prompt": track["prompt"],
                "model_name": track["modelName"],
                "title": title,
                "tags": tags,
                "createTime": track["createTime"],
                "duration": track["duration"],
            }
            if task.model in (UPLOAD_COVER, UPLOAD_EXTEND):
                # upload callbacks add the source's links (§3.6); the mock names the upload
                track |= {"source_audio_url": body.get("uploadUrl"), "source_image_url": ""}
        found.append(track)
    return found


def record(rt: Runtime, task: TaskSnapshot) -> dict[str, Any]:
    """generate/record-info ``data`` in the get-music-details example's keys and order."""
    status = status_of(rt, task)
    failed = task.state == "fail"
    code, msg = task.failure(common.GENERATION_FAILED, FAIL_MSG)
    response: dict[str, Any] | None = None
    if failed:
        response = {"taskId": task.task_id, "sunoData": [], "errorMessage": msg}
    elif task.state != "waiting":
        done = _done_tracks(task, common.callback_state(rt, task, "complete"))
        response = {"taskId": task.task_id, "sunoData": tracks(task, done)}
    operation = OPERATIONS[task.model]
    return {
        "taskId": task.task_id,
        "parentMusicId": (
            task.request_body.get("audioId", "") if task.model in (EXTEND, REPLACE_SECTION) else ""
        ),
        "param": task.param_json,
        "response": response,
        "status": status,
        "type": operation.upper(),
        "operationType": operation,
        "errorCode": code if failed else None,
        "errorMessage": msg if failed else None,
    }


def stage_payload(task: TaskSnapshot, stage: str) -> dict[str, Any]:
    """One staged callback: ``{code, msg, data: {callbackType, task_id, data: [...]}}``."""
    data: dict[str, Any] = {"callbackType": stage, "task_id": task.task_id, "data": None}
    if stage == "error":
        code, msg = task.failure(common.GENERATION_FAILED, FAIL_MSG)
        return {"code": code, "msg": msg, "data": data}
    done = {"text": 0, "first": 1}.get(stage, task.result_count)
    data["data"] = tracks(task, done, snake=True)
    return {"code": 200, "msg": STAGE_MSGS[stage], "data": data}


def callback_payload(transition: Transition) -> dict[str, Any]:
    """The final callback (what ``Runtime.finish`` sends when a task ends)."""
    task = transition.task
    return stage_payload(task, "complete" if task.state == "success" else "error")


def owe_stages(rt: Runtime, task: TaskSnapshot) -> None:
    """Send the staged callbacks the task has reached and not yet had, in KIE's order; the
    final one (complete / error) goes through ``Runtime.finish``. Stages before one already
    sent are skipped (a manual advance may have sent the final one first)."""
    url = task.callback_url
    if url is None or task.state in ("waiting", "fail") or task.model == REPLACE_SECTION:
        return  # replace-section: the final callback only (module docstring)
    sent = []
    for item in rt.callbacks.records_of(task.task_id):
        data = item.payload.get("data")
        if isinstance(data, dict):
            sent.append(data.get("callbackType"))
    latest = max((STAGES.index(s) for s in sent if s in STAGES), default=-1)
    last = 1 if _doomed(task) else 2  # a doomed task gets `text` only, then `error`
    for stage in STAGES[latest + 1 : min(DUE[task.state], last)]:  # text, first
        rt.callbacks.dispatch(
            task.task_id, url, stage_payload(task, stage), account_id=task.account_id
        )


# --- routes ----------------------------------------------------------------------------------


async def _create(request: web.Request, model: str) -> web.Response:
    body = await json_body(request)
    callback = common.callback_url(body)
    rt, account = runtime(request), account_of(request)
    can_succeed = _check(rt, account, model, body)
    if model == REPLACE_SECTION:  # a track the caller has, or 422 (as WAV, stems, video)
        source = common.finished(rt, request, body["taskId"], MUSIC)
        common.track_index(source, body["audioId"])
    spec = TaskSpec(
        family=FAMILY,
        model=model,
        request_body=body,
        callback_url=callback,
        param_json=dumps({k: v for k, v in body.items() if k != "callBackUrl"}),
        prompt=_words(body),
        cost=COST,
        result_ext="mp3",
        # replace-section: the one track its callbacks page shows [INF: the count is unstated]
        result_count=1 if model == REPLACE_SECTION else TRACKS_PER_TASK,
        aspect_ratio="1:1",  # cover images are square
        origin=origin_of(request),
    )
    task = rt.store.create(account, spec)
    if not can_succeed:
        # [INF] the code and words of such a failure were not recorded: §7's for an unknown id
        rt.store.set_outcome(task.task_id, Outcome("fail", 422, common.MISSING_RECORD))
    return ok({"taskId": task.task_id})


@ROUTES.post("/api/v1/generate")
async def generate(request: web.Request) -> web.Response:
    return await _create(request, GENERATE)


@ROUTES.post("/api/v1/generate/extend")
async def extend(request: web.Request) -> web.Response:
    return await _create(request, EXTEND)


@ROUTES.post("/api/v1/generate/upload-cover")
async def upload_cover(request: web.Request) -> web.Response:
    return await _create(request, UPLOAD_COVER)


@ROUTES.post("/api/v1/generate/upload-extend")
async def upload_extend(request: web.Request) -> web.Response:
    return await _create(request, UPLOAD_EXTEND)


@ROUTES.post("/api/v1/generate/add-instrumental")
async def add_instrumental(request: web.Request) -> web.Response:
    return await _create(request, ADD_INSTRUMENTAL)


@ROUTES.post("/api/v1/generate/add-vocals")
async def add_vocals(request: web.Request) -> web.Response:
    return await _create(request, ADD_VOCALS)


@ROUTES.post("/api/v1/generate/replace-section")
async def replace_section(request: web.Request) -> web.Response:
    return await _create(request, REPLACE_SECTION)


@ROUTES.get("/api/v1/generate/record-info")
async def record_info(request: web.Request) -> web.Response:
    transition = common.poll(request, MUSIC)
    if transition is None:
        return ok(None)
    rt = runtime(request)
    owe_stages(rt, transition.task)
    rt.finish(transition, callback_payload)
    return ok(record(rt, transition.task))
