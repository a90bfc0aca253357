"""The shared family logic: each vocabulary onto the closed set of states, results as assets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from attrs import frozen
from kiekit import Asset, Input, MediaKind, Model, ProtocolError, Request, State, ValidationError
from kiekit.families.assets import asset
from kiekit.families.market import MarketProvider
from kiekit.families.success_flag import SuccessFlagProvider
from kiekit.fields import text

TASK_ID = "5f488be792eafad4b066e21e5bc472c7"


@frozen
class Prompt(Input):
    prompt: str = text()
    style_name: str | None = text(default=None, required=False)


class Market(MarketProvider):
    name = "test-market"
    models = (
        Model("test/video", Prompt, MediaKind.VIDEO),
        Model("test/chat", Prompt, MediaKind.TEXT),
    )


class Legacy(SuccessFlagProvider):
    name = "test-legacy"
    models = (Model("test-legacy", Prompt, MediaKind.IMAGE),)
    create_path = "/api/v1/legacy/generate"
    status_path = "/api/v1/legacy/record-info"

    def assets(self, task_id: str, response: Mapping[str, Any]) -> tuple[Asset, ...]:
        return tuple(asset(u, MediaKind.IMAGE, task_id=task_id) for u in response["resultUrls"])


def legacy_data(flag: Any, **extra: Any) -> dict[str, Any]:
    return {"taskId": TASK_ID, "successFlag": flag, "errorCode": None, "errorMessage": "", **extra}


# -- market ----------------------------------------------------------------------------------------


def test_market_create_request() -> None:
    request = Market().build_request(
        "test/video", Prompt(prompt="p", style_name="noir"), callback_url="https://me/cb"
    )

    assert request == Request(
        "POST",
        "/api/v1/jobs/createTask",
        body={
            "model": "test/video",
            "callBackUrl": "https://me/cb",
            "input": {"prompt": "p", "style_name": "noir"},
        },
    )


def test_market_status_request() -> None:
    assert Market().status_request("t1") == Request(
        "GET", "/api/v1/jobs/recordInfo", query={"taskId": "t1"}
    )


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("waiting", State.QUEUED),
        ("queuing", State.QUEUED),
        ("generating", State.RUNNING),
        ("success", State.SUCCEEDED),
        ("fail", State.FAILED),
    ],
)
def test_market_states(kit: SimpleNamespace, state: str, expected: State) -> None:
    data = kit.market_data(state, model="test/video", urls=["https://cdn/v.mp4"])

    status = Market().parse_status(TASK_ID, data)

    assert status.state is expected
    assert status.task_id == TASK_ID
    assert status.raw == data
    assert status.state.finished is (state in ("success", "fail"))


@pytest.mark.parametrize("state", ["waiting", "queuing", "generating"])
@pytest.mark.parametrize("extra", [{}, {"progress": None, "failMsg": "", "model": None}])
def test_a_pending_poll_reads_the_same_without_the_converter(
    kit: SimpleNamespace, state: str, extra: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Most polls carry nothing but their state: they are read plainly, to the same status the
    whole record gives."""
    data = {**kit.market_data(state), **extra}
    whole = Market().parse_status(TASK_ID, data)
    monkeypatch.setattr(Market, "record", lambda *_: pytest.fail("read with the converter"))
    assert Market().parse_status(TASK_ID, data) == whole


@pytest.mark.parametrize(
    "odd",
    [
        {"state": 3},  # not text
        {"taskId": 42},  # an id that is not text
        {"progress": "lots"},  # a field that says more, and wrongly
        {"resultJson": "{not json"},
    ],
)
def test_a_pending_poll_that_says_more_or_wrongly_is_read_in_full(
    kit: SimpleNamespace, odd: dict[str, Any]
) -> None:
    with pytest.raises(ProtocolError) as info:
        Market().parse_status(TASK_ID, {**kit.market_data("generating"), **odd})
    assert info.value.task_id == TASK_ID


@pytest.mark.parametrize("state", ["queueing", "wait", "Success", "FAILED", "cancelled"])
def test_unknown_market_states_are_protocol_errors(kit: SimpleNamespace, state: str) -> None:
    with pytest.raises(ProtocolError, match=state) as info:
        Market().parse_status(TASK_ID, kit.market_data(state))

    assert info.value.task_id == TASK_ID


def test_market_failure_keeps_kies_code_and_message(kit: SimpleNamespace) -> None:
    data = kit.market_data("fail", fail_code="422", fail_msg="Invalid prompt")

    status = Market().parse_status(TASK_ID, data)

    assert (status.fail_code, status.fail_message) == ("422", "Invalid prompt")


