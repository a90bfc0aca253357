"""Songs: generate, extend, cover or extend an uploaded song, add an instrumental or vocals,
replace a section of a song.

Wire facts (kie-api.md §3.6; KIE's generate-music, extend-music, upload-and-cover-audio,
upload-and-extend-audio, add-instrumental, add-vocals, replace-section and get-music-details
pages):

- seven create paths, one record-info: ``GET /api/v1/generate/record-info`` reports them all;
- ``status`` is a word: PENDING, TEXT_SUCCESS (lyrics written), FIRST_SUCCESS (the first track
  is ready), SUCCESS (all tracks), and the failures CREATE_TASK_FAILED, GENERATE_AUDIO_FAILED,
  SENSITIVE_WORD_ERROR, CALLBACK_EXCEPTION ("error during callback process");
- the songs are ``response.sunoData[]`` — normally two per task — each with ``id`` (the audio id
  that extend, WAV, stems and videos take), ``audioUrl``, ``streamAudioUrl``, ``imageUrl``
  (its cover), ``title``, ``tags``, ``prompt``, ``modelName``, ``createTime``, ``duration``.

The results are each track's audio (``track-N``) and its cover art (``track-N-cover``,
``AssetRole.EXTRA``). Left out of the files on purpose, kept in ``Results.value``:
``streamAudioUrl``, a stream of the same song that plays before the file is final (downloading
it would fetch the song twice); and the ``source_*`` links upload-* callbacks add (§3.6), which
name the caller's own upload and are not in record-info, where kiekit reads results.

CALLBACK_EXCEPTION is read like Luma's successFlag 4 (§3.5, §6.1): the failure is KIE's POST to
the callBackUrl, not the music. A record that says CALLBACK_EXCEPTION and still lists tracks
with audio is SUCCEEDED, with those tracks as results (they were paid for); one without any is
FAILED, carrying KIE's errorCode and errorMessage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
from attrs import frozen
from kiekit.plugin import (
    AssetRole,
    Input,
    InputField,
    MediaKind,
    Model,
    ProtocolError,
    Results,
    State,
    TaskStatus,
    ValidationError,
    choice,
    flag,
    number,
    text,
    url,
    wire,
)

from kiekit_suno.base import SunoProvider, file_asset

__all__ = [
    "ADD_INSTRUMENTAL",
    "ADD_VOCALS",
    "EXTEND",
    "GENERATE",
    "MUSIC_MODELS",
    "REPLACE_SECTION",
    "UPLOAD_COVER",
    "UPLOAD_EXTEND",
    "VERSIONS",
    "SunoAddInstrumental",
    "SunoAddVocals",
    "SunoExtend",
    "SunoGenerate",
    "SunoMusicProvider",
    "SunoReplaceSection",
    "SunoUploadCover",
    "SunoUploadExtend",
]

GENERATE = "suno/generate"
EXTEND = "suno/extend"
UPLOAD_COVER = "suno/upload-cover"
UPLOAD_EXTEND = "suno/upload-extend"
ADD_INSTRUMENTAL = "suno/add-instrumental"
ADD_VOCALS = "suno/add-vocals"
REPLACE_SECTION = "suno/replace-section"
MUSIC_MODELS = (
    GENERATE,
    EXTEND,
    UPLOAD_COVER,
    UPLOAD_EXTEND,
    ADD_INSTRUMENTAL,
    ADD_VOCALS,
    REPLACE_SECTION,
)

CREATE_PATHS = {
    GENERATE: "/api/v1/generate",
    EXTEND: "/api/v1/generate/extend",
    UPLOAD_COVER: "/api/v1/generate/upload-cover",
    UPLOAD_EXTEND: "/api/v1/generate/upload-extend",
    ADD_INSTRUMENTAL: "/api/v1/generate/add-instrumental",
    ADD_VOCALS: "/api/v1/generate/add-vocals",
    REPLACE_SECTION: "/api/v1/generate/replace-section",
}
STATUS_PATH = "/api/v1/generate/record-info"

# KIE's `model` values (§3.6). KIE requires one; kiekit sends DEFAULT_VERSION when none is given.
VERSIONS = ("V3_5", "V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5")
DEFAULT_VERSION = "V5"


@frozen
class Limits:
    prompt: int
    style: int
    title: int


# Custom-mode lengths per version (KIE's generate-music page): V4 3000/200/80; V4_5, V4_5PLUS,
# V5, V5_5 5000/1000/100; V4_5ALL 5000/1000 with an 80-character title. V3_5 is listed with V4
# on the older pages. Without custom mode a prompt is at most 500 characters.
LIMITS: Mapping[str, Limits] = {
    "V3_5": Limits(3000, 200, 80),
    "V4": Limits(3000, 200, 80),
    "V4_5": Limits(5000, 1000, 100),
    "V4_5PLUS": Limits(5000, 1000, 100),
    "V4_5ALL": Limits(5000, 1000, 80),
    "V5": Limits(5000, 1000, 100),
    "V5_5": Limits(5000, 1000, 100),
}
SIMPLE_PROMPT_MAX = 500
PROMPT_MAX = max(limit.prompt for limit in LIMITS.values())
STYLE_MAX = max(limit.style for limit in LIMITS.values())
TITLE_MAX = max(limit.title for limit in LIMITS.values())

# §3.6 status words of music tasks; CALLBACK_EXCEPTION is decided by the record (see above).
STATES: Mapping[str, State] = {
    "PENDING": State.QUEUED,
    "TEXT_SUCCESS": State.RUNNING,
    "FIRST_SUCCESS": State.RUNNING,
    "SUCCESS": State.SUCCEEDED,
    "CREATE_TASK_FAILED": State.FAILED,
    "GENERATE_AUDIO_FAILED": State.FAILED,
    "SENSITIVE_WORD_ERROR": State.FAILED,
}
CALLBACK_EXCEPTION = "CALLBACK_EXCEPTION"
# How far a running song task has come (TaskStatus.stage), in the words of §3.6's staged
# callbacks: "text" (the lyrics are written) and "first" (one track is ready)
STAGES: Mapping[str, str] = {
    "TEXT_SUCCESS": "lyrics written",
    "FIRST_SUCCESS": "first track ready",
}


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _need(name: str, value: str | None, why: str) -> None:
    if _blank(value):
        raise ValidationError(name, f"is required {why}")


def _at_most(name: str, value: str | None, limit: int, why: str) -> None:
    if value is not None and len(value) > limit:
        raise ValidationError(name, f"allows at most {limit} characters {why}; got {len(value)}")


@frozen
class _Sound(Input):
    """Fields every song operation takes. None leaves KIE's default."""

    version: str = choice(*VERSIONS, default=DEFAULT_VERSION, wire="model")
    negative_tags: str | None = text(default=None, required=False)  # styles to leave out
    vocal_gender: str | None = choice("m", "f", default=None)  # a preference, not a guarantee (KIE)
    # [INF] §3.6 names the weights without a type; KIE reads a number's text as the number
    # elsewhere (§2.2), and so do the mock and this plugin ("0.5" is sent as 0.5)
    style_weight: float | None = number(0, 1, default=None, numerals=True)
    weirdness_constraint: float | None = number(0, 1, default=None, numerals=True)
    audio_weight: float | None = number(0, 1, default=None, numerals=True)


