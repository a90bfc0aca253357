"""Running the mock: MockServer's thread, serve(), the CLI."""

from __future__ import annotations

import re
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig, MockServer, create_app, serve
from kiekit_mock.__main__ import main

if TYPE_CHECKING:
    from conftest import Kie, MockCli


def _mock_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "kiekit-mock"}


# Other suites may keep a session-wide mock running (the contract kit's fixture): each test
# counts only the threads that appeared while it ran.


def test_start_stop_leaves_no_thread() -> None:
    before = _mock_threads()
    server = MockServer(MockConfig())
    server.start()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
    assert len(_mock_threads() - before) == 1
    server.stop()
    assert _mock_threads() - before == set()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = server.base_url


def test_restart_keeps_state(kie_at: Callable[..., Kie]) -> None:
    before = _mock_threads()
    server = MockServer(MockConfig(polls_to_complete=3))
    with server:
        task_id = kie_at(server.base_url).create("grok-imagine/upscale", task_id="t")
    with pytest.raises(RuntimeError, match="not running"):
        server.advance(task_id)
    with server:
        assert server.advance(task_id) == "queuing"  # state survived the restart
        assert [t.task_id for t in server.tasks()] == [task_id]
        assert server.task(task_id).state == "queuing"
        # polls catch up; the market shows the middle stage as "waiting" (§2.2)
        assert kie_at(server.base_url).record(task_id)["state"] == "waiting"
    assert _mock_threads() - before == set()


def test_a_restarted_mock_listens_where_it_did_so_its_kept_tasks_links_still_work(
    kie_at: Callable[..., Kie],
) -> None:
    """MockServer() (port 0) stopped and started again (a notebook) kept its tasks, but came
    back on a new port: their result links, and the client's base_url, led nowhere."""
    import json

    server = MockServer(MockConfig())
    with server:
        before = (server.base_url, server.upload_base_url)
        kie = kie_at(server.base_url)
        task_id = kie.create("grok-imagine/text-to-image", prompt="fox")
        server.complete(task_id)
        (link, *_) = json.loads(kie.record(task_id)["resultJson"])["resultUrls"]
    with server:
        assert (server.base_url, server.upload_base_url) == before
        assert kie.fetch(link).status == 200  # the kept task's file, at the link given then
        assert kie.record(task_id)["state"] == "success"


def test_a_mock_nobody_can_reach_any_more_is_stopped() -> None:
    """`mock = MockServer(); mock.start()` in a notebook cell run three times left three
    servers listening, with no handle left to stop the first two."""
    import gc

    before = _mock_threads()
    mock = MockServer(MockConfig())
    mock.start()
    first = (mock.port, int(mock.upload_base_url.rpartition(":")[2]))
    mock = MockServer(MockConfig())  # the cell run again: the first one is unreachable now
    mock.start()
    gc.collect()
    assert len(_mock_threads() - before) == 1
    for port in first:  # nothing listens there any more
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
    mock.stop()
    assert _mock_threads() - before == set()


def test_a_ci_job_knows_the_mock_is_up_from_its_health_route(
    start_mock_cli: Callable[..., MockCli], kie_at: Callable[..., Kie]
) -> None:
    """A CI job that starts `kie mock serve` as a service polls it until it answers: the mock
    had no route for that (any other path is KIE's 404, or a route that lists or changes state)."""
    import kiekit_mock

    cli = start_mock_cli()
    kie = kie_at(cli.base_url)
    health = kie.fetch(cli.base_url + "/_mock/health")
    assert health.status == 200
    said = health.json()
    assert sorted(said) == ["families", "instance", "status", "version"]
    assert (said["status"], said["version"]) == ("ok", kiekit_mock.__version__)
    assert {"market", "suno", "veo"} <= set(said["families"])
    journal = kie.fetch(cli.base_url + "/_mock/journal").json()
    assert said["instance"] == journal["instance"]  # a restarted mock says a new one
    assert journal["count"] == 0  # a job polling it fills no journal
    # a control route: loopback Host names only (DNS rebinding), as the others
    refused = kie.fetch(cli.base_url + "/_mock/health", headers={"Host": "kie.example"})
    assert (refused.status, refused.json()["field"]) == (403, "Host")


