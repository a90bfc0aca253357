"""kiekit-suno adopts the provider contract: one class per record-info path.

Payloads follow KIE's record examples as quoted in kie-api.md §3.6 and on the get-music-details,
get-lyrics-details, get-wav-details, get-vocal-separation-details, get-midi-details,
get-music-video-details and get-cover-suno-details pages. The operations on a finished song
(extend, WAV, stems, MIDI, video, cover art) need a song the mock made first: their classes make
one and put its ids into every input, since KIE (and the mock) refuse ids they never issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, cast

import attrs
import pytest
from hypothesis import given, settings
from kiekit import Input, Model, Registry, State, TaskFailedError, TaskStatus
from kiekit_contract import ProviderContract, client_for, smallest_input, valid_inputs
from kiekit_contract.contract import CLIENTS
from kiekit_mock import MockServer
from kiekit_suno import (
    SunoCoverProvider,
    SunoLyricsProvider,
    SunoMidiProvider,
    SunoMp4Provider,
    SunoMusicProvider,
    SunoVocalRemovalProvider,
    SunoWavProvider,
)
from kiekit_suno.music import (
    ADD_INSTRUMENTAL,
    ADD_VOCALS,
    EXTEND,
    GENERATE,
    REPLACE_SECTION,
    UPLOAD_COVER,
    UPLOAD_EXTEND,
)
from kiekit_suno.tools import VOCAL_REMOVAL

TASK = "5c79a1b2c3d4e5f60718293a4b5c6d7e"
TRACK = "e231aa11-2b3c-4d5e-8f90-a1b2c3d4dc7c"
MP3 = "https://tempfile.aiquickdraw.com/s/e231aa11.mp3"
JPEG = "https://tempfile.aiquickdraw.com/s/e231aa11.jpeg"
SONG = "https://example.com/song.mp3"

_TRACK = {
    "id": TRACK,
    "audioUrl": MP3,
    "streamAudioUrl": "https://mfile.erweima.ai/e231aa11",
    "imageUrl": JPEG,
    "prompt": "[Verse] night city lights",
    "modelName": "chirp-v3-5",
    "title": "Iron Man",
    "tags": "electrifying, rock",
    "createTime": "2025-01-01 00:00:00",
    "duration": 198.44,
}
_WRITTEN = _TRACK | {"audioUrl": "", "imageUrl": "", "duration": None}
MUSIC_PENDING = {
    "taskId": TASK,
    "parentMusicId": "",
    "param": '{"prompt":"A calm piano track","customMode":true,"instrumental":true}',
    "response": None,
    "status": "PENDING",
    "type": "GENERATE",
    "operationType": "generate",
    "errorCode": None,
    "errorMessage": None,
}
MUSIC_TEXT = MUSIC_PENDING | {
    "status": "TEXT_SUCCESS",
    "response": {"taskId": TASK, "sunoData": [_WRITTEN, _WRITTEN]},
}
MUSIC_FIRST = MUSIC_PENDING | {
    "status": "FIRST_SUCCESS",
    "response": {"taskId": TASK, "sunoData": [_TRACK, _WRITTEN]},
}
MUSIC_SUCCESS = MUSIC_PENDING | {  # the get-music-details example
    "status": "SUCCESS",
    "response": {"taskId": TASK, "sunoData": [_TRACK]},
}
MUSIC_FAILED = MUSIC_PENDING | {  # the quickstart's failure example
    "status": "GENERATE_AUDIO_FAILED",
    "response": {"taskId": TASK, "sunoData": [], "errorMessage": "Generation failed"},
    "errorCode": 501,
    "errorMessage": "Generation failed",
}
MUSIC_SENSITIVE = MUSIC_PENDING | {"status": "SENSITIVE_WORD_ERROR", "errorMessage": "sensitive"}
MUSIC_NOT_CREATED = MUSIC_PENDING | {"status": "CREATE_TASK_FAILED", "errorCode": 400}
# CALLBACK_EXCEPTION without songs: nothing was made. (With songs it is a success — tested in
# test_suno_provider.py, not here: a record whose songs are swapped for None would then read
# as failed, which is right, but the contract's probe counts every state change.)
MUSIC_CALLBACK_FAILED = MUSIC_PENDING | {
    "status": "CALLBACK_EXCEPTION",
    "response": {"taskId": TASK, "sunoData": []},
    "errorCode": 500,
    "errorMessage": "callback failed",
}
MUSIC_DOCUMENTED = (
    (MUSIC_PENDING, State.QUEUED),
    (MUSIC_TEXT, State.RUNNING),
    (MUSIC_FIRST, State.RUNNING),
    (MUSIC_SUCCESS, State.SUCCEEDED),
    (MUSIC_FAILED, State.FAILED),
    (MUSIC_SENSITIVE, State.FAILED),
    (MUSIC_NOT_CREATED, State.FAILED),
    (MUSIC_CALLBACK_FAILED, State.FAILED),
)

LYRICS_PENDING = {
    "taskId": TASK,
    "param": '{"prompt":"a song about the sea"}',
    "response": None,
    "status": "PENDING",
    "type": "LYRICS",
    "errorCode": None,
    "errorMessage": None,
}
LYRICS_SUCCESS = LYRICS_PENDING | {
    "status": "SUCCESS",
    "response": {
        "taskId": TASK,
        "data": [
            {"text": "[Verse]\nwaves", "title": "Sea", "status": "complete", "errorMessage": ""},
            {"text": "[Verse]\nsalt", "title": "Tide", "status": "complete", "errorMessage": ""},
        ],
    },
}
LYRICS_FAILED = LYRICS_PENDING | {
    "status": "GENERATE_LYRICS_FAILED",
    "errorCode": 501,
    "errorMessage": "failed",
}
LYRICS_SENSITIVE = LYRICS_PENDING | {"status": "SENSITIVE_WORD_ERROR"}

WAV_PENDING = {  # get-wav-details
    "taskId": "988e1234c8d3",
    "musicId": TRACK,
    "callbackUrl": "https://api.example.com/callback",
    "musicIndex": "0",
    "completeTime": None,
    "response": None,
    "successFlag": "PENDING",
    "createTime": "2025-01-01 00:00:00",
    "errorCode": None,
    "errorMessage": None,
}
WAV_SUCCESS = WAV_PENDING | {
    "completeTime": "2025-01-01 00:10:00",
    "response": {"audioWavUrl": "https://example.com/s/04e6e727.wav"},
    "successFlag": "SUCCESS",
}
WAV_FAILED = WAV_PENDING | {
    "successFlag": "GENERATE_WAV_FAILED",
    "errorCode": 501,
    "errorMessage": "failed",
}

_NO_STEMS = {
    f"{stem}Url": None
    for stem in (
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
}
VOCAL_SUCCESS = {  # get-vocal-separation-details, separate_vocal
    "taskId": "3e63b4cc88d52611159371f6af5571e7",
    "musicId": "376c687e-d439-42c1-b1e4-bcb43b095ec2",
    "callbackUrl": "https://example.com/api/v1/vocal-removal/test",
    "musicIndex": 0,
    "completeTime": 1753782937000,
    "response": {
        "originUrl": None,
        "instrumentalUrl": "https://file.aiquickdraw.com/s/d92a_Instrumental.mp3",
        "vocalUrl": "https://file.aiquickdraw.com/s/3d70_Vocals.mp3",
        **_NO_STEMS,
    },
    "successFlag": "SUCCESS",
    "createTime": 1753782854000,
    "errorCode": None,
    "errorMessage": None,
}
VOCAL_PENDING = VOCAL_SUCCESS | {"response": None, "successFlag": "PENDING", "completeTime": None}
VOCAL_FAILED = VOCAL_PENDING | {"successFlag": "GENERATE_AUDIO_FAILED", "errorCode": 501}

MIDI_SUCCESS = {  # get-midi-details
    "taskId": TASK,
    "recordTaskId": -1,
    "audioId": TRACK,
    "callbackUrl": "https://example.callback",
    "completeTime": 1760335255000,
    "midiData": {
        "state": "complete",
        "instruments": [
            {
                "name": "Drums",
                "notes": [{"pitch": 73, "start": 0.036, "end": 0.182, "velocity": 1}],
            }
        ],
    },
    "successFlag": 1,
    "createTime": 1760335251000,
    "errorCode": None,
    "errorMessage": None,
}
MIDI_PENDING = MIDI_SUCCESS | {"midiData": None, "successFlag": 0, "completeTime": None}
MIDI_FAILED = MIDI_PENDING | {"successFlag": 3, "errorCode": 501, "errorMessage": "failed"}

MP4_SUCCESS = {  # get-music-video-details
    "taskId": "774b9aa0422f",
    "musicId": TRACK,
    "callbackUrl": "https://api.example.com/callback",
    "musicIndex": 0,
    "completeTime": "2025-01-01 00:10:00",
    "response": {"videoUrl": "https://example.com/videos/video_847715e66259.mp4"},
    "successFlag": "SUCCESS",
    "createTime": "2025-01-01 00:00:00",
    "errorCode": None,
    "errorMessage": None,
}
MP4_PENDING = MP4_SUCCESS | {"response": None, "successFlag": "PENDING", "completeTime": None}
MP4_FAILED = MP4_PENDING | {"successFlag": "GENERATE_MP4_FAILED", "errorCode": 501}

COVER_SUCCESS = {  # get-cover-suno-details: errorCode 200 on success
    "taskId": "21aee3c3c2a01fa5e030b3799fa4dd56",
    "parentTaskId": "73d6128b3523a0079df10da9471017c8",
    "callbackUrl": "https://api.example.com/callback",
    "completeTime": "2025-01-15T10:35:27.000Z",
    "response": {
        "images": [
            "https://tempfile.aiquickdraw.com/s/1753958521_6c1b.png",
            "https://tempfile.aiquickdraw.com/s/1753958524_c153.png",
        ]
    },
    "successFlag": 1,
    "createTime": "2025-01-15T10:33:01.000Z",
    "errorCode": 200,
    "errorMessage": "",
}
COVER_PENDING = COVER_SUCCESS | {"response": None, "successFlag": 0, "errorCode": None}
COVER_FAILED = COVER_PENDING | {"successFlag": 3, "errorCode": 501, "errorMessage": "failed"}


# A track's streamAudioUrl is a stream of the song its audioUrl names, playable before the file
# is final: not a file of its own (it stays in Results.value; kiekit_suno.music's docstring)
STREAM_ONLY = {"response.sunoData.*.streamAudioUrl": "a stream of the track's own audioUrl"}


class TestSunoMusic(ProviderContract):
    provider = SunoMusicProvider()
    left_out_files = STREAM_ONLY
    models = (GENERATE, UPLOAD_COVER, UPLOAD_EXTEND, ADD_INSTRUMENTAL, ADD_VOCALS)
    documented_statuses = MUSIC_DOCUMENTED
    max_examples = 10
    example_inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        GENERATE: {"prompt": "a calm piano piece"},
        UPLOAD_COVER: {"prompt": "as a jazz ballad", "upload_url": SONG},
        UPLOAD_EXTEND: {"upload_url": SONG},
        ADD_INSTRUMENTAL: {"upload_url": SONG, "title": "Night", "tags": "lo-fi"},
        ADD_VOCALS: {
            "upload_url": SONG,
            "prompt": "[Verse] hello",
            "title": "Hello",
            "style": "pop",
            "negative_tags": "metal",
        },
    }


class TestSunoLyrics(ProviderContract):
    provider = SunoLyricsProvider()
    max_examples = 10
    documented_statuses = (
        (LYRICS_PENDING, State.QUEUED),
        (LYRICS_SUCCESS, State.SUCCEEDED),
        (LYRICS_FAILED, State.FAILED),
        (LYRICS_SENSITIVE, State.FAILED),
    )


def _music_registry() -> Registry:
    registry = Registry(discover=False)
    registry.add_provider(SunoMusicProvider())
    registry.add_provider(SunoVocalRemovalProvider())
    return registry


class _OnASong(ProviderContract):
    """An operation on a song the mock made: each example input gets the song's ids."""

    max_examples = 8
    mock: MockServer

    @pytest.fixture(autouse=True)
    def _session_mock(self, kie_mock_session: MockServer) -> None:
        self.mock = kie_mock_session

    def song(self) -> tuple[str, str]:
        """A finished song: its task id and its first track's audio id."""
        with client_for(self.mock.base_url, registry=_music_registry()) as kie:
            task = kie.submit(GENERATE, prompt="a song to work on")
            results = kie.wait(task)
            return task.id, results.value[0]["id"]

    def sourced(self, params: Input) -> Input:
        task_id, audio_id = self.song()
        return attrs.evolve(cast(Any, params), task_id=task_id, audio_id=audio_id)

    def example_input(self, model: Model) -> Input:
        return self.sourced(smallest_input(model))

    def test_valid_inputs_are_accepted_by_the_mock(self, kie_mock_session: MockServer) -> None:
        [model] = self.contract_models()
        source = self.sourced(smallest_input(model))
        ids = {k: v for k, v in attrs.asdict(source).items() if k in ("task_id", "audio_id")}
        with client_for(kie_mock_session.base_url, registry=self.contract_registry()) as kie:

            @settings(max_examples=self.max_examples, deadline=None)
            @given(params=valid_inputs(model))
            def creates_a_task(params: Input) -> None:
                task = kie.submit(model.id, attrs.evolve(cast(Any, params), **ids))
                made = {t.task_id: t for t in kie_mock_session.tasks()}[task.id]
                assert made.model == model.id

            creates_a_task()

    @pytest.mark.parametrize("client", CLIENTS)
    def test_failed_task_raises_task_failed_error(
        self, client: str, kie_mock_session: MockServer
    ) -> None:
        """The contract's failure test, with the mock told to fail the task: these inputs
        hold no prompt for the ``[mock:fail]`` marker (their first text is an id)."""
        model = self.contract_models()[0]
        seen: list[TaskStatus] = []
        with pytest.raises(TaskFailedError) as caught:
            self._fail(client, kie_mock_session, model, self.example_input(model), False, seen)
        assert seen[-1].state is State.FAILED
        assert caught.value.task_id == seen[-1].task_id
        assert caught.value.fail_code == "501"  # §7: generation failed


