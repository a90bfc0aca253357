"""Accounts, tasks and their lifecycle, and the clock — the mock's only mutable state.

Everything here is guarded by one lock, because a MockServer's test thread reads it while the
server's event loop writes it. Readers get frozen snapshots, never the live objects.
Nothing here renders JSON: the families turn snapshots into each API's own shapes.
"""

from __future__ import annotations

import copy
import hashlib
import math
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .config import MockConfig
from .envelope import KieError

Family = Literal["market", "flux-kontext", "gpt4o-image", "veo", "runway", "aleph", "luma", "suno"]
State = Literal["waiting", "queuing", "generating", "success", "fail"]
Outcome = Literal["success", "fail"]

# The market vocabulary (kie-api.md §2.2) is the mock's common one; Flux renders it as successFlag.
_PENDING: tuple[State, State, State] = ("waiting", "queuing", "generating")
_FINAL = len(_PENDING)  # stage index of the final state
FAIL_MARKER = "[mock:fail]"
RATE_WINDOW_SECONDS = 10.0  # kie-api.md §8: "20 new generation requests per 10 s"


def account_id(api_key: str) -> str:
    """The id the mock shows for an API key's account: derived from, never equal to, the key."""
    return "acct_" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TaskSpec:
    """What a family decided about a new task when it accepted the create request."""

    family: Family
    model: str
    request_body: dict[str, Any]
    callback_url: str | None
    param_json: str
    prompt: str
    cost: float
    result_ext: str
    result_count: int
    aspect_ratio: str | None
    origin: str  # scheme://host of the create request: result links point back at the mock
    id_style: Literal["hex", "uuid"] = "hex"  # Runway's task ids are UUIDs (kie-api.md §1)


@dataclass(frozen=True)
class TaskSnapshot:
    """A task as seen at one moment. `state` uses the market vocabulary for every family."""

    task_id: str
    family: Family
    model: str
    account_id: str
    state: State
    request_body: dict[str, Any]
    callback_url: str | None
    created_ms: int
    completed_ms: int | None
    param_json: str
    prompt: str
    credits_charged: float
    result_ext: str
    result_count: int
    aspect_ratio: str | None
    origin: str

    @property
    def final(self) -> bool:
        return self.state in ("success", "fail")

    @property
    def cost_seconds(self) -> int | None:
        # costTime is in seconds (kie-api.md §2.2: HAR 12 for a 13 s task)
        if self.completed_ms is None:
            return None
        return round((self.completed_ms - self.created_ms) / 1000)

    def result_urls(self) -> list[str]:
        if self.state != "success":
            return []
        base = f"{self.origin}/files/{self.task_id}"
        return [f"{base}/{i}.{self.result_ext}" for i in range(self.result_count)]


@dataclass(frozen=True)
class Transition:
    """The answer to a poll or a manual step: the task after it, and whether it just ended."""

    task: TaskSnapshot
    finished_now: bool
    balance: float


@dataclass
class _Account:
    credits: float
    recent_creates: deque[float] = field(default_factory=deque)


@dataclass
class _Task:
    task_id: str
    account_id: str
    spec: TaskSpec
    created: float
    polls: int = 0
    stage: int = 0
    forced: Outcome | None = None
    outcome: Outcome | None = None
    completed: float | None = None
    charged: float = 0.0

    def snapshot(self) -> TaskSnapshot:
        state: State = self.outcome if self.outcome is not None else _PENDING[self.stage]
        return TaskSnapshot(
            task_id=self.task_id,
            family=self.spec.family,
            model=self.spec.model,
            account_id=self.account_id,
            state=state,
            request_body=copy.deepcopy(self.spec.request_body),
            callback_url=self.spec.callback_url,
            created_ms=_ms(self.created),
            completed_ms=None if self.completed is None else _ms(self.completed),
            param_json=self.spec.param_json,
            prompt=self.spec.prompt,
            credits_charged=self.charged,
            result_ext=self.spec.result_ext,
            result_count=self.spec.result_count,
            aspect_ratio=self.spec.aspect_ratio,
            origin=self.spec.origin,
        )


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def natural_stage(config: MockConfig, polls_seen: int, elapsed: float) -> int:
    """The stage a task has reached by the configured polls and seconds (0..2 pending, 3 final).

    A task is final once it has answered `polls_to_complete` polls AND `seconds_to_complete`
    have passed. Before that, the pending stages are spread over the polls (first poll
    "waiting", last "generating") and over the seconds; the slower of the two wins.
    """
    n, s = config.polls_to_complete, config.seconds_to_complete
    if polls_seen >= n:
        by_polls = _FINAL
    elif n == 1:
        by_polls = 0
    else:
        by_polls = polls_seen * (_FINAL - 1) // (n - 1)
    by_time = _FINAL if elapsed >= s else min(_FINAL - 1, math.floor(_FINAL * elapsed / s))
    return min(by_polls, by_time)


