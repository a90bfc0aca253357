"""Accounts, tasks and their lifecycle, and the clock — the mock's only mutable state.

Everything here is guarded by one lock, because a MockServer's test thread reads it while the
server's event loop writes it. Readers get frozen snapshots, never the live objects.
Nothing here renders JSON: the families turn snapshots into each API's own shapes.
"""

from __future__ import annotations

import contextvars
import copy
import decimal
import heapq
import itertools
import math
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .config import AccountSettings, MockConfig
from .config import account_id as account_id  # re-exported: route_helpers.py, __init__.py
from .envelope import ErrorAnswer, dumps
from .limits import Limits, LimitSettings
from .masking import mask_secrets, masked_json
from .memory import OVERHEAD, Shares, under
from .requestlog import listed_preview
from .rules import IMMEDIATE, SUCCESS, Lifecycle, Outcome, RuleBook, TaskFacts, moderation_failure

# "market", "flux-kontext", "gpt4o-image", "veo", "runway", "aleph", "suno", and the name of
# every family an extension adds (kiekit_mock.extension): "luma", …
Family = str
State = Literal["waiting", "queuing", "generating", "success", "fail"]

# The market vocabulary (kie-api.md §2.2) is the mock's common one; Flux renders it as successFlag.
_PENDING: tuple[State, State, State] = ("waiting", "queuing", "generating")
_FINAL = len(_PENDING)  # stage index of the final state

# The ids of the tasks made while one request is answered, when its route asks (a mock
# extension's, extension.py): a create whose route then raised still journals its task
CREATED: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "kiekit_mock_created", default=None
)
# True while a HEAD request is answered (app.py): a status query then reads its task as it is,
# never moves it on nor owes its callback. HEAD is only how a client probes a route (curl -I,
# a health check); counting it as a poll ended tasks and sent callbacks nobody could read
PEEKING: contextvars.ContextVar[bool] = contextvars.ContextVar("kiekit_mock_peeking", default=False)


