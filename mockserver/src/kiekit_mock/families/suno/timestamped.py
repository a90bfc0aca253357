"""Timestamped lyrics: ``POST /api/v1/generate/get-timestamped-lyrics`` answers at once when each
word of a track is sung — no task, no callback (kie-api.md §3.6: "sync, ``{taskId, audioId}``").

KIE's get-timestamped-lyrics page (https://docs.kie.ai/cn/suno-api/get-timestamped-lyrics):
``taskId`` (a music task) and ``audioId`` (one of its tracks) are both required; the answer's
``data`` is ``{"alignedWords": [{"word", "success", "startS", "endS", "palign"}],
"waveformData": [...], "hootCer", "isStreamed"}``, times in seconds, and an instrumental track
has no words. The track must be the caller's, of a finished song task: 422 "Record does not
exist" otherwise, as for the other operations on a song.

The mock's words are the song's ``prompt`` (its lyrics in custom mode), spread evenly over the
mock's track; the waveform is derived from the track id, so an answer never changes [INF: the
page does not say what KIE charges for it: nothing here].
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from ...envelope import ok
from ...route_helpers import json_body, runtime
from ..validation import required_str
from . import common

ROUTES = web.RouteTableDef()
PATH = "/api/v1/generate/get-timestamped-lyrics"
WAVEFORM_POINTS = 32  # [INF] the page's example shows a short list of levels between 0 and 1


def aligned_words(lyrics: str, seconds: float) -> list[dict[str, Any]]:
    """The lyrics' words, each over an equal share of ``seconds`` (two decimals, as KIE's)."""
    words = lyrics.split()
    if not words:
        return []
    step = seconds / len(words)
    return [
        {
            "word": word,
            "success": True,
            "startS": round(index * step, 2),
            "endS": round((index + 1) * step, 2),
            "palign": 0,
        }
        for index, word in enumerate(words)
    ]


def waveform(audio_id: str) -> list[float]:
    digest = hashlib.sha256(audio_id.encode()).digest()
    return [round(digest[i % len(digest)] / 255, 3) for i in range(WAVEFORM_POINTS)]


@ROUTES.post(PATH)
async def timestamped_lyrics(request: web.Request) -> web.Response:
    body = await json_body(request)
    task_id = required_str(body, "taskId")
    audio_id = required_str(body, "audioId")
    rt = runtime(request)
    task = common.finished(rt, request, task_id, common.MUSIC)
    common.track_index(task, audio_id)
    song = task.request_body
    lyrics = "" if song.get("instrumental") is True else str(song.get("prompt") or "")
    return ok(
        {
            "alignedWords": aligned_words(lyrics, common.TRACK_SECONDS),
            "waveformData": waveform(audio_id),
            "hootCer": 0.0,
            "isStreamed": False,
        }
    )
