"""Everything the two clients do that is not I/O, written once as generators ("sans-I/O").

Each operation is a generator that yields what it needs done — an :class:`HttpRequest`, a
:class:`Fetch` of a result file, a :class:`Sleep`, a look at the clock (:class:`Now`), a
journal write (:class:`Record`) — and receives the outcome. ``Client`` drives the generators
with urllib3 and ``time.sleep``, ``AsyncClient`` with aiohttp and ``asyncio.sleep`` (see
:mod:`kiekit.transport`). So polling, deadlines, envelope checks and file naming exist once,
and tests can drive them with no sockets.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import re
from collections.abc import Callable, Generator, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode, urlsplit

import attrs
from attrs import field, frozen

from kiekit import wire
from kiekit.errors import (
    DownloadError,
    FileWriteError,
    KieError,
    OutcomeUnknownError,
    ProtocolError,
    TaskFailedError,
    ValidationError,
    WaitTimeoutError,
    api_error,
    http_error,
)
from kiekit.fields import Input
from kiekit.models import Asset, MediaKind, Request, Results, State, Task, TaskStatus
from kiekit.polling import PollPolicy
from kiekit.ratelimit import RateLimiter
from kiekit.registry import Registry
from kiekit.retry import (
    DownloadPolicy,
    RetryPolicy,
    Verdict,
    may_have_reached_kie,
    parse_retry_after,
    verdict,
)

if TYPE_CHECKING:
    import random

T = TypeVar("T")


@frozen
class HttpRequest:
    """One API call. ``timeout``: seconds the whole exchange may take, answer read included
    (None: the transport's own timeouts only); the engine sets it from the call's deadline."""

    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)  # carries the API key: never printed
    body: bytes | None = None
    task_id: str | None = None
    timeout: float | None = None


@frozen
class HttpResponse:
    status: int
    body: bytes
    reason: str = ""
    # Header names lower-cased; read for Retry-After (and Date, to measure it against)
    headers: Mapping[str, str] = field(factory=dict, repr=False)


@frozen
class Fetch:
    """Stream ``url`` into ``destination`` (atomically); the outcome is the final path.

    ``kind`` / ``media_type`` say what the file should be, so that an error page served in its
    place is refused rather than saved under a media file's name."""

    url: str
    destination: Path
    task_id: str | None = None
    kind: MediaKind | None = None
    media_type: str | None = None
    # Seconds this attempt may take in all, and the most bytes the file may have (None: no
    # bound); set by the engine from its DownloadPolicy
    timeout: float | None = None
    max_bytes: int | None = None


@frozen
class StreamUpload:
    """POST a local file as multipart/form-data, streamed: ``head``, then ``size`` bytes read
    from ``path`` chunk by chunk (never the whole file in memory), then ``tail``. The engine
    frames the multipart body (kiekit._files); a transport only moves its bytes. The outcome
    is the :class:`HttpResponse`."""

    url: str
    headers: Mapping[str, str] = field(repr=False)  # carries the API key: never printed
    head: bytes
    path: Path
    size: int
    tail: bytes


@frozen
class Sleep:
    seconds: float


@frozen
class Now:
    """Ask the driver for its monotonic clock."""


@frozen
class Record:
    """A journal write: ``write()``'s return value is the outcome. The blocking driver runs it
    in place; the asyncio driver on the journal's writer thread, never on the event loop. A
    write is never cut short: a cancellation that arrives meanwhile reaches the flow after
    the write's outcome has (so an intent row written is always an intent row known)."""

    write: Callable[[], Any] = field(repr=False)


@frozen
class OpenStream:
    """Send ``request`` and start reading its answer as it arrives (a chat's server-sent
    events); the outcome is the answer's :class:`StreamHead`. The driver holds the open stream
    until the flow ends."""

    request: HttpRequest


@frozen
class StreamHead:
    """The status line of a streamed answer; its body is read with :class:`ReadStream`."""

    status: int
    reason: str = ""
    content_type: str = ""


@frozen
class ReadStream:
    """The next chunk of the open stream's body: ``b""`` once it has ended."""


Op = HttpRequest | Fetch | Sleep | Now | StreamUpload | Record | OpenStream | ReadStream


class SendState:
    """Whether a create may have reached KIE so far: set just before each attempt is handed
    to the network, cleared again when its failure proves KIE made nothing. A create that
    ends otherwise (cancelled, interrupted) is journaled by it: never sent, nothing to fear."""

    maybe_sent = False


Flow = Generator[Op, Any, T]

StatusHook = Callable[[TaskStatus], None]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,5}$")

