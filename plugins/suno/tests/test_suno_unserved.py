"""The ``suno/`` namespace is kiekit-suno's: an id it does not serve is refused before anything
is sent (never the market's ``*``); replace-section is a song task; timestamped lyrics are a
synchronous call (kie-api.md §3.6)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from kiekit import Client, ProtocolError, Registry, ValidationError
from kiekit.cli import main
from kiekit_mock import MockServer
from kiekit_suno import (
    Persona,
    SunoMusicProvider,
    SunoNamespaceProvider,
    SunoReplaceSection,
    TimestampedLyrics,
    generate_persona_request,
    persona_of,
    timestamped_lyrics,
    timestamped_lyrics_request,
)
from kiekit_suno.music import GENERATE, REPLACE_SECTION

UNSERVED = [
    "suno/mashup",
    "suno/sounds",
    "suno/persona",
    "suno/timestamped-lyrics",
    "suno/anything-else",
]
REPLACE = {
    "task_id": "2fac0000009f72",
    "audio_id": "e231aa11-2b3c-4d5e-8f90-a1b2c3d4dc7c",
    "prompt": "A calm and relaxing piano track.",
    "tags": "Jazz",
    "title": "Relaxing Piano",
    "infill_start_s": 10.5,
    "infill_end_s": 20.75,
    "full_lyrics": "[Verse]\nold\n[Chorus]\nnew",
}


@pytest.mark.parametrize("model", UNSERVED)
def test_an_unserved_suno_id_is_kiekit_sunos_not_the_markets(model: str) -> None:
    provider = Registry().provider(model)
    assert isinstance(provider, SunoNamespaceProvider)
    with pytest.raises(ValidationError) as caught:
        provider.make_input(model, {"prompt": "x"})
    assert caught.value.field == "model"
    message = str(caught.value)
    assert repr(model) in message
    assert "suno/generate" in message
    assert "suno/replace-section" in message


@pytest.mark.parametrize("model", UNSERVED)
def test_an_unserved_suno_id_is_refused_before_anything_is_sent(model: str) -> None:
    with MockServer() as mock, Client(base_url=mock.base_url, api_key="test-key") as kie:
        with pytest.raises(ValidationError, match="not a Suno operation kiekit-suno serves"):
            kie.submit(model, prompt="x")
        assert mock.tasks() == []
        assert mock.requests() == []


def test_the_refusal_says_what_kie_has_and_how_to_reach_it() -> None:
    provider = SunoNamespaceProvider()
    with pytest.raises(ValidationError, match=r"/api/v1/generate/mashup; not implemented"):
        provider.model("suno/mashup")
    with pytest.raises(ValidationError, match=r"timestamped_lyrics_request\(task_id, audio_id\)"):
        provider.model("suno/timestamped-lyrics")
    with pytest.raises(ValidationError, match=r"generate_persona_request\(task_id, audio_id"):
        provider.model("suno/persona")
    with pytest.raises(ValidationError, match=r"did you mean 'suno/generate'\?"):
        provider.model("suno/generat")


def test_kie_models_refuses_an_unserved_suno_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "suno/mashup"]) == 2
    err = capsys.readouterr().err
    assert "'suno/mashup' is not a Suno operation kiekit-suno serves" in err
    assert "(market)" not in err


def test_kie_run_refuses_an_unserved_suno_id_even_with_any_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--any-model sends an id no plugin lists as is; a suno/ id is listed (by the pattern) and
    has nowhere right to go: still refused."""
    argv = ["run", "suno/sounds", "--mock", "--any-model", "--prompt", "a car passing by"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "'suno/sounds' is not a Suno operation" in err
    assert "suno/generate" in err


@pytest.mark.parametrize("model", ["suno/generat", "suno/gen"])
def test_a_mistyped_suno_id_is_refused_with_a_guess_and_never_said_sent_as_is(
    model: str, recwarn: pytest.WarningsRecorder
) -> None:
    """The registry warned "not listed by any plugin and is sent as is — did you mean …"
    and kiekit-suno then refused the id: nothing is sent, so the refusal is the only word,
    and it carries the guess (the registry's, where kiekit-suno's own finds none)."""
    with MockServer() as mock, Client(base_url=mock.base_url, api_key="test-key") as kie:
        for _ in range(2):  # a notebook cell run again: refused again, the same way
            with pytest.raises(ValidationError, match="not a Suno operation") as refused:
                kie.submit(model, prompt="x")
            assert refused.value.field == "model"
            assert "did you mean 'suno/generate'" in str(refused.value)
        assert mock.requests() == []
    assert [str(w.message) for w in recwarn] == []


def test_kie_run_refuses_a_mistyped_suno_id_without_offering_any_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``kie run`` said "is not a model id any plugin lists … (--any-model sends it as is)",
    which --any-model then did not: kiekit-suno's refusal, with its guess, is what is said."""
    assert main(["run", "suno/generat", "--mock", "--prompt", "x"]) == 2
    err = capsys.readouterr().err
    assert "'suno/generat' is not a Suno operation kiekit-suno serves" in err
    assert "did you mean 'suno/generate'" in err
    assert "sent as is" not in err
    assert "sends it as is" not in err


# --- replace-section ---------------------------------------------------------------------------


def test_replace_section_is_sent_to_its_own_path_with_kies_names() -> None:
    provider = SunoMusicProvider()
    params = provider.make_input(REPLACE_SECTION, REPLACE | {"negative_tags": "Rock"})
    request = provider.build_request(REPLACE_SECTION, params)
    assert (request.method, request.path) == ("POST", "/api/v1/generate/replace-section")
    assert request.body == {  # the replace-section page's example
        "taskId": "2fac0000009f72",
        "audioId": "e231aa11-2b3c-4d5e-8f90-a1b2c3d4dc7c",
        "prompt": "A calm and relaxing piano track.",
        "tags": "Jazz",
        "title": "Relaxing Piano",
        "negativeTags": "Rock",
        "infillStartS": 10.5,
        "infillEndS": 20.75,
        "fullLyrics": "[Verse]\nold\n[Chorus]\nnew",
        "callBackUrl": "https://kiekit-no-callback.invalid/suno",
    }
    assert provider.status_request("t").path == "/api/v1/generate/record-info"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"infill_end_s": 10.5}, "infill_end_s"),
        ({"infill_end_s": 5}, "infill_end_s"),
        ({"infill_start_s": -1}, "infill_start_s"),
        ({"full_lyrics": " "}, "full_lyrics"),
        ({"tags": None}, "tags"),
    ],
)
def test_replace_section_input_is_checked_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    values = {k: v for k, v in (REPLACE | changes).items() if v is not None}
    with pytest.raises(ValidationError) as caught:
        SunoMusicProvider().make_input(REPLACE_SECTION, values)
    assert caught.value.field == field