def test_market_fail_fields_are_ignored_unless_failed(kit: SimpleNamespace) -> None:
    """The docs show "" for failCode/failMsg on running tasks (§2.2)."""
    status = Market().parse_status(
        TASK_ID, kit.market_data("generating", fail_code="", fail_msg="")
    )

    assert (status.fail_code, status.fail_message) == (None, None)


@pytest.mark.parametrize(
    ("progress", "expected"),
    [(None, None), (0, 0.0), (45, 0.45), ("45", 0.45), (100, 1.0), (130, 1.0)],
)
def test_market_progress_is_a_fraction(kit: SimpleNamespace, progress: Any, expected: Any) -> None:
    """Sora 2 reports progress 0–100 (§2.2); kiekit says 0.0–1.0."""
    status = Market().parse_status(TASK_ID, kit.market_data("generating", progress=progress))

    assert status.progress == (pytest.approx(expected) if expected is not None else None)


def test_market_success_is_complete(kit: SimpleNamespace) -> None:
    status = Market().parse_status(TASK_ID, kit.market_data("success", urls=["https://cdn/a.mp4"]))

    assert status.progress == 1.0


def test_market_results_are_typed_assets(kit: SimpleNamespace) -> None:
    urls = ["https://cdn/a.mp4", "https://cdn/b.mp4"]
    data = kit.market_data("success", model="test/video", urls=urls)

    results = Market().extract_results(TASK_ID, data)

    assert results.task_id == TASK_ID
    assert results.assets == (
        Asset("https://cdn/a.mp4", MediaKind.VIDEO, "video/mp4"),
        Asset("https://cdn/b.mp4", MediaKind.VIDEO, "video/mp4"),
    )
    assert results.raw == data


def test_a_market_status_of_data_null_says_kie_has_no_record_of_the_task() -> None:
    # kie-api.md §2.2, §11: an unknown id may be answered {"code":200,"data":null}, as Suno's is
    with pytest.raises(ProtocolError) as caught:
        Market().parse_status(TASK_ID, None)
    assert str(caught.value).startswith("KIE has no record of this task")
    assert caught.value.task_id == TASK_ID


def test_market_text_results_have_no_files(kit: SimpleNamespace) -> None:
    data = kit.market_data("success", model="test/chat")
    data["resultJson"] = json.dumps({"resultObject": {"text": "hello"}})

    results = Market().extract_results(TASK_ID, data)

    assert results.assets == ()
    assert results.raw["resultJson"]


@pytest.mark.parametrize(
    "result_json",
    [
        "",
        "[]",
        json.dumps({"resultUrls": []}),
        json.dumps({"resultUrls": "https://cdn/a.mp4"}),
        json.dumps({"resultUrls": ["ftp://cdn/a.mp4"]}),
        json.dumps({"resultUrls": [None]}),
        json.dumps({"other": 1}),
        "{broken",
    ],
)
def test_market_results_that_cannot_be_read_are_protocol_errors(
    kit: SimpleNamespace, result_json: str
) -> None:
    data = kit.market_data("success", model="test/video")
    data["resultJson"] = result_json

    with pytest.raises(ProtocolError) as info:
        Market().extract_results(TASK_ID, data)

    assert info.value.task_id == TASK_ID


def test_market_results_of_an_unfinished_task_are_a_protocol_error(kit: SimpleNamespace) -> None:
    with pytest.raises(ProtocolError):
        Market().extract_results(TASK_ID, kit.market_data("generating"))


@pytest.mark.parametrize("data", [{"taskId": "abc", "recordId": "abc"}, {"taskId": "abc"}])
def test_created_task_id(data: dict[str, Any]) -> None:
    assert Market().parse_created(data) == "abc"


# -- successFlag -----------------------------------------------------------------------------------


def test_success_flag_create_request_is_camel_case() -> None:
    request = Legacy().build_request("test-legacy", Prompt(prompt="p", style_name="noir"))

    assert request == Request(
        "POST", "/api/v1/legacy/generate", body={"prompt": "p", "styleName": "noir"}
    )


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        (0, State.RUNNING),
        (1, State.SUCCEEDED),
        (2, State.FAILED),
        (3, State.FAILED),
        ("1", State.SUCCEEDED),
    ],
)
def test_success_flags(flag: Any, expected: State) -> None:
    data = legacy_data(flag, response={"resultUrls": ["https://cdn/a.png"]})

    assert Legacy().parse_status(TASK_ID, data).state is expected


