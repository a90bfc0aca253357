"""Soak: 1,000 tasks through a mock KIE that misbehaves in every documented way at once.

Connection resets (before a create ran, and after it — the answer lost), proxy 5xx pages, 429s,
maintenance codes, slow and malformed answers, cut-short downloads, and tasks that fail. The
proof, from the mock's own request journal and the disk: every job ends as a success with its
file on disk or as a typed kiekit error; no task was created twice; and every task the mock made
(and charged) is known to the client — by its id, or reported as "outcome unknown".
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kiekit.errors
import pytest
from kiekit import AsyncClient, PollPolicy
from kiekit.batch import Job, JobResult, run_batch
from kiekit.journal import EntryState, Journal, SqliteStore
from kiekit.retry import RetryPolicy

kiekit_mock = pytest.importorskip("kiekit_mock")

JOBS = 1000
MODEL = "flux-kontext-pro"  # small files: the result image and its origin
CREATE = "/api/v1/flux/kontext/generate"
STATUS = "/api/v1/flux/kontext/record-info"
TYPED = set(kiekit.errors.__all__)


def _faults() -> list[Any]:
    rule = kiekit_mock.FaultRule
    return [
        rule("reset", method="POST", path=CREATE, when="before", probability=0.03, seed=1),
        rule("reset", method="POST", path=CREATE, when="after", probability=0.01, seed=2),
        rule("kie", method="POST", path=CREATE, code=429, probability=0.04, seed=3),
        rule("kie", method="POST", path=CREATE, code=455, probability=0.01, seed=4),
        rule("http", method="GET", path=STATUS, status=503, probability=0.04, seed=5),
        rule("reset", method="GET", path=STATUS, probability=0.02, seed=6),
        rule("slow", method="GET", path=STATUS, delay=0.05, probability=0.02, seed=7),
        rule("malformed", method="GET", path=STATUS, probability=0.02, seed=8),
        rule("truncated", method="GET", path="/files/*", probability=0.02, seed=9),
    ]


def test_a_thousand_tasks_under_mixed_faults_lose_nothing_and_pay_nothing_twice(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    mock = mock_server_factory(polls_to_complete=0, starting_credits=1e9)
    for fault in _faults():
        mock.faults.add(fault)
    mock.add_rule(
        kiekit_mock.Rule(outcome=kiekit_mock.Outcome(kind="fail"), probability=0.05, seed=10)
    )
    journal = Journal(SqliteStore(tmp_path / "journal.sqlite3"))
    jobs = [Job(i + 1, f"j{i}", MODEL, {"prompt": f"soak {i}"}) for i in range(JOBS)]
    out = tmp_path / "out"

    async def soak() -> list[JobResult]:
        async with AsyncClient(
            "soak-key",
            base_url=mock.base_url,
            poll=PollPolicy(initial=0.01, growth=0.01, maximum=0.05, timeout=60.0),
            retry=RetryPolicy(attempts=5, base=0.001, cap=0.01, deadline=30.0, seed=0),
            rate_limits=None,  # the mock does not enforce them here; the faults are the point
            journal=journal,
            timeout=10.0,
        ) as client:
            return await run_batch(client, journal, jobs, out, concurrency=50)

    results = asyncio.run(soak())

    # Every job ended, as a success with its file on disk or as a typed error.
    states = Counter(result.state for result in results)
    assert len(results) == JOBS
    assert set(states) <= {"succeeded", "failed", "unknown", "error", "refused"}, states
    assert states["succeeded"] > JOBS * 0.8, states
    assert states["failed"] > 0, states  # the failing tasks were met, and typed
    for result in results:
        if result.state == "succeeded":
            assert result.files
            assert all(Path(file).stat().st_size > 0 for file in result.files)
        else:
            assert result.error is not None
            assert result.error["type"] in TYPED, result

    # The faults really fired, each kind of them.
    fired = Counter(record.fault for record in mock.requests() if record.fault)
    assert len(fired) == len(_faults()), fired

    # No task was created twice, and every task KIE made is known to the client.
    mock.journal.assert_no_duplicate_creates()
    made = Counter(record.body["prompt"] for record in mock.journal.creates())
    assert set(made.values()) == {1}
    by_prompt = {f"soak {job.id[1:]}": result for job, result in zip(jobs, results, strict=True)}
    for task in mock.tasks():
        result = by_prompt[task.prompt]
        assert result.task_id == task.task_id or result.state == "unknown", (task, result)
    unknown = [entry for entry in journal.entries() if entry.state is EntryState.UNKNOWN]
    assert len(unknown) == states["unknown"]
