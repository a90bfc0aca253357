"""``kie adopt``: a task created outside kiekit (code moving to it a piece at a time) is taken
into the journal, and ``kie tasks`` / ``kie resume`` cover it as a task kiekit made."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kiekit import Client
from kiekit.cli import main
from kiekit.journal import default_journal

VEO = "veo3_fast"


@pytest.fixture
def fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIE_API_KEY", "fake-key-for-the-mock")


def _rows(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["tasks", "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_task_the_old_code_created_is_adopted_and_kie_resume_downloads_its_files(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """`kie settle ID --task-id ID` refused it ("no row in the task journal"), and there was
    no other way (outside tester "migrant", M2)."""
    mock = mock_server_factory(polls_to_complete=1)
    with Client(base_url=mock.base_url, journal=None) as old_code:  # it journals nothing
        made = old_code.submit(VEO, prompt="a lighthouse")
    assert _rows(capsys) == []
    out = tmp_path / "out"
    adopt = ["adopt", made.id, "--model", VEO, "--base-url", mock.base_url, "--out", str(out)]

    assert main(adopt) == 0
    assert "kie resume finishes it" in capsys.readouterr().err
    [row] = _rows(capsys)
    assert (row["task_id"], row["model"], row["state"]) == (made.id, VEO, "created")
    assert (row["base_url"], row["out_dir"]) == (mock.base_url, str(out.resolve()))

    assert main(adopt) == 2  # once only
    assert f"task {made.id} is in the journal already" in capsys.readouterr().err
    assert main(["resume", "--base-url", mock.base_url]) == 0
    [done] = _rows(capsys)
    assert done["state"] == "succeeded"
    assert done["files"]
    assert all(Path(path).parent == out.resolve() for path in done["files"])
    assert len(mock.tasks()) == 1  # never created again


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "veo3_fst"], "did you mean 'veo3_fast'?"),  # a typo is no row
        (["--model", "claude-haiku-4-5"], "is a chat model, not a task"),
        (["--model", VEO, "--out", ""], "--out: is empty"),
    ],
)
def test_kie_adopt_refuses_a_model_it_cannot_poll_before_writing_anything(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    try:
        status = main(["adopt", "5f488be792eafad4b066e21e5bc472c7", *argv])
    except SystemExit as usage:  # argparse's own usage errors
        status = usage.code  # type: ignore[assignment]
    assert status == 2
    assert message in capsys.readouterr().err
    assert default_journal().entries() == []


def test_kie_adopt_needs_the_key_that_made_the_task(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adopt", "5f488be792eafad4b066e21e5bc472c7", "--model", VEO]) == 2
    assert "KIE_API_KEY is not set" in capsys.readouterr().err
    assert default_journal().entries() == []


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    said: dict[str, Any] = json.loads(capsys.readouterr().out)
    return said


def test_kie_adopt_json_prints_the_row_it_wrote_and_its_refusals_as_every_command_does(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """A migration script adopts its old tasks in a loop and reads what happened: `--json`
    was refused ("unrecognized arguments"), as the one command of the journal's without it."""
    mock = mock_server_factory(polls_to_complete=1)
    with Client(base_url=mock.base_url, journal=None) as old_code:
        made = old_code.submit(VEO, prompt="a lighthouse")
    out = tmp_path / "out"
    adopt = ["adopt", made.id, "--model", VEO, "--base-url", mock.base_url, "--out", str(out)]

    assert main([*adopt, "--json"]) == 0
    said = _json(capsys)
    [row] = _rows(capsys)
    assert said == {
        "ok": True,
        "command": "adopt",
        "task_id": made.id,
        "model": VEO,
        "key": row["key"],
        "base_url": mock.base_url,
        "out_dir": str(out.resolve()),
        "reopened": False,
    }
    assert main([*adopt, "--json"]) == 2
    refused = _json(capsys)
    assert (refused["ok"], refused["command"]) == (False, "adopt")
    assert refused["error"]["type"] == "ValidationError"
    assert f"task {made.id} is in the journal already" in refused["error"]["message"]
    with pytest.raises(SystemExit) as usage_error:  # no --model: argparse's refusal
        main(["adopt", made.id, "--json"])
    assert usage_error.value.code == 2
    usage = _json(capsys)
    assert (usage["command"], usage["error"]["type"]) == ("adopt", "UsageError")


def test_a_task_whose_row_was_abandoned_is_adopted_again_and_kie_resume_finishes_it(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """Abandoning is the journal's decision, not KIE's: a user who abandoned a task thought
    lost and then found it real was refused ("in the journal already"), with no way back. The
    row is reopened, its key kept: one row for the task, and kie resume finishes it."""
    mock = mock_server_factory(polls_to_complete=1)
    with Client(base_url=mock.base_url, journal=None) as old_code:
        made = old_code.submit(VEO, prompt="a lighthouse")
    out = tmp_path / "out"
    adopt = ["adopt", made.id, "--model", VEO, "--base-url", mock.base_url, "--out", str(out)]
    assert main(adopt) == 0
    assert main(["settle", made.id, "--abandon", "--reason", "thought lost"]) == 0
    [abandoned] = _rows(capsys)
    assert abandoned["state"] == "failed"

    assert main([*adopt, "--json"]) == 0
    said = _json(capsys)
    assert (said["key"], said["reopened"]) == (abandoned["key"], True)
    [row] = _rows(capsys)
    assert (row["key"], row["state"], row["error"]) == (abandoned["key"], "created", None)
    assert main(adopt) == 2  # open again: adopted once only, as before
    assert main(["resume", "--base-url", mock.base_url]) == 0
    [done] = _rows(capsys)
    assert (done["state"], len(done["files"])) == ("succeeded", 1)
    assert len(mock.tasks()) == 1  # never created again


def test_a_task_kiekit_created_and_abandoned_is_taken_back_with_the_model_it_was_sent_as(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """Its row keeps the create's body and model (what kiekit sent): another model is a slip,
    refused naming the right one."""
    mock = mock_server_factory(polls_to_complete=1)
    with Client(base_url=mock.base_url) as kie:
        made = kie.submit(VEO, prompt="a lighthouse")
    assert main(["settle", made.id, "--abandon"]) == 0
    adopt = ["adopt", made.id, "--base-url", mock.base_url, "--model"]

    assert main([*adopt, "veo3"]) == 2
    assert f"adopt it as {VEO}" in capsys.readouterr().err
    assert main([*adopt, VEO]) == 0
    assert "in the journal again (its abandoned row" in capsys.readouterr().err
    [row] = _rows(capsys)
    assert (row["state"], row["model"]) == ("created", VEO)
    assert row["request"] is not None  # the create's body, kept
