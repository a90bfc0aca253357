"""Several ``kie batch`` workers on one KIE account and one PostgreSQL journal (docs/teams.md).

Real parts: the workers are real processes, the journal a real PostgreSQL on loopback, and
KIE the mock in this process on a real socket, whose own request log says what was created.
What must hold: the same jobs given to every worker are each created once, whatever each
worker's ``--out``; every result file is on disk once; a worker killed with SIGKILL loses
nothing (another finishes its jobs); a job held by a worker elsewhere is left to it until its
lease runs out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kiekit import AsyncClient, Client
from kiekit.journal import Entry, EntryState, Journal, MemoryStore, _leases, open_journal
from kiekit.polling import PollPolicy

GROK = "grok-imagine/text-to-image"
KEY = "fake-key-for-the-mock"

# two jobs at a time; one poll, then none for a minute: a worker caught holding created tasks
SLOW_AFTER_ONE_POLL = ("--concurrency", "2", "--poll-interval", "60")

pytestmark = pytest.mark.xdist_group("teams")  # real worker processes: one such test at a time


@pytest.fixture
def journal_url(postgres_url: str) -> str:
    """A database of its own for the test: a fresh, empty shared journal."""
    name = "t" + os.urandom(6).hex()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + "/" + name


def _jobs(folder: Path, count: int, tag: str) -> Path:
    path = folder / "jobs.jsonl"
    lines = [
        {"id": f"{tag}{i}", "model": GROK, "input": {"prompt": f"{tag} {i}"}} for i in range(count)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def _batch(jobs: Path, out: Path, url: str, journal: str, *options: str) -> list[str]:
    kie = str(Path(sys.executable).with_name("kie"))
    return [kie, "batch", str(jobs), "--out", str(out), "--base-url", url, "--journal", journal,
            *options]  # fmt: skip


def _env(**more: str) -> dict[str, str]:
    return {**os.environ, "KIE_API_KEY": KEY, **more}


def _creates(mock: Any) -> Counter[str]:
    return Counter(
        record.body["input"]["prompt"]
        for record in mock.requests()
        if record.path == "/api/v1/jobs/createTask" and record.body
    )


def _report(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def _files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and path.name != "results.jsonl"]


def test_four_workers_given_the_same_jobs_create_each_once_and_download_it_once(
    mock_server_factory: Callable[..., Any], journal_url: str, tmp_path: Path
) -> None:
    mock = mock_server_factory(polls_to_complete=1)
    jobs = _jobs(tmp_path, 12, "same")
    outs = [tmp_path / f"worker{n}" for n in range(4)]
    workers = [
        subprocess.Popen(  # noqa: S603 - our interpreter, our CLI
            _batch(jobs, out, mock.base_url, journal_url, "--poll-interval", "0.1"),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out in outs
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=300)
        assert worker.returncode == 0, errors

    creates = _creates(mock)
    assert sorted(creates) == sorted(f"same {i}" for i in range(12))
    assert set(creates.values()) == {1}, "a job was created twice"
    on_disk = Counter(path.name for out in outs for path in _files_under(out))
    twice = [name for name, count in on_disk.items() if count > 1]
    assert twice == []  # each result file once, in the folder of the worker that fetched it
    rows = open_journal(journal_url).entries()
    assert sorted(on_disk) == sorted(Path(f).name for row in rows for f in row.files)
    assert {name.split("-")[0] for name in on_disk} == {row.task_id for row in rows}
    for out in outs:  # every worker reports every job done, wherever its files are
        report = _report(out)
        assert [r["state"] for r in report] == ["succeeded"] * 12
        for r in report:
            assert r["files"]
            assert all(Path(f).is_file() for f in r["files"])
    assert len(rows) == 12
    assert {row.state for row in rows} == {EntryState.SUCCEEDED}
    assert all(row.lease_until is None for row in rows)  # every job let go when done


def test_a_worker_killed_mid_run_loses_nothing_and_another_finishes_its_jobs(
    mock_server_factory: Callable[..., Any], journal_url: str, tmp_path: Path
) -> None:
    mock = mock_server_factory(polls_to_complete=1)
    jobs = _jobs(tmp_path, 6, "kill")
    journal = open_journal(journal_url)
    # The first worker polls once, then not for a minute: it is caught holding created tasks.
    first = subprocess.Popen(  # noqa: S603 - our interpreter, our CLI
        _batch(jobs, tmp_path / "first", mock.base_url, journal_url, *SLOW_AFTER_ONE_POLL),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while Counter(row.state for row in journal.entries())[EntryState.CREATED] < 2:
        assert first.poll() is None, "the first worker ended before it could be killed"
        assert time.monotonic() < deadline, journal.entries()
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    held = [row for row in journal.entries() if row.lease_until is not None]
    assert len(held) == 2  # the killed worker still holds its jobs in the journal
    assert all(row.state is EntryState.CREATED for row in held)

    second = subprocess.run(  # noqa: S603 - our interpreter, our CLI
        _batch(jobs, tmp_path / "second", mock.base_url, journal_url, "--poll-interval", "0.1"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr
    assert [r["state"] for r in _report(tmp_path / "second")] == ["succeeded"] * 6
    creates = _creates(mock)
    assert sorted(creates) == sorted(f"kill {i}" for i in range(6))
    assert set(creates.values()) == {1}  # the killed worker's tasks were waited on, not remade
    assert len(_files_under(tmp_path / "second")) == 6 * 6  # grok makes six images a task
    assert _files_under(tmp_path / "first") == []


def test_a_job_held_by_a_worker_elsewhere_waits_for_its_lease_then_is_taken_over(
    mock_server_factory: Callable[..., Any], journal_url: str, tmp_path: Path
) -> None:
    """A worker on another machine (its pid means nothing here) claimed a job and went silent:
    the job is left alone while the lease runs, then created here, once."""
    mock = mock_server_factory(polls_to_complete=1)
    jobs = _jobs(tmp_path, 2, "far")
    journal = open_journal(journal_url)
    from kiekit.batch import job_key, read_jobs

    parsed, _ = read_jobs(jobs.read_text().splitlines())
    silent = Entry(job_key(parsed[0]), GROK, None, EntryState.CLAIMED, 1.0, 1.0,
                   owner="far-away-host:4242:-:0000")  # fmt: skip
    assert journal.store.insert(silent, lease=2.0)

    worker = subprocess.run(  # noqa: S603 - our interpreter, our CLI
        _batch(jobs, tmp_path / "out", mock.base_url, journal_url, "--poll-interval", "0.1"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    assert [r["state"] for r in _report(tmp_path / "out")] == ["succeeded"] * 2
    assert set(_creates(mock).values()) == {1}
    row = journal.get(job_key(parsed[0]))
    assert row is not None
    assert row.owner is not None
    assert row.owner.startswith("far-away-host") is False  # taken over


@pytest.mark.parametrize("client_class", [Client, AsyncClient])
def test_a_create_another_worker_is_sending_is_waited_for_not_reported_unknown(
    client_class: type[Client] | type[AsyncClient],
    mock_server_factory: Callable[..., Any],
) -> None:
    """``submit(idempotency_key=…)`` while a live worker elsewhere sends that key's create:
    the caller gets that worker's task when its answer lands in the journal, and nothing is
    created twice (and it is not "outcome unknown": the other worker knows)."""
    import asyncio
    import threading

    mock = mock_server_factory(polls_to_complete=1)
    store = MemoryStore()
    sending = Entry("shared-key", GROK, {"model": GROK, "input": {"prompt": "p"}},
                    EntryState.SENDING, 1.0, 1.0, base_url=mock.base_url,
                    owner="far-away-host:4242:-:0000")  # fmt: skip
    store.insert(sending, lease=60.0)
    poll = PollPolicy(initial=0.05, growth=1.0, maximum=0.05, timeout=30)
    got: list[Any] = []

    def waiter() -> None:
        if client_class is Client:
            with Client(KEY, base_url=mock.base_url, journal=Journal(store), poll=poll) as kie:
                got.append(kie.submit(GROK, {"prompt": "p"}, idempotency_key="shared-key"))
        else:

            async def submit() -> Any:
                async with AsyncClient(
                    KEY, base_url=mock.base_url, journal=Journal(store), poll=poll
                ) as kie:
                    return await kie.submit(GROK, {"prompt": "p"}, idempotency_key="shared-key")

            got.append(asyncio.run(submit()))

    thread = threading.Thread(target=waiter)
    thread.start()
    with Client(KEY, base_url=mock.base_url, journal=None) as other:  # the other worker
        task = other.submit(GROK, {"prompt": "p"})
    store.update("shared-key", {"state": EntryState.CREATED, "task_id": task.id})
    thread.join(60)
    assert not thread.is_alive()
    assert [t.id for t in got] == [task.id]
    assert sum(_creates(mock).values()) == 1


def test_a_running_batch_keeps_its_claims_held_past_one_lease(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """A job that outlasts the lease is still this worker's at its end: the batch renews its
    leases (one renewal for all its jobs), so nobody else took it over meanwhile."""
    import asyncio

    from kiekit import batch

    mock = mock_server_factory(polls_to_complete=8)
    renewals: list[str] = []

    class Watched(MemoryStore):
        def renew(self, owner: str, lease: float) -> int:
            renewals.append(owner)
            return super().renew(owner, lease)

    journal = Journal(Watched(), lease=0.3)
    jobs, _ = batch.read_jobs(_jobs(tmp_path, 2, "long").read_text().splitlines())
    poll = PollPolicy(initial=0.1, growth=1.0, maximum=0.1, timeout=60)

    async def run() -> list[batch.JobResult]:
        async with AsyncClient(
            KEY, base_url=mock.base_url, journal=journal, poll=poll, rate_limits=None
        ) as client:
            return await batch.run_batch(client, journal, jobs, tmp_path / "out")

    results = asyncio.run(run())
    assert [r.state for r in results] == ["succeeded", "succeeded"]
    assert len(renewals) >= 2  # 8 polls 0.1 s apart outlast a 0.3 s lease more than twice
    assert set(renewals) == {journal.owner}
    assert _leases._renewers == {}  # the renewer ended with the batch
    assert set(_creates(mock).values()) == {1}
