"""The lifecycle of journal rows, and what the clients tell it."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiekit.errors import (
    ConfigurationError,
    KieError,
    OutcomeUnknownError,
    TaskFailedError,
    ValidationError,
)
from kiekit.journal._entry import (
    FSYNC_ENV,
    JOURNAL_FILE,
    Entry,
    EntryState,
    JournalError,
    data_dir,
    error_record,
)
from kiekit.journal._stores import JournalStore, SqliteStore
from kiekit.models import Request, Results, Task

if TYPE_CHECKING:
    from kiekit._engine import Engine

log = logging.getLogger("kiekit.journal")


class Journal:
    """The lifecycle of journal rows, written once for every store and both clients.

    The clients call :meth:`intend` before a create, then :meth:`created` or
    :meth:`create_failed`, then :meth:`finished` / :meth:`wait_failed` and :meth:`downloaded`.
    Rows are found by task id through a small in-process index, so a client does not scan.
    """

    def __init__(self, store: JournalStore, *, clock: Any = time.time) -> None:
        self.store = store
        self._clock = clock
        self._keys: dict[str, str] = {}  # task id -> row key, for rows this process touched
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Journal({self.store!r})"

    # -- the create ------------------------------------------------------------------------

    def intend(
        self,
        model: str,
        request: Mapping[str, Any] | None,
        *,
        base_url: str | None = None,
        key: str | None = None,
        out_dir: str | None = None,
    ) -> Entry | None:
        """Write the intent row before the create is sent. With ``key`` the row is claimed
        atomically: None when a row with that key already exists (the job was created, or
        tried, before) — unless it was ``rejected``, which created nothing and may be retried."""
        now = self._clock()
        entry = Entry(
            key=key or uuid.uuid4().hex,
            model=model,
            request=request,
            state=EntryState.SENDING,
            created_at=now,
            updated_at=now,
            base_url=base_url,
            out_dir=out_dir,
        )
        if self.store.insert(entry):
            return entry
        retry = {
            "state": EntryState.SENDING,
            "request": request,
            "error": None,
            "updated_at": now,
            "base_url": base_url,
        }
        return self.store.update(entry.key, retry, only_if=[EntryState.REJECTED])

    def created(self, entry: Entry, task: Task) -> Entry | None:
        self._remember(task.id, entry.key)
        changes = {"state": EntryState.CREATED, "task_id": task.id, "updated_at": self._clock()}
        return self.store.update(entry.key, changes)

    def create_failed(
        self, entry: Entry, exc: BaseException, *, maybe_sent: bool = True
    ) -> Entry | None:
        """A create that raised: ``rejected`` when it was never handed to the network
        (``maybe_sent`` False: cancelled before sending) or KIE's answer proves nothing was
        made; ``unknown`` when it may have been (OutcomeUnknownError, or an interruption
        mid-send). Only a request handed to the network can be "unknown"."""
        proven = not maybe_sent or (
            isinstance(exc, KieError) and not isinstance(exc, OutcomeUnknownError)
        )
        state = EntryState.REJECTED if proven else EntryState.UNKNOWN
        changes = {"state": state, "error": error_record(exc), "updated_at": self._clock()}
        return self.store.update(entry.key, changes)

    # -- the wait and the files --------------------------------------------------------------

    def finished(self, task: Task, results: Results) -> Entry | None:
        changes = {
            "state": EntryState.SUCCEEDED,
            "assets": results.assets,
            "error": None,
            "updated_at": self._clock(),
        }
        return self._update_task(task.id, changes)

    def wait_failed(self, task: Task, exc: BaseException) -> Entry | None:
        """A wait that raised: the task failed, or the wait stopped (timeout, network) and the
        task lives on (``created`` stays, with the error, for ``kie resume``)."""
        changes: dict[str, Any] = {"error": error_record(exc), "updated_at": self._clock()}
        if isinstance(exc, TaskFailedError):
            changes["state"] = EntryState.FAILED
        return self._update_task(task.id, changes)

    def downloaded(
        self, task_id: str, paths: Sequence[Path], out_dir: str | os.PathLike[str]
    ) -> Entry | None:
        changes = {
            "files": tuple(str(Path(path).resolve()) for path in paths),
            "out_dir": str(Path(out_dir).resolve()),
            "updated_at": self._clock(),
        }
        return self._update_task(task_id, changes)

    def download_failed(self, task_id: str, exc: BaseException) -> Entry | None:
        return self._update_task(task_id, {"error": error_record(exc), "updated_at": self._clock()})

    # -- reading -----------------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        return self.store.entries()

    def get(self, key: str) -> Entry | None:
        return self.store.get(key)

    def by_task(self, task_id: str) -> Entry | None:
        with self._lock:
            key = self._keys.get(task_id)
        if key is not None:
            return self.store.get(key)
        entry = self.store.by_task(task_id)  # a task another process created
        if entry is not None:
            self._remember(task_id, entry.key)
        return entry

    def _remember(self, task_id: str, key: str) -> None:
        with self._lock:
            self._keys[task_id] = key

    def _update_task(self, task_id: str, changes: Mapping[str, Any]) -> Entry | None:
        with self._lock:
            key = self._keys.get(task_id)
        if key is None:
            entry = self.store.by_task(task_id)  # a task another process created
            if entry is None:  # created elsewhere (another tool, the dashboard): not ours
                return None
            key = entry.key
            self._remember(task_id, key)
        return self.store.update(key, changes)


def default_journal() -> Journal:
    """The journal every client uses unless told otherwise: SQLite in :func:`data_dir`
    (``KIEKIT_JOURNAL_FSYNC=1`` flushes every commit to the disk)."""
    fsync = os.environ.get(FSYNC_ENV, "").strip().lower() in ("1", "true", "yes")
    return Journal(SqliteStore(data_dir() / JOURNAL_FILE, fsync=fsync))


JournalOption = Journal | JournalStore | bool | None


def journal_of(option: JournalOption) -> Journal | None:
    """A client's ``journal=`` argument: True (the default journal), a Journal or a store, or
    False/None (no journal: nothing is recorded)."""
    if option is True:
        return default_journal()
    if option is None or option is False:
        return None
    if isinstance(option, Journal):
        return option
    if isinstance(option, JournalStore):
        return Journal(option)
    raise ConfigurationError(
        f"journal must be a Journal, a JournalStore, True or None, not {type(option).__name__}"
    )


class Recorder:
    """What a client tells its journal, in the client's words; does nothing without a journal.

    The two clients call the same methods around their I/O, so the rules live here once.
    """

    def __init__(self, journal: Journal | None, engine: Engine) -> None:
        self.journal = journal
        self._engine = engine

    def before_create(self, model: str, create: Request, key: str | None) -> Entry | Task | None:
        """The intent row (an Entry), or the Task an earlier create with ``key`` made."""
        if self.journal is None:
            if key is not None:
                raise ConfigurationError("idempotency_key needs a journal (journal=None here)")
            return None
        request = dict(create.body) if create.body is not None else None
        entry = self.journal.intend(model, request, base_url=self._engine.base_url, key=key)
        if entry is not None:
            return entry
        assert key is not None  # only a keyed intent can find its row taken
        return self._earlier(model, request, key)

    def _earlier(self, model: str, request: Mapping[str, Any] | None, key: str) -> Task:
        assert self.journal is not None
        earlier = self.journal.get(key)
        if earlier is not None and earlier.model != model:
            raise ConfigurationError(
                f"idempotency key {key!r} was used for a {earlier.model} task, not {model}"
            )
        if earlier is not None and not _same_input(earlier.request, request):
            task = f"task {earlier.task_id}" if earlier.task_id else "a create"
            raise ValidationError(
                "idempotency_key",
                f"{key!r} was used for a different input ({task}); a new input needs a new key",
            )
        if earlier is not None and earlier.base_url != self._engine.base_url:
            raise ConfigurationError(
                f"idempotency key {key!r} was used on {earlier.base_url}, not on "
                f"{self._engine.base_url}: its task lives there"
            )
        if earlier is not None and earlier.task_id is not None:
            return Task(id=earlier.task_id, model=earlier.model)
        when = time.strftime(
            "%Y-%m-%d %H:%M:%S", time.localtime(earlier.created_at if earlier else 0)
        )
        cause = KieError(f"an earlier create with idempotency key {key!r} ({when}) got no answer")
        raise OutcomeUnknownError(model=model, request=request, cause=cause)

    def created(self, intent: Entry | None, task: Task) -> None:
        if self.journal is not None and intent is not None:
            journal = self.journal
            self._safely(task.id, lambda: journal.created(intent, task))

    def create_failed(
        self, intent: Entry | None, exc: BaseException, *, maybe_sent: bool = True
    ) -> None:
        if self.journal is not None and intent is not None:
            journal = self.journal
            self._safely(None, lambda: journal.create_failed(intent, exc, maybe_sent=maybe_sent))

    def finished(self, task: Task, results: Results) -> None:
        if self.journal is not None:
            journal = self.journal
            self._safely(task.id, lambda: journal.finished(task, results))

    def records_failure(self, exc: BaseException) -> bool:
        """Whether a failed wait or download is written down: only kiekit's errors say
        something about the task; a cancelled or interrupted one leaves the row as it was."""
        return self.journal is not None and isinstance(exc, KieError)

    def wait_failed(self, task: Task, exc: BaseException) -> None:
        if self.journal is not None and isinstance(exc, KieError):  # records_failure
            journal = self.journal
            self._safely(task.id, lambda: journal.wait_failed(task, exc))

    def downloaded(
        self, task_id: str, paths: Sequence[Path], out_dir: str | os.PathLike[str]
    ) -> None:
        if self.journal is not None:
            journal = self.journal
            self._safely(task_id, lambda: journal.downloaded(task_id, paths, out_dir))

    def download_failed(self, task_id: str, exc: BaseException) -> None:
        if self.journal is not None and isinstance(exc, KieError):  # records_failure
            journal = self.journal
            self._safely(task_id, lambda: journal.download_failed(task_id, exc))

    @staticmethod
    def _safely(task_id: str | None, write: Callable[[], object]) -> None:
        """A write after the create: the caller holds the task, so a journal that cannot be
        written is reported, not raised (raising would lose the task id with the error)."""
        try:
            write()
        except JournalError as exc:
            task = f" for task {task_id}" if task_id else ""
            log.warning("could not record%s in the task journal: %s", task, exc)


def _same_input(earlier: Mapping[str, Any] | None, now: Mapping[str, Any] | None) -> bool:
    """Whether two create bodies are the same JSON (the journal's copy went through JSON, so
    tuples came back as lists)."""
    if earlier is None or now is None:
        return True  # nothing recorded to compare with: trust the key
    return bool(json.loads(json.dumps(now, sort_keys=True)) == earlier)
