"""The `kie` command as a user runs it: exit codes, one-line errors, files on disk."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from kiekit import cli

FAST = ["--mock"]


@pytest.fixture(autouse=True)
def instant_mock(monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo's mock takes a few seconds per task to show progress; tests need none of that.
    monkeypatch.setattr(cli._common, "DEMO_SECONDS", 0.0)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_providers_json_lists_both_reference_plugins(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "providers", "--json")
    assert code == 0
    answer = json.loads(out)
    assert (answer["ok"], answer["command"]) == (True, "providers")  # as every command's --json
    rows = {row["distribution"]: row for row in answer["providers"]}
    assert set(rows["kiekit-flux-kontext"]["models"]) == {"flux-kontext-pro", "flux-kontext-max"}
    assert "grok-imagine/text-to-image" in rows["kiekit-grok-imagine"]["models"]
    assert rows["kiekit-flux-kontext"]["version"] == "0.1.0"


def test_providers_table_names_distribution_and_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "providers")
    assert code == 0
    assert "kiekit-grok-imagine 0.1.0" in out
    assert "  flux-kontext-max" in out


def test_providers_and_help_load_no_network_or_storage_stack() -> None:
    """`kie providers` and `kie --help` answer at once: no event loop, HTTP client or SQLite is
    imported for them (each command imports its own where it runs)."""
    heavy = ("asyncio", "aiohttp", "urllib3", "sqlite3", "kiekit_mock")
    code = (
        "import contextlib, io, json, sys\n"
        "from kiekit.cli import main\n"
        "quiet = io.StringIO()\n"
        "with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):\n"
        "    main(['providers'])\n"
        "    with contextlib.suppress(SystemExit):\n"
        "        main(['--help'])\n"
        f"print(json.dumps(sorted(set({heavy!r}) & set(sys.modules))))\n"
    )
    done = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_run_on_the_mock_writes_the_images_and_prints_their_paths(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, "run", "flux-kontext-pro", "--prompt", "a lighthouse", "--out", str(tmp_path), *FAST
    )
    assert code == 0, err
    paths = [Path(line) for line in out.splitlines()]
    assert [p.parent for p in paths] == [tmp_path, tmp_path]
    for path in paths:
        assert path.read_bytes()[:3] == b"\xff\xd8\xff"  # a real JPEG, Flux's default format
    assert "created task" in err


def test_run_says_each_state_on_a_line_when_stderr_is_no_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A log or a pipe gets plain lines, one per state the task reached: no progress bar."""
    code, _, err = run(
        capsys, "run", "flux-kontext-pro", "--prompt", "a lighthouse", "--out", str(tmp_path), *FAST
    )
    assert code == 0, err
    task_id = err.split("created task ", 1)[1].split()[0]
    states = [line for line in err.splitlines() if line.startswith(f"task {task_id}: ")]
    assert states[-1] == f"task {task_id}: succeeded"
    assert len(states) == len(set(states))  # a state once, however often it was polled
    assert "━" not in err


def test_run_reads_wire_names_and_typed_values(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(
        capsys,
        "run",
        "flux-kontext-max",
        "--prompt",
        "a fox",
        "--input",
        "outputFormat=png",
        "--input",
        "safety_tolerance=4",
        "--out",
        str(tmp_path),
        *FAST,
    )
    assert code == 0, err
    first = Path(out.splitlines()[0])
    assert first.suffix == ".png"
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_market_model_downloads_every_result(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(
        capsys,
        "run",
        "grok-imagine/text-to-image",
        "--prompt",
        "a fox",
        "--input",
        "aspect_ratio=3:2",
        "--out",
        str(tmp_path),
        *FAST,
    )
    assert code == 0, err
    assert len(out.splitlines()) == 6  # KIE returns six images for this model (kie-api.md §2.2)
    assert len(list(tmp_path.iterdir())) == 6


def test_invalid_input_is_one_line_naming_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "run", "flux-kontext-pro", "--prompt", "x", "--input", "safety_tolerance=9", *FAST
    )
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [err.strip()]
    assert "safety_tolerance" in err
    assert "created task" not in err  # rejected before anything was sent


@pytest.mark.parametrize("model", ["flux-kontext-pro", "nano-banana-pro"])
def test_a_prompt_that_is_not_utf8_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: str
) -> None:
    """`--prompt "$(cat old-latin1.txt)"` on a UTF-8 system: Python reads the byte as a lone
    surrogate. It was sent, the create ended "outcome unknown" and its row waited for kie
    settle; it is bad input, refused before anything is sent."""
    argv = ["run", model, "--prompt", "caf\udce9 at dawn", "--out", str(tmp_path), *FAST]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("kie: error: prompt: is not valid UTF-8 text")
    assert err.count("\n") == 1  # one line, and no task: nothing was sent


