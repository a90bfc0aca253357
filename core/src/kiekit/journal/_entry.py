"""A journal row and its states; where kiekit keeps its data."""

from __future__ import annotations

import enum
import functools
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from kiekit._paths import is_file
from kiekit.errors import (
    RETENTION_DAYS,
    ApiError,
    ConfigurationError,
    DownloadError,
    KieError,
    OutcomeUnknownError,
    ResultsExpiredError,
    TaskFailedError,
)
from kiekit.models import Asset

DATA_DIR_ENV = "KIEKIT_DATA_DIR"
FSYNC_ENV = "KIEKIT_JOURNAL_FSYNC"
JOURNAL_FILE = "journal.sqlite3"
# KIE keeps generated media 14 days (kie-api.md §1, §8): a result file deleted from disk is
# fetched again by ``kie resume`` only while its link may still answer.
RESULT_LIFETIME = RETENTION_DAYS * 86400.0
# The error type marking a success whose links were handed on, not downloaded (Entry.handed_off)
HANDED_OFF = "HandedOff"


@frozen
class UnlessHandedOff:
    """A row's new ``error``, written with the rest of its change (one statement) unless the row
    is a success whose links were handed off (:attr:`Entry.handed_off`): that row keeps its mark.
    A wait or a download that was running when its task was handed off (in another process, or
    in this one) reports late; its report must not clear the mark, or ``kie resume`` would fetch
    the files of links handed on. kiekit's stores take it (they say ``keeps_hand_offs``); the
    journal gives a store of one's own without that the bare ``error``."""

    error: Mapping[str, Any] | None = None

    def over(self, row: Entry) -> Mapping[str, Any] | None:
        """The error ``row`` has after this write (the memory store's reading of the rule)."""
        return row.error if row.handed_off else self.error


# How to get past a journal that cannot be opened, said with why it cannot be.
WAYS_OUT = (
    "kiekit records each task there before it is sent: set KIEKIT_DATA_DIR to a folder you can "
    "write, or name another journal with KIEKIT_JOURNAL_URL (or `kie COMMAND --journal`: "
    "a file path, sqlite:///path or postgresql://…); in Python, journal=None records nothing"
)


# Which journal is used, the first given winning: advice to use another must name the way
# that chose it (KIEKIT_DATA_DIR moves nothing a --journal names).
CHOSEN_BY = (
    "the one `kie COMMAND --journal` names, else KIEKIT_JOURNAL_URL's (a file path, "
    "sqlite:///path or postgresql://…), else journal.sqlite3 in KIEKIT_DATA_DIR (in Python, "
    "Client(journal=…) comes first)"
)


def data_dir() -> Path:
    """Where kiekit keeps its data: ``$KIEKIT_DATA_DIR``, else the platform's user data folder
    (``~/.local/share/kiekit`` on Linux, ``~/Library/Application Support/kiekit`` on macOS,
    ``%LOCALAPPDATA%\\kiekit`` on Windows — platformdirs knows each system's convention).
    ConfigurationError when ``$KIEKIT_DATA_DIR`` is set but empty (another journal than the
    one meant: settings). JournalError when there is no home directory to find it under.

    The home directory, on Linux and macOS: ``$HOME``; with HOME unset, the user's home in the
    password database (``/etc/passwd``), as a shell's ``~`` is (cron, a systemd service); with
    HOME set but empty or relative (``HOME=`` to mean "no home"), none: JournalError, naming
    KIEKIT_DATA_DIR, rather than a journal in the home HOME was set to hide (``XDG_DATA_HOME``
    set to a full path on Linux still names the folder: HOME is not needed then)."""
    from kiekit.settings import setting

    override = setting(DATA_DIR_ENV, unset_means="the journal in the user's data folder")
    if override is not None:
        return expanded(Path(override))
    if (why := _no_home()) is not None:
        raise JournalError(
            f"task journal: no folder to keep it in ({why}: the user's data folder is under "
            f"it). {WAYS_OUT}"
        )
    import platformdirs

    try:
        return Path(platformdirs.user_data_dir("kiekit", appauthor=False))
    except RuntimeError as exc:  # no HOME, and no passwd entry for this user (a container's)
        raise JournalError(f"task journal: no folder to keep it in ({exc}). {WAYS_OUT}") from exc


