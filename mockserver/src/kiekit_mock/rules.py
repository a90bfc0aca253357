"""How a task lives and ends: lifecycles, outcomes, and the rules that choose them.

A new task gets its lifecycle and its outcome when it is created: from the first rule that
matches it (by model, family, prompt, account, or a seeded coin toss) and sets that aspect,
else from the mock's defaults (MockConfig.polls_to_complete / seconds_to_complete, success).
A test may still change either for one task, by id, until the task has ended.

Everything here is a plain value except RuleBook, which is the live, thread-safe list of rules.
Values parse from and render to JSON for the control API (control.py); bad input raises
ControlError naming the field.
"""

from __future__ import annotations

import fnmatch
import random
import re
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from .controlwire import ControlError, kie_error_code, one_of

OutcomeKind = Literal["success", "fail", "moderation", "callback_fail", "create_failed"]
OUTCOME_KINDS: tuple[OutcomeKind, ...] = get_args(OutcomeKind)
# The kinds a task ends failed with, which alone carry a code and a message
FAILING_KINDS: tuple[OutcomeKind, ...] = ("fail", "moderation", "create_failed")
FAIL_MARKER = "[mock:fail]"

# A moderation failure's code and message per family, when a rule names none.
MODERATION: dict[str, tuple[int, str]] = {
    # §2.2 failure example: state "fail", failCode "422", failMsg "Invalid prompt: …"
    "market": (422, "Invalid prompt: the prompt was flagged by content moderation"),
    # §3.2 callback codes: 400 = prompt flagged
    "flux-kontext": (400, "Your prompt was flagged by content moderation"),
    # §7: on Veo/Flux/4o, 400 is also "prompt flagged"; 4o errorCode ∈ 200/400/451/500 (§3.1)
    "gpt4o-image": (400, "Your prompt was flagged by content moderation"),
    "veo": (400, "Your prompt was flagged by content moderation"),
    # §3.4: Runway's callback codes are 200/400/500 [INF: 400 for a flagged prompt]
    "runway": (400, "Your prompt was flagged by content moderation"),
    "aleph": (400, "Your prompt was flagged by content moderation"),
    # §3.6: status SENSITIVE_WORD_ERROR; callback code 400 (copyrighted lyrics)
    "suno": (400, "SENSITIVE_WORD_ERROR: the prompt contains sensitive words"),
}
DEFAULT_MODERATION = (400, "Your prompt was flagged by content moderation")  # §7


# The longest lifecycle, and the longest move of the clock at once (control.py): a hundred
# years. More is a typo, and never a task's life at KIE (records are kept 14 days, §8); a task
# that should not end by itself is a manual one. inf and NaN are no length of time at all.
MAX_SECONDS = 100 * 365 * 24 * 3600
SECONDS_RULE = f"must be a number of seconds from 0 to {MAX_SECONDS} (100 years)"


