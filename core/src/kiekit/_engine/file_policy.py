"""The download file policy: what a result file is called on disk, which answers are refused
in its place, and which link failures are renewed through download-url."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from kiekit.errors import (
    DownloadError,
)
from kiekit.models import Asset, MediaKind

if TYPE_CHECKING:
    pass

from kiekit._engine.ops import Fetch

T = TypeVar("T")


log = logging.getLogger("kiekit")

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,5}$")

# What object stores answer for a link past its lifetime (S3/R2: 403 AccessDenied "Request has
# expired"; some CDNs: 404 or 410). Such a link is renewed once through download-url (§4, §8).
EXPIRED_LINK_STATUSES = frozenset({403, 404, 410})

# Media types error pages come as; a media file never does (an SVG aside). Text types are
# only believed when the bytes are text too: a misconfigured CDN may label an MP4 text/plain.
_PAGE_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")
_TEXT_TYPES = ("text/plain", "application/json", "application/problem+json")
_PAGE_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<error", b"{", b"<head", b"<body")
_TEXT_BYTES = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}


def check_file_start(job: Fetch, content_type: str | None, head: bytes) -> None:
    """Refuse an answer that is plainly an error page where a media file belongs.

    Object stores answer expired or missing links with XML (S3/R2 ``AccessDenied``) and
    proxies with HTML, sometimes under status 200; saved as ``.mp4`` such a page would pass
    for a result. Checked on the Content-Type and on the first bytes; files of unknown kind
    (text, other) and SVG images (XML by nature) are not judged.
    """
    if job.kind not in (MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO):
        return
    if job.media_type and ("xml" in job.media_type or "svg" in job.media_type):
        return
    if urlsplit(job.url).path.lower().endswith(".svg"):
        return
    declared = (content_type or "").split(";")[0].strip().lower()
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:16].lower()
    text = bool(head) and all(byte in _TEXT_BYTES for byte in head)
    page = declared in _PAGE_TYPES or start.startswith(_PAGE_STARTS)
    major = declared.partition("/")[0]
    if major in ("image", "video", "audio") and major != job.kind.value:
        # a media file, but not of the kind the model declares (Model.output): kept, as the
        # task made it and was paid for, and said, since its name and kind are taken from
        # the model (a video saved as an image's .bin, say)
        log.warning(
            "task %s: the %s file %s answered %s; kept, but the model declares %s output: "
            "is the model's output declared right (its plugin's Model.output, or the mock's "
            "kind for it)?",
            job.task_id or "?",
            job.kind.value,
            urlsplit(job.url)._replace(query="", fragment="").geturl(),  # no signed query
            declared,
            job.kind.value,
        )
    if page or (declared in _TEXT_TYPES and text):
        what = declared or "a text page"
        raise DownloadError(
            f"the link answered {what} instead of the {job.kind.value} file",
            url=job.url,
            task_id=job.task_id,
            http_status=200,
            path=job.destination,
        )


def file_name(task_id: str, index: int, item: Asset) -> str:
    """``<task id>[-<label>]-<index><ext>`` (the results' ``file_stem`` in place of the task
    id when they give one), safe on every file system: ASCII, short enough for any of them,
    never a name Windows reserves, and one name for one task id.

    A task id is kept as it is when it is plain (letters, digits, ``_.-``; KIE's are hex).
    Any other (one that had to be changed to be safe, cut for length, holding capitals, which
    case-blind file systems fold, or starting with a device name such as ``aux``) is followed
    by ``~`` and a hash of it, which no plain id holds: two tasks never share a file, so one
    download never silently replaces another's. The extension is the URL's only when it
    names a file of the asset's kind and nothing a system would run or a browser render
    (an "image" link ending ``.exe``, ``.sh`` or ``.html`` is not saved so); else the media
    type's, else ``.bin``.
    """
    stem = _id_stem(task_id)
    if item.label:
        stem += "-" + _bounded(_SAFE.sub("_", item.label).strip("._") or "file", _MAX_LABEL)
    return f"{stem}-{index}{_suffix(item)}"


# File systems allow 255 bytes a name; these leave room for the index, an extension and the
# download's temporary suffix (``.<12 hex>.part``).
_MAX_ID = 120
_MAX_LABEL = 60
_ID_HASH = 16  # hex digits of SHA-256 that tell apart ids whose safe forms agree

# Names Windows keeps for devices, whatever follows the first dot (``aux.txt`` is AUX).
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"{name}{n}" for name in ("com", "lpt") for n in (*"123456789", "¹", "²", "³")}
)

# Extensions a system runs or a browser renders as a page, of any media kind (``.sh`` is
# text/x-sh, so a TEXT asset could otherwise keep it)
_ACTIVE = frozenset(
    {
        *(".app", ".appimage", ".apk", ".bash", ".bat", ".cmd", ".com", ".command", ".cpl"),
        *(".csh", ".deb", ".desktop", ".dll", ".dmg", ".exe", ".hta", ".htm", ".html", ".jar"),
        *(".js", ".jse", ".ksh", ".lnk", ".mjs", ".msc", ".msi", ".msp", ".php", ".pif"),
        *(".pkg", ".pl", ".ps1", ".psm1", ".py", ".pyc", ".pyw", ".rb", ".reg", ".rpm", ".run"),
        *(".scf", ".scr", ".sh", ".shtml", ".url", ".vb", ".vbe", ".vbs", ".ws"),
        *(".wsf", ".wsh", ".xht", ".xhtml", ".zsh"),
    }
)


def _id_stem(task_id: str) -> str:
    clean = _SAFE.sub("_", task_id).strip("._")
    reserved = clean.split(".", 1)[0].lower() in _RESERVED
    plain = clean == task_id and len(clean) <= _MAX_ID and clean == clean.lower()
    if plain and clean and not reserved:
        return clean
    digest = hashlib.sha256(task_id.encode("utf-8", "surrogatepass")).hexdigest()[:_ID_HASH]
    head = ("_" if reserved else "") + clean[: _MAX_ID - _ID_HASH - 2]
    return f"{head or 'task'}~{digest}"


def _suffix(item: Asset) -> str:
    suffix = PurePosixPath(urlsplit(item.url).path).suffix.lower()
    if _EXTENSION.match(suffix) and _fits(suffix, item.kind):
        return suffix
    guessed = mimetypes.guess_extension(item.media_type) if item.media_type else None
    if guessed is not None and _fits(guessed.lower(), item.kind):
        return guessed.lower()
    return ".bin"


def _fits(suffix: str, kind: MediaKind) -> bool:
    """Whether ``suffix`` may end the name of a file of ``kind``: not one a system runs or a
    browser renders, and, when the suffix names a media type, one of that kind."""
    if suffix in _ACTIVE:
        return False
    named = mimetypes.guess_type("file" + suffix)[0]
    return named is None or MediaKind.of_media_type(named) is kind


def _bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{text[: limit - 11]}_{digest}"
