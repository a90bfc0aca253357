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

A broker that loses its queue (Redis restarted without persistence: docs/teams.md) loses the
messages no worker has taken, and no worker would ever answer them. While answers stop coming,
the sender looks at the journal: a job whose row says it ended is reported from there (its
answer lost with the broker), and once no job was answered, none held by a live worker and
the queue empty for the visibility timeout (``KIEKIT_CELERY_VISIBILITY_TIMEOUT``, after which
Redis itself hands a lost worker's message to another), the jobs left are sent again. That is
safe: a worker settles a job through its journal row (claimed once, created once under its
key, answered from the row when done or held elsewhere), so a message that was not lost after
all runs the job once too. A line on standard error says what it waits for meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import evolve

from kiekit._paths import recorded
from kiekit.batch import Job, JobResult, NotSent, job_key, made_before, made_by, settled
from kiekit.distributed.messages import TASK_NAME, result_from_answer, task_options
from kiekit.distributed.settings import DEFAULT_VISIBILITY_TIMEOUT
from kiekit.errors import ConfigurationError, KieError
from kiekit.journal import Journal
from kiekit.shared_limits import redacted

log = logging.getLogger(__name__)
# Seconds of no answer, no job held by a worker, before the sender says what it waits for
# (then as often again); sooner when the visibility timeout is shorter.
QUIET_NOTICE = 60.0
# The longest wait for answers before the journal is looked at again, while none comes
LOOK_EVERY = 30.0


def run_on_celery(
    app: Any,
    journal: Journal,
    jobs: Sequence[Job],
    out_dir: Path,
    *,
    timeout: float | None = None,
    poll_interval: float | None = None,
    on_result: Callable[[JobResult], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
    on_sent: Callable[[Job], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[JobResult]:
    """Every job's result (in the jobs' order), the unsettled ones run by Celery workers.
    ``on_wait`` is told, in a line, what a long wait with no answer waits for, and which jobs
    the broker lost are sent again (see the module's docstring). ``on_sent`` is told of each
    job as it is handed to the broker (before: a stop during the send may leave it there), so
    a stop can tell a job never sent from one a worker may still get."""
    folder = recorded(out_dir)  # the workers' path: a folder they share (docs/teams.md)
    results: dict[int, JobResult] = {}

    def done(job: Job, result: JobResult) -> None:
        results[job.line] = result
        if on_result is not None:
            on_result(result)

    check_broker(app)
    since = journal.now()  # a job this run holds back from then on is not created by a worker
    sent: dict[str, Job] = {}
    handed: list[Job] = []  # the jobs given to the broker, or being given when a stop came
    before: set[int] = set()  # the jobs sent whose rows held a task already (made_in_run)
    run = uuid.uuid4().hex  # written with each task this run's workers make (made_by_run)

    def answered(job: Job, result: JobResult) -> None:
        maker = _made_by(journal, job, out_dir, result.task_id)
        done(job, made_by_run(result, before=job.line in before, maker=maker, run=run))

    broke: list[bool] = []  # the jobs were held back after a 402: once

    def collected(task_id: str, answer: object) -> None:
        job = sent[task_id]
        if job.line not in results:  # a job run twice (redelivered) answers once
            result = result_from_answer(job, answer)
            if not broke and _out_of_credits(result):
                broke.append(True)
                unanswered = [j for j in sent.values() if j.line not in results and j is not job]
                hold_back(journal, unanswered, folder, since, NotSent())
            answered(job, result)

    try:
        for job in jobs:
            earlier = settled(journal, job, out_dir)
            if earlier is not None:
                done(job, earlier)
                continue
            if _made_before(journal, job, out_dir):
                before.add(job.line)
            options = task_options(job, folder, timeout, poll_interval, since, run)
            handed.append(job)  # held back on a stop from now on: its message may be queued
            if on_sent is not None:
                on_sent(job)
            answer = app.send_task(TASK_NAME, **options)
            sent[answer.id] = job
        if sent:
            waiting = _Waiting(app, journal, out_dir, since, clock, on_wait or log.warning, run)
            waiting.collect(sent, results, collected, answered, folder, timeout, poll_interval)
    except BaseException as stop:  # a stop, or on_result raised: no job is started after it
        unanswered = {job.line: job for job in handed if job.line not in results}
        hold_back(journal, list(unanswered.values()), folder, since, stop)  # each job once
        raise
    return [results[job.line] for job in jobs]


def made_in_run(result: JobResult, *, before: bool) -> JobResult:
    """``result`` with ``made`` saying whether this run paid for its task, as
    ``JobResult.made`` promises (docs/teams.md: the ``tasks_made`` of a team's runs sum to
    what they paid for). The worker whose create made a task says so (``made``), once: a
    worker that found the task in the journal, waiting for the worker that made it (of this
    run or of another run of the same jobs at the same time), does not count it. A run that
    counted every task its jobs' rows gained after it sent them counted, with a second run of
    the same jobs at once, each task in both (outside tester "celeryteam", finding 1).

    Only a worker killed (SIGKILL) after its create answers nothing: the worker that took its
    row over says so (``taken_from_gone``), and its task counts as this run's when the job's
    row held no task when the run sent it (``before``: :func:`~kiekit.batch.made_before`);
    the collector keeps one answer per job, so it counts once. One made before the run never
    counts, whoever reports it. A worker of an older kiekit tells nothing (``made`` None):
    its task counts when the row held none before, as it did."""
    if before:  # found in the journal; but a worker's own create is its to say
        return result if result.made is True else evolve(result, made=False)
    if result.made is True or not result.task_id or result.state == "refused":
        return result
    return evolve(result, made=result.made is None or result.taken_from_gone)


def made_by_run(result: JobResult, *, before: bool, maker: str | None, run: str) -> JobResult:
    """``result`` with ``made`` saying whether run ``run`` paid for its task. ``maker``: the
    run whose worker's create made the task, as the job's row says (Entry.run, written with
    the task id by that worker alone): the task is this run's exactly when it is ``run``,
    whoever finished the job. The workers' own words (:func:`made_in_run`) miscount when
    failures overlap: a worker taking over a row from a gone holder cannot tell which run
    made its task, so with a stalled maker of another run (its lease lapsed, its own answer
    to come) both runs counted it, and with a taker that died too the run whose worker ended
    the job counted it, not the one that paid (docs/teams.md). None (made by a worker of an
    older kiekit, outside a Celery run, or the row unreadable): those words, as before."""
    if maker is None:
        return made_in_run(result, before=before)
    made = maker == run and bool(result.task_id) and result.state != "refused"
    return result if result.made is made else evolve(result, made=made)


def _made_by(journal: Journal, job: Job, out_dir: Path, task_id: str | None) -> str | None:
    """:func:`~kiekit.batch.made_by`; None without a task, or when the journal cannot be
    read (the job counts as its worker says then)."""
    if not task_id:
        return None
    try:
        return made_by(journal, job, out_dir, task_id)
    except KieError as exc:
        log.warning("could not read job %s in the task journal: %s", job_key(job), exc)
        return None


def _made_before(journal: Journal, job: Job, out_dir: Path) -> bool:
    """:func:`~kiekit.batch.made_before`; a journal that cannot be read proves nothing, and
    the job counts only when its worker says it made the task (never twice, then)."""
    try:
        return made_before(journal, job, out_dir)
    except KieError as exc:
        log.warning("could not read job %s in the task journal: %s", job_key(job), exc)
        return True


class _Waiting:
    """The wait for the workers' answers, which notices a queue the broker lost."""

    def __init__(
        self,
        app: Any,
        journal: Journal,
        out_dir: Path,
        since: float,
        clock: Callable[[], float],
        say: Callable[[str], None],
        run: str | None = None,
    ) -> None:
        self.app = app
        self.run = run
        self.journal = journal
        self.out_dir = out_dir
        self.since = since
        self.clock = clock
        self.say = say
        transport = app.conf.broker_transport_options or {}
        # the bound: a message no worker took, nor any job in flight, for this long is lost
        self.bound = float(transport.get("visibility_timeout") or DEFAULT_VISIBILITY_TIMEOUT)
        self.notice = min(QUIET_NOTICE, self.bound / 2)
        self.look = max(0.1, min(LOOK_EVERY, self.bound / 4))

    def collect(
        self,
        sent: dict[str, Job],
        results: Mapping[int, JobResult],
        collected: Callable[[str, object], None],
        done: Callable[[Job, JobResult], None],
        folder: str,
        timeout: float | None,
        poll_interval: float | None,
    ) -> None:
        """Wait until every job sent has its result: answers as they come; while none comes,
        the journal is looked at (:meth:`_look`), and jobs the broker lost are sent again."""
        from celery.exceptions import TimeoutError as NoAnswerYet
        from celery.result import ResultSet

        quiet_since = told = self.clock()
        # one handle per message for the whole wait: the result backend hands an answer to
        # the handle it first knew for that message
        handles = {tid: self.app.AsyncResult(tid) for tid in sent}
        try:
            while True:
                waiting = [tid for tid, job in sent.items() if job.line not in results]
                if not waiting:
                    return
                pending = ResultSet([handles[tid] for tid in waiting], app=self.app)
                answered = len(results)
                with contextlib.suppress(NoAnswerYet):  # none within self.look: look around
                    pending.join_native(timeout=self.look, callback=collected, propagate=False)
                if len(results) > answered:
                    quiet_since = told = self.clock()
                    continue
                left = list({sent[tid].line: sent[tid] for tid in waiting}.values())
                progress, untaken = self._look(left, results, done)
                now = self.clock()
                if progress:
                    quiet_since = told = now
                    continue
                if now - quiet_since >= self.bound and untaken and not self._queued():
                    for job in untaken:  # safe: the journal settles a job once (see above)
                        options = task_options(
                            job, folder, timeout, poll_interval, self.since, self.run
                        )
                        again = self.app.send_task(TASK_NAME, **options)
                        sent[again.id], handles[again.id] = job, again
                    self.say(
                        f"kie batch: {len(untaken)} job(s) no Celery worker took or answered in "
                        f"{self.bound:g} s (KIEKIT_CELERY_VISIBILITY_TIMEOUT), with the queue "
                        "empty: the broker lost them (a restart without persistence? "
                        "docs/teams.md: appendonly yes); sent again (a job runs once: the "
                        f"journal settles it): {_named(untaken)}"
                    )
                    quiet_since = told = now
                elif now - told >= self.notice:
                    self.say(
                        f"kie batch: waiting for the Celery workers: {len(left)} job(s) not "
                        f"answered and none taken by a worker for {now - quiet_since:.0f} s; are "
                        f"workers running on queue {self.app.conf.task_default_queue!r}? Jobs the "
                        f"broker lost are sent again after {self.bound:g} s with no worker on any "
                        "(KIEKIT_CELERY_VISIBILITY_TIMEOUT)"
                    )
                    told = now
        finally:
            # the journal keeps what matters; the backend needs no more
            ResultSet(list(handles.values()), app=self.app).forget()

    def _look(
        self,
        jobs: list[Job],
        results: Mapping[int, JobResult],
        done: Callable[[Job, JobResult], None],
    ) -> tuple[bool, list[Job]]:
        """What the journal says of the jobs not answered: whether any moved on (held by a
        live worker: the look ends there, all is well; or settled there a while ago, its
        answer lost with the broker: reported from the row), and the jobs no worker holds.
        A journal that cannot be read tells nothing (no move, none lost)."""
        progress = False
        untaken: list[Job] = []
        settled_before = time.time() - self.look  # an answer is on its way a moment after
        try:
            for job in jobs:
                if job.line in results:
                    continue
                row = self.journal.get(job_key(job))
                if row is not None and self.journal.holder(row) is not None:
                    return True, []  # a worker is on it: the workers are at work
                ended = None if row is None else settled(self.journal, job, self.out_dir)
                if ended is not None and row is not None and row.updated_at <= settled_before:
                    done(job, evolve(ended, made=None))  # made: its worker's answer was lost
                    progress = True
                elif ended is None:
                    untaken.append(job)
        except KieError as exc:
            log.warning("could not read the task journal while waiting for workers: %s", exc)
            return False, []
        return progress, untaken

    def _queued(self) -> int:
        """Messages waiting in the batch's queue (0 when the broker has no such queue, as
        after a restart without persistence); when the broker cannot tell, none is assumed,
        so a lost job is sent again (safe, see above)."""
        queue = self.app.conf.task_default_queue
        with self.app.connection_for_read() as connection:
            try:
                declared = connection.default_channel.queue_declare(queue=queue, passive=True)
            except connection.channel_errors:  # no such queue: nothing in it
                return 0
            except connection.connection_errors as exc:
                log.warning("could not count the messages queued on %s: %s", queue, exc)
                return 0
            return int(declared.message_count)


def _named(jobs: Sequence[Job]) -> str:
    shown = ", ".join(str(job.id) for job in jobs[:5])
    return shown + (f" and {len(jobs) - 5} more" if len(jobs) > 5 else "")


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
