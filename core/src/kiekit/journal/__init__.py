"""The task journal: a durable record of every task a client creates, so nothing paid for is lost.

KIE has no endpoint that lists your tasks (kie-api.md §4), so a task id lost with a crashed
process is a paid result lost for good. The clients therefore write to a journal:

1. an *intent* row (state ``sending``) before a create is sent: a crash between sending and the
   answer leaves a trace ("outcome unknown") instead of nothing;
2. the task id (``created``) before ``submit`` returns;
3. the end of the wait (``succeeded`` with its result files' URLs, or ``failed`` with KIE's
   reason) and every downloaded file.

``kie tasks`` lists the rows, ``kie resume`` finishes what a crash interrupted and ``kie batch``
keys its jobs on them. The request body is kept (what was sent); the API key never is: it travels
in a header, which the journal never sees.

Storage is a :class:`JournalStore` (a Protocol). :class:`SqliteStore` is the
default, at ``<user data folder>/journal.sqlite3`` (``KIEKIT_DATA_DIR`` overrides the folder);
:class:`MemoryStore` serves tests and short scripts; ``KIEKIT_JOURNAL_URL=postgresql://…``
(:func:`open_journal`) shares one journal between a team's workers, whose rows then carry an
owner and a lease (docs/teams.md).
"""

from __future__ import annotations

from kiekit.journal._entry import (
    DATA_DIR_ENV,
    FSYNC_ENV,
    JOURNAL_FILE,
    NOT_KEPT,
    Entry,
    EntryState,
    JournalError,
    UnlessHandedOff,
    data_dir,
    error_record,
)
from kiekit.journal._journal import (
    DEFAULT_LEASE,
    JOURNAL_URL_ENV,
    HeldElsewhere,
    Journal,
    JournalOption,
    Recorder,
    TakenOver,
    default_journal,
    journal_of,
    open_journal,
)
from kiekit.journal._leases import leases_renewed
from kiekit.journal._selection import OPEN_STATES, Selection
from kiekit.journal._stores import JournalStore, MemoryStore, SqliteStore

__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_LEASE",
    "FSYNC_ENV",
    "JOURNAL_FILE",
    "JOURNAL_URL_ENV",
    "NOT_KEPT",
    "OPEN_STATES",
    "Entry",
    "EntryState",
    "HeldElsewhere",
    "Journal",
    "JournalError",
    "JournalOption",
    "JournalStore",
    "MemoryStore",
    "Recorder",
    "Selection",
    "SqliteStore",
    "TakenOver",
    "UnlessHandedOff",
    "data_dir",
    "default_journal",
    "error_record",
    "journal_of",
    "leases_renewed",
    "open_journal",
]
