"""4o Image (kie-api.md §3.1, guide §2.1)."""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

GENERATE = "/api/v1/gpt4o-image/generate"
RECORD = "/api/v1/gpt4o-image/record-info"
DOWNLOAD_URL = "/api/v1/gpt4o-image/download-url"
# the §3.1 record-info example's keys, in its order
RECORD_KEYS = [
    "taskId",
    "paramJson",
    "completeTime",
    "createTime",
    "response",
    "successFlag",
    "status",
    "errorCode",
    "errorMessage",
    "progress",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMAGE = "https://example.com/image.jpg"
MASK = "https://example.com/mask.png"

# guide §2.1, both curl examples' bodies, unchanged
GUIDE_GENERATE = {"prompt": "A serene mountain landscape at sunset", "size": "1:1", "nVariants": 1}
GUIDE_EDIT = {
    "filesUrl": ["https://example.com/image.jpg"],
    "maskUrl": "https://example.com/mask.png",
    "prompt": "Replace sky with starry night",
    "size": "3:2",
}


def create(kie: Kie, **body: Any) -> str:
    return str(kie.ok(kie.post(GENERATE, body))["taskId"])


def record(kie: Kie, task_id: str) -> dict[str, Any]:
    return dict(kie.ok(kie.get(f"{RECORD}?taskId={task_id}")))


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_MAGIC)
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# -- the guide's examples and the record shape -----------------------------------------------


@pytest.mark.parametrize("body", [GUIDE_GENERATE, GUIDE_EDIT], ids=["generate", "edit"])
def test_guide_examples_succeed(mock: MockServer, kie: Kie, body: dict[str, Any]) -> None:
    answer = kie.post(GENERATE, body)
    assert answer.status == 200
    payload = answer.json()
    assert list(payload) == ["code", "msg", "data"]
    assert (payload["code"], payload["msg"]) == (200, "success")
    assert list(payload["data"]) == ["taskId"]
    task_id = payload["data"]["taskId"]
    done = record(kie, task_id)
    assert list(done) == RECORD_KEYS
    assert done["taskId"] == task_id
    assert (done["successFlag"], done["status"], done["progress"]) == (1, "SUCCESS", "1.00")
    assert (done["errorCode"], done["errorMessage"]) == (None, "")
    assert json.loads(done["paramJson"]) == body
    (url,) = done["response"]["resultUrls"]  # nVariants defaults to 1
    assert url == f"{mock.base_url}/files/{task_id}/0.png"
    assert isinstance(done["createTime"], int)
    assert isinstance(done["completeTime"], int)
    assert done["completeTime"] >= done["createTime"]


def test_lifecycle_reports_growing_progress_strings(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=2)
    task_id = create(kie, prompt="a fox", size="2:3")
    first, second, done = (record(kie, task_id) for _ in range(3))
    for pending in (first, second):
        assert list(pending) == RECORD_KEYS
        assert (pending["successFlag"], pending["status"]) == (0, "GENERATING")
        assert pending["response"] is None
        assert pending["completeTime"] is None
        assert (pending["errorCode"], pending["errorMessage"]) == (None, "")
    progress = [r["progress"] for r in (first, second, done)]
    assert all(isinstance(p, str) and len(p) == 4 for p in progress), progress
    assert progress == ["0.00", "0.67", "1.00"]
    assert done["successFlag"] == 1
    assert record(kie, task_id) == done  # a finished record stays as it is


def test_param_json_omits_the_callback(kie: Kie) -> None:
    task_id = create(kie, prompt="p", size="1:1", callBackUrl="https://example.com/cb")
    assert json.loads(record(kie, task_id)["paramJson"]) == {"prompt": "p", "size": "1:1"}


@pytest.mark.parametrize(
    ("size", "pixels"), [("1:1", (64, 64)), ("3:2", (64, 43)), ("2:3", (43, 64))]
)
@pytest.mark.parametrize("n", [1, 2, 4])
def test_n_variants_real_pngs_of_the_size(kie: Kie, n: int, size: str, pixels: Any) -> None:
    task_id = create(kie, prompt="p", size=size, nVariants=n)
    urls = record(kie, task_id)["response"]["resultUrls"]
    assert len(urls) == n
    images = []
    for url in urls:
        answer = kie.fetch(url)
        assert (answer.status, answer.content_type) == (200, "image/png")
        assert png_size(answer.body) == pixels
        images.append(answer.body)
    assert len(set(images)) == n  # each variant is its own file


