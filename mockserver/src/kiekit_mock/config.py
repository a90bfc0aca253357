"""The mock's settings: one immutable value, passed to create_app / MockServer / serve."""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

from .rules import SECONDS_RULE, Rule, seconds_ok

MarketOutput = Literal["image", "video", "audio", "text"]
# The chat APIs a chat model can speak (families/chat/): completions on /<model>/v1/chat/
# completions, messages on /claude/v1/messages, responses on the unified /api/v1/responses.
ChatWire = Literal["completions", "messages", "responses"]
CallbackTamper = Literal["signature", "stale"]
CALLBACK_TAMPERS: tuple[CallbackTamper, ...] = get_args(CallbackTamper)
MARKET_OUTPUTS: tuple[MarketOutput, ...] = get_args(MarketOutput)
CHAT_WIRES: tuple[ChatWire, ...] = get_args(ChatWire)
V = TypeVar("V")
# MockConfig.upload_limit's default: a long soak's uploads hold at most this many bytes
UPLOAD_LIMIT = 1024**3
# MockConfig.read_timeout / idle_timeout's defaults (connections.py): seconds a request may take
# to arrive, and a connection may sit with no request (aiohttp's own keep-alive time, 75 s)
READ_TIMEOUT = 60.0
IDLE_TIMEOUT = 75.0
# MockConfig.memory_limit's default: the bytes tasks, their rendered answers and the journal
# hold together (a long-running shared mock stays at a few hundred MB, Python's own overhead
# included); how it is shared out: memory.py
MEMORY_LIMIT = 256 * 1024**2
# MockConfig.record_days's default: KIE keeps "log records 2 months" (kie-api.md §1, §8)
RECORD_DAYS = 60.0


@functools.lru_cache(maxsize=4096)  # hashed at every request: the middlewares ask several times
def account_id(api_key: str) -> str:
    """The id the mock shows for an API key's account: derived from, never equal to, the key.
    Any key has one, even a header's bytes that were not UTF-8 (aiohttp hands them on as
    surrogate escapes): a bad key is KIE's 401, never the mock's own HTTP 500."""
    return "acct_" + hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class FrozenMapping(Mapping[str, V]):
    """A read-only, hashable mapping, so that a MockConfig stays a hashable value."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, V] | None = None) -> None:
        self._items = dict(items or {})

    def __getitem__(self, key: str) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return repr(self._items)


class KeyedAccounts(FrozenMapping["AccountSettings"]):
    """API key -> AccountSettings; its repr shows account ids, never the keys."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr({account_id(key): settings for key, settings in self._items.items()})


@dataclass(frozen=True)
class AccountSettings:
    """One account of MockConfig.accounts.

    credits: its starting balance (None: MockConfig.starting_credits).
    max_creates_per_10s: its own limit on new tasks per 10 s (None: MockConfig's).
    """

    credits: float | None = None
    max_creates_per_10s: int | None = None

    def __post_init__(self) -> None:
        if self.credits is not None and (
            isinstance(self.credits, bool)
            or not isinstance(self.credits, int | float)
            or not 0 <= self.credits < math.inf
        ):
            raise ValueError("AccountSettings.credits must be a finite number >= 0")
        limit = self.max_creates_per_10s
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise ValueError("AccountSettings.max_creates_per_10s must be >= 1 or None")


