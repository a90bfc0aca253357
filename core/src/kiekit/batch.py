"""Many jobs from a JSON Lines file: created once, waited on together, their files downloaded.

Each line is a job ``{"model": …, "input": {…}, "id"?: …}``. A job's key is its ``id`` or, without
one, a hash of its model and input; the key and the output folder name its journal row, and the
client's ``idempotency_key`` makes the row a claim. So a batch run again after a crash or a
Ctrl-C never creates a job's task a second time: a job created before is waited on and
downloaded, a job already on disk is skipped, and a job whose create got no answer is reported as
"outcome unknown" (KIE cannot list tasks, kie-api.md §4, so it cannot be found out here).

Bad lines are reported with their number and never stop the others. Concurrency is bounded, and
creates keep the client's rate limits (20 per 10 s, kie-api.md §8).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import frozen

from kiekit.errors import (
    KieError,
    OutcomeUnknownError,
    TaskFailedError,
    UnknownModelError,
    ValidationError,
)
from kiekit.journal import Entry, EntryState, Journal, error_record
from kiekit.models import Task

if TYPE_CHECKING:
    from kiekit.client import AsyncClient

__all__ = ["BadLine", "Job", "JobResult", "job_key", "read_jobs", "run_batch", "run_job", "settled"]


@frozen
class Job:
    line: int
    id: str  # the line's "id", or a hash of model and input
    model: str
    input: Mapping[str, Any]


@frozen
class BadLine:
    line: int
    message: str

    def result(self) -> JobResult:
        error = {"type": "ValidationError", "message": self.message}
        return JobResult(line=self.line, id=None, state="invalid", error=error)


@frozen
class JobResult:
    """How one job ended: ``succeeded`` (files on disk), ``failed`` (the task failed),
    ``error`` (a typed error, e.g. a refused create or a wait that timed out), ``unknown``
    (the create's outcome is unknown), or ``invalid`` (the line or its input is bad)."""

    line: int
    id: str | None
    state: str
    task_id: str | None = None
    model: str | None = None
    files: tuple[str, ...] = ()
    error: Mapping[str, Any] | None = None
    value: Any = None  # what KIE returned besides files (lyrics, a character id), as JSON

    @property
    def ok(self) -> bool:
        return self.state == "succeeded"

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "id": self.id,
            "model": self.model,
            "task_id": self.task_id,
            "state": self.state,
            "files": list(self.files),
            "value": self.value,
            "error": dict(self.error) if self.error is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobResult:
        """The result :meth:`to_json` wrote (e.g. a Celery worker's answer, docs/teams.md)."""
        error = data.get("error")
        return cls(
            line=int(data["line"]),
            id=data.get("id"),
            state=str(data["state"]),
            task_id=data.get("task_id"),
            model=data.get("model"),
            files=tuple(str(path) for path in data.get("files") or ()),
            error=dict(error) if error is not None else None,
            value=data.get("value"),
        )


def read_jobs(lines: Iterable[str]) -> tuple[list[Job], list[BadLine]]:
    """Jobs and bad lines of a JSON Lines text; blank lines and ``#`` comments are skipped."""
    jobs: list[Job] = []
    bad: list[BadLine] = []
    seen: dict[str, int] = {}
    for number, text in enumerate(lines, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            job = _job(number, text)
        except ValueError as exc:
            bad.append(BadLine(number, str(exc)))
            continue
        if job.id in seen:
            bad.append(BadLine(number, f"id {job.id!r} is the job of line {seen[job.id]} again"))
            continue
        seen[job.id] = number
        jobs.append(job)
    return jobs, bad


def _job(number: int, text: str) -> Job:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("a job is a JSON object {model, input, id?}")
    unknown = sorted(set(value) - {"model", "input", "id"})
    if unknown:
        raise ValueError(f"{unknown[0]}: is not a job field (fields: model, input, id)")
    model = value.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError("model: must be a model id (a non-empty string)")
    params = value.get("input", {})
    if not isinstance(params, dict):
        raise ValueError("input: must be a JSON object")
    job_id = value.get("id")
    if job_id is None:
        canonical = json.dumps({"model": model, "input": params}, sort_keys=True)
        job_id = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
    elif isinstance(job_id, bool) or not isinstance(job_id, str | int) or str(job_id) == "":
        raise ValueError("id: must be a non-empty string or a number")
    return Job(number, str(job_id), model, params)


def job_key(out_dir: Path, job: Job) -> str:
    """The journal key of a job: the same job sent to the same folder is the same row."""
    return f"batch:{_absolute(out_dir)}:{job.id}"


def _absolute(folder: Path) -> str:
    return str(folder.resolve())


async def run_batch(
    client: AsyncClient,
    journal: Journal,
    jobs: Sequence[Job],
    out_dir: Path,
    *,
    concurrency: int = 10,
    timeout: float | None = None,
    on_result: Callable[[JobResult], None] | None = None,
) -> list[JobResult]:
    """Run every job (at most ``concurrency`` at a time); results in the jobs' order.

    ``client`` must record into ``journal`` (``AsyncClient(journal=journal)``): its rows are how
    a second run knows what the first one did.
    """
    if concurrency < 1:
        raise ValidationError("concurrency", "must be at least 1")
    slots = asyncio.Semaphore(concurrency)

    async def one(job: Job) -> JobResult:
        async with slots:
            result = await run_job(client, journal, job, out_dir, timeout)
        if on_result is not None:
            on_result(result)
        return result

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def run_job(
    client: AsyncClient, journal: Journal, job: Job, out_dir: Path, timeout: float | None
) -> JobResult:
    """One job, as a batch runs it (here or on a Celery worker): created once under its key,
    waited on, its files downloaded into ``out_dir``; a job settled before is not sent again."""
    key = job_key(out_dir, job)
    done = settled(journal, job, out_dir)
    if done is not None:  # finished in an earlier run: nothing to ask KIE
        return done
    task: Task | None = None
    try:
        task = await client.submit(job.model, job.input, idempotency_key=key)
        # where `kie resume` puts the files if this run stops before downloading them
        journal.store.update(key, {"out_dir": _absolute(out_dir)})
        results = await client.wait(task, timeout=timeout)
        paths = await client.download(results, out_dir)
    except KieError as exc:
        return _failure(job, task, exc)
    files = tuple(str(path) for path in paths)
    return JobResult(job.line, job.id, "succeeded", task.id, job.model, files, value=results.value)


def settled(journal: Journal, job: Job, out_dir: Path) -> JobResult | None:
    """How the job ended in an earlier run (succeeded with its files on disk, or failed), or
    None while it still has something to do."""
    return _settled(journal.get(job_key(out_dir, job)), job)


def _settled(entry: Entry | None, job: Job) -> JobResult | None:
    if entry is None or entry.model != job.model:
        return None  # a different model under the same key is refused by submit, with a reason
    if entry.state is EntryState.SUCCEEDED and entry.files_on_disk():
        return JobResult(job.line, job.id, "succeeded", entry.task_id, job.model, entry.files)
    if entry.state is EntryState.FAILED:
        return JobResult(job.line, job.id, "failed", entry.task_id, job.model, error=entry.error)
    return None


def _failure(job: Job, task: Task | None, exc: KieError) -> JobResult:
    if isinstance(exc, TaskFailedError):
        state = "failed"
    elif isinstance(exc, OutcomeUnknownError):
        state = "unknown"
    elif isinstance(exc, ValidationError | UnknownModelError):
        state = "invalid"  # named field or model, before anything was sent
    else:
        state = "error"
    task_id = task.id if task is not None else exc.task_id
    return JobResult(job.line, job.id, state, task_id, job.model, error=error_record(exc))
