"""Every connection the mock opens itself (file-url-upload fetches, callback deliveries) goes to
loopback — 127.0.0.0/8 or ::1 — or to a host the operator allowed at startup; nothing else.

A hostname check on the URL is not enough: a loopback URL may redirect elsewhere, and a name may
resolve anywhere (a poisoned hosts file, DNS rebinding). So the rule is enforced where the
connection is made, on every hop:

- each URL (the first and every redirect's ``Location``) is checked before it is requested: an
  http(s) URL whose host is an IP literal must be a loopback address (aiohttp connects to IP
  literals without asking the resolver);
- names are answered by ``LoopbackResolver``, which never asks DNS about a name: ``localhost``
  and ``*.localhost`` are loopback by definition (RFC 6761 §6.3) and answered here, 127.0.0.1
  and ::1, whatever a hosts file or resolver would say; any other name is refused unasked (a
  query would carry the name, and what an attacker put in it, off the machine). Only a host
  the operator allowed at startup is looked up;
- redirects are followed here, hop by hop (aiohttp's own following is off), never through a proxy
  (``trust_env=False``).

A refusal raises ``EgressRefused`` before any connection to the refused address is opened.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

MAX_REDIRECTS = 10
# How long an idle connection is kept for the next request to that host: short, below the
# keep-alive time of the usual receivers (gunicorn's 2 s, uvicorn's and Node's 5 s), so a
# callback is rarely sent on a connection its receiver is closing (a POST is not sent again)
KEEPALIVE = 1.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class EgressRefused(OSError):
    """The mock refused to connect to ``host``: it is not loopback and was not allowed."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"refused to connect to {host!r}: {reason}")
        self.host = host
        self.reason = reason


class TooManyRedirects(aiohttp.ClientError):
    """A chain of redirects longer than the mock follows."""


def _is_loopback_address(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


# The resolver LoopbackResolver asks about the hosts the operator allowed, and about IP literals
# (which send no query). A seam for tests, which stand in a resolver that answers from a table
# (no real DNS is ever needed).
base_resolver: Callable[[], AbstractResolver] = aiohttp.ThreadedResolver


class LoopbackResolver(AbstractResolver):
    """Hands aiohttp only loopback addresses, and asks no resolver about a name but the
    ``allowed_hosts`` (resolved with ``base_resolver``, unfiltered). ``localhost`` and any
    ``*.localhost`` are answered here with 127.0.0.1 and ::1 (RFC 6761 §6.3: loopback by
    definition, resolved without DNS), so a redirect to ``<data>.attacker.localhost`` sends no
    query off the machine; an IP literal is kept when it is loopback; any other name is refused
    (``EgressRefused``) without being looked up."""

    def __init__(self, allowed_hosts: Collection[str] = ()) -> None:
        self._base = base_resolver()
        self._allowed = frozenset(host.lower() for host in allowed_hosts)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.lower().rstrip(".")
        if name in self._allowed:
            return await self._base.resolve(host, port, family)
        if name == "localhost" or name.endswith(".localhost"):
            return _loopback(host, port, family)
        if not _ip_literal(name):
            raise EgressRefused(host, "names other than localhost are not looked up")
        found = await self._base.resolve(host, port, family)  # a literal: no query is sent
        kept = [result for result in found if _is_loopback_address(result["host"])]
        if not kept:
            addresses = ", ".join(sorted({result["host"] for result in found})) or "nothing"
            raise EgressRefused(host, f"it resolves to {addresses}, outside loopback")
        return kept

    async def close(self) -> None:
        await self._base.close()


def _loopback(host: str, port: int, family: socket.AddressFamily) -> list[ResolveResult]:
    """``localhost``'s addresses, IPv4 first, of the family asked for (both for AF_UNSPEC)."""
    addresses = [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]
    return [
        ResolveResult(
            hostname=host,
            host=address,
            port=port,
            family=kind,
            proto=0,
            flags=socket.AI_NUMERICHOST,
        )
        for kind, address in addresses
        if family in (socket.AF_UNSPEC, kind)
    ]


class Egress:
    """The mock's way out: sessions that connect only to loopback (and ``allowed_hosts``)."""

    def __init__(self, allowed_hosts: Collection[str] = ()) -> None:
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)

    def describe(self) -> str:
        """One line for the startup log: where the mock may connect."""
        extra = ", ".join(sorted(self.allowed_hosts))
        also = f"; callbacks also to {extra} (allowed at startup)" if extra else ""
        return f"outgoing connections: loopback only (127.0.0.0/8, ::1){also}"

    def check_url(self, url: str) -> None:
        """EgressRefused unless ``url`` is http(s) and its host may be asked for: an allowed
        host, a loopback IP literal, or a name (which LoopbackResolver then checks)."""
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            _ = parts.port  # a malformed port raises ValueError
        except ValueError:
            raise EgressRefused(url, "malformed URL") from None
        if parts.scheme not in ("http", "https") or not host:
            raise EgressRefused(host or url, "not an http(s) URL")
        if host.lower() in self.allowed_hosts:
            return
        if _ip_literal(host) and not _is_loopback_address(host):
            raise EgressRefused(host, "not a loopback address")

    @asynccontextmanager
    async def session(self, **options: Any) -> AsyncIterator[aiohttp.ClientSession]:
        """A ClientSession whose connector resolves through LoopbackResolver, no proxy. Its
        pool has no cap: a request's timeout must not be spent waiting for another's
        connection (a server's shared session carries every delivery in flight)."""
        resolver = LoopbackResolver(self.allowed_hosts)
        connector = aiohttp.TCPConnector(
            resolver=resolver, use_dns_cache=False, limit=0, keepalive_timeout=KEEPALIVE
        )
        try:
            async with aiohttp.ClientSession(
                connector=connector, trust_env=False, **options
            ) as session:
                yield session
        finally:
            await resolver.close()

    @asynccontextmanager
    async def get(
        self, session: aiohttp.ClientSession, url: str, *, max_redirects: int = MAX_REDIRECTS
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET ``url``, following redirects hop by hop, each hop checked before it is asked."""
        for _ in range(max_redirects + 1):
            self.check_url(url)
            async with self.request(session, "GET", url) as response:
                location = response.headers.get("Location")
                if response.status not in _REDIRECTS or not location:
                    yield response
                    return
                try:
                    url = str(response.url.join(URL(location)))
                except ValueError:  # a Location no URL parser takes: a failed download
                    raise aiohttp.InvalidURL(location) from None
        raise TooManyRedirects(f"more than {max_redirects} redirects")

    @asynccontextmanager
    async def request(
        self, session: aiohttp.ClientSession, method: str, url: str, **options: Any
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One request, no redirect followed; a resolver refusal comes out as EgressRefused."""
        self.check_url(url)
        try:
            response = await session.request(method, url, allow_redirects=False, **options)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.__cause__, EgressRefused):
                raise exc.__cause__ from None
            raise
        async with response:
            yield response


__all__ = ["MAX_REDIRECTS", "Egress", "EgressRefused", "LoopbackResolver", "TooManyRedirects"]
