"""Luma Modify: the provider contract, plus the wire facts a user of this plugin relies on.

Payloads follow DOCCOPY get-luma-modify-details as summarised in kie-api.md §3.5: successFlag
0 GENERATING, 1 SUCCESS, 2 CREATE_TASK_FAILED, 3 GENERATE_FAILED, 4 CALLBACK_FAILED; camelCase
keys; millisecond times; results in ``response.resultUrls``, the input video in ``originUrls``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kiekit import (
    Client,
    MediaKind,
    ProtocolError,
    Request,
    State,
    TaskFailedError,
    TaskStatus,
    ValidationError,
)
from kiekit.transport import HttpRequest, HttpResponse, MockTransport
from kiekit_contract import ProviderContract, client_for
from kiekit_luma import MODEL_ID, LumaModify, LumaProvider
from kiekit_mock import MockServer

TASK = "774d9a7dd608a0e49293903095e45a4c"
VIDEO = "https://example.com/input-video.mp4"
ORIGIN = "https://tempfile.aiquickdraw.com/kieai/file/veo3-video/1755074605154fqb0m8ge.mp4"
RESULT = "https://tempfile.aiquickdraw.com/l/f782018c-6be4-4990-96ba-7231cd5a39e7.mp4"

GENERATING = {
    "taskId": TASK,
    "paramJson": '{"callBackUrl":"https://example.com/callback","prompt":"A futuristic cityscape",'
    '"videoUrl":"https://example.com/video.mp4","waterMark":""}',
    "completeTime": None,
    "response": None,
    "successFlag": 0,
    "errorCode": None,
    "errorMessage": None,
    "createTime": 1755078171000,
}
SUCCESS = GENERATING | {
    "completeTime": 1755078480000,
    "response": {"taskId": TASK, "originUrls": [ORIGIN], "resultUrls": [RESULT]},
    "successFlag": 1,
}
CREATE_FAILED = GENERATING | {"successFlag": 2, "errorCode": 422, "errorMessage": "bad video"}
GENERATE_FAILED = GENERATING | {"successFlag": 3, "errorCode": 501, "errorMessage": "failed"}
CALLBACK_FAILED = SUCCESS | {"successFlag": 4, "errorMessage": "Callback failed: timeout"}


class TestLuma(ProviderContract):
    provider = LumaProvider()
    documented_statuses = (
        (GENERATING, State.RUNNING),
        (SUCCESS, State.SUCCEEDED),
        (CREATE_FAILED, State.FAILED),
        (GENERATE_FAILED, State.FAILED),
        (CALLBACK_FAILED, State.SUCCEEDED),  # §3.5: generated; only the callback failed
    )


PROVIDER = LumaProvider()


def _no_http(request: HttpRequest) -> HttpResponse:
    return HttpResponse(500, b"no request was expected")


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback callback URL that refuses connections: a port held bound, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}/luma-callback"


# --- input ---------------------------------------------------------------------------------


def test_body_is_camel_case_without_a_model_field() -> None:
    params = LumaModify(prompt="make it snow", video_url=VIDEO, watermark="my-brand")
    assert PROVIDER.build_request(MODEL_ID, params, callback_url="https://me.example/cb") == (
        Request(
            "POST",
            "/api/v1/modify/generate",
            body={
                "prompt": "make it snow",
                "videoUrl": VIDEO,
                "watermark": "my-brand",
                "callBackUrl": "https://me.example/cb",
            },
        )
    )


def test_unset_watermark_stays_off_the_wire() -> None:
    body = PROVIDER.build_request(MODEL_ID, LumaModify(prompt="p", video_url=VIDEO)).body
    assert body == {"prompt": "p", "videoUrl": VIDEO}


def test_wire_names_are_accepted_as_input_keys() -> None:
    params = PROVIDER.make_input(MODEL_ID, {"prompt": "p", "videoUrl": VIDEO})
    assert params == LumaModify(prompt="p", video_url=VIDEO)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"prompt": "p"}, "video_url"),
        ({"prompt": "p", "video_url": None}, "video_url"),
        ({"prompt": "p", "video_url": ""}, "video_url"),
        ({"prompt": "p", "video_url": "input-video.mp4"}, "video_url"),
        ({"prompt": "p", "video_url": "ftp://example.com/in.mp4"}, "video_url"),
        ({"prompt": "p", "video_url": "file:///home/me/in.mp4"}, "video_url"),
        ({"prompt": "p", "video_url": "https://example.com/my video.mp4"}, "video_url"),
        ({"prompt": "p", "video_url": [VIDEO]}, "video_url"),
        ({"video_url": VIDEO}, "prompt"),
        ({"prompt": "  ", "video_url": VIDEO}, "prompt"),
        ({"prompt": "p", "video_url": VIDEO, "watermark": 1}, "watermark"),
        ({"prompt": "p", "video_url": VIDEO, "model": "ray-2"}, "model"),
    ],
)
def test_invalid_input_is_refused_before_sending(fields: dict[str, Any], field: str) -> None:
    transport = MockTransport(_no_http)
    kie = client_for("http://127.0.0.1:9", transport=transport)
    with kie, pytest.raises(ValidationError) as caught:
        kie.submit(MODEL_ID, fields)
    assert caught.value.field == field
    assert transport.requests == []


def test_status_is_polled_at_record_info() -> None:
    assert PROVIDER.status_request(TASK) == Request(
        "GET", "/api/v1/modify/record-info", query={"taskId": TASK}
    )


# --- status and results --------------------------------------------------------------------


@pytest.mark.parametrize("payload", [SUCCESS, CALLBACK_FAILED], ids=["flag-1", "flag-4"])
def test_results_are_the_result_videos_not_the_input(payload: dict[str, Any]) -> None:
    results = PROVIDER.extract_results(TASK, payload)
    assert [(a.url, a.kind, a.media_type) for a in results.assets] == [
        (RESULT, MediaKind.VIDEO, "video/mp4")
    ]


def test_callback_failed_is_a_success_without_fail_details() -> None:
    status = PROVIDER.parse_status(TASK, CALLBACK_FAILED)
    assert (status.state, status.fail_code, status.fail_message) == (State.SUCCEEDED, None, None)


def test_failure_keeps_error_code_and_message() -> None:
    status = PROVIDER.parse_status(TASK, GENERATE_FAILED)
    assert (status.state, status.fail_code, status.fail_message) == (State.FAILED, "501", "failed")


@pytest.mark.parametrize("response", [None, {}, {"resultUrls": []}, {"originUrls": [ORIGIN]}])
def test_success_without_result_videos_is_a_protocol_error(response: Any) -> None:
    with pytest.raises(ProtocolError):
        PROVIDER.extract_results(TASK, CALLBACK_FAILED | {"response": response})


@pytest.mark.parametrize("flag", [5, -1, "CALLBACK_FAILED", None])
def test_undocumented_success_flag_is_a_protocol_error(flag: Any) -> None:
    with pytest.raises(ProtocolError):
        PROVIDER.parse_status(TASK, GENERATING | {"successFlag": flag})


# --- against the mock ----------------------------------------------------------------------


def test_end_to_end_downloads_the_video(
    kie_client: Client, kie_mock: MockServer, tmp_path: Path
) -> None:
    task = kie_client.submit(MODEL_ID, prompt="make it snow", video_url=VIDEO, watermark="wm")
    files = kie_client.download(kie_client.wait(task), tmp_path)
    assert [f.name for f in files] == [f"{task.id}-0.mp4"]
    assert files[0].read_bytes()[4:8] == b"ftyp"
    sent = [r.body for r in kie_mock.requests() if r.path == "/api/v1/modify/generate"]
    assert sent == [{"prompt": "make it snow", "videoUrl": VIDEO, "watermark": "wm"}]


def test_callback_failed_task_still_yields_its_video(
    kie_client: Client, kie_mock: MockServer, refused_url: str, tmp_path: Path
) -> None:
    """A user must not lose a paid video because KIE's callback to them failed."""
    seen: list[TaskStatus] = []
    task = kie_client.submit(MODEL_ID, prompt="p", video_url=VIDEO, callback_url=refused_url)
    results = kie_client.wait(task, on_status=seen.append)
    assert seen[-1].raw["successFlag"] == 4
    assert seen[-1].state is State.SUCCEEDED
    assert [s.state for s in seen[:-1]] == [State.RUNNING] * (len(seen) - 1)
    (path,) = kie_client.download(results, tmp_path)
    assert path.read_bytes()[4:8] == b"ftyp"
    (callback,) = kie_mock.callbacks()
    assert (callback.url, callback.delivered) == (refused_url, False)


