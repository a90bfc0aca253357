"""The wire converter: KIE's recorded payloads read; misfits become ProtocolError, never crashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from attrs import frozen
from hypothesis import given
from hypothesis import strategies as st
from kiekit import Input, ProtocolError
from kiekit.families.market import MarketRecord
from kiekit.families.success_flag import SuccessFlagRecord
from kiekit.fields import choice, flag, integer, text, urls
from kiekit.wire import (
    Code,
    Envelope,
    JsonText,
    Timestamp,
    WireRecord,
    camel,
    input_to_wire,
    read_envelope,
    structure,
)

# kie-api.md §2.2, recorded grok-imagine/text-to-image traffic: param double encoded,
# resultJson "" while pending, null fail fields, ms timestamps, no updateTime.
RECORDED_PENDING = r"""{"code":200,"msg":"success","data":{
  "taskId":"5f488be792eafad4b066e21e5bc472c7","model":"grok-imagine/text-to-image",
  "state":"waiting",
  "param":"{\"input\":\"{\\\"aspect_ratio\\\":\\\"1:1\\\",\\\"prompt\\\":\\\"a fox\\\"}\",\"model\":\"grok-imagine/text-to-image\"}",
  "resultJson":"","failCode":null,"failMsg":null,"costTime":null,"completeTime":null,
  "createTime":1776323915587}}"""  # noqa: E501 - KIE's bytes, not ours to wrap

RECORDED_SUCCESS = r"""{"code":200,"msg":"success","data":{
  "taskId":"5f488be792eafad4b066e21e5bc472c7","model":"grok-imagine/text-to-image",
  "state":"success",
  "param":"{\"input\":\"{\\\"aspect_ratio\\\":\\\"1:1\\\",\\\"prompt\\\":\\\"a fox\\\"}\",\"model\":\"grok-imagine/text-to-image\"}",
  "resultJson":"{\"resultUrls\":[\"https://tempfile.aiquickdraw.com/r/a1.jpg\",\"https://tempfile.aiquickdraw.com/r/a2.jpg\"]}",
  "failCode":null,"failMsg":null,"costTime":12,"completeTime":1776323928526,
  "createTime":1776323915587}}"""  # noqa: E501 - KIE's bytes, not ours to wrap

# kie-api.md §2.2, the documented failure: failCode is a string.
DOCUMENTED_FAILURE = {
    "taskId": "task_12345678",
    "model": "grok-imagine/text-to-image",
    "state": "fail",
    "param": "{}",
    "resultJson": "",
    "failCode": "422",
    "failMsg": "Invalid prompt: flagged",
    "costTime": None,
    "completeTime": 1776323928526,
    "createTime": 1776323915587,
    "updateTime": 1776323928526,
}

# kie-api.md §3.2, Flux Kontext record-info: string timestamps, successFlag, response object.
FLUX_RECORD = {
    "taskId": "fluxkontext_abc",
    "paramJson": '{"prompt":"a fox","model":"flux-kontext-pro"}',
    "completeTime": "2024-03-20T10:30:00Z",
    "createTime": "2025-06-06 10:25:00",
    "response": {
        "originImageUrl": "https://tempfile.aiquickdraw.com/o.png",
        "resultImageUrl": "https://tempfile.aiquickdraw.com/r.png",
    },
    "successFlag": 1,
    "errorCode": None,
    "errorMessage": "",
}


@frozen
class FullMarketRecord(WireRecord):
    """Every documented jobs/recordInfo field, to prove the converter reads each shape."""

    task_id: str
    state: str
    param: JsonText | None = None
    result_json: JsonText | None = None
    fail_code: Code | None = None
    fail_msg: str | None = None
    cost_time: int | None = None
    complete_time: Timestamp | None = None
    create_time: Timestamp | None = None
    update_time: Timestamp | None = None


@frozen
class TimedRecord(WireRecord):
    task_id: str
    param_json: JsonText | None = None
    create_time: Timestamp | None = None
    complete_time: Timestamp | None = None


def test_recorded_pending_market_payload_reads() -> None:
    envelope = read_envelope(json.loads(RECORDED_PENDING))
    record = structure(envelope.data, MarketRecord)

    assert (envelope.code, envelope.msg) == (200, "success")
    assert record.task_id == "5f488be792eafad4b066e21e5bc472c7"
    assert record.state == "waiting"
    assert record.model == "grok-imagine/text-to-image"
    assert record.result_json is None  # "" while pending
    assert record.fail_code is None
    assert record.fail_msg is None


def test_recorded_success_market_payload_reads() -> None:
    record = structure(read_envelope(json.loads(RECORDED_SUCCESS)).data, MarketRecord)

    assert record.state == "success"
    assert record.result_json == {
        "resultUrls": [
            "https://tempfile.aiquickdraw.com/r/a1.jpg",
            "https://tempfile.aiquickdraw.com/r/a2.jpg",
        ]
    }


def test_recorded_payload_reads_every_field() -> None:
    record = structure(json.loads(RECORDED_SUCCESS)["data"], FullMarketRecord)

    assert isinstance(record.param, dict)
    assert record.param["model"] == "grok-imagine/text-to-image"
    # the recorded param's input is itself a JSON string (double encoded, §2.2)
    assert json.loads(record.param["input"]) == {"aspect_ratio": "1:1", "prompt": "a fox"}
    assert record.cost_time == 12
    assert record.create_time == datetime(2026, 4, 16, 7, 18, 35, 587000, tzinfo=UTC)
    assert record.complete_time == datetime(2026, 4, 16, 7, 18, 48, 526000, tzinfo=UTC)
    assert record.update_time is None  # absent in every recorded answer


def test_documented_market_failure_reads() -> None:
    record = structure(DOCUMENTED_FAILURE, FullMarketRecord)

    assert record.fail_code == "422"
    assert record.fail_msg == "Invalid prompt: flagged"
    assert record.result_json is None
    assert record.update_time is not None
    assert record.update_time.tzinfo is not None


def test_flux_record_info_reads() -> None:
    record = structure(FLUX_RECORD, SuccessFlagRecord)

    assert record.task_id == "fluxkontext_abc"
    assert record.success_flag == 1
    assert record.response is not None
    assert record.response["resultImageUrl"] == "https://tempfile.aiquickdraw.com/r.png"
    assert record.error_code is None
    assert record.error_message == ""


def test_flux_string_timestamps_read_as_aware_utc() -> None:
    record = structure(FLUX_RECORD, TimedRecord)

    assert record.complete_time == datetime(2024, 3, 20, 10, 30, tzinfo=UTC)
    assert record.create_time == datetime(2025, 6, 6, 10, 25, tzinfo=UTC)
    assert record.param_json == {"prompt": "a fox", "model": "flux-kontext-pro"}


@pytest.mark.parametrize(
    "raw",
    [1776323915587, "1776323915587", 1776323915587.0, "2026-04-16T07:18:35.587Z"],
)
def test_timestamps_in_every_spelling_agree(raw: Any) -> None:
    record = structure({"taskId": "t", "createTime": raw}, TimedRecord)

    assert record.create_time == datetime(2026, 4, 16, 7, 18, 35, 587000, tzinfo=UTC)


def test_json_text_given_as_an_object_is_taken_as_is() -> None:
    """The docs show nested objects where traffic has strings: be liberal (§2.2)."""
    record = structure({"taskId": "t", "state": "success", "resultJson": {"a": 1}}, MarketRecord)

    assert record.result_json == {"a": 1}


# -- strict strings, liberal numbers and codes -----------------------------------------------------


@pytest.mark.parametrize("bad", [{"id": "x"}, ["x"], 42, True])
def test_a_non_string_task_id_is_a_protocol_error(bad: Any) -> None:
    payload = {"taskId": bad, "state": "waiting"}

    with pytest.raises(ProtocolError) as info:
        structure(payload, MarketRecord, task_id="t-known")

    assert info.value.task_id == "t-known"
    assert info.value.payload == payload
    assert "MarketRecord" in str(info.value)


@pytest.mark.parametrize(("raw", "expected"), [(1, 1), ("1", 1), (1.0, 1), (" 3", 3)])
def test_success_flag_reads_liberally(raw: Any, expected: int) -> None:
    record = structure({"taskId": "t", "successFlag": raw}, SuccessFlagRecord)

    assert record.success_flag == expected


@pytest.mark.parametrize("bad", [True, "one", 1.5, None, [1], "成功"])
def test_a_success_flag_that_is_not_an_integer_is_a_protocol_error(bad: Any) -> None:
    with pytest.raises(ProtocolError):
        structure({"taskId": "t", "successFlag": bad}, SuccessFlagRecord)


@pytest.mark.parametrize(("raw", "expected"), [(501, "501"), ("501", "501"), (422.0, "422")])
def test_error_codes_read_as_strings(raw: Any, expected: str) -> None:
    record = structure({"taskId": "t", "successFlag": 3, "errorCode": raw}, SuccessFlagRecord)

    assert record.error_code == expected


@pytest.mark.parametrize(("raw", "expected"), [("0.45", 0.45), (0.45, 0.45), (1, 1.0), ("1", 1.0)])
def test_progress_reads_from_a_string_or_a_number(raw: Any, expected: float) -> None:
    """4o Image sends progress as a string "0.00"–"1.00" (§3.1)."""
    record = structure({"taskId": "t", "successFlag": 0, "progress": raw}, SuccessFlagRecord)

    assert record.progress == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["{not json", "[1,", "nul"])
def test_a_broken_json_string_is_a_protocol_error(bad: str) -> None:
    with pytest.raises(ProtocolError):
        structure({"taskId": "t", "state": "success", "resultJson": bad}, MarketRecord)


def test_missing_required_keys_are_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        structure({"taskId": "t"}, MarketRecord)
    with pytest.raises(ProtocolError):
        structure({"taskId": "t"}, SuccessFlagRecord)


def test_a_record_without_its_task_id_still_reads() -> None:
    # The guide's own 4o example omits taskId; the client knows which task it asked about.
    assert structure({"state": "waiting"}, MarketRecord).task_id is None
    assert structure({"successFlag": "1"}, SuccessFlagRecord).success_flag == 1


@pytest.mark.parametrize("payload", [None, [], "x", 3])
def test_a_record_that_is_not_an_object_is_a_protocol_error(payload: Any) -> None:
    with pytest.raises(ProtocolError):
        structure(payload, MarketRecord)


def test_unknown_keys_are_ignored() -> None:
    record = structure(
        {"taskId": "t", "state": "waiting", "creditsConsumed": 0.4, "recordId": "t"}, MarketRecord
    )

    assert record.task_id == "t"


# -- the envelope ----------------------------------------------------------------------------------


def test_envelope_reads_message_instead_of_msg() -> None:
    """D:market/common/get-task-detail spells the key "message" (§1)."""
    envelope = read_envelope({"code": 404, "message": "Task not found", "data": None})

    assert envelope == Envelope(code=404, msg="Task not found", data=None)


def test_envelope_prefers_msg() -> None:
    assert read_envelope({"code": 200, "msg": "success", "message": "other"}).msg == "success"


def test_envelope_code_may_be_a_string() -> None:
    assert read_envelope({"code": "401", "msg": "no"}).code == 401


@pytest.mark.parametrize(
    "payload", [{"msg": "no code"}, {"code": "ok"}, {"code": None}, [], "x", None, {"code": True}]
)
def test_an_envelope_without_an_integer_code_is_a_protocol_error(payload: Any) -> None:
    with pytest.raises(ProtocolError):
        read_envelope(payload)


# -- anything at all: only ProtocolError -----------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "1", "0.5", "success", "{}", '{"resultUrls":[]}', "1776323915587"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
KEYS = [
    "code",
    "msg",
    "message",
    "data",
    "taskId",
    "state",
    "model",
    "resultJson",
    "failCode",
    "failMsg",
    "progress",
    "successFlag",
    "response",
    "errorCode",
    "errorMessage",
    "createTime",
    "paramJson",
]
kie_shaped = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=len(KEYS))


@given(payload=json_values | kie_shaped)
@pytest.mark.parametrize("cls", [MarketRecord, SuccessFlagRecord, Envelope, TimedRecord])
def test_arbitrary_json_reads_or_raises_protocol_error(cls: type[Any], payload: Any) -> None:
    try:
        value: Any = structure(payload, cls)
    except ProtocolError as error:
        value = error
    if isinstance(value, ProtocolError):
        assert value.payload is payload
    else:
        assert isinstance(value, cls)


# -- input_to_wire ---------------------------------------------------------------------------------


@frozen
class WireInput(Input):
    prompt: str = text()
    aspect_ratio: str | None = choice("1:1", "16:9", default=None)
    image_urls: tuple[str, ...] | None = urls(default=None)
    enable_translation: bool | None = flag(default=None)
    safety_tolerance: int | None = integer(0, 6, default=None)
    n_variants: int | None = integer(default=None, wire="nVariants_exact")
    call_back_hint: str | None = text(default=None, required=False, wire="callback_hint")


def test_camel_case_wire_names() -> None:
    value = WireInput(
        prompt="p",
        aspect_ratio="16:9",
        image_urls=("https://x/a.png",),
        enable_translation=False,
        safety_tolerance=0,
    )

    assert input_to_wire(value, camel_case=True) == {
        "prompt": "p",
        "aspectRatio": "16:9",
        "imageUrls": ["https://x/a.png"],
        "enableTranslation": False,
        "safetyTolerance": 0,
    }


def test_snake_case_wire_names_for_market_inputs() -> None:
    value = WireInput(prompt="p", aspect_ratio="1:1", image_urls=("https://x/a.png",))

    assert input_to_wire(value, camel_case=False) == {
        "prompt": "p",
        "aspect_ratio": "1:1",
        "image_urls": ["https://x/a.png"],
    }


def test_none_is_dropped_so_kies_defaults_apply_but_false_and_zero_are_sent() -> None:
    wire = input_to_wire(
        WireInput(prompt="p", enable_translation=False, safety_tolerance=0), camel_case=True
    )

    assert wire == {"prompt": "p", "enableTranslation": False, "safetyTolerance": 0}


def test_tuples_become_json_lists() -> None:
    wire = input_to_wire(WireInput(prompt="p", image_urls=("https://x/a",)), camel_case=False)

    assert type(wire["image_urls"]) is list
    assert json.loads(json.dumps(wire)) == wire


@pytest.mark.parametrize("camel_case", [True, False])
def test_wire_override_is_used_verbatim(camel_case: bool) -> None:
    wire = input_to_wire(
        WireInput(prompt="p", n_variants=2, call_back_hint="h"), camel_case=camel_case
    )

    assert wire["nVariants_exact"] == 2
    assert wire["callback_hint"] == "h"
    assert "n_variants" not in wire
    assert "nVariants" not in wire


@pytest.mark.parametrize(
    ("name", "expected"),
    [("task_id", "taskId"), ("result_json", "resultJson"), ("prompt", "prompt"), ("a_b_c", "aBC")],
)
def test_camel(name: str, expected: str) -> None:
    assert camel(name) == expected


@pytest.mark.parametrize(
    "payload",
    [
        {"code": 200, "msg": "success", "data": {"taskId": "t1"}},
        {"code": 402, "message": "Credits insufficient"},  # the one page spelling it "message"
        {"code": 500, "msg": 7, "data": None},  # a message that is not text reads as none
        {"code": "200", "msg": "ok"},  # not the usual int: read by the converter
        {"code": 200.0, "msg": "ok"},
    ],
)
def test_an_envelope_reads_the_same_on_the_plain_path_and_the_converter(
    payload: dict[str, Any],
) -> None:
    assert read_envelope(payload) == structure(payload, Envelope)


@pytest.mark.parametrize("payload", [{"code": True, "msg": "ok"}, {"msg": "no code"}, [200]])
def test_an_envelope_without_a_number_code_is_a_protocol_error(payload: Any) -> None:
    with pytest.raises(ProtocolError):
        read_envelope(payload)
