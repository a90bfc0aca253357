"""Midjourney (kie-api.md §3.7; KIE's mj-api pages, real records [OBS]): served by default."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig, MockServer
from kiekit_mock.har import parse_har

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

GENERATE = "/api/v1/mj/generate"
RECORD = "/api/v1/mj/record-info"
IMAGE = "https://example.com/reference.png"
# the keys of a real record, in their order [OBS]
RECORD_KEYS = [
    "taskId",
    "taskType",
    "paramJson",
    "completeTime",
    "resultInfoJson",
    "successFlag",
    "createTime",
    "errorCode",
    "errorMessage",
]
# the generate page's example body (its fileUrls dropped: text-to-image takes none)
DOC_BODY = {
    "taskType": "mj_txt2img",
    "speed": "relaxed",
    "prompt": "Help me generate a sci-fi themed fighter jet in a beautiful sky",
    "aspectRatio": "16:9",
    "version": "7",
    "variety": 10,
    "stylization": 1,
    "weirdness": 1,
    "waterMark": "",
    "enableTranslation": False,
    "callBackUrl": "https://api.example.com/callback",
    "ow": 500,
    "videoBatchSize": 1,
    "motion": "high",
}


def create(kie: Kie, body: dict[str, Any]) -> str:
    return str(kie.ok(kie.post(GENERATE, body))["taskId"])


def record(kie: Kie, task_id: str) -> dict[str, Any]:
    return dict(kie.ok(kie.get(f"{RECORD}?taskId={task_id}")))


def test_the_doc_example_makes_four_jpegs(mock: MockServer, kie: Kie) -> None:
    task_id = create(kie, DOC_BODY)
    found = record(kie, task_id)
    assert list(found) == RECORD_KEYS
    assert (found["taskType"], found["successFlag"]) == ("mj_txt2img", 1)
    assert (found["errorCode"], found["errorMessage"]) == (None, None)
    assert isinstance(found["createTime"], int)  # milliseconds, as real records [OBS]
    assert found["completeTime"] >= found["createTime"]
    links = [item["resultUrl"] for item in found["resultInfoJson"]["resultUrls"]]
    assert links == [f"{mock.base_url}/files/{task_id}/{i}.jpeg" for i in range(4)]
    answer = kie.fetch(links[0])
    assert (answer.status, answer.content_type) == (200, "image/jpeg")
    assert answer.body[:3] == b"\xff\xd8\xff"
    # the stored parameters: sorted keys, given values, empty ones left out [OBS]
    stored = json.loads(found["paramJson"])
    assert list(stored) == sorted(stored)
    assert stored == {k: v for k, v in DOC_BODY.items() if v != ""}


def test_the_stored_parameters_carry_kie_s_defaults(kie: Kie) -> None:
    task_id = create(kie, {"taskType": "mj_txt2img", "speed": "fast", "prompt": "a fox"})
    assert json.loads(record(kie, task_id)["paramJson"]) == {  # [OBS], real records
        "enableTranslation": True,
        "motion": "high",
        "prompt": "a fox",
        "speed": "fast",
        "taskType": "mj_txt2img",
        "videoBatchSize": 1,
    }


def test_a_video_job_makes_one_mp4_per_batch_item(kie: Kie) -> None:
    body = {"taskType": "mj_video", "prompt": "the jet takes off", "fileUrls": [IMAGE]}
    found = record(kie, create(kie, body | {"videoBatchSize": 2}))
    links = [item["resultUrl"] for item in found["resultInfoJson"]["resultUrls"]]
    assert [link.rsplit("/", 1)[1] for link in links] == ["0.mp4", "1.mp4"]
    assert kie.fetch(links[1]).body[4:8] == b"ftyp"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"speed": "fast", "prompt": "p"}, "taskType"),
        ({"taskType": "mj_upscale", "speed": "fast", "prompt": "p"}, "taskType"),
        ({"taskType": "mj_txt2img", "speed": "fast"}, "prompt"),
        ({"taskType": "mj_txt2img", "speed": "fast", "prompt": "p" * 2001}, "prompt"),
        ({"taskType": "mj_txt2img", "prompt": "p"}, "speed"),  # required but for video, omni
        ({"taskType": "mj_txt2img", "speed": "Relax", "prompt": "p"}, "speed"),
        ({"taskType": "mj_img2img", "speed": "fast", "prompt": "p"}, "fileUrls"),
        ({"taskType": "mj_video", "prompt": "p", "fileUrls": [IMAGE, IMAGE]}, "fileUrls"),
        ({"taskType": "mj_img2img", "speed": "fast", "prompt": "p", "fileUrl": "x"}, "fileUrl"),
        (
            {"taskType": "mj_txt2img", "speed": "fast", "prompt": "p", "aspectRatio": "21:9"},
            "aspectRatio",
        ),
        ({"taskType": "mj_txt2img", "speed": "fast", "prompt": "p", "version": 7}, "version"),
        (
            {"taskType": "mj_txt2img", "speed": "fast", "prompt": "p", "weirdness": 3001},
            "weirdness",
        ),
        (
            {"taskType": "mj_txt2img", "speed": "fast", "prompt": "p", "videoBatchSize": 3},
            "videoBatchSize",
        ),
        ({"taskType": "mj_video", "prompt": "p", "fileUrls": [IMAGE], "motion": "fast"}, "motion"),
        ({"taskType": "mj_omni_reference", "prompt": "p", "fileUrls": [IMAGE], "ow": 0}, "ow"),
    ],
)
def test_a_bad_body_is_422_naming_what_is_wrong(
    mock: MockServer, kie: Kie, body: dict[str, Any], says: str
) -> None:
    answer = kie.post(GENERATE, body)
    assert answer.status == 200  # KIE's errors ride on HTTP 200 (§1)
    payload = answer.json()
    assert (payload["code"], payload["data"]) == (422, None)
    assert says in payload["msg"]
    assert mock.tasks() == []


@pytest.mark.parametrize("task_type", ["mj_omni_reference", "mj_video", "mj_video_hd"])
def test_speed_may_be_left_out_where_kie_says_so(kie: Kie, task_type: str) -> None:
    task_id = create(kie, {"taskType": task_type, "prompt": "p", "fileUrl": IMAGE})
    assert record(kie, task_id)["successFlag"] == 1


def test_a_pending_record_has_no_results_yet(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=1)
    task_id = create(kie, {"taskType": "mj_txt2img", "speed": "turbo", "prompt": "p"})
    pending = record(kie, task_id)
    assert list(pending) == RECORD_KEYS
    assert (pending["successFlag"], pending["resultInfoJson"], pending["completeTime"]) == (
        0,
        None,
        None,
    )
    assert record(kie, task_id)["successFlag"] == 1


def test_an_unknown_task_is_kie_s_record_does_not_exist(kie: Kie) -> None:
    answer = kie.get(f"{RECORD}?taskId=0123456789abcdef0123456789abcdef").json()
    assert (answer["code"], answer["msg"]) == (422, "The record does not exist")


def test_a_failed_generation_is_flag_3_and_its_callback_500(mock: MockServer, kie: Kie) -> None:
    body = {"taskType": "mj_txt2img", "speed": "fast", "prompt": "no [mock:fail]"}
    task_id = create(kie, body | {"callBackUrl": "https://example.com/cb"})
    found = record(kie, task_id)
    assert (found["successFlag"], found["resultInfoJson"]) == (3, None)
    assert isinstance(found["errorCode"], int)
    assert found["errorMessage"]
    (callback,) = mock.callbacks()
    assert callback.payload["code"] == 500
    assert callback.payload["data"]["resultUrls"] == []


def test_the_callback_is_shaped_apart_from_the_record(mock: MockServer, kie: Kie) -> None:
    task_id = create(kie, DOC_BODY)
    found = record(kie, task_id)
    (callback,) = mock.callbacks()  # recorded: api.example.com is never called
    assert callback.payload == {
        "code": 200,
        "msg": "success",
        "data": {
            "taskId": task_id,
            "promptJson": found["paramJson"],
            "resultUrls": [item["resultUrl"] for item in found["resultInfoJson"]["resultUrls"]],
        },
    }


def test_the_task_is_filed_under_midjourney(mock: MockServer, kie: Kie) -> None:
    create(kie, {"taskType": "mj_img2img", "speed": "fast", "prompt": "p", "fileUrls": [IMAGE]})
    (task,) = mock.tasks()
    assert (task.family, task.model, task.result_ext) == (
        "midjourney",
        "mj_img2img",
        "jpeg",
    )


def test_its_files_are_kept_15_days_where_other_media_keep_14(mock: MockServer, kie: Kie) -> None:
    """The mock's clock moves; a Flux Kontext result made at the same moment is the yardstick."""
    day = 24 * 3600
    found = record(kie, create(kie, {"taskType": "mj_txt2img", "speed": "fast", "prompt": "p"}))
    link = found["resultInfoJson"]["resultUrls"][0]["resultUrl"]
    flux = kie.ok(kie.get(f"/api/v1/flux/kontext/record-info?taskId={kie.flux(prompt='p')}"))
    other = flux["response"]["resultImageUrl"]
    mock.clock.advance(14 * day + 60)
    assert (kie.fetch(other).status, kie.fetch(link).status) == (403, 200)
    mock.clock.advance(day)
    assert kie.fetch(link).status == 403  # as a CDN's expired link (files.py)


