"""Target 8: a large result file over loopback, ``Client`` and ``AsyncClient`` against curl.

One file server (aiohttp's FileResponse, which hands the file to the kernel with sendfile) runs
in its own process, so it costs the readers nothing and is never the bottleneck. Each round
fetches the file once with curl, once with ``Client.download`` and once with
``AsyncClient.download``, interleaved, each in a child process of its own writing to disk; the
figures are MB/s (wall), the reader's CPU seconds per GB beside it, and its peak resident memory.
Memory must stay flat: the clients' peak RSS fetching the large file is compared with their peak
fetching a file a tenth its size (import and pool memory are the same in both). Files are
received in memory (/dev/shm, where there is one), so that the disk's write-back does not
blur the comparison.

A second row downloads many small files into one folder with ``AsyncClient`` (500, then 5,000):
the CPU per file must stay flat, whatever the folder already holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from harness import PYTHON, Row, median_spread, serve

GOAL = 0.9  # of curl's MB/s
FLAT_MB = 16  # the most peak RSS may grow from a file ten times smaller to the large one
# The file's start: an MP4 box header, so that the clients' error-page check sees a video.
MP4_START = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"

FILE_SERVER = """
    import asyncio, sys
    from aiohttp import web
    FOLDER = sys.argv[1]
    async def handler(request):
        return web.FileResponse(f"{FOLDER}/{request.match_info['name']}")
    async def main():
        app = web.Application()
        app.router.add_get("/files/{name}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()
    asyncio.run(main())
"""


def _write_file(path: Path, size: int) -> None:
    block = bytearray(os.urandom(2**20))  # incompressible, and no page of zeros
    block[: len(MP4_START)] = MP4_START
    with path.open("wb") as out:
        left = size
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= len(block)


@contextlib.contextmanager
def _folders() -> Iterator[tuple[Path, Path]]:
    """A folder the file server serves (made), and where the files are received (made by each
    run), in memory (/dev/shm) where there is one; both removed afterwards."""
    memory = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - tmpfs
    with (
        tempfile.TemporaryDirectory(prefix="kiekit-bench-dl-") as tmp,
        tempfile.TemporaryDirectory(prefix="kiekit-bench-dl-", dir=memory) as into,
    ):
        served = Path(tmp, "served")
        served.mkdir()
        yield served, Path(into, "received")


def _curl(curl: str, url: str, destination: Path) -> dict[str, float]:
    """curl's wall time, CPU and peak RSS (from wait4's resource usage of the child)."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - curl, our URL
        [curl, "--silent", "--show-error", "--fail", "--output", str(destination), url]
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"curl exited {process.returncode}")
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
    }


