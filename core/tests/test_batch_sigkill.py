"""Proof: a ``kie batch`` killed with SIGKILL mid-way and run again creates nothing twice and
ends with every job's files on disk — checked through the mock's own request journal
(``GET /_mock/journal``), with the batch and the mock in their own processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kiekit.journal import EntryState, SqliteStore

GROK = "grok-imagine/text-to-image"
JOBS = 16
CONCURRENCY = 4


@pytest.fixture
def mock_process() -> Iterator[str]:
    """``python -m kiekit_mock`` on a free port; tasks take 0.3 s. Yields its URL."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kiekit_mock",
            "--port",
            "0",
            "--upload-port",
            "0",
            "--seconds",
            "0.3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = ""
        while "KIE API mock listening" not in line:  # the upload host prints its line too
            line = server.stdout.readline()
            assert line, "the mock exited before it listened"
        yield next(word for word in line.split() if word.startswith("http://127.0.0.1:"))
    finally:
        if server.stdout is not None:
            server.stdout.close()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def _batch(jobs: Path, out: Path, url: str) -> list[str]:
    return [
        str(Path(sys.executable).with_name("kie")),
        "batch",
        str(jobs),
        "--out",
        str(out),
        "--base-url",
        url,
        "--concurrency",
        str(CONCURRENCY),
        "--poll-interval",
        "0.1",
    ]


def _control(url: str) -> Any:
    """A GET of the mock's control API (its answer's ``data``)."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        found = json.loads(answer.read())
    return found.get("data", found)


def _creates(url: str) -> Counter[str]:
    """Creates the mock received, per prompt (each job has its own prompt)."""
    data = _control(f"{url}/_mock/journal?path=/api/v1/jobs/createTask")
    return Counter(record["body"]["input"]["prompt"] for record in data["requests"])


def test_a_batch_killed_mid_way_and_run_again_creates_nothing_twice(
    mock_process: str, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    lines = [{"id": f"j{i}", "model": GROK, "input": {"prompt": f"job {i}"}} for i in range(JOBS)]
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "out"
    results = out / "results.jsonl"
    env = {**os.environ, "KIE_API_KEY": "fake-key-for-the-mock"}  # KIEKIT_DATA_DIR: tmp

    first = subprocess.Popen(  # noqa: S603 - our interpreter, our CLI
        _batch(jobs, out, mock_process),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (results.exists() and len(results.read_text().splitlines()) >= CONCURRENCY):
        assert first.poll() is None, "the batch ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait(10)

    journal = SqliteStore(Path(os.environ["KIEKIT_DATA_DIR"]) / "journal.sqlite3")
    at_kill = Counter(entry.state for entry in journal.entries())
    assert at_kill[EntryState.SUCCEEDED] >= CONCURRENCY
    assert at_kill[EntryState.SUCCEEDED] < JOBS  # really killed mid-way
    created_at_kill = _creates(mock_process)

    second = subprocess.run(  # noqa: S603 - our interpreter, our CLI
        _batch(jobs, out, mock_process), env=env, capture_output=True, text=True, timeout=120
    )
    report = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["id"] for r in report] == [f"j{i}" for i in range(JOBS)]
    unknown = [r for r in report if r["state"] == "unknown"]
    # SIGKILL between sending a create and writing its answer leaves "outcome unknown": those
    # are reported, never sent again. At most one per job in flight can be caught that way.
    assert len(unknown) <= CONCURRENCY
    assert second.returncode == (1 if unknown else 0), second.stderr
    creates = _creates(mock_process)
    assert set(creates.values()) == {1}, "a job was created twice"
    check = _control(f"{mock_process}/_mock/journal/check?check=no_duplicate_creates")
    assert check["passed"], check
    assert set(created_at_kill) <= set(creates)
    for r in report:
        if r["state"] == "succeeded":
            assert creates[f"job {r['id'][1:]}"] == 1
            assert r["files"]
            assert all(Path(f).is_file() and Path(f).stat().st_size > 0 for f in r["files"])
        else:
            assert r["state"] == "unknown", r
    assert len(report) - len(unknown) >= JOBS - CONCURRENCY
