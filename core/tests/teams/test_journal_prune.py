"""Keeping a long-lived service's journal bounded: ``Journal.prune`` deletes old rows nothing is
owed for, and never a row still owed, the same on every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import time

import pytest
from kiekit.errors import ValidationError
from kiekit.journal import Entry, EntryState, Journal, MemoryStore, SqliteStore
from kiekit.journal._entry import HANDED_OFF
from kiekit.journal._postgres import PostgresStore
from kiekit.models import Asset, MediaKind

Store = MemoryStore | SqliteStore | PostgresStore
ASSET = Asset("https://cdn.example/a.png", MediaKind.IMAGE)
NOW = 100_000.0  # the journal's clock: rows changed before NOW - 1000 are old
OLD, NEW = NOW - 5_000.0, NOW - 10.0

# name -> (state, files, error, whether it is done with)
KINDS = {
    "claimed": (EntryState.CLAIMED, (), None, False),
    "sending": (EntryState.SENDING, (), None, False),
    "unknown": (EntryState.UNKNOWN, (), {"type": "TransportError"}, False),
    "created": (EntryState.CREATED, (), None, False),
    "downloading": (EntryState.SUCCEEDED, (), None, False),  # 0/1 files: still owed
    "downloaded": (EntryState.SUCCEEDED, ("/out/a.png",), None, True),
    "handed-off": (EntryState.SUCCEEDED, (), {"type": HANDED_OFF}, True),
    "failed": (EntryState.FAILED, (), {"type": "TaskFailedError"}, True),
    "abandoned": (EntryState.FAILED, (), {"type": "Abandoned"}, True),
    "rejected": (EntryState.REJECTED, (), {"type": "ApiError", "code": 422}, True),
}


@pytest.fixture
def store(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """conftest's store of each kind, pruned in pages of 4 rows: many page boundaries."""
    monkeypatch.setattr("kiekit.journal._stores.PAGE_ROWS", 4)
    monkeypatch.setattr("kiekit.journal._postgres.PAGE_ROWS", 4)
    return store


def _fill(store: Store, copies: int = 3) -> None:
    for n in range(copies):
        for name, (state, files, error, _) in KINDS.items():
            for age, changed in (("old", OLD), ("new", NEW)):
                store.insert(
                    Entry(
                        key=f"{name}-{age}-{n}",
                        model="grok-imagine/text-to-image",
                        request={"input": {"prompt": name}},
                        state=state,
                        created_at=changed - 100.0 + n,  # ties across kinds: keyset pages
                        updated_at=changed,
                        task_id=f"t-{name}-{age}-{n}",
                        assets=(ASSET,) if state is EntryState.SUCCEEDED else (),
                        files=files,
                        error=error,
                    )
                )


def _kept(store: Store) -> set[str]:
    return {row.key for row in store.entries()}


def test_old_rows_done_with_are_deleted_and_rows_still_owed_are_kept(store: Store) -> None:
    _fill(store)
    journal = Journal(store, clock=lambda: NOW)
    everything = _kept(store)
    done_old = {key for key in everything if KINDS[key.rsplit("-", 2)[0]][3] and "-old-" in key}

    assert journal.prune(1_000.0, dry_run=True) == len(done_old) == 15
    assert _kept(store) == everything  # a dry run deletes nothing
    assert journal.prune(1_000.0) == 15
    assert _kept(store) == everything - done_old
    assert journal.prune(1_000.0) == 0  # nothing left to prune
    # owed rows stay however old: the unknown create, the task never seen finished, the
    # download short of its file; kie resume and kie settle still find them
    assert {"unknown-old-0", "created-old-0", "downloading-old-0", "sending-old-0"} <= _kept(store)


def test_a_row_held_by_a_live_worker_is_kept(store: Store) -> None:
    _fill(store, copies=1)
    store.update("failed-old-0", {"owner": "w", "lease_until": time.time() + 3_600})
    journal = Journal(store, clock=lambda: NOW)
    journal.prune(1_000.0)
    assert "failed-old-0" in _kept(store)
    assert "rejected-old-0" not in _kept(store)


@pytest.mark.parametrize("age", [-1, float("nan"), float("inf"), "30d", True])
def test_an_age_that_is_not_seconds_is_refused_by_name(age: object) -> None:
    journal = Journal(MemoryStore())
    with pytest.raises(ValidationError, match="older_than"):
        journal.prune(age)  # type: ignore[arg-type]