def _kiekit(side: str, url: str, folder: Path) -> dict[str, float]:
    """One download by a kiekit client, in a child process of its own (see ``_child``)."""
    done = subprocess.run(  # noqa: S603 - our interpreter, this file
        [PYTHON, __file__, "--child", side, url, str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def _child(side: str, url: str, folder: str) -> dict[str, float]:
    from kiekit import AsyncClient, Client
    from kiekit.models import Asset, MediaKind, Results

    results = Results("bench", (Asset(url, MediaKind.VIDEO, "video/mp4"),))
    api = "http://127.0.0.1:9"  # never called: the file's URL is given, and answers 200
    # Imports out of the timed part (AsyncClient imports aiohttp on first use), as a process's
    # start-up is no part of a download
    import aiohttp  # noqa: F401

    with Client("bench-key", base_url=api, rate_limits=None):
        pass
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    if side == "Client":
        with Client("bench-key", base_url=api, rate_limits=None) as kie:
            paths = kie.download(results, folder)
    else:

        async def fetch() -> list[Path]:
            async with AsyncClient("bench-key", base_url=api, rate_limits=None) as kie:
                return await kie.download(results, folder)

        paths = asyncio.run(fetch())
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime - cpu,
        "rss_mb": usage.ru_maxrss / 1024,
        "bytes": paths[0].stat().st_size,
    }


def measure(rounds: int = 5, size_mb: int = 300) -> list[Row]:
    curl = shutil.which("curl")
    if curl is None:
        return [
            Row(f"8 {size_mb} MB download, {side} vs curl", "curl is not installed", "", "", None)
            for side in ("Client", "AsyncClient")
        ]
    size = size_mb * 2**20
    small = size // 10
    sides = ("curl", "Client", "AsyncClient")
    rate: dict[str, list[float]] = {side: [] for side in sides}
    cpu_per_gb: dict[str, list[float]] = {side: [] for side in sides}
    rss: dict[str, list[float]] = {side: [] for side in sides}
    small_rss: dict[str, list[float]] = {side: [] for side in sides}
    ratios: dict[str, list[float]] = {side: [] for side in sides[1:]}
    with _folders() as (served, received):
        _write_file(served / "large.mp4", size)
        _write_file(served / "small.mp4", small)
        with serve(FILE_SERVER, str(served)) as server:

            def one(side: str, name: str) -> dict[str, float]:
                url = f"{server.base_url}/files/{name}"
                shutil.rmtree(received, ignore_errors=True)
                received.mkdir()
                if side == "curl":
                    return _curl(curl, url, received / name)
                figures = _kiekit(side, url, received)
                if figures["bytes"] != os.path.getsize(served / name):
                    raise RuntimeError(f"{side} wrote {figures['bytes']} bytes")
                return figures

            for side in sides:  # warm-up: the page cache, the server's first answers
                one(side, "large.mp4")
            for _ in range(rounds):
                for side in sides:
                    figures = one(side, "large.mp4")
                    rate[side].append(size / 1e6 / figures["seconds"])
                    cpu_per_gb[side].append(figures["cpu"] / (size / 1e9))
                    rss[side].append(figures["rss_mb"])
                for side in sides:
                    small_rss[side].append(one(side, "small.mp4")["rss_mb"])
                for side in sides[1:]:
                    ratios[side].append(rate[side][-1] / rate["curl"][-1])
        shutil.rmtree(received, ignore_errors=True)

    def figures(side: str) -> str:
        mbs, mbs_spread = median_spread(rate[side])
        cpu, cpu_spread = median_spread(cpu_per_gb[side], "{:.2f}")
        return f"{mbs:.0f} ({mbs_spread}) MB/s, CPU {cpu:.2f} ({cpu_spread}) s/GB"

    rows = []
    for side in sides[1:]:
        ratio, ratio_spread = median_spread(ratios[side], "{:.2f}")
        growth = max(rss[side]) - min(small_rss[side])
        rows.append(
            Row(
                f"8 {size_mb} MB download, {side} vs curl",
                f"{side} {figures(side)}; curl {figures('curl')}; {side} peak RSS "
                f"{max(rss[side]):.0f} MB vs {max(small_rss[side]):.0f} MB for {size_mb // 10} MB",
                f"{ratio:.2f} ({ratio_spread})",
                f"≥ {GOAL} of curl, RSS flat (+≤ {FLAT_MB} MB)",
                ratio >= GOAL and growth <= FLAT_MB,
            )
        )
    return rows


MANY = (500, 5_000)  # small files downloaded into one folder
MANY_GROWTH = 1.5  # CPU per file with the most files / with the fewest: "flat"


def _many_child(count: int, url: str, folder: str) -> dict[str, float]:
    """``count`` results of one small file each, downloaded by one AsyncClient, 32 at a time,
    into one folder: CPU per file."""
    from kiekit import AsyncClient
    from kiekit.models import Asset, MediaKind, Results

    async def run() -> float:
        async with AsyncClient("bench-key", base_url="http://127.0.0.1:9", rate_limits=None) as kie:
            slots = asyncio.Semaphore(32)

            async def one(n: int) -> None:
                async with slots:
                    await kie.download(Results(f"t{n}", (Asset(url, MediaKind.VIDEO),)), folder)

            await one(-1)  # warm: the session, the first connection
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu = usage.ru_utime + usage.ru_stime
            await asyncio.gather(*(one(n) for n in range(count)))
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return usage.ru_utime + usage.ru_stime - cpu

    return {"cpu_ms": 1000 * asyncio.run(run()) / count}


def measure_many(rounds: int = 3, counts: tuple[int, ...] = MANY) -> list[Row]:
    """CPU per file as the files downloaded into one folder grow: a cost per file that grows
    with the folder (each download listing it, say) is a defect."""
    cpu: dict[int, list[float]] = {count: [] for count in counts}
    with _folders() as (served, received):
        _write_file(served / "small.mp4", 64 * 1024)
        with serve(FILE_SERVER, str(served)) as server:
            for _ in range(rounds):
                for count in counts:
                    shutil.rmtree(received, ignore_errors=True)
                    received.mkdir()
                    url = f"{server.base_url}/files/small.mp4"
                    done = subprocess.run(  # noqa: S603 - our interpreter, this file
                        [PYTHON, __file__, "--many", str(count), url, str(received)],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    cpu[count].append(json.loads(done.stdout)["cpu_ms"])
        shutil.rmtree(received, ignore_errors=True)
    cells, medians = [], {}
    for count in counts:
        medians[count], spread = median_spread(cpu[count], "{:.2f}")
        cells.append(f"{count:,} files: {medians[count]:.2f} ({spread}) ms")
    growth = medians[counts[-1]] / medians[counts[0]]
    return [
        Row(
            f"8 AsyncClient, {counts[0]:,} to {counts[-1]:,} small files into one folder",
            f"CPU per 64 KB file, by files: {'; '.join(cells)}",
            f"{growth:.2f}",
            f"≤ {MANY_GROWTH}x (flat)",
            growth <= MANY_GROWTH,
        )
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(_child(sys.argv[2], sys.argv[3], sys.argv[4])))
    elif sys.argv[1:2] == ["--many"]:
        print(json.dumps(_many_child(int(sys.argv[2]), sys.argv[3], sys.argv[4])))
    else:
        from harness import format_table

        rounds = int(sys.argv[1]) if sys.argv[1:] else 5
        print(format_table(measure(rounds=rounds)))