def private_folder(folder: Path) -> None:
    """Make one of kiekit's folders readable by this user alone (0700), when kiekit makes it
    (the data folder, ``KIEKIT_DATA_DIR``, whatever makes it first: the journal, ``kie upload
    -``'s copy of standard input); a folder that exists (one the user made, or their home)
    keeps its mode. The journal holds every prompt and create body, result links that work
    without credentials for 14 days, and a hash of the API key: not for the other users of a
    shared machine or CI runner."""
    if folder.is_dir():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)  # ~/.local/share and the like: as usual
    folder.mkdir(mode=0o700, exist_ok=True)


def _no_home(*, xdg: bool = True) -> str | None:
    """Why there is no home directory though HOME is set: it is empty or relative (expanduser
    would root an empty one at /, platformdirs falls back to the password database's home
    without a word). None when HOME is unset (the password database says the home, as for a
    shell's ``~``) or a full path, on Windows, and, with ``xdg``, when ``XDG_DATA_HOME`` names
    the folder on Linux (platformdirs reads no HOME then)."""
    home = os.environ.get("HOME")
    if sys.platform == "win32" or home is None or os.path.isabs(home):
        return None
    if xdg and sys.platform != "darwin" and os.path.isabs(os.environ.get("XDG_DATA_HOME", "")):
        return None
    return f"HOME is set to {home!r}, which names no home directory"


def expanded(path: Path) -> Path:
    """``path`` with ``~`` expanded; JournalError when there is no home directory to expand it
    to (pathlib's RuntimeError said nothing of the journal, nor of the way out), HOME set but
    empty or relative included (``~/kiekit`` became ``/kiekit``: data_dir)."""
    text = str(path)
    home_named = text == "~" or text.startswith("~" + os.sep)
    if home_named and (why := _no_home(xdg=False)) is not None:
        raise JournalError(f"task journal {path}: {why} to expand ~ to. {WAYS_OUT}")
    try:
        return path.expanduser()
    except RuntimeError as exc:
        raise JournalError(f"task journal {path}: {exc} ({path} names it). {WAYS_OUT}") from exc


class _NotKept(enum.Enum):
    """The one value of :data:`NOT_KEPT` (an enum member: one object, pickled as itself)."""

    NOT_KEPT = "not kept"

    def __repr__(self) -> str:
        return "NOT_KEPT"

    def __bool__(self) -> bool:
        return False


# ``Entry.value`` of a row whose task's value was never recorded: one written by a kiekit before
# values were kept, or not seen finished yet. Not None: a task whose value is None (a model whose
# output is files only) has that recorded, and is not asked about again for it.
NOT_KEPT = _NotKept.NOT_KEPT


class EntryState(enum.Enum):
    """Where a journal row stands. Only ``unknown`` and ``sending`` are ambiguous."""

    CLAIMED = "claimed"  # a worker holds the job (owner, lease) and has not sent its create
    SENDING = "sending"  # intent written, the create is in flight (a crash leaves it so)
    UNKNOWN = "unknown"  # the create may or may not have reached KIE (OutcomeUnknownError)
    REJECTED = "rejected"  # KIE refused the create with a clear error: nothing was created
    CREATED = "created"  # KIE gave a task id; not seen finished yet
    SUCCEEDED = "succeeded"  # finished with results; ``files`` says what is on disk
    FAILED = "failed"  # the task ran and failed (TaskFailedError)

    @property
    def outcome_unknown(self) -> bool:
        return self in (EntryState.SENDING, EntryState.UNKNOWN)

    @property
    def known(self) -> bool:
        """False for a state this kiekit does not know (:meth:`read`)."""
        return self._name_ != _NOT_KNOWN

    @classmethod
    def read(cls, value: str) -> EntryState:
        """The state a stored row names. One this kiekit does not know (a newer kiekit's, or a
        row edited by hand) is kept as written, its ``value``, ``known`` False and none of the
        states above: its row is listed and left alone, rather than making every listing it is
        in a traceback. ``EntryState(value)`` still refuses it."""
        try:
            return cls(value)
        except ValueError:
            return _not_known_state(value)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return EntryState.read, (self._value_,)  # an unknown state too (Enum's way is by value)


