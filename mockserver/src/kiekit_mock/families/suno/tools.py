"""Suno's other operations, each with its create path, record-info and callback (kie-api.md
§3.6, §6.2; KIE's get-lyrics-details, get-wav-details, get-vocal-separation-details,
get-midi-details, get-music-video-details and get-cover-suno-details pages):

| operation | takes | status field | result |
|---|---|---|---|
| lyrics | prompt ≤200 | status word | response.data[{text,title,status,errorMessage}] |
| WAV | taskId, audioId | successFlag word | response.audioWavUrl |
| vocal removal | taskId, audioId, type | successFlag word | response.vocalUrl … |
| MIDI | taskId (a vocal removal), audioId? | successFlag 0–3 | midiData |
| music video | taskId, audioId, author?, domainName? | successFlag word | response.videoUrl |
| cover art | taskId | successFlag 0–3 | response.images (2 PNGs) |

Times follow each page's example: strings for WAV and video, milliseconds for stems and MIDI,
ISO 8601 for cover art. The word families report CALLBACK_EXCEPTION when their loopback
callback failed (as the music records do); their failure words are each page's own. A tool task
has no prompt, so only ``MockServer.set_outcome`` fails it (lyrics: ``[mock:fail]`` too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ...envelope import dumps, ok
from ...route_helpers import account_of, json_body, origin_of, runtime
from ...runtime import Runtime
from ...state import TaskSnapshot, TaskSpec, Transition
from ..validation import optional_enum, optional_str, required_str
from . import common
from .common import COVER, FAMILY, LYRICS, MIDI, MP4, MUSIC, VOCAL_REMOVAL, WAV

ROUTES = web.RouteTableDef()

FAIL_MSG = "Generation failed: the mock was asked to fail this task"
SEPARATE, SPLIT = "separate_vocal", "split_stem"
# get-vocal-separation-details: separate_vocal fills vocal and instrumental; split_stem the
# instruments, with instrumentalUrl null
STEMS = {
    SEPARATE: ("vocal", "instrumental"),
    SPLIT: (
        "vocal",
        "backingVocals",
        "drums",
        "bass",
        "guitar",
        "keyboard",
        "percussion",
        "strings",
        "synth",
        "fx",
        "brass",
        "woodwinds",
    ),
}
ALL_STEMS = (
    "instrumental",
    "vocal",
    "backingVocals",
    "drums",
    "bass",
    "guitar",
    "piano",
    "keyboard",
    "percussion",
    "strings",
    "synth",
    "fx",
    "brass",
    "woodwinds",
)


@dataclass(frozen=True)
class Tool:
    """How one operation is created, costed and failed."""

    model: str
    cost: float  # a mock figure, not KIE's price
    result_ext: str
    failure: str | int  # the record's failure word, or successFlag 3


TOOLS = {
    LYRICS: Tool(LYRICS, 0.4, "txt", "GENERATE_LYRICS_FAILED"),
    WAV: Tool(WAV, 0.4, "wav", "GENERATE_WAV_FAILED"),
    VOCAL_REMOVAL: Tool(VOCAL_REMOVAL, 10.0, "mp3", "GENERATE_AUDIO_FAILED"),
    MIDI: Tool(MIDI, 5.0, "mid", 3),
    MP4: Tool(MP4, 2.0, "mp4", "GENERATE_MP4_FAILED"),
    COVER: Tool(COVER, 0.5, "png", 3),
}
SPLIT_COST = 50.0


# --- creating --------------------------------------------------------------------------------


def _source(
    rt: Runtime, request: web.Request, body: dict[str, Any], models: tuple[str, ...]
) -> TaskSnapshot:
    return common.finished(rt, request, required_str(body, "taskId"), models)


def _check(
    rt: Runtime, request: web.Request, model: str, body: dict[str, Any]
) -> TaskSnapshot | None:
    """Validate a create body; returns the task it works on (none for lyrics)."""
    if model == LYRICS:
        required_str(body, "prompt", max_len=200)
        return None
    if model == COVER:
        return _source(rt, request, body, MUSIC)
    if model == MIDI:
        source = _source(rt, request, body, (VOCAL_REMOVAL,))
        optional_str(body, "audioId")
        return source
    source = _source(rt, request, body, MUSIC)
    common.track_index(source, required_str(body, "audioId"))
    if model == VOCAL_REMOVAL:
        optional_enum(body, "type", (SEPARATE, SPLIT))
    if model == MP4:
        optional_str(body, "author", max_len=50)
        optional_str(body, "domainName", max_len=50)
    return source


def _result_count(model: str, body: dict[str, Any]) -> int:
    if model == VOCAL_REMOVAL:
        return len(STEMS[body.get("type") or SEPARATE])
    return 2 if model in (LYRICS, COVER) else 1  # two lyrics texts, "usually 2" covers


async def _create(request: web.Request, model: str) -> web.Response:
    body = await json_body(request)
    callback = common.callback_url(body)
    rt, account = runtime(request), account_of(request)
    _check(rt, request, model, body)
    tool = TOOLS[model]
    cost = SPLIT_COST if body.get("type") == SPLIT else tool.cost
    spec = TaskSpec(
        family=FAMILY,
        model=model,
        request_body=body,
        callback_url=callback,
        param_json=dumps({k: v for k, v in body.items() if k != "callBackUrl"}),
        prompt=str(body.get("prompt") or ""),
        cost=cost,
        result_ext=tool.result_ext,
        result_count=_result_count(model, body),
        aspect_ratio="1:1",
        origin=origin_of(request),
    )
    task = rt.store.create(account, spec)
    return ok({"taskId": task.task_id})


# --- reading ---------------------------------------------------------------------------------


def _word(rt: Runtime, task: TaskSnapshot) -> str:
    if task.state == "fail":
        if task.create_failed:  # §3.6's word for it; the tools' pages list no other [INF]
            return "CREATE_TASK_FAILED"
        if task.model == LYRICS and task.outcome.kind == "moderation":
            return "SENSITIVE_WORD_ERROR"
        return str(TOOLS[task.model].failure)
    if task.state != "success":
        return "PENDING"
    if task.outcome.kind == "callback_fail":  # an outcome rule's choice (rules.py)
        return "CALLBACK_EXCEPTION"
    state = common.callback_state(rt, task)
    return {"delivered": "SUCCESS", "pending": "PENDING"}.get(state, "CALLBACK_EXCEPTION")


def _flag(task: TaskSnapshot) -> int:
    return task.success_flag  # 2 for a failed create, as the successFlag families [INF]


def _music_index(task: TaskSnapshot) -> int:
    source = task.request_body["taskId"]
    for index in range(common.TRACKS_PER_TASK):
        if common.track_id(source, index) == task.request_body.get("audioId"):
            return index
    return 0


def lyrics_texts(task: TaskSnapshot) -> list[dict[str, Any]]:
    prompt = task.request_body.get("prompt", "")
    return [
        {
            "text": f"[Verse]\nkiekit mock lyrics {n + 1} about {prompt}\n[Chorus]\nla la la",
            "title": f"Mock lyrics {n + 1}",
            "status": "complete",
            "errorMessage": "",
        }
        for n in range(task.result_count)
    ]


def stems(task: TaskSnapshot) -> dict[str, str | None]:
    chosen = STEMS[task.request_body.get("type") or SEPARATE]
    return {
        f"{stem}Url": common.file_url(task, f"{stem}.mp3") if stem in chosen else None
        for stem in ALL_STEMS
    }


def midi_data(task: TaskSnapshot) -> dict[str, Any]:
    """A small, well-formed note list: one drum hit and one bass note per second."""
    return {
        "state": "complete",
        "instruments": [
            {"name": "Drums", "notes": [{"pitch": 36, "start": 0.0, "end": 0.25, "velocity": 1}]},
            {
                "name": "Electric Bass (finger)",
                "notes": [{"pitch": 40, "start": 0.5, "end": 1.0, "velocity": 1}],
            },
        ],
    }


def _failure(task: TaskSnapshot) -> tuple[int | None, str | None]:
    if task.state != "fail":
        return None, None
    return task.failure(common.GENERATION_FAILED, FAIL_MSG)


def record(rt: Runtime, task: TaskSnapshot) -> dict[str, Any]:
    """record-info ``data`` of a tool task, in its page's example's keys and order."""
    code, message = _failure(task)
    done = task.state == "success"
    body = task.request_body
    if task.model == LYRICS:
        word = _word(rt, task)
        # The lyrics page's words have none between PENDING and SUCCESS: while the callback is
        # in flight the record says PENDING, so it holds no lyrics yet (as the other tools hold
        # their files), and it never turns from SUCCESS to CALLBACK_EXCEPTION later
        shown = word in ("SUCCESS", "CALLBACK_EXCEPTION")
        response = {"taskId": task.task_id, "data": lyrics_texts(task) if shown else []}
        return {
            "taskId": task.task_id,
            "param": task.param_json,
            "response": response if task.state != "waiting" else None,
            "status": word,
            "type": "LYRICS",
            "errorCode": code,
            "errorMessage": message,
        }
    if task.model == MIDI:
        return {
            "taskId": task.task_id,
            "recordTaskId": -1,
            "audioId": body.get("audioId") or "",
            "callbackUrl": task.callback_url,
            "completeTime": task.completed_ms,
            "midiData": midi_data(task) if done else None,
            "successFlag": _flag(task),
            "createTime": task.created_ms,
            "errorCode": code,
            "errorMessage": message,
        }
    if task.model == COVER:
        images = [common.file_url(task, f"{i}.png") for i in range(task.result_count)]
        return {
            "taskId": task.task_id,
            "parentTaskId": body["taskId"],
            "callbackUrl": task.callback_url,
            "completeTime": common.iso_text(task.completed_ms),
            "response": {"images": images} if done else None,
            "successFlag": _flag(task),
            "createTime": common.iso_text(task.created_ms),
            "errorCode": code if code is not None else (200 if done else None),  # the example
            "errorMessage": message or "",
        }
    word = _word(rt, task)
    result: dict[str, Any] | None = None
    stamp: Any = common.clock_text
    if task.model == WAV and done:
        result = {"audioWavUrl": common.file_url(task, "0.wav")}
    elif task.model == MP4 and done:
        result = {"videoUrl": common.file_url(task, "0.mp4")}
    elif task.model == VOCAL_REMOVAL:
        stamp = _ms
        if done:
            result = {"originUrl": None}
            result.update(stems(task))
    # ended, but PENDING while its callback is in flight (_word): no completeTime then either,
    # as a truly pending task's record has none; a client reads either field as "finished"
    completed = None if word == "PENDING" else task.completed_ms
    return {
        "taskId": task.task_id,
        "musicId": body.get("audioId"),
        "callbackUrl": task.callback_url,
        "musicIndex": _music_index(task),
        "completeTime": stamp(completed),
        "response": result if word in ("SUCCESS", "CALLBACK_EXCEPTION") else None,
        "successFlag": word,
        "createTime": stamp(task.created_ms),
        "errorCode": code,
        "errorMessage": message,
    }


def _ms(ms: int | None) -> int | None:
    return ms


def callback_payload(transition: Transition) -> dict[str, Any]:
    """The tool's callback (§3.6): snake_case ``task_id`` except MIDI and cover art."""
    task = transition.task
    done = task.state == "success"
    code, msg = (200, "success") if done else (common.GENERATION_FAILED, FAIL_MSG)
    data: dict[str, Any]
    if task.model == LYRICS:
        texts = [
            {k: v for k, v in t.items() if k != "errorMessage"} | {"error_message": ""}
            for t in lyrics_texts(task)
        ]
        kind = "complete" if done else "error"
        data = {"callbackType": kind, "task_id": task.task_id, "data": texts if done else None}
    elif task.model == WAV:
        url = common.file_url(task, "0.wav") if done else None
        data = {"task_id": task.task_id, "audioWavUrl": url}
    elif task.model == MP4:
        url = common.file_url(task, "0.mp4") if done else None
        data = {"task_id": task.task_id, "video_url": url}
    elif task.model == VOCAL_REMOVAL:
        info = {_snake(k): v for k, v in stems(task).items()} if done else None
        data = {"task_id": task.task_id, "vocal_separation_info": info}
    elif task.model == MIDI:
        notes = midi_data(task) if done else {"state": "failed", "instruments": []}
        data = {"taskId": task.task_id, **notes}
    else:
        images = [common.file_url(task, f"{i}.png") for i in range(task.result_count)]
        data = {"taskId": task.task_id, "images": images if done else None}
    return {"code": code, "msg": msg, "data": data}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