@contextlib.contextmanager
def _suno_on_a_mock() -> Iterator[tuple[MockServer, Client]]:
    """A mock, and a Client on it of kiekit-suno's music provider alone."""
    registry = Registry(discover=False)
    registry.add_provider(SunoMusicProvider())
    with (
        MockServer() as mock,
        Client(base_url=mock.base_url, api_key="k", registry=registry) as kie,
    ):
        yield mock, kie


def _song_and_track(kie: Client) -> tuple[str, str]:
    task = kie.submit(GENERATE, prompt="[Verse] neon lights", custom_mode=True,
                      style="synthwave", title="Bay")  # fmt: skip
    return task.id, kie.wait(task).value[0]["id"]


def test_replace_section_runs_against_the_mock() -> None:
    with _suno_on_a_mock() as (_, kie):
        task_id, audio_id = _song_and_track(kie)
        params = SunoReplaceSection(
            task_id=task_id,
            audio_id=audio_id,
            prompt="new words",
            tags="Jazz",
            title="Relaxing Piano",
            infill_start_s=0.2,
            infill_end_s=0.6,
            full_lyrics="[Verse]\nold\n[Chorus]\nnew words",
        )
        results = kie.wait(kie.submit(REPLACE_SECTION, params))
    [track] = results.value
    assert track["tags"] == "Jazz"
    assert track["audio_url"]


# --- timestamped lyrics ------------------------------------------------------------------------


