"""Calls that build on an earlier task (Veo extend and 4K, Runway extend), KIE's retention of
results (14 days, kie-api.md §1, §8) and reruns of ``kie run``, against the mock on 127.0.0.1
(found by an outside tester chaining video generations)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kiekit import (
    AsyncClient,
    Client,
    InputFetchError,
    KieError,
    PollPolicy,
    Request,
    ResultsExpiredError,
    Task,
    TaskNotFoundError,
    UnprocessableError,
)
from kiekit.cli import main
from kiekit.journal import EntryState, default_journal

FAST = PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=20.0)
DAYS_15 = 15 * 24 * 3600.0
FROZEN = 1e-6  # the mock clock moves only when a test advances it
GROK = "grok-imagine/text-to-image"
# (parent model, its input, follow-up model, its input besides task_id)
FOLLOW_UPS = [
    ("veo3_fast", {"prompt": "a fox"}, "veo3/extend", {"prompt": "the fox jumps"}),
    ("veo3_fast", {"prompt": "a fox"}, "veo3/4k", {}),
    ("runway/generate", {"prompt": "a cat", "aspect_ratio": "16:9"}, "runway/extend",
     {"prompt": "the cat bows"}),
]  # fmt: skip
IDS = ["veo-extend", "veo-4k", "runway-extend"]


@pytest.fixture
def fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIE_API_KEY", "fake-key-for-the-mock")


def _follow_up(
    mock: Any, client: str, parent: tuple[str, dict[str, Any]], model: str, params: dict[str, Any]
) -> tuple[str, KieError]:
    """Create the parent, then its follow-up (which must raise); the parent's id, the error."""

    def run_sync() -> str:
        with Client("test-key", base_url=mock.base_url, poll=FAST) as kie:
            made = kie.submit(*parent)
            seen.append(made.id)
            kie.submit(model, task_id=made.id, **params)
        raise AssertionError("the follow-up was taken")

    async def run_async() -> str:
        async with AsyncClient("test-key", base_url=mock.base_url, poll=FAST) as kie:
            made = await kie.submit(*parent)
            seen.append(made.id)
            await kie.submit(model, task_id=made.id, **params)
        raise AssertionError("the follow-up was taken")

    seen: list[str] = []
    with pytest.raises(KieError) as caught:
        run_sync() if client == "Client" else asyncio.run(run_async())
    return seen[0], caught.value


@pytest.mark.parametrize("client", ["Client", "AsyncClient"])
@pytest.mark.parametrize(("parent_model", "parent_input", "model", "params"), FOLLOW_UPS, ids=IDS)
def test_a_refused_follow_up_names_its_parent_in_the_error_and_the_journal(
    mock_server_factory: Callable[..., Any],
    client: str,
    parent_model: str,
    parent_input: dict[str, Any],
    model: str,
    params: dict[str, Any],
) -> None:
    """KIE refuses a parent still running ("record status is not success"): no task was made,
    so ``task_id`` stays None, but a chain of dozens of clips must know which parent broke."""
    mock = mock_server_factory(polls_to_complete=10_000)  # the parent stays pending
    parent, error = _follow_up(mock, client, (parent_model, parent_input), model, params)
    assert isinstance(error, UnprocessableError)
    assert error.task_id is None
    assert error.parent_task_id == parent
    assert str(error) == f"KIE error 422: record status is not success (parent task {parent})"
    assert len(mock.tasks()) == 1  # the parent only
    [row] = [row for row in default_journal().entries() if row.model == model]
    assert (row.state, row.task_id) == (EntryState.REJECTED, None)
    assert row.error is not None
    assert row.error["parent_task_id"] == parent


