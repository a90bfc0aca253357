"""The suite's network guard: no test, and no code under test, leaves 127.0.0.0/8 and ::1.

A pytest plugin, registered in every test process (each xdist worker too) by the root
``conftest.py``. It refuses, before anything is sent:

- a connect (``connect``, ``connect_ex``) or a datagram (``sendto``, ``sendmsg``) to an IPv4 or
  IPv6 address outside 127.0.0.0/8 and ::1 (an IPv4-mapped ``::ffff:127.x`` counts as
  loopback). Every Python client ends there: ``socket.create_connection`` and urllib3 call
  ``socket.socket.connect``; asyncio's ``sock_connect`` (under ``create_connection``, so
  aiohttp and asyncio streams) calls ``connect`` on its non-blocking socket; its datagram
  transports call ``sendto``; ``ssl.SSLSocket`` connects through ``socket.socket.connect``;
- a name lookup (``getaddrinfo``, ``gethostbyname(_ex)``, ``gethostbyaddr``, ``getnameinfo``;
  aiohttp's default resolver and asyncio's ``loop.getaddrinfo`` call ``socket.getaddrinfo``)
  that would ask a resolver off the machine. Allowed: IP literals (no query is sent; a
  connect to one is judged by the rule above) and ``localhost`` (the hosts file). Names
  reserved so that they never resolve — ``*.test``, ``*.invalid`` and ``*.example``
  (RFC 2606 §2, RFC 6761 §6.2/§6.4) — are answered here as "not found", as a resolver must
  answer them, without asking it; ``*.localhost`` (RFC 6761 §6.3) is answered as
  ``localhost``. Any other name is refused, ``example.com`` included: IANA serves it, so a
  query for it leaves the machine. A reverse lookup is allowed for loopback addresses only.

A refusal raises ``OutsideLoopback`` (an ``OSError``; ``LookupRefused``, a ``socket.gaierror``,
for names), so the code under test fails at once as on a closed network, never hangs. Code may
swallow that (a retry loop turns it into a TransportError), so each refusal is also recorded and
the test fails at the end of its teardown with every address and rule it broke. A refusal
outside a test (at collection) fails the next test; one after the last teardown, the run.

Opt out with ``@pytest.mark.netguard_off(reason=...)``, only for a test that checks the guard
itself or stands in its own resolver below ``socket.getaddrinfo``. The ``network`` fixture of
core/tests needs no opt-out: it maps ``*.test`` to 127.0.0.1 before calling the guarded
``getaddrinfo``.

Not covered: what does not go through Python's ``socket`` module in this process. The programs
the tests start (``kie``, ``python -m kiekit_mock``, Celery workers, mkdocs, mypy, uv) run
without the guard; Chromium is watched by the inspector tests' route guard; psycopg's libpq
connects in C. The tests give all of those loopback addresses. Python reads no environment
variable that runs code at a child's start but through ``site`` (a ``sitecustomize`` or
``.pth`` file): one on PYTHONPATH would shadow the interpreter's own ``sitecustomize`` and
change what every child imports, which tests check (``test_public_names``: ``import kiekit``
loads no ``random``).
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

MARKER = "netguard_off"
# Reserved names answered here, without a query (RFC 2606 §2, RFC 6761 §6.2-6.4)
NOT_FOUND_SUFFIXES = (".test", ".invalid", ".example")
LOOPBACK_SUFFIX = ".localhost"


class OutsideLoopback(OSError):
    """A connection or datagram to an address outside 127.0.0.0/8 and ::1, refused."""


class LookupRefused(socket.gaierror):
    """A name lookup that would have asked a resolver off this machine, refused."""


def _loopback_address(host: Any) -> bool | None:
    """True/False for an IP literal (loopback or not), None for anything else (a name)."""
    text = host.decode() if isinstance(host, bytes) else host
    return _loopback_text(text) if isinstance(text, str) else None


@functools.lru_cache(maxsize=1024)  # a suite asks about a handful of hosts, very often
def _loopback_text(text: str) -> bool | None:
    try:
        address = ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class Guard:
    """The patches on ``socket``, and what they refused since the last ``take()``."""

    def __init__(self) -> None:
        self.enabled = True
        self._lock = threading.Lock()
        self._refused: list[str] = []
        self._originals: list[tuple[Any, str, Any]] = []

    def _refuse(self, error: type[OSError], what: str) -> OSError:
        message = f"netguard: {what} (tests stay on 127.0.0.0/8 and ::1: tools/netguard.py)"
        with self._lock:
            self._refused.append(message)
        if error is LookupRefused:
            return LookupRefused(socket.EAI_NONAME, message)
        return error(errno.EPERM, message)

    def check_name(self, host: Any, how: str) -> Any:
        """The host to hand the real function: ``host``, or ``localhost`` for a *.localhost;
        a reserved name is not found, any other name refused."""
        if not self.enabled or host is None or _loopback_address(host) is not None:
            return host
        text = host.decode() if isinstance(host, bytes) else str(host)
        name = text.rstrip(".").lower()
        if name == "localhost" or name.endswith(LOOPBACK_SUFFIX):
            return "localhost"
        if name.endswith(NOT_FOUND_SUFFIXES):
            raise socket.gaierror(socket.EAI_NONAME, f"{text!r}: a reserved name, never resolved")
        raise self._refuse(
            LookupRefused,
            f"{how}({text!r}) refused: looking up a name other than localhost or a reserved "
            "test name (*.test, *.invalid, *.example, *.localhost) sends a DNS query off the "
            "machine",
        )

    def check_address(self, family: Any, address: Any, how: str) -> Any:
        """``address``, or its *.localhost name replaced; a name is checked as a lookup (the
        socket would resolve it in C, below ``socket.getaddrinfo``)."""
        if not self.enabled or family not in (socket.AF_INET, socket.AF_INET6):
            return address
        if not isinstance(address, tuple) or not address:
            return address
        host = address[0]
        loopback = _loopback_address(host)
        if loopback is None:
            return (self.check_name(host, how), *address[1:])
        if not loopback:
            raise self._refuse(
                OutsideLoopback, f"{how} to {host!r} refused: not a loopback address"
            )
        return address

    def check_reverse(self, host: Any, how: str) -> None:
        """A reverse lookup asks a resolver about the address unless it is loopback."""
        if self.enabled and _loopback_address(host) is False:
            raise self._refuse(
                LookupRefused, f"{how}({host!r}) refused: a reverse lookup outside loopback"
            )

    def _patch(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        self._originals.append((owner, name, owner.__dict__.get(name)))
        setattr(owner, name, make(getattr(owner, name)))

    def install(self) -> None:
        check_address, check_name, check_reverse = (
            self.check_address,
            self.check_name,
            self.check_reverse,
        )

        def connecting(original: Any) -> Any:
            def connect(sock: socket.socket, address: Any) -> Any:
                return original(sock, check_address(sock.family, address, original.__name__))

            return connect

        def sending_to(original: Any) -> Any:
            def sendto(sock: socket.socket, data: Any, *rest: Any) -> Any:
                # sendto(data, address) or sendto(data, flags, address)
                if not rest:
                    return original(sock, data)
                address = check_address(sock.family, rest[-1], "sendto")
                return original(sock, data, *rest[:-1], address)

            return sendto

        def sending_msg(original: Any) -> Any:
            def sendmsg(sock: socket.socket, *args: Any) -> Any:
                if len(args) >= 4 and args[3] is not None:  # (buffers, ancdata, flags, address)
                    args = (*args[:3], check_address(sock.family, args[3], "sendmsg"), *args[4:])
                return original(sock, *args)

            return sendmsg

        def resolving(original: Any) -> Any:
            def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
                return original(check_name(host, original.__name__), *args, **kwargs)

            return lookup

        def reverse(original: Any) -> Any:
            def lookup(address: Any, *args: Any) -> Any:
                host = address[0] if isinstance(address, tuple) else address
                flags = args[0] if args and isinstance(address, tuple) else 0
                if not flags & socket.NI_NUMERICHOST:  # getnameinfo may only format it
                    check_reverse(host, original.__name__)
                    check_name(host, original.__name__)  # a name is looked up first
                return original(address, *args)

            return lookup

        for name in ("connect", "connect_ex"):
            self._patch(socket.socket, name, connecting)
        self._patch(socket.socket, "sendto", sending_to)
        self._patch(socket.socket, "sendmsg", sending_msg)
        for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
            self._patch(socket, name, resolving)
        for name in ("gethostbyaddr", "getnameinfo"):
            self._patch(socket, name, reverse)

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._originals):
            if original is None:
                delattr(owner, name)  # inherited (socket.socket's methods come from _socket)
            else:
                setattr(owner, name, original)
        self._originals.clear()

    def take(self) -> list[str]:
        with self._lock:
            refused, self._refused = self._refused, []
        return refused


def _report(refused: list[str]) -> str:
    unique = list(dict.fromkeys(refused))
    return "connections or lookups outside loopback:\n" + "\n".join(f"  {r}" for r in unique)


class Plugin:
    """The pytest side: one guard per process, checked after each test."""

    def __init__(self) -> None:
        self.guard = Guard()

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line(
            "markers",
            f"{MARKER}(reason): the network guard is off for this test (tools/netguard.py): "
            "only for tests of the guard itself or that stand in their own resolver",
        )
        self.guard.install()

    def pytest_unconfigure(self) -> None:
        self.guard.uninstall()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        marker = item.get_closest_marker(MARKER)
        if marker is not None and not (marker.args or marker.kwargs.get("reason")):
            pytest.fail(f"@pytest.mark.{MARKER} needs a reason", pytrace=False)
        self.guard.enabled = marker is None  # until the end of the test's teardown

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        """Fails the test at the end of its teardown (its fixtures', and those of a wider
        scope that end with it, included) if anything went, or tried to go, outside; what was
        refused before it (at collection) is reported with it."""
        try:
            yield
        finally:
            self.guard.enabled = True
        refused = self.guard.take()
        if refused:
            pytest.fail(_report(refused), pytrace=False)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        refused = self.guard.take()
        if refused:
            session.config.get_terminal_writer().line(_report(refused), red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    """``-p netguard``: the guard as a plugin of its own (the guard's tests run it this way)."""
    config.pluginmanager.register(Plugin(), "netguard-plugin")