def test_the_command_line_says_each_kiekit_mock_variable_it_does_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """KIEKIT_MOCK_BLOCK_EXTENSION (no S) left every extension in, without a word."""
    monkeypatch.setenv("KIEKIT_MOCK_BLOCK_EXTENSION", "luma")
    monkeypatch.setenv("kiekit_mock_port", "9000")  # a name of no variable: said, no guess
    monkeypatch.setenv("KIEKIT_MOCK_BLOCK_EXTENSIONS", "")  # its own: not said
    monkeypatch.setenv("KIEKIT_DATADIR", "x")  # kiekit's to say, not the mock's
    assert main(["openapi", "--out", str(tmp_path / "openapi.json")]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "kiekit-mock: warning: KIEKIT_MOCK_BLOCK_EXTENSION is not a variable kiekit-mock reads; "
        "did you mean KIEKIT_MOCK_BLOCK_EXTENSIONS? (it is ignored)",
        "kiekit-mock: warning: kiekit_mock_port is not a variable kiekit-mock reads "
        "(it is ignored)",
    ]


def test_fixed_port_and_double_start() -> None:
    with MockServer(MockConfig()) as first:
        port = first.port
    with MockServer(MockConfig(), port=port) as second:
        assert second.base_url == f"http://127.0.0.1:{port}"
        with pytest.raises(RuntimeError, match="already running"):
            second.start()


def test_start_failure_is_raised_in_the_caller() -> None:
    before = _mock_threads()
    with MockServer(MockConfig()) as first, pytest.raises(OSError, match="address"):
        MockServer(MockConfig(), port=first.port).start()
    assert _mock_threads() - before == set()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])  # noqa: S104
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        serve(port=0, host=host)
    with pytest.raises(ValueError, match="loopback"):
        MockServer(MockConfig(), host=host)


@pytest.mark.parametrize(
    ("prog", "usage"),
    [
        (None, "usage: kiekit-mock "),  # the kiekit-mock script
        ("python -m kiekit_mock", "usage: python -m kiekit_mock "),
        ("kie mock serve", "usage: kie mock serve "),  # kiekit's `kie mock serve` passes it
    ],
)
def test_cli_usage_names_the_command_as_it_was_run(
    prog: str | None, usage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"]) if prog is None else main(["--help"], prog=prog)
    assert capsys.readouterr().out.startswith(usage)


def _port_with_the_next_one_taken() -> tuple[int, socket.socket]:
    """A free port whose next port is held by the returned socket (close it)."""
    for _ in range(50):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1] - 1
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                taken.close()
                continue
        taken.listen()
        return port, taken
    raise AssertionError("no free pair of ports")


