"""What a bash + jq script meets (an outside tester's "shell" findings): one error type and
the task it names for an idempotency key reused, one naming rule for ``error.field``, a bad
line of a jobs file that is not UTF-8 reported as that line's, and the output shapes a
line-based script reads (one line of JSON, a ``task_id`` in every error, an empty listing)."""

from __future__ import annotations

import io
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from kiekit import Client, ValidationError
from kiekit.cli import main
from kiekit.journal import Journal, MemoryStore

FAKE_KEY = "sk-fake-shell-key-0123456789"
FLUX = "flux-kontext-pro"
GROK = "grok-imagine/text-to-image"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def mock(mock_server_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)  # a fake key, for the mock: never a real one
    server = mock_server_factory(seconds_to_complete=0)
    monkeypatch.setenv("KIE_BASE_URL", server.base_url)
    monkeypatch.setenv("KIE_UPLOAD_BASE_URL", server.upload_base_url)
    return server


def kie_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    (line,) = out.splitlines()  # exactly one line of JSON, nothing else on stdout
    return code, json.loads(line)


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))


# -- finding 3: an idempotency key reused ---------------------------------------------------


@pytest.mark.parametrize(
    ("model", "prompt", "said"),
    [
        (FLUX, "different", "'k1' was used for a different input"),
        (GROK, "same", f"'k1' was used for a {FLUX} task, not {GROK}"),
    ],
    ids=["another-input", "another-model"],
)
def test_a_key_reused_is_one_validation_error_naming_its_task_and_key(
    capsys: pytest.CaptureFixture[str],
    mock: Any,
    tmp_path: Path,
    model: str,
    prompt: str,
    said: str,
) -> None:
    out = str(tmp_path / "out")
    code, made = kie_json(capsys, "run", FLUX, "--prompt", "same", "--idempotency-key", "k1",
                          "--out", out)  # fmt: skip
    assert code == 0
    code, refused = kie_json(capsys, "run", model, "--prompt", prompt, "--idempotency-key", "k1",
                             "--out", out)  # fmt: skip
    assert code == 2
    error = refused["error"]
    assert (error["type"], error["field"]) == ("ValidationError", "--idempotency-key")
    assert (error["task_id"], error["key"]) == (made["task_id"], "k1")
    assert said in error["message"]
    assert len(mock.tasks()) == 1  # nothing sent for it


def test_a_key_reused_for_another_model_is_the_library_s_validation_error_too() -> None:
    """From Python, the field keeps its parameter's name; the error carries task and key."""
    from kiekit_mock import MockServer

    with (
        MockServer() as server,
        Client(FAKE_KEY, base_url=server.base_url, journal=Journal(MemoryStore())) as kie,
    ):
        task = kie.submit(FLUX, {"prompt": "x"}, idempotency_key="k2")
        with pytest.raises(ValidationError) as refused:
            kie.submit(GROK, {"prompt": "x"}, idempotency_key="k2")
    assert refused.value.field == "idempotency_key"
    assert (refused.value.task_id, refused.value.key) == (task.id, "k2")


def test_adopting_a_task_journaled_already_names_its_task_and_row(
    capsys: pytest.CaptureFixture[str], mock: Any, tmp_path: Path
) -> None:
    code, made = kie_json(capsys, "run", FLUX, "--prompt", "x", "--idempotency-key", "k3",
                          "--out", str(tmp_path))  # fmt: skip
    assert code == 0
    code, refused = kie_json(capsys, "adopt", made["task_id"], "--model", FLUX)
    assert code == 2
    error = refused["error"]
    assert (error["type"], error["field"]) == ("ValidationError", "TASK_ID")
    assert (error["task_id"], error["key"]) == (made["task_id"], "k3")


# -- finding 4: one rule for error.field ----------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["batch", "JOBS_FILE", "--out", "OUT", "--concurrency", "0"], "--concurrency"),
        (["batch", "JOBS_FILE", "--out", "OUT", "--timeout", "0"], "--timeout"),
        (["batch", "JOBS_FILE", "--out", "OUT", "--callback-url", "ftp://x"], "--callback-url"),
        (["run", FLUX, "--prompt", "x", "--timeout", "0"], "--timeout"),
        (["run", FLUX, "--prompt", "x", "--callback-url", "ftp://x"], "--callback-url"),
        (["resume", "--timeout", "-1"], "--timeout"),
        (["tasks", "--limit", "-1"], "--limit"),
        (["batch", "NO_SUCH_FILE", "--out", "OUT"], "JOBS"),
        (["upload", ""], "FILE"),
        (["settle", "no-such-row", "--not-created"], "KEY_OR_TASK_ID"),
    ],
)
def test_error_field_names_an_option_as_typed_and_a_positional_by_its_metavar(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    field: str,
) -> None:
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    monkeypatch.setenv("KIE_BASE_URL", "http://127.0.0.1:9")  # never reached: refused first
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"model": FLUX, "input": {"prompt": "x"}}) + "\n")
    swap = {"JOBS_FILE": str(jobs), "OUT": str(tmp_path / "out"),
            "NO_SUCH_FILE": str(tmp_path / "nope.jsonl")}  # fmt: skip
    code, refused = kie_json(capsys, *(swap.get(word, word) for word in argv))
    assert code == 2
    error = refused["error"]
    assert (error["type"], error["field"]) == ("ValidationError", field)
    assert error["message"].startswith(f"{field}: ")
    assert error["task_id"] is None