def seconds_ok(value: object) -> bool:
    """A length of mock time the mock takes: a finite number from 0 to MAX_SECONDS."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return 0 <= value <= MAX_SECONDS  # NaN compares False, inf is past the bound


def _or(value: object, default: object) -> Any:
    return default if value is None else value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ControlError(where, "must be a JSON object")
    return value


def _only(data: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    for key in data:
        if key not in allowed:
            raise ControlError(
                f"{where}.{key}", f"unknown field (known: {', '.join(sorted(allowed))})"
            )


@dataclass(frozen=True)
class Lifecycle:
    """When a task ends: after `polls` status polls AND `seconds` of mock time, or — manual —
    only when a test steps it (`advance` / `complete`). `Lifecycle()` is immediate."""

    polls: int = 0
    seconds: float = 0.0
    manual: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.polls, bool) or not isinstance(self.polls, int) or self.polls < 0:
            raise ControlError("polls", "must be an integer >= 0")
        if not seconds_ok(self.seconds):
            raise ControlError("seconds", SECONDS_RULE)
        if not isinstance(self.manual, bool):
            raise ControlError("manual", "must be true or false")

    @property
    def mode(self) -> str:
        """How the task moves: ``manual``, ``immediate``, or by ``polls`` and/or ``seconds``."""
        if self.manual:
            return "manual"
        kinds = [
            name for name, value in (("polls", self.polls), ("seconds", self.seconds)) if value
        ]
        return "+".join(kinds) or "immediate"

    def to_json(self) -> dict[str, Any]:
        """The lifecycle as the control API shows it."""
        return {"mode": self.mode, "polls": self.polls, "seconds": self.seconds}

    @classmethod
    def from_json(cls, value: object, where: str = "lifecycle") -> Lifecycle:
        """{"polls": 3} | {"seconds": 30} | {"polls": 2, "seconds": 5} | {"mode": "manual"} |
        {} or {"mode": "immediate"}; the shorthand strings "immediate" and "manual" too.
        {"mode": "timed", "polls"?, "seconds"?}: polls or seconds, at least one (a form's
        "after polls / seconds" left empty is refused, not taken for immediate)."""
        if value in ("immediate", "manual"):
            value = {"mode": value}
        data = _object(value, where)
        _only(data, where, {"mode", "polls", "seconds", "manual"})
        mode = data.get("mode")
        if mode not in (None, "immediate", "polls", "seconds", "polls+seconds", "manual", "timed"):
            raise ControlError(
                f"{where}.mode", "must be immediate, polls, seconds, timed or manual"
            )
        if mode == "timed":
            if data.get("manual"):
                raise ControlError(f"{where}.manual", "a timed lifecycle is not manual")
            if not data.get("polls") and not data.get("seconds"):
                raise ControlError(
                    f"{where}.polls", "a timed lifecycle needs polls or seconds (more than 0)"
                )
            mode = None  # the fields say which
        try:
            made = cls(  # null is "left out", as the OpenAPI document says
                polls=_or(data.get("polls"), 0),
                seconds=_or(data.get("seconds"), 0.0),
                manual=_or(data.get("manual"), mode == "manual"),
            )
        except ControlError as exc:
            raise ControlError(f"{where}.{exc.field}", exc.message) from None
        if mode not in (None, made.mode):
            raise ControlError(f"{where}.mode", f"{mode!r} does not fit the given fields")
        if made.manual:  # a manual task ends only when stepped: polls or seconds would be ignored
            for name in ("polls", "seconds"):
                if data.get(name):
                    raise ControlError(
                        f"{where}.{name}", "a manual lifecycle takes no polls or seconds"
                    )
        return made


@dataclass(frozen=True)
class Outcome:
    """How a task ends.

    success; fail (a generation failure); moderation (a flagged prompt, in the family's shape);
    callback_fail (the task succeeds, its callback is recorded as not delivered; Luma reports
    successFlag 4, §3.5/§6.1); create_failed (the task fails as KIE's CREATE_TASK_FAILED:
    successFlag 2 on 4o, Flux, Veo, Luma and Midjourney, Suno's status word, §3.1-§3.7; a
    plain failure where a family has no such state). `code`/`msg` override the failure's
    failCode/errorCode and message (None: the family's documented default).
    """

    kind: OutcomeKind = "success"
    code: int | None = None
    msg: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in OUTCOME_KINDS:
            raise ControlError("kind", f"must be one of {', '.join(OUTCOME_KINDS)}")
        failing = self.kind in FAILING_KINDS
        if self.code is not None:
            # a failure's code, as for a "kie" fault (faults.py): a failed task that calls back
            # with code 200 reads as a success with no results to a receiver
            kie_error_code(self.code)
            if not failing:
                raise ControlError("code", "only a failing outcome has a code")
        if self.msg is not None:
            if not isinstance(self.msg, str) or re.search(r"\S", self.msg) is None:
                raise ControlError("msg", "must be a non-empty string")
            if not failing:
                raise ControlError("msg", "only a failing outcome has a message")

    @property
    def fails(self) -> bool:
        """Whether the task ends failed (a failure, a moderation refusal, a failed create)."""
        return self.kind in FAILING_KINDS

    def to_json(self) -> dict[str, Any]:
        """The outcome as the control API shows it."""
        return {"kind": self.kind, "code": self.code, "msg": self.msg}

    @classmethod
    def parse(cls, value: object, where: str = "outcome") -> Outcome:
        """An Outcome, a kind ("fail"), or JSON {"kind": "fail", "code": 422, "msg": "…"};
        a code given as a numeric string ("422", as market failCodes are written) is accepted."""
        if isinstance(value, Outcome):
            return value
        if isinstance(value, str):
            value = {"kind": value}
        data = _object(value, where)
        _only(data, where, {"kind", "code", "msg"})
        code = data.get("code")
        if isinstance(code, str) and code.isascii() and code.isdigit():
            code = int(code)
        try:
            return cls(kind=data.get("kind", "success"), code=code, msg=data.get("msg"))
        except ControlError as exc:
            raise ControlError(f"{where}.{exc.field}", exc.message) from None


IMMEDIATE = Lifecycle()
SUCCESS = Outcome()


def moderation_failure(family: str) -> tuple[int, str]:
    return MODERATION.get(family, DEFAULT_MODERATION)


@dataclass(frozen=True)
class TaskFacts:
    """What rules may match on, taken from a task as it is created."""

    family: str
    model: str
    prompt: str
    account_id: str


@dataclass(frozen=True)
class Rule:
    """Matchers (all given ones must hold) and what a matching new task gets.

    model: an exact id or a glob ("kling-*"); prompt_contains: a substring; prompt_regex: a
    Python regular expression searched in the prompt; probability (with an optional seed, for a
    reproducible sequence): the share of otherwise matching tasks it applies to; times: how
    many tasks it applies to before it is spent (None: unlimited).
    """

    outcome: Outcome | None = None
    lifecycle: Lifecycle | None = None
    model: str | None = None
    family: str | None = None
    prompt_contains: str | None = None
    prompt_regex: str | None = None
    account_id: str | None = None
    probability: float | None = None
    seed: int | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        if self.outcome is None and self.lifecycle is None:
            raise ControlError("outcome", "a rule needs an outcome, a lifecycle or both")
        for name in ("model", "family", "prompt_contains", "prompt_regex", "account_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ControlError(name, "must be a non-empty string")
        if self.prompt_regex is not None:
            try:
                re.compile(self.prompt_regex)
            except re.error as exc:
                raise ControlError(
                    "prompt_regex", f"is not a valid regular expression: {exc}"
                ) from None
        if self.probability is not None and (
            not _is_number(self.probability) or not 0 <= self.probability <= 1
        ):
            raise ControlError("probability", "must be a number from 0 to 1")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise ControlError("seed", "must be an integer")
        if self.times is not None and (
            isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 1
        ):
            raise ControlError("times", "must be an integer >= 1")

    def matches(self, facts: TaskFacts) -> bool:
        """Whether the task fits every given matcher (the probability is drawn separately)."""
        if self.model is not None and not fnmatch.fnmatchcase(facts.model, self.model):
            return False
        if self.family is not None and facts.family != self.family:
            return False
        if self.prompt_contains is not None and self.prompt_contains not in facts.prompt:
            return False
        if self.prompt_regex is not None and re.search(self.prompt_regex, facts.prompt) is None:
            return False
        return self.account_id is None or facts.account_id == self.account_id

    def to_json(self) -> dict[str, Any]:
        """The rule as the control API shows it."""
        return {
            "outcome": None if self.outcome is None else self.outcome.to_json(),
            "lifecycle": None if self.lifecycle is None else self.lifecycle.to_json(),
            "model": self.model,
            "family": self.family,
            "prompt_contains": self.prompt_contains,
            "prompt_regex": self.prompt_regex,
            "account_id": self.account_id,
            "probability": self.probability,
            "seed": self.seed,
            "times": self.times,
        }

    @classmethod
    def from_json(
        cls,
        value: object,
        account_of_key: Any = None,
        families: Collection[str] | None = None,
    ) -> Rule:
        """A rule from JSON (keys as in to_json; outcome/lifecycle in their JSON forms).
        `api_key` may stand for `account_id` (the key itself is not kept). Given `families`
        (families.task_families()), a `family` that is none of them is refused: such a rule
        would never match, and nothing would tell the user."""
        data = dict(_object(value, "rule"))
        allowed = set(cls.__dataclass_fields__) | {"api_key"}
        _only(data, "rule", allowed)
        family = data.get("family")
        if families is not None and isinstance(family, str) and family:
            one_of(family, sorted(families), "family")
        key = data.pop("api_key", None)
        if key is not None:
            if not isinstance(key, str) or not key or account_of_key is None:
                raise ControlError("api_key", "must be a non-empty string")
            if data.get("account_id") is not None:
                raise ControlError("api_key", "give api_key or account_id, not both")
            data["account_id"] = account_of_key(key)
        if data.get("outcome") is not None:
            data["outcome"] = Outcome.parse(data["outcome"])
        if data.get("lifecycle") is not None:
            data["lifecycle"] = Lifecycle.from_json(data["lifecycle"])
        return cls(**data)


BUILTIN_FAIL_RULE = Rule(outcome=Outcome("fail"), prompt_contains=FAIL_MARKER)


@dataclass(frozen=True)
class RuleView:
    """A rule as listed: its id, and how often it was applied / may still be applied."""

    rule_id: int
    rule: Rule
    applied: int
    remaining: int | None
    builtin: bool

    def to_json(self) -> dict[str, Any]:
        """The rule and its counts, as the control API shows them."""
        return {
            "id": self.rule_id,
            "applied": self.applied,
            "remaining": self.remaining,
            "builtin": self.builtin,
        } | self.rule.to_json()


@dataclass(frozen=True)
class Decision:
    outcome: Outcome | None
    lifecycle: Lifecycle | None
    rule_ids: tuple[int, ...] = ()  # the rules that applied (the inspector shows them)


@dataclass
class _LiveRule:
    rule_id: int
    rule: Rule
    builtin: bool = False
    applied: int = 0
    initial: int | None = None  # its place in RuleBook.initial, for one it started with
    # reproducible draws for tests, not cryptography
    rng: random.Random = field(default_factory=random.Random)

    @property
    def remaining(self) -> int | None:
        return None if self.rule.times is None else self.rule.times - self.applied


def rules_from_json(
    value: object, account_of_key: Any = None, families: Collection[str] | None = None
) -> tuple[Rule, ...]:
    """A JSON list of rules (or {"rules": [...]}), e.g. the file of `--rules FILE`."""
    if isinstance(value, Mapping) and set(value) == {"rules"}:
        value = value["rules"]
    if not isinstance(value, list):
        raise ControlError("rules", "must be a JSON list of rules")
    rules = []
    for index, item in enumerate(value):
        try:
            rules.append(Rule.from_json(item, account_of_key, families))
        except ControlError as exc:
            raise ControlError(f"rules[{index}].{exc.field}", exc.message) from None
    return tuple(rules)


def check_families(rules: Collection[Rule], families: Collection[str]) -> None:
    """Refuse a rule whose `family` is none of `families` (families.task_families()): it
    would never match, and nothing would tell the user. Rules from JSON are checked as they
    are read (Rule.from_json); these are the ones made in Python."""
    for rule in rules:
        if rule.family is not None:
            one_of(rule.family, sorted(families), "family")


class RuleBook:
    """The live rules, in order; thread-safe. `[mock:fail]` in a prompt is a built-in rule,
    listed last and kept by clear(): a user rule added before it can still override it.
    `initial` rules (MockConfig.rules) come first and come back on reset()."""

    def __init__(self, initial: tuple[Rule, ...] = ()) -> None:
        self._lock = threading.Lock()
        self._next_id = 1
        self._rules: list[_LiveRule] = []
        self._builtin = [_LiveRule(0, BUILTIN_FAIL_RULE, builtin=True)]
        self._initial = initial
        self._add_initial(initial)

    @property
    def initial(self) -> tuple[Rule, ...]:
        """The rules it started with (MockConfig.rules), which reset() brings back."""
        return self._initial

    def add(self, rule: Rule) -> RuleView:
        with self._lock:
            live = self._live(rule)
            self._rules.append(live)
            return self._view(live)

    def _live(self, rule: Rule, initial: int | None = None) -> _LiveRule:
        """A new live rule with the next id; under the lock."""
        live = _LiveRule(self._next_id, rule, initial=initial, rng=random.Random(rule.seed))  # noqa: S311
        self._next_id += 1
        return live

    def _add_initial(self, rules: tuple[Rule, ...]) -> None:
        with self._lock:
            self._rules += [self._live(rule, place) for place, rule in enumerate(rules)]

    def remove(self, rule_id: int) -> None:
        """KeyError when there is no such user rule."""
        with self._lock:
            for index, live in enumerate(self._rules):
                if live.rule_id == rule_id:
                    del self._rules[index]
                    return
        raise KeyError(rule_id)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            for live in self._builtin:
                live.applied = 0

    def reset(self) -> None:
        """Back to the initial rules (their counts from zero)."""
        self.clear()
        self._add_initial(self._initial)

    def forget_account(self, account: str) -> int:
        """Drop the rules scoped to one account (a per-account reset); the initial ones scoped
        to it come back in their place, their counts from zero. Returns how many were dropped."""
        with self._lock:
            dropped = sum(1 for live in self._rules if live.rule.account_id == account)
            others = [live for live in self._rules if live.rule.account_id != account]
            # the initial rules lead the list (add appends): rebuild that head in its order
            kept = {live.initial: live for live in others if live.initial is not None}
            head = [
                self._live(rule, place) if rule.account_id == account else kept[place]
                for place, rule in enumerate(self._initial)
                if rule.account_id == account or place in kept
            ]
            self._rules = head + [live for live in others if live.initial is None]
            return dropped

    def rules(self) -> list[RuleView]:
        with self._lock:
            return [self._view(live) for live in [*self._rules, *self._builtin]]

    def decide(self, facts: TaskFacts) -> Decision:
        """The outcome and the lifecycle of a new task: each from the first matching rule that
        sets it. A rule that applies uses up one of its `times`; a spent rule is skipped."""
        outcome: Outcome | None = None
        lifecycle: Lifecycle | None = None
        applied: list[int] = []
        with self._lock:
            for live in [*self._rules, *self._builtin]:
                rule = live.rule
                gives_outcome = outcome is None and rule.outcome is not None
                gives_lifecycle = lifecycle is None and rule.lifecycle is not None
                if not (gives_outcome or gives_lifecycle) or live.remaining == 0:
                    continue
                if not rule.matches(facts):
                    continue
                # the draw happens only for tasks that fit the matchers: with a seed, the same
                # sequence of matching tasks gets the same outcomes on every run
                if rule.probability is not None and live.rng.random() >= rule.probability:
                    continue
                live.applied += 1
                applied.append(live.rule_id)
                if gives_outcome:
                    outcome = rule.outcome
                if gives_lifecycle:
                    lifecycle = rule.lifecycle
        return Decision(outcome, lifecycle, tuple(applied))

    @staticmethod
    def _view(live: _LiveRule) -> RuleView:
        return RuleView(live.rule_id, live.rule, live.applied, live.remaining, live.builtin)
