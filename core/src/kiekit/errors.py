"""The one exception tree of kiekit.

::

    KieError
    ├── ConfigurationError       the client cannot start (no API key, bad base URL)
    │   ├── JournalError         the task journal cannot be written (kiekit.journal)
    │   └── RateLimitStoreError  the shared rate limits' Redis cannot be used; carries its URL
    ├── ValidationError          input rejected before any I/O; names the field (also a ValueError)
    ├── UnknownModelError        no installed provider owns the model id (also a LookupError)
    ├── PluginError              an installed plugin broke the contract
    ├── TransportError           the bytes did not make it (refused, reset, timed out); retryable
    │                            (not a chat answer cut off once KIE began answering: charged)
    │   ├── StreamClosedError    a sync chat stream closed (its close(), its client's) mid-read
    │   ├── FileReadError        a file to upload could not be read here (gone, shrank); its path
    │   └── DownloadError        a result file could not be fetched; carries the URL
    │       └── FileWriteError   ... or not written here (disk full, read-only); carries the path
    ├── OutcomeUnknownError      a create may have reached KIE, but its answer was lost
    ├── TaskTakenOverError       another worker took over the task's journal row (this one
    │   │                        stalled past its lease): it waits and downloads; nothing here
    │   └── TakenOver            ... while a create waited to be sent again (kiekit.journal)
    ├── ProtocolError            an answer kiekit cannot read (not JSON, unknown state, wrong shape)
    │   ├── CallbackError        a callback body that is not KIE's (kiekit.webhooks)
    │   │   └── SignatureError   its signature is missing, forged or stale
    │   └── PluginHookError      a plugin's hook raised a non-kiekit error, or returned the
    │                            wrong type; names the distribution, hook, model and task
    ├── ResultsExpiredError      the task is past KIE's retention (14 days): final, nothing to fetch
    ├── ParentTaskError          a follow-up named an earlier task that cannot give it (failed,
    │   │                        unknown, or no video of its kind); nothing is paid for
    │   └── ParentNotFinishedError   ... one still generating: ask again once it has succeeded
    ├── ResourceLimitError       this machine refused a thread (a memory cap): fewer at once
    ├── ApiError                 KIE answered with a body code other than 200
    │   ├── BadRequestError          400
    │   ├── AuthenticationError      401
    │   ├── InsufficientCreditsError 402
    │   ├── NotFoundError            404
    │   │   └── TaskNotFoundError    no such task, however the family says so (404, 422, data null)
    │   ├── UnprocessableError       422  (KIE's own validation)
    │   ├── RateLimitedError         429  retryable
    │   ├── KeyQuotaExceededError    433  (a sub-key's usage cap)
    │   ├── InputFetchError          451  (KIE could not fetch an input file)
    │   ├── MaintenanceError         455  retryable
    │   ├── ServerError              500 and real HTTP 5xx  retryable
    │   ├── GenerationFailedError    501
    │   ├── FeatureDisabledError     505
    │   └── QueueFullError           550  retryable
    ├── TaskFailedError          the task itself ended in the failed state
    └── WaitTimeoutError         the wait's deadline passed; the task lives on, its id is kept

KIE answers errors with HTTP 200 and the code in the body (kie-api.md §1, §7), so ``ApiError``
is chosen from the body code at one place (:func:`api_error`), never from message text.
Every error carries ``task_id`` when one is known, so nothing paid for is lost with the traceback,
and ``retryable`` says whether trying the same call again can help. ``code`` is KIE's code
wherever KIE gave one (a refused call's body code, a failed task's failCode), None otherwise.
A refused follow-up call (extend, 4K: a create that names an earlier task) made no task: its
``task_id`` stays None, and ``parent_task_id`` names the earlier task it was refused for.
"""

from __future__ import annotations

import errno as errno_codes
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kiekit._lazy import LazyModule  # a leaf too
from kiekit._redact import printable  # a leaf too
from kiekit.models import Request, Results  # a leaf module: it imports nothing of kiekit

if TYPE_CHECKING:
    from kiekit.chat import types as chat_types
else:  # read only when get_type_hints reads KieError.partial: `import kiekit` stays light
    chat_types = LazyModule("kiekit.chat.types")

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "DownloadError",
    "FeatureDisabledError",
    "FileReadError",
    "FileWriteError",
    "GenerationFailedError",
    "InputFetchError",
    "InsufficientCreditsError",
    "KeyQuotaExceededError",
    "KieError",
    "MaintenanceError",
    "NotFoundError",
    "OutcomeUnknownError",
    "ParentNotFinishedError",
    "ParentTaskError",
    "PluginError",
    "PluginHookError",
    "ProtocolError",
    "QueueFullError",
    "RateLimitStoreError",
    "RateLimitedError",
    "ResourceLimitError",
    "ResultsExpiredError",
    "ServerError",
    "StreamClosedError",
    "TaskFailedError",
    "TaskNotFoundError",
    "TaskTakenOverError",
    "TransportError",
    "UnknownModelError",
    "UnprocessableError",
    "ValidationError",
    "WaitTimeoutError",
    "api_error",
    "http_error",
    "task_not_found",
]


