"""Luma Modify (kie-api.md §3.5, §6.1–6.2, guide §3.5): video-to-video, successFlag 0–4."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

GENERATE = "/api/v1/modify/generate"
RECORD = "/api/v1/modify/record-info"
VIDEO = "https://example.com/input-video.mp4"
# §3.5's keys, in its order
RECORD_KEYS = [
    "taskId",
    "paramJson",
    "completeTime",
    "response",
    "successFlag",
    "errorCode",
    "errorMessage",
    "createTime",
]

# guide §3.5, the curl example's body, unchanged
GUIDE_BODY = {
    "prompt": "Transform the city into a futuristic cyberpunk landscape with neon lights",
    "videoUrl": "https://example.com/input-video.mp4",
    "callBackUrl": "https://your-callback-url.com/luma-callback",
}


def create(kie: Kie, **body: Any) -> str:
    return str(kie.ok(kie.post(GENERATE, body))["taskId"])


def record(kie: Kie, task_id: str) -> dict[str, Any]:
    return dict(kie.ok(kie.get(f"{RECORD}?taskId={task_id}")))


@contextmanager
def refusing_url() -> Iterator[str]:
    """A loopback URL whose connections are refused: its port is held bound, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}/luma-callback"


class _Receiver(BaseHTTPRequestHandler):
    status: int
    received: list[Any]

    def do_POST(self) -> None:
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def receiver(status: int) -> Iterator[tuple[str, list[Any]]]:
    """A callback receiver on 127.0.0.1 answering HTTP ``status``, in its own thread."""
    received: list[Any] = []
    handler = type("Receiver", (_Receiver,), {"status": status, "received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/luma-callback", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- create ----------------------------------------------------------------------------------


def test_guide_example_succeeds(mock: MockServer, kie: Kie) -> None:
    data = kie.ok(kie.post(GENERATE, GUIDE_BODY))
    assert list(data) == ["taskId"]
    task_id = data["taskId"]
    found = record(kie, task_id)
    assert list(found) == RECORD_KEYS
    # the callback goes to a host outside this machine: recorded, never sent, so never failed
    assert found["successFlag"] == 1
    assert (found["errorCode"], found["errorMessage"]) == (None, None)
    assert found["response"]["taskId"] == task_id
    assert found["response"]["originUrls"] == [GUIDE_BODY["videoUrl"]]
    (url,) = found["response"]["resultUrls"]
    assert url == f"{mock.base_url}/files/{task_id}/0.mp4"
    assert isinstance(found["createTime"], int)
    assert isinstance(found["completeTime"], int)
    assert found["completeTime"] >= found["createTime"]
    # DOCCOPY: stored parameters keep the callBackUrl and spell the watermark waterMark
    assert json.loads(found["paramJson"]) == {
        "callBackUrl": GUIDE_BODY["callBackUrl"],
        "prompt": GUIDE_BODY["prompt"],
        "videoUrl": GUIDE_BODY["videoUrl"],
        "waterMark": "",
    }
    (callback,) = mock.callbacks()
    assert callback.delivered is False


def test_result_is_a_real_mp4_file(kie: Kie) -> None:
    (url,) = record(kie, create(kie, prompt="p", videoUrl=VIDEO))["response"]["resultUrls"]
    answer = kie.fetch(url)
    assert (answer.status, answer.content_type) == (200, "video/mp4")
    assert answer.body[4:8] == b"ftyp"


@pytest.mark.parametrize("key", ["watermark", "waterMark"])
def test_watermark_is_stored_as_water_mark(kie: Kie, key: str) -> None:
    task_id = create(kie, prompt="p", videoUrl=VIDEO, **{key: "my-brand"})
    assert json.loads(record(kie, task_id)["paramJson"]) == {
        "prompt": "p",
        "videoUrl": VIDEO,
        "waterMark": "my-brand",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"videoUrl": VIDEO}, "prompt"),
        ({"prompt": "", "videoUrl": VIDEO}, "prompt"),
        ({"prompt": "  ", "videoUrl": VIDEO}, "prompt"),
        ({"prompt": ["p"], "videoUrl": VIDEO}, "prompt"),
        ({"prompt": "p"}, "videoUrl"),
        ({"prompt": "p", "videoUrl": ""}, "videoUrl"),
        ({"prompt": "p", "videoUrl": None}, "videoUrl"),
        ({"prompt": "p", "videoUrl": "input-video.mp4"}, "videoUrl"),
        ({"prompt": "p", "videoUrl": "ftp://example.com/in.mp4"}, "videoUrl"),
        ({"prompt": "p", "videoUrl": [VIDEO]}, "videoUrl"),
        ({"prompt": "p", "video_url": VIDEO}, "videoUrl"),  # the wire name is camelCase
        ({"prompt": "p", "videoUrl": VIDEO, "watermark": True}, "watermark"),
        ({"prompt": "p", "videoUrl": VIDEO, "waterMark": 5}, "waterMark"),
        ({"prompt": "p", "videoUrl": VIDEO, "callBackUrl": "callback"}, "callBackUrl"),
    ],
)
def test_constraint_violation_is_422_naming_the_field(
    mock: MockServer, kie: Kie, body: dict[str, Any], field: str
) -> None:
    answer = kie.post(GENERATE, body)
    assert answer.status == 200
    payload = answer.json()
    assert payload["code"] == 422
    assert field in payload["msg"]
    assert payload["data"] is None
    assert mock.tasks() == []