class TestSunoExtend(_OnASong):
    provider = SunoMusicProvider()
    left_out_files = STREAM_ONLY
    models = (EXTEND,)
    documented_statuses = MUSIC_DOCUMENTED

    def sourced(self, params: Input) -> Input:
        return attrs.evolve(cast(Any, params), audio_id=self.song()[1])

    def test_valid_inputs_are_accepted_by_the_mock(self, kie_mock_session: MockServer) -> None:
        model = self.provider.model(EXTEND)
        audio_id = self.song()[1]
        with client_for(kie_mock_session.base_url, registry=self.contract_registry()) as kie:

            @settings(max_examples=self.max_examples, deadline=None)
            @given(params=valid_inputs(model))
            def creates_a_task(params: Input) -> None:
                task = kie.submit(EXTEND, attrs.evolve(cast(Any, params), audio_id=audio_id))
                made = {t.task_id: t for t in kie_mock_session.tasks()}[task.id]
                assert made.request_body["audioId"] == audio_id

            creates_a_task()


class TestSunoReplaceSection(_OnASong):
    """replace-section: a section of a song the mock made, sung anew; a song task, read at
    generate/record-info (the replace-section page and its callbacks page)."""

    provider = SunoMusicProvider()
    left_out_files = STREAM_ONLY
    models = (REPLACE_SECTION,)
    documented_statuses = MUSIC_DOCUMENTED
    # the smallest input's range (0 to 0) is empty: a range inside the mock's track instead
    RANGE: ClassVar[Mapping[str, float]] = {"infill_start_s": 0.2, "infill_end_s": 0.6}

    def example_input(self, model: Model) -> Input:
        values = dict.fromkeys(("prompt", "tags", "title", "full_lyrics"), "x")
        task_id, audio_id = self.song()
        ids = {"task_id": task_id, "audio_id": audio_id}
        return self.provider.make_input(model.id, {**values, **self.RANGE, **ids})

    def test_valid_inputs_are_accepted_by_the_mock(self, kie_mock_session: MockServer) -> None:
        model = self.provider.model(REPLACE_SECTION)
        task_id, audio_id = self.song()
        with client_for(kie_mock_session.base_url, registry=self.contract_registry()) as kie:

            @settings(max_examples=self.max_examples, deadline=None)
            @given(params=valid_inputs(model))
            def creates_a_task(params: Input) -> None:
                ids = {"task_id": task_id, "audio_id": audio_id}
                task = kie.submit(REPLACE_SECTION, attrs.evolve(cast(Any, params), **ids))
                made = {t.task_id: t for t in kie_mock_session.tasks()}[task.id]
                assert made.request_body["audioId"] == audio_id

            creates_a_task()