# --- routes ----------------------------------------------------------------------------------


async def _record_info(request: web.Request, model: str) -> web.Response:
    transition = common.poll(request, (model,))
    if transition is None:
        return ok(None)
    rt = runtime(request)
    rt.finish(transition, callback_payload)
    return ok(record(rt, transition.task))


def _routes() -> None:
    paths = {
        LYRICS: ("/api/v1/lyrics", "/api/v1/lyrics/record-info"),
        WAV: ("/api/v1/wav/generate", "/api/v1/wav/record-info"),
        VOCAL_REMOVAL: ("/api/v1/vocal-removal/generate", "/api/v1/vocal-removal/record-info"),
        MIDI: ("/api/v1/midi/generate", "/api/v1/midi/record-info"),
        MP4: ("/api/v1/mp4/generate", "/api/v1/mp4/record-info"),
        COVER: ("/api/v1/suno/cover/generate", "/api/v1/suno/cover/record-info"),
    }
    for model, (create, status) in paths.items():

        async def create_handler(request: web.Request, model: str = model) -> web.Response:
            return await _create(request, model)

        async def status_handler(request: web.Request, model: str = model) -> web.Response:
            return await _record_info(request, model)

        ROUTES.post(create)(create_handler)
        ROUTES.get(status)(status_handler)


_routes()
