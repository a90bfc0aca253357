"""The journal where files and processes misbehave: many processes opening a new journal at
once, a 0-byte journal file, a journal on a read-only mount."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kiekit.journal import EntryState, Journal, SqliteStore

WORKERS = 8


# One writer process: says it is ready, waits for the "go" file, then opens the journal and
# writes one row. A script, not a multiprocessing target: a test module is not importable by
# name in a child process (pytest imports it by path).
WRITER = """
import sys, time
from pathlib import Path
from kiekit.journal import Journal, JournalError, SqliteStore
journal, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
ends = time.monotonic() + 120
while not go.exists() and time.monotonic() < ends:
    time.sleep(0.001)
try:
    Journal(SqliteStore(journal)).intend("grok-imagine/text-to-image", {"n": 1})
except JournalError as exc:
    print(exc)
else:
    print("ok")
"""


@pytest.mark.parametrize("start", ["no file", "0-byte file"])
def test_many_processes_opening_a_new_journal_at_once_all_succeed(
    tmp_path: Path, start: str
) -> None:
    """Each process races to switch the new file to WAL mode; before the fix 1 to 19 in 20
    such starts failed with "database is locked"."""
    for trial in range(2):
        path = tmp_path / f"journal-{trial}.sqlite3"
        if start == "0-byte file":
            path.touch()
        go = tmp_path / f"go-{trial}"
        ready = [tmp_path / f"ready-{trial}-{n}" for n in range(WORKERS)]
        writers = [
            subprocess.Popen(  # noqa: S603 - our interpreter, our script
                [sys.executable, "-c", WRITER, str(path), str(mark), str(go)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for mark in ready
        ]
        ends = time.monotonic() + 300  # a bound against a hang, not a timing the test needs
        while not all(mark.exists() for mark in ready):  # every writer waits at the line
            assert all(w.poll() is None for w in writers), "a writer died before the start"
            assert time.monotonic() < ends, "the writers never got ready"
            time.sleep(0.01)
        go.touch()  # and all open the new journal at once
        found = sorted(w.communicate(timeout=120)[0].strip() for w in writers)
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