def test_cli_names_the_upload_port_when_it_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    port, taken = _port_with_the_next_one_taken()
    with taken:
        assert main(["--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port + 1} for the upload host" in err
    assert "--upload-port" in err
    assert f":{port}:" not in err  # the API's own port was free


def test_cli_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0", "--port", "0"])  # noqa: S104 == 2
    assert "loopback" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("file", "argv", "says"),
    [
        ('{"log": {"entries": [7]}}', ["--har"], "log.entries[0]: must be an object"),
        ("not json", ["--har"], "Expecting value"),
        ('[{"outcome": "nope"}]', ["--rules"], "[0].outcome"),
        (
            '[{"outcome": "fail", "lifecycle": {"seconds": Infinity}}]',
            ["--rules"],
            "rules[0].lifecycle.seconds: must be a number of seconds from 0",
        ),
        ("", ["--port", "70000", "--har"], "--port: must be a TCP port"),
    ],
)
def test_cli_says_a_bad_file_or_value_in_one_line_without_the_usage_banner(
    file: str,
    argv: list[str],
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Options written right but wrong in content: the one line that says what is wrong, with
    the option and the file, not twelve lines of usage above it; exit 2 as for usage."""
    path = tmp_path / "given.json"
    path.write_text(file, encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        main([*argv, str(path)], prog="kie mock serve")
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    (line,) = err.splitlines()
    assert line.startswith("kie mock serve: error: ")
    assert says in line
    assert "usage:" not in err


@pytest.mark.parametrize("field", ["polls_to_complete", "seconds_to_complete", "starting_credits"])
def test_config_rejects_negative_values(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        MockConfig(**{field: -1})  # type: ignore[arg-type]  # each field named is a number


@pytest.mark.parametrize(
    ("given", "error", "says"),
    [
        ({"config": {"polls_to_complete": 2}}, TypeError, "config must be a MockConfig, not dict"),
        ({"port": "8080"}, TypeError, "port must be an integer, 0 to 65535"),
        ({"port": 70000}, ValueError, "port must be 0 to 65535"),
        ({"upload_port": -1}, ValueError, "upload_port must be 0 to 65535"),
        ({"host": None}, TypeError, "host must be a loopback address"),
        ({"shutdown_grace": "5"}, TypeError, "shutdown_grace must be a number of seconds"),
        ({"shutdown_grace": -1}, ValueError, "shutdown_grace must be a finite number"),
        ({"shutdown_grace": float("inf")}, ValueError, "shutdown_grace must be a finite number"),
    ],
)
def test_mock_server_refuses_a_wrong_argument_at_once_naming_it(
    given: dict[str, Any], error: type[Exception], says: str
) -> None:
    """Refused in the caller's thread when the server is made, not an AttributeError (a dict
    for a config) or an OverflowError from the server's thread at start."""
    with pytest.raises(error, match=re.escape(says)):
        MockServer(**given)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("polls_to_complete", "3", "polls_to_complete must be an integer, not '3'"),
        ("seconds_to_complete", "1", "seconds_to_complete must be a number, not '1'"),
        ("starting_credits", None, "starting_credits must be a number, not None"),
        ("time_scale", "60", "time_scale must be a number, not '60'"),
        ("callback_timeout", None, "callback_timeout must be a number"),
        ("max_creates_per_10s", "20", "max_creates_per_10s must be an integer or None"),
        ("callback_copies", "2", "callback_copies must be an integer"),
        ("strict_models", "no", "strict_models must be True or False, not 'no'"),
        ("documented_limits", 1, "documented_limits must be True or False"),
        ("webhook_hmac_key", 123, "webhook_hmac_key must be a string or None, not int"),
        ("api_keys", [1, 2], "api_keys must hold non-empty strings"),
        ("allowed_callback_hosts", [1], "allowed_callback_hosts must hold host names"),
        ("rules", None, "rules must be a sequence of kiekit_mock.Rule"),
    ],
)
def test_config_names_a_field_of_the_wrong_type(field: str, value: Any, says: str) -> None:
    """A TypeError naming the field, not "'<' not supported between instances of 'str' and
    'int'", and never a truthy "no" taken for True."""
    with pytest.raises(TypeError, match=re.escape(says)):
        MockConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("seconds_to_complete", float("inf"), "seconds_to_complete must be a finite number"),
        ("seconds_to_complete", float("nan"), "seconds_to_complete must be a finite number"),
        ("seconds_to_complete", 1e300, "seconds_to_complete must be a number of seconds from 0"),
        ("seconds_to_complete", -1, "seconds_to_complete must be a number of seconds from 0"),
        ("starting_credits", float("inf"), "starting_credits must be a finite number"),
        ("time_scale", float("inf"), "time_scale must be a finite number"),
    ],
)
def test_config_refuses_endless_or_absurd_numbers_naming_the_field(
    field: str, value: Any, says: str
) -> None:
    """seconds_to_complete=inf made tasks that never end (shown as `Infinity`, no JSON)."""
    with pytest.raises(ValueError, match=re.escape(says)):
        MockConfig(**{field: value})


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--seconds", "inf"], "--seconds: must be a number of seconds from 0 to 3153600000"),
        (["--seconds", "nan"], "--seconds: must be a number of seconds from 0"),
        (["--seconds", "1e300"], "--seconds: must be a number of seconds from 0"),
        (["--seconds", "-1"], "--seconds: must be a number of seconds from 0"),
        (["--polls", "-1"], "--polls: must be 0 or more; got -1"),
        (["--credits", "inf"], "--credits: must be a finite number >= 0; got inf"),
        (["--shutdown-grace", "-1"], "--shutdown-grace: must be a finite number >= 0; got -1"),
        (["--shutdown-grace", "nan"], "--shutdown-grace: must be a finite number >= 0; got nan"),
    ],
)
def test_cli_names_a_lifecycle_or_credit_option_out_of_range(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv, prog="kie mock serve")
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"kie mock serve: error: {says}")