class TestSunoWav(_OnASong):
    provider = SunoWavProvider()
    documented_statuses = (
        (WAV_PENDING, State.QUEUED),
        (WAV_SUCCESS, State.SUCCEEDED),
        (WAV_FAILED, State.FAILED),
    )


class TestSunoVocalRemoval(_OnASong):
    provider = SunoVocalRemovalProvider()
    documented_statuses = (
        (VOCAL_PENDING, State.QUEUED),
        (VOCAL_SUCCESS, State.SUCCEEDED),
        (VOCAL_FAILED, State.FAILED),
    )


class TestSunoMp4(_OnASong):
    provider = SunoMp4Provider()
    documented_statuses = (
        (MP4_PENDING, State.QUEUED),
        (MP4_SUCCESS, State.SUCCEEDED),
        (MP4_FAILED, State.FAILED),
    )


class TestSunoCover(_OnASong):
    provider = SunoCoverProvider()
    documented_statuses = (
        (COVER_PENDING, State.QUEUED),
        (COVER_SUCCESS, State.SUCCEEDED),
        (COVER_FAILED, State.FAILED),
    )

    def sourced(self, params: Input) -> Input:
        return attrs.evolve(cast(Any, params), task_id=self.song()[0])


class TestSunoMidi(_OnASong):
    """MIDI reads the stems of a finished vocal-removal task."""

    provider = SunoMidiProvider()
    documented_statuses = (
        (MIDI_PENDING, State.QUEUED),
        (MIDI_SUCCESS, State.SUCCEEDED),
        (MIDI_FAILED, State.FAILED),
    )

    def sourced(self, params: Input) -> Input:
        task_id, audio_id = self.song()
        with client_for(self.mock.base_url, registry=_music_registry()) as kie:
            stems = kie.submit(VOCAL_REMOVAL, task_id=task_id, audio_id=audio_id)
            kie.wait(stems)
        return attrs.evolve(cast(Any, params), task_id=stems.id)