@frozen
class _Described(_Sound):
    """The custom-mode rules of generate and upload-cover (KIE's generate-music page)."""

    prompt: str | None = text(default=None, required=False, max_length=PROMPT_MAX)
    custom_mode: bool = flag(default=False)
    instrumental: bool = flag(default=False)
    style: str | None = text(default=None, required=False, max_length=STYLE_MAX)
    title: str | None = text(default=None, required=False, max_length=TITLE_MAX)
    persona_id: str | None = text(default=None, required=False)

    def check(self) -> None:
        if not self.custom_mode:
            # "Only prompt is required regardless of instrumental setting", ≤500 characters;
            # style and title belong to custom mode ("other parameters should be left empty")
            _need("prompt", self.prompt, "(without custom mode it is the song's description)")
            _at_most("prompt", self.prompt, SIMPLE_PROMPT_MAX, "without custom mode")
            for name in ("style", "title"):  # "" is left empty, as the page asks
                if getattr(self, name) not in (None, ""):
                    raise ValidationError(name, "is used only with custom_mode=True")
            return
        limits = LIMITS[self.version]
        _need("style", self.style, "in custom mode")
        _need("title", self.title, "in custom mode")
        if not self.instrumental:
            _need("prompt", self.prompt, "in custom mode with vocals (it holds the lyrics)")
        why = f"with {self.version} in custom mode"
        _at_most("prompt", self.prompt, limits.prompt, why)
        _at_most("style", self.style, limits.style, why)
        _at_most("title", self.title, limits.title, why)


@frozen
class SunoGenerate(_Described):
    """Input of ``suno/generate``: two songs from a description, or in custom mode from
    lyrics (``prompt``), ``style`` and ``title``."""


