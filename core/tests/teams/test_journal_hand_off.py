"""A hand-off outlives a wait that was running when it was made, in every journal store.

``Journal.hand_off`` marks a success as its links handed on (its ``error``); a wait for the
same task that was already running (another process's, or this one's) ends later and writes
its end. That write used to put ``error`` back to None, clearing the mark: ``kie resume`` then
downloaded the files of links handed on. The mark is kept by the store, in the write itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from kiekit.errors import DownloadError, WaitTimeoutError
from kiekit.journal import Entry, EntryState, Journal, MemoryStore
from kiekit.journal._stores import JournalStore
from kiekit.models import Asset, MediaKind, Results, Task

GROK = "grok-imagine/text-to-image"
RESULTS = Results("t-1", (Asset("https://cdn.example/a.png", MediaKind.IMAGE),))


def _handed_off(journal: Journal) -> Task:
    """Task t-1, created, seen succeeded, and its links handed off."""
    intent = journal.intend(GROK, {"prompt": "x"})
    assert intent is not None
    task = Task("t-1", GROK)
    journal.created(intent, task)
    journal.finished(task, RESULTS)
    journal.hand_off("t-1", reason="sent to the render queue")
    return task


def _row(journal: Journal) -> Entry:
    row = journal.by_task("t-1")
    assert row is not None
    return row


@pytest.mark.parametrize("read_back", [True, False], ids=["update", "change"])
def test_a_late_waits_end_does_not_clear_a_hand_off(store: JournalStore, read_back: bool) -> None:
    journal = Journal(store)
    task = _handed_off(journal)
    late = Journal(store)  # another process's wait, started before the hand-off

    late.finished(task, RESULTS, read_back=read_back)

    row = _row(journal)
    assert row.state is EntryState.SUCCEEDED
    assert row.handed_off
    assert not row.unfinished  # kie resume does not download it
    assert row.error is not None
    assert "sent to the render queue" in row.error["message"]


def test_a_late_waits_stop_or_failed_download_does_not_clear_a_hand_off(
    store: JournalStore,
) -> None:
    journal = Journal(store)
    task = _handed_off(journal)

    journal.wait_failed(task, WaitTimeoutError("t-1", 5.0, "generating"), read_back=False)
    assert _row(journal).handed_off
    journal.download_failed("t-1", DownloadError("link gone", url="https://cdn.example/a.png"))
    assert _row(journal).handed_off


def test_a_waits_end_still_clears_the_error_of_an_earlier_wait(store: JournalStore) -> None:
    journal = Journal(store)
    intent = journal.intend(GROK, {"prompt": "x"})
    assert intent is not None
    task = Task("t-1", GROK)
    journal.created(intent, task)
    journal.wait_failed(task, WaitTimeoutError("t-1", 5.0, "generating"))
    assert _row(journal).error is not None

    journal.finished(task, RESULTS, read_back=False)

    row = _row(journal)
    assert (row.state, row.error, row.unfinished) == (EntryState.SUCCEEDED, None, True)


class _OwnStore:
    """A store of one's own, written to the protocol before ``keeps_hand_offs``: it is given
    bare errors, as before (never a value it cannot store)."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.errors: list[Any] = []

    def update(self, key: str, changes: Mapping[str, Any], **conditions: Any) -> Entry | None:
        if "error" in changes:
            self.errors.append(changes["error"])
        return self.inner.update(key, changes, **conditions)

    def __getattr__(self, name: str) -> Any:
        if name in ("change", "keeps_hand_offs"):
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_a_store_of_ones_own_is_given_bare_errors() -> None:
    own = _OwnStore()
    journal = Journal(own)
    intent = journal.intend(GROK, {"prompt": "x"})
    assert intent is not None
    task = Task("t-1", GROK)
    journal.created(intent, task)
    journal.finished(task, RESULTS, read_back=False)
    assert own.errors == [None]