@dataclass(frozen=True)
class MockConfig:
    """How the emulated KIE account(s) behave.

    api_keys: None accepts any non-empty Bearer key, each key being its own account; a set of
        keys accepts only those (anything else gets KIE's body code 401, kie-api.md §1).
    rules: outcome / lifecycle rules for new tasks, first match first (rules.Rule); they are
        there from the start and come back on reset.
    accounts: API key -> AccountSettings (its own credits and rate limit). Giving accounts
        closes the mock like api_keys does: the accepted keys are api_keys' and these, plus any
        account added at runtime (POST /_mock/accounts, MockServer.put_account).
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
    extra_chat_models (keyword-only): chat model ids the mock does not know, each with the chat
        API it speaks ("completions", "messages" or "responses"), for chat plugin authors'
        tests: answered as the mock's own models of that API are (the echo, streams, credits,
        ``[mock:fail]``, ``[mock:tool]``); a "responses" model on ``/api/v1/responses``.
    strict_models: refuse a market model id the mock neither emulates nor finds in
        extra_market_models with KIE's own 422 "model not supported" (kie-api.md §2.4). Off by
        default: KIE adds market models every week, and a test double must not block one added
        yesterday — an unknown id is accepted with the minimal check above, its output kind read
        from its wording (market_models/extra.py), and a warning in the mock's log.
    market_catalogue (keyword-only): market model entries in the form of the mock's own
        catalogue (``families/market_models/catalogue.json``: ``id``, ``kind``, ``file``,
        ``source``, ``fields`` with each field's type and limits), for plugin authors whose
        market model the mock does not know: it is then checked field by field as KIE checks
        its models (a 422 naming a field that is missing, of the wrong type or out of its
        limits), so the contract's field tests catch a wrong wire name. A malformed entry is
        refused naming the model and the field. Ids the mock already emulates keep their own
        checks. ``--market-catalogue FILE`` reads them from a JSON file.
    market_queuing: market records (jobs/recordInfo) show the middle pending stage as
        `queuing`, a state KIE's docs list but recorded traffic never showed (kie-api.md §2.2:
        waiting, generating, success), and so do the tasks a mock family extension's status
        route reads (kiekit_mock.extension.poll_task). Off by default: records walk waiting →
        generating → success, as real KIE's do; the control API keeps the mock's own three
        stages.
    market_unknown_null (keyword-only): jobs/recordInfo answers a task id it does not know
        (or another account's) with `{"code":200,"msg":"success","data":null}`, the real answer
        recorded for Suno's record-info (kie-api.md §2.2, §11: "data:null for unknown id
        option"), instead of the docs' 404 "Task not found" (the default).
    upload_cdn_seconds (keyword-only): for this long (mock seconds) after an upload overwrites
        a file of the same name in the same folder, its downloadUrl still serves the old bytes,
        as KIE's CDN cache does ("same fileName overwrites with CDN-cache delay", kie-api.md
        §4). 0 (the default): the new bytes at once.
    documented_limits: enforce KIE's documented rate limits (limits.py): 20 creates per 10 s per
        account (max_creates_per_10s, if set, wins), jobs/recordInfo 10/s per key, 4o Image and
        Suno record-info 3/s per task; each measured on the mock clock.
    callback_copies: how many times each callback is sent (KIE may deliver one more than once,
        kie-api.md §6.1); 2 tests a receiver's idempotency.
    callback_tamper: "signature" (a wrong X-Webhook-Signature) or "stale" (a correctly signed but
        hour-old X-Webhook-Timestamp): callbacks a receiver must reject (needs webhook_hmac_key).
    allowed_callback_hosts: hosts besides loopback that callbacks may be POSTed to — an
        operator's explicit choice; by default nothing leaves the machine (callbacks.py).
    journal_limit: request records the journal keeps (None: all); past it the oldest are let go
        and counted (/_mock/journal's `dropped`), so a long soak's memory stays bounded.
    task_limit: tasks kept (None: all); past it the oldest finished ones are forgotten, and a
        poll for one is answered as KIE answers an unknown task id. Pending tasks are kept.
    callback_limit: callback records kept (None: all); a forgotten task's records go with it,
        and past the limit the oldest records are let go (each copy and stage is a record).
    upload_limit: bytes of uploaded files the upload host keeps (None: all); past it the
        oldest files are let go (their links answer 404), the first time said in the log, and
        a single file larger than it is refused as upload_file_limit refuses one (the store
        could not keep it). Files past KIE's 3 days are let go whatever the limit (uploads.py).
    record_days (keyword-only): days a finished task's record is kept after it ended, on the
        mock clock; past them its status queries answer as for an unknown task id (each
        family's own "not found"), and its files are gone with it. KIE keeps "log records 2
        months" (kie-api.md §1, §8), counted here from the task's end as media retention is;
        60 by default. None: kept until task_limit lets it go. Pending tasks are always kept.
    upload_file_limit (keyword-only): the largest file, in bytes, the upload host takes by any
        method; a larger one is refused with code 400 "File size exceeds the limit" and not
        kept. None (the default): KIE documents no limit for stream and base64 uploads (a model
        page takes a 500 MB video, kie-api.md §3.5), so there is none beyond upload_limit; URL
        uploads keep the "~100 MB" their page gives (§4). The smallest of the three applies
        (uploads_http.largest_file). Set it to test a client's refused-upload path with small
        files.
    memory_limit (keyword-only): bytes that tasks, their rendered status answers and the
        request journal may hold together (None: no byte limit, the count limits alone),
        measured as the bytes of what they keep (bodies as JSON text, answers as sent): tasks
        3/8 of it, finished tasks' rendered answers 1/8, journal records 1/2. Past a share the
        oldest go first, as under the count limits (pending tasks are always kept). 256 MiB:
        the count limits alone let a soak of 1 MB bodies reach GBs (memory.py).
    read_timeout (keyword-only): seconds a request's head and body may take to arrive, from
        its first byte; a slower one's connection is closed unanswered (connections.py). 60 s.
    idle_timeout (keyword-only): seconds a connection may sit with no request under way (one
        that never sent a byte too) before it is closed. 75 s, aiohttp's keep-alive time. A
        slow or leaking client of a shared mock cannot hold its file descriptors for ever.
    """

    api_keys: frozenset[str] | None = field(default=None, repr=False)  # keys stay out of logs
    polls_to_complete: int = 0
    seconds_to_complete: float = 0.0
    starting_credits: float = 1000.0
    max_creates_per_10s: int | None = None
    webhook_hmac_key: str | None = None
    callback_timeout: float = 15.0
    time_scale: float = 1.0
    extra_market_models: Mapping[str, MarketOutput] = field(default_factory=FrozenMapping)
    strict_models: bool = False
    market_queuing: bool = False
    accounts: Mapping[str, AccountSettings] = field(default_factory=KeyedAccounts)
    rules: tuple[Rule, ...] = ()
    documented_limits: bool = False
    callback_copies: int = 1
    callback_tamper: CallbackTamper | None = None
    allowed_callback_hosts: frozenset[str] = frozenset()
    journal_limit: int | None = 100_000
    task_limit: int | None = 100_000
    callback_limit: int | None = 100_000
    # added later, keyword-only (a dataclass puts it last): code that gives the fields above
    # by position keeps each value in its field
    extra_chat_models: Mapping[str, ChatWire] = field(default_factory=FrozenMapping, kw_only=True)
    market_unknown_null: bool = field(default=False, kw_only=True)
    upload_cdn_seconds: float = field(default=0.0, kw_only=True)
    upload_limit: int | None = field(default=UPLOAD_LIMIT, kw_only=True)
    upload_file_limit: int | None = field(default=None, kw_only=True)
    record_days: float | None = field(default=RECORD_DAYS, kw_only=True)
    memory_limit: int | None = field(default=MEMORY_LIMIT, kw_only=True)
    read_timeout: float = field(default=READ_TIMEOUT, kw_only=True)
    idle_timeout: float = field(default=IDLE_TIMEOUT, kw_only=True)
    market_catalogue: tuple[Mapping[str, Any], ...] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        _check_types(self)
        if self.api_keys is not None:
            keys: Iterable[str] = self.api_keys
            if isinstance(keys, str):
                raise TypeError("api_keys must be a collection of keys, not one string")
            keys = frozenset(keys)
            if not all(isinstance(key, str) and key.strip() for key in keys):
                raise TypeError("api_keys must hold non-empty strings (the accepted keys)")
            object.__setattr__(self, "api_keys", keys)
        if self.polls_to_complete < 0:
            raise ValueError("polls_to_complete must be >= 0")
        if not seconds_ok(self.seconds_to_complete):  # as a rule's lifecycle seconds
            raise ValueError(f"seconds_to_complete {SECONDS_RULE}, not {self.seconds_to_complete}")
        if self.starting_credits < 0:
            raise ValueError("starting_credits must be >= 0")
        if self.max_creates_per_10s is not None and self.max_creates_per_10s < 1:
            raise ValueError("max_creates_per_10s must be >= 1 or None")
        if not self.time_scale > 0:
            raise ValueError("time_scale must be > 0")
        if self.callback_timeout <= 0:
            raise ValueError("callback_timeout must be > 0")
        for name in ("read_timeout", "idle_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds, not {getattr(self, name)}")
        if not seconds_ok(self.upload_cdn_seconds):
            raise ValueError(f"upload_cdn_seconds {SECONDS_RULE}, not {self.upload_cdn_seconds}")
        _check_record_days(self.record_days)
        limits = ("journal_limit", "task_limit", "callback_limit", "upload_limit", "memory_limit")
        for name in (*limits, "upload_file_limit"):
            limit = getattr(self, name)
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
                raise TypeError(f"{name} must be an integer or None")
            if limit is not None and limit < 1:
                raise ValueError(f"{name} must be >= 1 or None (no limit)")
        if isinstance(self.callback_copies, bool) or not 1 <= self.callback_copies <= 10:
            raise ValueError("callback_copies must be an integer from 1 to 10")
        if self.callback_tamper not in (None, *CALLBACK_TAMPERS):
            raise ValueError(f"callback_tamper must be None or one of {CALLBACK_TAMPERS}")
        if self.callback_tamper is not None and self.webhook_hmac_key is None:
            raise ValueError("callback_tamper needs webhook_hmac_key (only signed callbacks)")
        hosts_given: object = self.allowed_callback_hosts
        if isinstance(hosts_given, str):
            raise TypeError("allowed_callback_hosts must be a collection of hosts, not a string")
        if not all(isinstance(host, str) for host in self.allowed_callback_hosts):
            raise TypeError("allowed_callback_hosts must hold host names (strings)")
        hosts = frozenset(host.lower() for host in self.allowed_callback_hosts)
        object.__setattr__(self, "allowed_callback_hosts", hosts)
        object.__setattr__(self, "extra_market_models", _market_models(self.extra_market_models))
        object.__setattr__(self, "market_catalogue", _catalogue_entries(self.market_catalogue))
        object.__setattr__(self, "extra_chat_models", _chat_models(self.extra_chat_models))
        object.__setattr__(self, "accounts", _accounts(self.accounts))
        given_rules: object = self.rules
        if given_rules is None or isinstance(given_rules, Rule):
            raise TypeError("rules must be a sequence of kiekit_mock.Rule (() for none)")
        rules = tuple(self.rules)
        if not all(isinstance(rule, Rule) for rule in rules):
            raise TypeError("rules must be a sequence of kiekit_mock.Rule")
        object.__setattr__(self, "rules", rules)

    @property
    def open_to_any_key(self) -> bool:
        """Whether any API key is accepted (no ``api_keys`` and no accounts configured)."""
        return self.api_keys is None and not self.accounts

    def accepts(self, api_key: str) -> bool:
        """Whether a (non-empty) Bearer key opens an account, by this configuration alone (the
        running mock also accepts accounts added at runtime: Store.accepts)."""
        if not api_key:
            return False
        return self.open_to_any_key or api_key in (self.api_keys or ()) or api_key in self.accounts


