"""Everything the two clients do that is not I/O, written once as generators ("sans-I/O").

Each of :class:`Engine`'s flows yields operations (:mod:`kiekit._engine.ops`) and receives
their outcomes: KIE's calls under the rate limiter and the retry loop, the create, the status,
the wait with its schedule and deadline, the download of every result file. ``Client`` drives
the flows with urllib3 and ``time.sleep``, ``AsyncClient`` with aiohttp and ``asyncio.sleep``;
tests drive them with no sockets.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import secrets
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import urlencode, urlsplit

import attrs

from kiekit._engine import request_log
from kiekit._engine.outage import Outage
from kiekit._paths import loggable, recorded
from kiekit._redact import Hidden, printable
from kiekit.errors import (
    DATA_NULL,
    ConfigurationError,
    DownloadError,
    FileWriteError,
    KieError,
    OutcomeUnknownError,
    PluginHookError,
    ProtocolError,
    RateLimitedError,
    RateLimitStoreError,
    TaskFailedError,
    TaskNotFoundError,
    ValidationError,
    WaitTimeoutError,
    task_not_found,
)
from kiekit.fields import Input, check_callback_url, check_utf8, is_http_url
from kiekit.models import Asset, Request, Results, State, Task, TaskStatus
from kiekit.observe import Downloaded, Observer, StateChanged, TaskCreated
from kiekit.polling import PollPolicy
from kiekit.provider import Provider
from kiekit.ratelimit import Rate, RateLimiter
from kiekit.registry import Registry
from kiekit.retry import (
    DownloadPolicy,
    RetryPolicy,
    Verdict,
    may_have_reached_kie,
    verdict,
)

if TYPE_CHECKING:
    from kiekit.shared_limits import SharedRateLimiter

from kiekit._engine.file_policy import EXPIRED_LINK_STATUSES, file_name
from kiekit._engine.hooks import call_hook
from kiekit._engine.ops import (
    NOW,
    Fetch,
    Flow,
    HttpRequest,
    HttpResponse,
    Reserve,
    Sleep,
    unsent,
)
from kiekit._engine.retrying import MIN_ATTEMPT_SECONDS, read_answer, retrying, said

T = TypeVar("T")


def account_of(api_key: str) -> str:
    """An account's name in shared limits and journals: a hash of its key, never the key."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:32]


class SendState:
    """Whether a create may have reached KIE so far: set just before each attempt is handed
    to the network, cleared again when its failure proves KIE made nothing, or when the
    cancellation (or Ctrl-C) that stopped it came before a byte was written (the transport
    says so: :func:`~kiekit._engine.ops.mark_unsent`). A create that ends otherwise
    (cancelled, interrupted) is journaled by it: never sent, nothing to fear."""

    maybe_sent = False
    # Journal writes for a create KIE refused in words proving it made nothing, while it waits
    # to be sent again: ``park(error)`` before the wait, ``unpark()`` before the next attempt
    # (kiekit._engine.session sets them when there is a journal row)
    park: Callable[[BaseException], Flow[None]] | None = None
    unpark: Callable[[], Flow[None]] | None = None
    parked = False


class AwaitingWindow(Exception):
    """What a create's parked journal row says while it waits for the rate limit's window
    (kiekit.ratelimit: KIE counts the creates that arrived, kie-api.md §8)."""

    def __init__(self) -> None:
        super().__init__("waiting for the rate limit's window of creates: nothing sent yet")


StatusHook = Callable[[TaskStatus], None]
_NOT_PLAIN = (
    "on_status must be a plain function: the wait calls it between polls and awaits nothing, "
    "so a coroutine's body would never run"
)


def _plain_hook(hook: StatusHook | None) -> None:
    """TypeError for an ``async def`` hook, before the first poll (it would be called, and
    its coroutine dropped: a progress display that silently never moves)."""
    if hook is not None and inspect.iscoroutinefunction(hook):
        raise TypeError(_NOT_PLAIN)


def _heard(answer: object) -> None:
    """TypeError for a hook that returned an awaitable (a lambda around an async function)."""
    if inspect.isawaitable(answer):
        if inspect.iscoroutine(answer):
            answer.close()  # no "never awaited" warning besides the error
        raise TypeError(_NOT_PLAIN)


DOWNLOAD_URL_PATH = "/api/v1/common/download-url"
# KIE's create window (kie-api.md §8): a create refused with 429 and no Retry-After header waits
# it out before it is sent again (it made nothing, so it is safe to resend); the limiter's own
# window when it has one.
KIE_CREATE_WINDOW = 10.0
# Pauses before a create asks the shared limits' Redis again during an outage: about a minute in
# all, as the PostgreSQL journal's reads wait (batch.JOURNAL_RETRY_DELAYS)
SHARED_LIMITS_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


@attrs.frozen
class _Slot:
    """What a request books in the rate limiter: a create (``task_id`` None) or a status poll
    of ``task_id`` (``per_task``: its family's own per-task limit)."""

    task_id: str | None = None
    per_task: Rate | None = None


_CREATE = _Slot()


class _NoSlot(Exception):
    """The rate limiter has no slot before the caller's deadline (caught by ``wait``)."""


@attrs.define
class Booking:
    """A rate-limit slot booked and not yet used: ``wait`` seconds from when it was booked,
    ``at`` on the in-process limiter's clock, ``member`` its name in the shared limits. Its
    request marks it ``used`` as it is handed to the network; one that never goes (cancelled
    while it waits, or given up) is given back (:meth:`Engine.give_back`), so that the
    requests booked after it are not held up by a slot nobody uses."""

    slot: _Slot
    wait: float
    at: float = 0.0
    member: str = ""
    used: bool = False


