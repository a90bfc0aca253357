"""``Client`` (blocking, urllib3) and ``AsyncClient`` (asyncio, aiohttp).

Both are thin: every method hands a flow of :class:`~kiekit._engine.session.Session` (built on
:mod:`kiekit._engine`) to its driver, so every decision and every journal row is shared; a
client only picks the transport and how to wait. The API key comes from the ``api_key``
argument or the ``KIE_API_KEY`` environment variable, and is never printed, logged or put in
a repr.
"""

from __future__ import annotations

import os
import ssl  # for the annotations: urllib3 imports it anyway
import warnings
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any, Self, Unpack

from kiekit._engine import Engine, SendState, StatusHook
from kiekit._engine.account import Files, Source
from kiekit._engine.session import InputLike, Session
from kiekit._redact import clean_chain
from kiekit._transports.base import check_seconds
from kiekit._transports.turns import AsyncTurns, Turns
from kiekit._version import __version__
from kiekit.chat import _flows as chat_flows
from kiekit.chat._streams import AsyncChatStream, ChatStream
from kiekit.chat.types import ChatOptions, ChatReply, MessagesLike
from kiekit.errors import ConfigurationError
from kiekit.journal import Journal, JournalOption, Recorder, journal_of
from kiekit.models import Request, Results, Task, TaskStatus
from kiekit.observe import Observer
from kiekit.polling import PollPolicy
from kiekit.ratelimit import RateLimiter, RateLimits
from kiekit.registry import Registry, default_registry
from kiekit.retry import DownloadPolicy, RetryPolicy
from kiekit.settings import (
    DEFAULT_BASE_URL,
    endpoints,
    warn_plain_http,
    warn_unknown_variables,
)
from kiekit.shared_limits import LIMITS_URL_ENV, SharedRateLimiter
from kiekit.transport import (
    AsyncTransport,
    SyncTransport,
    Urllib3Transport,
    drive,
    drive_async,
)
from kiekit.uploads import UploadedFile

__all__ = ["DEFAULT_BASE_URL", "AsyncClient", "Client"]

API_KEY_ENV = "KIE_API_KEY"

DOCUMENTED_LIMITS = RateLimits()
# A limiter, the limits for an in-process one, a redis:// URL for a shared one, or None
RateLimitsOption = RateLimits | RateLimiter | SharedRateLimiter | str | None


def _engine(
    api_key: str | None,
    base_url: str,  # checked by kiekit.settings.endpoints
    registry: Registry | None,
    poll: PollPolicy | None,
    retry: RetryPolicy | None = None,
    rate_limits: RateLimitsOption = DOCUMENTED_LIMITS,
    downloads: DownloadPolicy | None = None,
    observer: Observer | None = None,
) -> Engine:
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if not key or not key.strip():
        raise ConfigurationError(f"no KIE API key: pass api_key=... or set {API_KEY_ENV}")
    key = key.strip()
    _check_key_characters(key)
    return Engine(
        api_key=key,
        base_url=base_url,
        registry=registry or default_registry(),
        poll=poll or PollPolicy(),
        user_agent=f"kiekit/{__version__}",
        retry=_retry(retry),
        limiter=_limiter(rate_limits),
        downloads=_downloads(downloads),
        observer=_observer(observer),
    )


def _observer(observer: Observer | None) -> Observer | None:
    if observer is not None and not callable(observer):
        raise ConfigurationError(
            f"observer must be a callable taking one kiekit.observe event, not "
            f"{type(observer).__name__}"
        )
    return observer