_NOT_KNOWN = "NOT_KNOWN"


@functools.lru_cache(maxsize=64)
def _not_known_state(value: str) -> EntryState:
    """One object per state not known (states compare by identity, rows by their states)."""
    state = object.__new__(EntryState)  # not a member: EntryState(value) still refuses it
    state._name_, state._value_ = _NOT_KNOWN, value
    return state


def not_known(entry: Entry) -> str:
    """What is said of a row in a state this kiekit does not know: left alone, and why."""
    return (
        f"row {entry.key!r} is {entry.state.value!r}, a state this kiekit does not know (written "
        "by a newer kiekit, or by hand): left alone; upgrade kiekit to act on it"
    )


@frozen
class Entry:
    """One journal row: a create that was attempted, and everything learned about its task."""

    key: str  # the row's own id: a random one, or a batch job's key
    model: str
    request: Mapping[str, Any] | None  # the create request's JSON body as sent (never the key)
    state: EntryState
    created_at: float  # Unix seconds
    updated_at: float
    task_id: str | None = None
    base_url: str | None = None  # which KIE (or mock) the task lives on
    out_dir: str | None = None  # where its files go, when known before the download
    # Who works on the row, and until when (the store's clock, Unix seconds): other workers leave
    # a row alone while its lease runs, and take it over after (docs/teams.md). None: nobody.
    owner: str | None = None
    lease_until: float | None = None
    assets: tuple[Asset, ...] = ()
    files: tuple[str, ...] = ()
    error: Mapping[str, Any] | None = field(default=None)
    # Fields added since are keyword-only (attrs puts them last): a store of one's own that
    # builds rows by position keeps each value in its field.
    # Which KIE account made it: a hash of the API key (never the key), so an idempotency key
    # reused under another key is refused, not answered with a task that account cannot see.
    account: str | None = field(default=None, kw_only=True)
    # What the finished task returned that is not a file (``Results.value``: Suno's lyrics and
    # song ids, MIDI notes, a market model's resultObject), as JSON; NOT_KEPT until the task is
    # seen finished, and in rows of a kiekit before it was kept. Nothing else keeps it: a batch
    # rerun or ``kie resume`` reads it here, not from KIE (whose record may be gone, §8).
    value: Any = field(default=NOT_KEPT, kw_only=True)
    # The `kie batch --celery` run whose worker's create made the task, written with its task
    # id by that worker alone (Journal.created): the run that paid for it, whoever finishes
    # it. None: not known (not a Celery batch's, an older kiekit's worker, settled by hand).
    run: str | None = field(default=None, kw_only=True)

    @property
    def value_kept(self) -> bool:
        """Whether the task's ``value`` is recorded (None included), not :data:`NOT_KEPT`."""
        return self.value is not NOT_KEPT

    @property
    def value_to_ask(self) -> bool:
        """A success whose ``value`` this row never kept (:data:`NOT_KEPT`: a kiekit before
        values were kept wrote it) while KIE still keeps its task (RESULT_LIFETIME, kie-api.md
        §8): worth one status call, nothing paid, to ask for it again and keep it (a ``kie
        batch`` run again, ``kie resume``). Not links handed off: their consumer had them."""
        return (
            self.state is EntryState.SUCCEEDED
            and self.task_id is not None
            and not self.value_kept
            and not self.handed_off
            and self.created_at >= time.time() - RESULT_LIFETIME
        )

    @property
    def handed_off(self) -> bool:
        """A success whose result links were handed on (to a webhook's consumer, a queue, a
        user) instead of downloaded: done, no file owed (``Journal.hand_off``)."""
        return self.state is EntryState.SUCCEEDED and (self.error or {}).get("type") == HANDED_OFF

    @property
    def unfinished(self) -> bool:
        """Still owed something: a task not seen finished, or result files not all on disk —
        never downloaded, or deleted since while KIE still keeps them (RESULT_LIFETIME) —
        unless its links were handed off instead."""
        return self.owed_with(self.files_on_disk)

    def owed_with(self, files_on_disk: Callable[[], bool]) -> bool:
        """:attr:`unfinished`, with the files looked for by ``files_on_disk`` (only when it
        matters): ``kie tasks`` counted them already, and a stat per file is its row's cost."""
        if self.state is EntryState.CREATED:
            return True
        if self.handed_off:
            return False
        if self.state is not EntryState.SUCCEEDED or len(self.files) < len(self.assets):
            return self.state is EntryState.SUCCEEDED
        return self.created_at >= time.time() - RESULT_LIFETIME and not files_on_disk()

    def files_on_disk(self) -> bool:
        # no Path: `kie resume` and `kie tasks --state unfinished` ask it of every success of
        # the last two weeks; an unreadable path counts as missing (owed again), and one whose
        # name this locale spells otherwise is looked for by its bytes (_paths.is_file)
        return len(self.files) >= len(self.assets) and all(is_file(f) for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "task_id": self.task_id,
            "model": self.model,
            "state": self.state.value,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "base_url": self.base_url,
            "out_dir": self.out_dir,
            "owner": self.owner,
            "lease_until": self.lease_until,
            "result_urls": [asset.url for asset in self.assets],
            "files": list(self.files),
            "value": self.value if self.value_kept else None,
            # False: no value recorded (not finished yet, or a row of a kiekit before values
            # were kept: NOT_KEPT), told apart from a task whose value is null
            "value_kept": self.value_kept,
            "error": dict(self.error) if self.error is not None else None,
            "request": self.request,
        }