class KieError(Exception):
    """Base of every error kiekit raises.

    ``partial``: for a streamed chat answer that broke off (cut, an error event, no final
    event), what came before the error, as a :class:`~kiekit.chat.ChatReply` (its text and
    thinking, and the model, usage and credits as far as they were said; only the tool calls
    that came whole); None otherwise. The call was received, and may be charged for it.
    """

    retryable: bool = False  # a class's answer; a TransportError may say otherwise for itself
    # KIE's code, where KIE gave one: a refused call's body code (ApiError, a number), a failed
    # task's failCode (TaskFailedError: the number it spells, else as it came); None for an
    # error of kiekit's own or of the network. Every error has it, so one ``except KieError``
    # handler may log ``err.code``.
    code: int | str | None = None
    # The local file concerned, when one is: an upload's (any failure of it), a download's
    path: str | None = None
    # The input field concerned, when one is: a ValidationError's, or the field a file was
    # uploaded for (`kie run --image`, `--input FIELD=@file`) when its upload failed
    field: str | None = None
    # Seconds the answer's Retry-After header asked for, when it had one (kiekit.retry)
    retry_after: float | None = None
    partial: chat_types.ChatReply | None = None
    # The earlier task a refused follow-up create named (extend, 4K …): no task was made, so
    # ``task_id`` is None, but a chain of dozens of clips must know which parent was refused
    parent_task_id: str | None = None

    def __init__(self, message: str, *, task_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.task_id = task_id

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword fields, not ``args``: rebuild from the instance's state so
        # errors survive pickling (multiprocessing, concurrent.futures workers).
        return (_restore, (type(self), self.args, self.__dict__.copy()))

    def __str__(self) -> str:
        if self.task_id:
            return f"{self.message} (task {self.task_id})"
        if self.parent_task_id:
            return f"{self.message} (parent task {self.parent_task_id})"
        return self.message


def _restore(cls: type[KieError], args: tuple[Any, ...], state: dict[str, Any]) -> KieError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ConfigurationError(KieError):
    """The client cannot be used as configured, e.g. no API key was given."""


class RateLimitStoreError(ConfigurationError):
    """The Redis that keeps the shared rate limits (kiekit.shared_limits) cannot be reached or
    used; ``url`` is its address, without a password. Nothing was sent to KIE. ``outage``:
    it had answered this process before (a restart or a fail-over, which a create waits out
    for about a minute before this is raised), rather than never (a wrong URL, said at once)."""

    def __init__(self, message: str, *, url: str, outage: bool = False) -> None:
        super().__init__(message)
        self.url = url
        self.outage = outage


class ValidationError(KieError, ValueError):
    """Input that KIE documents as invalid, caught before any request is sent."""

    field: str  # always names one
    # The journal row concerned, when one is: an idempotency key used before for another
    # model or input (its earlier task is ``task_id``), a task adopted that a row has already
    key: str | None = None

    def __init__(
        self, field: str, message: str, *, task_id: str | None = None, key: str | None = None
    ) -> None:
        super().__init__(f"{field}: {message}", task_id=task_id)
        self.field = field
        self.key = key


class UnknownModelError(KieError, LookupError):
    """No installed provider owns this model id."""

    def __init__(
        self,
        model: str,
        known: list[str],
        *,
        suggestions: list[str] | None = None,
        served_by: str | None = None,
    ) -> None:
        hint = ", ".join(sorted(known)) if known else "none installed"
        guess = did_you_mean(suggestions or [])
        serve = f"; {served_by}" if served_by else ""  # which distribution would serve it
        super().__init__(
            f"no installed provider offers model {model!r}{guess}{serve} (installed: {hint})"
        )
        self.model = model
        self.suggestions = list(suggestions or [])


def did_you_mean(suggestions: list[str]) -> str:
    """``"; did you mean 'a' or 'b'?"`` for the closest ids, or nothing."""
    if not suggestions:
        return ""
    return "; did you mean " + " or ".join(repr(s) for s in suggestions) + "?"


class PluginError(KieError):
    """An installed plugin does not keep the provider contract."""


class TransportError(KieError):
    """The request or its answer did not make it across the network.

    ``maybe_sent`` is False only when the request provably never left (connection refused,
    DNS failure, connect timeout): then even a create may be sent again (see kiekit.retry).
    ``answered`` is True when the answer had begun to come (its HTTP head was read) before it
    broke: the request certainly reached KIE. ``retryable`` is False for a call known to be
    received and paid for (a chat answer cut off once KIE began answering): sending it again
    would pay again.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        task_id: str | None = None,
        maybe_sent: bool = True,
        retryable: bool | None = None,
        answered: bool = False,
    ) -> None:
        super().__init__(message, task_id=task_id)
        self.maybe_sent = maybe_sent
        self.answered = answered
        if retryable is not None:
            self.retryable = retryable


class StreamClosedError(TransportError):
    """A sync chat stream was closed (its ``close()``, or its client's) from another thread
    while a read waited for its bytes (kiekit.chat.ChatStream). Once KIE's answer had begun
    (``answered``) the call was received and charged, as any answer cut off then is; never
    retryable. Told apart by its type, so that a worker that closed its own stream on purpose
    can say so without reading the message."""

    retryable = False


class FileReadError(TransportError):
    """This machine could not read a local file while uploading it: the file was deleted,
    moved or made unreadable before it was opened, or it shrank, grew or was written to (a
    writer at work) while it was sent. Sending it again does not help until the file is put
    right, so it is not retried; ``path`` says which file, ``errno`` why (None when it
    changed). Like a network failure, the
    upload did not make it, hence a TransportError; nothing was stored on the upload host."""

    retryable = False

    def __init__(
        self, message: str, *, path: str | os.PathLike[str], errno: int | None = None
    ) -> None:
        super().__init__(message)
        self.path = str(path)
        self.errno = errno


class DownloadError(TransportError):
    """A result file could not be fetched, or what came is not the file (an error page, too
    few bytes, more than the download policy allows). ``http_status`` is the file host's
    status when it answered one; ``path`` the local file when one is concerned; ``curable``
    whether trying again may help (a network fault, 429 or 5xx from the host). ``url`` is the
    file's link without its query: a signed link's query is a credential while it lasts, and
    the error may be logged, pickled or sent to an error tracker. To try again, download the
    task's results again (``Client.download``: an expired link is renewed through KIE's
    download-url, kie-api.md §8); the results keep each link whole."""

    def __init__(
        self,
        message: str,
        *,
        url: str | None,
        task_id: str | None = None,
        http_status: int | None = None,
        path: str | os.PathLike[str] | None = None,
        curable: bool | None = None,
    ) -> None:
        super().__init__(message, task_id=task_id)
        self.url = None if url is None else without_query(url)
        self.http_status = http_status
        self.path = None if path is None else str(path)
        if curable is None:
            curable = http_status is None or http_status == 429 or http_status >= 500
        self.curable = curable

    def __str__(self) -> str:
        """The message, the task and the file's URL (without its query)."""
        text = super().__str__()
        if not self.url or self.url in text:
            return text
        return f"{text}; url {self.url}"


class FileWriteError(DownloadError):
    """This machine could not write a result file: disk full, a read-only folder, an output
    folder that is a file, a name too long. The task and its results live on (``kie resume``
    downloads them again); ``path`` says where, ``errno`` why."""

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str],
        url: str | None = None,
        task_id: str | None = None,
        errno: int | None = None,
    ) -> None:
        super().__init__(message, url=url, task_id=task_id, path=path, curable=False)
        self.errno = errno

    retryable = False  # the same write would fail the same way (kie resume, once it is fixed)

    def __str__(self) -> str:
        return KieError.__str__(self)  # the message names the local path: that is the news

    @classmethod
    def of(
        cls,
        exc: OSError | ValueError,
        path: str | os.PathLike[str],
        *,
        task_id: str | None = None,
        url: str | None = None,
    ) -> FileWriteError:
        if isinstance(exc, ValueError):  # a name no file can have here: a NUL, or text this
            # locale cannot encode (LC_ALL=C without UTF-8 mode: ASCII)
            reason = f"no file can have that name here ({exc})"
            return cls(f"cannot write {path}: {reason}", path=path, url=url, task_id=task_id)
        reason = exc.strerror or type(exc).__name__
        if exc.errno in (errno_codes.EEXIST, errno_codes.ENOTDIR):  # "File exists" says little
            blocker = _file_in_the_way(os.fspath(path))
            if blocker is not None:
                reason = f"{blocker} is a file, not a folder"
        return cls(
            f"cannot write {path}: {reason}",
            path=path,
            url=url,
            task_id=task_id,
            errno=exc.errno,
        )