def test_config_refuses_an_empty_hmac_key_without_saying_any_key() -> None:
    with pytest.raises(ValueError, match="webhook_hmac_key must not be empty"):
        MockConfig(webhook_hmac_key="")
    with pytest.raises(TypeError) as refused:
        MockConfig(webhook_hmac_key=b"secret-bytes")  # type: ignore[arg-type]
    assert "secret" not in str(refused.value)


def test_config_takes_any_key_collection() -> None:
    config = MockConfig(api_keys={"a", "b"})  # type: ignore[arg-type]
    assert config.api_keys == frozenset({"a", "b"})
    assert config.accepts("a")
    assert not config.accepts("c")
    assert not config.accepts("")
    with pytest.raises(TypeError):
        MockConfig(api_keys="abc")  # type: ignore[arg-type]


def test_create_app_gives_independent_mocks() -> None:
    assert create_app() is not create_app()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_until_signalled(
    sig: signal.Signals, start_mock_cli: Callable[..., MockCli], kie_at: Callable[..., Kie]
) -> None:
    cli = start_mock_cli("--key", "cli-key")
    kie = kie_at(cli.base_url, "cli-key")
    assert kie.ok(kie.get("/api/v1/chat/credit")) == 1000.0
    assert kie.as_key("other").get("/api/v1/chat/credit").json()["code"] == 401
    cli.process.send_signal(sig)
    assert cli.process.wait(timeout=10) == 0


def _hold_a_request(port: int) -> socket.socket:
    """A create whose body never comes: its handler runs, waiting in read(), until the server
    cuts it off (a client that hung up mid-request, as a stopped test's client may)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /api/v1/jobs/createTask HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n"
        b"Expect: 100-continue\r\n\r\n"
    )
    assert sock.recv(1024).startswith(b"HTTP/1.1 100")  # the handler is running
    return sock


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_request_in_flight_holds_up_sigterm_only_for_the_grace_asked(
    start_mock_cli: Callable[..., MockCli],
) -> None:
    """A soak's mock, stopped under load, took 30-55 s to exit: aiohttp waits 60 s for the
    requests in flight. --shutdown-grace 0 cuts them off at once (the bound below only keeps a
    hang from stalling the suite: the stop itself takes milliseconds)."""
    cli = start_mock_cli("--shutdown-grace", "0")
    with _hold_a_request(int(cli.base_url.rsplit(":", 1)[1])):
        cli.process.send_signal(signal.SIGTERM)
        assert cli.process.wait(timeout=50) == 0


def test_mock_server_stop_cuts_off_a_request_in_flight_after_its_grace() -> None:
    """MockServer.stop() waited aiohttp's 60 s for a request whose client had gone quiet, so a
    test's teardown hung for a minute."""
    server = MockServer(shutdown_grace=0)
    server.start()
    with _hold_a_request(server.port):
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        stopping.join(timeout=50)  # a hang guard: with grace 0 the stop takes milliseconds
        assert not stopping.is_alive()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("logged", [False, True])
def test_cli_logs_each_request_only_when_asked(
    logged: bool, start_mock_cli: Callable[..., MockCli], kie_at: Callable[..., Kie]
) -> None:
    """A line a request costs a third of the server's throughput: off unless --access-log."""
    cli = start_mock_cli(*(["--access-log"] if logged else []))
    kie = kie_at(cli.base_url, "any-key")
    assert kie.ok(kie.get("/api/v1/chat/credit")) == 1000.0
    cli.process.send_signal(signal.SIGTERM)
    _, errors = cli.process.communicate(timeout=10)
    assert cli.process.returncode == 0
    assert ("GET /api/v1/chat/credit" in errors) is logged
    assert "any-key" not in errors  # the key is a header, and headers are never logged
