"""What a Celery worker process keeps between jobs: one event loop on a thread of its own and
one AsyncClient per poll interval, so its jobs share a connection pool and KIE's rate limits
(kie-api.md §8) instead of each starting from nothing.

The client is built from the worker's own environment, as the ``kie`` commands build theirs:
``KIE_API_KEY``, ``KIE_BASE_URL`` / ``KIE_UPLOAD_BASE_URL``, and the task journal of
:func:`kiekit.journal.default_journal` (``KIEKIT_JOURNAL_URL``: the team's, which ``kie batch
--celery`` uses too). A process forked from another (Celery's prefork pool) starts its own
loop: a loop or a socket is never shared across a fork.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import Future
from pathlib import Path

import kiekit  # kiekit.AsyncClient in annotations: imported when read (typing.get_type_hints)
from kiekit._engine import request_log
from kiekit.batch import Job, JobResult, run_job
from kiekit.errors import KieError, ValidationError
from kiekit.journal import Journal, error_record


class WorkerRuntime:
    """The loop, journal and clients of one worker process; :meth:`run` is thread-safe."""

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kiekit-worker-loop", daemon=True
        )
        self._thread.start()
        self._journal: Journal | None = None
        self._clients: dict[float | None, kiekit.AsyncClient] = {}

    def run(
        self,
        job: Job,
        out_dir: Path,
        timeout: float | None,
        poll_interval: float | None,
        refused_since: float | None = None,
        *,
        run: str | None = None,
    ) -> JobResult:
        """Run one job to its end, as :func:`kiekit.batch.run_batch` would (``refused_since``:
        when its batch began, on the journal's clock; ``run``: its run's id, as run_job
        takes it)."""
        future: Future[JobResult] = asyncio.run_coroutine_threadsafe(
            self._run(job, out_dir, timeout, poll_interval, refused_since, run), self._loop
        )
        return future.result()

    async def _run(
        self,
        job: Job,
        out_dir: Path,
        timeout: float | None,
        poll_interval: float | None,
        refused_since: float | None,
        run: str | None,
    ) -> JobResult:
        request_log.tag_task("job", job.id)  # a task of its own: its log lines name the job
        try:
            client, journal = self._client(poll_interval)
        except KieError as exc:  # no key, a bad URL: nothing was sent
            return JobResult(job.line, job.id, "error", model=job.model, error=error_record(exc))
        return await run_job(
            client, journal, job, out_dir, timeout=timeout, refused_since=refused_since, run=run
        )

    def _client(self, poll_interval: float | None) -> tuple[kiekit.AsyncClient, Journal]:
        from kiekit.client import AsyncClient
        from kiekit.journal import default_journal
        from kiekit.polling import PollPolicy
        from kiekit.settings import endpoints

        with self._lock:
            if self._journal is None:
                self._journal = default_journal()
            client = self._clients.get(poll_interval)
            if client is None:
                poll = None
                if poll_interval is not None:
                    if not poll_interval > 0:
                        raise ValidationError("poll_interval", "must be a positive number")
                    poll = PollPolicy(
                        initial=poll_interval, maximum=max(poll_interval, PollPolicy().maximum)
                    )
                hosts = endpoints()
                client = AsyncClient(  # the key: KIE_API_KEY of this worker's environment
                    journal=self._journal,
                    poll=poll,
                    base_url=hosts.base_url,
                    upload_base_url=hosts.upload_base_url,
                )
                self._clients[poll_interval] = client
            return client, self._journal

    def close(self) -> None:
        """Close the clients and stop the loop (at the worker process's shutdown)."""
        if os.getpid() != self._pid or not self._thread.is_alive():
            return

        async def close_all() -> None:
            for client in self._clients.values():
                await client.close()

        asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():
            self._loop.close()  # its selector's sockets too, not left to the garbage collector


_runtime: WorkerRuntime | None = None
_runtime_lock = threading.Lock()


def runtime() -> WorkerRuntime:
    """This process's runtime, made on first use (after any fork, so never a parent's)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None or _runtime._pid != os.getpid():
            _runtime = WorkerRuntime()
        return _runtime


def shutdown() -> None:
    global _runtime
    with _runtime_lock:
        if _runtime is not None:
            _runtime.close()
            _runtime = None
