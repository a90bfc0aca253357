"""Task snapshots: built field by field at every poll (state.py), so one left out would show."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields

import pytest
from kiekit_mock import MockConfig
from kiekit_mock.state import Store, TaskSnapshot, TaskSpec

ACCOUNT = "acct_snapshots"


def _spec() -> TaskSpec:
    return TaskSpec(
        family="market",
        model="grok-imagine/text-to-image",
        request_body={"model": "grok-imagine/text-to-image", "input": {"prompt": "a cat"}},
        callback_url=None,
        param_json="{}",
        prompt="a cat",
        cost=4.0,
        result_ext="jpg",
        result_count=2,
        aspect_ratio="1:1",
        origin="http://127.0.0.1:1",
    )


def test_a_snapshot_has_every_field_and_is_frozen() -> None:
    task = Store(MockConfig()).create(ACCOUNT, _spec())
    names = {field.name for field in fields(TaskSnapshot)}
    assert set(vars(task)) == names
    assert task == TaskSnapshot(**{name: getattr(task, name) for name in names})
    with pytest.raises(FrozenInstanceError):
        task.state = "fail"  # type: ignore[misc]


def test_polls_of_a_finished_task_are_counted_and_its_snapshot_stays_as_it_was() -> None:
    store = Store(MockConfig(polls_to_complete=2, seconds_to_complete=0))
    task_id = store.create(ACCOUNT, _spec()).task_id
    polls = [store.poll(ACCOUNT, task_id, "market") for _ in range(4)]
    tasks = [poll.task for poll in polls if poll is not None]
    assert [task.state for task in tasks] == ["waiting", "generating", "success", "success"]
    assert [task.polls for task in tasks] == [1, 2, 3, 4]
    assert [poll.finished_now for poll in polls if poll is not None] == [False, False, True, False]
    assert tasks[2].polls == 3  # a later poll does not change an earlier snapshot
    assert tasks[3].completed_ms == tasks[2].completed_ms