@frozen
class SunoUploadCover(_Described):
    """Input of ``suno/upload-cover``: the song at ``upload_url`` sung anew in another
    style; the same custom-mode rules as ``suno/generate``."""

    upload_url: str = url(required=True, media="audio")  # the song (kie-api.md §3.6: uploadUrl)


@frozen
class _Continued(_Sound):
    """The fields of extend and upload-extend: continue a song from ``continue_at`` seconds."""

    default_param_flag: bool = flag(default=False)
    prompt: str | None = text(default=None, required=False, max_length=PROMPT_MAX)
    style: str | None = text(default=None, required=False, max_length=STYLE_MAX)
    title: str | None = text(default=None, required=False, max_length=TITLE_MAX)
    # "30.5" read as 30.5, as the weights
    continue_at: float | None = number(0, default=None, numerals=True)
    persona_id: str | None = text(default=None, required=False)

    def own_parameters(self, *, prompt_needed: bool) -> None:
        """defaultParamFlag true means "use these parameters": continueAt (and, with vocals,
        the prompt) are then required; false means "keep the source's". KIE's pages call
        style and title required too, but KIE accepts an extend without them (recorded
        traffic, kiekit issue 13), so kiekit does not refuse what KIE takes."""
        limits = LIMITS[self.version]
        _at_most("prompt", self.prompt, limits.prompt, f"with {self.version}")
        _at_most("style", self.style, limits.style, f"with {self.version}")
        _at_most("title", self.title, limits.title, f"with {self.version}")
        if not self.default_param_flag:
            return
        why = "with default_param_flag=True (the extension's own parameters)"
        if prompt_needed:
            _need("prompt", self.prompt, why)
        if self.continue_at is None:
            raise ValidationError("continue_at", f"is required {why}")
        if self.continue_at <= 0:
            raise ValidationError("continue_at", f"must be more than 0; got {self.continue_at}")


@frozen
class SunoExtend(_Continued):
    """Input of ``suno/extend``: continue a track KIE made (``audio_id``, a track's ``id``)
    with the ``version`` it was made with (its ``model_name``: ``chirp-v3-5`` is V3_5).

    ``version`` is required here: KIE's create bodies require ``model`` (§3.6: it is no
    optional field), and for an extend no default can be right — V5 sent for a V3_5 track is a
    paid task of another model. kiekit cannot look the track up (a provider does no I/O), so
    it asks, before anything is paid for."""

    audio_id: str = text()
    version: str = choice(*VERSIONS, required=True, wire="model")

    def check(self) -> None:
        self.own_parameters(prompt_needed=True)


@frozen
class SunoUploadExtend(_Continued):
    """Input of ``suno/upload-extend``: continue the song at ``upload_url``."""

    upload_url: str = url(required=True, media="audio")  # the song (kie-api.md §3.6: uploadUrl)
    instrumental: bool = flag(default=False)

    def check(self) -> None:
        self.own_parameters(prompt_needed=not self.instrumental)


@frozen
class SunoAddInstrumental(_Sound):
    """Input of ``suno/add-instrumental``: an accompaniment for the vocals at ``upload_url``."""

    upload_url: str = url(required=True, media="audio")  # the song (kie-api.md §3.6: uploadUrl)
    title: str = text(max_length=TITLE_MAX)
    tags: str = text()  # the accompaniment's style


@frozen
class SunoAddVocals(_Sound):
    """Input of ``suno/add-vocals``: vocals for the instrumental at ``upload_url``; KIE
    requires lyrics or a description (``prompt``), ``title``, ``style`` and ``negative_tags``."""

    upload_url: str = url(required=True, media="audio")  # the song (kie-api.md §3.6: uploadUrl)
    prompt: str = text(max_length=PROMPT_MAX)
    title: str = text(max_length=TITLE_MAX)
    style: str = text(max_length=STYLE_MAX)
    negative_tags: str = text()  # optional elsewhere, required here (add-vocals page)


