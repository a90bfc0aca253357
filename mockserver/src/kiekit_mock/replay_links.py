"""The links in a replayed recording's answers, and keeping them on the mock.

A HAR or scenario file is someone else's file: a recording attached to a bug report, a scenario
written by hand. The mock replays its answers to a client that then fetches the result links in
them (``download()``), so a link to any other host would send the client there — a beacon, a
request to an internal service from CI, or a DNS query carrying data out. The mock never sends a
client outside loopback: every link in a replayed answer that is not plainly a loopback URL is
served from the mock itself (har.py), the recording's bytes when it held them, else a small real
file of the same type.

A link is found wherever a client could read one: a string that is a URL as a whole (what a
client fetches: ``resultUrls[0]``, ``resultImageUrl``), a URL inside free text, and both again
inside JSON carried in a string (the market's ``resultJson`` and ``param``, kie-api.md §2.2),
where slashes may be escaped (``https:\\/\\/``) and only decoding shows the URL.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from .callbacks import is_loopback_host

__all__ = ["is_loopback_link", "links_in", "rewrite_links", "stand_in_name", "stand_in_type"]

# a string a client would take for a URL: what asset readers accept, after what URL parsers
# strip (leading C0 controls and spaces, WHATWG), in any case
_WHOLE = re.compile(r"[\x00-\x20]*https?:", re.IGNORECASE)
# a URL inside free text (a prompt echoed in `param`)
_IN_TEXT = re.compile(r"https?:[^\s\"'<>]+", re.IGNORECASE)
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_SUFFIX = re.compile(r"\.[a-z0-9]{1,5}")
_JSON_START = ("{", "[")
_BLANKS = "".join(map(chr, range(0x21)))  # C0 controls and the space
# JSON in a string in JSON…: deeper than this is no KIE answer, and is refused at load time
MAX_DEPTH = 32


def is_loopback_link(url: str) -> bool:
    """Whether ``url`` is plainly an http(s) URL of this machine: host ``localhost`` or a
    loopback IP literal (127.0.0.0/8, ::1), no user part, nothing any URL parser reads another
    way (no space, control character or backslash, which parsers differ on). Anything else is
    not: a name (a DNS query would leave the machine), ``127.1``, a malformed port."""
    if _UNSAFE_CHARS.search(url):
        return False
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises ValueError
    except ValueError:
        return False
    host = parts.hostname or ""
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc or not host:
        return False
    return is_loopback_host(host)


def _nested(text: str) -> Any:
    """The JSON value a string carries (``resultJson``), or None when it carries none."""
    if not text.lstrip().startswith(_JSON_START):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict | list) else None


def _whole(text: str) -> str | None:
    """The link a string is as a whole (without the blanks a parser strips), or None."""
    return text.strip(_BLANKS) if _WHOLE.match(text) else None


def links_in(value: Any, depth: int = 0) -> Iterator[str]:
    """Every link in a JSON value, in its order: strings that are URLs as a whole, URLs in
    free text, and the same in JSON carried in strings. ValueError for JSON nested in strings
    deeper than MAX_DEPTH (no recording of KIE's holds that)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"JSON nested more than {MAX_DEPTH} deep")
    if isinstance(value, dict):
        for item in value.values():
            yield from links_in(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from links_in(item, depth + 1)
    elif isinstance(value, str):
        nested = _nested(value)
        if nested is not None:
            yield from links_in(nested, depth + 1)
            return
        whole = _whole(value)
        if whole is not None:
            yield whole
            return
        yield from _IN_TEXT.findall(value)


def rewrite_links(value: Any, change: Callable[[str], str | None]) -> Any:
    """``value`` with every link ``change`` gives a new one for replaced by it (None: kept).
    JSON carried in a string keeps its text but for the links (_respelled)."""
    if isinstance(value, dict):
        return {key: rewrite_links(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [rewrite_links(item, change) for item in value]
    if not isinstance(value, str):
        return value
    nested = _nested(value)
    if nested is not None:
        rewritten = rewrite_links(nested, change)
        if rewritten == nested:
            return value
        return _respelled(value, _changed(nested, rewritten), rewritten)
    whole = _whole(value)
    if whole is not None:
        new = change(whole)
        return value if new is None else new
    return _IN_TEXT.sub(lambda found: change(found.group()) or found.group(), value)


def _changed(old: Any, new: Any) -> Iterator[tuple[str, str]]:
    """The strings of ``old`` that ``new`` (the same value, links rewritten) has changed."""
    if isinstance(old, dict):
        for key, item in old.items():
            yield from _changed(item, new[key])
    elif isinstance(old, list):
        for item, other in zip(old, new, strict=True):
            yield from _changed(item, other)
    elif isinstance(old, str) and old != new:
        yield old, new


# how a JSON writer may spell a string: (ASCII only, slashes escaped)
_SPELLINGS = ((False, False), (False, True), (True, False), (True, True))


def _spelt(text: str, ascii_only: bool, slashes: bool) -> str:
    quoted = json.dumps(text, ensure_ascii=ascii_only)
    return quoted.replace("/", "\\/") if slashes else quoted


def _respelled(text: str, changes: Iterable[tuple[str, str]], rewritten: Any) -> str:
    """``text``, the JSON of a string field (`resultJson`), with only its changed strings
    written anew, each as the text spelt it (escaped slashes and all): a recording compared
    byte for byte differs only in its links. Compact JSON when the text spells a string some
    other way (a `\\u` escape of a plain letter)."""
    out = text
    for old, new in sorted(dict(changes).items(), key=lambda change: -len(change[0])):
        for ascii_only, slashes in _SPELLINGS:
            spelt = _spelt(old, ascii_only, slashes)
            if spelt in out:
                out = out.replace(spelt, _spelt(new, ascii_only, slashes))
                break
    try:
        if json.loads(out) == rewritten:
            return out
    except ValueError:
        pass
    return json.dumps(rewritten, ensure_ascii=False, separators=(",", ":"))


def stand_in_name(url: str) -> str:
    """The name a link the recording does not list is served under: told apart from the
    recording's own (``0.png``, ``1.jpg``…) and the same on every load."""
    digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"link-{digest}{_suffix(url)}"


def stand_in_type(url: str) -> str:
    """The media type a link's extension names (application/octet-stream when none)."""
    suffix = _suffix(url)
    return (mimetypes.guess_type(f"x{suffix}")[0] if suffix else None) or (
        "application/octet-stream"
    )


def _suffix(url: str) -> str:
    try:
        path = urlsplit(url).path
    except ValueError:
        return ""
    ext = PurePosixPath(path).suffix.lower()
    return ext if _SUFFIX.fullmatch(ext) else ""