@pytest.mark.parametrize("flag", [4, 5, -1, 99])
def test_unknown_success_flags_are_protocol_errors(flag: int) -> None:
    with pytest.raises(ProtocolError, match=str(flag)):
        Legacy().parse_status(TASK_ID, legacy_data(flag))


def test_success_flag_failure_keeps_an_int_error_code_as_text() -> None:
    status = Legacy().parse_status(
        TASK_ID, legacy_data(3, errorCode=501, errorMessage="generation failed")
    )

    assert (status.fail_code, status.fail_message) == ("501", "generation failed")


def test_an_empty_error_message_reads_as_none() -> None:
    status = Legacy().parse_status(TASK_ID, legacy_data(2, errorCode=400, errorMessage=""))

    assert status.fail_message is None


@pytest.mark.parametrize(
    ("raw", "expected"), [("0.45", 0.45), ("1.00", 1.0), (1.7, 1.0), (-1, 0.0)]
)
def test_success_flag_progress_is_clamped(raw: Any, expected: float) -> None:
    status = Legacy().parse_status(TASK_ID, legacy_data(0, progress=raw))

    assert status.progress == pytest.approx(expected)


def test_success_flag_results() -> None:
    data = legacy_data(1, response={"resultUrls": ["https://cdn/a.png"]})

    results = Legacy().extract_results(TASK_ID, data)

    assert results.assets == (Asset("https://cdn/a.png", MediaKind.IMAGE, "image/png"),)


@pytest.mark.parametrize("data", [legacy_data(0), legacy_data(1), legacy_data(1, response=None)])
def test_success_flag_without_results_is_a_protocol_error(data: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        Legacy().extract_results(TASK_ID, data)


def test_a_text_result_is_the_value_not_a_file() -> None:
    # resultJson {"resultObject": …} is a text output (kie-api.md §2.2): no file to download.
    import json as _json

    from kiekit_grok_imagine import GrokImagineProvider

    data = {
        "taskId": "t",
        "model": "grok-imagine/text-to-image",
        "state": "success",
        "resultJson": _json.dumps({"resultObject": {"text": "a fox"}}),
    }
    results = GrokImagineProvider().extract_results("t", data)
    assert results.assets == ()
    assert results.value == {"text": "a fox"}


def test_a_market_top_level_field_is_lifted_out_of_input() -> None:
    # §2.1: progressCallBackUrl sits beside callBackUrl in createTask, not inside input.
    from attrs import frozen
    from kiekit import Input, MediaKind, Model
    from kiekit.families.market import MarketProvider
    from kiekit.fields import text, url

    @frozen
    class WithProgress(Input):
        prompt: str = text()
        progress_callback_url: str | None = url(default=None, wire="progressCallBackUrl")

    class Progressing(MarketProvider):
        name = "progressing"
        models = (Model("p/one", WithProgress, MediaKind.VIDEO),)

    params = WithProgress(prompt="x", progress_callback_url="http://127.0.0.1:9/p")
    body = Progressing().build_request("p/one", params, callback_url="http://127.0.0.1:9/c").body
    assert body == {
        "model": "p/one",
        "callBackUrl": "http://127.0.0.1:9/c",
        "progressCallBackUrl": "http://127.0.0.1:9/p",
        "input": {"prompt": "x"},
    }


# -- families that differ ------------------------------------------------------------------------


class ResultInfo(Legacy):
    """A family that keeps its results in `resultInfoJson` (Midjourney's spelling)."""

    results_field = "resultInfoJson"


@pytest.mark.parametrize("as_text", [False, True])
def test_a_success_flag_family_names_where_its_results_live(as_text: bool) -> None:
    found = {"resultUrls": ["https://cdn.example/r/a.png"]}
    data = legacy_data(1, resultInfoJson=json.dumps(found) if as_text else found)
    results = ResultInfo().extract_results(TASK_ID, data)
    assert [a.url for a in results.assets] == ["https://cdn.example/r/a.png"]
    with pytest.raises(ProtocolError, match="no resultInfoJson object"):
        ResultInfo().extract_results(TASK_ID, legacy_data(1, response=found))


@frozen
class Other(Input):
    image_url: str = text()


@pytest.mark.parametrize(
    ("provider", "model_id"), [(Market(), "test/video"), (Legacy(), "test-legacy")]
)
def test_the_family_bases_refuse_another_models_input(provider: Any, model_id: str) -> None:
    with pytest.raises(ValidationError) as caught:
        provider.build_request(model_id, Other(image_url="https://x.test/a.png"))
    assert caught.value.field == "input"
    assert "takes Prompt, not Other" in str(caught.value)
