"""When to send a request again, and how long to wait first: an immutable policy.

As in urllib3's ``Retry``, the policy is a value and the arithmetic is pure (backoff with full
jitter, ``Retry-After`` parsing, the verdict on an error); the engine asks and sleeps. Every
client call goes through it: ``Client(retry=RetryPolicy(...))`` tunes it, ``RetryPolicy.never()``
switches it off.

Creates are not idempotent on KIE: a create that reached KIE made a task and will be paid for,
whether or not its answer came back, and KIE has no idempotency key and no way to list tasks
(kie-api.md §4, §10 douhashi/kie-ai-cli). So a create is sent again only when the failure proves
that KIE made nothing, unless the caller opts in with ``retry_creates=True`` (accepting possible
duplicates). Otherwise the call ends in :class:`~kiekit.errors.OutcomeUnknownError`.

=================================================  ==========  =============  ==================
What happened                                      Task made?  Read (status,  Create (default)
                                                               download-url)
=================================================  ==========  =============  ==================
Connection refused, DNS failure, connect timeout,  no          retry          retry
TLS handshake failure (nothing was sent)
Reset mid-answer, read timeout, answer cut short   maybe       retry          OutcomeUnknown
Real HTTP 5xx (a proxy or gateway in front of KIE) maybe       retry          OutcomeUnknown
Real HTTP 429 (a gateway throttling)               no          retry          retry
Body code 429, 455, 550 in a well-formed envelope  no          retry          retry
Body code 500 (or an undocumented 5xx)            no [#]_     retry          raise ServerError
An answer that is not JSON or not an envelope      maybe       raise          OutcomeUnknown
An envelope with code 200 but no task id           yes         --             OutcomeUnknown
Body codes 400 401 402 404 422 433 451 501 505,    no          raise          raise
other real HTTP 4xx
=================================================  ==========  =============  ==================

.. [#] KIE's envelope says the create failed, so there is no task to lose; it is not sent again
   by default because KIE also answers some validation failures with 500 (§7, Kling 3.0), which
   a retry cannot cure. ``retry_creates=True`` retries it.

With ``retry_creates=True`` creates are retried wherever reads are (the network, proxy and body
500 rows too), within the attempts and the deadline; an unreadable answer is still not retried
(junk stays junk). If the create still fails after any attempt that may have reached KIE, the
error is still :class:`~kiekit.errors.OutcomeUnknownError`. A request the
engine does not know to be safe (``Client.call`` with a method other than GET/HEAD, such as Veo's
4K upgrade) is treated like a create.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs
from attrs import frozen

from kiekit._lazy import LazyModule
from kiekit._numbers import finite, shown
from kiekit.errors import ApiError, KieError, ProtocolError, TransportError, ValidationError

if TYPE_CHECKING:
    import random
else:  # on first retry, or when get_type_hints reads random.Random: `import kiekit` stays light
    random = LazyModule("random")

__all__ = ["DownloadPolicy", "RetryPolicy", "Verdict", "parse_retry_after", "verdict"]


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    number = finite(value)
    if number is None or number < 0:
        raise ValidationError(
            f"RetryPolicy.{attribute.name}", f"must be a finite number >= 0, got {shown(value)}"
        )


def _attempts(_instance: object, _attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            "RetryPolicy.attempts", f"must be a whole number >= 1, got {shown(value)}"
        )


@frozen
class RetryPolicy:
    """How a call is tried again after a failure that a retry can cure.

    - ``attempts``: tries in all, the first included (1: never retry).
    - ``base`` / ``cap``: the n-th retry waits a random time in ``[0, min(cap, base·2ⁿ⁻¹)]``
      ("full jitter": clients that failed together do not come back together).
    - A ``Retry-After`` header (seconds or an HTTP date) replaces that wait.
    - ``deadline``: seconds from the first try; no attempt and no wait may end past it (an
      attempt still running then is cut short; the last error is raised instead).
    - ``retry_creates``: send a create again even when the first one may have made a task
      (it may then be made, and paid for, twice). Off by default: see the module's table.
    - ``seed``: makes the jitter repeatable, for tests.
    """

    attempts: int = attrs.field(default=3, validator=_attempts)
    base: float = attrs.field(default=0.5, validator=_non_negative)
    cap: float = attrs.field(default=8.0, validator=_non_negative)
    deadline: float = attrs.field(default=60.0, validator=_non_negative)
    retry_creates: bool = False
    seed: int | None = None

    @classmethod
    def never(cls) -> RetryPolicy:
        """One try per call, as a caller with its own retry loop wants."""
        return cls(attempts=1)

    def randomness(self) -> random.Random:
        """The jitter's source for one call (seeded when ``seed`` is set)."""
        import random  # on first retry: `import kiekit` stays light

        return random.Random(self.seed)  # noqa: S311 - jitter, not cryptography

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.cap, self.base * 2 ** min(retry - 1, 60))
        return rng.uniform(0.0, ceiling)


