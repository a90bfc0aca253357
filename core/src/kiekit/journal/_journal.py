"""The lifecycle of journal rows, and what the clients tell it."""

from __future__ import annotations

import collections
import contextlib
import functools
import heapq
import json
import logging
import math
import os
import re
import shlex
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiekit._lazy import LazyModule
from kiekit._numbers import finite, shown
from kiekit._paths import recorded
from kiekit.errors import (
    NO_RECORD,
    ConfigurationError,
    InsufficientCreditsError,
    KieError,
    OutcomeUnknownError,
    ResultsExpiredError,
    TaskFailedError,
    TaskNotFoundError,
    TaskTakenOverError,
    UnknownModelError,
    UnprocessableError,
    ValidationError,
)
from kiekit.journal._entry import (
    FSYNC_ENV,
    HANDED_OFF,
    JOURNAL_FILE,
    RESULT_LIFETIME,
    Entry,
    EntryState,
    JournalError,
    UnlessHandedOff,
    data_dir,
    error_record,
    expanded,
    not_known,
)
from kiekit.journal._selection import Selection, in_memory, is_open
from kiekit.journal._stores import JournalStore, SqliteStore, Unopenable
from kiekit.models import Request, Results, Task

if TYPE_CHECKING:
    from kiekit import _engine
else:  # imported when typing.get_type_hints reads _engine.Engine: a journal alone needs no engine
    _engine = LazyModule("kiekit._engine")

log = logging.getLogger("kiekit.journal")

JOURNAL_URL_ENV = "KIEKIT_JOURNAL_URL"
LEASE_ENV = "KIEKIT_JOURNAL_LEASE"
# How long a worker holds a row it works on without renewing it (a batch renews every third of
# it): a worker that dies is taken over this long after its last renewal (docs/teams.md).
DEFAULT_LEASE = 60.0
# How many task ids a journal maps to their rows in memory (the rest are looked up by the
# store's index on task_id): a few times the tasks a process has in flight at once.
REMEMBERED_TASKS = 10_000
# the states of a row that holds its task (Journal.created: a create asked again links to it)
_HOLDS_TASK = frozenset({EntryState.CREATED, EntryState.SUCCEEDED, EntryState.FAILED})


# How soon a keyed create this process is sending is looked at again: a create's answer takes
# a fraction of a second.
_IN_FLIGHT_HERE_POLL = 0.05


class TakenOver(TaskTakenOverError):
    """A create that waited to be sent again (KIE had refused it, making nothing) found its
    journal row taken over by another worker meanwhile: it is not sent, that worker does it.
    Raised by ``submit`` (with an idempotency key); ``task_id`` is None (no task was made
    here), ``key`` is the row. A TaskTakenOverError, as a wait's or download's is (``run_batch``
    reports the job ``taken_over``); it was a ConfigurationError before."""

    def __init__(self, key: str) -> None:
        KieError.__init__(
            self,
            f"job {key!r} was taken over by another worker while its create waited to be sent "
            "again (nothing had been made): not sent here",
        )
        self.key = key
        self.owner = None


class HeldElsewhere(Exception):
    """Engine plumbing, never raised to a caller: another live worker holds this idempotency
    key's create, or this process is sending it right now; the client waits, then looks
    again (not a KieError for that reason)."""

    def __init__(self, key: str, owner: str | None, seconds_left: float) -> None:
        super().__init__(f"{key!r} is held by {owner} for {seconds_left:.1f} s more")
        self.key = key
        self.owner = owner
        self.seconds_left = seconds_left


def _owner_name() -> str:
    """``host:pid:site:random``: who holds a row, readable in ``kie tasks``. ``site`` names this
    machine's boot and process namespace (Linux), so a process here can tell that an owner
    is a process here too, and whether it still runs."""
    host = os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")
    return f"{host or 'host'}:{os.getpid()}:{_site()}:{uuid.uuid4().hex[:8]}"


@functools.cache  # read once per process: `kie tasks` asks it of every row
def _site() -> str:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"  # not Linux: no owner is known to be local, leases run out as they do
    return uuid.uuid5(uuid.NAMESPACE_OID, f"{boot}/{namespace}").hex[:12]


if hasattr(os, "register_at_fork"):  # a child forked after unshare(CLONE_NEWPID) is in
    os.register_at_fork(after_in_child=_site.cache_clear)  # another pid namespace: read again


def _alive_here(owner: str) -> bool | None:
    """Whether ``owner``, a process of this machine (and pid namespace), still runs; None when
    it is not one of this machine's (another host's, or named by no site)."""
    parts = owner.split(":")
    if len(parts) != 4 or parts[2] in ("-", "") or parts[2] != _site():
        return None
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError):  # alive but not ours to signal, or not a pid
        return True
    return True


def host_elsewhere(owner: str | None) -> str | None:
    """The host name of ``owner`` when it is a process of another machine (or another pid
    namespace: a container), as far as its name tells; None for this machine's or an unknown."""
    parts = (owner or "").split(":")
    if len(parts) != 4 or _alive_here(owner or "") is not None:
        return None
    here = os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")
    if parts[2] in ("-", "") and parts[0] == (here or "host"):
        return None  # no site to compare (not Linux): its host name is ours
    return parts[0]


def _dead_here(owner: str) -> bool:
    """Whether ``owner`` was a process of this machine (and pid namespace) that has ended."""
    return _alive_here(owner) is False


