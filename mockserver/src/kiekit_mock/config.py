"""The mock's settings: one immutable value, passed to create_app / MockServer / serve."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

MarketOutput = Literal["image", "video", "audio", "text"]
MARKET_OUTPUTS: tuple[MarketOutput, ...] = get_args(MarketOutput)


class FrozenMapping(Mapping[str, MarketOutput]):
    """A read-only, hashable mapping, so that a MockConfig stays a hashable value."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, MarketOutput] | None = None) -> None:
        self._items = dict(items or {})

    def __getitem__(self, key: str) -> MarketOutput:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return repr(self._items)


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
    time_scale: mock seconds per wall-clock second (60: a 10-minute task or rate window takes
        10 s of real time). Applies to lifecycles, rate-limit windows, link lifetimes, timestamps.
    extra_market_models: market model ids the mock does not know, each with what it produces
        ("image", "video", "audio" or "text"), for plugin authors' tests: the market family
        accepts them with a minimal input check (an object; a `prompt`, if given, a non-empty
        string of at most 10000 characters) and runs the normal lifecycle. Ids the mock already
        emulates keep their own checks.
    """

    api_keys: frozenset[str] | None = None
    polls_to_complete: int = 0
    seconds_to_complete: float = 0.0
    starting_credits: float = 1000.0
    max_creates_per_10s: int | None = None
    webhook_hmac_key: str | None = None
    callback_timeout: float = 15.0
    time_scale: float = 1.0
    extra_market_models: Mapping[str, MarketOutput] = field(default_factory=FrozenMapping)

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
        if not self.time_scale > 0:
            raise ValueError("time_scale must be > 0")
        if self.callback_timeout <= 0:
            raise ValueError("callback_timeout must be > 0")
        object.__setattr__(self, "extra_market_models", _market_models(self.extra_market_models))

    def accepts(self, api_key: str) -> bool:
        """Whether a (non-empty) Bearer key opens an account."""
        return bool(api_key) and (self.api_keys is None or api_key in self.api_keys)


def _market_models(models: object) -> FrozenMapping:
    if not isinstance(models, Mapping):
        raise TypeError("extra_market_models must be a mapping of model id to output kind")
    for model_id, output in models.items():
        if not isinstance(model_id, str) or not model_id.strip() or model_id != model_id.strip():
            raise ValueError(f"extra_market_models: {model_id!r} is not a model id")
        if output not in MARKET_OUTPUTS:
            kinds = ", ".join(MARKET_OUTPUTS)
            raise ValueError(f"extra_market_models[{model_id!r}] must be one of {kinds}")
    return models if isinstance(models, FrozenMapping) else FrozenMapping(models)


def parse_market_model(text: str) -> tuple[str, MarketOutput]:
    """``ID=KIND`` as the command line gives it (``acme/banana-v1=image``)."""
    model_id, sep, output = text.rpartition("=")
    model_id, output = model_id.strip(), output.strip()
    for kind in MARKET_OUTPUTS:
        if sep and model_id and output == kind:
            return model_id, kind
    raise ValueError(
        f"expected MODEL_ID=KIND with KIND one of {', '.join(MARKET_OUTPUTS)}: {text!r}"
    )