log = logging.getLogger("kiekit")


class Engine:
    """The shared logic of a client session: its key, base URL, registry, poll and retry
    policies, and rate limiter (None: no client-side limits)."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        registry: Registry,
        poll: PollPolicy,
        user_agent: str,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | SharedRateLimiter | None = None,
        downloads: DownloadPolicy | None = None,
        observer: Observer | None = None,
    ) -> None:
        # The key as it may come back in an answer (a proxy echoing the credential it refused,
        # in any case or percent-encoded, or its Basic credential): blanked before any answer
        # becomes an error, a log record or a journal row
        self._hidden = Hidden(api_key)
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }
        self.base_url = base_url.rstrip("/")
        # The same key opens KIE's other hosts (the upload host, kie-api.md §1): its bearer
        # header and our User-Agent, without the JSON content type (an upload may be multipart)
        self.auth_headers: Mapping[str, str] = {
            k: v for k, v in self._headers.items() if k in ("Authorization", "User-Agent")
        }
        self.registry = registry
        self.poll = poll
        self.retry = retry or RetryPolicy.never()
        self.limiter = limiter
        self.account = account_of(api_key)
        self.downloads = downloads or DownloadPolicy()
        self.observer = observer  # kiekit.observe: told of each request, retry, state, file
        self.outage = Outage()  # the waits whose status polls keep failing: said once
        # each task's state last told to the observer (StateChanged): a wait's polls and a
        # webhook's confirmed end (finish) make one chain, each change told once
        self._states: dict[str, State] = {}

    def scrubbed(self, response: HttpResponse) -> HttpResponse:
        """``response`` with this client's API key blanked out of its body and reason, should a
        server or proxy echo it (the key never appears in an error, log or journal row)."""
        body = self._hidden.bytes(response.body)
        reason = self._hidden.text(response.reason)
        if body is response.body and reason is response.reason:
            return response  # the common case: nothing copied
        return HttpResponse(response.status, body, reason, response.headers)

    def scrub(self, chunk: bytes) -> bytes:
        """Bytes of an answer with the API key blanked out (see :meth:`scrubbed`)."""
        return self._hidden.bytes(chunk)

    def scrub_text(self, text: str) -> str:
        """Text of an answer (a streamed event's data) with the API key blanked out (the same
        object when it has none)."""
        return self._hidden.text(text)

    # -- one call ---------------------------------------------------------------------------

    def call(
        self, request: Request, *, task_id: str | None = None, safe: bool | None = None
    ) -> Flow[Any]:
        """Send one KIE call; return the envelope's ``data`` or raise the body code's error.

        ``safe`` (default: GET and HEAD are) says the call changes nothing on KIE, so it may
        be sent again after any curable failure; other calls are retried as creates are
        (see :mod:`kiekit.retry`) and count against the rate limiter's creates (Veo's 4K
        upgrade, for one, starts paid work).
        """
        if safe is None:
            safe = request.method.upper() in ("GET", "HEAD")
        limit = None if safe else _CREATE
        return (yield from self._exchange(request, task_id=task_id, safe=safe, limit=limit))

    def _http(self, request: Request, task_id: str | None) -> HttpRequest:
        url = self.base_url + request.path
        if request.query:
            url += "?" + urlencode(request.query)
        try:  # strict JSON: NaN or infinity would reach KIE as invalid JSON
            body = None if request.body is None else json.dumps(request.body, allow_nan=False)
        except ValueError as exc:
            raise ValidationError("input", f"holds a value JSON cannot carry: {exc}") from exc
        return HttpRequest(
            request.method,
            url,
            self._headers,
            None if body is None else body.encode(),
            task_id=task_id,
        )

    def _exchange(
        self,
        request: Request,
        *,
        task_id: str | None = None,
        safe: bool,
        model: str | None = None,
        limit: _Slot | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | None = None,
        sending: SendState | None = None,
        booked: Booking | None = None,
        http: HttpRequest | None = None,
        reads: Callable[[KieError], object] | None = None,
    ) -> Flow[Any]:
        """Send ``request`` under the rate limiter and the retry policy. ``deadline``: a
        monotonic time no attempt and no retry wait may pass (e.g. the end of a wait; else
        the retry policy's); ``sending`` follows whether a create may have reached KIE;
        ``booked``: the first attempt's rate-limit slot, booked by the caller; ``http``:
        ``request`` already made into its HTTP form (a wait's polls build it once)."""
        if http is None:
            http = self._http(request, task_id)
        policy = retry or self.retry
        started: float = yield NOW
        stop = (
            started + policy.deadline
            if deadline is None
            else min(deadline, started + policy.deadline)
        )
        reached = False  # some attempt of an unsafe call may have reached KIE

        def attempt(number: int) -> Flow[Any]:
            limiter = self.limiter
            fresh = number == 1  # nothing yielded since `started` was read: it is the send time
            booking = booked if number == 1 else None  # the caller's is waited for already
            wait = 0.0
            if booking is None and limit is not None and limiter is not None:
                # a poll's slot no later than its wait's deadline, if any. A create waits for
                # its slot, however late: a burst is paced, not refused (the caller's own
                # timeout bounds it, and a create cancelled gives its slot back)
                latest = None if limit.task_id is None else deadline
                if type(limiter) is RateLimiter:  # in place, the common case: no extra flow
                    booking = self._book_here(limiter, limit, (yield NOW), latest)
                else:
                    booking = yield from self._book(limit, latest)
                wait, fresh = booking.wait, False
            try:
                if wait > 0:
                    yield Sleep(wait)
                if sending is not None and sending.parked:  # its row said nothing sent: not so now
                    assert sending.unpark is not None
                    yield from sending.unpark()
                    sending.parked = False
                    fresh = False
                return (yield from send(booking, fresh))
            except BaseException as exc:
                if booking is not None and not booking.used:  # it never went: its slot is free
                    yield from self.give_back(booking, exc)
                raise

        def send(booking: Booking | None, fresh: bool) -> Flow[Any]:
            nonlocal reached
            limiter = self.limiter
            observer = self.observer
            debugging = request_log.timing(observer)
            # A create or a status poll is admitted just before it goes (kiekit.ratelimit: KIE
            # counts arrivals, and a send later than its slot shrinks the gap to the next
            # window's) and reported answered after; nothing is yielded between admission and
            # send but the journal write of a row parked while it waited (hold). Each attempt
            # ends by the deadline, with a moment at least (a wait's last poll comes at its
            # deadline, and a slow rate-limit slot may have used the time up).
            local = _Admission.of(limiter, limit) if isinstance(limiter, RateLimiter) else None
            shared = self._admission(limit) if local is None else None
            held = False  # its journal row parked while it waits for the window (hold)

            def hold() -> Flow[None]:
                # A create that waits for the window after its intent row was written: the
                # row says nothing was sent meanwhile (rejected, as after a 429), so a kill
                # during the wait leaves a job free to send again, not one of unknown outcome
                nonlocal held
                if sending is not None and sending.park is not None and not sending.parked:
                    yield from sending.park(AwaitingWindow())
                    sending.parked = held = True

            if local is not None:
                while (wait := local.admit(sent_at := (yield NOW))) > 0:
                    yield from hold()
                    yield Sleep(wait)
            elif shared is not None:
                sent_at = yield from shared.admit(stop, hold)
            else:
                sent_at = started if fresh else (yield NOW)
            if held:  # admitted (counted in flight): the row says sending again, then it goes
                assert sending is not None
                assert sending.unpark is not None
                try:
                    yield from sending.unpark()
                except BaseException:  # not sent after all (taken over): out of the window
                    if local is not None:
                        local.answered((yield NOW))
                    elif shared is not None:
                        yield shared.answered
                    raise
                sending.parked = False
            left = max(stop - sent_at, MIN_ATTEMPT_SECONDS)
            if sending is not None:
                sending.maybe_sent = True
            if booking is not None:
                booking.used = True
            began = sent_at  # what its time is counted from
            if debugging:  # said as it goes: after the rate limiter's wait, as KIE sees it
                request_log.sent(request.method, request.path, task_id, model=model,
                                 observer=observer)  # fmt: skip
                if observer is not None:  # the observer's own time is not the request's
                    began = yield NOW
            try:
                try:
                    response = yield http.within(left)
                except GeneratorExit:  # dropped: no clock to ask; count it a whole attempt long
                    if local is not None:
                        local.answered(sent_at + left)
                    raise
                except BaseException as exc:
                    if sending is not None and unsent(exc):  # stopped before a byte was written
                        sending.maybe_sent = reached
                    if local is not None:
                        local.answered((yield NOW))
                    elif shared is not None:
                        yield shared.answered
                    if isinstance(exc, UnicodeEncodeError):
                        raise _unsendable(request) from None  # its text would hold the header
                    raise
                if local is not None:
                    local.answered((yield NOW))
                elif shared is not None:
                    yield shared.answered
                answer = read_answer(self.scrubbed(response), request.method, request.path,
                                     task_id, base_url=self.base_url)  # fmt: skip
                if debugging:
                    took = (yield NOW) - began
                    request_log.answered(request.method, request.path, response.status, took,
                                         task_id, model=model, observer=observer)  # fmt: skip
                return answer
            except KieError as exc:
                took = ((yield NOW) - began) if debugging else None
                if took is not None and reads is not None and reads(exc) is not None:
                    # a refusal that is the task's state (Veo's 1080P "still processing",
                    # kie-api.md §3.3): an answer, not a failure, for a metric of errors
                    request_log.answered(request.method, request.path, 200, took, task_id,
                                         model=model, kie_code=request_log.codes(exc)[1],
                                         observer=observer)  # fmt: skip
                else:
                    request_log.failed(request.method, request.path, exc, took, task_id,
                                       model=model, observer=observer)  # fmt: skip
                reached = reached or (not safe and may_have_reached_kie(exc))
                # A 429 without a Retry-After header waits the window of the limit it broke;
                # with one (KIE's, or a proxy's), what it asks: the server knows when its
                # budget frees, and the retry loop still bounds it by the policy's deadline (a
                # longer wait raises the 429, which made nothing: kie-api.md §7, §8)
                refused = isinstance(exc, RateLimitedError) and exc.retry_after is None
                if refused and limit is not None:
                    exc.retry_after = self._window(limit)
                if sending is not None:
                    sending.maybe_sent = reached
                    if not reached and sending.park is not None and exc.retryable:
                        # it may be sent again after a wait: a crash meanwhile must leave a row
                        # that says nothing was made (kie-api.md §7: 429, 455, 550 make nothing)
                        yield from sending.park(exc)
                        sending.parked = True
                raise
            except GeneratorExit as exc:  # dropped: nothing may be yielded, the clock neither
                if debugging:
                    request_log.failed(request.method, request.path, exc, None, task_id,
                                       model=model, observer=observer)  # fmt: skip
                raise
            except BaseException as exc:  # cancelled, interrupted (Ctrl-C), a bug: ended too
                if debugging:
                    request_log.failed(request.method, request.path, exc, (yield NOW) - began,
                                       task_id, model=model, observer=observer)  # fmt: skip
                raise

        def decide(error: KieError) -> Verdict:
            return verdict(error, safe=safe, retry_creates=policy.retry_creates)

        try:
            if policy.attempts == 1:  # a wait's polls: one attempt, no retry loop around it
                return (yield from attempt(1))
            what = f"{request.method} {request.path}"
            return (
                yield from retrying(
                    attempt, policy, stop=stop, decide=decide, what=what,
                    observer=self.observer, task_id=task_id,
                )
            )  # fmt: skip
        except KieError as error:
            if reached or decide(error) is Verdict.UNKNOWN:
                raise OutcomeUnknownError(model=model, request=request, cause=error) from error
            raise

    # -- the task lifecycle -----------------------------------------------------------------

    def prepare(
        self, model: str, params: Input | Mapping[str, Any] | None, fields: Mapping[str, Any]
    ) -> Input:
        """Validate input before any I/O: a ValidationError names the field."""
        return self.registry.provider(model, creating=True).make_input(model, params, **fields)

    def create_request(
        self, model: str, params: Input, *, callback_url: str | None = None
    ) -> Request:
        """The create request for checked input: built once, journaled, then sent."""
        check_callback_url(callback_url)  # KIE's 422 for it comes after the create is sent
        provider = self.registry.provider(model)
        request: Request = call_hook(
            self.registry, provider, "build_request", model, params, model=model,
            callback_url=callback_url,
        )  # fmt: skip
        check_utf8("", request.body)  # a plugin's own field, named by its wire place
        parent = call_hook(self.registry, provider, "parent_task_id", model, params, model=model)
        if parent is not None and request.parent_task_id is None:
            request = attrs.evolve(request, parent_task_id=parent)
        return request

    def create_slot(self) -> Flow[Booking | None]:
        """Wait for a create's rate-limit slot (books it; None: no limiter). The clients take
        it before the journal's intent row is written, so a create cancelled while it waits
        for its slot is never recorded as one that may have made a task; the caller gives it
        back (:meth:`give_back`) unless it hands it to :meth:`submit`, which uses it. However
        late the slot, it is waited for: a burst of creates is paced, not refused."""
        if self.limiter is None:
            return None
        booking = yield from self._book(_CREATE, None)
        try:
            if booking.wait > 0:
                yield Sleep(booking.wait)
        except BaseException as exc:
            yield from self.give_back(booking, exc)
            raise
        return booking

    def _book(self, slot: _Slot, latest: float | None) -> Flow[Booking]:
        """Book ``slot`` no later than ``latest``, if given (a poll's: _NoSlot when ``latest``
        comes first; a create's has none). The in-process limiter is asked in place; the
        shared one is I/O, a :class:`Reserve` op for the driver."""
        limiter = self.limiter
        now: float = yield NOW
        if isinstance(limiter, RateLimiter):
            return self._book_here(limiter, slot, now, latest)
        assert limiter is not None
        within = None if latest is None else latest - now
        member = secrets.token_hex(8)
        op = Reserve(limiter, self.account, slot.task_id, slot.per_task, within, member=member)
        waiting: float | None = yield from _through_outages(op)
        if waiting is None:
            raise _NoSlot  # only a poll's booking has a latest
        return Booking(slot, waiting, member=member)

    @staticmethod
    def _book_here(limiter: RateLimiter, slot: _Slot, now: float, latest: float | None) -> Booking:
        if latest is not None:
            # A wait's last poll comes at its deadline, and its sleep there ends a little
            # after it on a real clock: a slot free now is still its one check (else a
            # timeout shorter than the first poll's delay gave up unasked). The shared
            # limiter's ``within`` is clamped to 0 so too (kiekit.shared_limits).
            latest = max(latest, now)
        if slot.task_id is None:
            at = limiter.book_create(now, latest=latest)
        else:
            at = limiter.book_status(now, slot.task_id, slot.per_task, latest=latest)
        if at is None:
            raise _NoSlot  # only a poll's booking has a latest
        return Booking(slot, at - now, at=at)

    def give_back(self, booking: Booking | None, cause: BaseException | None = None) -> Flow[None]:
        """Give a slot that was never used back to the limiter (once), so the requests booked
        after it do not wait for it. ``cause``: why; a flow being closed (GeneratorExit) may
        yield nothing, so a shared slot then lapses by itself (a window after its moment)."""
        if booking is None or booking.used:
            return
        booking.used = True  # given back: not twice
        limiter, slot = self.limiter, booking.slot
        if isinstance(limiter, RateLimiter):
            if slot.task_id is None:
                limiter.give_back_create(booking.at)
            else:
                limiter.give_back_status(booking.at, slot.task_id, slot.per_task)
        elif limiter is not None and not isinstance(cause, GeneratorExit):
            yield Reserve(limiter, self.account, slot.task_id, slot.per_task,
                          action="release", member=booking.member)  # fmt: skip

    def _admission(self, limit: _Slot | None) -> _SharedAdmission | None:
        limiter = self.limiter
        if limit is None or limiter is None or isinstance(limiter, RateLimiter):
            return None
        op = Reserve(limiter, self.account, limit.task_id, member=secrets.token_hex(8))
        return _SharedAdmission(op)

    def _window(self, slot: _Slot) -> float:
        """How long a request refused with 429 and no Retry-After header waits before it is
        sent again: the window of the limit it broke (kie-api.md §8), plus the limiter's
        margin."""
        limits = getattr(self.limiter, "limits", None)
        if slot.task_id is None:
            rate = limits.creates if limits is not None else None
            window = rate.per if rate is not None else KIE_CREATE_WINDOW
        else:
            rates = [limits.status if limits is not None else None, slot.per_task]
            window = max((rate.per for rate in rates if rate is not None), default=1.0)
        return window + (limits.margin if limits is not None else 0.0)

    def submit(
        self,
        model: str,
        request: Request,
        *,
        sending: SendState | None = None,
        booked: Booking | None = None,
    ) -> Flow[Task]:
        """Create a task. Never sent twice when the first may have made a task, unless the
        retry policy says ``retry_creates`` (kiekit.retry has the table). ``booked``: the
        first attempt's slot, booked (and waited for) with :meth:`create_slot`."""
        provider = self.registry.provider(model)
        data = yield from self._exchange(
            request,
            safe=False,
            model=model,
            limit=_CREATE,
            sending=sending,
            booked=booked,
        )
        try:
            task_id = call_hook(self.registry, provider, "parse_created", data, model=model)
        except ProtocolError as exc:  # code 200: KIE made a task, but its id is unreadable
            raise OutcomeUnknownError(model=model, request=request, cause=exc) from exc
        created_at: float = yield NOW
        if log.isEnabledFor(logging.INFO):  # its names are not gathered for nothing
            log.info(
                "created task %s (%s)%s", task_id, model, request_log.tags(),
                extra=request_log.fields(task_id=task_id, model=model),
            )  # fmt: skip
        request_log.notify(self.observer, TaskCreated, task_id=task_id, model=model)
        return Task(id=task_id, model=model, created_at=created_at)

    def status(
        self, task: Task, *, deadline: float | None = None, retry: RetryPolicy | None = None
    ) -> Flow[TaskStatus]:
        poll = _Poll(self, task, self.registry.provider(task.model))
        try:
            return (yield from self._read(poll, deadline, retry))
        except KieError as exc:
            _raise_as_no_task(exc, task.id)

    def _read(
        self, poll: _Poll, deadline: float | None, retry: RetryPolicy | None
    ) -> Flow[TaskStatus]:
        """One poll's status. A refusal the provider reads as a status (Veo's 1080P "still
        processing", body code 400: Provider.status_of_refusal) is that status."""
        try:
            data = yield from self._ask(poll, deadline, retry)
        except KieError as exc:
            told = poll.refusal(exc)
            if told is None:
                raise
            return told
        return poll.status(data)

    def _ask(self, poll: _Poll, deadline: float | None, retry: RetryPolicy | None) -> Flow[Any]:
        # returns the exchange's flow itself: a poll's ops pass through no extra generator
        return self._exchange(
            poll.request,
            task_id=poll.task_id,
            safe=True,
            limit=poll.slot,
            deadline=deadline,
            retry=retry,
            http=poll.http,
            reads=poll.refusal,  # a refusal that says a state is no failure in the lines
        )

    def download_url(self, url: str, *, task_id: str | None = None) -> Flow[str]:
        """A fresh direct link for a KIE-made file URL, valid 20 minutes
        (``POST /api/v1/common/download-url``, kie-api.md §4). A URL KIE did not make is
        refused with code 422 "url is wrong" (UnprocessableError). Safe to send again."""
        if not is_http_url(url):
            raise ValidationError("url", f"must be an http(s) URL, got {url!r}")
        request = Request("POST", DOWNLOAD_URL_PATH, body={"url": url})
        data = yield from self._exchange(request, task_id=task_id, safe=True)
        if isinstance(data, dict):  # liberal: one doc sketch wraps it as {downloadUrl} (§3.1)
            data = data.get("downloadUrl", data.get("url"))
        if not isinstance(data, str) or urlsplit(data).scheme not in ("http", "https"):
            raise ProtocolError(
                "download-url answered no http(s) URL", task_id=task_id, payload=data
            )
        return data

    def wait(
        self,
        task: Task,
        *,
        policy: PollPolicy | None = None,
        on_status: StatusHook | None = None,
    ) -> Flow[Results]:
        """Poll until the task finishes or the policy's deadline passes.

        A failed task raises TaskFailedError at once. Errors that a retry can cure (network
        faults, 429, 455, 5xx) do not end the wait: a status poll creates nothing and costs
        nothing, so it is tried again on the same schedule until the deadline (later, if the
        answer's Retry-After asks for more). The wait is its own retry loop: each poll is sent
        once, whatever the client's retry policy.
        """
        _plain_hook(on_status)
        policy = policy or self.poll
        provider = self.registry.provider(task.model)
        started: float = yield NOW
        # The schedule runs from the task's creation when this client made it: the first poll
        # waits until the task could be done, and a wait begun later polls at once.
        origin = started if task.created_at is None else min(task.created_at, started)
        first = origin + policy.first_poll - started if task.created_at is not None else 0.0
        if first > 0:
            yield Sleep(min(first, policy.timeout))
        token = object()  # this wait, in the client's outage (one task may have two waits)
        try:
            return (yield from self._polling(task, policy, provider, on_status, started, token))
        finally:
            if self.outage.under_way:  # ended (or dropped) inside an outage: out of it
                self.outage.left(token, None, answered=False)

    def _polling(
        self,
        task: Task,
        policy: PollPolicy,
        provider: Provider,
        on_status: StatusHook | None,
        started: float,
        token: object,
    ) -> Flow[Results]:
        deadline = started + policy.timeout
        origin = started if task.created_at is None else min(task.created_at, started)
        last: TaskStatus | None = None
        poll: _Poll | None = None
        malformed = 0  # unreadable answers in a row
        unreadable: KieError | None = None  # the last poll's, if it was
        failing: KieError | None = None  # the last poll's curable error, until one answers
        failures = 0  # curable poll failures in a row
        while True:
            asked: float | None = None
            try:
                if poll is None:  # made once, in here: a provider's error is a poll's
                    poll = _Poll(self, task, provider)
                last = yield from self._read(poll, deadline, _ONCE)
            except _NoSlot:  # the rate limiter allows no poll before the deadline
                now = yield NOW
                if deadline > now:
                    yield Sleep(deadline - now)
                raise WaitTimeoutError(
                    task.id,
                    deadline - started,
                    last.state.value if last else None,
                    last_error=failing,
                    timeout=policy.timeout,
                    stage=last.stage if last else None,
                    ready=last.ready if last else None,
                ) from None
            except (ProtocolError, TaskNotFoundError) as exc:  # poll.status's: may_pass
                # One answer cut short or garbled by a proxy is a network fault, not the end of
                # the wait, and so is a record not there yet (data null, §2.2). A shape that
                # stays unreadable is a real disagreement, and raised.
                malformed, unreadable = malformed + 1, exc
                if malformed >= MALFORMED_STATUS_TRIES or isinstance(exc, PluginHookError):
                    raise
                log.debug(
                    "status answer unreadable (%d in a row), polling again: %s", malformed, exc,
                    extra=request_log.fields(task_id=task.id),
                )  # fmt: skip
            except KieError as exc:
                if not exc.retryable:
                    _raise_as_no_task(exc, task.id)
                asked = exc.retry_after
                failing, failures = exc, failures + 1
                if failures == 2:  # an outage, not a blip: said once per client, not per wait
                    self.outage.failing(token, task.id, exc, (yield NOW))
            else:
                if failures >= 2:
                    self.outage.left(token, (yield NOW), answered=True)
                malformed, unreadable, failing, failures = 0, None, None, 0
                if self.observer is not None:
                    self._state_seen(task, last.state)
                if on_status is not None:
                    _heard(on_status(last))
                if last.state.finished:
                    return _ended(self.registry, task, provider, last)
            now = yield NOW
            elapsed = now - started
            remaining = policy.timeout - elapsed
            if remaining <= 0:
                if unreadable is not None:  # says more than "gave up waiting"
                    raise unreadable
                raise WaitTimeoutError(
                    task.id,
                    elapsed,
                    last.state.value if last else None,
                    last_error=failing,
                    timeout=policy.timeout,
                    stage=last.stage if last else None,
                    ready=last.ready if last else None,
                )
            pause = min(max(policy.interval(now - origin), asked or 0.0), remaining)
            if failing is not None and failures > 0:
                # -v says a poll's retry and its cause, as any other's; in an outage (failing
                # in a row, here or in another wait of this client) its warning says them once
                said(
                    "a status poll" if poll is None else poll.what, pause, failures + 1, None,
                    failing, self.observer, task.id,
                    loud=failures == 1 and not self.outage.under_way,
                )  # fmt: skip
            if pause > 0:
                yield Sleep(pause)

    def finish(self, task: Task, status: TaskStatus) -> Flow[Results]:
        """A wait's end from a final status already in hand (a webhook receiver's confirmed
        one): the results, or TaskFailedError, as :meth:`wait` ends; nothing is sent."""
        if status.task_id != task.id:
            raise ValidationError("status", f"is task {status.task_id}'s, not {task.id}'s")
        if not status.state.finished:
            raise ValidationError(
                "status", f"task {task.id} is {status.state.value}: wait() polls until it ends"
            )
        return self._ended(task, status)  # checked above, before the flow (and its journal) starts

    def _state_seen(self, task: Task, state: State) -> None:
        """Tell the observer of ``task``'s ``state`` (StateChanged) if it is not the one
        last told: a poll's, or a final status handed to :meth:`finish` (a webhook
        receiver's confirmed end, which ends a wait no poll of which saw it)."""
        states = self._states
        previous = states.get(task.id)
        if previous is state:
            return
        if len(states) >= 10_000:  # a long-lived client's: start again
            states.clear()
        states[task.id] = state
        request_log.notify(
            self.observer, StateChanged, task_id=task.id, model=task.model, state=state.value,
            previous=None if previous is None else previous.value,
        )  # fmt: skip

    def _ended(self, task: Task, status: TaskStatus) -> Flow[Results]:
        yield from ()  # a flow with no I/O: the drivers run it as any other
        if self.observer is not None:
            self._state_seen(task, status.state)
        return _ended(self.registry, task, self.registry.provider(task.model), status)

    def download(
        self,
        results: Results,
        out_dir: Path,
        *,
        landed: list[Path] | None = None,
        kept: Collection[str] = (),
    ) -> Flow[list[Path]]:
        """Fetch every result file into ``out_dir``; names come from the task id, never from
        the URL's path, so no URL can write outside the folder.

        Each file is streamed to a temporary file beside its final name and renamed only once
        complete and plausible (the promised size; an end its format says is whole,
        kiekit._engine.file_ends; not an HTML/XML error page where a media file belongs),
        within the download policy's time and size bounds. Curable failures are retried under
        the retry policy; an expired link (HTTP 403/404/410) is renewed once
        through download-url. What still fails raises DownloadError naming the task and the
        URL (FileWriteError, naming the path, when this machine cannot write the file): a
        paid-for file is never skipped quietly.

        ``landed`` gets each path as its file lands (what an interrupted download had
        written); a file named in ``kept`` (an earlier download of this task into this folder,
        as the journal recorded it) and still on disk is not fetched again.
        """
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except (OSError, ValueError) as exc:  # ValueError: a name the file system cannot take
            raise FileWriteError.of(exc, out_dir, task_id=results.task_id) from exc
        paths = [] if landed is None else landed
        for index, item in enumerate(results.assets):
            destination = out_dir / file_name(results.file_stem or results.task_id, index, item)
            if kept and recorded(destination) in kept and destination.is_file():
                paths.append(destination)  # written whole before (files land atomically)
                continue
            path = yield from self._fetch_asset(item, destination, results.task_id)
            log.info(
                "task %s: downloaded %s%s", results.task_id, loggable(path), request_log.tags(),
                extra=request_log.fields(task_id=results.task_id, path=loggable(path)),
            )  # fmt: skip
            paths.append(path)
        return list(paths)

    def _fetch_asset(self, item: Asset, destination: Path, task_id: str) -> Flow[Path]:
        def fetch(url: str) -> Fetch:
            return Fetch(url, destination, task_id, kind=item.kind, media_type=item.media_type)

        try:
            return (yield from self._fetch(fetch(item.url)))
        except DownloadError as exc:
            if exc.http_status not in EXPIRED_LINK_STATUSES:
                raise
            expired = exc
        log.debug(
            "result link answered HTTP %s; asking KIE for a fresh one", expired.http_status,
            extra=request_log.fields(task_id=task_id, http_status=expired.http_status),
        )  # fmt: skip
        try:
            fresh = yield from self.download_url(item.url, task_id=task_id)
            return (yield from self._fetch(fetch(fresh)))
        except KieError as exc:
            raise DownloadError(
                f"link answered HTTP {expired.http_status} (expired?) and renewing it through "
                f"download-url failed: {exc.message}",
                url=item.url,
                task_id=task_id,
                http_status=expired.http_status,
                path=destination,
            ) from exc

    def _fetch(self, job: Fetch) -> Flow[Path]:
        """One file, retried after network faults, 429 and 5xx from the file host (after its
        Retry-After when it gives one), all of it within the download policy's ``timeout``
        (and retry waits within the retry policy's deadline too)."""
        policy, bounds = self.retry, self.downloads
        started: float = yield NOW
        stop = started + bounds.timeout

        observer = self.observer
        shown = request_log.without_query(job.url)  # a signed link's signature stays out

        observed = [0.0]  # the seconds the observer took: neither a request's nor the file's

        def attempt(_number: int) -> Flow[Path]:
            now: float = yield NOW
            request_log.sent("GET", shown, job.task_id, observer=observer)  # -vv, as any call
            if observer is not None:
                said_at, now = now, (yield NOW)
                observed[0] += now - said_at
            try:
                path: Path = yield attrs.evolve(
                    job, timeout=max(stop - now, 0.0), max_bytes=bounds.max_bytes
                )
            except GeneratorExit as exc:  # dropped: nothing may be yielded, the clock neither
                request_log.failed("GET", shown, exc, None, job.task_id, observer=observer)
                raise
            except BaseException as exc:  # refused, cut, cancelled, interrupted: ended too
                timed = request_log.timing(observer)
                ended = (yield NOW) if timed else None
                took = None if ended is None else ended - now
                request_log.failed("GET", shown, exc, took, job.task_id, observer=observer)
                if observer is not None and ended is not None:
                    observed[0] += (yield NOW) - ended
                raise
            if request_log.timing(observer):
                ended = yield NOW
                request_log.answered("GET", shown, 200, ended - now, job.task_id,
                                     observer=observer)  # fmt: skip
                if observer is not None:
                    observed[0] += (yield NOW) - ended
            return path

        def decide(error: KieError) -> Verdict:
            curable = isinstance(error, DownloadError) and error.curable
            return Verdict.RETRY if curable else Verdict.RAISE

        waits_end = min(stop, started + policy.deadline)
        path = yield from retrying(
            attempt, policy, stop=waits_end, decide=decide, what=f"GET {shown}",
            observer=observer, task_id=job.task_id,
        )  # fmt: skip
        if observer is not None:
            size = path.stat().st_size if path.exists() else 0
            request_log.notify(
                observer, Downloaded, task_id=job.task_id, path=path, size=size,
                seconds=(yield NOW) - started - observed[0],
            )  # fmt: skip
        return path


_ONCE = RetryPolicy.never()


def _ended(registry: Registry, task: Task, provider: Provider, status: TaskStatus) -> Results:
    """What a final status means for a wait: a succeeded task's results, or TaskFailedError."""
    if status.state is State.SUCCEEDED:
        if log.isEnabledFor(logging.INFO):
            log.info(
                "task %s succeeded%s", task.id, request_log.tags(),
                extra=request_log.fields(task_id=task.id, model=task.model, state="succeeded"),
            )  # fmt: skip
        results: Results = call_hook(
            registry, provider, "extract_results", task.id, status.raw,
            model=task.model, task_id=task.id,
        )  # fmt: skip
        return results
    said = None if status.fail_message is None else printable(status.fail_message)
    log.info(
        "task %s failed: %s%s", task.id, said, request_log.tags(),
        extra=request_log.fields(task_id=task.id, model=task.model, state="failed",
                                 kie_code=request_log.numeric(status.fail_code)),
    )  # fmt: skip
    raise TaskFailedError(
        task.id,
        status.fail_code,
        status.fail_message,
        fail_status=status.fail_status,
        ready=status.ready,
    )


class _Poll:
    """A task's status call, made once for all the polls of a wait: the provider's request,
    its HTTP form and its rate-limit slot, and the reading of the answer."""

    __slots__ = ("http", "model", "provider", "registry", "request", "slot", "task_id")

    def __init__(self, engine: Engine, task: Task, provider: Provider) -> None:
        self.task_id = task.id
        self.model = task.model
        self.provider = provider
        self.registry = engine.registry
        self.request: Request = call_hook(
            engine.registry, provider, "status_request", task.id, model=task.model,
            task_id=task.id,
        )  # fmt: skip
        self.http = engine._http(self.request, task.id)
        self.slot = _Slot(task.id, provider.status_rate_per_task)

    @property
    def what(self) -> str:
        """The call, as a retry's line names it (``GET /api/v1/jobs/recordInfo``)."""
        return f"{self.request.method} {self.request.path}"

    def status(self, data: Any) -> TaskStatus:
        if data is None:  # some record-info endpoints answer an unknown id with data null (§2.2)
            raise TaskNotFoundError(self.task_id, 200, DATA_NULL)
        status: TaskStatus = call_hook(
            self.registry, self.provider, "parse_status", self.task_id, data,
            model=self.model, task_id=self.task_id,
        )  # fmt: skip
        return status

    def refusal(self, error: KieError) -> TaskStatus | None:
        """The status a refused status call says (Provider.status_of_refusal), or None."""
        told: TaskStatus | None = call_hook(
            self.registry, self.provider, "status_of_refusal", self.task_id, error,
            model=self.model, task_id=self.task_id,
        )  # fmt: skip
        return told


def _raise_as_no_task(error: KieError, task_id: str) -> NoReturn:
    """Raise a status poll's error, KIE's "no such task" (in any family's words) as
    TaskNotFoundError (errors.task_not_found)."""
    found = task_not_found(error, task_id)
    if found is error:
        raise error
    raise found from error


MALFORMED_STATUS_TRIES = 3  # unreadable status answers in a row that end a wait


def may_pass(error: KieError) -> bool:
    """Whether a status answer that raised ``error`` may read otherwise when asked again: one
    unreadable (cut short or garbled by a proxy), or ``data: null``, a record not there yet,
    then there (a HAR of real traffic, kie-api.md §2.2). MALFORMED_STATUS_TRIES of them in a
    row end a wait, and a webhook receiver's confirmation."""
    if isinstance(error, PluginHookError):  # a plugin's bug reads the same answer alike
        return False
    return isinstance(error, ProtocolError) or (
        isinstance(error, TaskNotFoundError) and error.code == 200
    )


@attrs.frozen
class _Admission:
    """The in-process limiter's admission of one request: a create's, or a status poll's."""

    admit: Callable[[float], float]
    answered: Callable[[float], None]

    @classmethod
    def of(cls, limiter: RateLimiter, limit: _Slot | None) -> _Admission | None:
        if limit is None:
            return None
        if limit.task_id is None:
            return cls(limiter.admit_create, limiter.create_answered)
        return cls(limiter.admit_status, limiter.status_answered)


class _SharedAdmission:
    """One create's or poll's admission by the shared limiter: the in-process limiter's, as
    :class:`Reserve` ops (``op`` names this attempt)."""

    def __init__(self, op: Reserve) -> None:
        self.op = op
        self.answered = attrs.evolve(op, action="answered")

    def admit(self, stop: float, hold: Callable[[], Flow[None]]) -> Flow[float]:
        """Wait until the request is admitted; the moment it was. It is counted in flight until
        its attempt must have ended (``stop``), or until it is reported answered. ``hold``
        runs before each wait."""
        while True:
            now: float = yield NOW
            timeout = max(stop - now, MIN_ATTEMPT_SECONDS)
            wait: float = yield from _through_outages(
                attrs.evolve(self.op, action="admit", timeout=timeout)
            )
            if not wait:
                return now
            yield from hold()
            yield Sleep(wait)


def _through_outages(op: Reserve) -> Flow[Any]:
    """``op``'s answer, asked again while the shared limits' Redis is out (a restart, a
    fail-over: it had answered before), after each of SHARED_LIMITS_RETRY_DELAYS: creates
    wait for it, as docs/teams.md says, rather than each ending its job at once. A Redis
    that never answered (a wrong URL) is said at once."""
    delays = iter(SHARED_LIMITS_RETRY_DELAYS)
    while True:
        try:
            return (yield op)
        except RateLimitStoreError as exc:
            delay = next(delays, None)
            if delay is None or not exc.outage:
                raise
            log.warning(
                "%s: a create waits for it, asked again in %g s", exc, delay,
                extra=request_log.fields(),
            )  # fmt: skip
            yield Sleep(delay)


def _unsendable(request: Request) -> ConfigurationError:
    """A request the transport could not encode (a header HTTP cannot carry): it failed
    while being put together, before any byte left, so it made nothing on KIE."""
    return ConfigurationError(
        f"{request.method} {request.path} cannot be sent: a header holds a character HTTP "
        "cannot carry (nothing was sent)"
    )
