"""The market jobs API with the Grok Imagine models (kie-api.md §2.1–2.4, guide §2.3)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Kie, MakeMock, MockCli

FROZEN = 1e-6  # time_scale: the mock clock moves only when the test moves it
T2I = "grok-imagine/text-to-image"
RECORD_KEYS = [
    "taskId",
    "model",
    "state",
    "param",
    "resultJson",
    "failCode",
    "failMsg",
    "costTime",
    "completeTime",
    "createTime",
]

# guide §2.3, the curl example's body, unchanged
GUIDE_GROK_BODY = {
    "model": "grok-imagine/text-to-image",
    "callBackUrl": "https://your-domain.com/api/callback",
    "input": {
        "prompt": "Cinematic portrait of a woman sitting by a vinyl record player"
        " with warm lighting",
        "aspect_ratio": "3:2",
    },
}


def test_create_answers_task_id_and_record_id(kie: Kie) -> None:
    data = kie.ok(kie.post("/api/v1/jobs/createTask", GUIDE_GROK_BODY))
    assert re.fullmatch(r"[0-9a-f]{32}", data["taskId"])
    assert data == {"taskId": data["taskId"], "recordId": data["taskId"]}


def test_lifecycle_with_two_polls(make_mock: MakeMock) -> None:
    mock, kie = make_mock(polls_to_complete=2)
    task_id = kie.create(T2I, prompt="a red fox", aspect_ratio="1:1")
    first, second, final = (kie.record(task_id) for _ in range(3))

    assert [first["state"], second["state"]] == ["waiting", "generating"]
    for pending in (first, second):
        assert list(pending) == RECORD_KEYS  # no updateTime, as in recorded traffic
        assert pending["resultJson"] == ""
        assert [pending[k] for k in ("failCode", "failMsg", "costTime", "completeTime")] == [
            None
        ] * 4
        assert isinstance(pending["createTime"], int)
        assert pending["createTime"] > 1_600_000_000_000  # milliseconds

    assert final["state"] == "success"
    assert list(final) == RECORD_KEYS
    # param: a JSON string whose "input" is itself a JSON string, without callBackUrl
    assert isinstance(final["param"], str)
    param = json.loads(final["param"])
    assert param == {"input": param["input"], "model": T2I}
    assert isinstance(param["input"], str)
    assert json.loads(param["input"]) == {"prompt": "a red fox", "aspect_ratio": "1:1"}
    # resultJson: a JSON string with six URLs back at the mock (t2i gives 6, §2.2)
    assert isinstance(final["resultJson"], str)
    urls = json.loads(final["resultJson"])["resultUrls"]
    assert len(urls) == 6
    assert all(u.startswith(f"{mock.base_url}/files/{task_id}/") for u in urls)
    assert isinstance(final["costTime"], int)
    assert final["completeTime"] >= final["createTime"]
    assert (final["failCode"], final["failMsg"]) == (None, None)
    # the final state sticks
    assert kie.record(task_id) == final


@pytest.mark.parametrize(
    ("polls", "expected"),
    [
        (1, ["waiting"]),
        (3, ["waiting", "waiting", "generating"]),
        (5, ["waiting", "waiting", "waiting", "waiting", "generating"]),
    ],
)
def test_pending_states_spread_over_polls_as_real_kie_walks_them(
    make_mock: MakeMock, polls: int, expected: list[str]
) -> None:
    """waiting → generating → success: what recorded KIE traffic shows (kie-api.md §2.2)."""
    _, kie = make_mock(polls_to_complete=polls)
    task_id = kie.create(T2I, prompt="x")
    seen = [kie.record(task_id)["state"] for _ in range(polls + 1)]
    assert seen == [*expected, "success"]


def test_queuing_shows_only_when_a_test_asks_for_it(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=3, market_queuing=True)
    task_id = kie.create(T2I, prompt="x")
    seen = [kie.record(task_id)["state"] for _ in range(4)]
    assert seen == ["waiting", "queuing", "generating", "success"]


@pytest.mark.parametrize("null", [False, True])
def test_an_unknown_task_is_404_or_data_null_when_a_test_asks_for_it(
    make_mock: MakeMock, null: bool
) -> None:
    # §2.2: the docs' 404 "Task not found"; Suno's recorded data:null, asked for by §11
    _, kie = make_mock(market_unknown_null=null)
    mine = kie.create(T2I, prompt="x")
    other = type(kie)(kie.base_url, key="another-key")
    expected = (
        {"code": 200, "msg": "success", "data": None}
        if null
        else {"code": 404, "msg": "Task not found", "data": None}
    )
    for caller, task_id in ((kie, "f" * 32), (other, mine)):  # none, or another account's
        assert caller.get(f"/api/v1/jobs/recordInfo?taskId={task_id}").json() == expected
    assert kie.record(mine)["state"] == "success"  # a task of the caller's is answered as ever


def test_the_command_line_turns_data_null_on(
    start_mock_cli: Callable[..., MockCli], kie_at: Callable[..., Kie]
) -> None:
    kie = kie_at(start_mock_cli("--market-unknown-null").base_url)
    answer = kie.get("/api/v1/jobs/recordInfo?taskId=" + "f" * 32).json()
    assert answer == {"code": 200, "msg": "success", "data": None}


def test_immediate_by_default(kie: Kie) -> None:
    assert kie.record(kie.create(T2I, prompt="x"))["state"] == "success"


def test_seconds_to_complete(make_mock: MakeMock) -> None:
    mock, kie = make_mock(seconds_to_complete=30, time_scale=FROZEN)
    task_id = kie.create(T2I, prompt="x")
    assert kie.record(task_id)["state"] == "waiting"
    mock.clock.advance(29.9)
    assert kie.record(task_id)["state"] == "generating"  # under way, not done
    mock.clock.advance(0.2)
    assert kie.record(task_id)["state"] == "success"


def test_guide_example_succeeds_and_its_callback_is_recorded_not_sent(
    mock: MockServer, kie: Kie
) -> None:
    task_id = kie.ok(kie.post("/api/v1/jobs/createTask", GUIDE_GROK_BODY))["taskId"]
    assert kie.record(task_id)["state"] == "success"
    (callback,) = mock.callbacks()
    assert callback.url == "https://your-domain.com/api/callback"
    assert callback.delivered is False
    assert callback.reason is not None
    assert "not loopback" in callback.reason
    assert callback.payload["code"] == 200
    assert callback.payload["msg"] == "Playground task completed successfully."
    data = callback.payload["data"]
    assert data["taskId"] == task_id
    assert data["state"] == "success"
    assert json.loads(data["resultJson"])["resultUrls"]
    assert data["creditsConsumed"] == 4.0
    # §2.3: the full create request (recordInfo's param is not), and updateTime
    assert json.loads(data["param"]) == GUIDE_GROK_BODY
    assert data["updateTime"] == data["completeTime"]
    assert isinstance(data["updateTime"], int)
    (task,) = mock.tasks()
    assert task.callback_url == "https://your-domain.com/api/callback"
    assert task.request_body == GUIDE_GROK_BODY


def test_mock_fail_marker_gives_the_fail_shape(mock: MockServer, kie: Kie) -> None:
    body = {
        "model": T2I,
        "callBackUrl": "https://example.com/cb",
        "input": {"prompt": "please [mock:fail]"},
    }
    task_id = kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"]
    record = kie.record(task_id)
    assert record["state"] == "fail"
    assert record["resultJson"] == ""
    assert record["failCode"] == "500"  # a string, unlike Flux's int errorCode
    assert isinstance(record["failMsg"], str)
    assert record["failMsg"]
    assert isinstance(record["costTime"], int)
    assert isinstance(record["completeTime"], int)
    (callback,) = mock.callbacks()
    assert (callback.payload["code"], callback.payload["msg"]) == (501, "Playground task failed.")
    assert callback.payload["data"]["state"] == "fail"
    assert callback.payload["data"]["creditsConsumed"] == 0


def test_set_outcome_and_advance(make_mock: MakeMock) -> None:
    mock, kie = make_mock(polls_to_complete=100)
    task_id = kie.create(T2I, prompt="fine")
    mock.set_outcome(task_id, "fail")
    assert [mock.advance(task_id) for _ in range(4)] == ["queuing", "generating", "fail", "fail"]
    assert kie.record(task_id)["state"] == "fail"
    with pytest.raises(ValueError, match="already ended"):
        mock.set_outcome(task_id, "success")
    with pytest.raises(KeyError):
        mock.advance("f" * 32)
    other = kie.create(T2I, prompt="x [mock:fail]")
    mock.set_outcome(other, "success")  # overrides the marker
    assert [t.state for t in mock.tasks()] == ["fail", "waiting"]
    mock.advance(other)
    mock.advance(other)
    assert mock.advance(other) == "success"


def test_advance_finishes_a_task_whose_time_is_up(make_mock: MakeMock) -> None:
    mock, kie = make_mock(seconds_to_complete=20, time_scale=FROZEN)
    task_id = kie.create(T2I, prompt="x")
    mock.clock.advance(25)
    assert mock.advance(task_id) == "success"
    assert kie.record(task_id)["state"] == "success"


# stand-ins for the id of an earlier task the test makes first (upscale and extend need one)
IMAGE_TASK, VIDEO_TASK = "<a Grok image task>", "<a Grok video task>"
EARLIER = {
    IMAGE_TASK: ("grok-imagine/text-to-image", {"prompt": "p"}),
    VIDEO_TASK: ("grok-imagine/text-to-video", {"prompt": "p"}),
}


def _made(kie: Kie, value: Any) -> Any:
    """`value`, or for a stand-in the id of a finished task of that kind, made now."""
    if not isinstance(value, str) or value not in EARLIER:
        return value
    model, input_ = EARLIER[value]
    task_id = kie.create(model, **input_)
    assert kie.record(task_id)["state"] == "success"
    return task_id


@pytest.mark.parametrize(
    ("model", "input_", "count", "ext"),
    [
        ("grok-imagine/text-to-image", {"prompt": "p"}, 6, "jpg"),
        (
            "grok-imagine/image-to-image",
            {"prompt": "p", "image_urls": ["https://a.example/x.png"]},
            2,
            "jpg",
        ),
        ("grok-imagine/upscale", {"task_id": IMAGE_TASK}, 1, "jpg"),
        ("grok-imagine/text-to-video", {"prompt": "p", "duration": "6", "mode": "fun"}, 1, "mp4"),
        ("grok-imagine/image-to-video", {"image_urls": ["https://a.example/x.png"]}, 1, "mp4"),
        (
            "grok-imagine/image-to-video",
            {"task_id": IMAGE_TASK, "index": 5, "mode": "spicy"},
            1,
            "mp4",
        ),
        (
            "grok-imagine/extend",
            {"task_id": VIDEO_TASK, "prompt": "p", "extend_at": 3, "extend_times": "10"},
            1,
            "mp4",
        ),
    ],
)
def test_each_model_answers_its_results(
    kie: Kie, model: str, input_: dict[str, Any], count: int, ext: str
) -> None:
    input_ = {name: _made(kie, value) for name, value in input_.items()}
    record = kie.record(kie.create(model, **input_))
    assert record["model"] == model
    urls = json.loads(record["resultJson"])["resultUrls"]
    assert len(urls) == count
    assert all(u.endswith(f".{ext}") for u in urls)


@pytest.mark.parametrize(
    ("model", "input_", "why"),
    [
        ("grok-imagine/upscale", {"task_id": "nonexistent"}, "task_id nonexistent: no such task"),
        (
            "grok-imagine/extend",
            {"task_id": "nonexistent", "prompt": "p"},
            "task_id nonexistent: no such task",
        ),
        (
            "grok-imagine/extend",
            {"task_id": IMAGE_TASK, "prompt": "p"},
            "is a grok-imagine/text-to-image task, not a Grok Imagine video task",
        ),
        (
            "grok-imagine/upscale",
            {"task_id": "<a Kling task>"},
            "is a kling-3.0/video task, not a Grok Imagine task",
        ),
        (
            "grok-imagine/image-to-video",
            {"task_id": "nonexistent", "index": 0},
            "task_id nonexistent: no such task",
        ),
        (
            "grok-imagine/image-to-video",
            {"task_id": VIDEO_TASK, "index": 0},
            "is a grok-imagine/text-to-video task, not a Grok Imagine image task",
        ),
    ],
)
def test_grok_follow_ups_of_a_task_they_cannot_use_fail_at_their_end_naming_it(
    kie: Kie, model: str, input_: dict[str, Any], why: str
) -> None:
    # [INF] §2.4 names task_id only: taken, then failed with a failMsg naming it; refunded
    if input_["task_id"] == "<a Kling task>":
        kling = {"prompt": "p", "sound": False, "duration": "5", "mode": "std"}
        input_ = {"task_id": kie.create("kling-3.0/video", multi_shots=False, **kling)}
    input_ = {name: _made(kie, value) for name, value in input_.items()}
    before = kie.ok(kie.get("/api/v1/chat/credit"))
    record = kie.record(kie.create(model, **input_))
    assert (record["state"], record["resultJson"], record["failCode"]) == ("fail", "", "422")
    assert why in record["failMsg"]
    assert kie.ok(kie.get("/api/v1/chat/credit")) == before  # a failed task costs nothing


def test_grok_follow_ups_take_only_the_callers_own_tasks(kie: Kie) -> None:
    video = _made(kie, VIDEO_TASK)
    other = kie.as_key("another-key")
    record = other.record(other.create("grok-imagine/extend", task_id=video, prompt="p"))
    assert (record["state"], record["failMsg"]) == ("fail", f"task_id {video}: no such task")
    # the upscale page speaks of images and of video tasks: a Grok video is taken
    assert kie.record(kie.create("grok-imagine/upscale", task_id=video))["state"] == "success"
    image = _made(kie, IMAGE_TASK)
    record = other.record(other.create("grok-imagine/image-to-video", task_id=image, index=0))
    assert (record["state"], record["failMsg"]) == ("fail", f"task_id {image}: no such task")


def test_grok_follow_ups_of_a_task_past_retention_fail_at_their_end_saying_so(
    mock: MockServer, kie: Kie
) -> None:
    # [INF] the pages are silent: a source whose files are gone (14 days, §8) is taken and
    # failed as any unusable source is, not made into a new video
    video = _made(kie, VIDEO_TASK)
    mock.clock.advance(14 * 24 * 3600 + 60)
    record = kie.record(kie.create("grok-imagine/extend", task_id=video, prompt="p"))
    assert (record["state"], record["resultJson"]) == ("fail", "")
    assert (
        record["failMsg"]
        == f"task_id {video}: that task's results have expired, nothing to work on"
    )


def test_duration_is_stored_as_a_number(kie: Kie) -> None:
    # HAR: Grok T2V sent "duration":"6", KIE stored 6 (§2.2)
    record = kie.record(kie.create("grok-imagine/text-to-video", prompt="p", duration="6"))
    assert json.loads(json.loads(record["param"])["input"])["duration"] == 6


def test_liberal_where_sources_disagree(kie: Kie) -> None:
    # duration 6–30 (newer docs), as int or string; up to 7 images for i2v; 5 for i2i
    kie.create("grok-imagine/text-to-video", prompt="p", duration=15)
    kie.create(
        "grok-imagine/image-to-video", image_urls=[f"https://a.example/{i}.png" for i in range(7)]
    )
    kie.create(
        "grok-imagine/image-to-image",
        prompt="p",
        image_urls=[f"https://a.example/{i}.png" for i in range(5)],
    )
    kie.create("grok-imagine/extend", task_id="t", prompt="p", extend_times=6)


LONG = "x" * 5001
URL = "https://a.example/x.png"


@pytest.mark.parametrize(
    ("model", "input_", "field"),
    [
        (T2I, {}, "prompt"),
        (T2I, {"prompt": ""}, "prompt"),
        (T2I, {"prompt": 42}, "prompt"),
        (T2I, {"prompt": LONG}, "prompt"),
        (T2I, {"prompt": "p", "aspect_ratio": "4:3"}, "aspect_ratio"),
        (T2I, {"prompt": "p", "nsfw_checker": "yes"}, "nsfw_checker"),
        (T2I, {"prompt": "p", "enable_pro": 1}, "enable_pro"),
        ("grok-imagine/image-to-image", {"prompt": "p"}, "image_urls"),
        ("grok-imagine/image-to-image", {"image_urls": [URL]}, "prompt"),
        ("grok-imagine/image-to-image", {"prompt": "p", "image_urls": [URL] * 6}, "image_urls"),
        (
            "grok-imagine/image-to-image",
            {"prompt": "p", "image_urls": ["ftp://x/y.png"]},
            "image_urls",
        ),
        ("grok-imagine/image-to-image", {"prompt": "p", "image_urls": URL}, "image_urls"),
        ("grok-imagine/text-to-video", {}, "prompt"),
        ("grok-imagine/text-to-video", {"prompt": "p", "mode": "wild"}, "mode"),
        ("grok-imagine/text-to-video", {"prompt": "p", "duration": "5"}, "duration"),
        ("grok-imagine/text-to-video", {"prompt": "p", "duration": 31}, "duration"),
        ("grok-imagine/text-to-video", {"prompt": "p", "duration": "six"}, "duration"),
        ("grok-imagine/text-to-video", {"prompt": "p", "resolution": "1080p"}, "resolution"),
        ("grok-imagine/text-to-video", {"prompt": "p", "aspect_ratio": "21:9"}, "aspect_ratio"),
        ("grok-imagine/image-to-video", {"prompt": "p"}, "image_urls"),
        ("grok-imagine/image-to-video", {"image_urls": [URL] * 8}, "image_urls"),
        ("grok-imagine/image-to-video", {"task_id": "t", "index": 6}, "index"),
        ("grok-imagine/image-to-video", {"task_id": "t", "index": -1}, "index"),
        ("grok-imagine/image-to-video", {"task_id": "t", "image_urls": [URL]}, "task_id"),
        ("grok-imagine/image-to-video", {"image_urls": [URL], "mode": "spicy"}, "mode"),
        ("grok-imagine/upscale", {}, "task_id"),
        ("grok-imagine/upscale", {"task_id": ""}, "task_id"),
        ("grok-imagine/extend", {"prompt": "p"}, "task_id"),
        ("grok-imagine/extend", {"task_id": "t"}, "prompt"),
        (
            "grok-imagine/extend",
            {"task_id": "t", "prompt": "p", "extend_times": "8"},
            "extend_times",
        ),
        ("grok-imagine/extend", {"task_id": "t", "prompt": "p", "extend_at": -1}, "extend_at"),
        ("grok-imagine/extend", {"task_id": "t", "prompt": "p", "extend_at": "soon"}, "extend_at"),
    ],
)
def test_constraint_violation_is_422_naming_the_field(
    mock: MockServer, kie: Kie, model: str, input_: dict[str, Any], field: str
) -> None:
    answer = kie.post("/api/v1/jobs/createTask", {"model": model, "input": input_})
    assert answer.status == 200
    payload = answer.json()
    assert payload["code"] == 422
    assert payload["data"] is None
    assert field in payload["msg"]
    assert mock.tasks() == []
    assert kie.ok(kie.get("/api/v1/chat/credit")) == 1000.0  # nothing charged


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        ({"input": {"prompt": "p"}}, "model cannot be empty"),
        ({"model": T2I}, "input cannot be empty"),
        ({"model": T2I, "input": "prompt"}, "input must be an object"),
        ({"model": T2I, "input": {"prompt": "p"}, "callBackUrl": "not a url"}, "callBackUrl"),
        ({"model": T2I, "input": {"prompt": "p"}, "callBackUrl": 7}, "callBackUrl"),
    ],
)
def test_request_level_422(kie: Kie, body: dict[str, Any], msg: str) -> None:
    payload = kie.post("/api/v1/jobs/createTask", body).json()
    assert payload["code"] == 422
    assert msg in payload["msg"]


@pytest.mark.parametrize("model", ["grok-imagine/text-to-imagine", "google/nano-banana-pro"])
def test_strict_models_refuse_an_unknown_id_as_kie_does(make_mock: MakeMock, model: str) -> None:
    mock, kie = make_mock(strict_models=True)
    payload = kie.post("/api/v1/jobs/createTask", {"model": model, "input": {"prompt": "p"}})
    assert payload.json() == {"code": 422, "msg": "model not supported", "data": None}  # §2.4
    assert mock.tasks() == []


def test_guide_aspect_ratio_message(kie: Kie) -> None:
    body = {"model": T2I, "input": {"prompt": "p", "aspect_ratio": "5:4"}}
    payload = kie.post("/api/v1/jobs/createTask", body).json()
    assert payload == {
        "code": 422,
        "msg": "aspect_ratio is not within the range of allowed options",
        "data": None,
    }


def test_a_finished_record_is_the_same_answer_on_every_poll_and_each_poll_is_journaled(
    mock: MockServer, kie: Kie
) -> None:
    """A finished task's record never changes (the mock sends it pre-rendered): the same bytes
    on every poll, each poll still journaled with them, and each task its own record."""
    first = kie.create(T2I, prompt="one")
    path = f"/api/v1/jobs/recordInfo?taskId={first}"
    answers = [kie.get(path) for _ in range(3)]
    assert answers[0].json()["data"]["state"] == "success"
    assert {answer.body for answer in answers} == {answers[0].body}
    polls = mock.journal.polls(first)
    assert [(p.code, p.answer.body if p.answer else None) for p in polls] == [
        (200, answers[0].body)
    ] * 3
    second = kie.create(T2I, prompt="two")
    assert kie.record(second)["taskId"] == second
    assert kie.record(first) == answers[0].json()["data"]
