"""The journal where files and processes misbehave: many processes opening a new journal at
once, a 0-byte journal file, a journal on a read-only mount."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kiekit.journal import EntryState, Journal, JournalError, SqliteStore

WORKERS = 8


def _write_one(path: str, barrier: Any, outcomes: Any) -> None:
    barrier.wait()  # every process opens the new journal at the same moment
    try:
        Journal(SqliteStore(path)).intend("grok-imagine/text-to-image", {"n": os.getpid()})
    except JournalError as exc:
        outcomes.put(str(exc))
    else:
        outcomes.put("ok")


@pytest.mark.parametrize("start", ["no file", "0-byte file"])
def test_many_processes_opening_a_new_journal_at_once_all_succeed(
    tmp_path: Path, start: str
) -> None:
    """Each process races to switch the new file to WAL mode; before the fix 1 to 19 in 20
    such starts failed with "database is locked"."""
    context = multiprocessing.get_context("spawn")
    for trial in range(2):
        path = tmp_path / f"journal-{trial}.sqlite3"
        if start == "0-byte file":
            path.touch()
        # One process per writer (a pool could hand two writers to one process, which would
        # then wait at the barrier for itself forever)
        barrier = context.Barrier(WORKERS, timeout=60)
        outcomes = context.Queue()
        writers = [
            context.Process(target=_write_one, args=(str(path), barrier, outcomes))
            for _ in range(WORKERS)
        ]
        for writer in writers:
            writer.start()
        found = sorted(outcomes.get(timeout=120) for _ in writers)
        for writer in writers:
            writer.join(30)
        assert found == ["ok"] * WORKERS
        assert len(SqliteStore(path).entries()) == WORKERS


def test_a_0_byte_journal_is_an_empty_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.touch()
    journal = Journal(SqliteStore(path))
    assert journal.entries() == []
    entry = journal.intend("grok-imagine/text-to-image", {"prompt": "x"})
    assert entry is not None
    assert [row.state for row in journal.entries()] == [EntryState.SENDING]


UNSHARE = shutil.which("unshare") or "unshare"


def _read_only_mount_works() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(  # noqa: S603 - fixed arguments
        [UNSHARE, "-m", "sh", "-c", "mount --bind /tmp /tmp && mount -o remount,bind,ro /tmp"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _read_only_mount_works(), reason="needs unshare -m and mount (Linux, root)")
def test_kie_tasks_reads_a_journal_on_a_read_only_mount(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    journal = Journal(SqliteStore(data / "journal.sqlite3"))
    entry = journal.intend("grok-imagine/text-to-image", {"prompt": "x"})
    assert entry is not None
    journal.store.close()  # type: ignore[attr-defined]
    script = (
        f"mount --bind {data} {data} && mount -o remount,bind,ro {data} && "
        f"{sys.executable} -m kiekit tasks --json && "
        f"{sys.executable} -c 'import sys; from kiekit.journal import *; "
        f'Journal(SqliteStore(sys.argv[1])).intend("m", None)\' {data}/journal.sqlite3'
    )
    env = {**os.environ, "KIEKIT_DATA_DIR": str(data)}
    done = subprocess.run(  # noqa: S603 - our own script, paths from tmp_path
        [UNSHARE, "-m", "sh", "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert entry.key in done.stdout or "grok-imagine/text-to-image" in done.stdout, done.stderr
    # the write is refused as a JournalError naming the file, not a raw sqlite3 error
    assert "JournalError" in done.stderr
    assert "readonly database" in done.stderr
    assert str(data / "journal.sqlite3") in done.stderr
