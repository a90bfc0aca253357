"""``kie adopt``: take a task kiekit did not create into the journal.

Code moving to kiekit a piece at a time leaves tasks its old code created (raw HTTP, another
tool, KIE's site): paid for, and unknown to the journal, so ``kie tasks`` does not list them
and ``kie resume`` does not finish them. ``kie adopt TASK_ID --model M`` writes the row a
submit would have (``created``, with the API host and the key's hash): from then on ``kie
resume`` waits for it and downloads its files, a wait or download in Python writes its row,
and a webhook receiver knows its model. Nothing is sent: a task id KIE does not know shows at
the first ``kie resume`` ("KIE has no record of this task"), and ``kie settle`` corrects it.
A task whose row was abandoned (``kie settle --abandon``, a local decision) may be adopted
again: its row is reopened. ``Client.adopt`` does the same from Python.
"""

from __future__ import annotations

import argparse
import contextlib

from kiekit.cli._common import (
    Commands,
    add_base_url_options,
    add_journal_option,
    add_json_option,
    emit,
    env_key,
    open_client,
    path_option,
    say,
)
from kiekit.errors import ConfigurationError


def register(commands: Commands) -> None:
    adopt = commands.add_parser(
        "adopt",
        help="take a task created outside kiekit into the journal (kie resume then finishes it)",
        description="Take a task kiekit did not create (older code, another tool, KIE's site) "
        "into the task journal, as if kiekit had submitted it: kie tasks lists it, and kie "
        "resume waits for it and downloads its files. Nothing is sent; KIE_API_KEY must be "
        "the key that made it (KIE shows a task only to its own key). A task whose row was "
        "abandoned (kie settle --abandon) is taken back: its row is reopened.",
    )
    adopt.add_argument("task_id", metavar="TASK_ID", help="the task id KIE gave its create")
    adopt.add_argument(
        "--model", required=True, help="the task's model id, e.g. veo3_fast (see kie models)"
    )
    adopt.add_argument(
        "--out",
        default=None,
        type=path_option,
        help="folder for its files when kie resume downloads them (default: kie resume's)",
    )
    adopt.add_argument(
        "--any-model",
        action="store_true",
        help="take a model id no plugin lists even when it looks like a mistyped known one",
    )
    add_base_url_options(adopt)
    add_journal_option(adopt)
    add_json_option(adopt)
    adopt.set_defaults(handler=_adopt)


def _adopt(args: argparse.Namespace) -> int:
    from kiekit.cli.run import checked_provider

    checked_provider(args.model, any_model=args.any_model)  # a typo: refused, nothing written
    if env_key() is None:  # the row names its account, as a submit's does (kie resume asks)
        raise ConfigurationError("KIE_API_KEY is not set: give the key that made the task")
    with contextlib.ExitStack() as stack:
        client = open_client(args, stack)
        journal = client.journal
        assert journal is not None  # the CLI's clients always journal
        # a row of the task before: an abandoned one, reopened (the adopt refuses any other)
        reopened = journal.by_task(args.task_id.strip()) is not None
        task = client.adopt(args.task_id, args.model, out_dir=args.out)
        row = journal.by_task(task.id)
        where = client.base_url
    assert row is not None  # just written
    if emit(args, "adopt", {"task_id": task.id, "model": task.model, "key": row.key,
                            "base_url": where, "out_dir": row.out_dir,
                            "reopened": reopened}):  # fmt: skip
        return 0
    again = f" again (its abandoned row {row.key} reopened)" if reopened else ""
    said = f"task {task.id} ({task.model}) on {where} is in the journal{again}"
    say(f"{said}; kie resume finishes it")
    return 0
