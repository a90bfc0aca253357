"""What a mock shared by many CI jobs must stand (an outside tester's findings, 2026-12): any
JSON value where a model id belongs is KIE's 422 naming ``model`` (kie-api.md §1, §7), never
the mock's own HTTP 500; ``--access-log`` writes no API key."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import Lifecycle
from kiekit_mock.har import read_scenario
from kiekit_mock.masking import mask_secrets

if TYPE_CHECKING:
    from kiekit_mock import MockServer

    from conftest import Kie, MockCli

HELLO = [{"role": "user", "content": "hi"}]
# every route that reads a body's `model`, with a body that is right but for it
MODEL_ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/claude/v1/messages", {"messages": HELLO}),
    ("/api/v1/responses", {"input": "hi"}),
    ("/codex/v1/responses", {"input": "hi"}),
    ("/grok/v1/responses", {"input": "hi"}),
    ("/api/v1/jobs/createTask", {"input": {"prompt": "a cat"}}),
    ("/api/v1/veo/generate", {"prompt": "a cat"}),
    ("/api/v1/flux/kontext/generate", {"prompt": "a cat"}),
    (
        "/api/v1/generate",
        {"prompt": "a song", "customMode": False, "instrumental": False,
         "callBackUrl": "http://127.0.0.1:9/cb"},
    ),
]  # fmt: skip


@pytest.mark.parametrize("model", [{}, [], {"id": "x"}, ["gpt-5-codex"], 1.5, True])
@pytest.mark.parametrize(("path", "body"), MODEL_ROUTES, ids=[p for p, _ in MODEL_ROUTES])
def test_a_model_that_is_no_string_is_kies_422_naming_model(
    kie: Kie, path: str, body: dict[str, Any], model: object
) -> None:
    answer = kie.post(path, {**body, "model": model})
    assert answer.status == 200, answer.body
    refusal = answer.json()
    assert refusal["code"] == 422
    assert "model" in refusal["msg"]


SECRET = "sk-SECRETKEY123"


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("GET /_mock/tasks?api_key=sk-1 HTTP/1.1", "GET /_mock/tasks?api_key=*** HTTP/1.1"),
        ("/_mock/journal?kind=poll&api_key=sk-1&limit=5", "/_mock/journal?kind=poll&api_key=***&limit=5"),  # noqa: E501
        ("/_mock/tasks?api%5Fkey=sk-1", "/_mock/tasks?api%5Fkey=***"),
        ("/_mock/tasks?API_KEY=sk-1#x", "/_mock/tasks?API_KEY=***#x"),
        ("/_mock/tasks?account_id=acct_1", "/_mock/tasks?account_id=acct_1"),
        ("/api/v1/jobs/recordInfo?taskId=api_key", "/api/v1/jobs/recordInfo?taskId=api_key"),
        # a receiver's token in a callBackUrl, a link's security token; the mock's own links keep
        # their signature, so what it answered and called back compare equal (masking.py)
        ("http://h/cb?token=t1&job=7", "http://h/cb?token=***&job=7"),
        ("/cb?access_token=t1;SIG=s1&Auth=a1", "/cb?access_token=***;SIG=***&Auth=***"),
        ("/r/a.png?X-Amz-Signature=s1&X-Amz-Security-Token=t1", "/r/a.png?X-Amz-Signature=s1&X-Amz-Security-Token=***"),  # noqa: E501
        ("/cb?client_secret=s1&password=p1", "/cb?client_secret=***&password=***"),
        ('{"param":"{\\"callBackUrl\\":\\"http://h/cb?token=t1\\"}"}', '{"param":"{\\"callBackUrl\\":\\"http://h/cb?token=***\\"}"}'),
        ("/cb?design=d1&monkey=m1&keyword=k1&signal=s1", "/cb?design=d1&monkey=m1&keyword=k1&signal=s1"),  # noqa: E501
    ],
)  # fmt: skip
def test_secret_parameters_are_masked_and_nothing_else(line: str, shown: str) -> None:
    assert mask_secrets(line) == shown


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_access_log_never_shows_a_key_given_as_a_query_parameter(
    start_mock_cli: Callable[..., MockCli], kie_at: Callable[..., Kie]
) -> None:
    cli = start_mock_cli("--access-log", "--key", SECRET)
    kie = kie_at(cli.base_url, SECRET)
    assert kie.get(f"/_mock/tasks?api_key={SECRET}").status == 200
    referred = {"Referer": f"{cli.base_url}/_mock/ui?api_key={SECRET}"}
    assert kie.fetch(f"{cli.base_url}/_mock/tasks?api_key={SECRET}", headers=referred).status == 200
    cli.process.send_signal(signal.SIGTERM)
    _, errors = cli.process.communicate(timeout=10)
    assert cli.process.returncode == 0
    assert "GET /_mock/tasks?api_key=*** HTTP/1.1" in errors
    assert "/_mock/ui?api_key=***" in errors
    assert SECRET not in errors


@pytest.mark.parametrize("depth", [200_000, 5_000])
def test_har_nested_too_deeply_is_a_usage_error_not_a_traceback(tmp_path: Path, depth: int) -> None:
    """200,000 levels are too deep for Python's parser; 5,000 are read, then walked."""
    deep = tmp_path / "deep.json"
    deep.write_text('{"log": {"entries": ' + "[" * depth + "]" * depth + "}}")
    with pytest.raises(ValueError, match="nested too deeply"):
        read_scenario(deep)
    done = subprocess.run(  # noqa: S603 - this interpreter, the test's own flags
        [sys.executable, "-m", "kiekit_mock", "--port", "0", "--har", str(deep)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"--har {deep}:" in done.stderr


@pytest.mark.parametrize(
    "spelling",
    [
        "http://127.0.0.1:{port}/_mock/tasks/{task}/complete",
        "http://localhost:{port}/_mock/tasks/{task}/complete",
        "http://127.0.0.1:{port}/%5Fmock/tasks/{task}/complete",
        "http://127.0.0.1:{port}//_mock/tasks/{task}/complete",
        "http://127.0.0.1:{port}/x/../_mock/tasks/{task}/complete",
        "http://127.0.0.1:{port}/_mock/reset",
    ],
)
def test_a_callback_to_the_mocks_own_control_api_is_recorded_never_sent(
    mock: MockServer, kie: Kie, spelling: str
) -> None:
    """One account's callback must not end (or reset) another account's task."""
    job_a, job_b = kie.as_key("job-a"), kie.as_key("job-b")
    waiting = job_a.create("grok-imagine/text-to-image", prompt="job a")
    mock.set_lifecycle(waiting, Lifecycle(manual=True))
    url = spelling.format(port=mock.port, task=waiting)
    answer = job_b.post(
        "/api/v1/jobs/createTask",
        {"model": "grok-imagine/text-to-image", "input": {"prompt": "b"}, "callBackUrl": url},
    )
    sender = job_b.ok(answer)["taskId"]
    assert job_b.record(sender)["state"] == "success"
    [record] = mock.callbacks(task_id=sender)
    assert not record.delivered
    assert record.status is None
    assert "own control API" in (record.reason or "")
    assert mock.task(waiting).state == "waiting"


def test_a_callback_to_another_loopback_path_of_the_mocks_port_is_still_sent(
    mock: MockServer, kie: Kie
) -> None:
    """Only the control routes are kept from: a receiver path of the mock's own answers 404."""
    url = f"http://127.0.0.1:{mock.port}/hooks/mock-not-a-control-route"
    task = kie.ok(
        kie.post(
            "/api/v1/jobs/createTask",
            {"model": "grok-imagine/text-to-image", "input": {"prompt": "b"}, "callBackUrl": url},
        )
    )["taskId"]
    kie.record(task)
    [record] = mock.callbacks(task_id=task)
    assert record.status == 404
