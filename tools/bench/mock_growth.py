"""Target 11 (the mock's part): kiekit-mock's memory after 10^5 and 10^6 requests.

The mock runs in its own process with its default limits (a journal of 100,000 request records,
100,000 tasks); a load generator in another process sends tasks' requests — a create, then polls
until the task has finished (two) — in segments, and after each segment the mock's resident
memory (/proc VmRSS) and its CPU per request are read. Once the journal and the task store are at
their limits (300,000 requests: 100,000 tasks), memory must stay flat however many requests come
after: the last figure within 1.25x of the one at the first checkpoint past the limits. A quick
run lowers both limits to 10,000 and sends 90,000 requests.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from harness import PYTHON, Row, cpu_seconds, mock_server

CHECKPOINTS = (100_000, 500_000, 1_000_000)
QUICK = (30_000, 60_000, 90_000)
LIMIT = 100_000  # MockConfig's default journal_limit and task_limit
FLAT = 1.25
KEY = "bench-key"
MODEL = "grok-imagine/text-to-image"


async def _load(base_url: str, requests: int, concurrency: int = 32) -> int:
    """Tasks' requests (a create, two polls) until ``requests`` have been sent."""
    import aiohttp

    headers = {"Authorization": f"Bearer {KEY}"}
    create = {"model": MODEL, "input": {"prompt": "a red fox"}}
    sent = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def call(method: str, url: str, body: object = None) -> dict[str, object]:
            nonlocal sent
            sent += 1
            async with session.request(method, url, json=body) as response:
                answer: dict[str, object] = await response.json()
            if answer.get("code") != 200:
                raise RuntimeError(f"{url} answered {answer}")
            return answer

        async def worker() -> None:
            while sent < requests:
                made = await call("POST", f"{base_url}/api/v1/jobs/createTask", create)
                task_id = made["data"]["taskId"]  # type: ignore[index]
                for _ in range(2):
                    await call("GET", f"{base_url}/api/v1/jobs/recordInfo?taskId={task_id}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc")


def measure(checkpoints: tuple[int, ...] = CHECKPOINTS, limit: int = LIMIT) -> list[Row]:
    """RSS after each checkpoint's requests, with both limits at ``limit`` (a quick run sets
    them lower, to reach its steady state sooner)."""
    steady_after = 3 * limit  # tasks reach the limit at three requests each (records sooner)
    figures = []
    sent = 0
    config = {"journal_limit": limit, "task_limit": limit}
    with mock_server(polls_to_complete=1, starting_credits=1e15, **config) as mock:
        for checkpoint in checkpoints:
            cpu = cpu_seconds(mock.pid) or 0.0
            child = subprocess.run(  # noqa: S603 - our interpreter, this file
                [PYTHON, __file__, "--load", mock.base_url, str(checkpoint - sent)],
                capture_output=True,
                text=True,
                check=True,
            )
            segment = int(child.stdout)
            cpu_us = 1e6 * ((cpu_seconds(mock.pid) or 0.0) - cpu) / segment
            sent += segment
            figures.append((sent, _rss_mib(mock.pid), cpu_us))
            print(f"  mock: {sent:,} requests, {figures[-1][1]:.0f} MiB", file=sys.stderr)
    steady = [figure for figure in figures if figure[0] >= steady_after]
    growth = steady[-1][1] / steady[0][1] if len(steady) >= 2 else None
    cells = "; ".join(f"{n:,}: {rss:.0f} MiB, CPU {cpu:.0f} µs/request" for n, rss, cpu in figures)
    return [
        Row(
            f"11 kiekit-mock memory, {checkpoints[0]:,} to {checkpoints[-1]:,} requests",
            f"mock RSS after N requests (create + 2 polls a task; journal and task limits "
            f"{limit:,}): {cells}",
            "-" if growth is None else f"{growth:.2f}",
            f"RSS past {steady_after:,} requests ≤ {FLAT:g}x (limits reached)",
            None if growth is None else growth <= FLAT,
        )
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--load"]:
        print(asyncio.run(_load(sys.argv[2], int(sys.argv[3]))))
    else:
        from harness import format_table

        quick = "--quick" in sys.argv
        print(format_table(measure(QUICK, 10_000) if quick else measure()))
