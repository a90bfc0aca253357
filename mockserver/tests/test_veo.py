"""Veo 3.1 (kie-api.md §3.3, §6.2, §9.2; guide §3.1)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Answer, Kie, MakeMock

GENERATE = "/api/v1/veo/generate"
EXTEND = "/api/v1/veo/extend"
RECORD = "/api/v1/veo/record-info?taskId="
HD = "/api/v1/veo/get-1080p-video?taskId="
UHD = "/api/v1/veo/get-4k-video"
CLOCK_TEXT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
RECORD_KEYS = [  # the order of the doc example (get-veo-3-video-details)
    "taskId",
    "paramJson",
    "completeTime",
    "response",
    "successFlag",
    "errorCode",
    "errorMessage",
    "createTime",
]
IMAGE = "https://example.com/frame.jpg"

# guide §3.1's curl body, and the image-to-video body of its §5.2 script, unchanged
GUIDE_TEXT = {
    "prompt": "A cute cat playing in a garden with butterflies flying around",
    "model": "veo3",
    "aspect_ratio": "16:9",
    "callBackUrl": "https://your-site.com/callback",
}
GUIDE_IMAGE = {
    "prompt": "Product feature 1: waterproof",
    "model": "veo3",
    "aspect_ratio": "16:9",
    "imageUrls": ["https://example.com/scene.png"],
}


def veo(kie: Kie, **body: Any) -> str:
    return str(kie.ok(kie.post(GENERATE, {"prompt": "a fox", **body}))["taskId"])


def record(kie: Kie, task_id: str) -> dict[str, Any]:
    return dict(kie.ok(kie.get(RECORD + task_id)))


def refused(answer: Answer, code: int = 422) -> str:
    assert answer.status == 200, "KIE answers errors with HTTP 200 (§1)"
    payload = answer.json()
    assert payload["code"] == code, payload
    return str(payload["msg"])


# -- generate and record-info ------------------------------------------------------------------


@pytest.mark.parametrize("body", [GUIDE_TEXT, GUIDE_IMAGE], ids=["text", "image"])
def test_guide_bodies_are_accepted_unchanged(
    mock: MockServer, kie: Kie, body: dict[str, Any]
) -> None:
    data = kie.ok(kie.post(GENERATE, body))
    assert list(data) == ["taskId"]
    found = record(kie, data["taskId"])
    assert list(found) == [*RECORD_KEYS, "fallbackFlag"]
    assert (found["successFlag"], found["errorCode"], found["errorMessage"]) == (1, None, "")
    assert found["fallbackFlag"] is False
    assert CLOCK_TEXT.fullmatch(found["createTime"])
    assert CLOCK_TEXT.fullmatch(found["completeTime"])
    response = found["response"]
    assert list(response) == ["taskId", "resultUrls", "originUrls", "resolution"]
    assert response["taskId"] == data["taskId"]
    assert response["originUrls"] is None  # "only has value when aspect_ratio is not 16:9"
    [video] = response["resultUrls"]
    file = kie.fetch(video)
    assert (file.status, file.content_type) == (200, "video/mp4")
    assert file.body[4:8] == b"ftyp"


def test_param_json_stores_the_aspect_ratio_camel_cased_and_omits_the_callback(kie: Kie) -> None:
    task_id = kie.ok(kie.post(GENERATE, GUIDE_TEXT))["taskId"]
    assert json.loads(record(kie, task_id)["paramJson"]) == {
        "prompt": GUIDE_TEXT["prompt"],
        "model": "veo3",
        "aspectRatio": "16:9",  # "both accepted, stored as aspectRatio" (§3.3)
    }


def test_guide_callback_to_a_foreign_host_is_recorded_not_sent(mock: MockServer, kie: Kie) -> None:
    task_id = kie.ok(kie.post(GENERATE, GUIDE_TEXT))["taskId"]
    record(kie, task_id)
    [callback] = mock.callbacks()
    assert (callback.task_id, callback.delivered) == (task_id, False)
    assert callback.payload["code"] == 200
    assert callback.payload["msg"] == "Veo3.1 video generated successfully."
    data = callback.payload["data"]
    assert list(data) == ["taskId", "info", "fallbackFlag"]
    assert data["info"]["originUrls"] is None
    assert data["info"]["resolution"] == "1080p"
    assert isinstance(data["info"]["resultUrls"], list)


@pytest.mark.parametrize("spelling", ["aspect_ratio", "aspectRatio"])
@pytest.mark.parametrize("ratio", ["9:16", "Auto"])
def test_origin_urls_come_with_every_ratio_but_16_9(kie: Kie, spelling: str, ratio: str) -> None:
    response = record(kie, veo(kie, **{spelling: ratio}))["response"]
    [video], [origin] = response["resultUrls"], response["originUrls"]
    assert video != origin
    assert kie.fetch(origin).body[4:8] == b"ftyp"
    assert response["resolution"] == "720p"


def test_pending_record(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=1)
    task_id = veo(kie)
    pending = record(kie, task_id)
    assert list(pending) == [*RECORD_KEYS, "fallbackFlag"]
    assert (pending["successFlag"], pending["response"], pending["completeTime"]) == (0, None, None)
    assert record(kie, task_id)["successFlag"] == 1


def test_fail_marker_gives_successflag_3_and_the_failure_callback(
    mock: MockServer, kie: Kie
) -> None:
    task_id = veo(kie, prompt="please [mock:fail]", callBackUrl="https://example.com/cb")
    failed = record(kie, task_id)
    assert (failed["successFlag"], failed["errorCode"]) == (3, 501)
    assert failed["errorMessage"]
    assert failed["response"] is None
    [callback] = mock.callbacks()
    assert callback.payload["code"] == 501
    assert callback.payload["data"] == {"taskId": task_id, "fallbackFlag": False}


def test_unknown_task_is_a_null_record(kie: Kie) -> None:
    assert refused(kie.get(RECORD + "nope")) == "record is null"


def test_other_families_tasks_are_not_veo_records(kie: Kie) -> None:
    assert refused(kie.get(RECORD + kie.flux(prompt="p"))) == "record is null"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": None}, "prompt"),
        ({"model": "veo2"}, "model"),
        ({"generationType": "IMAGE_2_VIDEO"}, "generationType"),
        ({"aspect_ratio": "1:1"}, "aspect_ratio"),
        ({"aspectRatio": "4:3"}, "aspectRatio"),
        ({"aspect_ratio": "16:9", "aspectRatio": "9:16"}, "aspect"),
        ({"seeds": 9999}, "seeds"),
        ({"seeds": 100000}, "seeds"),
        ({"seeds": "12345"}, "seeds"),
        ({"imageUrls": "https://example.com/a.png"}, "imageUrls"),
        ({"imageUrls": ["not a url"]}, "imageUrls"),
        ({"imageUrls": [IMAGE] * 4, "generationType": "REFERENCE_2_VIDEO"}, "imageUrls"),
        ({"imageUrls": [IMAGE], "generationType": "TEXT_2_VIDEO"}, "imageUrls"),
        ({"generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO"}, "imageUrls"),
        (
            {"imageUrls": [IMAGE] * 3, "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO"},
            "imageUrls",
        ),
        ({"generationType": "REFERENCE_2_VIDEO"}, "imageUrls"),
        ({"imageUrls": [IMAGE] * 3}, "imageUrls"),
        ({"enableTranslation": "yes"}, "enableTranslation"),
        ({"watermark": 5}, "watermark"),
        ({"callBackUrl": "ftp://example.com/cb"}, "callBackUrl"),
    ],
)
def test_invalid_generate_bodies_are_refused_naming_the_field(
    mock: MockServer, kie: Kie, body: dict[str, Any], field: str
) -> None:
    assert field in refused(kie.post(GENERATE, {"prompt": "a fox"} | body))
    assert mock.tasks() == []


@pytest.mark.parametrize(
    ("mode", "count"),
    [
        (None, 0),
        (None, 1),
        (None, 2),
        ("TEXT_2_VIDEO", 0),
        ("FIRST_AND_LAST_FRAMES_2_VIDEO", 1),
        ("FIRST_AND_LAST_FRAMES_2_VIDEO", 2),
        ("REFERENCE_2_VIDEO", 1),
        ("REFERENCE_2_VIDEO", 3),
    ],
)
def test_image_counts_each_generation_type_takes(kie: Kie, mode: str | None, count: int) -> None:
    body: dict[str, Any] = {"imageUrls": [IMAGE] * count}
    if mode:
        body["generationType"] = mode
    assert record(kie, veo(kie, **body))["successFlag"] == 1


def test_empty_image_list_and_callback_mean_none(kie: Kie) -> None:
    # what several clients send for text-to-video (kie-api.md §10)
    veo(kie, imageUrls=[], callBackUrl="", watermark="", enableFallback=False)


def test_models_and_costs(mock: MockServer, kie: Kie) -> None:
    for model in ("veo3", "veo3_fast", "veo3_lite"):
        veo(kie, model=model)
    veo(kie)
    assert [t.model for t in mock.tasks()] == ["veo3", "veo3_fast", "veo3_lite", "veo3_fast"]


# -- extend ------------------------------------------------------------------------------------


def test_extend_makes_a_new_task_read_through_record_info(mock: MockServer, kie: Kie) -> None:
    source = veo(kie, aspect_ratio="9:16")
    record(kie, source)
    body = {
        "taskId": source,
        "prompt": "the fox jumps",
        "seeds": 12345,
        "watermark": "kie",
        "model": "quality",
        "callBackUrl": "https://example.com/extended",
    }
    extended = kie.ok(kie.post(EXTEND, body))["taskId"]
    assert extended != source
    found = record(kie, extended)
    assert found["successFlag"] == 1
    assert found["fallbackFlag"] is False
    assert json.loads(found["paramJson"]) == {k: v for k, v in body.items() if k != "callBackUrl"}
    assert found["response"]["originUrls"]  # the source's framing is kept
    [callback] = mock.callbacks()
    assert callback.payload["data"]["taskId"] == extended
    assert [t.model for t in mock.tasks()] == ["veo3_fast", "veo3-extend-quality"]


def test_extend_defaults_to_fast_and_can_be_extended_again(mock: MockServer, kie: Kie) -> None:
    source = veo(kie)
    record(kie, source)
    once = kie.ok(kie.post(EXTEND, {"taskId": source, "prompt": "on"}))["taskId"]
    record(kie, once)
    twice = kie.ok(kie.post(EXTEND, {"taskId": once, "prompt": "and on"}))["taskId"]
    assert record(kie, twice)["successFlag"] == 1
    assert mock.tasks()[1].model == "veo3-extend-fast"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"taskId": ""}, "taskId"),
        ({"prompt": " "}, "prompt"),
        ({"model": "veo3"}, "model"),
        ({"seeds": 5}, "seeds"),
    ],
)
def test_invalid_extend_bodies_are_refused(kie: Kie, body: dict[str, Any], field: str) -> None:
    source = veo(kie)
    record(kie, source)
    assert field in refused(kie.post(EXTEND, {"taskId": source, "prompt": "on"} | body))


def test_extend_needs_an_existing_finished_video_of_the_caller(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=1)
    assert refused(kie.post(EXTEND, {"taskId": "nope", "prompt": "on"}), 404)
    pending = veo(kie)
    assert refused(kie.post(EXTEND, {"taskId": pending, "prompt": "on"})) == (
        "record status is not success"
    )
    record(kie, pending)
    record(kie, pending)
    stranger = kie.as_key("someone-else")
    assert refused(stranger.post(EXTEND, {"taskId": pending, "prompt": "on"}), 404)
    failed = veo(kie, prompt="[mock:fail]")
    record(kie, failed)
    record(kie, failed)
    assert "not success" in refused(kie.post(EXTEND, {"taskId": failed, "prompt": "on"}))


def test_videos_that_went_through_1080p_cannot_be_extended(kie: Kie) -> None:
    source = veo(kie)
    record(kie, source)
    refused(kie.get(HD + source), 400)
    assert "1080P" in refused(kie.post(EXTEND, {"taskId": source, "prompt": "on"}))


# -- 1080P -------------------------------------------------------------------------------------


def test_1080p_is_processing_at_first_then_ready(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=2)
    source = veo(kie)
    while record(kie, source)["successFlag"] == 0:
        pass
    answers = [kie.get(HD + source + "&index=0").json() for _ in range(4)]
    # first call starts the 1080P render; two polls of it pending; then the link
    assert [a["code"] for a in answers] == [400, 400, 400, 200]
    assert answers[0]["msg"].startswith("1080P is processing")
    link = answers[-1]["data"]["resultUrl"]
    assert kie.fetch(link).body[4:8] == b"ftyp"
    assert kie.get(HD + source).json()["data"] == {"resultUrl": link}  # the guide's form


def test_1080p_of_something_not_finished_or_not_there(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=1)
    assert refused(kie.get(HD + "nope")) == "record is null"
    pending = veo(kie)
    assert refused(kie.get(HD + pending)) == "record status is not success"
    record(kie, pending)
    record(kie, pending)
    assert "index" in refused(kie.get(HD + pending + "&index=1"))
    assert "index" in refused(kie.get(HD + pending + "&index=x"))
    assert refused(kie.get("/api/v1/veo/get-1080p-video")) == "taskId cannot be empty"


def test_1080p_that_fails_answers_501(mock: MockServer, kie: Kie) -> None:
    source = veo(kie)
    record(kie, source)
    refused(kie.get(HD + source), 400)
    [hd] = [t for t in mock.tasks() if t.model == "veo3-1080p"]
    mock.set_outcome(hd.task_id, "fail")
    refused(kie.get(HD + source), 501)
    assert mock.callbacks() == []  # get-1080p-video takes no callBackUrl


# -- 4K ----------------------------------------------------------------------------------------


def test_4k_flow_follows_the_4k_page(make_mock: MakeMock) -> None:
    mock, kie = make_mock(polls_to_complete=1)
    source = veo(kie)
    record(kie, source)
    record(kie, source)
    body = {"taskId": source, "index": 0, "callBackUrl": "https://example.com/4k"}
    first = kie.post(UHD, body).json()
    assert first["code"] == 200
    uhd_id = first["data"]["taskId"]
    assert first["data"] == {"taskId": uhd_id, "resultUrls": None, "imageUrls": None}
    processing = kie.post(UHD, body).json()
    assert processing["code"] == 422
    assert processing["msg"].startswith("4k is processing")
    assert processing["data"] == first["data"]
    done = kie.post(UHD, body).json()
    assert (done["code"], done["msg"]) == (422, "The video has been generated successfully")
    [video], [preview] = done["data"]["resultUrls"], done["data"]["imageUrls"]
    assert kie.fetch(video).body[4:8] == b"ftyp"
    image = kie.fetch(preview)
    assert (image.status, image.content_type) == (200, "image/jpeg")
    assert image.body.startswith(b"\xff\xd8\xff")

    found = record(kie, uhd_id)  # record-info reports 4K tasks too (§3.3)
    assert list(found) == RECORD_KEYS  # no fallbackFlag on 4K tasks
    assert found["successFlag"] == 1
    assert list(found["response"]) == ["taskId", "resultUrls", "imageUrls", "mediaIds"]
    assert found["response"]["resultUrls"] == [video]

    [callback] = mock.callbacks()
    assert callback.url == "https://example.com/4k"
    assert callback.payload == {
        "code": 200,
        "msg": "4K Video generated successfully.",
        "data": {"taskId": uhd_id, "info": {"resultUrls": [video], "imageUrls": [preview]}},
    }


def test_4k_is_charged_once(mock: MockServer, kie: Kie) -> None:
    source = veo(kie)
    record(kie, source)
    before = kie.ok(kie.get("/api/v1/chat/credit"))
    for _ in range(3):
        kie.post(UHD, {"taskId": source})
    assert kie.ok(kie.get("/api/v1/chat/credit")) == before - 24
    assert [t.model for t in mock.tasks()].count("veo3-4k") == 1


def test_4k_that_fails(mock: MockServer, kie: Kie) -> None:
    source = veo(kie)
    record(kie, source)
    uhd_id = kie.ok(kie.post(UHD, {"taskId": source, "callBackUrl": "https://example.com/4k"}))[
        "taskId"
    ]
    mock.set_outcome(uhd_id, "fail")
    assert "unavailable" in refused(kie.post(UHD, {"taskId": source}))
    found = record(kie, uhd_id)
    assert (found["successFlag"], found["errorCode"]) == (3, 500)
    [callback] = mock.callbacks()
    assert callback.payload["code"] == 500
    assert callback.payload["data"] == {"taskId": uhd_id}


def test_records_older_than_14_days_are_refused_on_the_mock_clock(
    mock: MockServer, kie: Kie
) -> None:
    source = veo(kie)
    assert record(kie, source)["successFlag"] == 1
    mock.clock.advance(14 * 24 * 3600 - 60)
    assert record(kie, source)["successFlag"] == 1  # still within the window
    mock.clock.advance(120)
    window = "Temporarily supports records within 14 days"  # §3.3's record-query 422
    assert refused(kie.get(RECORD + source)) == window
    assert refused(kie.get(HD + source)) == window
    assert refused(kie.post(UHD, {"taskId": source, "index": 0})) == window
    assert refused(kie.get(RECORD + "nope")) == "record is null"


def test_extend_of_a_video_past_retention_is_refused_as_record_info_is(
    mock: MockServer, kie: Kie
) -> None:
    source = veo(kie)
    record(kie, source)  # succeeded
    mock.clock.advance(14 * 24 * 3600 + 60)
    made, credits = len(mock.tasks()), kie.ok(kie.get("/api/v1/chat/credit"))
    window = "Temporarily supports records within 14 days"
    assert refused(kie.get(RECORD + source)) == window
    assert refused(kie.post(EXTEND, {"taskId": source, "prompt": "on"})) == window
    assert len(mock.tasks()) == made  # nothing made,
    assert kie.ok(kie.get("/api/v1/chat/credit")) == credits  # nothing charged


def test_4k_needs_a_finished_video(kie: Kie) -> None:
    assert refused(kie.post(UHD, {"taskId": "nope"})) == "record is null"
    assert "taskId" in refused(kie.post(UHD, {"index": 0}))
    source = veo(kie)
    record(kie, source)
    assert "index" in refused(kie.post(UHD, {"taskId": source, "index": 2}))
    uhd_id = kie.ok(kie.post(UHD, {"taskId": source}))["taskId"]
    assert refused(kie.post(UHD, {"taskId": uhd_id})) == "record is null"  # no 4K of a 4K
    assert refused(kie.post(EXTEND, {"taskId": uhd_id, "prompt": "on"}), 404)


def test_preview_images_exist_only_for_finished_4k_tasks(kie: Kie) -> None:
    source = veo(kie)
    record(kie, source)
    assert kie.fetch(f"{kie.base_url}/files/veo/{source}/0.jpg").status == 404
    assert kie.fetch(f"{kie.base_url}/files/veo/nope/0.jpg").status == 404


# -- the guide's documentation slugs are not API paths (§9.2) ----------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/veo/get-veo-3-4k-video"),
        ("POST", "/api/v1/veo/extend-video"),
        ("GET", "/api/v1/veo/get-veo-3-video-details"),
    ],
)
def test_guide_doc_slugs_are_unknown_routes(kie: Kie, method: str, path: str) -> None:
    answer = kie.post(path, {}) if method == "POST" else kie.get(path)
    assert answer.status == 404
