"""Target 11 (the mock's part): kiekit-mock's memory after 10^5 and 10^6 requests.

The mock runs in its own process with its default limits (a journal of 100,000 request records,
100,000 tasks); a load generator in another process sends tasks' requests — a create, then polls
until the task has finished (two) — in segments, and after each segment the mock's resident
memory (/proc VmRSS) and its CPU per request are read. Once the journal and the task store are at
their limits (300,000 requests: 100,000 tasks), memory must stay flat however many requests come
after: the last figure within 1.25x of the one at the first checkpoint past the limits. A quick
run lowers both limits to 10,000 and sends 90,000 requests.

The second figure is a soak's (``measure_soak``): the mock as a long-lived ``kie mock serve`` with
callbacks (two copies each, signed) to a receiver in a third process, and a soak tester's eight
probabilistic fault rules; each task is a market create and a Suno generate, each polled twice.
Its CPU per request late in the run must stay within 1.5x of early on: a soak once saw 5 → 29 ms
in 35 min, as every Suno answer read every callback record kept.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from harness import PYTHON, Row, cpu_seconds, mock_server, serve

CHECKPOINTS = (100_000, 500_000, 1_000_000)
QUICK = (30_000, 60_000, 90_000)
LIMIT = 100_000  # MockConfig's default journal_limit and task_limit
FLAT = 1.25
KEY = "bench-key"
MODEL = "grok-imagine/text-to-image"
SOAK = (10_000, 20_000, 40_000, 80_000)  # the first segment warms up; the second is "early"
SOAK_QUICK = (5_000, 10_000, 20_000, 30_000)
SOAK_FLAT = 1.5
# the soak tester's rules (probabilities and seeds as they ran), a slow answer shortened to 1 s
FAULTS = (
    {"kind": "http", "status": 503, "method": "GET", "path": "/api/v1/*", "probability": 0.02},
    {"kind": "kie", "code": 429, "method": "POST", "path": "/api/v1/*", "probability": 0.02},
    {"kind": "reset", "method": "POST", "path": "/api/v1/*", "when": "after", "probability": 0.002},
    {"kind": "slow", "delay": 1, "method": "GET", "path": "/api/v1/*", "probability": 0.002},
    {"kind": "truncated", "method": "GET", "path": "/files/*", "probability": 0.01},
    {"kind": "empty", "method": "GET", "path": "/api/v1/*", "probability": 0.005},
    {"kind": "http", "status": 502, "method": "POST", "path": "/api/v1/*", "probability": 0.002},
    {"kind": "kie", "code": 455, "method": "GET", "path": "/api/v1/*", "probability": 0.01},
)
# a callback receiver that answers 200 at once (a WebhookReceiver would also poll: not the point)
RECEIVER = """
    import asyncio
    from aiohttp import web
    async def handler(request):
        await request.read()
        return web.Response(text="ok")
    async def main():
        app = web.Application()
        app.router.add_post("/callback", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()
    asyncio.run(main())
"""


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


async def _soak_load(base_url: str, callback: str, requests: int, concurrency: int = 32) -> int:
    """A market task and a Suno task (each a create and two polls, with a callback) in turn,
    until ``requests`` have been sent; a fault's answer is taken as a client would, and the
    task given up (faults fire on a seeded share of requests)."""
    import aiohttp

    headers = {"Authorization": f"Bearer {KEY}"}
    market = {"model": MODEL, "callBackUrl": callback, "input": {"prompt": "a red fox"}}
    suno = {"prompt": "a calm tune", "customMode": False, "instrumental": True, "model": "V4"}
    kinds = (
        ("/api/v1/jobs/createTask", market, "/api/v1/jobs/recordInfo"),
        ("/api/v1/generate", suno | {"callBackUrl": callback}, "/api/v1/generate/record-info"),
    )
    sent = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def call(method: str, url: str, body: object = None) -> object:
            nonlocal sent
            sent += 1
            try:
                async with session.request(method, url, json=body) as response:
                    return await response.json(content_type=None)
            except (aiohttp.ClientError, ValueError):  # reset, truncated, empty, HTML
                return None

        async def worker() -> None:
            while sent < requests:
                for create, body, record in kinds:
                    made = await call("POST", f"{base_url}{create}", body)
                    if not isinstance(made, dict) or made.get("code") != 200:
                        continue
                    for _ in range(2):
                        await call("GET", f"{base_url}{record}?taskId={made['data']['taskId']}")

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


def measure_soak(checkpoints: tuple[int, ...] = SOAK) -> list[Row]:
    """CPU per request of a mock with callbacks and faults, segment by segment: the second
    segment ("early": the first warms up) against the last."""
    figures = []
    sent = 0
    soak = {"callback_copies": 2, "webhook_hmac_key": "bench-hmac", "starting_credits": 1e15}
    with serve(RECEIVER) as receiver, mock_server(polls_to_complete=1, **soak) as mock:
        for seed, rule in enumerate(FAULTS, start=1):
            _post(f"{mock.base_url}/_mock/faults", rule | {"seed": seed})
        callback = f"{receiver.base_url}/callback"
        for checkpoint in checkpoints:
            cpu = cpu_seconds(mock.pid) or 0.0
            child = subprocess.run(  # noqa: S603 - our interpreter, this file
                [PYTHON, __file__, "--soak-load", mock.base_url, callback, str(checkpoint - sent)],
                capture_output=True,
                text=True,
                check=True,
            )
            segment = int(child.stdout)
            sent += segment
            figures.append((sent, 1e6 * ((cpu_seconds(mock.pid) or 0.0) - cpu) / segment))
            print(f"  mock soak: {sent:,} requests, {figures[-1][1]:.0f} µs each", file=sys.stderr)
    (_, early), (_, late) = figures[1], figures[-1]
    cells = "; ".join(f"{n:,}: {cpu:.0f} µs" for n, cpu in figures)
    return [
        Row(
            f"11 kiekit-mock CPU per request with callbacks and faults, to {sent:,} requests",
            f"mock CPU per request after N requests (market + Suno tasks, callbacks x2 signed, "
            f"8 fault rules): {cells}",
            f"{late / early:.2f}",
            f"late ≤ {SOAK_FLAT:g}x early (the segment after warm-up)",
            late / early <= SOAK_FLAT,
        )
    ]


def _post(url: str, body: dict[str, object]) -> None:
    """POST JSON to the mock's control API (a loopback URL of our own mock)."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        answer.read()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--load"]:
        print(asyncio.run(_load(sys.argv[2], int(sys.argv[3]))))
    elif sys.argv[1:2] == ["--soak-load"]:
        print(asyncio.run(_soak_load(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        from harness import format_table

        quick = "--quick" in sys.argv
        rows = measure(QUICK, 10_000) if quick else measure()
        print(format_table([*rows, *measure_soak(SOAK_QUICK if quick else SOAK)]))
