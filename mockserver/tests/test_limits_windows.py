"""KIE's documented rate limits (limits.py, kie-api.md §2.2, §8), on the mock clock."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import AccountSettings, MockServer
from kiekit_mock.limits import LimitSettings

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

T2I = "grok-imagine/text-to-image"
CREATE = "/api/v1/jobs/createTask"
BODY = {"model": T2I, "input": {"prompt": "p"}}
RATE_LIMITED = {"code": 429, "msg": "Rate limit exceeded, please try again later", "data": None}


def _create_codes(kie: Kie, n: int) -> list[int]:
    return [kie.post(CREATE, BODY).json()["code"] for _ in range(n)]


# time_scale=0.001: the mock clock all but stands still, so only advance() moves a window and a
# slow CI machine cannot let a window pass between two requests
FROZEN = 0.001


def test_twenty_creates_per_ten_seconds_per_account(make_mock: MakeMock) -> None:
    mock, kie = make_mock(documented_limits=True, time_scale=FROZEN)
    assert _create_codes(kie, 20) == [200] * 20
    refused = kie.post(CREATE, BODY)
    assert refused.json() == RATE_LIMITED
    assert len(mock.tasks()) == 20  # rejected, not queued
    assert mock.requests()[-1].fault == "limit:creates"
    assert _create_codes(kie.as_key("another"), 1) == [200]  # its own window
    mock.clock.advance(9.9)
    assert _create_codes(kie, 1) == [429]
    mock.clock.advance(0.1)  # the first 20 leave the window together
    assert _create_codes(kie, 20) == [200] * 20
    assert _create_codes(kie, 1) == [429]


def test_the_create_window_counts_every_family(make_mock: MakeMock) -> None:
    _, kie = make_mock(max_creates_per_10s=2)
    kie.create(T2I, prompt="p")
    kie.flux(prompt="p")
    assert kie.post("/api/v1/flux/kontext/generate", {"prompt": "p"}).json() == RATE_LIMITED


def test_time_scale_lets_a_test_pass_the_window_quickly(make_mock: MakeMock) -> None:
    # No race with the 20 ms window: the 429 inside a window is tested on the frozen clock above;
    # here only that a real 20 ms are 10 mock seconds, which free the window.
    mock, kie = make_mock(max_creates_per_10s=1, time_scale=500)  # 10 s window = 20 ms
    assert _create_codes(kie, 1) == [200]
    started = mock.clock.now()
    time.sleep(mock.clock.wall_seconds(10))
    assert mock.clock.now() - started >= 9.99
    assert _create_codes(kie, 1) == [200]


def test_record_info_ten_per_second_per_key(make_mock: MakeMock) -> None:
    mock, kie = make_mock(documented_limits=True, time_scale=FROZEN)
    task_id = kie.create(T2I, prompt="p")
    poll = f"/api/v1/jobs/recordInfo?taskId={task_id}"
    codes = [kie.get(poll).json()["code"] for _ in range(11)]
    assert codes == [200] * 10 + [429]
    assert mock.requests()[-1].fault == "limit:record-info"
    assert kie.as_key("other").get(poll).json()["code"] == 404  # another key: its own window
    mock.clock.advance(1)
    assert kie.get(poll).json()["code"] == 200


def _gpt4o(kie: Kie) -> str:
    body = {"prompt": "p", "size": "1:1"}
    return str(kie.ok(kie.post("/api/v1/gpt4o-image/generate", body))["taskId"])


def test_4o_record_info_three_per_second_per_task(make_mock: MakeMock) -> None:
    mock, kie = make_mock(documented_limits=True, time_scale=FROZEN)
    first, second = _gpt4o(kie), _gpt4o(kie)

    def poll(task_id: str) -> int:
        return int(kie.get(f"/api/v1/gpt4o-image/record-info?taskId={task_id}").json()["code"])

    assert [poll(first) for _ in range(4)] == [200, 200, 200, 429]
    assert poll(second) == 200  # per task, not per key
    assert mock.requests()[-2].fault == "limit:task-polls"
    mock.clock.advance(1)
    assert poll(first) == 200


def test_limits_are_off_by_default(kie: Kie, mock: MockServer) -> None:
    assert mock.limits.settings == LimitSettings()
    assert _create_codes(kie, 25) == [200] * 25


def test_an_account_s_own_limit_overrides_the_default(make_mock: MakeMock) -> None:
    accounts = {"small-key": AccountSettings(max_creates_per_10s=2), "test-key": AccountSettings()}
    _, kie = make_mock(documented_limits=True, accounts=accounts)
    small = kie.as_key("small-key")
    assert _create_codes(small, 3) == [200, 200, 429]
    assert _create_codes(kie, 3) == [200, 200, 200]


def test_python_api_switches_limits_on_and_off(kie: Kie, mock: MockServer) -> None:
    mock.limits.set(LimitSettings.documented())
    mock.limits.set(creates_per_10s=1)
    assert _create_codes(kie, 2) == [200, 429]
    mock.limits.set(creates_per_10s=None)
    assert _create_codes(kie, 1) == [200]


def _control(kie: Kie, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = None if body is None else json.dumps(body).encode()
    answer = kie.fetch(
        kie.base_url + path,
        method=method,
        data=raw,
        headers={"Content-Type": "application/json"},
    )
    return answer.status, answer.json()


def test_control_routes(kie: Kie, mock: MockServer) -> None:
    off = {"creates_per_10s": None, "record_info_per_second": None, "task_polls_per_second": None}
    assert _control(kie, "GET", "/_mock/limits") == (200, off)
    documented = {"creates_per_10s": 20, "record_info_per_second": 10, "task_polls_per_second": 3}
    assert _control(kie, "PUT", "/_mock/limits", {"documented": True}) == (200, documented)
    status, now = _control(kie, "PUT", "/_mock/limits", {"creates_per_10s": 2})
    assert (status, now["creates_per_10s"], now["record_info_per_second"]) == (200, 2, 10)
    assert _create_codes(kie, 3) == [200, 200, 429]
    assert _control(kie, "DELETE", "/_mock/limits/windows") == (200, {"cleared": True})
    assert _create_codes(kie, 1) == [200]
    assert _control(kie, "PUT", "/_mock/limits", {"documented": False}) == (200, off)
    assert mock.limits.settings == LimitSettings()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"creates_per_10s": 0}, "creates_per_10s"),
        ({"record_info_per_second": "10"}, "record_info_per_second"),
        ({"documented": "yes"}, "documented"),
        ({"creates_per_second": 5}, "creates_per_second"),
    ],
)
def test_bad_limit_settings_name_the_field(kie: Kie, body: dict[str, Any], field: str) -> None:
    status, answer = _control(kie, "PUT", "/_mock/limits", body)
    assert status == 400
    assert answer["field"] == field
