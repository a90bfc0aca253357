"""Flux Kontext (kie-api.md §3.2, guide §2.2)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

GENERATE = "/api/v1/flux/kontext/generate"
CLOCK_TEXT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
RECORD_KEYS = [
    "taskId",
    "paramJson",
    "completeTime",
    "createTime",
    "response",
    "successFlag",
    "errorCode",
    "errorMessage",
]

# guide §2.2, both curl examples' bodies, unchanged
GUIDE_GENERATE = {
    "prompt": "A serene mountain landscape at golden hour with snow-capped peaks",
    "aspectRatio": "16:9",
    "model": "flux-kontext-pro",
    "outputFormat": "png",
}
GUIDE_EDIT = {
    "prompt": "Add hot air balloons in the sky",
    "inputImage": "https://example.com/landscape.jpg",
    "aspectRatio": "16:9",
}


@pytest.mark.parametrize("body", [GUIDE_GENERATE, GUIDE_EDIT], ids=["generate", "edit"])
def test_guide_examples_succeed(mock: MockServer, kie: Kie, body: dict[str, Any]) -> None:
    data = kie.ok(kie.post(GENERATE, body))
    assert list(data) == ["taskId"]
    record = kie.flux_record(data["taskId"])
    assert list(record) == RECORD_KEYS
    assert record["successFlag"] == 1
    assert (record["errorCode"], record["errorMessage"]) == (None, "")
    assert json.loads(record["paramJson"]) == body
    images = record["response"]
    assert set(images) == {"originImageUrl", "resultImageUrl"}
    ext = "png" if body.get("outputFormat") == "png" else "jpeg"  # jpeg is the default
    assert images["resultImageUrl"].startswith(f"{mock.base_url}/files/{data['taskId']}/")
    assert images["resultImageUrl"].endswith(f".{ext}")
    assert CLOCK_TEXT.fullmatch(record["createTime"])
    assert CLOCK_TEXT.fullmatch(record["completeTime"])


def test_pending_record(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=1)
    task_id = kie.flux(prompt="p")
    pending = kie.flux_record(task_id)
    assert list(pending) == RECORD_KEYS
    assert pending["successFlag"] == 0
    assert pending["response"] is None
    assert pending["completeTime"] is None
    assert CLOCK_TEXT.fullmatch(pending["createTime"])
    assert kie.flux_record(task_id)["successFlag"] == 1


def test_param_json_omits_the_callback(kie: Kie) -> None:
    task_id = kie.flux(prompt="p", callBackUrl="https://example.com/cb", model="flux-kontext-max")
    assert json.loads(kie.flux_record(task_id)["paramJson"]) == {
        "prompt": "p",
        "model": "flux-kontext-max",
    }


def test_mock_fail_marker_gives_the_fail_shape(mock: MockServer, kie: Kie) -> None:
    task_id = kie.flux(prompt="no [mock:fail]", callBackUrl="https://example.com/cb")
    record = kie.flux_record(task_id)
    assert record["successFlag"] == 3  # GENERATE_FAILED
    assert record["errorCode"] == 501
    assert isinstance(record["errorCode"], int)
    assert isinstance(record["errorMessage"], str)
    assert record["errorMessage"]
    assert record["response"] is None
    assert CLOCK_TEXT.fullmatch(record["completeTime"])
    (callback,) = mock.callbacks()
    assert callback.payload["code"] == 501
    assert callback.payload["data"]["taskId"] == task_id


def test_success_callback_payload(mock: MockServer, kie: Kie) -> None:
    task_id = kie.flux(prompt="p", callBackUrl="https://your-domain.com/api/callback")
    record = kie.flux_record(task_id)
    (callback,) = mock.callbacks()
    assert callback.delivered is False
    assert callback.payload == {
        "code": 200,
        "msg": "BFL image generated successfully.",
        "data": {"taskId": task_id, "info": record["response"]},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": ["p"]}, "prompt"),
        ({"prompt": "p", "aspectRatio": "3:2"}, "aspectRatio"),
        ({"prompt": "p", "model": "flux-kontext-ultra"}, "model"),
        ({"prompt": "p", "outputFormat": "webp"}, "outputFormat"),
        ({"prompt": "p", "inputImage": "landscape.jpg"}, "inputImage"),
        ({"prompt": "p", "enableTranslation": "true"}, "enableTranslation"),
        ({"prompt": "p", "promptUpsampling": 1}, "promptUpsampling"),
        ({"prompt": "p", "uploadCn": "no"}, "uploadCn"),
        ({"prompt": "p", "watermark": True}, "watermark"),
        ({"prompt": "p", "safetyTolerance": 7}, "safetyTolerance"),
        ({"prompt": "p", "safetyTolerance": -1}, "safetyTolerance"),
        ({"prompt": "p", "safetyTolerance": "2"}, "safetyTolerance"),
        (
            {"prompt": "p", "inputImage": "https://e.com/a.jpg", "safetyTolerance": 3},
            "safetyTolerance",
        ),
        ({"prompt": "p", "callBackUrl": "callback"}, "callBackUrl"),
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


@pytest.mark.parametrize("tolerance", [0, 6])
def test_safety_tolerance_range_for_generation(kie: Kie, tolerance: int) -> None:
    kie.flux(prompt="p", safetyTolerance=tolerance)


def test_optional_fields_accepted(kie: Kie) -> None:
    kie.flux(
        prompt="p",
        aspectRatio="16:21",
        model="flux-kontext-max",
        outputFormat="jpeg",
        inputImage="https://example.com/a.png",
        enableTranslation=False,
        promptUpsampling=True,
        uploadCn=False,
        watermark="mine",
        safetyTolerance=2,
    )