def test_task_is_filed_under_the_product(mock: MockServer, kie: Kie) -> None:
    create(kie, prompt="p", videoUrl=VIDEO)
    (task,) = mock.tasks()
    assert (task.family, task.model, task.result_ext) == ("luma", "luma/modify", "mp4")


# --- record-info ----------------------------------------------------------------------------


def test_pending_record(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=1)
    task_id = create(kie, prompt="p", videoUrl=VIDEO)
    pending = record(kie, task_id)
    assert list(pending) == RECORD_KEYS
    assert pending["successFlag"] == 0
    assert (pending["response"], pending["completeTime"]) == (None, None)
    assert (pending["errorCode"], pending["errorMessage"]) == (None, None)
    assert isinstance(pending["createTime"], int)
    assert record(kie, task_id)["successFlag"] == 1


def test_unknown_task_is_404(kie: Kie) -> None:
    answer = kie.get(f"{RECORD}?taskId=0123456789abcdef0123456789abcdef")
    assert answer.json()["code"] == 404


def test_other_familys_task_is_not_found_here(kie: Kie) -> None:
    flux_task = kie.flux(prompt="p")
    assert kie.get(f"{RECORD}?taskId={flux_task}").json()["code"] == 404


def test_mock_fail_marker_gives_generate_failed(mock: MockServer, kie: Kie) -> None:
    task_id = create(
        kie, prompt="no [mock:fail]", videoUrl=VIDEO, callBackUrl="https://example.com/cb"
    )
    found = record(kie, task_id)
    assert found["successFlag"] == 3  # GENERATE_FAILED
    assert found["errorCode"] == 501
    assert isinstance(found["errorCode"], int)
    assert found["errorMessage"]
    assert found["response"] is None
    assert isinstance(found["completeTime"], int)
    (callback,) = mock.callbacks()
    # §3.5: failure callbacks carry code 500 and no resultUrls
    assert callback.payload == {
        "code": 500,
        "msg": "Modify record generation failed.",
        "data": {"taskId": task_id, "promptJson": found["paramJson"]},
    }


def test_success_callback_payload(mock: MockServer, kie: Kie) -> None:
    task_id = create(kie, **GUIDE_BODY)
    found = record(kie, task_id)
    (callback,) = mock.callbacks()
    assert callback.payload == {
        "code": 200,
        "msg": "Modify record generated successfully.",
        "data": {
            "taskId": task_id,
            "promptJson": found["paramJson"],
            "resultUrls": found["response"]["resultUrls"],
        },
    }


# --- successFlag 4: generated, but the callback failed ------------------------------------


def test_refused_callback_turns_the_record_to_callback_failed(mock: MockServer, kie: Kie) -> None:
    with refusing_url() as url:
        task_id = create(kie, prompt="p", videoUrl=VIDEO, callBackUrl=url)
        # the poll that ends the task starts the delivery: generating until it settles
        assert record(kie, task_id)["successFlag"] == 0
        (callback,) = mock.callbacks()  # waits for the delivery
        assert callback.delivered is False
        assert callback.reason is not None
        assert callback.reason.startswith("delivery failed")
        found = record(kie, task_id)
    assert list(found) == RECORD_KEYS
    assert found["successFlag"] == 4
    assert found["response"]["resultUrls"] == [f"{mock.base_url}/files/{task_id}/0.mp4"]
    assert found["errorCode"] is None
    assert "Callback failed" in found["errorMessage"]
    assert isinstance(found["completeTime"], int)
    assert kie.fetch(found["response"]["resultUrls"][0]).status == 200  # the video is there
    assert record(kie, task_id)["successFlag"] == 4  # and it stays


def test_receiver_answering_an_error_is_a_failed_callback(mock: MockServer, kie: Kie) -> None:
    with receiver(500) as (url, received):
        task_id = create(kie, prompt="p", videoUrl=VIDEO, callBackUrl=url)
        record(kie, task_id)
        mock.callbacks()
    assert len(received) == 1
    assert received[0]["code"] == 200
    found = record(kie, task_id)
    assert found["successFlag"] == 4
    assert "HTTP 500" in found["errorMessage"]


def test_delivered_callback_is_success(mock: MockServer, kie: Kie) -> None:
    with receiver(200) as (url, received):
        task_id = create(kie, prompt="p", videoUrl=VIDEO, callBackUrl=url)
        record(kie, task_id)
        (callback,) = mock.callbacks()
    assert callback.delivered is True
    found = record(kie, task_id)
    assert (found["successFlag"], found["errorMessage"]) == (1, None)
    (payload,) = received
    assert payload == {
        "code": 200,
        "msg": "Modify record generated successfully.",
        "data": {
            "taskId": task_id,
            "promptJson": found["paramJson"],
            "resultUrls": found["response"]["resultUrls"],
        },
    }


def test_failed_task_stays_generate_failed_when_its_callback_fails(
    mock: MockServer, kie: Kie
) -> None:
    with refusing_url() as url:
        task_id = create(kie, prompt="[mock:fail]", videoUrl=VIDEO, callBackUrl=url)
        assert record(kie, task_id)["successFlag"] == 3
        mock.callbacks()
        assert record(kie, task_id)["successFlag"] == 3


def test_manual_advance_reaches_callback_failed(mock: MockServer, kie: Kie) -> None:
    with refusing_url() as url:
        task_id = create(kie, prompt="p", videoUrl=VIDEO, callBackUrl=url)
        assert mock.advance(task_id) == "success"
        mock.callbacks()
        assert record(kie, task_id)["successFlag"] == 4
