"""KIE keeps "log records 2 months" (kie-api.md §1, §8): past `record_days` after a task ended,
its status query answers as for an id KIE never made, in its family's own words — the path a
client's "older than KIE keeps" handling takes, reached by moving the mock clock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import Lifecycle, MockConfig, MockServer
from kiekit_mock.__main__ import _parser, main
from kiekit_mock.startup import in_force

if TYPE_CHECKING:
    from conftest import Answer, Kie, MakeMock

FROZEN = 1e-6  # the mock clock moves only when advanced
DAY = 86400
MOMENT = 0.01  # mock seconds: well above the clock's drift while a test runs
# the float ulp of an epoch time (2.4e-7 s): a step of MOMENT after lifetime - MOMENT may
# land that much short of the lifetime; a microsecond more is the lifetime itself
TICK = 1e-6
T2I = "grok-imagine/text-to-image"
MARKET = "/api/v1/jobs/recordInfo?taskId="
VEO = "/api/v1/veo/record-info?taskId="
FLUX = "/api/v1/flux/kontext/record-info?taskId="


def _body(answer: Answer) -> tuple[int, str]:
    assert answer.status == 200, "KIE answers errors with HTTP 200 (§1)"
    payload: dict[str, Any] = answer.json()
    return payload["code"], payload["msg"]


def _ended_at(make_mock: MakeMock, **config: Any) -> tuple[MockServer, Kie, str, float]:
    """A mock, a finished market task and the mock-clock time it ended."""
    mock, kie = make_mock(time_scale=FROZEN, **config)
    task_id = kie.create(T2I, prompt="p")
    assert kie.record(task_id)["state"] == "success"  # ended at this poll
    ended = mock.task(task_id)
    assert ended is not None
    assert ended.completed_ms is not None
    return mock, kie, task_id, ended.completed_ms / 1000


def test_a_record_is_found_until_60_days_after_the_task_ended_then_not_found(
    make_mock: MakeMock,
) -> None:
    mock, kie, task_id, ended = _ended_at(make_mock)
    mock.clock.advance(60 * DAY - MOMENT - (mock.clock.now() - ended))
    assert kie.record(task_id)["state"] == "success"
    mock.clock.advance(MOMENT + TICK)
    assert _body(kie.get(MARKET + task_id)) == (404, "Task not found")  # as an unknown id (§2.2)
    with pytest.raises(KeyError):
        mock.task(task_id)
    assert all(task.task_id != task_id for task in mock.tasks())


def test_each_family_answers_a_forgotten_record_as_its_unknown_task(make_mock: MakeMock) -> None:
    mock, kie = make_mock(time_scale=FROZEN)
    veo = str(kie.ok(kie.post("/api/v1/veo/generate", {"prompt": "a fox"}))["taskId"])
    flux = kie.flux(prompt="p")
    assert kie.ok(kie.get(VEO + veo))["successFlag"] == 1
    assert kie.flux_record(flux)["successFlag"] == 1
    unknown_flux = _body(kie.get(FLUX + "0123456789abcdef0123456789abcdef"))
    mock.clock.advance(15 * DAY)  # Veo's own 14-day window first (§3.3)
    assert _body(kie.get(VEO + veo)) == (422, "Temporarily supports records within 14 days")
    mock.clock.advance(45 * DAY)
    assert _body(kie.get(VEO + veo)) == (422, "record is null")
    assert _body(kie.get(FLUX + flux)) == unknown_flux


def test_the_record_lifetime_is_a_setting_and_none_keeps_records(make_mock: MakeMock) -> None:
    mock, kie, task_id, ended = _ended_at(make_mock, record_days=1.5)
    mock.clock.advance(1.5 * DAY - (mock.clock.now() - ended))
    assert _body(kie.get(MARKET + task_id)) == (404, "Task not found")

    mock, kie, task_id, _ = _ended_at(make_mock, record_days=None)
    mock.clock.advance(365 * DAY)
    assert kie.record(task_id)["state"] == "success"


def test_a_pending_task_is_kept_and_its_record_counts_from_its_end(make_mock: MakeMock) -> None:
    mock, kie = make_mock(time_scale=FROZEN, record_days=1)
    task_id = kie.create(T2I, prompt="p")
    mock.set_lifecycle(task_id, Lifecycle(manual=True))
    mock.clock.advance(10 * DAY)
    assert kie.record(task_id)["state"] == "waiting"  # its client still polls it
    mock.complete(task_id)
    assert kie.record(task_id)["state"] == "success"
    mock.clock.advance(DAY)
    assert _body(kie.get(MARKET + task_id)) == (404, "Task not found")


def test_a_task_a_jump_ends_is_forgotten_by_when_it_was_due(make_mock: MakeMock) -> None:
    """It ended when it was due (not at the jump), so a jump of 61 days leaves no record."""
    mock, kie = make_mock(time_scale=FROZEN, seconds_to_complete=1)
    task_id = kie.create(T2I, prompt="p")
    mock.clock.advance(61 * DAY)
    assert _body(kie.get(MARKET + task_id)) == (404, "Task not found")


@pytest.mark.parametrize("days", [0, -1, float("inf"), float("nan")])
def test_a_record_lifetime_must_be_a_positive_number_of_days(days: float) -> None:
    with pytest.raises(ValueError, match="record_days"):
        MockConfig(record_days=days)
    with pytest.raises(TypeError, match="record_days"):
        MockConfig(record_days="60")  # type: ignore[arg-type]
    assert MockConfig().record_days == 60


@pytest.mark.parametrize("value", ["-1", "soon", "inf"])
def test_the_command_line_names_a_bad_record_lifetime(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--record-days", value])
    assert stopped.value.code == 2
    assert "--record-days" in capsys.readouterr().err


def test_the_command_line_sets_the_record_lifetime_and_says_so() -> None:
    parse = _parser("kie mock serve").parse_args
    assert parse([]).record_days == 60
    assert parse(["--record-days", "7.5"]).record_days == 7.5
    assert parse(["--record-days", "0"]).record_days is None  # kept until --task-limit
    assert "records kept" not in in_force(MockConfig())
    assert "finished tasks' records kept 7.5 days" in in_force(MockConfig(record_days=7.5))