def files_expired(row: Entry, error: DownloadError) -> ResultsExpiredError | None:
    """``error`` as :class:`ResultsExpiredError` when it says ``row``'s files are gone for good:
    a link that answered as expired (403/404/410) and that KIE refused to renew (download-url
    answers 422 "url is wrong", kie-api.md §4) for a task created more than KIE's 14 days of
    retention ago (§8). The status says success, yet nothing is left to fetch: owing the row
    for ever would fail every later ``kie resume``, and a ``kie batch`` fetching again the
    files an earlier run wrote and lost says why it cannot. A younger task's refusal stays a
    DownloadError (owed: something else is wrong), and so does a renewal the network lost."""
    from kiekit._engine.file_policy import EXPIRED_LINK_STATUSES

    refused = isinstance(error.__cause__, ApiError)  # KIE answered the renewal, and said no
    old = row.created_at < time.time() - RESULT_LIFETIME
    if not (refused and old and error.http_status in EXPIRED_LINK_STATUSES):
        return None
    return ResultsExpiredError(
        f"results expired: KIE keeps them {RETENTION_DAYS} days, and this task was "
        f"created more than that ago; its files were never fetched ({error.message})",
        task_id=row.task_id,
    )


def error_record(exc: BaseException) -> dict[str, Any]:
    """What the journal keeps of an error: its type, KIE's code and message, never a traceback."""
    record: dict[str, Any] = {"type": type(exc).__name__}
    if isinstance(exc, ApiError):
        record["code"] = exc.code
        record["message"] = exc.kie_message
    elif isinstance(exc, TaskFailedError):
        record["code"] = exc.code
        record["message"] = exc.fail_message
    elif isinstance(exc, KieError):
        record["message"] = exc.message
    elif isinstance(exc, KeyboardInterrupt) or _cancelled(exc):
        # a stop, in words: `kie` raises SIGTERM as a KeyboardInterrupt of its own (a private
        # class name in `kie tasks` said nothing), and its batch cancels with the signal's words
        ctrl_c = isinstance(exc, KeyboardInterrupt)
        record["type"] = "Interrupted" if ctrl_c else "Cancelled"
        record["message"] = str(exc) or ("interrupted (SIGINT)" if ctrl_c else "cancelled")
    else:
        record["message"] = str(exc) or type(exc).__name__
    if isinstance(exc, KieError) and exc.parent_task_id:  # a refused extend's or 4K's parent
        record["parent_task_id"] = exc.parent_task_id
    if isinstance(exc, OutcomeUnknownError):
        record["cause"] = cause_record(exc.cause)
    return record


