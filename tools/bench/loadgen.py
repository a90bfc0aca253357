"""A fixed-duration GET load from one process, the same for every server measured."""

from __future__ import annotations

import asyncio
import time

import aiohttp


async def _hammer(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> int:
    done = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{url} answered HTTP {response.status}")
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


def requests_per_second(
    url: str, headers: dict[str, str], *, seconds: float = 2.0, concurrency: int = 32
) -> float:
    started = time.perf_counter()
    count = asyncio.run(_hammer(url, headers, seconds, concurrency))
    return count / (time.perf_counter() - started)
