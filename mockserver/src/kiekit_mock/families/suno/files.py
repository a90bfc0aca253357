"""Suno's result files: ``GET /files/suno/{task_id}/{name}`` — the mock's stand-in for KIE's
music CDN links (no auth, like them).

A file exists only once the task has made it: a song's stream link (``stream-N.mp3``) from
TEXT_SUCCESS on, its audio (``N.mp3``) and cover (``N.jpeg``) once that track is done; a tool's
files (``0.wav``, ``<stem>.mp3``, ``0.mp4``, ``N.png``) once the task has succeeded. Anything
else is a real 404. Every file is real: a one-second MP3, a WAV, an MP4, JPEG/PNG images.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from ... import media
from ...files import file_route
from ...runtime import Runtime
from ...state import TaskSnapshot
from . import music, tools
from .common import COVER, FAMILY, MP4, MUSIC, VOCAL_REMOVAL, WAV

ROUTES = web.RouteTableDef()


def _numbered(name: str, prefix: str, ext: str, count: int) -> int | None:
    """N from ``<prefix>N.<ext>`` when 0 <= N < count."""
    stem, dot, given = name.partition(".")
    digits = stem.removeprefix(prefix)
    if not dot or given != ext or not stem.startswith(prefix) or not digits.isdigit():
        return None
    index = int(digits)
    return index if index < count else None


def _song_file(task: TaskSnapshot, name: str, done: int) -> web.Response | None:
    label = f"{task.task_id}/{name}"
    if task.state in ("waiting", "fail"):
        return None
    if _numbered(name, "stream-", "mp3", task.result_count) is not None:
        return web.Response(body=media.mp3_bytes(label), content_type="audio/mpeg")
    index = _numbered(name, "", "mp3", done)
    if index is not None:
        return web.Response(body=media.mp3_bytes(label), content_type="audio/mpeg")
    index = _numbered(name, "", "jpeg", done)
    if index is not None:
        width, height = media.size_for("1:1")
        image = media.jpeg_bytes(width, height, media.colour_for(task.task_id, index))
        return web.Response(body=image, content_type="image/jpeg")
    return None


def _tool_file(task: TaskSnapshot, name: str) -> web.Response | None:
    label = f"{task.task_id}/{name}"
    if task.state != "success":
        return None
    if task.model == WAV and name == "0.wav":
        return web.Response(body=media.wav_bytes(label), content_type="audio/wav")
    if task.model == MP4 and name == "0.mp4":
        return web.Response(body=media.mp4_bytes(label), content_type="video/mp4")
    if task.model == VOCAL_REMOVAL:
        chosen = [url for url in tools.stems(task).values() if url]
        if any(url.endswith(f"/{name}") for url in chosen):
            return web.Response(body=media.mp3_bytes(label), content_type="audio/mpeg")
    if task.model == COVER:
        index = _numbered(name, "", "png", task.result_count)
        if index is not None:
            width, height = media.size_for("1:1")
            image = media.png_bytes(width, height, media.colour_for(task.task_id, index))
            return web.Response(body=image, content_type="image/png")
    return None


@file_route(ROUTES, "/files/suno/{task_id}/{name}")
def suno_file(rt: Runtime, params: Mapping[str, str]) -> web.Response | None:
    task = rt.store.find(params["task_id"])
    name = params["name"]
    if task is None or task.family != FAMILY:
        return None
    if task.model not in MUSIC:
        return _tool_file(task, name)
    state = music.status_of(rt, task)
    done = {"FIRST_SUCCESS": 1, "SUCCESS": task.result_count}.get(state, 0)
    if state == "CALLBACK_EXCEPTION":
        done = task.result_count
    return _song_file(task, name, done)
