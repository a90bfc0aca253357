"""What a proxy's failures look like, in both clients, on real sockets (the ``network`` fixture:
a forward/CONNECT proxy on 127.0.0.1, and "kie.test" standing for a remote host): a malformed
proxy URL is a ConfigurationError naming where it came from; a proxy that never answers CONNECT
is bounded by ``timeout=`` and retried; a dead proxy, its 407 and its 502 name the proxy (never
its password) and where it came from, and a 407 is not taken for a KIE code (kie-api.md §1);
a redirect of a result link picks its proxy by its own URL. Also: credentials in a base URL are
refused, never shown."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from kiekit._engine import Fetch
from kiekit.errors import ApiError, ConfigurationError, DownloadError, ServerError, TransportError
from kiekit.retry import RetryPolicy

REMOTE = "kie.test"
SECRET = "hunter2"
# plain http to kie.test is what these tests are about (it is not loopback by name)
pytestmark = pytest.mark.filterwarnings("ignore::kiekit.settings.PlainHttpWarning")


def remote(url: str) -> str:
    return url.replace("127.0.0.1", REMOTE)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def with_password(proxy_url: str) -> str:
    return proxy_url.replace("http://", f"http://user:{SECRET}@")


def dead_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then closed: refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def credits(api: Any, base_url: str, **options: Any) -> float:
    async with api.client(base_url=base_url, journal=None, **options) as kie:
        return float(await kie.credits())


# -- 1. a malformed proxy URL ---------------------------------------------------------------


@pytest.mark.parametrize(
    "proxy",
    [
        f"http://u:{SECRET}@[::1",  # urlsplit's "Invalid IPv6 URL"
        f"http://us%3Aer:{SECRET}@proxy.corp:3128",  # a ':' in the user name (aiohttp refuses)
        f"http://us\u0142er:{SECRET}@proxy.corp:3128",  # not Latin-1: no Basic header holds it
    ],
)
def test_a_malformed_proxy_is_a_configuration_error_naming_the_option(api: Any, proxy: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^proxy ") as caught:
        api.cls("k", base_url="http://127.0.0.1:9", journal=None, proxy=proxy)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("proxy", ["socks5://127.0.0.1:1080", f"http://u:{SECRET}@[::1"])
def test_a_client_refused_for_its_proxy_leaves_no_journal_file_thread_or_descriptor_open(
    api: Any, proxy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A constructor that fails on its proxy (SOCKS, a malformed URL), after its journal was
    made, must leave nothing of it open (an outside security review's leftover): the journal
    opens its SQLite file, and the writer thread starts, at its first use, never in the
    constructor. Kept so, with the default journal and one named by a path."""
    import os
    import threading

    data, named = tmp_path / "data", tmp_path / "named.sqlite3"
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(data))
    proc = Path("/proc/self/fd")
    threads = set(threading.enumerate())
    descriptors = set(os.listdir(proc)) if proc.is_dir() else set()
    for journal in (True, str(named)):
        with pytest.raises(ConfigurationError, match=r"^proxy "):
            api.cls("k" * 32, base_url="http://127.0.0.1:9", journal=journal, proxy=proxy)
    assert set(threading.enumerate()) <= threads
    if proc.is_dir():
        assert set(os.listdir(proc)) <= descriptors
    assert not data.exists()
    assert not named.exists()


