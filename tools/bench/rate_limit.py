"""Target 5: a batch of creates against a mock that enforces KIE's documented limits.

The mock, in its own process, enforces 20 creates per 10 s per account and 10 recordInfo per
second per key (kie-api.md §8) on a clock sped up ``scale`` times; the client's limiter is given
the same limits on the same time scale. Every task is created at once (one coroutine each) and
the limiter must pace them: the figure is the create rate reached as a share of the most the
limit allows, and the 429 answers the mock gave (its journal, read over ``/_mock/journal``),
which must be none.
"""

from __future__ import annotations

import asyncio
import json
import math
import urllib.request

from harness import Row, mock_server
from kiekit import AsyncClient
from kiekit.ratelimit import Rate, RateLimits

KEY = "bench-key"
MODEL = "grok-imagine/text-to-image"
CREATES, WINDOW = 20, 10.0  # kie-api.md §8


async def _create_all(base_url: str, tasks: int, scale: float) -> float:
    """Wall seconds from the first create sent to the last one answered."""
    # The windows on the mock's clock. The limiter's safety margin covers the jitter of arrival
    # times, which a faster clock does not shrink: 20 ms on loopback (0.1 s by default for KIE).
    limits = RateLimits(
        creates=Rate(CREATES, WINDOW / scale), status=Rate(10, 1.0 / scale), margin=0.02
    )
    async with AsyncClient(KEY, base_url=base_url, rate_limits=limits, journal=None) as kie:
        loop = asyncio.get_running_loop()
        begin = loop.time()
        await asyncio.gather(*(kie.submit(MODEL, prompt="bench") for _ in range(tasks)))
        return loop.time() - begin


def _rejected(base_url: str) -> int:
    """Create requests the mock answered with 429 (its journal, over the control API)."""
    url = f"{base_url}/_mock/journal?path=/api/v1/jobs/createTask"
    with urllib.request.urlopen(url) as answer:  # noqa: S310 - the loopback mock
        journal = json.loads(answer.read())
    return sum(1 for record in journal["requests"] if record["code"] == 429)


def measure(tasks: int = 500, scale: float = 10.0) -> list[Row]:
    config = {"documented_limits": True, "time_scale": scale, "starting_credits": 1e12}
    with mock_server(**config) as mock:
        took = asyncio.run(_create_all(mock.base_url, tasks, scale))
        rejected = _rejected(mock.base_url)
    window = WINDOW / scale
    # The most a sliding window allows: a burst of 20 at once, then 20 more every window.
    best = (math.ceil(tasks / CREATES) - 1) * window
    share = best / took
    return [
        Row(
            f"5 {tasks} creates under KIE's limits (×{scale:g} clock)",
            f"{tasks} creates in {took * scale:.1f} mock-s, {best * scale:.0f} at best "
            f"(20 at once, then 20 a window; {took:.1f} s wall); {rejected} answered 429",
            f"{share:.2f}",
            "≥ 0.95 of the allowed rate, 0 × 429",
            share >= 0.95 and rejected == 0,
        )
    ]


if __name__ == "__main__":
    from harness import format_table

    print(format_table(measure()))