def test_kie_run_refuses_a_bad_callback_url_before_it_starts_the_embedded_mock(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """shell1's note: `kie run --mock --callback-url ftp://x` started the mock, then refused."""
    import kiekit_mock

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the embedded mock was started for a run refused already")

    monkeypatch.setattr(kiekit_mock, "MockServer", never)
    code, answer = kie_json(capsys, "run", FLUX, "--prompt", "x", "--mock",
                            "--callback-url", "ftp://x")  # fmt: skip
    assert code == 2
    assert (answer["error"]["type"], answer["error"]["field"]) == (
        "ValidationError",
        "--callback-url",
    )


def test_an_invalid_callback_url_in_a_jobs_file_carries_its_field(
    capsys: pytest.CaptureFixture[str], mock: Any, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    lines = [{"id": "a", "model": FLUX, "input": {"prompt": "x"}, "callback_url": "ftp://x"},
             {"id": "b", "model": FLUX, "input": {}}]  # fmt: skip
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, answer = kie_json(capsys, "batch", str(jobs), "--out", str(tmp_path / "out"))
    assert code == 2
    results = [json.loads(line) for line in Path(answer["results"]).read_text().splitlines()]
    errors = [(r["error"]["field"], r["error"]["task_id"]) for r in results]
    assert errors == [("callback_url", None), ("prompt", None)]


# -- finding 6: a line that is not UTF-8 ----------------------------------------------------


def test_a_line_that_is_not_utf8_is_that_line_s_error_and_the_others_run(
    capsys: pytest.CaptureFixture[str], mock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = json.dumps({"id": "ok", "model": FLUX, "input": {"prompt": "fine"}}).encode()
    bad = b'{"id": "bad\xff", "model": "flux-kontext-pro", "input": {"prompt": "x"}}'
    _stdin(monkeypatch, good + b"\n" + bad + b"\n")
    code, answer = kie_json(capsys, "batch", "-", "--out", str(tmp_path / "out"))
    assert code == 1  # one job done, one refused: not every line invalid
    assert answer["states"] == {"succeeded": 1, "invalid": 1}
    results = [json.loads(line) for line in Path(answer["results"]).read_text().splitlines()]
    assert [(r["line"], r["state"]) for r in results] == [(1, "succeeded"), (2, "invalid")]
    assert results[1]["error"]["message"].startswith("is not UTF-8 text (its byte 12 is 0xff")
    assert results[1]["error"]["task_id"] is None
    assert len(mock.tasks()) == 1


# -- finding 7: shapes for line-based scripts -----------------------------------------------


def test_providers_json_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, answer = kie_json(capsys, "providers")
    assert code == 0
    assert answer["providers"]


def test_a_filter_that_matches_nothing_is_an_empty_listing_and_exit_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    code, answer = kie_json(capsys, "models", "zzz*")
    assert (code, answer) == (0, {"ok": True, "command": "models", "models": []})
    code, answer = kie_json(capsys, "models", "zzzq")
    assert (code, answer["models"]) == (0, [])
    assert main(["tasks", "--model", "nope", "--json"]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("", "no task in the journal matches\n")  # JSON Lines: no row
    assert main(["models", "zzz*"]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("", "no model id matches 'zzz*'\n")


def test_every_error_object_has_a_task_id(
    capsys: pytest.CaptureFixture[str], mock: Any, tmp_path: Path
) -> None:
    """JobsNotDone, TasksOwed, and the errors nested in results.jsonl and resume's tasks[]."""
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        json.dumps({"id": "fails", "model": FLUX, "input": {"prompt": "[mock:fail] x"}}) + "\n"
        + "not json\n"
    )  # fmt: skip
    code, answer = kie_json(capsys, "batch", str(jobs), "--out", str(tmp_path / "out"))
    assert code == 1
    assert answer["error"]["type"] == "JobsNotDone"
    assert "task_id" in answer["error"]
    assert answer["error"]["task_id"] is None
    results = [json.loads(line) for line in Path(answer["results"]).read_text().splitlines()]
    for result in results:
        assert result["error"]["task_id"] == result["task_id"]
    assert results[0]["task_id"] is not None  # the failed task, named in its error too


def test_resume_s_errors_have_a_task_id(
    capsys: pytest.CaptureFixture[str],
    mock_server_factory: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TasksOwed (its tasks are in ``tasks``: null) and each row's error (its task)."""
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    slow = mock_server_factory(seconds_to_complete=3600)  # never done while the test runs
    monkeypatch.setenv("KIE_BASE_URL", slow.base_url)
    with Client(FAKE_KEY, base_url=slow.base_url) as kie:
        task = kie.submit(FLUX, {"prompt": "slow"}, out_dir=tmp_path / "out")
    code, answer = kie_json(capsys, "resume", "--timeout", "0.01")
    assert code == 1
    assert (answer["error"]["type"], answer["error"]["task_id"]) == ("TasksOwed", None)
    [record] = answer["tasks"]
    assert (record["outcome"], record["task_id"]) == ("not_finished", task.id)
    assert record["error"]["task_id"] == task.id


# -- finding 5: kie upload's names, as its help and the README say ----------------------------

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4


def test_kie_upload_names_files_as_documented(
    capsys: pytest.CaptureFixture[str],
    mock: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hashlib

    tag = hashlib.sha256(JPEG).hexdigest()[:12]
    photo = tmp_path / "-dash ü img.JPEG"
    photo.write_bytes(JPEG)
    monkeypatch.chdir(tmp_path)
    code, answer = kie_json(capsys, "upload", "./-dash ü img.JPEG")
    assert (code, answer["file_name"]) == (0, f"-dash_img-{tag}.jpeg")  # stem, hash, extension
    _stdin(monkeypatch, JPEG)
    code, answer = kie_json(capsys, "upload", "-")
    assert (code, answer["file_name"]) == (0, f"upload-{tag}.jpg")  # as its first bytes say
    with pytest.raises(SystemExit):
        main(["upload", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "is My_photo-<hash>.png; standard input is upload-<hash>.<ext>" in said
