"""KIE's documented rate limits, measured on the mock clock (kie-api.md §2.2, §8).

- new tasks: at most 20 per 10 s per account; past it KIE answers body code 429 and the request
  is rejected, not queued (§8, D:index);
- jobs/recordInfo: at most 10 requests per second per API key (§2.2, D:get-task-detail);
- 4o Image and Suno record-info: at most 3 requests per second per task (§8, DOCCOPY,
  D:suno-api/get-music-details).

Every window is a sliding log over ``clock.now()``: with ``time_scale=60`` a 10 s create window
passes in 1/6 s of real time, and ``clock.advance(10)`` empties it at once. Only requests that
were let through count (a client retrying at the documented rate is never locked out). The limits
are off unless switched on: ``MockConfig(documented_limits=True)`` (all three at KIE's values),
``MockConfig(max_creates_per_10s=N)`` (creates only), ``mock.limits.set(...)`` or
``PUT /_mock/limits``. An account's own create limit (``AccountSettings.max_creates_per_10s``)
overrides the mock-wide one.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from .config import MockConfig
from .controlwire import ControlError, opt_int, refuse_unknown
from .envelope import ErrorAnswer

CREATE_WINDOW_SECONDS = 10.0  # §8: "20 new generation requests per 10 s"
POLL_WINDOW_SECONDS = 1.0  # §2.2 / §8: "per second"
RATE_LIMIT_MSG = "Rate limit exceeded, please try again later"  # [INF] real msg not recorded


@dataclass(frozen=True)
class LimitSettings:
    """Which limits are on (None: off). `documented()` gives KIE's own values."""

    creates_per_10s: int | None = None  # per account
    record_info_per_second: int | None = None  # GET /api/v1/jobs/recordInfo, per API key
    task_polls_per_second: int | None = None  # 4o Image and Suno record-info, per task

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            opt_int({name: value}, name, minimum=1)

    @classmethod
    def documented(cls) -> LimitSettings:
        """KIE's documented limits (20 creates per 10 s, polls per second)."""
        return cls(creates_per_10s=20, record_info_per_second=10, task_polls_per_second=3)

    @classmethod
    def from_config(cls, config: MockConfig) -> LimitSettings:
        """The limits a mock of ``config`` starts with."""
        base = cls.documented() if config.documented_limits else cls()
        if config.max_creates_per_10s is not None:
            base = replace(base, creates_per_10s=config.max_creates_per_10s)
        return base

    def to_json(self) -> dict[str, Any]:
        """The limits as the control API shows them."""
        return asdict(self)


SETTING_FIELDS = frozenset(LimitSettings.__dataclass_fields__)


def settings_from_json(current: LimitSettings, body: dict[str, Any]) -> LimitSettings:
    """PUT /_mock/limits: ``documented`` true/false first (all on at KIE's values / all off),
    then any named limit (an integer, or null for off); fields not named keep their value."""
    refuse_unknown(body, SETTING_FIELDS | {"documented"})
    documented = body.get("documented")
    if documented is not None and not isinstance(documented, bool):
        raise ControlError("documented", "must be true or false")
    base = current
    if documented is not None:
        base = LimitSettings.documented() if documented else LimitSettings()
    for name in SETTING_FIELDS & set(body):
        base = replace(base, **{name: opt_int(body, name, minimum=1)})
    return base


class RateLimited(ErrorAnswer):
    """KIE's 429 from one of the documented limits; `limit` names which (for the journal)."""

    def __init__(self, limit: str) -> None:
        super().__init__(429, RATE_LIMIT_MSG)
        self.limit = limit


