"""``kie tasks``: the task journal — every task created from this machine, and where it stands."""

from __future__ import annotations

import argparse
import collections
import heapq
import math
import re
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kiekit._paths import is_file
from kiekit.cli._common import Commands, add_journal_option, journal_to_read, say
from kiekit.cli._streams import json_text
from kiekit.errors import ValidationError

if TYPE_CHECKING:
    from kiekit.journal import Entry, Journal

STATES = ("claimed", "sending", "unknown", "rejected", "created", "succeeded", "failed")
_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(commands: Commands) -> None:
    tasks = commands.add_parser(
        "tasks", help="list the tasks this machine created (the task journal)"
    )
    tasks.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per row, a line each (JSON Lines: none when no row matches)",
    )
    tasks.add_argument(
        "--state",
        action="append",
        choices=(*STATES, "unfinished"),
        help="only rows in this state (repeatable); unknown: every create whose outcome is "
        "unknown (sending included: a crash leaves it so); unfinished: owed a wait or a download "
        "(or in a state a newer kiekit wrote: maybe owed)",
    )
    tasks.add_argument("--model", help="only this model id")
    tasks.add_argument("--since", metavar="AGE", help="only rows newer than AGE, e.g. 30m, 2h, 7d")
    tasks.add_argument("--limit", type=int, default=None, metavar="N", help="the newest N rows")
    add_journal_option(tasks)
    tasks.set_defaults(handler=_tasks)


def _tasks(args: argparse.Namespace) -> int:
    journal = journal_to_read(args)
    rows = select(journal, args)
    shown = False
    now = None if args.json else journal.store.now()  # whose leases run: read once
    for row in rows:  # streamed: a journal of a million rows is never in memory at once
        print(_json_line(row) if args.json else _line(journal, row, now))
        shown = True
    if not shown:
        filtered = args.state or args.model or args.since or args.limit is not None
        # a message, not a row: on standard error (`kie tasks | wc -l` counts rows)
        say("no task in the journal matches" if filtered else "no tasks in the journal")
    return 0


def _json_line(row: Entry) -> str:
    """A row as one JSON line, as readable as standard output's encoding allows (json_text),
    else in JSON's ``\\u`` escapes: a path whose name is not UTF-8 (bytes on Linux) reads
    ``\\udcff``."""
    return json_text(row.to_json())


def select(journal: Journal, args: argparse.Namespace) -> Iterator[Entry]:
    """The rows the filters let through, oldest first, filtered where they are stored."""
    from kiekit.journal import EntryState, Selection

    if args.limit is not None and args.limit < 0:
        raise ValidationError("--limit", "must be 0 or more")
    # a limit past any journal's length is every row (SQLite and a deque take no more)
    limit = None if args.limit is None else min(args.limit, sys.maxsize)
    since = None if args.since is None else time.time() - seconds(args.since)
    named = {EntryState(state) for state in args.state or () if state != "unfinished"}
    if EntryState.UNKNOWN in named:  # as the listing says: a crash mid-create leaves `sending`
        named.add(EntryState.SENDING)
    if "unfinished" not in (args.state or ()):
        chosen = Selection(frozenset(named), model=args.model, since=since, newest=limit)
        return journal.select(chosen)
    # unfinished needs a look at the disk too: the store gives the candidates, the last N of
    # those that pass are kept here (at most --limit rows in memory)
    rows = _unfinished(journal, model=args.model, since=since)
    if named:
        others = journal.select(Selection(frozenset(named), model=args.model, since=since))
        unnamed = (row for row in rows if row.state not in named)
        rows = heapq.merge(others, unnamed, key=lambda row: row.created_at)
    if limit is None:
        return rows
    return iter(collections.deque(rows, maxlen=limit))


def _unfinished(journal: Journal, *, model: str | None, since: float | None) -> Iterator[Entry]:
    """The unfinished rows, and those in a state this kiekit does not know (a newer kiekit's):
    they may be owed, as kie resume counts them, so they are listed (their state shown) rather
    than passed over."""
    from kiekit.journal import Selection

    foreign = (
        row
        for row in journal.select(Selection(open=True, model=model, since=since))
        if not row.state.known
    )
    owed = journal.unfinished(model=model, since=since)
    return heapq.merge(owed, foreign, key=lambda row: row.created_at)


