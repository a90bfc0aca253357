"""Every number a user configures (seconds, rates, delays) past a float's range is one error
naming it, before anything is sent: ``math.isfinite(10**400)`` was a bare OverflowError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kiekit import AsyncClient, Client, ConfigurationError, PollPolicy, RetryPolicy
from kiekit.errors import ValidationError
from kiekit.journal import Journal, MemoryStore
from kiekit.ratelimit import Rate, RateLimits
from kiekit.retry import DownloadPolicy
from kiekit.webhooks import WebhookReceiver

HUGE = 10**400  # an int Python holds, a float does not
NOWHERE: dict[str, Any] = {"base_url": "http://127.0.0.1:9", "journal": None}


def _journal(**options: Any) -> Journal:
    return Journal(MemoryStore(), **options)


def _made(make: Callable[..., object], *args: Any, **options: Any) -> Callable[[], object]:
    return lambda: make(*args, **options)


def _shared(**options: Any) -> Any:
    from kiekit.shared_limits import SharedRateLimiter

    return SharedRateLimiter("redis://127.0.0.1:9", **options)


CASES: list[tuple[str, type[Exception], Callable[[], object]]] = [
    ("timeout", ConfigurationError, lambda: Client("k", timeout=HUGE, **NOWHERE)),
    ("timeout", ConfigurationError, lambda: AsyncClient("k", timeout=HUGE, **NOWHERE)),
    *[
        (f"RetryPolicy.{name}", ValidationError, _made(RetryPolicy, **{name: HUGE}))
        for name in ("base", "cap", "deadline")
    ],
    *[
        (f"PollPolicy.{name}", ValidationError, _made(PollPolicy, **{name: HUGE}))
        for name in ("initial", "growth", "maximum", "timeout", "first")
    ],
    ("DownloadPolicy.timeout", ValidationError, lambda: DownloadPolicy(timeout=HUGE)),
    ("Rate.per", ValidationError, lambda: Rate(20, HUGE)),
    ("RateLimits.margin", ValidationError, lambda: RateLimits(margin=HUGE)),
    *[
        (f"WebhookReceiver {name}", ConfigurationError,
         _made(WebhookReceiver, "k", **{name: HUGE}))
        for name in ("body_timeout", "unknown_rate", "max_age")
    ],
    ("WebhookReceiver confirm_delays", ConfigurationError,
     lambda: WebhookReceiver("k", confirm_delays=(1, HUGE))),
    ("journal lease", ConfigurationError, lambda: _journal(lease=HUGE)),
    ("place_lease", ConfigurationError, lambda: _shared(place_lease=HUGE)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "error", "make"), CASES, ids=[case[0] for case in CASES])
def test_a_number_past_a_floats_range_is_one_error_naming_it(
    name: str, error: type[Exception], make: Callable[[], object]
) -> None:
    with pytest.raises(error) as refused:
        make()
    said = str(refused.value)
    assert said.startswith(name)
    assert "an integer of about 401 digits (past a float's range)" in said  # not 401 digits


def test_a_policy_value_is_a_validation_error_and_still_a_value_error() -> None:
    """Callers catching ValueError (the policies' error before) still catch it."""
    with pytest.raises(ValidationError, match=r"^PollPolicy\.timeout: must be a finite number"):
        PollPolicy(timeout=-1)
    assert issubclass(ValidationError, ValueError)


def test_a_large_int_a_float_holds_is_taken() -> None:
    assert RetryPolicy(deadline=10**300).deadline == 10**300
    assert PollPolicy(timeout=10**6).timeout == 10**6