@dataclass(frozen=True)
class TaskSpec:
    """What a family decided about a new task when it accepted the create request.

    ``family`` names the family (rules and the control API filter by it); ``model`` the model
    id; ``request_body`` the create body, kept for the control API and the inspector;
    ``callback_url`` where its callback goes (None: none); ``param_json`` the body as the
    family's records echo it; ``prompt`` what moderation markers and rules read; ``cost`` the
    credits it is charged; ``result_ext`` and ``result_count`` its result files' extension (the
    media type they are served as) and number, ``result_exts`` the extension per index where
    they differ; ``aspect_ratio`` the size its images are drawn at (None: square);
    ``origin`` the scheme and host its result links point at (``origin_of(request)``);
    ``id_style`` its task id's form.
    """

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
    # per result file, its extension where they differ (3D models and a PNG preview); an index
    # past the end of this has `result_ext`
    result_exts: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskSnapshot:
    """A task as seen at one moment. `state` uses the market vocabulary for every family."""

    task_id: str
    family: Family
    model: str
    account_id: str
    state: State
    request_body: dict[str, Any]  # shared by every snapshot of the task: read, never modify
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
    polls: int = 0  # status polls the task has answered
    lifecycle: Lifecycle = IMMEDIATE
    outcome: Outcome = SUCCESS  # how it ends (or ended): chosen by a rule or a test
    rules: tuple[int, ...] = ()  # the ids of the rules that applied when it was created
    # GET /_mock/tasks lists a body over requestlog.BODY_LIMIT bytes as this preview (a 20 MB
    # base64 image is not sent back whole in every listing); None: listed whole
    request_body_preview: dict[str, Any] | None = None
    result_exts: tuple[str, ...] = ()  # TaskSpec.result_exts

    @property
    def final(self) -> bool:
        """Whether the task has ended (succeeded or failed)."""
        return self.state in ("success", "fail")

    @property
    def create_failed(self) -> bool:
        """Whether it failed as KIE's CREATE_TASK_FAILED (a create_failed outcome, rules.py)."""
        return self.state == "fail" and self.outcome.kind == "create_failed"

    @property
    def success_flag(self) -> int:
        """The successFlag families' number (4o §3.1, Flux §3.2, Veo §3.3, Luma §3.5, MJ §3.7):
        0 generating, 1 success, 2 CREATE_TASK_FAILED, 3 GENERATE_FAILED."""
        if self.create_failed:
            return 2
        return {"success": 1, "fail": 3}.get(self.state, 0)

    @property
    def cost_seconds(self) -> int | None:
        # costTime is in seconds (kie-api.md §2.2: HAR 12 for a 13 s task)
        """KIE's ``costTime``: the task's run time in whole seconds, None until it ends."""
        if self.completed_ms is None:
            return None
        return round((self.completed_ms - self.created_ms) / 1000)

    def failure(self, code: int, msg: str) -> tuple[int, str]:
        """The error code and message a failed task reports: what its outcome names, else the
        family's documented default — `code`/`msg` for a generation failure (the family passes
        its own), the family's moderation shape (rules.MODERATION) for a flagged prompt."""
        if self.outcome.kind == "moderation":
            code, msg = moderation_failure(self.family)
        return (
            self.outcome.code if self.outcome.code is not None else code,
            self.outcome.msg if self.outcome.msg is not None else msg,
        )

    def to_json(self, *, preview: bool = False) -> dict[str, Any]:
        """The snapshot as the control API shows it: GET /_mock/tasks/{id} with the whole
        request body, a list (``preview``) with a large one as its preview
        (``request_body_truncated``)."""
        cut = preview and self.request_body_preview is not None
        return {
            "task_id": self.task_id,
            "family": self.family,
            "model": self.model,
            "account_id": self.account_id,
            "state": self.state,
            "polls": self.polls,
            "lifecycle": self.lifecycle.to_json(),
            "outcome": self.outcome.to_json(),
            "rules": list(self.rules),
            "prompt": self.prompt,
            # a secret in a URL's query as *** (masking.py): callback_url is called as given
            "callback_url": None if self.callback_url is None else mask_secrets(self.callback_url),
            "created_ms": self.created_ms,
            "completed_ms": self.completed_ms,
            "credits_charged": self.credits_charged,
            "result_urls": self.result_urls(),
            "request_body": masked_json(self.request_body_preview if cut else self.request_body),
            "request_body_truncated": cut,
        }

    def result_urls(self) -> list[str]:
        """The links of the task's result files (none unless it succeeded)."""
        if self.state != "success":
            return []
        base = f"{self.origin}/files/{self.task_id}"
        return [f"{base}/{i}.{self.result_ext_at(i)}" for i in range(self.result_count)]

    def result_ext_at(self, index: int) -> str:
        """The extension of result file ``index`` (TaskSpec.result_exts, else result_ext)."""
        exts = self.result_exts
        return exts[index] if index < len(exts) else self.result_ext


@dataclass(frozen=True)
class Transition:
    """The answer to a poll or a manual step: the task after it, and whether it just ended."""

    task: TaskSnapshot
    finished_now: bool
    balance: float


@dataclass(frozen=True)
class AccountSnapshot:
    """An account as the control API shows it; the id is derived from the key, never the key."""

    account_id: str
    credits: float
    max_creates_per_10s: int | None  # the account's own rate limit; None: the mock's default
    tasks: int

    def to_json(self) -> dict[str, Any]:
        """The account as the control API shows it (``GET /_mock/accounts``)."""
        return {
            "account_id": self.account_id,
            "credits": self.credits,
            "max_creates_per_10s": self.max_creates_per_10s,
            "tasks": self.tasks,
        }


@dataclass
class _Account:
    credits: float
    max_creates_per_10s: int | None = None
    tasks: int = 0


