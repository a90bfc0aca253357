"""The one retry loop and the one answer reader, for API calls, status polls, uploads and
downloads alike (the policy's arithmetic is pure, in :mod:`kiekit.retry`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from kiekit import observe, wire
from kiekit.errors import (
    KieError,
    ProtocolError,
    api_error,
    http_error,
)
from kiekit.retry import (
    RetryPolicy,
    Verdict,
    parse_retry_after,
)

if TYPE_CHECKING:
    import random

from kiekit._engine import request_log
from kiekit._engine.ops import NOW, Flow, HttpResponse, Sleep

T = TypeVar("T")


log = logging.getLogger("kiekit")
MIN_ATTEMPT_SECONDS = 1.0


def retrying(
    attempt: Callable[[int], Flow[T]],
    policy: RetryPolicy,
    *,
    stop: float,
    decide: Callable[[KieError], Verdict],
    what: str,
    observer: observe.Observer | None = None,
    task_id: str | None = None,
) -> Flow[T]:
    """The one retry loop, for API calls, status polls, uploads and downloads: run
    ``attempt(n)`` until it returns; after a failure ``decide`` calls curable, wait and try
    again — the server's Retry-After when its answer gave one, else the policy's jittered
    backoff — unless the attempts are used up or the wait would end past ``stop``. Then the
    failure is raised for the caller to judge (a create's may become OutcomeUnknownError).
    Each retry is logged at INFO (``-v``) with its cause, and told to ``observer``."""
    rng: random.Random | None = None
    number = 0
    while True:
        number += 1
        try:
            return (yield from attempt(number))
        except KieError as exc:
            error = exc
        if decide(error) is not Verdict.RETRY or number >= policy.attempts:
            raise error
        if error.retry_after is not None:
            delay = error.retry_after
        else:
            rng = rng or policy.randomness()
            delay = policy.backoff(number, rng)
        now: float = yield NOW
        if now + delay > stop:
            raise error
        said(what, delay, number + 1, policy.attempts, error, observer, task_id)
        yield Sleep(delay)


def said(
    what: str,
    delay: float,
    attempt: int,
    attempts: int | None,
    error: KieError,
    observer: observe.Observer | None,
    task_id: str | None = None,
    *,
    loud: bool = True,
) -> None:
    """A retry, at INFO (``-v``: what a user wants to know happened; each request is
    ``-vv``'s) with its cause, and to the observer. ``attempts`` None: a wait's polls, tried
    until its deadline. ``loud`` False: at DEBUG (a status outage's, said once)."""
    status, kie_code = request_log.codes(error)
    level = logging.INFO if loud else logging.DEBUG
    if log.isEnabledFor(level):
        of = "" if attempts is None else f" of {attempts}"
        log.log(
            level,
            "retrying %s in %.2f s (attempt %d%s) after: %s%s", what, delay, attempt, of, error,
            request_log.tags(),
            extra=request_log.fields(task_id=task_id or error.task_id, attempt=attempt,
                                     kie_code=kie_code, http_status=status,
                                     delay=round(delay, 3)),
        )  # fmt: skip
    request_log.notify(
        observer, observe.Retrying, task_id=task_id or error.task_id, what=what,
        attempt=attempt, attempts=attempts, delay=delay, error=error, kie_code=kie_code,
        http_status=status,
    )  # fmt: skip


def read_envelope(
    response: HttpResponse,
    method: str,
    path: str,
    task_id: str | None = None,
    *,
    base_url: str | None = None,
) -> tuple[Any, wire.Envelope]:
    """The one answer reader, for the API host and the upload host alike: the JSON payload
    and its envelope, or the typed error the answer stands for — carrying the answer's
    Retry-After, if it gave one, for the retry loop (and a wait's own schedule). ``base_url``:
    the host's, named in a real HTTP 404's message."""
    try:
        if response.status == 404 and base_url is not None:
            raise http_error(
                404, _no_route(response.reason, method, path, base_url), task_id=task_id
            )
        if response.status != 200:
            raise http_error(response.status, response.reason, task_id=task_id)
        try:
            payload = json.loads(response.body)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(
                f"answer to {method} {path} is not JSON",
                task_id=task_id,
                payload=response.body[:200],
            ) from exc
        envelope = wire.read_envelope(payload)
        if envelope.code != 200:  # HTTP 200 with an error code in the body (kie-api.md §1)
            raise api_error(envelope.code, envelope.msg, task_id=task_id, data=envelope.data)
    except KieError as error:
        error.retry_after = parse_retry_after(response.headers)
        raise
    return payload, envelope


def read_answer(
    response: HttpResponse,
    method: str,
    path: str,
    task_id: str | None,
    *,
    base_url: str | None = None,
) -> Any:
    """The envelope's ``data`` of one answer, or the typed error it stands for."""
    return read_envelope(response, method, path, task_id, base_url=base_url)[1].data


def _no_route(reason: str, method: str, path: str, base_url: str) -> str:
    """A real HTTP 404, in words: KIE answers its own errors with HTTP 200 and a body code
    (kie-api.md §1), so a 404 is a URL it has no route for — most often a base URL given with
    a path (``…/api/v1``), which the path of every call is then added to."""
    said = f"{reason} for {method} {base_url}{path}: no such route"
    extra = urlsplit(base_url).path.rstrip("/")
    if extra:
        host = base_url.rstrip("/")[: -len(extra)]
        said += f" (the base URL {base_url} has a path, {extra}; give the host alone: {host})"
    return said
