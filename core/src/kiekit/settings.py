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

:data:`VARIABLES` lists every environment variable kiekit reads (the core, ``kie``, the
distributed extra and the mock). A ``KIE_*`` / ``KIEKIT_*`` name not among them is a setting
that goes nowhere (``KIE_BASEURL``): a client or ``kie`` command warns once a process with
:class:`UnknownVariableWarning`, naming the known one it is close to. One misspelling is
refused: a base-URL variable's, while KIE's real host (paid) is about to be used in its place
— a CI job meant for a mock would create real tasks. Naming the host (``KIE_BASE_URL=
https://api.kie.ai``, ``--base-url``, ``base_url=``) or unsetting the misspelt name goes on.
:func:`endpoints` alone speaks of the base-URL variables' misspellings, refused or warned, so
a refused one is said once, by the refusal, not also by a warning just before it.

A variable that says where kiekit talks to or keeps its work (the two hosts, the journal's
folder or URL) is refused when it is set but blank (:func:`setting`): ``KIE_BASE_URL=$MOCK_URL``
with ``MOCK_URL`` unset meant a host, and its default is KIE's real, paid one (or another
journal than the job's). A tuning knob's blank value (``KIEKIT_LOG=``, ``KIEKIT_STOP_GRACE=``,
``KIEKIT_ALLOW_PLUGINS=${ALLOW:-}``) means its default, as unset does.
"""

from __future__ import annotations

import difflib
import functools
import os
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import urlsplit

from attrs import frozen

from kiekit._caller import caller_stacklevel
from kiekit.errors import ConfigurationError

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_UPLOAD_BASE_URL",
    "UPLOAD_BASE_URL_ENV",
    "VARIABLES",
    "Endpoints",
    "PlainHttpWarning",
    "UnknownVariableWarning",
    "endpoints",
    "setting",
    "unknown_variables",
    "warn_plain_http",
    "warn_unknown_variables",
]

DEFAULT_BASE_URL = "https://api.kie.ai"
# Uploads go to a host of their own, not api.kie.ai (kie-api.md §1, §4).
DEFAULT_UPLOAD_BASE_URL = "https://kieai.redpandaai.co"
BASE_URL_ENV = "KIE_BASE_URL"
UPLOAD_BASE_URL_ENV = "KIE_UPLOAD_BASE_URL"

_KIE_API_HOST = urlsplit(DEFAULT_BASE_URL).hostname

# Every environment variable kiekit reads, in one place: the check below knows kiekit's names
# from it, the README lists them, and a test fails when code reads a name missing here.
VARIABLES: Mapping[str, str] = MappingProxyType({
    "KIE_API_KEY": "the API key (kie, and Client() without api_key=)",
    BASE_URL_ENV: f"the API host (default {DEFAULT_BASE_URL})",
    UPLOAD_BASE_URL_ENV: f"the upload host (default {DEFAULT_UPLOAD_BASE_URL} with KIE's API "
                         "host, none with another)",
    "KIEKIT_DATA_DIR": "the folder of the task journal (default: the user's data folder, "
                       "under HOME, else the home /etc/passwd gives; set but empty: refused)",
    "KIEKIT_JOURNAL_URL": "another task journal: a file path, sqlite:///path or postgresql://…",
    "KIEKIT_JOURNAL_FSYNC": "1: the SQLite journal syncs every write to disk (default 0)",
    "KIEKIT_JOURNAL_LEASE": "seconds a worker's claim on a journal row lasts (default 60)",
    "KIEKIT_JOURNAL_STATEMENT_TIMEOUT": "seconds a PostgreSQL journal statement may go "
    "unanswered before its connection is cut (default 30)",
    "KIEKIT_LIMITS_URL": "KIE's rate limits shared through Redis: redis://…",
    "KIEKIT_BLOCK_PLUGINS": "plugin distributions left out, comma-separated",
    "KIEKIT_ALLOW_PLUGINS": "the only plugin distributions used, comma-separated",
    "KIEKIT_PREFER": "MODEL=DISTRIBUTION pairs: who serves a model two plugins declare",
    "KIEKIT_LOG": "kie's log level on standard error: debug, info or warning",
    "KIEKIT_STOP_GRACE": "seconds kie lets a create already sent finish after Ctrl-C or "
    "SIGTERM (default 5; 0 stops at once)",
    "KIEKIT_BROKER_URL": "the Celery broker of kie batch --celery and its workers",
    "KIEKIT_RESULT_BACKEND": "the Celery result backend (default: the broker)",
    "KIEKIT_CELERY_QUEUE": "the Celery queue (default kiekit)",
    "KIEKIT_CELERY_VISIBILITY_TIMEOUT": "seconds before Redis hands an unacknowledged job on",
    "KIEKIT_MOCK_BLOCK_EXTENSIONS": "mock extensions the mock leaves out, comma-separated",
    "KIEKIT_MOCK_EXIT_WITH_PARENT": "1: kie mock serve stops when the process that started it "
    "ends (--exit-with-parent; default 0)",
})  # fmt: skip
_HOST_VARIABLES = (BASE_URL_ENV, UPLOAD_BASE_URL_ENV)
# the mock's own variables: its command line says a misspelt one (kiekit_mock.variables)
_MOCK_PREFIX = "KIEKIT_MOCK_"
_PREFIXES = ("KIE_", "KIEKIT_")
_CLOSE = 0.8  # KIE_BASEURL, KIEKIT_DATADIR, kie_base_url; not KIE_BASE_URL_STAGING (0.75)


class UnknownVariableWarning(UserWarning):
    """A ``KIE_*`` / ``KIEKIT_*`` environment variable kiekit does not read (a misspelling
    sends a setting nowhere); the message names it, never its value."""


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
    names: tuple[str, str] = ("base_url", "upload_base_url"),
) -> Endpoints:
    """The hosts to use: arguments first, then ``KIE_BASE_URL`` / ``KIE_UPLOAD_BASE_URL``,
    then KIE's own (the upload host defaults to KIE's only while the API host is KIE's).
    ``names``: what the caller's user calls the two arguments (``--base-url`` for kie), so a
    bad URL names where it came from, the variable when it came from the environment."""
    env = os.environ if environ is None else environ
    base, source = base_url, names[0]
    if base is None:
        paid = f"KIE's real {DEFAULT_BASE_URL}, where tasks are paid for"
        base, source = setting(BASE_URL_ENV, env, unset_means=paid) or "", BASE_URL_ENV
        if not base:
            _refuse_misspelt(BASE_URL_ENV, DEFAULT_BASE_URL, env)
            base = DEFAULT_BASE_URL
    _check(source, base)
    upload, source = upload_base_url, names[1]
    if upload is None:
        real = f"KIE's real upload host {DEFAULT_UPLOAD_BASE_URL} while the API host is KIE's"
        upload, source = setting(UPLOAD_BASE_URL_ENV, env, unset_means=real), UPLOAD_BASE_URL_ENV
    if upload is None and urlsplit(base).hostname == _KIE_API_HOST:
        _refuse_misspelt(UPLOAD_BASE_URL_ENV, DEFAULT_UPLOAD_BASE_URL, env)
        upload = DEFAULT_UPLOAD_BASE_URL
    if upload is not None:
        _check(source, upload)
    for name, close in unknown_variables(env):  # not refused above: ignored, and said so
        meant = host_meant(name, close)
        if meant is not None:
            _warn_unknown(name, meant)
    return Endpoints(base.rstrip("/"), None if upload is None else upload.rstrip("/"))


def setting(name: str, environ: Mapping[str, str] | None = None, *, unset_means: str) -> str | None:
    """Variable ``name``'s value, stripped; None when it is unset. Set but blank is a
    ConfigurationError naming it: a place to talk to or keep work in (module docstring)
    whose default, ``unset_means``, is not what whoever set it meant."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value is None:
        return None
    if not value.strip():
        raise ConfigurationError(
            f"{name} is set but empty (a shell variable that was not set?); unset it to use "
            f"{unset_means}, or give it a value"
        )
    return value.strip()


def _refuse_misspelt(variable: str, default: str, env: Mapping[str, str]) -> None:
    """ConfigurationError when the environment holds a misspelling of ``variable`` while
    KIE's real host ``default`` is about to be used in its place: whoever set it meant another
    host (a mock, a proxy), and KIE's real one is paid for."""
    for name, close in unknown_variables(env):
        if host_meant(name, close) == variable:
            raise ConfigurationError(
                f"{name} is not a variable kiekit reads; did you mean {variable}? Without "
                f"it, kiekit would go to KIE's real {default}, where tasks are paid for: "
                f"rename it to {variable}, or unset it, or, to use KIE's real host, name it: "
                f"{variable}={default}"
            )


# The words of a name made up only of them says it names KIE's host, as whoever set it guessed
# KIE_BASE_URL's name: KIE_API_URL, KIE_ENDPOINT, KIE_API_BASE, KIEKIT_HOST. A name with
# another word is a variable of the user's own (KIE_STAGING_URL, KIE_BASE_URL_STAGING: read
# by their scripts) or another service's (KIEKIT_REDIS_URL), and only warned of.
_HOST_WORDS = frozenset({
    "API", "URL", "URI", "HOST", "HOSTNAME", "ENDPOINT", "ENDPOINTS", "BASE", "BASEURL",
    "SERVER", "ADDR", "ADDRESS", "ORIGIN", "DOMAIN", "UPLOAD",
})  # fmt: skip


def host_meant(name: str, close: str | None) -> str | None:
    """The host variable (``KIE_BASE_URL`` or ``KIE_UPLOAD_BASE_URL``) an unknown name was
    meant as, or None: a misspelling of one (``KIE_BASEURL``), or a name made only of words
    that name a host (``KIE_API_URL``, ``KIE_ENDPOINT``, ``KIE_API_BASE``). Such a name is
    refused while KIE's real, paid host is about to be used in its place (README: a CI job
    meant for a mock must not create real tasks); any other unknown name is warned of."""
    if close in _HOST_VARIABLES:
        return close
    if close is not None:  # close to another variable kiekit reads: a misspelling of that one
        return None
    upper = name.upper()
    rest = upper.removeprefix("KIEKIT_") if upper.startswith("KIEKIT_") else upper[4:]
    words = {word for word in rest.split("_") if word}
    if not words or not words <= _HOST_WORDS:
        return None
    return UPLOAD_BASE_URL_ENV if "UPLOAD" in words else BASE_URL_ENV


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """Each ``KIE_*`` / ``KIEKIT_*`` name in the environment (any case) that kiekit does not
    read, with the one of :data:`VARIABLES` it is a likely misspelling of (None: none is)."""
    env = os.environ if environ is None else environ
    found = []
    for name in sorted(env):
        if name in VARIABLES or not name.upper().startswith(_PREFIXES):
            continue
        close = difflib.get_close_matches(name.upper(), VARIABLES, n=1, cutoff=_CLOSE)
        found.append((name, close[0] if close else None))
    return found


def warn_unknown_variables(
    environ: Mapping[str, str] | None = None, *, but_hosts: bool = False, but_mock: bool = False
) -> None:
    """An :class:`UnknownVariableWarning` for each name :func:`unknown_variables` finds,
    once a process (a client and the ``kie`` command that made it warn once between them).
    ``but_hosts``: not the misspellings of the base-URL variables, for a caller that resolves
    the hosts (:func:`endpoints` refuses such a name, or warns of it); ``but_mock``: not the
    ``KIEKIT_MOCK_*`` names, for ``kie mock serve``, whose mock says them itself."""
    for name, close in unknown_variables(environ):
        if but_hosts and host_meant(name, close) is not None:
            continue
        if but_mock and name.upper().startswith(_MOCK_PREFIX):
            continue
        _warn_unknown(name, close)


@functools.cache
def _warn_unknown(name: str, close: str | None) -> None:
    guess = f"; did you mean {close}?" if close else ""
    warnings.warn(
        f"{name} is not a variable kiekit reads{guess} (it is ignored)",
        UnknownVariableWarning,
        stacklevel=caller_stacklevel(),
    )


def _check(name: str, url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL": not shown, it may hold a password
        raise ConfigurationError(f"{name} must be an http(s) URL ({exc})") from None
    shown = repr(url)
    if "@" in parts.netloc:
        # KIE takes the key as a Bearer token (kie-api.md §1): a user:password@ here would
        # never be sent, yet shown in every log line, error and journal row that names the host
        host = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        raise ConfigurationError(
            f"{name} must not carry user:password@ ({host!r} without it): KIE takes the API "
            "key as a Bearer token, and credentials in the URL are never sent; remove them "
            "(a proxy's go in proxy= / HTTPS_PROXY)"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{name} must be an http(s) URL, got {shown}")
    try:
        port = parts.port
    except ValueError:  # out of 0-65535, or not a number: urllib3 would say LocationParseError
        port = 0
    if port == 0:
        raise ConfigurationError(f"{name} has a bad port (1 to 65535), got {shown}")


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
