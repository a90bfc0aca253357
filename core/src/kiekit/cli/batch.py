"""``kie batch jobs.jsonl --out DIR``: many jobs at once, each created once, resumable.

Each line of the file is a job ``{"model": …, "input": {…}, "id"?: …}``. Files go to DIR, and one
line per job to DIR/results.jsonl (or --results): its id, task id, state, files or error. Run the
same command again after an interruption: finished jobs are skipped, created ones are waited on,
and nothing is created twice (see :mod:`kiekit.batch`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiekit.cli._common import (
    Commands,
    add_connection_options,
    add_journal_option,
    add_json_option,
    emit,
    say,
)
from kiekit.cli._preflight import output_folder
from kiekit.errors import ConfigurationError

if TYPE_CHECKING:
    from kiekit.batch import Job, JobResult


def register(commands: Commands) -> None:
    batch = commands.add_parser("batch", help="run the jobs of a JSON Lines file, resumably")
    batch.add_argument("jobs", type=Path, help='a .jsonl file: {"model": …, "input": {…}, "id"?}')
    batch.add_argument("--out", required=True, type=Path, help="folder for the result files")
    batch.add_argument(
        "--results", type=Path, default=None, help="the results file (default OUT/results.jsonl)"
    )
    batch.add_argument("--concurrency", type=int, default=10, help="jobs in flight at once")
    batch.add_argument("--timeout", type=float, default=None, help="seconds to wait per task")
    batch.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        metavar="S",
        help="seconds between status polls at first (default 2, growing to 30; kie-api.md §2.2)",
    )
    add_connection_options(batch, mock_seconds=True)
    add_journal_option(batch)
    add_json_option(batch)
    batch.set_defaults(handler=_batch)


def _batch(args: argparse.Namespace) -> int:
    from kiekit.batch import read_jobs

    try:
        with open(args.jobs, encoding="utf-8") as source:
            jobs, bad = read_jobs(source)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {args.jobs}: {exc.strerror or exc}") from exc
    for line in bad:
        say(f"{args.jobs}:{line.line}: {line.message}")
    output_folder("--out", args.out)  # before any job is created
    results_path = args.results or args.out / "results.jsonl"
    if args.results is not None:
        output_folder("--results", args.results.parent)
    results = asyncio.run(_run(args, jobs, results_path)) if jobs else []
    ordered = sorted([*results, *(line.result() for line in bad)], key=lambda r: r.line)
    _write_results(results_path, ordered)
    counts: dict[str, int] = {}
    for result in ordered:
        counts[result.state] = counts.get(result.state, 0) + 1
    summary = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    say(f"{len(ordered)} job(s): {summary or 'none'}; results in {results_path}")
    code = 0 if all(result.ok for result in ordered) else 1
    summary_json = {"jobs": len(ordered), "states": counts, "results": str(results_path)}
    emit(args, "batch", summary_json, ok=code == 0)
    return code


async def _run(args: argparse.Namespace, jobs: list[Job], results_path: Path) -> list[JobResult]:
    from kiekit.batch import run_batch
    from kiekit.cli._async import open_async_client
    from kiekit.journal import default_journal

    journal = default_journal()
    results_path.parent.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        client = open_async_client(args, stack, journal)
        # Each result is appended as it comes (a partial report survives a crash); the file
        # is rewritten in the jobs' order at the end.
        report = stack.enter_context(open(results_path, "w", encoding="utf-8"))  # noqa: ASYNC230, SIM115
        show = stack.enter_context(_progress(len(jobs)))

        def done(result: JobResult) -> None:
            report.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
            report.flush()
            show(result)

        return await run_batch(
            client,
            journal,
            jobs,
            args.out,
            concurrency=args.concurrency,
            timeout=args.timeout,
            on_result=done,
        )


def _write_results(path: Path, results: list[JobResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    with open(part, "w", encoding="utf-8") as out:
        for result in results:
            out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
    os.replace(part, path)


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[JobResult], None]]:
    """One bar on standard error: jobs done of all, with the count of those not succeeded."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns: tuple[Any, ...] = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    problems = 0
    with Progress(*columns, console=Console(stderr=True)) as bar:
        line = bar.add_task("jobs", total=total)

        def show(result: JobResult) -> None:
            nonlocal problems
            if not result.ok:
                problems += 1
                error = result.error or {}
                say(f"job {result.id} (line {result.line}): {result.state}: {error.get('message')}")
            bar.update(line, advance=1, description=f"jobs ({problems} not succeeded)")

        yield show
