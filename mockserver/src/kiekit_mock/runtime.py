"""The live parts of one mock instance, kept on the aiohttp Application under RUNTIME."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from .callbacks import CallbackDispatcher, CallbackSettings
from .changes import Changes
from .clock import MockClock
from .config import MockConfig
from .envelope import Prerendered
from .faults import Faults
from .guessed import GuessedModels
from .limits import Limits, LimitSettings
from .memory import Shares
from .requestlog import Journal
from .rules import RuleBook
from .scenario import ScenarioPlayer
from .state import Store, TaskSnapshot, Transition
from .uploads import UploadStore

CallbackPayload = Callable[[Transition], dict[str, Any]]
log = logging.getLogger("kiekit_mock")


@dataclass(frozen=True)
class Runtime:
    """The mock's state and services, shared by its HTTP routes and its Python API."""

    config: MockConfig
    store: Store
    callbacks: CallbackDispatcher
    journal: Journal
    clock: MockClock
    scenarios: ScenarioPlayer = field(default_factory=ScenarioPlayer)  # HAR replay (har.py)
    faults: Faults = field(default_factory=Faults)  # fault rules (faults.py)
    rules: RuleBook = field(default_factory=RuleBook)  # outcome/lifecycle rules (rules.py)
    changes: Changes = field(default_factory=Changes)  # what watchers long-poll (changes.py)
    # unknown market ids warned about (families/market_models/extra.py)
    guessed_models: GuessedModels = field(default_factory=GuessedModels)
    # finished tasks' status answers, encoded once (envelope.Prerendered)
    prerendered: Prerendered = field(default_factory=Prerendered)
    # the upload host's files (uploads_http.py): test state too, forgotten by a reset
    uploads: UploadStore = field(default_factory=UploadStore)

    @property
    def limits(self) -> Limits:
        """KIE's documented rate limits, when switched on (limits.py)."""
        return self.store.limits

    @classmethod
    def new(cls, config: MockConfig) -> Runtime:
        """A fresh runtime for ``config``: its clock, task store, callbacks, journal and limits."""
        clock = MockClock(config.time_scale)
        changes = Changes()
        dispatcher = CallbackDispatcher(
            timeout=config.callback_timeout,
            hmac_key=config.webhook_hmac_key,
            clock=clock.now,  # signature timestamps in mock time
            copies=config.callback_copies,
            tamper=config.callback_tamper,
            allowed_hosts=config.allowed_callback_hosts,
            on_change=lambda: changes.touch(("callbacks", "tasks")),
            limit=config.callback_limit,
        )
        rules = RuleBook(config.rules)
        store = Store(config, clock.now, rules, Limits(LimitSettings.from_config(config)))
        store.on_forget = dispatcher.forget_tasks  # a forgotten task's callbacks go with it
        shares = Shares.of(config.memory_limit)  # memory_limit, shared out (memory.py)
        journal = Journal(clock.now, limit=config.journal_limit, byte_limit=shares.journal)
        prerendered = Prerendered(limit=config.task_limit, byte_limit=shares.answers)
        return cls(
            config,
            store,
            dispatcher,
            journal,
            clock,
            rules=rules,
            changes=changes,
            prerendered=prerendered,
            uploads=UploadStore(config.upload_limit, config.upload_cdn_seconds),
        )

    def finish(self, transition: Transition, payload: CallbackPayload) -> None:
        """Owe the task's callback if it just ended and asked for one. Needs a running loop.
        A family whose payload raises (a mock extension's bug) has its callback recorded as
        not delivered, saying why, and named in the log: the task's end stands."""
        task = transition.task
        if not transition.finished_now or task.callback_url is None:
            return
        try:
            body = payload(transition)
        except Exception as exc:
            from .extension import described  # the extension API imports this module

            reason = f"not sent: its callback_payload raised {type(exc).__name__}: {exc}"
            log.error(
                "kiekit-mock: %s: the callback of task %s is %s",
                described(task.family),
                task.task_id,
                reason,
            )
            log.debug("kiekit-mock: the callback_payload's traceback", exc_info=True)
            self.callbacks.record_undelivered(
                task.task_id, task.callback_url, {}, reason, account_id=task.account_id
            )
            return
        if task.outcome.kind == "callback_fail":
            reason = "delivery failed: the mock was asked to fail this callback"
            self.callbacks.record_undelivered(
                task.task_id, task.callback_url, body, reason, account_id=task.account_id
            )
            return
        self.callbacks.dispatch(task.task_id, task.callback_url, body, account_id=task.account_id)

    def step(self, task_id: str, *, complete: bool = False) -> TaskSnapshot:
        """Move a task one state on (or, `complete`, to its end) and owe its callback if it
        ended. KeyError for an unknown task. Needs a running loop when a callback is owed."""
        from .families import notify  # the families import this module

        store = self.store
        transition = store.complete(task_id) if complete else store.advance(task_id)
        notify(self, transition)
        return transition.task

    def reset(self) -> None:
        """Forget tasks, account changes, added rules and the journal: back to the configured
        accounts and rules, loaded recordings back to their start, the clock back to its
        configured speed (its time keeps going: it never runs backwards)."""
        self.store.reset()
        self.prerendered.clear()
        self.rules.reset()
        self.journal.clear()
        # uploaded files too: a test never reads the file an earlier test uploaded at the same
        # path, and their bytes no longer count against upload_limit (their links answer 404)
        self.uploads.clear()
        # fault rules, limits and callback modes are test state too: back to the config
        self.faults.clear()
        self.limits.reset()
        self.limits.set(LimitSettings.from_config(self.config))
        self.callbacks.clear()
        self.callbacks.configure(CallbackSettings.from_config(self.config))
        # a loaded recording (--har, MockServer(scenario=…)) plays again from its start
        self.scenarios.rewind()
        # a speed set since (PUT /_mock/clock) is test state too: a test that sped the clock up
        # left every later test of the run on fast time
        self.clock.restore_scale()

    def forget_account(self, account: str) -> AccountReset:
        """Reset one account and leave the others be (mocks shared by parallel jobs): forget
        its tasks, uploaded files, callbacks, journal records, rate windows and the rules and
        fault rules scoped to it; it is back to its configured settings (or closed, if opened
        since). The clock, the settings and rules of the whole mock and a loaded recording are
        shared, and stay as they are."""
        forgotten = AccountReset(
            account_id=account,
            tasks=self.store.forget_account(account),
            callbacks=self.callbacks.forget_account(account),
            requests=self.journal.forget_account(account),
            rules=self.rules.forget_account(account),
            faults=self.faults.forget_account(account),
            uploads=self.uploads.forget_account(account),
        )
        self.limits.forget_account(account)
        self.prerendered.clear()  # a cache: answers are rendered again when asked
        return forgotten


@dataclass(frozen=True)
class AccountReset:
    """What a per-account reset forgot (Runtime.forget_account)."""

    account_id: str
    tasks: int
    callbacks: int
    requests: int
    rules: int
    faults: int
    uploads: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


RUNTIME: web.AppKey[Runtime] = web.AppKey("kiekit_mock.runtime", Runtime)