class Store:
    """Accounts and tasks, with the lifecycle rules. Thread-safe."""

    def __init__(self, config: MockConfig, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}
        self._tasks: dict[str, _Task] = {}

    # --- accounts ---

    def _account(self, account: str) -> _Account:
        if account not in self._accounts:
            self._accounts[account] = _Account(credits=self._config.starting_credits)
        return self._accounts[account]

    def balance(self, account: str) -> float:
        with self._lock:
            return self._account(account).credits

    # --- tasks ---

    def create(self, account: str, spec: TaskSpec) -> TaskSnapshot:
        """Charge the account and start a task; KieError 402 / 429 when it cannot."""
        with self._lock:
            now = self._clock()
            acct = self._account(account)
            limit = self._config.max_creates_per_10s
            if limit is not None:
                while acct.recent_creates and now - acct.recent_creates[0] >= RATE_WINDOW_SECONDS:
                    acct.recent_creates.popleft()
                if len(acct.recent_creates) >= limit:
                    # kie-api.md §7/§8: 429, the request is rejected, not queued
                    raise KieError(429, "Rate limit exceeded, please try again later")
            if acct.credits < spec.cost:
                raise KieError(402, "Credits insufficient")  # kie-api.md §7
            acct.credits -= spec.cost
            if limit is not None:
                acct.recent_creates.append(now)
            # 32 lowercase hex chars as in real traffic, or a UUID where the family uses them (§1)
            task_id = str(uuid.uuid4()) if spec.id_style == "uuid" else secrets.token_hex(16)
            task = _Task(task_id, account, spec, created=now, charged=spec.cost)
            self._tasks[task_id] = task
            return task.snapshot()

    def poll(self, account: str, task_id: str, family: Family) -> Transition | None:
        """A status query by the task's owner; None when the task is not theirs or not there."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.account_id != account or task.spec.family != family:
                return None
            if task.outcome is not None:
                return Transition(task.snapshot(), False, self._account(account).credits)
            stage = natural_stage(self._config, task.polls, self._clock() - task.created)
            task.polls += 1
            return self._move_to(task, max(task.stage, stage))

    def advance(self, task_id: str) -> Transition:
        """Move a task one state on (straight to its final state once it is due)."""
        with self._lock:
            task = self._tasks[task_id]
            if task.outcome is not None:
                return Transition(task.snapshot(), False, self._account(task.account_id).credits)
            due = natural_stage(self._config, task.polls, self._clock() - task.created)
            return self._move_to(task, max(due, task.stage + 1))

    def _move_to(self, task: _Task, stage: int) -> Transition:
        acct = self._account(task.account_id)
        if stage < _FINAL:
            task.stage = stage
            return Transition(task.snapshot(), False, acct.credits)
        task.stage = _FINAL - 1
        task.completed = self._clock()
        fails = FAIL_MARKER in task.spec.prompt
        task.outcome = task.forced or ("fail" if fails else "success")
        if task.outcome == "fail":
            # [INF] a failed generation costs nothing (WAN30 failure callback: creditsConsumed 0)
            acct.credits += task.charged
            task.charged = 0.0
        return Transition(task.snapshot(), True, acct.credits)

    def set_outcome(self, task_id: str, outcome: Outcome) -> None:
        if outcome not in ("success", "fail"):
            raise ValueError(f"outcome must be 'success' or 'fail', not {outcome!r}")
        with self._lock:
            task = self._tasks[task_id]
            if task.outcome is not None:
                raise ValueError(f"task {task_id} already ended ({task.outcome})")
            task.forced = outcome

    def find(self, task_id: str) -> TaskSnapshot | None:
        """Any account's task (result files are public links)."""
        with self._lock:
            task = self._tasks.get(task_id)
            return None if task is None else task.snapshot()

    def snapshots(self) -> list[TaskSnapshot]:
        with self._lock:
            return [task.snapshot() for task in self._tasks.values()]