@dataclass
class _Task:
    task_id: str
    account_id: str
    spec: TaskSpec
    created: float
    lifecycle: Lifecycle
    plan: Outcome
    rules: tuple[int, ...] = ()
    polls: int = 0
    stage: int = 0
    ended: State | None = None  # "success" | "fail" once final
    completed: float | None = None
    charged: float = 0.0
    # since when the clock alone may end it (its lifecycle set, its polls met): a seconds
    # lifecycle cannot have ended it before then (Store._ended_at)
    timed_from: float = field(default=-math.inf)

    # a snapshot's fields that never change, gathered once (see snapshot)
    fixed: dict[str, Any] = field(init=False, repr=False, compare=False)

    # bytes it holds, as MockConfig.memory_limit counts them (memory.py): its body as JSON
    # text, its record's param_json, and a fixed overhead
    size: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spec = self.spec
        text = dumps(spec.request_body)  # measured once (listed_preview reads it too)
        self.size = len(text) + len(spec.param_json) + len(spec.prompt) + OVERHEAD
        self.fixed = {
            "task_id": self.task_id,
            "family": spec.family,
            "model": spec.model,
            "account_id": self.account_id,
            "request_body": spec.request_body,  # the store's own copy (see Store.create)
            "callback_url": spec.callback_url,
            "created_ms": _ms(self.created),
            "param_json": spec.param_json,
            "prompt": spec.prompt,
            "result_ext": spec.result_ext,
            "result_count": spec.result_count,
            "result_exts": spec.result_exts,
            "aspect_ratio": spec.aspect_ratio,
            "origin": spec.origin,
            "rules": self.rules,
            "request_body_preview": listed_preview(spec.request_body, text),
        }

    @property
    def state(self) -> State:
        return self.ended if self.ended is not None else _PENDING[self.stage]

    @property
    def kind(self) -> _Kind:
        """What GET /_mock/tasks filters on: its account, family and state (Store.page)."""
        return self.account_id, self.spec.family, self.state

    def snapshot(self) -> TaskSnapshot:
        state = self.state
        # Every field filled in at once: a frozen dataclass's __init__ sets each one through
        # object.__setattr__, which made a snapshot most of a poll's own cost. (TaskSnapshot
        # has no __post_init__ to skip; test_task_snapshots checks that every field is set.)
        snapshot = object.__new__(TaskSnapshot)
        vars(snapshot).update(
            self.fixed,
            state=state,
            completed_ms=None if self.completed is None else _ms(self.completed),
            credits_charged=self.charged,
            polls=self.polls,
            lifecycle=self.lifecycle,
            outcome=self.plan,
        )
        return snapshot


_Kind = tuple[str, str, State]  # a task's account, family and state


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def natural_stage(lifecycle: Lifecycle, polls_seen: int, elapsed: float) -> int:
    """The stage a task has reached by its lifecycle's polls and seconds (0..2 pending, 3 final).

    A task is final once it has answered `lifecycle.polls` polls AND `lifecycle.seconds` have
    passed. Before that, the pending stages are spread over the polls (first poll "waiting",
    last "generating") and over the seconds; the slower of the two wins. A manual lifecycle
    never moves by itself (the caller checks that).
    """
    n, s = lifecycle.polls, lifecycle.seconds
    if polls_seen >= n:
        by_polls = _FINAL
    elif n == 1:
        by_polls = 0
    else:
        by_polls = polls_seen * (_FINAL - 1) // (n - 1)
    by_time = _FINAL if elapsed >= s else min(_FINAL - 1, math.floor(_FINAL * elapsed / s))
    return min(by_polls, by_time)


# Balances are kept to this many decimal places, so sums of charges never show binary float
# noise (1000 - 0.018 - 0.4 read 999.5819999999999). KIE shows balances such as 5916.25
# (kie-api.md §4) and charges such as 0.4 (§3.6); its precision is not documented [INF]. The
# mock's finest charge is a chat answer's, rounded to 6 places (chat/conversation.py): 6 keeps
# every charge whole.
CREDIT_PLACES = 6


def credits_sum(balance: float, change: float) -> float:
    """``balance + change``, at the balances' precision."""
    return round(balance + change, CREDIT_PLACES)


