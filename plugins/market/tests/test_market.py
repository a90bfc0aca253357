"""The generic market provider: the contract, plus what a user of an untyped model relies on.

The mock emulates the ``grok-imagine/*`` market models and accepts any other id by default (a
strict mock answers it with KIE's 422 "model not supported", kie-api.md §2.4); the end-to-end
tests reach the generic provider through a registry that holds it alone, and the Grok ids stand
in for "a model kiekit has no typed plugin for". Status payloads are the recorded real ones of
§2.2 (HAR) and the docs' failure example, ids shortened.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from kiekit import (
    AsyncClient,
    Client,
    MediaKind,
    Registry,
    Request,
    State,
    Task,
    TaskNotFoundError,
    UnprocessableError,
    ValidationError,
)
from kiekit.fields import OpenInput
from kiekit.registry import default_registry, installed
from kiekit.transport import HttpRequest, HttpResponse, MockTransport
from kiekit_contract import ProviderContract, async_client_for, client_for
from kiekit_market import GenericMarketProvider
from kiekit_mock import MockConfig, MockServer

T2I = "grok-imagine/text-to-image"
I2I = "grok-imagine/image-to-image"
T2V = "grok-imagine/text-to-video"
NANO = "nano-banana-pro"  # §2.4 Google; in the catalogue (its documented fields are checked)
TOMORROW = "acme/model-of-tomorrow"  # in no catalogue: free-form on both sides
SEEDREAM = "seedream/4.5-edit"  # §2.4 Seedream; not emulated by the mock
CREATE = "/api/v1/jobs/createTask"
TASK = "5f488be792eafad4b066e21e5bc472c7"
IMAGE = "https://example.com/lighthouse.png"

# §2.2 [OBS]: `param` is a JSON string whose `input` is itself a JSON string; pending records
# carry resultJson "" and null fail/cost/complete fields, and no updateTime.
PARAM = json.dumps({"input": json.dumps({"aspect_ratio": "1:1", "prompt": "a fox"}), "model": T2I})
PENDING = {
    "taskId": TASK,
    "model": T2I,
    "state": "waiting",
    "param": PARAM,
    "resultJson": "",
    "failCode": None,
    "failMsg": None,
    "costTime": None,
    "completeTime": None,
    "createTime": 1776323915587,
}
RESULT_URLS = [f"https://tempfile.aiquickdraw.com/r/{TASK}-{i}.jpg" for i in range(6)]
SUCCESS = PENDING | {
    "state": "success",
    "resultJson": json.dumps({"resultUrls": RESULT_URLS}),
    "costTime": 12,
    "completeTime": 1776323928526,
}
FAIL = PENDING | {"state": "fail", "failCode": "422", "failMsg": "Invalid prompt: nsfw"}


class TestGenericMarket(ProviderContract):
    provider = GenericMarketProvider()
    # the generic provider tested through ids the mock emulates, as if no typed plugin existed
    pattern_models: ClassVar[Mapping[str, Sequence[str]]] = {"*": (T2I, I2I, T2V)}
    example_inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        T2I: {"prompt": "a fox", "aspect_ratio": "3:2"},
        I2I: {"prompt": "a fox, as a sketch", "image_urls": [IMAGE]},
        T2V: {"prompt": "a fox running", "duration": "6", "resolution": "480p"},
        NANO: {"prompt": "a fox"},  # a catalogue model: its documented fields are checked
    }
    documented_statuses = (
        (PENDING, State.QUEUED),
        (PENDING | {"state": "queuing"}, State.QUEUED),
        (PENDING | {"state": "generating"}, State.RUNNING),
        (SUCCESS, State.SUCCEEDED),
        (FAIL, State.FAILED),
    )


PROVIDER = GenericMarketProvider()
needs_grok = pytest.mark.skipif(
    {item.model: item.distribution for item in installed()}.get(T2I) != "kiekit-grok-imagine",
    reason="the typed kiekit-grok-imagine plugin is not installed",
)


def generic_only() -> Registry:
    """A registry with the generic provider alone: every id goes through it."""
    registry = Registry(discover=False)
    registry.add_provider(GenericMarketProvider())
    return registry


def _no_http(request: HttpRequest) -> HttpResponse:
    return HttpResponse(500, b"no request was expected")


# -- which provider serves an id ---------------------------------------------------------------


def test_any_model_id_is_served_under_its_own_id() -> None:
    for model_id in (NANO, SEEDREAM, "some-vendor/model-of-tomorrow"):
        model = PROVIDER.model(model_id)
        assert (model.id, model.input, model.output) == (model_id, OpenInput, None)


# the registry clients use by default, and a fresh one: both read the installed plugins
INSTALLED = pytest.mark.parametrize(
    "registry", [default_registry, Registry], ids=["default", "fresh"]
)


@INSTALLED
@pytest.mark.parametrize("model_id", [NANO, SEEDREAM])
def test_installed_plugins_send_untyped_ids_to_the_generic_provider(
    registry: Callable[[], Registry], model_id: str
) -> None:
    assert type(registry().provider(model_id)) is GenericMarketProvider


@INSTALLED
@needs_grok
def test_a_typed_plugin_keeps_its_exact_model_id(registry: Callable[[], Registry]) -> None:
    provider = registry().provider(T2I)
    assert not isinstance(provider, GenericMarketProvider)
    assert type(provider).__module__.startswith("kiekit_grok_imagine")
    assert provider.model(T2I).input is not OpenInput


# -- the request -------------------------------------------------------------------------------


def test_body_is_model_and_input_as_given() -> None:
    params = PROVIDER.make_input(
        NANO, prompt="a lighthouse", image_input=[IMAGE], resolution="2K", seed=7, hd=True
    )
    assert PROVIDER.build_request(NANO, params) == Request(
        "POST",
        CREATE,
        body={
            "model": NANO,
            "input": {
                "prompt": "a lighthouse",
                "image_input": [IMAGE],
                "resolution": "2K",
                "seed": 7,
                "hd": True,
            },
        },
    )


def test_callback_url_goes_beside_the_input() -> None:
    given = {"prompt": "night", "image_urls": [IMAGE], "aspect_ratio": "1:1", "quality": "high"}
    params = PROVIDER.make_input(SEEDREAM, given)
    body = PROVIDER.build_request(SEEDREAM, params, callback_url="https://me.example/cb").body
    assert body == {"model": SEEDREAM, "callBackUrl": "https://me.example/cb", "input": given}


def test_nothing_is_renamed_or_coerced() -> None:
    # KIE's fields are its own business here: camelCase stays camelCase, "6" stays a string,
    # nested objects stay nested (a null in one too)
    given = {
        "aspectRatio": "16:9",
        "duration": "6",
        "n": 6,
        "multi_prompt": [{"prompt": "a", "duration": 3, "camera": None}],
    }
    body: Any = PROVIDER.build_request(TOMORROW, PROVIDER.make_input(TOMORROW, given)).body
    assert body["input"] == given
    assert json.loads(json.dumps(body))["input"] == given


@pytest.mark.parametrize("model", [NANO, TOMORROW])
def test_a_field_given_none_is_not_given_as_for_a_typed_plugin(model: str) -> None:
    """None means "not given" (the catalogue's check reads it so); it was sent as null, an
    empty enum value KIE answers with 422 (kie-api.md §2.4)."""
    params = PROVIDER.make_input(model, {"prompt": "x", "aspect_ratio": None}, resolution=None)
    assert PROVIDER.build_request(model, params).body == {"model": model, "input": {"prompt": "x"}}


def test_fields_as_keywords_or_as_a_mapping_are_the_same_input() -> None:
    as_keywords = PROVIDER.make_input(NANO, prompt="a fox", resolution="2K")
    as_mapping = PROVIDER.make_input(NANO, {"prompt": "a fox", "resolution": "2K"})
    mixed = PROVIDER.make_input(NANO, {"prompt": "a fox"}, resolution="2K")
    assert as_keywords == as_mapping == mixed == OpenInput({"prompt": "a fox", "resolution": "2K"})


def test_an_open_input_object_is_taken_as_is() -> None:
    params = OpenInput({"prompt": "a fox"})
    assert PROVIDER.make_input(NANO, params) is params


def test_the_client_sends_exactly_that_body() -> None:
    def created(request: HttpRequest) -> HttpResponse:
        answer = {"code": 200, "msg": "success", "data": {"taskId": TASK, "recordId": TASK}}
        return HttpResponse(200, json.dumps(answer).encode())

    transport = MockTransport(created)
    with client_for("http://127.0.0.1:9", registry=generic_only(), transport=transport) as kie:
        task = kie.submit(NANO, prompt="a fox", image_input=[IMAGE], resolution="2K")
    assert task == Task(TASK, NANO)
    [sent] = transport.requests
    assert (sent.method, sent.url) == ("POST", "http://127.0.0.1:9" + CREATE)
    assert sent.body is not None
    assert json.loads(sent.body) == {
        "model": NANO,
        "input": {"prompt": "a fox", "image_input": [IMAGE], "resolution": "2K"},
    }


# -- what kiekit refuses before sending --------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, b"bytes", {1, 2}, object(), 1j, [1, math.nan], {"a": {b"k"}}],
    ids=["nan", "inf", "-inf", "bytes", "set", "object", "complex", "nested-nan", "nested-bytes"],
)
def test_a_value_that_is_not_json_is_refused_naming_its_key(value: Any) -> None:
    transport = MockTransport(_no_http)
    kie = client_for("http://127.0.0.1:9", registry=generic_only(), transport=transport)
    with kie, pytest.raises(ValidationError) as caught:
        kie.submit(NANO, prompt="a fox", seed=value)
    assert caught.value.field == "seed"
    assert transport.requests == []


@pytest.mark.parametrize("key", [1, None, "", "  "])
def test_a_key_that_is_no_field_name_is_refused(key: Any) -> None:
    transport = MockTransport(_no_http)
    kie = client_for("http://127.0.0.1:9", registry=generic_only(), transport=transport)
    with kie, pytest.raises(ValidationError) as caught:
        kie.submit(NANO, {"prompt": "a fox", key: "x"})
    assert caught.value.field == "input"
    assert transport.requests == []


def test_command_line_values_are_read_as_json_where_they_parse() -> None:
    # kie run nano-banana-pro --prompt … --input resolution=2K --input duration='"6"' …
    text = {
        "prompt": "a lighthouse at dawn",
        "resolution": "2K",
        "aspect_ratio": "16:9",
        "duration": '"6"',
        "n": "2",
        "hd": "true",
        "image_input": f'["{IMAGE}"]',
    }
    params = PROVIDER.make_input(NANO, text, from_text=True)
    assert params == OpenInput(
        {
            "prompt": "a lighthouse at dawn",
            "resolution": "2K",
            "aspect_ratio": "16:9",
            "duration": "6",
            "n": 2,
            "hd": True,
            "image_input": [IMAGE],
        }
    )


def test_kie_run_sends_an_untyped_id_to_kie(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from kiekit.cli import main

    out = tmp_path / "out"
    argv = ["run", NANO, "--prompt", "x", "--input", "resolution=2K", "--mock", "--out", str(out)]
    assert main([*argv, "--mock-seconds", "0"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out.split()
    assert printed
    assert all(Path(path).parent == out for path in printed)
    # nano-banana-pro's results are PNG files (the catalogue's entry, as real KIE serves them)
    assert all(Path(path).read_bytes()[:4] == b"\x89PNG" for path in printed)


@needs_grok
def test_kie_run_keeps_the_typed_plugin_for_its_ids(capsys: pytest.CaptureFixture[str]) -> None:
    from kiekit.cli import main

    # refused by the typed input before any request (the generic provider would send it)
    assert main(["run", T2I, "--prompt", "x", "--input", "aspect_ratio=4:3"]) == 2
    assert "kie: error: aspect_ratio: must be one of" in capsys.readouterr().err


# -- end to end against the mock ---------------------------------------------------------------


def _check_images(files: list[Path], task: Task) -> None:
    assert [f.name for f in files] == [f"{task.id}-{i}.jpg" for i in range(6)]  # §2.2: six
    assert all(f.read_bytes().startswith(b"\xff\xd8\xff") for f in files)  # real JPEG files


def test_untyped_model_end_to_end_with_client(kie_mock: MockServer, tmp_path: Path) -> None:
    with client_for(kie_mock.base_url, registry=generic_only()) as kie:
        task = kie.submit(T2I, prompt="a fox", aspect_ratio="3:2")
        results = kie.wait(task)
        files = kie.download(results, tmp_path)
    assert {(a.kind, a.media_type) for a in results.assets} == {(MediaKind.IMAGE, "image/jpeg")}
    _check_images(files, task)
    [made] = kie_mock.tasks()
    assert made.request_body == {"model": T2I, "input": {"prompt": "a fox", "aspect_ratio": "3:2"}}


def test_untyped_model_end_to_end_with_async_client(kie_mock: MockServer, tmp_path: Path) -> None:
    async def main() -> tuple[Task, list[Path]]:
        kie: AsyncClient
        async with async_client_for(kie_mock.base_url, registry=generic_only()) as kie:
            task = await kie.submit(T2I, {"prompt": "a fox"})
            return task, await kie.download(await kie.wait(task), tmp_path)

    task, files = asyncio.run(main())
    _check_images(files, task)


STT = "elevenlabs/speech-to-text"
HUMAN_ID = "omnihuman-1-5/human-identification"


def test_a_text_model_hands_the_user_its_own_value(kie_mock: MockServer) -> None:
    # §2.2: a text model answers {"resultObject": …}, shaped as the model's page documents it
    # (the mock's catalogue entry) — a transcript for speech-to-text, not a Sora character id
    with client_for(kie_mock.base_url) as kie:
        transcript = kie.wait(kie.submit(STT, audio_url="https://example.com/a.mp3"))
        identified = kie.wait(kie.submit(HUMAN_ID, image_url=IMAGE))
    assert transcript.assets == ()
    assert transcript.value["text"].startswith("kiekit-mock transcript of task ")
    assert transcript.value["language_code"] == "eng"
    assert [w["type"] for w in transcript.value["words"]] == ["word", "spacing", "word"]
    assert identified.value == {"subject_status": 1}


def test_kie_batch_writes_a_text_model_s_value_into_its_results(tmp_path: Path) -> None:
    from kiekit.cli import main

    jobs = tmp_path / "jobs.jsonl"
    lines = [
        {"id": "stt", "model": STT, "input": {"audio_url": "https://example.com/a.mp3"}},
        {"id": "who", "model": HUMAN_ID, "input": {"image_url": IMAGE}},
    ]
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["batch", str(jobs), "--out", str(tmp_path / "out"), "--mock"]) == 0
    rows = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    written = {row["id"]: row for row in map(json.loads, rows)}
    task_id = written["stt"]["task_id"]
    assert written["stt"]["value"]["text"] == f"kiekit-mock transcript of task {task_id}"
    assert written["who"]["value"] == {"subject_status": 1}
    assert written["stt"]["files"] == written["who"]["files"] == []


def test_video_kind_comes_from_the_file(kie_mock: MockServer) -> None:
    with client_for(kie_mock.base_url, registry=generic_only()) as kie:
        results = kie.wait(kie.submit(T2V, prompt="a fox running", duration="6"))
    assert [(a.kind, a.media_type) for a in results.assets] == [(MediaKind.VIDEO, "video/mp4")]


@pytest.fixture
def strict_mock() -> Iterator[MockServer]:
    with MockServer(MockConfig(strict_models=True)) as server:
        yield server


@pytest.mark.parametrize("client", ["Client", "AsyncClient"])
def test_unknown_model_is_kie_s_422_and_no_task(client: str, strict_mock: MockServer) -> None:
    kie_mock = strict_mock
    registry = generic_only()

    def submit() -> Task:
        if client == "Client":
            with client_for(kie_mock.base_url, registry=registry) as kie:
                return kie.submit(TOMORROW, prompt="a fox", resolution="2K")

        async def main() -> Task:
            async with async_client_for(kie_mock.base_url, registry=registry) as kie:
                return await kie.submit(TOMORROW, prompt="a fox", resolution="2K")

        return asyncio.run(main())

    with pytest.raises(UnprocessableError) as caught:
        submit()
    error = caught.value
    assert error.code == 422
    assert error.kie_message == "model not supported"
    assert "model not supported" in str(error)
    assert error.task_id is None
    assert kie_mock.tasks() == []
    [sent] = kie_mock.requests()
    assert (sent.path, sent.code) == (CREATE, 422)
    assert sent.body == {"model": TOMORROW, "input": {"prompt": "a fox", "resolution": "2K"}}


def test_kie_judges_the_fields_a_bad_one_is_its_422(kie_mock: MockServer) -> None:
    # nothing checks aspect_ratio on this side: the mock, as KIE, refuses it
    kie = client_for(kie_mock.base_url, registry=generic_only())
    with kie, pytest.raises(UnprocessableError) as caught:
        kie.submit(T2I, prompt="a fox", aspect_ratio="4:3")
    assert caught.value.kie_message == "aspect_ratio is not within the range of allowed options"
    assert kie_mock.tasks() == []


# -- results -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind", "media_type"),
    [
        ("https://cdn.example/r/a.png", MediaKind.IMAGE, "image/png"),
        ("https://cdn.example/r/a.mp4", MediaKind.VIDEO, "video/mp4"),
        ("https://cdn.example/r/a.mp3", MediaKind.AUDIO, "audio/mpeg"),
        ("https://cdn.example/r/a", MediaKind.OTHER, None),
    ],
)
def test_each_result_kind_comes_from_its_media_type(
    url: str, kind: MediaKind, media_type: str | None
) -> None:
    payload = SUCCESS | {"model": NANO, "resultJson": json.dumps({"resultUrls": [url]})}
    [item] = PROVIDER.extract_results(TASK, payload).assets
    assert (item.url, item.kind, item.media_type) == (url, kind, media_type)


def test_text_output_has_no_files_and_stays_in_raw() -> None:
    # §2.2: text models answer {"resultObject": …} instead of resultUrls
    text = {"resultObject": {"text": "hello"}}
    payload = SUCCESS | {"model": "elevenlabs/speech-to-text", "resultJson": json.dumps(text)}
    results = PROVIDER.extract_results(TASK, payload)
    assert results.assets == ()
    assert results.raw == payload


def test_failure_keeps_kie_fail_code_and_message() -> None:
    status = PROVIDER.parse_status(TASK, FAIL | {"model": NANO})
    assert (status.state, status.fail_code, status.fail_message) == (
        State.FAILED,
        "422",
        "Invalid prompt: nsfw",
    )


# -- the catalogue ---------------------------------------------------------------------------------


def test_a_catalogue_model_is_checked_before_anything_is_sent() -> None:
    transport = MockTransport(lambda request: HttpResponse(500, b"", "never sent"))
    kie = Client("k", base_url="http://127.0.0.1:9", transport=transport, journal=None)
    with kie, pytest.raises(ValidationError) as caught:
        kie.submit(NANO, prompt="a fox", resolution="8K")
    assert caught.value.field == "resolution"
    assert "1K, 2K, 4K" in str(caught.value)
    with kie, pytest.raises(ValidationError) as missing:
        kie.submit("seedream/5-lite-text-to-image", prompt="a fox", aspect_ratio="1:1")
    assert missing.value.field == "quality"  # KIE answers "This field is required" (§2.4)
    with kie, pytest.raises(ValidationError) as short:
        kie.submit("seedream/5-lite-text-to-image", prompt="ab", aspect_ratio="1:1", quality="high")
    assert (short.value.field, "at least 3 characters" in str(short.value)) == ("prompt", True)
    with kie, pytest.raises(ValidationError) as neither:
        kie.submit("wan/2-7-r2v", prompt="a fox")
    assert neither.value.field == "reference_image"
    assert transport.requests == []


@pytest.mark.parametrize(
    ("model", "field", "value", "says"),
    [
        ("wan/2-7-image", "color_palette", [1, 2], "at least 3 items"),
        ("wan/2-7-image", "color_palette", "red", "a list of items"),
        ("bytedance/seedance-2", "reference_image_urls[1]", ["a", 1], "must be a string (got"),
        ("nano-banana-pro", "image_input[1]", ["https://e.com/a.png", "b.png"], "an http(s) URL"),
        ("kling-3.0-omni/text-to-video", "multi_prompt[0]", ["a shot"], "an object (got the"),
        ("elevenlabs/text-to-dialogue-v3", "stability", 0.7, "one of 0, 0.5, 1"),
        ("wan/2-7-image", "n", 13, "at most 12"),
        # too large for a float: it was an OverflowError
        pytest.param("wan/2-7-image", "n", 10**400, "at most 12", id="an int past floats"),
    ],
)
def test_the_catalogue_s_list_and_enum_rules_are_checked_too(
    model: str, field: str, value: Any, says: str
) -> None:
    """A list's entry at fault is named by its place (image_input[1]): a list of eight URLs
    said only "must be a list of URLs", whichever was wrong."""
    from kiekit_market import catalogue

    entry = catalogue.entries()[model]
    given: dict[str, Any] = {
        f: "a fox" for f, spec in entry["fields"].items() if spec.get("required")
    }
    if model == "elevenlabs/text-to-dialogue-v3":
        given["dialogue"] = [{"text": "hi", "voice": "Rachel"}]
    catalogue.check(model, given)  # valid as it is
    with pytest.raises(ValidationError) as caught:
        catalogue.check(model, given | {field.partition("[")[0]: value})
    assert caught.value.field == field
    assert says in str(caught.value)


def test_a_field_the_catalogue_does_not_document_is_sent_and_named_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kiekit import fields

    fields._said_once.cache_clear()  # said once per process: this test's own
    sent: list[HttpRequest] = []

    def answer(request: HttpRequest) -> HttpResponse:
        sent.append(request)
        return HttpResponse(200, json.dumps({"code": 200, "data": {"taskId": TASK}}).encode())

    kie = Client("k", base_url="http://127.0.0.1:9", transport=MockTransport(answer), journal=None)
    with kie, caplog.at_level("WARNING", logger="kiekit.market"):
        kie.submit(NANO, prompt="a fox", aspect_raito="16:9")  # misspelt
        kie.submit(NANO, prompt="a fox", aspect_raito="16:9")
        kie.submit(NANO, prompt="a fox", aspect_ratio="16:9")  # documented: nothing to say
        kie.submit(TOMORROW, prompt="a fox", anything=1)  # no entry: nothing to compare with
    said = [record.getMessage() for record in caplog.records]
    assert len(said) == 1, said
    assert said[0].startswith("aspect_raito: not a field KIE documents for nano-banana-pro")
    assert "did you mean 'aspect_ratio'?" in said[0]
    # sent as given all the same: the catalogue may not know a field KIE added
    assert [json.loads(r.body or b"{}")["input"] for r in sent[:2]] == [
        {"prompt": "a fox", "aspect_raito": "16:9"}
    ] * 2


def test_an_id_outside_the_catalogue_stays_free_form() -> None:
    params = PROVIDER.make_input(TOMORROW, {"resolution": 8, "anything": [1, 2]})
    assert params == OpenInput({"resolution": 8, "anything": [1, 2]})


def test_catalogue_ids_are_known_for_did_you_mean() -> None:
    known = PROVIDER.known_models()
    assert {NANO, "gpt-image-2-text-to-image", "happyhorse/video-edit"} <= set(known)
    assert generic_only().suggestions("gpt-image-2-text-to-imag")[0] == "gpt-image-2-text-to-image"


def test_a_field_the_catalogue_calls_text_keeps_its_text_from_the_command_line() -> None:
    params = PROVIDER.make_input(
        "topaz/image-upscale", {"image_url": IMAGE, "upscale_factor": "2"}, from_text=True
    )
    assert params == OpenInput({"image_url": IMAGE, "upscale_factor": "2"})


ISSUE_13_IDS = (
    "nano-banana-2",
    "nano-banana-pro",
    "seedream/5-lite-text-to-image",
    "bytedance/seedance-2",
    "bytedance/seedance-2-fast",
    "gpt-image-2-text-to-image",
    "gpt-image-2-image-to-image",
    "qwen2/text-to-image",
    "qwen2/image-edit",
    "wan/2-7-image",
    "wan/2-7-image-pro",
    "wan/2-7-image-to-video",
    "wan/2-7-r2v",
    "wan/2-7-videoedit",
    "happyhorse/text-to-video",
    "happyhorse/image-to-video",
    "happyhorse/reference-to-video",
    "happyhorse/video-edit",
)
MAGIC = {"png": b"\x89PNG", "jpg": b"\xff\xd8\xff", "mp4": b"ftyp", "mp3": b"ID3", "wav": b"RIFF"}


def _catalogue_ids_checked_by_their_entry() -> list[str]:
    """Every catalogue model whose entry lists its fields (the others — Grok, Kling 3.0, Sora 2 —
    are checked by mock modules of their own and need inputs this test does not build)."""
    from kiekit_market import catalogue

    return sorted(name for name, entry in catalogue.entries().items() if entry["fields"])


def _command_line_text(spec: Mapping[str, Any]) -> str:
    """A valid value for a field as a user types it after ``--input name=``."""
    if "enum" in spec:
        return str(spec["enum"][0])
    if spec["type"] in ("integer", "number"):
        return str(spec.get("min", 1))
    items = ["x"] * spec.get("min_items", 1)
    return {
        "boolean": "true",
        "url": IMAGE,
        "urls": json.dumps([IMAGE] * spec.get("min_items", 1)),
        "texts": json.dumps(["a lighthouse"] * spec.get("min_items", 1)),
        "objects": json.dumps([{"text": "hello", "voice": "Rachel"}]),
        "list": json.dumps(items),
    }.get(spec["type"], "a lighthouse")


def test_every_id_issue_13_names_is_run_below() -> None:
    assert set(ISSUE_13_IDS) <= set(_catalogue_ids_checked_by_their_entry())


@pytest.mark.parametrize("model", _catalogue_ids_checked_by_their_entry())
def test_kie_run_mock_writes_a_real_file_of_the_models_type(
    model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What issue 13 checks, for every catalogue model: through `kie run --mock` as a user
    types it (the required fields its catalogue entry names, as command-line text), a file of
    the entry's type with that type's real magic bytes."""
    from kiekit.cli import main
    from kiekit_market import catalogue

    entry = catalogue.entries()[model]
    argv = ["run", model, "--mock", "--mock-seconds", "0", "--out", str(tmp_path)]
    needed = [f for f, spec in entry["fields"].items() if spec.get("required")]
    for field in needed + entry.get("requires_one_of", [])[:1]:
        argv += ["--input", f"{field}={_command_line_text(entry['fields'][field])}"]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    if entry["kind"] == "text":  # a text model answers an object, saved as it is printed
        value = json.loads(out)
        assert isinstance(value, dict)
        [saved] = tmp_path.iterdir()
        assert saved.name.endswith("-value.json")
        assert json.loads(saved.read_text("utf-8")) == value
        return
    paths = [Path(line) for line in out.split()]
    assert len(paths) == entry.get("results", 1)
    for path in paths:
        assert path.suffix == "." + entry["file"]
        assert MAGIC[entry["file"]] in path.read_bytes()[:12]


# Values at the edges of what a field takes: text that is empty, blank or a number; integers
# as text KIE reads ("7", " 7 ") and does not ("--5", "²", "٣"); whole and broken floats;
# malformed and spaced URLs; lists of the wrong members. (NaN is left out: JSON cannot carry
# it, and this side refuses it before the encoder would.)
EDGES: list[Any] = [
    None, "", "  ", [], "--5", "²", "٣", " 7 ", "7", "0.5", 7, 7.0, 7.5, 0, -1, True,
    "http://[::1", "https://e.com/a b.png", "https://e.com/a.png", ["https://e.com/a.png"],
    ["http://[::1"], {"a": 1}, [1], ["x"], [{"a": 1}], "x" * 20_000,
]  # fmt: skip


def test_every_catalogue_field_refuses_locally_exactly_what_the_mock_refuses() -> None:
    """The promise of this plugin: the mock's checks of the same entry, run before anything is
    paid for. A value the mock (KIE) refuses with 422 and this side let through was a wasted
    round trip; one this side refuses and the mock takes, a false refusal; a value that made
    this side raise a bare ValueError ("--5", "http://[::1"), a traceback (an outside tester's
    differential fuzzing found all three)."""
    from kiekit_market import catalogue
    from kiekit_mock.envelope import ErrorAnswer
    from kiekit_mock.families.market_models import catalogue as mocks

    differ = []
    for model, entry in catalogue.entries().items():
        for field, spec in entry["fields"].items():
            for value in EDGES:
                here = catalogue._problem(value, spec)
                try:
                    mocks._check_field({field: value}, field, spec)
                    there = None
                except ErrorAnswer as refused:
                    there = refused.msg
                if (here is None) != (there is None):
                    differ.append(f"{model}.{field}={value!r:.20}: here {here!r}, mock {there!r}")
    assert differ == []


def test_a_market_task_kie_has_no_record_of_is_named_so() -> None:
    """recordInfo's data:null for an unknown id (kie-api.md §2.2, §11; the mock's
    market_unknown_null): the client's error says KIE has no record of it, with its id."""
    unknown = Task(id="f" * 32, model=NANO)
    mock = MockServer(MockConfig(market_unknown_null=True))
    with mock, client_for(mock.base_url) as kie, pytest.raises(TaskNotFoundError) as caught:
        kie.status(unknown)
    assert str(caught.value).startswith("KIE has no record of this task")
    assert caught.value.task_id == unknown.id


@pytest.mark.parametrize(("given", "sent"), [(10, "10"), ("10", "10"), (4, "4")])
def test_a_number_for_a_text_enum_of_numerals_is_sent_as_its_numeral(given: Any, sent: str) -> None:
    """KIE reads a market model's number and its numeral alike (kie-api.md §2.2), and the typed
    market plugins take either (Kling's ``duration=10`` is ``"10"``); a catalogue model's
    ``duration=10`` was refused as "must be a string, one of 4, 6, 8, 10 (got the integer 10)",
    naming 10 among the values allowed (QA mjrunway, 6)."""
    made = PROVIDER.make_input("gemini-omni-video", prompt="a fox", duration=given)
    assert isinstance(made, OpenInput)
    assert made.values["duration"] == sent


@pytest.mark.parametrize("given", [7, 10.0, "7"])
def test_a_number_no_numeral_of_a_text_enum_holds_is_refused_naming_the_values(given: Any) -> None:
    with pytest.raises(ValidationError) as info:
        PROVIDER.make_input("gemini-omni-video", prompt="a fox", duration=given)
    assert info.value.field == "duration"
    assert str(info.value) == f"duration: must be one of 4, 6, 8, 10; got {given!r}"