DOWNLOAD_URL_PATH = "/api/v1/common/download-url"
# What object stores answer for a link past its lifetime (S3/R2: 403 AccessDenied "Request has
# expired"; some CDNs: 404 or 410). Such a link is renewed once through download-url (§4, §8).
EXPIRED_LINK_STATUSES = frozenset({403, 404, 410})

# Books a slot at or after ``now`` (and, if given, no later than the deadline): the seconds to
# wait for it, or None when the deadline comes first.
Limit = Callable[[RateLimiter, float, float | None], float | None]


class _NoSlot(Exception):
    """The rate limiter has no slot before the caller's deadline (caught by ``wait``)."""


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
        limiter: RateLimiter | None = None,
        downloads: DownloadPolicy | None = None,
    ) -> None:
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
        self.downloads = downloads or DownloadPolicy()

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
        limit = None if safe else _create_slot
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
        limit: Limit | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | None = None,
        sending: SendState | None = None,
        slot_taken: bool = False,
    ) -> Flow[Any]:
        """Send ``request`` under the rate limiter and the retry policy. ``deadline``: a
        monotonic time no attempt and no retry wait may pass (e.g. the end of a wait; else
        the retry policy's); ``sending`` follows whether a create may have reached KIE;
        ``slot_taken``: the first attempt's rate-limit slot was booked by the caller."""
        http = self._http(request, task_id)
        policy = retry or self.retry
        started: float = yield Now()
        stop = (
            started + policy.deadline
            if deadline is None
            else min(deadline, started + policy.deadline)
        )
        reached = False  # some attempt of an unsafe call may have reached KIE

        def attempt(number: int) -> Flow[Any]:
            nonlocal reached
            if limit is not None and self.limiter is not None and not (slot_taken and number == 1):
                now: float = yield Now()
                wait = limit(self.limiter, now, deadline)
                if wait is None:
                    raise _NoSlot
                if wait > 0:
                    yield Sleep(wait)
            log.debug("%s %s%s", request.method, request.path, _for_task(task_id))
            # Each attempt ends by the deadline, with a moment at least (a wait's last poll
            # comes at its deadline, and a slow rate-limit slot may have used the time up)
            left = max(stop - (yield Now()), MIN_ATTEMPT_SECONDS)
            if sending is not None:
                sending.maybe_sent = True
            try:
                response = yield attrs.evolve(http, timeout=left)
                return read_answer(response, request.method, request.path, task_id)
            except KieError as exc:
                log.debug("%s %s failed: %s", request.method, request.path, exc)
                reached = reached or (not safe and may_have_reached_kie(exc))
                if sending is not None:
                    sending.maybe_sent = reached
                raise

        def decide(error: KieError) -> Verdict:
            return verdict(error, safe=safe, retry_creates=policy.retry_creates)

        what = f"{request.method} {request.path}"
        try:
            return (yield from retrying(attempt, policy, stop=stop, decide=decide, what=what))
        except KieError as error:
            if reached or decide(error) is Verdict.UNKNOWN:
                raise OutcomeUnknownError(model=model, request=request, cause=error) from error
            raise

    # -- the task lifecycle -----------------------------------------------------------------

    def prepare(
        self, model: str, params: Input | Mapping[str, Any] | None, fields: Mapping[str, Any]
    ) -> Input:
        """Validate input before any I/O: a ValidationError names the field."""
        return self.registry.provider(model).make_input(model, params, **fields)

    def create_request(
        self, model: str, params: Input, *, callback_url: str | None = None
    ) -> Request:
        """The create request for checked input: built once, journaled, then sent."""
        return self.registry.provider(model).build_request(model, params, callback_url=callback_url)

    def create_slot(self) -> Flow[None]:
        """Wait for a create's rate-limit slot (books it). The clients take it before the
        journal's intent row is written, so a create cancelled while it waits for its slot is
        never recorded as one that may have made a task."""
        if self.limiter is not None:
            now: float = yield Now()
            wait = _create_slot(self.limiter, now, None)
            if wait > 0:
                yield Sleep(wait)

    def submit(
        self,
        model: str,
        request: Request,
        *,
        sending: SendState | None = None,
        slot_taken: bool = False,
    ) -> Flow[Task]:
        """Create a task. Never sent twice when the first may have made a task, unless the
        retry policy says ``retry_creates`` (kiekit.retry has the table). ``slot_taken``: the
        caller booked the first attempt's slot with :meth:`create_slot`."""
        provider = self.registry.provider(model)
        data = yield from self._exchange(
            request,
            safe=False,
            model=model,
            limit=_create_slot,
            sending=sending,
            slot_taken=slot_taken,
        )
        try:
            task_id = provider.parse_created(data)
        except ProtocolError as exc:  # code 200: KIE made a task, but its id is unreadable
            raise OutcomeUnknownError(model=model, request=request, cause=exc) from exc
        created_at: float = yield Now()
        return Task(id=task_id, model=model, created_at=created_at)

    def status(
        self, task: Task, *, deadline: float | None = None, retry: RetryPolicy | None = None
    ) -> Flow[TaskStatus]:
        provider = self.registry.provider(task.model)
        per_task = provider.status_rate_per_task

        def slot(limiter: RateLimiter, now: float, latest: float | None) -> float | None:
            return limiter.reserve_status(now, task.id, per_task, latest=latest)

        data = yield from self._exchange(
            provider.status_request(task.id),
            task_id=task.id,
            safe=True,
            limit=slot,
            deadline=deadline,
            retry=retry,
        )
        if data is None:  # some record-info endpoints answer an unknown id with data null (§2.2)
            raise ProtocolError("KIE has no record of this task", task_id=task.id)
        return provider.parse_status(task.id, data)

    def download_url(self, url: str, *, task_id: str | None = None) -> Flow[str]:
        """A fresh direct link for a KIE-made file URL, valid 20 minutes
        (``POST /api/v1/common/download-url``, kie-api.md §4). A URL KIE did not make is
        refused with code 422 "url is wrong" (UnprocessableError). Safe to send again."""
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
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
        policy = policy or self.poll
        provider = self.registry.provider(task.model)
        started: float = yield Now()
        deadline = started + policy.timeout
        # The schedule runs from the task's creation when this client made it: the first poll
        # waits until the task could be done, and a wait begun later polls at once.
        origin = started if task.created_at is None else min(task.created_at, started)
        first = origin + policy.first_poll - started if task.created_at is not None else 0.0
        if first > 0:
            yield Sleep(min(first, policy.timeout))
        last: TaskStatus | None = None
        malformed = 0  # unreadable answers in a row
        unreadable: ProtocolError | None = None  # the last poll's, if it was
        while True:
            asked: float | None = None
            try:
                last = yield from self.status(task, retry=_ONCE, deadline=deadline)
            except _NoSlot:  # the rate limiter allows no poll before the deadline
                now = yield Now()
                if deadline > now:
                    yield Sleep(deadline - now)
                raise WaitTimeoutError(
                    task.id, deadline - started, last.state.value if last else None
                ) from None
            except ProtocolError as exc:
                # One answer cut short or garbled by a proxy is a network fault, not the end of
                # the wait; a shape that stays unreadable is a real disagreement, and raised.
                malformed, unreadable = malformed + 1, exc
                if malformed >= MALFORMED_STATUS_TRIES:
                    raise
                log.debug(
                    "status answer unreadable (%d in a row), polling again: %s", malformed, exc
                )
            except KieError as exc:
                if not exc.retryable:
                    raise
                asked = exc.retry_after
            else:
                malformed, unreadable = 0, None
                if on_status is not None:
                    on_status(last)
                if last.state is State.SUCCEEDED:
                    return provider.extract_results(task.id, last.raw)
                if last.state is State.FAILED:
                    raise TaskFailedError(task.id, last.fail_code, last.fail_message)
            now = yield Now()
            elapsed = now - started
            remaining = policy.timeout - elapsed
            if remaining <= 0:
                if unreadable is not None:  # says more than "gave up waiting"
                    raise unreadable
                raise WaitTimeoutError(task.id, elapsed, last.state.value if last else None)
            pause = min(max(policy.interval(now - origin), asked or 0.0), remaining)
            if pause > 0:
                yield Sleep(pause)

    def download(self, results: Results, out_dir: Path) -> Flow[list[Path]]:
        """Fetch every result file into ``out_dir``; names come from the task id, never from
        the URL's path, so no URL can write outside the folder.

        Each file is streamed to a temporary file beside its final name and renamed only once
        complete and plausible (the promised size; not an HTML/XML error page where a media
        file belongs), within the download policy's time and size bounds. Curable failures are
        retried under the retry policy; an expired link (HTTP 403/404/410) is renewed once
        through download-url. What still fails raises DownloadError naming the task and the
        URL (FileWriteError, naming the path, when this machine cannot write the file): a
        paid-for file is never skipped quietly.
        """
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileWriteError.of(exc, out_dir, task_id=results.task_id) from exc
        paths = []
        for index, item in enumerate(results.assets):
            destination = out_dir / file_name(results.task_id, index, item)
            path = yield from self._fetch_asset(item, destination, results.task_id)
            paths.append(path)
        return paths

    def _fetch_asset(self, item: Asset, destination: Path, task_id: str) -> Flow[Path]:
        def fetch(url: str) -> Fetch:
            return Fetch(url, destination, task_id, kind=item.kind, media_type=item.media_type)

        try:
            return (yield from self._fetch(fetch(item.url)))
        except DownloadError as exc:
            if exc.http_status not in EXPIRED_LINK_STATUSES:
                raise
            expired = exc
        log.debug("result link answered HTTP %s; asking KIE for a fresh one", expired.http_status)
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
            ) from exc

    def _fetch(self, job: Fetch) -> Flow[Path]:
        """One file, retried after network faults, 429 and 5xx from the file host (after its
        Retry-After when it gives one), all of it within the download policy's ``timeout``
        (and retry waits within the retry policy's deadline too)."""
        policy, bounds = self.retry, self.downloads
        started: float = yield Now()
        stop = started + bounds.timeout

        def attempt(_number: int) -> Flow[Path]:
            now: float = yield Now()
            path: Path = yield attrs.evolve(
                job, timeout=max(stop - now, 0.0), max_bytes=bounds.max_bytes
            )
            return path

        def decide(error: KieError) -> Verdict:
            curable = isinstance(error, DownloadError) and error.curable
            return Verdict.RETRY if curable else Verdict.RAISE

        waits_end = min(stop, started + policy.deadline)
        return (yield from retrying(attempt, policy, stop=waits_end, decide=decide, what="a file"))


