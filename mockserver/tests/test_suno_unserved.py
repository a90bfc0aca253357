"""Suno operations beyond the six song creates: replace-section (a song task), timestamped
lyrics (answered at once), and a ``suno/…`` id sent to the market jobs API, which KIE never runs
(kie-api.md §3.6: Suno's paths are its own)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

GENERATE = "/api/v1/generate"
RECORD = "/api/v1/generate/record-info"
REPLACE = "/api/v1/generate/replace-section"
TIMESTAMPED = "/api/v1/generate/get-timestamped-lyrics"
CALLBACK = "https://example.com/suno-callback"
LYRICS = "[Verse] neon lights over the bay"
SONG: dict[str, Any] = {
    "prompt": LYRICS,
    "style": "synthwave",
    "title": "Bay",
    "customMode": True,
    "instrumental": False,
    "model": "V5",
    "callBackUrl": CALLBACK,
}


def finished_song(kie: Kie, **changes: Any) -> tuple[str, str]:
    """A finished song (the default mock ends a task at its first poll): task and track id."""
    task_id = str(kie.ok(kie.post(GENERATE, SONG | changes))["taskId"])
    record = kie.ok(kie.get(f"{RECORD}?taskId={task_id}"))
    assert record["status"] == "SUCCESS"
    return task_id, str(record["response"]["sunoData"][0]["id"])


def replace_body(task_id: str, audio_id: str, **changes: Any) -> dict[str, Any]:
    body = {  # the replace-section page's example, with the mock's ids
        "taskId": task_id,
        "audioId": audio_id,
        "prompt": "A calm and relaxing piano track.",
        "tags": "Jazz",
        "title": "Relaxing Piano",
        "negativeTags": "Rock",
        "infillStartS": 0.25,
        "infillEndS": 0.75,
        "fullLyrics": "[Verse]\nold words\n[Chorus]\nnew words",
        "callBackUrl": CALLBACK,
    }
    return {k: v for k, v in (body | changes).items() if v is not None}


# --- a suno/ id on the market jobs API --------------------------------------------------------


@pytest.mark.parametrize(
    "model", ["suno/replace-section", "suno/timestamped-lyrics", "suno/mashup", "suno/generate"]
)
def test_a_suno_id_as_a_market_job_is_refused_as_kie_refuses_an_id_it_does_not_run(
    mock: MockServer, kie: Kie, model: str
) -> None:
    """Not a made-up mp3 "success": KIE serves Suno on its own paths, so the market answers
    its 422 "model not supported" (§2.4), strict_models or not, and the header says why."""
    answer = kie.post("/api/v1/jobs/createTask", {"model": model, "input": {"prompt": "x"}})
    assert answer.json() == {"code": 422, "msg": "model not supported", "data": None}
    warning = answer.headers["x-kiekit-mock-warning"]
    assert "Suno id" in warning
    assert "/api/v1/generate/" in warning
    assert mock.tasks() == []


def test_a_suno_id_named_in_extra_market_models_is_still_taken(make_mock: MakeMock) -> None:
    """A plugin author's explicit choice (extra_market_models) wins, as for a refused id."""
    mock, kie = make_mock(extra_market_models={"suno/custom": "audio"})
    answer = kie.post("/api/v1/jobs/createTask", {"model": "suno/custom", "input": {}})
    assert answer.json()["code"] == 200
    assert len(mock.tasks()) == 1


# --- replace-section ---------------------------------------------------------------------------


def test_replace_section_makes_a_song_task_with_one_track_and_only_a_complete_callback(
    make_mock: MakeMock,
) -> None:
    mock, kie = make_mock()
    task_id, audio_id = finished_song(kie)
    made = str(kie.ok(kie.post(REPLACE, replace_body(task_id, audio_id)))["taskId"])
    record = kie.ok(kie.get(f"{RECORD}?taskId={made}"))
    assert record["status"] == "SUCCESS"
    assert record["operationType"] == "replace_section"
    assert record["parentMusicId"] == audio_id
    [track] = record["response"]["sunoData"]
    assert track["audioUrl"].endswith(".mp3")
    assert track["tags"] == "Jazz"
    kinds = [c.payload["data"]["callbackType"] for c in mock.callbacks() if c.task_id == made]
    assert kinds == ["complete"]  # the replace-section callbacks page: complete only