def _file_in_the_way(path: str) -> str | None:
    """The first of ``path`` and its parents, from the top, that is a file where a folder
    should be. (os.path, not pathlib: ``import kiekit`` stays light.)"""
    steps = [path]
    while (parent := os.path.dirname(steps[-1])) and parent != steps[-1]:
        steps.append(parent)
    for step in reversed(steps):
        if os.path.exists(step) and not os.path.isdir(step):
            return step
    return None


class OutcomeUnknownError(KieError):
    """A request that creates a task (and costs credits) may have reached KIE, but no
    readable answer came back: the task may exist, or not.

    kiekit does not send it again (that could pay twice) unless
    ``RetryPolicy(retry_creates=True)``. ``model`` and ``request`` (the call as described,
    never the API key: a :class:`~kiekit.models.Request`, or the body an earlier create with
    the same idempotency key left in the journal) say what was sent; ``cause`` is the
    failure; ``key`` the task journal's row of it, when a journal holds one (``kie settle KEY``
    settles it). Look for the task on your KIE dashboard, or wait for its callback, before
    creating it again.

    A chat call (``chat=True``) lost the same way, sent in full but with no byte of its answer
    back, is not retried either: KIE charges each chat call (kie-api.md §5), and the call may
    have been answered and charged; ``model`` and ``request`` say what was asked.
    """

    def __init__(
        self,
        *,
        model: str | None,
        request: Request | Mapping[str, Any] | None,
        cause: KieError,
        key: str | None = None,
        chat: bool = False,
    ) -> None:
        if chat:
            message = (
                f"chat call to {model} may or may not have reached KIE ({cause.message}); it "
                "was not sent again: KIE charges each chat call, so sending it again may pay "
                "twice"
            )
        else:
            what = f"create of {model}" if model else "request"
            message = (
                f"{what} may or may not have reached KIE ({cause.message}); it was not sent "
                "again, so it is not paid twice: check your KIE dashboard or callback for the "
                "task before retrying"
            )
        super().__init__(message)
        self.model = model
        self.request = request
        self.cause = cause
        self.key = key


