"""The mock clock (clock.py): sped up, advanced, and its speed changed while it runs (over HTTP:
PUT /_mock/clock), on a wall clock the test moves itself."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock.clock import MockClock

if TYPE_CHECKING:
    from conftest import Kie


class Wall:
    """A wall clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_new_scale_applies_from_now_on_and_leaves_the_time_passed_as_it_was() -> None:
    wall = Wall()
    clock = MockClock(2, wall=wall)
    wall.now += 10
    assert clock.now() == 1_000_020  # 10 s at 2x
    assert clock.set_scale(60) == 1_000_020  # no jump
    wall.now += 1
    assert clock.now() == 1_000_080
    clock.advance(100)
    wall.now += 1
    assert clock.now() == 1_000_240
    assert (clock.scale, clock.wall_seconds(600)) == (60, 10)


def test_a_change_of_scale_is_told_to_listeners_like_an_advance() -> None:
    told: list[float] = []
    clock = MockClock(wall=Wall())
    clock.listen(lambda: told.append(clock.scale))
    clock.set_scale(10)
    clock.advance(1)
    assert told == [10, 10]


@pytest.mark.parametrize("scale", [0, -1, 0.0001, 1001, float("inf"), float("nan"), True, "2"])
def test_a_scale_out_of_range_is_refused_and_changes_nothing(scale: Any) -> None:
    clock = MockClock(wall=Wall())
    with pytest.raises(ValueError, match=r"time_scale must be a number from 0\.001 to 1000"):
        clock.set_scale(scale)
    assert clock.scale == 1


def test_restore_scale_goes_back_to_the_starting_speed_and_keeps_the_time() -> None:
    wall = Wall()
    clock = MockClock(2, wall=wall)
    clock.set_scale(600)
    wall.now += 1
    assert clock.restore_scale() == 1_000_600  # no jump back
    wall.now += 1
    assert (clock.scale, clock.now()) == (2, 1_000_602)


def put_clock(kie: Kie, body: bytes) -> Any:
    return kie.fetch(kie.base_url + "/_mock/clock", method="PUT", data=body)


def test_the_scale_is_set_over_http_and_read_back(kie: Kie) -> None:
    answer = put_clock(kie, b'{"scale": 60}')
    assert (answer.status, answer.json()["scale"]) == (200, 60)
    assert set(answer.json()) == {"now", "now_ms", "scale"}
    read = kie.fetch(kie.base_url + "/_mock/clock").json()
    assert read["scale"] == 60


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "scale"),
        ({"scale": 0}, "scale"),
        ({"scale": 1001}, "scale"),
        ({"scale": "60"}, "scale"),
        ({"scale": None}, "scale"),
        ({"scale": 60, "speed": 2}, "speed"),
        ([60], "body"),
    ],
)
def test_a_bad_scale_over_http_is_400_naming_the_field(kie: Kie, body: Any, field: str) -> None:
    answer = put_clock(kie, json.dumps(body).encode())
    assert (answer.status, answer.json()["field"]) == (400, field)
    assert kie.fetch(kie.base_url + "/_mock/clock").json()["scale"] == 1


def test_a_reset_brings_the_clock_back_to_the_speed_the_mock_started_with(
    make_mock: Any,
) -> None:
    """A test that sped the clock up (PUT /_mock/clock) left every later test of a shared
    mock on fast time: a reset undid every other setting but that one. The time stays."""
    _, kie = make_mock(time_scale=2)
    assert put_clock(kie, b'{"scale": 600}').json()["scale"] == 600
    before = kie.fetch(kie.base_url + "/_mock/clock").json()["now"]
    reset = kie.fetch(kie.base_url + "/_mock/reset", method="POST", data=b"")
    assert (reset.status, reset.json()) == (200, {"reset": True})
    after = kie.fetch(kie.base_url + "/_mock/clock").json()
    assert after["scale"] == 2
    assert after["now"] >= before  # never back
    put_clock(kie, b'{"scale": 600}')
    account = b'{"api_key": "test-key"}'  # one account's reset: the clock is every job's
    kie.fetch(kie.base_url + "/_mock/reset", method="POST", data=account)
    assert kie.fetch(kie.base_url + "/_mock/clock").json()["scale"] == 600
