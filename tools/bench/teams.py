"""Target 10: N ``kie batch`` workers on one KIE key, sharing its limits and its journal.

The mock, in its own process, enforces KIE's documented limits on real time (20 creates per 10 s
per account, 10 recordInfo per second per key; kie-api.md §8). N = 1, 2, 4, 8 worker processes
each run ``kie batch`` over the same jobs file with the same key and ``--limits redis://…`` (a
real Redis, from core/tests/teams/servers.py), and one journal: a real PostgreSQL (a fresh
database per run), or ``--journal sqlite`` for one SQLite file shared through
``KIEKIT_DATA_DIR``, or ``--journal URL`` passed through as is. Per N it prints:

- the create requests the mock answered 429 (target: none);
- the share of the create budget used: the creates KIE accepted against the most a sliding
  window allows in the time they took (20 at once, then 20 a window; target: >= 0.9);
- tasks created twice: tasks on the mock beyond one per distinct job (the journal's job keys
  decide that, not the limiter);
- lost jobs: distinct jobs that no worker reports succeeded;
- result files on disk more than once, across every worker's ``--out`` (target: none).

Then the same with 4 workers, one of them killed with SIGKILL mid-run.

    python3 -m uv run --no-sync python tools/bench/teams.py [--jobs 40] [--workers 1,2,4,8]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import PYTHON, ROOT, Row, format_table, mock_server

# core/tests/teams/servers.py, the tests' own real servers, imported from its folder (not as
# ``teams.servers``, as the tests do: this module's name is ``teams`` too)
sys.path.append(str(ROOT / "core" / "tests" / "teams"))
from servers import postgres_server, redis_server

KEY = "sk-bench-teams-key"
MODEL = "grok-imagine/text-to-image"
CREATES, WINDOW = 20, 10.0  # kie-api.md §8


@dataclass
class Run:
    workers: int
    killed: bool
    rejected: int
    accepted: int
    share: float | None  # None: every create fitted in one window, so no budget to fill
    twice: int
    lost: int
    files_twice: int
    seconds: float


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url) as answer:  # noqa: S310 - the loopback mock
        return json.loads(answer.read())  # type: ignore[no-any-return]


def _jobs_file(folder: Path, jobs: int) -> Path:
    path = folder / "jobs.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for index in range(jobs):
            job = {"id": f"job-{index}", "model": MODEL, "input": {"prompt": f"job {index}"}}
            out.write(json.dumps(job) + "\n")
    return path


@contextmanager
def _workers(
    count: int, jobs: Path, folder: Path, base_url: str, limits: str, journal: str | None
) -> Iterator[list[subprocess.Popen[bytes]]]:
    environ = {**os.environ, "KIE_API_KEY": KEY, "KIEKIT_DATA_DIR": str(folder / "data")}
    environ.pop("KIEKIT_LIMITS_URL", None)
    processes = []
    for index in range(count):
        command = [PYTHON, "-m", "kiekit", "batch", str(jobs), "--out", str(folder / f"w{index}")]
        command += ["--base-url", base_url, "--limits", limits, "--json"]
        if journal is not None:
            command += ["--journal", journal]
        processes.append(
            subprocess.Popen(  # noqa: S603 - our own interpreter
                command,
                env=environ,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def _succeeded(folder: Path, workers: int) -> set[str]:
    done: set[str] = set()
    for index in range(workers):
        results = folder / f"w{index}" / "results.jsonl"
        if not results.exists():
            continue
        for line in results.read_text(encoding="utf-8").splitlines():
            result = json.loads(line)
            if result.get("ok") or result.get("state") == "succeeded":
                done.add(str(result.get("id")))
    return done


def _files_twice(folder: Path, workers: int) -> int:
    """Result files on disk more than once across the workers' folders (by name: task id and
    index, so the same result downloaded twice has the same name)."""
    names = Counter(
        path.name
        for index in range(workers)
        for path in (folder / f"w{index}").glob("*")
        if path.is_file() and path.suffix not in (".jsonl", ".part")
    )
    return sum(count - 1 for count in names.values())


@contextmanager
def _journal_for_run(journal: str | None, folder: Path) -> Iterator[str | None]:
    """The journal URL of one run: a fresh PostgreSQL database (default), a shared SQLite
    file (``sqlite``), or the given URL ({run} replaced by a fresh name)."""
    if journal == "sqlite":
        yield None  # the workers share KIEKIT_DATA_DIR's file
    elif journal is not None:
        yield journal.replace("{run}", uuid.uuid4().hex[:8])
    else:
        import psycopg

        with postgres_server() as url:
            name = "run" + uuid.uuid4().hex[:8]
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {name}")
            yield url.rsplit("/", 1)[0] + "/" + name


def run_once(workers: int, jobs: int, journal: str | None, *, kill: bool = False) -> Run:
    config = {"documented_limits": True, "starting_credits": 1e9}
    with (
        tempfile.TemporaryDirectory(prefix="kiekit-teams-") as scratch,
        redis_server() as redis_url,
        mock_server(**config) as mock,
        _journal_for_run(journal, Path(scratch)) as own_journal,
    ):
        folder = Path(scratch)
        path = _jobs_file(folder, jobs)
        begin = time.monotonic()
        with _workers(workers, path, folder, mock.base_url, redis_url, own_journal) as processes:
            if kill:
                # one worker dies mid-run, its jobs still in flight (the others hold the same)
                time.sleep(WINDOW * 1.5)
                os.kill(processes[0].pid, signal.SIGKILL)
            for process in processes:
                process.wait()
        seconds = time.monotonic() - begin
        records = _get(f"{mock.base_url}/_mock/journal?path=/api/v1/jobs/createTask")["requests"]
        tasks = _get(f"{mock.base_url}/_mock/tasks")["tasks"]
        lost = jobs - len(_succeeded(folder, workers))
        files_twice = _files_twice(folder, workers)
    assert isinstance(records, list)
    assert isinstance(tasks, list)
    rejected = sum(1 for record in records if record["code"] == 429)
    times = sorted(record["at"] for record in records if record["code"] == 200)
    accepted = len(times)
    took = times[-1] - times[0] if accepted > 1 else 0.0
    best = (math.ceil(accepted / CREATES) - 1) * WINDOW
    share = (best / took if took > 0 else 1.0) if accepted > CREATES else None
    per_job = Counter(task["prompt"] for task in tasks)
    twice = sum(count - 1 for count in per_job.values())
    return Run(workers, kill, rejected, accepted, share, twice, lost, files_twice, seconds)


def _row(run: Run) -> Row:
    name = f"10 {run.workers} kie batch worker(s), one key" + (", one killed" if run.killed else "")
    # The share is a goal where the workers have more creates ready than a window allows (the
    # issue's 4 workers): one worker's 10 jobs in flight pace its creates by their own waits.
    # A killed worker's slots booked ahead go unused: its run is held to losing nothing, not
    # to the budget (the share is printed all the same).
    saturated = run.workers >= 4 and run.accepted > CREATES and not run.killed
    return Row(
        name,
        f"{run.accepted} creates accepted, {run.rejected} × 429; {run.twice} task(s) made "
        f"twice; {run.lost} job(s) lost; {run.files_twice} file(s) on disk twice; "
        f"{run.seconds:.0f} s",
        "— (one window)" if run.share is None else f"{run.share:.2f}",
        ("0 × 429, ≥ 0.9 of the create budget" if saturated else "0 × 429") + ", 0 twice, 0 lost",
        run.rejected == 0
        and (not saturated or (run.share is not None and run.share >= 0.9))
        and run.twice == 0
        and run.lost == 0
        and run.files_twice == 0,
    )


def measure(
    jobs: int = 40, workers: tuple[int, ...] = (1, 2, 4, 8), journal: str | None = None
) -> list[Row]:
    rows = []
    for count in workers:
        run = run_once(count, jobs, journal)
        rows.append(_row(run))
        print(format_table(rows[-1:]), flush=True)
    run = run_once(4, jobs, journal, kill=True)
    rows.append(_row(run))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40, help="distinct jobs, given to every worker")
    parser.add_argument("--workers", default="1,2,4,8", help="worker counts, comma-separated")
    parser.add_argument(
        "--journal",
        default=None,
        metavar="URL",
        help="'sqlite' (one file shared through KIEKIT_DATA_DIR), or a URL passed to every "
        "worker as --journal ({run} is replaced by a fresh name per run); default: a real "
        "PostgreSQL, a fresh database per run",
    )
    args = parser.parse_args()
    counts = tuple(int(part) for part in args.workers.split(","))
    print(format_table(measure(args.jobs, counts, args.journal)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