class Journal:
    """The lifecycle of journal rows, written once for every store and both clients.

    The clients call :meth:`intend` before a create, then :meth:`created` or
    :meth:`create_failed`, then :meth:`finished` / :meth:`wait_failed` and :meth:`downloaded`.
    Rows are found by task id through a small in-process index, so a client does not scan.

    For users (scripts, tools like ``kie tasks``; a client's is its ``journal``):

    - reading: :meth:`get`, :meth:`by_task`, :meth:`find`, :meth:`select`, :meth:`entries`,
      :meth:`unfinished`, :meth:`downloads_gone`, :meth:`successes_owed`, :attr:`owner`;
    - by hand: :meth:`adopt`, :meth:`settle`, :meth:`settle_command`, :meth:`abandon`,
      :meth:`hand_off`, :meth:`prune`, :meth:`let_go_all`;
    - its life: :meth:`open`, :meth:`close`, :meth:`aclose`, :meth:`close_soon`,
      :meth:`same_store_as`.

    Engine plumbing, called by the clients, ``run_batch`` and the webhook receiver in a set
    order (a call out of it can lose a lease or a task id); public for them, not for users,
    and its signatures may change without notice: :meth:`intend`, :meth:`claim`, :meth:`take`,
    :meth:`made_for_run`, :meth:`created`, :meth:`create_failed`, :meth:`parked`,
    :meth:`resending`, :meth:`finished`, :meth:`wait_failed`, :meth:`landed`,
    :meth:`downloaded`, :meth:`download_failed`,
    :meth:`refused`, :meth:`release`, :meth:`sender_lost`, :meth:`close_duplicate`,
    :meth:`missed`, :meth:`unrecorded`, :meth:`recorded_late`, :meth:`write_missed`,
    :meth:`now`, :meth:`renew`, :meth:`renewal_due`, :meth:`renew_at_work`,
    :meth:`taken_over`, :meth:`check_held`, :meth:`at_work`, :meth:`alone_at`,
    :meth:`let_go_of`, :meth:`held_elsewhere`, :meth:`holder`, :meth:`sender_alive`,
    :meth:`on_create_ended`, :meth:`made_by_unknown_key`, :meth:`folder_keyed`.
    """

    def __init__(
        self, store: JournalStore, *, clock: Any = time.time, lease: float = DEFAULT_LEASE
    ) -> None:
        seconds = finite(lease)
        if seconds is None or not seconds > 0:
            raise ConfigurationError(
                f"journal lease must be a positive number of seconds, not {shown(lease)}"
            )
        self.store = store
        self.lease = lease
        self._clock = clock
        # task id -> row key, for the rows this process touched last: a worker that runs for
        # months must not keep every task it ever made (older ones are found by task id)
        self._keys: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._owner = (os.getpid(), _owner_name())
        # task id -> this process's waits and downloads of it running now (at_work)
        self._at_work: collections.Counter[str] = collections.Counter()
        # when the leases of the rows at work were last renewed (this journal's clock), or
        # None while nothing is at work (renewal_due)
        self._renewed_at: float | None = None
        # a lease was ever written by this journal: closing it lets go (close(let_go=True))
        self._leased = False
        # tasks of this process a write after the create missed (the database down)
        self._missed: set[str] = set()
        # row key -> (its task id, the changes a write after the create could not make): each
        # later write of the row carries them, and write_missed() tries them again (a full
        # disk may have room again), so a task id paid for is not lost with its write
        self._owed: dict[str, tuple[str | None, dict[str, Any]]] = {}
        # told (from the writing thread) when a create of this process has been answered or
        # failed: a webhook receiver holding a callback that came before the create's answer
        # (kie-api.md §6.1: KIE may call back first) looks at the journal again then
        self._create_listeners: list[Callable[[], None]] = []
        # the keys of the rows whose lease this journal took (intend, claim, take) and has not
        # let go: another worker taking one over (this process stalled past its lease) is
        # noticed (renew_at_work, taken_over), and the writes about it are made only while it
        # is still this process's (_written: owned_by)
        self._holding: collections.OrderedDict[str, None] = collections.OrderedDict()
        # owners of this machine found ended whose leases this journal has ended already: a
        # `kie resume` over thousands of their rows ends them once, not once a row
        # (held_elsewhere; an ended process never takes a lease again)
        self._ended: set[str] = set()
        # row key -> the `kie batch --celery` run a create of it answered here is written as
        # made by (made_for_run, created)
        self._runs: dict[str, str] = {}
        # row key -> the worker that took it over from this process (taken_over)
        self._taken: dict[str, str | None] = {}
        # model -> job id -> keys of an older kiekit's folder-keyed batch rows (folder_keyed)
        self._folder_keyed: dict[str, dict[str, tuple[str, ...]]] = {}

    @property
    def owner(self) -> str:
        """This process's name on the rows it holds (host, pid and a random part; a process
        forked from this one is another owner)."""
        pid, name = self._owner
        if pid != os.getpid():
            self._owner = pid, name = os.getpid(), _owner_name()
        return name

    def __repr__(self) -> str:
        return f"Journal({self.store!r})"

    def open(self) -> None:
        """Open the store now instead of at its first read or write: JournalError saying why
        it cannot be (``KIEKIT_DATA_DIR`` naming a file, a database that refuses, a journal
        of a newer kiekit), for a command to check before it makes a folder or sends anything.
        Reads no row; a store opens once, so calling it again costs nothing."""
        opening = getattr(self.store, "open", None)  # optional in the protocol
        if opening is not None:
            opening()
        else:  # a store of before open(): it opens at its first use, a lookup of no row
            self.store.get("")

    def close(self, *, let_go: bool = False) -> None:
        """Close the store's connections (SQLite's file handles, PostgreSQL's sessions), once
        the writes queued for it on the journal's writer thread are done; a later use opens
        them again. A client closes a journal it opened itself (``journal=True``, the default,
        or a URL) when it is closed, never one it was given (that one is its caller's). A
        store without ``close()`` (optional in the protocol) is left as it is. ``let_go``:
        the rows this journal holds are let go first (:meth:`let_go_all`), as a client does
        with the journal it opened: nothing of this process works on them any more."""
        from kiekit.journal._writer import WRITER

        WRITER.after_queued(functools.partial(self._closing, let_go))

    async def aclose(self, *, let_go: bool = False) -> None:
        """:meth:`close`, waiting for the queued writes without blocking the event loop."""
        from kiekit.journal._writer import WRITER

        await WRITER.after_queued_async(functools.partial(self._closing, let_go))

    def close_soon(self, *, let_go: bool = False) -> None:
        """:meth:`close`, queued on the journal's writer thread without waiting for it: for a
        finalizer (a client collected without ``close()``), which must never block."""
        from kiekit.journal._writer import WRITER

        WRITER.after_queued_nowait(functools.partial(self._closing, let_go))

    def _closing(self, let_go: bool) -> None:
        if let_go:
            try:
                self.let_go_all()
            except JournalError as exc:  # its leases run out instead: nothing is lost
                log.warning("could not let go of this process's rows in the task journal: %s", exc)
        closing = getattr(self.store, "close", None)
        if closing is not None:
            closing()

    def let_go_all(self) -> int:
        """Let go of every row this journal holds (its leases ended now: ``kie resume`` in
        another process takes them at once); how many. Writes nothing when this journal
        never held a row."""
        if not self._leased:
            return 0
        self._leased = False  # until this journal holds a row again
        with self._lock:
            self._holding.clear()
        return self.store.renew(self.owner, 0.0)

    def same_store_as(self, other: Journal) -> bool:
        """Whether ``other`` reads and writes the rows this journal does: the same store, or
        another handle on the same SQLite file or PostgreSQL database (``default_journal()``
        called twice gives two such handles)."""
        if other.store is self.store:
            return True
        where = _where(self.store)
        return where is not None and where == _where(other.store)

    # -- the create ------------------------------------------------------------------------

    def intend(
        self,
        model: str,
        request: Mapping[str, Any] | None,
        *,
        base_url: str | None = None,
        key: str | None = None,
        out_dir: str | None = None,
        account: str | None = None,
    ) -> Entry | None:
        """Write the intent row before the create is sent. With ``key`` the row is claimed
        atomically, and held by this process for the journal's lease: None when a row with that
        key already exists (the job was created, or tried, before, or another worker is on it)
        — unless it was ``rejected`` (which created nothing and may be retried) or ``claimed``
        and not held by another live worker (see :meth:`claim`)."""
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
            account=account,
            # its sender: `kie tasks` tells a create on its way from one whose sender is gone
            owner=self.owner,
        )
        # Held for the lease, keyed or not, in this same write (no write more a task): nobody
        # else can want to send an unkeyed row, but `kie resume` elsewhere would wait for its
        # task and fetch its files while this process does (outside tester "soakclient",
        # finding 1). Renewed while a wait or download of it is at work here (renew_at_work),
        # let go by the row's last write or when the work stops (let_go_of).
        self._leased = True
        if key is None:  # a random key: nobody else can want this row
            if not self.store.insert(entry, lease=self.lease):
                raise self._missing(entry.key, "the intent row was not stored: not sent")
            return self._held(entry)
        if self.store.insert(entry, lease=self.lease):
            return self._held(entry)
        retry = {
            "state": EntryState.SENDING,
            "request": request,
            "error": None,
            "task_id": None,  # a refusal's named task (create_failed) is not this send's
            "updated_at": now,
            "base_url": base_url,
            "account": account,
        }
        retryable = [EntryState.REJECTED, EntryState.CLAIMED]
        retried = self.store.update(
            entry.key, retry, only_if=retryable, holder=self.owner, lease=self.lease
        )
        if retried is None and self.store.get(entry.key) is None:  # not stored, nor there before
            raise self._missing(entry.key, "the intent row was not stored: not sent")
        return self._held(retried)

    def claim(
        self,
        model: str,
        key: str,
        *,
        out_dir: str | None = None,
        refused_since: float | None = None,
    ) -> Entry | None:
        """Take job ``key`` for this process before anything is sent (a batch's job): the row,
        now held for the journal's lease, or None while another live worker holds it or when
        nothing is left to do for it here (sending or sent by a worker that is gone, failed).

        A new row is ``claimed``; a ``rejected`` one is claimed again, unless another worker
        refused it and let it go at ``refused_since`` (this journal's clock) or later: a job
        another worker of this run was refused (402, 422: nothing made) is not sent again by
        this one. That test and the claim are one compare-and-set, so a refusal landing
        between a look at the row and the claim cannot be reopened. A ``claimed`` row whose
        holder is gone is taken over (it never sent its create), and so is a ``created`` or
        ``succeeded`` one, to wait for and download its task. :meth:`renew` keeps the rows
        held; the last write of a job (:meth:`downloaded`, :meth:`release`) lets them go."""
        now = self._clock()
        owner = self.owner
        self._leased = True
        fresh = Entry(
            key=key,
            model=model,
            request=None,
            state=EntryState.CLAIMED,
            created_at=now,
            updated_at=now,
            out_dir=out_dir,
            owner=owner,
        )
        if self.store.insert(fresh, lease=self.lease):
            return self._held(fresh)
        again = {
            "state": EntryState.CLAIMED,
            "error": None,
            "task_id": None,  # a refusal's named task (create_failed) is not this claim's
            "updated_at": now,
            "out_dir": out_dir,
        }
        # only given when asked: a store of someone else's may predate the argument
        spared = {} if refused_since is None else {"let_go_before": refused_since}
        reopened = self.store.update(
            key, again, only_if=[EntryState.REJECTED], holder=owner, lease=self.lease, **spared
        )
        if reopened is not None:
            return self._held(reopened)
        unfinished = [EntryState.CLAIMED, EntryState.CREATED, EntryState.SUCCEEDED]
        held = self.store.update(
            key, {"updated_at": now}, only_if=unfinished, holder=owner, lease=self.lease
        )
        if held is None and self.store.get(key) is None:  # not stored, nor there before
            raise self._missing(key, "the job's claim was not stored: not sent")
        return self._held(held)

    def take(self, key: str) -> Entry | None:
        """Hold row ``key``, a task owed a wait or files (``created``, or ``succeeded`` with
        files to fetch), for this process for the journal's lease, as :meth:`claim` holds a
        batch's job: ``kie resume`` waits for it and fetches its files only while it holds it,
        so two resumes (or a resume beside a batch worker) never poll and download one task
        twice, and ``kie tasks`` shows who works on it. The row now held, or None while
        another live worker holds it, or when it is no longer such a task (closed, settled).
        An owner of this machine whose process has ended holds nothing (:meth:`held_elsewhere`
        ends its leases); another's lease that ran out is taken over. :meth:`renew` keeps it
        held; the wait's last write (:meth:`downloaded`, or a failure's let-go) lets it go."""
        owed = [EntryState.CREATED, EntryState.SUCCEEDED]
        self._leased = True

        def held() -> Entry | None:
            changes = {"updated_at": self._clock()}
            return self.store.update(
                key, changes, only_if=owed, holder=self.owner, lease=self.lease
            )

        taken = held()
        if taken is not None:
            return self._held(taken)
        row = self.store.get(key)
        if row is None or row.state not in owed or self.held_elsewhere(row) > 0:
            return None
        # its owner had ended (its leases now over), or it was let go meanwhile
        return self._held(held())

    def missed(self, task_id: str) -> None:
        """A write about ``task_id`` after its create failed here (the database down): its row
        may say less than is true (``created`` with its files on disk). In memory only."""
        with self._lock:
            self._missed.add(task_id)

    def unrecorded(self, task_id: str) -> bool:
        """Whether a write about ``task_id`` failed here since it was last written whole."""
        with self._lock:
            return task_id in self._missed

    def recorded_late(
        self, key: str, task: Task, results: Results, paths: Sequence[Path], out_dir: str
    ) -> Entry | None:
        """Job ``key``'s task succeeded and its files are on disk, as the writes the journal
        missed meanwhile would have said (:meth:`missed`): all of it, in one write, so that
        ``kie resume`` does not fetch the files again. Only a row this process still holds or
        let go (not another worker's since, nor one taken over from it)."""
        self._remember(task.id, key)
        if self.taken_over(task.id) is not None:
            return None
        changes = {
            "state": EntryState.SUCCEEDED,
            "task_id": task.id,
            "assets": results.assets,
            "value": results.value,
            "files": tuple(recorded(path) for path in paths),
            "out_dir": recorded(out_dir),
            "error": None,
            "updated_at": self._clock(),
        }
        row = self.store.update(key, changes, holder=self.owner)
        with self._lock:
            self._missed.discard(task.id)
            if row is not None:
                self._owed.pop(key, None)  # all of it written, and more
        return row

    def settle_command(self, task_id: str) -> str | None:
        """``kie settle KEY --task-id ID`` while the write that names ``task_id`` in its row
        (the create's answer) has not been made here: the row holds only the intent, and
        that command records what this process could not. None otherwise."""
        with self._lock:
            key = self._keys.get(task_id)
            owed = None if key is None else self._owed.get(key)
        if key is None or owed is None or "task_id" not in owed[1]:
            return None
        return f"kie settle {shlex.quote(key)} --task-id {shlex.quote(task_id)}"

    def write_missed(self) -> list[tuple[str, str | None]]:
        """Try once more the writes after a create that the store refused (a full disk, a
        database down): each row's in one write. The rows still not written, as ``(key,
        task_id)`` pairs: :meth:`settle_command` says how to record a task id still unwritten.
        A process calls it before it ends (``kie run``, ``kie batch``): space may be back."""
        with self._lock:
            owed = [(key, owing) for key, owing in self._owed.items() if key not in self._taken]
        left: list[tuple[str, str | None]] = []
        for key, (task_id, changes) in owed:
            try:
                done = self.store.update(key, changes) is not None
            except JournalError as exc:
                log.debug("row %s still cannot be written: %s", key, exc)
                done = False
            if not done:
                left.append((key, task_id))
                continue
            with self._lock:
                if self._owed.get(key, (None, None))[1] is changes:  # nothing newer missed
                    del self._owed[key]
                if task_id is not None:
                    self._missed.discard(task_id)
        return left

    def now(self) -> float:
        """This journal's clock (Unix seconds), which its rows' ``created_at`` and
        ``updated_at`` are written on."""
        now: float = self._clock()
        return now

    def renew(self) -> int:
        """Extend the lease of every row this process holds; how many it holds."""
        return self.store.renew(self.owner, self.lease)

    def renewal_due(self) -> bool:
        """Whether the leases of the rows at work here (:meth:`at_work`) are to be renewed
        now: a third of the lease after their last renewal, or after the first of them began
        (its row's lease was written then, with its intent or its take). One renewal serves
        every wait and download of this journal, so it costs a statement every third of the
        lease, however many tasks are in flight; True is answered once for each."""
        now = self._clock()
        renewed_at = self._renewed_at  # read without the lock first: asked at every step
        if renewed_at is None or now < renewed_at + self.lease / 3:
            return False
        with self._lock:
            if self._renewed_at is None or now < self._renewed_at + self.lease / 3:
                return False
            self._renewed_at = now
            return True

    def renew_at_work(self) -> int:
        """Extend the lease of the rows this process holds whose tasks a wait or download of
        this process works on now (only those: a row submitted and not waited for, or waited
        for and handed on, lets its lease run out); how many. A store without
        ``renew_rows`` (optional in the protocol) renews every lease of this process."""
        with self._lock:
            tasks = {self._keys[task]: task for task in self._at_work if task in self._keys}
            held = {key: task for key, task in tasks.items() if key in self._holding}
        keys = list(tasks)
        if not keys:
            return 0
        renew_rows = getattr(self.store, "renew_rows", None)
        if renew_rows is None:
            return self.store.renew(self.owner, self.lease)
        renewed: int = renew_rows(self.owner, self.lease, keys)
        if renewed < len(keys) and held:  # one held here may be another worker's now
            for key, task_id in held.items():
                row = self.store.get(key)
                if row is not None and row.owner not in (None, self.owner):
                    self._mark_taken(key, task_id, row.owner)
        return renewed

    def taken_over(self, task_id: str) -> TaskTakenOverError | None:
        """The error to stop a wait or download of ``task_id`` with when another worker took
        its row over from this process (noticed by a renewal or a write: this process had
        stalled past its lease), else None. In memory only: asked before every step."""
        if not self._taken:  # read without the lock first: nearly always empty
            return None
        with self._lock:
            key = self._keys.get(task_id)
            if key is None or key not in self._taken:
                return None
            owner = self._taken[key]
        return TaskTakenOverError(task_id, key=key, owner=owner)

    def check_held(self, entry: Entry) -> None:
        """TaskTakenOverError when ``entry``, just read, is a row this process held and
        another worker holds now (a download about to start: nothing is fetched)."""
        with self._lock:
            ours = entry.key in self._holding
        if ours and entry.owner not in (None, self.owner) and entry.task_id is not None:
            self._mark_taken(entry.key, entry.task_id, entry.owner)
            error = self.taken_over(entry.task_id)
            assert error is not None
            raise error

    def _held(self, entry: Entry | None) -> Entry | None:
        """``entry``, a row this journal now holds (its lease written), remembered as held."""
        if entry is not None:
            with self._lock:
                self._taken.pop(entry.key, None)
                self._holding[entry.key] = None
                self._holding.move_to_end(entry.key)
                if len(self._holding) > REMEMBERED_TASKS:
                    self._holding.popitem(last=False)  # the oldest: its writes go unchecked
        return entry

    def _unheld(self, key: str) -> None:
        with self._lock:
            self._holding.pop(key, None)

    def _mark_taken(self, key: str, task_id: str | None, owner: str | None) -> None:
        """Row ``key`` was taken over by ``owner``: dropped from this process's work (said
        once, as a warning), and what this process still owed it is not written over it."""
        with self._lock:
            if key in self._taken:
                return
            self._taken[key] = owner
            self._holding.pop(key, None)
            self._owed.pop(key, None)
            if task_id is not None:
                self._missed.discard(task_id)
        log.warning(
            "task %s: another worker (%s) took over its journal row %s while this process was "
            "stalled past its lease (%s s): dropped here, not polled or downloaded again; that "
            "worker finishes it",
            task_id or "(none yet)",
            owner,
            key,
            shown(self.lease),
        )

    def refused(self, key: str, exc: BaseException) -> Entry | None:
        """Claimed job ``key`` was refused here before anything was sent (its input or model is
        wrong: :func:`refused_for_all`): ``rejected``, with the error (``kie tasks`` says why),
        and let go; a later claim takes it again, and the other workers of a run report it
        from the row (:meth:`claim`). Only a row still ``claimed`` by this process is changed
        (None otherwise). A worker's own trouble is :meth:`release` with its error instead."""
        changes = {
            "state": EntryState.REJECTED,
            "error": error_record(exc),
            "updated_at": self._clock(),
        }
        self._unheld(key)
        return self.store.update(key, changes, only_if=[EntryState.CLAIMED], holder=self.owner)

    def release(self, key: str, error: BaseException | None = None) -> Entry | None:
        """Let go of row ``key`` (this process no longer works on it; another may take it),
        with the ``error`` that stopped it here, if any (``kie tasks`` says why)."""
        changes: dict[str, Any] = {"updated_at": self._clock()}
        if error is not None:
            changes["error"] = error_record(error)
        self._unheld(key)
        if key in self._taken:  # another worker's now: nothing of this one is written over it
            return None
        return self.store.update(key, changes, holder=self.owner)

    def sender_lost(self, key: str, exc: BaseException) -> Entry | None:
        """Row ``key`` is ``sending`` and its sender is gone (an ended process here, a lease
        run out: :meth:`sender_alive` False), so KIE's answer to its create is lost with it:
        ``unknown`` at once, with ``exc`` (the OutcomeUnknownError that found it) as its error,
        its lease ended and its owner kept (the worker that sent it). Not taken by this
        process: a worker that found such a row and let it go made itself its owner, and
        ``kie tasks`` / ``kie resume`` read "being sent by" that live worker for as long as it
        ran, so nobody was told to settle it (outside tester "celeryteam", finding 2). The row
        after, or None when it is not such a row (moved on, or its sender may be alive)."""
        row = self.store.get(key)
        if row is None or row.state is not EntryState.SENDING:
            return None
        if self.sender_alive(row) is not False:
            return None
        self._unheld(key)
        error = error_record(exc)
        gone = {"type": "SenderGone", "http_status": None, "code": None, "answered": False}
        error["cause"] = {**gone, "owner": row.owner}  # KIE's answer went with it
        changes = {
            "state": EntryState.UNKNOWN,
            "error": error,
            "updated_at": self._clock(),
            "lease_until": None,
        }
        return self.store.update(key, changes, only_if=[EntryState.SENDING])

    @contextlib.contextmanager
    def at_work(self, task_id: str) -> Iterator[None]:
        """A wait or download of ``task_id`` runs in this process meanwhile (see
        :meth:`let_go_of`); in memory only."""
        with self._lock:
            if not self._at_work:  # the first at work: its lease was written just now, or so
                self._renewed_at = self._clock()
            self._at_work[task_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._at_work[task_id] -= 1
                if not self._at_work[task_id]:
                    del self._at_work[task_id]
                if not self._at_work:
                    self._renewed_at = None

    def alone_at(self, task_id: str) -> bool:
        """Whether one wait or download of ``task_id`` at most runs in this process now."""
        with self._lock:
            return self._at_work.get(task_id, 0) <= 1

    def let_go_of(self, task_id: str) -> Entry | None:
        """This process stopped working on task ``task_id`` before it finished (a wait or a
        download interrupted, or given up): the lease this process holds on its row, if any,
        is let go, so ``kie resume`` in another process takes it at once, not once the lease
        has run out. The caller makes sure no other flow of this process works on it
        (:meth:`alone_at`; a batch's job lets go of its claim itself). The row after, or None
        when this process held no lease on it."""
        entry = self.by_task(task_id)
        if entry is None or entry.owner != self.owner or entry.lease_until is None:
            return None
        return self.release(entry.key)

    def held_elsewhere(self, entry: Entry) -> float:
        """Seconds left on another worker's lease on ``entry`` (0: nobody else holds it). An
        owner that was a process of this machine and has ended (a ``kill -9``) holds nothing:
        its leases are ended at once for every row it held, not waited out."""
        if entry.owner in (None, self.owner) or entry.lease_until is None:
            return 0.0
        if entry.owner in self._ended:
            return 0.0
        if _dead_here(entry.owner):
            self.store.renew(entry.owner, 0.0)
            self._ended.add(entry.owner)
            return 0.0
        return max(0.0, entry.lease_until - self.store.now())

    def holder(self, entry: Entry, now: float | None = None) -> str | None:
        """The live worker other than this process that holds ``entry`` (its lease runs on
        the store's clock, ``now`` if read already), or None. Only reads: unlike
        :meth:`held_elsewhere`, a gone owner's leases are left as they are (``kie tasks``)."""
        owner, until = entry.owner, entry.lease_until
        if owner in (None, self.owner) or until is None or _dead_here(owner or ""):
            return None
        return owner if until > (self.store.now() if now is None else now) else None

    def sender_alive(self, entry: Entry) -> bool | None:
        """Whether the worker that wrote a ``sending`` row still runs: True (this process, a
        live process of this machine, or a lease that runs), False (an ended process here, or
        a lease run out), None when the journal cannot tell (a row of an older kiekit, or of
        another host without a lease): its create may be on its way or lost with a crash."""
        owner = entry.owner
        if owner is None:
            return None
        if owner == self.owner:
            return True
        here = _alive_here(owner)
        if here is not None:
            return here
        if entry.lease_until is None:
            return None
        return entry.lease_until > self.store.now()

    def parked(self, entry: Entry, exc: BaseException) -> Entry | None:
        """A create KIE refused in words that prove it made nothing (429, 455, 550), to be sent
        again after a wait: ``rejected`` meanwhile, with the refusal, so a crash during the wait
        leaves a row free to be sent again rather than one of unknown outcome. A keyed row stays
        held by this process, so no other worker takes it meanwhile. None if the row has moved
        on (it is only ``sending`` rows that are parked)."""
        changes = {
            "state": EntryState.REJECTED,
            "error": error_record(exc),
            "updated_at": self._clock(),
        }
        holder = None if entry.owner is None else self.owner
        lease = None if holder is None else self.lease
        return self.store.update(
            entry.key, changes, only_if=[EntryState.SENDING], holder=holder, lease=lease
        )

    def resending(self, entry: Entry) -> Entry | None:
        """A parked create is about to be sent again: ``sending`` once more (before it leaves,
        as the first intent row was). None when the row is no longer this process's to send
        (another worker took it over while the wait outlasted the lease)."""
        changes = {"state": EntryState.SENDING, "error": None, "updated_at": self._clock()}
        holder = None if entry.owner is None else self.owner
        lease = None if holder is None else self.lease
        return self.store.update(
            entry.key, changes, only_if=[EntryState.REJECTED], holder=holder, lease=lease
        )

    def settle(self, key: str, *, task_id: str | None, merge: bool = False) -> Entry:
        """Settle row ``key``, a create whose outcome is unknown (``sending`` left by a crash,
        or ``unknown``), once KIE's dashboard has told: with ``task_id``, the task it made
        (``created``: ``kie resume`` and ``kie batch`` wait for it and fetch its files);
        with None, nothing was made (``rejected``: free to be sent again, a batch's job or an
        idempotency key included). A row settled with a task id KIE then answers "not found"
        for (a mistyped id) may be settled again. ValidationError when there is no such row,
        its outcome is known, or another live worker is sending it now; ValidationError
        naming ``task_id`` when another row holds that task id already (one task, two rows:
        both would be waited for and downloaded) — unless that row was adopted (``kie
        adopt``: kiekit never saw its create, so it is this create's task taken in twice)
        and ``merge``: then this row takes that row's progress (its state, results and
        files) and that row is closed, its task id moved here. The row after."""
        entry = _known(self.get(key), key)
        other = None if task_id is None else self.by_task(_task_id(task_id))
        # (a refused create's row may name the task its refusal named: not that task's row)
        if other is not None and other.key != key and other.state is not EntryState.REJECTED:
            return self._settle_onto(entry, other, merge)
        return self._settle(entry, key, task_id)

    def _settle(self, entry: Entry, key: str, task_id: str | None) -> Entry:
        mistyped = entry.state is EntryState.CREATED and _no_such_task(entry.error)
        if not (entry.state.outcome_unknown or mistyped):
            again = (
                " (a task id settled by hand may be settled again once KIE has answered "
                '"not found" for it: run kie resume or the batch first)'
                if entry.state is EntryState.CREATED
                else ""
            )
            raise ValidationError(
                "key",
                f"row {key!r} is {entry.state.value}: its outcome is known, not to settle{again}",
            )
        if entry.state is EntryState.SENDING and self.sender_alive(entry):
            raise ValidationError(
                "key", f"row {key!r} is being sent by {entry.owner} now: its answer will settle it"
            )
        changes: dict[str, Any] = {"updated_at": self._clock(), "lease_until": None}
        if task_id is None:
            changes["state"] = EntryState.REJECTED
            changes["task_id"] = None  # a mistyped id settled before: no task of this row
            changes["error"] = {
                "type": "Settled",
                "message": "settled by hand: KIE made no task (free to send again)",
            }
        else:
            changes.update(state=EntryState.CREATED, task_id=_task_id(task_id), error=None)
        settled = self.store.update(key, changes, only_if=[entry.state])  # as it was looked at
        if settled is None:  # its state changed meanwhile (its create was answered)
            raise ValidationError("key", f"row {key!r} changed meanwhile: look again")
        return settled

    def _settle_onto(self, entry: Entry, other: Entry, merge: bool) -> Entry:
        """:meth:`settle` of ``entry`` with the task id row ``other`` holds already."""
        task_id = other.task_id
        said = f"task {task_id} is in the journal already: row {other.key!r}, " + (
            f"{other.state.value} ({other.model})"
        )
        adopted = other.request is None and not _abandoned(other)
        if not adopted:
            raise ValidationError(
                "task_id",
                f"{said}, a create of its own: it cannot be row {entry.key!r}'s task too. "
                "Check the task id on KIE's dashboard (kie tasks shows both rows)",
                task_id=task_id,
                key=entry.key,
            )
        if not merge:
            raise ValidationError(
                "task_id",
                f"{said}, adopted by hand (kie adopt). If the create of row {entry.key!r} "
                "made it, add --merge (Python: settle(..., merge=True)): that row takes the "
                f"task and what was done of it, and row {other.key!r} is closed; else check "
                "the task id",
                task_id=task_id,
                key=entry.key,
            )
        holder = self.holder(other)
        if holder is not None or self._at_work[task_id or ""]:
            raise ValidationError(
                "key",
                f"row {other.key!r} is being worked on by {holder or 'this process'} now: "
                "merge it once that has ended",
            )
        if entry.state is EntryState.SENDING and self.sender_alive(entry):
            raise ValidationError(
                "key",
                f"row {entry.key!r} is being sent by {entry.owner} now: its answer will settle it",
            )
        mistyped = entry.state is EntryState.CREATED and _no_such_task(entry.error)
        if not (entry.state.outcome_unknown or mistyped):
            raise ValidationError(
                "key",
                f"row {entry.key!r} is {entry.state.value}: its outcome is known, not to settle",
            )
        now = self._clock()
        closed = {
            "state": EntryState.FAILED,
            "task_id": None,  # one row per task: this one's moves to the settled row
            "error": {
                "type": "Merged",
                "message": f"task {task_id} merged into row {entry.key!r} (kie settle --merge)",
            },
            "updated_at": now,
            "lease_until": None,
        }
        if self.store.update(other.key, closed, only_if=[other.state]) is None:
            raise ValidationError("key", f"row {other.key!r} changed meanwhile: look again")
        taken = {
            "state": other.state,
            "task_id": task_id,
            "assets": other.assets,
            "value": other.value,
            "files": other.files,
            "out_dir": other.out_dir or entry.out_dir,
            "error": other.error,
            "updated_at": now,
            "lease_until": None,
        }
        settled = self.store.update(entry.key, taken, only_if=[entry.state])
        if settled is None:  # put the adopted row back as it was: nothing is lost
            back = {name: getattr(other, name) for name in ("state", "task_id", "error")}
            self.store.update(other.key, back)
            raise ValidationError("key", f"row {entry.key!r} changed meanwhile: look again")
        self._remember(task_id or "", entry.key)
        return settled

    def close_duplicate(self, entry: Entry, primary: Entry) -> Entry | None:
        """Row ``entry`` holds the task id of row ``primary`` too (two rows for one task, made
        by ``kie settle --task-id`` of an older kiekit): once ``primary`` owes nothing, this
        one is closed as it is (its state, results and files), so ``kie resume`` neither
        waits for nor downloads the task again. None when ``entry`` changed meanwhile."""
        changes = {
            "state": primary.state,
            "assets": primary.assets,
            "value": primary.value,
            "files": primary.files,
            "out_dir": primary.out_dir,
            "error": primary.error,
            "updated_at": self._clock(),
            "lease_until": None,
        }
        return self.store.update(entry.key, changes, only_if=[entry.state])

    def adopt(
        self,
        task_id: str,
        model: str,
        *,
        base_url: str | None = None,
        out_dir: str | None = None,
        account: str | None = None,
    ) -> Entry:
        """Take a task kiekit did not create (by other code, by hand) into the journal: a
        ``created`` row, as a submit's is once KIE has answered, with no ``request`` (kiekit
        never saw the create). ``kie tasks`` lists it, ``kie resume`` waits for it and fetches
        its files (into ``out_dir``), a wait or download of it writes the row, and a webhook
        receiver knows its model. ``base_url`` and ``account`` (the API key's hash) say where
        it lives and whose it is, as for a submit's row. A task id KIE then answers "not
        found" for (a typo) may be settled again (:meth:`settle`). A task whose row was
        abandoned (:meth:`abandon`) is taken back: that row is reopened. ValidationError
        naming ``task_id`` when it is no task id, or when another row of the journal has it
        already. The row."""
        task_id = _task_id(task_id)
        if not isinstance(model, str) or not model.strip():
            raise ValidationError("model", f"is not a model id: {model!r}")
        earlier = self.by_task(task_id)
        if earlier is not None and _abandoned(earlier):
            return self._taken_back(earlier, model, base_url, out_dir, account)
        if earlier is not None:
            raise ValidationError(
                "task_id",
                f"task {task_id} is in the journal already: row {earlier.key!r}, "
                f"{earlier.state.value} ({earlier.model}); kie tasks shows it",
                task_id=task_id,
                key=earlier.key,
            )
        now = self._clock()
        entry = Entry(
            key=uuid.uuid4().hex,
            model=model,
            request=None,
            state=EntryState.CREATED,
            created_at=now,
            updated_at=now,
            task_id=task_id,
            base_url=base_url,
            out_dir=out_dir,
            account=account,
        )
        if not self.store.insert(entry):
            raise self._missing(entry.key, "the adopted task's row was not stored")
        self._remember(task_id, entry.key)
        return entry

    def _taken_back(
        self,
        entry: Entry,
        model: str,
        base_url: str | None,
        out_dir: str | None,
        account: str | None,
    ) -> Entry:
        """An abandoned row's task adopted again: the abandon was this journal's decision, not
        KIE's, and the task may well be there. The row is reopened as ``created`` (its key and
        request kept, so ``kie batch`` and an idempotency key find its task again), with what
        the adopt says of the task. A row kiekit created keeps the model it sent."""
        if entry.request is not None and model != entry.model:
            raise ValidationError(
                "model",
                f"task {entry.task_id} was created by kiekit as {entry.model} (row "
                f"{entry.key!r}), not {model}: adopt it as {entry.model}",
            )
        changes: dict[str, Any] = {
            "state": EntryState.CREATED,
            "model": model,
            "error": None,
            "updated_at": self._clock(),
            "lease_until": None,
        }
        given = {"base_url": base_url, "out_dir": out_dir, "account": account}
        changes.update({name: value for name, value in given.items() if value is not None})
        reopened = self.store.update(entry.key, changes, only_if=[entry.state])
        if reopened is None:  # another adopt took it back meanwhile, or it was settled
            raise ValidationError("task_id", f"row {entry.key!r} changed meanwhile: look again")
        return reopened

    def abandon(self, key: str, *, reason: str | None = None) -> Entry:
        """Give row ``key`` up for good, by hand: a task that can never be finished or fetched
        here (made on a mock server since stopped, or on a server that is gone), or a create
        whose outcome will not be looked up. The row is closed as ``failed``, with an
        ``Abandoned`` error saying why and what it was before; it stays in ``kie tasks``, and
        ``kie resume``, ``kie batch`` and an idempotency key never wait for it, fetch it or send
        it again, unless its task is adopted again (:meth:`adopt` reopens the row). Nothing is
        deleted. ValidationError when there is no such row, nothing is owed for it (finished,
        or refused), or a live worker works on it now. The row after."""
        entry = _known(self.get(key), key)
        words = " ".join((reason or "").split()) or "given up by hand"
        if not words.isprintable():
            raise ValidationError("reason", f"must be printable text, not {reason!r}")
        held = entry.state in (EntryState.CLAIMED, EntryState.SENDING, EntryState.UNKNOWN)
        if not (held or entry.state is EntryState.CREATED or entry.unfinished):
            raise ValidationError(
                "key",
                f"row {key!r} is {entry.state.value}: nothing is owed for it, nothing to abandon",
            )
        if entry.state is EntryState.SENDING and self.sender_alive(entry):
            raise ValidationError(
                "key", f"row {key!r} is being sent by {entry.owner} now: its answer will settle it"
            )
        if self.held_elsewhere(entry) > 0:
            raise ValidationError(
                "key", f"row {key!r} is held by {entry.owner}, a live worker: leave it to it"
            )
        was = entry.state.value
        if entry.state is EntryState.SUCCEEDED:
            was += ", its files not all downloaded"
        changes: dict[str, Any] = {
            "state": EntryState.FAILED,
            "error": {"type": "Abandoned", "message": f"abandoned by hand (was {was}): {words}"},
            "updated_at": self._clock(),
            "lease_until": None,
        }
        abandoned = self.store.update(key, changes, only_if=[entry.state])  # as it was looked at
        if abandoned is None:  # its state changed meanwhile (its task was answered)
            raise ValidationError("key", f"row {key!r} changed meanwhile: look again")
        return abandoned

    def hand_off(self, name: str, *, reason: str | None = None) -> Entry:
        """Close a succeeded task's row without downloading: its result links were handed on
        (a webhook's consumer, a queue, a user) and nobody here needs its files. The row keeps
        its results' URLs and is marked so (``Entry.handed_off``, ``kie tasks``); ``kie
        resume`` no longer downloads it. ``name``: the row's key or its task id. ValidationError
        when there is no such row, it has not succeeded (yet), all its files are on disk, or a
        live worker works on it now. The row after."""
        entry = _known(self.find(name), name)
        words = " ".join((reason or "").split())
        if not words.isprintable():
            raise ValidationError("reason", f"must be printable text, not {reason!r}")
        if entry.state is not EntryState.SUCCEEDED or not entry.assets:
            raise ValidationError(
                "key",
                f"row {entry.key!r} is {entry.state.value}: only a succeeded task's "
                "result links can be handed off",
            )
        if entry.files_on_disk():
            raise ValidationError("key", f"row {entry.key!r}: its files are on disk already")
        holder = self.holder(entry)
        if holder is not None:
            raise ValidationError(
                "key", f"row {entry.key!r} is held by {holder}, a live worker: leave it to it"
            )
        links = len(entry.assets)
        changes: dict[str, Any] = {
            "error": {
                "type": HANDED_OFF,
                "message": f"{links} result link(s) handed off, not downloaded"
                + (f": {words}" if words else ""),
            },
            "updated_at": self._clock(),
            "lease_until": None,
        }
        handed = self.store.update(entry.key, changes, only_if=[EntryState.SUCCEEDED])
        if handed is None:  # its state changed meanwhile
            raise ValidationError("key", f"row {entry.key!r} changed meanwhile: look again")
        return handed

    def prune(self, older_than: float, *, dry_run: bool = False) -> int:
        """Delete the rows nothing is owed for any more, last changed more than ``older_than``
        seconds ago: refused (``rejected``), ``failed`` (abandoned ones too), and successes
        downloaded (every file recorded) or handed off. Rows still owed are never deleted,
        however old: a create being sent or whose outcome is unknown, a task not seen finished,
        a download short of its files; nor a row a live worker holds. An idempotency key or a
        batch job whose row is gone is free to be sent again. Files on disk are not touched.
        How many rows were deleted (``dry_run``: would be, and none is). A long-lived service
        keeps its journal bounded so (``kie prune``); a store without ``prune`` cannot."""
        if (
            isinstance(older_than, bool)
            or not isinstance(older_than, int | float)
            or not 0 <= older_than < math.inf
        ):
            raise ValidationError("older_than", f"must be seconds, 0 or more, not {older_than!r}")
        prune = getattr(self.store, "prune", None)  # optional in the protocol, as select
        if prune is None:
            raise ConfigurationError(f"{self.store!r} cannot prune rows (it has no prune method)")
        pruned: int = prune(self._clock() - older_than, dry_run=dry_run)
        return pruned

    def find(self, name: str) -> Entry | None:
        """The row named ``name``: its key, else its task id (``kie tasks`` and ``kie resume``
        show task ids; a batch row's key is its job's)."""
        return self.get(name) or self.by_task(name)

    # The writes below return the row after them; with ``read_back=False`` (the clients, which
    # ignore it) the row is written without being read back, and they return None.

    def on_create_ended(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` (from whichever thread writes) each time a create of this process
        has been answered (:meth:`created`) or has failed (:meth:`create_failed`), the row
        written or not; returns the function that stops it. A webhook receiver waits so for
        a callback that came before its create's answer."""
        with self._lock:
            self._create_listeners.append(listener)

        def stop() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._create_listeners.remove(listener)

        return stop

    def _create_ended(self) -> None:
        with self._lock:
            listeners = list(self._create_listeners)
        for listener in listeners:
            try:
                listener()
            except Exception:  # a listener's bug must not fail the write that recorded a task
                log.exception("a journal listener (on_create_ended) raised")

    @contextlib.contextmanager
    def made_for_run(self, key: str, run: str | None) -> Iterator[None]:
        """A create of row ``key`` answered here meanwhile was paid for by run ``run`` (a ``kie
        batch --celery`` run's id): :meth:`created` writes it with the task id (Entry.run), so
        that run's summary counts the task and no other run's does, whichever worker finishes
        it. Only the worker whose create KIE answered writes it; nothing decides on it."""
        if run is None:
            yield
            return
        with self._lock:
            before = self._runs.get(key)
            self._runs[key] = run
        try:
            yield
        finally:
            with self._lock:
                if before is None:
                    self._runs.pop(key, None)
                else:
                    self._runs[key] = before

    def created(
        self, entry: Entry, task: Task, *, read_back: bool = True, same_task_again: bool = False
    ) -> Entry | None:
        """Engine plumbing: KIE answered create ``entry`` (its intent row) with ``task``: the
        row is ``created``, holding it, before ``submit`` returns (the row as written; None
        without ``read_back``).
        ``same_task_again``: KIE answers this create with one task however often it is asked,
        making nothing the second time (the request says so: Veo's 1080P is its video's,
        kie-api.md §3.3). A row holding that task already keeps it; this row is closed as a
        Veo 4K asked again is, ``rejected`` and naming the task: one task is one row's (a
        task's row is found by its id, and ``kie resume`` would wait for and download it once
        per row). Only such creates look for the row, so no other create pays a store read."""
        if same_task_again:
            try:
                holder = self.by_task(task.id)
            except (KieError, OSError):  # unreadable: this row holds the task, as before
                log.debug("no row of task %s looked for", task.id, exc_info=True)
                holder = None
            if (
                holder is not None
                and holder.key != entry.key
                and holder.state in _HOLDS_TASK
                and holder.model == entry.model
                and holder.base_url == entry.base_url
            ):
                return self._made_again(entry, task, holder, read_back)
        self._remember(task.id, entry.key)
        changes = {"state": EntryState.CREATED, "task_id": task.id, "updated_at": self._clock()}
        with self._lock:
            run = self._runs.get(entry.key)
        if run is not None and getattr(self.store, "keeps_runs", False):  # a store of one's own
            changes["run"] = run  # may have no such column: its summaries count as before
        try:
            return self._write(entry.key, changes, read_back, task.id)
        finally:
            self._create_ended()

    def _made_again(self, entry: Entry, task: Task, holder: Entry, read_back: bool) -> Entry | None:
        """:meth:`created` of a create asked again whose task row ``holder`` holds."""
        changes = {
            "state": EntryState.REJECTED,
            "task_id": task.id,  # where the task is: kie tasks shows it, kie resume owes nothing
            "error": {
                "type": "AskedAgain",
                "message": f"asked again for task {task.id}, which row {holder.key} holds: "
                "nothing made",
            },
            "updated_at": self._clock(),
            "lease_until": None,
        }
        self._unheld(entry.key)
        try:
            return self._write(entry.key, changes, read_back)
        finally:
            self._create_ended()

    def create_failed(
        self,
        entry: Entry,
        exc: BaseException,
        *,
        maybe_sent: bool = True,
        read_back: bool = True,
    ) -> Entry | None:
        """A create that raised: ``rejected`` when it was never handed to the network
        (``maybe_sent`` False: cancelled before sending) or KIE's answer proves nothing was
        made; ``unknown`` when it may have been (OutcomeUnknownError, or an interruption
        mid-send). Only a request handed to the network can be "unknown". Either way the
        row's lease is let go: nothing was made, and another worker may try it at once; or
        its outcome is for a person to settle, and nobody works on it (``kie resume`` in
        another process reports it at once, not as held by this one). A refusal that names
        a task made before (a second Veo 4K request: kie-api.md §3.3) keeps its id, so ``kie
        tasks`` says where the task paid for is; and when no row holds that task, a row of
        the same create whose outcome is unknown (its answer was lost) is settled with it
        (:meth:`_link_lost_answer`)."""
        proven = not maybe_sent or (
            isinstance(exc, KieError) and not isinstance(exc, OutcomeUnknownError)
        )
        state = EntryState.REJECTED if proven else EntryState.UNKNOWN
        changes = {
            "state": state,
            "error": error_record(exc),
            "updated_at": self._clock(),
            "lease_until": None,
        }
        if proven and isinstance(exc, KieError) and exc.task_id:
            changes["task_id"] = exc.task_id
        if proven and not refused_for_all(exc):
            # this worker's own trouble (its network, its key, a cancel): not a refusal the
            # other workers of its run may report from the row without trying (claim)
            changes["owner"] = None
        self._unheld(entry.key)  # let go (lease_until None)
        try:
            written = self._write(entry.key, changes, read_back)
            if proven and isinstance(exc, KieError) and exc.task_id:
                self._link_lost_answer(entry, exc.task_id)
            return written
        finally:
            self._create_ended()

    def _link_lost_answer(self, entry: Entry, task_id: str) -> None:
        """KIE refused create ``entry`` naming task ``task_id``, the one it made for the same
        request before (a second Veo 4K request is answered 422 "4k is processing…" or "…
        generated successfully" with the 4K task's ``data.taskId``: kie-api.md §3.3). Every
        other row of the same create — model, server, account, body but for its callback URL
        — whose outcome is unknown (sent, its answer lost) is answered by that task too: KIE
        makes one 4K per video (and index), so a lost ask of it either made that task, was
        refused naming it, or never arrived; no such row can hold a task of its own.

        Yet one task is one row's (the journal finds a task's row by its id, and ``kie
        resume`` would wait for and download it once per row holding it): when no row holds
        it (a refused row naming it is not one), the oldest lost row — the likeliest to have
        made it — is settled with it, as ``kie settle KEY --task-id`` would, and ``kie resume``
        waits for it and fetches its files instead of asking to settle for ever. The others
        (all of them, when a row holds it already) are closed as the asked-again row is:
        ``rejected``, naming the task (:meth:`_asked_again`). Only a refusal naming a task
        comes here, so no other create pays for the look-up. A row some live process is
        sending now is left to its own answer; a journal that fails here leaves the rows it
        had not come to as they were."""
        try:
            holder = self.by_task(task_id)
            if holder is not None and holder.state is EntryState.REJECTED:
                holder = None  # a refusal naming the task: it holds none
            if holder is not None and (
                holder.model != entry.model or holder.base_url != entry.base_url
            ):
                return  # another create's task of the same id: not this one's to link
            unknown = frozenset({EntryState.SENDING, EntryState.UNKNOWN})
            lost = [
                row
                for row in self.select(Selection(states=unknown, model=entry.model))
                if row.key != entry.key
                and row.base_url == entry.base_url
                and row.account == entry.account
                and row.request is not None
                and entry.request is not None
                and _same_input(row.request, entry.request)
                and not (row.state is EntryState.SENDING and self.sender_alive(row))
            ]
        except (KieError, OSError):
            log.debug("rows of task %s not linked up", task_id, exc_info=True)
            return
        for row in lost:
            try:
                if holder is None:
                    holder = self._settle(row, row.key, task_id)
                    self._remember(task_id, holder.key)  # the wait's writes go to this row
                    log.info(
                        "task %s: KIE named it for the create of row %s, whose answer was "
                        "lost: settled with it (kie resume finishes it)",
                        task_id,
                        holder.key,
                    )
                else:
                    self._asked_again(row, task_id, holder.key)
            except (KieError, OSError):  # ValidationError: its answer came meanwhile
                log.debug("row %s of task %s not linked up", row.key, task_id, exc_info=True)

    def _asked_again(self, row: Entry, task_id: str, holder: str) -> None:
        """Close lost create ``row``, answered by task ``task_id`` that row ``holder`` holds:
        ``rejected`` and naming the task, as a create refused naming it is (``kie tasks``
        shows where what was paid for is; ``kie resume`` owes it nothing)."""
        changes = {
            "state": EntryState.REJECTED,
            "task_id": task_id,
            "error": {
                "type": "AskedAgain",
                "message": f"its answer was lost; KIE names task {task_id} for this request, "
                f"which row {holder} holds (one task for them both: kie-api.md §3.3)",
            },
            "updated_at": self._clock(),
            "lease_until": None,
        }
        if self.store.update(row.key, changes, only_if=[row.state]) is None:
            raise ValidationError("key", f"row {row.key!r} changed meanwhile")
        log.info(
            "task %s: KIE named it for the create of row %s, whose answer was lost; row %s "
            "holds it: closed, naming it",
            task_id,
            row.key,
            holder,
        )

    # -- the wait and the files --------------------------------------------------------------

    def finished(self, task: Task, results: Results, *, read_back: bool = True) -> Entry | None:
        """The task seen succeeded. A wait's earlier error (a timeout) is cleared, but not the
        mark of a hand-off: a wait that was running when the task was handed off (another
        process's, or this one's) ends later, and must not make its links owed again."""
        changes = {
            "state": EntryState.SUCCEEDED,
            "assets": results.assets,
            "value": results.value,  # a paid result that is no file: kept (Entry.value)
            "error": self._unless_handed_off(None),
            "updated_at": self._clock(),
        }
        return self._update_task(task.id, changes, read_back, owned=True)

    def _unless_handed_off(self, error: Mapping[str, Any] | None) -> Any:
        """``error`` for a write a hand-off's mark outlives (UnlessHandedOff), where the store
        can say so in the write itself; a store of one's own without it gets the bare error."""
        if getattr(self.store, "keeps_hand_offs", False):
            return UnlessHandedOff(error)
        return error

    def wait_failed(
        self, task: Task, exc: BaseException, *, read_back: bool = True
    ) -> Entry | None:
        """A wait that raised: the task failed, or the wait stopped (timeout, network) and the
        task lives on (``created`` stays, with the error, for ``kie resume``). A task past KIE's
        retention (ResultsExpiredError) is closed as ``failed`` too: nothing more can be
        fetched, so owing it for ever helps nobody; its task id, results (if it had them) and
        the error stay, to show it was paid for and lost to expiry."""
        if isinstance(exc, ResultsExpiredError):
            done = self.store.by_task(task.id)
            if done is not None and done.state is EntryState.SUCCEEDED and not done.unfinished:
                return done if read_back else None  # its files are here: nothing was lost
        if isinstance(exc, TaskNotFoundError) and self.made_by_unknown_key(task.id):
            return None  # perhaps another key's task, paid for: not written as lost (see there)
        changes: dict[str, Any] = {"error": error_record(exc), "updated_at": self._clock()}
        if isinstance(exc, TaskFailedError | ResultsExpiredError):
            changes["state"] = EntryState.FAILED
            changes["lease_until"] = None  # nothing left to do for it
        else:  # a wait stopped (a timeout, the network): a hand-off meanwhile stands
            changes["error"] = self._unless_handed_off(changes["error"])
        return self._update_task(task.id, changes, read_back, owned=True)

    def made_by_unknown_key(self, task_id: str) -> bool:
        """Whether the row of ``task_id`` does not say which API key made its task (a kiekit
        before rows kept their ``account``). KIE shows a task only to the key that made it, and
        answers "Task not found" to any other (kie-api.md §7): for such a row that answer may
        mean another key's task, paid for and alive, not a lost one, so it is not written into
        the row (whose error a user reads as the task's end) and the row stays owed."""
        row = self.store.by_task(task_id)
        return row is not None and row.account is None

    def downloaded(
        self,
        task_id: str,
        paths: Sequence[Path],
        out_dir: str | os.PathLike[str],
        *,
        read_back: bool = True,
    ) -> Entry | None:
        """The task's files are all on disk: its row is done, let go, and no longer carries
        the error of an earlier try that fell short (a ``DownloadError`` naming an
        ``.incomplete`` file since completed and removed): the column says what is still
        wrong, and nothing is. A hand-off's mark stays, as :meth:`finished` keeps it."""
        changes = {
            "files": tuple(recorded(path) for path in paths),
            "out_dir": recorded(out_dir),
            "error": self._unless_handed_off(None),
            "updated_at": self._clock(),
            "lease_until": None,  # done: nobody needs to hold it any more
        }
        return self._update_task(task_id, changes, read_back, owned=True, done=True)

    def landed(
        self,
        task_id: str,
        paths: Sequence[Path],
        out_dir: str | os.PathLike[str],
        *,
        read_back: bool = True,
    ) -> Entry | None:
        """Some of the task's files are on disk, ahead of the rest (``Results.partial``: a
        Suno song's first track): the folder and files are kept, so ``kie resume`` fetches
        only the others, there; the row stays owed (not done)."""
        changes = {
            "files": tuple(recorded(path) for path in paths),
            "out_dir": recorded(out_dir),
            "updated_at": self._clock(),
        }
        return self._update_task(task_id, changes, read_back, owned=True)

    def download_failed(
        self,
        task_id: str,
        exc: BaseException,
        out_dir: str | os.PathLike[str] | None = None,
        files: Sequence[Path] | None = None,
        *,
        read_back: bool = True,
    ) -> Entry | None:
        """A download that raised: the error, the folder it was asked for and the ``files``
        written there before it stopped, so ``kie resume`` fetches only the others, there (not
        into its own default folder). An interruption (Ctrl-C, a cancellation) keeps its
        folder and files but writes no error: it says nothing about the task."""
        changes: dict[str, Any] = {"updated_at": self._clock()}
        if isinstance(exc, KieError):  # a late download of links handed off: the mark stands
            changes["error"] = self._unless_handed_off(error_record(exc))
        if out_dir is not None:
            changes["out_dir"] = recorded(out_dir)
        if files is not None:
            changes["files"] = tuple(recorded(path) for path in files)
        return self._update_task(task_id, changes, read_back, owned=True)

    # -- reading -----------------------------------------------------------------------------

    def folder_keyed(self, model: str) -> Mapping[str, tuple[str, ...]]:
        """The keys of ``model``'s batch rows that a kiekit before 4 Dec 2026 keyed
        with their folder (``batch:<folder>:<job id>``), by job id: a batch run with another
        ``--out`` finds its jobs made there (kiekit.batch). Read once per journal handle and
        model, a page at a time (only an older kiekit writes such rows); the rows themselves
        are read again when used."""
        with self._lock:
            found = self._folder_keyed.get(model)
        if found is None:
            by_id: dict[str, list[str]] = {}
            for row in self.select(Selection(model=model)):
                folder = f"batch:{row.out_dir}:"
                if row.out_dir and row.key.startswith(folder):
                    by_id.setdefault(row.key[len(folder) :], []).append(row.key)
            found = {job: tuple(keys) for job, keys in by_id.items()}
            with self._lock:
                self._folder_keyed[model] = found
        return found

    def entries(self) -> list[Entry]:
        """Every row, all in memory: for small journals; :meth:`select` streams."""
        return self.store.entries()

    def select(self, selection: Selection | None = None) -> Iterator[Entry]:
        """The rows ``selection`` chooses (every row without one), oldest first, read a page
        at a time: memory stays flat however long the journal grows."""
        selection = selection or Selection()
        select = getattr(self.store, "select", None)  # optional in the protocol
        if select is None:
            return in_memory(self.store.entries(), selection)
        chosen: Iterator[Entry] = select(selection)
        return chosen

    def unfinished(
        self, *, model: str | None = None, since: float | None = None
    ) -> Iterator[Entry]:
        """The rows :attr:`Entry.unfinished` holds for, oldest first, without reading the whole
        journal: the open rows (a partial index of their own), and the successes recent enough
        that KIE still keeps their files (RESULT_LIFETIME), whose files are looked for on disk.
        What is read grows with the work in flight and the last two weeks, not the journal."""
        owed = (row for row in self.select(Selection(open=True, model=model, since=since))
                if row.unfinished)  # fmt: skip
        deleted = self.downloads_gone(model=model, since=since)
        return heapq.merge(owed, deleted, key=lambda row: row.created_at)

    def downloads_gone(
        self, *, model: str | None = None, since: float | None = None
    ) -> Iterator[Entry]:
        """The successes downloaded whole whose files have left the disk since, while KIE still
        keeps them (RESULT_LIFETIME), oldest first: owed again, yet not open rows (the journal
        cannot know what was deleted), so :meth:`unfinished` reads them apart, from the
        successes of the last two weeks only. Links handed off instead are done."""
        return (row for row in self._downloaded(model, since) if not row.files_on_disk())

    def successes_owed(self) -> Iterator[Entry]:
        """:meth:`downloads_gone`'s rows and, in the same read of the last two weeks'
        successes, those whose files are there but whose value no row kept
        (Entry.value_to_ask: a kiekit before values were kept wrote them), oldest first:
        what ``kie resume`` owes a finished task, besides the open rows."""
        recent = self._downloaded(None, None)
        return (row for row in recent if row.value_to_ask or not row.files_on_disk())

    def _downloaded(self, model: str | None, since: float | None) -> Iterator[Entry]:
        """The successes of KIE's retention (RESULT_LIFETIME) downloaded whole, not handed off."""
        recent = time.time() - RESULT_LIFETIME
        downloaded = Selection(
            states=frozenset({EntryState.SUCCEEDED}),
            model=model,
            since=recent if since is None else max(since, recent),
        )
        return (row for row in self.select(downloaded) if not is_open(row) and not row.handed_off)

    def get(self, key: str) -> Entry | None:
        """The row whose key is ``key`` (an idempotency key, ``batch:<job id>``, or the key
        kiekit made for a create without one, as ``kie tasks`` shows it), or None."""
        return self.store.get(key)

    def by_task(self, task_id: str) -> Entry | None:
        """The row of KIE task ``task_id`` (this process's, another's, or adopted), or None:
        a task kiekit never created nor adopted has none. :meth:`find` takes either."""
        with self._lock:
            key = self._keys.get(task_id)
        if key is not None:
            return self.store.get(key)
        entry = self.store.by_task(task_id)  # another process's task, or one forgotten
        if entry is not None:
            self._remember(task_id, entry.key)
        return entry

    def _remember(self, task_id: str, key: str) -> None:
        with self._lock:
            keys = self._keys
            keys[task_id] = key
            if len(keys) > REMEMBERED_TASKS:
                keys.popitem(last=False)  # the oldest

    def _update_task(
        self,
        task_id: str,
        changes: Mapping[str, Any],
        read_back: bool = True,
        *,
        owned: bool = False,
        done: bool = False,
    ) -> Entry | None:
        """``owned``: a write of this process's wait or download, made only while the row is
        still this process's when it held it (else TaskTakenOverError: another worker took it
        over). ``done``: the write lets the row go."""
        with self._lock:
            key = self._keys.get(task_id)
        if key is None:
            entry = self.store.by_task(task_id)  # a task another process created
            if entry is None:  # created elsewhere (another tool, the dashboard): not ours
                return None
            key = entry.key
            self._remember(task_id, key)
        taken = self.taken_over(task_id)
        if taken is not None:
            raise taken
        with self._lock:
            owner = self.owner if owned and key in self._holding else None
        if not getattr(self.store, "checks_owner", False):  # a store of one's own without it
            owner = None
        row = self._write(key, changes, read_back, task_id, owned_by=owner)
        if done:
            self._unheld(key)
        return row

    def _write(
        self,
        key: str,
        changes: Mapping[str, Any],
        read_back: bool,
        task_id: str | None = None,
        *,
        owned_by: str | None = None,
    ) -> Entry | None:
        """Change row ``key``, which must be there: a write that finds no row has lost what it
        records (a task id, its results), so it is an error, not a quiet no-op. Told by the
        statement's own count of rows: no read more. A write that fails is kept (owed), and
        made with the row's next write or by :meth:`write_missed`."""
        with self._lock:
            earlier = self._owed.get(key)
        merged = dict(changes) if earlier is None else {**earlier[1], **changes}
        task_id = task_id or merged.get("task_id") or (earlier[0] if earlier else None)
        try:
            row = self._written(key, merged, read_back, owned_by, task_id)
        except JournalError:
            with self._lock:
                self._owed[key] = (task_id, {**self._owed.get(key, (None, {}))[1], **changes})
            raise
        if earlier is not None:
            with self._lock:
                if self._owed.get(key) is earlier:
                    del self._owed[key]
        return row

    def _written(
        self,
        key: str,
        changes: Mapping[str, Any],
        read_back: bool,
        owned_by: str | None = None,
        task_id: str | None = None,
    ) -> Entry | None:
        change = getattr(self.store, "change", None)
        if owned_by is not None:  # the row's owner tested in the write itself (checks_owner)
            if read_back or change is None or not _takes_owner(change):
                row = self.store.update(key, changes, owned_by=owned_by)  # type: ignore[call-arg]
                done = row is not None
            else:  # no row read back (RETURNING) where none is used: issue 18's hot path
                row, done = None, change(key, changes, owned_by=owned_by)
            if not done:
                now = self.store.get(key)
                if now is None:
                    raise self._missing(key, "this change was not recorded")
                if now.owner in (None, owned_by):  # let go meanwhile, nobody else's
                    return self._written(key, changes, read_back)
                self._mark_taken(key, task_id or now.task_id, now.owner)
                taken = self.taken_over(task_id or now.task_id or "")
                raise taken or TaskTakenOverError(task_id or "", key=key, owner=now.owner)
            return row if read_back else None
        if read_back or change is None:  # change() is optional in the protocol
            row = self.store.update(key, changes)
            if row is None:
                raise self._missing(key, "this change was not recorded")
            return row if read_back else None
        if not change(key, changes):
            raise self._missing(key, "this change was not recorded")
        return None

    def _missing(self, key: str, what: str) -> JournalError:
        """A row the journal wrote and did not find: the store did not keep it (a column or
        rule it does not fill, in a store of one's own), or it was deleted by hand."""
        return JournalError(f"task journal {_named(self.store)}: row {key!r} is not there; {what}")


def _takes_owner(change: Callable[..., bool]) -> bool:
    """Whether a store's ``change`` takes ``owned_by=`` (kiekit's do; a store of one's own, or
    a subclass overriding ``change`` with the older signature, may not: its owner-checked
    writes then go through ``update``, reading the row back)."""
    code = getattr(getattr(change, "__func__", change), "__code__", None)
    if code is None:  # not a plain function: say no, update() is always there
        return False
    named = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    return "owned_by" in named or bool(code.co_flags & 0x08)  # CO_VARKEYWORDS: **options


# What a task id given by hand may look like, in every family: KIE's are 32 hex digits in real
# traffic, its docs show placeholders (`task_12345678`, `veo_task_abcdef123456`), UUIDs for
# Runway and, in one page version, numbers (kie-api.md §1, §3.4). Permissive past those shapes
# ('.' and ':' too); what it keeps out is a sentence, a path or URL, or a pasted page.
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")


def _task_id(task_id: str) -> str:
    """A task id given by hand (``settle``, ``adopt``), without the blanks around it; a
    ValidationError naming ``task_id`` for what cannot be one (a URL, a sentence): KIE would
    answer "not found" only at the first wait."""
    if not isinstance(task_id, str) or _TASK_ID.fullmatch(task_id.strip()) is None:
        shown_id = (
            repr(task_id)
            if len(repr(task_id)) <= 80
            else f"{repr(task_id)[:60]}… ({len(task_id)} characters)"
        )
        raise ValidationError(
            "task_id",
            f"is not a task id: {shown_id} (KIE's are up to 128 letters, digits, '_', '-', "
            "'.' or ':', like 5f488be792eafad4b066e21e5bc472c7 or a UUID)",
        )
    return task_id.strip()


def _no_such_task(error: Mapping[str, Any] | None) -> bool:
    """Whether a row's error says KIE has no record of its task: TaskNotFoundError, in every
    family; in rows an older kiekit wrote, the 404 and 422 it raised for it then, or the
    ProtocolError of a ``data: null`` answer (Suno, market: kie-api.md §2.2)."""
    kind = (error or {}).get("type")
    if kind in ("TaskNotFoundError", "NotFoundError", "UnprocessableError"):
        return True
    return kind == "ProtocolError" and (error or {}).get("message") == NO_RECORD


def refused_for_all(exc: BaseException) -> bool:
    """Whether every worker would be refused a job as ``exc`` refused it here (docs/teams.md):
    kiekit's own refusal of its input or model, or KIE's answer that made nothing for the
    account (402 no credits) or the input (422). Only those may the other workers of a run
    report from the row without trying; a worker's own trouble (its Redis, its network, its
    key, a stop) may well spare the others, who then take the job."""
    refusals = (
        ValidationError
        | UnknownModelError
        | InsufficientCreditsError
        | UnprocessableError
        | ResultsExpiredError  # a parent past retention (422, kie-api.md §3.3)
    )
    return isinstance(exc, refusals)


def _abandoned(entry: Entry) -> bool:
    """Whether a row was given up by hand (:meth:`Journal.abandon`), not ended by KIE."""
    return entry.state is EntryState.FAILED and (entry.error or {}).get("type") == "Abandoned"


def _known(entry: Entry | None, name: str) -> Entry:
    """The row a settle, an abandon or a hand-off acts on: there, and in a state this kiekit
    knows (a newer kiekit's row is left to it)."""
    if entry is None:
        raise ValidationError("key", f"no row {name!r} in the task journal")
    if not entry.state.known:
        raise ValidationError("key", not_known(entry))
    return entry


def _named(store: JournalStore) -> str:
    """A store as a message names it: a SQLite journal by its file."""
    return str(store.path) if isinstance(store, SqliteStore) else repr(store)


def _where(store: JournalStore) -> tuple[str, str] | None:
    """Where a store keeps its rows, for telling two handles on one journal; None for a store
    that is only itself (in memory, or another's kind)."""
    if isinstance(store, SqliteStore):
        return "sqlite", os.path.normcase(os.path.realpath(store.path))
    url = getattr(store, "url", None)
    if type(store).__name__ == "PostgresStore" and isinstance(url, str):
        return "postgresql", url
    return None


def default_journal() -> Journal:
    """The journal every client uses unless told otherwise: ``$KIEKIT_JOURNAL_URL`` when set
    (see :func:`open_journal`), else SQLite in :func:`data_dir` (``KIEKIT_JOURNAL_FSYNC=1``
    flushes every commit to the disk). Either variable set but empty is a ConfigurationError:
    the journal meant is not the default one (two workers then create one job twice)."""
    from kiekit.settings import setting

    default = "the SQLite journal in KIEKIT_DATA_DIR (else the user's data folder)"
    return open_journal(setting(JOURNAL_URL_ENV, unset_means=default))


def open_journal(url: str | None) -> Journal:
    """The journal at ``url``: ``postgresql://…`` (one journal for a team's workers; the
    ``postgresql`` extra), ``sqlite:///path/to/file`` or a plain file path; None: the default
    SQLite file. ``KIEKIT_JOURNAL_LEASE`` sets how many seconds a worker holds a job without
    renewing it (default 60)."""
    lease = _lease_from_env()
    if url is None:
        fsync = _fsync_from_env()
        return _sqlite_journal(lambda: data_dir() / JOURNAL_FILE, lease, fsync=fsync)
    scheme = url.split(":", 1)[0].lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        from kiekit.journal._postgres import PostgresStore

        return Journal(PostgresStore(url), lease=lease)
    if scheme == "sqlite":
        path = url.split("://", 1)[1]
        if not path.startswith("/") or path == "/":
            raise ConfigurationError(
                f"journal: {url!r} is not sqlite:///path/to/file (three slashes, a full path)"
            )
        return Journal(SqliteStore(path), lease=lease)
    if scheme:
        raise ConfigurationError(
            f"journal: {scheme}:// is not a journal kiekit knows "
            "(postgresql://…, sqlite:///path, or a file path)"
        )
    return _sqlite_journal(lambda: expanded(Path(url)), lease)


def _sqlite_journal(where: Callable[[], Path], lease: float, *, fsync: bool = False) -> Journal:
    """A SQLite journal at ``where()``; where there is no home directory to find it under, a
    journal that says so at its first use, as one that cannot be opened does (Unopenable)."""
    try:
        path = where()
    except JournalError as exc:
        return Journal(Unopenable(str(exc)), lease=lease)
    return Journal(SqliteStore(path, fsync=fsync), lease=lease)


def _fsync_from_env() -> bool:
    """``KIEKIT_JOURNAL_FSYNC``: 1/true/yes or 0/false/no (unset or empty: no); a typo is a
    ConfigurationError, not durability silently off."""
    text = os.environ.get(FSYNC_ENV, "").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{FSYNC_ENV} must be 1 or 0 (true/false, yes/no), not {text!r}")


def _lease_from_env() -> float:
    text = os.environ.get(LEASE_ENV, "").strip()
    if not text:
        return DEFAULT_LEASE
    try:
        lease = float(text)
    except ValueError:
        lease = -1.0
    if not (lease > 0 and lease < float("inf")):
        raise ConfigurationError(f"{LEASE_ENV} must be a positive number of seconds, not {text!r}")
    return lease


JournalOption = Journal | JournalStore | str | bool | None


def journal_of(option: JournalOption) -> Journal | None:
    """A client's ``journal=`` argument: True (the default journal), a Journal or a store, a
    journal URL (:func:`open_journal`), or False/None (no journal: nothing is recorded)."""
    if option is True:
        return default_journal()
    if option is None or option is False:
        return None
    if isinstance(option, Journal):
        return option
    if isinstance(option, str):
        return open_journal(option)
    if isinstance(option, JournalStore):
        return Journal(option)
    raise ConfigurationError(
        "journal must be a Journal, a JournalStore, a URL, True or None, "
        f"not {type(option).__name__}"
    )


class Recorder:
    """Engine plumbing: what a client tells its journal, in the client's words; does nothing
    without a journal. Not for users (its signatures may change without notice).

    The two clients call the same methods around their I/O, so the rules live here once.
    """

    def __init__(self, journal: Journal | None, engine: _engine.Engine) -> None:
        self.journal = journal
        self._engine = engine

    def before_create(
        self,
        model: str,
        create: Request,
        key: str | None,
        out_dir: str | os.PathLike[str] | None = None,
    ) -> Entry | Task | None:
        """The intent row (an Entry), or the Task an earlier create with ``key`` made.
        ``out_dir``: where its files are to go, known before the create (``generate``)."""
        if self.journal is None:
            if key is not None:
                raise ConfigurationError("idempotency_key needs a journal (journal=None here)")
            return None
        request = dict(create.body) if create.body is not None else None
        folder = None if out_dir is None else recorded(out_dir)
        entry = self.journal.intend(
            model,
            request,
            base_url=self._engine.base_url,
            key=key,
            out_dir=folder,
            account=self._engine.account,
        )
        if entry is not None:
            return entry
        assert key is not None  # only a keyed intent can find its row taken
        return self._earlier(model, request, key)

    def _earlier(self, model: str, request: Mapping[str, Any] | None, key: str) -> Task:
        assert self.journal is not None
        earlier = self.journal.get(key)
        if earlier is not None and not earlier.state.known:  # neither sent again nor waited for
            raise JournalError(f"idempotency key {key!r}: {not_known(earlier)}")
        if earlier is not None and earlier.model != model:  # the same slip as another input
            raise ValidationError(
                "idempotency_key",
                f"{key!r} was used for a {earlier.model} task, not {model}; a new task needs "
                "a new key",
                task_id=earlier.task_id,
                key=key,
            )
        if earlier is not None and earlier.account not in (None, self._engine.account):
            raise ConfigurationError(
                f"idempotency key {key!r} was used with another API key (another KIE account): "
                "its task lives in that account; use a key of its own for this one"
            )
        if earlier is not None and not _same_input(earlier.request, request):
            raise ValidationError(  # the task it made is the error's task_id (said after)
                "idempotency_key",
                f"{key!r} was used for a different input{'' if earlier.task_id else ' (a create)'}"
                "; a new input needs a new key",
                task_id=earlier.task_id,
                key=key,
            )
        # a row claimed for a batch's job, not sent yet, names no API: who holds it is below
        claimed = earlier is not None and earlier.state is EntryState.CLAIMED
        if earlier is not None and earlier.base_url != self._engine.base_url and not claimed:
            raise ConfigurationError(
                f"idempotency key {key!r} was used on {earlier.base_url}, not on "
                f"{self._engine.base_url}: its task lives there"
            )
        if earlier is not None and earlier.task_id is not None:
            return Task(id=earlier.task_id, model=earlier.model)
        waiting = (EntryState.CLAIMED, EntryState.SENDING, EntryState.REJECTED)
        if earlier is not None and earlier.state in waiting:
            left = self.journal.held_elsewhere(earlier) or self._sending_here(earlier)
            # another worker sends it now (its answer will be in the row), or holds the job
            # and has not sent it, or parked it to send again after a 429 (Journal.parked:
            # KIE made nothing, kie-api.md §8); or it is gone, or let the row go since
            # intend's try: then the next try takes the row over and sends it
            if left > 0 or earlier.state is not EntryState.SENDING:
                raise HeldElsewhere(key, earlier.owner, left)
        when = time.strftime(
            "%Y-%m-%d %H:%M:%S", time.localtime(earlier.created_at if earlier else 0)
        )
        cause = KieError(
            f"an earlier create with idempotency key {key!r} ({when}) has no known outcome "
            f"(once KIE's dashboard tells: kie settle {key!r} --task-id ID, or --not-created)"
        )
        raise OutcomeUnknownError(model=model, request=request, cause=cause, key=key)

    def _sending_here(self, entry: Entry) -> float:
        """A create with this key that this process is sending right now (two concurrent
        submits with one key): looked at again soon, its answer will be in the row. Its lease
        bounds the wait, should that flow have been dropped without a word."""
        assert self.journal is not None
        if entry.state is not EntryState.SENDING or entry.owner != self.journal.owner:
            return 0.0
        if entry.lease_until is None or entry.lease_until <= self.journal.store.now():
            return 0.0
        return _IN_FLIGHT_HERE_POLL

    def adopt(self, task_id: str, model: str, out_dir: str | os.PathLike[str] | None) -> Task:
        """A task created outside kiekit, journalled as a submit's row is (Journal.adopt)."""
        if self.journal is None:
            raise ConfigurationError("adopt needs a journal (this client has journal=None)")
        entry = self.journal.adopt(
            task_id,
            model,
            base_url=self._engine.base_url,
            out_dir=None if out_dir is None else recorded(out_dir),
            account=self._engine.account,
        )
        assert entry.task_id is not None  # adopted with one
        return Task(id=entry.task_id, model=entry.model)

    def created(self, intent: Entry | None, task: Task, *, same_task_again: bool = False) -> None:
        if self.journal is not None and intent is not None:
            journal = self.journal
            self._safely(
                task.id,
                lambda: journal.created(
                    intent, task, read_back=False, same_task_again=same_task_again
                ),
            )

    def parked(self, intent: Entry, exc: BaseException) -> None:
        """The create was refused in words that prove KIE made nothing; it waits to be sent
        again (Journal.parked)."""
        assert self.journal is not None
        self.journal.parked(intent, exc)

    def resending(self, intent: Entry) -> None:
        """The parked create goes again; TakenOver if another worker has its row now."""
        assert self.journal is not None
        if self.journal.resending(intent) is None:
            raise TakenOver(intent.key)

    def create_failed(
        self, intent: Entry | None, exc: BaseException, *, maybe_sent: bool = True
    ) -> None:
        if self.journal is not None and intent is not None:
            journal = self.journal
            self._safely(
                None,
                lambda: journal.create_failed(intent, exc, maybe_sent=maybe_sent, read_back=False),
            )

    def finished(self, task: Task, results: Results) -> None:
        if self.journal is not None:
            journal = self.journal
            self._safely(task.id, lambda: journal.finished(task, results, read_back=False))

    def at_work(self, task_id: str) -> contextlib.AbstractContextManager[None]:
        """Counts this process's waits and downloads of ``task_id`` (Journal.at_work)."""
        return contextlib.nullcontext() if self.journal is None else self.journal.at_work(task_id)

    def renewal_due(self) -> bool:
        """Whether the leases of the rows at work here are to be renewed now
        (Journal.renewal_due); never without a journal."""
        return self.journal is not None and self.journal.renewal_due()

    def renew(self) -> None:
        """Renew the leases of the rows at work here (Journal.renew_at_work); a journal that
        cannot be written is said, not raised: the leases may lapse, nothing is lost."""
        if self.journal is not None:
            try:
                self.journal.renew_at_work()
            except JournalError as exc:
                log.warning("could not renew the leases of this process's tasks: %s", exc)

    def taken_over(self, task_id: str) -> TaskTakenOverError | None:
        """The error to stop work on ``task_id`` with once another worker took its row over
        from this process (Journal.taken_over); None without a journal."""
        return None if self.journal is None else self.journal.taken_over(task_id)

    def stopped_working(self, task_id: str) -> None:
        """A wait or download of ``task_id`` ended unfinished: the row's lease is let go when
        it was the only one of this process on the task (Journal.let_go_of); a row taken over
        by another worker is not this process's to let go."""
        journal = self.journal
        if journal is not None and journal.taken_over(task_id) is not None:
            return
        if journal is not None and journal.alone_at(task_id):
            self._safely(task_id, lambda: journal.let_go_of(task_id))

    def journalled_model(self, task: Task) -> str | None:
        """The model the journal has ``task`` under when it is not ``task.model`` (a Task
        rebuilt with the wrong model: its status would be asked on another family's path,
        and KIE would say it has no record of a task that is there, paid for), else None.
        None too when the journal cannot be read: the wait goes on without this check."""
        if self.journal is None:
            return None
        try:
            row = self.journal.by_task(task.id)
        except JournalError:
            return None
        if row is None or not row.model or row.model == task.model:
            return None
        return row.model

    def records_failure(self, exc: BaseException) -> bool:
        """Whether a failed wait is written down: only kiekit's errors say something about
        the task; a cancelled or interrupted one leaves the row as it was, and so does one
        stopped because another worker took the task over (the row is that worker's)."""
        return (
            self.journal is not None
            and isinstance(exc, KieError)
            and not isinstance(exc, TaskTakenOverError)
        )

    def wait_failed(self, task: Task, exc: BaseException) -> None:
        if self.journal is not None and isinstance(exc, KieError):  # records_failure
            journal = self.journal
            self._safely(task.id, lambda: journal.wait_failed(task, exc, read_back=False))

    def downloaded(
        self, task_id: str, paths: Sequence[Path], out_dir: str | os.PathLike[str]
    ) -> None:
        if self.journal is not None:
            journal = self.journal
            self._safely(
                task_id,
                lambda: journal.downloaded(task_id, paths, out_dir, read_back=False),
            )

    def row_of(self, task_id: str) -> Entry | None:
        """The journal row of ``task_id``, for the names its log lines and events carry (its
        key, its model): a task this client did not create in this process (another
        process's on a shared journal, one resumed or adopted). None without a journal or a
        row, and when the journal cannot be read (the names are not worth failing a call)."""
        if self.journal is None:
            return None
        try:
            return self.journal.by_task(task_id)
        except JournalError as exc:
            log.debug("could not read task %s in the task journal: %s", task_id, exc)
            return None

    def landed(self, task_id: str, paths: Sequence[Path], out_dir: str | os.PathLike[str]) -> None:
        """Files of a task still owed, written ahead of the rest (Journal.landed)."""
        if self.journal is not None:
            journal = self.journal
            self._safely(task_id, lambda: journal.landed(task_id, paths, out_dir, read_back=False))

    def files_written(self, task_id: str) -> frozenset[str]:
        """The files of ``task_id`` the journal says were written (a download that stopped
        part-way, or an earlier one): still on disk, they are not fetched again.
        TaskTakenOverError, before anything is fetched, when another worker took the row over
        from this process (Journal.check_held)."""
        if self.journal is None:
            return frozenset()
        taken = self.journal.taken_over(task_id)
        if taken is not None:
            raise taken
        try:
            entry = self.journal.by_task(task_id)
        except JournalError as exc:  # fetched again, then: nothing is lost
            log.warning("could not read task %s in the task journal: %s", task_id, exc)
            return frozenset()
        if entry is not None:
            self.journal.check_held(entry)
        return frozenset(entry.files) if entry is not None else frozenset()

    def download_failed(
        self,
        task_id: str,
        exc: BaseException,
        out_dir: str | os.PathLike[str],
        files: Sequence[Path],
    ) -> None:
        """A download that failed or was interrupted (Journal.download_failed); one stopped
        because another worker took the task over writes nothing (the row is that worker's)."""
        if self.journal is not None and not isinstance(exc, TaskTakenOverError):
            journal = self.journal
            self._safely(
                task_id,
                lambda: journal.download_failed(task_id, exc, out_dir, files, read_back=False),
            )

    def _safely(self, task_id: str | None, write: Callable[[], object]) -> None:
        """A write after the create: the caller holds the task, so a journal that cannot be
        written is reported, not raised (raising would lose the task id with the error); the
        journal remembers the task (Journal.unrecorded), for a batch to write it down later."""
        try:
            write()
        except JournalError as exc:
            task = f" for task {task_id}" if task_id else ""
            journal = self.journal
            command = (
                None if task_id is None or journal is None else journal.settle_command(task_id)
            )
            # the row holds only the intent: the command that records the task id, should
            # the writes tried again (Journal.write_missed) fail too
            then = (
                f"; its row holds only the create's intent (tried again before the run ends; "
                f"should that fail too, once there is room: {command})"
                if command
                else ""
            )
            log.warning("could not record%s in the task journal: %s%s", task, exc, then)
            if task_id is not None and journal is not None:
                journal.missed(task_id)


def _same_input(earlier: Mapping[str, Any] | None, now: Mapping[str, Any] | None) -> bool:
    """Whether two create bodies are the same JSON (the journal's copy went through JSON, so
    tuples came back as lists), but for the callback URL: where KIE tells of the task, not
    what it makes (a batch run again with a new tunnel's URL waits for the task made before)."""
    if earlier is None or now is None:
        return True  # nothing recorded to compare with: trust the key
    return _but_callback(json.loads(json.dumps(now, sort_keys=True))) == _but_callback(earlier)


def _but_callback(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "callBackUrl"}  # §2.1, §3