_ONCE = RetryPolicy.never()
MIN_ATTEMPT_SECONDS = 1.0
MALFORMED_STATUS_TRIES = 3  # unreadable status answers in a row that end a wait


def _create_slot(limiter: RateLimiter, now: float, _latest: float | None) -> float:
    return limiter.reserve_create(now)  # a create has no deadline but the retry policy's


def retrying(
    attempt: Callable[[int], Flow[T]],
    policy: RetryPolicy,
    *,
    stop: float,
    decide: Callable[[KieError], Verdict],
    what: str,
) -> Flow[T]:
    """The one retry loop, for API calls, status polls, uploads and downloads: run
    ``attempt(n)`` until it returns; after a failure ``decide`` calls curable, wait and try
    again — the server's Retry-After when its answer gave one, else the policy's jittered
    backoff — unless the attempts are used up or the wait would end past ``stop``. Then the
    failure is raised for the caller to judge (a create's may become OutcomeUnknownError)."""
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
        now: float = yield Now()
        if now + delay > stop:
            raise error
        log.debug(
            "retrying %s in %.2f s (attempt %d of %d) after: %s",
            what,
            delay,
            number + 1,
            policy.attempts,
            error,
        )
        yield Sleep(delay)


def read_envelope(
    response: HttpResponse, method: str, path: str, task_id: str | None = None
) -> tuple[Any, wire.Envelope]:
    """The one answer reader, for the API host and the upload host alike: the JSON payload
    and its envelope, or the typed error the answer stands for — carrying the answer's
    Retry-After, if it gave one, for the retry loop (and a wait's own schedule)."""
    try:
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


