"""``kie run MODEL``: create a task, wait for it with a progress line, download its files."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiekit.cli._common import Commands, add_connection_options, open_client, say
from kiekit.errors import ValidationError

if TYPE_CHECKING:
    from kiekit.models import TaskStatus


def register(commands: Commands) -> None:
    run = commands.add_parser("run", help="create a task, wait for it, download its files")
    run.add_argument("model", help="a model id, e.g. flux-kontext-pro (see `kie providers`)")
    run.add_argument("--prompt", help="the prompt")
    run.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another input field (repeatable), e.g. --input aspect_ratio=16:9",
    )
    run.add_argument("--out", default="kie-output", type=Path, help="folder for the result files")
    add_connection_options(run, mock_seconds=True)
    run.add_argument("--timeout", type=float, default=None, help="seconds to wait for the task")
    run.add_argument("--callback-url", default=None, help="callBackUrl for KIE to notify")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from kiekit.registry import default_registry

    provider = default_registry().provider(args.model)
    values = _input_values(args.input)
    prompt = {} if args.prompt is None else {"prompt": args.prompt}  # text, never read as JSON
    params = provider.make_input(args.model, values, from_text=True, **prompt)  # before any I/O

    with contextlib.ExitStack() as stack:
        client = open_client(args, stack)
        task = client.submit(args.model, params, callback_url=args.callback_url)
        say(f"created task {task.id} ({args.model})")
        try:
            with _progress() as show:
                results = client.wait(task, timeout=args.timeout, on_status=show)
            paths = client.download(results, args.out)
        except KeyboardInterrupt:
            say(f"stopped waiting; task {task.id} goes on at KIE")
            raise
    for path in paths:
        print(path)
    if results.value is not None:  # a model whose output is not a file: print what KIE returned
        print(json.dumps(results.value, ensure_ascii=False))
    return 0


def _input_values(pairs: list[str]) -> dict[str, str]:
    """The ``KEY=VALUE`` pairs, as strings; the provider reads them by the field's type."""
    raw: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(pair, "expected KEY=VALUE")
        raw[key.strip()] = value
    return raw


@contextlib.contextmanager
def _progress() -> Iterator[Any]:
    """A live line on standard error: the task's state, and a bar where KIE reports progress."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        line = bar.add_task("waiting", total=None)

        def show(status: TaskStatus) -> None:
            total = 1.0 if status.progress is not None else None
            bar.update(
                line, description=status.state.value, completed=status.progress or 0, total=total
            )

        yield show
