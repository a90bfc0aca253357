"""A client-side rate limiter that keeps a client within KIE's documented limits (kie-api.md §8).

KIE rejects requests past its limits with code 429 and does not queue them, so the polite and
the cheap thing is never to send them: every request a client makes first reserves a slot here,
and the engine sleeps until its slot comes (a :class:`~kiekit._engine.Sleep`, so tests run on
fake time). The documented limits:

- creates: 20 per 10 s per account ("≤20 new generation requests per 10 s", D:index §8);
- status polls: jobs/recordInfo 10 per second per API key (D:get-task-detail);
- some families also limit polls per task (4o Image and Suno record-info: 3 per second per
  task); a provider declares that with ``Provider.status_rate_per_task``.

Windows slide: at most ``count`` requests in any interval of ``per`` seconds (plus ``margin``,
because the server measures arrival, and arrivals bunch up when latency varies). Slots are handed
out first come, first served, under a lock, so one limiter may be shared by the threads of a
``Client``, the tasks of an ``AsyncClient``, and several clients that use the same key (pass the
same :class:`RateLimiter` to each).

A booked slot is when a request is *sent*; KIE counts when it *arrives*, somewhere between the
two, and a burst sent at one moment arrives spread over the time the server takes to read it.
No margin fits every load, so creates (whose 429 costs a 10 s wait) are also *admitted* just
before they go (:meth:`RateLimiter.admit_create`): a create goes only when fewer than ``count``
creates may have arrived in the last ``per`` seconds, counting each answered one at its answer's
moment (it cannot have arrived later) and each unanswered one as arriving now. Whatever the
latency, the server never sees more than ``count`` in a window (issue 18).

Status polls are admitted the same way against the key's poll window
(:meth:`RateLimiter.admit_status`). Their window is a tenth of a second wide once the 0.1 s
margin is spent, and a poll is sent *after* its slot by however late its sleep ends: a busy
event loop, and with shared limits the time Redis's answer takes to come back (the slot is on
Redis's clock, the sleep starts when the answer is read). A poll sent late shrinks the gap to
the poll booked a window after it, which goes on time: an outside tester's four webhook workers
drew a 429 so, with no outage. Admission counts what may have arrived instead of what was
booked, so lateness of any size costs a wait, never a 429.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
from collections import deque
from collections.abc import Hashable, Iterable

import attrs
from attrs import frozen

from kiekit._numbers import finite, shown
from kiekit.errors import ValidationError

__all__ = ["Rate", "RateLimiter", "RateLimits"]

# Per-task windows are dropped once idle; this many may pile up before a sweep.
_SWEEP_AT = 512


def _positive_count(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            f"Rate.{attribute.name}", f"must be a whole number >= 1, got {shown(value)}"
        )


def _positive_seconds(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    number = finite(value)
    if number is None or not number > 0:
        raise ValidationError(
            f"Rate.{attribute.name}", f"must be a finite number > 0, got {shown(value)}"
        )


@frozen
class Rate:
    """At most ``count`` requests in any ``per`` seconds."""

    count: int = attrs.field(validator=_positive_count)
    per: float = attrs.field(validator=_positive_seconds)


def _margin(_instance: object, _attribute: attrs.Attribute[float], value: float) -> None:
    number = finite(value)
    if number is None or number < 0:
        said = f"must be a finite number >= 0 (seconds), got {shown(value)}"
        raise ValidationError("RateLimits.margin", said)


@frozen
class RateLimits:
    """The limits a client keeps. ``None`` switches one off; pass ``rate_limits=None`` to a
    client to switch all of them off (e.g. when KIE support raised your account's limits)."""

    creates: Rate | None = Rate(20, 10.0)  # per account (§8)
    status: Rate | None = Rate(10, 1.0)  # per API key (§8, jobs/recordInfo)
    margin: float = attrs.field(default=0.1, validator=_margin)


class _Window:
    """The send times of the slots handed out under one rate that still count: those less than
    a window old, and every one to come. Not only the last ``count``: a slot given back (its
    request was never sent) must leave the older ones in force."""

    __slots__ = ("rate", "times")

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.times: deque[float] = deque()

    def earliest(self, now: float, margin: float) -> float:
        """The first moment a new slot keeps the window: after the last slot handed out (slots
        are first come, first served) and a whole window after the ``count``-th last one."""
        times, per = self.times, self.rate.per + margin
        while times and times[0] + per <= now:  # gone by a window: no say in a slot from now
            times.popleft()
        if not times:
            return now
        earliest = max(now, times[-1])
        if len(times) >= self.rate.count:
            earliest = max(earliest, times[-self.rate.count] + per)
        return earliest

    def give_back(self, slot: float) -> None:
        """Forget ``slot``: its request was never sent (cancelled, or given up before its
        turn). The slots booked after it keep their times (first come, first served)."""
        with contextlib.suppress(ValueError):  # gone by a window already: it counts no more
            self.times.remove(slot)


class _Arrivals:
    """The creates that may have reached the server within the last window: the moments of the
    answered ones' answers (sorted) and how many are still unanswered."""

    __slots__ = ("answered", "in_flight", "rate")

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.answered: list[float] = []
        self.in_flight = 0

    def admit(self, now: float) -> float:
        """0.0 when one more create sent now keeps the window (it is counted in flight), else
        how long to wait before asking again."""
        count, per = self.rate.count, self.rate.per
        answered = self.answered
        cut = bisect.bisect_right(answered, now - per)  # these have left the window
        if cut:
            del answered[:cut]
        excess = len(answered) + self.in_flight - count + 1
        if excess <= 0:
            self.in_flight += 1
            return 0.0
        if excess > len(answered):  # only answers still to come can open the window
            return per / 50
        return max(answered[excess - 1] + per - now, per / 1000)

    def done(self, answered_at: float) -> None:
        self.in_flight = max(self.in_flight - 1, 0)
        bisect.insort(self.answered, answered_at)


class RateLimiter:
    """Hands out send times that keep every window of :class:`RateLimits`; thread-safe.

    :meth:`reserve_create` and :meth:`reserve_status` return how long to wait before sending;
    the slot is booked at once, so callers that wait exactly that long never exceed a limit.
    With ``latest``, a slot later than that moment is not booked and None is returned (a wait
    whose deadline comes first does not poll at all). :meth:`book_create` and
    :meth:`book_status` return the slot's moment instead, which :meth:`give_back_create` and
    :meth:`give_back_status` take back when its request is not sent after all: a caller
    cancelled while it waits must not hold up everyone booked after it.
    """

    def __init__(self, limits: RateLimits | None = None) -> None:
        self.limits = limits or RateLimits()
        self._lock = threading.Lock()
        self._creates = _Window(self.limits.creates) if self.limits.creates else None
        self._arrivals = _Arrivals(self.limits.creates) if self.limits.creates else None
        self._status = _Window(self.limits.status) if self.limits.status else None
        self._polls = _Arrivals(self.limits.status) if self.limits.status else None
        self._per_task: dict[Hashable, _Window] = {}

    def __repr__(self) -> str:
        return f"RateLimiter({self.limits!r})"

    def reserve_create(self, now: float) -> float:
        """Book a create; the seconds to wait before sending it."""
        slot = self.book_create(now)
        assert slot is not None
        return slot - now

    def book_create(self, now: float, *, latest: float | None = None) -> float | None:
        """Book a create: the moment it may be sent (None: later than ``latest``, not booked)."""
        with self._lock:
            return self._book(now, [self._creates], latest)

    def give_back_create(self, slot: float) -> None:
        """A create booked for ``slot`` will not be sent: its place goes to those after it."""
        if self._creates is not None:
            with self._lock:
                self._creates.give_back(slot)

    def admit_create(self, now: float) -> float:
        """Just before a create is sent (its slot booked and waited for): 0.0 if it may go now,
        else the seconds to wait before asking again. A create admitted must be followed by
        :meth:`create_answered` once its answer (or failure) comes."""
        if self._arrivals is None:
            return 0.0
        with self._lock:
            return self._arrivals.admit(now)

    def create_answered(self, now: float) -> None:
        """An admitted create's answer or failure came at ``now``: it reached the server no
        later than that."""
        if self._arrivals is not None:
            with self._lock:
                self._arrivals.done(now)

    def admit_status(self, now: float) -> float:
        """:meth:`admit_create` for a status poll, against the key's poll window: 0.0 if it
        may go now (then :meth:`status_answered` must follow), else the seconds to wait."""
        if self._polls is None:
            return 0.0
        with self._lock:
            return self._polls.admit(now)

    def status_answered(self, now: float) -> None:
        """An admitted poll's answer or failure came at ``now``."""
        if self._polls is not None:
            with self._lock:
                self._polls.done(now)

    def reserve_status(
        self,
        now: float,
        task_id: str,
        per_task: Rate | None = None,
        *,
        latest: float | None = None,
    ) -> float | None:
        """Book a status poll of ``task_id`` (``per_task``: the family's own per-task limit);
        the seconds to wait before sending it."""
        slot = self.book_status(now, task_id, per_task, latest=latest)
        return None if slot is None else slot - now

    def book_status(
        self,
        now: float,
        task_id: str,
        per_task: Rate | None = None,
        *,
        latest: float | None = None,
    ) -> float | None:
        """:meth:`reserve_status`, answered with the slot's moment."""
        with self._lock:
            windows = [self._status]
            if per_task is not None:
                windows.append(self._task_window(now, task_id, per_task))
            return self._book(now, windows, latest)

    def give_back_status(self, slot: float, task_id: str, per_task: Rate | None = None) -> None:
        """A poll booked for ``slot`` will not be sent."""
        with self._lock:
            windows = [self._status]
            if per_task is not None:
                windows.append(self._per_task.get((task_id, per_task)))
            for window in windows:
                if window is not None:
                    window.give_back(slot)

    def _book(
        self, now: float, windows: Iterable[_Window | None], latest: float | None
    ) -> float | None:
        found = [window for window in windows if window is not None]
        if not found:
            return now
        slot = max(window.earliest(now, self.limits.margin) for window in found)
        if latest is not None and slot > latest:
            return None
        for window in found:
            window.times.append(slot)
        return slot

    def _task_window(self, now: float, task_id: str, rate: Rate) -> _Window:
        key = (task_id, rate)
        window = self._per_task.get(key)
        if window is None:
            if len(self._per_task) >= _SWEEP_AT:
                self._sweep(now)
            window = self._per_task[key] = _Window(rate)
        return window

    def _sweep(self, now: float) -> None:
        """Forget windows whose last slot is more than a window in the past: they allow a full
        burst again anyway."""
        margin = self.limits.margin
        idle = [
            key
            for key, window in self._per_task.items()
            if not window.times or window.times[-1] + window.rate.per + margin <= now
        ]
        for key in idle:
            del self._per_task[key]
