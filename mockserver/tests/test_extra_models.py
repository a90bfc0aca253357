"""Market models the mock does not know, taught through MockConfig.extra_market_models.

For plugin authors: an id, what it produces, and the market family's normal lifecycle, result
files, callbacks and `[mock:fail]`, with a minimal input check (kie-api.md §2.1–2.2).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig, MockServer
from kiekit_mock.__main__ import main
from kiekit_mock.config import parse_market_model

if TYPE_CHECKING:
    from conftest import Kie, MakeMock, MockCli

CREATE = "/api/v1/jobs/createTask"
EXTRA: dict[str, Any] = {
    "acme/banana-v1": "image",
    "acme/reel-v1": "video",
    "acme/song-v1": "audio",
    "acme/chat-v1": "text",
}


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig(extra_market_models=EXTRA)) as server:
        yield server


def _files(kie: Kie, record: dict[str, Any]) -> list[tuple[str, bytes]]:
    urls = json.loads(record["resultJson"])["resultUrls"]
    answers = [kie.fetch(url) for url in urls]
    assert all(a.status == 200 for a in answers), answers
    return [(a.content_type, a.body) for a in answers]


def test_with_strict_models_an_id_outside_the_config_is_not_supported(
    make_mock: MakeMock,
) -> None:
    _, kie = make_mock(strict_models=True, extra_market_models=EXTRA)
    answer = kie.post(CREATE, {"model": "acme/other-v1", "input": {"prompt": "p"}}).json()
    assert (answer["code"], answer["msg"]) == (422, "model not supported")
    named = kie.post(CREATE, {"model": "acme/banana-v1", "input": {"prompt": "p"}}).json()
    assert named["code"] == 200  # a named one is still served in strict mode


@pytest.mark.parametrize("model", ["acme/ümlaut-v1", "acme/new v1", "x" * 101, "acme/\u200bv1"])
def test_an_id_not_spelled_as_kie_spells_them_is_not_supported(
    make_mock: MakeMock, model: str
) -> None:
    # printable ASCII, no spaces, ≤ 100 characters: the pattern /openapi.json gives other ids
    _, kie = make_mock()
    answer = kie.post(CREATE, {"model": model, "input": {"prompt": "p"}}).json()
    assert (answer["code"], answer["msg"]) == (422, "model not supported")


WARNING = "X-Kiekit-Mock-Warning"


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("bad model id", "'bad model id' is not spelt as KIE's ids are (it contains a space;"),
        (
            "x" * 101,
            "market model id is not spelt as KIE's ids are (101 characters, more than 100;",
        ),
        ("acme/\tv1", "(it contains characters other than printable ASCII;"),
        ("acme/ümlaut-v1", "market model id is not spelt as KIE's ids are (it contains characters"),
    ],
    ids=["space", "long", "tab", "not-ascii"],
)
@pytest.mark.parametrize("strict", [False, True])
def test_an_id_refused_for_its_form_is_said_so_not_blamed_on_strict_models(
    make_mock: MakeMock, model: str, why: str, strict: bool
) -> None:
    """The header named strict_models, on a mock where it was off."""
    mock, kie = make_mock(strict_models=strict)
    kie.post(CREATE, {"model": model, "input": {"prompt": "p"}})
    (record,) = mock.requests()
    assert record.answer is not None
    warning = record.answer.headers[WARNING]
    assert why in warning
    assert "strict_models" not in warning
    assert "printable ASCII, no spaces, at most 100 characters" in warning


def test_with_strict_models_an_unknown_id_is_blamed_on_strict_models(make_mock: MakeMock) -> None:
    mock, kie = make_mock(strict_models=True)
    kie.post(CREATE, {"model": "acme/other-v1", "input": {"prompt": "p"}})
    (record,) = mock.requests()
    assert record.answer is not None
    assert (
        "'acme/other-v1' is not one the mock knows (strict_models)"
        in (record.answer.headers[WARNING])
    )


@pytest.mark.parametrize(
    ("model", "served"),
    [("google/nano-banana-pro", "nano-banana-pro"), ("kling-3.0", "kling-3.0/video")],
)
def test_an_id_kie_is_recorded_refusing_gets_its_422_by_default(
    mock: MockServer, kie: Kie, model: str, served: str
) -> None:
    # §2.4: FELORES CHANGELOG 2.0.10 (google/nano-banana-pro), the Kling page's examples
    # (kling-3.0): what a port of a docs example sends, and KIE refuses
    sent = kie.post(CREATE, {"model": model, "input": {"prompt": "a cat"}})
    assert sent.json() == {"code": 422, "msg": "model not supported", "data": None}
    assert mock.tasks() == []
    assert kie.ok(kie.get("/api/v1/chat/credit")) == 1000  # nothing was charged
    record = mock.requests()[0]  # the journal (and the inspector) say why, and what KIE serves
    assert record.answer is not None
    assert f"'{served}'" in record.answer.headers[WARNING]


def test_an_id_kie_refuses_is_served_when_the_config_names_it(make_mock: MakeMock) -> None:
    _, kie = make_mock(extra_market_models={"kling-3.0": "video"})
    assert kie.record(kie.create("kling-3.0", prompt="a fox"))["state"] == "success"


def test_a_near_miss_is_served_with_a_warning_naming_the_nearest_known_id(
    mock: MockServer, kie: Kie, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="kiekit_mock"):
        sent = kie.post(CREATE, {"model": "grok-imagine/text-to-imag", "input": {"prompt": "p"}})
    assert sent.status == 200
    assert list(kie.ok(sent)) == ["taskId", "recordId"]  # KIE's answer, unchanged
    (logged,) = [r.getMessage() for r in caplog.records if "text-to-imag'" in r.getMessage()]
    assert "'grok-imagine/text-to-image'" in logged
    (record,) = mock.requests()
    assert record.answer is not None
    assert record.answer.headers[WARNING] == logged  # seen on the client's side too


def test_an_unknown_id_with_no_near_one_names_none(mock: MockServer, kie: Kie) -> None:
    kie.create("acme/banana-v2", prompt="p")
    (record,) = mock.requests()
    assert record.answer is not None
    assert "nearest" not in record.answer.headers[WARNING]
    assert "'acme/banana-v2' is not one the mock knows" in record.answer.headers[WARNING]


@pytest.mark.parametrize(
    ("model", "ext", "head"),
    [
        # ids KIE might add tomorrow: not in the catalogue (test_catalogue.py has those)
        ("nano-banana-3-ultra", "jpg", b"\xff\xd8\xff"),
        ("bytedance/seedance-3-fast", "mp4", b"ftyp"),
        ("wan/3-5-r2v", "mp4", b"ftyp"),
        ("happyhorse/video-extend", "mp4", b"ftyp"),
        ("elevenlabs/text-to-speech-v4", "mp3", b""),
        ("gpt-image-3-image-to-image", "jpg", b"\xff\xd8\xff"),
    ],
)
def test_by_default_an_unknown_id_is_served_with_its_kind_from_its_wording(
    make_mock: MakeMock, caplog: pytest.LogCaptureFixture, model: str, ext: str, head: bytes
) -> None:
    _, kie = make_mock()
    with caplog.at_level("WARNING", logger="kiekit_mock"):
        task_id = kie.create(model, prompt="a lighthouse")
    record = kie.record(task_id)
    assert record["state"] == "success"
    [url] = json.loads(record["resultJson"])["resultUrls"]
    assert url.endswith("." + ext)
    body = kie.fetch(url).body
    assert head in body[:12]
    assert body
    assert any(model in r.getMessage() and "strict" in r.getMessage() for r in caplog.records)


def test_an_image_model_walks_the_lifecycle_and_serves_jpegs(make_mock: MakeMock) -> None:
    mock, kie = make_mock(polls_to_complete=2, extra_market_models=EXTRA)
    task_id = kie.create("acme/banana-v1", prompt="a banana", style="flat")
    states = [kie.record(task_id)["state"] for _ in range(3)]
    assert states == ["waiting", "generating", "success"]
    record = kie.record(task_id)
    assert record["model"] == "acme/banana-v1"
    # every field is kept as given: only the prompt is checked
    assert json.loads(json.loads(record["param"])["input"]) == {
        "prompt": "a banana",
        "style": "flat",
    }
    [(content_type, body)] = _files(kie, record)
    assert content_type == "image/jpeg"
    assert body.startswith(b"\xff\xd8\xff")
    [task] = mock.tasks()
    assert (task.model, task.credits_charged) == ("acme/banana-v1", 5.0)


def test_a_video_model_serves_an_mp4(mock: MockServer, kie: Kie) -> None:
    record = kie.record(kie.create("acme/reel-v1", prompt="a reel"))
    [(content_type, body)] = _files(kie, record)
    assert (content_type, body[4:8]) == ("video/mp4", b"ftyp")


def test_an_audio_model_serves_an_mp3(mock: MockServer, kie: Kie) -> None:
    record = kie.record(kie.create("acme/song-v1", prompt="a song"))
    [url] = json.loads(record["resultJson"])["resultUrls"]
    assert url.endswith(".mp3")
    [(content_type, body)] = _files(kie, record)
    assert content_type == "audio/mpeg"
    assert body.startswith(b"ID3\x03")  # an ID3v2.3 tag naming the file, then MPEG audio frames
    tag_size = sum((body[6 + i] & 0x7F) << (7 * (3 - i)) for i in range(4))  # "syncsafe"
    first_frame = body[10 + tag_size :]
    assert first_frame[:2] == b"\xff\xfb"  # frame sync, MPEG-1 Layer III, no CRC
    again = kie.record(kie.create("acme/song-v1", prompt="a song"))
    assert _files(kie, again)[0][1] != body  # every file differs


def test_a_text_model_answers_a_result_object_and_no_files(mock: MockServer, kie: Kie) -> None:
    task_id = kie.create("acme/chat-v1", prompt="hello")
    record = kie.record(task_id)
    assert record["state"] == "success"
    result = json.loads(record["resultJson"])
    assert set(result) == {"resultObject"}
    assert isinstance(result["resultObject"], dict)
    assert kie.fetch(f"{kie.base_url}/files/{task_id}/0.json").status == 404


def test_a_text_model_s_callback_carries_its_result_object(mock: MockServer, kie: Kie) -> None:
    body = {
        "model": "acme/chat-v1",
        "callBackUrl": "https://example.com/kie-callback",  # not loopback: recorded, not sent
        "input": {"prompt": "hello"},
    }
    task_id = kie.ok(kie.post(CREATE, body))["taskId"]
    kie.record(task_id)
    [sent] = mock.callbacks()
    assert sent.task_id == task_id
    assert sent.payload["code"] == 200
    assert "resultObject" in json.loads(sent.payload["data"]["resultJson"])


@pytest.mark.parametrize("model", sorted(EXTRA))
def test_the_fail_marker_fails_any_extra_model(mock: MockServer, kie: Kie, model: str) -> None:
    record = kie.record(kie.create(model, prompt="please [mock:fail]"))
    assert (record["state"], record["failCode"], record["resultJson"]) == ("fail", "500", "")
    assert record["failMsg"]


def test_set_outcome_fails_a_task_without_a_prompt(mock: MockServer, kie: Kie) -> None:
    task_id = kie.create("acme/banana-v1", image_url="https://example.com/a.png")
    mock.set_outcome(task_id, "fail")
    assert kie.record(task_id)["state"] == "fail"


@pytest.mark.parametrize(
    ("input_", "message"),
    [
        ({"prompt": ""}, "prompt cannot be empty"),
        ({"prompt": "   "}, "prompt cannot be empty"),
        ({"prompt": 5}, "prompt must be a string"),
        ({"prompt": "x" * 10_001}, "prompt cannot exceed 10000 characters"),
    ],
)
def test_a_bad_prompt_is_422_naming_it(
    mock: MockServer, kie: Kie, input_: dict[str, Any], message: str
) -> None:
    answer = kie.post(CREATE, {"model": "acme/banana-v1", "input": input_}).json()
    assert (answer["code"], answer["msg"]) == (422, message)
    assert mock.tasks() == []


@pytest.mark.parametrize(
    ("input_", "message"),
    [
        (None, "input cannot be empty"),
        # input encoded twice (JSON.stringify of a string): the message says what is wrong
        ('{"prompt": "p"}', "input must be an object"),
        (["p"], "input must be an object"),
    ],
)
def test_input_must_be_an_object(mock: MockServer, kie: Kie, input_: Any, message: str) -> None:
    answer = kie.post(CREATE, {"model": "acme/banana-v1", "input": input_}).json()
    assert (answer["code"], answer["msg"]) == (422, message)


@pytest.mark.parametrize(
    "input_", [{}, {"prompt": None}, {"prompt": "x" * 10_000}, {"n": 2, "seed": [1, 2]}]
)
def test_anything_else_is_accepted(mock: MockServer, kie: Kie, input_: dict[str, Any]) -> None:
    assert kie.ok(kie.post(CREATE, {"model": "acme/banana-v1", "input": input_}))["taskId"]


def test_an_emulated_model_keeps_its_own_checks(make_mock: MakeMock) -> None:
    _, kie = make_mock(extra_market_models={"grok-imagine/text-to-image": "video"})
    body = {"model": "grok-imagine/text-to-image", "input": {"prompt": "p", "aspect_ratio": "4:3"}}
    assert kie.post(CREATE, body).json()["code"] == 422
    record = kie.record(kie.create("grok-imagine/text-to-image", prompt="p"))
    assert len(json.loads(record["resultJson"])["resultUrls"]) == 6  # still six images


# -- MockConfig and the command line -------------------------------------------------------------


def test_the_config_keeps_its_own_frozen_copy() -> None:
    given = {"acme/banana-v1": "image"}
    config = MockConfig(extra_market_models=given)  # type: ignore[arg-type]
    given["acme/other"] = "video"
    assert dict(config.extra_market_models) == {"acme/banana-v1": "image"}
    with pytest.raises(TypeError):
        config.extra_market_models["x"] = "image"  # type: ignore[index]
    same = MockConfig(extra_market_models={"acme/banana-v1": "image"})
    assert config == same
    assert hash(config) == hash(same)
    assert MockConfig() != config
    assert MockConfig().extra_market_models == {}


@pytest.mark.parametrize(
    "models",
    [
        {"acme/x": "picture"},
        {"acme/x": None},
        {"": "image"},
        {" acme/x": "image"},
        {5: "image"},
    ],
)
def test_the_config_refuses_bad_entries(models: Any) -> None:
    with pytest.raises(ValueError, match="extra_market_models"):
        MockConfig(extra_market_models=models)


def test_the_config_refuses_a_non_mapping() -> None:
    with pytest.raises(TypeError, match="extra_market_models"):
        MockConfig(extra_market_models=[("acme/x", "image")])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("acme/banana-v1=image", ("acme/banana-v1", "image")),
        (" acme/x = audio ", ("acme/x", "audio")),
        ("kling-3.0/video=video", ("kling-3.0/video", "video")),
        ("acme=text", ("acme", "text")),
    ],
)
def test_market_model_options_parse(text: str, parsed: tuple[str, str]) -> None:
    assert parse_market_model(text) == parsed


@pytest.mark.parametrize("text", ["acme/x", "acme/x=", "=image", "acme/x=IMAGE", "acme/x=gif"])
def test_a_bad_market_model_option_is_a_usage_error(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--port", "0", "--market-model", text])
    assert exited.value.code == 2
    assert "expected MODEL_ID=KIND" in capsys.readouterr().err


def test_the_command_line_serves_extra_models(
    start_mock_cli: Callable[..., MockCli], kie_at: Callable[..., Kie]
) -> None:
    cli = start_mock_cli("--market-model=acme/song-v1=audio", "--market-model=acme/x=text")
    kie = kie_at(cli.base_url)
    record = kie.record(kie.create("acme/song-v1", prompt="a song"))
    assert json.loads(record["resultJson"])["resultUrls"][0].endswith(".mp3")
    assert "resultObject" in kie.record(kie.create("acme/x"))["resultJson"]


TURBO: dict[str, Any] = {
    "id": "acme/turbo-image",
    "kind": "image",
    "file": "png",
    "source": "https://docs.acme.example/turbo-image",
    "fields": {
        "prompt": {"type": "string", "required": True, "max_length": 50},
        "num_images": {"type": "integer", "min": 1, "max": 4},
    },
}


def test_a_taught_catalogue_entry_is_checked_field_by_field(make_mock: MakeMock) -> None:
    """A plugin author's entry (MockConfig.market_catalogue) makes the mock refuse a field as
    KIE does, naming it, where extra_market_models checks the prompt alone; its file type is
    the entry's (marketplug's report, finding 5)."""
    _, kie = make_mock(market_catalogue=(TURBO,), polls_to_complete=1)
    for given, said in [
        ({"prompt": "a fox", "num_images": 5}, "num_images must be between 1 and 4"),
        ({"num_images": 2}, "prompt cannot be empty"),
        ({"prompt": "x" * 51}, "prompt cannot exceed 50 characters"),
    ]:
        answer = kie.post(CREATE, {"model": "acme/turbo-image", "input": given}).json()
        assert (answer["code"], answer["msg"]) == (422, said)
    task_id = kie.create("acme/turbo-image", prompt="a fox", num_images=2)
    assert kie.record(task_id)["state"] == "waiting"
    files = _files(kie, kie.record(task_id))  # the second poll ends it (polls_to_complete=1)
    assert [content_type for content_type, _ in files] == ["image/png"]  # the entry's file


def test_a_malformed_catalogue_entry_is_refused_naming_the_field() -> None:
    wrong = TURBO | {"fields": {"prompt": {"type": "text"}}}
    with pytest.raises(ValueError, match=r"market_catalogue: acme/turbo-image\.prompt"):
        MockConfig(market_catalogue=(wrong,))
    with pytest.raises(TypeError, match="market_catalogue must be a sequence"):
        MockConfig(market_catalogue=TURBO)  # type: ignore[arg-type]


def test_the_command_line_reads_a_catalogue_file(
    start_mock_cli: Callable[..., MockCli], kie_at: Callable[..., Kie], tmp_path: Any
) -> None:
    path = tmp_path / "turbo.json"
    path.write_text(json.dumps({"models": [TURBO]}))
    cli = start_mock_cli(f"--market-catalogue={path}")
    kie = kie_at(cli.base_url)
    answer = kie.post(CREATE, {"model": "acme/turbo-image", "input": {"num_images": 1}}).json()
    assert (answer["code"], answer["msg"]) == (422, "prompt cannot be empty")
