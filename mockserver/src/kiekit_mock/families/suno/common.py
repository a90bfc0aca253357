"""What the Suno routes share: the required callBackUrl, lookups of earlier tasks and their
tracks, time formats, file links, and whether a task's callback failed.

kie-api.md §3.6: every Suno create call requires ``callBackUrl`` — a real answer without it is
HTTP 200 ``{"code":422,"msg":"Please enter callBackUrl.","data":null}`` [OBS HAR]. All Suno tasks
are one family in the store (``"suno"``); the mock tells operations apart by the task's model
name, which it makes up (``suno/generate``, ``suno/wav`` …): KIE names none.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from aiohttp import web

from ... import files
from ...callbacks import CallbackRecord, loopback_refusal
from ...route_helpers import account_of, is_http_url, runtime, task_id_param
from ...runtime import Runtime
from ...state import Family, TaskSnapshot, Transition
from ..validation import invalid

FAMILY: Family = "suno"

GENERATE = "suno/generate"
EXTEND = "suno/extend"
UPLOAD_COVER = "suno/upload-cover"
UPLOAD_EXTEND = "suno/upload-extend"
ADD_INSTRUMENTAL = "suno/add-instrumental"
ADD_VOCALS = "suno/add-vocals"
REPLACE_SECTION = "suno/replace-section"
MUSIC = (
    GENERATE,
    EXTEND,
    UPLOAD_COVER,
    UPLOAD_EXTEND,
    ADD_INSTRUMENTAL,
    ADD_VOCALS,
    REPLACE_SECTION,
)
LYRICS = "suno/lyrics"
WAV = "suno/wav"
VOCAL_REMOVAL = "suno/vocal-removal"
MIDI = "suno/midi"
MP4 = "suno/mp4"
COVER = "suno/cover"

TRACKS_PER_TASK = 2  # "Each request returns exactly 2 songs" (generate page; COMFY, §3.6)
TRACK_SECONDS = 1.01  # the mock's MP3 is 42 frames of 1152 samples at 48 kHz
MISSING_RECORD = "Record does not exist"  # §7's 422 text for an id KIE does not know
GENERATION_FAILED = 501  # §7: "501 generation failed"; Suno callbacks list it too


def callback_url(body: dict[str, Any]) -> str:
    """The required callBackUrl (§3.6, §9 item 10), with KIE's own refusal when it is absent."""
    value = body.get("callBackUrl")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid("Please enter callBackUrl.")
    if not is_http_url(value):
        raise invalid("callBackUrl must be a valid http(s) URL")
    return str(value)


def track_id(task_id: str, index: int) -> str:
    """A stable UUID-shaped id per track, as KIE's ``sunoData[].id`` (§3.6)."""
    h = hashlib.sha256(f"{task_id}/track/{index}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def file_url(task: TaskSnapshot, name: str) -> str:
    return f"{task.origin}/files/suno/{task.task_id}/{name}"


def clock_text(ms: int | None) -> str | None:
    # "2025-01-01 00:00:00" in the record examples; UTC here ([INF]: the pages name no zone)
    return None if ms is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def iso_text(ms: int | None) -> str | None:
    # the cover page's "2025-01-15T10:35:27.000Z"
    if ms is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def own_tasks(rt: Runtime, account: str, models: tuple[str, ...]) -> list[TaskSnapshot]:
    """The caller's Suno tasks of ``models``: only theirs are made into snapshots (an extend
    made one of every task the mock held, other accounts' and families' too)."""
    snapshots = rt.store.snapshots(account=account, family=FAMILY)
    return [task for task in snapshots if task.model in models]


def finished(
    rt: Runtime, request: web.Request, task_id: str, models: tuple[str, ...]
) -> TaskSnapshot:
    """The caller's succeeded task ``task_id`` of one of ``models``; 422 otherwise (§7)."""
    account = account_of(request)
    task = rt.store.find(task_id)
    if task is None or task.account_id != account or task.model not in models:
        raise invalid(MISSING_RECORD)
    if task.state != "success":
        raise invalid("record status is not success")  # the Veo pages' text (§3.3) [INF]
    if not files.retained(task, rt.clock.now()):
        # its audio is gone (14 days, §8): the Veo pages' 422 for it (§3.3) [INF]
        raise invalid(files.PAST_RETENTION)
    return task


def track_index(task: TaskSnapshot, audio_id: str) -> int:
    """Which of a music task's tracks ``audio_id`` names; 422 when none does."""
    for index in range(task.result_count):
        if track_id(task.task_id, index) == audio_id:
            return index
    raise invalid(MISSING_RECORD)


def find_track(rt: Runtime, account: str, audio_id: str) -> tuple[TaskSnapshot, int]:
    """The caller's succeeded music task holding track ``audio_id`` (extend names no task)."""
    now = rt.clock.now()
    for task in own_tasks(rt, account, MUSIC):
        if task.state != "success" or not files.retained(task, now):  # gone after 14 days (§8)
            continue
        for index in range(task.result_count):
            if track_id(task.task_id, index) == audio_id:
                return task, index
    raise invalid(MISSING_RECORD)


def poll(request: web.Request, models: tuple[str, ...]) -> Transition | None:
    """A record-info query: the caller's task of ``models`` moves along its lifecycle. None
    for an id the caller has no such task under — KIE answers that with ``data: null`` on
    generate/record-info (APICITY suno.ts: "Kie returns data: null … when the taskId doesn't
    exist"); the mock does so on every Suno record-info [INF]."""
    rt, account = runtime(request), account_of(request)
    task_id = task_id_param(request)
    known = rt.store.find(task_id)
    if known is None or known.model not in models:
        return None
    return rt.store.poll(account, task_id, FAMILY)


def delivery(rt: Runtime, task: TaskSnapshot, kind: str | None = None) -> CallbackRecord | None:
    """The callback the mock sent for ``task`` (of ``callbackType`` ``kind``, if given), when
    it sent one: only loopback URLs are called (callbacks.py)."""
    url = task.callback_url
    if url is None or loopback_refusal(url) is not None:
        return None
    for record in reversed(rt.callbacks.records_of(task.task_id)):
        data = record.payload.get("data")
        if kind is None or (isinstance(data, dict) and data.get("callbackType") == kind):
            return record
    return None


def callback_state(rt: Runtime, task: TaskSnapshot, kind: str | None = None) -> str:
    """ "delivered" (or never sent), "pending", or "failed": a succeeded task whose loopback
    callback failed reports CALLBACK_EXCEPTION, as Luma's flag 4 (§3.5, §6.1)."""
    record = delivery(rt, task, kind)
    if record is None or record.delivered:
        return "delivered"
    return "pending" if record.reason == "pending" else "failed"