@frozen
class SunoReplaceSection(Input):
    """Input of ``suno/replace-section``: the seconds ``infill_start_s`` to ``infill_end_s``
    of a track KIE made (``task_id`` of its music task, ``audio_id`` the track's ``id``) sung
    anew, blended into the rest; the result is a song task like ``suno/generate``'s.

    Fields of KIE's replace-section page (the path form, kept at
    https://docs.kie.ai/old-model/suno-api/replace-section; its example is the Chinese page's,
    https://dog-test.kie.ai/cn/suno-api/replace-section-cn): ``taskId``, ``audioId``,
    ``prompt`` (the new section's lyrics), ``tags`` (its style), ``title``, ``negativeTags``
    (optional), ``infillStartS`` and ``infillEndS`` (seconds, two decimals), ``fullLyrics``
    (the whole song's lyrics with the section changed), ``callBackUrl``. The page has no
    ``model`` field: the track's own version is used. "infill_start_s must be less than
    infill_end_s" (the page); KIE's other limits on the range are not stated there, so kiekit
    checks only that order, before anything is paid for."""

    task_id: str = text()
    audio_id: str = text()
    prompt: str = text(max_length=PROMPT_MAX)
    tags: str = text(max_length=STYLE_MAX)
    title: str = text(max_length=TITLE_MAX)
    infill_start_s: float = number(0, required=True, numerals=True, wire="infillStartS")
    infill_end_s: float = number(0, required=True, numerals=True, wire="infillEndS")
    full_lyrics: str = text()
    negative_tags: str | None = text(default=None, required=False)

    def check(self) -> None:
        if self.infill_end_s <= self.infill_start_s:
            raise ValidationError(
                "infill_end_s",
                f"must be more than infill_start_s ({self.infill_start_s}); "
                f"got {self.infill_end_s}",
            )


@attrs.frozen
class TrackRecord(wire.WireRecord):
    """One of ``sunoData[]``. ``Results.value`` of a song task is the list of these as dicts:
    ``id`` (the audio id that extend, WAV, stems and videos take), ``title``, ``tags``,
    ``duration``, ``audio_url``, ``stream_audio_url`` (plays before the file is final),
    ``image_url``, ``prompt``, ``model_name``, ``create_time``."""

    id: str | None = None
    audio_url: str | None = None
    stream_audio_url: str | None = None
    image_url: str | None = None
    prompt: str | None = None
    model_name: str | None = None
    title: str | None = None
    tags: str | None = None
    create_time: Any = None  # "2025-01-01 00:00:00" in the example; kept as KIE gives it
    duration: float | None = None


@attrs.frozen
class MusicResponse(wire.WireRecord):
    task_id: str | None = None
    suno_data: list[TrackRecord] | None = None
    error_message: str | None = None


@attrs.frozen
class MusicRecord(wire.WireRecord):
    """generate/record-info ``data`` (KIE's get-music-details page)."""

    status: str
    task_id: str | None = None
    parent_music_id: str | None = None
    param: wire.JsonText | None = None
    response: MusicResponse | None = None
    type: str | None = None
    operation_type: str | None = None
    error_code: wire.Code | None = None
    error_message: str | None = None

    def tracks(self) -> Sequence[TrackRecord]:
        return (self.response.suno_data if self.response else None) or ()

    def finished_tracks(self) -> list[TrackRecord]:
        return [t for t in self.tracks() if t.audio_url]