class TaskTakenOverError(KieError):
    """Another worker took over this task's journal row while this process held it: this one
    stalled past its lease (a GC pause, a stopped VM, SIGSTOP), its lease ran out, and a
    teammate's ``kie batch`` or ``kie resume`` took the task (docs/teams.md). That worker now
    waits for it and downloads its files; this wait or download stopped without polling,
    fetching or writing the row again, so no file is fetched twice and the taker's row is not
    written over. ``task_id`` is the task, ``key`` its journal row. Not a failure of the task,
    and not retryable here: the task is the other worker's now."""

    def __init__(self, task_id: str, *, key: str | None = None, owner: str | None = None) -> None:
        by = f" ({owner})" if owner else ""
        super().__init__(
            f"another worker{by} took over this task's journal row while this process was "
            "stalled past its lease: it waits for the task and downloads its files; dropped "
            "here",
            task_id=task_id,
        )
        self.key = key
        self.owner = owner


class ProtocolError(KieError):
    """An answer that does not have the shape KIE documents for it."""

    def __init__(self, message: str, *, task_id: str | None = None, payload: Any = None) -> None:
        super().__init__(message, task_id=task_id)
        self.payload = payload


class PluginHookError(ProtocolError):
    """A plugin's hook (``build_request``, ``parse_status``, ``extract_results`` …) raised an
    exception that is not kiekit's own, or returned something of the wrong type: a bug in
    that plugin, not in KIE's answer. It names the plugin's ``distribution``, the ``hook``,
    the ``model`` and the task (``task_id``) when known, and is chained to the original
    error. A ProtocolError: like an answer kiekit cannot read, it ends that task's wait (the
    task stays owed in the journal) and nothing else."""

    def __init__(
        self,
        message: str,
        *,
        distribution: str,
        hook: str,
        model: str | None = None,
        task_id: str | None = None,
        payload: Any = None,
    ) -> None:
        super().__init__(message, task_id=task_id, payload=payload)
        self.distribution = distribution
        self.hook = hook
        self.model = model


# How TaskNotFoundError begins, whatever KIE's answer was (and how kiekit before it worded the
# ProtocolError of a `data: null` status answer: rows an older kiekit wrote say so)
NO_RECORD = "KIE has no record of this task"