def _check_key_characters(key: str) -> None:
    """Refuse a key the Authorization header cannot carry as it is, before anything is sent;
    the message says where the character is, never the key."""
    bad = next((i for i, c in enumerate(key) if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:  # CR/LF/NUL would reach the Authorization header (or its error message)
        raise ConfigurationError(
            f"the KIE API key holds a control character at position {bad + 1} (a line break "
            "copied with it?); the key is not shown"
        )
    # KIE's keys are hex: anything past ASCII is an invisible passenger of a copy from a web
    # page (a zero-width space, a no-break space), which HTTP headers cannot carry (Latin-1)
    bad = next((i for i, c in enumerate(key) if ord(c) > 127), None)
    if bad is not None:
        raise ConfigurationError(
            f"the KIE API key holds a non-ASCII character (U+{ord(key[bad]):04X}) at position "
            f"{bad + 1} (copied from a web page?); the key is not shown"
        )


def _retry(retry: RetryPolicy | None) -> RetryPolicy:
    if retry is None:
        return RetryPolicy()
    if not isinstance(retry, RetryPolicy):
        raise ConfigurationError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
    return retry


def _downloads(downloads: DownloadPolicy | None) -> DownloadPolicy:
    if downloads is None:
        return DownloadPolicy()
    if not isinstance(downloads, DownloadPolicy):
        raise ConfigurationError(
            f"downloads must be a DownloadPolicy, not {type(downloads).__name__}"
        )
    return downloads


def _limiter(rate_limits: RateLimitsOption) -> RateLimiter | SharedRateLimiter | None:
    if rate_limits is DOCUMENTED_LIMITS:  # not chosen: the environment may name a shared store
        url = os.environ.get(LIMITS_URL_ENV, "").strip()
        if url:
            return SharedRateLimiter(url, option=LIMITS_URL_ENV)
    if rate_limits is None or isinstance(rate_limits, (RateLimiter, SharedRateLimiter)):
        return rate_limits
    if isinstance(rate_limits, RateLimits):
        return RateLimiter(rate_limits)
    if isinstance(rate_limits, str):
        return SharedRateLimiter(rate_limits, option="rate_limits")
    raise ConfigurationError(
        "rate_limits must be RateLimits, a RateLimiter, a SharedRateLimiter, a redis:// URL "
        f"or None, not {type(rate_limits).__name__}"
    )


def _session(
    api_key: str | None,
    base_url: str | None,
    upload_base_url: str | None,
    registry: Registry | None,
    poll: PollPolicy | None,
    retry: RetryPolicy | None,
    rate_limits: RateLimitsOption,
    journal: JournalOption,
    downloads: DownloadPolicy | None,
    observer: Observer | None = None,
) -> Session:
    hosts = endpoints(base_url, upload_base_url)  # a misspelt base-URL variable: refused here
    warn_unknown_variables(but_hosts=True)  # a misspelt KIE_* / KIEKIT_* name goes nowhere
    engine = _engine(
        api_key, hosts.base_url, registry, poll, retry, rate_limits, downloads, observer
    )
    warn_plain_http(hosts)  # with a key in hand: it is what would travel in clear
    recorder = Recorder(journal_of(journal), engine)
    owned = journal is True or isinstance(journal, str)  # opened here, not given
    return Session(engine, Files(engine, hosts), recorder, owns_journal=owned)


def _network(
    transport: object,
    timeout: float,
    proxy: str | None,
    trust_env: bool,
    ssl_context: ssl.SSLContext | None,
) -> dict[str, Any]:
    """The client's own transport's options, checked before anything else is done; with a
    ``transport`` of the caller's, those are its business (given here, they would be lost)."""
    timeout = check_seconds("timeout", timeout)
    if transport is not None and (proxy is not None or ssl_context is not None or not trust_env):
        raise ConfigurationError(
            "proxy=, trust_env= and ssl_context= set up the client's own transport: with "
            "transport=..., give them to that transport instead"
        )
    return {"timeout": timeout, "proxy": proxy, "trust_env": trust_env, "ssl_context": ssl_context}


def _collected_closes(client: object, session: Session, transport: object) -> None:
    """What a client collected without ``close()`` leaves open is closed then, as the
    standard library's files and sockets are, without blocking or needing an event loop: the
    journal it opened (its SQLite file handles: closed on the journal's writer thread once
    its queued writes are done, its rows let go) and ``transport``, an AsyncClient's own
    aiohttp session, whose connections are closed in place, with one ResourceWarning of
    kiekit's instead of aiohttp's two (an outside tester's soak, "soakclient" finding 3)."""
    journal = session.recorder.journal if session.owns_journal else None
    if journal is None and transport is None:
        return
    finalizer = weakref.finalize(client, _close_collected, journal, transport)
    finalizer.atexit = False  # at exit, the process's end closes all: nothing to warn of


def _close_collected(journal: Journal | None, transport: object) -> None:
    dropped = getattr(transport, "close_dropped", None)
    if dropped is not None and dropped():
        warnings.warn(
            "AsyncClient was never closed; use `async with` or `await close()`",
            ResourceWarning,
            stacklevel=2,
        )
    if journal is not None:
        journal.close_soon(let_go=True)


def _where(client: object) -> str:
    """A client's repr's words: its base URL, or what a constructor error left half-built
    (its ``self`` is in that error's traceback, and a reporter that records locals reprs it)."""
    engine = getattr(client, "_engine", None)
    return "not built" if engine is None else f"base_url={engine.base_url!r}"


class Client:
    """A blocking KIE client. Use it as a context manager, or call :meth:`close`.

    >>> with Client(base_url=mock.base_url) as kie:            # doctest: +SKIP
    ...     task = kie.submit("flux-kontext-pro", prompt="a lighthouse at dawn")
    ...     files = kie.download(kie.wait(task), "out")

    ``base_url`` / ``upload_base_url``: KIE's hosts unless given here or in ``KIE_BASE_URL`` /
    ``KIE_UPLOAD_BASE_URL``; with an API host that is not KIE's, uploads need an upload host
    named explicitly (see :mod:`kiekit.settings`).

    ``registry``: the providers this client knows, a :class:`~kiekit.registry.Registry`
    (default: every installed plugin, :func:`~kiekit.registry.default_registry`).

    Reliability options (shared by :class:`AsyncClient`):

    - ``retry``: a :class:`~kiekit.retry.RetryPolicy` (default: 3 tries, jittered backoff,
      ``Retry-After`` honoured, 60 s deadline). Creates are never sent twice when the first may
      have made a task (:class:`~kiekit.errors.OutcomeUnknownError` instead) unless
      ``RetryPolicy(retry_creates=True)``; ``RetryPolicy.never()`` switches retries off.
    - ``rate_limits``: KIE's documented limits kept on the client side (20 creates per 10 s,
      10 status polls per second, per-task limits of some families); a
      :class:`~kiekit.ratelimit.RateLimits` for other numbers, one
      :class:`~kiekit.ratelimit.RateLimiter` to share between clients of one account, or None
      to switch them off. One client may be used from many threads: they share its limits.
      A ``redis://`` URL (or ``KIEKIT_LIMITS_URL``, when ``rate_limits`` is not given) or a
      :class:`~kiekit.shared_limits.SharedRateLimiter` shares them with every process on the
      key, through Redis (``pip install 'kiekit[redis]'``; docs/teams.md).
    - ``journal``: where every created task is recorded before ``submit`` returns (an intent
      row before the create is sent), with its results and files; see :mod:`kiekit.journal`.
      Default: SQLite in the user's data folder (``KIEKIT_DATA_DIR``). Also: a path or
      ``sqlite:///path``, a ``postgresql://`` URL shared by a team (docs/teams.md), a
      :class:`~kiekit.journal.Journal` or a store such as ``MemoryStore()``; None switches it off.
    - ``poll``: a :class:`~kiekit.polling.PollPolicy`, the schedule of status polls and the
      deadline of a whole wait (default: first poll after 4 s, then every 2–30 s, 15 minutes).
    - ``downloads``: a :class:`~kiekit.retry.DownloadPolicy`, the time and size bounds of one
      result file (default: 15 minutes, 8 GiB).
    - ``timeout``: the longest wait for bytes on a connection (a number of seconds > 0); each
      call is bounded as a whole by its retry policy's deadline too. A chat answer, silent
      until it is done (a stream: while the model thinks), is awaited up to its own deadline
      instead (``CHAT_DEADLINE``).

    Network options (shared by :class:`AsyncClient`; README, "Proxies and TLS"):

    - ``transport``: the transport every request goes through (default: urllib3 here, aiohttp
      for :class:`AsyncClient`); a test may give one of its own, e.g. one bound to the mock.
      The options below set up the client's own transport, so they go with it, not beside it.

    - ``proxy``: a proxy URL (``http://user:pass@proxy:3128``) for every call, upload and
      download to a host that is not loopback. Default: the environment's ``HTTPS_PROXY`` /
      ``HTTP_PROXY`` / ``ALL_PROXY`` and ``NO_PROXY``, as ``urllib.request`` reads them;
      ``trust_env=False`` leaves those out. Loopback hosts (the mock) are never proxied.
    - ``ssl_context``: the TLS settings of every https connection, e.g.
      ``ssl.create_default_context(cafile="corp-ca.pem")`` for a private CA or a TLS-inspecting
      proxy. Default: the system's CAs, or OpenSSL's ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``.

    Observability (shared by :class:`AsyncClient`; docs/observability.md):

    - ``observer``: a callable given each :mod:`kiekit.observe` event — every request sent
      and how it ended (HTTP status, KIE's body code, seconds), every retry and its cause,
      each task created, each state a wait sees, each file downloaded — to count them or to
      make spans of them. Called in the flow that did the work; it must be quick.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        upload_base_url: str | None = None,
        transport: SyncTransport | None = None,
        registry: Registry | None = None,
        poll: PollPolicy | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        rate_limits: RateLimitsOption = DOCUMENTED_LIMITS,
        journal: JournalOption = True,
        downloads: DownloadPolicy | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        observer: Observer | None = None,
    ) -> None:
        try:
            network = _network(transport, timeout, proxy, trust_env, ssl_context)
            self._session = _session(
                api_key,
                base_url,
                upload_base_url,
                registry,
                poll,
                retry,
                rate_limits,
                journal,
                downloads,
                observer,
            )
            self._engine = self._session.engine
            self._transport = transport or Urllib3Transport(**network)
        except Exception as exc:
            # the key, and a URL's password, leave this frame and the ones it called (a
            # reporter that records locals would send them: secrev finding 4)
            api_key = base_url = upload_base_url = proxy = None
            network = {}
            clean_chain(exc)
            raise
        self._downloads = Turns()  # one download of a task at a time (kiekit._transports.turns)
        _collected_closes(self, self._session, None)

    def __repr__(self) -> str:
        return f"Client({_where(self)})"

    @property
    def base_url(self) -> str:
        """The KIE API this client talks to (its tasks live there)."""
        return self._engine.base_url

    @property
    def journal(self) -> Journal | None:
        """The task journal this client records its creates in (None with ``journal=None``)."""
        return self._session.recorder.journal

    def hand_off(self, task: Task | str, *, reason: str | None = None) -> None:
        """Say that a succeeded task's result links were handed on (to a webhook's consumer, a
        queue) and its files will not be downloaded here: its journal row is done, and ``kie
        resume`` (a teammate's too, on a shared journal) no longer downloads them
        (:meth:`Journal.hand_off <kiekit.journal.Journal.hand_off>`)."""
        drive(self._session.hand_off(task, reason=reason), self._transport)

    def adopt(
        self, task_id: str, model: str, *, out_dir: str | os.PathLike[str] | None = None
    ) -> Task:
        """Take a task created outside kiekit (by older code, by hand on KIE's site) into the
        journal, as :meth:`submit` records its own: ``kie tasks`` lists it, ``kie resume``
        waits for it and downloads its files (into ``out_dir``, when given), and a later
        :meth:`wait` or :meth:`download` of the returned task writes its row. Nothing is sent:
        what cannot be a task id (a URL, a sentence) is a ValidationError naming ``task_id``,
        but a task id KIE does not know shows at the first wait (TaskNotFoundError), and ``kie
        settle`` then corrects it. A task whose row was abandoned (``kie settle --abandon``)
        is taken back: that row is reopened. UnknownModelError when no plugin serves
        ``model``, ValidationError naming ``task_id`` when the journal has that task already
        (in a row not abandoned), ConfigurationError with ``journal=None``; nothing is written
        then (:meth:`Journal.adopt <kiekit.journal.Journal.adopt>`)."""
        return drive(self._session.adopt(task_id, model, out_dir=out_dir), self._transport)

    def submit(
        self,
        model: str,
        params: InputLike = None,
        /,
        *,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        **fields: Any,
    ) -> Task:
        """Validate the input (before any I/O) and create the task; return its handle.

        With ``idempotency_key``, a key the journal has seen returns the task created then
        instead of creating (and paying for) another; OutcomeUnknownError if that create's
        outcome is unknown. ``out_dir``: the folder its files are meant for, journalled with
        the intent before the create leaves, so ``kie resume`` downloads there even after a
        crash mid-create (nothing is downloaded by ``submit``).
        """
        sending = SendState()  # followed by a stop's signal handler (kie run): on the wire?
        flow = self._session.submit(
            model, params, fields, callback_url=callback_url, idempotency_key=idempotency_key,
            out_dir=out_dir, sending=sending,
        )  # fmt: skip
        with self._session.drain.following(sending):
            return drive(flow, self._transport)

    def call(self, request: Request, *, task_id: str | None = None) -> Any:
        """Send one request a provider describes (an extra endpoint such as a fresh download
        link) and return KIE's ``data``; body codes other than 200 raise typed errors."""
        return drive(self._session.call(request, task_id=task_id), self._transport)

    def status(self, task: Task) -> TaskStatus:
        """One status call: the task's state now, with its results once it has succeeded
        (polling is :meth:`wait`'s)."""
        return drive(self._session.status(task), self._transport)

    def wait(
        self, task: Task, *, timeout: float | None = None, on_status: StatusHook | None = None
    ) -> Results:
        """Poll until the task succeeds (its results) or fails (TaskFailedError); give up
        with WaitTimeoutError after ``timeout`` seconds (default: the poll policy's).
        ``on_status`` is called with each status a poll reads, in order, the last one too: a
        plain function, for :class:`AsyncClient` as well (an ``async def`` is a TypeError)."""
        return drive(
            self._session.wait(task, timeout=timeout, on_status=on_status), self._transport
        )

    def finish(self, task: Task, status: TaskStatus) -> Results:
        """End the task's wait with a final status already in hand (one :meth:`status` gave,
        or a webhook receiver confirmed): its results, or TaskFailedError, journalled as
        :meth:`wait` ends; nothing is sent. ValidationError naming ``status`` when it is not
        final, or another task's."""
        return drive(self._session.finish(task, status), self._transport)

    def download(self, results: Results, out_dir: str | os.PathLike[str]) -> list[Path]:
        """Fetch the result files into ``out_dir`` (atomically, size- and type-checked; an
        expired link is renewed once through download-url). Returns the paths written.

        The journal keeps the folder and each file written, even when the download is
        interrupted (Ctrl-C, a cancelled task): a file it says an earlier download of this
        task wrote, still on disk, is not fetched again, so ``kie resume`` (or this call run
        again) fetches only the rest. A download of a task into a folder another download
        of it into the same folder runs on this client waits for that one, then fetches only
        what it did not write."""
        with self._downloads.turn(results.task_id, out_dir):
            return drive(self._session.download(results, out_dir), self._transport)

    def download_url(self, url: str, *, task_id: str | None = None) -> str:
        """A fresh direct link (valid 20 minutes) for a file URL KIE made; a URL KIE did not
        make raises UnprocessableError ("url is wrong", kie-api.md §4)."""
        return drive(self._session.download_url(url, task_id=task_id), self._transport)

    def credits(self) -> float:
        """The account's credit balance (``GET /api/v1/chat/credit``)."""
        return drive(self._session.credits(), self._transport)

    def upload(
        self, source: Source, *, upload_path: str = "kiekit", file_name: str | None = None
    ) -> UploadedFile:
        """Put a file on KIE's upload host, to pass its ``download_url`` as a model input.

        ``source`` is a local path (streamed, never read into memory whole), an http(s) URL
        (KIE fetches it) or bytes (sent as base64). ``upload_path`` is the folder on the host
        (no leading or trailing slash). Without ``file_name`` the file is named after its bytes
        (their SHA-256), since a name used again for other bytes overwrites the old file and
        KIE's CDN may serve the stale one (kie-api.md §4); the same file gets the same URL, so
        a create made again with its idempotency key sends the same input (a URL's upload,
        whose bytes are not seen here, gets a random name). KIE keeps uploads for 3 days (24 h
        per one of its pages).
        """
        flow = self._session.upload(source, upload_path=upload_path, file_name=file_name)
        return drive(flow, self._transport)

    def generate(
        self,
        model: str,
        params: InputLike = None,
        /,
        *,
        out_dir: str | os.PathLike[str],
        timeout: float | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> list[Path]:
        """Submit, wait and download in one call; returns the files written.

        ``callback_url`` and ``idempotency_key`` as :meth:`submit`'s: with a key, a call run
        again (a notebook cell) waits for the task created the first time, and fetches only
        the files not in ``out_dir`` yet, instead of paying for another.
        """
        flow = self._session.generate(
            model, params, fields, out_dir=out_dir, timeout=timeout, callback_url=callback_url,
            idempotency_key=idempotency_key,
        )  # fmt: skip
        return drive(flow, self._transport)

    def chat(
        self,
        model: str,
        messages: MessagesLike,
        /,
        *,
        system: str | None = None,
        timeout: float | None = None,
        **options: Unpack[ChatOptions],
    ) -> ChatReply:
        """Ask a chat model and return its whole answer. ``messages``: a prompt, or messages
        in OpenAI's shape; ``options``: the model's (``reasoning_effort=…``), validated before
        any I/O; ``timeout``: seconds the whole call may take (default ``CHAT_DEADLINE``,
        600 s), then a TransportError or OutcomeUnknownError (plugins/chat/README.md,
        "Errors"). Not a task (kie-api.md §5): nothing is polled, and the call is never
        retried, for KIE charges each one."""
        bounds = chat_flows.Bounds.of(timeout)
        provider, call = chat_flows.prepare(self._engine, model, messages, system, options)
        return drive(chat_flows.chat(self._engine, provider, call, bounds), self._transport)

    def chat_stream(
        self,
        model: str,
        messages: MessagesLike,
        /,
        *,
        system: str | None = None,
        timeout: float | None = None,
        **options: Unpack[ChatOptions],
    ) -> ChatStream:
        """As :meth:`chat`, streamed: iterate the :class:`~kiekit.chat.ChatDelta` s as they
        arrive; the stream's ``reply`` holds the whole answer at the end. ``timeout`` bounds
        the whole stream, however its bytes trickle; ``close()``, from any thread, ends it."""
        bounds = chat_flows.Bounds.of(timeout)
        provider, call = chat_flows.prepare(self._engine, model, messages, system, options)
        flow = chat_flows.chat_stream(self._engine, provider, call, bounds)
        return ChatStream(flow, self._transport)

    def close(self) -> None:
        """Close the connections (and the shared rate limits' Redis client), and the task
        journal the client opened itself (the default one, or one named by a URL: its SQLite
        file handles or PostgreSQL session, once its queued writes are done); a
        :class:`~kiekit.journal.Journal` or store given as ``journal=`` is the caller's, left
        open. A closed client opens new ones if used again."""
        self._transport.close()
        if isinstance(self._engine.limiter, SharedRateLimiter):
            self._engine.limiter.close()
        journal = self._session.recorder.journal
        if self._session.owns_journal and journal is not None:
            journal.close(let_go=True)  # its rows are worked on no more: kie resume may

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient:
    """The asyncio twin of :class:`Client`, with the same methods as coroutines.

    Many tasks of one event loop may share it. It serves one running loop at a time: after one
    ``asyncio.run`` it serves the next (its connections closed with the loop that ended), but a
    loop still running in another thread gets a ConfigurationError; make one client per loop.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        upload_base_url: str | None = None,
        transport: AsyncTransport | SyncTransport | None = None,
        registry: Registry | None = None,
        poll: PollPolicy | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        rate_limits: RateLimitsOption = DOCUMENTED_LIMITS,
        journal: JournalOption = True,
        downloads: DownloadPolicy | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        observer: Observer | None = None,
    ) -> None:
        try:
            network = _network(transport, timeout, proxy, trust_env, ssl_context)
            self._session = _session(
                api_key,
                base_url,
                upload_base_url,
                registry,
                poll,
                retry,
                rate_limits,
                journal,
                downloads,
                observer,
            )
            self._engine = self._session.engine
            if transport is None:
                from kiekit._transports.aiohttp_transport import AiohttpTransport

                transport = AiohttpTransport(**network)
                _collected_closes(self, self._session, transport)
            else:  # the caller's transport is theirs to close
                _collected_closes(self, self._session, None)
        except Exception as exc:  # as Client's: no key or password left in a frame
            api_key = base_url = upload_base_url = proxy = None
            network = {}
            clean_chain(exc)
            raise
        self._transport = transport
        self._downloads = AsyncTurns()  # one download of a task at a time

    def __repr__(self) -> str:
        return f"AsyncClient({_where(self)})"

    @property
    def base_url(self) -> str:
        """The KIE API this client talks to (its tasks live there)."""
        return self._engine.base_url

    @property
    def journal(self) -> Journal | None:
        """The task journal this client records its creates in (None with ``journal=None``)."""
        return self._session.recorder.journal

    async def hand_off(self, task: Task | str, *, reason: str | None = None) -> None:
        """As :meth:`Client.hand_off` (the journal written off the event loop)."""
        await drive_async(self._session.hand_off(task, reason=reason), self._transport)

    async def adopt(
        self, task_id: str, model: str, *, out_dir: str | os.PathLike[str] | None = None
    ) -> Task:
        """As :meth:`Client.adopt`: a task created outside kiekit, taken into the journal
        (written off the event loop)."""
        flow = self._session.adopt(task_id, model, out_dir=out_dir)
        return await drive_async(flow, self._transport)

    async def submit(
        self,
        model: str,
        params: InputLike = None,
        /,
        *,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        **fields: Any,
    ) -> Task:
        """As :meth:`Client.submit`: the input validated before any I/O, then the create.
        Cancelled once a graceful stop began (``kie batch``'s Ctrl-C or SIGTERM), a create
        already sent is let finish first (kiekit._engine.drain)."""
        await self._ready()
        sending = SendState()
        flow = self._session.submit(
            model, params, fields, callback_url=callback_url, idempotency_key=idempotency_key,
            out_dir=out_dir, sending=sending,
        )  # fmt: skip
        return await self._session.drain.create(drive_async(flow, self._transport), sending)

    async def _ready(self) -> None:
        """Open the transport before a create's intent row is written: its first open
        (aiohttp's import) took over a second on a busy machine, and a create stopped in it
        (a kill, a cancellation) left a row "outcome unknown" that had never been sent."""
        ready = getattr(self._transport, "ready", None)
        if ready is not None:
            await ready()

    async def call(self, request: Request, *, task_id: str | None = None) -> Any:
        """As :meth:`Client.call`: one request a provider describes; KIE's ``data``."""
        return await drive_async(self._session.call(request, task_id=task_id), self._transport)

    async def status(self, task: Task) -> TaskStatus:
        """As :meth:`Client.status`: one status call."""
        return await drive_async(self._session.status(task), self._transport)

    async def wait(
        self, task: Task, *, timeout: float | None = None, on_status: StatusHook | None = None
    ) -> Results:
        """As :meth:`Client.wait`: poll until the task succeeds (its results) or fails
        (TaskFailedError); WaitTimeoutError after ``timeout`` seconds."""
        flow = self._session.wait(task, timeout=timeout, on_status=on_status)
        return await drive_async(flow, self._transport)

    async def finish(self, task: Task, status: TaskStatus) -> Results:
        """As :meth:`Client.finish`: a wait's end from a final status in hand, nothing sent."""
        return await drive_async(self._session.finish(task, status), self._transport)

    async def download(self, results: Results, out_dir: str | os.PathLike[str]) -> list[Path]:
        """As :meth:`Client.download`: the result files written into ``out_dir`` (one
        download of a task into one folder at a time on this client: a second waits for the
        first)."""
        async with self._downloads.turn(results.task_id, out_dir):
            flow = self._session.download(results, out_dir)
            return await drive_async(flow, self._transport)

    async def download_url(self, url: str, *, task_id: str | None = None) -> str:
        """As :meth:`Client.download_url`: a fresh direct link, valid 20 minutes."""
        flow = self._session.download_url(url, task_id=task_id)
        return await drive_async(flow, self._transport)

    async def credits(self) -> float:
        """As :meth:`Client.credits`: the account's credit balance."""
        return await drive_async(self._session.credits(), self._transport)

    async def upload(
        self, source: Source, *, upload_path: str = "kiekit", file_name: str | None = None
    ) -> UploadedFile:
        """As :meth:`Client.upload`: a file put on KIE's upload host."""
        flow = self._session.upload(source, upload_path=upload_path, file_name=file_name)
        return await drive_async(flow, self._transport)

    async def generate(
        self,
        model: str,
        params: InputLike = None,
        /,
        *,
        out_dir: str | os.PathLike[str],
        timeout: float | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> list[Path]:
        """As :meth:`Client.generate`: submit, wait and download; the files written."""
        await self._ready()
        flow = self._session.generate(
            model, params, fields, out_dir=out_dir, timeout=timeout, callback_url=callback_url,
            idempotency_key=idempotency_key,
        )  # fmt: skip
        return await drive_async(flow, self._transport)

    async def chat(
        self,
        model: str,
        messages: MessagesLike,
        /,
        *,
        system: str | None = None,
        timeout: float | None = None,
        **options: Unpack[ChatOptions],
    ) -> ChatReply:
        """As :meth:`Client.chat`: the chat model's whole answer within ``timeout`` seconds
        (default ``CHAT_DEADLINE``), never retried: KIE charges each call."""
        bounds = chat_flows.Bounds.of(timeout)
        provider, call = chat_flows.prepare(self._engine, model, messages, system, options)
        flow = chat_flows.chat(self._engine, provider, call, bounds)
        return await drive_async(flow, self._transport)

    def chat_stream(
        self,
        model: str,
        messages: MessagesLike,
        /,
        *,
        system: str | None = None,
        timeout: float | None = None,
        **options: Unpack[ChatOptions],
    ) -> AsyncChatStream:
        """``async for delta in kie.chat_stream(...)``; validated at once, sent on first read;
        ``timeout`` as :meth:`Client.chat_stream`'s."""
        bounds = chat_flows.Bounds.of(timeout)
        provider, call = chat_flows.prepare(self._engine, model, messages, system, options)
        flow = chat_flows.chat_stream(self._engine, provider, call, bounds)
        return AsyncChatStream(flow, self._transport)

    async def close(self) -> None:
        """Close the connections (and the shared rate limits' Redis client). Unlike a closed
        :class:`Client`, a closed AsyncClient is not opened again: a call still in flight
        fails with an error saying the client was closed (a create's outcome is then unknown
        if it may have been sent, and journaled so), and a later call raises
        ConfigurationError, having sent nothing. (A client whose event loop ended without
        ``close()`` serves the next loop.) The task journal the client opened itself is
        closed too, as :meth:`Client.close` does, off the event loop; one given as
        ``journal=`` is left open."""
        result = self._transport.close()
        if result is not None:
            await result
        if isinstance(self._engine.limiter, SharedRateLimiter):
            await self._engine.limiter.aclose()
        journal = self._session.recorder.journal
        if self._session.owns_journal and journal is not None:
            await journal.aclose(let_go=True)  # its rows are worked on no more

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