def credits_text(balance: float) -> str:
    """A balance as a person reads it: every digit the mock keeps (``1234567.25``; ``:g``
    said ``1.23457e+06``), no exponent, no trailing zeros."""
    text = format(decimal.Decimal(repr(float(balance))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class _Keep:
    """Marks an argument left out (None is a meaningful value for a rate limit)."""


KEEP = _Keep()


class Store:
    """Accounts and tasks, with the lifecycle rules. Thread-safe."""

    def __init__(
        self,
        config: MockConfig,
        clock: Callable[[], float] = time.time,
        rules: RuleBook | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._config = config
        self.limits = limits if limits is not None else Limits(LimitSettings.from_config(config))
        self._clock = clock
        self._rules = rules if rules is not None else RuleBook()
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}
        self._tasks: dict[str, _Task] = {}  # in creation order: the oldest first
        # how many tasks of each account, family and state: a page's `total` (page()) without
        # a look at every task; kept as each is created, moves on or is forgotten
        self._kinds: Counter[_Kind] = Counter()
        self._forgotten = 0
        self._look_again_at = 0  # too few finished to forget: look again at this many tasks
        # bytes the tasks hold (_Task.size), and their share of MockConfig.memory_limit
        self._bytes = 0
        self._byte_limit = Shares.of(config.memory_limit).tasks
        self._bytes_again_at = 0  # too few finished to forget: look again at this many bytes
        self._default_lifecycle = Lifecycle(config.polls_to_complete, config.seconds_to_complete)
        # tasks that move on the clock, polled or not (settler.py): (due, seq, task id, stage),
        # soonest first; a task is pushed once its lifecycle's polls are met and it has seconds
        # to wait: for its end, and for each pending stage if it has a callback URL (a family
        # with staged callbacks, Suno, sends one as each stage is reached)
        self._timed: list[tuple[float, int, str, int]] = []
        self._seq = itertools.count()
        self.on_sooner: Callable[[], None] | None = None  # the settler's wake: a sooner due time
        # finished tasks by the time KIE no longer keeps their record (MockConfig.record_days):
        # (gone at, task id), soonest first; a task is pushed as it ends
        self._records_end: list[tuple[float, str]] = []
        self._record_seconds = None if config.record_days is None else config.record_days * 86400
        # told the ids of tasks forgotten past task_limit: their callback records go too
        self.on_forget: Callable[[list[str]], object] | None = None
        # what a new task's inputs decide (inputs.py: an upload link of the mock's own whose
        # file is gone); set by the upload host, which knows its files
        self.input_check: Callable[[TaskSpec], Outcome | None] | None = None
        self._open_to_any_key = config.open_to_any_key  # asked at every request
        self._open_accounts(config)

    def _open_accounts(self, config: MockConfig) -> None:
        for key, settings in config.accounts.items():
            self._accounts[account_id(key)] = self._new_account(settings)

    def _new_account(self, settings: AccountSettings | None = None) -> _Account:
        if settings is None:
            return _Account(credits=self._config.starting_credits)
        credits = self._config.starting_credits if settings.credits is None else settings.credits
        return _Account(credits=credits, max_creates_per_10s=settings.max_creates_per_10s)

    # --- accounts ---

    def _account(self, account: str) -> _Account:
        if account not in self._accounts:
            self._accounts[account] = self._new_account()
        return self._accounts[account]

    def accepts(self, api_key: str) -> bool:
        """Whether a Bearer key opens an account: any non-empty key when the mock is open (no
        api_keys, no accounts configured), else the configured keys and those of accounts added
        since (put_account). A key holding a character outside printable ASCII opens none:
        KIE's keys are hex, so KIE answers such a key 401 (§7) even when the mock is open."""
        if not api_key or not (api_key.isascii() and api_key.isprintable()):
            return False
        if self._open_to_any_key or self._config.accepts(api_key):
            return True
        with self._lock:
            return account_id(api_key) in self._accounts

    def balance(self, account: str) -> float:
        with self._lock:
            return self._account(account).credits

    def charge(self, account: str, cost: float) -> float:
        """Take ``cost`` credits for a call that is not a task (a chat answer, kie-api.md §5);
        ErrorAnswer 402 when the balance is too low. Returns the new balance."""
        with self._lock:
            acct = self._account(account)
            if acct.credits < cost:
                raise ErrorAnswer(402, "Credits insufficient")  # kie-api.md §7
            acct.credits = credits_sum(acct.credits, -cost)
            return acct.credits

    def put_account(
        self,
        account: str,
        *,
        credits: float | None = None,
        max_creates_per_10s: int | _Keep | None = KEEP,
    ) -> AccountSnapshot:
        """Create an account (by id) or change its credits / rate limit; None keeps credits."""
        with self._lock:
            acct = self._account(account)
            if credits is not None:
                acct.credits = credits
            if not isinstance(max_creates_per_10s, _Keep):
                acct.max_creates_per_10s = max_creates_per_10s
            return self._account_snapshot(account, acct)

    def account(self, account: str) -> AccountSnapshot | None:
        """An account the mock knows (configured, added, or seen on a request), else None."""
        with self._lock:
            acct = self._accounts.get(account)
            return None if acct is None else self._account_snapshot(account, acct)

    def accounts(self) -> list[AccountSnapshot]:
        with self._lock:
            return [self._account_snapshot(name, acct) for name, acct in self._accounts.items()]

    @staticmethod
    def _account_snapshot(name: str, acct: _Account) -> AccountSnapshot:
        return AccountSnapshot(name, acct.credits, acct.max_creates_per_10s, acct.tasks)

    # --- tasks ---

    def create(self, account: str, spec: TaskSpec) -> TaskSnapshot:
        """Charge the account and start a task; ErrorAnswer 402 / 429 when it cannot (and what
        ``input_check`` raises, for an input KIE could not fetch)."""
        unfetched = None if self.input_check is None else self.input_check(spec)
        with self._lock:
            now = self._clock()
            self._let_records_go(now)
            acct = self._account(account)
            # kie-api.md §7/§8: 429 past the window, the request rejected, not queued (limits.py)
            self.limits.check_create(account, now, acct.max_creates_per_10s)
            if acct.credits < spec.cost:
                raise ErrorAnswer(402, "Credits insufficient")  # kie-api.md §7
            acct.credits = credits_sum(acct.credits, -spec.cost)
            self.limits.note_create(account, now)
            decision = self._rules.decide(TaskFacts(spec.family, spec.model, spec.prompt, account))
            # 32 lowercase hex chars as in real traffic, or a UUID where the family uses them (§1)
            task_id = str(uuid.uuid4()) if spec.id_style == "uuid" else secrets.token_hex(16)
            # One private copy of the body, made here, so snapshots can share it instead of
            # copying it at every poll (a deep copy per poll was a tenth of a poll's cost).
            spec = replace(spec, request_body=copy.deepcopy(spec.request_body))
            task = _Task(
                task_id,
                account,
                spec,
                created=now,
                lifecycle=decision.lifecycle or self._default_lifecycle,
                plan=unfetched or decision.outcome or Outcome(),
                rules=decision.rule_ids,
                charged=spec.cost,
            )
            self._tasks[task_id] = task
            self._kinds[task.kind] += 1
            self._bytes += task.size
            acct.tasks += 1
            if (made := CREATED.get()) is not None:
                made.append(task_id)
            if task.lifecycle.seconds:
                self._schedule(task)
            forgotten = self._forget_old()
            snapshot = task.snapshot()
        if forgotten and self.on_forget is not None:
            self.on_forget(forgotten)  # outside the lock: it takes the callbacks' own
        return snapshot

    def _forget_old(self) -> list[str]:
        """Past MockConfig.task_limit or the tasks' share of memory_limit, forget the oldest
        finished tasks (_forget_by_count, _forget_by_bytes); under the lock. Returns their ids."""
        forgotten = self._forget_by_count()
        forgotten += self._forget_by_bytes()
        return forgotten

    def _forget_by_bytes(self) -> list[str]:
        """Past the tasks' share of MockConfig.memory_limit (memory.py), forget the oldest
        finished tasks until they hold a tenth less than it (the scan is spread over many
        creates); a pending task is kept, as under task_limit. Under the lock."""
        limit = self._byte_limit
        if limit is None or self._bytes <= max(limit, self._bytes_again_at):
            return []
        excess = self._bytes - under(limit)
        forgotten = []
        for task_id, task in self._tasks.items():  # the oldest first
            if excess <= 0:
                break
            if task.ended is not None:
                forgotten.append(task_id)
                excess -= task.size
        for task_id in forgotten:  # not while the scan reads the dict
            self._drop(task_id)
        self._forgotten += len(forgotten)
        # still over (most are pending): no new scan before another tenth has come
        self._bytes_again_at = self._bytes + limit // 10 if self._bytes > limit else 0
        return forgotten

    def _forget_by_count(self) -> list[str]:
        """Past MockConfig.task_limit, forget the oldest finished tasks, a tenth of the limit at
        once (the scan is spread over many creates); under the lock. A pending task is kept:
        its client still polls it, and may yet be charged or refunded. Returns their ids."""
        limit = self._config.task_limit
        if limit is None or len(self._tasks) <= max(limit, self._look_again_at):
            return []
        excess = len(self._tasks) - limit + limit // 10
        ended = [task_id for task_id, task in self._tasks.items() if task.ended is not None]
        forgotten = ended[:excess]
        for task_id in forgotten:
            self._drop(task_id)
        self._forgotten += len(forgotten)
        # still over (most are pending): no new scan before another tenth has come
        self._look_again_at = len(self._tasks) + limit // 10 if len(self._tasks) > limit else 0
        return forgotten

    def _let_records_go(self, now: float) -> None:
        """Forget the finished tasks whose record KIE no longer keeps at ``now`` (``log records
        2 months``, kie-api.md §1, §8; MockConfig.record_days): their status queries answer as
        for an unknown id. Under the lock; a look at the soonest end when none is due."""
        ends, lifetime = self._records_end, self._record_seconds
        while ends and lifetime is not None and ends[0][0] <= now:
            gone_at, task_id = heapq.heappop(ends)
            task = self._tasks.get(task_id)  # None: forgotten already (the task limit)
            # a task renamed to this id since (a replay's, har.py) has an entry of its own
            if task is not None and self._record_gone_at(task) == gone_at:
                self._drop(task_id)

    def _record_gone_at(self, task: _Task) -> float | None:
        """When KIE no longer keeps the record of a finished task (None: kept), counted from
        its end as its records show it, in whole ms (files.purged_at counts so too)."""
        if task.completed is None or self._record_seconds is None:
            return None
        return _ms(task.completed) / 1000 + self._record_seconds

    def _note_record_end(self, task: _Task) -> None:
        gone_at = self._record_gone_at(task)
        if gone_at is not None:
            heapq.heappush(self._records_end, (gone_at, task.task_id))

    @property
    def held_bytes(self) -> int:
        """Bytes the tasks hold, as MockConfig.memory_limit counts them (memory.py)."""
        with self._lock:
            return self._bytes

    @property
    def forgotten(self) -> int:
        """Finished tasks forgotten to stay within MockConfig.task_limit (reset() aside)."""
        with self._lock:
            return self._forgotten

    def poll(self, account: str, task_id: str, family: Family) -> Transition | None:
        """A status query by the task's owner; None when the task is not theirs or not there
        (or no longer: past MockConfig.record_days, as an unknown id). Under PEEKING (a HEAD
        request) the task is left as it is."""
        with self._lock:
            self._let_records_go(self._clock())
            task = self._tasks.get(task_id)
            if task is None or task.account_id != account or task.spec.family != family:
                return None
            if PEEKING.get():  # a HEAD: the task as it is, its polls not counted
                return Transition(task.snapshot(), False, self._account(account).credits)
            if task.ended is not None:  # final: no stage to work out
                task.polls += 1
                return Transition(task.snapshot(), False, self._account(account).credits)
            due = self._due(task)
            ended_at = self._ended_at(task)  # before this poll counts: the polls it had met
            task.polls += 1
            transition = self._move_to(task, max(task.stage, due), ended_at)
            if task.polls == task.lifecycle.polls and task.ended is None:
                task.timed_from = self._clock()  # it cannot have ended before this poll
                self._schedule(task)  # its polls are met: the clock alone ends it now
            return transition

    def advance(self, task_id: str) -> Transition:
        """Move a task one state on (straight to its final state once it is due). KeyError for
        an unknown task; a task that has ended stays as it is."""
        with self._lock:
            self._let_records_go(self._clock())
            task = self._tasks[task_id]
            if task.ended is not None:
                return Transition(task.snapshot(), False, self._account(task.account_id).credits)
            return self._move_to(task, max(self._due(task), task.stage + 1), self._ended_at(task))

    def complete(self, task_id: str) -> Transition:
        """End a task now, with its planned outcome (KeyError for an unknown task)."""
        with self._lock:
            self._let_records_go(self._clock())
            task = self._tasks[task_id]
            if task.ended is not None:
                return Transition(task.snapshot(), False, self._account(task.account_id).credits)
            return self._move_to(task, _FINAL, self._ended_at(task))

    def _due(self, task: _Task) -> int:
        """The stage the task's lifecycle has reached; a manual task stays where it is."""
        if task.lifecycle.manual:
            return task.stage
        return natural_stage(task.lifecycle, task.polls, self._clock() - task.created)

    def _ended_at(self, task: _Task) -> float:
        """When a task that ends now really ended: a seconds lifecycle whose polls were met
        ended when its seconds were up (a clock advance or a late settler must not stamp it
        with the later time: its completeTime, costTime and files' retention count from its
        end, files.purged_at), else now (a poll or a test's step ended it)."""
        now, lifecycle = self._clock(), task.lifecycle
        if lifecycle.manual or not lifecycle.seconds or task.polls < lifecycle.polls:
            return now
        return min(now, max(task.timed_from, task.created + lifecycle.seconds))

    def _drop(self, task_id: str) -> None:
        """Forget one task (under the lock); its timed entries are dropped as they fall due."""
        task = self._tasks.pop(task_id)
        self._uncount(task)
        self._bytes -= task.size

    def _uncount(self, task: _Task) -> None:
        kind = task.kind
        self._kinds[kind] -= 1
        if not self._kinds[kind]:
            del self._kinds[kind]  # accounts come and go: no key is kept at zero

    def _move_to(self, task: _Task, stage: int, ended_at: float) -> Transition:
        """Move a task to ``stage``; ``ended_at`` is its end time if that is final."""
        self._uncount(task)  # its state changes: counted again under the new one
        transition = self._moved(task, stage, ended_at)
        self._kinds[task.kind] += 1
        return transition

    def _moved(self, task: _Task, stage: int, ended_at: float) -> Transition:
        acct = self._account(task.account_id)
        if stage < _FINAL:
            task.stage = stage
            return Transition(task.snapshot(), False, acct.credits)
        task.stage = _FINAL - 1
        task.completed = ended_at
        task.ended = "fail" if task.plan.fails else "success"
        self._note_record_end(task)
        if task.ended == "fail":
            # [INF] a failed generation costs nothing (WAN30 failure callback: creditsConsumed 0)
            acct.credits = credits_sum(acct.credits, task.charged)
            task.charged = 0.0
        return Transition(task.snapshot(), True, acct.credits)

    def set_outcome(self, task_id: str, outcome: Outcome | str) -> TaskSnapshot:
        """How a pending task will end: an Outcome or a kind ("success", "fail", "moderation",
        "callback_fail", "create_failed"). KeyError for an unknown task, ValueError once it has
        ended."""
        plan = Outcome.parse(outcome)
        with self._lock:
            task = self._pending(task_id)
            task.plan = plan
            return task.snapshot()

    def set_lifecycle(self, task_id: str, lifecycle: Lifecycle) -> TaskSnapshot:
        """When a pending task will end (it keeps the stage it has reached)."""
        with self._lock:
            task = self._pending(task_id)
            task.lifecycle = lifecycle
            task.timed_from = self._clock()
            self._schedule(task)
            return task.snapshot()

    # --- tasks that end on time (settler.py) ---

    def _schedule(self, task: _Task) -> None:
        """Note when a task's lifecycle ends it by the clock alone, if it does: a seconds
        lifecycle, not manual, whose polls are met; and, for a task with a callback URL, when
        it reaches each pending stage. The instant lifecycle (no polls, no
        seconds) is left to its first poll: a test often changes a new task's outcome or
        lifecycle first, and an end in the background would race it. Under the lock."""
        lifecycle = task.lifecycle
        if lifecycle.manual or not lifecycle.seconds or task.polls < lifecycle.polls:
            return
        stages = range(task.stage + 1, _FINAL) if task.spec.callback_url is not None else ()
        sooner = False
        for stage in (*stages, _FINAL):
            due = task.created + lifecycle.seconds * stage / _FINAL  # natural_stage's steps
            sooner = sooner or not self._timed or due < self._timed[0][0]
            heapq.heappush(self._timed, (due, next(self._seq), task.task_id, stage))
        wake = self.on_sooner
        if sooner and wake is not None:
            wake()

    def settle_due(self, now: float) -> list[Transition]:
        """Move every task whose lifecycle has reached a stage by ``now`` though nobody polled
        it, in the order the stages fell due: its end, or a pending stage (a transition not
        ``finished_now``) for a task with a callback URL. A task gone, ended or made manual
        since is dropped; one whose lifecycle was changed to end later waits again; a stage
        it has already reached is skipped (the callbacks are the caller's)."""
        moved: list[Transition] = []
        with self._lock:
            while self._timed and self._timed[0][0] <= now:
                _, _, task_id, stage = heapq.heappop(self._timed)
                task = self._tasks.get(task_id)
                if task is None or task.ended is not None or task.stage >= stage:
                    continue
                lifecycle = task.lifecycle
                if lifecycle.manual or not lifecycle.seconds or task.polls < lifecycle.polls:
                    continue  # pushed again if it comes back to a timed lifecycle
                due = task.created + lifecycle.seconds * stage / _FINAL
                if due > now:  # its lifecycle got longer
                    heapq.heappush(self._timed, (due, next(self._seq), task_id, stage))
                    continue
                # it ended when it fell due, not at ``now``: a clock advance may be days later
                moved.append(self._move_to(task, stage, max(due, task.timed_from)))
        return moved

    def next_due(self) -> float | None:
        """The mock-clock time the next timed task may end (None: none is waiting)."""
        with self._lock:
            return self._timed[0][0] if self._timed else None

    def _pending(self, task_id: str) -> _Task:
        self._let_records_go(self._clock())
        task = self._tasks[task_id]
        if task.ended is not None:
            raise ValueError(f"task {task_id} already ended ({task.ended})")
        return task

    def rename(self, task_id: str, new_id: str) -> TaskSnapshot:
        """Give a task another id: a replayed recording's (har.py), so the task a client was
        handed goes on here. A task already under `new_id` is replaced. KeyError if unknown."""
        with self._lock:
            self._let_records_go(self._clock())
            task = self._tasks.pop(task_id)
            if new_id in self._tasks:
                self._drop(new_id)  # replaced
            task.task_id = task.fixed["task_id"] = new_id
            self._tasks[new_id] = task
            self._note_record_end(task)
            self._schedule(task)  # a timed end noted under the old id is found under the new
            return task.snapshot()

    def find(self, task_id: str) -> TaskSnapshot | None:
        """Any account's task (result files are public links)."""
        with self._lock:
            self._let_records_go(self._clock())
            task = self._tasks.get(task_id)
            return None if task is None else task.snapshot()

    def snapshots(
        self, *, account: str | None = None, family: str | None = None, state: str | None = None
    ) -> list[TaskSnapshot]:
        """Every task in creation order, optionally only one account's / family's / state's."""
        return self.page(account=account, family=family, state=state)[1]

    def page(
        self,
        *,
        account: str | None = None,
        family: str | None = None,
        state: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[int, list[TaskSnapshot]]:
        """How many tasks fit the filters, and the newest ``limit`` of them after skipping the
        newest ``offset`` (None: all), in creation order. A page costs its own tasks (and
        those it skips or passes over), not the store's: the inspector reloads its Tasks page
        at every change, and a snapshot of each of 100,000 tasks, under the lock, stalled the
        mock's API (about half a second a page)."""
        with self._lock:
            self._let_records_go(self._clock())
            total = sum(
                count
                for (acct, fam, st), count in self._kinds.items()
                if account in (None, acct) and family in (None, fam) and state in (None, st)
            )
            fits = (
                task
                for task in reversed(self._tasks.values())
                if account in (None, task.account_id)
                and family in (None, task.spec.family)
                and state in (None, task.state)
            )
            stop = None if limit is None else offset + limit
            newest = list(itertools.islice(fits, offset, stop)) if total > offset else []
            return total, [task.snapshot() for task in reversed(newest)]

    def forget_account(self, account: str) -> int:
        """Forget one account's tasks and changes (a per-account reset): a configured account
        is back to its settings, one opened since is closed again. Returns the tasks forgotten;
        other accounts and their tasks are left as they are."""
        with self._lock:
            mine = [task_id for task_id, task in self._tasks.items() if task.account_id == account]
            for task_id in mine:
                self._drop(task_id)
            configured = [s for k, s in self._config.accounts.items() if account_id(k) == account]
            if configured:
                self._accounts[account] = self._new_account(configured[0])
            else:
                self._accounts.pop(account, None)
            return len(mine)

    def reset(self) -> None:
        """Forget every task and every account change: back to the configured accounts."""
        with self._lock:
            self._tasks.clear()
            self._kinds.clear()
            self._bytes = self._bytes_again_at = 0
            self._timed.clear()
            self._records_end.clear()
            self._forgotten = 0
            self._accounts.clear()
            self._open_accounts(self._config)