@pytest.mark.parametrize(
    ("changes", "msg"),
    [
        ({"prompt": None}, "prompt cannot be empty"),
        ({"tags": None}, "tags cannot be empty"),
        ({"title": None}, "title cannot be empty"),
        ({"fullLyrics": None}, "fullLyrics cannot be empty"),
        ({"infillStartS": None}, "infillStartS cannot be empty"),
        ({"infillEndS": None}, "infillEndS cannot be empty"),
        ({"infillStartS": 0.75, "infillEndS": 0.25}, "infillStartS must be less than infillEndS"),
        ({"callBackUrl": None}, "Please enter callBackUrl."),
    ],
)
def test_replace_section_answers_422_naming_the_field(
    mock: MockServer, kie: Kie, changes: dict[str, Any], msg: str
) -> None:
    task_id, audio_id = finished_song(kie)
    answer = kie.post(REPLACE, replace_body(task_id, audio_id, **changes))
    assert answer.json() == {"code": 422, "msg": msg, "data": None}
    assert len(mock.tasks()) == 1  # the song only


def test_replace_section_of_a_track_the_caller_does_not_have_is_refused(
    mock: MockServer, kie: Kie
) -> None:
    task_id, _ = finished_song(kie)
    answer = kie.post(REPLACE, replace_body(task_id, "no-such-track"))
    assert answer.json() == {"code": 422, "msg": "Record does not exist", "data": None}
    answer = kie.post(REPLACE, replace_body("no-such-task", "no-such-track"))
    assert answer.json()["msg"] == "Record does not exist"


# --- timestamped lyrics ------------------------------------------------------------------------


def test_timestamped_lyrics_are_answered_at_once_with_the_pages_keys(
    mock: MockServer, kie: Kie
) -> None:
    task_id, audio_id = finished_song(kie)
    data = kie.ok(kie.post(TIMESTAMPED, {"taskId": task_id, "audioId": audio_id}))
    assert list(data) == ["alignedWords", "waveformData", "hootCer", "isStreamed"]
    words = data["alignedWords"]
    assert [w["word"] for w in words] == LYRICS.split()
    assert set(words[0]) == {"word", "success", "startS", "endS", "palign"}
    assert all(w["startS"] < w["endS"] for w in words)
    assert all(a["endS"] == b["startS"] for a, b in itertools.pairwise(words))
    assert all(0 <= level <= 1 for level in data["waveformData"])
    assert len(mock.tasks()) == 1  # no task of its own


def test_an_instrumental_track_has_no_timestamped_words(kie: Kie) -> None:
    task_id, audio_id = finished_song(kie, instrumental=True)
    data = kie.ok(kie.post(TIMESTAMPED, {"taskId": task_id, "audioId": audio_id}))
    assert data["alignedWords"] == []


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        ({"audioId": "x"}, "taskId cannot be empty"),
        ({"taskId": "x"}, "audioId cannot be empty"),
        ({"taskId": "no-such-task", "audioId": "x"}, "Record does not exist"),
    ],
)
def test_timestamped_lyrics_refuse_a_missing_or_unknown_id(
    kie: Kie, body: dict[str, Any], msg: str
) -> None:
    answer = kie.post(TIMESTAMPED, body)
    assert answer.json() == {"code": 422, "msg": msg, "data": None}


# --- generate persona --------------------------------------------------------------------------

PERSONA = "/api/v1/generate/generate-persona"
SPAN = "vocalEnd - vocalStart must be between 10 and 30 seconds"


def test_a_persona_is_answered_at_once_with_the_pages_keys(mock: MockServer, kie: Kie) -> None:
    task_id, audio_id = finished_song(kie)
    body = {"taskId": task_id, "audioId": audio_id, "name": "Ana", "description": "warm alto"}
    data = kie.ok(kie.post(PERSONA, body))
    assert list(data) == ["personaId", "name", "description"]
    assert (data["name"], data["description"]) == ("Ana", "warm alto")
    assert data["personaId"]
    assert len(mock.tasks()) == 1  # no task of its own


@pytest.mark.parametrize(
    ("changes", "msg"),
    [
        ({"name": None}, "name cannot be empty"),
        ({"description": None}, "description cannot be empty"),
        ({"vocalEnd": 5}, SPAN),
        ({"vocalStart": 10, "vocalEnd": 45}, SPAN),
        ({"audioId": "no-such-track"}, "Record does not exist"),
    ],
)  # fmt: skip
def test_a_persona_answers_422_naming_the_rule(kie: Kie, changes: dict[str, Any], msg: str) -> None:
    task_id, audio_id = finished_song(kie)
    body = {"taskId": task_id, "audioId": audio_id, "name": "Ana", "description": "alto"}
    answer = kie.post(PERSONA, {k: v for k, v in (body | changes).items() if v is not None})
    assert answer.json() == {"code": 422, "msg": msg, "data": None}


def test_a_v3_5_song_makes_no_persona(kie: Kie) -> None:
    task_id, audio_id = finished_song(kie, model="V3_5")
    body = {"taskId": task_id, "audioId": audio_id, "name": "Ana", "description": "alto"}
    assert kie.post(PERSONA, body).json()["code"] == 422
