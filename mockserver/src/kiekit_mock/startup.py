"""What ``serve`` prints once listening, after the URLs: a user of any language reads the mock's
set-up here, not in Python — when tasks end, which API key to send, what is in force.

Keys are never printed (a log or a CI transcript must not carry one): only how many are taken.
"""

from __future__ import annotations

from .config import RECORD_DAYS, MockConfig
from .limits import LimitSettings
from .state import credits_text


def when_tasks_end(config: MockConfig) -> str:
    """When tasks end: a client that only waits for callbacks must know that by default
    nothing ends (nor calls back) until it is polled."""
    polls, seconds = config.polls_to_complete, config.seconds_to_complete
    after_polls = f"after {polls} status poll{'' if polls == 1 else 's'}"
    if seconds:
        made = f"{seconds:g} s after they were made"
        when = f"{after_polls} and {made}, the later" if polls else f"{made}, polled or not"
        return (
            f"tasks end {when} (mock clock: POST /_mock/clock/advance moves it), and call back then"
        )
    return (
        f"tasks end {after_polls if polls else 'when polled'}, and only then call back: for a "
        "client that only waits for callbacks, give --seconds S (tasks end S s after they were "
        "made, polled or not) or end one with POST /_mock/tasks/{task_id}/complete"
    )


def accepted_keys(config: MockConfig) -> str:
    """Which API key a client sends (``Authorization: Bearer KEY``, kie-api.md §1)."""
    if config.open_to_any_key:
        return (
            "API key: any non-empty one, as 'Authorization: Bearer KEY' (each key is an account "
            "of its own)"
        )
    count = len(set(config.api_keys or ()) | set(config.accounts))
    return (
        f"API key: only the {count} {_plural(count, 'key')} given (--key / --account; not "
        "shown), or one opened with POST /_mock/accounts; any other gets body code 401"
    )


def in_force(config: MockConfig) -> str:
    """The limits, rules and options that make this mock differ from a default one."""
    return "in force: " + "; ".join([_limits(config), _rules(config), *_options(config)])


def _limits(config: MockConfig) -> str:
    settings = LimitSettings.from_config(config)
    if settings == LimitSettings():
        return "no rate limits (--documented-limits: KIE's)"
    parts = []
    if settings.creates_per_10s is not None:
        parts.append(f"{settings.creates_per_10s} creates per 10 s per account")
    if settings.record_info_per_second is not None:
        parts.append(f"recordInfo {settings.record_info_per_second}/s per key")
    if settings.task_polls_per_second is not None:
        parts.append(f"4o/Suno record-info {settings.task_polls_per_second}/s per task")
    return "rate limits: " + ", ".join(parts)


def _rules(config: MockConfig) -> str:
    count = len(config.rules)
    return f"{count} outcome/lifecycle {_plural(count, 'rule')}" if count else "no rules"


def _options(config: MockConfig) -> list[str]:
    options = []
    if config.time_scale != 1:
        options.append(f"the mock clock runs {config.time_scale:g} times as fast as real time")
    if config.strict_models:
        options.append("unknown market models refused (--strict-models)")
    if config.market_queuing:
        options.append("market records show 'queuing'")
    if config.market_unknown_null:
        options.append("market recordInfo answers an unknown task with data: null")
    if config.upload_file_limit is not None:
        options.append(f"uploads over {config.upload_file_limit} bytes refused")
    if config.record_days != RECORD_DAYS:
        days = config.record_days
        kept = "until --task-limit" if days is None else f"{days:g} days"
        options.append(f"finished tasks' records kept {kept}")
    if config.upload_cdn_seconds:
        options.append(f"an overwritten upload's old bytes served {config.upload_cdn_seconds:g} s")
    for count, what in (
        (len(config.extra_market_models), "added market model"),
        (len(config.extra_chat_models), "added chat model"),
    ):
        if count:
            options.append(f"{count} {_plural(count, what)}")
    if config.starting_credits != MockConfig.starting_credits:
        options.append(f"{credits_text(config.starting_credits)} credits per new account")
    if config.webhook_hmac_key is not None:
        options.append("callbacks signed (HMAC)")
    if config.callback_copies > 1:
        options.append(f"each callback sent {config.callback_copies} times")
    if config.callback_tamper is not None:
        options.append(f"callbacks tampered ({config.callback_tamper})")
    return options


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


__all__ = ["accepted_keys", "in_force", "when_tasks_end"]