def test_unknown_input_field_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run", "flux-kontext-pro", "--prompt", "x", "--input", "colour=red")
    assert code == 2
    assert "colour" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--aspect_ratio", "16:9"], "(a model's input field goes as --input aspect_ratio=16:9)"),
        (["--resolution=2K"], "(a model's input field goes as --input resolution=2K)"),
        (["--seed"], "(a model's input field goes as --input seed=VALUE)"),
    ],
)
def test_an_option_kie_run_does_not_have_says_what_was_meant(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["run", "nano-banana-pro", "--prompt", "x", *argv, *FAST])
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert f"unrecognized arguments: {' '.join(argv)} {says}" in err
    assert "created task" not in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--promt", "a fox"], "(did you mean --prompt?)"),
        (["--output", "o1"], "(did you mean --out?)"),
        (["--jsn"], "(did you mean --json?)"),
        (["--mok"], "(did you mean --mock?)"),
        (["--aspect-ratio", "16:9"], "(a model's input field goes as --input aspect_ratio=16:9)"),
        (["--safety-tolerance=2"], "(a model's input field goes as --input safety_tolerance=2)"),
        (["--aspect-raito", "1:1"], "(a model's input field goes as --input aspect_ratio=1:1)"),
    ],
)
def test_a_slip_gets_the_commands_own_option_then_the_models_field(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    """Following the hint works the first time: no "--input output=o1" that fails again."""
    with pytest.raises(SystemExit) as stopped:
        cli.main(["run", "flux-kontext-pro", "--prompt", "x", *argv, *FAST])
    assert stopped.value.code == 2
    assert f"unrecognized arguments: {' '.join(argv)} {says}" in capsys.readouterr().err


def test_a_prompt_given_without_its_option_says_to_use_prompt(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["run", "flux-kontext-pro", "a lighthouse at dawn", *FAST])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert 'a lighthouse at dawn (the prompt goes as --prompt "a lighthouse at dawn")' in err


@pytest.mark.parametrize(
    ("argv", "variable"),
    [
        (["-v", "providers"], ""),
        (["providers", "-vv"], ""),
        (["tasks"], "debug"),
        (["-vv", "settle", "no-such-row", "--not-created"], ""),  # a failed command's too
    ],
)
def test_main_puts_kiekits_logging_back_as_it_found_it(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    variable: str,
) -> None:
    """`kie -v` in-process (an embedder's kiekit.cli.main, a test suite) left the kiekit
    logger at INFO or DEBUG, with a handler on a standard error since replaced: every later
    client of that process logged its requests there."""
    monkeypatch.setenv("KIEKIT_LOG", variable)
    kiekit, http = logging.getLogger("kiekit"), logging.getLogger("kiekit.http")
    before = (kiekit.level, list(kiekit.handlers), http.level, http.getEffectiveLevel())

    cli.main(argv)
    capsys.readouterr()

    assert (kiekit.level, kiekit.handlers, http.level, http.getEffectiveLevel()) == before


def test_an_unknown_option_elsewhere_gets_no_input_hint(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["tasks", "--foo"])
    assert capsys.readouterr().err.strip().endswith("unrecognized arguments: --foo")


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["tasks", "--foo"], "usage: kie tasks "),
        (["settle", "k", "--not-created", "--bogus"], "usage: kie settle "),
        (["-v", "plugin", "new", "acme", "--bogus"], "usage: kie plugin new "),
    ],
)
def test_an_unknown_option_is_told_with_its_commands_own_usage(
    capsys: pytest.CaptureFixture[str], argv: list[str], usage: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith(usage)


def test_missing_key_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIE_API_KEY", raising=False)
    code, out, err = run(capsys, "run", "flux-kontext-pro", "--prompt", "x")
    assert code == 2
    assert out == ""
    assert err.startswith("kie: error:")
    assert "KIE_API_KEY" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_failed_task_reports_its_id_and_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(
        capsys,
        "run",
        "flux-kontext-pro",
        "--prompt",
        "[mock:fail] x",
        "--out",
        str(tmp_path),
        *FAST,
    )
    assert code == 1
    assert out == ""
    created = next(line for line in err.splitlines() if line.startswith("created task"))
    task_id = created.split()[2]
    assert f"task {task_id}" in err.splitlines()[-1]
    assert "task failed" in err
    assert list(tmp_path.iterdir()) == []


def test_unknown_model_lists_installed_ones(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiekit import registry

    monkeypatch.setenv(registry.BLOCK_ENV, "kiekit-market")
    monkeypatch.setattr(registry, "default_registry", registry.Registry)
    code, _, err = run(capsys, "run", "no-such-model", "--prompt", "x", *FAST)
    assert code == 2
    assert "flux-kontext-pro" in err
    assert "kiekit-market serves it, but KIEKIT_BLOCK_PLUGINS" in err  # blocked, not missing


def test_providers_marks_blocked_plugins(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIEKIT_BLOCK_PLUGINS", "kiekit_flux_kontext")
    code, out, _ = run(capsys, "providers", "--json")
    assert code == 0
    status = {row["distribution"]: row["status"] for row in json.loads(out)["providers"]}
    assert status["kiekit-flux-kontext"].startswith("blocked")
    assert status["kiekit-grok-imagine"] == "ok"


def test_an_unknown_model_goes_to_the_generic_market_plugin_and_a_strict_mock_says_no(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # With kiekit-market installed any id is tried as a market model; a strict mock, like KIE,
    # answers 422 for a model it does not know (kie-api.md §2.4), and nothing is created.
    from kiekit_mock import MockConfig, MockServer

    monkeypatch.setenv("KIE_API_KEY", "sk-fake-strict-mock")
    with MockServer(MockConfig(strict_models=True)) as strict:
        code, out, err = run(capsys, "run", "no-such-model", "--prompt", "x",
                             "--base-url", strict.base_url)  # fmt: skip
        assert strict.tasks() == []
    assert code == 1
    assert out == ""
    assert "422" in err
    assert "created task" not in err


def test_no_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2
    assert "usage" in err


def test_kie_mock_serve_answers_like_kie_until_stopped() -> None:
    kie = Path(sys.executable).with_name("kie")
    env = {k: v for k, v in os.environ.items() if k != "KIE_API_KEY"}
    # --port 0: a port picked beforehand could be taken, with its neighbour for the upload host,
    # by another test before the server binds it
    server = subprocess.Popen(  # noqa: S603 - our own entry point
        [str(kie), "mock", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()  # printed once listening; "" if the server died
        url = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert url, first
        request = urllib.request.Request(
            f"{url.group(0)}/api/v1/jobs/createTask",
            data=b'{"model": "grok-imagine/text-to-image", "input": {"prompt": "x"}}',
            headers={"Content-Type": "application/json"},  # no key: KIE says 401 in the body
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, body = answer.status, json.loads(answer.read())
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=10)
    assert status == 200
    assert body["code"] == 401
    assert f"inspector: {url.group(0)}/_mock/ui" in first  # the page, one click away
    assert server.returncode == 0


@pytest.mark.parametrize("way", ["kie mock serve", "python -m kiekit_mock"])
def test_a_misspelt_mock_variable_is_said_once_by_either_way_of_starting_the_mock(
    way: str,
) -> None:
    """`python -m kiekit_mock` said nothing of KIEKIT_MOCK_BLOCK_EXTENSION (a typo: every
    extension stayed in); `kie mock serve` warned from kiekit's table, and must not twice."""
    kie = [str(Path(sys.executable).with_name("kie")), "mock", "serve"]
    argv = [
        *(kie if way.startswith("kie") else [sys.executable, "-m", "kiekit_mock"]),
        "--port",
        "0",
    ]
    env = {k: v for k, v in os.environ.items() if k != "KIE_API_KEY"}
    env["KIEKIT_MOCK_BLOCK_EXTENSION"] = "luma"
    server = subprocess.Popen(  # noqa: S603 - our own entry points
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert server.stdout is not None
        assert "listening" in server.stdout.readline()  # "" if the server died
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=10)
    said = [line for line in err.splitlines() if "KIEKIT_MOCK_BLOCK_EXTENSION" in line]
    assert said == [
        "kiekit-mock: warning: KIEKIT_MOCK_BLOCK_EXTENSION is not a variable kiekit-mock reads; "
        "did you mean KIEKIT_MOCK_BLOCK_EXTENSIONS? (it is ignored)"
    ]


def test_the_prompt_is_text_even_for_a_free_form_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # `--prompt 1984` must reach KIE as the string "1984", not the number (kiekit-market).
    from kiekit.registry import default_registry

    provider = default_registry().provider("some/new-model")
    params = provider.make_input("some/new-model", {"n": "2"}, from_text=True, prompt="1984")
    assert provider.build_request("some/new-model", params).body == {
        "model": "some/new-model",
        "input": {"n": 2, "prompt": "1984"},
    }


def test_providers_json_carries_the_capability_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "providers", "--json")
    assert code == 0
    rows = {row["distribution"]: row for row in json.loads(out)["providers"]}
    sora = rows["kiekit-sora"]["manifest"]["sora-2-text-to-video"]
    assert sora == {"output": "video", "capabilities": ["callbacks", "progress"]}


def test_sigterm_stops_kie_run_as_ctrl_c_does_naming_the_task(tmp_path: Path) -> None:
    """`timeout` and a cancelled CI job send SIGTERM: the command says which task it stopped
    waiting for (it stays in the journal for kie resume) and exits 143, not killed mid-word."""
    kie = Path(sys.executable).with_name("kie")
    env = {**os.environ, "KIEKIT_DATA_DIR": str(tmp_path)}
    env.pop("KIE_API_KEY", None)
    command = [str(kie), "run", "flux-kontext-pro", "--prompt", "x", "--mock", "--json"]
    command += ["--mock-seconds", "600", "--out", str(tmp_path / "out")]
    run = subprocess.Popen(  # noqa: S603 - our own entry point
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert run.stderr is not None
    said: list[str] = []
    while not any(line.startswith("created task") for line in said):  # the task exists now
        line = run.stderr.readline()
        assert line, f"kie run ended before it created its task: {said}"
        said.append(line)
    run.send_signal(signal.SIGTERM)
    out, rest = run.communicate(timeout=30)
    task_id = said[-1].split()[2]
    assert run.returncode == 143
    answer = json.loads(out)  # --json: a pipeline still gets its one object, with the task
    assert (answer["ok"], answer["command"]) == (False, "run")
    assert (answer["error"]["type"], answer["error"]["task_id"]) == ("Interrupted", task_id)
    assert f"stopped waiting for task {task_id}" in rest
    assert rest.rstrip().endswith("kie: terminated")
    assert "Traceback" not in rest


def test_help_lists_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for code in ("0 done", "1 KIE", "2 bad usage", "130 interrupted", "143 terminated"):
        assert code in text


def test_a_misspelt_plugin_in_block_plugins_is_said_with_the_close_ones(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`KIEKIT_BLOCK_PLUGINS=kiekit-sunoo` blocked nothing, silently (found by an outside
    tester)."""
    import warnings

    from kiekit import discovery, registry

    monkeypatch.setenv("KIEKIT_BLOCK_PLUGINS", "kiekit-sunoo,kiekit-veo")
    monkeypatch.setattr(registry, "default_registry", registry.Registry)
    for argv in (["providers"], ["models", "veo3"]):
        discovery._warn_unknown.cache_clear()  # said once a process: each command here says it
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            _, _, err = run(capsys, *argv)
        assert (
            "kie: warning: KIEKIT_BLOCK_PLUGINS: no installed plugin is named 'kiekit-sunoo'; "
            "did you mean 'kiekit-suno'?"
        ) in err
        assert "kiekit-veo'" not in err.split("installed:")[0]  # a real name is not said
    discovery._warn_unknown.cache_clear()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--base-url", "https://api.kie.ai"),
        ("--upload-base-url", "https://kieai.redpandaai.co"),
        ("--limits", "redis://127.0.0.1:9/0"),
    ],
)
def test_mock_refuses_options_it_would_leave_unused(
    capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    """`--mock --base-url https://api.kie.ai` ran on the mock without a word about the base URL
    (found by an outside tester); refused as `--mock --celery` is."""
    code, _, err = run(capsys, "run", "flux-kontext-pro", "--prompt", "x", "--mock", option, value)
    assert code == 2
    assert f"{option} does not go with --mock" in err
    assert "mock KIE server" not in err  # refused before the mock starts


def test_mock_says_which_variables_it_leaves_unused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KIE_BASE_URL", "https://proxy.example/kie")
    monkeypatch.setenv("KIEKIT_LIMITS_URL", "redis://127.0.0.1:9/0")
    code, _, err = run(
        capsys, "run", "flux-kontext-pro", "--prompt", "x", "--mock", "--out", str(tmp_path)
    )
    assert code == 0, err
    assert "--mock: KIE_BASE_URL, KIEKIT_LIMITS_URL left unused" in err


def test_mock_seconds_without_mock_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIE_API_KEY", "fake-key")
    code, _, err = run(
        capsys, "run", "flux-kontext-pro", "--prompt", "x", "--mock-seconds", "0",
        "--base-url", "http://127.0.0.1:9",
    )  # fmt: skip
    assert code == 2
    assert "--mock-seconds is for the embedded mock: it needs --mock" in err


def test_a_missing_upload_host_is_told_in_the_commands_words(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The error told CLI users to pass `upload_base_url=...`, a Python argument."""
    monkeypatch.setenv("KIE_API_KEY", "fake-key")
    monkeypatch.delenv("KIE_UPLOAD_BASE_URL", raising=False)
    photo = tmp_path / "a.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    code, _, err = run(capsys, "upload", str(photo), "--base-url", "http://127.0.0.1:9")
    assert code == 2
    assert "--upload-base-url" in err


def test_without_rich_a_terminal_gets_plain_state_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """rich is the kiekit[cli] extra: a library install has no terminal stack, and `kie run` on
    a terminal then says each state on a line of its own instead of drawing a bar."""
    for name in ("rich", "rich.console", "rich.progress"):
        monkeypatch.setitem(sys.modules, name, None)  # `import rich` raises ImportError
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run(
        capsys, "run", "flux-kontext-pro", "--prompt", "x", "--mock", "--out", str(tmp_path)
    )
    assert code == 0, err
    assert re.search(r"^task \w+: succeeded$", err, re.M)
    assert out.split()


@pytest.mark.parametrize("command", ["run", "batch"])
@pytest.mark.parametrize("grace", ["soon", "-1", "nan"])
def test_a_stop_grace_it_cannot_read_is_refused_naming_the_variable_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: str,
    grace: str,
) -> None:
    monkeypatch.setenv("KIEKIT_STOP_GRACE", grace)
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"model": "flux-kontext-pro", "input": {"prompt": "x"}}\n', "utf-8")
    out = str(tmp_path / "out")
    argv = (
        ["run", "flux-kontext-pro", "--prompt", "x"] if command == "run" else ["batch", str(jobs)]
    )
    code, _, err = run(capsys, *argv, "--mock", "--out", out)
    assert code == 2
    assert "KIEKIT_STOP_GRACE: must be" in err
    assert "mock KIE server" not in err  # refused before anything starts, let alone a create
    assert not (tmp_path / "out").exists()


def test_a_negative_stop_grace_option_is_a_validation_error_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["run", "flux-kontext-pro", "--prompt", "x", "--mock", "--stop-grace", "-1"]
    assert cli.main(argv) == 2
    assert "kie: error: --stop-grace: must be 0 or more seconds" in capsys.readouterr().err
