"""The command line's habits: --json with one shape, python -m kiekit, KIEKIT_LOG / -v, exit
codes (0 done, 1 failed, 2 bad usage or input, 130 interrupted)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kiekit import cli

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
FAKE_KEY = "sk-fake-conventions-key-0123456789"


@pytest.fixture
def mock(mock_server_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)  # a fake key, for the mock: never a real one
    return mock_server_factory()


def where(mock: Any) -> list[str]:
    return ["--base-url", mock.base_url, "--upload-base-url", mock.upload_base_url]


def kie_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = cli.main([*argv, "--json"])
    out = capsys.readouterr().out
    (line,) = out.strip().splitlines()  # exactly one JSON object, nothing else on stdout
    return code, json.loads(line)


def test_json_of_run_credits_upload_and_batch_share_one_shape(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, run = kie_json(capsys, "run", "flux-kontext-pro", "--prompt", "x",
                         "--out", str(tmp_path / "run"), *where(mock))  # fmt: skip
    assert code == 0
    assert run["ok"] is True
    assert run["command"] == "run"
    assert run["model"] == "flux-kontext-pro"
    assert run["task_id"]
    assert run["files"]
    assert all(Path(f).is_file() for f in run["files"])

    code, credits = kie_json(capsys, "credits", *where(mock))
    assert (code, credits["ok"], credits["command"]) == (0, True, "credits")
    assert isinstance(credits["credits"], float)

    photo = tmp_path / "p.png"
    photo.write_bytes(PNG)
    code, upload = kie_json(capsys, "upload", str(photo), *where(mock))
    assert (code, upload["command"], upload["size"]) == (0, "upload", len(PNG))
    assert upload["download_url"].startswith(mock.upload_base_url)

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"model": "flux-kontext-pro", "input": {"prompt": "y"}}) + "\n")
    code, batch = kie_json(capsys, "batch", str(jobs), "--out", str(tmp_path / "b"), *where(mock))
    assert (code, batch["ok"], batch["jobs"], batch["states"]) == (0, True, 1, {"succeeded": 1})
    assert Path(batch["results"]).is_file()


def test_json_errors_have_the_same_shape_and_the_exit_code_says_whose_fault(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, bad = kie_json(capsys, "run", "flux-kontext-pro", "--prompt", "x",
                         "--input", "aspectRatio=7:3", *where(mock))  # fmt: skip
    assert code == 2
    assert bad["ok"] is False
    assert bad["command"] == "run"
    assert bad["error"]["type"] == "ValidationError"
    assert "aspect_ratio" in bad["error"]["message"]

    code, failed = kie_json(capsys, "run", "flux-kontext-pro", "--prompt", "[mock:fail]",
                            "--out", str(tmp_path / "f"), *where(mock))  # fmt: skip
    assert code == 1
    assert failed["ok"] is False
    assert failed["error"]["task_id"]


@pytest.mark.parametrize(
    ("argv", "command", "said"),
    [
        (["run", "flux-kontext-pro", "--bogus"], "run", "unrecognized arguments: --bogus"),
        (["run"], "run", "the following arguments are required: MODEL"),
        (["tasks", "--state", "nope"], "tasks", "argument --state: invalid choice: 'nope'"),
        (["nosuch"], None, "argument COMMAND: invalid choice: 'nosuch'"),
    ],
)
def test_a_usage_error_with_json_is_one_json_object_too(
    capsys: pytest.CaptureFixture[str], argv: list[str], command: str | None, said: str
) -> None:
    """A pipeline reading --json output gets its one object for argparse's refusals as for
    every other failure; the usage text stays on stderr, and the exit code is still 2."""
    with pytest.raises(SystemExit) as stopped:
        cli.main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert stopped.value.code == 2
    (line,) = out.strip().splitlines()  # exactly one JSON object, nothing else on stdout
    answer = json.loads(line)
    message = answer["error"].pop("message")
    assert answer == {
        "ok": False,
        "command": command,
        "error": {"type": "UsageError", "task_id": None, "paid": False, "retryable": False},
    }
    assert said in message
    assert err.startswith("usage: kie")
    assert f"error: {said}" in err


def test_a_usage_error_without_json_prints_nothing_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["tasks", "--state", "nope"])
    assert stopped.value.code == 2
    assert capsys.readouterr().out == ""


def test_text_results_are_kept_in_results_jsonl(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    lyrics = {"model": "suno/lyrics", "input": {"prompt": "a song about the sea"}}
    jobs.write_text(json.dumps(lyrics) + "\n")
    assert cli.main(["batch", str(jobs), "--out", str(tmp_path / "b"), *where(mock)]) == 0
    (row,) = [
        json.loads(line)
        for line in (tmp_path / "b" / "results.jsonl").read_text().split("\n")
        if line
    ]
    assert row["state"] == "succeeded"
    assert row["value"], row  # the lyrics KIE returned, not only files


def run_module(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter
        [sys.executable, "-m", "kiekit", *argv],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full to fill stdout")
@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_a_full_stdout_is_told_as_stdouts_in_one_line(mock: Any, unbuffered: str) -> None:
    """Said to be stdout's: "No space left on device" alone reads as the disk files go to.
    Buffered (as Python's stdout to a file is), a short answer (credits) fails only when the
    buffer is flushed, which had been at exit: Python's "Exception ignored" and status 120."""
    env = {**os.environ, "KIE_API_KEY": FAKE_KEY, "PYTHONUNBUFFERED": unbuffered}
    for argv in (["credits", *where(mock)], ["providers"]):
        with open("/dev/full", "w") as full:
            done = subprocess.run(  # noqa: S603 - our interpreter
                [sys.executable, "-m", "kiekit", *argv],
                stdout=full, stderr=subprocess.PIPE, text=True, timeout=600, env=env, check=False,
            )  # fmt: skip
        assert done.stderr == "kie: cannot write to stdout: No space left on device\n"
        assert done.returncode == 1


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_a_stdout_that_cannot_encode_the_answer_gets_it_escaped_never_a_traceback(
    mock: Any, tmp_path: Path, encoding: str
) -> None:
    """A Windows console or pipe (cp1252), a latin-1 locale: a chat answer with an emoji was a
    UnicodeEncodeError traceback, and the answer, charged, never retried, was lost."""
    env = {**os.environ, "KIE_API_KEY": FAKE_KEY, "PYTHONIOENCODING": encoding}
    ask = ["chat", "gemini-2.5-flash", "hi 🌍", *where(mock)]
    text = run_module(*ask, env=env)
    assert (text.returncode, text.stdout) == (0, "Echo from gemini-2.5-flash: hi \\U0001f30d\n")
    as_json = run_module(*ask, "--json", env=env)  # ASCII: JSON's own escapes
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["text"] == "Echo from gemini-2.5-flash: hi 🌍"
    lyrics = run_module("run", "suno/lyrics", "--prompt", "a song 🌍", "--out", str(tmp_path),
                        *where(mock), env=env)  # fmt: skip
    assert lyrics.returncode == 0, lyrics.stderr
    assert "a song 🌍" in json.loads(lyrics.stdout)[0]["text"]  # a text result: still JSON


def run_closed(redirect: str, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``kie ARGV`` with a standard stream closed before it starts (``>&-``, ``2>&-``), as a
    daemon or a cron line leaves it: Python makes it None."""
    return subprocess.run(  # noqa: S603 - our interpreter, through sh for the redirection
        ["/bin/sh", "-c", f'exec "$@" {redirect}', "sh", sys.executable, "-m", "kiekit", *argv],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip


def test_a_closed_stdout_is_told_in_one_line_and_a_chat_is_not_sent_for_nowhere(
    mock: Any,
) -> None:
    """It was an AttributeError traceback ('NoneType' object has no attribute 'write'); a
    chat's answer, paid for and kept nowhere else, was lost."""
    env = {**os.environ, "KIE_API_KEY": FAKE_KEY}
    for argv in (["providers"], ["chat", "gemini-2.5-flash", "hi", *where(mock)]):
        done = run_closed(">&-", *argv, env=env)
        assert (done.returncode, done.stderr) == (1, "kie: cannot write to stdout: it is closed\n")
    assert mock.requests() == []  # the chat was refused before it was sent


@pytest.mark.parametrize(
    "redirect",
    [
        "2>&-",
        pytest.param("2>/dev/full", marks=pytest.mark.skipif(
            not Path("/dev/full").exists(), reason="no /dev/full to fill stderr")),
    ],
)  # fmt: skip
def test_a_closed_stderr_neither_stops_a_paid_run_nor_sends_messages_to_stdout(
    mock: Any, tmp_path: Path, redirect: str
) -> None:
    """print(file=None) writes to stdout: "created task ..." went among the results, then the
    progress display's stderr.isatty() on None stopped the run right after its create. A
    standard error that refuses writes (a full disk) must not stop it either."""
    env = {**os.environ, "KIE_API_KEY": FAKE_KEY}
    argv = ["run", "flux-kontext-pro", "--prompt", "x", "--out", str(tmp_path), *where(mock)]
    done = run_closed(redirect, *argv, env=env)
    assert done.returncode == 0
    files = done.stdout.splitlines()
    assert len(files) == 2  # the result files' paths, and nothing else
    assert all(Path(name).is_file() for name in files)


def test_python_m_kiekit_is_the_kie_command_and_kiekit_log_shows_requests_never_the_key(
    mock: Any,
) -> None:
    env = {**os.environ, "KIE_API_KEY": FAKE_KEY, "KIEKIT_LOG": "debug"}
    done = run_module("credits", *where(mock), env=env)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == 1000.0
    assert "GET /api/v1/chat/credit" in done.stderr
    assert "kiekit.http DEBUG" in done.stderr
    assert FAKE_KEY not in done.stderr + done.stdout

    quiet = run_module("credits", *where(mock), env={**env, "KIEKIT_LOG": ""})
    assert "GET /api/v1/chat/credit" not in quiet.stderr
    verbose = run_module("-vv", "credits", *where(mock), env={**env, "KIEKIT_LOG": ""})
    assert "GET /api/v1/chat/credit" in verbose.stderr
    assert "GET /api/v1/chat/credit: HTTP 200, answered in" in verbose.stderr  # how it ended


def test_kie_v_logs_what_happened_to_the_task_and_vv_each_request(tmp_path: Path) -> None:
    """-v: the task's story (created, how it ended, each file); -vv adds every request."""
    argv = ["run", "flux-kontext-pro", "--prompt", "x", "--mock", "--mock-seconds", "0"]
    env = {**os.environ, "KIEKIT_LOG": "", "KIEKIT_DATA_DIR": str(tmp_path / "data")}
    told = run_module("-v", *argv, "--out", str(tmp_path / "a"), env=env).stderr
    assert "kiekit INFO created task " in told
    assert " succeeded" in told
    assert "kiekit INFO task " in told
    assert ": downloaded " in told
    assert "DEBUG" not in told
    every = run_module("-vv", *argv, "--out", str(tmp_path / "b"), env=env).stderr
    assert "kiekit.http DEBUG POST /api/v1/flux/kontext/generate: HTTP 200, answered in" in every


def test_usage_errors_exit_2_and_help_lists_the_exit_codes() -> None:
    env = {k: v for k, v in os.environ.items() if k != "KIE_API_KEY"}
    assert run_module("no-such-command", env=env).returncode == 2
    assert run_module("credits", env=env).returncode == 2  # no key: nothing could be sent
    assert "exit codes" in run_module("--help", env=env).stdout


def test_the_embedded_mock_is_polled_at_its_own_pace_not_kies() -> None:
    from kiekit.cli._common import mock_poll

    instant = mock_poll(0)
    assert instant.first_poll == 0  # a task done at once is asked about at once
    demo = mock_poll(3.0)
    assert demo.first_poll <= 0.3
    assert demo.interval(100) <= 0.3  # several progress updates within the task's 3 s


def test_a_field_given_twice_fails_loudly_instead_of_keeping_the_last(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`--input image_urls=a --input image_urls=b` would have sent b alone: a lost image."""
    from kiekit.cli import main

    argv = ["run", "grok-imagine/image-to-image", "--prompt", "x", "--mock", "--out", str(tmp_path)]
    a, b = "image_urls=https://a.test/1.png", "image_urls=https://a.test/2.png"
    assert main([*argv, "--input", a, "--input", b]) == 2
    err = capsys.readouterr().err
    assert "image_urls: is given twice" in err
    assert "--input image_urls=URL1,URL2" in err
    assert list(tmp_path.iterdir()) == []  # nothing created, nothing written


def test_a_batch_logged_to_no_terminal_says_each_failed_job_and_the_summary_without_a_bar(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    good = {"id": "good", "model": "flux-kontext-pro", "input": {"prompt": "a lighthouse"}}
    bad = {"id": "bad", "model": "flux-kontext-pro", "input": {"prompt": "a storm [mock:fail]"}}
    jobs.write_text(f"{json.dumps(good)}\n{json.dumps(bad)}\n")

    assert cli.main(["batch", str(jobs), "--out", str(tmp_path / "b"), *where(mock)]) == 1

    err = capsys.readouterr().err
    assert "job bad (line 2): failed" in err
    assert "job good" not in err  # succeeded: nothing to say until the summary
    assert "2 job(s): 1 failed, 1 succeeded" in err
    assert "━" not in err


def test_a_file_error_no_typed_error_covers_names_the_file_and_answers_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno

    from kiekit.cli import credits

    def full(args: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", "/data/out/x.part")

    monkeypatch.setattr(credits, "_credits", full)
    assert cli.main(["credits", "--json"]) == 1
    out, err = capsys.readouterr()
    said = "/data/out/x.part: No space left on device"  # was the bare strerror, no object
    assert err == f"kie: error: {said}\n"
    answer = json.loads(out)
    assert answer["ok"] is False
    assert answer["error"] == {
        "type": "OSError",
        "message": said,
        "task_id": None,
        "paid": None,
        "retryable": False,
    }


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full to fill a file")
def test_a_batch_whose_results_file_fills_the_disk_names_it_and_keeps_every_jobs_line(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A full disk under the results file: a bare "No space left on device", no line for any
    job (their tasks made and paid for), and no --json object; it stopped the jobs too."""
    jobs = tmp_path / "jobs.jsonl"
    lines = [{"id": f"j{i}", "model": "flux-kontext-pro", "input": {"prompt": f"p{i}"}}
             for i in range(2)]  # fmt: skip
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "b"
    out.mkdir()
    results = out / "results.jsonl"
    for name in ("results.jsonl", "results.jsonl.part"):  # each write of it: ENOSPC
        (out / name).symlink_to("/dev/full")

    code = cli.main(["batch", str(jobs), "--out", str(out), "--json", *where(mock)])
    stdout, err = capsys.readouterr()

    assert code == 1
    (answer,) = map(json.loads, stdout.splitlines())
    assert answer["ok"] is False
    assert answer["error"] == {
        "type": "FileWriteError",
        "message": f"cannot write {results}: No space left on device",
        "path": str(results),
        "task_id": None,
    }
    done = answer["job_results"]
    assert [(r["id"], r["state"]) for r in done] == [("j0", "succeeded"), ("j1", "succeeded")]
    assert f"kie batch: cannot write {results}: No space left on device" in err
    for result in done:  # each job's line, task id and all, where it can still be read
        assert json.dumps(result) in err.splitlines()
        assert all(Path(f).is_file() for f in result["files"])
    assert not (out / "results.jsonl.part").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "flux-kontext-pro", "--prompt", "x", "--mock", "--timeout", "-5"],
         "kie: error: --timeout: must be a positive number of seconds, not '-5'"),
        (["run", "flux-kontext-pro", "--prompt", "x", "--mock", "--mock-seconds", "-1"],
         "kie: error: --mock-seconds: must be 0 or more seconds, not '-1'"),
        (["batch", "jobs.jsonl", "--out", "o", "--mock", "--timeout", "nan"],
         "kie: error: --timeout: must be a finite number of seconds, not 'nan'"),
        (["resume", "--poll-interval", "0"],
         "kie: error: --poll-interval: must be a positive number of seconds, not '0'"),
    ],
)  # fmt: skip
def test_a_number_of_seconds_out_of_range_is_a_validation_error_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value the option's own check refuses is a ValidationError naming the option as typed
    (``error.field``), exit 2, as ``--limit -1`` is; not a traceback."""
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_mock_seconds_past_what_the_mock_takes_is_a_usage_error_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """1e308 is a finite number of seconds: the mock's own ValueError was a traceback."""
    argv = ["run", "flux-kontext-pro", "--prompt", "x", "--mock", "--mock-seconds", "1e308"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("kie: error: --mock-seconds: ")
    assert "(100 years)" in err
    assert "mock KIE server on" not in err  # refused before it started


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "flux-kontext-pro", "--prompt", "x", "--mock", "--image", ""],
         "kie: error: --image: is empty: give a path"),
        (["run", "flux-kontext-pro", "--prompt", "x", "--mock", "--out", ""],
         "kie: error: --out: is empty: give a path"),
        (["batch", "", "--out", "o", "--mock"], "kie: error: JOBS: is empty: give a path"),
        (["batch", "j.jsonl", "--out", "", "--mock"], "kie: error: --out: is empty: give a path"),
        (["batch", "j.jsonl", "--out", "o", "--results", "", "--mock"],
         "kie: error: --results: is empty: give a path"),
        (["resume", "--out", ""], "kie: error: --out: is empty: give a path"),
        (["plugin", "new", "acme-x", "--dir", ""], "kie: error: --dir: is empty: give a path"),
        (["credits", "--base-url", "http://127.0.0.1:9", "--ca-file", ""],
         "kie: error: --ca-file: is empty: give a path"),
        (["tasks", "--journal", ""], "kie: error: --journal: is empty: give a URL or a path"),
    ],
)  # fmt: skip
def test_an_empty_path_is_a_validation_error_naming_the_option_not_the_current_folder(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """argparse's Path("") is ".": `kie run --image ""` read the current folder as the image,
    `--out ""` wrote results into it, `--ca-file ""` trusted the system's CAs, `--journal ""`
    used the default journal."""
    monkeypatch.chdir(tmp_path)  # the current folder is what an empty path wrote into
    (tmp_path / "j.jsonl").write_text('{"model": "flux-kontext-pro", "input": {"prompt": "x"}}\n')
    assert cli.main(argv) == 2  # a ValidationError naming the option (error.field)
    assert message in capsys.readouterr().err
    assert [path.name for path in tmp_path.iterdir()] == ["j.jsonl"]  # nothing written


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["chat", "gpt-5-2", "hi", "--mock", "--image", ""],
         "kie: error: --image: is empty: give an image file, an http(s) or data:image URL\n"),
        (["run", "flux-kontext-pro", "--prompt", "x", "--mock", "--input", "input_image=@"],
         "kie: error: input_image: @ names no file: give @path\n"),
    ],
)  # fmt: skip
def test_an_empty_file_in_a_value_is_refused_naming_it(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == message


def test_no_option_of_kie_takes_a_bare_path() -> None:
    """Every path option goes through the check above (a new one with type=Path would not)."""
    from kiekit.cli import _parser

    subparsers = _parser()._subparsers
    assert subparsers is not None
    parsers = list(subparsers._group_actions[0].choices.values())  # type: ignore[union-attr]
    bare = []
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if action.type is Path:
                bare.append(f"{parser.prog} {action.dest}")
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    assert bare == []


@pytest.mark.parametrize("balance", [123456.75, 1234567.25, 0.000125, 5916.0])
def test_credits_prints_every_digit_of_the_balance(
    balance: float,
    mock_server_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An auditor read 123457 for 123456.75 and 1.23457e+06 for 1234567.25: ``:g`` kept six
    digits. The text says the balance as --json does, without an exponent."""
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    mock = mock_server_factory(starting_credits=balance)
    assert cli.main(["credits", *where(mock)]) == 0
    out = capsys.readouterr().out
    assert out == {5916.0: "5916", 0.000125: "0.000125"}.get(balance, repr(balance)) + "\n"


def test_a_batch_summary_tells_jobs_that_paid_for_nothing_from_tasks_made(
    mock_server_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 402 and a wait that timed out were both "error": only task_id told an auditor what
    was paid for. After the 402 nothing more is sent, and the summary says what was paid."""
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    mock = mock_server_factory(starting_credits=10)  # two flux-kontext-pro images
    jobs = tmp_path / "jobs.jsonl"
    lines = [{"id": f"j{i}", "model": "flux-kontext-pro", "input": {"prompt": f"p{i}"}}
             for i in range(4)]  # fmt: skip
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    argv = ["batch", str(jobs), "--out", str(tmp_path / "b"), "--concurrency", "1", *where(mock)]

    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert (
        "4 job(s): 1 not sent (credits ran out), 1 refused (nothing paid), 2 succeeded; "
        "2 made a task (paid for)"
    ) in err
    assert "top up the account (kie credits) and run the batch again" in err
    sent = [r for r in mock.requests() if r.path == "/api/v1/flux/kontext/generate"]
    assert len(sent) == 3


def test_a_batch_counts_only_the_tasks_it_made_as_paid_for(
    mock_server_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Teamops finding 4: a rerun that sent nothing said "2 made a task (paid for)" and
    ``tasks_made: 2``; the tasks found made before are counted apart (``tasks_found``)."""
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    mock = mock_server_factory(polls_to_complete=0)
    jobs = tmp_path / "jobs.jsonl"
    lines = [{"id": f"j{i}", "model": "grok-imagine/text-to-image", "input": {"prompt": f"p{i}"}}
             for i in range(2)]  # fmt: skip
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines))

    def batch(out: str) -> tuple[dict[str, Any], str]:
        argv = ["batch", str(jobs), "--out", str(tmp_path / out), "--json", *where(mock)]
        assert cli.main(argv) == 0
        said = capsys.readouterr()
        return json.loads(said.out), " ".join(said.err.split())

    first, err = batch("a")
    assert (first["tasks_made"], first["tasks_found"]) == (2, 0)
    assert "2 job(s): 2 succeeded; 2 made a task (paid for); results in" in err
    sent = len(mock.requests())
    again, err = batch("b")  # another worker's folder: the jobs are done, nothing is sent
    assert len(mock.requests()) == sent
    assert (again["tasks_made"], again["tasks_found"]) == (0, 2)
    assert (
        "2 job(s): 2 succeeded; 0 made a task (paid for), 2 found made before (another "
        "worker's or an earlier run's); results in"
    ) in err
    report = [
        json.loads(line) for line in (tmp_path / "b" / "results.jsonl").read_text().splitlines()
    ]
    assert [r["made"] for r in report] == [False, False]


@pytest.mark.parametrize("command", ["run", "batch", "chat", "tasks", "settle"])
def test_help_reaches_an_ascii_stdout_escaped(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    raw = io.BytesIO()  # an ASCII standard output, as under LC_ALL=C PYTHONUTF8=0
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii"))
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    sys.stdout.flush()
    assert exited.value.code == 0
    assert b"\\u2026" in raw.getvalue()  # argparse's text, '…' escaped


def test_an_outcome_unknown_create_names_its_journal_key_in_json(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The key `kie settle KEY` needs was only in the message's words (found by an outside
    tester); a stopped create's `Interrupted` object had it."""
    from kiekit.journal import EntryState, default_journal
    from kiekit_mock import FaultRule

    mock.faults.add(FaultRule("reset", when="after", method="POST", path="/api/v1/flux/*", times=1))
    code, lost = kie_json(capsys, "run", "flux-kontext-pro", "--prompt", "x",
                          "--out", str(tmp_path), *where(mock))  # fmt: skip
    assert code == 1
    error = lost["error"]
    assert (error["type"], error["task_id"]) == ("OutcomeUnknownError", None)
    [row] = default_journal().select()
    assert row.state is EntryState.UNKNOWN
    assert error["key"] == row.key


def test_a_failed_download_names_its_file_url_and_http_status_in_json(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README promised `path` for a failed download; the URL was on standard error only."""
    from kiekit_mock import FaultRule

    mock.faults.add(FaultRule("http", status=502, method="GET", path="/files/*"))
    code, failed = kie_json(capsys, "run", "flux-kontext-pro", "--prompt", "x",
                            "--out", str(tmp_path), *where(mock))  # fmt: skip
    assert code == 1
    error = failed["error"]
    assert error["type"] == "DownloadError"
    assert error["http_status"] == 502
    assert error["url"].startswith(f"{mock.base_url}/files/{error['task_id']}/")
    assert error["path"].startswith(str(tmp_path / error["task_id"]))
    assert not Path(error["path"]).exists()  # the file it would have been


def run_reader_gone(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``kie ARGV`` writing to a pipe whose reader left before kie's first write (``| head``
    done, deterministically: the read end is closed before kie starts)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(  # noqa: S603 - our interpreter
            [sys.executable, "-m", "kiekit", *argv],
            stdout=writer, stderr=subprocess.PIPE, text=True, timeout=600, env=env, check=False,
        )  # fmt: skip
    finally:
        os.close(writer)


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], ["providers"], ["models"], ["models", "flux-kontext-pro"]]
)
def test_a_reader_gone_before_the_output_ends_every_command_with_sigpipes_status(
    argv: list[str],
) -> None:
    """`kie providers | head -1` exited 0 or 141 by timing, --help 0 (found by an outside
    tester): 141 whenever a write finds the reader gone, said by nothing on standard error."""
    done = run_reader_gone(*argv, env=dict(os.environ))
    assert (done.returncode, done.stderr) == (141, "")


def test_a_run_whose_reader_left_still_fetches_and_journals_its_task_then_exits_141(
    mock: Any, tmp_path: Path
) -> None:
    """`kie run … | head -1`: the reader leaving must not cost the task paid for; a failed
    task is still said as failed (1), not as the reader's leaving."""
    from kiekit.journal import EntryState, SqliteStore

    env = {**os.environ, "KIE_API_KEY": FAKE_KEY}
    out = tmp_path / "out"
    for argv in (["run", "flux-kontext-pro", "--prompt", "x"], ["run", "flux-kontext-pro",
                 "--prompt", "x", "--json"]):  # fmt: skip
        done = run_reader_gone(*argv, "--out", str(out), *where(mock), env=env)
        assert done.returncode == 141, done.stderr
        assert "Traceback" not in done.stderr
    rows = SqliteStore(Path(os.environ["KIEKIT_DATA_DIR"]) / "journal.sqlite3").entries()
    assert [(row.state, row.unfinished) for row in rows] == [(EntryState.SUCCEEDED, False)] * 2
    assert len(list(out.iterdir())) == 4  # two files a task, each fetched whole
    failed = run_reader_gone("run", "flux-kontext-pro", "--prompt", "[mock:fail]",
                             "--out", str(out), *where(mock), env=env)  # fmt: skip
    assert failed.returncode == 1


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_a_dash_reads_the_jobs_and_the_upload_from_standard_input(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cat jobs.jsonl | kie batch - …` was "cannot read -: No such file or directory"."""
    job = json.dumps({"id": "a", "model": "flux-kontext-pro", "input": {"prompt": "x"}})
    _stdin(monkeypatch, f"{job}\nnot json\n".encode())
    code = cli.main(["batch", "-", "--out", str(tmp_path / "b"), "--json", *where(mock)])
    said = capsys.readouterr()
    batch = json.loads(said.out)
    assert (code, batch["jobs"], batch["states"]) == (1, 2, {"succeeded": 1, "invalid": 1})
    assert "<stdin>:2: not JSON" in said.err

    _stdin(monkeypatch, PNG)
    code, upload = kie_json(capsys, "upload", "-", *where(mock))
    assert (code, upload["size"], upload["mime_type"]) == (0, len(PNG), "image/png")


@pytest.mark.parametrize("command", ["batch", "upload"])
def test_a_missing_file_or_empty_stdin_is_one_validation_error_for_batch_and_upload(
    command: str,
    mock: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The jobs file missing was a ConfigurationError, the upload's a ValidationError."""
    out = ["--out", str(tmp_path / "b")] if command == "batch" else []
    code, missing = kie_json(capsys, command, str(tmp_path / "nope"), *out, *where(mock))
    assert (code, missing["error"]["type"]) == (2, "ValidationError")
    assert missing["error"]["message"].endswith(f"no such file: {tmp_path / 'nope'}")
    monkeypatch.setattr(sys, "stdin", None)  # `<&-`
    code, closed = kie_json(capsys, command, "-", *out, *where(mock))
    assert (code, closed["error"]["type"]) == (2, "ValidationError")
    assert "- reads standard input, which is closed" in closed["error"]["message"]
    assert mock.requests() == []


def test_the_help_of_batch_and_upload_says_a_dash_is_standard_input() -> None:
    for command in ("batch", "upload"):
        said = run_module(command, "--help", env=dict(os.environ)).stdout
        assert "- reads standard input" in " ".join(said.split()) or "- for standard input" in said


def _error_types_table() -> dict[str, list[int]]:
    """README's table of `--json` error types: each type's exit codes, as the table says."""
    import re

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- error-types: start -->")[1].split("<!-- error-types: end -->")[0]
    rows = [line.strip().strip("|").split("|") for line in table.strip().splitlines()[2:]]
    found = {}
    for name, _what, codes in rows:
        typed = re.search(r"`(\w+)`", name)
        assert typed, name
        found[typed[1]] = [int(code) for code in re.findall(r"\d+", codes)]
    return found


def test_the_readme_lists_every_error_type_and_the_exit_code_kie_gives_it() -> None:
    """One table a script can branch on, kept in step with kiekit.errors and kie's codes: a
    new error class, or a class whose code changes, fails here until the README says so."""
    from kiekit import errors
    from kiekit.journal import JournalError, TakenOver

    table = _error_types_table()
    classes = {
        cls.__name__: cls
        for cls in (*(getattr(errors, name) for name in errors.__all__), JournalError, TakenOver)
        if isinstance(cls, type) and issubclass(cls, errors.KieError) and cls is not errors.KieError
    }
    others = {"UsageError": [cli.EXIT_USAGE], "JobsNotDone": [cli.EXIT_FAILED],
              "TasksOwed": [cli.EXIT_FAILED],
              "Interrupted": [cli.EXIT_INTERRUPTED, cli.EXIT_TERMINATED],
              "OSError": [cli.EXIT_FAILED]}  # fmt: skip
    assert set(table) == set(classes) | set(others)
    for name, cls in classes.items():
        assert table[name] == [cli.exit_code(cls.__new__(cls))], name
    for name, codes in others.items():
        assert table[name] == codes, name
    unreachable = JournalError("journal: the database is down", unreachable=True)
    assert cli.exit_code(unreachable) == cli.EXIT_FAILED  # as the table's line says


def test_a_resume_whose_reader_left_finishes_every_task_before_it_exits_141(
    mock: Any, tmp_path: Path
) -> None:
    """`kie resume | head -1` stopped at its first line written (unbuffered: each line is
    written as it comes), leaving the other tasks unfetched (found by an outside tester)."""
    from kiekit import Client
    from kiekit.journal import default_journal

    with Client(FAKE_KEY, base_url=mock.base_url) as kie:
        for n in range(2):
            kie.submit("flux-kontext-pro", {"prompt": f"task {n}"}, out_dir=tmp_path / "out")
    assert all(row.unfinished for row in default_journal().entries())
    env = {**os.environ, "KIE_API_KEY": FAKE_KEY, "PYTHONUNBUFFERED": "1"}
    done = run_reader_gone("resume", "--base-url", mock.base_url, env=env)
    assert done.returncode == 141, done.stderr
    assert not any(row.unfinished for row in default_journal().entries())
    assert len(list((tmp_path / "out").iterdir())) == 4


def test_an_errors_json_to_a_closed_stdout_is_told_in_one_line_not_a_traceback() -> None:
    """The error object printed after the command failed went past the one-line telling of
    a stdout that fails: a traceback ("OSError: [Errno 9] it is closed")."""
    env = {k: v for k, v in os.environ.items() if k != "KIE_API_KEY"}  # refused: no key
    # the refusal keeps its own code (2, test_cli_for_scripts); --help, whose work is its text, 1
    for argv, code in ((["credits", "--json"], 2), (["--help"], 1)):
        done = run_closed(">&-", *argv, env=env)
        assert "Traceback" not in done.stderr
        assert done.stderr.endswith("kie: cannot write to stdout: it is closed\n")
        assert done.returncode == code
