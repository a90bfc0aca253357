"""``kie settle``: a create whose outcome is unknown is settled by hand once KIE's dashboard has
told, and ``kie batch`` / ``kie resume`` / an idempotency key go on from there."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kiekit import Client, ConfigurationError, KieError, OutcomeUnknownError
from kiekit.cli import main
from kiekit.journal import EntryState, default_journal
from kiekit_mock.faults import FaultRule

GROK = "grok-imagine/text-to-image"
CREATE = "/api/v1/jobs/createTask"


@pytest.fixture
def fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIE_API_KEY", "fake-key-for-the-mock")


def _batch(mock: Any, folder: Path) -> tuple[list[str], Path]:
    jobs = folder / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "fox", "model": GROK, "input": {"prompt": "a fox"}}) + "\n")
    out = folder / "out"
    return ["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url], out


def _results(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def _unknown_rows(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["tasks", "--json", "--state", "unknown"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_lost_answer_is_settled_with_the_task_kie_made_and_the_batch_fetches_it(
    mock_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    mock_server.faults.add(FaultRule(kind="reset", method="POST", path=CREATE, when="after"))
    batch, out = _batch(mock_server, tmp_path)
    assert main(batch) == 1
    assert [r["state"] for r in _results(out)] == ["unknown"]
    [row] = _unknown_rows(capsys)
    [made] = mock_server.tasks()  # what the dashboard shows: KIE made the task

    mock_server.faults.clear()
    assert main(batch) == 1  # still unknown: never sent again by itself
    assert len(mock_server.tasks()) == 1
    assert f"kie settle {row['key']!r}" in _results(out)[-1]["error"]["message"]

    assert main(["settle", row["key"], "--task-id", made.task_id]) == 0
    assert main(batch) == 0
    [done] = _results(out)[-1:]
    assert (done["state"], done["task_id"]) == ("succeeded", made.task_id)
    assert done["files"]
    assert all(Path(path).is_file() for path in done["files"])
    assert len(mock_server.tasks()) == 1  # waited for and fetched, never made again


def test_kie_run_whose_answer_is_lost_says_which_row_to_settle_and_how(
    mock_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    """It said only "check your KIE dashboard": not which row `kie tasks` shows, nor the
    command that settles it. The command it names works as said."""
    mock_server.faults.add(FaultRule(kind="reset", method="POST", path=CREATE, when="after"))
    out = tmp_path / "out"
    run = ["run", GROK, "--prompt", "a fox", "--base-url", mock_server.base_url, "--out", str(out)]
    assert main(run) == 1
    said = capsys.readouterr().err
    [row] = _unknown_rows(capsys)
    key = row["key"]
    assert f"kie tasks lists it as {key}" in said
    assert (
        f"kie settle {key} --task-id ID (kie resume then fetches its files), or --not-created"
        in said
    )

    [made] = mock_server.tasks()  # what the dashboard shows: KIE made the task
    mock_server.faults.clear()
    assert main(["settle", key, "--task-id", made.task_id]) == 0
    assert main(["resume", "--base-url", mock_server.base_url]) == 0
    assert list(out.iterdir())  # its files, where the run asked for them
    assert len(mock_server.tasks()) == 1  # never made twice


def test_a_create_kie_never_made_is_settled_as_not_created_and_sent_again(
    mock_server: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    crash: Callable[[Any, str], None],
) -> None:
    # a crash right after the intent row was written: the create never left
    journal = default_journal()
    [key] = [r["key"] for r in _intent_of_a_crash(journal, mock_server, crash)]
    capsys.readouterr()
    assert main(["tasks"]) == 0
    assert f"kie settle {key}" in capsys.readouterr().out
    assert [r["key"] for r in _unknown_rows(capsys)] == [key]  # `sending` counts as unknown

    assert main(["settle", key, "--not-created"]) == 0
    assert journal.get(key).state is EntryState.REJECTED  # type: ignore[union-attr]
    with Client(base_url=mock_server.base_url) as kie:
        task = kie.submit(GROK, prompt="a fox", idempotency_key=key)  # sent again, at last
    assert [t.task_id for t in mock_server.tasks()] == [task.id]


def _intent_of_a_crash(journal: Any, mock: Any, crash: Any) -> list[dict[str, Any]]:
    with Client(base_url=mock.base_url) as kie:
        account = kie._engine.account  # the row as a submit with this key would write it
    entry = journal.intend(
        GROK,
        {"model": GROK, "input": {"prompt": "a fox"}},
        base_url=mock.base_url,
        key="order-17",
        account=account,
    )
    crash(journal, entry.key)
    return [{"key": entry.key}]


_SENDER = """
import sys
from kiekit.journal import default_journal
entry = default_journal().intend(sys.argv[1], {"input": {"prompt": "x"}})
print(entry.key, flush=True)
sys.stdin.read()  # its create "in flight" until the test closes stdin
"""


def test_a_create_a_live_worker_is_sending_is_not_offered_to_settle_and_one_whose_worker_is_gone_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # another process of this machine writes its intent row (an unkeyed create, as `kie run`
    # does) and is still "sending": its answer will settle it, so no settle is offered
    sender = subprocess.Popen(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", _SENDER, GROK],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sender.stdout is not None
        key = sender.stdout.readline().strip()
        capsys.readouterr()
        assert main(["tasks"]) == 0
        line = capsys.readouterr().out
        owner = default_journal().get(key).owner  # type: ignore[union-attr]
        assert f"being sent by {owner}" in line
        assert "kie settle" not in line
        assert "outcome unknown" not in line
        assert main(["settle", key, "--not-created"]) == 2
        assert "is being sent by" in capsys.readouterr().err
        # nothing to wait for, nor to settle; still owed: its task is not on disk yet
        assert main(["resume"]) == 1
        err = capsys.readouterr().err
        assert "kie settle" not in err
        assert "still owed: 1 task(s) held by another live worker" in " ".join(err.split())
    finally:
        sender.communicate("")  # the worker ends, its create never answered (a crash)
    assert main(["tasks"]) == 0
    assert f"its worker is gone: check the KIE dashboard, then kie settle {key}" in (
        capsys.readouterr().out
    )
    assert main(["settle", key, "--not-created"]) == 0


def test_a_sending_row_whose_worker_the_journal_cannot_see_says_both_possibilities(
    capsys: pytest.CaptureFixture[str],
) -> None:
    journal = default_journal()
    entry = journal.intend(GROK, {"input": {"prompt": "x"}})
    assert entry is not None
    journal.store.update(entry.key, {"owner": None})  # as a row of an older kiekit
    capsys.readouterr()
    assert main(["tasks"]) == 0
    assert "sending, or outcome unknown if its worker is gone" in capsys.readouterr().out


def test_an_idempotency_key_with_no_known_outcome_says_how_to_settle_it(
    mock_server: Any, fake_key: None
) -> None:
    mock_server.faults.add(FaultRule(kind="reset", method="POST", path=CREATE, when="after"))
    with Client(base_url=mock_server.base_url) as kie:
        with pytest.raises(OutcomeUnknownError):
            kie.submit(GROK, prompt="x", idempotency_key="order-18")
        mock_server.faults.clear()
        with pytest.raises(OutcomeUnknownError, match="kie settle 'order-18'"):
            kie.submit(GROK, prompt="x", idempotency_key="order-18")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["settle", "nope", "--not-created"], "no row 'nope'"),
        (
            ["settle", "nope"],
            "one of the arguments --task-id --not-created --abandon --handed-off is required",
        ),
        (["settle", "nope", "--abandon"], "no row 'nope'"),
        (["settle", "nope", "--not-created", "--reason", "x"], "--reason: goes with --abandon"),
    ],
)
def test_kie_settle_names_what_is_wrong(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        status = main(argv)
    except SystemExit as usage:  # argparse's own usage errors
        status = usage.code  # type: ignore[assignment]
    assert status == 2
    assert message in capsys.readouterr().err


def test_a_row_whose_outcome_is_known_is_not_settled(
    mock_server_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    mock = mock_server_factory()
    with Client(base_url=mock.base_url) as kie:
        kie.wait(kie.submit(GROK, prompt="x", idempotency_key="order-19"))
    assert main(["settle", "order-19", "--not-created"]) == 2
    assert "succeeded: its outcome is known" in capsys.readouterr().err


def test_a_mistyped_task_id_kie_does_not_know_may_be_settled_again(
    mock_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    mock_server.faults.add(FaultRule(kind="reset", method="POST", path=CREATE, when="after"))
    batch, out = _batch(mock_server, tmp_path)
    assert main(batch) == 1
    [row] = _unknown_rows(capsys)
    [made] = mock_server.tasks()
    mock_server.faults.clear()

    assert main(["settle", row["key"], "--task-id", "not-" + made.task_id]) == 0  # a typo
    assert main(batch) == 1  # KIE: no such task
    assert main(["settle", row["key"], "--task-id", made.task_id]) == 0  # settled again
    assert main(batch) == 0
    assert (_results(out)[-1]["state"], _results(out)[-1]["task_id"]) == ("succeeded", made.task_id)
    assert len(mock_server.tasks()) == 1


SUNO_RUN = ["suno/generate", "--prompt", "a sea shanty", "--input", "custom_mode=false",
            "--input", "instrumental=false", "--input", "model=V4_5"]  # fmt: skip


@pytest.mark.parametrize(
    ("run", "create", "config"),
    [
        pytest.param(SUNO_RUN, "/api/v1/generate", {}, id="suno"),
        pytest.param(
            [GROK, "--prompt", "a fox"], CREATE, {"market_unknown_null": True}, id="market-null"
        ),
    ],
)
def test_a_mistyped_task_id_kie_answers_with_data_null_may_be_settled_again(
    run: list[str],
    create: str,
    config: dict[str, Any],
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """Suno's record-info answers an id it does not know with ``data: null``, as market
    recordInfo may (kie-api.md §2.2, §11): a row settled with a typo was stuck for good there
    ("run kie resume first", which had been run), its paid task never fetched (outside tester
    "migrant", M1). KIE's "no such task" is one error in every family, and the row is
    settled again."""
    mock = mock_server_factory(polls_to_complete=1, **config)
    mock.faults.add(FaultRule(kind="reset", method="POST", path=create, when="after"))
    out = tmp_path / "out"
    assert main(["run", *run, "--base-url", mock.base_url, "--out", str(out)]) == 1
    [row] = _unknown_rows(capsys)
    [made] = mock.tasks()
    mock.faults.clear()
    resume = ["resume", "--base-url", mock.base_url, "--poll-interval", "0.05"]

    assert main(["settle", row["key"], "--task-id", "deadbeef" * 4]) == 0  # a typo
    assert main(resume) == 1  # KIE: no such task
    err = " ".join(capsys.readouterr().err.split())
    assert "KIE has no record of this task" in err
    assert f"kie settle {row['key']} --task-id CORRECT_ID" in err  # the way out: the right id
    assert "--abandon, e.g." not in err  # not: give up the paid task
    assert main(["settle", row["key"], "--task-id", made.task_id]) == 0  # settled again
    assert main(resume) == 0
    assert list(out.iterdir())  # the paid task's files, where the run asked for them
    assert len(mock.tasks()) == 1


def test_kie_resume_after_a_mistyped_settle_says_to_settle_the_right_id_not_to_abandon(
    mock_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    """cliuser finding 11: after ``kie settle KEY --task-id typo``, ``kie resume`` advised
    ``kie settle typo --abandon``, which gives up the paid task KIE did make. KIE saying it has
    no such task (404 "Task not found", kie-api.md §2.2) most likely means a wrong id: the
    advice is to settle the row with the right one, and to abandon only if no task was made."""
    mock_server.faults.add(FaultRule(kind="reset", method="POST", path=CREATE, when="after"))
    out = tmp_path / "out"
    run = ["run", GROK, "--prompt", "a fox", "--base-url", mock_server.base_url, "--out", str(out)]
    assert main(run) == 1
    [row] = _unknown_rows(capsys)
    [made] = mock_server.tasks()
    mock_server.faults.clear()
    resume = ["resume", "--base-url", mock_server.base_url, "--poll-interval", "0.05", "--json"]

    assert main(["settle", row["key"], "--task-id", "typo"]) == 0
    assert main(resume) == 1
    said = capsys.readouterr()
    err = " ".join(said.err.split())
    [task] = json.loads(said.out)["tasks"]
    assert (task["outcome"], task["error"]["type"]) == ("not_finished", "TaskNotFoundError")
    assert "kie settle typo --abandon" not in err
    assert f"KIE has no task typo (row {row['key']}" in err
    assert (
        f"most likely a wrong task id (a typo in kie settle --task-id or kie adopt): "
        f"kie settle {row['key']} --task-id CORRECT_ID" in err
    )
    assert f"only if no task was ever made, kie settle {row['key']} --abandon" in err

    assert main(["settle", row["key"], "--task-id", made.task_id]) == 0  # the advice, followed
    assert main(resume) == 0
    assert list(out.iterdir())
    assert len(mock_server.tasks()) == 1


def test_a_mistyped_task_id_settled_as_not_created_is_cleared_and_sent_again(
    mock_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    mock_server.faults.add(FaultRule(kind="reset", method="POST", path=CREATE, when="after"))
    batch, out = _batch(mock_server, tmp_path)
    assert main(batch) == 1
    [row] = _unknown_rows(capsys)
    mock_server.faults.clear()
    assert main(["settle", row["key"], "--task-id", "typo123"]) == 0
    assert main(["settle", row["key"], "--task-id", "typo456"]) == 2  # not before KIE has told
    assert "may be settled again once KIE has answered" in capsys.readouterr().err
    assert main(batch) == 1  # KIE: no such task

    assert main(["settle", row["key"], "--not-created"]) == 0
    said = capsys.readouterr().err
    assert "no task was made" in said
    assert "may be sent again" in said
    assert "kie resume waits" not in said
    settled = default_journal().get(row["key"])
    assert settled is not None
    assert (settled.state, settled.task_id) == (EntryState.REJECTED, None)
    assert main(batch) == 0  # sent again: a new task, its files fetched
    assert _results(out)[-1]["state"] == "succeeded"


def test_a_task_on_a_mock_server_since_stopped_is_abandoned_by_hand_and_kept_in_history(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """A Python MockServer's task (made with the test's own key, so kie resume cannot know it
    for a mock) stays unfinished for ever once the mock is stopped; kie resume names it and now
    says how to close it, and kie settle ID --abandon closes it: failed, with the reason, still
    listed by kie tasks, and no longer owed."""
    mock = mock_server_factory(polls_to_complete=5)
    with Client(base_url=mock.base_url) as kie:
        task = kie.submit(GROK, prompt="a fox")
    server = mock.base_url
    mock.stop()

    capsys.readouterr()
    assert main(["resume"]) == 1  # owed, on a server it cannot reach
    said = capsys.readouterr().err
    assert f"{server}: {task.id}" in said
    assert f"kie settle {task.id} --abandon" in said

    assert main(["settle", task.id, "--abandon", "--reason", "the test's mock is stopped"]) == 0
    assert "closed as failed" in capsys.readouterr().err
    row = default_journal().by_task(task.id)
    assert row is not None
    assert row.state is EntryState.FAILED
    assert row.error == {
        "type": "Abandoned",
        "message": "abandoned by hand (was created): the test's mock is stopped",
    }
    assert main(["tasks"]) == 0  # kept in the history, with why
    assert "Abandoned: abandoned by hand (was created): the test's mock is stopped" in (
        capsys.readouterr().out
    )
    assert main(["resume"]) == 0
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["tasks", "--state", "unfinished"]) == 0
    assert capsys.readouterr().out == ""

    assert main(["settle", task.id, "--abandon"]) == 2  # closed already: said, not done twice
    assert "is failed: nothing is owed for it" in capsys.readouterr().err


def test_an_abandoned_batch_job_is_reported_failed_and_never_sent_again(
    mock_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    mock_server.faults.add(FaultRule(kind="reset", method="POST", path=CREATE, when="after"))
    batch, out = _batch(mock_server, tmp_path)
    assert main(batch) == 1
    [row] = _unknown_rows(capsys)  # of unknown outcome: the user gives up looking it up
    mock_server.faults.clear()

    assert main(["settle", row["key"], "--abandon"]) == 0
    assert main(batch) == 1
    [done] = _results(out)[-1:]
    assert done["state"] == "failed"
    assert done["error"]["type"] == "Abandoned"
    assert "given up by hand" in done["error"]["message"]
    assert len(mock_server.tasks()) == 1  # the one the lost answer made: nothing paid twice


def test_a_finished_task_is_not_abandoned(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    tmp_path: Path,
) -> None:
    mock = mock_server_factory()
    with Client(base_url=mock.base_url) as kie:
        kie.download(kie.wait(kie.submit(GROK, prompt="x")), tmp_path)
    [row] = default_journal().entries()
    assert main(["settle", str(row.task_id), "--abandon"]) == 2
    assert "is succeeded: nothing is owed for it" in capsys.readouterr().err
    after = default_journal().get(row.key)
    assert after is not None
    assert after.state is EntryState.SUCCEEDED


def test_a_task_a_live_worker_holds_is_not_abandoned_under_it(
    mock_server_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    mock = mock_server_factory(polls_to_complete=5)
    with Client(base_url=mock.base_url) as kie:
        kie.submit(GROK, prompt="x", idempotency_key="order-21")  # held by this worker
        assert main(["settle", "order-21", "--abandon"]) == 2
    assert "a live worker: leave it to it" in capsys.readouterr().err
    row = default_journal().get("order-21")
    assert row is not None
    assert row.state is EntryState.CREATED


def test_result_links_handed_off_instead_of_downloaded_are_done_not_owed_to_kie_resume(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """An outside tester's webhook program took each task's result links and never downloaded
    them: every row stayed "succeeded (unfinished: kie resume) 0/N files", and a teammate's
    `kie resume` downloaded all 293 tasks' files. Handing the links off closes such a row."""
    import asyncio

    from kiekit import AsyncClient

    mock = mock_server_factory(polls_to_complete=1)
    with Client(base_url=mock.base_url) as kie:
        tasks = [kie.submit(GROK, prompt=f"fox {n}") for n in range(3)]
        for task in tasks:
            assert kie.wait(task).assets  # the links go on elsewhere; nothing downloaded
        kie.hand_off(tasks[0], reason="sent to the render queue")

    async def hand_off_async() -> None:
        async with AsyncClient(base_url=mock.base_url) as kie:
            await kie.hand_off(tasks[1].id)

    asyncio.run(hand_off_async())
    capsys.readouterr()
    assert main(["settle", tasks[2].id, "--handed-off"]) == 0
    assert "handed off" in capsys.readouterr().err

    capsys.readouterr()
    assert main(["tasks", "--state", "unfinished"]) == 0
    assert capsys.readouterr().out == ""  # nothing owed
    assert main(["resume", "--base-url", mock.base_url, "--out", str(tmp_path / "o")]) == 0
    assert "nothing to resume" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # no file downloaded
    assert main(["tasks"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("6 links handed off") == 3  # the mock's grok makes six images
    assert "sent to the render queue" in listing
    rows = {row.task_id: row for row in default_journal().entries()}
    assert all(rows[task.id].assets for task in tasks)  # the links stay in the row
    assert all(rows[task.id].state is EntryState.SUCCEEDED for task in tasks)


def test_only_a_succeeded_tasks_links_are_handed_off(
    mock_server_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    mock = mock_server_factory(polls_to_complete=5)
    with Client(base_url=mock.base_url) as kie:
        running = kie.submit(GROK, prompt="a fox")
    capsys.readouterr()
    assert main(["settle", running.id, "--handed-off"]) == 2
    assert "is created: only a succeeded task's result links can be handed off" in (
        capsys.readouterr().err
    )
    with (
        Client(base_url=mock.base_url, journal=None) as kie,
        pytest.raises(ConfigurationError, match="needs a journal"),
    ):
        kie.hand_off(running)


# -- one task, one row (outside tester "webhookapp", finding 2) -----------------------------


def _lost() -> OutcomeUnknownError:
    return OutcomeUnknownError(model=GROK, request=None, cause=KieError("the answer was lost"))


def _lost_and_adopted(mock: Any, out: Path | None) -> tuple[str, str]:
    """A keyed create whose answer was lost (``unknown``), and its task adopted by hand as a
    receiver's warning advised: the key's row and the adopted row's key."""
    with Client(base_url=mock.base_url, journal=None) as other:
        made = other.submit(GROK, prompt="a fox")
    journal = default_journal()
    folder = None if out is None else str(out)
    intent = journal.intend(GROK, {"input": {"prompt": "a fox"}}, key="lost-job-1",
                            base_url=mock.base_url, out_dir=folder)  # fmt: skip
    assert intent is not None
    journal.create_failed(intent, _lost())
    adopted = journal.adopt(made.id, GROK, base_url=mock.base_url, out_dir=folder)
    return made.id, adopted.key


def test_settle_refuses_a_task_id_an_adopted_row_holds_and_merges_it_when_asked(
    mock_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    """`kie settle KEY --task-id ID` took an id `kie adopt` had taken in: two rows for one
    task, and every kie resume downloaded it again. Refused, naming the row; --merge moves the
    task onto the key's row and closes the adopted one."""
    task_id, adopted = _lost_and_adopted(mock_server, tmp_path / "out")
    assert main(["settle", "lost-job-1", "--task-id", task_id]) == 2
    said = capsys.readouterr().err
    assert f"task {task_id} is in the journal already: row {adopted!r}" in said
    assert "--merge" in said
    journal = default_journal()
    assert journal.get("lost-job-1").state is EntryState.UNKNOWN  # type: ignore[union-attr]

    assert main(["settle", "lost-job-1", "--task-id", task_id, "--merge"]) == 0
    row, closed = journal.get("lost-job-1"), journal.get(adopted)
    assert row is not None
    assert closed is not None
    assert (row.state, row.task_id) == (EntryState.CREATED, task_id)
    assert (closed.state, closed.task_id) == (EntryState.FAILED, None)
    assert "merged into row 'lost-job-1'" in (closed.error or {})["message"]
    assert journal.by_task(task_id).key == "lost-job-1"  # type: ignore[union-attr]
    assert main(["resume", "--base-url", mock_server.base_url]) == 0
    done = journal.get("lost-job-1")
    assert done is not None
    assert done.state is EntryState.SUCCEEDED
    assert not done.unfinished
    assert len(mock_server.tasks()) == 1


def test_settle_refuses_a_task_id_a_row_of_kiekits_own_holds(
    mock_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    with Client(base_url=mock_server.base_url) as kie:
        made = kie.submit(GROK, prompt="a fox")
    journal = default_journal()
    intent = journal.intend(GROK, {"input": {"prompt": "x"}}, key="lost-job-2")
    assert intent is not None
    journal.create_failed(intent, _lost())
    for merge in ([], ["--merge"]):
        assert main(["settle", "lost-job-2", "--task-id", made.id, *merge]) == 2
        assert "a create of its own" in capsys.readouterr().err
    assert journal.get("lost-job-2").state is EntryState.UNKNOWN  # type: ignore[union-attr]


def test_resume_downloads_a_task_two_rows_hold_once_and_closes_the_twin(
    mock_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    """A journal an older kiekit left with two rows for one task: each kie resume downloaded
    the files again (into each --out), the twin never closed."""
    task_id, adopted = _lost_and_adopted(mock_server, None)
    journal = default_journal()
    # what an older `kie settle lost-job-1 --task-id ID` wrote: the id in both rows
    journal.store.update("lost-job-1", {"state": EntryState.CREATED, "task_id": task_id})
    resume = [sys.executable, "-m", "kiekit", "resume", "--base-url", mock_server.base_url]
    said = ""
    for out in ("first", "second"):  # two runs, two processes, as a user's
        run = subprocess.run(  # noqa: S603 (our own command line)
            [*resume, "--out", str(tmp_path / out)], capture_output=True,
            text=True, check=False, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        said += run.stderr
    assert (tmp_path / "first").is_dir()
    assert not (tmp_path / "second").exists()  # nothing fetched again
    rows = [journal.get("lost-job-1"), journal.get(adopted)]
    assert all(row is not None and not row.unfinished for row in rows)
    assert [row.state for row in rows if row] == [EntryState.SUCCEEDED] * 2
    assert "row lost-job-1 holds it too" in said
