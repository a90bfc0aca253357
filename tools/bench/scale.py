"""Target 4: one AsyncClient carries 10,000 tasks in flight at once, to completion.

All tasks are created first (concurrently), then all are waited for concurrently, so every one
is in flight at the same time; the mock, in its own process, ends each at its third poll. The
client runs in a child process of its own, whose peak resident memory (ru_maxrss) is the figure.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time

from harness import PYTHON, Row, mock_server

KEY = "bench-key"
MODEL = "grok-imagine/text-to-image"
LIMIT_MB = 200


async def _carry(base_url: str, tasks: int) -> dict[str, float]:
    from kiekit import AsyncClient
    from kiekit.polling import PollPolicy

    # Polls a few tenths of a second apart: the mock, not the schedule, sets the pace here.
    poll = PollPolicy(initial=0.2, growth=0.1, maximum=1.0, timeout=600)
    async with AsyncClient(KEY, base_url=base_url, poll=poll, rate_limits=None) as kie:
        started = time.perf_counter()
        created = await asyncio.gather(*(kie.submit(MODEL, prompt="bench") for _ in range(tasks)))
        finished = await asyncio.gather(*(kie.wait(task) for task in created))
        seconds = time.perf_counter() - started
    assets = [len(results.assets) for results in finished]
    return {
        "tasks": tasks,
        "succeeded": sum(1 for count in assets if count),
        "peak_in_flight": len(created),
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(tasks: int = 10_000) -> list[Row]:
    with mock_server(polls_to_complete=2, starting_credits=1e12) as mock:
        child = subprocess.run(  # noqa: S603 - our interpreter, this file
            [PYTHON, __file__, "--child", mock.base_url, str(tasks)],
            capture_output=True,
            text=True,
            check=True,
        )
    figures = json.loads(child.stdout)
    met = figures["succeeded"] == tasks and figures["peak_rss_mb"] <= LIMIT_MB
    return [
        Row(
            f"4 {tasks:,} tasks in flight, one AsyncClient",
            f"{figures['succeeded']:,} succeeded, {figures['peak_in_flight']:,} in flight at "
            f"once, {figures['seconds']:.0f} s; peak RSS {figures['peak_rss_mb']:.0f} MB",
            f"{figures['peak_rss_mb'] / LIMIT_MB:.2f}",
            f"RSS ≤ {LIMIT_MB} MB",
            met,
        )
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(asyncio.run(_carry(sys.argv[2], int(sys.argv[3])))))
    else:
        from harness import format_table

        print(format_table(measure()))
