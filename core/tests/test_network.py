"""The network settings a deployed client needs, on real sockets: proxies (the environment's and
``proxy=``), TLS with a private CA (``ssl_context=``), what a failed handshake or a refused
tunnel means for a create, and the ``timeout`` check. Every connection stays on 127.0.0.1:
"kie.test" stands for a remote host (the ``network`` fixture resolves it here, without DNS)."""

from __future__ import annotations

import asyncio
import base64
import math
from pathlib import Path
from typing import Any

import pytest
from kiekit import AsyncClient, Client
from kiekit.errors import ConfigurationError, OutcomeUnknownError, TransportError
from kiekit.retry import RetryPolicy

REMOTE = "kie.test"
# plain http to kie.test is what these tests are about (it is not loopback by name)
pytestmark = pytest.mark.filterwarnings("ignore::kiekit.settings.PlainHttpWarning")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64) + b"\x00\x00\x00\x00IEND\xaeB`\x82"  # ends whole


def remote(url: str) -> str:
    """The mock's URL under the remote-looking name (same port, still 127.0.0.1)."""
    return url.replace("127.0.0.1", REMOTE)


def paths(seen: list[str]) -> set[str]:
    """The proxy's log without hosts and queries: ``GET /api/v1/chat/credit``."""
    out = set()
    for line in seen:
        method, target = line.split(" ", 1)
        path = target.split("/", 3)[3] if "://" in target else target
        out.add(f"{method} /{path.split('?')[0]}" if "://" in target else line)
    return out


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_every_call_upload_and_download_goes_through_the_environments_proxy(
    api: Any, network: Any, mock_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    variable: str,
) -> None:  # fmt: skip
    monkeypatch.setenv(variable, network.proxy_url)

    async def scenario() -> list[Path]:
        async with api.client(
            base_url=remote(mock_server.base_url),
            upload_base_url=remote(mock_server.upload_base_url),
            journal=None,
        ) as kie:
            await kie.credits()
            await kie.upload(PNG, file_name="a.png")
            return await kie.generate("flux-kontext-pro", prompt="a fox", out_dir=tmp_path)

    files = api.run(scenario)
    assert files
    assert all(f.exists() for f in files)
    seen = paths(network.seen)
    assert {
        "GET /api/v1/chat/credit",
        "POST /api/file-base64-upload",
        "POST /api/v1/flux/kontext/generate",
        "GET /api/v1/flux/kontext/record-info",
    } <= seen
    assert any(line.startswith("GET /files/") for line in seen)  # the result file


