"""The journal's own CPU per task, without the network: a companion to target 1.

Target 1 runs against the mock over loopback, where on a shared two-core machine the noise of
the sockets (and of the other processes) is as large as the journal's cost. Here both clients
run 32 tasks at a time against KIE answered in memory (``MockTransport``: a create, two pending
polls, a success), journal on and off, interleaved rounds; the difference is what the journal
costs each task (three writes: the intent, the create, the results).

    python3 -m uv run --no-sync python tools/bench/journal_cost.py
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harness import median_spread
from kiekit import AsyncClient, Client
from kiekit.polling import PollPolicy
from kiekit.transport import HttpRequest, HttpResponse, MockTransport

MODEL = "grok-imagine/text-to-image"
NO_SLEEP = PollPolicy(initial=0, growth=0, maximum=0, timeout=600)
CONCURRENCY = 32
PENDING_POLLS = 2


class _Kie:
    """createTask and recordInfo, answered in memory: each task succeeds at its third poll."""

    def __init__(self) -> None:
        self._ids = itertools.count()
        self._polls: dict[str, int] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.url.endswith("/jobs/createTask"):
            return _answer({"taskId": f"t{next(self._ids)}"})
        task_id = parse_qs(urlsplit(request.url).query)["taskId"][0]
        polls = self._polls[task_id] = self._polls.get(task_id, 0) + 1
        done = polls > PENDING_POLLS
        urls = {"resultUrls": ["https://cdn.example/a.png"]}
        return _answer(
            {
                "taskId": task_id,
                "model": MODEL,
                "state": "success" if done else "generating",
                "resultJson": json.dumps(urls) if done else "",
                "failCode": None,
                "failMsg": None,
            }
        )


def _answer(data: dict[str, Any]) -> HttpResponse:
    return HttpResponse(200, json.dumps({"code": 200, "msg": "success", "data": data}).encode())


async def _async_tasks(tasks: int, journal: bool) -> None:
    options: dict[str, Any] = {} if journal else {"journal": None}
    transport = MockTransport(_Kie())
    async with AsyncClient(
        "bench-key", transport=transport, poll=NO_SLEEP, rate_limits=None, **options
    ) as kie:
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with limit:
                await kie.wait(await kie.submit(MODEL, prompt="a fox"))

        await asyncio.gather(*(one() for _ in range(tasks)))


def _sync_tasks(tasks: int, journal: bool) -> None:
    options: dict[str, Any] = {} if journal else {"journal": None}
    transport = MockTransport(_Kie())
    with Client(
        "bench-key", transport=transport, poll=NO_SLEEP, rate_limits=None, **options
    ) as kie:

        def one(_: int) -> None:
            kie.wait(kie.submit(MODEL, prompt="a fox"))

        with ThreadPoolExecutor(CONCURRENCY) as threads:
            list(threads.map(one, range(tasks)))


def measure(rounds: int = 3, tasks: int = 2000) -> dict[str, list[float]]:
    """CPU microseconds per task of each side, one figure per round."""
    import harness  # noqa: F401 - its import points the journal at a folder of its own

    sides: dict[str, Callable[[], None]] = {
        "AsyncClient": lambda: asyncio.run(_async_tasks(tasks, True)),
        "AsyncClient, no journal": lambda: asyncio.run(_async_tasks(tasks, False)),
        "Client": lambda: _sync_tasks(tasks, True),
        "Client, no journal": lambda: _sync_tasks(tasks, False),
    }
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    for round_ in range(rounds + 1):  # the first round warms up: imports, the journal file
        for name, run in sides.items():
            started = time.process_time()
            run()
            if round_:
                cpu[name].append(1e6 * (time.process_time() - started) / tasks)
    return cpu


def main() -> None:
    cpu = measure()
    for name, figures in cpu.items():
        middle, spread = median_spread(figures)
        print(f"{name:24s} {middle:6.0f} µs CPU/task ({spread})")
    for client in ("AsyncClient", "Client"):
        rounds = zip(cpu[client], cpu[f"{client}, no journal"], strict=True)
        middle, spread = median_spread([on - off for on, off in rounds])
        print(f"{client}: the journal costs {middle:.0f} µs CPU/task ({spread}, per round)")


if __name__ == "__main__":
    main()