@dataclass(frozen=True)
class WindowView:
    """One rate window as it stands: what it counts, how many it holds now, its limit."""

    limit: str  # "creates" (per account), "record-info" (per key), "task-polls" (per task)
    account_id: str
    task_id: str | None
    used: int  # requests let through in the last `seconds`
    allowed: int | None  # the limit in force (None: off; the window still counts creates)
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Window:
    """A sliding log of the moments requests were let through."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen: deque[float] = deque()

    def full(self, now: float, width: float, limit: int) -> bool:
        self.prune(now, width)
        return len(self.seen) >= limit

    def prune(self, now: float, width: float) -> None:
        while self.seen and now - self.seen[0] >= width:
            self.seen.popleft()


class Limits:
    """The mock's rate limits and their windows. Thread-safe."""

    def __init__(self, settings: LimitSettings | None = None) -> None:
        self._lock = threading.Lock()
        self._settings = settings or LimitSettings()
        self._windows: dict[tuple[str, ...], _Window] = {}

    @property
    def settings(self) -> LimitSettings:
        """The limits in force."""
        with self._lock:
            return self._settings

    @property
    def polls_limited(self) -> bool:
        """Whether a status-query limit is on: the middleware is left out of the chain if not."""
        settings = self._settings  # one attribute read: atomic, no lock needed
        return (
            settings.record_info_per_second is not None
            or settings.task_polls_per_second is not None
        )

    def set(self, settings: LimitSettings | None = None, /, **changes: int | None) -> LimitSettings:
        """Replace the settings (``set(LimitSettings.documented())``) or change some
        (``set(creates_per_10s=5)``, None switching one off); windows keep what they saw."""
        with self._lock:
            self._settings = replace(settings or self._settings, **changes)
            return self._settings

    def reset(self) -> None:
        """Forget every window (the settings stay)."""
        with self._lock:
            self._windows.clear()

    def forget_account(self, account: str) -> None:
        """Forget one account's windows (a per-account reset)."""
        with self._lock:
            for key in [key for key in self._windows if key[1] == account]:
                del self._windows[key]

    def windows(
        self, now: float, own_limits: Mapping[str, int | None] | None = None
    ) -> list[WindowView]:
        """The windows that hold requests now; `own_limits`: accounts' own create limits,
        which win over the mock-wide one (as in check_create)."""
        own_limits = own_limits or {}
        views = []
        with self._lock:
            settings = self._settings
            for key, window in self._windows.items():
                kind, account = key[0], key[1]
                if kind == "create":
                    width, name = CREATE_WINDOW_SECONDS, "creates"
                    allowed = own_limits.get(account) or settings.creates_per_10s
                elif kind == "record-info":
                    width, name = POLL_WINDOW_SECONDS, "record-info"
                    allowed = settings.record_info_per_second
                else:
                    width, name = POLL_WINDOW_SECONDS, "task-polls"
                    allowed = settings.task_polls_per_second
                window.prune(now, width)
                if window.seen:
                    task = key[2] if kind == "task" else None
                    views.append(WindowView(name, account, task, len(window.seen), allowed, width))
        return views

    def check_create(self, account: str, now: float, account_limit: int | None = None) -> None:
        """RateLimited when ``account`` already made its quota of tasks in the last 10 s.
        Called under the store's lock, before a task is made; `note_create` once it is."""
        with self._lock:
            limit = account_limit or self._settings.creates_per_10s
            window = self._windows.get(("create", account))
            if (
                limit is not None
                and window is not None
                and window.full(now, CREATE_WINDOW_SECONDS, limit)
            ):
                raise RateLimited("limit:creates")

    def note_create(self, account: str, now: float) -> None:
        """Count a create of ``account`` at mock time ``now`` towards its 10-second window."""
        with self._lock:
            window = self._windows.setdefault(("create", account), _Window())
            window.prune(now, CREATE_WINDOW_SECONDS)  # bounded even while no limit is on
            window.seen.append(now)

    def admit_poll(self, account: str, task_id: str | None, per_task: bool, now: float) -> None:
        """Count a status query, or raise RateLimited: per API key for jobs/recordInfo, per
        task for 4o Image / Suno record-info (``per_task``)."""
        with self._lock:
            key: tuple[str, ...]
            if per_task:
                limit, name = self._settings.task_polls_per_second, "limit:task-polls"
                key = ("task", account, task_id or "")
            else:
                limit, name = self._settings.record_info_per_second, "limit:record-info"
                key = ("record-info", account)
            if limit is None:
                return
            window = self._windows.setdefault(key, _Window())
            if window.full(now, POLL_WINDOW_SECONDS, limit):
                raise RateLimited(name)
            window.seen.append(now)


__all__ = [
    "CREATE_WINDOW_SECONDS",
    "LimitSettings",
    "Limits",
    "RateLimited",
    "WindowView",
    "settings_from_json",
]
