"""The real servers the team tests run on start and answer (a broken fixture fails here first)."""

from __future__ import annotations

import socket
import subprocess
import sys

import psycopg
import pytest
import redis
from teams import servers


def test_redis_answers(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert client.ping() is True
    client.set("kiekit:test:servers", "up")
    assert client.get("kiekit:test:servers") == b"up"


def test_postgres_answers(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as connection:
        row = connection.execute("SELECT current_database(), current_user").fetchone()
    assert row == ("kiekit", "kiekit")


# A server that binds the port it is given, and exits at once when another socket holds it.
_BINDS = """
import socket, sys, time
server = socket.socket()
try:
    server.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
server.listen()
time.sleep(60)
"""


def test_a_server_that_loses_its_port_starts_again_on_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Between free_port() and the server's bind another test may take the port: here one holds
    # it (bound, not listening, so nothing answers on it in the server's place).
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        picks = [taken.getsockname()[1]]
        real = servers.free_port
        monkeypatch.setattr(servers, "free_port", lambda: picks.pop() if picks else real())
        tried: list[int] = []

        def start(port: int) -> subprocess.Popen[bytes]:
            tried.append(port)
            return subprocess.Popen([sys.executable, "-c", _BINDS, str(port)])  # noqa: S603

        process, port = servers._listening(start, "a test server")
    try:
        assert len(tried) == 2
        assert port == tried[1] != tried[0]
        assert process.poll() is None
    finally:
        servers._stop(process)
