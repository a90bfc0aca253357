"""The suite's network guard (tools/netguard.py) fails a test that leaves 127.0.0.0/8 and ::1.

The tests that break the rule run inside a pytester session, in a process of their own with
the guard as its only plugin (``-p netguard``), so the failures shown are that session's. They
send nothing: the guard refuses before the socket is asked, and where a test opts out it only
connects a UDP socket (which sends no packet) to a TEST-NET address (RFC 5737).
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1]

OUTSIDE = """
import asyncio
import socket

import pytest
import urllib3


def test_tcp_connect_to_a_private_address():
    with socket.socket() as sock:
        sock.connect(("10.0.0.1", 80))


def test_swallowed_udp_datagram_to_a_public_resolver():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(b"query", ("8.8.8.8", 53))
        except OSError:
            pass  # as a retry loop would: the guard's record still fails the test


def test_swallowed_ipv6_connect_through_asyncio():
    async def connect():
        try:
            await asyncio.open_connection("2001:db8::1", 443)
        except OSError:
            pass

    asyncio.run(connect())


def test_lookup_of_a_real_name_through_urllib3():
    with pytest.raises(urllib3.exceptions.NameResolutionError):
        urllib3.PoolManager().request("GET", "http://example.com/", retries=False)
"""

LOOPBACK = """
import asyncio
import socket
import threading

import pytest
from aiohttp import web, ClientSession


def test_tcp_and_udp_on_loopback():
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname()) as client, server.accept()[0] as peer:
            client.sendall(b"ping")
            assert peer.recv(4) == b"ping"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \\
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
        b.bind(("127.0.0.2", 0))  # all of 127.0.0.0/8 is loopback
        a.sendto(b"ping", b.getsockname())
        assert b.recv(4) == b"ping"


async def here(request):
    return web.Response(text="here")


def test_aiohttp_by_localhost_name():
    async def scenario():
        app = web.Application()
        app.router.add_get("/", here)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with ClientSession() as session:
                for host in ("localhost", "127.0.0.1", "api.localhost"):
                    async with session.get(f"http://{host}:{port}/") as answer:
                        assert await answer.text() == "here"
        finally:
            await runner.cleanup()

    asyncio.run(scenario())


def test_reserved_names_are_not_found_without_a_query():
    for name in ("kie.test", "cb.invalid", "your-domain.example"):
        with pytest.raises(socket.gaierror) as caught:
            socket.getaddrinfo(name, 443)
        assert "reserved name" in str(caught.value)


@pytest.mark.netguard_off(reason="shows the opt-out; a UDP connect sends nothing")
def test_opted_out():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("192.0.2.1", 9))


@pytest.mark.netguard_off
def test_opted_out_without_a_reason():
    pass
"""


@pytest.fixture
def guarded(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester whose subprocess sessions load the guard as their plugin."""
    monkeypatch.setenv("PYTHONPATH", str(TOOLS))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # a quick start: no other plugin
    return pytester


def _run(pytester: pytest.Pytester) -> tuple[dict[str, int], str]:
    result = pytester.runpytest_subprocess("-p", "netguard", "-p", "no:cacheprovider", "-rA")
    return result.parseoutcomes(), result.stdout.str()


def test_connections_and_lookups_outside_loopback_fail_the_test_naming_them(
    guarded: pytest.Pytester,
) -> None:
    guarded.makepyfile(test_outside=OUTSIDE)
    outcomes, output = _run(guarded)
    # the first fails where it connects; the others swallowed the error and fail at teardown
    assert outcomes.get("failed") == 1, output
    assert outcomes.get("errors") == 4, output  # the first one's teardown reports it too
    assert "OutsideLoopback: [Errno 1] netguard: connect to '10.0.0.1' refused" in output
    for test, refused in [
        ("test_tcp_connect_to_a_private_address", "connect to '10.0.0.1'"),
        ("test_swallowed_udp_datagram_to_a_public_resolver", "sendto to '8.8.8.8'"),
        ("test_swallowed_ipv6_connect_through_asyncio", "connect to '2001:db8::1'"),
        ("test_lookup_of_a_real_name_through_urllib3", "getaddrinfo('example.com') refused"),
    ]:
        teardown = re.search(rf"ERROR at teardown of {test} _+\n(.*?)\n[_=]", output, re.S)
        assert teardown is not None, output
        assert f"netguard: {refused}" in teardown[1], teardown[1]
    assert "not a loopback address" in output
    assert "sends a DNS query off the machine" in output


def test_loopback_localhost_and_reserved_names_pass_and_the_opt_out_needs_a_reason(
    guarded: pytest.Pytester,
) -> None:
    guarded.makepyfile(test_loopback=LOOPBACK)
    outcomes, output = _run(guarded)
    assert outcomes == {"passed": 4, "errors": 1}, output
    assert re.search(
        r"ERROR at setup of test_opted_out_without_a_reason _+\n@pytest.mark.netguard_off "
        "needs a reason",
        output,
    ), output


def test_refusals_at_collection_and_in_a_session_fixture_fail_a_test(
    guarded: pytest.Pytester,
) -> None:
    guarded.makeconftest(
        """
        import socket

        import pytest

        def reach(address):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                try:
                    sock.connect((address, 9))
                except OSError:
                    pass

        @pytest.fixture(scope="session", autouse=True)
        def reaches_out_at_the_end():
            yield
            reach("192.0.2.8")
        """
    )
    guarded.makepyfile(
        test_quiet="""
        from conftest import reach

        reach("192.0.2.7")

        def test_first():
            pass

        def test_last():
            pass
        """
    )
    outcomes, output = _run(guarded)
    assert outcomes == {"passed": 2, "errors": 2}, output
    first = re.search(r"ERROR at teardown of test_first _+\n(.*?)\n[_=]", output, re.S)
    last = re.search(r"ERROR at teardown of test_last _+\n(.*?)\n[_=]", output, re.S)
    assert first is not None, output
    assert last is not None, output
    assert "connect to '192.0.2.7' refused" in first[1]
    assert "connect to '192.0.2.8' refused" in last[1]


def test_the_guard_is_on_in_this_test_process(request: pytest.FixtureRequest) -> None:
    """The suite's own processes (each xdist worker) run with the guard the root conftest
    registers; a UDP connect sends nothing, so nothing leaves even if it were off."""
    plugin = request.config.pluginmanager.get_plugin("netguard")
    assert plugin is not None
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(OSError, match=r"netguard: connect to '192\.0\.2\.1' refused"),
    ):
        sock.connect(("192.0.2.1", 9))
    assert plugin.guard.take() == [
        "netguard: connect to '192.0.2.1' refused: not a loopback address "
        "(tests stay on 127.0.0.0/8 and ::1: tools/netguard.py)"
    ]
