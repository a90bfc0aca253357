"""The ``kiekit`` logger's lines about a create, a wait and a download name the work they belong
to (README, "Logging"): the idempotency key and, in a batch, the job id, so that lines of tasks
in flight at once can be matched; a create an idempotency key answers from the journal is
logged at INFO as made before, not created again. The API key is never in them."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from kiekit import AsyncClient, PollPolicy
from kiekit.batch import Job, run_batch
from kiekit.journal import Journal, MemoryStore

GROK = "grok-imagine/text-to-image"
FAST = PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=20.0)
KEY = "sk-canary-log-tags-0123456789"


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("kiekit")]


def test_a_reused_idempotency_key_is_logged_and_every_line_of_the_task_names_it(
    api: Any, mock_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> tuple[str, str]:
        async with api.client(
            api_key=KEY, base_url=mock_server.base_url, journal=Journal(MemoryStore()), poll=FAST
        ) as kie:
            task = await kie.submit(GROK, prompt="a fox", idempotency_key="idem-log-1")
            again = await kie.submit(GROK, prompt="a fox", idempotency_key="idem-log-1")
            await kie.download(await kie.wait(task), tmp_path)
            return task.id, again.id

    with caplog.at_level(logging.DEBUG, logger="kiekit"):
        made, again = api.run(scenario)
    assert made == again
    said = lines(caplog)
    reused = [line for line in said if "made before" in line]
    assert reused == [
        f"task {made} ({GROK}) was made before with idempotency key idem-log-1: not created again"
    ]
    assert [r.levelno for r in caplog.records if "made before" in r.getMessage()] == [logging.INFO]
    tagged = {line for line in said if line.endswith("[key idem-log-1]")}
    assert f"created task {made} ({GROK}) [key idem-log-1]" in tagged
    assert f"task {made} succeeded [key idem-log-1]" in tagged
    assert any(line.startswith(f"task {made}: downloaded ") for line in tagged)
    assert any(line.startswith("POST /api/v1/jobs/createTask") for line in tagged)
    assert any(line.startswith("GET /api/v1/jobs/recordInfo") for line in tagged)
    assert not any(KEY in line for line in said)


def test_a_batchs_interleaved_lines_name_their_job(
    mock_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = [Job(i + 1, f"job-{i}", GROK, {"prompt": f"prompt {i}"}) for i in range(3)]
    journal = Journal(MemoryStore())

    async def scenario() -> None:
        async with AsyncClient(
            KEY, base_url=mock_server.base_url, poll=FAST, rate_limits=None, journal=journal
        ) as client:
            await run_batch(client, journal, jobs, tmp_path / "out", concurrency=3)

    with caplog.at_level(logging.DEBUG, logger="kiekit"):
        asyncio.run(scenario())
    said = lines(caplog)
    for job in jobs:
        tag = re.compile(rf" \[job {job.id}, key batch:{job.id}(@sha256:\w+)?\]$")
        mine = [line for line in said if tag.search(line)]
        assert any(line.startswith("POST /api/v1/jobs/createTask") for line in mine), said
        created = [line for line in mine if line.startswith("created task ")]
        assert len(created) == 1
        task_id = re.match(r"created task (\S+)", created[0]).group(1)  # type: ignore[union-attr]
        assert any(line.startswith(f"task {task_id}: downloaded ") for line in mine)
        # no line of this job names another's task
        others = {line for line in said if f"task {task_id}" in line}
        assert all(tag.search(line) for line in others), others
    assert not any(KEY in line for line in said)
