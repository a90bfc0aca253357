"""Workers of one ``kie batch`` run and a job KIE refused (402, 422: nothing made).

docs/teams.md promises that the other workers of the run report such a job from its row instead
of sending it again. Whether they do must not depend on timing: the test that a row was refused
in this run and the claim that reopens a refused row are one compare-and-set in the store, on
SQLite and PostgreSQL alike. The two workers here are interleaved by hand at the exact point an
outside tester's 4-worker run hit (two jobs sent twice, 10 s apart).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiekit import AsyncClient, PollPolicy
from kiekit.batch import Job, JobResult, job_key, run_job
from kiekit.errors import InsufficientCreditsError
from kiekit.journal import EntryState, Journal
from kiekit.journal._stores import JournalStore

GROK = "grok-imagine/text-to-image"
FAST = PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=20.0)
JOB = Job(1, "fox", GROK, {"prompt": "a fox"})
NO_CREDITS = InsufficientCreditsError(402, "The current credits are insufficient")


class RefusedBetweenLookAndClaim(Journal):
    """This worker's journal; ``meanwhile`` runs once, after its look at the job's row and
    just before its claim (the other worker's refusal lands there)."""

    def __init__(self, store: JournalStore, meanwhile: Callable[[], None]) -> None:
        super().__init__(store)
        self._meanwhile: Callable[[], None] | None = meanwhile

    def claim(self, *args: Any, **kwargs: Any) -> Any:
        meanwhile, self._meanwhile = self._meanwhile, None
        if meanwhile is not None:
            meanwhile()
        return super().claim(*args, **kwargs)


def _creates(mock: Any) -> int:
    return sum(1 for record in mock.requests() if record.path == "/api/v1/jobs/createTask")


def test_a_job_refused_between_another_workers_look_and_claim_is_not_sent_again(
    store: JournalStore, mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    mock = mock_server_factory(polls_to_complete=1, starting_credits=0)
    other = Journal(store)  # the other worker: it is sending the job's create
    intent = other.intend(GROK, {"prompt": "a fox"}, key=job_key(JOB), base_url=mock.base_url)
    assert intent is not None

    def answered_402() -> None:  # its create comes back 402: nothing made, the row let go
        other.create_failed(intent, NO_CREDITS)

    this = RefusedBetweenLookAndClaim(store, answered_402)
    began = this.now()  # both workers' run began before the refusal

    async def worker() -> JobResult:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None, journal=this
        ) as client:
            return await run_job(client, this, JOB, tmp_path / "out", refused_since=began)

    result = asyncio.run(worker())

    assert _creates(mock) == 0  # the refused job was not sent again by this worker
    assert (result.state, (result.error or {}).get("code")) == ("refused", 402)
    row = store.get(job_key(JOB))
    assert row is not None
    assert (row.state, row.owner) == (EntryState.REJECTED, other.owner)  # as the refusal left it


def test_a_claim_reopens_a_job_refused_before_this_run_or_by_this_worker(
    store: JournalStore,
) -> None:
    """The spared refusals are only another worker's of this run: a later run (or the same
    worker) tries the job again, as docs/teams.md says."""
    other, this = Journal(store), Journal(store)
    intent = other.intend(GROK, {"prompt": "a fox"}, key="job")
    assert intent is not None
    other.create_failed(intent, NO_CREDITS)
    refused_at = store.get("job")
    assert refused_at is not None
    assert this.claim(GROK, "job", refused_since=refused_at.updated_at) is None  # this run's
    assert other.claim(GROK, "job", refused_since=refused_at.updated_at) is not None  # its own
    other.create_failed(intent, NO_CREDITS)
    later = store.get("job")
    assert later is not None
    reopened = this.claim(GROK, "job", refused_since=later.updated_at + 1)  # a later run
    assert reopened is not None
    assert (reopened.state, reopened.owner) == (EntryState.CLAIMED, this.owner)


def test_a_job_held_back_after_a_402_is_answered_not_sent_by_the_worker_that_gets_it(
    store: JournalStore, mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """``kie batch --celery``: once a worker answers a 402, the collector holds back the jobs
    no worker took yet; the worker that gets one later answers ``not_sent`` from its row and
    sends nothing, as a local batch sends nothing more after a 402."""
    from kiekit.batch import NotSent
    from kiekit.distributed.collect import _out_of_credits, hold_back

    mock = mock_server_factory(polls_to_complete=1)
    refused = JobResult(2, "other", "refused", None, GROK, error={"type": "X", "code": 402})
    assert _out_of_credits(refused)
    assert not _out_of_credits(JobResult(2, "other", "error", "t", GROK, error={"code": 402}))
    collector, worker_journal = Journal(store), Journal(store)
    since = collector.now()
    hold_back(collector, [JOB], str((tmp_path / "out").resolve()), since, NotSent())

    async def worker() -> JobResult:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None, journal=worker_journal
        ) as client:
            return await run_job(client, worker_journal, JOB, tmp_path / "out", refused_since=since)

    result = asyncio.run(worker())
    assert _creates(mock) == 0
    assert (result.state, (result.error or {}).get("type")) == ("not_sent", "NotSent")
