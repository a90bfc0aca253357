"""A replayed task whose recording ends before a final state (the capture stopped, the client
crashed) goes on under the emulation from the stage it was recorded at, under its recorded id:
a client's wait ends, and the control API can advance or complete it (kiekit_mock/har.py).

Each family's recording is made by the mock itself (its answers are KIE's shapes), cut after
the first pending status answer, and replayed by another mock; every step is a poll or a
control call, never a sleep."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig, MockServer
from kiekit_mock.har import parse_har

if TYPE_CHECKING:
    from conftest import Kie

CALLBACK = "https://your-domain.com/cb"


@dataclass(frozen=True)
class Family:
    name: str
    create_path: str
    body: dict[str, Any]
    status_path: str
    done: Callable[[dict[str, Any]], bool]  # the record of a task that ended in success


def _flag(data: dict[str, Any]) -> bool:
    return data.get("successFlag") == 1


FAMILIES = [
    Family(
        "market",
        "/api/v1/jobs/createTask",
        {"model": "grok-imagine/text-to-image", "input": {"prompt": "a cat"}},
        "/api/v1/jobs/recordInfo",
        lambda data: data["state"] == "success",
    ),
    Family(
        "veo",
        "/api/v1/veo/generate",
        {"prompt": "a cat running", "model": "veo3_fast"},
        "/api/v1/veo/record-info",
        _flag,
    ),
    Family(
        "runway",
        "/api/v1/runway/generate",
        {"prompt": "a cat running", "duration": 5, "quality": "720p", "aspectRatio": "16:9"},
        "/api/v1/runway/record-detail",
        lambda data: data["state"] == "success",
    ),
    Family(
        "luma",
        "/api/v1/modify/generate",
        {"prompt": "make it snow", "videoUrl": "https://example.com/in.mp4"},
        "/api/v1/modify/record-info",
        _flag,
    ),
    Family(
        "suno",
        "/api/v1/generate",
        {
            "prompt": "a song about cats",
            "customMode": False,
            "instrumental": False,
            "model": "V4_5",
            "callBackUrl": CALLBACK,
        },
        "/api/v1/generate/record-info",
        lambda data: data["status"] == "SUCCESS",
    ),
    Family(
        "4o image",
        "/api/v1/gpt4o-image/generate",
        {"prompt": "a cat", "size": "1:1"},
        "/api/v1/gpt4o-image/record-info",
        _flag,
    ),
    Family(
        "flux kontext",
        "/api/v1/flux/kontext/generate",
        {"prompt": "a cat", "model": "flux-kontext-pro"},
        "/api/v1/flux/kontext/record-info",
        _flag,
    ),
    Family(
        "midjourney",
        "/api/v1/mj/generate",
        {"taskType": "mj_txt2img", "prompt": "a cat", "speed": "fast"},
        "/api/v1/mj/record-info",
        _flag,
    ),
]


def har_entry(method: str, url: str, body: Any, answer: Any, second: int) -> dict[str, Any]:
    """One HAR 1.2 entry, as a recorder writes it."""
    request: dict[str, Any] = {"method": method, "url": url, "headers": [], "queryString": []}
    if body is not None:
        request["postData"] = {"mimeType": "application/json", "text": json.dumps(body)}
    return {
        "startedDateTime": f"2026-04-16T06:00:{second:02d}.000Z",
        "request": request,
        "response": {
            "status": 200,
            "content": {"mimeType": "application/json", "text": json.dumps(answer)},
        },
    }


def _record(kie: Kie, family: Family, polls: int) -> tuple[str, dict[str, Any]]:
    """The family's create and its first `polls` status answers (all pending), as a HAR."""
    created = kie.post(family.create_path, family.body).json()
    task_id = created["data"]["taskId"]
    base = "https://api.kie.ai"
    entries = [har_entry("POST", base + family.create_path, family.body, created, 0)]
    for second in range(1, polls + 1):
        answer = kie.get(f"{family.status_path}?taskId={task_id}").json()
        assert not family.done(answer["data"])
        url = f"{base}{family.status_path}?taskId={task_id}"
        entries.append(har_entry("GET", url, None, answer, second))
    return task_id, {"log": {"version": "1.2", "entries": entries}}


