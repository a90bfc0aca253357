"""Clients collected without ``close()`` (outside tester "soakclient", finding 3).

A service that drops an ``AsyncClient`` without closing it got two aiohttp ResourceWarnings
per client ("Unclosed client session", "Unclosed connector"), and both clients left their
journal's SQLite file handles open after ``gc.collect()``. Now an AsyncClient says so once,
in kiekit's words, as the standard library does for a file or a socket, and both clients'
journals are closed when the client is collected (a finalizer that never blocks).

Real parts: the mock KIE on a real socket, aiohttp's own session, the default SQLite journal.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from kiekit import AsyncClient, Client, PollPolicy
from kiekit.journal import data_dir
from kiekit.journal._writer import WRITER

KEY = "fake-key-for-the-mock"
GROK = "grok-imagine/text-to-image"
FAST = PollPolicy(initial=0.001, growth=0.0, maximum=0.001, first=0.0, timeout=30.0)


def test_an_async_client_dropped_unclosed_says_so_once_in_kiekits_words(mock_server: Any) -> None:
    async def scenario() -> tuple[list[warnings.WarningMessage], list[dict[str, Any]]]:
        handled: list[dict[str, Any]] = []  # aiohttp also tells the loop's exception handler
        asyncio.get_running_loop().set_exception_handler(lambda loop, what: handled.append(what))
        client = AsyncClient(KEY, base_url=mock_server.base_url, journal=None, rate_limits=None)
        await client.credits()  # its aiohttp session is open now, with a pooled connection
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del client
            gc.collect()
        return caught, handled

    caught, handled = asyncio.run(scenario())
    assert [(w.category, str(w.message)) for w in caught] == [
        (ResourceWarning, "AsyncClient was never closed; use `async with` or `await close()`")
    ]
    assert handled == []


def test_a_closed_async_client_says_nothing_when_collected(mock_server: Any) -> None:
    async def scenario() -> list[warnings.WarningMessage]:
        client = AsyncClient(KEY, base_url=mock_server.base_url, journal=None, rate_limits=None)
        async with client:
            await client.credits()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del client
            gc.collect()
        return caught

    assert asyncio.run(scenario()) == []


def _journal_handles() -> list[str]:
    """This process's open files that are the default journal's (the file, -wal, -shm)."""
    journal = str(data_dir() / "journal.sqlite3")
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (the listing's own)
            continue
        if target.startswith(journal):
            found.append(target)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
@pytest.mark.parametrize("kind", ["Client", "AsyncClient"])
def test_a_dropped_clients_journal_file_handles_are_closed_when_it_is_collected(
    mock_server: Any, tmp_path: Path, kind: str
) -> None:
    options: dict[str, Any] = {"base_url": mock_server.base_url, "poll": FAST, "rate_limits": None}

    def used_then_dropped() -> None:
        if kind == "Client":
            client = Client(KEY, **options)
            client.generate(GROK, prompt="x", out_dir=tmp_path)
            return

        async def scenario() -> None:
            client = AsyncClient(KEY, **options)
            await client.generate(GROK, prompt="x", out_dir=tmp_path)
            await client._transport.close()  # type: ignore[misc]  # only its journal is left

        asyncio.run(scenario())

    used_then_dropped()
    gc.collect()
    WRITER.after_queued(lambda: None)  # the close the finalizer queued is done
    assert _journal_handles() == []
