"""Generate persona: a reusable voice and style made from one track KIE made, answered at
once — not a task (``POST /api/v1/generate/generate-persona``, kie-api.md §3.6). Its
``personaId`` is what the song inputs' ``persona_id`` takes.

KIE's generate-persona page (the path form, https://docs.kie.ai/suno-api/generate-persona and
its Chinese twin https://docs.kie.ai/cn/suno-api/generate-persona): ``taskId`` (a finished
song task), ``audioId`` (one of its tracks), ``name`` and ``description`` are required;
``vocalStart`` and ``vocalEnd`` (seconds, default 0.0 and 30.0) choose the part of the track
analysed, "vocalEnd - vocalStart must be between 10 and 30 seconds"; ``style`` (optional) is a
style tag for the persona. The answer's ``data`` is ``{"personaId", "name", "description"}``.
KIE makes one persona per track, and none from a V3_5 song (the page). No ``callBackUrl``.

>>> with Client(base_url=mock.base_url) as kie:               # doctest: +SKIP
...     persona = persona_of(kie.call(generate_persona_request(song.id, track, "Ana", "warm alto")))
...     kie.submit("suno/generate", prompt="a new song", persona_id=persona.persona_id)
"""

from __future__ import annotations

import math
from typing import Any

import attrs
from kiekit.plugin import ProtocolError, Request, ValidationError, wire

__all__ = ["PATH", "Persona", "generate_persona_request", "persona_of"]

PATH = "/api/v1/generate/generate-persona"
VOCAL_START = 0.0  # the page's defaults
VOCAL_END = 30.0
SPAN = (10.0, 30.0)  # vocalEnd - vocalStart, seconds (the page)


def _seconds(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(name, f"must be a number of seconds; got {value!r}")
    if value < 0:
        raise ValidationError(name, f"must be at least 0; got {value}")
    return float(value)


def generate_persona_request(
    task_id: str,
    audio_id: str,
    name: str,
    description: str,
    *,
    vocal_start: float | None = None,
    vocal_end: float | None = None,
    style: str | None = None,
) -> Request:
    """The request for :meth:`kiekit.Client.call`, checked before sending: a persona from
    track ``audio_id`` of the song task ``task_id``; the span analysed is ``vocal_start`` to
    ``vocal_end`` seconds (KIE's defaults 0 and 30 when left out), 10 to 30 seconds long."""
    body: dict[str, Any] = {}
    for field, wire_name, value in (
        ("task_id", "taskId", task_id),
        ("audio_id", "audioId", audio_id),
        ("name", "name", name),
        ("description", "description", description),
    ):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(field, "is required (the generate-persona page)")
        body[wire_name] = value
    start = _seconds("vocal_start", vocal_start)
    end = _seconds("vocal_end", vocal_end)
    span = (VOCAL_END if end is None else end) - (VOCAL_START if start is None else start)
    if not SPAN[0] <= span <= SPAN[1]:
        field = "vocal_end" if end is not None else "vocal_start"
        raise ValidationError(
            field,
            f"vocal_end - vocal_start must be {SPAN[0]:g} to {SPAN[1]:g} seconds "
            f"(left out: {VOCAL_START:g} and {VOCAL_END:g}); got {span:g}",
        )
    if start is not None:
        body["vocalStart"] = start
    if end is not None:
        body["vocalEnd"] = end
    if style is not None:
        if not isinstance(style, str) or not style.strip():
            raise ValidationError("style", "must be a non-empty style tag, or left out")
        body["style"] = style
    return Request("POST", PATH, body=body)


@attrs.frozen
class Persona(wire.WireRecord):
    """The answer's ``data``: ``persona_id`` for the song inputs' ``persona_id``."""

    persona_id: str
    name: str | None = None
    description: str | None = None


def persona_of(data: Any) -> Persona:
    """The persona in the answer's ``data``; ProtocolError when it holds no ``personaId``."""
    if not isinstance(data, dict) or not data.get("personaId"):
        raise ProtocolError("generate-persona answered no personaId", payload=data)
    return wire.structure(data, Persona)
