"""A mock that serves a million requests keeps bounded memory: the request journal lets its oldest
records go past `journal_limit` (and says how many), the task store forgets its oldest finished
tasks past `task_limit` (a poll for one answers as KIE answers an unknown task id), and their
callback records with them; past `callback_limit` the oldest callback records go too."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig
from kiekit_mock.__main__ import _parser, main
from kiekit_mock.memory import OVERHEAD, Shares
from kiekit_mock.requestlog import TEXT_ANSWER_LIMIT

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

T2I = "grok-imagine/text-to-image"
# not loopback: recorded, never sent (callbacks.py), so no delivery races the counts below
CALLBACK = "https://example.com/cb"
NOT_FOUND = {"code": 404, "msg": "Task not found", "data": None}  # kie-api.md §2.2


def test_the_journal_lets_its_oldest_records_go_and_counts_them(make_mock: MakeMock) -> None:
    mock, kie = make_mock(journal_limit=10)
    for n in range(25):
        kie.get(f"/api/v1/jobs/recordInfo?taskId=t{n}")
    page: dict[str, Any] = kie.fetch(f"{kie.base_url}/_mock/journal").json()
    seqs = [record["seq"] for record in page["requests"]]
    assert 9 <= page["count"] <= 10  # a tenth goes at once when the limit is passed
    assert seqs == list(range(25 - page["count"], 25))  # the newest, in order
    assert page["dropped"] == 25 - page["count"] == page["first_seq"]
    assert page["last_seq"] == 24
    assert mock.journal.dropped == page["dropped"]
    # the indexes let go of them too: a dropped task's requests are gone, a kept one's found
    assert mock.journal.query(task_id="t0") == []
    assert [record.seq for record in mock.journal.query(task_id="t24")] == [24]
    assert [r.seq for r in mock.journal.query(path="/api/v1/jobs/recordInfo")] == seqs


def test_duplicate_creates_are_still_caught_among_the_records_kept(make_mock: MakeMock) -> None:
    mock, kie = make_mock(journal_limit=4)
    for n in range(6):
        kie.create(T2I, prompt=f"old {n}")  # pushed out by what follows
    kie.create(T2I, prompt="twice")
    kie.create(T2I, prompt="twice")
    check = mock.journal.check_no_duplicate_creates()
    assert not check.passed
    assert {(record.body or {})["input"]["prompt"] for record in check.offending} == {"twice"}


def test_the_oldest_finished_tasks_are_forgotten_and_answer_not_found(make_mock: MakeMock) -> None:
    mock, kie = make_mock(task_limit=10)
    ids = [kie.create(T2I, prompt=f"p{n}") for n in range(10)]
    for task_id in ids[1:]:
        assert kie.record(task_id)["state"] == "success"  # finished; ids[0] stays pending
    newest = kie.create(T2I, prompt="one more")  # 11 > 10: the oldest finished go
    kept = {task.task_id for task in mock.tasks()}
    assert ids[0] in kept  # pending: its client still polls it
    assert ids[1] not in kept
    assert ids[2] not in kept
    assert set(ids[3:]) | {newest} <= kept
    gone = kie.get(f"/api/v1/jobs/recordInfo?taskId={ids[1]}")
    assert gone.json() == NOT_FOUND
    assert kie.record(ids[0])["state"] == "success"  # the pending one finishes as planned
    assert kie.record(ids[9])["state"] == "success"  # recent ones still answer their polls


def test_pending_tasks_are_never_forgotten(make_mock: MakeMock) -> None:
    mock, kie = make_mock(task_limit=3)
    ids = [kie.create(T2I, prompt=f"p{n}") for n in range(8)]  # none polled: all pending
    assert [task.task_id for task in mock.tasks()] == ids
    assert all(kie.record(task_id)["state"] == "success" for task_id in ids)


def called_back(kie: Kie, prompt: str) -> str:
    """A finished task that owed its callback (the default mock ends it at its first poll)."""
    body = {"model": T2I, "callBackUrl": CALLBACK, "input": {"prompt": prompt}}
    task_id = str(kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"])
    assert kie.record(task_id)["state"] == "success"
    return task_id


def test_forgotten_tasks_take_their_callback_records_with_them(make_mock: MakeMock) -> None:
    mock, kie = make_mock(task_limit=10, callback_copies=2)
    ids = [called_back(kie, f"p{n}") for n in range(30)]
    kept = {task.task_id for task in mock.tasks()}
    records = mock.callbacks(wait=False)
    assert {record.task_id for record in records} == kept
    assert len(records) == 2 * len(kept) <= 20  # two copies of each kept task's callback
    assert mock.callbacks(task_id=ids[0], wait=False) == []
    assert [record.copy for record in mock.callbacks(task_id=ids[-1], wait=False)] == [1, 2]


def test_callback_records_past_the_limit_let_the_oldest_go(make_mock: MakeMock) -> None:
    mock, kie = make_mock(callback_limit=10)
    ids = [called_back(kie, f"p{n}") for n in range(25)]
    records = mock.callbacks(wait=False)
    assert 9 <= len(records) <= 10  # a tenth goes at once when the limit is passed
    assert [record.task_id for record in records] == ids[-len(records) :]  # the newest, in order
    assert mock._runtime.callbacks.dropped == 25 - len(records)
    assert len(mock.tasks()) == 25  # the tasks themselves are kept (task_limit)


def test_a_status_answer_reads_only_its_own_tasks_callbacks(
    make_mock: MakeMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Suno's and Luma's answers say how their callback went: reading every record kept made
    each poll slower the longer a mock ran (a soak went from 5 to 29 ms of CPU a request)."""
    mock, kie = make_mock()
    suno = {"prompt": "a tune", "customMode": False, "instrumental": True, "model": "V4"}
    suno_id = kie.ok(kie.post("/api/v1/generate", suno | {"callBackUrl": CALLBACK}))["taskId"]
    luma = {"prompt": "waves", "videoUrl": "https://example.com/in.mp4", "callBackUrl": CALLBACK}
    luma_id = kie.ok(kie.post("/api/v1/modify/generate", luma))["taskId"]

    def everyone(_: object) -> None:
        raise AssertionError("a status answer read every callback record")

    monkeypatch.setattr(type(mock._runtime.callbacks), "records", everyone)
    for _ in range(2):
        kie.ok(kie.get(f"/api/v1/generate/record-info?taskId={suno_id}"))
        kie.ok(kie.get(f"/api/v1/modify/record-info?taskId={luma_id}"))
    assert len(mock.callbacks(task_id=suno_id, wait=False)) == 3  # text, first, complete
    assert len(mock.callbacks(task_id=luma_id, wait=False)) == 1