def test_callback_failed_task_yields_its_video_to_the_async_client(
    kie_async_client: Any, refused_url: str
) -> None:
    async def main() -> tuple[Any, list[TaskStatus]]:
        seen: list[TaskStatus] = []
        async with kie_async_client() as kie:
            task = await kie.submit(MODEL_ID, prompt="p", video_url=VIDEO, callback_url=refused_url)
            return await kie.wait(task, on_status=seen.append), seen

    results, seen = asyncio.run(main())
    assert seen[-1].raw["successFlag"] == 4
    assert [a.kind for a in results.assets] == [MediaKind.VIDEO]


def test_task_polled_after_its_callback_failed_yields_its_video(
    kie_client: Client, kie_mock: MockServer, refused_url: str
) -> None:
    """The usual way to meet flag 4: the receiver was down, so the user polls later."""
    task = kie_client.submit(MODEL_ID, prompt="p", video_url=VIDEO, callback_url=refused_url)
    while kie_mock.advance(task.id) != "success":
        pass
    assert [c.delivered for c in kie_mock.callbacks()] == [False]  # waits for the delivery
    status = kie_client.status(task)
    assert (status.state, status.raw["successFlag"]) == (State.SUCCEEDED, 4)
    assert len(kie_client.wait(task).assets) == 1


def test_failed_generation_raises_with_kie_code(kie_client: Client) -> None:
    task = kie_client.submit(MODEL_ID, prompt="p [mock:fail]", video_url=VIDEO)
    with pytest.raises(TaskFailedError) as caught:
        kie_client.wait(task)
    assert (caught.value.task_id, caught.value.fail_code) == (task.id, "501")
