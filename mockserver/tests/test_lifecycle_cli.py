"""`python -m kiekit_mock` with the accounts and rules options, driven over HTTP from outside."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Kie, MockCli

T2I = "grok-imagine/text-to-image"


def test_cli_accounts_and_rules(tmp_path: Path, kie_at: Callable[..., Kie]) -> None:
    rules = [
        {"prompt_contains": "flag me", "outcome": "moderation"},
        {"family": "flux-kontext", "lifecycle": "manual"},
    ]
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(rules), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    command = [sys.executable, "-m", "kiekit_mock", "--port", "0", "--upload-port", "0"]
    command += ["--account", "sk-cli-a=40", "--account", "sk-cli-b", "--rules", str(rules_file)]
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        base = ""
        while not base:
            line = process.stdout.readline()
            assert line, "the mock exited before listening"
            found = re.search(r"KIE API mock listening on (http://127\.0\.0\.1:\d+)", line)
            base = found.group(1) if found else ""
        a, b = kie_at(base, "sk-cli-a"), kie_at(base, "sk-cli-b")
        assert a.ok(a.get("/api/v1/chat/credit")) == 40.0
        assert b.ok(b.get("/api/v1/chat/credit")) == 1000.0
        assert kie_at(base, "sk-cli-c").get("/api/v1/chat/credit").json()["code"] == 401
        flagged = a.create(T2I, prompt="please flag me")
        assert a.record(flagged)["failCode"] == "422"
        flux = b.flux(prompt="p")
        assert [b.flux_record(flux)["successFlag"] for _ in range(3)] == [0, 0, 0]
        done = _control(a, f"/_mock/tasks/{flux}/complete")
        assert done["task"]["state"] == "success"
        assert b.flux_record(flux)["successFlag"] == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _control(kie: Kie, path: str) -> Any:
    answer = kie.fetch(kie.base_url + path, method="POST", data=b"")
    assert answer.status == 200, answer.body
    return answer.json()


def _start(*argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m kiekit_mock ARGV`` run to its end (a usage error ends it at once)."""
    return subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "kiekit_mock", *argv],
        capture_output=True,
        text=True,
        timeout=300,  # a bound against a hang; the command takes ~1 s
        check=False,
    )


def test_a_bad_rules_file_names_the_rule_and_field(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps([{"outcome": "fail"}, {"outcome": "nope"}]), "utf-8")
    result = _start("--rules", str(rules_file))
    assert result.returncode == 2
    assert "rules[1].outcome.kind" in result.stderr


def test_a_rules_file_with_an_unknown_family_names_it(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.json"
    rules = [{"outcome": "fail", "family": "luma"}, {"outcome": "fail", "family": "zzz"}]
    rules_file.write_text(json.dumps(rules), "utf-8")
    result = _start("--rules", str(rules_file))
    assert result.returncode == 2
    assert "rules[1].family: must be one of" in result.stderr


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--port", "99999"], "--port: must be a TCP port, 0 to 65535"),
        (["--port", "-3"], "--port: must be a TCP port, 0 to 65535"),
        (["--port", "8000", "--upload-port", "70000"], "--upload-port: must be a TCP port"),
        (["--port", "65535"], "--port 65535 leaves no port for the upload host"),
    ],
)
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(argv: list[str], said: str) -> None:
    result = _start(*argv)
    assert result.returncode == 2
    assert said in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (
            (),
            "kiekit-mock: tasks end when polled, and only then call back: for a client that only "
            "waits for callbacks, give --seconds S (tasks end S s after they were made, polled or "
            "not) or end one with POST /_mock/tasks/{task_id}/complete\n",
        ),
        (
            ("--seconds", "30"),
            "kiekit-mock: tasks end 30 s after they were made, polled or not (mock clock: POST "
            "/_mock/clock/advance moves it), and call back then\n",
        ),
        (
            ("--polls", "2", "--seconds", "1.5"),
            "kiekit-mock: tasks end after 2 status polls and 1.5 s after they were made, the "
            "later (mock clock: POST /_mock/clock/advance moves it), and call back then\n",
        ),
    ],
)
def test_the_start_up_says_when_tasks_end_and_call_back(
    start_mock_cli: Callable[..., MockCli], flags: tuple[str, ...], said: str
) -> None:
    # a client that only waits for webhooks must learn at once that polling ends tasks (§6.1)
    cli = start_mock_cli("--upload-port", "0", *flags)
    assert cli.process.stdout is not None
    assert "upload host mock listening" in cli.process.stdout.readline()
    assert cli.process.stdout.readline() == said


def _start_up(cli: MockCli) -> list[str]:
    """The lines after the first (the URL's), up to the mock's stop: it prints them all before
    it waits for a signal, so a SIGTERM sent once the first is read comes after the last."""
    assert cli.process.stdout is not None
    cli.process.terminate()
    # read() and not communicate(): the first readline may have buffered the lines after it
    out = cli.process.stdout.read()  # to its end: the mock has stopped
    assert cli.process.wait(30) == 0
    return out.splitlines(keepends=True)


