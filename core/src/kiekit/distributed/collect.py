"""``kie batch --celery``'s side: send each job not settled yet as a task, then collect the
answers in the order they come (for the progress display) until every job has one.

A job settled in the journal (succeeded with its files on disk, or failed) is reported from
there and not sent again, as a local batch run again skips it. Answers come back through the
result backend; a worker's answer is the job's JobResult, the same as a local run's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kiekit.batch import Job, JobResult, settled
from kiekit.distributed.messages import TASK_NAME, job_message, result_from_answer
from kiekit.errors import ConfigurationError
from kiekit.journal import Journal
from kiekit.shared_limits import redacted


def run_on_celery(
    app: Any,
    journal: Journal,
    jobs: Sequence[Job],
    out_dir: Path,
    *,
    timeout: float | None = None,
    poll_interval: float | None = None,
    on_result: Callable[[JobResult], None] | None = None,
) -> list[JobResult]:
    """Every job's result (in the jobs' order), the unsettled ones run by Celery workers."""
    from celery.result import ResultSet

    folder = str(out_dir.resolve())  # the workers' path: a folder they share (docs/teams.md)
    results: dict[int, JobResult] = {}

    def done(job: Job, result: JobResult) -> None:
        results[job.line] = result
        if on_result is not None:
            on_result(result)

    check_broker(app)
    sent: dict[str, Job] = {}
    for job in jobs:
        earlier = settled(journal, job, out_dir)
        if earlier is not None:
            done(job, earlier)
            continue
        message = job_message(job)
        answer = app.send_task(TASK_NAME, args=[message, folder, timeout, poll_interval])
        sent[answer.id] = job

    def collected(task_id: str, answer: object) -> None:
        job = sent[task_id]
        if job.line not in results:  # a job run twice (redelivered) answers once
            done(job, result_from_answer(job, answer))

    if sent:
        pending = ResultSet([app.AsyncResult(task_id) for task_id in sent], app=app)
        try:
            pending.join_native(callback=collected, propagate=False)
        finally:
            pending.forget()  # the journal keeps what matters; the backend needs nothing more
    return [results[job.line] for job in jobs]


def check_broker(app: Any) -> None:
    """Fail before the first job is sent when the broker cannot be reached (Celery would
    retry each send, then stop with a traceback)."""
    from kombu.exceptions import OperationalError

    with app.connection_for_write() as connection:
        try:
            connection.ensure_connection(max_retries=1)
        except OperationalError as exc:
            # kombu's own masking shows a password even where the URL has none
            where = redacted(connection.as_uri(include_password=True))
            raise ConfigurationError(f"cannot reach the Celery broker at {where}: {exc}") from exc
