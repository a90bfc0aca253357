"""What a shell power user meets (an outside tester's "cliuser" findings): an empty
idempotency key, ``--prompt -`` and ``--prompt @file``, ``--mock`` reruns with a key, host
variables under a plausible wrong name, what to do after a paid task's timeout or failed
download, ``--results -``, numeric options, ``--json`` and ``-v`` on either side of the
command, the fields a script decides on, shell completion and ``--print0``."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from kiekit import cli
from kiekit.errors import ConfigurationError
from kiekit.settings import DEFAULT_BASE_URL, UnknownVariableWarning, endpoints

FAKE_KEY = "sk-fake-power-user-0123456789"
FLUX = "flux-kontext-pro"


@pytest.fixture(autouse=True)
def instant_mock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli._common, "DEMO_SECONDS", 0.0)  # an embedded --mock's task: at once


@pytest.fixture
def mock(mock_server_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)  # a fake key, for the mock: never a real one
    server = mock_server_factory(seconds_to_complete=0)
    monkeypatch.setenv("KIE_BASE_URL", server.base_url)
    monkeypatch.setenv("KIE_UPLOAD_BASE_URL", server.upload_base_url)
    return server


def kie_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli.main([*argv, "--json"])
    out = capsys.readouterr().out
    (line,) = out.splitlines()  # exactly one line of JSON, nothing else on stdout
    return code, json.loads(line)


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))


def _prompts(mock: Any) -> list[str]:
    return [task.request_body["prompt"] for task in mock.tasks()]


# -- 1. an empty --idempotency-key ------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "  "])
def test_an_empty_idempotency_key_is_refused_naming_the_option_before_anything_is_paid(
    capsys: pytest.CaptureFixture[str], mock: Any, tmp_path: Path, key: str
) -> None:
    """`--idempotency-key "$KEY"` with KEY unset was taken as no key: each rerun paid again."""
    code, refused = kie_json(capsys, "run", FLUX, "--prompt", "x", "--idempotency-key", key,
                             "--out", str(tmp_path))  # fmt: skip
    assert code == 2
    assert refused["error"]["field"] == "--idempotency-key"
    assert "is empty" in refused["error"]["message"]
    assert mock.tasks() == []


# -- 2. --prompt - and --prompt @file ---------------------------------------------------------


def test_prompt_dash_reads_standard_input(
    capsys: pytest.CaptureFixture[str], mock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`echo text | kie run MODEL --prompt -` sent the prompt "-", and paid for it."""
    _stdin(monkeypatch, b"a fox in the snow\n")
    code, made = kie_json(capsys, "run", FLUX, "--prompt", "-", "--out", str(tmp_path))
    assert code == 0, made
    assert _prompts(mock) == ["a fox in the snow\n"]


def test_prompt_file_reads_the_file_and_dash_reads_standard_input(
    capsys: pytest.CaptureFixture[str], mock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompt = tmp_path / "p.txt"
    prompt.write_bytes("\ufeffa red маяк".encode())
    assert (
        kie_json(capsys, "run", FLUX, "--prompt-file", str(prompt), "--out", str(tmp_path))[0] == 0
    )
    _stdin(monkeypatch, b"from stdin")
    assert kie_json(capsys, "run", FLUX, "--prompt-file", "-", "--out", str(tmp_path))[0] == 0
    assert _prompts(mock) == ["a red маяк", "from stdin"]


@pytest.mark.parametrize("exists", [True, False], ids=["a-file", "no-such-file"])
def test_a_lone_at_word_prompt_is_refused_as_a_file_name_given_by_mistake(
    capsys: pytest.CaptureFixture[str],
    mock: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    exists: bool,
) -> None:
    """`--prompt @p.txt` sent the text "@p.txt" (while `--input prompt=@p.txt` is refused)."""
    monkeypatch.chdir(tmp_path)
    if exists:
        Path("p.txt").write_text("the prompt")
    code, refused = kie_json(capsys, "run", FLUX, "--prompt", "@p.txt", "--out", "o")
    assert code == 2
    assert refused["error"]["field"] == "--prompt"
    assert "--prompt-file p.txt" in refused["error"]["message"]
    assert "@@p.txt" in refused["error"]["message"]
    assert mock.tasks() == []


def test_a_prompt_that_starts_with_at_is_text_when_it_has_words_or_an_at_at(
    capsys: pytest.CaptureFixture[str], mock: Any, tmp_path: Path
) -> None:
    for given in ("@alice in a red coat", "@@p.txt"):
        assert kie_json(capsys, "run", FLUX, "--prompt", given, "--out", str(tmp_path))[0] == 0
    assert _prompts(mock) == ["@alice in a red coat", "@p.txt"]


def test_an_empty_or_unreadable_prompt_file_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str], mock: Any, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    for path, said in ((empty, "is empty"), (latin, "is not UTF-8"), (tmp_path / "no", "cannot")):
        code, refused = kie_json(capsys, "run", FLUX, "--prompt-file", str(path))
        assert code == 2
        assert refused["error"]["field"] == "--prompt-file"
        assert said in refused["error"]["message"]
    assert mock.tasks() == []