def seconds(age: str, option: str = "--since") -> float:
    """An age given as 30m, 2h or 7d, in seconds; ValidationError naming ``option``."""
    found = _AGE.match(age.strip())
    value = float(found.group(1)) * _UNIT[found.group(2)] if found else math.inf
    if not math.isfinite(value):  # 400 nines: a float's infinity, not an age
        raise ValidationError(option, f"expected an age like 30m, 2h or 7d, got {age!r}")
    return value


def _line(journal: Journal, row: Entry, now: float | None = None) -> str:
    from kiekit._redact import printable
    from kiekit.journal._journal import host_elsewhere

    created = when(row.created_at)
    state = row.state.value
    # the files still on disk, of those the task made (a deleted one is owed: kie resume)
    on_disk = sum(1 for path in row.files if is_file(path))
    files = f"{on_disk}/{len(row.assets)} files" if row.assets else "-"
    if row.handed_off and not on_disk:
        files = f"{len(row.assets)} links handed off"
    # files written by a worker of another machine are on its disk, not missing from ours
    writer = host_elsewhere(row.owner) if on_disk < len(row.files) else None
    if writer is not None:
        files = f"{len(row.files)}/{len(row.assets)} files on {writer} ({on_disk} here)"
    holder = None if row.state.outcome_unknown else journal.holder(row, now)
    if not row.state.known:  # a newer kiekit's row: listed, left alone (EntryState.read)
        state += " (a state this kiekit does not know: upgrade kiekit to act on it)"
    elif row.state.outcome_unknown:
        state += outcome_note(journal, row)
    elif holder is not None:  # kie resume leaves it to that worker: not offered here
        state += f" (being worked on by {holder})"
    elif row.owed_with(lambda: on_disk == len(row.files)) and (  # the files counted above
        writer is None or len(row.files) < len(row.assets)
    ):
        state += " (unfinished: kie resume)"
    error = ""
    if row.error is not None:
        code = row.error.get("code")
        error = f"  {row.error.get('type')}{f' {code}' if code is not None else ''}: "
        error += str(row.error.get("message"))
        error += _cause(row.error.get("cause"))
    # a row's words came from KIE or a file anyone may edit: no control character reaches the
    # terminal (a title-setting escape, a line of its own)
    line = f"{row.task_id or '-':34} {row.model:32} {state:10} {created:19}  {files}{error}"
    return printable(line)


def _cause(cause: object) -> str:
    """An unknown outcome's cause in a few words (error_record's ``cause``): a gateway's 503
    told from a lost connection or a sender that died, for the operator about to settle."""
    if not isinstance(cause, dict):
        return ""
    status = cause.get("http_status")
    http = f", HTTP {status}" if status is not None else ""
    return f" [cause: {cause.get('type')}{http}]"


def when(seconds: float) -> str:
    """A row's time as ``kie tasks`` shows it; ``?`` for one not known (a row edited by hand
    reads as 0: kiekit.journal._stores._time) or out of the platform's range."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) if seconds else "?"
    except (OverflowError, OSError, ValueError):
        return "?"


def outcome_note(journal: Journal, row: Entry) -> str:
    """What a ``sending`` or ``unknown`` row waits for: its live sender's answer (settling it
    by hand meanwhile could call "not created" a task about to be made), else the user."""
    from kiekit.journal import EntryState

    settle = f"check the KIE dashboard, then kie settle {row.key}"
    if row.state is not EntryState.SENDING:
        return f" (outcome unknown: {settle})"
    alive = journal.sender_alive(row)
    if alive:
        return f" (being sent by {row.owner})"
    if alive is None:  # a row of an older kiekit, or of a host this one cannot look at
        return f" (sending, or outcome unknown if its worker is gone: {settle})"
    return f" (outcome unknown, its worker is gone: {settle})"
