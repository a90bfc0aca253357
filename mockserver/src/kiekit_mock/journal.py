"""The request journal: what clients sent, for tests to assert on. Keys are never kept."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


def mask_authorization(value: str | None) -> str | None:
    """'Bearer sk-123' -> 'Bearer ***': the scheme stays visible, the secret never."""
    if value is None:
        return None
    scheme, _, secret = value.strip().partition(" ")
    return f"{scheme} ***" if secret else "***"


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None  # the JSON body when it was an object
    task_id: str | None  # the task the request created or named
    authorization: str | None  # masked
    status: int  # HTTP status of the answer
    code: int | None  # KIE body code of the answer, when it was an envelope


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)
