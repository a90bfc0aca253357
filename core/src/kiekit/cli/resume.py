"""``kie resume``: finish what a crash interrupted — wait for every unfinished task in the journal,
download every result file not on disk yet, and report creates whose outcome is unknown.

It never creates a task: a row whose create got no answer may or may not be a task at KIE, and
KIE cannot list tasks (kie-api.md §4), so it is reported for the user to check, not sent again.
A task done, its files on disk, whose value (lyrics, song ids) the kiekit that ran it did not
keep gets it asked of KIE once, as a ``kie batch`` run again does (one status call, while KIE
keeps the task: §8), and kept in its row.

Exit code 0 only when nothing is left owed; 1 while a task of this server did not finish, a task
lives on another server, a create's outcome is unknown, or another live worker holds a row (a
CI step that finishes what a crash left must not pass over them). A row another live worker
holds is left to it, not waited for here, yet it is still owed: its files are not on disk
until that worker has fetched them, so ``kie resume && publish out/`` must not publish yet (an
outside tester's second resume said ``ok`` beside the first, with no file written).

Like a batch worker's jobs, each row is held while it is waited on and its files fetched
(:meth:`Journal.take`: the journal's owner and lease, renewed while it works): a second
``kie resume`` at once, or one beside a live ``kie batch`` worker, leaves the rows the other
holds to it and says so ("N held by OWNER"), takes over those of a worker that has ended or
whose lease ran out, and ``kie tasks`` shows this resume working on the rows it holds.

``kie resume KEY_OR_TASK_ID ...`` finishes only the rows named (as ``kie settle`` names one);
a name the journal has no row for is a ValidationError, before anything is waited for.

``--json``: one object on standard output, as ``kie batch --json`` prints (:class:`Report`):
``tasks``, one record per row it looked at (its key, task id, model, journal state, what came
of it, the files written), ``outcomes`` counting them, and on exit 1 an ``error`` saying what
is still owed (``TasksOwed``), as a batch's ``JobsNotDone``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import heapq
from collections import Counter
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from kiekit._paths import native
from kiekit.cli._common import (
    Commands,
    add_base_url_options,
    add_journal_option,
    add_json_option,
    add_network_options,
    at_least_one,
    connect,
    emit,
    env_key,
    hand_stop,
    journal_to_read,
    made_by_mock,
    not_listening,
    path_option,
    say,
    seconds,
)
from kiekit.errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from kiekit.cli._common import Connection
    from kiekit.client import AsyncClient
    from kiekit.journal import Entry, Journal
    from kiekit.registry import Registry


DEFAULT_OUT = Path("kie-output")  # as kie run's: for a task whose folder was never recorded
_NAMED = 5  # tasks named by a stop (the journal lists them all: kie tasks)
DEFAULT_TIMEOUT = 900.0  # a resumed task never hangs the command for ever (kie-api.md §8: links
# and tasks live 14 days, so a task still unfinished after this long is worth a look by hand)


def register(commands: Commands) -> None:
    resume = commands.add_parser(
        "resume",
        help="finish unfinished tasks of the journal: wait, download missing files",
        epilog="exit code: 0 when nothing is left owed; 1 while a task did not finish, lives on "
        "another server (--base-url), a create's outcome is unknown (kie settle), or another "
        "live worker holds a task (its files not written yet: run kie resume again later)",
    )
    resume.add_argument(
        "names",
        nargs="*",
        metavar="KEY_OR_TASK_ID",
        help='only these journal rows: a row\'s key (kie tasks --json: "key") or its task id '
        "(default: every row owed)",
    )
    resume.add_argument(
        "--out",
        default=None,
        type=path_option,
        help="folder for every resumed task's files (default: the folder each was run with, "
        f"else {DEFAULT_OUT})",
    )
    resume.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait per task (default {DEFAULT_TIMEOUT:g})",
    )
    resume.add_argument(
        "--concurrency", type=at_least_one, default=10, help="tasks waited on at once"
    )
    resume.add_argument(
        "--poll-interval", type=seconds, default=None, metavar="S", help="seconds between polls"
    )
    add_base_url_options(resume)
    add_network_options(resume)
    add_journal_option(resume)
    add_json_option(resume)
    resume.set_defaults(handler=_resume)


# What came of a row (``--json``'s ``outcome``); these leave it owed (exit code 1).
OWED_OUTCOMES = (
    "not_finished",
    "stopped",
    "other_key",
    "elsewhere",
    "outcome_unknown",
    "unknown_state",
    "unrecorded",
    "held",
)
OUTCOMES = (*OWED_OUTCOMES, "done", "failed", "expired", "abandoned", "not_owed")


class Report:
    """What ``kie resume`` did with each row it looked at, for ``--json``: one record a row,
    ``{"key", "task_id", "model", "base_url", "state", "outcome", "owed", "files", "value",
    "error"}`` (``value``: what a done task returned besides files, lyrics or song ids).
    ``state`` is the row's journal state once resume is done with it; ``outcome`` one of
    :data:`OUTCOMES`: ``done`` (its files written: ``files``; or, a task done before whose
    value was never kept, its ``value`` asked of KIE again, ``error`` when KIE could not say),
    ``failed`` (the task failed
    at KIE: ``error``), ``expired`` (past KIE's retention, its row closed), ``abandoned`` (a
    stopped mock's, closed), ``not_owed`` (named, but owed nothing), or one that leaves it
    owed: ``held`` (another live worker's: left to it, its files not written yet),
    ``not_finished`` (``error`` says why),
    ``stopped`` (a Ctrl-C or SIGTERM came first), ``other_key``, ``elsewhere`` (on another
    server: ``base_url``), ``outcome_unknown`` (a create to ``kie settle KEY``),
    ``unknown_state`` (a newer kiekit's row), ``unrecorded``
    (its files written, but the journal could not record it: a read-only or full disk)."""

    def __init__(self) -> None:
        self.tasks: list[dict[str, Any]] = []

    def add(
        self,
        row: Entry,
        outcome: str,
        *,
        files: list[Path] | None = None,
        error: dict[str, Any] | None = None,
        state: str | None = None,
        value: Any = None,
    ) -> None:
        if error is not None:  # with a task_id, as every error object has (README)
            error = {**error, "task_id": error.get("task_id", row.task_id)}
        self.tasks.append({
            "key": row.key, "task_id": row.task_id, "model": row.model,
            "base_url": row.base_url, "state": state or row.state.value, "outcome": outcome,
            "owed": outcome in OWED_OUTCOMES, "files": [str(path) for path in files or ()],
            "value": value, "error": error,
        })  # fmt: skip

    def summary(self) -> dict[str, Any]:
        """The tasks and how many came to each outcome, as the JSON object's top level."""
        counts: dict[str, int] = {}
        for task in self.tasks:
            counts[task["outcome"]] = counts.get(task["outcome"], 0) + 1
        return {"tasks": self.tasks, "outcomes": counts}


def _resume(args: argparse.Namespace) -> int:
    from kiekit.journal import EntryState
    from kiekit.journal._entry import not_known
    from kiekit.settings import DEFAULT_BASE_URL, endpoints

    # Without a key, what needs no request is still done (the rows of a stopped --mock, which
    # a user who only ever ran the demo has no key for, are closed), and the missing key is
    # said before the first task that needs it; with one, the connection is checked first.
    connection = None if env_key() is None else connect(args, contextlib.ExitStack())
    journal = journal_to_read(args)
    base_url = endpoints(args.base_url, names=("--base-url", "--upload-base-url")).base_url
    named = _named_rows(journal, args.names)  # a name of no row: refused before any wait
    report = Report()
    rows = _open_rows(journal)
    if named is not None:
        rows = _only_named(rows, named, report)
    if rows:  # said before the per-row work: an operator tells a long journal from a hang
        say(f"{len(rows)} task(s) open or owed in the journal: sorting them")
    rows, twins = _twins(journal, rows, report)
    busy = _held_elsewhere(journal, rows)
    if busy:
        _say_held(busy.values())
        for row in rows:
            if row.key in busy:
                report.add(row, "held")
        rows = [row for row in rows if row.key not in busy]
    gone = functools.cache(not_listening)  # each embedded mock's server asked once
    unknown = 0
    for row in rows:
        if not row.state.outcome_unknown:
            continue
        sent_now = row.state is EntryState.SENDING and journal.sender_alive(row)
        if made_by_mock(row) and gone(row.base_url) and not sent_now:
            _close_gone_mock_row(journal, row, report)  # stopped with its mock: nothing paid
        else:
            unknown += _report_unknown(journal, row, report)
    foreign = [row for row in rows if not row.state.known]
    for row in foreign:  # a newer kiekit's row: not known to be finished, nor acted on here
        say(f"task {row.task_id or '-'} ({row.model}): {not_known(row)}")
        report.add(row, "unknown_state")
    here: list[Entry] = []
    elsewhere: list[Entry] = []
    valueless: list[Entry] = []  # done, its value never kept: asked of this server's KIE
    for row in rows:  # one pass, no list membership: a journal owes tens of thousands at times
        same = (row.base_url or DEFAULT_BASE_URL).rstrip("/") == base_url
        if row.unfinished:
            (here if same else elsewhere).append(row)
        elif row.value_to_ask and same:
            valueless.append(row)
    left = _abandon_gone_mocks(journal, elsewhere, report, gone)
    if left:
        _say_elsewhere(left, DEFAULT_BASE_URL)
        for row in left:
            report.add(row, "elsewhere")
    finished = Finished([], 0, 0)
    if here and connection is None:
        raise ConfigurationError(
            f"KIE_API_KEY is not set: it is needed to ask KIE about {len(here)} owed "
            f"task(s) on {base_url} (nothing was sent)"
        )
    if valueless and connection is None:  # done, files on disk: only their value is missing
        say(
            f"KIE_API_KEY is not set: the value (lyrics, song ids) of {len(valueless)} done "
            "task(s), which the kiekit that ran them did not keep, is not asked of KIE"
        )
        valueless = []
    if here or valueless:
        assert connection is not None
        from kiekit.cli._async import run_async  # `kie --help` needs no event loop

        ended: set[str] = set()
        try:
            finished = run_async(
                _finish_all(args, connection, journal, here, base_url, ended, report, valueless)
            )
        except KeyboardInterrupt as stop:  # each task it leaves, named, as run and batch do
            _tell_left(stop, [row for row in here if row.task_id not in ended], report, base_url)
            raise
    for row, primary in twins:  # finished with the row that holds the task first, or not
        _close_twin(journal, row, journal.get(primary.key) or primary, report)
    unrecorded = _unrecorded(journal, report)
    held = sum(task["outcome"] == "held" for task in report.tasks)
    code, owed = _still_owed(
        len(left), unknown, finished.owed, len(foreign), resumed=len(here) + len(valueless),
        base_url=base_url,
        others=finished.others, expired=finished.expired, unwritable=finished.unwritable,
        unrecorded=unrecorded, unserved=finished.unserved, broken=finished.broken, held=held,
        no_task=finished.no_task, unsure_key=finished.unsure_key,
    )  # fmt: skip
    answer: dict[str, Any] = {"base_url": base_url, **report.summary()}
    if unrecorded:  # the cause, not one owed row among others: the journal cannot be written
        answer["error"] = {
            "type": "JournalError",
            "message": f"the task journal could not record {unrecorded} task(s) resumed "
            f"(their rows stay owed; see above); still owed: {owed}",
            "task_id": None,  # each row's task is in its record
        }
    elif owed:  # as a batch's JobsNotDone: what is left, each row's in "tasks"
        answer["error"] = {"type": "TasksOwed", "message": f"still owed: {owed}", "task_id": None}
    elif code:  # only tasks past KIE's retention: paid work lost
        answer["error"] = {
            "type": "ResultsExpiredError",
            "message": f"{finished.expired} task(s) past KIE's retention: results lost",
            "task_id": None,
        }
    emit(args, "resume", answer, ok=code == 0)
    return code


def _twins(
    journal: Journal, rows: list[Entry], report: Report
) -> tuple[list[Entry], list[tuple[Entry, Entry]]]:
    """The rows to work on, and the rows whose task id an older row holds too (``kie settle
    --task-id`` of an older kiekit took an id ``kie adopt`` had taken in): each task is
    waited for and downloaded once, through its first row, and its twin closed as that row
    ends (Journal.close_duplicate), rather than downloaded again by every ``kie resume``."""
    from kiekit.journal import EntryState

    work: list[Entry] = []
    twins: list[tuple[Entry, Entry]] = []
    for row in rows:
        primary = journal.by_task(row.task_id) if row.task_id and row.state.known else None
        if primary is None or primary.key == row.key or primary.state is EntryState.REJECTED:
            work.append(row)
        elif not _close_twin(journal, row, primary, report):
            twins.append((row, primary))
    return work, twins


def _close_twin(journal: Journal, row: Entry, primary: Entry, report: Report) -> bool:
    """Close ``row``, the twin of ``primary``, as ``primary`` is, once it owes nothing."""
    from kiekit.journal import EntryState

    ended = primary.state in (EntryState.SUCCEEDED, EntryState.FAILED)
    if not ended or primary.unfinished:
        return False
    closed = journal.close_duplicate(row, primary)
    about = f"task {row.task_id} ({row.model}, {row.key})"
    if closed is None:
        say(f"{about}: changed meanwhile, left as is")
    else:
        say(f"{about}: row {primary.key} holds it too, {primary.state.value}: closed as it is")
    report.add(row, "not_owed", state=None if closed is None else closed.state.value)
    return True


def _unrecorded(journal: Journal, report: Report) -> int:
    """The tasks resumed here (their files written) whose rows the journal could not record
    (a read-only or full disk: Journal.write_missed tried once more): they stay owed there,
    and the next ``kie resume`` fetches them again, so this one must not say it resumed every
    task. Their records become ``unrecorded``; how many."""
    from kiekit.cli._common import record_missed

    left = {task_id for _, task_id in record_missed(journal, "resume") if task_id}
    count = 0
    for task in report.tasks:
        if task["outcome"] == "done" and task["task_id"] in left:
            task.update(outcome="unrecorded", owed=True)
            count += 1
    return count


def _named_rows(journal: Journal, names: list[str]) -> dict[str, Entry] | None:
    """The rows ``names`` name (each a key or a task id, as ``kie settle`` takes), by key, or
    None when none is named (every row); a name of no row is a ValidationError naming it,
    before anything is waited for."""
    if not names:
        return None
    found: dict[str, Entry] = {}
    for name in names:
        row = journal.find(name.strip())
        if row is None:
            raise ValidationError(
                "KEY_OR_TASK_ID",
                f"no row {name!r} in the task journal (kie tasks lists them); nothing was "
                "waited for",
            )
        found[row.key] = row
    return found


def _only_named(rows: list[Entry], named: dict[str, Entry], report: Report) -> list[Entry]:
    """The rows named; a named row owed nothing (finished, failed, abandoned) is said so."""
    chosen = [row for row in rows if row.key in named]
    taken = {row.key for row in chosen}
    for row in named.values():
        if row.key not in taken:
            say(f"task {row.task_id or '-'} ({row.model}, {row.key}): nothing owed "
                f"({row.state.value})")  # fmt: skip
            report.add(row, "not_owed")
    return chosen


def _abandon_gone_mocks(
    journal: Journal, rows: list[Entry], report: Report, gone: Callable[[str | None], bool]
) -> list[Entry]:
    """Close the rows of an embedded mock since stopped (``gone``: whether a server no longer
    listens); the rest, left to another server's ``kie resume``."""
    left = []
    for row in rows:
        if made_by_mock(row) and gone(row.base_url):
            _close_gone_mock_row(journal, row, report)
        else:
            left.append(row)
    return left


def _close_gone_mock_row(journal: Journal, row: Entry, report: Report) -> None:
    """A row of an embedded mock since stopped: its task, or the create stopped on its way to
    it, can never finish, and nothing was paid for it (the demo key's mock charges nothing):
    closed as ``kie settle --abandon`` would, as ``kie run`` said when it stopped."""
    if _abandon(journal, row):
        report.add(row, "abandoned", state="failed")
    else:  # closed meanwhile by another
        report.add(row, "not_owed")


def _still_owed(
    elsewhere: int,
    unknown: int,
    failures: list[str],
    foreign: int,
    *,
    resumed: int,
    base_url: str,
    others: int = 0,
    expired: int = 0,
    unwritable: tuple[str, ...] = (),
    unrecorded: int = 0,
    unserved: tuple[str, ...] = (),
    broken: tuple[str, ...] = (),
    held: int = 0,
    no_task: tuple[tuple[str, str], ...] = (),
    unsure_key: tuple[str, ...] = (),
) -> tuple[int, str]:
    """The exit code, and what is left owed in words: 0 only when nothing this journal knows
    of is left owed (a task of this server not finished, one on another server, a create of
    unknown outcome, a row in a state this kiekit does not know, a row another live worker
    holds: its files are not on disk yet), else 1 with what is left in one line — a CI step
    "finish what the crash left" must not pass over them. Tasks found
    past KIE's retention make this run's code 1 too (paid work was lost), said apart: their
    rows are closed, and owed no more."""
    if expired:
        say(
            f"kie resume: {expired} task(s) past KIE's retention (14 days): results lost, "
            "rows closed as failed (see above; kie tasks --state failed)"
        )
    if unwritable:  # this machine's trouble: the task is fine, abandoning it would lose it
        say(
            f"{len(unwritable)} task(s) could not be written here (a full disk, a read-only "
            "folder: see above): free space there and run kie resume again, or kie resume "
            "--out OTHER_FOLDER fetches them elsewhere (they live on at KIE)"
        )
    if unserved:  # paid for, and finishable once its plugin is back: not to be abandoned
        say(
            f"{len(unserved)} task(s) need a plugin not in use here (see above): install or "
            "unblock it and run kie resume again (they live on at KIE)"
        )
    if broken:  # the task is fine at KIE: its plugin cannot read it yet
        say(
            f"{len(broken)} task(s) were left by a plugin's bug (see above): fix or upgrade "
            "that plugin and run kie resume again (they live on at KIE)"
        )
    if unsure_key:  # an older kiekit's row, which does not say which key made its task
        say(
            f"{len(unsure_key)} task(s) KIE does not know under this API key were made by a "
            "kiekit that did not record which key made them (see above): they may be another "
            "key's, paid for and alive; run kie resume with that key (KIE_API_KEY) first"
        )
    if no_task:  # most likely a task id mistyped into kie settle or kie adopt: not to abandon
        task_id, key = no_task[0]
        say(
            f"KIE has no task {task_id} (row {key}; see above): most likely a wrong task id "
            f"(a typo in kie settle --task-id or kie adopt): kie settle {key} --task-id "
            "CORRECT_ID with the id your KIE dashboard shows; a task made by another API key "
            "is finished with that key; only if no task was ever made, kie settle "
            f"{key} --abandon closes the row"
        )
    kept = {*unwritable, *unserved, *broken, *(task_id for task_id, _ in no_task)}
    kept.update(unsure_key)  # perhaps another key's: to be resumed with it, not abandoned
    abandonable = [task for task in failures if task not in kept]
    if abandonable:  # a task that can never finish would be named by every run: the way out
        say(
            f"a task that can never finish here (a server that is gone, results KIE no longer "
            f"has) is closed with kie settle ID --abandon, e.g. kie settle {abandonable[0]} "
            "--abandon (kept in kie tasks)"
        )
    owed = [
        f"{len(failures)} task(s) not finished here" if failures else "",
        f"{others} task(s) of another API key" if others else "",
        f"{elsewhere} task(s) on another server" if elsewhere else "",
        f"{unknown} create(s) of unknown outcome" if unknown else "",
        f"{foreign} row(s) in a state this kiekit does not know" if foreign else "",
        f"{unrecorded} task(s) resumed that the task journal could not record"
        if unrecorded
        else "",
        f"{held} task(s) held by another live worker (their files not written yet: run kie "
        "resume again once it is done)"
        if held
        else "",
    ]
    said = ", ".join(part for part in owed if part)
    if said:
        say(f"kie resume: still owed: {said} (see above)")
        return 1, said
    if expired:
        return 1, ""
    say("nothing to resume" if not resumed else f"resumed every task on {base_url}")
    return 0, ""


def _say_elsewhere(rows: list[Entry], default: str) -> None:
    """Which servers the unfinished tasks of other servers are on, each with its tasks (a few
    named) and the command that resumes them."""
    by_server: dict[str, list[str]] = {}
    for row in rows:
        by_server.setdefault((row.base_url or default).rstrip("/"), []).append(str(row.task_id))
    say(f"{len(rows)} unfinished task(s) live on another server:")
    for server, tasks in by_server.items():
        named = ", ".join(tasks[:3]) + (f" and {len(tasks) - 3} more" if len(tasks) > 3 else "")
        say(f"  {server}: {named} (kie resume --base-url {server})")
        if not_listening(server):  # a loopback server that is down: a mock since stopped?
            say(
                f"  {server} is not listening: if it is gone for good (a mock server since "
                f"stopped), kie settle {tasks[0]} --abandon closes a task (kept in kie tasks)"
            )


def _open_rows(journal: Journal) -> list[Entry]:
    """The rows resume may act on, oldest first, read without the finished rest of the journal
    and with one read of the open rows' index (each read walks every row a crash left)."""
    from kiekit.journal import EntryState, Selection

    # Journal.unfinished() and the creates, in one read of the open rows: of those, the creates
    # held or in flight (``claimed``, ``sending``, ``unknown``: left to the worker holding one,
    # or reported, never sent again), rows in a state this kiekit does not know (said, not
    # passed over) and the tasks owed a wait or a download (Entry.unfinished); not a success
    # handed off, done though short of files. Then the downloads deleted since: owed again,
    # but not open rows; and the successes whose value was never kept (asked of KIE once).
    pending = (EntryState.CLAIMED, EntryState.SENDING, EntryState.UNKNOWN)
    chosen = (
        row
        for row in journal.select(Selection(open=True))
        if row.state in pending or not row.state.known or row.unfinished
    )
    return list(heapq.merge(chosen, journal.successes_owed(), key=lambda row: row.created_at))


def _say_held(owners: Iterable[str]) -> None:
    """How many rows each other live worker holds: left to it (``kie tasks`` shows them as
    "being worked on by OWNER")."""
    for owner, count in Counter(owners).items():
        say(f"{count} task(s) held by {owner}, a live worker: being worked on there (left to it)")


def _held_elsewhere(journal: Journal, rows: list[Entry]) -> dict[str, str]:
    """Rows another live worker holds, by key, with their owner (a shared journal,
    docs/teams.md): not ours to resume, nor to call "outcome unknown" while their create is
    on its way. A worker of this machine whose process has ended (a ``kill -9``, or a run
    that ended with rows it could not finish) holds nothing: Journal.held_elsewhere ends its
    leases at once, not waited out."""
    held = [row for row in rows if row.owner not in (None, journal.owner) and row.lease_until]
    now = journal.store.now()
    busy: dict[str, str] = {}
    gone: set[str | None] = set()  # owners found ended: their leases are over, every row's
    for row in held:
        if row.owner in gone:
            continue
        if journal.held_elsewhere(row) > 0:
            busy[row.key] = str(row.owner)
        elif row.lease_until is not None and row.lease_until > now:
            gone.add(row.owner)
    return busy


def _report_unknown(journal: Journal, row: Entry, report: Report) -> bool:
    """A create resume will not send again: on its way from a live sender (its answer settles
    it), or of unknown outcome, for the user to settle once the dashboard has told (True)."""
    from kiekit.cli.tasks import when as shown
    from kiekit.journal import EntryState

    when = shown(row.created_at)
    alive = journal.sender_alive(row) if row.state is EntryState.SENDING else False
    if alive:
        say(f"a create of {row.model} at {when} is being sent by {row.owner} (left to it)")
        report.add(row, "held")
        return False
    maybe = "" if alive is False else "its worker may still be sending it, or gone: "
    say(
        f"outcome unknown: a create of {row.model} at {when} may be a task at KIE "
        f"(not created again): {maybe}check your KIE dashboard (or the task id a kie run "
        f"or kie batch that could not record it named: its warning, results.jsonl), then "
        f"kie settle {row.key} --task-id ID (or --not-created)"
    )
    report.add(row, "outcome_unknown")
    return True


def _abandon(journal: Journal, row: Entry) -> bool:
    """Close a task of an embedded mock since stopped as ``kie settle --abandon`` does (the
    journal's own write: the same ``Abandoned`` history, its lease let go); False when another
    closed it meanwhile."""
    from kiekit.errors import ValidationError

    why = f"the mock server at {row.base_url} that made it is no longer running (kie resume)"
    named = f"task {row.task_id}" if row.task_id else f"row {row.key}"
    try:
        journal.abandon(row.key, reason=why)
    except ValidationError as exc:  # changed meanwhile (another resume closed it): as it is
        say(f"{named}: {exc.message}")
        return False
    if row.task_id:
        say(
            f"{named} ({row.model}) was created on a mock server at {row.base_url} that is no "
            "longer running; it can never finish: marked failed (abandoned, kept in kie tasks)"
        )
    else:  # a create stopped on its way to the mock (kie run's Ctrl-C), outcome never heard
        say(
            f"{named} ({row.model}): a create stopped on its way to a mock server at "
            f"{row.base_url} that is no longer running; nothing was paid for: marked failed "
            "(abandoned, kept in kie tasks)"
        )
    return True


class Finished(NamedTuple):
    """What the resumed tasks of this server came to."""

    owed: list[str]  # task ids not finished here, still owed
    others: int  # left alone: made with another API key
    expired: int  # past KIE's retention: their rows closed, owed no more
    unwritable: tuple[str, ...] = ()  # of ``owed``: files this machine could not write
    unserved: tuple[str, ...] = ()  # of ``owed``: tasks no plugin in use here serves
    broken: tuple[str, ...] = ()  # of ``owed``: tasks a plugin's bug left (PluginHookError)
    # of ``owed``: (task id, row key) of the tasks KIE says it has no record of (most likely a
    # task id mistyped into kie settle or kie adopt: settled again with the right one)
    no_task: tuple[tuple[str, str], ...] = ()
    unsure_key: tuple[str, ...] = ()  # of ``owed``: "Task not found", its row's key not known


async def _finish_all(
    args: argparse.Namespace,
    connection: Connection,
    journal: Journal,
    rows: list[Entry],
    base_url: str,
    ended: set[str],
    report: Report,
    valueless: list[Entry],
) -> Finished:
    """Wait for and download this key's tasks; the tasks not finished, and those left alone
    because another API key made them (KIE shows a task only to its own key: asked with this
    one, it answers 404 "Task not found"). Ask the value of this key's ``valueless`` tasks
    (done, their files on disk, the value never kept: :func:`_ask_value`), owed nothing."""
    import asyncio

    from kiekit.cli._async import open_async_client, stops_cancel
    from kiekit.journal import Entry, leases_renewed
    from kiekit.journal._writer import WRITER

    async with stops_cancel(), contextlib.AsyncExitStack() as stack:
        client = open_async_client(args, stack, journal, connection)
        account = client._engine.account  # the journal keeps the same hash of each row's key
        mine: list[Entry] = []
        others: list[Entry] = []
        for row in rows:
            (mine if row.account in (None, account) else others).append(row)
        if others:
            _say_other_key(others)
            for row in others:
                report.add(row, "other_key")
        failures: list[str] = []  # the task ids still owed
        mine = _served(client._engine.registry, mine, report, failures)
        unserved = tuple(failures)  # so far, only those
        if mine:
            say(f"resuming {len(mine)} task(s) on {base_url} (at most {args.timeout:g} s each)")
        # another key's task is "Task not found" to this one: its value is that key's resume's
        valueless = [row for row in valueless if row.account in (None, account)]
        if valueless:
            say(
                f"asking KIE for the value (lyrics, song ids) of {len(valueless)} done task(s) "
                "the kiekit that ran them did not keep: one status call each, nothing paid"
            )
        queue = iter([*mine, *valueless])
        unwritable: list[str] = []  # of those, the ones whose files could not be written here
        broken: list[str] = []  # of those, the ones a plugin's bug left (PluginHookError)
        no_task: list[tuple[str, str]] = []  # of those, the ones KIE knows no task of
        unsure_key: list[str] = []  # of those, perhaps another key's (an older kiekit's row)
        expired = 0
        held: list[str] = []  # the owners of rows another live worker took meanwhile

        async def worker() -> None:  # a few workers take the rows in turn: no task per row
            nonlocal expired
            for row in queue:
                if not row.unfinished:  # done, only its value to ask (valueless)
                    await _ask_value(client, row, args, report)
                    continue
                taken = await WRITER.submit(partial(_take, journal, row), journal.store)
                if not isinstance(taken, Entry):  # another's now, or settled meanwhile
                    report.add(row, "not_owed" if taken is None else "held")
                    if taken is not None:
                        held.append(taken)
                    ended.add(str(row.task_id))
                    continue
                # awaited first: `failures += not await …` read the count before the await,
                # so workers finishing meanwhile had their failures written over
                finished = await _finish(client, journal, taken, args, report)
                if finished is None:
                    expired += 1
                elif not finished:
                    failures.append(str(row.task_id))
                    if report.tasks and _unwritable(report, row):
                        unwritable.append(str(row.task_id))
                    elif report.tasks and _plugin_broke(report, row):
                        broken.append(str(row.task_id))
                    elif report.tasks and report.tasks[-1]["outcome"] == "other_key":
                        unsure_key.append(str(row.task_id))
                    elif report.tasks and _no_such_task(report, row):
                        no_task.append((str(row.task_id), row.key))
                ended.add(str(row.task_id))  # finished, or failed and said

        workers = min(max(1, args.concurrency), len(mine) + len(valueless))
        async with leases_renewed(journal):  # the rows held stay held while they are worked on
            # An error no row contains ends the other workers (cancelled, their rows still
            # owed) before the client closes: gather alone let them go on, and each next row
            # failed with "this AsyncClient is closed", written into its row.
            running = [asyncio.ensure_future(worker()) for _ in range(workers)]
            try:
                await asyncio.gather(*running)
            finally:
                for each in running:
                    each.cancel()
                await asyncio.gather(*running, return_exceptions=True)
        if held:
            _say_held(held)
    return Finished(
        failures, len(others), expired, tuple(unwritable), unserved, tuple(broken),
        tuple(no_task), tuple(unsure_key),
    )  # fmt: skip


def _served(registry: Registry, rows: list[Entry], report: Report, owed: list[str]) -> list[Entry]:
    """The rows some installed plugin serves; each other one said, left as it is (owed, not
    taken) and added to ``owed``: a task whose plugin is blocked or uninstalled is not polled
    through kiekit-market's ``*`` at the market's path, where KIE would answer "Task not
    found" for a task it made and was paid for (Registry.unserved_task)."""
    from kiekit.errors import UnknownModelError

    served: list[Entry] = []
    for row in rows:
        why = registry.unserved_task(row.model, row.request)
        if why is None:
            served.append(row)
            continue
        say(f"kie: error: task {row.task_id} ({row.model}): {why}; its row is left owed as it is")
        error = {"type": UnknownModelError.__name__, "message": why, "task_id": row.task_id}
        report.add(row, "not_finished", error=error)
        owed.append(str(row.task_id))
    return served


async def _ask_value(
    client: AsyncClient, row: Entry, args: argparse.Namespace, report: Report
) -> None:
    """Ask KIE the value of ``row``'s task, done with its files on disk, whose value the
    kiekit that ran it did not keep (Entry.value_to_ask), and keep it in its row, as a ``kie
    batch`` run again does (kiekit.batch.value_asked_again: one status call, nothing paid,
    nothing downloaded); shown as a resumed task's value is. KIE unable to say leaves the row
    as it was, done (a warning says why; a later resume asks again): it owes no file."""
    from kiekit.batch import value_asked_again
    from kiekit.errors import KieError
    from kiekit.journal._entry import error_report

    try:
        results = await value_asked_again(client, row)
    except KieError as exc:
        said = str(exc).replace(f" (task {row.task_id})", "", 1)
        say(
            f"kie: warning: task {row.task_id} ({row.model}) is done, but its value (not kept "
            f"by the kiekit that ran it) could not be asked for again: {said}"
        )
        report.add(row, "done", error=error_report(exc))
        return
    if not args.json and results.value is not None:  # as _finish shows a resumed task's
        from kiekit.cli._streams import json_text

        print(json_text(results.value))
    say(f"task {row.task_id} ({row.model}): its value asked of KIE again and kept in its row")
    report.add(row, "done", state="succeeded", value=results.value)


def _plugin_broke(report: Report, row: Entry) -> bool:
    """Whether ``row``'s task was left owed by its plugin's bug (PluginHookError), as its
    report record (the last one, see :func:`_unwritable`) says: fixed, the plugin finishes it."""
    last = report.tasks[-1]
    return last["key"] == row.key and (last["error"] or {}).get("type") == "PluginHookError"


def _no_such_task(report: Report, row: Entry) -> bool:
    """Whether KIE said it has no record of ``row``'s task (TaskNotFoundError, kie-api.md §2.2
    and §7: 404 "Task not found", a family's 422, or ``data: null``), as its report record
    (the last one, see :func:`_unwritable`) says. This key's own task (another key's is left
    alone before, ``other_key``) most likely has a mistyped id: ``kie settle --abandon`` would
    give up a paid task, so the advice is to settle the row with the right id."""
    last = report.tasks[-1]
    return last["key"] == row.key and (last["error"] or {}).get("type") == "TaskNotFoundError"


def _unwritable(report: Report, row: Entry) -> bool:
    """Whether ``row``'s task was left owed because its files could not be written here
    (FileWriteError: a full disk, a read-only folder), as its report record says: the last
    one, added by :func:`_finish` with no await since."""
    last = report.tasks[-1]
    return last["key"] == row.key and (last["error"] or {}).get("type") == "FileWriteError"


def _take(journal: Journal, row: Entry) -> Entry | str | None:
    """Hold ``row`` for this resume (Journal.take): the row held, else the live worker that
    holds it (its owner), else None when it is owed nothing any more (another finished it
    since it was read: left as that one wrote it, its owner too, which says on which host
    its files are). Reads and writes the journal: on the journal's writer thread."""
    now = journal.get(row.key)
    if now is None or _done_since(row, now):
        return None
    taken = journal.take(row.key)
    if taken is None:
        now = journal.get(row.key)
        return None if now is None else journal.holder(now)
    if _done_since(row, taken):  # finished between the look and the take
        journal.release(row.key)
        return None
    return taken


def _done_since(before: Entry, now: Entry) -> bool:
    """Whether row ``now`` owes nothing any more, or was downloaded whole by another worker
    (perhaps on another machine, into its own folder) since it was read as ``before``."""
    from kiekit.journal import EntryState

    whole = now.state is EntryState.SUCCEEDED and bool(now.files)
    whole = whole and len(now.files) >= len(now.assets)  # not cut short
    return not now.unfinished or (before.state is EntryState.CREATED and whole)


def _tell_left(stop: KeyboardInterrupt, rows: list[Entry], report: Report, base_url: str) -> None:
    """What a stop leaves: the tasks not finished here, still owed in the journal; for
    ``--json``, top-level as in its other answers, ``base_url`` and a record of every row it
    looked at: those it was done with as they came out, the others ``stopped`` (owed), so
    that ``.tasks[] | select(.owed)`` finds each one left (README, Command line)."""
    recorded = {task["key"] for task in report.tasks}  # other_key, not_owed, held: said
    for row in rows:
        if row.key not in recorded:
            report.add(row, "stopped")
    summary = {"base_url": base_url, **report.summary()}
    if not rows:
        hand_stop(stop, "", summary=summary, task_ids=[])
        return
    named = ", ".join(f"{row.task_id} ({row.model})" for row in rows[:_NAMED])
    more = f" and {len(rows) - _NAMED} more" if len(rows) > _NAMED else ""
    note = (
        f"{len(rows)} task(s) not finished here stay owed in the journal (a task still running "
        f"goes on at KIE): {named}{more}; run kie resume again to finish them"
    )
    say(note)
    hand_stop(stop, note, summary=summary, task_ids=[row.task_id for row in rows])


def _say_other_key(rows: list[Entry]) -> None:
    named = ", ".join(str(row.task_id) for row in rows[:3])
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    say(
        f"{len(rows)} unfinished task(s) were created with another API key than this one "
        f"({named}{more}): KIE shows a task only to the key that made it, so they are left "
        "alone; run kie resume with that key (KIE_API_KEY) to finish them"
    )


def _folder_of(row: Entry, out: Path | None) -> Path:
    """Where a resumed task's files go: ``--out`` when given, else the folder its run asked
    for (a user expects the files where they first asked), else kie run's default."""
    if out is not None:
        return out
    return Path(native(row.out_dir)) if row.out_dir else DEFAULT_OUT


async def _finish(
    client: AsyncClient, journal: Journal, row: Entry, args: argparse.Namespace, report: Report
) -> bool | None:
    """Wait for and download one row's task: True when done, False when still owed, None
    when KIE's retention has passed (the journal closed its row: never owed again)."""
    from kiekit.errors import (
        DownloadError,
        KieError,
        ResultsExpiredError,
        TaskFailedError,
        TaskNotFoundError,
    )
    from kiekit.journal._entry import error_report, files_expired
    from kiekit.models import Task

    assert row.task_id is not None  # unfinished rows have a task id
    task = Task(row.task_id, row.model)
    out_dir = _folder_of(row, args.out)
    try:
        try:
            results = await client.wait(task, timeout=args.timeout)
            paths = await client.download(results, out_dir)
        except DownloadError as exc:
            expired = files_expired(row, exc)
            if expired is None:
                raise
            journal.wait_failed(task, expired, read_back=False)
            raise expired from exc
    except ResultsExpiredError as exc:  # final: said once, the row closed (Journal.wait_failed)
        said = str(exc).replace(f" (task {task.id})", "", 1)
        say(
            f"kie: error: task {task.id} ({task.model}): {said}; its row is closed as failed "
            "(expired, kept in kie tasks) and not owed again"
        )
        report.add(row, "expired", error=error_report(exc), state="failed")
        return None
    except KieError as exc:  # named as a resumed task's line is: several may fail alike
        said = str(exc).replace(f" (task {task.id})", "", 1)  # said once, in front
        if isinstance(exc, TaskNotFoundError) and row.account is None:
            # a row of a kiekit before rows kept their key: KIE answers "Task not found" to
            # any key but the one that made the task, so it may be another key's, paid for
            # (its row was left as it was: Journal.made_by_unknown_key)
            say(
                f"kie: error: task {task.id} ({task.model}): {said}; its row does not say "
                "which API key made it (an older kiekit's): it may have been created with "
                "another key: run kie resume with that key (KIE_API_KEY); its row is left "
                "owed as it was"
            )
            report.add(row, "other_key", error=error_report(exc))
            return False
        say(f"kie: error: task {task.id} ({task.model}): {said}")
        failed = isinstance(exc, TaskFailedError)  # its row closed as failed: owed no more
        now = None if failed or not args.json else journal.find(row.key)  # as the wait left it
        state = "failed" if failed else (now or row).state.value
        report.add(row, "failed" if failed else "not_finished", error=error_report(exc),
                   state=state)  # fmt: skip
        return False
    if not args.json:  # a path a line, as they come; --json prints them in its one object
        for path in paths:
            print(path)
        if results.value is not None:  # lyrics, song ids: shown as kie run does, kept in the row
            from kiekit.cli._streams import json_text

            print(json_text(results.value))
    say(f"resumed task {task.id} ({task.model}): {len(paths)} file(s)")
    report.add(row, "done", files=paths, state="succeeded", value=results.value)
    return True
