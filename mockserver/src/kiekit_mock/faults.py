"""Fault injection: answers KIE or the network in front of it give when things go wrong.

A test adds rules (Python: ``mock.faults.add(FaultRule(...))``; HTTP: ``POST /_mock/faults``);
the middleware (faults_http.py) checks every non-control request against them in the order they
were added, and the first rule that matches and fires answers. The upload host (uploads_http.py)
runs the same middleware: its paths are matched as the API's are.

HTTP-level faults, as a client meets them on the wire:
  reset      the connection is aborted with a TCP RST, no answer at all;
  empty      HTTP 200, ``application/json``, zero bytes;
  malformed  HTTP 200, a complete message whose JSON body is cut short (invalid JSON);
  truncated  HTTP 200 promising the full body (Content-Length) but the connection closes halfway;
  slow       the answer is held back ``delay`` seconds (wall, or mock seconds at the clock's scale);
  http       a real HTTP 5xx from the reverse proxy in front of KIE, with its HTML page.
KIE-level fault:
  kie        KIE's envelope at HTTP 200 with a body code (402, 429, 433, 455, 500, 505, …) and
             KIE's message for it (kie-api.md §1, §7).

``when`` decides what the request did before the fault answered: "before" — the mock never ran
it (nothing created, nothing charged); "after" — it ran (a create made and charged its task) and
the fault replaced or lost its answer. That is the "outcome unknown" a reliable client must not
answer with a second create. The journal records which rule answered each request (``fault``),
and, for a lost create, the task that was made all the same.

Triggers: every match (default), ``times`` (first N matches, 1 = one-shot), ``every`` (each Nth
match) and ``probability`` with a ``seed`` (reproducible); ``times`` also caps the other two.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from .controlwire import (
    ControlError,
    kie_error_code,
    one_of,
    opt_int,
    opt_number,
    opt_text,
    refuse_unknown,
)
from .state import account_id

FaultKind = Literal["reset", "empty", "malformed", "truncated", "slow", "http", "kie"]
When = Literal["before", "after"]
DelayClock = Literal["wall", "mock"]
KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
CONTROL_PREFIX = "/_mock/"

# kie-api.md §7 codes with the wording of KIE's "response codes" tables (D:index and every
# endpoint page); 402/429 use the texts the mock's own limits answer with. [INF] real `msg`
# texts for most of these were never recorded; 433 is the newer market specs' wording.
KIE_MESSAGES: dict[int, str] = {
    400: "Bad Request - The request parameters are invalid",
    401: "You do not have access permissions",
    402: "Credits insufficient",
    404: "Not Found - The requested resource or endpoint does not exist",
    405: "Method Not Allowed",
    408: "Timeout - no result was produced in time",
    413: "The uploaded audio matches an existing work",
    422: "Validation Error - The request parameters failed validation checks",
    429: "Rate limit exceeded, please try again later",
    433: "Request Limit – Sub-key Usage Exceeds Limit",
    451: "Failed to fetch the image",
    455: "Service Unavailable - System is currently undergoing maintenance",
    500: "Server Error - An unexpected error occurred while processing the request",
    501: "Generation Failed",
    505: "Feature Disabled - The requested feature is currently disabled",
    531: "Generation failed, credits have been refunded",
    550: "Connection denied, the queue is full",
}
# What a reverse proxy (nginx) says when KIE behind it is down or slow.
PROXY_REASONS: dict[int, str] = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}
# Routes answered without a key that belong to no account: an account-scoped rule on one of
# these never matches. Result files and stored uploads carry no key either, but the mock knows
# whose they are (files.owner_of_file), so rules scoped to their account reach them.
KEYLESS_PATHS = frozenset({"/openapi.json"})
# what a "before" malformed/truncated fault cuts short: no real answer was made to cut
CANNED_ANSWER = b'{"code":200,"msg":"success","data":{"taskId":"0123456789abcdef0123456789abcdef"}}'


@dataclass(frozen=True)
class FaultRule:
    """One fault and when it answers. Invalid values raise ControlError naming the field."""

    kind: FaultKind
    method: str = "*"  # "*" or an HTTP method
    path: str = "*"  # a glob over the request path, e.g. "/api/v1/jobs/*"
    account: str | None = None  # only this account's requests (account_id(api_key))
    when: When = "before"
    times: int | None = None
    every: int | None = None
    probability: float | None = None
    seed: int | None = None
    status: int = 502  # kind "http": 500, 502, 503 or 504
    code: int = 500  # kind "kie": the body code
    msg: str | None = None  # kind "kie": None = KIE's message for `code`
    delay: float = 0.0  # kind "slow": seconds
    delay_clock: DelayClock = "wall"  # "mock": `delay` is mock seconds (÷ time_scale)
    retry_after: float | None = None  # kinds "http"/"kie": a Retry-After header (seconds)

    def __post_init__(self) -> None:
        one_of(self.kind, KINDS, "kind")
        one_of(self.when, get_args(When), "when")
        one_of(self.delay_clock, get_args(DelayClock), "delay_clock")
        if not isinstance(self.method, str) or not self.method:
            raise ControlError("method", 'must be "*" or an HTTP method')
        object.__setattr__(self, "method", self.method.upper())
        if not isinstance(self.path, str) or not self.path.startswith(("/", "*")):
            raise ControlError("path", 'must be a path glob starting with "/" or "*"')
        # a rule that could never fire is refused, not kept as a silent no-op: a test that
        # armed it would pass without testing anything
        if self.path.startswith(CONTROL_PREFIX):
            raise ControlError("path", f"control routes ({CONTROL_PREFIX}…) are never faulted")
        if self.account is not None and self.path in KEYLESS_PATHS:
            raise ControlError(
                "path",
                f"{self.path} is served to anyone without a key: a rule scoped to an account "
                "never matches it (leave out api_key/account)",
            )
        checked = {name: getattr(self, name) for name in ("times", "every", "seed")}
        opt_int(checked, "times", minimum=1)
        opt_int(checked, "every", minimum=1)
        opt_int(checked, "seed", minimum=0)
        if self.probability is not None and (
            isinstance(self.probability, bool)
            or not isinstance(self.probability, int | float)
            or not 0 < self.probability <= 1
        ):
            raise ControlError("probability", "must be a number in (0, 1] or null")
        if self.every is not None and self.probability is not None:
            raise ControlError("probability", "give either every or probability, not both")
        if self.status not in PROXY_REASONS:
            raise ControlError("status", f"must be one of {', '.join(map(str, PROXY_REASONS))}")
        kie_error_code(self.code)
        if self.msg is None and self.code not in KIE_MESSAGES:
            raise ControlError("msg", f"code {self.code} is not documented: give its msg")
        opt_text({"msg": self.msg}, "msg")
        opt_text({"account": self.account}, "account")
        opt_number({"delay": self.delay}, "delay", minimum=0)
        opt_number({"retry_after": self.retry_after}, "retry_after", minimum=0)
        if self.kind == "slow" and not self.delay > 0:
            raise ControlError("delay", 'must be > 0 for a "slow" fault')

    @property
    def message(self) -> str:
        """The ``msg`` the fault answers with: the one given, else KIE's for its code."""
        return self.msg if self.msg is not None else KIE_MESSAGES[self.code]

    def matches(self, method: str, path: str, account: str | None) -> bool:
        """Whether a request (method, path, account id) is one this rule applies to."""
        return (
            self.method in ("*", method)
            and fnmatch.fnmatchcase(path, self.path)
            and (self.account is None or self.account == account)
        )


