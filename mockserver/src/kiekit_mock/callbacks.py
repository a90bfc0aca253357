"""Callbacks: every one is recorded; only those aimed at loopback are actually POSTed.

KIE POSTs JSON to callBackUrl when a task ends, with a 15 s timeout, best effort (kie-api.md §6.1),
optionally signed (§6.3). The mock must never reach a host outside this machine, so a URL whose
host is not loopback (127.0.0.0/8, localhost, ::1) is recorded with delivered=False.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import threading
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .envelope import dumps


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (brackets allowed)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_refusal(url: str) -> str | None:
    """Why a callback URL must not be called, or None when it may be."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return "malformed URL"
    if parts.scheme not in ("http", "https") or not host:
        return "not an http(s) URL"
    if not is_loopback_host(host):
        return "not loopback: the mock never calls hosts outside this machine"
    return None


def signature_headers(key: str, task_id: str, timestamp: int) -> dict[str, str]:
    """KIE's opt-in webhook signature: base64(HMAC-SHA256(key, "taskId.timestamp")) (§6.3)."""
    mac = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return {
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": base64.b64encode(mac).decode(),
    }


@dataclass(frozen=True)
class CallbackRecord:
    """One callback the mock owed. `delivered` means the receiver answered with HTTP 2xx."""

    task_id: str
    url: str
    payload: dict[str, Any]
    headers: dict[str, str]
    delivered: bool
    reason: str | None  # why not delivered ("pending" while in flight); None when delivered
    status: int | None  # the receiver's HTTP status, when it answered


class CallbackDispatcher:
    """Records callbacks and delivers the loopback ones in background tasks of the server loop."""

    def __init__(self, *, timeout: float, hmac_key: str | None) -> None:
        self._timeout = timeout
        self._hmac_key = hmac_key
        self._lock = threading.Lock()
        self._records: list[CallbackRecord] = []
        self._in_flight: set[asyncio.Task[None]] = set()

    def records(self) -> list[CallbackRecord]:
        with self._lock:
            return list(self._records)

    def dispatch(self, task_id: str, url: str, payload: dict[str, Any]) -> None:
        """Record the callback; start its delivery if the URL is loopback. Needs a running loop."""
        headers = {"Content-Type": "application/json"}
        if self._hmac_key is not None:
            headers |= signature_headers(self._hmac_key, task_id, int(time.time()))
        refusal = loopback_refusal(url)
        record = CallbackRecord(
            task_id, url, payload, headers, False, refusal or "pending", status=None
        )
        with self._lock:
            index = len(self._records)
            self._records.append(record)
        if refusal is None:
            task = asyncio.get_running_loop().create_task(self._deliver(index, record))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _deliver(self, index: int, record: CallbackRecord) -> None:
        status: int | None = None
        try:
            # trust_env=False (the default): never through a proxy; no redirects, which could
            # lead a loopback receiver's answer to a host outside this machine.
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    record.url,
                    data=dumps(record.payload).encode(),
                    headers=record.headers,
                    timeout=aiohttp.ClientTimeout(total=self._timeout),
                    allow_redirects=False,
                ) as response,
            ):
                status = response.status
                await response.read()
            reason = None if 200 <= status < 300 else f"receiver answered HTTP {status}"
        except asyncio.CancelledError:
            self._settle(index, status, "cancelled: the mock server stopped")
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = f"delivery failed: {type(exc).__name__}: {exc}"
        self._settle(index, status, reason)

    def _settle(self, index: int, status: int | None, reason: str | None) -> None:
        with self._lock:
            old = self._records[index]
            self._records[index] = replace(
                old, delivered=reason is None, reason=reason, status=status
            )

    async def wait_idle(self) -> None:
        """Wait for every delivery in flight (each is bounded by the timeout)."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def close(self) -> None:
        """Cancel deliveries still in flight (server shutdown)."""
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*list(self._in_flight), return_exceptions=True)
