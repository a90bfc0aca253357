"""PollPolicy: an immutable value whose interval grows with the wait, clamped, with a deadline."""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import given, reject
from hypothesis import strategies as st
from kiekit import PollPolicy


def test_defaults_follow_kies_advice() -> None:
    """kie-api.md §2.2: poll every 2–5 s, back off to 15–30 s, stop after 10–15 min."""
    policy = PollPolicy()

    assert 2 <= policy.interval(0) <= 5
    assert 15 <= policy.interval(3600) <= 30
    assert 600 <= policy.timeout <= 900


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(0, 2.0), (10, 2.0), (20, 2.0), (50, 5.0), (100, 10.0), (300, 30.0), (10_000, 30.0)],
)
def test_interval_is_growth_times_elapsed_clamped(elapsed: float, expected: float) -> None:
    policy = PollPolicy(initial=2.0, growth=0.1, maximum=30.0)

    assert policy.interval(elapsed) == pytest.approx(expected)


def test_policy_is_immutable() -> None:
    policy = PollPolicy()

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.timeout = 1  # type: ignore[misc]


@pytest.mark.parametrize("name", ["initial", "growth", "maximum", "timeout", "first"])
@pytest.mark.parametrize("value", [-1, -0.5, math.nan, math.inf])
def test_negative_or_non_finite_values_are_rejected(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        PollPolicy(**{name: value})


def test_a_zero_timeout_is_rejected() -> None:
    with pytest.raises(ValueError, match="timeout"):
        PollPolicy(timeout=0)


def test_a_policy_with_no_pauses_is_allowed() -> None:
    """Polling with no pause at all is what tests and benchmarks against a mock want."""
    policy = PollPolicy(initial=0, growth=0, maximum=0)

    assert policy.interval(100) == 0
    assert policy.first_poll == 0


def test_the_first_poll_waits_two_intervals_unless_told() -> None:
    """No KIE generation is done within seconds; the polls saved pay for the finer schedule."""
    assert PollPolicy().first_poll == 4.0
    assert PollPolicy(initial=0.01).first_poll == pytest.approx(0.02)
    assert PollPolicy(first=0).first_poll == 0


def test_evolve_validates_too() -> None:
    with pytest.raises(ValueError, match="timeout"):
        attrs.evolve(PollPolicy(), timeout=0)


def test_first_interval_above_the_cap_is_rejected() -> None:
    """initial > maximum cannot be honoured both ways; a silent pick would surprise."""
    with pytest.raises(ValueError, match=r"initial|maximum"):
        PollPolicy(initial=10.0, maximum=5.0)


positive = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(
    initial=positive,
    growth=positive,
    maximum=positive,
    timeout=positive,
    elapsed=st.floats(min_value=0, max_value=1e9, allow_nan=False),
)
def test_interval_stays_between_initial_and_maximum(
    initial: float, growth: float, maximum: float, timeout: float, elapsed: float
) -> None:
    """For every policy the constructor accepts, and any time into the wait."""
    try:
        policy = PollPolicy(initial=initial, growth=growth, maximum=maximum, timeout=timeout)
    except ValueError:
        reject()

    interval = policy.interval(elapsed)

    assert policy.initial <= interval <= policy.maximum


@given(
    elapsed=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    later=st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
def test_interval_never_shrinks_as_the_wait_goes_on(elapsed: float, later: float) -> None:
    policy = PollPolicy()

    assert policy.interval(elapsed) <= policy.interval(elapsed + later)
