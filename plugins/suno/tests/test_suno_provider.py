"""kiekit-suno: the wire facts and rules a user relies on, beyond the contract.

KIE facts from kie-api.md §3.6 and KIE's Suno pages: callBackUrl is required even when polling;
custom-mode rules and per-version lengths (generate-music); CALLBACK_EXCEPTION keeps its songs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kiekit import (
    Client,
    MediaKind,
    ProtocolError,
    State,
    TaskFailedError,
    ValidationError,
)
from kiekit_mock import MockServer
from kiekit_suno import NO_CALLBACK_URL, SunoMusicProvider
from kiekit_suno.music import DEFAULT_VERSION, EXTEND, GENERATE

MUSIC = SunoMusicProvider()
TASK = "5c79a1b2c3d4e5f60718293a4b5c6d7e"
SONG = "https://example.com/song.mp3"


def _track(n: int, *, audio: bool = True) -> dict[str, Any]:
    return {
        "id": f"track-{n}",
        "audioUrl": f"https://cdn.example/{n}.mp3" if audio else "",
        "streamAudioUrl": f"https://cdn.example/stream/{n}",
        "imageUrl": f"https://cdn.example/{n}.jpeg",
        "prompt": "[Verse] la",
        "modelName": "chirp-v5",
        "title": f"Song {n}",
        "tags": "calm",
        "createTime": "2025-01-01 00:00:00",
        "duration": 120.5 + n,
    }


def _record(status: str, tracks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "taskId": TASK,
        "status": status,
        "response": {"taskId": TASK, "sunoData": tracks},
        "errorCode": None,
        "errorMessage": None,
    }


# -- the callBackUrl KIE insists on ------------------------------------------------------------


def test_a_placeholder_callback_that_can_never_be_reached_is_sent_when_none_is_given() -> None:
    params = MUSIC.make_input(GENERATE, prompt="a calm piano piece")
    body = MUSIC.build_request(GENERATE, params).body
    assert body is not None
    assert body["callBackUrl"] == NO_CALLBACK_URL
    assert NO_CALLBACK_URL.split("/")[2].endswith(".invalid")  # RFC 2606: never resolves
    mine = MUSIC.build_request(GENERATE, params, callback_url="https://me.example/cb").body
    assert mine is not None
    assert mine["callBackUrl"] == "https://me.example/cb"


def test_polling_without_a_callback_works_and_the_placeholder_is_never_called(
    kie_client: Client, kie_mock: MockServer
) -> None:
    task = kie_client.submit(GENERATE, prompt="a calm piano piece")
    results = kie_client.wait(task)
    assert len(results.value) == 2
    [sent] = [r for r in kie_mock.requests() if r.path == "/api/v1/generate"]
    assert sent.body is not None
    assert sent.body["callBackUrl"] == NO_CALLBACK_URL
    # the mock, like any client, cannot reach it: recorded, never delivered
    assert {(c.url, c.delivered) for c in kie_mock.callbacks()} == {(NO_CALLBACK_URL, False)}


# -- validation before any request -------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "field"),
    [
        (GENERATE, {}, "prompt"),  # without custom mode the prompt is the description
        (GENERATE, {"prompt": "x" * 501}, "prompt"),  # ≤500 without custom mode
        (GENERATE, {"prompt": "a", "title": "T"}, "title"),  # custom mode only
        (GENERATE, {"custom_mode": True, "title": "T", "prompt": "la"}, "style"),
        (GENERATE, {"custom_mode": True, "style": "pop", "prompt": "la"}, "title"),
        (GENERATE, {"custom_mode": True, "style": "pop", "title": "T"}, "prompt"),  # vocals
        (
            GENERATE,
            {
                "custom_mode": True,
                "style": "p" * 201,
                "title": "T",
                "version": "V4",
                "instrumental": True,
            },
            "style",
        ),
        (
            GENERATE,
            {
                "custom_mode": True,
                "style": "p",
                "title": "t" * 81,
                "version": "V4_5ALL",
                "instrumental": True,
            },
            "title",
        ),
        (GENERATE, {"prompt": "a", "style_weight": 1.5}, "style_weight"),
        (GENERATE, {"prompt": "a", "style_weight": "1.5"}, "style_weight"),
        (GENERATE, {"prompt": "a", "audio_weight": "nan"}, "audio_weight"),
        (GENERATE, {"prompt": "a", "style": "pop"}, "style"),
        (GENERATE, {"prompt": "a", "version": "V6"}, "version"),
        (GENERATE, {"prompt": "a", "vocal_gender": "x"}, "vocal_gender"),
        (
            EXTEND,
            {
                "audio_id": "a1",
                "version": "V5",
                "default_param_flag": True,
                "prompt": "la",
                "style": "p",
                "title": "T",
            },
            "continue_at",
        ),
        (
            EXTEND,
            {
                "audio_id": "a1",
                "version": "V5",
                "default_param_flag": True,
                "prompt": "la",
                "style": "p",
                "title": "T",
                "continue_at": 0,
            },
            "continue_at",
        ),
        (
            "suno/upload-extend",
            {
                "upload_url": SONG,
                "default_param_flag": True,
                "style": "p",
                "title": "T",
                "continue_at": 5,
            },
            "prompt",
        ),
        (
            "suno/add-vocals",
            {"upload_url": SONG, "prompt": "la", "title": "T", "style": "p"},
            "negative_tags",
        ),
        (
            "suno/add-instrumental",
            {"upload_url": "song.mp3", "title": "T", "tags": "p"},
            "upload_url",
        ),
        ("suno/lyrics", {"prompt": "x" * 201}, "prompt"),
        ("suno/vocal-removal", {"task_id": "t", "audio_id": "a", "type": "stems"}, "type"),
        ("suno/mp4", {"task_id": "t", "audio_id": "a", "author": "x" * 51}, "author"),
    ],
)
def test_what_kie_documents_as_invalid_is_refused_naming_the_field(
    kie_client: Client, kie_mock: MockServer, model: str, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        kie_client.submit(model, **fields)
    assert caught.value.field == field
    assert kie_mock.requests() == []  # nothing sent, nothing paid for


def test_numbers_given_as_text_are_sent_as_numbers() -> None:
    # [INF] the weights and continueAt have no documented JSON type; KIE reads a number's text
    # as the number elsewhere (kie-api.md §2.2), so do the mock and the plugin, which sends it
    fields = {"audio_id": "a1", "version": "V5", "default_param_flag": True, "prompt": "la"}
    params = MUSIC.make_input(EXTEND, fields, style_weight="0.5", continue_at=" 30.5 ")
    body: Any = MUSIC.build_request(EXTEND, params).body
    assert (body["styleWeight"], body["continueAt"]) == (0.5, 30.5)


def test_an_empty_style_without_custom_mode_is_left_empty() -> None:
    # the page: without custom mode "other parameters should be left empty"; "" is that
    params = MUSIC.make_input(GENERATE, prompt="a calm piano piece", style="", title="")
    body: Any = MUSIC.build_request(GENERATE, params).body
    assert (body["style"], body["title"]) == ("", "")


@pytest.mark.parametrize("model", [GENERATE, "suno/upload-extend"])
def test_a_version_given_as_none_is_the_default_version(model: str) -> None:
    """null in a batch line means "not given": the default version, whose limits apply (it
    was a bare KeyError that ended a whole `kie batch`, found by an outside tester)."""
    fields = {"prompt": "la", "version": None, "upload_url": SONG}
    fields = {k: v for k, v in fields.items() if k != "upload_url" or "upload" in model}
    body = MUSIC.build_request(model, MUSIC.make_input(model, fields)).body
    assert body is not None
    assert body["model"] == DEFAULT_VERSION


@pytest.mark.parametrize("version", [{}, {"version": None}, {"model": None}])
def test_an_extend_needs_the_version_its_track_was_made_with(
    kie_client: Client, kie_mock: MockServer, version: dict[str, Any]
) -> None:
    """KIE's create bodies require `model` (kie-api.md §3.6); for an extend no default is
    right (V5 sent for a V3_5 track is a paid task of another model: outside tester
    "sunoprod", finding 8), so kiekit asks for it before anything is sent."""
    with pytest.raises(ValidationError) as caught:
        kie_client.submit(EXTEND, {"audio_id": "a1", **version})
    assert caught.value.field == "version"
    assert "give the version the track was made with" in str(caught.value)
    assert kie_mock.requests() == []
    body = MUSIC.build_request(EXTEND, MUSIC.make_input(EXTEND, audio_id="a1", model="V3_5")).body
    assert body is not None
    assert body["model"] == "V3_5"


def test_custom_mode_instrumental_needs_no_lyrics_and_wire_names_are_accepted() -> None:
    params = MUSIC.make_input(
        GENERATE,
        {
            "customMode": True,
            "instrumental": True,
            "style": "Classical",
            "title": "Peace",
            "model": "V4",
            "negativeTags": "metal",
        },
    )
    assert MUSIC.build_request(GENERATE, params).body == {
        "model": "V4",
        "negativeTags": "metal",
        "customMode": True,
        "instrumental": True,
        "style": "Classical",
        "title": "Peace",
        "callBackUrl": NO_CALLBACK_URL,
    }


# -- reading records ---------------------------------------------------------------------------


def test_songs_become_audio_and_cover_assets_with_every_field_kept() -> None:
    results = MUSIC.extract_results(TASK, _record("SUCCESS", [_track(1), _track(2)]))
    assert [(a.label, a.kind, a.media_type) for a in results.assets] == [
        ("track-1", MediaKind.AUDIO, "audio/mpeg"),
        ("track-1-cover", MediaKind.IMAGE, "image/jpeg"),
        ("track-2", MediaKind.AUDIO, "audio/mpeg"),
        ("track-2-cover", MediaKind.IMAGE, "image/jpeg"),
    ]
    first = results.value[0]
    assert first["id"] == "track-1"
    assert (first["title"], first["tags"], first["duration"]) == ("Song 1", "calm", 121.5)
    assert first["stream_audio_url"] == "https://cdn.example/stream/1"
    assert first["image_url"] == "https://cdn.example/1.jpeg"


def test_callback_exception_keeps_the_songs_that_were_made() -> None:
    """CALLBACK_EXCEPTION ("error during callback process") is a failed delivery, not failed
    music: with songs in the record the task succeeded and they are its results."""
    made = _record("CALLBACK_EXCEPTION", [_track(1), _track(2, audio=False)])
    assert MUSIC.parse_status(TASK, made).state is State.SUCCEEDED
    assert [a.label for a in MUSIC.extract_results(TASK, made).assets] == [
        "track-1",
        "track-1-cover",
    ]
    nothing = _record("CALLBACK_EXCEPTION", []) | {"errorCode": 500, "errorMessage": "cb"}
    status = MUSIC.parse_status(TASK, nothing)
    assert (status.state, status.fail_code, status.fail_message) == (State.FAILED, "500", "cb")


def test_a_failure_without_an_error_code_keeps_the_status_word() -> None:
    status = MUSIC.parse_status(TASK, _record("SENSITIVE_WORD_ERROR", []))
    assert (status.state, status.fail_code) == (State.FAILED, "SENSITIVE_WORD_ERROR")


@pytest.mark.parametrize("status", ["DONE", "success", "", 1, None])
def test_undocumented_status_is_a_protocol_error(status: Any) -> None:
    with pytest.raises(ProtocolError):
        MUSIC.parse_status(TASK, _record("SUCCESS", []) | {"status": status})


def test_success_with_an_unfinished_song_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        MUSIC.extract_results(TASK, _record("SUCCESS", [_track(1), _track(2, audio=False)]))


# -- end to end on the mock --------------------------------------------------------------------


def test_a_song_and_everything_made_from_it(kie_client: Client, tmp_path: Path) -> None:
    song = kie_client.submit(GENERATE, prompt="a calm piano piece")
    tracks = kie_client.wait(song).value
    audio_id = tracks[0]["id"]

    def run(model: str, **fields: Any) -> Any:
        task = kie_client.submit(model, **fields)
        results = kie_client.wait(task)
        return results, kie_client.download(results, tmp_path / model.replace("/", "-"))

    longer, files = run(EXTEND, audio_id=audio_id, version="V5")
    assert all(f.read_bytes().startswith(b"ID3") for f in files if f.suffix == ".mp3")
    assert len(longer.value) == 2

    _, [wav] = run("suno/wav", task_id=song.id, audio_id=audio_id)
    assert wav.read_bytes()[:4] == b"RIFF"
    assert wav.read_bytes()[8:12] == b"WAVE"

    stems, files = run("suno/vocal-removal", task_id=song.id, audio_id=audio_id, type="split_stem")
    assert "drums" in [a.label for a in stems.assets]
    assert all(f.read_bytes().startswith(b"ID3") for f in files)

    notes, _ = run("suno/midi", task_id=stems.task_id)
    assert {i["name"] for i in notes.value["instruments"]} == {"Drums", "Electric Bass (finger)"}

    _, [video] = run("suno/mp4", task_id=song.id, audio_id=audio_id, author="me")
    assert video.read_bytes()[4:8] == b"ftyp"

    _covers, images = run("suno/cover", task_id=song.id)
    assert len(images) == 2
    assert all(i.read_bytes().startswith(b"\x89PNG") for i in images)

    lyrics, nothing = run("suno/lyrics", prompt="a song about the sea")
    assert nothing == []
    assert [bool(t["text"]) for t in lyrics.value] == [True, True]


def test_a_failed_song_raises_with_kie_code(kie_client: Client) -> None:
    task = kie_client.submit(
        GENERATE, custom_mode=True, instrumental=True, style="ambient", title="[mock:fail]"
    )
    with pytest.raises(TaskFailedError) as caught:
        kie_client.wait(task)
    assert (caught.value.task_id, caught.value.fail_code) == (task.id, "501")


def test_an_extend_with_its_own_parameters_needs_no_style_or_title_as_kie_accepts(
    kie_client: Client, kie_mock: MockServer
) -> None:
    """KIE took such extends in recorded traffic (issue 13): kiekit sends them, and the mock,
    which answers as KIE does, accepts them."""
    params = MUSIC.make_input(
        EXTEND,
        {
            "audio_id": "a1",
            "version": "V4",
            "default_param_flag": True,
            "prompt": "la",
            "continue_at": 9,
        },
    )
    body = MUSIC.build_request(EXTEND, params).body
    assert body is not None
    assert "style" not in body
    assert "title" not in body
    task = kie_client.submit(
        EXTEND, audio_id="a1", version="V4", default_param_flag=True, prompt="on", continue_at=12
    )
    assert [t.task_id for t in kie_mock.tasks()] == [task.id]
    # and the plugin's README says so (it said `style` and `title` were required: music QA 5)
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text("utf-8").split())
    assert "`True` requires `prompt` and `continue_at`" in readme
    assert "`prompt`, `style`, `title` and `continue_at`" not in readme


def test_a_long_style_boost_is_sent_as_kie_documents_no_limit_and_its_result_kept_whole(
    kie_client: Client, kie_mock: MockServer
) -> None:
    """KIE's boost page documents no maximum for ``content`` (kie-api.md §3.6): the plugin's
    3000 was its own, said to be "the longest style KIE takes", which is 1000 (music QA 7).
    A long boost is sent and its text kept whole; a generate then refuses it as its style,
    naming the field and the version's limit, before anything is sent."""
    from kiekit_suno import boost_style_request, boosted_style

    content = "dreamy synth pop, " * 200  # 3600 characters
    data = kie_client.call(boost_style_request(content))
    style = boosted_style(data)
    assert style.startswith(content.strip())
    with pytest.raises(ValidationError) as refused:
        kie_client.submit(
            "suno/generate", custom_mode=True, instrumental=True, style=style, title="t"
        )
    assert refused.value.field == "style"
    assert "1000" in str(refused.value)
    assert kie_mock.tasks() == []


