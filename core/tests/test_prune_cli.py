"""``kie prune``: a long-lived service's journal is kept bounded from the command line; rows
still owed are never deleted, and ``--dry-run`` deletes nothing."""

from __future__ import annotations

import time

import pytest
from kiekit.cli import main
from kiekit.journal import Entry, EntryState, default_journal

DAY = 86_400.0


def _row(key: str, state: EntryState, days_ago: float) -> Entry:
    changed = time.time() - days_ago * DAY
    return Entry(
        key=key,
        model="grok-imagine/text-to-image",
        request={"input": {"prompt": key}},
        state=state,
        created_at=changed,
        updated_at=changed,
        task_id=None if state is EntryState.UNKNOWN else f"t-{key}",
    )


def _keys() -> set[str]:
    return {row.key for row in default_journal().entries()}


def test_kie_prune_deletes_old_finished_rows_and_keeps_owed_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = default_journal().store
    for key, state, days in (
        ("old-failed", EntryState.FAILED, 40),
        ("old-rejected", EntryState.REJECTED, 31),
        ("new-failed", EntryState.FAILED, 2),
        ("old-unknown", EntryState.UNKNOWN, 90),  # a person must still settle it
        ("old-created", EntryState.CREATED, 90),  # kie resume still waits for it
    ):
        store.insert(_row(key, state, days))

    assert main(["prune", "--older-than", "30d", "--dry-run"]) == 0
    assert "2 row(s)" in capsys.readouterr().err
    assert len(_keys()) == 5

    assert main(["prune", "--older-than", "30d"]) == 0
    assert "2 row(s)" in capsys.readouterr().err
    assert _keys() == {"new-failed", "old-unknown", "old-created"}


def test_kie_prune_names_a_bad_age(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "--older-than", "a month"]) == 2
    assert "--older-than" in capsys.readouterr().err
