"""``kie settle``: close a create whose outcome is unknown, once KIE's dashboard has told.

A crash (or a lost answer) leaves a create ``sending`` or ``unknown``: it may or may not be a
task at KIE, which cannot list tasks (kie-api.md §4), so kiekit never sends it again by itself
and ``kie batch`` / an idempotency key stay blocked on it. The user looks it up and settles it:
the task it made (``--task-id``: then ``kie resume`` or ``kie batch`` waits for it and fetches
its files), or nothing made (``--not-created``: free to be sent again).

A row settled with a task id is settled for good, unless KIE then answers "not found" for
that id (a typo: ``kie resume`` or the batch polls it first); then it may be settled again,
with the right id or as not created.
"""

from __future__ import annotations

import argparse

from kiekit.cli._common import Commands, add_journal_option, journal_to_read, say


def register(commands: Commands) -> None:
    settle = commands.add_parser(
        "settle",
        help="settle a create whose outcome is unknown (see kie tasks --state unknown)",
        description="Settle a journal row whose create's outcome is unknown, after checking "
        "the KIE dashboard: the task it made, or that it made none. A row settled with a task "
        'id may be settled again only once KIE has answered "not found" for that id (a '
        "typo: run kie resume or the batch first).",
    )
    settle.add_argument("key", help='the row\'s key (kie tasks shows it; --json: "key")')
    outcome = settle.add_mutually_exclusive_group(required=True)
    outcome.add_argument(
        "--task-id", metavar="ID", help="the task KIE made for it (kie resume then finishes it)"
    )
    outcome.add_argument(
        "--not-created",
        action="store_true",
        help="KIE made no task for it: free to be sent again (kie batch, the idempotency key)",
    )
    add_journal_option(settle)
    settle.set_defaults(handler=_settle)


def _settle(args: argparse.Namespace) -> int:
    row = journal_to_read(args).settle(args.key, task_id=args.task_id)
    if args.task_id is not None:
        say(f"{args.key}: task {row.task_id} ({row.model}); kie resume waits for it")
    else:
        say(f"{args.key}: no task was made ({row.model}); it may be sent again")
    return 0
