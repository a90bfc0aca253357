"""Midjourney: the provider contract, plus the wire facts a user of this plugin relies on.

Payloads follow a real record-info answer (HautechAI/test-mj-api, October 2025, as kiekit-mock's
Midjourney family cites it) and KIE's task-details page: successFlag 0 generating, 1 success,
2 failed, 3 generation failed; millisecond times; results in ``resultInfoJson.resultUrls``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kiekit import Client, MediaKind, ProtocolError, Request, State, ValidationError
from kiekit.transport import HttpRequest, HttpResponse, MockTransport
from kiekit_contract import ProviderContract, client_for
from kiekit_midjourney import ImageToVideo, MidjourneyProvider, TextToImage
from kiekit_mock import MockServer

TASK = "9f47c52047dda21bb3df0488736cce57"
IMAGE = "https://example.com/reference.png"
RESULTS = [f"https://tempfile.aiquickdraw.com/m/{TASK}_0_{i}.jpeg" for i in range(4)]

GENERATING = {
    "taskId": TASK,
    "taskType": "mj_txt2img",
    "paramJson": '{"prompt":"a lighthouse","speed":"relaxed","taskType":"mj_txt2img"}',
    "completeTime": None,
    "resultInfoJson": None,
    "successFlag": 0,
    "createTime": 1760557318000,
    "errorCode": None,
    "errorMessage": None,
}
SUCCESS = GENERATING | {
    "completeTime": 1760557532000,
    "resultInfoJson": {"resultUrls": [{"resultUrl": url} for url in RESULTS]},
    "successFlag": 1,
}
FAILED = GENERATING | {"successFlag": 2, "errorCode": 400, "errorMessage": "flagged"}
GENERATE_FAILED = GENERATING | {"successFlag": 3, "errorCode": 501, "errorMessage": "failed"}


class TestMidjourney(ProviderContract):
    provider = MidjourneyProvider()
    documented_statuses = (
        (GENERATING, State.RUNNING),
        (SUCCESS, State.SUCCEEDED),
        (FAILED, State.FAILED),
        (GENERATE_FAILED, State.FAILED),
    )


PROVIDER = MidjourneyProvider()


def _no_http(request: HttpRequest) -> HttpResponse:
    return HttpResponse(500, b"no request was expected")


def test_the_body_names_the_task_type_in_camel_case() -> None:
    params = TextToImage(prompt="a lighthouse", speed="fast", aspect_ratio="16:9", version="7")
    request = PROVIDER.build_request("mj_txt2img", params, callback_url="https://me.example/cb")
    assert request == Request(
        "POST",
        "/api/v1/mj/generate",
        body={
            "taskType": "mj_txt2img",
            "prompt": "a lighthouse",
            "speed": "fast",
            "aspectRatio": "16:9",
            "version": "7",
            "callBackUrl": "https://me.example/cb",
        },
    )
    video = ImageToVideo(prompt="p", file_urls=(IMAGE,), video_batch_size=2, water_mark="me")
    assert PROVIDER.build_request("mj_video_hd", video).body == {
        "taskType": "mj_video_hd",
        "prompt": "p",
        "fileUrls": [IMAGE],
        "videoBatchSize": 2,
        "waterMark": "me",
    }


@pytest.mark.parametrize("size", [1.0, 2.0, 4.0])
def test_a_whole_float_batch_size_is_sent_as_the_integer(size: float) -> None:
    # [INF] the pages give 1, 2 or 4 with no JSON type; the mock takes 2.0 as 2, and so does
    # the plugin, which sends the integer
    params = PROVIDER.make_input("mj_video", prompt="p", file_urls=[IMAGE], video_batch_size=size)
    body: Any = PROVIDER.build_request("mj_video", params).body
    assert body["videoBatchSize"] == int(size)
    assert type(body["videoBatchSize"]) is int


def test_status_is_polled_at_record_info() -> None:
    assert PROVIDER.status_request(TASK) == Request(
        "GET", "/api/v1/mj/record-info", query={"taskId": TASK}
    )


def test_the_four_images_come_from_result_info_json() -> None:
    results = PROVIDER.extract_results(TASK, SUCCESS)
    assert [a.url for a in results.assets] == RESULTS
    assert {(a.kind, a.media_type) for a in results.assets} == {(MediaKind.IMAGE, "image/jpeg")}


@pytest.mark.parametrize("results", [None, {}, {"resultUrls": []}, {"resultUrls": [{"url": "x"}]}])
def test_a_success_without_result_links_is_a_protocol_error(results: Any) -> None:
    with pytest.raises(ProtocolError):
        PROVIDER.extract_results(TASK, SUCCESS | {"resultInfoJson": results})


def test_a_failure_keeps_its_code_and_message() -> None:
    status = PROVIDER.parse_status(TASK, GENERATE_FAILED)
    assert (status.state, status.fail_code, status.fail_message) == (State.FAILED, "501", "failed")


@pytest.mark.parametrize(
    ("model", "fields", "field"),
    [
        ("mj_txt2img", {"prompt": "p"}, "speed"),  # required but for omni reference and video
        ("mj_txt2img", {"prompt": "p" * 2001, "speed": "fast"}, "prompt"),
        ("mj_txt2img", {"prompt": "p", "speed": "Relax"}, "speed"),
        ("mj_txt2img", {"prompt": "p", "speed": "fast", "aspect_ratio": "21:9"}, "aspect_ratio"),
        ("mj_txt2img", {"prompt": "p", "speed": "fast", "version": "8"}, "version"),
        ("mj_txt2img", {"prompt": "p", "speed": "fast", "weirdness": 3001}, "weirdness"),
        ("mj_img2img", {"prompt": "p", "speed": "fast"}, "file_urls"),
        (
            "mj_style_reference",
            {"prompt": "p", "speed": "fast", "file_urls": ["x"]},
            "file_urls[0]",
        ),
        ("mj_omni_reference", {"prompt": "p", "file_urls": [IMAGE], "ow": 0}, "ow"),
        ("mj_video", {"prompt": "p", "file_urls": [IMAGE, IMAGE]}, "file_urls"),
        (
            "mj_video",
            {"prompt": "p", "file_urls": [IMAGE], "video_batch_size": 3},
            "video_batch_size",
        ),
        (
            "mj_video",
            {"prompt": "p", "file_urls": [IMAGE], "video_batch_size": "2"},
            "video_batch_size",
        ),
        (
            "mj_video",
            {"prompt": "p", "file_urls": [IMAGE], "video_batch_size": 2.5},
            "video_batch_size",
        ),
        ("mj_video_hd", {"prompt": "p", "file_urls": [IMAGE], "motion": "fast"}, "motion"),
    ],
)
def test_a_bad_input_is_refused_before_sending(
    model: str, fields: dict[str, Any], field: str
) -> None:
    transport = MockTransport(_no_http)
    kie = client_for("http://127.0.0.1:9", transport=transport)
    with kie, pytest.raises(ValidationError) as caught:
        kie.submit(model, **fields)
    assert caught.value.field == field
    assert transport.requests == []


def test_images_end_to_end_against_the_mock(
    kie_client: Client, kie_mock: MockServer, tmp_path: Path
) -> None:
    task = kie_client.submit("mj_txt2img", prompt="a lighthouse", speed="turbo", version="niji6")
    files = kie_client.download(kie_client.wait(task), tmp_path)
    assert [f.name for f in files] == [f"{task.id}-{i}.jpeg" for i in range(4)]
    assert all(f.read_bytes()[:3] == b"\xff\xd8\xff" for f in files)
    sent = [r.body for r in kie_mock.requests() if r.path == "/api/v1/mj/generate"]
    assert sent == [
        {"taskType": "mj_txt2img", "prompt": "a lighthouse", "speed": "turbo", "version": "niji6"}
    ]


def test_a_video_batch_end_to_end_against_the_mock(kie_client: Client, tmp_path: Path) -> None:
    task = kie_client.submit(
        "mj_video", prompt="it takes off", file_urls=[IMAGE], video_batch_size=2
    )
    files = kie_client.download(kie_client.wait(task), tmp_path)
    assert [f.suffix for f in files] == [".mp4", ".mp4"]
    assert all(f.read_bytes()[4:8] == b"ftyp" for f in files)