def test_boost_style_is_one_synchronous_call(kie_client: Client, kie_mock: MockServer) -> None:
    from kiekit_suno import boost_style_request, boosted_style

    data = kie_client.call(boost_style_request("Pop, Mysterious"))
    assert boosted_style(data).startswith("Pop, Mysterious")
    assert kie_mock.tasks() == []  # nothing to wait for
    with pytest.raises(ValidationError) as caught:
        boost_style_request("  ")
    assert caught.value.field == "content"


def test_kie_models_says_each_length_by_version_and_mode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The loosest length alone (prompt 5000) misled: it is 500 without custom mode, and
    V3_5/V4 allow 3000/200/80 (outside tester "sunoprod", finding 9)."""
    from kiekit import cli

    assert cli.main(["models", GENERATE]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "at most 500 characters without custom_mode" in rows["prompt"]
    assert "V3_5/V4 3000, V4_5/V4_5PLUS/V4_5ALL/V5/V5_5 5000" in rows["prompt"]
    assert "at most 5000 characters" not in rows["prompt"]
    assert "only with custom_mode, characters at most by version: V3_5/V4 200" in rows["style"]
    assert "V3_5/V4/V4_5ALL 80, V4_5/V4_5PLUS/V5/V5_5 100" in rows["title"]
    assert cli.main(["models", GENERATE, "--json"]) == 0
    fields = {f["name"]: f for f in json.loads(capsys.readouterr().out)["fields"]}
    assert fields["prompt"]["max_length"] == 5000  # the loosest, with the note beside it
    assert fields["prompt"]["note"].startswith("at most 500 characters")
    assert fields["version"]["note"] is None


def test_kie_run_saves_a_value_without_files_to_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lyrics (and MIDI notes) are no file at KIE: `kie run --out` wrote nothing for them
    (outside tester "sunoprod", finding 6); their value is saved as the JSON it prints."""
    from kiekit import cli

    out = tmp_path / "out"
    argv = ["run", "suno/lyrics", "--prompt", "the sea", "--mock", "--json", "--out", str(out)]
    assert cli.main(argv) == 0
    said = capsys.readouterr()
    answer = json.loads(said.out)
    assert answer["files"] == []  # the files KIE made: none
    saved = answer["value_file"]
    assert saved == str(out / f"{answer['task_id']}-value.json")
    assert f"saved the value of task {answer['task_id']} to {saved}" in said.err
    assert json.loads(Path(saved).read_text("utf-8")) == answer["value"]
    assert [entry["title"] for entry in answer["value"]] == ["Mock lyrics 1", "Mock lyrics 2"]
    assert sorted(p.name for p in out.iterdir()) == [Path(saved).name]  # no partial file left
