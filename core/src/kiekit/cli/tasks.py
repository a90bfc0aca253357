"""``kie tasks``: the task journal — every task created from this machine, and where it stands."""

from __future__ import annotations

import argparse
import json
import re
import time
from typing import TYPE_CHECKING

from kiekit.cli._common import Commands, add_journal_option
from kiekit.errors import ValidationError

if TYPE_CHECKING:
    from kiekit.journal import Entry

STATES = ("claimed", "sending", "unknown", "rejected", "created", "succeeded", "failed")
_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(commands: Commands) -> None:
    tasks = commands.add_parser(
        "tasks", help="list the tasks this machine created (the task journal)"
    )
    tasks.add_argument("--json", action="store_true", help="one JSON object per line")
    tasks.add_argument(
        "--state",
        action="append",
        choices=(*STATES, "unfinished"),
        help="only rows in this state (repeatable); unfinished: owed a wait or a download",
    )
    tasks.add_argument("--model", help="only this model id")
    tasks.add_argument("--since", metavar="AGE", help="only rows newer than AGE, e.g. 30m, 2h, 7d")
    tasks.add_argument("--limit", type=int, default=None, metavar="N", help="the newest N rows")
    add_journal_option(tasks)
    tasks.set_defaults(handler=_tasks)


def _tasks(args: argparse.Namespace) -> int:
    from kiekit.journal import default_journal

    rows = select(default_journal().entries(), args)
    if args.json:
        for row in rows:
            print(json.dumps(row.to_json(), ensure_ascii=False))
        return 0
    if not rows:
        print("no tasks in the journal")
        return 0
    for row in rows:
        print(_line(row))
    return 0


def select(rows: list[Entry], args: argparse.Namespace) -> list[Entry]:
    """The rows the filters let through, oldest first."""
    since = None if args.since is None else time.time() - _seconds(args.since)
    states = set(args.state or ())
    chosen = [
        row
        for row in rows
        if (not states or row.state.value in states or ("unfinished" in states and row.unfinished))
        and (args.model is None or row.model == args.model)
        and (since is None or row.created_at >= since)
    ]
    if args.limit is not None:
        if args.limit < 0:
            raise ValidationError("--limit", "must be 0 or more")
        chosen = chosen[len(chosen) - args.limit :] if args.limit else []
    return chosen


def _seconds(age: str) -> float:
    found = _AGE.match(age.strip())
    if found is None:
        raise ValidationError("--since", f"expected an age like 30m, 2h or 7d, got {age!r}")
    return float(found.group(1)) * _UNIT[found.group(2)]


def _line(row: Entry) -> str:
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.created_at))
    state = row.state.value
    if row.state.outcome_unknown:
        state += " (outcome unknown: check the KIE dashboard)"
    elif row.unfinished:
        state += " (unfinished: kie resume)"
    files = f"{len(row.files)}/{len(row.assets)} files" if row.assets else "-"
    error = ""
    if row.error is not None:
        code = row.error.get("code")
        error = f"  {row.error.get('type')}{f' {code}' if code is not None else ''}: "
        error += str(row.error.get("message"))
    return f"{row.task_id or '-':34} {row.model:32} {state:10} {created}  {files}{error}"
