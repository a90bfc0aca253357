"""Target 1: kiekit's clients against hand-written loops doing the identical HTTP sequence.

Each task is one createTask and status polls until success (the mock answers "success" at the
third poll), with no sleep between polls, so any difference is the client's own work: input
validation, building requests, envelope and status parsing, the engine's flow. The mock runs in
its own process. The target is stated in this process's CPU time per task (issue 18): the
ratio is the raw loop's CPU per task over the client's, so 0.85 means the client spends at most
1/0.85 of the raw loop's CPU on each task. Tasks/s are printed beside it: on two cores the mock
can be the bottleneck for both sides, and CPU per task still shows the client's overhead.
kiekit runs as users get it, its durable task journal included (SQLite, three writes a task,
group-committed by the journal's writer thread, in a temporary folder: see harness.py), and
again with ``journal=None`` to show the engine's own cost. The writer thread's own CPU is
printed beside the journal rows: the rest of the journal's cost is the clients' side of each
hand-over, and what the writer's turns at the GIL cost the threads it takes turns with.
kiekit's rate limiter is off, as the raw loops have none and this mock enforces no limits. A
reference row sends the raw loop's requests through kiekit's ``AiohttpTransport`` alone, so the
three shares of the gap can be told apart: transport, engine (``journal=None`` minus
transport) and journal (the rest).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import urllib3
from harness import Row, median_spread, mock_server, thread_cpu_seconds
from kiekit import AsyncClient, Client
from kiekit._engine import HttpRequest
from kiekit.polling import PollPolicy
from kiekit.registry import default_registry
from kiekit.transport import AiohttpTransport, Urllib3Transport

KEY = "bench-key"
MODEL = "grok-imagine/text-to-image"
PROMPT = "a lighthouse at dawn"
POLLS = 2  # non-final answers before success: every task is 1 create + 3 status polls
NO_SLEEP = PollPolicy(initial=0, growth=0, maximum=0, timeout=600)
CONCURRENCY = 32


def _create_body() -> tuple[str, bytes]:
    """The path and body kiekit sends for the model, so the raw loops send the same bytes."""
    provider = default_registry().provider(MODEL)
    request = provider.build_request(MODEL, provider.make_input(MODEL, None, prompt=PROMPT))
    return request.path, json.dumps(request.body).encode()


def _state(raw: bytes) -> str:
    answer = json.loads(raw)
    if answer.get("code") != 200:
        raise RuntimeError(f"KIE answered {answer.get('code')}: {answer.get('msg')}")
    return str(answer["data"]["state"])


# -- asyncio ---------------------------------------------------------------------------------


async def _raw_aiohttp(base_url: str, tasks: int) -> None:
    path, body = _create_body()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    limit = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one() -> None:
            async with limit:
                async with session.post(base_url + path, data=body) as answer:
                    created = json.loads(await answer.read())
                task_id = created["data"]["taskId"]
                while True:
                    url = f"{base_url}/api/v1/jobs/recordInfo"
                    async with session.get(url, params={"taskId": task_id}) as answer:
                        state = _state(await answer.read())
                    if state == "success":
                        return
                    if state == "fail":
                        raise RuntimeError(task_id)

        await asyncio.gather(*(one() for _ in range(tasks)))


async def _kiekit_async(base_url: str, tasks: int, journal: bool = True) -> None:
    limit = asyncio.Semaphore(CONCURRENCY)
    options: dict[str, Any] = {} if journal else {"journal": None}
    async with AsyncClient(
        KEY, base_url=base_url, poll=NO_SLEEP, rate_limits=None, **options
    ) as kie:

        async def one() -> None:
            async with limit:
                task = await kie.submit(MODEL, prompt=PROMPT)
                await kie.wait(task)

        await asyncio.gather(*(one() for _ in range(tasks)))


async def _transport_only(base_url: str, tasks: int) -> None:
    """The raw loop's exchanges through kiekit's AiohttpTransport alone (no engine, no journal):
    the share of the gap that is the transport's."""
    path, body = _create_body()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    limit = asyncio.Semaphore(CONCURRENCY)
    transport = AiohttpTransport()

    async def one() -> None:
        async with limit:
            created = await transport.send(HttpRequest("POST", base_url + path, headers, body))
            task_id = json.loads(created.body)["data"]["taskId"]
            status_url = f"{base_url}/api/v1/jobs/recordInfo?taskId={task_id}"
            while True:
                answer = await transport.send(HttpRequest("GET", status_url, headers))
                state = _state(answer.body)
                if state == "success":
                    return
                if state == "fail":
                    raise RuntimeError(task_id)

    try:
        await asyncio.gather(*(one() for _ in range(tasks)))
    finally:
        await transport.close()


# -- threads ---------------------------------------------------------------------------------


