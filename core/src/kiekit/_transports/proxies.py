"""Which proxy a request goes through, the same for every transport and every kind of call
(API calls, uploads, downloads).

- ``proxy="http://proxy:3128"``: every request to a host that is not loopback goes through it;
  the environment is then not read (httpx's rule).
- ``trust_env=True`` (the default): ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` and
  ``NO_PROXY``, upper or lower case, read as the standard library reads them
  (``urllib.request.getproxies`` and ``proxy_bypass``), once, at the transport's first request
  to a host that is not loopback (a program that only talks to the mock never loads
  ``urllib.request``: ``from kiekit import Client`` stays light).
  ``trust_env=False`` leaves them out.
- Loopback (``127.0.0.0/8``, ``::1``, ``localhost``, ``*.localhost``) is never proxied, whatever
  is set: a proxy could not reach this machine's mock, so the embedded mock keeps working on a
  machine (a CI runner, a corporate laptop) whose environment names a proxy.

A proxy is http:// or https:// (a URL without a scheme is http://, as requests and urllib read
``HTTP_PROXY=proxy:3128``); its ``user:password@`` is sent as ``Proxy-Authorization`` and shown
nowhere. A SOCKS proxy, or a URL that is not one (``http://[::1``, a user name with a ``:``,
which Basic authentication cannot carry), is refused with a ConfigurationError naming where it
came from: urllib3 and aiohttp need extra packages for SOCKS (a transport of your own can use
them). A failure of the proxy itself (not reached, its 407, a tunnel it would not open) names
it, as ``host:port`` and where it came from (:meth:`Proxies.named`).
"""

from __future__ import annotations

import threading
from urllib.parse import unquote, urlsplit

from kiekit.errors import ConfigurationError
from kiekit.settings import is_loopback_host

_ENV_NAMES = {"https": "HTTPS_PROXY", "http": "HTTP_PROXY", "all": "ALL_PROXY"}


class Proxies:
    """The proxy of each origin, decided once per origin (a dict lookup per call after that)."""

    def __init__(self, proxy: str | None = None, *, trust_env: bool = True) -> None:
        if not isinstance(trust_env, bool):
            raise ConfigurationError(f"trust_env must be True or False, got {trust_env!r}")
        self.explicit = None if proxy is None else checked_proxy(proxy, "proxy")
        # the environment's, read once, when first needed (getproxies: upper and lower case,
        # ALL_PROXY as "all"); None: not read yet
        self._table: dict[str, str] | None = {} if proxy is not None or not trust_env else None
        self._chosen: dict[str, str | None] = {}
        # where each proxy URL in use came from, for the words of a failure (named())
        self._sources: dict[str, str] = {}
        if self.explicit is not None:
            self._sources[self.explicit] = "proxy="
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # a proxy URL may carry a password
        env = "unread" if self._table is None else sorted(self._table)
        return f"Proxies(explicit={self.explicit is not None}, env={env})"

    def for_url(self, url: str) -> str | None:
        """The proxy URL to send a request for ``url`` through, or None to go straight."""
        start = url.find("/", url.find("//") + 2)
        origin = url if start < 0 else url[:start]
        try:
            return self._chosen[origin]
        except KeyError:
            pass
        chosen = self._choose(origin)
        with self._lock:
            if len(self._chosen) >= 4096:  # a batch's thousands of CDN hosts: start again
                self._chosen.clear()
            self._chosen[origin] = chosen
        return chosen

    def named(self, url: str) -> str:
        """The proxy ``url`` goes through, in words for an error (``the proxy
        127.0.0.1:3128 (HTTPS_PROXY)``): its host and port, never its password, and where it
        came from; "" when ``url`` goes straight."""
        proxy = self.for_url(url)
        if proxy is None:
            return ""
        return f"the proxy {proxy_address(proxy)} ({self._sources.get(proxy, 'proxy=')})"

    def blame(self, url: str) -> str:
        """``, through the proxy 127.0.0.1:3128 (HTTPS_PROXY)`` for a request to ``url``
        that failed on its way, for the end of its message; "" when it went straight."""
        named = self.named(url)
        return f", through {named}" if named else ""

    def _choose(self, origin: str) -> str | None:
        parts = urlsplit(origin)
        host = parts.hostname or ""
        if is_loopback_host(host):
            return None
        if self.explicit is not None:
            return self.explicit
        import urllib.request  # here: ~10 ms of imports a loopback-only program never needs

        table = self._table
        if table is None:
            table = self._table = urllib.request.getproxies()
        key = parts.scheme if parts.scheme in table else "all"
        raw = table.get(key)
        if not raw:
            return None
        where = f"{host}:{parts.port}" if parts.port else host
        if "no" in table:
            if urllib.request.proxy_bypass_environment(where, table):  # type: ignore[attr-defined]
                return None
        elif urllib.request.proxy_bypass(where):  # macOS / Windows: the system's exceptions
            return None
        name = _ENV_NAMES.get(key, f"{key}_proxy")
        where = f"{name} (or {name.lower()}, from the environment)"
        proxy = checked_proxy(raw, where, way_out=_LEAVE_ENV_OUT)
        with self._lock:
            self._sources[proxy] = name
        return proxy


# how to get past a proxy variable kiekit cannot use, in Python and with `kie`
_LEAVE_ENV_OUT = "; trust_env=False (kie: --no-proxy) leaves the environment's out"


def checked_proxy(url: str, name: str, *, way_out: str = "") -> str:
    """``url`` as a proxy URL kiekit's transports can use (a bare ``host:port`` made
    ``http://host:port``), or ConfigurationError naming ``name`` (then ``way_out``, when
    refused for its scheme); the error never shows the URL's password."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"{name} must be a proxy URL such as http://proxy:3128")
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL": its text would repeat no password, but
        # the URL is not shown either (where its password ends cannot be told)
        raise ConfigurationError(
            f"{name} is not a URL kiekit can read ({exc}); give one such as "
            f"http://user:password@proxy:3128{way_out}"
        ) from None
    shown = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    if parts.scheme not in ("http", "https"):
        raise ConfigurationError(
            f"{name} is {shown}: kiekit's clients use http:// and https:// proxies only "
            f"(SOCKS needs a transport of your own){way_out}"
        )
    try:
        parts.port  # noqa: B018 - raises on a bad one
    except ValueError:
        raise ConfigurationError(f"{name} has a bad port: {shown}") from None
    if not parts.hostname:
        raise ConfigurationError(f"{name} names no host: {shown}")
    credentials = proxy_credentials(url)
    if credentials is not None:
        if ":" in unquote(parts.username or ""):  # Basic authentication's user-id cannot
            # carry one (RFC 7617 §2): aiohttp refuses it, urllib3 would send another user
            raise ConfigurationError(
                f"{name} ({shown}) has a user name with a ':' in it (%3A), which proxy "
                f"authentication cannot carry{way_out}"
            )
        try:
            credentials.encode("latin-1")  # what Proxy-Authorization's Basic is made of
        except UnicodeEncodeError:
            raise ConfigurationError(
                f"{name} ({shown}) has a user name or password with characters proxy "
                f"authentication cannot carry (Latin-1 only){way_out}"
            ) from None
    return url


def proxy_credentials(url: str) -> str | None:
    """``user:password`` of a proxy URL (percent-decoded), for ``Proxy-Authorization``."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    return f"{unquote(parts.username)}:{unquote(parts.password or '')}"


def proxy_address(url: str) -> str:
    """A proxy URL's ``host:port`` (the scheme's port when it names none), for words."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def without_credentials(url: str) -> str:
    """A proxy URL without its ``user:password@`` (sent in a header instead)."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
