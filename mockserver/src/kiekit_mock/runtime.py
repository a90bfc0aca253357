"""The live parts of one mock instance, kept on the aiohttp Application under RUNTIME."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .callbacks import CallbackDispatcher
from .clock import MockClock
from .config import MockConfig
from .journal import Journal
from .state import Store, Transition

CallbackPayload = Callable[[Transition], dict[str, Any]]


@dataclass(frozen=True)
class Runtime:
    config: MockConfig
    store: Store
    callbacks: CallbackDispatcher
    journal: Journal
    clock: MockClock

    @classmethod
    def new(cls, config: MockConfig) -> Runtime:
        dispatcher = CallbackDispatcher(
            timeout=config.callback_timeout, hmac_key=config.webhook_hmac_key
        )
        clock = MockClock(config.time_scale)
        return cls(config, Store(config, clock.now), dispatcher, Journal(), clock)

    def finish(self, transition: Transition, payload: CallbackPayload) -> None:
        """Owe the task's callback if it just ended and asked for one. Needs a running loop."""
        task = transition.task
        if transition.finished_now and task.callback_url is not None:
            self.callbacks.dispatch(task.task_id, task.callback_url, payload(transition))


RUNTIME: web.AppKey[Runtime] = web.AppKey("kiekit_mock.runtime", Runtime)
