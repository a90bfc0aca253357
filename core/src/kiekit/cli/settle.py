"""``kie settle``: close a journal row by hand — a create whose outcome is unknown, once KIE's
dashboard has told, or a task given up for good.

A crash (or a lost answer) leaves a create ``sending`` or ``unknown``: it may or may not be a
task at KIE, which cannot list tasks (kie-api.md §4), so kiekit never sends it again by itself
and ``kie batch`` / an idempotency key stay blocked on it. The user looks it up and settles it:
the task it made (``--task-id``: then ``kie resume`` or ``kie batch`` waits for it and fetches
its files), or nothing made (``--not-created``: free to be sent again).

A task that can never be finished or fetched — made on a mock server since stopped (a Python
``MockServer``; ``kie resume`` closes ``--mock``'s own by itself), or on a server that is gone —
stays unfinished and is named by every ``kie resume``. ``--abandon`` gives it up: the row is
closed as ``failed`` with an ``Abandoned`` error and the ``--reason``, kept in ``kie tasks``,
never waited for or sent again (unless ``kie adopt`` takes its task back: the task was real
after all). Nothing is deleted (``kie prune`` deletes it once it is old).

A succeeded task whose result links a program handed on instead of downloading them (a webhook
consumer) stays "unfinished, 0/N files", and a teammate's ``kie resume`` downloads them all.
``--handed-off`` closes it as done, its links kept (``Client.hand_off`` from Python).

A task id another row holds already is refused, naming that row (one task in two rows would be
waited for and downloaded twice); when that row was adopted by hand (``kie adopt``: the same task
taken in before its create's row was settled), ``--merge`` moves it onto the settled row, with
what was done of it, and closes the adopted row.

A row settled with a task id is settled for good, unless KIE then answers "not found" for
that id (a typo: ``kie resume`` or the batch polls it first); then it may be settled again,
with the right id or as not created.

``--json``: one object on standard output, ``{"ok": true, "command": "settle", "key",
"task_id", "model", "state", "settled", "reason"}`` (``settled``: ``task_id``,
``not_created``, ``abandoned`` or ``handed_off``), or the error object every command prints.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kiekit.cli._common import (
    Commands,
    add_journal_option,
    add_json_option,
    emit,
    journal_to_read,
    say,
)
from kiekit.errors import ValidationError

if TYPE_CHECKING:
    from kiekit.journal import Entry


def register(commands: Commands) -> None:
    settle = commands.add_parser(
        "settle",
        help="settle a create whose outcome is unknown (see kie tasks --state unknown), or "
        "abandon a task that can never finish",
        description="Settle a journal row whose create's outcome is unknown, after checking "
        "the KIE dashboard: the task it made, or that it made none. A row settled with a task "
        'id may be settled again only once KIE has answered "not found" for that id (a '
        "typo: run kie resume or the batch first). Or abandon an unfinished row for good "
        "(its task was made on a mock server since stopped, or a server that is gone): it is "
        "marked failed with the reason, kept in kie tasks, never waited for or sent again.",
    )
    settle.add_argument(
        "key",
        metavar="KEY_OR_TASK_ID",
        help='the row\'s key (kie tasks --json: "key") or its task id (kie tasks, kie resume)',
    )
    outcome = settle.add_mutually_exclusive_group(required=True)
    outcome.add_argument(
        "--task-id", metavar="ID", help="the task KIE made for it (kie resume then finishes it)"
    )
    outcome.add_argument(
        "--not-created",
        action="store_true",
        help="KIE made no task for it: free to be sent again (kie batch, the idempotency key)",
    )
    outcome.add_argument(
        "--abandon",
        action="store_true",
        help="give it up for good (a task on a mock server since stopped, a server that is "
        "gone): marked failed, kept in kie tasks, never waited for, fetched or sent again",
    )
    outcome.add_argument(
        "--handed-off",
        action="store_true",
        help="a succeeded task whose result links were handed on (webhooks, a queue) instead "
        "of downloaded: done, its links kept in the row; kie resume no longer downloads it",
    )
    settle.add_argument(
        "--merge",
        action="store_true",
        help="with --task-id: the task is in a row kie adopt made already; move it (and what "
        "was done of it) onto this row, and close that one",
    )
    settle.add_argument(
        "--reason",
        metavar="TEXT",
        help="why it is abandoned or handed off (with --abandon or --handed-off; kept in the row)",
    )
    add_journal_option(settle)
    add_json_option(settle)
    settle.set_defaults(handler=_settle)


def _settle(args: argparse.Namespace) -> int:
    if args.reason is not None and not (args.abandon or args.handed_off):
        raise ValidationError(
            "--reason", "goes with --abandon or --handed-off (it says why a row is closed)"
        )
    if args.merge and args.task_id is None:
        raise ValidationError("--merge", "goes with --task-id (the task another row holds)")
    journal = journal_to_read(args)
    if args.handed_off:
        row = journal.hand_off(args.key, reason=args.reason)
        say(f"{row.key}: task {row.task_id} ({row.model}) done, {len(row.assets)} result "
            "link(s) handed off, kept in kie tasks; kie resume does not download them")  # fmt: skip
        _emit(args, row, "handed_off", args.reason)
        return 0
    found = journal.find(args.key)
    key = args.key if found is None else found.key  # no such row: named as given
    if args.abandon:
        row = journal.abandon(key, reason=args.reason)
        task = f"task {row.task_id}" if row.task_id else "no task"
        message = (row.error or {}).get("message")
        say(f"{key}: {task} ({row.model}) closed as failed, kept in kie tasks: {message}")
        _emit(args, row, "abandoned", message)
        return 0
    row = journal.settle(key, task_id=args.task_id, merge=args.merge)
    if args.task_id is not None:
        say(f"{key}: task {row.task_id} ({row.model}); kie resume waits for it")
    else:
        say(f"{key}: no task was made ({row.model}); it may be sent again")
    _emit(args, row, "task_id" if args.task_id is not None else "not_created", None)
    return 0


def _emit(args: argparse.Namespace, row: Entry, settled: str, reason: str | None) -> None:
    """``--json``'s object: the row as settled (its state now), and how."""
    emit(args, "settle", {"key": row.key, "task_id": row.task_id, "model": row.model,
                          "state": row.state.value, "settled": settled,
                          "reason": reason})  # fmt: skip