def read_answer(response: HttpResponse, method: str, path: str, task_id: str | None) -> Any:
    """The envelope's ``data`` of one answer, or the typed error it stands for."""
    return read_envelope(response, method, path, task_id)[1].data


# Media types error pages come as; a media file never does (an SVG aside). Text types are
# only believed when the bytes are text too: a misconfigured CDN may label an MP4 text/plain.
_PAGE_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")
_TEXT_TYPES = ("text/plain", "application/json", "application/problem+json")
_PAGE_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<error", b"{", b"<head", b"<body")
_TEXT_BYTES = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}


def check_file_start(job: Fetch, content_type: str | None, head: bytes) -> None:
    """Refuse an answer that is plainly an error page where a media file belongs.

    Object stores answer expired or missing links with XML (S3/R2 ``AccessDenied``) and
    proxies with HTML, sometimes under status 200; saved as ``.mp4`` such a page would pass
    for a result. Checked on the Content-Type and on the first bytes; files of unknown kind
    (text, other) and SVG images (XML by nature) are not judged.
    """
    if job.kind not in (MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO):
        return
    if job.media_type and ("xml" in job.media_type or "svg" in job.media_type):
        return
    if urlsplit(job.url).path.lower().endswith(".svg"):
        return
    declared = (content_type or "").split(";")[0].strip().lower()
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:16].lower()
    text = bool(head) and all(byte in _TEXT_BYTES for byte in head)
    page = declared in _PAGE_TYPES or start.startswith(_PAGE_STARTS)
    if page or (declared in _TEXT_TYPES and text):
        what = declared or "a text page"
        raise DownloadError(
            f"the link answered {what} instead of the {job.kind.value} file",
            url=job.url,
            task_id=job.task_id,
            http_status=200,
        )


def file_name(task_id: str, index: int, item: Asset) -> str:
    """``<task id>-<index>[-<label>]<ext>``, safe on every file system: ASCII, and short
    enough for any of them (a long id or label is cut and told apart by a hash of it)."""
    stem = _bounded(_SAFE.sub("_", task_id).strip("._") or "task", _MAX_ID)
    if item.label:
        stem += "-" + _bounded(_SAFE.sub("_", item.label).strip("._") or "file", _MAX_LABEL)
    suffix = PurePosixPath(urlsplit(item.url).path).suffix
    if not _EXTENSION.match(suffix):
        guessed = mimetypes.guess_extension(item.media_type) if item.media_type else None
        suffix = guessed or ".bin"
    return f"{stem}-{index}{suffix.lower()}"


# File systems allow 255 bytes a name; these leave room for the index, an extension and the
# download's temporary suffix (``.<12 hex>.part``).
_MAX_ID = 120
_MAX_LABEL = 60


def _bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{text[: limit - 11]}_{digest}"


def _for_task(task_id: str | None) -> str:
    return "" if task_id is None else f" (task {task_id})"
