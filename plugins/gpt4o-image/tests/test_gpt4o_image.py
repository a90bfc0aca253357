"""4o Image: the provider contract, plus the wire facts a user of this plugin relies on.

Payloads follow kie-api.md §3.1 (KIE's get-4-o-image-details example: int millisecond times, a
``status`` word beside ``successFlag``, ``progress`` as a string) and the guide's §2.1 variant
(``successFlag: "1"`` as a string, ``response.result_urls`` in snake_case, no taskId).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from kiekit import (
    Asset,
    Client,
    MediaKind,
    ProtocolError,
    QueueFullError,
    Request,
    Results,
    State,
    TaskStatus,
    UnprocessableError,
    ValidationError,
)
from kiekit.transport import HttpRequest, HttpResponse, MockTransport
from kiekit_contract import ProviderContract, client_for
from kiekit_gpt4o_image import Gpt4oImage, Gpt4oImageProvider
from kiekit_mock import MockServer

MODEL = "gpt4o-image"
TASK = "task12345"
RESULT = "https://tempfile.aiquickdraw.com/s/4o-result-1.png"
RESULT_2 = "https://tempfile.aiquickdraw.com/s/4o-result-2.png"
IMAGE = "https://example.com/image.jpg"
MASK = "https://example.com/mask.png"

# kie-api.md §3.1, the get-4-o-image-details example
SUCCESS = {
    "taskId": TASK,
    "paramJson": '{"prompt":"A sunset over the mountains","size":"1:1","isEnhance":false}',
    "completeTime": 1672574400000,
    "createTime": 1672561200000,
    "response": {"resultUrls": [RESULT]},
    "successFlag": 1,
    "status": "SUCCESS",
    "errorCode": None,
    "errorMessage": "",
    "progress": "1.00",
}
GENERATING = SUCCESS | {
    "completeTime": None,
    "response": None,
    "successFlag": 0,
    "status": "GENERATING",
    "progress": "0.45",
}
CREATE_FAILED = GENERATING | {
    "successFlag": 2,
    "status": "CREATE_TASK_FAILED",
    "errorCode": 400,
    "errorMessage": "Your content was flagged by OpenAI as violating content policies",
}
GENERATE_FAILED = GENERATING | {
    "completeTime": 1672574400000,
    "successFlag": 3,
    "status": "GENERATE_FAILED",
    "errorCode": 500,
    "errorMessage": "Failed to generate image",
}
# the guide's §2.1 status example, unchanged
GUIDE_SUCCESS = {
    "successFlag": "1",
    "progress": "1.00",
    "response": {"result_urls": ["https://example.com/generated-image.png"]},
}
# KIE's 4o quickstart page sketches a record with only the status word
QUICKSTART_SUCCESS = {
    "taskId": "task_4o_abc123",
    "status": "SUCCESS",
    "response": {"result_urls": ["https://example.com/generated-image.png"]},
}


class TestGpt4oImage(ProviderContract):
    provider = Gpt4oImageProvider()
    documented_statuses = (
        (GENERATING, State.RUNNING, 0.45),  # progress "0.45" (§3.1)
        (SUCCESS, State.SUCCEEDED),
        (CREATE_FAILED, State.FAILED),
        (GENERATE_FAILED, State.FAILED),
        (GUIDE_SUCCESS, State.SUCCEEDED),
        (QUICKSTART_SUCCESS, State.SUCCEEDED),
    )
    # neither prompt nor files_url is required alone, so the smallest input needs a prompt
    example_inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        MODEL: {"prompt": "a lighthouse at dawn", "size": "1:1", "n_variants": 2}
    }


PROVIDER = Gpt4oImageProvider()


def _no_http(request: HttpRequest) -> HttpResponse:
    return HttpResponse(500, b"no request was expected")


def _refused(fields: dict[str, Any]) -> str:
    """The field a ValidationError names for ``fields``; asserts nothing was sent."""
    transport = MockTransport(_no_http)
    kie = client_for("http://127.0.0.1:9", transport=transport)
    with kie, pytest.raises(ValidationError) as caught:
        kie.submit(MODEL, **fields)
    assert transport.requests == []
    return caught.value.field


# -- input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [None, "16:9", "1:1 ", 1])
def test_size_is_required_and_one_of_three(size: Any) -> None:
    fields = {"prompt": "a fox"} if size is None else {"prompt": "a fox", "size": size}
    assert _refused(fields) == "size"


@pytest.mark.parametrize("size", ["1:1", "3:2", "2:3"])
def test_documented_sizes_are_accepted(size: str) -> None:
    assert Gpt4oImage(prompt="a fox", size=size).size == size


@pytest.mark.parametrize("n", [0, 3, 5, "2", True, 2.0])
def test_n_variants_is_1_2_or_4(n: Any) -> None:
    assert _refused({"prompt": "a fox", "size": "1:1", "n_variants": n}) == "n_variants"


@pytest.mark.parametrize("n", [1, 2, 4])
def test_n_variants_accepted(n: int) -> None:
    assert Gpt4oImage(prompt="a fox", size="1:1", n_variants=n).n_variants == n


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"prompt": ""},
        {"prompt": "   "},
        {"prompt": "  ", "files_url": []},
    ],
)
def test_a_prompt_or_input_images_are_needed(fields: dict[str, Any]) -> None:
    assert _refused({"size": "1:1", **fields}) == "prompt"


def test_input_images_alone_are_enough() -> None:
    params = Gpt4oImage(size="2:3", files_url=(IMAGE,))
    assert PROVIDER.build_request(MODEL, params).body == {"size": "2:3", "filesUrl": [IMAGE]}


def test_at_most_five_input_images() -> None:
    five = tuple(f"https://example.com/{i}.png" for i in range(5))
    assert Gpt4oImage(size="1:1", files_url=five).files_url == five
    assert _refused({"size": "1:1", "files_url": [*five, IMAGE]}) == "files_url"


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": "make it night", "mask_url": MASK},
        {"prompt": "make it night", "mask_url": MASK, "files_url": []},
    ],
    ids=["no files", "empty files"],
)
def test_a_mask_needs_an_image_to_edit(fields: dict[str, Any]) -> None:
    assert _refused({"size": "3:2", **fields}) == "mask_url"


def test_a_mask_beside_several_images_is_passed_on() -> None:
    # KIE: the mask "is not available" with more than one image; it is KIE's to ignore
    params = Gpt4oImage(size="1:1", files_url=(IMAGE, MASK), mask_url=MASK)
    assert PROVIDER.build_request(MODEL, params).body == {
        "size": "1:1",
        "filesUrl": [IMAGE, MASK],
        "maskUrl": MASK,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("is_enhance", "true"),
        ("upload_cn", 1),
        ("enable_fallback", "yes"),
        ("fallback_model", "DALL_E_3"),
        ("mask_url", "mask.png"),
        ("files_url", IMAGE),
    ],
)
def test_other_fields_are_checked(field: str, value: Any) -> None:
    assert _refused({"prompt": "a fox", "size": "1:1", field: value}) == field


def test_fallback_model_may_come_without_enable_fallback() -> None:
    # KIE: it "takes effect when enableFallback is true"; sent alone it is simply unused
    params = Gpt4oImage(prompt="a fox", size="1:1", fallback_model="GPT_IMAGE_1")
    assert PROVIDER.build_request(MODEL, params).body == {
        "prompt": "a fox",
        "size": "1:1",
        "fallbackModel": "GPT_IMAGE_1",
    }


def test_command_line_text_is_read_as_the_field_types() -> None:
    params = PROVIDER.make_input(
        MODEL,
        {"prompt": "a fox", "size": "1:1", "n_variants": "4", "is_enhance": "true"},
        from_text=True,
    )
    assert (params.n_variants, params.is_enhance) == (4, True)  # type: ignore[attr-defined]


# -- the request ---------------------------------------------------------------------------


def test_body_is_camel_case_without_a_model_field() -> None:
    params = Gpt4oImage(
        prompt="Replace sky with starry night",
        size="3:2",
        files_url=(IMAGE,),
        mask_url=MASK,
        n_variants=4,
        is_enhance=True,
        upload_cn=False,
        enable_fallback=True,
        fallback_model="FLUX_MAX",
    )
    assert PROVIDER.build_request(MODEL, params, callback_url="https://me.example/cb") == Request(
        "POST",
        "/api/v1/gpt4o-image/generate",
        body={
            "prompt": "Replace sky with starry night",
            "size": "3:2",
            "filesUrl": [IMAGE],
            "maskUrl": MASK,
            "nVariants": 4,
            "isEnhance": True,
            "uploadCn": False,
            "enableFallback": True,
            "fallbackModel": "FLUX_MAX",
            "callBackUrl": "https://me.example/cb",
        },
    )


def test_the_guides_edit_example_is_what_the_provider_sends() -> None:
    guide_edit = {  # guide §2.1, the edit request body
        "filesUrl": ["https://example.com/image.jpg"],
        "maskUrl": "https://example.com/mask.png",
        "prompt": "Replace sky with starry night",
        "size": "3:2",
    }
    params = PROVIDER.make_input(
        MODEL, files_url=[IMAGE], mask_url=MASK, prompt="Replace sky with starry night", size="3:2"
    )
    assert PROVIDER.build_request(MODEL, params).body == guide_edit


def test_unset_fields_stay_off_the_wire_so_kie_defaults_apply() -> None:
    body = PROVIDER.build_request(MODEL, Gpt4oImage(prompt="a fox", size="1:1")).body
    assert body == {"prompt": "a fox", "size": "1:1"}


def test_status_is_polled_at_record_info() -> None:
    assert PROVIDER.status_request(TASK) == Request(
        "GET", "/api/v1/gpt4o-image/record-info", query={"taskId": TASK}
    )


# -- reading the record --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("progress", "expected"), [("0.00", 0.0), ("0.45", 0.45), ("1.00", 1.0), (0.5, 0.5)]
)
def test_progress_string_is_read_as_a_fraction(progress: Any, expected: float) -> None:
    status = PROVIDER.parse_status(TASK, GENERATING | {"progress": progress})
    assert status.state is State.RUNNING
    assert status.progress == pytest.approx(expected)


def test_progress_is_optional() -> None:
    payload = {k: v for k, v in GENERATING.items() if k != "progress"}
    assert PROVIDER.parse_status(TASK, payload).progress is None


def test_progress_that_is_no_number_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        PROVIDER.parse_status(TASK, GENERATING | {"progress": "almost"})


@pytest.mark.parametrize(
    "response",
    [
        {"resultUrls": [RESULT, RESULT_2]},
        {"result_urls": [RESULT, RESULT_2]},
        {"resultUrls": [RESULT, RESULT_2], "result_urls": ["https://elsewhere.example/x.png"]},
        {"resultUrls": None, "result_urls": [RESULT, RESULT_2]},
    ],
    ids=["camelCase", "snake_case", "both: camelCase wins", "null camelCase"],
)
def test_both_result_url_spellings_give_images(response: dict[str, Any]) -> None:
    results = PROVIDER.extract_results(TASK, SUCCESS | {"response": response})
    assert [a.url for a in results.assets] == [RESULT, RESULT_2]
    assert {(a.kind, a.media_type) for a in results.assets} == {(MediaKind.IMAGE, "image/png")}


@pytest.mark.parametrize(
    "response", [{}, {"resultUrls": []}, {"resultUrls": "https://x.example/a.png"}, None]
)
def test_success_without_result_urls_is_a_protocol_error(response: Any) -> None:
    with pytest.raises(ProtocolError):
        PROVIDER.extract_results(TASK, SUCCESS | {"response": response})


def test_the_guides_abbreviated_record_reads() -> None:
    status = PROVIDER.parse_status(TASK, GUIDE_SUCCESS)
    assert (status.task_id, status.state, status.progress) == (TASK, State.SUCCEEDED, 1.0)


@pytest.mark.parametrize(("flag", "word"), [(0, "SUCCESS"), (1, "GENERATE_FAILED"), (3, "SUCCESS")])
def test_a_status_word_contradicting_the_flag_is_a_protocol_error(flag: int, word: str) -> None:
    with pytest.raises(ProtocolError, match="contradicts"):
        PROVIDER.parse_status(TASK, GENERATING | {"successFlag": flag, "status": word})


def test_an_unknown_status_word_beside_a_flag_is_left_to_the_flag() -> None:
    payload = GENERATING | {"status": "QUEUEING"}
    assert PROVIDER.parse_status(TASK, payload).state is State.RUNNING


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        (CREATE_FAILED, "400", CREATE_FAILED["errorMessage"]),
        (GENERATE_FAILED, "500", "Failed to generate image"),
    ],
)
def test_failure_keeps_error_code_and_message(payload: Any, code: str, message: str) -> None:
    status = PROVIDER.parse_status(TASK, payload)
    assert (status.state, status.fail_code, status.fail_message) == (State.FAILED, code, message)


@pytest.mark.parametrize("flag", [4, -1, "GENERATING", None])
def test_undocumented_success_flag_is_a_protocol_error(flag: Any) -> None:
    # Luma's flag 4 belongs to Luma (§3.5); a missing flag with no status word cannot be read
    payload = {k: v for k, v in GENERATING.items() if k != "status"} | {"successFlag": flag}
    with pytest.raises(ProtocolError):
        PROVIDER.parse_status(TASK, payload)


# -- download-url --------------------------------------------------------------------------


def test_download_url_request() -> None:
    assert PROVIDER.download_url_request(TASK, RESULT) == Request(
        "POST", "/api/v1/gpt4o-image/download-url", body={"taskId": TASK, "url": RESULT}
    )


@pytest.mark.parametrize(
    ("task_id", "url", "field"),
    [("", RESULT, "task_id"), ("  ", RESULT, "task_id"), (TASK, "x.png", "url"), (TASK, "", "url")],
)
def test_download_url_request_checks_its_arguments(task_id: str, url: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PROVIDER.download_url_request(task_id, url)
    assert caught.value.field == field


PRESIGNED = "https://x.r2.cloudflarestorage.com/v/x.png?X-Amz-Expires=1200&X-Amz-Signature=ab"


@pytest.mark.parametrize("data", [PRESIGNED, {"downloadUrl": PRESIGNED}])
def test_parse_download_url(data: Any) -> None:
    assert PROVIDER.parse_download_url(data) == PRESIGNED


@pytest.mark.parametrize("data", [None, 42, "", "not a link", ["https://x.example/a.png"], {}])
def test_download_url_answer_that_is_no_url_is_a_protocol_error(data: Any) -> None:
    with pytest.raises(ProtocolError) as caught:
        PROVIDER.parse_download_url(data, task_id=TASK)
    assert caught.value.task_id == TASK


# -- against the mock ----------------------------------------------------------------------


def test_variants_download_and_a_fresh_link_serves_the_same_image(
    kie_client: Client, kie_mock: MockServer, tmp_path: Path
) -> None:
    task = kie_client.submit(MODEL, prompt="a red fox", size="3:2", n_variants=2)
    seen: list[TaskStatus] = []
    results = kie_client.wait(task, on_status=seen.append)
    progress = [s.progress for s in seen]  # the mock's "0.00", "0.67", "1.00"
    assert progress == pytest.approx([0.0, 0.67, 1.0])
    assert [s.state for s in seen] == [State.RUNNING, State.RUNNING, State.SUCCEEDED]
    files = kie_client.download(results, tmp_path / "results")
    assert [f.name for f in files] == [f"{task.id}-0.png", f"{task.id}-1.png"]
    assert all(f.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for f in files)
    assert files[0].read_bytes() != files[1].read_bytes()

    first = results.assets[1]
    data = kie_client.call(PROVIDER.download_url_request(task.id, first.url), task_id=task.id)
    link = PROVIDER.parse_download_url(data, task_id=task.id)
    assert link != first.url
    (fresh,) = kie_client.download(
        Results(task_id=task.id, assets=(Asset(link, MediaKind.IMAGE),)),
        tmp_path / "fresh",
    )
    assert fresh.read_bytes() == files[1].read_bytes()

    sent = [r.body for r in kie_mock.requests() if r.path == "/api/v1/gpt4o-image/generate"]
    assert sent == [{"prompt": "a red fox", "size": "3:2", "nVariants": 2}]


def test_download_url_refuses_a_url_that_is_not_the_tasks(kie_client: Client) -> None:
    task = kie_client.submit(MODEL, prompt="a red fox", size="1:1")
    kie_client.wait(task)
    request = PROVIDER.download_url_request(task.id, "https://example.com/elsewhere.png")
    with pytest.raises(UnprocessableError) as caught:
        kie_client.call(request, task_id=task.id)
    assert (caught.value.code, caught.value.kie_message) == (422, "url is wrong")


def test_queue_full_raises_a_retryable_error_and_creates_nothing(
    kie_client: Client, kie_mock: MockServer
) -> None:
    with pytest.raises(QueueFullError) as caught:
        kie_client.submit(MODEL, prompt="a fox [mock:queue-full]", size="1:1")
    assert caught.value.code == 550
    assert caught.value.retryable is True
    assert kie_mock.tasks() == []
