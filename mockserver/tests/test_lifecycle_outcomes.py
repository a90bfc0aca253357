"""Per-task lifecycles and outcomes, steered from Python (MockServer) and over HTTP (/_mock/)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from kiekit_mock import (
    Lifecycle,
    MockConfig,
    MockServer,
    Outcome,
    Rule,
    create_app,
    runtime_of,
)

if TYPE_CHECKING:
    from conftest import Answer, Kie, MakeMock

T2I = "grok-imagine/text-to-image"
VIDEO = "https://example.com/input-video.mp4"
NEVER_SENT = "https://hooks.example.com/kie"  # not loopback: recorded, never called


def ctl(kie: Kie, method: str, path: str, body: Any = None) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return kie.fetch(kie.base_url + path, method=method, data=data, headers=headers)


def flux_state(kie: Kie, task_id: str) -> int:
    return int(kie.flux_record(task_id)["successFlag"])


# --- lifecycles ---


def test_after_n_polls_set_from_python_on_market(mock: MockServer, kie: Kie) -> None:
    task_id = kie.create(T2I, prompt="p")  # the default lifecycle: immediate
    snapshot = mock.set_lifecycle(task_id, Lifecycle(polls=3))
    assert snapshot.lifecycle.mode == "polls"
    states = [kie.record(task_id)["state"] for _ in range(5)]
    assert states == ["waiting", "waiting", "generating", "success", "success"]
    assert mock.task(task_id).polls == 5


def test_after_n_polls_set_over_http_on_flux(kie: Kie) -> None:
    task_id = kie.flux(prompt="a cat")
    answer = ctl(kie, "PUT", f"/_mock/tasks/{task_id}/lifecycle", {"polls": 2})
    assert answer.status == 200
    assert answer.json()["task"]["lifecycle"] == {"mode": "polls", "polls": 2, "seconds": 0}
    assert [flux_state(kie, task_id) for _ in range(3)] == [0, 0, 1]


def test_after_seconds_follows_the_mock_clock(mock: MockServer, kie: Kie) -> None:
    market = kie.create(T2I, prompt="p")
    flux = kie.flux(prompt="p")
    mock.set_lifecycle(market, Lifecycle(seconds=600))
    assert ctl(kie, "PUT", f"/_mock/tasks/{flux}/lifecycle", {"seconds": 600}).status == 200
    assert kie.record(market)["state"] == "waiting"
    assert flux_state(kie, flux) == 0
    mock.clock.advance(300)
    # halfway: the middle pending stage, which market records show as KIE does (§2.2)
    assert kie.record(market)["state"] == "waiting"
    assert mock.task(market).state == "queuing"
    advanced = ctl(kie, "POST", "/_mock/clock/advance", {"seconds": 300})
    assert advanced.status == 200
    assert advanced.json()["scale"] == 1.0
    assert kie.record(market)["state"] == "success"
    assert flux_state(kie, flux) == 1
    assert kie.record(market)["costTime"] >= 600  # completion is stamped in mock time


def test_manual_tasks_wait_for_python_steps(mock: MockServer, kie: Kie) -> None:
    task_id = kie.create(T2I, prompt="p")
    mock.set_lifecycle(task_id, Lifecycle(manual=True))
    mock.clock.advance(10_000)
    assert {kie.record(task_id)["state"] for _ in range(5)} == {"waiting"}
    assert mock.advance(task_id) == "queuing"
    assert kie.record(task_id)["state"] == "waiting"  # the market's words for it (§2.2)
    assert mock.advance(task_id) == "generating"
    assert kie.record(task_id)["state"] == "generating"
    assert mock.complete(task_id).state == "success"
    assert kie.record(task_id)["state"] == "success"


def test_manual_tasks_wait_for_http_steps(kie: Kie) -> None:
    task_id = kie.flux(prompt="p")
    assert ctl(kie, "PUT", f"/_mock/tasks/{task_id}/lifecycle", {"mode": "manual"}).status == 200
    assert [flux_state(kie, task_id) for _ in range(3)] == [0, 0, 0]
    stepped = ctl(kie, "POST", f"/_mock/tasks/{task_id}/advance")
    assert (stepped.status, stepped.json()["task"]["state"]) == (200, "queuing")
    done = ctl(kie, "POST", f"/_mock/tasks/{task_id}/complete").json()["task"]
    assert (done["state"], done["completed_ms"] is not None) == ("success", True)
    assert flux_state(kie, task_id) == 1
    assert done["result_urls"] == [kie.flux_record(task_id)["response"]["resultImageUrl"]]


def test_a_manual_lifecycle_with_polls_is_refused_naming_the_field(kie: Kie) -> None:
    task_id = kie.flux(prompt="p")
    path = f"/_mock/tasks/{task_id}/lifecycle"
    answer = ctl(kie, "PUT", path, {"mode": "manual", "polls": 2})
    assert (answer.status, answer.json()["field"]) == (400, "body.polls")
    assert ctl(kie, "PUT", path, {"mode": "manual", "polls": 0}).status == 200


def test_an_ended_task_cannot_be_changed(mock: MockServer, kie: Kie) -> None:
    task_id = kie.create(T2I, prompt="p")
    kie.record(task_id)  # immediate: ended
    with pytest.raises(ValueError, match="already ended"):
        mock.set_lifecycle(task_id, Lifecycle(polls=2))
    answer = ctl(kie, "PUT", f"/_mock/tasks/{task_id}/outcome", {"kind": "fail"})
    assert answer.status == 409
    assert answer.json()["field"] == "task_id"


@pytest.mark.parametrize("seconds", [b"1e400", b"4e9", b"-1"])
def test_a_lifecycle_of_endless_or_absurd_seconds_is_refused_naming_them(
    kie: Kie, seconds: bytes
) -> None:
    """JSON's 1e400 reads as inf: a task that never ends by itself was accepted (and shown as
    `Infinity`, which is no JSON); past a hundred years it is a typo (a manual task is the way
    to never end)."""
    task_id = kie.create(T2I, prompt="p")
    headers = {"Content-Type": "application/json"}
    lifecycle = b'{"seconds": ' + seconds + b"}"
    path = kie.base_url + f"/_mock/tasks/{task_id}/lifecycle"
    answer = kie.fetch(path, method="PUT", data=lifecycle, headers=headers)
    assert (answer.status, answer.json()["field"]) == (400, "body.seconds")
    assert "from 0 to 3153600000 (100 years)" in answer.json()["error"]
    rule = b'{"outcome": "fail", "lifecycle": ' + lifecycle + b"}"
    answer = kie.fetch(kie.base_url + "/_mock/rules", method="POST", data=rule, headers=headers)
    assert (answer.status, answer.json()["field"]) == (400, "lifecycle.seconds")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"polls": -1}, "body.polls"),
        ({"polls": "3"}, "body.polls"),
        ({"seconds": -5}, "body.seconds"),
        ({"mode": "sometimes"}, "body.mode"),
        ({"mode": "polls"}, "body.mode"),  # polls mode without a count
        ({"pols": 3}, "body.pols"),
    ],
)
def test_a_bad_lifecycle_is_400_naming_the_field(kie: Kie, body: Any, field: str) -> None:
    task_id = kie.create(T2I, prompt="p")
    answer = ctl(kie, "PUT", f"/_mock/tasks/{task_id}/lifecycle", body)
    assert answer.status == 400
    assert answer.json()["field"] == field
    assert answer.json()["error"]


def test_unknown_tasks_are_404(mock: MockServer, kie: Kie) -> None:
    for method, path, body in [
        ("GET", "/_mock/tasks/nope", None),
        ("PUT", "/_mock/tasks/nope/outcome", {"kind": "fail"}),
        ("PUT", "/_mock/tasks/nope/lifecycle", {"polls": 1}),
        ("POST", "/_mock/tasks/nope/advance", None),
        ("POST", "/_mock/tasks/nope/complete", None),
    ]:
        answer = ctl(kie, method, path, body)
        assert (answer.status, answer.json()["field"]) == (404, "task_id"), path
    with pytest.raises(KeyError):
        mock.complete("nope")


# --- outcomes ---


def test_moderation_in_each_familys_shape(mock: MockServer, kie: Kie) -> None:
    market = kie.create(T2I, prompt="p")
    flux = kie.flux(prompt="p")
    gpt4o = kie.ok(kie.post("/api/v1/gpt4o-image/generate", {"prompt": "p", "size": "1:1"}))
    mock.set_outcome(market, "moderation")
    mock.set_outcome(flux, Outcome("moderation"))
    answer = ctl(kie, "PUT", f"/_mock/tasks/{gpt4o['taskId']}/outcome", {"kind": "moderation"})
    assert answer.json()["task"]["outcome"] == {"kind": "moderation", "code": None, "msg": None}
    record = kie.record(market)
    # §2.2 failure example: failCode "422" (a string), failMsg "Invalid prompt: …"
    assert (record["state"], record["failCode"]) == ("fail", "422")
    assert record["failMsg"].startswith("Invalid prompt")
    flux_record = kie.flux_record(flux)
    assert (flux_record["successFlag"], flux_record["errorCode"]) == (3, 400)  # §3.2 flagged
    path = f"/api/v1/gpt4o-image/record-info?taskId={gpt4o['taskId']}"
    gpt4o_record = kie.ok(kie.get(path))
    assert (gpt4o_record["status"], gpt4o_record["errorCode"]) == ("GENERATE_FAILED", 400)


def test_a_failure_with_its_own_code_and_message(mock: MockServer, kie: Kie) -> None:
    market = kie.create(T2I, prompt="p")
    runway_body = {"prompt": "p", "duration": 5, "quality": "720p", "aspectRatio": "16:9"}
    runway = kie.ok(kie.post("/api/v1/runway/generate", runway_body))["taskId"]
    mock.set_outcome(market, Outcome("fail", code=501, msg="Upstream timed out"))
    body = {"kind": "fail", "code": "455", "msg": "Service unavailable"}  # a string code too
    assert ctl(kie, "PUT", f"/_mock/tasks/{runway}/outcome", body).status == 200
    record = kie.record(market)
    assert (record["failCode"], record["failMsg"]) == ("501", "Upstream timed out")
    detail = kie.ok(kie.get(f"/api/v1/runway/record-detail?taskId={runway}"))
    assert (detail["state"], detail["failCode"], detail["failMsg"]) == (
        "fail",
        "455",  # a string, as record-detail's failCode is in every state (§3.4)
        "Service unavailable",
    )


# successFlag 2 / CREATE_TASK_FAILED: 4o §3.1, Flux §3.2, Veo §3.3, Luma §3.5, MJ §3.7, Suno §3.6
CREATE_FAILED_FAMILIES = [
    ("gpt4o-image/generate", {"prompt": "p", "size": "1:1"}, "gpt4o-image/record-info"),
    ("flux/kontext/generate", {"prompt": "p"}, "flux/kontext/record-info"),
    ("veo/generate", {"prompt": "p"}, "veo/record-info"),
    ("modify/generate", {"prompt": "p", "videoUrl": VIDEO}, "modify/record-info"),
    ("mj/generate", {"taskType": "mj_txt2img", "prompt": "p", "speed": "fast"}, "mj/record-info"),
    (
        "generate",
        {"prompt": "p", "model": "V4_5", "customMode": False, "instrumental": False}
        | {"callBackUrl": NEVER_SENT},
        "generate/record-info",
    ),
]


@pytest.mark.parametrize(("create", "body", "status"), CREATE_FAILED_FAMILIES)
def test_a_failed_create_is_success_flag_2_or_create_task_failed(
    kie: Kie, create: str, body: dict[str, Any], status: str
) -> None:
    task_id = kie.ok(kie.post(f"/api/v1/{create}", body))["taskId"]
    outcome = {"kind": "create_failed", "code": 500, "msg": "Create task failed upstream"}
    answer = ctl(kie, "PUT", f"/_mock/tasks/{task_id}/outcome", outcome)
    assert (answer.status, answer.json()["task"]["outcome"]) == (200, outcome)
    record = kie.ok(kie.get(f"/api/v1/{status}?taskId={task_id}"))
    if create == "generate":  # Suno's status word (§3.6)
        assert record["status"] == "CREATE_TASK_FAILED"
    else:
        assert record["successFlag"] == 2
    assert (record["errorCode"], record["errorMessage"]) == (500, "Create task failed upstream")
    if create.startswith("gpt4o"):
        assert record["status"] == "CREATE_TASK_FAILED"  # §3.1: the word beside the flag


def test_a_failed_create_on_market_is_a_plain_failure(mock: MockServer, kie: Kie) -> None:
    # the market API has no such state (§2.2): the task fails, with the code asked for
    task_id = kie.create(T2I, prompt="p")
    mock.set_outcome(task_id, Outcome("create_failed", code=422))
    record = kie.record(task_id)
    assert (record["state"], record["failCode"]) == ("fail", "422")


def test_failed_and_moderated_tasks_are_refunded(mock: MockServer, kie: Kie) -> None:
    before = kie.ok(kie.get("/api/v1/chat/credit"))
    for kind in ("fail", "moderation", "create_failed"):
        task_id = kie.create(T2I, prompt="p")
        mock.set_outcome(task_id, kind)
        kie.record(task_id)
    assert kie.ok(kie.get("/api/v1/chat/credit")) == before


def test_callback_failure_on_luma_is_success_flag_4(mock: MockServer, kie: Kie) -> None:
    body = {"prompt": "p", "videoUrl": VIDEO, "callBackUrl": "http://127.0.0.1:9/cb"}
    task_id = kie.ok(kie.post("/api/v1/modify/generate", body))["taskId"]
    assert ctl(kie, "PUT", f"/_mock/tasks/{task_id}/outcome", "callback_fail").status == 200
    record = kie.ok(kie.get(f"/api/v1/modify/record-info?taskId={task_id}"))
    assert record["successFlag"] == 4  # CALLBACK_FAILED: the video exists (§3.5, §6.1)
    assert record["response"]["resultUrls"]
    assert "callback" in record["errorMessage"].lower()
    (callback,) = mock.callbacks()
    assert (callback.delivered, callback.status) == (False, None)


def test_callback_failure_elsewhere_succeeds_and_records_an_undelivered_callback(
    mock: MockServer, kie: Kie
) -> None:
    body = {"model": T2I, "callBackUrl": NEVER_SENT, "input": {"prompt": "p"}}
    task_id = kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"]
    mock.set_outcome(task_id, "callback_fail")
    record = kie.record(task_id)
    assert record["state"] == "success"
    (callback,) = mock.callbacks()
    assert callback.delivered is False
    assert callback.reason is not None
    assert "asked to fail" in callback.reason
    assert callback.payload["data"]["state"] == "success"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "maybe"}, "body.kind"),
        ({"kind": "success", "code": 500}, "body.code"),
        ({"kind": "callback_fail", "msg": "x"}, "body.msg"),
        ({"kind": "create_failed", "code": 200}, "body.code"),
        ({"kind": "fail", "code": "abc"}, "body.code"),
        # a failure calling back with code 200 reads as a success (kie-api.md §7)
        ({"kind": "fail", "code": 200}, "body.code"),
        ({"kind": "fail", "code": "200"}, "body.code"),
        ({"kind": "moderation", "code": 0}, "body.code"),
        ({"kind": "fail", "code": -1}, "body.code"),
        ({"kind": "fail", "code": 99999}, "body.code"),
        ({"kind": "fail", "msg": ""}, "body.msg"),
        ({"kind": "fail", "reason": "x"}, "body.reason"),
        ([1, 2], "body"),
    ],
)
def test_a_bad_outcome_is_400_naming_the_field(kie: Kie, body: Any, field: str) -> None:
    task_id = kie.create(T2I, prompt="p")
    answer = ctl(kie, "PUT", f"/_mock/tasks/{task_id}/outcome", body)
    assert (answer.status, answer.json()["field"]) == (400, field)


def test_tasks_are_listed_and_filtered_over_http(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=1)
    market = kie.create(T2I, prompt="p")
    flux = kie.as_key("other").flux(prompt="q")
    kie.record(market)
    kie.record(market)
    tasks = ctl(kie, "GET", "/_mock/tasks").json()["tasks"]
    assert [t["task_id"] for t in tasks] == [market, flux]
    assert tasks[0]["state"] == "success"
    assert tasks[0]["polls"] == 2
    assert tasks[0]["request_body"] == {"model": T2I, "input": {"prompt": "p"}}
    only = ctl(kie, "GET", "/_mock/tasks?family=flux-kontext").json()["tasks"]
    assert [t["task_id"] for t in only] == [flux]
    mine = ctl(kie, "GET", "/_mock/tasks?api_key=other").json()["tasks"]
    assert [t["task_id"] for t in mine] == [flux]
    waiting = ctl(kie, "GET", "/_mock/tasks?state=waiting").json()["tasks"]
    assert [t["task_id"] for t in waiting] == [flux]
    assert "other" not in json.dumps(tasks)  # the key is never shown
    assert ctl(kie, "GET", "/_mock/tasks?colour=red").json()["field"] == "colour"


def test_in_process_through_runtime_of() -> None:
    """create_app + runtime_of: the same steering without a MockServer thread."""

    async def scenario() -> None:
        app = create_app(MockConfig(rules=(Rule(lifecycle=Lifecycle(manual=True)),)))
        rt = runtime_of(app)
        async with (
            TestServer(app, host="127.0.0.1") as server,
            aiohttp.ClientSession(
                base_url=str(server.make_url("")), headers={"Authorization": "Bearer k"}
            ) as session,
        ):
            body = {"model": T2I, "callBackUrl": NEVER_SENT, "input": {"prompt": "p"}}
            async with session.post("/api/v1/jobs/createTask", json=body) as answer:
                task_id = (await answer.json())["data"]["taskId"]
            rt.store.set_outcome(task_id, Outcome("moderation"))
            assert rt.step(task_id).state == "queuing"
            assert rt.step(task_id, complete=True).state == "fail"
            async with session.get(f"/api/v1/jobs/recordInfo?taskId={task_id}") as answer:
                assert (await answer.json())["data"]["failCode"] == "422"
            (callback,) = rt.callbacks.records()
            assert callback.payload["data"]["failCode"] == "422"
            rt.journal.assert_created_once(task_id)

    asyncio.run(scenario())