class ResultsExpiredError(KieError):
    """KIE no longer keeps the task's results: its retention has passed (generated media 14
    days, kie-api.md §1, §8). Final: nothing more can be fetched from the task, nor built on it
    (extend, 1080P, 4K); generate it anew. The task was made and paid for: it is not a
    :class:`TaskNotFoundError` (a row settled again as "not created" would pay twice).

    ``task_id``: the expired task a status query or an upgrade asked about; ``parent_task_id``:
    the expired task a follow-up create named (no task was made, ``task_id`` is None).
    ``code`` and ``kie_message``: KIE's answer when it refused the call (Veo's 422 "Temporarily
    supports records within 14 days", §3.3), else None (Runway's ``expireFlag`` 1, §3.4)."""

    code: int | None = None
    kie_message: str | None = None

    def __init__(
        self,
        message: str,
        *,
        task_id: str | None = None,
        parent_task_id: str | None = None,
        code: int | None = None,
        kie_message: str | None = None,
    ) -> None:
        super().__init__(message, task_id=task_id)
        self.parent_task_id = parent_task_id
        self.code = code
        self.kie_message = kie_message

    @classmethod
    def of(cls, error: ApiError, *, task_id: str | None = None) -> ResultsExpiredError:
        """KIE's refusal ``error`` (an :func:`expired_answer`), as this error."""
        return cls(
            f"results expired: KIE keeps them {RETENTION_DAYS} days, nothing more can be fetched "
            f"or built on; generate it again (KIE's answer: {error.code} "
            f"{printable(str(error.kie_message))})",
            task_id=task_id,
            parent_task_id=error.parent_task_id,
            code=error.code,
            kie_message=error.kie_message,
        )


class ParentTaskError(KieError):
    """A follow-up (Veo's 1080P: ``veo3/1080p``; a Suno WAV, stems, video, cover or MIDI KIE
    refused, told by the parent's record: Provider.refused_by_parent) named an earlier task
    that cannot give it: the task failed, is unknown to KIE, or is no video of the kind the
    follow-up takes (a 4K task, kie-api.md §3.3). Nothing was made or paid for (``task_id``
    None), and ``parent_task_id`` names the earlier task. ``parent_state`` says what it is:
    "failed", "running" (:class:`ParentNotFinishedError`), "not-found" (``field`` the input
    that named it) or "not-a-video". Final for that parent. ``code``: KIE's refusal's, when
    KIE refused the follow-up (Suno), else None."""

    def __init__(self, message: str, *, parent_task_id: str, parent_state: str) -> None:
        super().__init__(message)
        self.parent_task_id = parent_task_id
        self.parent_state = parent_state


class ParentNotFinishedError(ParentTaskError):
    """The earlier task a follow-up named is still generating: wait for it (``client.wait``),
    then ask again. KIE itself answers such a request 422 "record status is not success"
    (kie-api.md §3.3), which says nothing of why."""

    retryable = True  # the same call succeeds once the parent has


RETENTION_DAYS = 14  # generated media (kie-api.md §1, §8)
# KIE's answer, body code 422, for a task past retention: a record query's (§3.3, Veo), and
# the mock's for the calls that build on such a task (extend, 1080P, 4K) in every family
PAST_RETENTION = "Temporarily supports records within 14 days"


def expired_answer(error: KieError) -> bool:
    """Whether ``error`` is KIE's refusal of a task past retention (PAST_RETENTION, §3.3): the
    one answer told by its words, for its body code 422 says only "invalid"."""
    return (
        isinstance(error, ApiError)
        and error.code == 422
        and error.http_status == 200
        and " ".join(error.kie_message.split()).rstrip(".") == PAST_RETENTION
    )


class ApiError(KieError):
    """KIE refused the call: the body code was not 200 (HTTP itself is 200, kie-api.md §1)."""

    code: int

    def __init__(
        self,
        code: int,
        message: str,
        *,
        task_id: str | None = None,
        http_status: int = 200,
        data: Any = None,
    ) -> None:
        # A real HTTP status (a route KIE lacks, a proxy's or gateway's 5xx: http_error) says
        # itself ("HTTP 502 Bad Gateway …"): it is not a code of KIE's body (kie-api.md §1)
        # KIE's words are shown with their control characters escaped (a newline would forge a
        # second log line, an escape code reach the terminal); kie_message keeps them as they came
        shown = printable(message)
        said = f"KIE error {code}: {shown}" if http_status == 200 else shown
        super().__init__(said, task_id=task_id)
        self.code = code
        self.kie_message = message
        self.http_status = http_status
        # Some answers carry results with a non-200 code (Veo 4K: 422 "generated
        # successfully" plus URLs, kie-api.md §3.3): keep the envelope's data, never drop it.
        self.data = data


