"""A shared CI mock is not held open by a slow or leaking client (connections.py): a request
that does not arrive whole within ``read_timeout``, and a connection that sits with no request
(one that never sent a byte too) for ``idle_timeout``, are closed; a healthy client is served
meanwhile. Each test waits for the server's end of the connection (EOF), with a generous cap:
the timeouts are tiny, and nothing here sleeps to decide an outcome."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from kiekit_mock import MockConfig, MockServer
from kiekit_mock.__main__ import main

if TYPE_CHECKING:
    from conftest import MakeMock

CAP = 30.0  # seconds a test waits for the server to close at most (the timeouts are far less)
TINY = 0.2
# a create on the API's port; on the upload host's, the same bytes to its base64 upload
HEAD = b"POST /api/v1/jobs/createTask HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer k\r\n"
UPLOAD_PATH = b"/api/file-base64-upload"
# what a slow or leaking client leaves on a connection, and never finishes
UNFINISHED = {
    "nothing": b"",
    "a partial head": b"GET /api/v1/chat/credit HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    "a short Content-Length body": HEAD + b"Content-Length: 100\r\n\r\n" + b'{"model": "x"',
    "an unfinished chunked body": HEAD + b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"mo"\r\n',
}


def _closed_by_server(address: tuple[str, int], sent: bytes) -> bytes:
    """What the server answered before it closed a connection that sent only ``sent``."""
    with socket.create_connection(address, timeout=CAP) as conn:
        conn.sendall(sent)
        received = b""
        while chunk := conn.recv(65536):  # b"": the server closed it (a timeout: the test fails)
            received += chunk
        return received


@pytest.fixture
def strict_mock() -> Iterator[MockServer]:
    """Requests must arrive in TINY seconds; idle connections may wait far longer."""
    with MockServer(MockConfig(read_timeout=TINY, idle_timeout=CAP * 4)) as mock:
        yield mock


def _addresses(mock: MockServer) -> list[tuple[str, int]]:
    upload = urlsplit(mock.upload_base_url)
    return [("127.0.0.1", mock.port), ("127.0.0.1", upload.port or 0)]


@pytest.mark.parametrize(
    "sent", [v for k, v in UNFINISHED.items() if v], ids=[k for k, v in UNFINISHED.items() if v]
)
def test_a_request_that_does_not_arrive_in_time_is_closed_unanswered(
    strict_mock: MockServer, sent: bytes
) -> None:
    api, upload = _addresses(strict_mock)
    assert _closed_by_server(api, sent) == b""
    assert _closed_by_server(upload, sent.replace(b"/api/v1/jobs/createTask", UPLOAD_PATH)) == b""


@pytest.mark.parametrize("sent", [b"", b"GET /api/v1/chat/credit HTTP/1.1\r\nHost: 127.0.0.1\r\n"])
def test_an_idle_connection_is_closed_after_the_idle_timeout(sent: bytes) -> None:
    """One that never sent a byte too; a partial head is bounded by the idle time as well."""
    with MockServer(MockConfig(read_timeout=CAP * 4, idle_timeout=TINY)) as mock:
        for address in _addresses(mock):
            assert _closed_by_server(address, sent) == b""


def test_a_kept_alive_connection_is_closed_once_idle_after_its_answer() -> None:
    with MockServer(MockConfig(idle_timeout=TINY)) as mock:
        request = b"GET /api/v1/chat/credit HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        request += b"Authorization: Bearer k\r\n\r\n"
        answer = _closed_by_server(("127.0.0.1", mock.port), request)
        assert answer.startswith(b"HTTP/1.1 200")
        assert b'"code":200' in answer


def test_a_healthy_client_is_served_while_slow_ones_hold_connections(
    make_mock: MakeMock,
) -> None:
    mock, kie = make_mock(read_timeout=TINY, idle_timeout=TINY * 2)
    with contextlib.ExitStack() as stack:
        held = [
            stack.enter_context(socket.create_connection(("127.0.0.1", mock.port), timeout=CAP))
            for _ in range(20)
        ]
        for conn, sent in zip(held, list(UNFINISHED.values()) * 5, strict=True):
            conn.sendall(sent)
        assert kie.ok(kie.get("/api/v1/chat/credit")) == 1000.0
        task = kie.create("grok-imagine/text-to-image", prompt="a cat")
        assert kie.record(task)["state"] == "success"
        for conn in held:  # and each slow one is let go
            assert conn.recv(65536) == b""


@pytest.mark.parametrize("name", ["read_timeout", "idle_timeout"])
@pytest.mark.parametrize("value", [0, -1.0, float("inf"), "60"])
def test_timeouts_are_positive_finite_seconds(name: str, value: object) -> None:
    with pytest.raises((TypeError, ValueError), match=name):
        MockConfig(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("option", ["--read-timeout", "--idle-timeout"])
@pytest.mark.parametrize("value", ["0", "-5", "inf", "soon"])
def test_the_command_line_refuses_a_timeout_that_is_no_positive_number(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", option, value])
    assert exited.value.code == 2
    assert option in capsys.readouterr().err