def test_costs_six_credits_per_variant(make_mock: MakeMock) -> None:
    _, kie = make_mock(starting_credits=30)
    create(kie, prompt="p", size="1:1", nVariants=4)
    assert kie.ok(kie.get("/api/v1/chat/credit")) == 6.0
    create(kie, prompt="p", size="1:1")
    assert kie.ok(kie.get("/api/v1/chat/credit")) == 0.0
    answer = kie.post(GENERATE, {"prompt": "p", "size": "1:1"}).json()
    assert answer["code"] == 402


# -- validation ------------------------------------------------------------------------------


FIVE = [f"https://example.com/{i}.png" for i in range(5)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "p"}, "size"),
        ({"prompt": "p", "size": ""}, "size"),
        ({"prompt": "p", "size": "16:9"}, "size"),
        ({"prompt": "p", "size": 1}, "size"),
        ({"size": "1:1"}, "prompt"),
        ({"size": "1:1", "prompt": "   "}, "prompt"),
        ({"size": "1:1", "prompt": "", "filesUrl": []}, "prompt"),
        ({"size": "1:1", "prompt": ["p"]}, "prompt"),
        ({"size": "1:1", "prompt": "p", "nVariants": 3}, "nVariants"),
        ({"size": "1:1", "prompt": "p", "nVariants": 0}, "nVariants"),
        ({"size": "1:1", "prompt": "p", "nVariants": "2"}, "nVariants"),
        ({"size": "1:1", "prompt": "p", "nVariants": 2.0}, "nVariants"),
        ({"size": "1:1", "prompt": "p", "nVariants": True}, "nVariants"),
        ({"size": "1:1", "filesUrl": [*FIVE, IMAGE]}, "filesUrl"),
        ({"size": "1:1", "filesUrl": IMAGE}, "filesUrl"),
        ({"size": "1:1", "filesUrl": ["image.jpg"]}, "filesUrl"),
        ({"size": "1:1", "filesUrl": ["ftp://example.com/a.png"]}, "filesUrl"),
        ({"size": "1:1", "prompt": "p", "maskUrl": MASK}, "maskUrl"),
        ({"size": "1:1", "filesUrl": [], "maskUrl": MASK, "prompt": "p"}, "maskUrl"),
        ({"size": "1:1", "filesUrl": [IMAGE], "maskUrl": "mask.png"}, "maskUrl"),
        ({"size": "1:1", "prompt": "p", "fileUrl": "image.jpg"}, "fileUrl"),
        ({"size": "1:1", "prompt": "p", "isEnhance": "true"}, "isEnhance"),
        ({"size": "1:1", "prompt": "p", "uploadCn": 1}, "uploadCn"),
        ({"size": "1:1", "prompt": "p", "enableFallback": "yes"}, "enableFallback"),
        ({"size": "1:1", "prompt": "p", "fallbackModel": "DALL_E_3"}, "fallbackModel"),
        ({"size": "1:1", "prompt": "p", "callBackUrl": "callback"}, "callBackUrl"),
    ],
)
def test_constraint_violation_is_422_naming_the_field(
    mock: MockServer, kie: Kie, body: dict[str, Any], field: str
) -> None:
    answer = kie.post(GENERATE, body)
    assert answer.status == 200
    payload = answer.json()
    assert payload["code"] == 422, payload
    assert field in payload["msg"]
    assert payload["data"] is None
    assert mock.tasks() == []


@pytest.mark.parametrize(
    "body",
    [
        {"size": "1:1", "filesUrl": FIVE},
        {"size": "1:1", "filesUrl": [IMAGE], "maskUrl": MASK},
        {"size": "1:1", "filesUrl": [IMAGE, IMAGE], "maskUrl": MASK},
        {"size": "2:3", "fileUrl": IMAGE},
        {"size": "2:3", "fileUrl": IMAGE, "maskUrl": MASK},
        {"size": "1:1", "prompt": "p", "fallbackModel": "GPT_IMAGE_1"},
        {
            "size": "3:2",
            "prompt": "p",
            "filesUrl": [IMAGE],
            "maskUrl": MASK,
            "nVariants": 4,
            "isEnhance": True,
            "uploadCn": False,
            "enableFallback": True,
            "fallbackModel": "FLUX_MAX",
            "callBackUrl": "https://example.com/cb",
        },
    ],
    ids=[
        "files only",
        "mask on one file",
        "mask beside two files",
        "deprecated fileUrl",
        "mask on fileUrl",
        "fallback",
        "all",
    ],
)
def test_documented_bodies_are_accepted(kie: Kie, body: dict[str, Any]) -> None:
    assert record(kie, create(kie, **body))["successFlag"] == 1


