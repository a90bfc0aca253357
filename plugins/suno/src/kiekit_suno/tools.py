"""Suno's other operations: lyrics, WAV, stems, MIDI, a music video, cover art.

Each is read at a record-info path of its own (kie-api.md §3.6), with a vocabulary of its own
(KIE's get-lyrics-details, get-wav-details, get-vocal-separation-details, get-midi-details,
get-music-video-details and get-cover-suno-details pages):

- lyrics: ``status`` PENDING, SUCCESS, CREATE_TASK_FAILED, GENERATE_LYRICS_FAILED,
  CALLBACK_EXCEPTION, SENSITIVE_WORD_ERROR; the texts at ``response.data[]``;
- WAV, stems, music video: ``successFlag`` is a *word* — PENDING, SUCCESS, CREATE_TASK_FAILED,
  GENERATE_WAV_FAILED / GENERATE_AUDIO_FAILED / GENERATE_MP4_FAILED, CALLBACK_EXCEPTION; files at
  ``response.audioWavUrl``, ``response.vocalUrl``/``instrumentalUrl``/``drumsUrl``…,
  ``response.videoUrl``;
- MIDI and cover art: ``successFlag`` is a *number* — 0 pending, 1 success, 2 create-task
  failed, 3 generation failed; the notes at ``midiData``, the images at ``response.images``.
  The cover page's success example carries ``errorCode: 200``: not a failure.

CALLBACK_EXCEPTION is read as in :mod:`kiekit_suno.music`: SUCCEEDED when the record holds the
result, FAILED otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
from attrs import frozen
from kiekit.plugin import (
    Asset,
    Input,
    MediaKind,
    Model,
    ProtocolError,
    Results,
    State,
    TaskStatus,
    choice,
    text,
    wire,
)

from kiekit_suno.base import SunoProvider, file_asset

__all__ = [
    "COVER",
    "LYRICS",
    "MIDI",
    "MP4",
    "STEMS",
    "VOCAL_REMOVAL",
    "WAV",
    "SunoCover",
    "SunoCoverProvider",
    "SunoLyrics",
    "SunoLyricsProvider",
    "SunoMidi",
    "SunoMidiProvider",
    "SunoMp4",
    "SunoMp4Provider",
    "SunoVocalRemoval",
    "SunoVocalRemovalProvider",
    "SunoWav",
    "SunoWavProvider",
]

LYRICS = "suno/lyrics"
WAV = "suno/wav"
VOCAL_REMOVAL = "suno/vocal-removal"
MIDI = "suno/midi"
MP4 = "suno/mp4"
COVER = "suno/cover"
GENERATE = "suno/generate"  # the model whose record-info reads every song task (§3.6)

CALLBACK_EXCEPTION = "CALLBACK_EXCEPTION"
_WORD_FAILURES = ("CREATE_TASK_FAILED", "SENSITIVE_WORD_ERROR")
# get-midi-details: "0: Pending - Task is waiting to be executed", 1 success, 2 create-task
# failed, 3 generation failed; the cover page's example uses the same numbers
_NUMBER_FLAGS: Mapping[int, State] = {
    0: State.QUEUED,
    1: State.SUCCEEDED,
    2: State.FAILED,
    3: State.FAILED,
}
NO_ERROR_CODES = ("", "0", "200")  # errorCode of a task that did not fail (cover: 200)

# The stems of the vocal-removal record, in its order (get-vocal-separation-details): the
# separate_vocal type fills vocal and instrumental, split_stem the instruments.
STEMS = (
    "vocal",
    "instrumental",
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


@frozen
class SunoLyrics(Input):
    """Input of ``suno/lyrics``: lyrics from a description of at most 200 characters."""

    prompt: str = text(max_length=200)


@frozen
class SunoWav(Input):
    """Input of ``suno/wav``: the WAV file of one track (``task_id`` of the music task,
    ``audio_id`` the track's ``id``)."""

    task_id: str = text()
    audio_id: str = text()


@frozen
class SunoVocalRemoval(Input):
    """Input of ``suno/vocal-removal``: ``separate_vocal`` (vocals and instrumental, KIE's
    default) or ``split_stem`` (one file per instrument) of one track."""

    task_id: str = text()
    audio_id: str = text()
    type: str = choice("separate_vocal", "split_stem", default="separate_vocal")


@frozen
class SunoMidi(Input):
    """Input of ``suno/midi``: the notes of a finished ``suno/vocal-removal`` task
    (``task_id``); ``audio_id`` picks one of its stems."""

    task_id: str = text()
    audio_id: str | None = text(default=None, required=False)


@frozen
class SunoMp4(Input):
    """Input of ``suno/mp4``: a music video of one track; ``author`` and ``domain_name``
    (at most 50 characters each) are shown in it."""

    task_id: str = text()
    audio_id: str = text()
    author: str | None = text(default=None, required=False, max_length=50)
    domain_name: str | None = text(default=None, required=False, max_length=50)


@frozen
class SunoCover(Input):
    """Input of ``suno/cover``: cover art (usually two images) for a music task."""

    task_id: str = text()


@attrs.frozen
class LyricsEntry(wire.WireRecord):
    text: str | None = None
    title: str | None = None
    status: str | None = None
    error_message: str | None = None


@attrs.frozen
class LyricsResponse(wire.WireRecord):
    task_id: str | None = None
    data: list[LyricsEntry] | None = None


@attrs.frozen
class LyricsRecord(wire.WireRecord):
    status: str
    task_id: str | None = None
    param: wire.JsonText | None = None
    response: LyricsResponse | None = None
    error_code: wire.Code | None = None
    error_message: str | None = None

    def texts(self) -> list[LyricsEntry]:
        entries = (self.response.data if self.response else None) or []
        return [entry for entry in entries if entry.text]


@attrs.frozen
class FlagRecord(wire.WireRecord):
    """The record of WAV, stems, MIDI, video and cover tasks: ``successFlag`` (a word or a
    number) and a ``response`` object of each operation's own."""

    success_flag: Any  # a word (WAV, stems, video) or 0–3 (MIDI, cover art); read by word()
    task_id: str | None = None
    response: Mapping[str, Any] | None = None
    midi_data: Mapping[str, Any] | None = None
    error_code: wire.Code | None = None
    error_message: str | None = None


def _word_states(failures: tuple[str, ...]) -> dict[str, State]:
    states = {"PENDING": State.QUEUED, "SUCCESS": State.SUCCEEDED}
    states.update(dict.fromkeys((*_WORD_FAILURES, *failures), State.FAILED))
    return states


class SunoLyricsProvider(SunoProvider):
    name = "suno-lyrics"
    models = (Model(LYRICS, SunoLyrics, MediaKind.TEXT),)
    create_paths: ClassVar[Mapping[str, str]] = {LYRICS: "/api/v1/lyrics"}
    status_path = "/api/v1/lyrics/record-info"
    states: ClassVar[Mapping[str, State]] = _word_states(("GENERATE_LYRICS_FAILED",))

    def record(self, task_id: str, data: Any) -> LyricsRecord:
        return wire.structure(data, LyricsRecord, task_id=task_id)

    def parse_status(self, task_id: str, data: Any) -> TaskStatus:
        record = self.record(task_id, data)
        states = dict(self.states)
        states[CALLBACK_EXCEPTION] = State.SUCCEEDED if record.texts() else State.FAILED
        return self.status_of(
            task_id,
            record.status,
            states,
            data,
            error_code=record.error_code,
            error_message=record.error_message,
        )

    def extract_results(self, task_id: str, data: Any) -> Results:
        """No file: ``Results.value`` is the list of lyrics, each ``{"text", "title",
        "status", "error_message"}``."""
        record = self.record(task_id, data)
        if record.status not in ("SUCCESS", CALLBACK_EXCEPTION):
            raise ProtocolError(f"no lyrics in status {record.status!r}", task_id=task_id)
        entries = record.texts()
        if not entries:
            raise ProtocolError("succeeded task holds no lyrics", task_id=task_id, payload=data)
        value = [attrs.asdict(entry) for entry in entries]  # text, title, status, error_message
        return Results(task_id=task_id, assets=(), raw=data, value=value)


class _FlagProvider(SunoProvider):
    """A tool whose record says ``successFlag``; subclasses read their own ``response``."""

    states: ClassVar[Mapping[Any, State]]
    numbers: ClassVar[bool] = False  # successFlag is 0–3, not a word

    def record(self, task_id: str, data: Any) -> FlagRecord:
        return wire.structure(data, FlagRecord, task_id=task_id)

    def word(self, record: FlagRecord) -> str | int:
        """The flag as its family spells it: a word, or 0–3 (also given as "1")."""
        flag = record.success_flag
        if self.numbers and isinstance(flag, str) and flag.strip().isdigit():
            return int(flag)
        if isinstance(flag, bool) or not isinstance(flag, (str, int)):
            raise ProtocolError(
                f"successFlag is neither a word nor a number: {flag!r}", task_id=record.task_id
            )
        return flag

    def parse_status(self, task_id: str, data: Any) -> TaskStatus:
        record = self.record(task_id, data)
        states = dict(self.states)
        if not self.numbers:
            states[CALLBACK_EXCEPTION] = State.SUCCEEDED if self.holds(record) else State.FAILED
        code = record.error_code
        return self.status_of(
            task_id,
            self.word(record),
            states,
            data,
            error_code=None if (code or "") in NO_ERROR_CODES else code,
            error_message=record.error_message,
        )

    def holds(self, record: FlagRecord) -> bool:
        """Whether the record carries the result (for CALLBACK_EXCEPTION)."""
        try:
            return bool(self.assets(record.task_id or "", record))
        except ProtocolError:
            return False

    def extract_results(self, task_id: str, data: Any) -> Results:
        record = self.record(task_id, data)
        word = self.word(record)
        if self.states.get(word) is not State.SUCCEEDED and word != CALLBACK_EXCEPTION:
            raise ProtocolError(f"task has no results with successFlag {word!r}", task_id=task_id)
        found = self.assets(task_id, record)
        if not found:
            raise ProtocolError("succeeded task lists no files", task_id=task_id, payload=data)
        return Results(task_id=task_id, assets=found, raw=data)

    def assets(self, task_id: str, record: FlagRecord) -> tuple[Asset, ...]:
        return ()


class SunoWavProvider(_FlagProvider):
    name = "suno-wav"
    models = (Model(WAV, SunoWav, MediaKind.AUDIO),)
    parents: ClassVar[Mapping[str, str]] = {WAV: GENERATE}  # read when KIE refuses
    create_paths: ClassVar[Mapping[str, str]] = {WAV: "/api/v1/wav/generate"}
    status_path = "/api/v1/wav/record-info"
    # the page lists GENERATE_WAV_FAILED; its example's enum text says GENERATE_AUDIO_FAILED
    states: ClassVar[Mapping[Any, State]] = _word_states(
        ("GENERATE_WAV_FAILED", "GENERATE_AUDIO_FAILED")
    )

    def assets(self, task_id: str, record: FlagRecord) -> tuple[Asset, ...]:
        found = (record.response or {}).get("audioWavUrl")
        if not found:
            return ()
        return (file_asset(found, MediaKind.AUDIO, task_id=task_id, label="wav"),)


class SunoVocalRemovalProvider(_FlagProvider):
    name = "suno-vocal-removal"
    models = (Model(VOCAL_REMOVAL, SunoVocalRemoval, MediaKind.AUDIO),)
    parents: ClassVar[Mapping[str, str]] = {VOCAL_REMOVAL: GENERATE}  # read when KIE refuses
    create_paths: ClassVar[Mapping[str, str]] = {VOCAL_REMOVAL: "/api/v1/vocal-removal/generate"}
    status_path = "/api/v1/vocal-removal/record-info"
    states: ClassVar[Mapping[Any, State]] = _word_states(("GENERATE_AUDIO_FAILED",))

    def assets(self, task_id: str, record: FlagRecord) -> tuple[Asset, ...]:
        """One file per stem KIE filled in, labelled with the stem (``vocal``, ``drums``…);
        ``originUrl`` (the mix that went in) stays in ``results.raw``."""
        response = record.response or {}
        return tuple(
            file_asset(response[f"{stem}Url"], MediaKind.AUDIO, task_id=task_id, label=stem)
            for stem in STEMS
            if response.get(f"{stem}Url")
        )


class SunoMp4Provider(_FlagProvider):
    name = "suno-mp4"
    models = (Model(MP4, SunoMp4, MediaKind.VIDEO),)
    parents: ClassVar[Mapping[str, str]] = {MP4: GENERATE}  # read when KIE refuses
    create_paths: ClassVar[Mapping[str, str]] = {MP4: "/api/v1/mp4/generate"}
    status_path = "/api/v1/mp4/record-info"
    states: ClassVar[Mapping[Any, State]] = _word_states(("GENERATE_MP4_FAILED",))

    def assets(self, task_id: str, record: FlagRecord) -> tuple[Asset, ...]:
        found = (record.response or {}).get("videoUrl")
        if not found:
            return ()
        return (file_asset(found, MediaKind.VIDEO, task_id=task_id, label="video"),)


class SunoCoverProvider(_FlagProvider):
    name = "suno-cover"
    models = (Model(COVER, SunoCover, MediaKind.IMAGE),)
    parents: ClassVar[Mapping[str, str]] = {COVER: GENERATE}  # read when KIE refuses
    create_paths: ClassVar[Mapping[str, str]] = {COVER: "/api/v1/suno/cover/generate"}
    status_path = "/api/v1/suno/cover/record-info"
    states: ClassVar[Mapping[Any, State]] = _NUMBER_FLAGS
    numbers = True

    def assets(self, task_id: str, record: FlagRecord) -> tuple[Asset, ...]:
        images = (record.response or {}).get("images")
        if images is None:
            return ()
        if not isinstance(images, list):
            raise ProtocolError("response.images is not a list", task_id=task_id)
        return tuple(
            file_asset(image, MediaKind.IMAGE, task_id=task_id, label="cover") for image in images
        )


class SunoMidiProvider(_FlagProvider):
    name = "suno-midi"
    models = (Model(MIDI, SunoMidi, MediaKind.TEXT),)
    parents: ClassVar[Mapping[str, str]] = {MIDI: VOCAL_REMOVAL}  # read when KIE refuses
    create_paths: ClassVar[Mapping[str, str]] = {MIDI: "/api/v1/midi/generate"}
    status_path = "/api/v1/midi/record-info"
    states: ClassVar[Mapping[Any, State]] = _NUMBER_FLAGS
    numbers = True

    def extract_results(self, task_id: str, data: Any) -> Results:
        """No file: ``Results.value`` is KIE's ``midiData`` — ``{"state", "instruments":
        [{"name", "notes": [{"pitch", "start", "end", "velocity"}]}]}``. It may hold no
        instruments (KIE: after a ``split_stem`` separation "midiData may be empty")."""
        record = self.record(task_id, data)
        if self.word(record) != 1:
            raise ProtocolError(
                f"task has no notes with successFlag {record.success_flag!r}", task_id=task_id
            )
        if record.midi_data is None:
            raise ProtocolError("succeeded MIDI task has no midiData", task_id=task_id)
        instruments = record.midi_data.get("instruments", [])
        if not isinstance(instruments, list):
            raise ProtocolError("midiData.instruments is not a list", task_id=task_id)
        return Results(task_id=task_id, assets=(), raw=data, value=dict(record.midi_data))