def test_a_large_async_download_on_its_thread_goes_through_the_proxy_too(
    network: Any, mock_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HTTP_PROXY", network.proxy_url)
    monkeypatch.setattr("kiekit._transports.aiohttp_transport.LARGE_FILE", 1)  # every file

    async def scenario() -> list[Path]:
        async with AsyncClient("k", base_url=remote(mock_server.base_url), journal=None) as kie:
            return await kie.generate("flux-kontext-pro", prompt="a fox", out_dir=tmp_path)

    assert asyncio.run(scenario())
    # the session's GET and the mock's redirect to a signed link, then the same two again by
    # urllib3 on the thread: all four through the proxy
    assert sum(line.startswith("GET http://kie.test") and "/files/" in line
               for line in network.seen) == 4  # fmt: skip


def test_no_proxy_and_loopback_hosts_go_straight(
    api: Any, network: Any, mock_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_PROXY is honoured, and loopback (the embedded mock) is never proxied, even by an
    explicit ``proxy=``: a proxy elsewhere could not reach this machine's mock."""
    monkeypatch.setenv("HTTP_PROXY", network.proxy_url)
    monkeypatch.setenv("no_proxy", f"example.org,{REMOTE}")

    async def scenario() -> None:
        async with api.client(base_url=remote(mock_server.base_url), journal=None) as kie:
            await kie.credits()
        async with api.client(
            base_url=mock_server.base_url, proxy=network.proxy_url, journal=None
        ) as kie:
            await kie.credits()
        localhost = mock_server.base_url.replace("127.0.0.1", "localhost")
        async with api.client(base_url=localhost, journal=None) as kie:
            await kie.credits()

    api.run(scenario)
    assert network.seen == []


def test_an_explicit_proxy_wins_and_trust_env_false_leaves_the_environment_out(
    api: Any, network: Any, mock_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: would fail

    async def scenario() -> None:
        base = remote(mock_server.base_url)
        async with api.client(base_url=base, proxy=network.proxy_url, journal=None) as kie:
            await kie.credits()
        async with api.client(base_url=base, trust_env=False, journal=None) as kie:
            await kie.credits()

    api.run(scenario)
    assert network.seen == [f"GET {remote(mock_server.base_url)}/api/v1/chat/credit"]


def test_https_goes_through_the_proxys_tunnel_to_a_host_of_a_private_ca(
    api: Any, network: Any, mock_server: Any, tmp_path: Path
) -> None:
    """CONNECT through the proxy, then TLS with the host's certificate checked against the CA
    given as ``ssl_context`` (a corporate CA or a TLS-inspecting proxy's)."""
    port = network.tls_front(int(mock_server.base_url.rsplit(":", 1)[1]))

    async def scenario() -> float:
        async with api.client(
            base_url=f"https://{REMOTE}:{port}",
            proxy=network.proxy_url,
            ssl_context=network.ssl_context,
            journal=None,
        ) as kie:
            return float(await kie.credits())

    assert api.run(scenario) > 0
    assert network.seen == [f"CONNECT {REMOTE}:{port}"]


def test_a_failed_tls_handshake_on_a_create_was_not_sent_and_says_why(
    api: Any, network: Any, mock_server: Any
) -> None:
    """No CA trusts the host: the handshake fails before the request is written, so the create
    made nothing (a retry may send it; no "outcome unknown" to settle by hand), and the
    one-line message says what OpenSSL said."""
    port = network.tls_front(int(mock_server.base_url.rsplit(":", 1)[1]))

    async def scenario() -> None:
        async with api.client(
            base_url=f"https://localhost:{port}", retry=RetryPolicy.never(), journal=None
        ) as kie:
            await kie.submit("flux-kontext-pro", prompt="a fox")

    with pytest.raises(TransportError) as caught:
        api.run(scenario)
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert caught.value.maybe_sent is False
    assert "the TLS handshake failed: certificate verify failed: unable to get local issuer" in str(
        caught.value
    )


def test_a_create_the_proxy_would_not_tunnel_was_not_sent(
    api: Any, network: Any, mock_server: Any
) -> None:
    network.refuse_connect = True

    async def scenario() -> None:
        async with api.client(
            base_url=f"https://{REMOTE}:{int(mock_server.base_url.rsplit(':', 1)[1])}",
            proxy=network.proxy_url,
            retry=RetryPolicy.never(),
            journal=None,
        ) as kie:
            await kie.submit("flux-kontext-pro", prompt="a fox")

    with pytest.raises(TransportError) as caught:
        api.run(scenario)
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert caught.value.maybe_sent is False
    assert "the proxy would not open a tunnel" in str(caught.value)
    assert "403" in str(caught.value)


def test_a_socks_proxy_in_the_environment_is_refused_by_name_but_loopback_still_works(
    api: Any, network: Any, mock_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", "socks5://user:secret@127.0.0.1:1080")

    async def scenario(base: str) -> None:
        async with api.client(base_url=base, journal=None) as kie:
            await kie.credits()

    api.run(lambda: scenario(mock_server.base_url))  # the mock: no proxy at all
    with pytest.raises(ConfigurationError, match="ALL_PROXY") as caught:
        api.run(lambda: scenario(remote(mock_server.base_url)))
    assert "secret" not in str(caught.value)
    assert network.seen == []


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("proxy", "socks5://127.0.0.1:1080"),
        ("proxy", "http://proxy:99999"),
        ("ssl_context", "/etc/ssl/ca.pem"),
        ("trust_env", "no"),
    ],
)
def test_bad_network_options_are_refused_by_name(api: Any, option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=option):
        api.cls("k", base_url="http://127.0.0.1:9", journal=None, **{option: value})


@pytest.mark.parametrize("timeout", [0, -1, math.nan, math.inf, "30", True, None])
def test_a_bad_timeout_is_refused_by_both_clients_naming_it(api: Any, timeout: Any) -> None:
    """0 meant "no read timeout at all" to aiohttp, -1 every call failing at once, "30" and
    nan urllib3's own ValueError: all are one ConfigurationError naming timeout now."""
    with pytest.raises(ConfigurationError, match=r"^timeout must be") as caught:
        api.cls("k", base_url="http://127.0.0.1:9", journal=None, timeout=timeout)
    assert repr(timeout) in str(caught.value)


def test_network_options_with_a_transport_of_ones_own_are_refused(api: Any) -> None:
    from kiekit.transport import MockTransport

    with pytest.raises(ConfigurationError, match="give them to that transport"):
        api.cls("k", transport=MockTransport(lambda r: None), proxy="http://p:3128")  # type: ignore[arg-type,return-value]


def test_the_blocking_client_checks_its_timeout_before_the_settings() -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        Client("k", base_url="http://127.0.0.1:9", journal=None, timeout=-1)


@pytest.mark.parametrize("tunnel", [False, True], ids=["forwarded", "CONNECT"])
@pytest.mark.parametrize("where", ["proxy=", "environment"])
def test_a_proxy_that_demands_credentials_gets_them_from_the_proxy_url(
    api: Any,
    network: Any,
    mock_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    tunnel: bool,
    where: str,
) -> None:
    """An authenticated corporate proxy (407 without credentials): the URL's ``user:password@``,
    percent-decoded, goes as ``Proxy-Authorization: Basic …`` in the CONNECT of an https call
    and in each call forwarded to an http host, from either client (the ``kie`` CLI's is
    Client) — as the proxy received it, in the header's own spelling."""
    network.credentials = "alice:p@ss w:rd"
    proxy = network.proxy_url.replace("http://", "http://alice:p%40ss%20w%3Ard@")
    if tunnel:
        port = network.tls_front(int(mock_server.base_url.rsplit(":", 1)[1]))
        base, context = f"https://{REMOTE}:{port}", network.ssl_context
    else:
        base, context = remote(mock_server.base_url), None
    options: dict[str, Any] = {"proxy": proxy} if where == "proxy=" else {}
    if where == "environment":
        monkeypatch.setenv("HTTPS_PROXY" if tunnel else "HTTP_PROXY", proxy)

    async def scenario() -> float:
        async with api.client(base_url=base, ssl_context=context, journal=None, **options) as kie:
            return float(await kie.credits())

    assert api.run(scenario) > 0
    basic = "Basic " + base64.b64encode(b"alice:p@ss w:rd").decode()
    assert network.authorizations == [("Proxy-Authorization", basic)]
    assert network.seen == [
        f"CONNECT {REMOTE}:{port}" if tunnel else f"GET {base}/api/v1/chat/credit"
    ]


def test_a_proxy_that_refuses_the_credentials_given_is_a_407_naming_it(
    api: Any, network: Any, mock_server: Any
) -> None:
    network.credentials = "alice:right"
    proxy = network.proxy_url.replace("http://", "http://alice:wrong@")

    async def scenario() -> None:
        async with api.client(
            base_url=remote(mock_server.base_url), proxy=proxy, journal=None
        ) as kie:
            await kie.credits()

    with pytest.raises(TransportError, match="asks for credentials") as caught:
        api.run(scenario)
    assert "wrong" not in str(caught.value)
    basic = "Basic " + base64.b64encode(b"alice:wrong").decode()
    assert network.authorizations == [("Proxy-Authorization", basic)]