# -- failure, queue full ---------------------------------------------------------------------


def _check_failed(done: dict[str, Any]) -> None:
    assert list(done) == RECORD_KEYS
    assert (done["successFlag"], done["status"]) == (3, "GENERATE_FAILED")
    assert done["errorCode"] == 500
    assert isinstance(done["errorCode"], int)
    assert isinstance(done["errorMessage"], str)
    assert done["errorMessage"]
    assert done["response"] is None
    assert isinstance(done["completeTime"], int)
    assert isinstance(done["progress"], str)


def test_mock_fail_marker_gives_the_fail_shape(mock: MockServer, kie: Kie) -> None:
    task_id = create(kie, prompt="no [mock:fail]", size="1:1")
    _check_failed(record(kie, task_id))
    assert kie.fetch(f"{mock.base_url}/files/{task_id}/0.png").status == 404


def test_set_outcome_fails_a_task(make_mock: MakeMock) -> None:
    server, kie = make_mock(polls_to_complete=1)
    task_id = create(kie, filesUrl=[IMAGE], size="1:1")
    server.set_outcome(task_id, "fail")
    assert record(kie, task_id)["successFlag"] == 0
    _check_failed(record(kie, task_id))


def test_failed_task_is_refunded(make_mock: MakeMock) -> None:
    _, kie = make_mock(starting_credits=100)
    record(kie, create(kie, prompt="[mock:fail]", size="1:1", nVariants=2))
    assert kie.ok(kie.get("/api/v1/chat/credit")) == 100.0


def test_queue_full_marker_answers_550_and_creates_nothing(make_mock: MakeMock) -> None:
    server, kie = make_mock(starting_credits=100)
    answer = kie.post(GENERATE, {"prompt": "a fox [mock:queue-full]", "size": "1:1"})
    assert answer.status == 200
    payload = answer.json()
    assert payload["code"] == 550
    assert "queue full" in payload["msg"]
    assert payload["data"] is None
    assert server.tasks() == []
    assert kie.ok(kie.get("/api/v1/chat/credit")) == 100.0


# -- record-info and auth --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", GENERATE, GUIDE_GENERATE),
        ("GET", f"{RECORD}?taskId=abc", None),
        ("POST", DOWNLOAD_URL, {"taskId": "abc", "url": "https://example.com/a.png"}),
    ],
)
@pytest.mark.parametrize("key", [None, ""])
def test_every_endpoint_wants_a_bearer_key(
    mock: MockServer, kie: Kie, method: str, path: str, body: Any, key: str | None
) -> None:
    anonymous = kie.as_key(key)
    answer = anonymous.post(path, body) if method == "POST" else anonymous.get(path)
    assert answer.status == 200
    assert answer.json() == {"code": 401, "msg": "You do not have access permissions", "data": None}
    assert mock.tasks() == []


def test_only_listed_keys_are_accepted(make_mock: MakeMock) -> None:
    _, kie = make_mock(api_keys={"sk-good"})
    assert kie.as_key("sk-bad").post(GENERATE, GUIDE_GENERATE).json()["code"] == 401
    assert kie.as_key("sk-good").post(GENERATE, GUIDE_GENERATE).json()["code"] == 200


def test_record_of_an_unknown_or_foreign_task_is_404(kie: Kie) -> None:
    task_id = create(kie, prompt="p", size="1:1")
    flux_id = str(kie.ok(kie.post("/api/v1/flux/kontext/generate", {"prompt": "p"}))["taskId"])
    for asker, wanted in ((kie, "nope"), (kie.as_key("someone-else"), task_id), (kie, flux_id)):
        payload = asker.get(f"{RECORD}?taskId={wanted}").json()
        assert payload["code"] == 404, wanted
    assert kie.get(RECORD).json()["code"] == 422  # no taskId at all


