"""Timestamped lyrics: when each word of a track is sung, answered at once — not a task, so
there is nothing to wait for (``POST /api/v1/generate/get-timestamped-lyrics``, kie-api.md §3.6
"(sync, ``{taskId, audioId}``)").

KIE's get-timestamped-lyrics page (https://docs.kie.ai/cn/suno-api/get-timestamped-lyrics, and
the old-model copy of the English page) takes ``taskId`` (the music task) and ``audioId`` (one
of its tracks), both required, and answers ``data``:
``{"alignedWords": [{"word", "success", "startS", "endS", "palign"}], "waveformData": [...],
"hootCer", "isStreamed"}`` — times in seconds; an instrumental track has no lyrics, so no words.
No ``callBackUrl``: nothing is called back.

>>> with Client(base_url=mock.base_url) as kie:               # doctest: +SKIP
...     data = kie.call(timestamped_lyrics_request(task_id, audio_id))
...     for word in timestamped_lyrics(data).aligned_words:
...         print(word.start_s, word.word)
"""

from __future__ import annotations

from typing import Any

import attrs
from kiekit.plugin import ProtocolError, Request, ValidationError, wire

__all__ = [
    "PATH",
    "AlignedWord",
    "TimestampedLyrics",
    "timestamped_lyrics",
    "timestamped_lyrics_request",
]

PATH = "/api/v1/generate/get-timestamped-lyrics"


def timestamped_lyrics_request(task_id: str, audio_id: str) -> Request:
    """The request for :meth:`kiekit.Client.call`: the words of track ``audio_id`` of the music
    task ``task_id`` (a track's ``id`` in ``Results.value``), checked before sending."""
    for name, value in (("task_id", task_id), ("audio_id", audio_id)):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(name, "is required: the id KIE gave (a music task's, a track's)")
    return Request("POST", PATH, body={"taskId": task_id, "audioId": audio_id})


@attrs.frozen
class AlignedWord(wire.WireRecord):
    """One sung word (a line's first word carries its section tag, ``"[Verse]\\nWaggin'"``)."""

    word: str
    start_s: float
    end_s: float
    # whether Suno could place the word: true/false as KIE gives it (kiekit's wire converter
    # reads only numbers and text strictly; a flag is kept as sent)
    success: Any = None
    palign: float | None = None


@attrs.frozen
class TimestampedLyrics(wire.WireRecord):
    """The answer's ``data``: the words in order, the waveform (for a visualisation), and
    KIE's ``hootCer`` (an alignment error rate) and ``isStreamed`` as it gives them."""

    aligned_words: list[AlignedWord] | None = None  # none for an instrumental track
    waveform_data: list[float] | None = None
    hoot_cer: float | None = None
    is_streamed: Any = None  # true/false as KIE gives it


def timestamped_lyrics(data: Any) -> TimestampedLyrics:
    """The answer's ``data`` as typed values; ProtocolError if it is not the documented shape
    (a word without its text or times, say)."""
    if not isinstance(data, dict):
        raise ProtocolError("timestamped lyrics answered no object", payload=data)
    return wire.structure(data, TimestampedLyrics)
