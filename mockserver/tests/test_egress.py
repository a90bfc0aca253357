"""The mock connects only to loopback, on every hop (egress.py): file-url-upload fetches follow
redirects one by one and refuse a hop outside 127.0.0.0/8 / ::1; names are checked after they
are resolved; callbacks to a name that resolves outside loopback are recorded, not sent.

No test needs the network: a name "resolving outside loopback" comes from a stand-in resolver
(``egress.base_resolver``), and refused addresses are TEST-NET ones (RFC 5737 / RFC 3849)."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer, egress
from kiekit_mock.egress import Egress, EgressRefused

if TYPE_CHECKING:
    from conftest import StandInResolver

URL = "/api/file-url-upload"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


class Redirects:
    """A loopback HTTP server answering each path with a 302 to the URL mapped to it."""

    def __init__(self) -> None:
        self.routes: dict[str, str] = {}
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(self.path)
                target = outer.routes.get(self.path)
                self.send_response(302 if target else 404)
                if target:
                    self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def to(self, path: str, target: str) -> str:
        self.routes[path] = target
        return self.base + path


@pytest.fixture
def redirects() -> Iterator[Redirects]:
    server = Redirects()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join()


@pytest.fixture
def host(mock: MockServer, kie_at: Callable[..., Any]) -> Any:
    return kie_at(mock.upload_base_url)


def _stored_png(host: Any) -> str:
    """The download URL of a PNG stored on the mock's upload host."""
    import base64

    raw = base64.b64encode(PNG).decode()
    body = {"base64Data": raw, "uploadPath": "src", "fileName": "a.png"}
    return str(host.ok(host.post("/api/file-base64-upload", body))["downloadUrl"])


def _refusal(host: Any, file_url: str) -> str:
    payload = host.post(URL, {"fileUrl": file_url, "uploadPath": "w"}).json()
    assert (payload["success"], payload["code"]) == (False, 400), payload
    return str(payload["msg"])


def test_redirects_between_loopback_urls_are_followed_hop_by_hop(
    host: Any, redirects: Redirects
) -> None:
    final = _stored_png(host)
    redirects.to("/second", final)
    first = redirects.to("/first.png", redirects.base + "/second")
    data = host.ok(host.post(URL, {"fileUrl": first, "uploadPath": "copies"}))
    assert host.fetch(data["downloadUrl"]).body == PNG
    assert redirects.hits == ["/first.png", "/second"]


@pytest.mark.parametrize(
    ("location", "refused"),
    [
        ("http://192.0.2.1/cat.png", "192.0.2.1"),
        ("https://198.51.100.7:8443/cat.png", "198.51.100.7"),
        ("http://[2001:db8::1]/cat.png", "2001:db8::1"),
        ("http://0.0.0.0/cat.png", "0.0.0.0"),  # noqa: S104 (a URL refused, nothing bound)
    ],
)
def test_a_redirect_to_an_address_outside_loopback_is_refused_not_followed(
    host: Any, redirects: Redirects, location: str, refused: str
) -> None:
    message = _refusal(host, redirects.to("/cat.png", location))
    assert f"refused to connect to '{refused}'" in message
    assert "loopback" in message


def test_a_redirect_to_a_name_is_refused_without_a_dns_lookup(
    host: Any, redirects: Redirects, resolve_as: Callable[..., StandInResolver]
) -> None:
    """A DNS query for a name would leave the machine, carrying the name (and what an
    attacker put in it) to a resolver outside loopback: names other than localhost are
    refused before any lookup, whatever they would resolve to."""
    resolver = resolve_as({"files.example.test": ["127.0.0.1"]})
    message = _refusal(host, redirects.to("/cat.png", "http://files.example.test/cat.png"))
    assert "'files.example.test'" in message
    assert "names other than localhost are not looked up" in message
    assert resolver.asked == []


@pytest.mark.parametrize("name", ["localhost", "LOCALHOST"])
def test_localhost_is_loopback_without_asking_any_resolver(
    host: Any, resolve_as: Callable[..., StandInResolver], name: str
) -> None:
    """RFC 6761: localhost and every *.localhost name are loopback, answered without DNS, so
    whatever a hosts file or resolver would say is never asked (nor told the name)."""
    resolver = resolve_as({"localhost": ["192.0.2.9", "2001:db8::9"]})
    url = _stored_png(host).replace("127.0.0.1", name)
    data = host.ok(host.post(URL, {"fileUrl": url, "uploadPath": "copies"}))
    assert host.fetch(data["downloadUrl"]).body == PNG
    assert resolver.asked == []