def cause_record(cause: KieError) -> dict[str, Any]:
    """What made a create's outcome unknown, in fields an operator (or a script) decides on
    before ``kie settle``: ``type``, the failure's class (``ServerError``: an HTTP 5xx, from a
    proxy or gateway in front of KIE, kie-api.md §1, which may not have passed the create on;
    ``TransportError``: the connection lost once the request was sent; ``ProtocolError``: KIE
    answered code 200 with no readable task id; ``SenderGone``: the worker that sent it ended
    first, :meth:`Journal.sender_lost`); ``http_status``, the HTTP status that came back
    (None: no HTTP answer); ``code``, the code of the answer's body or status (None without
    one); ``answered``, a connection that broke after the answer had begun to come (the
    request reached the server)."""
    api = isinstance(cause, ApiError)
    return {
        "type": type(cause).__name__,
        "http_status": cause.http_status if isinstance(cause, ApiError) else None,
        "code": cause.code if api else None,
        "answered": getattr(cause, "answered", False) is True,
    }


def error_report(exc: BaseException) -> dict[str, Any]:
    """An error as a command reports it (``kie run --json``, results.jsonl, ``kie resume
    --json``): :func:`error_record` and the fields a script acts on without reading the
    message (:func:`error_fields`)."""
    return {**error_record(exc), **error_fields(exc)}


def error_fields(exc: BaseException) -> dict[str, Any]:
    """An error's fields a script acts on without reading its message: ``path``, the local
    file an upload or a download concerns; a download's ``url`` (without its query: a signed
    link's is a credential while it lasts, as the message says it) and ``http_status`` (the
    file host's, null when none answered); an unknown outcome's journal ``key``, for
    ``kie settle KEY`` (null without a journal), as a stopped create's ``Interrupted`` has;
    ``field``, the input field a ValidationError names or a failed upload was made for."""
    from kiekit.errors import DownloadError, OutcomeUnknownError, ValidationError, without_query

    if not isinstance(exc, KieError):
        return {}
    fields: dict[str, Any] = {} if exc.path is None else {"path": exc.path}
    if exc.field is not None:
        fields["field"] = exc.field
    if isinstance(exc, DownloadError):
        url = without_query(exc.url) if exc.url else None
        fields |= {"path": exc.path, "url": url, "http_status": exc.http_status}
    if isinstance(exc, OutcomeUnknownError):
        fields["key"] = exc.key
    if isinstance(exc, ValidationError) and exc.key is not None:  # the row a key or task has
        fields["key"] = exc.key
    return fields


def _cancelled(exc: BaseException) -> bool:
    """An asyncio task's cancellation, told without importing asyncio (a sync client loads no
    event loop): one was raised, so asyncio is loaded."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


class JournalError(ConfigurationError):
    """The journal cannot be read or written (a full disk, a read-only folder, a broken file).

    Raised before a create is sent, so nothing is paid for unrecorded; after a create, a
    failed write is logged instead (the caller still gets the task and its id).
    ``unreachable``: its database could not be reached (down, restarting, the network):
    trying again later can help (``retryable``; exit 1 from ``kie``), unlike a journal
    misconfigured (a bad URL, a path that is a file: a usage error, exit 2)."""

    def __init__(
        self, message: str, *, task_id: str | None = None, unreachable: bool = False
    ) -> None:
        super().__init__(message, task_id=task_id)
        self.unreachable = unreachable
        self.retryable = unreachable