def _entry(method: str, path: str, sent: Any, answer: Any) -> dict[str, Any]:
    """One HAR entry against KIE's host, as a browser or proxy records it."""
    request: dict[str, Any] = {"method": method, "url": "https://api.kie.ai" + path, "headers": []}
    if sent is not None:
        request["postData"] = {"mimeType": "application/json", "text": json.dumps(sent)}
    content = {"mimeType": "application/json", "text": json.dumps(answer)}
    return {
        "startedDateTime": "2025-10-15T19:41:58.000Z",
        "request": request,
        "response": {"status": 200, "headers": [], "content": content},
    }


def test_a_recording_replays_and_a_create_never_polled_still_finishes(kie_at: Any) -> None:
    """HAR replay knows the family's status path: a recorded record answers as recorded, and a
    task whose create alone was recorded gets the family's lifecycle, never "not found"."""
    polled, unpolled = "9f47c52047dda21bb3df0488736cce57", "0d2f0c43ab7b6b7d6a1d5b7e0e8c9a11"
    real = {  # a real record's shape [OBS], its links shortened
        "taskId": polled,
        "taskType": "mj_txt2img",
        "paramJson": json.dumps({"prompt": "a fox"}),
        "completeTime": 1760557532000,
        "resultInfoJson": {
            "resultUrls": [{"resultUrl": f"https://tempfile.aiquickdraw.com/m/{polled}_0_0.jpeg"}]
        },
        "successFlag": 1,
        "createTime": 1760557318000,
        "errorCode": None,
        "errorMessage": None,
    }
    body = {"taskType": "mj_txt2img", "speed": "relaxed", "prompt": "a fox"}
    har = {
        "log": {
            "entries": [
                _entry(
                    "POST",
                    GENERATE,
                    body,
                    {"code": 200, "msg": "success", "data": {"taskId": polled}},
                ),
                _entry(
                    "GET",
                    f"{RECORD}?taskId={polled}",
                    None,
                    {"code": 200, "msg": "success", "data": real},
                ),
                _entry(
                    "POST",
                    GENERATE,
                    body,
                    {"code": 200, "msg": "success", "data": {"taskId": unpolled}},
                ),
            ]
        }
    }
    scenario = parse_har(har)
    assert [(t.task_id, t.status_path) for t in scenario.tasks] == [
        (polled, RECORD),
        (unpolled, None),  # never polled in the recording
    ]
    with MockServer(MockConfig(), scenario=scenario) as mock:
        kie = kie_at(mock.base_url)
        assert kie.ok(kie.post(GENERATE, body))["taskId"] == polled
        replayed = record(kie, polled)
        # as recorded, the result link pointing at the mock, which serves a stand-in JPEG
        (link,) = [item["resultUrl"] for item in replayed.pop("resultInfoJson")["resultUrls"]]
        assert replayed == {k: v for k, v in real.items() if k != "resultInfoJson"}
        assert link.startswith(mock.base_url)
        assert kie.fetch(link).content_type == "image/jpeg"
        # its recorded id would answer "not found" forever: the emulation makes the task
        made = kie.ok(kie.post(GENERATE, body))["taskId"]
        flags = [record(kie, made)["successFlag"] for _ in range(2)]
    assert flags[-1] == 1