# MockConfig's plain fields and what each takes: checked before any comparison, so a wrong
# type is a TypeError naming the field ("time_scale must be a number, not '2'"), never Python's
# "'<' not supported between instances of 'str' and 'int'", nor a truthy "no" switching strict
# model checks on.
_INTEGERS = ("polls_to_complete", "callback_copies")
_OPTIONAL_INTEGERS = ("max_creates_per_10s",)  # the five limits: checked below
_NUMBERS = (
    "seconds_to_complete",
    "starting_credits",
    "callback_timeout",
    "time_scale",
    "upload_cdn_seconds",
    "read_timeout",
    "idle_timeout",
)
_SWITCHES = ("strict_models", "market_queuing", "market_unknown_null", "documented_limits")


def _check_types(config: MockConfig) -> None:
    for name in _INTEGERS + _OPTIONAL_INTEGERS:
        value = getattr(config, name)
        if value is None and name in _OPTIONAL_INTEGERS:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            none = " or None" if name in _OPTIONAL_INTEGERS else ""
            raise TypeError(f"{name} must be an integer{none}, not {value!r}")
    for name in _NUMBERS:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} must be a number, not {value!r}")
        if not math.isfinite(value):  # inf would pass a ">= 0", and is no JSON to show
            raise ValueError(f"{name} must be a finite number, not {value}")
    for name in _SWITCHES:
        value = getattr(config, name)
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, not {value!r}")
    key = config.webhook_hmac_key
    if key is not None and not isinstance(key, str):
        raise TypeError(f"webhook_hmac_key must be a string or None, not {type(key).__name__}")
    if key == "":  # an unset variable, say: signing with no key at all is no signing
        raise ValueError("webhook_hmac_key must not be empty (None: callbacks are not signed)")