@pytest.fixture(params=FAMILIES, ids=[f.name for f in FAMILIES])
def family(request: pytest.FixtureRequest) -> Family:
    family: Family = request.param
    return family


@pytest.fixture
def recording(family: Family, make_mock: Any) -> tuple[str, dict[str, Any]]:
    """A recording cut while the task was still pending: the create and two status answers."""
    _mock, kie = make_mock(polls_to_complete=4)
    return _record(kie, family, 2)


def test_an_unfinished_recording_goes_on_under_the_emulation_to_its_end(
    family: Family, recording: tuple[str, dict[str, Any]], kie_at: Any
) -> None:
    task_id, har = recording
    scenario = parse_har(har)
    with MockServer(MockConfig(polls_to_complete=2), scenario=scenario) as mock:
        kie = kie_at(mock.base_url)
        assert kie.ok(kie.post(family.create_path, family.body))["taskId"] == task_id
        status = f"{family.status_path}?taskId={task_id}"
        answers = [kie.get(status).json() for _ in range(6)]
        # the recorded answers first, as recorded (an input link echoed in them, Luma's
        # https://example.com video, served from the mock); then the emulation, to the end
        recorded = json.dumps(list(scenario.tasks[0].answers))
        for file in scenario.files:
            recorded = recorded.replace(file.url, f"{mock.base_url}/_mock/har-files/{file.name}")
        assert answers[:2] == json.loads(recorded)
        assert not family.done(answers[2]["data"])  # the default lifecycle: 2 more polls
        assert all(a["code"] == 200 and a["data"] is not None for a in answers)
        assert family.done(answers[-1]["data"])
        snapshot = mock.task(task_id)
        assert (snapshot.task_id, snapshot.state) == (task_id, "success")


def test_the_control_api_completes_a_task_whose_recording_is_unfinished(
    family: Family, recording: tuple[str, dict[str, Any]], kie_at: Any
) -> None:
    task_id, har = recording
    with MockServer(MockConfig(polls_to_complete=50), scenario=parse_har(har)) as mock:
        kie = kie_at(mock.base_url)
        kie.ok(kie.post(family.create_path, family.body))
        status = f"{family.status_path}?taskId={task_id}"
        assert not family.done(kie.get(status).json()["data"])  # a recorded answer
        done = kie.fetch(f"{mock.base_url}/_mock/tasks/{task_id}/complete", method="POST")
        assert (done.status, done.json()["task"]["state"]) == (200, "success")
        # the test finished it: the recording gives way at once
        assert family.done(kie.ok(kie.get(status)))


def test_an_unfinished_market_task_goes_on_from_its_recorded_stage(
    make_mock: Any, kie_at: Any
) -> None:
    """Recorded waiting → generating: the emulation never shows it waiting again."""
    market = FAMILIES[0]
    _mock, kie = make_mock(polls_to_complete=3)
    task_id, har = _record(kie, market, 3)
    states = [json.loads(e["response"]["content"]["text"]) for e in har["log"]["entries"][1:]]
    assert [s["data"]["state"] for s in states][-1] == "generating"
    with MockServer(MockConfig(polls_to_complete=3), scenario=parse_har(har)) as mock:
        kie = kie_at(mock.base_url)
        kie.ok(kie.post(market.create_path, market.body))
        seen = [kie.record(task_id)["state"] for _ in range(7)]
    assert seen[2:] == ["generating"] * 4 + ["success"]


def test_an_unfinished_recording_charges_and_calls_back_like_an_emulated_task(
    make_mock: Any, kie_at: Any
) -> None:
    market = FAMILIES[0]
    _mock, kie = make_mock(polls_to_complete=3)
    task_id, har = _record(kie, market, 1)
    with MockServer(MockConfig(), scenario=parse_har(har)) as mock:
        kie = kie_at(mock.base_url)
        body = {**market.body, "callBackUrl": "http://127.0.0.1:9/cb"}
        kie.ok(kie.post(market.create_path, body))
        assert kie.record(task_id)["state"] == "waiting"  # the recorded answer
        assert kie.record(task_id)["state"] == "success"  # the emulation's
        snapshot = mock.task(task_id)
        assert snapshot.credits_charged > 0
        assert [c.task_id for c in mock.callbacks()] == [task_id]
