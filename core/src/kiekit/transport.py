"""How bytes move: the only I/O in kiekit, behind a small seam (as httpx's transports).

A transport sends one :class:`HttpRequest`, streams one :class:`Fetch` to disk, streams an
upload from disk and opens a streamed answer (:class:`SyncTransport`, :class:`AsyncTransport`).
The drivers run an engine flow to completion against a transport, sleeping and reading the
clock for it. ``Urllib3Transport`` serves ``Client``; ``AiohttpTransport`` serves
``AsyncClient``; ``MockTransport`` answers from a Python function, for tests with no sockets,
and serves both. Each lives in a file of its own in ``kiekit/_transports/``; the drivers in
``kiekit/_drivers.py``.

Network failures are translated to :class:`~kiekit.errors.TransportError` in the transports and
nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kiekit._engine import HttpRequest, HttpResponse
from kiekit._transports.base import (
    MAX_ANSWER_BYTES,
    AsyncByteStream,
    AsyncTransport,
    BufferedStream,
    ByteStream,
    SyncTransport,
)
from kiekit._transports.download import sweep_stale_parts
from kiekit._transports.drivers import drive, drive_async
from kiekit._transports.mock import MockTransport
from kiekit._transports.urllib3_transport import Urllib3Transport

if TYPE_CHECKING:
    from kiekit._transports.aiohttp_transport import AiohttpTransport

__all__ = [
    "MAX_ANSWER_BYTES",
    "AiohttpTransport",
    "AsyncByteStream",
    "AsyncTransport",
    "BufferedStream",
    "ByteStream",
    "HttpRequest",
    "HttpResponse",
    "MockTransport",
    "SyncTransport",
    "Urllib3Transport",
    "drive",
    "drive_async",
    "sweep_stale_parts",
]


# Hidden from type checkers, for which it would make every name exist (as Any).
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        # On first use: it brings asyncio, which a sync Client never needs (import time, issue 18)
        if name == "AiohttpTransport":
            from kiekit._transports.aiohttp_transport import AiohttpTransport

            return AiohttpTransport
        raise AttributeError(f"module 'kiekit.transport' has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
