"""Reading KIE's lists of result URLs, which Veo's pages write in three ways (kie-api.md §3.3)."""

from __future__ import annotations

import json
from typing import Any

from kiekit.plugin import ProtocolError

__all__ = ["url_list"]


def url_list(value: Any, task_id: str, *, required: bool = False) -> list[Any]:
    """The items of a URL list: a JSON array as record-info documents it, or a string holding one
    — the callback schema types ``resultUrls`` as ``"[http://…]"`` (unquoted) and the quickstart's
    code ``JSON.parse``s it (§3.3 [SRC≠]). Absent or empty is ``[]``, unless ``required``.

    The items are not checked here: :func:`kiekit.families.assets.asset` refuses non-URLs.
    """
    found = _read(value, task_id)
    if required and not found:
        raise ProtocolError("succeeded task lists no result URLs", task_id=task_id, payload=value)
    return found


def _read(value: Any, task_id: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            parsed = json.loads(text)
        except ValueError:
            if text.startswith("[") and text.endswith("]"):  # the schema's "[http://…]"
                return [part.strip().strip("\"'") for part in text[1:-1].split(",") if part.strip()]
        else:
            if isinstance(parsed, list):
                return parsed
    raise ProtocolError(
        f"expected a list of URLs, got {str(value)[:80]!r}", task_id=task_id, payload=value
    )