def _raw_urllib3(base_url: str, tasks: int) -> None:
    path, body = _create_body()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    pool = urllib3.PoolManager(maxsize=CONCURRENCY)

    def one(_: int) -> None:
        created = json.loads(pool.request("POST", base_url + path, body=body, headers=headers).data)
        task_id = created["data"]["taskId"]
        while True:
            answer = pool.request(
                "GET",
                f"{base_url}/api/v1/jobs/recordInfo",
                fields={"taskId": task_id},
                headers=headers,
            )
            state = _state(answer.data)
            if state == "success":
                return
            if state == "fail":
                raise RuntimeError(task_id)

    with ThreadPoolExecutor(CONCURRENCY) as threads:
        list(threads.map(one, range(tasks)))
    pool.clear()


def _kiekit_sync(base_url: str, tasks: int, journal: bool = True) -> None:
    # the same connection pool size as the raw loop: one connection per thread
    transport = Urllib3Transport(maxsize=CONCURRENCY)
    options: dict[str, Any] = {} if journal else {"journal": None}
    with Client(
        KEY, base_url=base_url, poll=NO_SLEEP, transport=transport, rate_limits=None, **options
    ) as kie:

        def one(_: int) -> None:
            kie.wait(kie.submit(MODEL, prompt=PROMPT))

        with ThreadPoolExecutor(CONCURRENCY) as threads:
            list(threads.map(one, range(tasks)))


# -- the measurement -------------------------------------------------------------------------


def _writer_cpu() -> float:
    """CPU seconds kiekit's journal writer thread has used (0 before it starts; Linux only)."""
    for thread in threading.enumerate():
        if thread.name == "kiekit-journal" and thread.native_id is not None:
            return thread_cpu_seconds(thread.native_id) or 0.0
    return 0.0


def _timed(run: Callable[[], None], tasks: int) -> tuple[float, float, float]:
    """(tasks per second, this process's CPU milliseconds per task, the journal writer
    thread's share of them)."""
    wall, cpu, writer = time.perf_counter(), time.process_time(), _writer_cpu()
    run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return tasks / wall, 1000 * cpu / tasks, 1000 * (_writer_cpu() - writer) / tasks


def measure(rounds: int = 3, tasks: int = 1000) -> list[Row]:
    sides: dict[str, Callable[[str], None]] = {
        "raw aiohttp": lambda url: asyncio.run(_raw_aiohttp(url, tasks)),
        "AsyncClient": lambda url: asyncio.run(_kiekit_async(url, tasks)),
        "AsyncClient, no journal": lambda url: asyncio.run(_kiekit_async(url, tasks, False)),
        "AiohttpTransport": lambda url: asyncio.run(_transport_only(url, tasks)),
        "raw urllib3": lambda url: _raw_urllib3(url, tasks),
        "Client": lambda url: _kiekit_sync(url, tasks),
        "Client, no journal": lambda url: _kiekit_sync(url, tasks, False),
    }
    rate: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    writer: dict[str, list[float]] = {name: [] for name in sides}
    with mock_server(polls_to_complete=POLLS, starting_credits=1e12) as mock:
        for run in sides.values():  # warm-up: connections, imports, the mock's caches
            run(mock.base_url)
        for _ in range(rounds):
            for name, run in sides.items():
                per_second, cpu_ms, writer_ms = _timed(lambda run=run: run(mock.base_url), tasks)
                rate[name].append(per_second)
                cpu[name].append(cpu_ms)
                writer[name].append(writer_ms)
    rows = []
    for ours, theirs, label in (
        ("AsyncClient", "raw aiohttp", "1a AsyncClient vs raw aiohttp loop"),
        ("AsyncClient, no journal", "raw aiohttp", "1a AsyncClient (journal=None) vs raw aiohttp"),
        ("AiohttpTransport", "raw aiohttp", "1a AiohttpTransport alone vs raw aiohttp"),
        ("Client", "raw urllib3", "1b Client (32 threads) vs raw urllib3 (32 threads)"),
        ("Client, no journal", "raw urllib3", "1b Client (journal=None) vs raw urllib3"),
    ):
        our_rate, our_spread = median_spread(rate[ours])
        their_rate, their_spread = median_spread(rate[theirs])
        our_cpu, our_cpu_spread = median_spread(cpu[ours], "{:.2f}")
        their_cpu, their_cpu_spread = median_spread(cpu[theirs], "{:.2f}")
        ratio = their_cpu / our_cpu  # CPU per task: the raw loop's over the client's
        journal = ""
        if ours in ("AsyncClient", "Client"):
            journal = f", of which its journal's writer thread {median_spread(writer[ours])[0]:.2f}"
        rows.append(
            Row(
                label,
                f"client CPU {our_cpu:.2f} ({our_cpu_spread}){journal} vs {their_cpu:.2f} "
                f"({their_cpu_spread}) ms/task; {our_rate:,.0f} ({our_spread}) vs "
                f"{their_rate:,.0f} ({their_spread}) tasks/s (ratio {our_rate / their_rate:.2f})",
                f"{ratio:.2f}",
                *(("", None) if ours == "AiohttpTransport" else ("≥ 0.85", ratio >= 0.85)),
            )
        )
    return rows


if __name__ == "__main__":
    from harness import format_table

    print(format_table(measure()))