def _catalogue_entries(entries: object) -> tuple[Mapping[str, Any], ...]:
    """``market_catalogue`` as a tuple of entries in catalogue.json's form, each checked as
    the shipped catalogue is (ValueError naming the model and the field)."""
    if isinstance(entries, Mapping | str | bytes) or not isinstance(entries, Iterable):
        raise TypeError("market_catalogue must be a sequence of catalogue entries (objects)")
    found = tuple(entries)
    if not found:
        return ()
    from .families.market_models.catalogue import problems  # the families import this module

    wrong = problems({"models": list(found)})
    if wrong:
        raise ValueError("market_catalogue: " + "; ".join(wrong))
    return tuple(dict(entry) for entry in found)


def _check_record_days(days: object) -> None:
    if days is None:
        return
    if isinstance(days, bool) or not isinstance(days, int | float):
        raise TypeError(f"record_days must be a number of days or None, not {days!r}")
    if not 0 < days < math.inf:
        raise ValueError(f"record_days must be > 0 days and finite (None: kept), not {days}")


def as_config(config: object) -> MockConfig:
    """The MockConfig a MockServer, serve or create_app was given (None: the defaults); anything
    else is refused at once with a TypeError naming ``config``, not an AttributeError from the
    server's start."""
    if config is None:
        return MockConfig()
    if isinstance(config, MockConfig):
        return config
    hint = " (MockConfig(**settings) makes one from a dict)" if isinstance(config, Mapping) else ""
    raise TypeError(f"config must be a MockConfig, not {type(config).__name__}{hint}")