@pytest.mark.parametrize("field", ["journal_limit", "task_limit", "callback_limit"])
def test_a_limit_must_be_a_positive_count_or_none(field: str) -> None:
    zero: dict[str, Any] = {field: 0}
    fraction: dict[str, Any] = {field: 2.5}
    unlimited: dict[str, Any] = {field: None}
    with pytest.raises(ValueError, match=field):
        MockConfig(**zero)
    with pytest.raises(TypeError, match=field):
        MockConfig(**fraction)
    assert getattr(MockConfig(**unlimited), field) is None
    assert getattr(MockConfig(), field) == 100_000


@pytest.mark.parametrize("flag", ["--journal-limit", "--task-limit", "--callback-limit"])
def test_the_command_line_names_a_bad_limit(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["serve", flag, "-1"])
    assert stopped.value.code == 2
    assert flag in capsys.readouterr().err


def test_finished_answers_rendered_once_are_kept_within_the_task_limit(
    make_mock: MakeMock,
) -> None:
    mock, kie = make_mock(task_limit=10)
    ids = [kie.create(T2I, prompt=f"p{n}") for n in range(30)]
    for task_id in ids:
        kie.record(task_id)  # finished: its answer is rendered once and kept
        kie.record(task_id)  # polled again: the same answer, sent as it is
    cached = len(mock._runtime.prerendered)
    assert 0 < cached <= 10
    assert kie.record(ids[-1])["state"] == "success"


# -- the byte limit (MockConfig.memory_limit, memory.py) -------------------------------------

BLOB = 50_000  # bytes of an input field each create below carries
BANANA = "acme/banana-v1"  # an unknown market id: taken with any input fields (strict_models off)
MEMORY = 1_600_000  # tasks 3/8 (600,000), answers 1/8 (200,000), journal 1/2 (800,000)


def _big_task(kie: Kie, n: int) -> str:
    body = {"model": BANANA, "input": {"prompt": f"p{n}", "blob": "x" * BLOB}}
    task_id: str = kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"]
    return task_id


