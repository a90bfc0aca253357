"""Generate persona: ``POST /api/v1/generate/generate-persona`` answers at once with a persona
made from one track — no task, no callback (kie-api.md §3.6).

KIE's generate-persona page (https://docs.kie.ai/suno-api/generate-persona, the path form, and
https://docs.kie.ai/cn/suno-api/generate-persona): ``taskId`` (a finished song task),
``audioId`` (one of its tracks), ``name``, ``description`` required; ``vocalStart`` and
``vocalEnd`` (seconds, default 0.0 and 30.0) with "vocalEnd - vocalStart between 10 and 30
seconds"; ``style`` optional. The answer's ``data`` is ``{"personaId", "name",
"description"}``. A V3_5 song makes none (the page). The track must be the caller's: 422
"Record does not exist" otherwise, as for the other operations on a song.

Not emulated: KIE's one persona per track (the mock keeps no list of personas made: the same
track answers the same ``personaId`` again), and the range against the track's length (the
mock's tracks last about a second). What KIE answers a broken rule is not recorded: the usual
422 naming the field [INF]; nothing is charged [INF: no price is documented].
"""

from __future__ import annotations

import hashlib

from aiohttp import web

from ...envelope import ok
from ...route_helpers import json_body, runtime
from ..validation import invalid, optional_number, optional_str, required_str
from . import common

ROUTES = web.RouteTableDef()
PATH = "/api/v1/generate/generate-persona"
VOCAL_START, VOCAL_END = 0.0, 30.0  # the page's defaults
SPAN = (10.0, 30.0)


def persona_id(audio_id: str) -> str:
    """A stable id per track, shaped as the page's ``a1b2****c3d4`` example (hex)."""
    return hashlib.sha256(f"persona/{audio_id}".encode()).hexdigest()[:32]


@ROUTES.post(PATH)
async def generate_persona(request: web.Request) -> web.Response:
    body = await json_body(request)
    task_id = required_str(body, "taskId")
    audio_id = required_str(body, "audioId")
    name = required_str(body, "name")
    description = required_str(body, "description")
    start = optional_number(body, "vocalStart", 0)
    end = optional_number(body, "vocalEnd", 0)
    optional_str(body, "style")
    span = (VOCAL_END if end is None else end) - (VOCAL_START if start is None else start)
    if not SPAN[0] <= span <= SPAN[1]:
        raise invalid("vocalEnd - vocalStart must be between 10 and 30 seconds")
    rt = runtime(request)
    task = common.finished(rt, request, task_id, common.MUSIC)
    common.track_index(task, audio_id)
    if task.request_body.get("model") == "V3_5":
        raise invalid("Persona generation does not support V3_5 music")  # the page [INF words]
    return ok({"personaId": persona_id(audio_id), "name": name, "description": description})
