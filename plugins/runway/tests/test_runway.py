"""Runway (generate, extend) and Runway Aleph: the provider contract, plus the wire facts a user of
this plugin relies on.

Payloads follow D:runway-api/get-ai-video-details as quoted in kie-api.md §3.4 (its variants: the
numeric ``id``/``parentId`` version, ``failCode`` int 400, the example that shows a populated
``videoInfo`` while the task waits) and D:runway-api/get-aleph-video-details for Aleph.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from kiekit import (
    AssetRole,
    Client,
    MediaKind,
    ProtocolError,
    Request,
    ResultsExpiredError,
    State,
    Task,
    TaskFailedError,
    UnprocessableError,
    ValidationError,
)
from kiekit.transport import HttpRequest, HttpResponse, MockTransport
from kiekit_contract import FAIL_MARKER, ProviderContract, client_for
from kiekit_mock import MockServer
from kiekit_runway import (
    AlephGenerate,
    AlephProvider,
    RunwayExtend,
    RunwayGenerate,
    RunwayProvider,
    VideoExpiredError,
)

GENERATE = "runway/generate"
EXTEND = "runway/extend"
ALEPH = "runway/aleph"
TASK = "ee603959-debb-48d1-98c4-a6d1c717eba6"  # Runway's doc examples use UUIDs (§1)
PARENT = "3a1c9e70-2b4d-4f8a-9c6e-5d7b1a0f2e84"
VIDEO = "https://tempfile.aiquickdraw.com/k/ee603959.mp4"
COVER = "https://tempfile.aiquickdraw.com/m/ee603959.png"
IMAGE = "https://example.com/cat.jpg"
CLIP = "https://example.com/input-video.mp4"

# -- record-detail (kie-api.md §3.4) -----------------------------------------------------------

WAIT = {
    "taskId": TASK,
    "parentTaskId": "",
    "generateParam": {"prompt": "a cat dancing", "imageUrl": IMAGE, "expandPrompt": True},
    "state": "wait",
    "generateTime": "2023-08-15 14:30:45",
    "videoInfo": None,
    "failCode": "",
    "failMsg": "",
    "expireFlag": 0,
}
VIDEO_INFO = {"videoId": "485da89c-7fca-4340-8c04-101025b2ae71", "taskId": TASK}
SUCCESS = WAIT | {
    "state": "success",
    "videoInfo": VIDEO_INFO | {"videoUrl": VIDEO, "imageUrl": COVER},
}
FAIL = WAIT | {"state": "fail", "failCode": "400", "failMsg": "Your prompt was caught"}
# one doc version: failCode an int, and every field filled in even while the task waits
DOC_WAIT = SUCCESS | {
    "state": "wait",
    "failCode": 400,
    "failMsg": "Generation failed, please try again later",
}
FAIL_INT = FAIL | {"failCode": 400}
# another: numeric id / parentId instead of taskId / parentTaskId
NUMERIC_IDS = {k: v for k, v in SUCCESS.items() if k not in ("taskId", "parentTaskId")} | {
    "id": 1035,
    "parentId": 0,
}
EXTENDED = SUCCESS | {"parentTaskId": PARENT}


class TestRunway(ProviderContract):
    provider = RunwayProvider()
    # runway/extend names an earlier succeeded task, which the contract's generated inputs
    # cannot: it is tested end to end below (test_extend_…) instead.
    models = (GENERATE,)
    # text-only generation needs an aspect ratio (a cross-field rule the specs alone miss)
    example_inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        GENERATE: {"prompt": "a cat dancing in a studio", "aspect_ratio": "16:9"}
    }
    documented_statuses = (
        (WAIT, State.QUEUED),
        (WAIT | {"state": "queueing"}, State.QUEUED),
        (DOC_WAIT, State.QUEUED),
        (WAIT | {"state": "generating"}, State.RUNNING),
        (SUCCESS, State.SUCCEEDED),
        (NUMERIC_IDS, State.SUCCEEDED),
        (EXTENDED, State.SUCCEEDED),
        (FAIL, State.FAILED),
        (FAIL_INT, State.FAILED),
    )


# -- Aleph record-info (D:runway-api/get-aleph-video-details) ----------------------------------

ALEPH_SUCCESS = {
    "taskId": TASK,
    "paramJson": '{"prompt":"watercolour style","videoUrl":"https://example.com/input-video.mp4"}',
    "response": {"taskId": TASK, "resultVideoUrl": VIDEO, "resultImageUrl": COVER},
    "completeTime": "2023-08-15T14:30:45Z",
    "createTime": "2023-08-15T14:25:00Z",
    "successFlag": 1,
    "errorCode": 0,
    "errorMessage": "",
}
ALEPH_PENDING = ALEPH_SUCCESS | {
    "response": None,
    "completeTime": None,
    "successFlag": 0,
    "errorCode": None,
}
# the page's "Generation Failed": successFlag stays 0, errorMessage says why (its code is ours)
ALEPH_FAILED = ALEPH_PENDING | {
    "errorCode": 400,
    "errorMessage": "Your prompt was caught by our AI moderator",
}
# A failure read from the error fields is the documented Aleph rule, not a state invented from
# an unknown value; the contract's sweep cannot tell the two apart (see the override below).
_FLIP = re.compile(r"([\w.]+)=.*? turned (\w+) into (\w+)")
_ALLOWED_FLIPS = {("errorMessage", "RUNNING", "FAILED"), ("errorCode", "RUNNING", "FAILED")}


class TestAleph(ProviderContract):
    provider = AlephProvider()
    documented_statuses = (
        (ALEPH_PENDING, State.RUNNING),
        (ALEPH_SUCCESS, State.SUCCEEDED),
        (ALEPH_FAILED, State.FAILED),
        (ALEPH_PENDING | {"successFlag": 3, "errorCode": 500}, State.FAILED),
    )

    def test_undocumented_values_never_change_the_state(self) -> None:
        """The whole sweep, except that text in ``errorMessage`` (or a non-zero ``errorCode``)
        on a successFlag-0 record reads as FAILED: that is how Aleph reports a failure."""
        try:
            super().test_undocumented_values_never_change_the_state()
        except AssertionError as exc:
            failure = str(exc)
        else:
            return
        flips = set(_FLIP.findall(failure))
        assert flips, failure  # it failed for another reason: show it
        assert flips <= _ALLOWED_FLIPS, failure


RUNWAY = RunwayProvider()
ALEPH_PROVIDER = AlephProvider()


def _no_http(request: HttpRequest) -> HttpResponse:
    return HttpResponse(500, b"no request was expected")


def _refused(fields: dict[str, Any], model: str = GENERATE) -> ValidationError:
    """The ValidationError a submit of ``fields`` raises, having sent nothing."""
    transport = MockTransport(_no_http)
    kie = client_for("http://127.0.0.1:9", transport=transport)
    with kie, pytest.raises(ValidationError) as caught:
        kie.submit(model, **fields)
    assert transport.requests == []
    return caught.value


# -- generate: inputs and the create call -----------------------------------------------------


@pytest.mark.parametrize(("duration", "quality"), [(5, "720p"), (5, "1080p"), (10, "720p")])
def test_documented_duration_and_quality_pairs(duration: int, quality: str) -> None:
    params = RunwayGenerate(prompt="a cat", aspect_ratio="16:9", duration=duration, quality=quality)
    assert (params.duration, params.quality) == (duration, quality)


@pytest.mark.parametrize("duration", [8, 10])
def test_1080p_only_with_the_short_duration(duration: int) -> None:
    error = _refused(
        {"prompt": "a cat", "aspect_ratio": "16:9", "duration": duration, "quality": "1080p"}
    )
    assert error.field == "quality"
    assert "5-second" in str(error)


def test_8_seconds_of_an_older_page_is_accepted() -> None:
    # §3.4 [SRC≠]: one page version says 5|8 instead of 5|10
    assert RunwayGenerate(prompt="a cat", aspect_ratio="9:16", duration=8).duration == 8


@pytest.mark.parametrize("duration", [4, 6, 15, "4", 5.0, "5s"])
def test_undocumented_duration_is_refused(duration: Any) -> None:
    assert _refused({"prompt": "a", "aspect_ratio": "16:9", "duration": duration}).field == (
        "duration"
    )


def test_text_only_generation_needs_an_aspect_ratio() -> None:
    error = _refused({"prompt": "a cat dancing"})
    assert error.field == "aspect_ratio"
    assert "image_url" in str(error)


def test_image_generation_may_leave_the_aspect_ratio_to_kie() -> None:
    params = RunwayGenerate(prompt="the cat dances", image_url=IMAGE)
    assert RUNWAY.build_request(GENERATE, params).body == {
        "prompt": "the cat dances",
        "imageUrl": IMAGE,
        "duration": 5,
        "quality": "720p",
    }


@pytest.mark.parametrize("ratio", ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"])
def test_every_aspect_ratio_of_any_page_is_accepted(ratio: str) -> None:
    assert RunwayGenerate(prompt="a cat", aspect_ratio=ratio).aspect_ratio == ratio


def test_generate_body_is_camel_case() -> None:
    params = RunwayGenerate(
        prompt="a cat",
        image_url=IMAGE,
        duration=10,
        quality="720p",
        aspect_ratio="9:16",
        water_mark="",
    )
    assert RUNWAY.build_request(GENERATE, params, callback_url="https://me.example/cb") == (
        Request(
            "POST",
            "/api/v1/runway/generate",
            body={
                "prompt": "a cat",
                "imageUrl": IMAGE,
                "duration": 10,
                "quality": "720p",
                "aspectRatio": "9:16",
                "waterMark": "",  # "" = no watermark, and it is sent
                "callBackUrl": "https://me.example/cb",
            },
        )
    )


def test_the_guides_body_reads_back_unchanged() -> None:
    guide = {  # guide §3.4, the curl example's body
        "prompt": "A cat dancing gracefully in a modern studio with soft lighting",
        "duration": 5,
        "quality": "720p",
        "aspectRatio": "16:9",
    }
    params = RUNWAY.make_input(GENERATE, guide)
    assert RUNWAY.build_request(GENERATE, params).body == guide


def test_params_of_the_other_model_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        RUNWAY.build_request(EXTEND, RunwayGenerate(prompt="a", aspect_ratio="16:9"))
    assert caught.value.field == "input"


# -- extend ------------------------------------------------------------------------------------


def test_extend_body_names_the_task_in_camel_case() -> None:
    params = RunwayExtend(task_id=PARENT, prompt="the cat bows", quality="1080p", water_mark="kie")
    assert RUNWAY.build_request(EXTEND, params) == Request(
        "POST",
        "/api/v1/runway/extend",
        body={"taskId": PARENT, "prompt": "the cat bows", "quality": "1080p", "waterMark": "kie"},
    )


def test_the_guides_extend_body_reads_back_unchanged() -> None:
    guide = {"taskId": "existing_task_id", "prompt": "Continue the scene", "quality": "720p"}
    assert RUNWAY.build_request(EXTEND, RUNWAY.make_input(EXTEND, guide)).body == guide


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"prompt": "go on"}, "task_id"),
        ({"task_id": " ", "prompt": "go on"}, "task_id"),
        ({"task_id": PARENT}, "prompt"),
        ({"task_id": PARENT, "prompt": "go on", "quality": "4k"}, "quality"),
    ],
)
def test_extend_input_is_checked_before_sending(fields: dict[str, Any], field: str) -> None:
    assert _refused(fields, EXTEND).field == field


def test_extend_by_task_id_end_to_end(
    kie_client: Client, kie_mock: MockServer, tmp_path: Path
) -> None:
    first = kie_client.submit(GENERATE, prompt="a cat dances", aspect_ratio="16:9")
    kie_client.wait(first)
    longer = kie_client.submit(EXTEND, task_id=first.id, prompt="the cat takes a bow")
    files = kie_client.download(kie_client.wait(longer), tmp_path)
    # the video first, under the name it always had; then its cover still (an extra)
    assert [f.name for f in files] == [f"{longer.id}-0.mp4", f"{longer.id}-cover-1.png"]
    assert files[0].read_bytes()[4:8] == b"ftyp"
    assert files[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sent = [r.body for r in kie_mock.requests() if r.path == "/api/v1/runway/extend"]
    assert sent == [
        {"taskId": first.id, "prompt": "the cat takes a bow", "quality": "720p"},
    ]
    record = RUNWAY.record(longer.id, kie_client.status(longer).raw)
    assert record.parent_task_id == first.id


def test_extend_of_an_unknown_task_is_refused_by_kie(kie_client: Client) -> None:
    with pytest.raises(UnprocessableError) as caught:
        kie_client.submit(EXTEND, task_id="existing_task_id", prompt="Continue the scene")
    assert caught.value.code == 422


def test_failed_extension_keeps_fail_code(kie_client: Client) -> None:
    first = kie_client.submit(GENERATE, prompt="a cat", aspect_ratio="1:1")
    kie_client.wait(first)
    longer = kie_client.submit(EXTEND, task_id=first.id, prompt=f"bow {FAIL_MARKER}")
    with pytest.raises(TaskFailedError) as caught:
        kie_client.wait(longer)
    assert (caught.value.task_id, caught.value.fail_code) == (longer.id, "400")


# -- reading record-detail ---------------------------------------------------------------------


def test_status_is_polled_at_record_detail() -> None:
    assert RUNWAY.status_request(TASK) == Request(
        "GET", "/api/v1/runway/record-detail", query={"taskId": TASK}
    )


@pytest.mark.parametrize("state", ["waiting", "queuing"])
def test_market_state_spellings_are_protocol_errors(state: str) -> None:
    # §9.3: waiting/queuing are the jobs API's words; Runway's are wait/queueing
    with pytest.raises(ProtocolError, match=r"§9\.3"):
        RUNWAY.parse_status(TASK, WAIT | {"state": state})


@pytest.mark.parametrize("state", ["SUCCESS", "queued", "running", "", None, 1])
def test_other_unknown_states_are_protocol_errors(state: Any) -> None:
    with pytest.raises(ProtocolError):
        RUNWAY.parse_status(TASK, WAIT | {"state": state})


def test_failure_keeps_fail_code_and_message() -> None:
    status = RUNWAY.parse_status(TASK, FAIL_INT)
    assert (status.fail_code, status.fail_message) == ("400", "Your prompt was caught")


def test_fail_details_of_a_waiting_task_are_dropped() -> None:
    # the doc example fills failCode/failMsg even while waiting: they mean nothing there
    status = RUNWAY.parse_status(TASK, DOC_WAIT)
    assert (status.state, status.fail_code, status.fail_message) == (State.QUEUED, None, None)


def test_numeric_ids_are_read_as_text() -> None:
    record = RUNWAY.record(TASK, NUMERIC_IDS)
    assert (record.id, record.parent_id, record.task_id) == ("1035", "0", None)


def test_the_video_is_the_result_and_its_cover_an_extra() -> None:
    # the cover still KIE hands out (videoInfo.imageUrl, §3.4) is downloaded too, as an
    # extra: the video stays the first file, under the name it always had
    results = RUNWAY.extract_results(TASK, SUCCESS)
    assert [(a.url, a.kind, a.media_type, a.label, a.role) for a in results.assets] == [
        (VIDEO, MediaKind.VIDEO, "video/mp4", None, AssetRole.MAIN),
        (COVER, MediaKind.IMAGE, "image/png", "cover", AssetRole.EXTRA),
    ]
    assert results.main == results.assets[:1]
    assert RUNWAY.with_cover(results) == results  # kept for older code: adds nothing twice


def test_no_cover_no_extra_asset() -> None:
    payload = SUCCESS | {"videoInfo": VIDEO_INFO | {"videoUrl": VIDEO, "imageUrl": ""}}
    results = RUNWAY.extract_results(TASK, payload)
    assert [a.url for a in results.assets] == [VIDEO]
    assert RUNWAY.with_cover(results).assets == results.assets


@pytest.mark.parametrize("info", [None, VIDEO_INFO, VIDEO_INFO | {"videoUrl": "file.mp4"}])
def test_success_without_a_video_link_is_a_protocol_error(info: Any) -> None:
    with pytest.raises(ProtocolError):
        RUNWAY.extract_results(TASK, SUCCESS | {"videoInfo": info})


# -- expireFlag --------------------------------------------------------------------------------

EXPIRED = SUCCESS | {"expireFlag": 1}


def test_an_expired_video_is_still_a_succeeded_task() -> None:
    assert RUNWAY.parse_status(TASK, EXPIRED).state is State.SUCCEEDED


def test_an_expired_video_is_never_handed_out() -> None:
    with pytest.raises(VideoExpiredError) as caught:
        RUNWAY.extract_results(TASK, EXPIRED)
    assert isinstance(caught.value, ProtocolError)
    # kiekit's one error for results past retention: the journal closes the row on it
    assert isinstance(caught.value, ResultsExpiredError)
    assert caught.value.task_id == TASK
    assert "14 days" in str(caught.value)


def test_an_extend_names_the_video_it_continues_as_its_parent() -> None:
    params = RUNWAY.make_input(EXTEND, task_id=TASK, prompt="on")
    assert RUNWAY.parent_task_id(EXTEND, params) == TASK
    generate = RUNWAY.make_input(GENERATE, prompt="a cat", aspect_ratio="16:9")
    assert RUNWAY.parent_task_id(GENERATE, generate) is None


@pytest.mark.parametrize("flag", [2, -1, "1x", True])
def test_undocumented_expire_flag_is_a_protocol_error(flag: Any) -> None:
    with pytest.raises(ProtocolError) as caught:
        RUNWAY.extract_results(TASK, SUCCESS | {"expireFlag": flag})
    assert not isinstance(caught.value, VideoExpiredError)


def test_wait_on_an_expired_task_raises_video_expired() -> None:
    def answer(request: HttpRequest) -> HttpResponse:
        body = {"code": 200, "msg": "success", "data": EXPIRED}
        return HttpResponse(200, json.dumps(body).encode())

    with (
        client_for("http://127.0.0.1:9", transport=MockTransport(answer)) as kie,
        pytest.raises(VideoExpiredError),
    ):
        kie.wait(Task(TASK, GENERATE))


# -- Aleph -------------------------------------------------------------------------------------


def test_aleph_body_is_camel_case() -> None:
    params = AlephGenerate(
        prompt="watercolour",
        video_url=CLIP,
        aspect_ratio="21:9",
        seed=4_294_967_295,
        reference_image=IMAGE,
        water_mark="kie.ai",
        upload_cn=False,
    )
    assert ALEPH_PROVIDER.build_request(ALEPH, params, callback_url="https://me.example/cb") == (
        Request(
            "POST",
            "/api/v1/aleph/generate",
            body={
                "prompt": "watercolour",
                "videoUrl": CLIP,
                "aspectRatio": "21:9",
                "seed": 4_294_967_295,
                "referenceImage": IMAGE,
                "waterMark": "kie.ai",
                "uploadCn": False,
                "callBackUrl": "https://me.example/cb",
            },
        )
    )


def test_aleph_needs_a_video() -> None:
    assert _refused({"prompt": "watercolour"}, ALEPH).field == "video_url"


def test_aleph_is_polled_at_its_own_record_info() -> None:
    assert ALEPH_PROVIDER.status_request(TASK) == Request(
        "GET", "/api/v1/aleph/record-info", query={"taskId": TASK}
    )


@pytest.mark.parametrize(
    ("errors", "state"),
    [
        ({"errorCode": None, "errorMessage": ""}, State.RUNNING),
        ({"errorCode": 0, "errorMessage": None}, State.RUNNING),
        ({"errorCode": None, "errorMessage": "Failed to fetch the image"}, State.FAILED),
        ({"errorCode": 500, "errorMessage": ""}, State.FAILED),
    ],
)
def test_aleph_flag_0_with_an_error_is_a_failure(errors: dict[str, Any], state: State) -> None:
    # "successFlag: 1 = success, 0 = failed or in progress" (D:runway-api/get-aleph-video-details)
    assert ALEPH_PROVIDER.parse_status(TASK, ALEPH_PENDING | errors).state is state


def test_aleph_failure_keeps_code_and_message() -> None:
    status = ALEPH_PROVIDER.parse_status(TASK, ALEPH_FAILED)
    assert (status.fail_code, status.fail_message) == (
        "400",
        "Your prompt was caught by our AI moderator",
    )


def test_aleph_video_and_cover() -> None:
    results = ALEPH_PROVIDER.extract_results(TASK, ALEPH_SUCCESS)
    assert [(a.url, a.kind, a.label, a.role) for a in results.assets] == [
        (VIDEO, MediaKind.VIDEO, None, AssetRole.MAIN),
        (COVER, MediaKind.IMAGE, "cover", AssetRole.EXTRA),
    ]
    assert ALEPH_PROVIDER.with_cover(results) == results


def test_aleph_expired_video_is_never_handed_out() -> None:
    with pytest.raises(VideoExpiredError):
        ALEPH_PROVIDER.extract_results(TASK, ALEPH_SUCCESS | {"expireFlag": 1})


@pytest.mark.parametrize("state", ["success", "wait"])
def test_aleph_does_not_read_runway_states(state: str) -> None:
    payload = {k: v for k, v in ALEPH_PENDING.items() if k != "successFlag"} | {"state": state}
    with pytest.raises(ProtocolError):
        ALEPH_PROVIDER.parse_status(TASK, payload)
