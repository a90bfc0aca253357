"""The engine's operations: what a flow yields for its driver to do, and the outcome it gets.

An HTTP exchange (:class:`HttpRequest` → :class:`HttpResponse`), a result file streamed to disk
(:class:`Fetch` → its path), a file streamed up (:class:`StreamUpload`), a streamed answer
(:class:`OpenStream` → :class:`StreamHead`, then :class:`ReadStream` → bytes), a pause
(:class:`Sleep`), the monotonic clock (:class:`Now`), a journal write (:class:`Record`), a
slot booked in the shared rate limits (:class:`Reserve`) and a local file's digest
(:class:`Digest`).
Every side effect of kiekit is one of these; the drivers (``kiekit._transports.drivers``)
perform them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import field, frozen

from kiekit.models import MediaKind

if TYPE_CHECKING:
    from kiekit.ratelimit import Rate
    from kiekit.shared_limits import SharedRateLimiter

T = TypeVar("T")


@frozen
class HttpRequest:
    """One API call. ``timeout``: seconds the whole exchange may take, answer read included
    (None: the transport's own timeouts only); the engine sets it from the call's deadline.

    ``long_silence``: the answer may send no byte for minutes (a chat model sends a whole
    answer only once it is done, and a stream nothing while it thinks), so its bytes are
    awaited until ``timeout``, not only for the transport's read timeout, which would cut
    short an answer already paid for. Other calls keep that read timeout: KIE answers them at
    once, and a silence there is a stalled connection."""

    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)  # carries the API key: never printed
    body: bytes | None = None
    task_id: str | None = None
    timeout: float | None = None
    long_silence: bool = False

    def within(self, seconds: float) -> HttpRequest:
        """This request, bounded by ``seconds`` (as ``attrs.evolve`` would, at half the
        cost: one is made for every attempt of every call)."""
        return HttpRequest(
            self.method,
            self.url,
            self.headers,
            self.body,
            task_id=self.task_id,
            timeout=seconds,
            long_silence=self.long_silence,
        )

    def silence_allowed(self, read_timeout: float) -> float:
        """The longest wait for the answer's next bytes, given the transport's read timeout."""
        if self.long_silence and self.timeout is not None:
            return self.timeout
        return read_timeout


@frozen
class HttpResponse:
    status: int
    body: bytes
    reason: str = ""
    # Header names lower-cased; read for Retry-After (and Date, to measure it against)
    headers: Mapping[str, str] = field(factory=dict, repr=False)


def mark_unsent(exc: BaseException) -> None:
    """Note on ``exc``, a cancellation or a Ctrl-C that a transport lets through as it sends an
    :class:`HttpRequest`, that it came before a byte of the request was written (while the
    request waited for a pooled connection, or one was being opened): a create it stopped
    made nothing on KIE. The exception goes on as it is (a cancellation must stay one); a
    transport that cannot tell marks nothing, and the request may then have been sent."""
    exc.kiekit_unsent = True  # type: ignore[attr-defined]


def unsent(exc: BaseException) -> bool:
    """Whether ``exc`` was marked by :func:`mark_unsent`."""
    return getattr(exc, "kiekit_unsent", False) is True


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


def _source_repr(source: Path | bytes) -> str:
    return repr(source) if isinstance(source, Path) else f"<{len(source)} bytes>"


@frozen
class StreamUpload:
    """POST a file as multipart/form-data, streamed: ``head``, then the ``size`` bytes of
    ``source`` chunk by chunk, then ``tail``. ``source`` is a local file's path (read from disk
    as it is sent, never whole in memory) or bytes the caller already holds (sent in slices, so
    no second copy is made). The engine frames the multipart body (kiekit._engine.account); a
    transport only moves its bytes. The outcome is the :class:`HttpResponse`."""

    url: str
    headers: Mapping[str, str] = field(repr=False)  # carries the API key: never printed
    head: bytes
    source: Path | bytes = field(repr=lambda source: _source_repr(source))
    size: int
    tail: bytes
    # the file's modification time when ``size`` was taken: a file written to while it is
    # sent is refused after its last chunk, as one that shrank is (kiekit._transports.base)
    mtime_ns: int | None = None


@frozen
class Digest:
    """The SHA-256 of a local file's ``size`` bytes, as hex: what an upload without a chosen
    name is named after (kiekit._engine.account.content_name). A file that cannot be read, or
    that changed since its size and ``mtime_ns`` were taken, raises
    :class:`~kiekit.errors.FileReadError` naming it, as its upload would."""

    path: Path
    size: int
    mtime_ns: int | None = None


@frozen
class Sleep:
    seconds: float


@frozen
class Now:
    """Ask the driver for its monotonic clock (the flows yield the one :data:`NOW`)."""


NOW = Now()


@frozen
class Record:
    """A journal write: ``write()``'s return value is the outcome. The asyncio driver runs it on
    the journal's writer thread, never on the event loop; the blocking driver too when the store
    commits in groups (the threads' writes then share commits), else in place. A write is
    answered once committed, and is never cut short: a cancellation that arrives meanwhile
    reaches the flow after the write's outcome has (so an intent row written is always an
    intent row known)."""

    write: Callable[[], Any] = field(repr=False)
    # the journal store written to: writes to one store may share a commit (group commit)
    store: object = field(default=None, repr=False)


@frozen
class Reserve:
    """A step of the shared rate limits (:mod:`kiekit.shared_limits`); ``account`` is a hash
    of the API key. The blocking driver calls ``limiter.reserve``, the asyncio driver awaits
    ``limiter.reserve_async``.

    - ``"book"``: a create's slot (``task_id`` None) or a status poll's of ``task_id``
      (``per_task``: the family's own per-task limit); the outcome is the seconds to wait, or
      None when the slot would come more than ``within`` seconds from now (nothing booked);
    - ``"admit"``: just before create ``member`` is sent; 0.0 when it may go (it is counted in
      flight for ``timeout`` seconds at most), else the seconds to wait before asking again;
    - ``"answered"``: create ``member``'s answer (or failure) has come;
    - ``"release"``: the slot booked as ``member`` will not be used (its request was not
      sent): it is given back, so the slots booked after it are not held up.

    A ``"book"`` names its slot ``member`` (a random one when empty).
    """

    limiter: SharedRateLimiter = field(repr=False)
    account: str
    task_id: str | None = None
    per_task: Rate | None = None
    within: float | None = None
    action: str = "book"
    member: str = ""
    timeout: float = 0.0


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


Op = (
    HttpRequest | Fetch | Sleep | Now | StreamUpload | Record | Reserve | OpenStream | ReadStream
) | Digest


Flow = Generator[Op, Any, T]