def _accounts(accounts: object) -> KeyedAccounts:
    if not isinstance(accounts, Mapping):
        raise TypeError("accounts must be a mapping of API key to AccountSettings")
    for key, settings in accounts.items():
        if not isinstance(key, str) or not key.strip() or key != key.strip():
            raise ValueError("accounts: every API key must be a non-empty string without spaces")
        if not isinstance(settings, AccountSettings):
            raise TypeError(f"accounts[{account_id(key)}] must be an AccountSettings")
    return accounts if isinstance(accounts, KeyedAccounts) else KeyedAccounts(accounts)


def _market_models(models: object) -> FrozenMapping[MarketOutput]:
    if not isinstance(models, Mapping):
        raise TypeError("extra_market_models must be a mapping of model id to output kind")
    for model_id, output in models.items():
        if not isinstance(model_id, str) or not model_id.strip() or model_id != model_id.strip():
            raise ValueError(f"extra_market_models: {model_id!r} is not a model id")
        if output not in MARKET_OUTPUTS:
            kinds = ", ".join(MARKET_OUTPUTS)
            raise ValueError(f"extra_market_models[{model_id!r}] must be one of {kinds}")
    return models if isinstance(models, FrozenMapping) else FrozenMapping(models)


def parse_account(text: str) -> tuple[str, AccountSettings]:
    """``KEY`` or ``KEY=CREDITS`` as the command line gives it (``--account sk-a=50``)."""
    key, sep, amount = text.partition("=")
    key = key.strip()
    if not key:
        raise ValueError(f"expected KEY or KEY=CREDITS: {text!r}")
    if not sep:
        return key, AccountSettings()
    try:
        return key, AccountSettings(credits=float(amount))
    except ValueError:
        raise ValueError(f"--account {account_id(key)}: CREDITS must be a number >= 0") from None


def _chat_models(models: object) -> FrozenMapping[ChatWire]:
    if not isinstance(models, Mapping):
        raise TypeError("extra_chat_models must be a mapping of model id to chat API")
    for model_id, wire in models.items():
        if not isinstance(model_id, str) or not _is_path_segment(model_id):
            raise ValueError(f"extra_chat_models: {model_id!r} is not a chat model id")
        if wire not in CHAT_WIRES:
            raise ValueError(
                f"extra_chat_models[{model_id!r}] must be one of {', '.join(CHAT_WIRES)}"
            )
    return models if isinstance(models, FrozenMapping) else FrozenMapping(models)


def _is_path_segment(model_id: str) -> bool:
    # a completions model is named in the URL path: /<model>/v1/chat/completions
    return bool(model_id) and model_id == model_id.strip() and "/" not in model_id


def parse_chat_model(text: str) -> tuple[str, ChatWire]:
    """``ID=API`` as the command line gives it (``acme-chat-1=completions``)."""
    model_id, sep, wire = text.rpartition("=")
    model_id, wire = model_id.strip(), wire.strip()
    for known in CHAT_WIRES:
        if sep and _is_path_segment(model_id) and wire == known:
            return model_id, known
    raise ValueError(f"expected MODEL_ID=API with API one of {', '.join(CHAT_WIRES)}: {text!r}")


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
