"""Grok Imagine: the provider contract, plus the wire facts a user of this plugin relies on.

Payloads are the real recorded ones of kie-api.md §2.2 (HAR, grok-imagine/text-to-image), with
the docs' failure example; ids shortened. Inputs and limits: §2.4 (Grok Imagine table + notes).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import kiekit
import pytest
from kiekit import Client, Input, MediaKind, Model, Request, State, ValidationError
from kiekit.cli import main as kie_main
from kiekit.transport import HttpRequest, HttpResponse, MockTransport
from kiekit_contract import ProviderContract, async_client_for, client_for
from kiekit_grok_imagine import (
    Extend,
    GrokImagineProvider,
    ImageToImage,
    ImageToVideo,
    TextToImage,
    TextToVideo,
    Upscale,
)
from kiekit_mock import MockServer

T2I = "grok-imagine/text-to-image"
I2I = "grok-imagine/image-to-image"
T2V = "grok-imagine/text-to-video"
I2V = "grok-imagine/image-to-video"
UPSCALE = "grok-imagine/upscale"
EXTEND = "grok-imagine/extend"
TASK = "5f488be792eafad4b066e21e5bc472c7"
EARLIER = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"  # an earlier Grok task, reused by id
IMAGE = "https://example.com/fox.png"

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
# D:get-task-detail failure example: failCode is a string
FAIL = PENDING | {"state": "fail", "failCode": "422", "failMsg": "Invalid prompt: nsfw"}


class TestGrokImagine(ProviderContract):
    """Upscale, extend and image-to-video from a task_id work on an earlier Grok task, which
    the mock checks when the task ends (a task that names none fails): each end-to-end test of
    theirs first makes one."""

    provider = GrokImagineProvider()
    # the smallest inputs need an earlier task's id (the specs alone would make a prompt of it)
    example_inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        I2V: {"task_id": EARLIER, "index": 0, "prompt": "the fox starts running"},
        UPSCALE: {"task_id": EARLIER},
        EXTEND: {"task_id": EARLIER, "prompt": "the fox jumps a creek"},
    }
    # what each follow-up works on: an earlier task of this model, made on the mock
    sources: ClassVar[Mapping[str, tuple[str, Mapping[str, Any]]]] = {
        I2V: (T2I, {"prompt": "a fox in the snow"}),
        UPSCALE: (T2I, {"prompt": "a fox in the snow"}),
        EXTEND: (T2V, {"prompt": "a fox in the snow"}),
    }
    mock: MockServer

    @pytest.fixture(autouse=True)
    def _session_mock(self, kie_mock_session: MockServer) -> None:
        self.mock = kie_mock_session

    def example_input(self, model: Model) -> Input:
        if model.id not in self.sources:
            return super().example_input(model)
        source_model, source_input = self.sources[model.id]
        with client_for(self.mock.base_url, registry=self.contract_registry()) as kie:
            source = kie.submit(source_model, dict(source_input))
            kie.wait(source)
        given = dict(self.example_inputs[model.id]) | {"task_id": source.id}
        return self.provider.make_input(model.id, given)

    documented_statuses = (
        (PENDING, State.QUEUED),
        (PENDING | {"state": "queuing"}, State.QUEUED),
        (PENDING | {"state": "generating"}, State.RUNNING),
        (SUCCESS, State.SUCCEEDED),
        (FAIL, State.FAILED),
    )


PROVIDER = GrokImagineProvider()


def _no_http(request: HttpRequest) -> HttpResponse:
    return HttpResponse(500, b"no request was expected")


@pytest.mark.parametrize("ratio", ["2:3", "3:2", "1:1", "16:9", "9:16"])
def test_every_documented_aspect_ratio_is_accepted(ratio: str) -> None:
    assert TextToImage(prompt="a fox", aspect_ratio=ratio).aspect_ratio == ratio


@pytest.mark.parametrize("ratio", ["4:3", "21:9", "1:1 ", "square", ""])
def test_undocumented_aspect_ratio_is_refused_before_sending(ratio: str) -> None:
    transport = MockTransport(_no_http)
    kie = client_for("http://127.0.0.1:9", transport=transport)
    with kie, pytest.raises(ValidationError) as caught:
        kie.submit(T2I, prompt="a fox", aspect_ratio=ratio)
    assert caught.value.field == "aspect_ratio"
    assert transport.requests == []


def test_body_is_model_input_and_optional_callback() -> None:
    params = TextToImage(prompt="a fox", aspect_ratio="16:9", nsfw_checker=False)
    assert PROVIDER.build_request(T2I, params) == Request(
        "POST",
        "/api/v1/jobs/createTask",
        body={
            "model": T2I,
            "input": {"prompt": "a fox", "aspect_ratio": "16:9", "nsfw_checker": False},
        },
    )
    with_callback = PROVIDER.build_request(T2I, params, callback_url="https://me.example/cb")
    assert with_callback.body is not None
    assert set(with_callback.body) == {"model", "input", "callBackUrl"}
    assert with_callback.body["callBackUrl"] == "https://me.example/cb"


def test_image_urls_go_on_the_wire_as_a_list() -> None:
    params = ImageToImage(prompt="sketch", image_urls=("https://example.com/a.png",))
    body: Any = PROVIDER.build_request(I2I, params).body
    assert body["input"] == {"prompt": "sketch", "image_urls": ["https://example.com/a.png"]}


def test_status_is_polled_at_record_info() -> None:
    assert PROVIDER.status_request(TASK) == Request(
        "GET", "/api/v1/jobs/recordInfo", query={"taskId": TASK}
    )


def test_prompt_of_5000_characters_is_accepted_by_the_mock(kie_client: Client) -> None:
    task = kie_client.submit(T2I, prompt="x" * 5000)
    assert kie_client.wait(task).assets


IMAGES: dict[str, dict[str, Any]] = {I2I: {"image_urls": ["https://example.com/a.png"]}}


@pytest.mark.parametrize("model", [T2I, I2I])
def test_prompt_over_5000_characters_is_refused(model: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PROVIDER.make_input(model, prompt="x" * 5001, **IMAGES.get(model, {}))
    assert caught.value.field == "prompt"


@pytest.mark.parametrize("count", [0, 6])
def test_image_to_image_takes_one_to_five_images(count: int) -> None:
    images = tuple(f"https://example.com/{i}.png" for i in range(count))
    with pytest.raises(ValidationError) as caught:
        ImageToImage(prompt="sketch", image_urls=images)
    assert caught.value.field == "image_urls"


def test_recorded_success_yields_all_six_images() -> None:
    results = PROVIDER.extract_results(TASK, SUCCESS)
    assert [a.url for a in results.assets] == RESULT_URLS
    assert {a.kind for a in results.assets} == {MediaKind.IMAGE}
    assert {a.media_type for a in results.assets} == {"image/jpeg"}


def test_failure_keeps_kie_fail_code_and_message() -> None:
    status = PROVIDER.parse_status(TASK, FAIL)
    assert (status.fail_code, status.fail_message) == ("422", "Invalid prompt: nsfw")


def test_runway_spellings_are_not_market_states() -> None:
    # "queueing"/"wait" are Runway's vocabulary (§9.3), not the jobs API's
    from kiekit import ProtocolError

    for state in ("queueing", "wait", "SUCCESS"):
        with pytest.raises(ProtocolError):
            PROVIDER.parse_status(TASK, PENDING | {"state": state})


def test_image_to_image_end_to_end_downloads_two_images(
    kie_client: Client, kie_mock: MockServer, tmp_path: Any
) -> None:
    task = kie_client.submit(I2I, prompt="sketch", image_urls=["https://example.com/a.png"])
    files = kie_client.download(kie_client.wait(task), tmp_path)
    assert [f.name for f in files] == [f"{task.id}-0.jpg", f"{task.id}-1.jpg"]
    sent = [r.body for r in kie_mock.requests() if r.path == "/api/v1/jobs/createTask"]
    assert sent == [
        {
            "model": I2I,
            "input": {"prompt": "sketch", "image_urls": ["https://example.com/a.png"]},
        }
    ]


# -- every model: declared output and the exact createTask body --------------------------------


def test_each_model_declares_what_it_produces() -> None:
    outputs = {m.id: m.output for m in PROVIDER.models}
    assert outputs == {
        T2I: MediaKind.IMAGE,
        I2I: MediaKind.IMAGE,
        T2V: MediaKind.VIDEO,
        I2V: MediaKind.VIDEO,
        UPSCALE: MediaKind.IMAGE,  # D:market/grok-imagine/upscale: "Upscale Grok Imagine Images"
        EXTEND: MediaKind.VIDEO,
    }


# (model, fields as a user passes them, the `input` object KIE gets): snake_case keys, the
# string enums ("duration", "extend_times") as strings, index and extend_at as numbers.
BODIES = [
    (
        T2I,
        {"prompt": "a fox", "aspect_ratio": "2:3", "nsfw_checker": True, "enable_pro": False},
        {"prompt": "a fox", "aspect_ratio": "2:3", "nsfw_checker": True, "enable_pro": False},
    ),
    (
        I2I,
        {"prompt": "sketch", "image_urls": (IMAGE,)},
        {"prompt": "sketch", "image_urls": [IMAGE]},
    ),
    (
        T2V,
        {
            "prompt": "a fox running",
            "aspect_ratio": "16:9",
            "mode": "fun",
            "duration": "10",
            "resolution": "720p",
            "nsfw_checker": False,
        },
        {
            "prompt": "a fox running",
            "aspect_ratio": "16:9",
            "mode": "fun",
            "duration": "10",
            "resolution": "720p",
            "nsfw_checker": False,
        },
    ),
    (
        I2V,
        {"image_urls": [IMAGE], "prompt": "it runs", "mode": "normal", "duration": "6"},
        {"image_urls": [IMAGE], "prompt": "it runs", "mode": "normal", "duration": "6"},
    ),
    (
        I2V,
        {
            "task_id": EARLIER,
            "index": 5,
            "mode": "spicy",
            "resolution": "480p",
            "aspect_ratio": "9:16",
        },
        {
            "task_id": EARLIER,
            "index": 5,
            "mode": "spicy",
            "resolution": "480p",
            "aspect_ratio": "9:16",
        },
    ),
    (UPSCALE, {"task_id": EARLIER}, {"task_id": EARLIER}),
    (
        EXTEND,
        {"task_id": EARLIER, "prompt": "it jumps", "extend_at": 0, "extend_times": "6"},
        {"task_id": EARLIER, "prompt": "it jumps", "extend_at": 0, "extend_times": "6"},
    ),
]


@pytest.mark.parametrize(("model", "fields", "wire"), BODIES, ids=[b[0] for b in BODIES])
def test_create_body_is_model_and_snake_case_input(
    model: str, fields: dict[str, Any], wire: dict[str, Any]
) -> None:
    request = PROVIDER.build_request(model, PROVIDER.make_input(model, fields))
    assert request == Request(
        "POST", "/api/v1/jobs/createTask", body={"model": model, "input": wire}
    )
    assert json.loads(json.dumps(request.body)) == request.body  # plain JSON, types kept


@pytest.mark.parametrize(("model", "fields", "wire"), BODIES, ids=[b[0] for b in BODIES])
def test_each_body_is_accepted_by_the_mock(
    model: str, fields: dict[str, Any], wire: dict[str, Any], kie_mock_session: MockServer
) -> None:
    with client_for(kie_mock_session.base_url) as kie:
        task = kie.submit(model, fields)
    made = {t.task_id: t for t in kie_mock_session.tasks()}[task.id]
    assert made.model == model
    assert made.request_body == {"model": model, "input": wire}


# -- image-to-video: exactly one way to give the picture -----------------------------------------


def _refused(model: str, **fields: Any) -> ValidationError:
    """Submit through a client whose transport fails the test if anything is sent."""
    transport = MockTransport(_no_http)
    kie = client_for("http://127.0.0.1:9", transport=transport)
    with kie, pytest.raises(ValidationError) as caught:
        kie.submit(model, **fields)
    assert transport.requests == [], "a request was sent for an invalid input"
    return caught.value


def test_image_to_video_refuses_both_image_urls_and_task_id() -> None:
    error = _refused(I2V, image_urls=[IMAGE], task_id=EARLIER, index=0)
    assert error.field == "image_urls"
    assert "task_id" in str(error)


def test_image_to_video_needs_image_urls_or_task_id() -> None:
    error = _refused(I2V, prompt="it runs", mode="normal")
    assert error.field == "image_urls"
    assert "task_id" in str(error)


def test_index_needs_task_id() -> None:
    assert _refused(I2V, index=0, image_urls=[IMAGE]).field == "index"
    # with neither source, the missing source is named first, as KIE (the mock) names it
    assert _refused(I2V, index=0).field == "image_urls"


def test_spicy_mode_is_refused_with_external_images() -> None:
    # §2.4: "spicy not allowed with external images"; the task_id way allows it
    assert _refused(I2V, image_urls=[IMAGE], mode="spicy").field == "mode"
    assert ImageToVideo(task_id=EARLIER, index=0, mode="spicy").mode == "spicy"


@pytest.mark.parametrize("task_id", ["", "   "])
def test_blank_task_id_is_refused(task_id: str) -> None:
    assert _refused(I2V, task_id=task_id).field == "task_id"


def test_task_id_without_index_leaves_the_choice_to_kie() -> None:
    body: Any = PROVIDER.build_request(I2V, ImageToVideo(task_id=EARLIER)).body
    assert body["input"] == {"task_id": EARLIER}


@pytest.mark.parametrize("index", range(6))
def test_index_picks_one_of_six_images(index: int) -> None:
    assert ImageToVideo(task_id=EARLIER, index=index).index == index


@pytest.mark.parametrize("index", [-1, 6, "6", "0.0", "--1", 1.0, True])
def test_index_outside_0_to_5_is_refused(index: Any) -> None:
    assert _refused(I2V, task_id=EARLIER, index=index).field == "index"


@pytest.mark.parametrize("index", ["0", " 5 "])
def test_index_as_text_is_sent_as_the_number(index: str) -> None:
    # KIE reads a number's text as the number (kie-api.md §2.2), so does the mock
    params = PROVIDER.make_input(I2V, task_id=EARLIER, index=index)
    body: Any = PROVIDER.build_request(I2V, params).body
    assert body["input"]["index"] == int(index)


@pytest.mark.parametrize("count", [1, 7])
def test_image_to_video_takes_one_to_seven_images(count: int) -> None:
    images = tuple(f"https://example.com/{i}.png" for i in range(count))
    assert ImageToVideo(image_urls=images).image_urls == images


@pytest.mark.parametrize("count", [0, 8])
def test_image_to_video_refuses_other_image_counts(count: int) -> None:
    images = tuple(f"https://example.com/{i}.png" for i in range(count))
    assert _refused(I2V, image_urls=images).field == "image_urls"


# -- video enums ---------------------------------------------------------------------------------

VIDEO_INPUTS = {T2V: {"prompt": "a fox"}, I2V: {"task_id": EARLIER}}


@pytest.mark.parametrize("model", [T2V, I2V])
@pytest.mark.parametrize("duration", ["6", "10", "15", "30"])
def test_documented_durations_are_accepted(model: str, duration: str) -> None:
    params: Any = PROVIDER.make_input(model, VIDEO_INPUTS[model], duration=duration)
    assert params.duration == duration


@pytest.mark.parametrize("model", [T2V, I2V])
@pytest.mark.parametrize("duration", ["5", "31", "6s", "6.0", 5, 31, 6.0, True])
def test_other_durations_are_refused(model: str, duration: Any) -> None:
    assert _refused(model, **VIDEO_INPUTS[model], duration=duration).field == "duration"


@pytest.mark.parametrize("model", [T2V, I2V])
@pytest.mark.parametrize("duration", [6, 10, 30, " 6 "])
def test_a_duration_as_a_number_is_sent_as_kie_documents_it(model: str, duration: Any) -> None:
    # KIE took "duration":"6" and stored 6 (kie-api.md §2.2): the number and its text are one
    # value to it; what is sent is the documented string
    params = PROVIDER.make_input(model, VIDEO_INPUTS[model], duration=duration)
    body: Any = PROVIDER.build_request(model, params).body
    assert body["input"]["duration"] == str(duration).strip()


@pytest.mark.parametrize("model", [T2V, I2V])
@pytest.mark.parametrize("resolution", ["480p", "720p"])
def test_documented_resolutions_are_accepted(model: str, resolution: str) -> None:
    params: Any = PROVIDER.make_input(model, VIDEO_INPUTS[model], resolution=resolution)
    assert params.resolution == resolution


@pytest.mark.parametrize("model", [T2V, I2V])
@pytest.mark.parametrize("resolution", ["1080p", "720", "720P", "HD"])
def test_other_resolutions_are_refused(model: str, resolution: str) -> None:
    assert _refused(model, **VIDEO_INPUTS[model], resolution=resolution).field == "resolution"


@pytest.mark.parametrize("model", [T2V, I2V])
@pytest.mark.parametrize("mode", ["fun", "normal", "spicy"])
def test_documented_modes_are_accepted(model: str, mode: str) -> None:
    params: Any = PROVIDER.make_input(model, VIDEO_INPUTS[model], mode=mode)
    assert params.mode == mode


@pytest.mark.parametrize("model", [T2V, I2V])
@pytest.mark.parametrize("mode", ["custom", "Spicy", "std", ""])
def test_other_modes_are_refused(model: str, mode: str) -> None:
    assert _refused(model, **VIDEO_INPUTS[model], mode=mode).field == "mode"


@pytest.mark.parametrize("ratio", ["4:3", "21:9", "auto"])
def test_video_aspect_ratios_are_grok_ones(ratio: str) -> None:
    assert _refused(T2V, prompt="a fox", aspect_ratio=ratio).field == "aspect_ratio"
    assert _refused(I2V, task_id=EARLIER, aspect_ratio=ratio).field == "aspect_ratio"


def test_text_to_video_needs_a_prompt() -> None:
    assert _refused(T2V, mode="fun").field == "prompt"
    assert _refused(T2V, prompt="x" * 5001).field == "prompt"
    assert TextToVideo(prompt="x" * 5000).prompt


# -- upscale and extend ------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [{}, {"task_id": ""}, {"task_id": " "}])
def test_upscale_requires_a_task_id(fields: dict[str, Any]) -> None:
    assert _refused(UPSCALE, **fields).field == "task_id"


def test_upscale_takes_only_a_task_id() -> None:
    assert _refused(UPSCALE, task_id=EARLIER, prompt="sharper").field == "prompt"
    assert Upscale(task_id=EARLIER).task_id == EARLIER


@pytest.mark.parametrize("times", ["6", "10"])
def test_extend_times_six_or_ten_are_accepted(times: str) -> None:
    assert Extend(task_id=EARLIER, prompt="on", extend_times=times).extend_times == times


@pytest.mark.parametrize("times", ["8", "15", "30", 8, 6.0, ""])
def test_other_extend_times_are_refused(times: Any) -> None:
    error = _refused(EXTEND, task_id=EARLIER, prompt="on", extend_times=times)
    assert error.field == "extend_times"


@pytest.mark.parametrize("times", [6, 10])
def test_extend_times_as_a_number_is_sent_as_its_string(times: int) -> None:
    params = PROVIDER.make_input(EXTEND, task_id=EARLIER, prompt="on", extend_times=times)
    body: Any = PROVIDER.build_request(EXTEND, params).body
    assert body["input"]["extend_times"] == str(times)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"prompt": "on"}, "task_id"),
        ({"task_id": EARLIER}, "prompt"),
        ({"task_id": EARLIER, "prompt": "on", "extend_at": -1}, "extend_at"),
        ({"task_id": EARLIER, "prompt": "on", "extend_at": "-3"}, "extend_at"),
        ({"task_id": EARLIER, "prompt": "on", "extend_at": "nan"}, "extend_at"),
        ({"task_id": EARLIER, "prompt": "on", "extend_at": "٣"}, "extend_at"),
        ({"task_id": EARLIER, "prompt": "on", "extend_at": "1e1"}, "extend_at"),
    ],
)
def test_extend_needs_task_id_and_prompt(fields: dict[str, Any], field: str) -> None:
    assert _refused(EXTEND, **fields).field == field


def test_extend_at_may_be_a_fraction_of_a_second() -> None:
    assert Extend(task_id=EARLIER, prompt="on", extend_at=3.5).extend_at == 3.5


@pytest.mark.parametrize(("given", "sent"), [("5", 5.0), (" 2.5 ", 2.5), ("0", 0.0)])
def test_extend_at_as_text_is_sent_as_the_number(given: str, sent: float) -> None:
    params = PROVIDER.make_input(EXTEND, task_id=EARLIER, prompt="on", extend_at=given)
    body: Any = PROVIDER.build_request(EXTEND, params).body
    assert body["input"]["extend_at"] == sent
    assert isinstance(body["input"]["extend_at"], float)


# -- reading results and command-line text -------------------------------------------------------


def test_video_results_are_mp4_videos() -> None:
    url = f"https://tempfile.aiquickdraw.com/r/{TASK}.mp4"
    record = SUCCESS | {"model": T2V, "resultJson": json.dumps({"resultUrls": [url]})}
    [video] = PROVIDER.extract_results(TASK, record).assets
    assert (video.url, video.kind, video.media_type) == (url, MediaKind.VIDEO, "video/mp4")


def test_command_line_text_reads_as_the_wire_types() -> None:
    params: Any = PROVIDER.make_input(
        I2V,
        {"task_id": EARLIER, "index": "3", "duration": "10", "nsfw_checker": "true"},
        from_text=True,
    )
    assert (params.index, params.duration, params.nsfw_checker) == (3, "10", True)
    extend: Any = PROVIDER.make_input(
        EXTEND, {"task_id": EARLIER, "prompt": "on", "extend_at": "2.5"}, from_text=True
    )
    assert extend.extend_at == 2.5


# -- end to end on the mock ----------------------------------------------------------------------


def test_text_to_image_then_image_to_video_by_task_id(
    kie_client: Client, kie_mock: MockServer, tmp_path: Path
) -> None:
    images = kie_client.wait(kie_client.submit(T2I, prompt="a fox in the snow"))
    assert len(images.assets) == 6  # index 0–5 picks one of these
    video = kie_client.submit(I2V, task_id=images.task_id, index=0, prompt="it runs")
    results = kie_client.wait(video)
    [path] = kie_client.download(results, tmp_path)

    assert path.name == f"{video.id}-0.mp4"
    assert path.read_bytes()[4:8] == b"ftyp"
    assert [a.kind for a in results.assets] == [MediaKind.VIDEO]
    sent = [r.body for r in kie_mock.requests() if r.path == "/api/v1/jobs/createTask"]
    assert sent == [
        {"model": T2I, "input": {"prompt": "a fox in the snow"}},
        {"model": I2V, "input": {"task_id": images.task_id, "index": 0, "prompt": "it runs"}},
    ]


def test_chain_with_the_async_client(kie_mock: MockServer, tmp_path: Path) -> None:
    async def chain() -> list[Path]:
        async with async_client_for(kie_mock.base_url) as kie:
            images = await kie.wait(await kie.submit(T2I, prompt="a fox"))
            video = await kie.submit(I2V, task_id=images.task_id, index=5)
            longer = await kie.submit(EXTEND, task_id=video.id, prompt="on", extend_times="10")
            return await kie.download(await kie.wait(longer), tmp_path)

    [path] = asyncio.run(chain())
    assert path.suffix == ".mp4"
    assert path.read_bytes()[4:8] == b"ftyp"


def test_upscale_of_an_image_task_downloads_an_image(kie_client: Client, tmp_path: Path) -> None:
    images = kie_client.wait(kie_client.submit(T2I, prompt="a fox"))
    upscaled = kie_client.wait(kie_client.submit(UPSCALE, task_id=images.task_id))
    [path] = kie_client.download(upscaled, tmp_path)
    assert [a.kind for a in upscaled.assets] == [MediaKind.IMAGE]
    assert path.read_bytes()[:3] == b"\xff\xd8\xff"


def test_kie_run_text_to_video_on_the_mock_downloads_an_mp4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", T2V, "--prompt", "a fox running", "--mock", "--mock-seconds", "0"]
    assert kie_main([*argv, "--input", "duration=10", "--out", str(tmp_path)]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert Path(line).parent == tmp_path
    assert Path(line).suffix == ".mp4"
    assert Path(line).read_bytes()[4:8] == b"ftyp"


README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("source", EXAMPLES, ids=lambda s: s.splitlines()[-1].strip()[:40])
def test_readme_examples_run_against_the_mock(
    source: str, kie_mock: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `Client()` in the README reads KIE_API_KEY and talks to api.kie.ai; here it is the mock
    monkeypatch.setattr(kiekit, "Client", lambda *a, **k: client_for(kie_mock.base_url))
    monkeypatch.chdir(tmp_path)
    exec(compile(source, str(README), "exec"), {"__name__": "readme"})  # noqa: S102
    written = list((tmp_path / "out").iterdir())
    assert written
    assert all(path.stat().st_size > 0 for path in written)
