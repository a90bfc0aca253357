"""Target 9: AsyncClient's CPU per task as the tasks in flight go from 1 to 10,000.

Every task does the same work whatever the level (one create, then status polls with no pause
between them until the mock, in its own process, answers success at the third poll), so CPU per
task should stay flat; a figure growing faster than the number in flight (CPU per task at
10,000 more than twice that at 100) is a defect: some cost is paid per task per task in flight.
At each level ``level`` tasks are created together, then all of them waited for together, in
batches until at least ``MIN_TASKS`` have run (so that the small levels are measured over enough
tasks). Each level runs in a fresh child process (the client's CPU, imports excluded), and the
levels are interleaved over rounds.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time

from harness import PYTHON, Row, median_spread, mock_server

KEY = "bench-key"
MODEL = "grok-imagine/text-to-image"
LEVELS = (1, 10, 100, 1_000, 10_000)
MIN_TASKS = 300
GROWTH_LIMIT = 2.0  # CPU per task at the most in flight / at 100 in flight


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _run(base_url: str, level: int) -> dict[str, float]:
    from kiekit import AsyncClient
    from kiekit.polling import PollPolicy

    no_pause = PollPolicy(initial=0, growth=0, maximum=0, timeout=600)
    batches = max(1, -(-MIN_TASKS // level))
    async with AsyncClient(KEY, base_url=base_url, poll=no_pause, rate_limits=None) as kie:
        await kie.wait(await kie.submit(MODEL, prompt="warm-up"))  # session, pool, journal
        cpu, started = _cpu(), time.perf_counter()
        for _ in range(batches):
            created = await asyncio.gather(
                *(kie.submit(MODEL, prompt="bench") for _ in range(level))
            )
            finished = await asyncio.gather(*(kie.wait(task) for task in created))
            if not all(results.assets for results in finished):
                raise RuntimeError("a task ended without its file")
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    tasks = batches * level
    return {"tasks": tasks, "cpu_ms": 1000 * cpu / tasks, "seconds": seconds}


def measure(rounds: int = 3, levels: tuple[int, ...] = LEVELS) -> list[Row]:
    cpu_ms: dict[int, list[float]] = {level: [] for level in levels}
    rate: dict[int, list[float]] = {level: [] for level in levels}
    with mock_server(polls_to_complete=2, starting_credits=1e12) as mock:
        for _ in range(rounds):
            for level in levels:
                child = subprocess.run(  # noqa: S603 - our interpreter, this file
                    [PYTHON, __file__, "--child", mock.base_url, str(level)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                figures = json.loads(child.stdout)
                cpu_ms[level].append(figures["cpu_ms"])
                rate[level].append(figures["tasks"] / figures["seconds"])
    medians = {level: median_spread(cpu_ms[level], "{:.2f}") for level in levels}
    base, top = 100 if 100 in levels else levels[0], levels[-1]
    growth = medians[top][0] / medians[base][0]
    per_level = "; ".join(
        f"{level:,}: {middle:.2f} ({spread}) ms, {median_spread(rate[level])[0]:,.0f} tasks/s"
        for level, (middle, spread) in medians.items()
    )
    return [
        Row(
            f"9 AsyncClient CPU per task, 1 to {top:,} in flight",
            f"client CPU per task, and tasks/s, by tasks in flight: {per_level}",
            f"{growth:.2f}",
            f"at {top:,} ≤ {GROWTH_LIMIT:g}x at {base:,}",
            growth <= GROWTH_LIMIT,
        )
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(asyncio.run(_run(sys.argv[2], int(sys.argv[3])))))
    else:
        from harness import format_table

        rounds = int(sys.argv[1]) if sys.argv[1:] else 3
        print(format_table(measure(rounds=rounds)))