RULE_FIELDS = frozenset(FaultRule.__dataclass_fields__) | {"api_key"}


def rule_from_json(body: dict[str, Any]) -> FaultRule:
    """A FaultRule from a control request; `api_key` may stand in for `account` (never kept)."""
    refuse_unknown(body, RULE_FIELDS)
    fields = dict(body)
    key = fields.pop("api_key", None)
    if key is not None:
        if not isinstance(key, str) or not key.strip():
            raise ControlError("api_key", "must be a non-empty string")
        if fields.get("account") is not None:
            raise ControlError("api_key", "give either api_key or account, not both")
        fields["account"] = account_id(key.strip())
    if "kind" not in fields:
        raise ControlError("kind", f"is required (one of {', '.join(KINDS)})")
    try:
        return FaultRule(**fields)
    except TypeError as exc:  # a wrongly typed value that the comparisons above tripped over
        raise ControlError("body", str(exc)) from exc


@dataclass(frozen=True)
class FaultStatus:
    """A rule as listed: its id, the rule, matches seen and times it answered."""

    id: str
    rule: FaultRule
    matched: int
    fired: int

    @property
    def exhausted(self) -> bool:
        return self.rule.times is not None and self.fired >= self.rule.times

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **asdict(self.rule),
            "matched": self.matched,
            "fired": self.fired,
            "exhausted": self.exhausted,
        }


@dataclass
class _Armed:
    rule: FaultRule
    rng: random.Random
    matched: int = 0
    fired: int = 0


class Faults:
    """The fault rules of one mock, in the order they were added. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, _Armed] = {}
        self._added = 0

    def add(self, rule: FaultRule) -> str:
        """Arm a rule after the existing ones; returns its id ("fault-1", …)."""
        with self._lock:
            self._added += 1
            rule_id = f"fault-{self._added}"
            self._rules[rule_id] = _Armed(rule, random.Random(rule.seed))  # noqa: S311 (not crypto)
            return rule_id

    def remove(self, rule_id: str) -> None:
        """KeyError for an unknown id."""
        with self._lock:
            del self._rules[rule_id]

    def clear(self) -> None:
        """Remove every fault rule."""
        with self._lock:
            self._rules.clear()

    def forget_account(self, account: str) -> int:
        """Drop the rules scoped to one account (a per-account reset); returns how many."""
        with self._lock:
            mine = [rule_id for rule_id, a in self._rules.items() if a.rule.account == account]
            for rule_id in mine:
                del self._rules[rule_id]
            return len(mine)

    @property
    def armed(self) -> bool:
        """Whether any rule is armed: the middleware is left out of a request's chain if not."""
        return bool(self._rules)  # a dict's truth is read atomically

    def rules(self) -> list[FaultStatus]:
        """The fault rules in force, each with its id and how often it matched and fired."""
        with self._lock:
            return [FaultStatus(i, a.rule, a.matched, a.fired) for i, a in self._rules.items()]

    def pick(self, method: str, path: str, account: str | None) -> tuple[str, FaultRule] | None:
        """The rule that answers this request, counting it as seen by every rule it reached."""
        with self._lock:
            for rule_id, armed in self._rules.items():
                rule = armed.rule
                if not rule.matches(method, path, account):
                    continue
                if rule.times is not None and armed.fired >= rule.times:
                    continue
                armed.matched += 1
                if rule.every is not None:
                    fires = armed.matched % rule.every == 0
                elif rule.probability is not None:
                    fires = armed.rng.random() < rule.probability
                else:
                    fires = True
                if fires:
                    armed.fired += 1
                    return rule_id, rule
            return None


__all__ = [
    "KIE_MESSAGES",
    "KINDS",
    "PROXY_REASONS",
    "FaultKind",
    "FaultRule",
    "FaultStatus",
    "Faults",
    "rule_from_json",
]
