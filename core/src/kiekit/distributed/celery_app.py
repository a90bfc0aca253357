"""The Celery app of kiekit's distributed batch (docs/teams.md, "Distributed batch on Celery").

Start workers with::

    celery -A kiekit.distributed.celery_app worker --loglevel INFO

Each task runs one job of ``kie batch JOBS --out DIR --celery`` with :func:`kiekit.batch.run_job`:
created once under the job's key (the task journal makes the key a claim), waited on, its files
downloaded into DIR. The message is acknowledged only when the task returns, that is once the
journal knows how the job ended (``task_acks_late``): a worker lost mid-job (kill -9, a dead
machine) leaves its message unacknowledged, and Redis hands it to another worker after the
visibility timeout. That worker finds the job's row: a task created before is waited on and
downloaded, not created again (nothing paid twice); a job settled before is answered at once.

Configuration is the environment (:mod:`kiekit.distributed.settings`): ``KIEKIT_BROKER_URL``,
``KIEKIT_RESULT_BACKEND``, ``KIEKIT_CELERY_QUEUE``, ``KIEKIT_CELERY_VISIBILITY_TIMEOUT``; the
worker's KIE client reads ``KIE_API_KEY`` and ``KIE_BASE_URL`` like the ``kie`` commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_process_shutdown, worker_shutdown

from kiekit.distributed import worker
from kiekit.distributed.messages import (
    REFUSED_SINCE_HEADER,
    RUN_HEADER,
    TASK_NAME,
    answer_of,
    job_from_message,
    refused_since_of,
    run_of,
)
from kiekit.distributed.settings import CelerySettings

__all__ = ["app", "make_app"]


def make_app(settings: CelerySettings | None = None) -> Any:
    """A Celery app with kiekit's task, from ``settings`` (default: the environment)."""
    settings = settings or CelerySettings.from_env()
    celery = Celery("kiekit", broker=settings.broker_url, backend=settings.result_backend)
    transport = {
        "visibility_timeout": settings.visibility_timeout,
        # kombu sweeps for unacknowledged messages every interval x throttle seconds (100 by
        # default); one sweep per interval brings a lost worker's job back soon after it
        # times out
        "unacked_restore_interval": settings.restore_interval,
        "unacked_restore_throttle": 1,
    }
    celery.conf.update(
        task_default_queue=settings.queue,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        # acknowledged when the job's outcome is in the journal; a lost worker's job is redone
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # one job reserved per process: jobs queued behind a slow one stay free for others
        worker_prefetch_multiplier=1,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        broker_connection_retry_on_startup=True,
    )
    task = celery.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)
    task(run_job_task)
    return celery


def run_job_task(
    task: Any,
    job: dict[str, Any],
    out_dir: str,
    timeout: float | None,
    poll_interval: float | None,
    refused_since: float | None = None,
) -> dict[str, Any]:
    """One job (a message of :mod:`kiekit.distributed.messages`), its JobResult as JSON.

    The batch's start comes in the message's ``kiekit_refused_since`` header (its journal's
    clock), so that a job it held back when it was stopped, or another worker refused in this
    run, is answered from its row, not created. A message of an older ``kie batch`` has none
    and runs as before; ``refused_since``, a fifth argument, is what kiekit sent for a while
    (a worker of an older kiekit failed on it)."""
    if refused_since is None:
        refused_since = refused_since_of(_header(task.request, REFUSED_SINCE_HEADER))
    run = run_of(_header(task.request, RUN_HEADER))
    result = worker.runtime().run(
        job_from_message(job), Path(out_dir), timeout, poll_interval, refused_since, run=run
    )
    return answer_of(result)


def _header(request: Any, name: str) -> object:
    """A header of the message being run: a worker makes each one an attribute of the
    request; ``Task.apply`` (run in this process) keeps them in ``request.headers``."""
    found = request.get(name)
    return found if found is not None else (request.headers or {}).get(name)


def _shutdown(**_: Any) -> None:
    worker.shutdown()


worker_process_shutdown.connect(_shutdown, weak=False)
worker_shutdown.connect(_shutdown, weak=False)

app = make_app()
