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
