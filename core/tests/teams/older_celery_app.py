"""A Celery worker as kiekit's were before the batch's start travelled with its messages (before
587a9a8): the same task name, and a task taking exactly four arguments, so that a message it
cannot take fails as it did on such a worker (``TypeError: run_job_task() takes 4 positional
arguments but 5 were given``). The job itself runs on today's worker runtime: what is tested is
the message, not the old code. Started by test_celery_batch.py with this folder on PYTHONPATH:
``celery -A older_celery_app worker``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_process_shutdown
from kiekit.distributed import CelerySettings, worker
from kiekit.distributed.messages import TASK_NAME, job_from_message

settings = CelerySettings.from_env()
app = Celery("kiekit", broker=settings.broker_url, backend=settings.result_backend)
app.conf.update(
    task_default_queue=settings.queue,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    task_acks_late=True,
    worker_prefetch_multiplier=1,
)


@app.task(name=TASK_NAME)
def run_job_task(
    job: dict[str, Any], out_dir: str, timeout: float | None, poll_interval: float | None
) -> dict[str, Any]:
    """The older kiekit's signature (kiekit.distributed.celery_app at 3705abf)."""
    result = worker.runtime().run(job_from_message(job), Path(out_dir), timeout, poll_interval)
    return result.to_json()


worker_process_shutdown.connect(lambda **_: worker.shutdown(), weak=False)
