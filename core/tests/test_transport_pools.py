"""Client's transport keeps one pool of connections per API origin: calls reuse a kept-alive
connection, each origin has its own, the path and query arrive as sent, and ``close`` closes
them (urllib3's ``PoolManager`` still serves downloads and uploads, whatever their host)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from attrs import define, field
from kiekit._engine import HttpRequest
from kiekit.transport import Urllib3Transport


@define
class Origin:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 that counts the connections it is given and
    sets ``closed`` when one of them is closed by the client."""

    base_url: str = ""
    paths: list[str] = field(factory=list)
    connections: int = 0
    closed: threading.Event = field(factory=threading.Event)


@pytest.fixture
def origins() -> Iterator[list[Origin]]:
    made: list[tuple[http.server.ThreadingHTTPServer, Origin]] = []
    for _ in range(2):
        origin = Origin()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def handle(self, origin: Origin = origin) -> None:
                origin.connections += 1
                super().handle()  # every request of the connection, until the client closes it
                origin.closed.set()

            def do_GET(self, origin: Origin = origin) -> None:
                origin.paths.append(self.path)
                body = b'{"code": 200, "msg": "success", "data": 1}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Retry-After", "1")
                self.send_header("RETRY-AFTER", "7")  # said twice: the last one counts
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        origin.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        made.append((server, origin))
    yield [origin for _, origin in made]
    for server, _ in made:
        server.shutdown()
        server.server_close()


def test_calls_to_each_origin_reuse_one_connection_and_close_closes_them(
    origins: list[Origin],
) -> None:
    transport = Urllib3Transport()
    for _ in range(5):
        for origin in origins:
            url = f"{origin.base_url}/api/v1/jobs/recordInfo?taskId=a%20b&x=1"
            answer = transport.send(HttpRequest("GET", url, {"Authorization": "Bearer k"}))
            assert answer.status == 200
            assert answer.body == b'{"code": 200, "msg": "success", "data": 1}'

    assert [origin.connections for origin in origins] == [1, 1]
    assert origins[0].paths == ["/api/v1/jobs/recordInfo?taskId=a%20b&x=1"] * 5
    assert not any(origin.closed.is_set() for origin in origins)
    transport.close()
    assert all(origin.closed.wait(30) for origin in origins)


def test_a_url_with_no_path_is_asked_for_at_the_root(origins: list[Origin]) -> None:
    transport = Urllib3Transport()
    try:
        assert transport.send(HttpRequest("GET", origins[0].base_url, {})).status == 200
    finally:
        transport.close()

    assert origins[0].paths == ["/"]


def test_answer_headers_come_by_lower_cased_name_the_last_of_a_repeated_one(
    origins: list[Origin],
) -> None:
    # read from urllib3's own table of them (Urllib3Transport._lowered): a change of its
    # layout must fail here, not hand the engine a Retry-After that is a header's name
    transport = Urllib3Transport()
    try:
        answer = transport.send(HttpRequest("GET", origins[0].base_url + "/x", {}))
    finally:
        transport.close()
    assert answer.headers["retry-after"] == "7"
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-length"] == str(len(answer.body))