class BadRequestError(ApiError):
    """400: malformed request, or content KIE refuses (e.g. a flagged prompt)."""


class AuthenticationError(ApiError):
    """401: the API key is missing, wrong, or not allowed from this IP."""


class InsufficientCreditsError(ApiError):
    """402: the account has too few credits for this task."""


class NotFoundError(ApiError):
    """404: no such task or resource."""


class TaskNotFoundError(NotFoundError):
    """KIE has no record of this task: a status query for an id it does not know (mistyped,
    another account's or another family's, or older than KIE keeps records), in whichever
    words the family says so. A task past the retention of its results (Veo's 422 "Temporarily
    supports records within 14 days") is no such case: :class:`ResultsExpiredError`.
    ``code`` and ``kie_message`` are KIE's own, as they came:

    - body code 404 "Task not found": market recordInfo (§2.2), 4o, Flux, Runway, Luma;
    - body code 422 "record is null" (Veo, §3.3), "The record does not exist" (Midjourney,
      §3.7), "Record does not exist" (§7);
    - code 200 with ``data: null``: Suno's recorded answer, and market recordInfo's at times
      (§2.2, §11); ``kie_message`` then says so. A wait asks again after such an answer, up
      to three in a row (a record not there yet, then there, §2.2), before raising it.

    ``task_id`` is always set. A journal row whose task id this was raised for may be settled
    again with the right id (``kie settle``, ``Journal.settle``)."""

    task_id: str

    def __init__(
        self,
        task_id: str,
        code: int = 404,
        message: str = "Task not found",
        *,
        http_status: int = 200,
        data: Any = None,
    ) -> None:
        super().__init__(code, message, task_id=task_id, http_status=http_status, data=data)
        self.message = f"{NO_RECORD} (KIE's answer: {code} {printable(message)})"
        self.args = (self.message,)


class UnprocessableError(ApiError):
    """422: KIE's own validation rejected the request."""


class RateLimitedError(ApiError):
    """429: too many requests; KIE drops the request rather than queueing it (kie-api.md §8)."""

    retryable = True


class KeyQuotaExceededError(ApiError):
    """433: the sub-key's hourly, daily or total cap is used up."""


class InputFetchError(ApiError):
    """451: KIE could not download an input file (check that the URL is public)."""


class MaintenanceError(ApiError):
    """455: the service is under maintenance; try again later."""

    retryable = True


class ServerError(ApiError):
    """500 (or a real HTTP 5xx from a proxy): a fault on KIE's side."""

    retryable = True


class GenerationFailedError(ApiError):
    """501: generation failed."""


class FeatureDisabledError(ApiError):
    """505: the feature is disabled for this account or model."""


class QueueFullError(ApiError):
    """550: the queue is full and the connection was denied (4o Image, kie-api.md §3.1)."""

    retryable = True


class TaskFailedError(KieError):
    """The task ran and ended in the failed state; KIE's fail code and message are kept.

    ``fail_code`` is KIE's failCode as it came (a string, "500": kie-api.md §2.2); ``code`` is
    the same code as every other KieError carries it (:func:`code_number`: 500), None when
    KIE gave none. ``fail_status``: KIE's status word for the failure where the family has one
    beside the code (Suno's ``SENSITIVE_WORD_ERROR``, content KIE refuses: rewrite the lyrics
    or prompt; ``GENERATE_AUDIO_FAILED``), else None: what tells such failures apart when
    their codes are alike (kie-api.md §3.6, §7). ``ready``: files the task had made and
    charged for before it failed (:attr:`TaskStatus.ready <kiekit.models.TaskStatus.ready>`),
    else None."""

    task_id: str  # always known here (KieError's may be None)

    def __init__(
        self,
        task_id: str,
        fail_code: str | None,
        fail_message: str | None,
        *,
        fail_status: str | None = None,
        ready: Results | None = None,
    ) -> None:
        # shown escaped (see ApiError); fail_message keeps KIE's words as they came
        detail = printable(fail_message) if fail_message else "no reason given"
        code = f" [{fail_code}]" if fail_code else ""
        if fail_status and fail_status != fail_code:
            code += f" {printable(fail_status)}"
        super().__init__(f"task failed{code}: {detail}", task_id=task_id)
        self.fail_code = fail_code
        self.fail_message = fail_message
        self.fail_status = fail_status
        self.ready = ready
        number = code_number(fail_code)
        self.code = number if isinstance(number, int | str) and number != "" else None


def code_number(code: object) -> object:
    """KIE's failCode is a string ("500", kie-api.md §2.2): kept as the number it spells, so
    an error's ``code`` is one type for a refused call and a failed task alike; one in words
    stays as it came. Rows of a kiekit before this are read so too (``"500"`` on disk)."""
    if isinstance(code, str) and code.isascii() and code.isdigit():
        return int(code)
    return code