def test_large_bodies_are_kept_within_the_byte_limit_the_oldest_first(
    make_mock: MakeMock,
) -> None:
    """Bytes, not counts, bound a soak of large bodies: every store stays within its share,
    the oldest finished tasks go first (answered as unknown ids), the newest are served."""
    mock, kie = make_mock(memory_limit=MEMORY)
    rt = mock._runtime
    shares = Shares.of(MEMORY)
    assert (shares.tasks, shares.answers, shares.journal) == (600_000, 200_000, 800_000)
    ids = []
    for n in range(40):  # 40 tasks of 50 KB each hold 2 MB twice over (body and param)
        ids.append(_big_task(kie, n))
        assert kie.record(ids[-1])["state"] == "success"  # finished: it may go
        assert kie.record(ids[-1])["state"] == "success"  # its answer, cached if small
        assert rt.store.held_bytes <= 600_000
        assert rt.prerendered.held_bytes <= 200_000
        assert rt.journal.held_bytes <= 800_000
    assert kie.get(f"/api/v1/jobs/recordInfo?taskId={ids[0]}").json() == NOT_FOUND
    for task_id in ids[-4:]:  # a task within the budget is still served, whole
        record = kie.record(task_id)
        assert record["state"] == "success"
        assert json.loads(json.loads(record["param"])["input"])["blob"] == "x" * BLOB
    assert mock.journal.dropped > 0
    assert mock.journal.records()[0].seq == mock.journal.dropped  # the oldest went first


def test_pending_tasks_are_kept_past_the_byte_limit(make_mock: MakeMock) -> None:
    mock, kie = make_mock(memory_limit=MEMORY, polls_to_complete=5)
    ids = [_big_task(kie, n) for n in range(20)]  # 2 MB of pending tasks: over 600,000
    assert mock._runtime.store.held_bytes > 600_000
    assert all(kie.record(task_id)["state"] != "fail" for task_id in ids)  # each still there


def test_a_task_is_counted_by_its_body_and_param_and_let_go_with_it(make_mock: MakeMock) -> None:
    mock, kie = make_mock()
    store = mock._runtime.store
    task_id = _big_task(kie, 0)
    held = store.held_bytes
    assert 2 * BLOB < held < 2 * BLOB + 10_000  # the body and its param_json, each ~50 KB
    mock.reset()
    assert store.held_bytes == 0
    assert kie.get(f"/api/v1/jobs/recordInfo?taskId={task_id}").json() == NOT_FOUND


def test_the_journal_keeps_an_answers_start_not_a_whole_large_answer(make_mock: MakeMock) -> None:
    """A finished task's record echoes its 1 MB param: each poll's record keeps only its first
    TEXT_ANSWER_LIMIT bytes (all a record shows), not one more copy of the whole answer."""
    mock, kie = make_mock(memory_limit=None)
    body = {"model": BANANA, "input": {"prompt": "p", "blob": "x" * 1_000_000}}
    task_id = kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"]
    before = mock.journal.held_bytes
    for _ in range(5):
        kie.record(task_id)
    assert mock.journal.held_bytes - before <= 5 * (TEXT_ANSWER_LIMIT + OVERHEAD)
    (poll, *_) = mock.journal.polls(task_id)
    assert poll.answer is not None
    assert poll.answer.size is not None
    assert poll.answer.size > 1_000_000
    assert poll.answer.to_json()["cut"]
    assert len(mock._runtime.prerendered) == 0  # an answer over PRERENDER_BYTES is not cached


def test_the_memory_limit_is_a_byte_count_like_the_upload_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert MockConfig().memory_limit == 256 * 2**20
    assert MockConfig(memory_limit=None).memory_limit is None
    with pytest.raises(ValueError, match="memory_limit"):
        MockConfig(memory_limit=0)
    with pytest.raises(TypeError, match="memory_limit"):
        MockConfig(memory_limit=1.5)  # type: ignore[arg-type]
    assert _parser("kiekit-mock").parse_args(["--memory-limit", "512M"]).memory_limit == 2**29
    assert _parser("kiekit-mock").parse_args(["--memory-limit", "0"]).memory_limit is None
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--memory-limit", "lots"])
    assert stopped.value.code == 2
    assert "--memory-limit" in capsys.readouterr().err
