"""How long to wait between status polls, and when to give up: an immutable policy.

KIE asks for polls every 2–5 s, backing off 2–3 s → 5–10 s → 15–30 s, and suggests giving up
after 10–15 minutes (kie-api.md §2.2, D:get-task-detail). Growing the interval with the time
already waited does exactly that for any task length: a 15 s image is polled every 2 s, a 5 min
video every ~30 s, and completion is noticed within about a tenth of the task's own duration.
"""

from __future__ import annotations

import math

import attrs
from attrs import frozen

__all__ = ["PollPolicy"]


def _positive(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"PollPolicy.{attribute.name} must be positive, got {value!r}")


@frozen
class PollPolicy:
    """``interval(t)`` is ``growth × t`` clamped to ``[initial, maximum]``; ``timeout`` is the
    deadline of a whole wait, after which :class:`~kiekit.errors.WaitTimeoutError` is raised."""

    initial: float = attrs.field(default=2.0, validator=_positive)
    growth: float = attrs.field(default=0.1, validator=_positive)
    maximum: float = attrs.field(default=30.0, validator=_positive)
    timeout: float = attrs.field(default=900.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.initial > self.maximum:
            raise ValueError(
                f"PollPolicy.initial ({self.initial}) must not exceed maximum ({self.maximum})"
            )

    def interval(self, elapsed: float) -> float:
        """Seconds to sleep before the next poll, ``elapsed`` seconds into the wait."""
        return min(self.maximum, max(self.initial, self.growth * elapsed))