# -- download-url ----------------------------------------------------------------------------


def test_download_url_gives_a_fresh_link_to_the_same_file(mock: MockServer, kie: Kie) -> None:
    task_id = create(kie, prompt="p", size="3:2", nVariants=2)
    urls = record(kie, task_id)["response"]["resultUrls"]
    for url in urls:
        answer = kie.post(DOWNLOAD_URL, {"taskId": task_id, "url": url})
        assert answer.status == 200
        link = kie.ok(answer)
        assert isinstance(link, str)
        assert link != url
        assert link.startswith(mock.base_url)
        assert urlsplit(link).path == urlsplit(url).path
        assert "X-Amz-Expires=1200" in urlsplit(link).query  # 20 minutes
        assert kie.fetch(link).body == kie.fetch(url).body
        # a fresh link names the same file, so it may be refreshed again
        assert kie.ok(kie.post(DOWNLOAD_URL, {"taskId": task_id, "url": link})) != link


def test_download_url_refusals(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=1)
    pending = create(kie, prompt="p", size="1:1")
    pending_url = f"{kie.base_url}/files/{pending}/0.png"
    done = create(kie, prompt="p", size="1:1")
    record(kie, done)
    (url,) = record(kie, done)["response"]["resultUrls"]
    cases = [
        (kie, {"url": url}, "taskId cannot be empty"),
        (kie, {"taskId": done}, "url cannot be empty"),
        (kie, {"taskId": done, "url": ""}, "url cannot be empty"),
        (kie, {"taskId": "nope", "url": url}, "record is null"),
        (kie.as_key("someone-else"), {"taskId": done, "url": url}, "record is null"),
        (kie, {"taskId": pending, "url": pending_url}, "record status is not success"),
        (kie, {"taskId": done, "url": "https://example.com/a.png"}, "url is wrong"),
        (kie, {"taskId": done, "url": url.replace("/0.png", "/1.png")}, "url is wrong"),
        (kie, {"taskId": done, "url": pending_url}, "url is wrong"),
        (kie, {"taskId": done, "url": "not a url"}, "url is wrong"),
    ]
    for caller, body, msg in cases:
        answer = caller.post(DOWNLOAD_URL, body)
        assert answer.status == 200
        assert answer.json() == {"code": 422, "msg": msg, "data": None}, body


def test_download_url_of_a_failed_task_is_refused(kie: Kie) -> None:
    task_id = create(kie, prompt="[mock:fail]", size="1:1")
    record(kie, task_id)
    answer = kie.post(DOWNLOAD_URL, {"taskId": task_id, "url": f"{kie.base_url}/files/x/0.png"})
    assert answer.json()["msg"] == "record status is not success"


# -- callbacks -------------------------------------------------------------------------------


def test_success_callback_is_snake_case_and_not_delivered(mock: MockServer, kie: Kie) -> None:
    callback = "https://your-domain.com/api/callback"
    task_id = create(kie, prompt="p", size="1:1", nVariants=2, callBackUrl=callback)
    done = record(kie, task_id)
    (sent,) = mock.callbacks()
    assert (sent.task_id, sent.url, sent.delivered) == (task_id, callback, False)
    assert sent.payload == {
        "code": 200,
        "msg": "4o Image generated successfully.",
        "data": {"taskId": task_id, "info": {"result_urls": done["response"]["resultUrls"]}},
    }


def test_failure_callback_has_no_info(mock: MockServer, kie: Kie) -> None:
    task_id = create(
        kie, prompt="[mock:fail]", size="1:1", callBackUrl="https://your-domain.com/cb"
    )
    record(kie, task_id)
    (sent,) = mock.callbacks()
    assert sent.delivered is False
    assert sent.payload["code"] == 500
    assert sent.payload["msg"]
    assert sent.payload["data"] == {"taskId": task_id, "info": None}


def test_advance_owes_the_callback_too(make_mock: MakeMock) -> None:
    server, kie = make_mock(polls_to_complete=3)
    task_id = create(kie, prompt="p", size="1:1", callBackUrl="https://your-domain.com/cb")
    while server.advance(task_id) not in ("success", "fail"):
        pass
    (sent,) = server.callbacks()
    assert sent.payload["data"]["info"]["result_urls"] == [f"{kie.base_url}/files/{task_id}/0.png"]
