"""Grok Imagine: the provider contract, plus the wire facts a user of this plugin relies on.

Payloads are the real recorded ones of kie-api.md §2.2 (HAR, grok-imagine/text-to-image), with
the docs' failure example; ids shortened.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kiekit import Client, MediaKind, Request, State, ValidationError
from kiekit.transport import HttpRequest, HttpResponse, MockTransport
from kiekit_contract import ProviderContract, client_for
from kiekit_grok_imagine import GrokImagineProvider, ImageToImage, TextToImage
from kiekit_mock import MockServer

T2I = "grok-imagine/text-to-image"
I2I = "grok-imagine/image-to-image"
TASK = "5f488be792eafad4b066e21e5bc472c7"

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
    provider = GrokImagineProvider()
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
    params = ImageToImage(prompt="sketch", image_urls=["https://example.com/a.png"])
    body: Any = PROVIDER.build_request(I2I, params).body
    assert body["input"] == {"prompt": "sketch", "image_urls": ["https://example.com/a.png"]}


def test_status_is_polled_at_record_info() -> None:
    assert PROVIDER.status_request(TASK) == Request(
        "GET", "/api/v1/jobs/recordInfo", query={"taskId": TASK}
    )


def test_prompt_of_5000_characters_is_accepted_by_the_mock(kie_client: Client) -> None:
    task = kie_client.submit(T2I, prompt="x" * 5000)
    assert kie_client.wait(task).assets


IMAGES = {I2I: {"image_urls": ["https://example.com/a.png"]}}


@pytest.mark.parametrize("model", [T2I, I2I])
def test_prompt_over_5000_characters_is_refused(model: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PROVIDER.make_input(model, prompt="x" * 5001, **IMAGES.get(model, {}))
    assert caught.value.field == "prompt"


@pytest.mark.parametrize("count", [0, 6])
def test_image_to_image_takes_one_to_five_images(count: int) -> None:
    images = [f"https://example.com/{i}.png" for i in range(count)]
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