def test_a_malformed_proxy_variable_is_a_configuration_error_naming_it_before_anything_is_sent(
    api: Any, network: Any, mock_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://u:{SECRET}@[::1")

    with pytest.raises(ConfigurationError, match="HTTP_PROXY") as caught:
        api.run(lambda: credits(api, remote(mock_server.base_url)))
    assert SECRET not in str(caught.value)
    assert "trust_env=False" in str(caught.value)
    assert network.seen == []


def test_kie_refuses_a_malformed_proxy_option_or_variable_with_exit_2_and_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from kiekit.cli import main

    monkeypatch.setenv("KIE_API_KEY", "sk-fake-proxy-test-key-0123456789")
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    base = ["--base-url", f"https://{REMOTE}:9", "--json"]
    # an option's own check: a ValidationError naming it (exit 2), not argparse's usage error
    assert main(["credits", *base, "--proxy", f"http://u:{SECRET}@[::1"]) == 2
    said = capsys.readouterr()
    assert SECRET not in said.out + said.err
    assert "invalid" not in said.err  # argparse's own "invalid proxy_url value: '…'"
    error = json.loads(said.out)["error"]
    assert (error["type"], error["field"]) == ("ValidationError", "--proxy")
    assert error["message"].startswith("--proxy: the proxy is not a URL kiekit can read")

    monkeypatch.setenv("HTTPS_PROXY", f"http://u:{SECRET}@[::1")
    assert main(["credits", *base]) == 2
    said = capsys.readouterr()
    assert SECRET not in said.out + said.err
    assert "Traceback" not in said.err
    error = json.loads(said.out)["error"]
    assert error["type"] == "ConfigurationError"
    assert "HTTPS_PROXY" in error["message"]


# -- 2. a proxy that never answers CONNECT ------------------------------------------------------


def test_a_proxy_that_never_answers_connect_is_bounded_by_timeout_and_retried(
    api: Any, network: Any, mock_server: Any
) -> None:
    """The proxy takes the connection and reads CONNECT, then says nothing, ever: each
    attempt ends after ``timeout=`` (the longest wait for bytes), not the retry deadline,
    and is tried again, nothing having been sent."""
    network.stall = True
    base = f"https://{REMOTE}:{port_of(mock_server.base_url)}"
    retry = RetryPolicy(attempts=3, base=0.001, cap=0.002, deadline=30)

    with pytest.raises(TransportError) as caught:
        api.run(lambda: credits(api, base, proxy=network.proxy_url, timeout=0.2, retry=retry))
    assert "no answer to CONNECT within 0.2 s" in str(caught.value)
    assert f"through the proxy 127.0.0.1:{port_of(network.proxy_url)} (proxy=)" in str(caught.value)
    assert caught.value.maybe_sent is False
    assert network.seen == [f"CONNECT {REMOTE}:{port_of(base)}"] * 3


# -- 4. the proxy's own failures, named as its -------------------------------------------------


def test_a_dead_proxy_is_named_with_where_it_came_from_never_its_password(
    api: Any, network: Any, mock_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = dead_port()
    monkeypatch.setenv("HTTP_PROXY", f"http://u:{SECRET}@127.0.0.1:{port}")
    retry = RetryPolicy.never()

    base = remote(mock_server.base_url)
    options: dict[str, Any]
    for options in ({}, {"proxy": f"http://u:{SECRET}@127.0.0.1:{port}"}):
        with pytest.raises(TransportError) as caught:
            api.run(lambda: credits(api, base, retry=retry, **options))  # noqa: B023 - run now
        text = str(caught.value)
        assert "could not connect to the proxy: connection refused" in text
        source = "proxy=" if options else "HTTP_PROXY"
        assert f"through the proxy 127.0.0.1:{port} ({source})" in text
        assert SECRET not in text
        assert caught.value.maybe_sent is False


@pytest.mark.parametrize("tunnel", [False, True], ids=["forwarded", "CONNECT"])
def test_a_proxys_407_is_a_transport_error_naming_the_proxy_not_a_kie_code(
    api: Any, network: Any, mock_server: Any, tunnel: bool
) -> None:
    network.answer = b"407 Proxy Authentication Required"
    port = port_of(mock_server.base_url)
    base = f"https://{REMOTE}:{port}" if tunnel else remote(mock_server.base_url)
    proxy = with_password(network.proxy_url)

    async def scenario() -> None:
        async with api.client(base_url=base, proxy=proxy, journal=None) as kie:
            await kie.submit("flux-kontext-pro", prompt="a fox")

    with pytest.raises(TransportError) as caught:
        api.run(scenario)
    error = caught.value
    assert not isinstance(error, ApiError)
    assert error.code is None  # not KIE's: KIE's codes come in the body (kie-api.md §1)
    assert f"the proxy 127.0.0.1:{port_of(network.proxy_url)} (proxy=) asks for credentials" in (
        str(error)
    )
    assert "HTTP 407" in str(error)
    assert SECRET not in str(error)
    assert error.retryable is False
    assert error.maybe_sent is False
    assert len(network.seen) == 1  # not retried: credentials do not come by asking again


def test_a_proxys_502_names_the_proxy_forwarded_or_to_connect(
    api: Any, network: Any, mock_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    network.answer = b"502 Bad Gateway"
    monkeypatch.setenv("HTTPS_PROXY", network.proxy_url)
    monkeypatch.setenv("HTTP_PROXY", network.proxy_url)
    named = f"the proxy 127.0.0.1:{port_of(network.proxy_url)}"
    retry = RetryPolicy.never()

    with pytest.raises(ServerError) as forwarded:
        api.run(lambda: credits(api, remote(mock_server.base_url), retry=retry))
    assert str(forwarded.value).startswith("HTTP 502 Bad Gateway")  # not "KIE error 502"
    assert f"(from {named} (HTTP_PROXY), or the host behind it)" in str(forwarded.value)

    tunnel = f"https://{REMOTE}:{port_of(mock_server.base_url)}"
    with pytest.raises(TransportError) as connect:
        api.run(lambda: credits(api, tunnel, retry=retry))
    assert "the proxy would not open a tunnel" in str(connect.value)
    assert "502" in str(connect.value)
    assert f"through {named} (HTTPS_PROXY)" in str(connect.value)
    assert connect.value.retryable  # a proxy's 5xx may pass


def test_a_download_through_a_proxy_that_asks_for_credentials_says_so(
    fetch: Any, network: Any, file_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    network.answer = b"407 Proxy Authentication Required"
    monkeypatch.setenv("http_proxy", network.proxy_url)
    job = Fetch(remote(file_server.base_url) + "/file.png", tmp_path / "a.png", task_id="t1")

    with pytest.raises(DownloadError) as caught:
        fetch(job)
    assert "asks for credentials" in str(caught.value)
    assert "(HTTP_PROXY)" in str(caught.value)
    assert caught.value.curable is False


# -- 6. credentials in the base URL -----------------------------------------------------------


@pytest.mark.parametrize("name", ["base_url", "upload_base_url"])
def test_credentials_in_a_base_url_are_refused_naming_it_never_shown(api: Any, name: str) -> None:
    options = {"base_url": "http://127.0.0.1:1", name: f"http://user:{SECRET}@127.0.0.1:1"}
    with pytest.raises(ConfigurationError, match=rf"^{name} must not carry") as caught:
        api.cls("k", journal=None, **options)
    assert SECRET not in str(caught.value)
    assert "user" not in str(caught.value).split("(")[1].split(")")[0]  # the URL it shows


def test_credentials_in_kie_base_url_or_base_url_option_are_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit import Client
    from kiekit.cli import main

    monkeypatch.setenv("KIE_BASE_URL", f"http://user:{SECRET}@127.0.0.1:1")
    with pytest.raises(ConfigurationError, match=r"^KIE_BASE_URL must not carry") as caught:
        Client("k", journal=None)
    assert SECRET not in str(caught.value)
    monkeypatch.setenv("KIE_API_KEY", "sk-fake-proxy-test-key-0123456789")
    monkeypatch.delenv("KIE_BASE_URL")
    assert (
        main(["-vv", "credits", "--base-url", f"http://user:{SECRET}@127.0.0.1:1", "--json"]) == 2
    )
    said = capsys.readouterr()
    assert SECRET not in said.out + said.err
    assert "--base-url must not carry" in said.err


# -- 7. redirects through a proxy --------------------------------------------------------------


def test_each_redirect_hop_picks_its_own_proxy_and_carries_its_own_host(
    fetch: Any, network: Any, file_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result link on a remote host, reached through the proxy, redirects to loopback (never
    proxied) or to another remote host (through the proxy): each hop's Host header is its own
    host's (a virtual-hosted or signed store checks it), and the loopback hop goes straight."""
    monkeypatch.setenv("HTTP_PROXY", network.proxy_url)
    straight = file_server.base_url + "/file.png"  # 127.0.0.1: never through the proxy
    other = f"http://files.{REMOTE}:{port_of(file_server.base_url)}/file.png"

    for target, proxied in ((straight, False), (other, True)):
        network.seen.clear()
        file_server.seen.clear()
        link = _redirector(network, target)
        path = fetch(Fetch(link, tmp_path / f"{int(proxied)}.png", task_id="t1"))
        assert path.read_bytes() == file_server.body
        assert network.seen[0] == f"GET {link}"  # the link itself: through the proxy
        assert (f"GET {target}" in network.seen) is proxied
        assert {seen["Host"] for seen in file_server.seen} == {target.split("/")[2]}


def _redirector(network: Any, target: str) -> str:
    """A remote-looking URL whose host answers 302 to ``target`` (a server of its own,
    closed with the network fixture)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            f"HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()

    return f"http://redirect.{REMOTE}:{network._listen(handle)}/r/x.png"


# -- 3. an error once a task was made ----------------------------------------------------------


def test_kie_run_says_an_error_after_its_create_with_the_task_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The task was made (and paid for); its download then met a proxy variable kiekit cannot
    use (a SOCKS HTTP_PROXY for an http:// result link). Exit 2 says "nothing sent": it is 1,
    and the error names the task, which `kie resume` finishes."""
    import json

    from kiekit import Client, cli

    monkeypatch.setattr(cli._common, "DEMO_SECONDS", 0.0)
    monkeypatch.setenv("KIEKIT_JOURNAL_URL", str(tmp_path / "journal.db"))

    def refused(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ConfigurationError("HTTP_PROXY (or http_proxy, from the environment) is socks5://…")

    monkeypatch.setattr(Client, "download", refused)
    argv = ["run", "flux-kontext-pro", "--prompt", "x", "--mock", "--json"]
    assert cli.main([*argv, "--out", str(tmp_path / "out")]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["type"] == "ConfigurationError"
    assert error["task_id"]
    assert cli.exit_code(ConfigurationError("no key")) == 2  # before anything: still usage


def test_a_proxys_407_leaves_no_password_or_key_in_the_traceback_even_with_its_locals(
    api: Any, kit: Any, network: Any, mock_server: Any
) -> None:
    """aiohttp's ClientHttpProxyError, chained to kiekit's error, prints the proxy URL with its
    password; the library frames under it hold the request's headers. A reporter that records
    locals (Sentry, rich, pytest -l) would send both (README: "never its password")."""
    import traceback

    network.answer = b"407 Proxy Authentication Required"
    base = f"https://{REMOTE}:{port_of(mock_server.base_url)}"  # CONNECT: aiohttp's own error
    proxy = with_password(network.proxy_url)

    async def scenario() -> None:
        async with api.client(base_url=base, proxy=proxy, journal=None) as kie:
            await kie.credits()

    with pytest.raises(TransportError) as caught:
        api.run(scenario)
    shown = "".join(traceback.format_exception(caught.value))
    with_locals = library_locals(caught.value)
    for text in (shown, with_locals):
        assert SECRET not in text
        assert kit.CANARY not in text
    assert "asks for credentials" in shown
    assert "aiohttp_transport.py" in shown or "urllib3_transport.py" in shown  # file and line kept


def library_locals(error: BaseException) -> str:
    """The local variables traceback's capture_locals records (as Sentry does) in the frames
    of ``error`` and the exceptions chained to it, but for this test file's own frames (its
    ``proxy`` is its own business)."""
    import traceback

    seen: list[str] = []
    pending: list[traceback.TracebackException | None] = [
        traceback.TracebackException.from_exception(error, capture_locals=True)
    ]
    while pending:
        found = pending.pop()
        if found is None:
            continue
        seen.append("".join(found.format_exception_only()))
        for frame in found.stack:
            if "/tests/" not in frame.filename:
                seen += [f"{name} = {value}" for name, value in (frame.locals or {}).items()]
        pending += [found.__cause__, found.__context__]
    return "\n".join(seen)