class ResourceLimitError(KieError):
    """This machine refused kiekit a thread it needs (Python's ``RuntimeError: can't start new
    thread``): a memory cap (``ulimit -v``, a container's memory or pids limit) leaves no room
    for another thread's stack. Nothing was lost: what was sent is in the journal (``kie
    resume`` or the batch run again finishes it). The way out: fewer jobs at once
    (``--concurrency``), or a higher limit. Not retried: the same call would fail the same
    way while the cap holds."""

    @classmethod
    def of(cls, exc: BaseException, what: str, *, task_id: str | None = None) -> ResourceLimitError:
        return cls(
            f"this machine refused a new thread {what} ({exc}): a memory or process limit "
            "(ulimit -v, a container's limits) is reached; lower --concurrency (fewer jobs "
            "at once) or raise the limit",
            task_id=task_id,
        )

    @classmethod
    def refused(cls, exc: BaseException, what: str) -> ResourceLimitError | None:
        """``exc`` as a ResourceLimitError when it is CPython's refusal of a thread (a
        RuntimeError whose only word is its message, raised by ``Thread.start``: no subclass
        to catch), for a boundary that cannot tell where a RuntimeError came from."""
        if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
            return cls.of(exc, what)
        return None


class WaitTimeoutError(KieError):
    """The wait ran out of time. The task was not cancelled: poll it again with its id.

    ``waited``: the seconds it waited (a poll's answer may end it a little past its timeout);
    ``timeout``: the wait's timeout as given, which the message quotes (``--timeout 0.5`` said
    "after 1 s", the time waited rounded); without one it quotes ``waited``.
    ``last_error`` is the curable error the last poll ended with (a network that went away,
    a host that is down), None when the last poll was answered: a wait whose polls all failed
    says why, not only that it gave up. ``stage`` and ``ready``: the last status's
    (:class:`~kiekit.models.TaskStatus`): how far the task had come, and the files it already
    had ready and charged for (Suno's first track), None when it had none."""

    task_id: str  # always known here: poll it again with Task(error.task_id, model)
    retryable = True

    def __init__(
        self,
        task_id: str,
        waited: float,
        last_state: str | None,
        *,
        last_error: KieError | None = None,
        timeout: float | None = None,
        stage: str | None = None,
        ready: Results | None = None,
    ) -> None:
        state = f", last state {last_state}" if last_state else ""
        state += f" ({stage})" if stage and last_state else ""
        failed = f"; last poll: {last_error.message}" if last_error is not None else ""
        after = waited if timeout is None else timeout
        super().__init__(f"gave up waiting after {after:g} s{state}{failed}", task_id=task_id)
        self.waited = waited
        self.timeout = timeout
        self.last_state = last_state
        self.last_error = last_error
        self.stage = stage
        self.ready = ready


_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    404: NotFoundError,
    422: UnprocessableError,
    429: RateLimitedError,
    433: KeyQuotaExceededError,
    451: InputFetchError,
    455: MaintenanceError,
    500: ServerError,
    501: GenerationFailedError,
    505: FeatureDisabledError,
    550: QueueFullError,
}


def api_error(
    code: int, message: str | None, *, task_id: str | None = None, data: Any = None
) -> ApiError:
    """The typed error for a KIE body code; undocumented codes get the plain ``ApiError``
    (5xx ones as retryable ``ServerError``). A refusal whose ``data`` names a task carries its
    id: a second Veo 4K request for a video answers 422 with the 4K task made (and paid for)
    by the first in ``data.taskId`` (kie-api.md §3.3), which must not be lost with the error."""
    if task_id is None and isinstance(data, Mapping):
        named = data.get("taskId")
        if isinstance(named, str) and named.strip() and named.isprintable():
            task_id = named
    cls = _BY_CODE.get(code)
    if cls is None:
        cls = ServerError if 500 <= code < 600 else ApiError
    return cls(code, message or "no message", task_id=task_id, data=data)


def made_before(error: BaseException) -> str | None:
    """The task a create's refusal names as the one KIE made for the same request before, or
    None: asked again for a Veo 4K, KIE answers 422 "4k is processing…" or "The video has been
    generated successfully" with the 4K task made (and paid for) the first time in
    ``data.taskId`` (kie-api.md §3.3). Nothing was made now: ``kie run``, ``kie batch`` and
    ``generate`` wait for that task and deliver its files, while ``submit`` raises the error
    (its ``task_id``) for its caller to choose. Only a 422 whose ``data.taskId`` is the
    error's task: no other refusal is documented to name a task made before."""
    if not isinstance(error, ApiError) or error.code != 422 or error.http_status != 200:
        return None
    data = error.data
    if (
        error.task_id is None
        or not isinstance(data, Mapping)
        or data.get("taskId") != error.task_id
    ):
        return None
    return error.task_id


