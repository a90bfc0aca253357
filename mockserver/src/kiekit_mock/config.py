"""The mock's settings: one immutable value, passed to create_app / MockServer / serve."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class MockConfig:
    """How the emulated KIE account(s) behave.

    api_keys: None accepts any non-empty Bearer key, each key being its own account; a set of
        keys accepts only those (anything else gets KIE's body code 401, kie-api.md §1).
    polls_to_complete: status polls a task answers with a non-final state before its final one
        (0: final at the first poll).
    seconds_to_complete: seconds after creation before a task may be final. When both are set,
        a task is final only once both are satisfied; both 0 means immediate.
    starting_credits: each account's balance when first seen.
    max_creates_per_10s: opt-in rate limit on new tasks per account (KIE's documented default is
        20 per 10 s, kie-api.md §8); None disables it.
    webhook_hmac_key: when set, callbacks carry X-Webhook-Timestamp / X-Webhook-Signature as
        KIE's opt-in signing does (kie-api.md §6.3).
    callback_timeout: seconds a callback delivery may take (KIE: 15 s, kie-api.md §6.1).
    """

    api_keys: frozenset[str] | None = None
    polls_to_complete: int = 0
    seconds_to_complete: float = 0.0
    starting_credits: float = 1000.0
    max_creates_per_10s: int | None = None
    webhook_hmac_key: str | None = None
    callback_timeout: float = 15.0

    def __post_init__(self) -> None:
        if self.api_keys is not None:
            keys: Iterable[str] = self.api_keys
            if isinstance(keys, str):
                raise TypeError("api_keys must be a collection of keys, not one string")
            object.__setattr__(self, "api_keys", frozenset(keys))
        if self.polls_to_complete < 0:
            raise ValueError("polls_to_complete must be >= 0")
        if self.seconds_to_complete < 0:
            raise ValueError("seconds_to_complete must be >= 0")
        if self.starting_credits < 0:
            raise ValueError("starting_credits must be >= 0")
        if self.max_creates_per_10s is not None and self.max_creates_per_10s < 1:
            raise ValueError("max_creates_per_10s must be >= 1 or None")
        if self.callback_timeout <= 0:
            raise ValueError("callback_timeout must be > 0")

    def accepts(self, api_key: str) -> bool:
        """Whether a (non-empty) Bearer key opens an account."""
        return bool(api_key) and (self.api_keys is None or api_key in self.api_keys)
