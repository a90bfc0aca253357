"""``kie prune``: delete the journal rows nothing is owed for any more, once they are old.

Every create leaves a row, about 0.4 KB plus 0.3 KB per result file: a service making 20 tasks
a second with six images each grows its journal by some 3.8 GB a day. Rows done with — refused,
failed or abandoned, downloaded or handed off — last changed more than ``--older-than`` ago are
deleted; rows still owed (being sent, outcome unknown, a task not seen finished, a download short
of its files) are kept however old, so ``kie resume`` and ``kie settle`` never lose one.
``--dry-run`` counts them and deletes nothing. ``--json``: one object on standard output,
``{"ok": true, "command": "prune", "rows", "dry_run", "older_than"}`` (``rows``: deleted, or
that would be with ``--dry-run``; ``older_than`` in seconds).
"""

from __future__ import annotations

import argparse

from kiekit.cli._common import (
    Commands,
    add_journal_option,
    add_json_option,
    emit,
    journal_to_read,
    say,
)
from kiekit.cli.tasks import seconds


def register(commands: Commands) -> None:
    prune = commands.add_parser(
        "prune",
        help="delete old journal rows nothing is owed for (finished, failed, refused, handed off)",
        description="Delete the task journal's rows last changed more than AGE ago whose work "
        "is done: refused, failed or abandoned, downloaded, or handed off. Rows still owed "
        "(being sent, outcome unknown, not seen finished, not all downloaded) are kept, "
        "however old. An idempotency key or batch job whose row is deleted may be sent again.",
    )
    prune.add_argument(
        "--older-than",
        required=True,
        metavar="AGE",
        help="only rows last changed more than AGE ago, e.g. 12h, 7d, 30d",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="say how many rows would go; delete nothing"
    )
    add_journal_option(prune)
    add_json_option(prune)
    prune.set_defaults(handler=_prune)


def _prune(args: argparse.Namespace) -> int:
    age = seconds(args.older_than, "--older-than")
    journal = journal_to_read(args)  # none yet: nothing to prune, and no file is made
    count = journal.prune(age, dry_run=args.dry_run)
    done = "would be deleted (--dry-run)" if args.dry_run else "deleted"
    say(f"{count} row(s) done with and last changed more than {args.older_than} ago {done}; "
        "rows still owed are kept")  # fmt: skip
    emit(args, "prune", {"rows": count, "dry_run": args.dry_run, "older_than": age})
    return 0