# Body codes a status query is refused with when KIE has no record of the task (§7: 404 "Task
# not found"; 422 "record is null" / "Record does not exist", Veo §3.3, Midjourney §3.7). A
# status query carries nothing but the task id, so its refusal is a refusal of that id.
NO_TASK_CODES = frozenset({404, 422})
# TaskNotFoundError's kie_message for an answer of code 200 whose data is null (§2.2)
DATA_NULL = "data is null"


def task_not_found(error: KieError, task_id: str) -> KieError:
    """A status query's error, as a user catches it: KIE's refusal of the task id, in the
    words of any family, is :class:`TaskNotFoundError`, unless it says the task is past
    retention (:class:`ResultsExpiredError`); any other error is ``error`` itself.
    A real HTTP 404 is not one: KIE answers it only for a route it does not have (§1)."""
    if expired_answer(error):  # KIE had it, and paid work is lost: not "no such task"
        assert isinstance(error, ApiError)
        return ResultsExpiredError.of(error, task_id=task_id)
    if (
        isinstance(error, ApiError)
        and not isinstance(error, TaskNotFoundError)
        and error.http_status == 200
        and error.code in NO_TASK_CODES
    ):
        return TaskNotFoundError(task_id, error.code, error.kie_message, data=error.data)
    return error


def follow_up_refused(error: KieError, parent_task_id: str | None) -> KieError:
    """A create's error, as a user catches it, when the create named an earlier task
    (``parent_task_id``: an extend's, a 4K's): the error names that parent, and KIE's answer
    that the parent is past retention is :class:`ResultsExpiredError`."""
    if parent_task_id is None:
        return error
    if error.parent_task_id is None:
        error.parent_task_id = parent_task_id
    if expired_answer(error):
        assert isinstance(error, ApiError)
        return ResultsExpiredError.of(error)
    return error


def fetch_refused(error: KieError, body: Mapping[str, Any] | None) -> KieError:
    """A create's error, as a user catches it: KIE's 451 ("Failed to fetch the input image")
    names no input, so the message adds the input URLs the request carried (without their
    query, a signed link's credential) and why they commonly fail: not public, or an upload
    past its 3 days (kie-api.md §4, §8). Named as KIE reads them (``filesUrl[1]``,
    ``image_urls``: a market input's, without its ``input.``)."""
    if not isinstance(error, InputFetchError) or not body:
        return error
    found = [(name, url) for name, url in _input_urls(body, "") if not _calls_back(name)]
    if not found:
        return error
    shown = [f"{name} ({without_query(url)})" for name, url in found[:5]]
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    error.message += (
        f"; the request's input URLs: {', '.join(shown)}{more}: each must be public and live "
        "(an uploaded file is kept 3 days)"
    )
    return error


def _input_urls(value: Any, name: str) -> list[tuple[str, str]]:
    """The http(s) URLs of a request body, each with where it is (``input.image_urls[1]``)."""
    if isinstance(value, str):
        return [(name, value)] if urlsplit(value).scheme in ("http", "https") else []
    if isinstance(value, Mapping):
        return [
            found
            for key, item in value.items()
            for found in _input_urls(item, f"{name}.{key}" if name not in ("", "input") else key)
        ]
    if isinstance(value, list):
        return [
            found for i, item in enumerate(value) for found in _input_urls(item, f"{name}[{i}]")
        ]
    return []


def _calls_back(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in ("callbackurl", "callback_url")


def without_query(url: str) -> str:
    """``url`` without its query, for words a user reads (a signed link's query is long, and a
    credential while it lasts)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def http_error(status: int, reason: str, *, task_id: str | None = None) -> ApiError:
    """A real (non-200) HTTP status: KIE itself sends these only for unknown routes
    (kie-api.md §1); proxies in front of it send 5xx and 429."""
    if status == 404:
        return NotFoundError(404, f"HTTP 404 {reason}", task_id=task_id, http_status=status)
    if status == 429:
        return RateLimitedError(429, f"HTTP 429 {reason}", task_id=task_id, http_status=status)
    if status >= 500:
        return ServerError(status, f"HTTP {status} {reason}", task_id=task_id, http_status=status)
    return ApiError(status, f"HTTP {status} {reason}", task_id=task_id, http_status=status)
