"""Where a client talks to: KIE's two hosts by default, others by argument or environment.

Like ``OPENAI_BASE_URL``, ``KIE_BASE_URL`` and ``KIE_UPLOAD_BASE_URL`` point a client elsewhere
without code. One base URL means one service: when the API host is not KIE's (a mock, a proxy),
uploads are never sent to KIE's real upload host unless that host is asked for by name —
a test double must not leak a file to the real service (kie-api.md §1, §4: uploads live on a
host of their own).

The API key goes with every call to either host, uploads included (kie-api.md §1: "Bearer
<API_KEY> on every call incl. uploads"). Over plain ``http://`` to a host that is not this
machine's loopback it travels readable by anyone on the way (``http://api.kie.ai``, a typo;
a proxy on the LAN): a client warns once with :class:`PlainHttpWarning`, naming the host, never
the key. It is a warning, not a refusal: an HTTP proxy on a trusted network is a choice, and
``warnings.filterwarnings("ignore", category=PlainHttpWarning)`` makes it quietly.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from urllib.parse import urlsplit

from attrs import frozen

from kiekit._caller import caller_stacklevel
from kiekit.errors import ConfigurationError

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_UPLOAD_BASE_URL",
    "UPLOAD_BASE_URL_ENV",
    "Endpoints",
    "PlainHttpWarning",
    "endpoints",
    "warn_plain_http",
]

DEFAULT_BASE_URL = "https://api.kie.ai"
# Uploads go to a host of their own, not api.kie.ai (kie-api.md §1, §4).
DEFAULT_UPLOAD_BASE_URL = "https://kieai.redpandaai.co"
BASE_URL_ENV = "KIE_BASE_URL"
UPLOAD_BASE_URL_ENV = "KIE_UPLOAD_BASE_URL"

_KIE_API_HOST = urlsplit(DEFAULT_BASE_URL).hostname


class PlainHttpWarning(UserWarning):
    """The API key would travel unencrypted: an ``http://`` base or upload URL whose host is not
    loopback. The message names the host, never the key."""


@frozen
class Endpoints:
    """The API host and the upload host; ``upload_base_url`` is None when the API host is not
    KIE's and no upload host was named (then an upload is refused, never sent to KIE)."""

    base_url: str
    upload_base_url: str | None

    def require_upload_base_url(self) -> str:
        """The upload host, or ConfigurationError saying how to name one."""
        if self.upload_base_url is None:
            raise ConfigurationError(
                f"no upload host: base_url is {self.base_url}, not KIE's, so uploads are not "
                "sent to KIE's upload host; name one: upload_base_url=... in Python, "
                f"--upload-base-url for kie, or {UPLOAD_BASE_URL_ENV}"
            )
        return self.upload_base_url


def endpoints(
    base_url: str | None = None,
    upload_base_url: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Endpoints:
    """The hosts to use: arguments first, then ``KIE_BASE_URL`` / ``KIE_UPLOAD_BASE_URL``,
    then KIE's own (the upload host defaults to KIE's only while the API host is KIE's)."""
    env = os.environ if environ is None else environ
    base = base_url if base_url is not None else env.get(BASE_URL_ENV, "").strip()
    base = DEFAULT_BASE_URL if base_url is None and not base else base
    _check("base_url", base)
    upload = upload_base_url
    if upload is None:
        upload = env.get(UPLOAD_BASE_URL_ENV, "").strip() or None
    if upload is None and urlsplit(base).hostname == _KIE_API_HOST:
        upload = DEFAULT_UPLOAD_BASE_URL
    if upload is not None:
        _check("upload_base_url", upload)
    return Endpoints(base.rstrip("/"), None if upload is None else upload.rstrip("/"))


def _check(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{name} must be an http(s) URL, got {url!r}")
    try:
        port = parts.port
    except ValueError:  # out of 0-65535, or not a number: urllib3 would say LocationParseError
        port = 0
    if port == 0:
        raise ConfigurationError(f"{name} has a bad port (1 to 65535), got {url!r}")


def warn_plain_http(hosts: Endpoints) -> None:
    """A :class:`PlainHttpWarning` for each host the key would reach over plain http that is
    not loopback (``127.0.0.0/8``, ``::1``, ``localhost``), at the line that made the client."""
    for name, url in (("base_url", hosts.base_url), ("upload_base_url", hosts.upload_base_url)):
        parts = urlsplit(url or "")
        if parts.scheme != "http" or is_loopback_host(parts.hostname or ""):
            continue
        where = f"http://{parts.netloc.rpartition('@')[2]}"  # no user:password of the URL
        warnings.warn(
            f"{name} is {where}: plain http to a host that is not this machine, so the API key "
            "goes unencrypted with every call (https:// keeps it private)",
            PlainHttpWarning,
            stacklevel=caller_stacklevel(),
        )


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is this machine by definition (no DNS asked): ``localhost``,
    ``*.localhost`` (RFC 6761), 127.0.0.0/8, ``::1``. Such hosts get no plain-http warning and
    go through no proxy."""
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        return True
    import ipaddress  # here: only a plain-http URL gets this far

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: wherever it resolves, not known to be this machine
