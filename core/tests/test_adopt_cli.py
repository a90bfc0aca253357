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