@pytest.mark.usefixtures("fake_key")
def test_kie_run_says_which_parent_a_refused_follow_up_named_and_json_carries_it(
    mock_server_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mock = mock_server_factory(polls_to_complete=10_000)
    with Client("fake-key-for-the-mock", base_url=mock.base_url) as kie:
        parent = kie.submit("veo3_fast", prompt="a fox").id
    capsys.readouterr()
    run = ["run", "veo3/extend", "--prompt", "on", "--input", f"task_id={parent}",
           "--out", str(tmp_path / "out"), "--base-url", mock.base_url]  # fmt: skip
    assert main([*run, "--json"]) == 1
    said = capsys.readouterr()
    assert f"(parent task {parent})" in said.err
    error = json.loads(said.out)["error"]
    assert (error["task_id"], error["parent_task_id"]) == (None, parent)


# -- an input KIE could not fetch -------------------------------------------------------------


def test_an_expired_upload_refused_with_451_names_the_input_urls_not_their_query(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """KIE's 451 says only "Failed to fetch the input image" (4o Image, kie-api.md §3.1): an
    outside tester's edit of two files and a mask could not tell which one had gone. The error
    names the request's input URLs (no query: a signed link's is a credential) and why they
    commonly fail; nothing is created."""
    mock = mock_server_factory(polls_to_complete=1)
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    where = {"base_url": mock.base_url, "upload_base_url": mock.upload_base_url}
    with Client("test-key", **where) as kie:
        old = kie.upload(photo).download_url
        mock.clock.advance(DAYS_15)  # past an upload's 3 days (§4)
        with pytest.raises(InputFetchError) as refused:
            kie.submit(
                "gpt4o-image", size="1:1", files_url=[old], mask_url=old + "?sig=secret-part"
            )
    said = str(refused.value)
    assert said.startswith("KIE error 451: ")
    assert f"filesUrl[0] ({old})" in said
    assert f"maskUrl ({old})" in said
    assert "secret-part" not in said
    assert "kept 3 days" in said
    assert refused.value.kie_message == "Failed to fetch the input image"  # KIE's own words
    assert not mock.tasks()


# -- past KIE's retention ---------------------------------------------------------------------


def test_a_veo_task_past_retention_is_results_expired_not_task_not_found_and_its_row_closes(
    mock_server_factory: Callable[..., Any],
) -> None:
    """Veo's 422 "Temporarily supports records within 14 days" (§3.3) was TaskNotFoundError
    "KIE has no record of this task", and the row stayed owed for ever."""
    mock = mock_server_factory(polls_to_complete=1)
    with Client("test-key", base_url=mock.base_url, poll=FAST) as kie:
        video = kie.submit("veo3_fast", prompt="a fox")
        results = kie.wait(video)  # succeeded; its files never downloaded
        mock.clock.advance(DAYS_15)
        credits = kie.credits()
        with pytest.raises(ResultsExpiredError) as expired:
            kie.wait(Task(video.id, "veo3_fast"))
        hd = Request("GET", "/api/v1/veo/get-1080p-video", query={"taskId": video.id, "index": "0"})
        with pytest.raises(ResultsExpiredError) as no_hd:
            kie.call(hd, task_id=video.id)
        for model, params in (("veo3/extend", {"prompt": "on"}), ("veo3/4k", {})):
            with pytest.raises(ResultsExpiredError) as refused:
                kie.submit(model, task_id=video.id, **params)
            assert (refused.value.task_id, refused.value.parent_task_id) == (None, video.id)
        assert kie.credits() == credits  # nothing was paid for
    error = expired.value
    assert not isinstance(error, TaskNotFoundError)
    assert (error.task_id, error.code) == (video.id, 422)
    assert error.kie_message == "Temporarily supports records within 14 days"
    assert no_hd.value.task_id == video.id
    row = default_journal().by_task(video.id)
    assert row is not None
    # closed: nothing more can be fetched; its id and results show it was paid for and lost
    assert (row.state, row.unfinished) == (EntryState.FAILED, False)
    assert row.error is not None
    assert row.error["type"] == "ResultsExpiredError"
    assert row.assets == results.assets


def test_a_runway_video_past_retention_is_results_expired_too(
    mock_server_factory: Callable[..., Any],
) -> None:
    mock = mock_server_factory(polls_to_complete=1)
    with Client("test-key", base_url=mock.base_url, poll=FAST) as kie:
        video = kie.submit("runway/generate", prompt="a cat", aspect_ratio="16:9")
        kie.wait(video)
        mock.clock.advance(DAYS_15)
        with pytest.raises(ResultsExpiredError) as expired:  # expireFlag 1 (§3.4)
            kie.wait(Task(video.id, "runway/generate"))
        with pytest.raises(ResultsExpiredError) as refused:
            kie.submit("runway/extend", task_id=video.id, prompt="on")
    assert expired.value.task_id == video.id
    assert (refused.value.task_id, refused.value.parent_task_id) == (None, video.id)
    assert len(mock.tasks()) == 1  # no extend was made


def test_a_downloaded_task_asked_after_retention_keeps_its_succeeded_row(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """Nothing was lost: its files are on disk, so the row is not closed as expired."""
    mock = mock_server_factory(polls_to_complete=1)
    with Client("test-key", base_url=mock.base_url, poll=FAST) as kie:
        video = kie.submit("veo3_fast", prompt="a fox")
        kie.download(kie.wait(video), tmp_path)
        mock.clock.advance(DAYS_15)
        with pytest.raises(ResultsExpiredError):
            kie.wait(Task(video.id, "veo3_fast"))
    row = default_journal().by_task(video.id)
    assert row is not None
    assert (row.state, row.error) == (EntryState.SUCCEEDED, None)


@pytest.mark.usefixtures("fake_key")
def test_kie_resume_reports_tasks_past_retention_once_and_owes_them_no_more(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Once retention passed, every `kie resume` exited 1 owing the same tasks, Veo's said as
    "KIE has no record of this task"."""
    mock = mock_server_factory(polls_to_complete=1)
    out = tmp_path / "out"
    for model, given in (("veo3_fast", []), ("runway/generate", ["--input", "aspect_ratio=16:9"])):
        assert main(["run", model, "--prompt", "x", *given, "--out", str(out),
                     "--base-url", mock.base_url]) == 0  # fmt: skip
    for path in out.iterdir():  # lost here (a disk clean-up, a new machine)
        path.unlink()
    mock.clock.advance(DAYS_15)
    capsys.readouterr()

    assert main(["resume", "--base-url", mock.base_url]) == 1  # paid work was lost: said once
    err = capsys.readouterr().err
    assert "no record" not in err
    assert err.count("not owed again") == 2
    assert "2 task(s) past KIE's retention" in err
    assert "still owed" not in err
    rows = default_journal().entries()
    assert [(row.state, row.error and row.error["type"]) for row in rows] == [
        (EntryState.FAILED, "ResultsExpiredError"),
        (EntryState.FAILED, "VideoExpiredError"),
    ]
    assert all(row.task_id and row.assets for row in rows)  # paid for, and kept so

    assert main(["resume", "--base-url", mock.base_url]) == 0
    assert "nothing to resume" in capsys.readouterr().err


@pytest.mark.usefixtures("fake_key")
def test_kie_resume_closes_a_success_whose_files_were_never_fetched_before_retention_passed(
    mock_server_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A service crashed after the create and resumed 15 days later: the task succeeded, its
    links answer 403 and KIE refuses to renew them. Every `kie resume` exited 1 owing it
    ("expired?"), and `kie prune` kept it for ever."""
    import time

    from kiekit.journal import Journal

    mock = mock_server_factory(seconds_to_complete=1, time_scale=FROZEN)  # ends 1 s after
    store = default_journal().store
    then = Journal(store, clock=lambda: time.time() - DAYS_15)  # the row written 15 days ago
    with Client(base_url=mock.base_url, poll=FAST, journal=then) as kie:
        made = kie.submit(GROK, prompt="a fox", out_dir=tmp_path)  # then the process died
    then.let_go_all()  # and held nothing (a process of this machine that ended holds none)
    mock.clock.advance(DAYS_15)
    capsys.readouterr()

    assert main(["resume", "--base-url", mock.base_url]) == 1  # paid work was lost: said once
    err = capsys.readouterr().err
    assert f"task {made.id} ({GROK}): results expired" in err
    assert "not owed again" in err
    assert "still owed" not in err
    [row] = default_journal().entries()
    assert (row.state, row.error and row.error["type"]) == (
        EntryState.FAILED,
        "ResultsExpiredError",
    )
    assert row.task_id == made.id

    assert main(["resume", "--base-url", mock.base_url]) == 0
    assert "nothing to resume" in capsys.readouterr().err


@pytest.mark.usefixtures("fake_key")
def test_kie_resume_keeps_owing_a_young_task_whose_link_was_refused(
    mock_server_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The same refusal for a task made minutes ago is not expiry: the row stays owed."""
    mock = mock_server_factory(seconds_to_complete=1, time_scale=FROZEN)  # ends 1 s after
    with Client(base_url=mock.base_url, poll=FAST) as kie:
        made = kie.submit(GROK, prompt="a fox", out_dir=tmp_path)
    mock.clock.advance(DAYS_15)  # the mock's files are gone, but this journal's row is young
    capsys.readouterr()

    assert main(["resume", "--base-url", mock.base_url]) == 1
    err = capsys.readouterr().err
    assert f"task {made.id} ({GROK}): link answered HTTP 403 (expired?)" in err
    assert "still owed: 1 task(s)" in err
    [row] = default_journal().entries()
    assert row.state is EntryState.SUCCEEDED
    assert row.unfinished


@pytest.mark.usefixtures("fake_key")
def test_kie_resume_names_kie_settle_abandon_for_a_task_it_cannot_finish(
    mock_server_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mock = mock_server_factory(polls_to_complete=10_000)  # never finishes here
    run = ["run", GROK, "--prompt", "x", "--out", str(tmp_path), "--base-url", mock.base_url]
    assert main([*run, "--timeout", "0.2"]) == 1
    [row] = default_journal().entries()
    capsys.readouterr()
    assert main(["resume", "--base-url", mock.base_url, "--timeout", "0.2"]) == 1
    err = capsys.readouterr().err
    assert f"kie settle {row.task_id} --abandon" in err
    assert "still owed: 1 task(s) not finished here" in err


# -- reruns of kie run ------------------------------------------------------------------------


@pytest.mark.usefixtures("fake_key")
def test_kie_run_with_an_idempotency_key_run_again_pays_once(
    mock_server_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mock = mock_server_factory(polls_to_complete=1)
    run = ["run", GROK, "--prompt", "shot 12", "--out", str(tmp_path), "--base-url",
           mock.base_url, "--idempotency-key", "shot-12"]  # fmt: skip
    assert main(run) == 0
    first = capsys.readouterr()
    [task] = mock.tasks()
    assert f"created task {task.task_id}" in first.err
    assert main(run) == 0
    again = capsys.readouterr()
    assert again.out == first.out  # the same task's files
    assert len(mock.tasks()) == 1
    # and it says so: the replay did not create it (music QA 6)
    assert "created task" not in again.err
    assert f"task {task.task_id} ({GROK}) was made before with idempotency key 'shot-12'" in (
        again.err
    )


@pytest.mark.usefixtures("fake_key")
def test_kie_run_of_a_local_image_run_again_with_its_key_pays_once(
    mock_server_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An outside tester's finding: each run uploaded the file under a new random name, so its
    URL, and with it the input, differed every time, and the rerun the key exists for was
    refused ("was used for a different input"). An upload is named after its bytes now."""
    mock = mock_server_factory(polls_to_complete=1)
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    run = ["run", "flux-kontext-pro", "--prompt", "night", "--image", str(photo),
           "--out", str(tmp_path / "out"), "--base-url", mock.base_url,
           "--upload-base-url", mock.upload_base_url, "--idempotency-key", "edit-42"]  # fmt: skip
    assert main(run) == 0
    first = capsys.readouterr().out
    assert main(run) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == first  # the same task's files
    assert len(mock.tasks()) == 1

    photo.write_bytes(photo.read_bytes() + b"edited")  # other bytes: another input
    assert main(run) == 2
    assert "edit-42' was used for a different input" in capsys.readouterr().err
    assert len(mock.tasks()) == 1


@pytest.mark.usefixtures("fake_key")
def test_kie_run_again_while_the_same_request_is_unfinished_says_so_before_paying_again(
    mock_server_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mock = mock_server_factory(polls_to_complete=10_000)
    run = ["run", GROK, "--out", str(tmp_path), "--base-url", mock.base_url, "--timeout", "0.2"]
    assert main([*run, "--prompt", "shot 12"]) == 1  # interrupted: the task lives on, owed
    [first] = mock.tasks()
    assert "note:" not in capsys.readouterr().err

    assert main([*run, "--prompt", "shot 12"]) == 1
    err = capsys.readouterr().err
    note = next(line for line in err.splitlines() if line.startswith("note:"))
    assert f"task {first.task_id}" in note
    assert "kie resume" in note
    assert "--idempotency-key" in note
    assert err.index(note) < err.index("created task")  # said before the new task was made
    assert len(mock.tasks()) == 2  # not refused: the same prompt twice may be meant

    assert main([*run, "--prompt", "shot 13"]) == 1  # another request: nothing to say
    assert "note:" not in capsys.readouterr().err
