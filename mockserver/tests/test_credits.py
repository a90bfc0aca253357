"""Credits (kie-api.md §4, §7) and the opt-in create rate limit (§8)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

T2I = "grok-imagine/text-to-image"
CREDIT = "/api/v1/chat/credit"


def test_balance_is_a_float_and_goes_down_per_task(make_mock: MakeMock) -> None:
    _, kie = make_mock(starting_credits=100.0)
    answer = kie.get(CREDIT).json()
    assert answer == {"code": 200, "msg": "success", "data": 100.0}
    assert isinstance(answer["data"], float)
    kie.create(T2I, prompt="p")  # 4
    kie.flux(prompt="p")  # flux-kontext-pro: 5
    kie.flux(prompt="p", model="flux-kontext-max")  # 10
    kie.create("grok-imagine/text-to-video", prompt="p")  # 10
    assert kie.ok(kie.get(CREDIT)) == 71.0
    assert kie.as_key("someone-else").ok(kie.as_key("someone-else").get(CREDIT)) == 100.0


def test_insufficient_credits_is_402(make_mock: MakeMock) -> None:
    mock, kie = make_mock(starting_credits=9.0)
    kie.create(T2I, prompt="p")
    kie.create(T2I, prompt="p")
    body = {"model": T2I, "input": {"prompt": "p"}}
    answer = kie.post("/api/v1/jobs/createTask", body)
    assert answer.status == 200
    assert answer.json() == {"code": 402, "msg": "Credits insufficient", "data": None}
    flux = kie.post("/api/v1/flux/kontext/generate", {"prompt": "p"}).json()
    assert flux["code"] == 402
    assert len(mock.tasks()) == 2
    assert kie.ok(kie.get(CREDIT)) == 1.0


def test_a_failed_task_is_refunded(kie: Kie) -> None:
    task_id = kie.create(T2I, prompt="[mock:fail]")
    assert kie.ok(kie.get(CREDIT)) == 996.0
    assert kie.record(task_id)["state"] == "fail"
    assert kie.ok(kie.get(CREDIT)) == 1000.0


def test_rate_limit_is_opt_in(make_mock: MakeMock) -> None:
    _, kie = make_mock(max_creates_per_10s=2)
    kie.create(T2I, prompt="p")
    kie.flux(prompt="p")
    answer = kie.post("/api/v1/jobs/createTask", {"model": T2I, "input": {"prompt": "p"}})
    assert answer.json()["code"] == 429
    assert kie.ok(kie.get(CREDIT)) == 991.0  # the refused request costs nothing
    # another account has its own window
    kie.as_key("other").create(T2I, prompt="p")