def test_the_start_up_says_any_key_is_taken_and_nothing_else_is_in_force(
    start_mock_cli: Callable[..., MockCli],
) -> None:
    *_, key, in_force = _start_up(start_mock_cli("--upload-port", "0"))
    assert key == (
        "kiekit-mock: API key: any non-empty one, as 'Authorization: Bearer KEY' (each key is "
        "an account of its own)\n"
    )
    assert in_force == (
        "kiekit-mock: in force: no rate limits (--documented-limits: KIE's); no rules\n"
    )


def test_the_start_up_counts_the_keys_taken_never_shows_them_and_says_what_is_in_force(
    start_mock_cli: Callable[..., MockCli], tmp_path: Path
) -> None:
    """A Node user read the same four lines whatever --key, --rules or limits were given."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"prompt_contains": "x", "outcome": "fail"}] * 3))
    flags = ["--key", "sk-team-only", "--account", "sk-other=5", "--documented-limits"]
    flags += ["--rules", str(rules), "--strict-models", "--webhook-hmac-key", "hmac-secret"]
    lines = _start_up(start_mock_cli("--upload-port", "0", *flags))
    *_, key, in_force = lines
    assert key.startswith("kiekit-mock: API key: only the 2 keys given (--key / --account; ")
    assert in_force == (
        "kiekit-mock: in force: rate limits: 20 creates per 10 s per account, recordInfo 10/s "
        "per key, 4o/Suno record-info 3/s per task; 3 outcome/lifecycle rules; unknown market "
        "models refused (--strict-models); callbacks signed (HMAC)\n"
    )
    said = "".join(lines)
    for secret in ("sk-team-only", "sk-other", "hmac-secret"):
        assert secret not in said


def test_the_clock_is_sped_up_from_the_command_line(
    start_mock_cli: Callable[..., MockCli], kie_at: Callable[..., Kie]
) -> None:
    """time_scale was Python-only: --time-scale X, shown at start-up and on GET /_mock/clock."""
    cli = start_mock_cli("--upload-port", "0", "--time-scale", "60")
    clock = kie_at(cli.base_url).get("/_mock/clock").json()
    *_, in_force = _start_up(cli)
    assert clock["scale"] == 60
    assert "; the mock clock runs 60 times as fast as real time" in in_force


@pytest.mark.parametrize("scale", ["0", "-1", "1001", "nan", "inf", "fast"])
def test_a_time_scale_out_of_range_is_a_usage_error(scale: str) -> None:
    result = _start("--time-scale", scale)
    assert result.returncode == 2
    assert "--time-scale" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_help_says_tasks_end_only_when_polled_unless_seconds() -> None:
    shown = " ".join(_start("--help").stdout.split())
    assert "Without --seconds a task ends only when polled, and only then calls back" in shown
    assert "seconds (mock clock) after which a task ends, polled or not, and calls back" in shown


@pytest.mark.parametrize("option", ["--rules", "--har"])
def test_an_empty_file_option_is_a_usage_error_naming_it(option: str) -> None:
    """argparse gives "" as is, and Path("") is "." (read as "Is a directory: '.'")."""
    result = _start(option, "")
    assert result.returncode == 2
    assert f"argument {option}: is empty: give a path" in result.stderr


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--key", ""], "error: argument --key: is empty (an unset variable?)"),
        (["--key", "k", "--key", " "], "error: argument --key: is empty"),
        (["--webhook-hmac-key", ""], "error: --webhook-hmac-key: must not be empty"),
        (["--callback-copies", "0"], "error: --callback-copies: must be an integer from 1 to 10"),
        (["--upload-cdn-seconds", "nan"], "error: --upload-cdn-seconds: must be a finite number"),
    ],
)
def test_a_value_the_mock_config_refuses_is_a_usage_error_naming_the_option(
    argv: list[str], said: str
) -> None:
    """`--key "$MOCK_KEY"` with the CI secret unset crashed with MockConfig's TypeError, a
    traceback (found by an outside tester); the config's other refusals named its fields
    (callback_copies), not the options the user typed."""
    result = _start(*argv)
    assert result.returncode == 2
    assert said in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("credits", "said"), [(1234567.5, "1234567.5"), (0.000125, "0.000125")])
def test_the_start_up_says_the_credits_per_account_as_given(credits: float, said: str) -> None:
    """An auditor read `--credits 1234567.5` back as `1.23457e+06` (six digits, an exponent)."""
    from kiekit_mock import MockConfig
    from kiekit_mock.startup import in_force

    assert f"; {said} credits per new account" in in_force(MockConfig(starting_credits=credits))
