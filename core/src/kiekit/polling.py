"""How long to wait between status polls, and when to give up: an immutable policy.

KIE asks for polls every 2–5 s, backing off 2–3 s → 5–10 s → 15–30 s, and suggests giving up
after 10–15 minutes (kie-api.md §2.2, D:get-task-detail). Growing the interval with the time
since the task was created does exactly that for any task length: a 15 s image is polled every
2 s, a 5 min video every ~30 s, and completion is noticed within about a tenth of the task's own
duration. The first poll waits two intervals (4 s by default): no KIE generation is done sooner,
and the polls saved pay for the finer schedule later — a 10 s task costs 4 polls, a 60 s one 21,
a 300 s one 38, against 5, 21 and 101 for the guide's fixed 3 s loop (tools/bench/polling_cost.py).
"""

from __future__ import annotations

import attrs
from attrs import frozen

from kiekit._numbers import finite, shown
from kiekit.errors import ValidationError

__all__ = ["PollPolicy"]


def _positive(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    number = finite(value)
    if number is None or not number > 0:
        raise ValidationError(
            f"PollPolicy.{attribute.name}", f"must be a finite number > 0, got {shown(value)}"
        )


def _not_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    # 0 is allowed: polling with no pause is what tests and benchmarks against a mock want
    number = finite(value)
    if number is None or number < 0:
        raise ValidationError(
            f"PollPolicy.{attribute.name}", f"must be a finite number >= 0, got {shown(value)}"
        )


@frozen
class PollPolicy:
    """``interval(t)`` is ``growth × t`` clamped to ``[initial, maximum]``, ``t`` counted from the
    task's creation; ``first`` is the wait before the first poll of a task just created (default
    two initial intervals); ``timeout`` is the deadline of a whole wait, after which
    :class:`~kiekit.errors.WaitTimeoutError` is raised."""

    initial: float = attrs.field(default=2.0, validator=_not_negative)
    growth: float = attrs.field(default=0.1, validator=_not_negative)
    maximum: float = attrs.field(default=30.0, validator=_not_negative)
    timeout: float = attrs.field(default=900.0, validator=_positive)
    first: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(_not_negative)
    )

    def __attrs_post_init__(self) -> None:
        if self.initial > self.maximum:
            raise ValidationError(
                "PollPolicy.initial", f"({self.initial}) must not exceed maximum ({self.maximum})"
            )

    @property
    def first_poll(self) -> float:
        """Seconds from a task's creation to its first poll (``first``; default 2 × initial)."""
        return 2 * self.initial if self.first is None else self.first

    def interval(self, elapsed: float) -> float:
        """Seconds to sleep before the next poll, ``elapsed`` seconds into the wait."""
        return min(self.maximum, max(self.initial, self.growth * elapsed))