def test_timestamped_lyrics_request_is_the_pages_body() -> None:
    request = timestamped_lyrics_request("5c79be8e", "e231dc7c")
    assert (request.method, request.path) == ("POST", "/api/v1/generate/get-timestamped-lyrics")
    assert request.body == {"taskId": "5c79be8e", "audioId": "e231dc7c"}  # no callBackUrl
    for args, field in ((("", "a"), "task_id"), (("t", " "), "audio_id")):
        with pytest.raises(ValidationError) as caught:
            timestamped_lyrics_request(*args)
        assert caught.value.field == field


def test_timestamped_lyrics_read_the_pages_example() -> None:
    data = {
        "alignedWords": [
            {"word": "[Verse]\nWaggin'", "success": True, "startS": 1.36, "endS": 1.79, "palign": 0}
        ],
        "waveformData": [0, 1, 0.5, 0.75],
        "hootCer": 0.3803191489361702,
        "isStreamed": False,
    }
    lyrics = timestamped_lyrics(data)
    assert isinstance(lyrics, TimestampedLyrics)
    [word] = lyrics.aligned_words or []
    assert (word.word, word.start_s, word.end_s, word.success) == ("[Verse]\nWaggin'", 1.36,
                                                                   1.79, True)  # fmt: skip
    assert lyrics.waveform_data == [0, 1, 0.5, 0.75]
    assert lyrics.is_streamed is False


def test_timestamped_lyrics_are_the_calls_value_against_the_mock() -> None:
    with _suno_on_a_mock() as (_, kie):
        task_id, audio_id = _song_and_track(kie)
        lyrics = timestamped_lyrics(kie.call(timestamped_lyrics_request(task_id, audio_id)))
    assert [w.word for w in lyrics.aligned_words or []] == ["[Verse]", "neon", "lights"]


# --- generate persona --------------------------------------------------------------------------


def test_generate_persona_request_is_the_pages_body() -> None:
    request = generate_persona_request(
        "5c79be8e", "e231dc7c", "Electronic Pop Singer", "A modern electronic pop singer"
    )
    assert (request.method, request.path) == ("POST", "/api/v1/generate/generate-persona")
    assert request.body == {  # the page's example: no callBackUrl, KIE's defaults left out
        "taskId": "5c79be8e",
        "audioId": "e231dc7c",
        "name": "Electronic Pop Singer",
        "description": "A modern electronic pop singer",
    }
    spanned = generate_persona_request("t", "a", "n", "d", vocal_start=12.5, vocal_end=25.8,
                                       style="Electronic Pop")  # fmt: skip
    assert spanned.body is not None
    assert (spanned.body["vocalStart"], spanned.body["vocalEnd"]) == (12.5, 25.8)
    assert spanned.body["style"] == "Electronic Pop"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": " "}, "name"),
        ({"description": ""}, "description"),
        ({"vocal_end": 5.0}, "vocal_end"),  # 0 to 5: shorter than 10 seconds
        ({"vocal_start": 25.0}, "vocal_start"),  # 25 to the default 30: 5 seconds
        ({"vocal_start": 0.0, "vocal_end": 31.0}, "vocal_end"),  # longer than 30
        ({"vocal_start": -1.0}, "vocal_start"),
    ],
)
def test_generate_persona_request_is_checked_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {"task_id": "t", "audio_id": "a", "name": "n", "description": "d"}
    with pytest.raises(ValidationError) as caught:
        generate_persona_request(**(args | changes))
    assert caught.value.field == field


def test_a_persona_is_the_calls_value_and_feeds_a_song_against_the_mock() -> None:
    with _suno_on_a_mock() as (mock, kie):
        task_id, audio_id = _song_and_track(kie)
        made = persona_of(kie.call(generate_persona_request(task_id, audio_id, "Ana", "alto")))
        assert isinstance(made, Persona)
        assert (made.name, made.description) == ("Ana", "alto")
        song = kie.submit(GENERATE, prompt="a new song", persona_id=made.persona_id)
        kie.wait(song)
        assert mock.tasks()[-1].request_body["personaId"] == made.persona_id


def test_an_answer_without_a_persona_id_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        persona_of({"name": "Ana"})