@pytest.mark.parametrize("name", ["localhost", "files.localhost", "A.B.LOCALHOST."])
@pytest.mark.parametrize(
    ("family", "addresses"),
    [
        (socket.AF_UNSPEC, ["127.0.0.1", "::1"]),
        (socket.AF_INET, ["127.0.0.1"]),
        (socket.AF_INET6, ["::1"]),
    ],
)
def test_the_resolver_answers_localhost_names_itself(
    resolve_as: Callable[..., StandInResolver],
    name: str,
    family: socket.AddressFamily,
    addresses: list[str],
) -> None:
    resolver = resolve_as({})
    found = asyncio.run(egress.LoopbackResolver().resolve(name, 8080, family))
    assert [(r["host"], r["port"], r["hostname"]) for r in found] == [
        (address, 8080, name) for address in addresses
    ]
    assert resolver.asked == []


def test_a_redirect_to_a_localhost_subdomain_sends_no_dns_query(
    host: Any, redirects: Redirects, resolve_as: Callable[..., StandInResolver]
) -> None:
    """A loopback fileUrl redirecting to `<data>.attacker.localhost` once made the system
    resolver send the name (and the data in it) to a DNS server off the machine."""
    resolver = resolve_as({})
    port = redirects.base.rsplit(":", 1)[1]
    redirects.routes["/final.png"] = _stored_png(host)
    first = redirects.to("/cat.png", f"http://leak-secretdata.attacker.localhost:{port}/final.png")
    data = host.ok(host.post(URL, {"fileUrl": first, "uploadPath": "copies"}))
    assert host.fetch(data["downloadUrl"]).body == PNG
    assert redirects.hits == ["/cat.png", "/final.png"]
    assert resolver.asked == []


def test_a_redirect_to_a_malformed_location_ends_with_a_400(
    host: Any, redirects: Redirects
) -> None:
    assert "InvalidURL" in _refusal(host, redirects.to("/odd.png", "http://[::1/x.png"))


def test_a_redirect_to_another_scheme_is_refused(host: Any, redirects: Redirects) -> None:
    assert "not an http(s) URL" in _refusal(host, redirects.to("/f.png", "file:///etc/passwd"))


def test_a_redirect_loop_ends_with_a_400(host: Any, redirects: Redirects) -> None:
    loop = redirects.to("/loop.png", redirects.base + "/loop.png")
    assert "TooManyRedirects" in _refusal(host, loop)
    assert len(redirects.hits) == egress.MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.1/x",
        "http://[::ffff:192.0.2.1]/x",
        "ftp://127.0.0.1/x",
        "http://127.0.0.1:notaport/x",
        "file:///etc/passwd",
    ],
)
def test_egress_refuses_before_asking(url: str) -> None:
    with pytest.raises(EgressRefused):
        Egress().check_url(url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1/x", "http://127.9.9.9/x", "http://[::1]:80/x", "http://localhost/"]
)
def test_egress_lets_loopback_urls_and_names_through_to_the_resolver(url: str) -> None:
    Egress().check_url(url)


def test_an_allowed_host_is_the_only_exception() -> None:
    Egress({"hooks.example.test", "192.0.2.1"}).check_url("http://192.0.2.1/x")
    with pytest.raises(EgressRefused):
        Egress({"hooks.example.test"}).check_url("http://192.0.2.1/x")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], "outgoing connections: loopback only (127.0.0.0/8, ::1)\n"),
        (
            ["--allow-callback-host", "hooks.example.test"],
            "outgoing connections: loopback only (127.0.0.0/8, ::1); "
            "callbacks also to hooks.example.test (allowed at startup)\n",
        ),
    ],
)
def test_the_allowed_hosts_are_logged_at_startup(flags: list[str], expected: str) -> None:
    command = [sys.executable, "-m", "kiekit_mock", "--port", "0", "--upload-port", "0", *flags]
    with subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    ) as process:
        try:
            assert process.stderr is not None
            line = process.stderr.readline().decode()
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert re.fullmatch(r"kiekit-mock: (.*\n)", line), line
    assert line == "kiekit-mock: " + expected
