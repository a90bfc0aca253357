"""Turning result URLs into typed assets, shared by every family."""

from __future__ import annotations

import functools
import mimetypes
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from kiekit.errors import ProtocolError
from kiekit.models import Asset, AssetRole, MediaKind


def media_type_of(url: str) -> str | None:
    # the last path segment's extension, without urlsplit and pathlib: a task can list many
    # files, and the wait that ends reads them all
    path = url.split("?", 1)[0].split("#", 1)[0] if "?" in url or "#" in url else url
    dot = path.rfind(".", path.rfind("/") + 2)  # past the name's first character: ".jpg" has none
    known = _media_type_of_suffix(path[dot:].lower()) if dot > 0 else None
    return known if known is not None else mimetypes.guess_type(urlsplit(url).path)[0]


@functools.lru_cache(maxsize=256)
def _media_type_of_suffix(suffix: str) -> str | None:
    # mimetypes is slow (~15 µs a call): once per extension; unusual ones (.tar.gz) go the slow way
    guessed, _ = mimetypes.guess_type("file" + suffix)
    return guessed


def asset(
    url: Any,
    kind: MediaKind | None,
    *,
    task_id: str,
    label: str | None = None,
    role: AssetRole = AssetRole.MAIN,
) -> Asset:
    """One result file; with ``kind`` None the kind is read from the URL's media type. An
    extra file KIE hands out beside the model's own (a cover still) is ``AssetRole.EXTRA``."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ProtocolError(f"result URL is not an http(s) URL: {url!r}", task_id=task_id)
    media_type = media_type_of(url)
    found = kind if kind is not None else MediaKind.of_media_type(media_type)
    return Asset(url=url, kind=found, media_type=media_type, label=label, role=role)


def assets(urls: Any, kind: MediaKind | None, *, task_id: str) -> tuple[Asset, ...]:
    if not isinstance(urls, list) or not urls:
        raise ProtocolError("succeeded task lists no result URLs", task_id=task_id, payload=urls)
    items: Iterable[Any] = urls
    return tuple(asset(u, kind, task_id=task_id) for u in items)
