"""Runway generate/extend and Runway Aleph (kie-api.md §3.4, §6.2, §9.3; guide §3.4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

GENERATE = "/api/v1/runway/generate"
EXTEND = "/api/v1/runway/extend"
DETAIL = "/api/v1/runway/record-detail?taskId="
ALEPH = "/api/v1/aleph/generate"
ALEPH_INFO = "/api/v1/aleph/record-info?taskId="
CLOCK_TEXT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
ISO_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
DETAIL_KEYS = [
    "taskId",
    "parentTaskId",
    "generateParam",
    "state",
    "generateTime",
    "videoInfo",
    "failCode",
    "failMsg",
    "expireFlag",
]
ALEPH_KEYS = [
    "taskId",
    "paramJson",
    "response",
    "completeTime",
    "createTime",
    "successFlag",
    "errorCode",
    "errorMessage",
]

# guide §3.4, both curl examples' bodies, unchanged
GUIDE_GENERATE = {
    "prompt": "A cat dancing gracefully in a modern studio with soft lighting",
    "duration": 5,
    "quality": "720p",
    "aspectRatio": "16:9",
}
GUIDE_EXTEND = {"taskId": "existing_task_id", "prompt": "Continue the scene", "quality": "720p"}
# the Aleph quickstart's curl body (D:cn/runway-aleph-api/quickstart), prompt in English
DOC_ALEPH = {
    "prompt": "Transform into a dreamy watercolor painting style with soft flowing movements",
    "videoUrl": "https://example.com/input-video.mp4",
    "waterMark": "kie.ai",
    "uploadCn": False,
}


def _create(kie: Kie, path: str, body: dict[str, Any]) -> str:
    data = kie.ok(kie.post(path, body))
    assert list(data) == ["taskId"]
    return str(data["taskId"])


def _detail(kie: Kie, task_id: str) -> dict[str, Any]:
    return dict(kie.ok(kie.get(DETAIL + task_id)))


def _aleph_info(kie: Kie, task_id: str) -> dict[str, Any]:
    return dict(kie.ok(kie.get(ALEPH_INFO + task_id)))


def _generated(kie: Kie, **body: Any) -> str:
    return _create(kie, GENERATE, {"prompt": "a cat", "aspectRatio": "16:9", **body})


def _refusal(mock: MockServer, kie: Kie, path: str, body: dict[str, Any]) -> str:
    """The 422 message for a create ``body``, checking that no task was made."""
    before = len(mock.tasks())
    answer = kie.post(path, body)
    assert answer.status == 200
    payload = answer.json()
    assert payload["code"] == 422, payload
    assert payload["data"] is None
    assert len(mock.tasks()) == before
    return str(payload["msg"])


# -- generate ----------------------------------------------------------------------------------


def test_the_guides_generate_example_succeeds(mock: MockServer, kie: Kie) -> None:
    task_id = _create(kie, GENERATE, GUIDE_GENERATE)
    record = _detail(kie, task_id)
    assert list(record) == DETAIL_KEYS
    assert record["taskId"] == task_id
    assert record["parentTaskId"] == ""
    assert record["generateParam"] == GUIDE_GENERATE
    assert record["state"] == "success"
    assert CLOCK_TEXT.fullmatch(record["generateTime"])
    assert (record["failCode"], record["failMsg"], record["expireFlag"]) == ("", "", 0)
    info = record["videoInfo"]
    assert list(info) == ["videoId", "taskId", "videoUrl", "imageUrl"]
    assert info["taskId"] == task_id
    assert info["videoUrl"] == f"{mock.base_url}/files/{task_id}/0.mp4"
    assert info["imageUrl"] == f"{mock.base_url}/files/{task_id}/cover/0.png"
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", info["videoId"])
    assert _detail(kie, task_id)["videoInfo"] == info  # stable from poll to poll


def test_state_walks_runways_vocabulary(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=3)
    task_id = _generated(kie)
    states = [_detail(kie, task_id)["state"] for _ in range(5)]
    # Runway's words (§3.4), never the market's waiting/queuing (§9.3)
    assert states == ["wait", "queueing", "generating", "success", "success"]


def test_pending_record_has_no_video(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=1)
    record = _detail(kie, _generated(kie))
    assert list(record) == DETAIL_KEYS
    assert record["state"] == "wait"
    assert record["videoInfo"] is None
    assert (record["failCode"], record["failMsg"]) == ("", "")


def test_fail_marker_gives_the_fail_shape(kie: Kie) -> None:
    record = _detail(kie, _generated(kie, prompt="a cat [mock:fail]"))
    assert record["state"] == "fail"
    assert record["videoInfo"] is None
    # a string, as "" is while pending: one type in every state (§3.4's current page)
    assert record["failCode"] == "400"
    assert record["failMsg"]


@pytest.mark.parametrize(
    "body",
    [
        {"duration": 10},
        {"duration": 8},  # §3.4 [SRC≠]: 5|8 on one page version
        {"duration": "5", "quality": "1080p"},  # KIE coerces numeric strings (§2.2)
        {"aspectRatio": "21:9"},
        {"aspectRatio": "4:3", "waterMark": ""},
        {"aspectRatio": None, "imageUrl": "https://example.com/cat.jpg"},
    ],
)
def test_documented_variants_are_accepted(kie: Kie, body: dict[str, Any]) -> None:
    _generated(kie, **body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": None}, "prompt"),
        ({"prompt": "  "}, "prompt"),
        ({"duration": 7}, "duration"),
        ({"duration": "ten"}, "duration"),
        ({"duration": True}, "duration"),
        ({"quality": "4k"}, "quality"),
        ({"duration": 10, "quality": "1080p"}, "quality"),
        ({"duration": 8, "quality": "1080p"}, "quality"),
        ({"aspectRatio": None}, "aspectRatio"),
        ({"aspectRatio": "2:1"}, "aspectRatio"),
        ({"imageUrl": "cat.jpg"}, "imageUrl"),
        ({"waterMark": 1}, "waterMark"),
        ({"callBackUrl": "callback"}, "callBackUrl"),
    ],
)
def test_generate_constraints_are_422_naming_the_field(
    mock: MockServer, kie: Kie, body: dict[str, Any], field: str
) -> None:
    full = {"prompt": "a cat", "aspectRatio": "16:9"} | body
    assert field in _refusal(mock, kie, GENERATE, full)


def test_text_only_without_aspect_ratio_says_why(mock: MockServer, kie: Kie) -> None:
    assert "imageUrl" in _refusal(mock, kie, GENERATE, {"prompt": "a cat"})


def test_1080p_refusal_names_the_short_duration(mock: MockServer, kie: Kie) -> None:
    body = {"prompt": "a", "aspectRatio": "16:9", "duration": 10, "quality": "1080p"}
    assert "5-second" in _refusal(mock, kie, GENERATE, body)


def test_insufficient_credits(make_mock: MakeMock) -> None:
    _, kie = make_mock(starting_credits=0)
    assert kie.post(GENERATE, GUIDE_GENERATE).json()["code"] == 402


# -- extend ------------------------------------------------------------------------------------


def test_extend_of_a_succeeded_task(mock: MockServer, kie: Kie) -> None:
    parent = _generated(kie, aspectRatio="9:16")
    _detail(kie, parent)  # now succeeded
    body = {"taskId": parent, "prompt": "the cat bows", "quality": "720p", "waterMark": ""}
    child = _create(kie, EXTEND, body)
    assert child != parent
    record = _detail(kie, child)
    assert record["parentTaskId"] == parent
    assert record["generateParam"] == body
    assert record["state"] == "success"
    assert record["videoInfo"]["videoUrl"].endswith(f"/files/{child}/0.mp4")
    (made,) = [t for t in mock.tasks() if t.task_id == child]
    assert (made.model, made.aspect_ratio) == ("runway/extend", "9:16")


def test_the_guides_extend_example_gets_a_kie_shaped_refusal(mock: MockServer, kie: Kie) -> None:
    # its taskId is a placeholder: KIE answers HTTP 200 with body code 422
    assert _refusal(mock, kie, EXTEND, GUIDE_EXTEND) == "Record does not exist"


def test_extend_of_a_pending_or_failed_task_is_refused(make_mock: MakeMock) -> None:
    mock, kie = make_mock(polls_to_complete=1)
    pending = _generated(kie)
    body = {"prompt": "go on", "quality": "720p"}
    assert _refusal(mock, kie, EXTEND, body | {"taskId": pending}) == (
        "record status is not success"
    )
    failed = _generated(kie, prompt="[mock:fail]")
    _detail(kie, failed)
    assert _detail(kie, failed)["state"] == "fail"
    assert _refusal(mock, kie, EXTEND, body | {"taskId": failed}) == (
        "record status is not success"
    )


def test_extend_of_a_video_past_retention_is_refused_and_not_charged(
    mock: MockServer, kie: Kie
) -> None:
    parent = _generated(kie)
    _detail(kie, parent)  # succeeded
    body = {"taskId": parent, "prompt": "go on"}
    mock.clock.advance(14 * 24 * 3600 - 60)
    assert _create(kie, EXTEND, body)  # still kept: extended
    mock.clock.advance(120)
    assert _detail(kie, parent)["expireFlag"] == 1  # its video is gone (§3.4)
    credits = kie.ok(kie.get("/api/v1/chat/credit"))
    # refused as Veo refuses a record past retention (§3.3); no task made (_refusal)
    refusal = _refusal(mock, kie, EXTEND, body)
    assert refusal == "Temporarily supports records within 14 days"
    assert kie.ok(kie.get("/api/v1/chat/credit")) == credits


def test_extend_of_someone_elses_or_an_aleph_task_is_refused(mock: MockServer, kie: Kie) -> None:
    theirs = _generated(kie.as_key("another-key"))
    aleph = _create(kie, ALEPH, DOC_ALEPH)
    for task_id in (theirs, aleph):
        body = {"taskId": task_id, "prompt": "go on"}
        assert _refusal(mock, kie, EXTEND, body) == "Record does not exist"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "go on"}, "taskId"),
        ({"taskId": "", "prompt": "go on"}, "taskId"),
        ({"taskId": "x"}, "prompt"),
        ({"taskId": "x", "prompt": "go on", "quality": "480p"}, "quality"),
        ({"taskId": "x", "prompt": "go on", "waterMark": False}, "waterMark"),
    ],
)
def test_extend_constraints_are_422_naming_the_field(
    mock: MockServer, kie: Kie, body: dict[str, Any], field: str
) -> None:
    assert field in _refusal(mock, kie, EXTEND, body)


# -- Aleph -------------------------------------------------------------------------------------


def test_the_aleph_quickstart_example_succeeds(mock: MockServer, kie: Kie) -> None:
    task_id = _create(kie, ALEPH, DOC_ALEPH)
    record = _aleph_info(kie, task_id)
    assert list(record) == ALEPH_KEYS
    assert record["successFlag"] == 1
    assert (record["errorCode"], record["errorMessage"]) == (0, "")
    assert record["response"] == {
        "taskId": task_id,
        "resultVideoUrl": f"{mock.base_url}/files/{task_id}/0.mp4",
        "resultImageUrl": f"{mock.base_url}/files/{task_id}/cover/0.png",
    }
    assert ISO_TEXT.fullmatch(record["createTime"])
    assert ISO_TEXT.fullmatch(record["completeTime"])
    assert record["paramJson"] == (
        '{"prompt":"Transform into a dreamy watercolor painting style with soft flowing '
        'movements","videoUrl":"https://example.com/input-video.mp4","waterMark":"kie.ai",'
        '"uploadCn":false}'
    )


def test_aleph_pending_and_failed_records(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=1)
    pending = _aleph_info(kie, _create(kie, ALEPH, DOC_ALEPH))
    assert (pending["successFlag"], pending["response"], pending["completeTime"]) == (0, None, None)
    assert (pending["errorCode"], pending["errorMessage"]) == (None, "")
    task_id = _create(kie, ALEPH, DOC_ALEPH | {"prompt": "[mock:fail]"})
    _aleph_info(kie, task_id)
    failed = _aleph_info(kie, task_id)
    # a failure keeps successFlag 0 and carries an errorMessage (D:…/get-aleph-video-details)
    assert (failed["successFlag"], failed["response"], failed["errorCode"]) == (0, None, 400)
    assert failed["errorMessage"]
    assert ISO_TEXT.fullmatch(failed["completeTime"])


def test_aleph_optional_fields_are_accepted(kie: Kie) -> None:
    _create(
        kie,
        ALEPH,
        DOC_ALEPH
        | {
            "aspectRatio": "21:9",
            "seed": 4_294_967_295,
            "referenceImage": "https://example.com/style.png",
            "callBackUrl": "https://example.com/cb",
        },
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"videoUrl": None}, "videoUrl"),
        ({"videoUrl": "clip.mp4"}, "videoUrl"),
        ({"aspectRatio": "2:1"}, "aspectRatio"),
        ({"seed": -1}, "seed"),
        ({"seed": 4_294_967_296}, "seed"),
        ({"referenceImage": "style.png"}, "referenceImage"),
        ({"uploadCn": "no"}, "uploadCn"),
        ({"waterMark": []}, "waterMark"),
    ],
)
def test_aleph_constraints_are_422_naming_the_field(
    mock: MockServer, kie: Kie, body: dict[str, Any], field: str
) -> None:
    assert field in _refusal(mock, kie, ALEPH, DOC_ALEPH | body)


def test_each_status_path_knows_only_its_own_tasks(kie: Kie) -> None:
    runway, aleph = _generated(kie), _create(kie, ALEPH, DOC_ALEPH)
    for path in (DETAIL + aleph, ALEPH_INFO + runway, DETAIL + "nope"):
        assert kie.get(path).json()["code"] == 404


# -- result files ------------------------------------------------------------------------------


@pytest.mark.parametrize("aleph", [False, True], ids=["runway", "aleph"])
def test_video_and_cover_are_real_files(kie: Kie, aleph: bool) -> None:
    if aleph:
        response = _aleph_info(kie, _create(kie, ALEPH, DOC_ALEPH))["response"]
        video_url, cover_url = response["resultVideoUrl"], response["resultImageUrl"]
    else:
        info = _detail(kie, _generated(kie, aspectRatio="9:16"))["videoInfo"]
        video_url, cover_url = info["videoUrl"], info["imageUrl"]
    video, cover = kie.fetch(video_url), kie.fetch(cover_url)
    assert (video.status, video.content_type) == (200, "video/mp4")
    assert video.body[4:8] == b"ftyp"
    assert (cover.status, cover.content_type) == (200, "image/png")
    assert cover.body.startswith(b"\x89PNG\r\n\x1a\n")


def test_no_cover_before_success_or_under_another_name(make_mock: MakeMock) -> None:
    mock, kie = make_mock(polls_to_complete=1)
    task_id = _generated(kie)
    cover = f"{mock.base_url}/files/{task_id}/cover/0.png"
    assert kie.fetch(cover).status == 404  # still waiting
    _detail(kie, task_id)
    _detail(kie, task_id)
    assert kie.fetch(cover).status == 200
    assert kie.fetch(f"{mock.base_url}/files/{task_id}/cover/1.png").status == 404
    assert kie.fetch(f"{mock.base_url}/files/nope/cover/0.png").status == 404


# -- callbacks (§3.4, §6.2) --------------------------------------------------------------------


def test_runway_callback_is_snake_case_with_task_id_in_data(mock: MockServer, kie: Kie) -> None:
    task_id = _generated(kie, callBackUrl="https://your-app.example/cb")
    info = _detail(kie, task_id)["videoInfo"]
    (callback,) = mock.callbacks()
    assert callback.delivered is False  # not loopback: recorded, never sent
    assert callback.payload == {
        "code": 200,
        "msg": "All generated successfully.",
        "data": {
            "task_id": task_id,
            "video_id": info["videoId"],
            "video_url": info["videoUrl"],
            "image_url": info["imageUrl"],
        },
    }


def test_runway_failure_callback(mock: MockServer, kie: Kie) -> None:
    task_id = _generated(kie, prompt="[mock:fail]", callBackUrl="https://your-app.example/cb")
    _detail(kie, task_id)
    (callback,) = mock.callbacks()
    assert callback.payload["code"] == 400
    assert callback.payload["data"] == {"task_id": task_id}


def test_aleph_callback_has_task_id_at_the_top(mock: MockServer, kie: Kie) -> None:
    task_id = _create(kie, ALEPH, DOC_ALEPH | {"callBackUrl": "https://your-app.example/cb"})
    response = _aleph_info(kie, task_id)["response"]
    task_id2 = _create(
        kie, ALEPH, DOC_ALEPH | {"prompt": "[mock:fail]", "callBackUrl": "https://x.example/cb"}
    )
    _aleph_info(kie, task_id2)
    success, failure = (c.payload for c in mock.callbacks())
    assert success == {
        "code": 200,
        "msg": "success",
        "data": {
            "result_video_url": response["resultVideoUrl"],
            "result_image_url": response["resultImageUrl"],
        },
        "taskId": task_id,
    }
    assert (failure["code"], failure["taskId"], failure["data"]) == (400, task_id2, None)


def test_signed_callbacks_sign_the_task_id_they_carry(make_mock: MakeMock) -> None:
    mock, kie = make_mock(webhook_hmac_key="secret")
    runway = _generated(kie, callBackUrl="https://a.example/cb")
    _detail(kie, runway)
    aleph = _create(kie, ALEPH, DOC_ALEPH | {"callBackUrl": "https://a.example/cb"})
    _aleph_info(kie, aleph)
    first, second = mock.callbacks()
    for record, carried in (
        (first, first.payload["data"]["task_id"]),
        (second, second.payload["taskId"]),
    ):
        stamp = record.headers["X-Webhook-Timestamp"]
        mac = hmac.new(b"secret", f"{carried}.{stamp}".encode(), hashlib.sha256).digest()
        assert record.headers["X-Webhook-Signature"] == base64.b64encode(mac).decode()
    assert (first.payload["data"]["task_id"], second.payload["taskId"]) == (runway, aleph)


def test_manual_advance_owes_the_runway_callback(make_mock: MakeMock) -> None:
    mock, kie = make_mock(polls_to_complete=5)
    task_id = _generated(kie, callBackUrl="https://a.example/cb")
    states = [mock.advance(task_id) for _ in range(4)]
    assert states[-1] == "success"
    (callback,) = mock.callbacks()
    assert callback.payload["data"]["task_id"] == task_id
