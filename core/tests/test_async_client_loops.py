"""An AsyncClient and event loops: one ``asyncio.run`` after another (a client made at module
level, a test framework's loop per test) reuses the client, each loop with a session of its own
closed as the loop ends; a loop still running in another thread is refused in words."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from typing import Any

import pytest
from kiekit import AsyncClient, ConfigurationError, PollPolicy

GROK = "grok-imagine/text-to-image"
NOW = PollPolicy(initial=0, growth=0, maximum=0, timeout=30)


def test_one_client_serves_one_asyncio_run_after_another(
    mock_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    kie = AsyncClient("test-key", base_url=mock_server.base_url, poll=NOW, journal=None)

    async def generate() -> str:
        return (await kie.wait(await kie.submit(GROK, prompt="a lighthouse"))).task_id

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        done = [asyncio.run(generate()) for _ in range(3)]
        asyncio.run(kie.close())
        gc.collect()  # a session left open would be reported now ("Unclosed client session")
    assert len(set(done)) == 3
    assert [task.task_id for task in mock_server.tasks()] == done
    assert not caplog.records


def test_a_loop_still_running_in_another_thread_is_refused_in_words(mock_server: Any) -> None:
    kie = AsyncClient("test-key", base_url=mock_server.base_url, journal=None)
    opened, release = threading.Event(), threading.Event()

    async def hold() -> None:
        await kie.credits()
        opened.set()
        await asyncio.to_thread(release.wait)

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    try:
        assert opened.wait(30)
        with pytest.raises(ConfigurationError, match="one client per loop"):
            asyncio.run(kie.credits())
    finally:
        release.set()
        holder.join(30)
    assert asyncio.run(kie.credits()) > 0  # that loop has ended: this one gets a session
    asyncio.run(kie.close())


def test_close_with_calls_in_flight_says_so_and_a_closed_client_stays_closed(
    tmp_path: Any,
) -> None:
    """An aiohttp service's on_cleanup closed its AsyncClient while handlers still ran: the
    creates in flight failed as "ClientConnectionError" (as if the server had hung up), and a
    call after close() opened a new session, one nobody would close."""
    from aiohttp import web
    from kiekit import OutcomeUnknownError
    from kiekit.journal import EntryState, Journal, SqliteStore

    async def scenario() -> tuple[object, object]:
        arrived, never = asyncio.Event(), asyncio.Event()

        async def hold(request: web.Request) -> web.Response:
            arrived.set()
            await never.wait()  # answered never: the client closes first
            return web.json_response({})

        app = web.Application()
        app.router.add_post("/api/v1/jobs/createTask", hold)
        runner = web.AppRunner(app, shutdown_timeout=0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        journal = Journal(SqliteStore(tmp_path / "journal.sqlite3"))
        kie = AsyncClient("test-key", base_url=f"http://127.0.0.1:{port}", journal=journal)
        try:
            create = asyncio.create_task(kie.submit(GROK, prompt="in flight"))
            await arrived.wait()
            await kie.close()
            in_flight = await asyncio.gather(create, return_exceptions=True)
            after = await asyncio.gather(kie.credits(), return_exceptions=True)
        finally:
            never.set()
            await runner.cleanup()
        return in_flight[0], after[0]

    in_flight, after = asyncio.run(scenario())

    assert isinstance(in_flight, OutcomeUnknownError)
    assert "the AsyncClient was closed while the call was in flight" in str(in_flight)
    assert isinstance(after, ConfigurationError)
    assert "this AsyncClient is closed" in str(after)
    journal = Journal(SqliteStore(tmp_path / "journal.sqlite3"))
    assert [row.state for row in journal.entries()] == [EntryState.UNKNOWN]  # it was sent


def test_the_first_call_imports_aiohttp_off_the_event_loop() -> None:
    """Importing aiohttp builds its TLS contexts (some 250 ms): done on the loop, the first
    call of a web service held up every other request."""
    import subprocess
    import sys

    probe = """
import asyncio, sys, threading
from kiekit import AsyncClient, ConfigurationError
loop_thread = threading.get_ident()
seen = []
class Finder:
    def find_spec(self, name, path=None, target=None):
        if name == "aiohttp":
            seen.append(threading.get_ident() == loop_thread)
        return None
sys.meta_path.insert(0, Finder())
async def main():
    kie = AsyncClient("test-key", base_url="http://127.0.0.1:9", journal=None)
    await kie.close()
    kie = AsyncClient("test-key", base_url="http://127.0.0.1:9", journal=None)
    try:
        await kie.credits()
    except Exception:
        pass
    await kie.close()
asyncio.run(main())
print(seen)
"""
    out = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[False]"  # imported once, on another thread than the loop's


def test_a_kill_while_the_first_create_opens_the_transport_leaves_no_unsent_row(
    tmp_path: Any,
) -> None:
    """The first create opens the aiohttp session (its import took over a second on a busy
    machine). Opened after the intent row, a kill -9 then left rows "sending" that never
    reached KIE, each to settle by hand (an outside tester's `kie batch`, 20 rows). Opened
    first, the kill leaves nothing to settle."""
    import subprocess
    import sys

    from kiekit.journal import Journal, SqliteStore

    probe = """
import asyncio, os, sys
from kiekit import AsyncClient
from kiekit.journal import Journal, SqliteStore
class Killed:
    def find_spec(self, name, path=None, target=None):
        if name == "aiohttp":
            os._exit(9)  # as a kill -9 while the transport is being opened
        return None
sys.meta_path.insert(0, Killed())
async def main():
    journal = Journal(SqliteStore(sys.argv[1]))
    async with AsyncClient("test-key", base_url="http://127.0.0.1:9", journal=journal) as kie:
        await kie.submit("grok-imagine/text-to-image", prompt="a fox", idempotency_key="job-1")
asyncio.run(main())
"""
    path = tmp_path / "journal.sqlite3"
    killed = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=120
    )
    assert killed.returncode == 9, killed.stderr
    assert Journal(SqliteStore(path)).entries() == []  # nothing claims a create may have gone
