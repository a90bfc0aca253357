"""``kie batch --celery``'s side: send each job not settled yet as a task, then collect the
answers in the order they come (for the progress display) until every job has one.

A job settled in the journal (succeeded with its files on disk, or failed) is reported from
there and not sent again, as a local batch run again skips it. Answers come back through the
result backend; a worker's answer is the job's JobResult, the same as a local run's.

A run stopped before every answer came (Ctrl-C, SIGTERM, an ``on_result`` that raised) stops
its jobs as a local batch does: no task is created for it afterwards. The messages already
sent cannot be taken back from the broker, so each job no worker has taken yet is held back in
the journal (:func:`hold_back`) and the worker that gets its message answers from the row; a
job a worker holds is left to that worker, which finishes it.

Once a worker's answer says KIE refused a create for want of credits (402), the jobs no worker
has taken yet are held back the same way, as a local batch sends nothing more after a 402:
their workers answer ``not_sent`` from the row (kiekit.batch).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kiekit._paths import recorded
from kiekit.batch import Job, JobResult, NotSent, job_key, settled
from kiekit.distributed.messages import TASK_NAME, result_from_answer, task_options
from kiekit.errors import ConfigurationError, KieError
from kiekit.journal import Journal
from kiekit.shared_limits import redacted

log = logging.getLogger(__name__)


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

    folder = recorded(out_dir)  # the workers' path: a folder they share (docs/teams.md)
    results: dict[int, JobResult] = {}

    def done(job: Job, result: JobResult) -> None:
        results[job.line] = result
        if on_result is not None:
            on_result(result)

    check_broker(app)
    since = journal.now()  # a job this run holds back from then on is not created by a worker
    sent: dict[str, Job] = {}

    broke: list[bool] = []  # the jobs were held back after a 402: once

    def collected(task_id: str, answer: object) -> None:
        job = sent[task_id]
        if job.line not in results:  # a job run twice (redelivered) answers once
            result = result_from_answer(job, answer)
            if not broke and _out_of_credits(result):
                broke.append(True)
                unanswered = [j for j in sent.values() if j.line not in results and j is not job]
                hold_back(journal, unanswered, folder, since, NotSent())
            done(job, result)

    try:
        for job in jobs:
            earlier = settled(journal, job, out_dir)
            if earlier is not None:
                done(job, earlier)
                continue
            options = task_options(job, folder, timeout, poll_interval, since)
            answer = app.send_task(TASK_NAME, **options)
            sent[answer.id] = job
        if sent:
            pending = ResultSet([app.AsyncResult(task_id) for task_id in sent], app=app)
            try:
                pending.join_native(callback=collected, propagate=False)
            finally:
                pending.forget()  # the journal keeps what matters; the backend needs no more
    except BaseException as stop:  # a stop, or on_result raised: no job is started after it
        unanswered = [job for job in sent.values() if job.line not in results]
        hold_back(journal, unanswered, folder, since, stop)
        raise
    return [results[job.line] for job in jobs]


def _out_of_credits(result: JobResult) -> bool:
    """A worker's answer of a create KIE refused for want of credits (402)."""
    return result.state == "refused" and (result.error or {}).get("code") == 402


def hold_back(
    journal: Journal, jobs: Sequence[Job], folder: str, since: float, stop: BaseException
) -> None:
    """Jobs sent to the workers whose run stopped before they answered: each one no worker
    holds is claimed here and marked refused at once (``rejected``, nothing sent, the stop
    its error), so the worker that gets its message later answers from the row instead of
    creating a task (``run_job``'s ``refused_since`` is ``since``, the run's start); a later
    run takes it again. The claim is the journal's compare-and-set: a worker taking the job
    at the same moment either holds it first, and finishes it, or finds it held back. A job
    a live worker holds is left to it; a task a gone worker made is let go, for a later run
    or ``kie resume`` to finish."""
    why: BaseException = stop  # NotSent: the account ran out of credits, said as such
    if not isinstance(stop, NotSent):
        words = str(stop) if isinstance(stop, KeyboardInterrupt) else type(stop).__name__
        why = KeyboardInterrupt(  # kept as an "Interrupted" error, in words (error_record)
            f"{words or 'interrupted (SIGINT)'}: the batch stopped before a worker took this "
            "job, so none will; nothing was sent for it (run the batch again)"
        )
    for job in jobs:
        key = job_key(job)
        try:
            held = journal.claim(job.model, key, out_dir=folder, refused_since=since)
            if held is not None and journal.refused(key, why) is None:  # a task: not ours
                journal.release(key)
        except KieError as exc:  # the journal is down: a worker may still create it
            log.warning("could not hold job %s back from the Celery workers: %s", key, exc)


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
