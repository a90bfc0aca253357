"""Target 5: a batch of creates against a mock that enforces KIE's documented limits.

The mock enforces 20 creates per 10 s per account and 10 recordInfo per second per key
(kie-api.md §8) on a clock sped up ``scale`` times; the client's limiter is given the same limits
on the same time scale. Every task is created at once (one coroutine each) and the limiter must
pace them: the figure is the create rate reached as a share of the most the limit allows, and
the 429 answers the mock gave (its journal), which must be none.
"""

from __future__ import annotations

import asyncio
import math

from harness import Row
from kiekit import AsyncClient
from kiekit.ratelimit import Rate, RateLimits
from kiekit_mock import MockConfig, MockServer

KEY = "bench-key"
MODEL = "grok-imagine/text-to-image"
CREATES, WINDOW = 20, 10.0  # kie-api.md §8


async def _create_all(base_url: str, tasks: int, scale: float) -> list[float]:
    limits = RateLimits(creates=Rate(CREATES, WINDOW / scale), status=Rate(10, 1.0 / scale))
    async with AsyncClient(KEY, base_url=base_url, rate_limits=limits) as kie:
        loop = asyncio.get_running_loop()

        async def one() -> float:
            await kie.submit(MODEL, prompt="bench")
            return loop.time()

        return list(await asyncio.gather(*(one() for _ in range(tasks))))


def measure(tasks: int = 500, scale: float = 20.0) -> list[Row]:
    config = MockConfig(documented_limits=True, time_scale=scale, starting_credits=1e12)
    with MockServer(config) as mock:

        async def run() -> tuple[float, list[float]]:
            begin = asyncio.get_running_loop().time()
            return begin, await _create_all(mock.base_url, tasks, scale)

        begin, times = asyncio.run(run())
        rejected = sum(1 for record in mock.requests() if record.code == 429)
    window = WINDOW / scale
    # The most a sliding window allows: a burst of 20 at once, then 20 more every window.
    best = (math.ceil(tasks / CREATES) - 1) * window
    took = max(times) - begin
    share = best / took
    return [
        Row(
            f"5 {tasks} creates under KIE's limits (×{scale:g} clock)",
            f"{tasks / (took * scale):.2f} creates per mock-second against {CREATES / WINDOW:.2f} "
            f"allowed ({took:.1f} s wall); {rejected} answered 429",
            f"{share:.2f}",
            "≥ 0.95 of the allowed rate, 0 × 429",
            share >= 0.95 and rejected == 0,
        )
    ]


if __name__ == "__main__":
    from harness import format_table

    print(format_table(measure()))