class SunoMusicProvider(SunoProvider):
    """The song operations; all are read at ``/api/v1/generate/record-info``."""

    name = "suno"
    models = (
        Model(GENERATE, SunoGenerate, None),  # audio tracks and their cover images
        Model(EXTEND, SunoExtend, None),
        Model(UPLOAD_COVER, SunoUploadCover, None),
        Model(UPLOAD_EXTEND, SunoUploadExtend, None),
        Model(ADD_INSTRUMENTAL, SunoAddInstrumental, None),
        Model(ADD_VOCALS, SunoAddVocals, None),
        # its callback is the songs' "complete" one, its record the songs' (replace-section
        # callbacks page): read at generate/record-info like the others
        Model(REPLACE_SECTION, SunoReplaceSection, None),
    )
    create_paths: ClassVar[Mapping[str, str]] = CREATE_PATHS
    status_path = STATUS_PATH
    # a refused replace-section reads the song it names (SunoProvider.refused_by_parent)
    parents: ClassVar[Mapping[str, str]] = {REPLACE_SECTION: GENERATE}

    def make_input(
        self,
        model_id: str,
        values: Input | Mapping[str, Any] | None = None,
        *,
        from_text: bool = False,
        **fields: Any,
    ) -> Input:
        """As every provider's; an extend without ``version`` says which one to give."""
        if model_id == EXTEND and not isinstance(values, Input):
            given = {**(values or {}), **fields}
            if given.get("version", given.get("model")) is None:  # its wire name too
                raise ValidationError(
                    "version",
                    "is required for suno/extend: give the version the track was made with "
                    f"(its model_name: chirp-v3-5 is V3_5), one of {', '.join(VERSIONS)}",
                )
        return super().make_input(model_id, values, from_text=from_text, **fields)

    def input_fields(self, model_id: str) -> tuple[InputField, ...]:
        """As every provider's, with each length that depends on the version and custom mode
        said in words (``kie models``): the field's own ``max_length`` is the loosest."""
        fields = super().input_fields(model_id)
        notes = _length_notes(self.model(model_id).input)
        return tuple(
            attrs.evolve(field, note=notes[field.name]) if field.name in notes else field
            for field in fields
        )

    def record(self, task_id: str, data: Any) -> MusicRecord:
        return wire.structure(data, MusicRecord, task_id=task_id)

    def parse_status(self, task_id: str, data: Any) -> TaskStatus:
        """The task's state; while it runs, its ``stage`` (STAGES) and the tracks already
        made (``ready``: the first one at FIRST_SUCCESS, paid for and downloadable before the
        second is done, §3.6), kept too by a task that fails after them."""
        record = self.record(task_id, data)
        states = dict(STATES)
        finished = record.finished_tracks()
        # CALLBACK_EXCEPTION: the songs exist unless the record lists none (module docstring)
        states[CALLBACK_EXCEPTION] = State.SUCCEEDED if finished else State.FAILED
        ready = None
        if finished and states.get(record.status) is not State.SUCCEEDED:
            ready = _track_results(task_id, record.tracks(), data, ready_only=True)
        return self.status_of(
            task_id,
            record.status,
            states,
            data,
            error_code=record.error_code,
            error_message=record.error_message
            or (record.response.error_message if record.response else None),
            stage=STAGES.get(record.status),
            ready=ready,
        )

    def extract_results(self, task_id: str, data: Any) -> Results:
        record = self.record(task_id, data)
        if record.status == "SUCCESS":
            tracks = list(record.tracks())
            if any(not t.audio_url for t in tracks):
                raise ProtocolError("a SUCCESS track has no audioUrl", task_id=task_id)
        elif record.status == CALLBACK_EXCEPTION:
            tracks = record.finished_tracks()
        else:
            raise ProtocolError(f"task has no songs in status {record.status!r}", task_id=task_id)
        if not tracks:
            raise ProtocolError("succeeded task lists no songs", task_id=task_id, payload=data)
        return _track_results(task_id, tracks, data)


def _by_version(what: str) -> str:
    """Each version's limit of ``what`` (a Limits field), versions of one limit together."""
    groups: dict[int, list[str]] = {}
    for version, limits in LIMITS.items():
        groups.setdefault(getattr(limits, what), []).append(version)
    return ", ".join(f"{'/'.join(v)} {limit}" for limit, v in groups.items())


def _length_notes(input_class: type) -> dict[str, str]:
    """The per-version (and, for generate and upload-cover, per-mode) lengths of an input's
    prompt, style and title: what LIMITS and SIMPLE_PROMPT_MAX check."""
    if not issubclass(input_class, (_Described, _Continued)):
        return {}  # add-vocals, add-instrumental, replace-section: one limit, not by version
    custom = issubclass(input_class, _Described)
    where = "only with custom_mode, " if custom else ""
    notes = {
        name: f"{where}characters at most by version: {_by_version(name)}"
        for name in ("prompt", "style", "title")
    }
    if custom:
        notes["prompt"] = (
            f"at most {SIMPLE_PROMPT_MAX} characters without custom_mode; with it, characters "
            f"at most by version: {_by_version('prompt')}"
        )
    return notes


def _track_results(
    task_id: str, tracks: Sequence[TrackRecord], data: Any, *, ready_only: bool = False
) -> Results:
    """Each track's audio (``track-N``) and cover art, and their fields as ``value``. With
    ``ready_only`` (a task still running) the tracks without audio are left out, the others
    numbered by their place in ``sunoData``: the first track ready early keeps the name it
    has among the finished task's files."""
    assets = []
    for place, track in enumerate(tracks, start=1):
        if ready_only and not track.audio_url:
            continue
        label = f"track-{place}"
        assets.append(file_asset(track.audio_url, MediaKind.AUDIO, task_id=task_id, label=label))
        if track.image_url:  # the track's cover art: an extra beside the song
            assets.append(
                file_asset(
                    track.image_url,
                    MediaKind.IMAGE,
                    task_id=task_id,
                    label=f"{label}-cover",
                    role=AssetRole.EXTRA,
                )
            )
    # every field KIE gave for each song, snake_case, JSON-ready (the CLI prints it)
    value = [attrs.asdict(track) for track in tracks if track.audio_url or not ready_only]
    return Results(task_id=task_id, assets=tuple(assets), raw=data, value=value)