def _positive(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    number = finite(value)
    if number is None or not number > 0:
        raise ValidationError(
            f"DownloadPolicy.{attribute.name}", f"must be a finite number > 0, got {shown(value)}"
        )


def _byte_cap(_instance: object, _attribute: object, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValidationError(
            "DownloadPolicy.max_bytes", f"must be a whole number >= 1 or None, got {value!r}"
        )


@frozen
class DownloadPolicy:
    """How long a result file may take and how big it may be.

    - ``timeout``: seconds for one file, every attempt and retry wait included (default 15
      minutes: a long 4K video over a slow line). A host trickling bytes cannot hold a
      download open past it.
    - ``max_bytes``: the largest file accepted (default 8 GiB, far above KIE's longest
      videos); a larger one, or a body that keeps coming without a length, is refused and its
      partial file removed. None: no cap.

    API answers have a cap of their own, on the transport (``max_answer_bytes``).
    """

    timeout: float = attrs.field(default=900.0, validator=_positive)
    max_bytes: int | None = attrs.field(default=8 * 2**30, validator=_byte_cap)


class Verdict(enum.Enum):
    RETRY = "retry"
    RAISE = "raise"
    UNKNOWN = "outcome unknown"  # a request that may have made a task failed


def may_have_reached_kie(error: KieError) -> bool:
    """Whether the failed request may have been received and acted on by KIE."""
    if isinstance(error, TransportError):
        return error.maybe_sent
    if isinstance(error, ProtocolError):
        return True  # something answered, but not with KIE's envelope: a proxy, or a cut body
    if isinstance(error, ApiError):
        # Real HTTP 5xx come from proxies in front of KIE (§1), which may have forwarded it;
        # a body code in KIE's own envelope is KIE's answer that the call failed.
        return error.http_status >= 500
    return False


def verdict(error: KieError, *, safe: bool, retry_creates: bool = False) -> Verdict:
    """What to do after ``error``: retry, raise it, or raise OutcomeUnknownError.

    ``safe`` says the request changes nothing on KIE (a status poll, a download link), so
    sending it twice costs nothing.
    """
    if safe:
        return Verdict.RETRY if error.retryable else Verdict.RAISE
    reached = may_have_reached_kie(error)
    if retry_creates:
        if error.retryable:
            return Verdict.RETRY
        return Verdict.UNKNOWN if reached else Verdict.RAISE
    if reached:
        return Verdict.UNKNOWN
    if (
        isinstance(error, ApiError)
        and error.http_status == 200
        and error.code
        not in (
            429,
            455,
            550,
        )
    ):
        return Verdict.RAISE  # KIE's envelope: only "not now" codes are worth a second create
    return Verdict.RETRY if error.retryable else Verdict.RAISE


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait, or None (absent or unreadable).

    RFC 9110 §10.2.3 allows delay-seconds or an HTTP date. A date is measured against the
    answer's own ``Date`` header when it has one (so the two clocks need not agree), else
    against ``now`` (Unix time; the wall clock when not given).
    """
    value = _header(headers, "retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    when = _http_date(value)
    if when is None:
        return None
    sent = _http_date(_header(headers, "date") or "")
    reference = sent if sent is not None else (time.time() if now is None else now)
    return max(0.0, when - reference)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _http_date(value: str) -> float | None:
    from email.utils import parsedate_to_datetime

    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return parsed.timestamp()
