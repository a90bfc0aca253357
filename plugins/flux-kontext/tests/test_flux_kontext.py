"""Flux Kontext: the provider contract, plus the wire facts a user of this plugin relies on.

Payloads follow D:flux-kontext-api/get-image-details as quoted in kie-api.md §3.2: successFlag
0 GENERATING, 1 SUCCESS, 2 CREATE_TASK_FAILED, 3 GENERATE_FAILED; camelCase keys; string times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kiekit import Client, MediaKind, ProtocolError, Request, State, ValidationError
from kiekit.transport import HttpRequest, HttpResponse, MockTransport
from kiekit_contract import ProviderContract, client_for
from kiekit_flux_kontext import FluxKontext, FluxKontextProvider
from kiekit_mock import MockServer

PRO = "flux-kontext-pro"
MAX = "flux-kontext-max"
TASK = "fluxkontext_4a1f9c0e"
RESULT = "https://tempfile.aiquickdraw.com/f/4a1f9c0e-result.jpg"
ORIGIN = "https://delivery-eu1.bfl.ai/results/4a1f9c0e/sample.jpg"

GENERATING = {
    "taskId": TASK,
    "paramJson": '{"prompt":"a red fox","model":"flux-kontext-pro","aspectRatio":"16:9"}',
    "completeTime": None,
    "createTime": "2025-06-06 10:25:00",
    "response": None,
    "successFlag": 0,
    "errorCode": None,
    "errorMessage": "",
}
SUCCESS = GENERATING | {
    "completeTime": "2025-06-06 10:30:00",
    "response": {"originImageUrl": ORIGIN, "resultImageUrl": RESULT},
    "successFlag": 1,
}
CREATE_FAILED = GENERATING | {"successFlag": 2, "errorCode": 400, "errorMessage": "flagged"}
GENERATE_FAILED = GENERATING | {"successFlag": 3, "errorCode": 501, "errorMessage": "failed"}


class TestFluxKontext(ProviderContract):
    provider = FluxKontextProvider()
    documented_statuses = (
        (GENERATING, State.RUNNING),
        (SUCCESS, State.SUCCEEDED),
        (CREATE_FAILED, State.FAILED),
        (GENERATE_FAILED, State.FAILED),
    )


PROVIDER = FluxKontextProvider()
IMAGE = "https://example.com/photo.png"


def _no_http(request: HttpRequest) -> HttpResponse:
    return HttpResponse(500, b"no request was expected")


@pytest.mark.parametrize("tolerance", [0, 2, 6])
def test_generation_allows_safety_tolerance_0_to_6(tolerance: int) -> None:
    assert FluxKontext(prompt="a fox", safety_tolerance=tolerance).safety_tolerance == tolerance


@pytest.mark.parametrize("tolerance", [0, 1, 2])
def test_editing_allows_safety_tolerance_0_to_2(tolerance: int) -> None:
    params = FluxKontext(prompt="a fox", input_image=IMAGE, safety_tolerance=tolerance)
    assert params.safety_tolerance == tolerance


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"safety_tolerance": 7}, "over 6 when generating"),
        ({"safety_tolerance": -1}, "negative"),
        ({"safety_tolerance": 3, "input_image": IMAGE}, "over 2 when editing"),
        ({"safety_tolerance": 6, "input_image": IMAGE}, "6 is for generation only"),
        ({"safety_tolerance": "2"}, "a string"),
    ],
)
def test_safety_tolerance_out_of_range_is_refused_before_sending(
    fields: dict[str, Any], why: str
) -> None:
    transport = MockTransport(_no_http)
    kie = client_for("http://127.0.0.1:9", transport=transport)
    with kie, pytest.raises(ValidationError) as caught:
        kie.submit(PRO, prompt="a fox", **fields)
    assert caught.value.field == "safety_tolerance", why
    assert transport.requests == []


def test_body_is_camel_case_and_names_the_model() -> None:
    params = FluxKontext(
        prompt="a fox",
        input_image=IMAGE,
        aspect_ratio="4:3",
        output_format="png",
        enable_translation=False,
        prompt_upsampling=True,
        safety_tolerance=1,
        upload_cn=False,
        watermark="kie",
    )
    assert PROVIDER.build_request(MAX, params, callback_url="https://me.example/cb") == Request(
        "POST",
        "/api/v1/flux/kontext/generate",
        body={
            "model": MAX,
            "prompt": "a fox",
            "inputImage": IMAGE,
            "aspectRatio": "4:3",
            "outputFormat": "png",
            "enableTranslation": False,
            "promptUpsampling": True,
            "safetyTolerance": 1,
            "uploadCn": False,
            "watermark": "kie",
            "callBackUrl": "https://me.example/cb",
        },
    )


def test_unset_fields_stay_off_the_wire_so_kie_defaults_apply() -> None:
    body = PROVIDER.build_request(PRO, FluxKontext(prompt="a fox")).body
    assert body == {"model": PRO, "prompt": "a fox"}


def test_status_is_polled_at_record_info() -> None:
    assert PROVIDER.status_request(TASK) == Request(
        "GET", "/api/v1/flux/kontext/record-info", query={"taskId": TASK}
    )


def test_both_images_are_extracted_with_their_labels() -> None:
    results = PROVIDER.extract_results(TASK, SUCCESS)
    assert [(a.label, a.url) for a in results.assets] == [("result", RESULT), ("origin", ORIGIN)]
    assert {a.kind for a in results.assets} == {MediaKind.IMAGE}
    assert {a.media_type for a in results.assets} == {"image/jpeg"}


@pytest.mark.parametrize("origin", [None, ""])
def test_result_alone_when_kie_gives_no_origin(origin: str | None) -> None:
    payload = SUCCESS | {"response": {"originImageUrl": origin, "resultImageUrl": RESULT}}
    assert [a.label for a in PROVIDER.extract_results(TASK, payload).assets] == ["result"]


def test_success_without_result_url_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        PROVIDER.extract_results(TASK, SUCCESS | {"response": {"originImageUrl": ORIGIN}})


def test_failure_keeps_error_code_and_message() -> None:
    status = PROVIDER.parse_status(TASK, GENERATE_FAILED)
    assert (status.state, status.fail_code, status.fail_message) == (State.FAILED, "501", "failed")


@pytest.mark.parametrize("flag", [4, -1, "SUCCESS"])
def test_undocumented_success_flag_is_a_protocol_error(flag: Any) -> None:
    # Luma's flag 4 belongs to Luma (§3.5), not to Flux
    with pytest.raises(ProtocolError):
        PROVIDER.parse_status(TASK, GENERATING | {"successFlag": flag})


def test_edit_end_to_end_downloads_result_and_origin(
    kie_client: Client, kie_mock: MockServer, tmp_path: Path
) -> None:
    task = kie_client.submit(MAX, prompt="make it night", input_image=IMAGE, output_format="png")
    files = kie_client.download(kie_client.wait(task), tmp_path)
    assert [f.name for f in files] == [f"{task.id}-result-0.png", f"{task.id}-origin-1.png"]
    assert all(f.read_bytes().startswith(b"\x89PNG") for f in files)
    sent = [r.body for r in kie_mock.requests() if r.path == "/api/v1/flux/kontext/generate"]
    assert sent == [
        {"model": MAX, "prompt": "make it night", "inputImage": IMAGE, "outputFormat": "png"}
    ]
