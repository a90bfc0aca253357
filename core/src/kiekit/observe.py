"""What a client tells an observer: small typed events to count or trace what kiekit does
(docs/observability.md has the recipes: Prometheus counters, OpenTelemetry spans).

Give a client ``observer=`` — any callable taking one :data:`Event` — and it is called, in the
flow that did the work (the caller's thread, or the event loop's task), with:

- :class:`RequestSent` / :class:`RequestEnded`: each HTTP request kiekit sends (API calls, status
  polls, uploads, result downloads, chat calls), and how it ended — its HTTP status, KIE's body
  code (KIE answers most of its errors, 429 included, with HTTP 200 and a code in the body:
  kie-api.md §1, §7), the error, the seconds it took;
- :class:`Retrying`: a request about to be sent again, and why (a status poll too);
- :class:`TaskCreated`, :class:`StateChanged`: a task made, a task's state seen changing;
- :class:`CreateUnknown`: a create that may have made a task (paid for) but said nothing
  readable back, or was cancelled in flight: the task may exist;
- :class:`Downloaded`: a result file landed.

Every :class:`RequestSent` gets exactly one :class:`RequestEnded`, a cancelled or interrupted
one too (``error`` the ``CancelledError`` / ``KeyboardInterrupt``).

Every event carries ``key`` (the journal row's key: the caller's idempotency key, or the one the
journal gave the create), ``job`` (a batch's job id) and ``model`` when known. An observer is
called synchronously and must be quick (its own time is not counted in a request's
``seconds``); one that raises is logged (``kiekit`` logger: at WARNING the first time that
observer raises in the process, then at DEBUG) and does not change what the client does.
With no observer, nothing is built.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs

__all__ = [
    "CreateUnknown",
    "Downloaded",
    "Event",
    "Observer",
    "RequestEnded",
    "RequestSent",
    "Retrying",
    "StateChanged",
    "TaskCreated",
]


@attrs.frozen(kw_only=True)
class _Named:
    """What names the work an event belongs to (any may be None)."""

    task_id: str | None = None
    model: str | None = None
    key: str | None = None
    job: str | None = None


@attrs.frozen(kw_only=True)
class RequestSent(_Named):
    """A request goes. ``path``: the API path, or a download's URL without its query (signed
    links carry their signature there)."""

    method: str
    path: str


@attrs.frozen(kw_only=True)
class RequestEnded(_Named):
    """A request ended: answered (``error`` None) or failed. ``http_status``: the answer's
    (None: no answer); ``kie_code``: the body's code when it was an error (429 comes as HTTP 200
    with ``kie_code`` 429), or, with ``error`` None, a refusal read as the task's state (Veo's
    1080P "still processing", code 400: not ready yet, kie-api.md §3.3); ``seconds``: from send
    to end (a streamed chat's: to the stream's end), on the monotonic clock. A cancelled or
    interrupted request ends too, ``error`` the CancelledError or KeyboardInterrupt."""

    method: str
    path: str
    http_status: int | None
    kie_code: int | None
    seconds: float
    error: BaseException | None = None


@attrs.frozen(kw_only=True)
class Retrying(_Named):
    """``what`` (``GET /api/v1/jobs/recordInfo``, ``a file``) is sent again in ``delay``
    seconds after ``error``; ``attempt``: the number of the try to come (a wait's polls: the
    failures in a row so far, plus one), ``attempts``: the most there may be (None: until the
    wait's deadline)."""

    what: str
    attempt: int
    attempts: int | None
    delay: float
    error: BaseException
    kie_code: int | None
    http_status: int | None


@attrs.frozen(kw_only=True)
class TaskCreated(_Named):
    """KIE made a task (``task_id``) for ``model``."""


@attrs.frozen(kw_only=True)
class CreateUnknown(_Named):
    """A create that may have made a task, paid for, with no answer that says so: its
    answer was lost or unreadable (``error`` an OutcomeUnknownError), or it was cancelled or
    interrupted once it had gone (``error`` the CancelledError or KeyboardInterrupt). kiekit
    does not send it again. ``key``: the journal row (state ``unknown``) to settle with
    ``kie settle KEY`` once the KIE dashboard (or the task's callback) has told whether the
    task exists. Logged at WARNING on ``kiekit`` too."""

    error: BaseException


@attrs.frozen(kw_only=True)
class StateChanged(_Named):
    """A poll (or a webhook's confirmed status, handed to ``finish``) saw the task in
    ``state`` (``queued``, ``running``, ``succeeded``, ``failed``), after ``previous`` (None:
    the first status this client told)."""

    state: str
    previous: str | None


@attrs.frozen(kw_only=True)
class Downloaded(_Named):
    """A result file landed at ``path`` (``size`` bytes), ``seconds`` after its first try."""

    path: Path
    size: int
    seconds: float


Event = (
    RequestSent | RequestEnded | Retrying | TaskCreated | CreateUnknown | StateChanged | Downloaded
)
Observer = Callable[[Event], object]