# -- 3. kie run --mock --idempotency-key, run twice -------------------------------------------


def test_a_mock_run_with_a_key_can_be_run_again(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Each --mock run has a new port: the second run was refused ("key was used on
    http://127.0.0.1:PORT1"), with no way forward. As `kie batch --mock`, it is made again."""
    argv = [
        "run",
        FLUX,
        "--prompt",
        "x",
        "--mock",
        "--idempotency-key",
        "K",
        "--out",
        str(tmp_path),
    ]
    code, first = kie_json(capsys, *argv)
    assert code == 0
    capsys.readouterr()
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "that is gone: made again on http://127.0.0.1:" in err
    assert "created task" in err
    assert "was made before" not in err
    assert first["task_id"] not in out  # a new task's files
    assert len(out.splitlines()) == len(first["files"])


# -- 4. a host variable under a plausible wrong name ------------------------------------------


@pytest.mark.parametrize("name", ["KIE_API_URL", "KIE_ENDPOINT", "KIE_API_BASE", "KIEKIT_HOST"])
def test_a_host_variable_under_a_wrong_name_is_refused_naming_kie_base_url(name: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        endpoints(environ={name: "http://127.0.0.1:9"})
    assert f"{name} is not a variable kiekit reads; did you mean KIE_BASE_URL?" in str(
        refused.value
    )


def test_other_unknown_variables_and_a_named_host_are_only_warned() -> None:
    for env in (
        {"KIE_STAGING_URL": "http://127.0.0.1:9", "KIEKIT_REDIS_URL": "redis://x"},
        {"KIE_API_URL": "http://127.0.0.1:9", "KIE_BASE_URL": DEFAULT_BASE_URL},
    ):
        with pytest.warns(UnknownVariableWarning) if "KIE_API_URL" in env else _quiet():
            assert endpoints(environ=env).base_url == DEFAULT_BASE_URL


def _quiet() -> Any:
    import contextlib

    return contextlib.nullcontext()


def test_kie_refuses_a_wrong_host_name_with_exit_2_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`KIE_API_URL=http://mock kie run …` warned, then sent POST https://api.kie.ai/…."""
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    monkeypatch.setenv("KIE_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:1")  # a safety net: never reached
    code, refused = kie_json(capsys, "run", FLUX, "--prompt", "x", "--out", str(tmp_path))
    assert code == 2
    assert refused["error"]["type"] == "ConfigurationError"
    assert "KIE_BASE_URL" in refused["error"]["message"]


# -- 7. what to do after a paid task's timeout or failed download -----------------------------


def test_a_wait_timeout_and_a_failed_download_say_kie_resume(
    capsys: pytest.CaptureFixture[str], mock_server_factory: Any, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Only `Interrupted` named kie resume: a retry loop paid again on each turn."""
    from kiekit_mock import FaultRule

    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    slow = mock_server_factory(seconds_to_complete=10_000)  # never done within the test
    code, timed_out = kie_json(capsys, "run", FLUX, "--prompt", "x", "--timeout", "0.2",
                               "--base-url", slow.base_url, "--out", str(tmp_path))  # fmt: skip
    fast = mock_server_factory(seconds_to_complete=0)
    fast.faults.add(FaultRule("http", status=503, method="GET", path="/files/*"))
    code2, failed = kie_json(capsys, "run", FLUX, "--prompt", "x", "--idempotency-key", "k",
                             "--base-url", fast.base_url, "--upload-base-url",
                             fast.upload_base_url, "--out", str(tmp_path))  # fmt: skip
    assert (code, code2) == (1, 1)
    rerun = "rerunning with --idempotency-key k waits for this same task"
    for answer, again in ((timed_out, "creates and pays for another task"), (failed, rerun)):
        error = answer["error"]
        assert error["type"] in ("WaitTimeoutError", "DownloadError")
        assert f"task {error['task_id']} goes on at KIE" in error["message"]
        assert "kie resume finishes it" in error["message"]
        assert again in error["message"]
        assert error["paid"] is True


# -- 8. kie batch --results - -----------------------------------------------------------------


def test_batch_results_dash_is_refused_not_a_file_named_dash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("jobs.jsonl").write_text(json.dumps({"model": FLUX, "input": {"prompt": "x"}}) + "\n")
    code, refused = kie_json(capsys, "batch", "jobs.jsonl", "--out", "d", "--results", "-",
                             "--mock")  # fmt: skip
    assert code == 2
    assert refused["error"]["field"] == "--results"
    assert not Path("-").exists()


# -- 9. numeric options -----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["resume", "batch"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_concurrency_below_one_is_refused_by_every_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, value: str
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"model": FLUX, "input": {"prompt": "x"}}) + "\n")
    argv = (
        ["batch", str(jobs), "--out", str(tmp_path / "o"), "--mock"]
        if command == "batch"
        else ["resume"]
    )
    code, refused = kie_json(capsys, *argv, "--concurrency", value)
    assert code == 2
    assert refused["error"]["field"] == "--concurrency"
    assert "must be at least 1" in refused["error"]["message"]


# -- 10. --json and -v before or after the command --------------------------------------------


def test_json_and_verbose_go_before_or_after_the_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`kie --json run …` said "unrecognized arguments: --json (did you mean --json?)"."""
    code = cli.main(
        ["--json", "run", FLUX, "--prompt", "x", "--mock", "--out", str(tmp_path), "-v"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["ok"] is True
    assert " kiekit INFO created task" in err  # -v after the command turned the log on


def test_an_option_given_before_its_command_says_where_it_goes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--mock", "run", FLUX, "--prompt", "x"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert "(--mock goes after the command: kie run --mock ...)" in err
    assert "did you mean" not in err


# -- 12. what a script decides on -------------------------------------------------------------


def test_json_errors_carry_task_id_paid_and_retryable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, failed = kie_json(capsys, "run", FLUX, "--prompt", "[mock:fail] x", "--mock",
                         "--out", str(tmp_path))  # fmt: skip
    assert (failed["error"]["paid"], failed["error"]["retryable"]) == (True, False)
    assert failed["error"]["task_id"]
    _, usage = kie_json(capsys, "run", FLUX, "--prompt", "x", "--timeout", "0")
    assert (usage["error"]["paid"], usage["error"]["retryable"]) == (False, False)
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    _, down = kie_json(capsys, "credits", "--base-url", "http://127.0.0.1:9")  # nothing listens
    assert (down["error"]["paid"], down["error"]["retryable"]) == (False, True)


def test_a_closed_stdout_after_a_paid_task_says_it_is_in_the_journal(
    mock: Any, tmp_path: Path
) -> None:
    done = subprocess.run(  # noqa: S603 - our interpreter, through sh for the redirection
        ["/bin/sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "kiekit", "run", FLUX,
         "--prompt", "x", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=dict(os.environ), check=False,
    )  # fmt: skip
    [task] = mock.tasks()
    assert done.returncode == 1
    assert f"task {task.task_id} is done and recorded in the task journal" in done.stderr
    assert "do not run it again (it would pay again)" in done.stderr


# -- 13. completion and --print0 --------------------------------------------------------------


def test_completion_scripts_list_every_command_and_its_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scripts = {}
    for shell in ("bash", "zsh", "fish"):
        assert cli.main(["completion", shell]) == 0
        scripts[shell] = capsys.readouterr().out
    for name in ("run", "batch", "resume", "settle", "completion"):
        assert name in scripts["bash"]
        assert f"-a {name}" in scripts["fish"]
    assert "--idempotency-key" in scripts["bash"]
    assert "complete -o default -F _kie kie" in scripts["bash"]
    assert scripts["zsh"].startswith("#compdef kie\n")
    assert "-l prompt-file" in scripts["fish"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_the_bash_completion_completes_commands_options_and_choices(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main(["completion", "bash"]) == 0
    script = tmp_path / "kie.bash"
    script.write_text(capsys.readouterr().out)

    def complete(*words: str) -> list[str]:
        line = " ".join(["kie", *words])
        probe = (f'source "$1"; COMP_WORDS=({line}); COMP_CWORD={len(words)}; _kie; '
                 'printf "%s\\n" "${COMPREPLY[@]}"')  # fmt: skip
        done = subprocess.run(  # noqa: S603
            ["bash", "-c", probe, "bash", str(script)],  # noqa: S607
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return done.stdout.split()

    assert complete("ru") == ["run"]
    assert "--idempotency-key" in complete("run", "--idem")
    assert set(complete("tasks", "--state", "")) >= {"unfinished"}
    assert complete("mock", "s") == ["serve"]


def test_print0_ends_each_path_with_a_nul(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    out_dir = tmp_path / "out\nwith a newline"
    assert (
        cli.main(["run", FLUX, "--prompt", "x", "--mock", "--out", str(out_dir), "--print0"]) == 0
    )
    out = capsysbinary.readouterr().out
    paths = out.split(b"\0")
    assert paths[-1] == b""
    assert all(Path(os.fsdecode(p)).is_file() for p in paths[:-1])
    assert len(paths) > 1
